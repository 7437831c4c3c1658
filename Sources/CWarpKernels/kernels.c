// AVX2 twins of the STNWarp interior kernels. See include/CWarpKernels.h.
//
// NOTE: FMA contraction is off: the portable Swift twins round after every multiply and add,
// and these kernels must give the same bits. The target attribute only lets the compiler use
// AVX2 instructions inside these functions; they run only after cwk_cpu_has_avx2() said yes.
#pragma clang fp contract(off)

#include "CWarpKernels.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CWK_X86 1
#define CWK_AVX2 __attribute__((target("avx2,fma")))
#define CWK_AVX512 __attribute__((target("avx512f,avx512bw,avx2,fma")))
#endif
// The 8-lane helpers shared by the affine and grid row kernels: inlined into each, so every
// kernel keeps the code shape it had with the helper's body written out.
#define CWK_INLINE static inline __attribute__((always_inline))

// MARK: - Dispatch

int cwk_cpu_has_avx2(void) {
#if CWK_X86
  // compiler-rt checks OSXSAVE/XCR0 before reporting AVX features, so the OS saves ymm state.
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return 0;
#endif
}

int cwk_cpu_has_avx512(void) {
#if CWK_X86
  // As for AVX2: compiler-rt reports AVX-512 features only when XCR0 says the OS saves the
  // opmask and zmm state.
  __builtin_cpu_init();
  return cwk_cpu_has_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
#else
  return 0;
#endif
}

// MARK: - Cache warm-up

unsigned cwk_touch_lines(const uint8_t *bytes, ptrdiff_t count) {
  // One load per 64-byte line, independent of each other, so the core keeps many misses in
  // flight and the hardware prefetcher sees a plain sequential stream.
  unsigned sum = 0;
  for (ptrdiff_t i = 0; i < count; i += 64) sum += bytes[i];
  if (count > 0) sum += bytes[count - 1];
  return sum;
}

#if CWK_X86

// MARK: - Fused uint8 -> normalized float32, 3 channels

/// 8 bytes at p (a pixel and its east neighbour, plus 2 bytes that are never used).
static inline long long cwk_load8(const uint8_t *p) {
  long long v;
  memcpy(&v, p, 8);
  return v;
}

/// Two 8-byte loads per lane pair: [a | b] in the low 128 bits, [c | d] in the high.
CWK_AVX2 static inline __m256i cwk_pairs(const uint8_t *a, const uint8_t *b, const uint8_t *c, const uint8_t *d) {
  __m128i low = _mm_insert_epi64(_mm_cvtsi64_si128(cwk_load8(a)), cwk_load8(b), 1);
  __m128i high = _mm_insert_epi64(_mm_cvtsi64_si128(cwk_load8(c)), cwk_load8(d), 1);
  return _mm256_inserti128_si256(_mm256_castsi128_si256(low), high, 1);
}

/// pshufb controls of the 8-column blocks: per 128-bit lane of [P | Q] (8 bytes each: pixel
/// rgb, east rgb, unused), dwords (P.c, Q.c, P.east.c, Q.east.c) zero-extended, for channel c.
CWK_AVX2 static inline void cwk_select3(__m256i select[3]) {
  for (int c = 0; c < 3; c++) {
    char z = (char)0x80;
    select[c] = _mm256_setr_epi8(
      (char)c, z, z, z, (char)(8 + c), z, z, z, (char)(3 + c), z, z, z, (char)(11 + c), z, z, z,
      (char)c, z, z, z, (char)(8 + c), z, z, z, (char)(3 + c), z, z, z, (char)(11 + c), z, z, z);
  }
}

/// The bilinear samples of 8 interior columns, 3 channels: source points (x, y), their floors
/// (x0, y0) and the nw taps' byte offsets (every tap inside, every 8-byte load checked by the
/// caller), in the scalar order ((nw·w0 + ne·w1) + sw·w2) + se·w3.
CWK_AVX2 CWK_INLINE void cwk_bilinear3_block8(
  const uint8_t *source, ptrdiff_t stride, __m256 x, __m256 y, __m256 x0, __m256 y0, __m256i offset, const __m256i *select, __m256 *value) {
  const __m256 one = _mm256_set1_ps(1.0f);
  __m256 east = _mm256_sub_ps(x, x0), south = _mm256_sub_ps(y, y0);
  __m256 west = _mm256_sub_ps(one, east), north = _mm256_sub_ps(one, south);
  __m256 w0 = _mm256_mul_ps(north, west), w1 = _mm256_mul_ps(north, east);
  __m256 w2 = _mm256_mul_ps(south, west), w3 = _mm256_mul_ps(south, east);
  int32_t o[8];
  _mm256_storeu_si256((__m256i *)o, offset);
  const uint8_t *s = source, *t = source + stride;
  // Lanes 0,1,4,5 in one register and 2,3,6,7 in the other, so that unpacking the 64-bit
  // halves of the two puts the 8 lanes back in order.
  __m256i north_a = cwk_pairs(s + o[0], s + o[1], s + o[4], s + o[5]);
  __m256i north_b = cwk_pairs(s + o[2], s + o[3], s + o[6], s + o[7]);
  __m256i south_a = cwk_pairs(t + o[0], t + o[1], t + o[4], t + o[5]);
  __m256i south_b = cwk_pairs(t + o[2], t + o[3], t + o[6], t + o[7]);
  for (int c = 0; c < 3; c++) {
    __m256i na = _mm256_shuffle_epi8(north_a, select[c]), nb = _mm256_shuffle_epi8(north_b, select[c]);
    __m256i sa = _mm256_shuffle_epi8(south_a, select[c]), sb = _mm256_shuffle_epi8(south_b, select[c]);
    __m256 nw = _mm256_cvtepi32_ps(_mm256_unpacklo_epi64(na, nb)), ne = _mm256_cvtepi32_ps(_mm256_unpackhi_epi64(na, nb));
    __m256 sw = _mm256_cvtepi32_ps(_mm256_unpacklo_epi64(sa, sb)), se = _mm256_cvtepi32_ps(_mm256_unpackhi_epi64(sa, sb));
    value[c] = _mm256_add_ps(
      _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(nw, w0), _mm256_mul_ps(ne, w1)), _mm256_mul_ps(sw, w2)), _mm256_mul_ps(se, w3));
  }
}

CWK_AVX2 void cwk_normalized3_bilinear_avx2(
  const uint8_t *source, ptrdiff_t stride, ptrdiff_t size, float row_x, float row_y, float step_x, float step_y,
  ptrdiff_t start, ptrdiff_t end, float *out0, float *out1, float *out2, const float *scale, const float *bias) {
  const __m256 lanes = _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256 vrow_x = _mm256_set1_ps(row_x), vrow_y = _mm256_set1_ps(row_y);
  const __m256 vstep_x = _mm256_set1_ps(step_x), vstep_y = _mm256_set1_ps(step_y);
  const __m256i three = _mm256_set1_epi32(3), vwidth = _mm256_set1_epi32((int)(stride / 3));
  // A south-row 8-byte load must stay inside the image: offsets past this use the scalar path.
  const __m256i last_safe = _mm256_set1_epi32((int)(size - stride - 8));
  float *outs[3] = {out0, out1, out2};
  const __m256 vscale[3] = {_mm256_set1_ps(scale[0]), _mm256_set1_ps(scale[1]), _mm256_set1_ps(scale[2])};
  const __m256 vbias[3] = {_mm256_set1_ps(bias[0]), _mm256_set1_ps(bias[1]), _mm256_set1_ps(bias[2])};
  __m256i select[3];
  cwk_select3(select);
  ptrdiff_t ox = start;
  ptrdiff_t scalar_from = end;  // a block too close to the end of the image finishes in scalar code
  // NOTE: the last block of 8 moves left to end at `end`, rewriting some columns with the same
  // values, instead of a scalar tail.
  while (end - start >= 8 && ox < end) {
    ptrdiff_t block = ox + 8 <= end ? ox : end - 8;
    __m256 columns = _mm256_add_ps(lanes, _mm256_set1_ps((float)block));
    __m256 x = _mm256_add_ps(vrow_x, _mm256_mul_ps(vstep_x, columns));
    __m256 y = _mm256_add_ps(vrow_y, _mm256_mul_ps(vstep_y, columns));
    __m256 x0 = _mm256_floor_ps(x), y0 = _mm256_floor_ps(y);
    __m256i offset = _mm256_mullo_epi32(_mm256_add_epi32(_mm256_mullo_epi32(_mm256_cvttps_epi32(y0), vwidth), _mm256_cvttps_epi32(x0)), three);
    if (_mm256_movemask_epi8(_mm256_cmpgt_epi32(offset, last_safe))) {
      scalar_from = ox;
      break;
    }
    __m256 value[3];
    cwk_bilinear3_block8(source, stride, x, y, x0, y0, offset, select, value);
    for (int c = 0; c < 3; c++) _mm256_storeu_ps(outs[c] + block, _mm256_add_ps(_mm256_mul_ps(value[c], vscale[c]), vbias[c]));
    ox = block + 8;
  }
  if (scalar_from < end) ox = scalar_from;
  for (; ox < end; ox++) {
    float fx = (float)ox;
    float x = row_x + step_x * fx, y = row_y + step_y * fx;
    float x0 = floorf(x), y0 = floorf(y);
    float east = x - x0, south = y - y0, west = 1.0f - east, north = 1.0f - south;
    const uint8_t *p = source + (ptrdiff_t)y0 * stride + (ptrdiff_t)x0 * 3, *q = p + stride;
    float w0 = north * west, w1 = north * east, w2 = south * west, w3 = south * east;
    for (int c = 0; c < 3; c++) {
      float value = (float)p[c] * w0 + (float)p[3 + c] * w1 + (float)q[c] * w2 + (float)q[3 + c] * w3;
      outs[c][ox] = value * scale[c] + bias[c];
    }
  }
}

// MARK: - uint8 -> uint8, 3 channels

/// uint8 rounding of one sample, as the Swift `roundToUInt8`: nearest, halves up, clamped.
static inline uint8_t cwk_round_uint8(float value) {
  if (!(value > 0.0f)) return 0;
  if (value >= 254.5f) return 255;
  return (uint8_t)(value + 0.5f);
}

/// The scalar interior pixel of the uint8 kernels (the Swift twin's per-pixel arithmetic).
static inline void cwk_uint8_3_bilinear_pixel(
  const uint8_t *source, ptrdiff_t stride, float row_x, float row_y, float step_x, float step_y, ptrdiff_t ox, uint8_t *output) {
  float fx = (float)ox;
  float x = row_x + step_x * fx, y = row_y + step_y * fx;
  float x0 = floorf(x), y0 = floorf(y);
  float east = x - x0, south = y - y0, west = 1.0f - east, north = 1.0f - south;
  const uint8_t *p = source + (ptrdiff_t)y0 * stride + (ptrdiff_t)x0 * 3, *q = p + stride;
  float w0 = north * west, w1 = north * east, w2 = south * west, w3 = south * east;
  for (int c = 0; c < 3; c++) {
    float value = (float)p[c] * w0 + (float)p[3 + c] * w1 + (float)q[c] * w2 + (float)q[3 + c] * w3;
    output[ox * 3 + c] = cwk_round_uint8(value);
  }
}

/// Rounds 8 samples per channel like `cwk_round_uint8` and stores them as 24 interleaved bytes.
/// NOTE: truncating value + 0.5 and saturating to 0...255 is `cwk_round_uint8` for every value
/// below 2^31 and for NaN (cvttps gives INT_MIN, which saturates to 0); interior samples are
/// convex combinations of bytes, so they never come near 2^31.
CWK_AVX2 static inline void cwk_store_rgb8_avx2(uint8_t *output, __m256 r, __m256 g, __m256 b) {
  const __m256 half = _mm256_set1_ps(0.5f);
  __m256i ri = _mm256_cvttps_epi32(_mm256_add_ps(r, half));
  __m256i gi = _mm256_cvttps_epi32(_mm256_add_ps(g, half));
  __m256i bi = _mm256_cvttps_epi32(_mm256_add_ps(b, half));
  // Signed saturation to int16, then unsigned to uint8; per 128-bit lane k the bytes are
  // r[4k..4k+3], g[4k..4k+3], b[4k..4k+3], b[4k..4k+3].
  __m256i bytes = _mm256_packus_epi16(_mm256_packs_epi32(ri, gi), _mm256_packs_epi32(bi, bi));
  const __m256i interleave = _mm256_setr_epi8(
    0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11, -1, -1, -1, -1,
    0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11, -1, -1, -1, -1);
  bytes = _mm256_shuffle_epi8(bytes, interleave);
  // The 12 bytes of each lane next to each other: 24 bytes at the bottom of the register.
  bytes = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 3, 7));
  _mm_storeu_si128((__m128i *)output, _mm256_castsi256_si128(bytes));
  _mm_storel_epi64((__m128i *)(output + 16), _mm256_extracti128_si256(bytes, 1));
}

