// JPEG shim: every libjpeg call runs under a setjmp in this file, so libjpeg's longjmp-based
// error reporting never crosses into Swift. Status codes and messages go back instead.
#include "stn_jpeg.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

// MARK: - Error handling

/// Progressive files may legally hold many scans, but thousands of tiny scans are a known way to
/// make a small file cost minutes of CPU; djpeg's -maxscans guard uses the same idea.
#define STN_JPEG_MAX_SCANS 1000

typedef struct {
  struct jpeg_error_mgr pub;
  struct jpeg_progress_mgr progress;
  jmp_buf jump;
  int status;
  char message[STN_MESSAGE_SIZE];
} stn_error_mgr;

/// Sorts a libjpeg message code into our status codes.
static int classify(int code) {
  switch (code) {
  case JWRN_JPEG_EOF:        // "Premature end of JPEG file"
  case JERR_INPUT_EOF:
  case JERR_INPUT_EMPTY:
    return STN_ERR_TRUNCATED;
  case JERR_NO_SOI:          // "Not a JPEG file: starts with 0x.. 0x.."
  case JERR_BAD_PRECISION:   // 12-bit/16-bit data: this build decodes 8-bit only
  case JERR_CONVERSION_NOTIMPL:
  case JERR_NOT_COMPILED:
  case JERR_NO_ARITH_TABLE:
    return STN_ERR_UNSUPPORTED;
  case JERR_OUT_OF_MEMORY:
  case JERR_NO_BACKING_STORE:
    return STN_ERR_NOMEM;
  case JERR_IMAGE_TOO_BIG:
  case JERR_WIDTH_OVERFLOW:
    return STN_ERR_TOO_LARGE;
  default:
    return STN_ERR_CORRUPT;
  }
}

static void fail(j_common_ptr cinfo, int status) {
  stn_error_mgr *err = (stn_error_mgr *)cinfo->err;
  err->status = status;
  char text[JMSG_LENGTH_MAX];
  (*cinfo->err->format_message)(cinfo, text);
  stn_set_message(err->message, text);
  longjmp(err->jump, 1);
}

static void on_error_exit(j_common_ptr cinfo) { fail(cinfo, classify(cinfo->err->msg_code)); }

/// NOTE: libjpeg reports corrupt entropy data and early end of file as warnings (level -1) and
/// carries on with grey or repeated blocks; Pillow ignores them. A damaged training image must
/// not pass unnoticed, so a warning ends the decode like an error does.
static void on_emit_message(j_common_ptr cinfo, int level) {
  if (level >= 0) return;  // trace messages
  if (cinfo->err->msg_code == JWRN_JFIF_MAJOR) return;  // unknown JFIF version: metadata only
  fail(cinfo, classify(cinfo->err->msg_code));
}

static void on_output_message(j_common_ptr cinfo) { (void)cinfo; }

static void on_progress(j_common_ptr cinfo) {
  if (!cinfo->is_decompressor) return;
  j_decompress_ptr d = (j_decompress_ptr)cinfo;
  if (d->input_scan_number > STN_JPEG_MAX_SCANS) {
    stn_error_mgr *err = (stn_error_mgr *)cinfo->err;
    err->status = STN_ERR_CORRUPT;
    snprintf(err->message, STN_MESSAGE_SIZE, "more than %d progressive scans", STN_JPEG_MAX_SCANS);
    longjmp(err->jump, 1);
  }
}

static void install_error_manager(j_common_ptr cinfo, stn_error_mgr *err) {
  cinfo->err = jpeg_std_error(&err->pub);
  err->pub.error_exit = on_error_exit;
  err->pub.emit_message = on_emit_message;
  err->pub.output_message = on_output_message;
  err->status = STN_OK;
  err->message[0] = 0;
}

// MARK: - Colour conversions (Pillow's, so values match Image.convert)

/// Pillow's ITU-R 601-2 luma (libImaging/Convert.c rgb2l): (R*19595 + G*38470 + B*7471 + 0x8000) >> 16.
static inline uint8_t luma(uint8_t r, uint8_t g, uint8_t b) {
  return (uint8_t)(((uint32_t)r * 19595u + (uint32_t)g * 38470u + (uint32_t)b * 7471u + 0x8000u) >> 16);
}

