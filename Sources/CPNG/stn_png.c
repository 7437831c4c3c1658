// PNG shim: every libpng call runs under a setjmp in this file, so libpng's longjmp-based error
// reporting never crosses into Swift.
#include "stn_png.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

/// Pillow's ITU-R 601-2 luma (libImaging/Convert.c rgb2l): (R*19595 + G*38470 + B*7471 + 0x8000) >> 16.
static inline uint8_t luma(uint8_t r, uint8_t g, uint8_t b) {
  return (uint8_t)(((uint32_t)r * 19595u + (uint32_t)g * 38470u + (uint32_t)b * 7471u + 0x8000u) >> 16);
}

// MARK: - Decoding

struct stn_png_decoder {
  png_structp png;
  png_infop info;
  const uint8_t *data;
  size_t size, position;
  int status;                         // status to report when libpng calls the error function
  char message[STN_MESSAGE_SIZE];
  int channels;                       // requested output channels
  int to_gray;                        // decode RGB, then reduce to luma ourselves
  png_uint_32 width, height;
  int file_channels, bit_depth, interlaced;
  uint8_t *scratch;                   // RGB image when to_gray (freed by close)
  png_bytep *rows;                    // row pointers for interlaced images (freed by close)
};

static void on_error(png_structp png, png_const_charp text) {
  stn_png_decoder *d = (stn_png_decoder *)png_get_error_ptr(png);
  if (d->status == STN_OK) d->status = STN_ERR_CORRUPT;
  stn_set_message(d->message, text);
  png_longjmp(png, 1);
}

/// Warnings (bad ancillary chunks such as a wrong sRGB profile) leave the pixels intact; damage
/// to image data or critical chunks is an error in libpng already (CRC checks, zlib errors).
static void on_warning(png_structp png, png_const_charp text) { (void)png; (void)text; }

static void read_from_memory(png_structp png, png_bytep out, png_size_t count) {
  stn_png_decoder *d = (stn_png_decoder *)png_get_io_ptr(png);
  if (count > d->size - d->position) {
    d->status = STN_ERR_TRUNCATED;
    png_error(png, "unexpected end of file");
  }
  memcpy(out, d->data + d->position, count);
  d->position += count;
}

static void destroy_decoder(stn_png_decoder *d) {
  png_destroy_read_struct(&d->png, d->info != NULL ? &d->info : NULL, NULL);
  free(d->scratch);
  free(d->rows);
  free(d);
}