CWK_AVX2 void cwk_uint8_3_bilinear_avx2(
  const uint8_t *source, ptrdiff_t stride, ptrdiff_t size, float row_x, float row_y, float step_x, float step_y,
  ptrdiff_t start, ptrdiff_t end, uint8_t *output) {
  const __m256 lanes = _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256 vrow_x = _mm256_set1_ps(row_x), vrow_y = _mm256_set1_ps(row_y);
  const __m256 vstep_x = _mm256_set1_ps(step_x), vstep_y = _mm256_set1_ps(step_y);
  const __m256i three = _mm256_set1_epi32(3), vwidth = _mm256_set1_epi32((int)(stride / 3));
  // A south-row 8-byte load must stay inside the image: offsets past this use the scalar path.
  const __m256i last_safe = _mm256_set1_epi32((int)(size - stride - 8));
  __m256i select[3];
  cwk_select3(select);
  ptrdiff_t ox = start;
  ptrdiff_t scalar_from = end;
  // NOTE: the last block of 8 moves left to end at `end`, rewriting some columns with the same
  // bytes, instead of a scalar tail.
  while (end - start >= 8 && ox < end) {
    ptrdiff_t block = ox + 8 <= end ? ox : end - 8;
    __m256 columns = _mm256_add_ps(lanes, _mm256_set1_ps((float)block));
    __m256 x = _mm256_add_ps(vrow_x, _mm256_mul_ps(vstep_x, columns));
    __m256 y = _mm256_add_ps(vrow_y, _mm256_mul_ps(vstep_y, columns));
    __m256 x0 = _mm256_floor_ps(x), y0 = _mm256_floor_ps(y);
    __m256i offset = _mm256_mullo_epi32(_mm256_add_epi32(_mm256_mullo_epi32(_mm256_cvttps_epi32(y0), vwidth), _mm256_cvttps_epi32(x0)), three);
    if (_mm256_movemask_epi8(_mm256_cmpgt_epi32(offset, last_safe))) {
      scalar_from = ox;
      break;
    }
    __m256 value[3];
    cwk_bilinear3_block8(source, stride, x, y, x0, y0, offset, select, value);
    cwk_store_rgb8_avx2(output + block * 3, value[0], value[1], value[2]);
    ox = block + 8;
  }
  if (scalar_from < end) ox = scalar_from;
  for (; ox < end; ox++) cwk_uint8_3_bilinear_pixel(source, stride, row_x, row_y, step_x, step_y, ox, output);
}

// MARK: - AVX2 map rows: 8 interior columns per step at given points

/// The full 8-column block at ox of a row at source points (xs, ys): 1 when every lane's
/// bilinear taps lie inside the width x height source and every 8-byte load stays inside it,
/// with the points, their floors and the nw taps' byte offsets; else 0 (NaN is never inside).
CWK_AVX2 CWK_INLINE int cwk_points_interior8(
  const float *xs, const float *ys, ptrdiff_t ox, ptrdiff_t width, ptrdiff_t height, __m256 *x, __m256 *y, __m256 *x0, __m256 *y0, __m256i *offset) {
  const __m256 zero = _mm256_setzero_ps();
  const __m256 max_x0 = _mm256_set1_ps((float)(width - 2)), max_y0 = _mm256_set1_ps((float)(height - 2));
  *x = _mm256_loadu_ps(xs + ox);
  *y = _mm256_loadu_ps(ys + ox);
  *x0 = _mm256_floor_ps(*x);
  *y0 = _mm256_floor_ps(*y);
  __m256 inside = _mm256_and_ps(_mm256_and_ps(_mm256_cmp_ps(*x0, zero, _CMP_GE_OQ), _mm256_cmp_ps(*x0, max_x0, _CMP_LE_OQ)),
                                _mm256_and_ps(_mm256_cmp_ps(*y0, zero, _CMP_GE_OQ), _mm256_cmp_ps(*y0, max_y0, _CMP_LE_OQ)));
  if (_mm256_movemask_ps(inside) != 0xFF) return 0;
  *offset = _mm256_mullo_epi32(
    _mm256_add_epi32(_mm256_mullo_epi32(_mm256_cvttps_epi32(*y0), _mm256_set1_epi32((int)width)), _mm256_cvttps_epi32(*x0)), _mm256_set1_epi32(3));
  // A south-row 8-byte load must stay inside the image (as in cwk_uint8_3_bilinear_avx2).
  const __m256i last_safe = _mm256_set1_epi32((int)(width * height * 3 - width * 3 - 8));
  return !_mm256_movemask_epi8(_mm256_cmpgt_epi32(*offset, last_safe));
}

/// The body of both AVX2 points kernels: interior blocks stored as uint8 (output != NULL) or
/// as `sample * scale[c] + bias[c]` into planar rows (outs).
CWK_AVX2 CWK_INLINE void cwk_points_interior_rows_avx2(
  const uint8_t *source, ptrdiff_t width, ptrdiff_t height, const float *xs, const float *ys, ptrdiff_t count, uint8_t *output,
  float *const *outs, const float *scale, const float *bias, uint8_t *done) {
  __m256i select[3];
  cwk_select3(select);
  memset(done, 0, (size_t)count);
  for (ptrdiff_t ox = 0; ox + 8 <= count; ox += 8) {
    __m256 x, y, x0, y0, value[3];
    __m256i offset;
    if (!cwk_points_interior8(xs, ys, ox, width, height, &x, &y, &x0, &y0, &offset)) continue;
    cwk_bilinear3_block8(source, width * 3, x, y, x0, y0, offset, select, value);
    if (output) {
      cwk_store_rgb8_avx2(output + ox * 3, value[0], value[1], value[2]);
    } else {
      for (int c = 0; c < 3; c++) {
        _mm256_storeu_ps(outs[c] + ox, _mm256_add_ps(_mm256_mul_ps(value[c], _mm256_set1_ps(scale[c])), _mm256_set1_ps(bias[c])));
      }
    }
    memset(done + ox, 1, 8);
  }
}

CWK_AVX2 void cwk_uint8_3_bilinear_points_interior_avx2(
  const uint8_t *source, ptrdiff_t width, ptrdiff_t height, const float *xs, const float *ys, ptrdiff_t count, uint8_t *output, uint8_t *done) {
  cwk_points_interior_rows_avx2(source, width, height, xs, ys, count, output, NULL, NULL, NULL, done);
}

CWK_AVX2 void cwk_normalized3_bilinear_points_interior_avx2(
  const uint8_t *source, ptrdiff_t width, ptrdiff_t height, const float *xs, const float *ys, ptrdiff_t count,
  float *out0, float *out1, float *out2, const float *scale, const float *bias, uint8_t *done) {
  float *const outs[3] = {out0, out1, out2};
  cwk_points_interior_rows_avx2(source, width, height, xs, ys, count, NULL, outs, scale, bias, done);
}

// MARK: - Non-affine pixel maps in double (shared by the AVX2 and AVX-512 rows)

/// Applies the flattened map's pieces, in order, to the points (px, py) of one block of columns:
/// `FlatPixelMap.apply`'s operations in its order. P is the intrinsics prefix (_mm256, _mm512),
/// V the double vector type, RADIAL the width's r² log r². Uses pieces, piece_count, numbers.
#define CWK_APPLY_MAP_PIECES(P, V, RADIAL)                                                                   \
  for (ptrdiff_t p = 0; p < piece_count; p++) {                                                             \
    const double *m = numbers + pieces[p].offset;                                                           \
    if (!pieces[p].is_spline) {                                                                             \
      /* (u, v, w) = H·(x, y, 1): ((h0·x + h1·y) + h2) / w, as Homography.apply. */                       \
      V w = P##_add_pd(P##_add_pd(P##_mul_pd(P##_set1_pd(m[6]), px), P##_mul_pd(P##_set1_pd(m[7]), py)), P##_set1_pd(m[8])); \
      V u = P##_add_pd(P##_add_pd(P##_mul_pd(P##_set1_pd(m[0]), px), P##_mul_pd(P##_set1_pd(m[1]), py)), P##_set1_pd(m[2])); \
      V v = P##_add_pd(P##_add_pd(P##_mul_pd(P##_set1_pd(m[3]), px), P##_mul_pd(P##_set1_pd(m[4]), py)), P##_set1_pd(m[5])); \
      px = P##_div_pd(u, w);                                                                                \
      py = P##_div_pd(v, w);                                                                                \
      continue;                                                                                             \
    }                                                                                                       \
    /* a0 + x·ax + y·ay, then + U(|p - c_j|)·w_j in control-point order. */                               \
    V rx = P##_add_pd(P##_add_pd(P##_set1_pd(m[0]), P##_mul_pd(px, P##_set1_pd(m[2]))), P##_mul_pd(py, P##_set1_pd(m[4]))); \
    V ry = P##_add_pd(P##_add_pd(P##_set1_pd(m[1]), P##_mul_pd(px, P##_set1_pd(m[3]))), P##_mul_pd(py, P##_set1_pd(m[5]))); \
    const double *c = m + 6;                                                                                \
    for (int32_t j = 0; j < pieces[p].control_points; j++, c += 4) {                                       \
      V dx = P##_sub_pd(px, P##_set1_pd(c[0])), dy = P##_sub_pd(py, P##_set1_pd(c[1]));                    \
      V u = RADIAL(P##_add_pd(P##_mul_pd(dx, dx), P##_mul_pd(dy, dy)));                                     \
      rx = P##_add_pd(rx, P##_mul_pd(u, P##_set1_pd(c[2])));                                                \
      ry = P##_add_pd(ry, P##_mul_pd(u, P##_set1_pd(c[3])));                                                \
    }                                                                                                       \
    px = rx;                                                                                                \
    py = ry;                                                                                                \
  }

/// The end of `ThinPlateSpline.naturalLog` in vectors: from f = m - 1 and k as doubles (dk) to
/// result = log(2^k·m), fdlibm's polynomial and two-part k·ln 2 in the Swift twin's order.
#define CWK_LOG_TAIL(P, V, f, dk, result)                                                                   \
  {                                                                                                         \
    V s_ = P##_div_pd(f, P##_add_pd(P##_set1_pd(2.0), f));                                                  \
    V z_ = P##_mul_pd(s_, s_);                                                                              \
    V w_ = P##_mul_pd(z_, z_);                                                                              \
    V t1_ = P##_mul_pd(w_, P##_add_pd(P##_set1_pd(3.999999999940941908e-01),                                \
      P##_mul_pd(w_, P##_add_pd(P##_set1_pd(2.222219843214978396e-01), P##_mul_pd(w_, P##_set1_pd(1.531383769920937332e-01)))))); \
    V t2_ = P##_mul_pd(z_, P##_add_pd(P##_set1_pd(6.666666666666735130e-01),                                \
      P##_mul_pd(w_, P##_add_pd(P##_set1_pd(2.857142874366239149e-01),                                      \
        P##_mul_pd(w_, P##_add_pd(P##_set1_pd(1.818357216161805012e-01), P##_mul_pd(w_, P##_set1_pd(1.479819860511658591e-01)))))))); \
    V r_ = P##_add_pd(t2_, t1_);                                                                            \
    V half_square_ = P##_mul_pd(P##_mul_pd(P##_set1_pd(0.5), f), f);                                       \
    V inner_ = P##_add_pd(P##_mul_pd(s_, P##_add_pd(half_square_, r_)), P##_mul_pd(dk, P##_set1_pd(1.90821492927058770002e-10))); \
    result = P##_sub_pd(P##_mul_pd(dk, P##_set1_pd(6.93147180369123816490e-01)), P##_sub_pd(P##_sub_pd(half_square_, inner_), f)); \
  }

// MARK: - AVX2 map rows: the map in double, 4 columns per step

/// `ThinPlateSpline.naturalLog` of 4 lanes, operation for operation (see cwk_log8); lanes that
/// are not positive and finite give garbage (the caller blends them).
CWK_AVX2 static inline __m256d cwk_log4(__m256d x) {
  const __m256d one = _mm256_set1_pd(1.0);
  __m256d subnormal = _mm256_cmp_pd(x, _mm256_set1_pd(2.2250738585072014e-308), _CMP_LT_OQ);
  x = _mm256_blendv_pd(x, _mm256_mul_pd(x, _mm256_set1_pd(0x1p54)), subnormal);
  __m256i bits = _mm256_castpd_si256(x);
  __m256i k = _mm256_sub_epi64(_mm256_srli_epi64(bits, 52), _mm256_set1_epi64x(1023));
  k = _mm256_sub_epi64(k, _mm256_and_si256(_mm256_castpd_si256(subnormal), _mm256_set1_epi64x(54)));
  __m256i mantissa = _mm256_and_si256(bits, _mm256_set1_epi64x(0x000FFFFFFFFFFFFFLL));
  __m256i high = _mm256_cmpgt_epi64(mantissa, _mm256_set1_epi64x(0x6A09E667F3BCDLL));
  k = _mm256_sub_epi64(k, high);  // high lanes are -1
  __m256i exponent = _mm256_blendv_epi8(_mm256_set1_epi64x(0x3FF0000000000000LL), _mm256_set1_epi64x(0x3FE0000000000000LL), high);
  __m256d f = _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(mantissa, exponent)), one);
  // The low dwords of the 4 lanes (k fits in 32 bits), converted exactly.
  __m128i k32 = _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(k, _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6)));
  __m256d dk = _mm256_cvtepi32_pd(k32), result;
  CWK_LOG_TAIL(_mm256, __m256d, f, dk, result)
  return result;
}

