#ifndef STN_PNG_H
#define STN_PNG_H
/* PNG decode/encode shim.
 *
 * libpng reports fatal errors with longjmp, which Swift cannot unwind through, so every call
 * that enters libpng sets its own setjmp here and returns a status code plus a message.
 * Status codes: stn_status.h. */
#include <stddef.h>
#include <stdint.h>

#include "stn_status.h"

// MARK: - PNG

/* An open PNG decoder; the header has been read and the output transforms chosen. */
typedef struct stn_png_decoder stn_png_decoder;

/* Reads the chunks before the image data of `data` (which must outlive the decoder) and prepares
 * decoding to 8-bit `channels` (1 or 3): palette expanded, 16-bit scaled as round(v/257)
 * (png_set_scale_16), alpha dropped, gray replicated to RGB or RGB reduced to Pillow's luma.
 * Rejects images over `max_pixels` before anything large is allocated. */
int stn_png_open(const uint8_t *data, size_t size, int channels, int64_t max_pixels,
                 stn_png_decoder **decoder, char message[STN_MESSAGE_SIZE]);

/* Header facts: size, channels in the file (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA; palette: 3,
 * or 4 with a tRNS chunk), bit depth, interlacing. */
void stn_png_header(const stn_png_decoder *decoder, int *width, int *height, int *file_channels,
                    int *bit_depth, int *interlaced);

/* The eXIf chunk read with the header (it must come before the image data), starting with the
 * TIFF byte-order mark; returns 0 when there is none. Valid until stn_png_close. */
int stn_png_exif(const stn_png_decoder *decoder, const uint8_t **data, size_t *size);

/* Decodes into `out` (height * width * channels bytes, rows packed), then reads to IEND. */
int stn_png_decode(stn_png_decoder *decoder, uint8_t *out, size_t out_size,
                   char message[STN_MESSAGE_SIZE]);

void stn_png_close(stn_png_decoder *decoder);

/* Encodes packed 8-bit gray (1) or RGB (3) pixels through libpng at zlib `level` 0...9
 * (libpng's adaptive filters; level 0: unfiltered, stored). On success *out is a malloc'd
 * buffer of *out_size bytes, released with stn_png_free. */
int stn_png_encode(const uint8_t *pixels, int width, int height, int channels, int level,
                   uint8_t **out, size_t *out_size, char message[STN_MESSAGE_SIZE]);

/* The fast encoder (stn_png_fast.c): every row Paeth-filtered, then one deflate block of
 * literals and distance-1 runs under a Huffman table built for this image (stored blocks if
 * that would be smaller). No libpng, no zlib deflate. Same output contract as stn_png_encode. */
int stn_png_encode_fast(const uint8_t *pixels, int width, int height, int channels,
                        uint8_t **out, size_t *out_size, char message[STN_MESSAGE_SIZE]);

/* PNG's Paeth filter of one row of `count` bytes (`previous` NULL for the first row): the
 * encoder's version and the specification's text, kept side by side for the tests. */
void stn_png_paeth_filter_row(uint8_t *out, const uint8_t *row, const uint8_t *previous,
                              size_t count, int bytes_per_pixel);
void stn_png_paeth_filter_row_naive(uint8_t *out, const uint8_t *row, const uint8_t *previous,
                                    size_t count, int bytes_per_pixel);

void stn_png_free(void *pointer);

#endif
