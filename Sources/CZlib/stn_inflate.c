// A streaming zlib/gzip inflater over an in-memory buffer (IDX files are often .gz), kept in C
// with zlib; status codes as the codec shims: 0 ok, 1 truncated, 2 corrupt, 4 too large,
// 5 out of memory.
#include "stn_inflate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

enum { OK = 0, ERR_TRUNCATED = 1, ERR_CORRUPT = 2, ERR_TOO_LARGE = 4, ERR_NOMEM = 5 };

static void set_message(char *message, const char *text) {
  snprintf(message, STN_INFLATE_MESSAGE_SIZE, "%s", text);
}

struct stn_inflater {
  z_stream stream;
  int finished;
};

int stn_inflate_open(const uint8_t *data, size_t size, stn_inflater **inflater,
                     char message[STN_INFLATE_MESSAGE_SIZE]) {
  *inflater = NULL;
  message[0] = 0;
  if (size > (size_t)UINT32_MAX) {
    set_message(message, "compressed file over 4 GiB");
    return ERR_TOO_LARGE;
  }
  stn_inflater *f = (stn_inflater *)calloc(1, sizeof(stn_inflater));
  if (f == NULL) {
    set_message(message, "out of memory");
    return ERR_NOMEM;
  }
  f->stream.next_in = (Bytef *)data;
  f->stream.avail_in = (uInt)size;
  // 15 + 32: largest window, and detect zlib or gzip from the header.
  if (inflateInit2(&f->stream, 15 + 32) != Z_OK) {
    free(f);
    set_message(message, "cannot initialise zlib");
    return ERR_NOMEM;
  }
  *inflater = f;
  return OK;
}

int stn_inflate_read(stn_inflater *inflater, uint8_t *out, size_t capacity, size_t *produced,
                     int *finished, char message[STN_INFLATE_MESSAGE_SIZE]) {
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
      if (f->stream.avail_in == 0) {
        set_message(message, "compressed data ends early");
        return ERR_TRUNCATED;
      }
      if (f->stream.avail_out != 0) {
        set_message(message, "compressed data cannot be decoded");
        return ERR_CORRUPT;
      }
    } else if (result != Z_OK) {
      snprintf(message, STN_INFLATE_MESSAGE_SIZE, "compressed data is corrupt (%s)",
               f->stream.msg != NULL ? f->stream.msg : "zlib error");
      return result == Z_MEM_ERROR ? ERR_NOMEM : ERR_CORRUPT;
    }
  }
  *finished = f->finished;
  return OK;
}

void stn_inflate_close(stn_inflater *inflater) {
  if (inflater == NULL) return;
  inflateEnd(&inflater->stream);
  free(inflater);
}