/// cwk_radial_basis8 in 4 lanes.
CWK_AVX2 static inline __m256d cwk_radial_basis4(__m256d d) {
  __m256d positive = _mm256_cmp_pd(d, _mm256_setzero_pd(), _CMP_GT_OQ);
  __m256d finite = _mm256_cmp_pd(d, _mm256_set1_pd(INFINITY), _CMP_LT_OQ);
  __m256d logarithm = cwk_log4(_mm256_blendv_pd(_mm256_set1_pd(1.0), d, _mm256_and_pd(positive, finite)));
  logarithm = _mm256_blendv_pd(logarithm, d, _mm256_andnot_pd(finite, positive));
  return _mm256_and_pd(_mm256_mul_pd(d, logarithm), positive);
}

CWK_AVX2 void cwk_map_row_avx2(
  const cwk_map_piece *pieces, ptrdiff_t piece_count, const double *numbers, double y, ptrdiff_t count, double *xs, double *ys) {
  const __m256d lanes = _mm256_setr_pd(0, 1, 2, 3);
  for (ptrdiff_t ox = 0; ox < count; ox += 4) {
    __m256d px = _mm256_add_pd(_mm256_set1_pd((double)ox), lanes), py = _mm256_set1_pd(y);
    CWK_APPLY_MAP_PIECES(_mm256, __m256d, cwk_radial_basis4)
    if (count - ox >= 4) {
      _mm256_storeu_pd(xs + ox, px);
      _mm256_storeu_pd(ys + ox, py);
    } else {
      double bx[4], by[4];
      _mm256_storeu_pd(bx, px);
      _mm256_storeu_pd(by, py);
      memcpy(xs + ox, bx, (size_t)(count - ox) * sizeof(double));
      memcpy(ys + ox, by, (size_t)(count - ox) * sizeof(double));
    }
  }
}

CWK_AVX2 void cwk_radial_basis_avx2(const double *squared_distances, ptrdiff_t count, double *out) {
  for (ptrdiff_t i = 0; i < count; i += 4) {
    double in[4] = {0, 0, 0, 0}, result[4];
    ptrdiff_t n = count - i < 4 ? count - i : 4;
    memcpy(in, squared_distances + i, (size_t)n * sizeof(double));
    _mm256_storeu_pd(result, cwk_radial_basis4(_mm256_loadu_pd(in)));
    memcpy(out + i, result, (size_t)n * sizeof(double));
  }
}

// MARK: - AVX-512: 16 columns per step from 4-byte gathers

// NOTE: on the Sapphire Rapids machine these were written on, 16-lane dword gathers beat both
// the 8-byte pair loads of the AVX2 kernels (building vectors from scalar loads is bound by the
// shuffle port) and the same gathers 8 lanes wide: 1.7 against 3.7 and 2.6 ns per interior
// pixel of one hot row. (Gathers are slower on AMD Zen; the AVX2 kernels keep the pair loads.)

/// Bilinear geometry of 16 columns: byte offsets of the nw taps, the 4 weights and, for the
/// zeros-padding row kernels, which taps are inside the source.
typedef struct {
  __m512i offset;
  __m512 w0, w1, w2, w3;
  __mmask16 m0, m1, m2, m3;  // nw, ne, sw, se inside (row kernels only)
} cwk_geometry16;

/// Source coordinates (x, y) of columns ox...ox+15: the scalar `row_x + step_x * ox`.
CWK_AVX512 static inline void cwk_coordinates16(float row_x, float row_y, float step_x, float step_y, ptrdiff_t ox, __m512 *x, __m512 *y) {
  const __m512 lanes = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  __m512 columns = _mm512_add_ps(lanes, _mm512_set1_ps((float)ox));
  *x = _mm512_add_ps(_mm512_set1_ps(row_x), _mm512_mul_ps(_mm512_set1_ps(step_x), columns));
  *y = _mm512_add_ps(_mm512_set1_ps(row_y), _mm512_mul_ps(_mm512_set1_ps(step_y), columns));
}

/// Weights and nw byte offsets at padded coordinates (x, y) (finite, within ±1e9).
CWK_AVX512 static inline cwk_geometry16 cwk_geometry16_at(__m512 x, __m512 y, __m512i vwidth, __m512i *ix, __m512i *iy) {
  const __m512 one = _mm512_set1_ps(1.0f);
  __m512 x0 = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  __m512 y0 = _mm512_roundscale_ps(y, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  __m512 east = _mm512_sub_ps(x, x0), south = _mm512_sub_ps(y, y0);
  __m512 west = _mm512_sub_ps(one, east), north = _mm512_sub_ps(one, south);
  cwk_geometry16 g;
  g.w0 = _mm512_mul_ps(north, west);
  g.w1 = _mm512_mul_ps(north, east);
  g.w2 = _mm512_mul_ps(south, west);
  g.w3 = _mm512_mul_ps(south, east);
  *ix = _mm512_cvttps_epi32(x0);
  *iy = _mm512_cvttps_epi32(y0);
  // Lanes with a tap outside may wrap here; their offsets are used only through masks.
  g.offset = _mm512_mullo_epi32(_mm512_add_epi32(_mm512_mullo_epi32(*iy, vwidth), *ix), _mm512_set1_epi32(3));
  g.m0 = g.m1 = g.m2 = g.m3 = 0xFFFF;
  return g;
}

/// Interior columns: every tap inside, coordinates used as they are.
CWK_AVX512 static inline cwk_geometry16 cwk_interior_geometry16(
  float row_x, float row_y, float step_x, float step_y, ptrdiff_t ox, __m512i vwidth) {
  __m512 x, y;
  __m512i ix, iy;
  cwk_coordinates16(row_x, row_y, step_x, step_y, ox, &x, &y);
  return cwk_geometry16_at(x, y, vwidth, &ix, &iy);
}

/// Any columns with zeros padding at source coordinates (x, y): `paddedPixelCoordinate`
/// (coordinates that are not finite or beyond ±1e9 go to -100), then `sampleUInt8`'s tap checks
/// as masks within lane mask `m`.
CWK_AVX512 static inline cwk_geometry16 cwk_zeros_geometry16(__m512 x, __m512 y, __mmask16 m, ptrdiff_t width, ptrdiff_t height) {
  const __m512 limit = _mm512_set1_ps(1e9f), far = _mm512_set1_ps(-100.0f);
  // NOTE: ordered compare: NaN is not valid; +-Inf is beyond 1e9.
  x = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(_mm512_abs_ps(x), limit, _CMP_LE_OQ), far, x);
  y = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(_mm512_abs_ps(y), limit, _CMP_LE_OQ), far, y);
  __m512i ix, iy;
  cwk_geometry16 g = cwk_geometry16_at(x, y, _mm512_set1_epi32((int)width), &ix, &iy);
  // 0 <= i < size as one unsigned compare (negative i is a large unsigned number).
  const __m512i vw = _mm512_set1_epi32((int)width), vh = _mm512_set1_epi32((int)height), one = _mm512_set1_epi32(1);
  __mmask16 x_in0 = _mm512_cmplt_epu32_mask(ix, vw), x_in1 = _mm512_cmplt_epu32_mask(_mm512_add_epi32(ix, one), vw);
  __mmask16 y_in0 = _mm512_cmplt_epu32_mask(iy, vh), y_in1 = _mm512_cmplt_epu32_mask(_mm512_add_epi32(iy, one), vh);
  g.m0 = m & y_in0 & x_in0;
  g.m1 = m & y_in0 & x_in1;
  g.m2 = m & y_in1 & x_in0;
  g.m3 = m & y_in1 & x_in1;
  return g;
}

/// The 4 taps of 16 columns, one dword per lane: nw and sw hold the pixel's bytes at 0...2, ne
/// and se the east pixel's at 1...3.
typedef struct {
  __m512i nw, ne, sw, se;
} cwk_taps16;

/// Taps of columns whose taps are all inside (lanes outside mask `m` read nothing).
/// NOTE: the east taps are read from 2 bytes before the east pixel, so that no read passes the
/// east pixel's last byte (the last pixel of the image may be a tap).
CWK_AVX512 static inline cwk_taps16 cwk_interior_taps16(const uint8_t *source, ptrdiff_t stride, __m512i offset, __mmask16 m) {
  const __m512i zero = _mm512_setzero_si512();
  cwk_taps16 t;
  t.nw = _mm512_mask_i32gather_epi32(zero, m, offset, source, 1);
  t.ne = _mm512_mask_i32gather_epi32(zero, m, offset, source + 2, 1);
  t.sw = _mm512_mask_i32gather_epi32(zero, m, offset, source + stride, 1);
  t.se = _mm512_mask_i32gather_epi32(zero, m, offset, source + stride + 2, 1);
  return t;
}

/// One tap of 16 lanes at byte offsets `pixel`, read where `inside`, else `fill` (already in the
/// tap's byte layout). A 4-byte read at the pixel passes the end of the source for its last
/// pixel; there it starts one byte earlier, and the word is shifted into the tap's layout.
CWK_AVX512 static inline __m512i cwk_checked_tap16(const uint8_t *source, __m512i pixel, __mmask16 inside, __m512i last_start, __m512i fill, int east) {
  __mmask16 at_end = _mm512_mask_cmpgt_epi32_mask(inside, pixel, last_start);
  __m512i start = _mm512_mask_sub_epi32(pixel, at_end, pixel, _mm512_set1_epi32(1));
  __m512i word = _mm512_mask_i32gather_epi32(fill, inside, start, source, 1);
  // Now bytes 0...2 (read at the pixel) or 1...3 (read one byte earlier).
  return east ? _mm512_mask_slli_epi32(word, inside & (__mmask16)~at_end, word, 8) : _mm512_mask_srli_epi32(word, at_end, word, 8);
}