int stn_png_open(const uint8_t *data, size_t size, int channels, int64_t max_pixels,
                 stn_png_decoder **decoder, char message[STN_MESSAGE_SIZE]) {
  *decoder = NULL;
  message[0] = 0;
  if (channels != 1 && channels != 3) STN_FAIL(message, STN_ERR_INVALID, "channels must be 1 or 3");
  if (size < 8) STN_FAIL(message, STN_ERR_TRUNCATED, "file too short for a PNG signature");
  if (png_sig_cmp(data, 0, 8) != 0) STN_FAIL(message, STN_ERR_UNSUPPORTED, "not a PNG file (bad signature)");
  stn_png_decoder *d = (stn_png_decoder *)calloc(1, sizeof(stn_png_decoder));
  if (d == NULL) STN_FAIL(message, STN_ERR_NOMEM, "out of memory");
  d->data = data;
  d->size = size;
  d->channels = channels;
  d->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, d, on_error, on_warning);
  if (d->png == NULL) {
    free(d);
    stn_set_message(message, "out of memory");
    return STN_ERR_NOMEM;
  }
  d->info = png_create_info_struct(d->png);
  if (d->info == NULL) {
    destroy_decoder(d);
    stn_set_message(message, "out of memory");
    return STN_ERR_NOMEM;
  }
  if (setjmp(png_jmpbuf(d->png))) {
    int status = d->status;
    stn_set_message(message, d->message);
    destroy_decoder(d);
    return status;
  }
  png_set_read_fn(d->png, d, read_from_memory);
  // Our own pixel limit decides; libpng's default 1,000,000-pixel side limit would reject
  // legal images with a less helpful message.
  png_set_user_limits(d->png, 0x7fffffff, 0x7fffffff);
  png_read_info(d->png, d->info);

  int color_type = 0, interlace = 0;
  png_get_IHDR(d->png, d->info, &d->width, &d->height, &d->bit_depth, &color_type, &interlace, NULL, NULL);
  d->interlaced = interlace != PNG_INTERLACE_NONE;
  // Decompression-bomb guard: the header is all that has been read so far.
  int64_t pixels = (int64_t)d->width * (int64_t)d->height;
  if (pixels > max_pixels) {
    snprintf(message, STN_MESSAGE_SIZE, "image is %ux%u = %lld pixels, over the limit of %lld",
             (unsigned)d->width, (unsigned)d->height, (long long)pixels, (long long)max_pixels);
    destroy_decoder(d);
    return STN_ERR_TOO_LARGE;
  }
  int is_color = 0;
  switch (color_type) {
  case PNG_COLOR_TYPE_GRAY: d->file_channels = 1; break;
  case PNG_COLOR_TYPE_GRAY_ALPHA: d->file_channels = 2; break;
  case PNG_COLOR_TYPE_RGB: d->file_channels = 3; is_color = 1; break;
  case PNG_COLOR_TYPE_RGB_ALPHA: d->file_channels = 4; is_color = 1; break;
  case PNG_COLOR_TYPE_PALETTE:
    d->file_channels = png_get_valid(d->png, d->info, PNG_INFO_tRNS) ? 4 : 3;
    is_color = 1;
    break;
  default:
    stn_set_message(message, "unsupported PNG colour type");
    destroy_decoder(d);
    return STN_ERR_UNSUPPORTED;
  }

  // MARK: transforms, in libpng's order of application
  if (d->bit_depth == 16) png_set_scale_16(d->png);  // (v*255 + 32895) >> 16 == round(v/257)
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(d->png);
  if (color_type == PNG_COLOR_TYPE_GRAY && d->bit_depth < 8) png_set_expand_gray_1_2_4_to_8(d->png);
  // NOTE: png_set_palette_to_rgb also turns a tRNS chunk into an alpha channel, so strip alpha
  // whenever the file has transparency of any kind.
  if ((color_type & PNG_COLOR_MASK_ALPHA) || png_get_valid(d->png, d->info, PNG_INFO_tRNS)) png_set_strip_alpha(d->png);
  if (!is_color && channels == 3) png_set_gray_to_rgb(d->png);
  d->to_gray = is_color && channels == 1;
  (void)png_set_interlace_handling(d->png);
  png_read_update_info(d->png, d->info);

  size_t expected = (size_t)d->width * (size_t)(d->to_gray ? 3 : channels);
  if (png_get_rowbytes(d->png, d->info) != expected) {
    stn_set_message(message, "unexpected PNG row layout after transforms");
    destroy_decoder(d);
    return STN_ERR_UNSUPPORTED;
  }
  *decoder = d;
  return STN_OK;
}

int stn_png_exif(const stn_png_decoder *decoder, const uint8_t **data, size_t *size) {
  *data = NULL;
  *size = 0;
#ifdef PNG_eXIf_SUPPORTED
  png_uint_32 length = 0;
  png_bytep exif = NULL;
  // NOTE: png_get_eXIf_1 only reads the info struct (no png_error, so no setjmp needed).
  if (png_get_eXIf_1(decoder->png, decoder->info, &length, &exif) != 0 && exif != NULL) {
    *data = exif;
    *size = length;
    return 1;
  }
#endif
  return 0;
}

void stn_png_header(const stn_png_decoder *decoder, int *width, int *height, int *file_channels,
                    int *bit_depth, int *interlaced) {
  *width = (int)decoder->width;
  *height = (int)decoder->height;
  *file_channels = decoder->file_channels;
  *bit_depth = decoder->bit_depth;
  *interlaced = decoder->interlaced;
}

