#ifndef STN_JPEG_H
#define STN_JPEG_H
/* JPEG decode/encode shim over libjpeg-turbo.
 *
 * libjpeg reports fatal errors with longjmp, which Swift cannot unwind through, so every call
 * that enters libjpeg sets its own setjmp here and returns a status code plus a message.
 * Corrupt-data warnings ("Corrupt JPEG data", "Premature end of JPEG file") are errors too. */
#include <stddef.h>
#include <stdint.h>

#include "stn_status.h" /* status codes and STN_MESSAGE_SIZE, shared by the shims */

/* An open JPEG decoder; the header has been read and output dimensions computed. */
typedef struct stn_jpeg_decoder stn_jpeg_decoder;

/* Reads the header of `data` (which must outlive the decoder) and prepares decoding to
 * `channels` (1 or 3) at scale 1/`scale_denominator` (1, 2, 4, 8). Rejects images whose full
 * size exceeds `max_pixels` before libjpeg allocates anything large. With `keep_exif` the APP1
 * segments are kept for stn_jpeg_exif_segment. On success *decoder is set and must be
 * released with stn_jpeg_close; on failure *decoder is NULL and `message` holds the reason. */
int stn_jpeg_open(const uint8_t *data, size_t size, int channels, int scale_denominator,
                  int64_t max_pixels, int keep_exif, stn_jpeg_decoder **decoder,
                  char message[STN_MESSAGE_SIZE]);

/* The `index`-th APP1 segment (0 first) that starts with "Exif\0\0", as kept by stn_jpeg_open
 * with `keep_exif`: its payload after the marker length, "Exif\0\0" included. Returns 0 when
 * there is no such segment. The bytes belong to libjpeg and are valid only until
 * stn_jpeg_decode or stn_jpeg_close. */
int stn_jpeg_exif_segment(const stn_jpeg_decoder *decoder, int index, const uint8_t **data, size_t *size);

/* Full-size header facts: image width/height and component count in the file (1, 3 or 4). */
void stn_jpeg_header(const stn_jpeg_decoder *decoder, int *width, int *height, int *components);

/* Output size after scaling. */
void stn_jpeg_output_size(const stn_jpeg_decoder *decoder, int *width, int *height);

/* Decodes into `out` (output_height * output_width * channels bytes, rows packed). */
int stn_jpeg_decode(stn_jpeg_decoder *decoder, uint8_t *out, size_t out_size,
                    char message[STN_MESSAGE_SIZE]);

void stn_jpeg_close(stn_jpeg_decoder *decoder);

/* Encodes packed 8-bit pixels (channels 1 or 3) as a baseline JPEG with 4:2:0 subsampling for
 * colour. On success *out is a malloc'd buffer of *out_size bytes that the caller frees with
 * stn_jpeg_free. */
int stn_jpeg_encode(const uint8_t *pixels, int width, int height, int channels, int quality,
                    uint8_t **out, size_t *out_size, char message[STN_MESSAGE_SIZE]);

void stn_jpeg_free(void *pointer);

#endif