/// Taps with zeros padding: inside taps from the source, the others `fill` (3 bytes in a dword).
CWK_AVX512 static inline cwk_taps16 cwk_zeros_taps16(const uint8_t *source, ptrdiff_t stride, ptrdiff_t size, const cwk_geometry16 *g, uint32_t fill) {
  const __m512i last_start = _mm512_set1_epi32((int)(size - 4));  // a 4-byte read at <= this stays inside
  const __m512i fill_west = _mm512_set1_epi32((int)fill), fill_east = _mm512_set1_epi32((int)(fill << 8));
  const __m512i east = _mm512_set1_epi32(3), south = _mm512_set1_epi32((int)stride);
  __m512i sw = _mm512_add_epi32(g->offset, south);
  cwk_taps16 t;
  t.nw = cwk_checked_tap16(source, g->offset, g->m0, last_start, fill_west, 0);
  t.ne = cwk_checked_tap16(source, _mm512_add_epi32(g->offset, east), g->m1, last_start, fill_east, 1);
  t.sw = cwk_checked_tap16(source, sw, g->m2, last_start, fill_west, 0);
  t.se = cwk_checked_tap16(source, _mm512_add_epi32(sw, east), g->m3, last_start, fill_east, 1);
  return t;
}

/// pshufb control taking byte `byte` of every dword, zero-extended.
CWK_AVX512 static inline __m512i cwk_dword_byte16(int byte) {
  const char z = (char)0x80, b = (char)byte;
  return _mm512_broadcast_i32x4(_mm_setr_epi8(b, z, z, z, (char)(4 + byte), z, z, z, (char)(8 + byte), z, z, z, (char)(12 + byte), z, z, z));
}

/// Channel c of the 16 taps as one bilinear sum, in the scalar order ((nw + ne) + sw) + se.
CWK_AVX512 static inline __m512 cwk_bilinear16(const cwk_taps16 *t, const cwk_geometry16 *g, int c) {
  const __m512i west_byte = cwk_dword_byte16(c), east_byte = cwk_dword_byte16(c + 1);
  __m512 nw = _mm512_cvtepi32_ps(_mm512_shuffle_epi8(t->nw, west_byte)), ne = _mm512_cvtepi32_ps(_mm512_shuffle_epi8(t->ne, east_byte));
  __m512 sw = _mm512_cvtepi32_ps(_mm512_shuffle_epi8(t->sw, west_byte)), se = _mm512_cvtepi32_ps(_mm512_shuffle_epi8(t->se, east_byte));
  return _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(nw, g->w0), _mm512_mul_ps(ne, g->w1)), _mm512_mul_ps(sw, g->w2)),
                       _mm512_mul_ps(se, g->w3));
}

/// Rounds `count` (1...16) pixels of 3 channels like `cwk_round_uint8` (see the NOTE of
/// cwk_store_rgb8_avx2) and stores them as 3·count interleaved bytes.
CWK_AVX512 static inline void cwk_store_rgb16(uint8_t *output, const cwk_taps16 *t, const cwk_geometry16 *g, ptrdiff_t count) {
  const __m512 half = _mm512_set1_ps(0.5f);
  __m512i r = _mm512_cvttps_epi32(_mm512_add_ps(cwk_bilinear16(t, g, 0), half));
  __m512i gr = _mm512_cvttps_epi32(_mm512_add_ps(cwk_bilinear16(t, g, 1), half));
  __m512i b = _mm512_cvttps_epi32(_mm512_add_ps(cwk_bilinear16(t, g, 2), half));
  // Per 128-bit lane k the packs give r, g, b, b of pixels 4k...4k+3; the shuffle interleaves
  // them into 12 bytes and the permute moves the four 12-byte groups together.
  __m512i interleave = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11, -1, -1, -1, -1));
  __m512i compact = _mm512_setr_epi32(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, 3, 7, 11, 15);
  // NOTE: hides the constants from the optimizer, which otherwise splits this shuffle and
  // permute into nine 128- and 256-bit shuffles.
  __asm__("" : "+v"(interleave), "+v"(compact));
  __m512i bytes = _mm512_packus_epi16(_mm512_packs_epi32(r, gr), _mm512_packs_epi32(b, b));
  bytes = _mm512_permutexvar_epi32(compact, _mm512_shuffle_epi8(bytes, interleave));
  _mm512_mask_storeu_epi8(output, (__mmask64)((1ull << (3 * count)) - 1), bytes);
}

/// `value * scale + bias` of `count` (1...16) pixels into 3 planar float rows.
/// NOTE: full blocks use plain stores: masked 64-byte float stores of full blocks made the
/// normalized row kernel about 1.4x slower on Sapphire Rapids (B1, harness timing).
CWK_AVX512 static inline void cwk_store_normalized16(float *const *outs, ptrdiff_t ox, const cwk_taps16 *t, const cwk_geometry16 *g, ptrdiff_t count,
                                                      const __m512 *scale, const __m512 *bias) {
  __mmask16 m = (__mmask16)((1u << count) - 1);
  for (int c = 0; c < 3; c++) {
    __m512 value = _mm512_add_ps(_mm512_mul_ps(cwk_bilinear16(t, g, c), scale[c]), bias[c]);
    if (count == 16) _mm512_storeu_ps(outs[c] + ox, value);
    else _mm512_mask_storeu_ps(outs[c] + ox, m, value);
  }
}

/// Block of 16 columns at ox (fewer at the end): `count` and the lane mask.
static inline ptrdiff_t cwk_block_count(ptrdiff_t ox, ptrdiff_t end, __mmask16 *m) {
  ptrdiff_t count = end - ox < 16 ? end - ox : 16;
  *m = (__mmask16)((1u << count) - 1);
  return count;
}

CWK_AVX512 void cwk_uint8_3_bilinear_avx512(
  const uint8_t *source, ptrdiff_t stride, ptrdiff_t size, float row_x, float row_y, float step_x, float step_y,
  ptrdiff_t start, ptrdiff_t end, uint8_t *output) {
  (void)size;  // every read stays inside the taps (see cwk_interior_taps16)
  const __m512i vwidth = _mm512_set1_epi32((int)(stride / 3));
  for (ptrdiff_t ox = start; ox < end; ox += 16) {
    // The last block masks its missing lanes: they read nothing and store nothing.
    __mmask16 m;
    ptrdiff_t count = cwk_block_count(ox, end, &m);
    cwk_geometry16 g = cwk_interior_geometry16(row_x, row_y, step_x, step_y, ox, vwidth);
    cwk_taps16 t = cwk_interior_taps16(source, stride, g.offset, m);
    cwk_store_rgb16(output + ox * 3, &t, &g, count);
  }
}

CWK_AVX512 void cwk_normalized3_bilinear_avx512(
  const uint8_t *source, ptrdiff_t stride, ptrdiff_t size, float row_x, float row_y, float step_x, float step_y,
  ptrdiff_t start, ptrdiff_t end, float *out0, float *out1, float *out2, const float *scale, const float *bias) {
  (void)size;
  const __m512i vwidth = _mm512_set1_epi32((int)(stride / 3));
  float *const outs[3] = {out0, out1, out2};
  const __m512 vscale[3] = {_mm512_set1_ps(scale[0]), _mm512_set1_ps(scale[1]), _mm512_set1_ps(scale[2])};
  const __m512 vbias[3] = {_mm512_set1_ps(bias[0]), _mm512_set1_ps(bias[1]), _mm512_set1_ps(bias[2])};
  for (ptrdiff_t ox = start; ox < end; ox += 16) {
    __mmask16 m;
    ptrdiff_t count = cwk_block_count(ox, end, &m);
    cwk_geometry16 g = cwk_interior_geometry16(row_x, row_y, step_x, step_y, ox, vwidth);
    cwk_taps16 t = cwk_interior_taps16(source, stride, g.offset, m);
    cwk_store_normalized16(outs, ox, &t, &g, count, vscale, vbias);
  }
}

// MARK: - AVX-512 rows with zeros padding (masked taps)

/// Geometry and taps of one block of a zeros-padding row; false when no tap of any lane is
/// inside and the fill is 0, so that every sample is exactly 0 and nothing was read.
CWK_AVX512 static inline int cwk_zeros_block16(
  const uint8_t *source, ptrdiff_t width, ptrdiff_t height, __m512 x, __m512 y, __mmask16 m, uint32_t fill, cwk_geometry16 *g, cwk_taps16 *t) {
  ptrdiff_t stride = width * 3;
  *g = cwk_zeros_geometry16(x, y, m, width, height);
  __mmask16 all = g->m0 & g->m1 & g->m2 & g->m3, any = g->m0 | g->m1 | g->m2 | g->m3;
  if (all == m) {
    *t = cwk_interior_taps16(source, stride, g->offset, m);
  } else if (any == 0 && fill == 0) {
    // NOTE: 0 · weight is 0 for every (finite) weight, so such lanes sample exactly 0.
    return 0;
  } else {
    *t = cwk_zeros_taps16(source, stride, height * stride, g, fill);
  }
  return 1;
}

/// Source coordinates of the 16 columns at ox of a zeros-padding row: a row of an affine map
/// (points == NULL: `row_x + step_x * ox`, as cwk_coordinates16) or the given points (xs, ys;
/// lanes outside `m` read nothing and are 0).
typedef struct {
  float row_x, row_y, step_x, step_y;
  const float *xs, *ys;
} cwk_row_points;

CWK_AVX512 static inline void cwk_row_points16(const cwk_row_points *p, ptrdiff_t ox, __mmask16 m, __m512 *x, __m512 *y) {
  if (p->xs) {
    *x = _mm512_maskz_loadu_ps(m, p->xs + ox);
    *y = _mm512_maskz_loadu_ps(m, p->ys + ox);
  } else {
    cwk_coordinates16(p->row_x, p->row_y, p->step_x, p->step_y, ox, x, y);
  }
}

/// The uint8 zeros-padding row at any points: the body of both uint8 row kernels.
CWK_AVX512 CWK_INLINE void cwk_uint8_3_row_zeros16(
  const uint8_t *source, ptrdiff_t width, ptrdiff_t height, const cwk_row_points *points, ptrdiff_t count, const uint8_t *fill, uint8_t *output) {
  uint32_t fill_word = (uint32_t)fill[0] | (uint32_t)fill[1] << 8 | (uint32_t)fill[2] << 16;
  for (ptrdiff_t ox = 0; ox < count; ox += 16) {
    __mmask16 m;
    ptrdiff_t n = cwk_block_count(ox, count, &m);
    __m512 x, y;
    cwk_row_points16(points, ox, m, &x, &y);
    cwk_geometry16 g;
    cwk_taps16 t;
    if (cwk_zeros_block16(source, width, height, x, y, m, fill_word, &g, &t)) {
      cwk_store_rgb16(output + ox * 3, &t, &g, n);
    } else {
      _mm512_mask_storeu_epi8(output + ox * 3, (__mmask64)((1ull << (3 * n)) - 1), _mm512_setzero_si512());
    }
  }
}

/// The normalized zeros-padding row at any points: the body of both normalized row kernels.
CWK_AVX512 CWK_INLINE void cwk_normalized3_row_zeros16(
  const uint8_t *source, ptrdiff_t width, ptrdiff_t height, const cwk_row_points *points, ptrdiff_t count, const uint8_t *fill,
  float *out0, float *out1, float *out2, const float *scale, const float *bias) {
  uint32_t fill_word = (uint32_t)fill[0] | (uint32_t)fill[1] << 8 | (uint32_t)fill[2] << 16;
  float *const outs[3] = {out0, out1, out2};
  const __m512 vscale[3] = {_mm512_set1_ps(scale[0]), _mm512_set1_ps(scale[1]), _mm512_set1_ps(scale[2])};
  const __m512 vbias[3] = {_mm512_set1_ps(bias[0]), _mm512_set1_ps(bias[1]), _mm512_set1_ps(bias[2])};
  for (ptrdiff_t ox = 0; ox < count; ox += 16) {
    __mmask16 m;
    ptrdiff_t n = cwk_block_count(ox, count, &m);
    __m512 x, y;
    cwk_row_points16(points, ox, m, &x, &y);
    cwk_geometry16 g;
    cwk_taps16 t;
    if (cwk_zeros_block16(source, width, height, x, y, m, fill_word, &g, &t)) {
      cwk_store_normalized16(outs, ox, &t, &g, n, vscale, vbias);
    } else {
      // The sample is 0: 0 · scale + bias, as the Swift kernels write misses.
      for (int c = 0; c < 3; c++) {
        __m512 value = _mm512_add_ps(_mm512_mul_ps(_mm512_setzero_ps(), vscale[c]), vbias[c]);
        if (n == 16) _mm512_storeu_ps(outs[c] + ox, value);
        else _mm512_mask_storeu_ps(outs[c] + ox, m, value);
      }
    }
  }
}