/// Pillow's MULDIV255: a*b/255 rounded, without a division.
static inline int muldiv255(int a, int b) {
  int t = a * b + 128;
  return ((t >> 8) + t) >> 8;
}

static inline uint8_t clip8(int v) { return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v); }

/// NOTE: Pillow reads every CMYK JPEG as "CMYK;I" (Adobe's inverted convention, which is what
/// Photoshop and Pillow itself write), then converts with cmyk2rgb: nk = 255 - K,
/// channel = nk - muldiv255(C, nk). `in` holds libjpeg's raw (inverted) CMYK.
static inline void inverted_cmyk_to_rgb(const uint8_t *in, uint8_t *rgb) {
  int nk = 255 - (255 - in[3]);
  rgb[0] = clip8(nk - muldiv255(255 - in[0], nk));
  rgb[1] = clip8(nk - muldiv255(255 - in[1], nk));
  rgb[2] = clip8(nk - muldiv255(255 - in[2], nk));
}

// MARK: - Decoding

struct stn_jpeg_decoder {
  struct jpeg_decompress_struct cinfo;
  stn_error_mgr err;
  int channels;          // requested output channels (1 or 3)
  int conversion;        // how libjpeg's output becomes ours
};

enum { CONVERT_NONE = 0, CONVERT_RGB_TO_GRAY = 1, CONVERT_CMYK_TO_RGB = 2, CONVERT_CMYK_TO_GRAY = 3 };

static void destroy_decoder(stn_jpeg_decoder *d) {
  jpeg_destroy_decompress(&d->cinfo);
  free(d);
}

int stn_jpeg_open(const uint8_t *data, size_t size, int channels, int scale_denominator,
                  int64_t max_pixels, int keep_exif, stn_jpeg_decoder **decoder,
                  char message[STN_MESSAGE_SIZE]) {
  *decoder = NULL;
  message[0] = 0;
  if (channels != 1 && channels != 3) STN_FAIL(message, STN_ERR_INVALID, "channels must be 1 or 3");
  if (scale_denominator != 1 && scale_denominator != 2 && scale_denominator != 4 && scale_denominator != 8) STN_FAIL(message, STN_ERR_INVALID, "JPEG scale denominator must be 1, 2, 4 or 8");
  if (size == 0) STN_FAIL(message, STN_ERR_TRUNCATED, "empty file");
  stn_jpeg_decoder *d = (stn_jpeg_decoder *)calloc(1, sizeof(stn_jpeg_decoder));
  if (d == NULL) STN_FAIL(message, STN_ERR_NOMEM, "out of memory");
  d->channels = channels;
  install_error_manager((j_common_ptr)&d->cinfo, &d->err);
  if (setjmp(d->err.jump)) {
    int status = d->err.status;
    stn_set_message(message, d->err.message);
    destroy_decoder(d);
    return status;
  }
  jpeg_create_decompress(&d->cinfo);
  d->err.progress.progress_monitor = on_progress;
  d->cinfo.progress = &d->err.progress;
  jpeg_mem_src(&d->cinfo, data, (unsigned long)size);
  // APP1 segments are at most 65,533 bytes each, and only as many as the file holds.
  if (keep_exif) jpeg_save_markers(&d->cinfo, JPEG_APP0 + 1, 0xFFFF);
  if (jpeg_read_header(&d->cinfo, TRUE) != JPEG_HEADER_OK) {
    stn_set_message(message, "no image in JPEG stream (tables only)");
    destroy_decoder(d);
    return STN_ERR_CORRUPT;
  }
  // Decompression-bomb guard: nothing large is allocated before jpeg_start_decompress.
  int64_t pixels = (int64_t)d->cinfo.image_width * (int64_t)d->cinfo.image_height;
  if (pixels > max_pixels) {
    snprintf(message, STN_MESSAGE_SIZE, "image is %ux%u = %lld pixels, over the limit of %lld",
             d->cinfo.image_width, d->cinfo.image_height, (long long)pixels, (long long)max_pixels);
    destroy_decoder(d);
    return STN_ERR_TOO_LARGE;
  }
  switch (d->cinfo.jpeg_color_space) {
  case JCS_GRAYSCALE:
    // Gray -> RGB replicates the value (libjpeg-turbo's gray_rgb_convert), as Pillow's l2rgb does.
    d->cinfo.out_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    d->conversion = CONVERT_NONE;
    break;
  case JCS_YCbCr:
  case JCS_RGB:
    // NOTE: for gray output Pillow decodes RGB and applies rgb2l; libjpeg's own YCbCr->gray
    // (take Y) differs by a level here and there, so decode RGB and convert ourselves.
    d->cinfo.out_color_space = JCS_RGB;
    d->conversion = channels == 1 ? CONVERT_RGB_TO_GRAY : CONVERT_NONE;
    break;
  case JCS_CMYK:
  case JCS_YCCK:
    d->cinfo.out_color_space = JCS_CMYK;
    d->conversion = channels == 1 ? CONVERT_CMYK_TO_GRAY : CONVERT_CMYK_TO_RGB;
    break;
  default:
    stn_set_message(message, "unsupported JPEG colour space");
    destroy_decoder(d);
    return STN_ERR_UNSUPPORTED;
  }
  // libjpeg-turbo's defaults, stated because pixel equality with Pillow depends on them.
  d->cinfo.dct_method = JDCT_ISLOW;
  d->cinfo.do_fancy_upsampling = TRUE;
  d->cinfo.scale_num = 1;
  d->cinfo.scale_denom = (unsigned int)scale_denominator;
  jpeg_calc_output_dimensions(&d->cinfo);
  *decoder = d;
  return STN_OK;
}