int stn_png_decode(stn_png_decoder *decoder, uint8_t *out, size_t out_size,
                   char message[STN_MESSAGE_SIZE]) {
  stn_png_decoder *d = decoder;
  message[0] = 0;
  size_t width = d->width, height = d->height;
  size_t stride = width * (size_t)d->channels;
  if (out_size < stride * height) STN_FAIL(message, STN_ERR_INVALID, "output buffer too small");
  if (setjmp(png_jmpbuf(d->png))) {
    stn_set_message(message, d->message);
    return d->status;
  }
  // Where libpng writes: the caller's buffer, or an RGB scratch image to reduce to gray.
  uint8_t *target = out;
  size_t target_stride = stride;
  if (d->to_gray) {
    target_stride = width * 3;
    d->scratch = (uint8_t *)malloc(target_stride * (height > 0 ? height : 1));
    if (d->scratch == NULL) STN_FAIL(message, STN_ERR_NOMEM, "out of memory");
    target = d->scratch;
  }
  if (d->interlaced) {
    d->rows = (png_bytep *)malloc(sizeof(png_bytep) * (height > 0 ? height : 1));
    if (d->rows == NULL) STN_FAIL(message, STN_ERR_NOMEM, "out of memory");
    for (size_t y = 0; y < height; y++) d->rows[y] = target + y * target_stride;
    png_read_image(d->png, d->rows);
  } else {
    for (size_t y = 0; y < height; y++) png_read_row(d->png, target + y * target_stride, NULL);
  }
  if (d->to_gray) {
    for (size_t i = 0; i < width * height; i++) {
      const uint8_t *p = d->scratch + 3 * i;
      out[i] = luma(p[0], p[1], p[2]);
    }
  }
  // Reads the chunks after the image up to IEND, so a cut-off file is an error even when the
  // pixels happen to be complete.
  png_read_end(d->png, NULL);
  return STN_OK;
}

void stn_png_close(stn_png_decoder *decoder) {
  if (decoder != NULL) destroy_decoder(decoder);
}

// MARK: - Encoding

typedef struct {
  uint8_t *bytes;
  size_t count, capacity;
  int failed;
  char message[STN_MESSAGE_SIZE];
} stn_png_buffer;

static void encode_error(png_structp png, png_const_charp text) {
  stn_png_buffer *b = (stn_png_buffer *)png_get_error_ptr(png);
  stn_set_message(b->message, text);
  png_longjmp(png, 1);
}

static void write_to_memory(png_structp png, png_bytep data, png_size_t count) {
  stn_png_buffer *b = (stn_png_buffer *)png_get_io_ptr(png);
  if (count > b->capacity - b->count) {
    size_t capacity = b->capacity * 2 + count + 4096;
    uint8_t *bytes = (uint8_t *)realloc(b->bytes, capacity);
    if (bytes == NULL) {
      b->failed = STN_ERR_NOMEM;
      png_error(png, "out of memory");
    }
    b->bytes = bytes;
    b->capacity = capacity;
  }
  memcpy(b->bytes + b->count, data, count);
  b->count += count;
}

static void flush_memory(png_structp png) { (void)png; }

int stn_png_encode(const uint8_t *pixels, int width, int height, int channels, int level,
                   uint8_t **out, size_t *out_size, char message[STN_MESSAGE_SIZE]) {
  *out = NULL;
  *out_size = 0;
  message[0] = 0;
  if ((channels != 1 && channels != 3) || width <= 0 || height <= 0) STN_FAIL(message, STN_ERR_INVALID, "PNG needs 1 or 3 channels and a non-empty size");
  if (level < 0 || level > 9) STN_FAIL(message, STN_ERR_INVALID, "PNG compression level must be 0...9");
  stn_png_buffer *b = (stn_png_buffer *)calloc(1, sizeof(stn_png_buffer));
  if (b == NULL) STN_FAIL(message, STN_ERR_NOMEM, "out of memory");
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, b, encode_error, on_warning);
  png_infop info = png != NULL ? png_create_info_struct(png) : NULL;
  if (png == NULL || info == NULL) {
    png_destroy_write_struct(&png, NULL);
    free(b);
    stn_set_message(message, "out of memory");
    return STN_ERR_NOMEM;
  }
  if (setjmp(png_jmpbuf(png))) {
    int status = b->failed != 0 ? b->failed : STN_ERR_INVALID;
    stn_set_message(message, b->message);
    png_destroy_write_struct(&png, &info);
    free(b->bytes);
    free(b);
    return status;
  }
  png_set_write_fn(png, b, write_to_memory, flush_memory);
  // Levels 1-9 keep libpng's other defaults: adaptive row filters and the Z_FILTERED strategy
  // that libpng picks for filtered data. Level 0 stores the rows, where filtering only costs.
  png_set_compression_level(png, level);
  if (level == 0) png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_NONE);
  png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8,
               channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB,
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  size_t stride = (size_t)width * (size_t)channels;
  for (int y = 0; y < height; y++) png_write_row(png, (png_const_bytep)(pixels + (size_t)y * stride));
  png_write_end(png, NULL);
  png_destroy_write_struct(&png, &info);
  *out = b->bytes;
  *out_size = b->count;
  free(b);
  return STN_OK;
}

void stn_png_free(void *pointer) { free(pointer); }