CWK_AVX512 void cwk_uint8_3_bilinear_row_zeros_avx512(
  const uint8_t *source, ptrdiff_t width, ptrdiff_t height, float row_x, float row_y, float step_x, float step_y,
  ptrdiff_t count, const uint8_t *fill, uint8_t *output) {
  cwk_row_points points = {row_x, row_y, step_x, step_y, NULL, NULL};
  cwk_uint8_3_row_zeros16(source, width, height, &points, count, fill, output);
}

CWK_AVX512 void cwk_normalized3_bilinear_row_zeros_avx512(
  const uint8_t *source, ptrdiff_t width, ptrdiff_t height, float row_x, float row_y, float step_x, float step_y,
  ptrdiff_t count, const uint8_t *fill, float *out0, float *out1, float *out2, const float *scale, const float *bias) {
  cwk_row_points points = {row_x, row_y, step_x, step_y, NULL, NULL};
  cwk_normalized3_row_zeros16(source, width, height, &points, count, fill, out0, out1, out2, scale, bias);
}

CWK_AVX512 void cwk_uint8_3_bilinear_points_zeros_avx512(
  const uint8_t *source, ptrdiff_t width, ptrdiff_t height, const float *xs, const float *ys,
  ptrdiff_t count, const uint8_t *fill, uint8_t *output) {
  cwk_row_points points = {0, 0, 0, 0, xs, ys};
  cwk_uint8_3_row_zeros16(source, width, height, &points, count, fill, output);
}

CWK_AVX512 void cwk_normalized3_bilinear_points_zeros_avx512(
  const uint8_t *source, ptrdiff_t width, ptrdiff_t height, const float *xs, const float *ys,
  ptrdiff_t count, const uint8_t *fill, float *out0, float *out1, float *out2, const float *scale, const float *bias) {
  cwk_row_points points = {0, 0, 0, 0, xs, ys};
  cwk_normalized3_row_zeros16(source, width, height, &points, count, fill, out0, out1, out2, scale, bias);
}

// MARK: - Non-affine pixel maps, AVX-512, 8 columns in double

/// `ThinPlateSpline.naturalLog` of 8 lanes, operation for operation; lanes that are not positive
/// and finite give garbage (the caller blends them).
CWK_AVX512 static inline __m512d cwk_log8(__m512d x) {
  const __m512d one = _mm512_set1_pd(1.0);
  __mmask8 subnormal = _mm512_cmp_pd_mask(x, _mm512_set1_pd(2.2250738585072014e-308), _CMP_LT_OQ);
  x = _mm512_mask_mul_pd(x, subnormal, x, _mm512_set1_pd(0x1p54));
  __m512i bits = _mm512_castpd_si512(x);
  __m512i k = _mm512_sub_epi64(_mm512_srli_epi64(bits, 52), _mm512_set1_epi64(1023));
  k = _mm512_mask_sub_epi64(k, subnormal, k, _mm512_set1_epi64(54));
  __m512i mantissa = _mm512_and_si512(bits, _mm512_set1_epi64(0x000FFFFFFFFFFFFFLL));
  __mmask8 high = _mm512_cmpgt_epi64_mask(mantissa, _mm512_set1_epi64(0x6A09E667F3BCDLL));
  k = _mm512_mask_add_epi64(k, high, k, _mm512_set1_epi64(1));
  __m512i exponent = _mm512_mask_blend_epi64(high, _mm512_set1_epi64(0x3FF0000000000000LL), _mm512_set1_epi64(0x3FE0000000000000LL));
  __m512d f = _mm512_sub_pd(_mm512_castsi512_pd(_mm512_or_si512(mantissa, exponent)), one);
  // k fits in 32 bits: vpmovqd + vcvtdq2pd stay within AVX-512 F (no DQ needed).
  __m512d dk = _mm512_cvtepi32_pd(_mm512_cvtepi64_epi32(k)), result;
  CWK_LOG_TAIL(_mm512, __m512d, f, dk, result)
  return result;
}

/// `ThinPlateSpline.radialBasis` of 8 squared distances: d·log d where d > 0 (+inf stays
/// +inf), else 0 (NaN included).
CWK_AVX512 static inline __m512d cwk_radial_basis8(__m512d d) {
  __mmask8 positive = _mm512_cmp_pd_mask(d, _mm512_setzero_pd(), _CMP_GT_OQ);
  __mmask8 finite = _mm512_cmp_pd_mask(d, _mm512_set1_pd(INFINITY), _CMP_LT_OQ);
  __m512d logarithm = cwk_log8(_mm512_mask_blend_pd(positive & finite, _mm512_set1_pd(1.0), d));
  logarithm = _mm512_mask_blend_pd(positive & (__mmask8)~finite, logarithm, d);
  return _mm512_maskz_mul_pd(positive, d, logarithm);
}

CWK_AVX512 void cwk_map_row_avx512(
  const cwk_map_piece *pieces, ptrdiff_t piece_count, const double *numbers, double y, ptrdiff_t count, double *xs, double *ys) {
  const __m512d lanes = _mm512_setr_pd(0, 1, 2, 3, 4, 5, 6, 7);
  for (ptrdiff_t ox = 0; ox < count; ox += 8) {
    __m512d px = _mm512_add_pd(_mm512_set1_pd((double)ox), lanes), py = _mm512_set1_pd(y);
    CWK_APPLY_MAP_PIECES(_mm512, __m512d, cwk_radial_basis8)
    __mmask8 m = count - ox >= 8 ? 0xFF : (__mmask8)((1u << (count - ox)) - 1);
    _mm512_mask_storeu_pd(xs + ox, m, px);
    _mm512_mask_storeu_pd(ys + ox, m, py);
  }
}

CWK_AVX512 void cwk_radial_basis_avx512(const double *squared_distances, ptrdiff_t count, double *out) {
  for (ptrdiff_t i = 0; i < count; i += 8) {
    __mmask8 m = count - i >= 8 ? 0xFF : (__mmask8)((1u << (count - i)) - 1);
    _mm512_mask_storeu_pd(out + i, m, cwk_radial_basis8(_mm512_maskz_loadu_pd(m, squared_distances + i)));
  }
}

// MARK: - Affine grid geometry, 8 columns

typedef struct {
  __m256i base;
  __m256 w0, w1, w2, w3, east, south;
} cwk_geometry8;

/// The Swift twin's `interiorGeometry8`: same operations, same order.
CWK_AVX2 static inline cwk_geometry8 cwk_affine_geometry8(const cwk_affine_row *row, const float *xs, ptrdiff_t ox, ptrdiff_t width) {
  __m256 bx = _mm256_loadu_ps(xs + ox);
  __m256 gx = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(_mm256_set1_ps(row->t0), bx), _mm256_set1_ps(row->t1 * row->y)), _mm256_set1_ps(row->t2));
  __m256 gy = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(_mm256_set1_ps(row->t3), bx), _mm256_set1_ps(row->t4 * row->y)), _mm256_set1_ps(row->t5));
  const __m256 one = _mm256_set1_ps(1.0f);
  __m256 x = _mm256_sub_ps(_mm256_mul_ps(_mm256_add_ps(gx, one), _mm256_set1_ps(row->scale_x)), _mm256_set1_ps(row->offset_x));
  __m256 y = _mm256_sub_ps(_mm256_mul_ps(_mm256_add_ps(gy, one), _mm256_set1_ps(row->scale_y)), _mm256_set1_ps(row->offset_y));
  __m256 x0 = _mm256_floor_ps(x), y0 = _mm256_floor_ps(y);
  cwk_geometry8 g;
  g.east = _mm256_sub_ps(x, x0);
  g.south = _mm256_sub_ps(y, y0);
  __m256 west = _mm256_sub_ps(one, g.east), north = _mm256_sub_ps(one, g.south);
  g.w0 = _mm256_mul_ps(north, west);
  g.w1 = _mm256_mul_ps(north, g.east);
  g.w2 = _mm256_mul_ps(g.south, west);
  g.w3 = _mm256_mul_ps(g.south, g.east);
  g.base = _mm256_add_epi32(_mm256_mullo_epi32(_mm256_cvttps_epi32(y0), _mm256_set1_epi32((int)width)), _mm256_cvttps_epi32(x0));
  return g;
}

/// Scalar geometry of one column (the Swift twin's scalar tail).
static inline void cwk_affine_geometry1(const cwk_affine_row *row, float bx, ptrdiff_t width, ptrdiff_t *base, float *east, float *south) {
  float gx = row->t0 * bx + row->t1 * row->y + row->t2;
  float gy = row->t3 * bx + row->t4 * row->y + row->t5;
  float x = (gx + 1.0f) * row->scale_x - row->offset_x;
  float y = (gy + 1.0f) * row->scale_y - row->offset_y;
  float x0 = floorf(x), y0 = floorf(y);
  *east = x - x0;
  *south = y - y0;
  *base = (ptrdiff_t)y0 * width + (ptrdiff_t)x0;
}

/// Two adjacent floats (a tap and its east neighbour) at p.
static inline double cwk_load_pair(const float *p) {
  double v;
  memcpy(&v, p, 8);
  return v;
}

/// The 4 taps of 8 lanes whose taps are all inside, from 8-byte loads of (nw, ne) and (sw, se)
/// pairs instead of 4 gathers (slow on some AVX2 CPUs).
CWK_AVX2 static inline void cwk_load_taps8(const float *p, const int32_t *base, ptrdiff_t width, __m256 *nw, __m256 *ne, __m256 *sw, __m256 *se) {
  // Lanes 0,1,4,5 in `a` and 2,3,6,7 in `b`: shuffling even/odd floats of the two gives the 8
  // lanes in order.
#define CWK_PAIRS(q, i, j, k, l) _mm256_castpd_ps(_mm256_setr_pd(cwk_load_pair((q) + base[i]), cwk_load_pair((q) + base[j]), cwk_load_pair((q) + base[k]), cwk_load_pair((q) + base[l])))
  __m256 a = CWK_PAIRS(p, 0, 1, 4, 5), b = CWK_PAIRS(p, 2, 3, 6, 7);
  *nw = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
  *ne = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
  a = CWK_PAIRS(p + width, 0, 1, 4, 5);
  b = CWK_PAIRS(p + width, 2, 3, 6, 7);
  *sw = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
  *se = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
#undef CWK_PAIRS
}

// MARK: - Affine forward

CWK_AVX2 void cwk_affine_forward_interior_avx2(
  const float *input, const cwk_affine_row *row, const float *xs, ptrdiff_t start, ptrdiff_t end,
  ptrdiff_t width, ptrdiff_t channels, ptrdiff_t plane_in, ptrdiff_t plane_out, float *output) {
  ptrdiff_t ox = start;
  while (end - start >= 8 && ox < end) {
    ptrdiff_t block = ox + 8 <= end ? ox : end - 8;
    cwk_geometry8 g = cwk_affine_geometry8(row, xs, block, width);
    int32_t base[8];
    _mm256_storeu_si256((__m256i *)base, g.base);
    const float *p = input;
    float *o = output + block;
    for (ptrdiff_t c = 0; c < channels; c++) {
      __m256 nw, ne, sw, se;
      cwk_load_taps8(p, base, width, &nw, &ne, &sw, &se);
      __m256 value = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(nw, g.w0), _mm256_mul_ps(ne, g.w1)), _mm256_mul_ps(sw, g.w2)),
                                   _mm256_mul_ps(se, g.w3));
      _mm256_storeu_ps(o, value);
      p += plane_in;
      o += plane_out;
    }
    ox = block + 8;
  }
  for (; ox < end; ox++) {
    ptrdiff_t base;
    float east, south;
    cwk_affine_geometry1(row, xs[ox], width, &base, &east, &south);
    float west = 1.0f - east, north = 1.0f - south;
    float w0 = north * west, w1 = north * east, w2 = south * west, w3 = south * east;
    for (ptrdiff_t c = 0; c < channels; c++) {
      const float *p = input + c * plane_in + base;
      output[c * plane_out + ox] = p[0] * w0 + p[1] * w1 + p[width] * w2 + p[width + 1] * w3;
    }
  }
}