void stn_jpeg_header(const stn_jpeg_decoder *decoder, int *width, int *height, int *components) {
  *width = (int)decoder->cinfo.image_width;
  *height = (int)decoder->cinfo.image_height;
  *components = decoder->cinfo.num_components;
}

int stn_jpeg_exif_segment(const stn_jpeg_decoder *decoder, int index, const uint8_t **data, size_t *size) {
  *data = NULL;
  *size = 0;
  int seen = 0;
  for (jpeg_saved_marker_ptr m = decoder->cinfo.marker_list; m != NULL; m = m->next) {
    if (m->marker != JPEG_APP0 + 1 || m->data_length < 6 || memcmp(m->data, "Exif\0\0", 6) != 0) continue;
    if (seen++ == index) {
      *data = m->data;
      *size = m->data_length;
      return 1;
    }
  }
  return 0;
}

void stn_jpeg_output_size(const stn_jpeg_decoder *decoder, int *width, int *height) {
  *width = (int)decoder->cinfo.output_width;
  *height = (int)decoder->cinfo.output_height;
}

int stn_jpeg_decode(stn_jpeg_decoder *decoder, uint8_t *out, size_t out_size,
                    char message[STN_MESSAGE_SIZE]) {
  stn_jpeg_decoder *d = decoder;
  message[0] = 0;
  size_t width = d->cinfo.output_width, height = d->cinfo.output_height;
  size_t stride = width * (size_t)d->channels;
  if (out_size < stride * height) STN_FAIL(message, STN_ERR_INVALID, "output buffer too small");
  if (setjmp(d->err.jump)) {
    stn_set_message(message, d->err.message);
    return d->err.status;
  }
  jpeg_start_decompress(&d->cinfo);
  if (d->conversion == CONVERT_NONE) {
    // Fast path: libjpeg writes straight into the caller's buffer, several rows per call.
    JSAMPROW rows[16];
    while (d->cinfo.output_scanline < d->cinfo.output_height) {
      size_t first = d->cinfo.output_scanline;
      size_t count = height - first < 16 ? height - first : 16;
      for (size_t i = 0; i < count; i++) rows[i] = out + (first + i) * stride;
      jpeg_read_scanlines(&d->cinfo, rows, (JDIMENSION)count);
    }
  } else {
    // Converting path: one libjpeg row at a time into a scratch row owned by libjpeg's image
    // pool (freed by jpeg_destroy_decompress, so a longjmp cannot leak it).
    size_t in_channels = (size_t)d->cinfo.output_components;
    JSAMPARRAY scratch = (*d->cinfo.mem->alloc_sarray)(
        (j_common_ptr)&d->cinfo, JPOOL_IMAGE, (JDIMENSION)(width * in_channels), 1);
    while (d->cinfo.output_scanline < d->cinfo.output_height) {
      uint8_t *dst = out + (size_t)d->cinfo.output_scanline * stride;
      jpeg_read_scanlines(&d->cinfo, scratch, 1);
      const uint8_t *src = scratch[0];
      switch (d->conversion) {
      case CONVERT_RGB_TO_GRAY:
        for (size_t x = 0; x < width; x++, src += 3) dst[x] = luma(src[0], src[1], src[2]);
        break;
      case CONVERT_CMYK_TO_RGB:
        for (size_t x = 0; x < width; x++, src += 4, dst += 3) inverted_cmyk_to_rgb(src, dst);
        break;
      case CONVERT_CMYK_TO_GRAY:
        for (size_t x = 0; x < width; x++, src += 4) {
          uint8_t rgb[3];
          inverted_cmyk_to_rgb(src, rgb);
          dst[x] = luma(rgb[0], rgb[1], rgb[2]);
        }
        break;
      }
    }
  }
  // Reads to EOI, so damage or truncation after the last scanline is reported too.
  jpeg_finish_decompress(&d->cinfo);
  return STN_OK;
}

