// A streaming zlib/gzip inflater over an in-memory buffer (IDX files are often .gz), kept in C
// with zlib; status codes: stn_status.h.
#include "stn_inflate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

struct stn_inflater {
  z_stream stream;
  int finished;
};

int stn_inflate_open(const uint8_t *data, size_t size, stn_inflater **inflater,
                     char message[STN_MESSAGE_SIZE]) {
  *inflater = NULL;
  message[0] = 0;
  if (size > (size_t)UINT32_MAX) STN_FAIL(message, STN_ERR_TOO_LARGE, "compressed file over 4 GiB");
  stn_inflater *f = (stn_inflater *)calloc(1, sizeof(stn_inflater));
  if (f == NULL) STN_FAIL(message, STN_ERR_NOMEM, "out of memory");
  f->stream.next_in = (Bytef *)data;
  f->stream.avail_in = (uInt)size;
  // 15 + 32: largest window, and detect zlib or gzip from the header.
  if (inflateInit2(&f->stream, 15 + 32) != Z_OK) {
    free(f);
    stn_set_message(message, "cannot initialise zlib");
    return STN_ERR_NOMEM;
  }
  *inflater = f;
  return STN_OK;
}

int stn_inflate_read(stn_inflater *inflater, uint8_t *out, size_t capacity, size_t *produced,
                     int *finished, char message[STN_MESSAGE_SIZE]) {
  stn_inflater *f = inflater;
  message[0] = 0;
  *produced = 0;
  *finished = f->finished;
  while (*produced < capacity && !f->finished) {
    size_t chunk = capacity - *produced;
    if (chunk > (size_t)1 << 30) chunk = (size_t)1 << 30;
    f->stream.next_out = out + *produced;
    f->stream.avail_out = (uInt)chunk;
    int result = inflate(&f->stream, Z_NO_FLUSH);
    *produced += chunk - f->stream.avail_out;
    if (result == Z_STREAM_END) {
      f->finished = 1;
    } else if (result == Z_BUF_ERROR || (result == Z_OK && f->stream.avail_in == 0 && f->stream.avail_out != 0)) {
      if (f->stream.avail_in == 0) STN_FAIL(message, STN_ERR_TRUNCATED, "compressed data ends early");
      if (f->stream.avail_out != 0) STN_FAIL(message, STN_ERR_CORRUPT, "compressed data cannot be decoded");
    } else if (result != Z_OK) {
      snprintf(message, STN_MESSAGE_SIZE, "compressed data is corrupt (%s)",
               f->stream.msg != NULL ? f->stream.msg : "zlib error");
      return result == Z_MEM_ERROR ? STN_ERR_NOMEM : STN_ERR_CORRUPT;
    }
  }
  *finished = f->finished;
  return STN_OK;
}

void stn_inflate_close(stn_inflater *inflater) {
  if (inflater == NULL) return;
  inflateEnd(&inflater->stream);
  free(inflater);
}