// MARK: - Affine backward

CWK_AVX2 void cwk_affine_backward_interior_avx2(
  const float *input, float *grad_input, const float *grad_output, const cwk_affine_row *row, const float *xs,
  ptrdiff_t start, ptrdiff_t end, ptrdiff_t width, ptrdiff_t channels, ptrdiff_t plane_in, ptrdiff_t plane_out,
  float x_multiplier, float y_multiplier, float *lane_sums) {
  __m256 sum_xx = _mm256_setzero_ps(), sum_x = _mm256_setzero_ps(), sum_yx = _mm256_setzero_ps(), sum_y = _mm256_setzero_ps();
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256i lane_index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  ptrdiff_t ox = start;
  while (ox < end) {
    ptrdiff_t block = ox + 8 <= end ? ox : end - 8;
    // Lanes already done by the previous block get gradOutput 0 and so add exactly 0.
    __m256i skip = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(ox - block)), lane_index);
    cwk_geometry8 g = cwk_affine_geometry8(row, xs, block, width);
    __m256 west = _mm256_sub_ps(one, g.east), north = _mm256_sub_ps(one, g.south);
    __m256 gx = _mm256_setzero_ps(), gy = _mm256_setzero_ps();
    int32_t base[8];
    _mm256_storeu_si256((__m256i *)base, g.base);
    for (ptrdiff_t c = 0; c < channels; c++) {
      const float *p = input + c * plane_in;
      __m256 go = _mm256_andnot_ps(_mm256_castsi256_ps(skip), _mm256_loadu_ps(grad_output + c * plane_out + block));
      __m256 nw, ne, sw, se;
      cwk_load_taps8(p, base, width, &nw, &ne, &sw, &se);
      if (grad_input) {
        float *q = grad_input + c * plane_in;
        float a[4][8];
        _mm256_storeu_ps(a[0], _mm256_mul_ps(g.w0, go));
        _mm256_storeu_ps(a[1], _mm256_mul_ps(g.w1, go));
        _mm256_storeu_ps(a[2], _mm256_mul_ps(g.w2, go));
        _mm256_storeu_ps(a[3], _mm256_mul_ps(g.w3, go));
        // NOTE: one tap at a time over the 8 lanes (see the Swift twin: pairing nw/ne into
        // 8-byte accesses defeats store-to-load forwarding between neighbouring pixels).
        for (int lane = 0; lane < 8; lane++) q[base[lane]] += a[0][lane];
        for (int lane = 0; lane < 8; lane++) q[base[lane] + 1] += a[1][lane];
        for (int lane = 0; lane < 8; lane++) q[base[lane] + width] += a[2][lane];
        for (int lane = 0; lane < 8; lane++) q[base[lane] + width + 1] += a[3][lane];
      }
      gx = _mm256_add_ps(gx, _mm256_mul_ps(_mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(ne, nw), north), _mm256_mul_ps(_mm256_sub_ps(se, sw), g.south)), go));
      gy = _mm256_add_ps(gy, _mm256_mul_ps(_mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(sw, nw), west), _mm256_mul_ps(_mm256_sub_ps(se, ne), g.east)), go));
    }
    __m256 gX = _mm256_mul_ps(gx, _mm256_set1_ps(x_multiplier)), gY = _mm256_mul_ps(gy, _mm256_set1_ps(y_multiplier));
    __m256 bx = _mm256_loadu_ps(xs + block);
    sum_xx = _mm256_add_ps(sum_xx, _mm256_mul_ps(gX, bx));
    sum_x = _mm256_add_ps(sum_x, gX);
    sum_yx = _mm256_add_ps(sum_yx, _mm256_mul_ps(gY, bx));
    sum_y = _mm256_add_ps(sum_y, gY);
    ox = block + 8;
  }
  _mm256_storeu_ps(lane_sums, sum_xx);
  _mm256_storeu_ps(lane_sums + 8, sum_x);
  _mm256_storeu_ps(lane_sums + 16, sum_yx);
  _mm256_storeu_ps(lane_sums + 24, sum_y);
}

// MARK: - Affine rows with zeros padding (masked taps)

typedef struct {
  __m256i base;
  __m256 w0, w1, w2, w3, east, south;
  __m256 m0, m1, m2, m3;        // tap inside the input (all ones) or not
  __m256 valid_x, valid_y;      // coordinate finite and within 1e9 (else -100, zero derivative)
} cwk_checked8;

/// `sourceIndexWithGradient` (zeros padding) and `bilinearTaps` for 8 columns at normalized
/// grid coordinates (gx, gy).
CWK_AVX2 CWK_INLINE cwk_checked8 cwk_checked_normalized8(
  __m256 gx, __m256 gy, float scale_x, float offset_x, float scale_y, float offset_y, ptrdiff_t width, ptrdiff_t height) {
  const __m256 one = _mm256_set1_ps(1.0f);
  __m256 x = _mm256_sub_ps(_mm256_mul_ps(_mm256_add_ps(gx, one), _mm256_set1_ps(scale_x)), _mm256_set1_ps(offset_x));
  __m256 y = _mm256_sub_ps(_mm256_mul_ps(_mm256_add_ps(gy, one), _mm256_set1_ps(scale_y)), _mm256_set1_ps(offset_y));
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF)), limit = _mm256_set1_ps(1e9f), far = _mm256_set1_ps(-100.0f);
  cwk_checked8 g;
  // NOTE: ordered compare: NaN is not valid; +-Inf is beyond 1e9.
  g.valid_x = _mm256_cmp_ps(_mm256_and_ps(x, abs_mask), limit, _CMP_LE_OQ);
  g.valid_y = _mm256_cmp_ps(_mm256_and_ps(y, abs_mask), limit, _CMP_LE_OQ);
  x = _mm256_blendv_ps(far, x, g.valid_x);
  y = _mm256_blendv_ps(far, y, g.valid_y);
  __m256 x0 = _mm256_floor_ps(x), y0 = _mm256_floor_ps(y);
  g.east = _mm256_sub_ps(x, x0);
  g.south = _mm256_sub_ps(y, y0);
  __m256 west = _mm256_sub_ps(one, g.east), north = _mm256_sub_ps(one, g.south);
  g.w0 = _mm256_mul_ps(north, west);
  g.w1 = _mm256_mul_ps(north, g.east);
  g.w2 = _mm256_mul_ps(g.south, west);
  g.w3 = _mm256_mul_ps(g.south, g.east);
  __m256i ix = _mm256_cvttps_epi32(x0), iy = _mm256_cvttps_epi32(y0);
  const __m256i vw = _mm256_set1_epi32((int)width), vh = _mm256_set1_epi32((int)height);
  const __m256i minus1 = _mm256_set1_epi32(-1), minus2 = _mm256_set1_epi32(-2);
  __m256i x_in0 = _mm256_and_si256(_mm256_cmpgt_epi32(ix, minus1), _mm256_cmpgt_epi32(vw, ix));
  __m256i x_in1 = _mm256_and_si256(_mm256_cmpgt_epi32(ix, minus2), _mm256_cmpgt_epi32(_mm256_add_epi32(vw, minus1), ix));
  __m256i y_in0 = _mm256_and_si256(_mm256_cmpgt_epi32(iy, minus1), _mm256_cmpgt_epi32(vh, iy));
  __m256i y_in1 = _mm256_and_si256(_mm256_cmpgt_epi32(iy, minus2), _mm256_cmpgt_epi32(_mm256_add_epi32(vh, minus1), iy));
  g.m0 = _mm256_castsi256_ps(_mm256_and_si256(y_in0, x_in0));
  g.m1 = _mm256_castsi256_ps(_mm256_and_si256(y_in0, x_in1));
  g.m2 = _mm256_castsi256_ps(_mm256_and_si256(y_in1, x_in0));
  g.m3 = _mm256_castsi256_ps(_mm256_and_si256(y_in1, x_in1));
  // Lanes with no tap inside may overflow here; their offsets are never used.
  g.base = _mm256_add_epi32(_mm256_mullo_epi32(iy, vw), ix);
  return g;
}

/// `cwk_checked_normalized8` at the affine grid coordinates of columns ox..<ox+8 of a row.
CWK_AVX2 CWK_INLINE cwk_checked8 cwk_checked_geometry8(const cwk_affine_row *row, const float *xs, ptrdiff_t ox, ptrdiff_t width, ptrdiff_t height) {
  __m256 bx = _mm256_loadu_ps(xs + ox);
  __m256 gx = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(_mm256_set1_ps(row->t0), bx), _mm256_set1_ps(row->t1 * row->y)), _mm256_set1_ps(row->t2));
  __m256 gy = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(_mm256_set1_ps(row->t3), bx), _mm256_set1_ps(row->t4 * row->y)), _mm256_set1_ps(row->t5));
  return cwk_checked_normalized8(gx, gy, row->scale_x, row->offset_x, row->scale_y, row->offset_y, width, height);
}

/// The 4 taps of 8 checked columns in one plane: pair loads when every tap of every lane is
/// inside, else masked gathers (outside taps read 0 and touch no memory).
CWK_AVX2 CWK_INLINE void cwk_checked_taps8(
  const cwk_checked8 *g, const float *p, const int32_t *base, ptrdiff_t width, int all_inside, __m256 *nw, __m256 *ne, __m256 *sw, __m256 *se) {
  if (all_inside) {
    cwk_load_taps8(p, base, width, nw, ne, sw, se);
    return;
  }
  const __m256 zero = _mm256_setzero_ps();
  *nw = _mm256_mask_i32gather_ps(zero, p, g->base, g->m0, 4);
  *ne = _mm256_mask_i32gather_ps(zero, p + 1, g->base, g->m1, 4);
  *sw = _mm256_mask_i32gather_ps(zero, p + width, g->base, g->m2, 4);
  *se = _mm256_mask_i32gather_ps(zero, p + width + 1, g->base, g->m3, 4);
}

/// Bilinear forward of 8 checked columns, all channels: output points at the block's first
/// column in channel 0.
CWK_AVX2 CWK_INLINE void cwk_forward_checked8(
  const cwk_checked8 *g, const float *input, ptrdiff_t width, ptrdiff_t channels, ptrdiff_t plane_in, ptrdiff_t plane_out, float *output) {
  // Every tap of every lane inside: plain pair loads; otherwise masked gathers.
  int all_inside = _mm256_movemask_ps(_mm256_and_ps(_mm256_and_ps(g->m0, g->m1), _mm256_and_ps(g->m2, g->m3))) == 0xFF;
  int32_t base[8];
  _mm256_storeu_si256((__m256i *)base, g->base);
  const float *p = input;
  float *o = output;
  for (ptrdiff_t c = 0; c < channels; c++) {
    __m256 nw, ne, sw, se;
    cwk_checked_taps8(g, p, base, width, all_inside, &nw, &ne, &sw, &se);
    __m256 value = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(nw, g->w0), _mm256_mul_ps(ne, g->w1)), _mm256_mul_ps(sw, g->w2)),
                                 _mm256_mul_ps(se, g->w3));
    _mm256_storeu_ps(o, value);
    p += plane_in;
    o += plane_out;
  }
}

