#ifndef STN_INFLATE_H
#define STN_INFLATE_H
/* zlib/gzip inflate shim (IDX files). */

#include <stddef.h>
#include <stdint.h>

#include "stn_status.h"

/* A streaming inflater over an in-memory zlib or gzip stream (detected from its header). */
typedef struct stn_inflater stn_inflater;

int stn_inflate_open(const uint8_t *data, size_t size, stn_inflater **inflater,
                     char message[STN_MESSAGE_SIZE]);

/* Fills `out` with up to `capacity` bytes; *produced says how many. *finished becomes 1 when the
 * compressed stream has ended. Reading at most what the caller can hold is the output size cap:
 * the caller never has to trust a size written in the file. */
int stn_inflate_read(stn_inflater *inflater, uint8_t *out, size_t capacity, size_t *produced,
                     int *finished, char message[STN_MESSAGE_SIZE]);

void stn_inflate_close(stn_inflater *inflater);

#endif