void stn_jpeg_close(stn_jpeg_decoder *decoder) {
  if (decoder != NULL) destroy_decoder(decoder);
}

// MARK: - Encoding

typedef struct {
  struct jpeg_compress_struct cinfo;
  stn_error_mgr err;
  unsigned char *buffer;  // owned by libjpeg's memory destination until we take it
  unsigned long size;
} stn_jpeg_encoder;

int stn_jpeg_encode(const uint8_t *pixels, int width, int height, int channels, int quality,
                    uint8_t **out, size_t *out_size, char message[STN_MESSAGE_SIZE]) {
  *out = NULL;
  *out_size = 0;
  message[0] = 0;
  if ((channels != 1 && channels != 3) || width <= 0 || height <= 0 || width > 65500 || height > 65500) STN_FAIL(message, STN_ERR_INVALID, "JPEG needs 1 or 3 channels and sides of 1...65500 pixels");
  if (quality < 1 || quality > 100) STN_FAIL(message, STN_ERR_INVALID, "JPEG quality must be 1...100");
  stn_jpeg_encoder *e = (stn_jpeg_encoder *)calloc(1, sizeof(stn_jpeg_encoder));
  if (e == NULL) STN_FAIL(message, STN_ERR_NOMEM, "out of memory");
  install_error_manager((j_common_ptr)&e->cinfo, &e->err);
  if (setjmp(e->err.jump)) {
    int status = e->err.status;
    stn_set_message(message, e->err.message);
    jpeg_destroy_compress(&e->cinfo);
    free(e->buffer);
    free(e);
    return status;
  }
  jpeg_create_compress(&e->cinfo);
  jpeg_mem_dest(&e->cinfo, &e->buffer, &e->size);
  e->cinfo.image_width = (JDIMENSION)width;
  e->cinfo.image_height = (JDIMENSION)height;
  e->cinfo.input_components = channels;
  e->cinfo.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&e->cinfo);
  jpeg_set_quality(&e->cinfo, quality, TRUE);
  jpeg_start_compress(&e->cinfo, TRUE);
  size_t stride = (size_t)width * (size_t)channels;
  while (e->cinfo.next_scanline < e->cinfo.image_height) {
    JSAMPROW row = (JSAMPROW)(pixels + (size_t)e->cinfo.next_scanline * stride);
    jpeg_write_scanlines(&e->cinfo, &row, 1);
  }
  jpeg_finish_compress(&e->cinfo);
  jpeg_destroy_compress(&e->cinfo);
  *out = e->buffer;
  *out_size = (size_t)e->size;
  free(e);
  return STN_OK;
}

void stn_jpeg_free(void *pointer) { free(pointer); }