/// Bilinear backward of 8 checked columns, all channels: adds to grad_input (may be NULL) and
/// returns d(loss)/d(normalized grid x, y) of each lane in gX, gY. Lanes set in `skip` (done by
/// the previous block) add nothing and get 0. grad_output points at the block's first column.
CWK_AVX2 CWK_INLINE void cwk_backward_checked8(
  const cwk_checked8 *g, __m256 skip, const float *input, float *grad_input, const float *grad_output, ptrdiff_t width,
  ptrdiff_t channels, ptrdiff_t plane_in, ptrdiff_t plane_out, float x_multiplier, float y_multiplier, __m256 *gX, __m256 *gY) {
  const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
  __m256 west = _mm256_sub_ps(one, g->east), north = _mm256_sub_ps(one, g->south);
  __m256 gx = zero, gy = zero;
  int32_t base[8];
  _mm256_storeu_si256((__m256i *)base, g->base);
  int todo0 = _mm256_movemask_ps(_mm256_andnot_ps(skip, g->m0)), todo1 = _mm256_movemask_ps(_mm256_andnot_ps(skip, g->m1));
  int todo2 = _mm256_movemask_ps(_mm256_andnot_ps(skip, g->m2)), todo3 = _mm256_movemask_ps(_mm256_andnot_ps(skip, g->m3));
  int all_inside = _mm256_movemask_ps(_mm256_and_ps(_mm256_and_ps(g->m0, g->m1), _mm256_and_ps(g->m2, g->m3))) == 0xFF;
  for (ptrdiff_t c = 0; c < channels; c++) {
    const float *p = input + c * plane_in;
    __m256 go = _mm256_loadu_ps(grad_output + c * plane_out);
    __m256 nw, ne, sw, se;
    cwk_checked_taps8(g, p, base, width, all_inside, &nw, &ne, &sw, &se);
    if (grad_input) {
      float *q = grad_input + c * plane_in;
      float a[4][8];
      _mm256_storeu_ps(a[0], _mm256_mul_ps(g->w0, go));
      _mm256_storeu_ps(a[1], _mm256_mul_ps(g->w1, go));
      _mm256_storeu_ps(a[2], _mm256_mul_ps(g->w2, go));
      _mm256_storeu_ps(a[3], _mm256_mul_ps(g->w3, go));
      // One tap at a time over the lanes (store-to-load forwarding, see the interior kernel).
      for (int bits = todo0; bits; bits &= bits - 1) { int lane = __builtin_ctz(bits); q[base[lane]] += a[0][lane]; }
      for (int bits = todo1; bits; bits &= bits - 1) { int lane = __builtin_ctz(bits); q[base[lane] + 1] += a[1][lane]; }
      for (int bits = todo2; bits; bits &= bits - 1) { int lane = __builtin_ctz(bits); q[base[lane] + width] += a[2][lane]; }
      for (int bits = todo3; bits; bits &= bits - 1) { int lane = __builtin_ctz(bits); q[base[lane] + width + 1] += a[3][lane]; }
    }
    gx = _mm256_add_ps(gx, _mm256_mul_ps(_mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(ne, nw), north), _mm256_mul_ps(_mm256_sub_ps(se, sw), g->south)), go));
    gy = _mm256_add_ps(gy, _mm256_mul_ps(_mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(sw, nw), west), _mm256_mul_ps(_mm256_sub_ps(se, ne), g->east)), go));
  }
  // Invalid coordinates have derivative 0 (sourceIndexWithGradient); skipped lanes add nothing.
  *gX = _mm256_andnot_ps(skip, _mm256_mul_ps(gx, _mm256_and_ps(g->valid_x, _mm256_set1_ps(x_multiplier))));
  *gY = _mm256_andnot_ps(skip, _mm256_mul_ps(gy, _mm256_and_ps(g->valid_y, _mm256_set1_ps(y_multiplier))));
}

CWK_AVX2 void cwk_affine_forward_row_zeros_avx2(
  const float *input, const cwk_affine_row *row, const float *xs, ptrdiff_t count,
  ptrdiff_t width, ptrdiff_t height, ptrdiff_t channels, ptrdiff_t plane_in, ptrdiff_t plane_out, float *output) {
  for (ptrdiff_t ox = 0; ox < count;) {
    ptrdiff_t block = ox + 8 <= count ? ox : count - 8;
    cwk_checked8 g = cwk_checked_geometry8(row, xs, block, width, height);
    cwk_forward_checked8(&g, input, width, channels, plane_in, plane_out, output + block);
    ox = block + 8;
  }
}

CWK_AVX2 void cwk_affine_backward_row_zeros_avx2(
  const float *input, float *grad_input, const float *grad_output, const cwk_affine_row *row, const float *xs,
  ptrdiff_t count, ptrdiff_t width, ptrdiff_t height, ptrdiff_t channels, ptrdiff_t plane_in, ptrdiff_t plane_out,
  float x_multiplier, float y_multiplier, float *lane_sums) {
  __m256 sum_xx = _mm256_setzero_ps(), sum_x = _mm256_setzero_ps(), sum_yx = _mm256_setzero_ps(), sum_y = _mm256_setzero_ps();
  const __m256i lane_index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  for (ptrdiff_t ox = 0; ox < count;) {
    ptrdiff_t block = ox + 8 <= count ? ox : count - 8;
    // Lanes already done by the previous block are left out entirely.
    __m256 skip = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32((int)(ox - block)), lane_index));
    cwk_checked8 g = cwk_checked_geometry8(row, xs, block, width, height);
    __m256 gX, gY;
    cwk_backward_checked8(&g, skip, input, grad_input, grad_output + block, width, channels, plane_in, plane_out,
                          x_multiplier, y_multiplier, &gX, &gY);
    __m256 bx = _mm256_loadu_ps(xs + block);
    sum_xx = _mm256_add_ps(sum_xx, _mm256_mul_ps(gX, bx));
    sum_x = _mm256_add_ps(sum_x, gX);
    sum_yx = _mm256_add_ps(sum_yx, _mm256_mul_ps(gY, bx));
    sum_y = _mm256_add_ps(sum_y, gY);
    ox = block + 8;
  }
  _mm256_storeu_ps(lane_sums, sum_xx);
  _mm256_storeu_ps(lane_sums + 8, sum_x);
  _mm256_storeu_ps(lane_sums + 16, sum_yx);
  _mm256_storeu_ps(lane_sums + 24, sum_y);
}

// MARK: - Rows of a given grid (projective, thin-plate spline), zeros padding

CWK_AVX2 void cwk_grid_forward_row_zeros_avx2(
  const float *input, const float *grid_x, const float *grid_y, ptrdiff_t count, const cwk_grid_axes *axes,
  ptrdiff_t width, ptrdiff_t height, ptrdiff_t channels, ptrdiff_t plane_in, ptrdiff_t plane_out, float *output) {
  for (ptrdiff_t ox = 0; ox < count;) {
    ptrdiff_t block = ox + 8 <= count ? ox : count - 8;
    cwk_checked8 g = cwk_checked_normalized8(_mm256_loadu_ps(grid_x + block), _mm256_loadu_ps(grid_y + block),
                                             axes->scale_x, axes->offset_x, axes->scale_y, axes->offset_y, width, height);
    cwk_forward_checked8(&g, input, width, channels, plane_in, plane_out, output + block);
    ox = block + 8;
  }
}

CWK_AVX2 void cwk_grid_backward_row_zeros_avx2(
  const float *input, float *grad_input, const float *grad_output, const float *grid_x, const float *grid_y, ptrdiff_t count,
  const cwk_grid_axes *axes, ptrdiff_t width, ptrdiff_t height, ptrdiff_t channels, ptrdiff_t plane_in, ptrdiff_t plane_out,
  float *grad_x, float *grad_y) {
  const __m256i lane_index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  for (ptrdiff_t ox = 0; ox < count;) {
    ptrdiff_t block = ox + 8 <= count ? ox : count - 8;
    __m256i skip_bits = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(ox - block)), lane_index);
    cwk_checked8 g = cwk_checked_normalized8(_mm256_loadu_ps(grid_x + block), _mm256_loadu_ps(grid_y + block),
                                             axes->scale_x, axes->offset_x, axes->scale_y, axes->offset_y, width, height);
    __m256 gX, gY;
    cwk_backward_checked8(&g, _mm256_castsi256_ps(skip_bits), input, grad_input, grad_output + block, width, channels, plane_in,
                          plane_out, axes->scale_x, axes->scale_y, &gX, &gY);
    // NOTE: lanes of the previous block keep the values written there.
    __m256i keep = _mm256_xor_si256(skip_bits, _mm256_set1_epi32(-1));
    _mm256_maskstore_ps(grad_x + block, keep, gX);
    _mm256_maskstore_ps(grad_y + block, keep, gY);
    ox = block + 8;
  }
}

// MARK: - Projective grid rows

CWK_AVX2 void cwk_projective_gradient_row_avx2(
  const float *h, float y, const float *xs, const float *grad_x, const float *grad_y, ptrdiff_t count, float *lane_sums) {
  const __m256i lane_index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256 zero = _mm256_setzero_ps(), sign = _mm256_set1_ps(-0.0f);
  __m256 sum[6] = {zero, zero, zero, zero, zero, zero};
  for (ptrdiff_t start = 0; start < count; start += 8) {
    // A short last block reads zeros (zero gradient: left out).
    __m256i inside = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(count - start)), lane_index);
    __m256 x = _mm256_maskload_ps(xs + start, inside);
    __m256 gx = _mm256_maskload_ps(grad_x + start, inside), gy = _mm256_maskload_ps(grad_y + start, inside);
    __m256 u = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(_mm256_set1_ps(h[0]), x), _mm256_set1_ps(h[1] * y)), _mm256_set1_ps(h[2]));
    __m256 v = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(_mm256_set1_ps(h[3]), x), _mm256_set1_ps(h[4] * y)), _mm256_set1_ps(h[5]));
    __m256 w = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(_mm256_set1_ps(h[6]), x), _mm256_set1_ps(h[7] * y)), _mm256_set1_ps(h[8]));
    __m256 keep = _mm256_or_ps(_mm256_cmp_ps(gx, zero, _CMP_NEQ_UQ), _mm256_cmp_ps(gy, zero, _CMP_NEQ_UQ));
    __m256 a = _mm256_div_ps(gx, w), b = _mm256_div_ps(gy, w);
    // -(a·(u/w) + b·(v/w)), negated by its sign bit as Swift's unary minus does.
    __m256 c = _mm256_xor_ps(_mm256_add_ps(_mm256_mul_ps(a, _mm256_div_ps(u, w)), _mm256_mul_ps(b, _mm256_div_ps(v, w))), sign);
    a = _mm256_and_ps(a, keep);
    b = _mm256_and_ps(b, keep);
    c = _mm256_and_ps(c, keep);
    sum[0] = _mm256_add_ps(sum[0], _mm256_mul_ps(a, x));
    sum[1] = _mm256_add_ps(sum[1], a);
    sum[2] = _mm256_add_ps(sum[2], _mm256_mul_ps(b, x));
    sum[3] = _mm256_add_ps(sum[3], b);
    sum[4] = _mm256_add_ps(sum[4], _mm256_mul_ps(c, x));
    sum[5] = _mm256_add_ps(sum[5], c);
  }
  for (int i = 0; i < 6; i++) _mm256_storeu_ps(lane_sums + 8 * i, sum[i]);
}

// MARK: - Thin-plate-spline grid rows

/// Up to 4 blocks of 8 columns of a TPS row, starting at column `start`, with their sums in
/// registers (so each control point's two weights are broadcast once per 32 columns).
CWK_AVX2 CWK_INLINE void cwk_tps_fill_blocks(
  const float *basis, ptrdiff_t stride, ptrdiff_t k, const float *xs, float y, const float *d, ptrdiff_t start, int blocks, __m256 *sx, __m256 *sy) {
  for (int i = 0; i < blocks; i++) {
    sx[i] = _mm256_loadu_ps(xs + start + 8 * i);
    sy[i] = _mm256_set1_ps(y);
  }
  const float *b = basis + start;
  for (ptrdiff_t j = 0; j < k; j++, b += stride) {
    __m256 dx = _mm256_set1_ps(d[2 * j]), dy = _mm256_set1_ps(d[2 * j + 1]);
    for (int i = 0; i < blocks; i++) {
      __m256 weight = _mm256_loadu_ps(b + 8 * i);
      sx[i] = _mm256_add_ps(sx[i], _mm256_mul_ps(weight, dx));
      sy[i] = _mm256_add_ps(sy[i], _mm256_mul_ps(weight, dy));
    }
  }
}

CWK_AVX2 void cwk_tps_fill_row_avx2(
  const float *basis, ptrdiff_t stride, ptrdiff_t k, const float *xs, float y, const float *d, ptrdiff_t count, float *grid_x, float *grid_y) {
  for (ptrdiff_t start = 0; start < count; start += 32) {
    __m256 sx[4], sy[4];
    int blocks = (int)((count - start + 7) / 8 < 4 ? (count - start + 7) / 8 : 4);
    // Constant block counts let the compiler keep the sums in registers.
    switch (blocks) {
    case 4: cwk_tps_fill_blocks(basis, stride, k, xs, y, d, start, 4, sx, sy); break;
    case 3: cwk_tps_fill_blocks(basis, stride, k, xs, y, d, start, 3, sx, sy); break;
    case 2: cwk_tps_fill_blocks(basis, stride, k, xs, y, d, start, 2, sx, sy); break;
    default: cwk_tps_fill_blocks(basis, stride, k, xs, y, d, start, 1, sx, sy); break;
    }
    for (int i = 0; i < blocks; i++) {
      ptrdiff_t column = start + 8 * i;
      if (column + 8 <= count) {
        _mm256_storeu_ps(grid_x + column, sx[i]);
        _mm256_storeu_ps(grid_y + column, sy[i]);
      } else {
        __m256i keep = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(count - column)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        _mm256_maskstore_ps(grid_x + column, keep, sx[i]);
        _mm256_maskstore_ps(grid_y + column, keep, sy[i]);
      }
    }
  }
}

CWK_AVX2 void cwk_tps_gradient_row_avx2(
  const float *basis, ptrdiff_t stride, ptrdiff_t k, const float *grad_x, const float *grad_y, ptrdiff_t count, float *lane_sums) {
  // Lanes 0-7 of the 16 take the first 8 columns of each 16-column block, lanes 8-15 the second.
  ptrdiff_t full = count / 8 * 8;
  __m256i tail_mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(count - full)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  // Zero beyond the row (the padded basis is zero there, but 0 times a stray Inf would not be).
  __m256 tail_x = _mm256_maskload_ps(grad_x + full, tail_mask), tail_y = _mm256_maskload_ps(grad_y + full, tail_mask);
  for (ptrdiff_t j = 0; j < k; j++) {
    const float *b = basis + j * stride;
    float *lanes = lane_sums + 32 * j;
    __m256 sx[2] = {_mm256_loadu_ps(lanes), _mm256_loadu_ps(lanes + 8)};
    __m256 sy[2] = {_mm256_loadu_ps(lanes + 16), _mm256_loadu_ps(lanes + 24)};
    for (ptrdiff_t start = 0; start < count; start += 8) {
      int half = (int)((start / 8) & 1);
      __m256 weight = _mm256_loadu_ps(b + start);
      __m256 gx = start < full ? _mm256_loadu_ps(grad_x + start) : tail_x;
      __m256 gy = start < full ? _mm256_loadu_ps(grad_y + start) : tail_y;
      sx[half] = _mm256_add_ps(sx[half], _mm256_mul_ps(weight, gx));
      sy[half] = _mm256_add_ps(sy[half], _mm256_mul_ps(weight, gy));
    }
    _mm256_storeu_ps(lanes, sx[0]);
    _mm256_storeu_ps(lanes + 8, sx[1]);
    _mm256_storeu_ps(lanes + 16, sy[0]);
    _mm256_storeu_ps(lanes + 24, sy[1]);
  }
}

/// Control points j0..<j0+count (count <= 8) of cwk_tps_gradient_row_avx512, their 16 lane
/// accumulators held in registers across the row.
CWK_AVX512 CWK_INLINE void cwk_tps_gradient_points16(
  const float *basis, ptrdiff_t stride, ptrdiff_t j0, int count, const float *grad_x, const float *grad_y, ptrdiff_t columns,
  __m512 tail_x, __m512 tail_y, float *lane_sums) {
  __m512 sx[8], sy[8];
  for (int i = 0; i < count; i++) {
    sx[i] = _mm512_loadu_ps(lane_sums + 32 * (j0 + i));
    sy[i] = _mm512_loadu_ps(lane_sums + 32 * (j0 + i) + 16);
  }
  ptrdiff_t full = columns / 16 * 16;
  for (ptrdiff_t start = 0; start < columns; start += 16) {
    __m512 gx = start < full ? _mm512_loadu_ps(grad_x + start) : tail_x;
    __m512 gy = start < full ? _mm512_loadu_ps(grad_y + start) : tail_y;
    const float *b = basis + j0 * stride + start;
    for (int i = 0; i < count; i++, b += stride) {
      __m512 weight = _mm512_loadu_ps(b);
      sx[i] = _mm512_add_ps(sx[i], _mm512_mul_ps(weight, gx));
      sy[i] = _mm512_add_ps(sy[i], _mm512_mul_ps(weight, gy));
    }
  }
  for (int i = 0; i < count; i++) {
    _mm512_storeu_ps(lane_sums + 32 * (j0 + i), sx[i]);
    _mm512_storeu_ps(lane_sums + 32 * (j0 + i) + 16, sy[i]);
  }
}

CWK_AVX512 void cwk_tps_gradient_row_avx512(
  const float *basis, ptrdiff_t stride, ptrdiff_t k, const float *grad_x, const float *grad_y, ptrdiff_t count, float *lane_sums) {
  ptrdiff_t full = count / 16 * 16;
  __mmask16 tail_mask = (__mmask16)((1u << (count - full)) - 1);
  // Zero beyond the row (the padded basis is zero there, but 0 times a stray Inf would not be).
  __m512 tail_x = _mm512_maskz_loadu_ps(tail_mask, grad_x + full), tail_y = _mm512_maskz_loadu_ps(tail_mask, grad_y + full);
  // 8 control points at a time: 16 accumulators plus the gradient and a weight fit the 32 registers.
  ptrdiff_t j0 = 0;
  for (; j0 + 8 <= k; j0 += 8) cwk_tps_gradient_points16(basis, stride, j0, 8, grad_x, grad_y, count, tail_x, tail_y, lane_sums);
  for (; j0 < k; j0++) cwk_tps_gradient_points16(basis, stride, j0, 1, grad_x, grad_y, count, tail_x, tail_y, lane_sums);
}

#else  // not x86: never selected (cwk_cpu_has_avx2/avx512 return 0); stubs keep the symbols defined.

void cwk_uint8_3_bilinear_avx512(
  const uint8_t *source, ptrdiff_t stride, ptrdiff_t size, float row_x, float row_y, float step_x, float step_y,
  ptrdiff_t start, ptrdiff_t end, uint8_t *output) {}
void cwk_normalized3_bilinear_avx512(
  const uint8_t *source, ptrdiff_t stride, ptrdiff_t size, float row_x, float row_y, float step_x, float step_y,
  ptrdiff_t start, ptrdiff_t end, float *out0, float *out1, float *out2, const float *scale, const float *bias) {}
void cwk_uint8_3_bilinear_row_zeros_avx512(
  const uint8_t *source, ptrdiff_t width, ptrdiff_t height, float row_x, float row_y, float step_x, float step_y,
  ptrdiff_t count, const uint8_t *fill, uint8_t *output) {}
void cwk_normalized3_bilinear_row_zeros_avx512(
  const uint8_t *source, ptrdiff_t width, ptrdiff_t height, float row_x, float row_y, float step_x, float step_y,
  ptrdiff_t count, const uint8_t *fill, float *out0, float *out1, float *out2, const float *scale, const float *bias) {}
void cwk_uint8_3_bilinear_points_zeros_avx512(
  const uint8_t *source, ptrdiff_t width, ptrdiff_t height, const float *xs, const float *ys,
  ptrdiff_t count, const uint8_t *fill, uint8_t *output) {}
void cwk_map_row_avx512(
  const cwk_map_piece *pieces, ptrdiff_t piece_count, const double *numbers, double y, ptrdiff_t count, double *xs, double *ys) {}
void cwk_map_row_avx2(
  const cwk_map_piece *pieces, ptrdiff_t piece_count, const double *numbers, double y, ptrdiff_t count, double *xs, double *ys) {}
void cwk_radial_basis_avx2(const double *squared_distances, ptrdiff_t count, double *out) {}
void cwk_uint8_3_bilinear_points_interior_avx2(
  const uint8_t *source, ptrdiff_t width, ptrdiff_t height, const float *xs, const float *ys, ptrdiff_t count, uint8_t *output, uint8_t *done) {}
void cwk_normalized3_bilinear_points_interior_avx2(
  const uint8_t *source, ptrdiff_t width, ptrdiff_t height, const float *xs, const float *ys, ptrdiff_t count,
  float *out0, float *out1, float *out2, const float *scale, const float *bias, uint8_t *done) {}
void cwk_radial_basis_avx512(const double *squared_distances, ptrdiff_t count, double *out) {}
void cwk_normalized3_bilinear_points_zeros_avx512(
  const uint8_t *source, ptrdiff_t width, ptrdiff_t height, const float *xs, const float *ys,
  ptrdiff_t count, const uint8_t *fill, float *out0, float *out1, float *out2, const float *scale, const float *bias) {}

void cwk_uint8_3_bilinear_avx2(
  const uint8_t *source, ptrdiff_t stride, ptrdiff_t size, float row_x, float row_y, float step_x, float step_y,
  ptrdiff_t start, ptrdiff_t end, uint8_t *output) {}

void cwk_normalized3_bilinear_avx2(
  const uint8_t *source, ptrdiff_t stride, ptrdiff_t size, float row_x, float row_y, float step_x, float step_y,
  ptrdiff_t start, ptrdiff_t end, float *out0, float *out1, float *out2, const float *scale, const float *bias) {}
void cwk_affine_forward_interior_avx2(
  const float *input, const cwk_affine_row *row, const float *xs, ptrdiff_t start, ptrdiff_t end,
  ptrdiff_t width, ptrdiff_t channels, ptrdiff_t plane_in, ptrdiff_t plane_out, float *output) {}
void cwk_affine_backward_interior_avx2(
  const float *input, float *grad_input, const float *grad_output, const cwk_affine_row *row, const float *xs,
  ptrdiff_t start, ptrdiff_t end, ptrdiff_t width, ptrdiff_t channels, ptrdiff_t plane_in, ptrdiff_t plane_out,
  float x_multiplier, float y_multiplier, float *lane_sums) {}
void cwk_affine_forward_row_zeros_avx2(
  const float *input, const cwk_affine_row *row, const float *xs, ptrdiff_t count,
  ptrdiff_t width, ptrdiff_t height, ptrdiff_t channels, ptrdiff_t plane_in, ptrdiff_t plane_out, float *output) {}
void cwk_affine_backward_row_zeros_avx2(
  const float *input, float *grad_input, const float *grad_output, const cwk_affine_row *row, const float *xs,
  ptrdiff_t count, ptrdiff_t width, ptrdiff_t height, ptrdiff_t channels, ptrdiff_t plane_in, ptrdiff_t plane_out,
  float x_multiplier, float y_multiplier, float *lane_sums) {}
void cwk_grid_forward_row_zeros_avx2(
  const float *input, const float *grid_x, const float *grid_y, ptrdiff_t count, const cwk_grid_axes *axes,
  ptrdiff_t width, ptrdiff_t height, ptrdiff_t channels, ptrdiff_t plane_in, ptrdiff_t plane_out, float *output) {}
void cwk_grid_backward_row_zeros_avx2(
  const float *input, float *grad_input, const float *grad_output, const float *grid_x, const float *grid_y, ptrdiff_t count,
  const cwk_grid_axes *axes, ptrdiff_t width, ptrdiff_t height, ptrdiff_t channels, ptrdiff_t plane_in, ptrdiff_t plane_out,
  float *grad_x, float *grad_y) {}
void cwk_projective_gradient_row_avx2(
  const float *h, float y, const float *xs, const float *grad_x, const float *grad_y, ptrdiff_t count, float *lane_sums) {}
void cwk_tps_fill_row_avx2(
  const float *basis, ptrdiff_t stride, ptrdiff_t k, const float *xs, float y, const float *d, ptrdiff_t count, float *grid_x, float *grid_y) {}
void cwk_tps_gradient_row_avx2(
  const float *basis, ptrdiff_t stride, ptrdiff_t k, const float *grad_x, const float *grad_y, ptrdiff_t count, float *lane_sums) {}
void cwk_tps_gradient_row_avx512(
  const float *basis, ptrdiff_t stride, ptrdiff_t k, const float *grad_x, const float *grad_y, ptrdiff_t count, float *lane_sums) {}

#endif
