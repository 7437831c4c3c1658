// AVX2 and AVX-512 twins of the STNWarp interior kernels, selected at run time
// (cwk_cpu_has_avx2, cwk_cpu_has_avx512).
//
// Each function computes exactly the float arithmetic of its portable Swift twin, in the same
// order, without FMA contraction, so forward results are bit for bit identical (backward sums
// may be accumulated in another order). The interior kernels get only columns whose bilinear
// taps are all inside the source and check nothing; the zeros-padding row kernels mask taps.
#ifndef CWARPKERNELS_H
#define CWARPKERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// 1 when the CPU and the OS support AVX2 and FMA (the AVX2 kernels below may run), else 0.
int cwk_cpu_has_avx2(void);

/// 1 when the CPU and the OS support AVX-512 F and BW as well as AVX2 and FMA (the avx512
/// kernels below may run), else 0.
int cwk_cpu_has_avx512(void);

/// Reads one byte of every 64-byte line of bytes[0..<count] and returns their sum (so that the
/// reads happen): brings a source that is about to be warped into the cache in one sequential
/// pass, instead of one miss at a time in the warp's rotated order. Plain C, every CPU.
unsigned cwk_touch_lines(const uint8_t *bytes, ptrdiff_t count);

/// Fused uint8 HWC (3 channels) -> bilinear -> `value * scale[c] + bias[c]` -> planar float rows.
/// Output columns start..<end of one row; source pixel (x, y) of column ox is
/// (row_x + step_x * ox, row_y + step_y * ox). `stride` = width * 3 bytes, `size` = the
/// source's bytes (height * stride; no read goes past it).
void cwk_normalized3_bilinear_avx2(
  const uint8_t *source, ptrdiff_t stride, ptrdiff_t size, float row_x, float row_y, float step_x, float step_y,
  ptrdiff_t start, ptrdiff_t end, float *out0, float *out1, float *out2, const float *scale, const float *bias);

/// AVX-512 twin of cwk_normalized3_bilinear_avx2 (same arguments and bits), 16 columns per step.
void cwk_normalized3_bilinear_avx512(
  const uint8_t *source, ptrdiff_t stride, ptrdiff_t size, float row_x, float row_y, float step_x, float step_y,
  ptrdiff_t start, ptrdiff_t end, float *out0, float *out1, float *out2, const float *scale, const float *bias);

/// uint8 HWC (3 channels) -> bilinear -> uint8 HWC, rounded like the Swift `roundToUInt8`
/// (nearest, halves up, clamped to 0...255). Output columns start..<end of one row, whose first
/// byte is `output`; geometry, `stride` and `size` as in cwk_normalized3_bilinear_avx2, every
/// tap of every column inside the source.
void cwk_uint8_3_bilinear_avx2(
  const uint8_t *source, ptrdiff_t stride, ptrdiff_t size, float row_x, float row_y, float step_x, float step_y,
  ptrdiff_t start, ptrdiff_t end, uint8_t *output);

/// AVX-512 twin of cwk_uint8_3_bilinear_avx2 (same arguments and bytes), 16 columns per step.
void cwk_uint8_3_bilinear_avx512(
  const uint8_t *source, ptrdiff_t stride, ptrdiff_t size, float row_x, float row_y, float step_x, float step_y,
  ptrdiff_t start, ptrdiff_t end, uint8_t *output);

/// Zeros padding, bilinear, 3 channels: a whole output row of `count` columns, every column
/// as the naive `warpAffineUInt8Naive` computes it (coordinates that are not finite or beyond
/// 1e9 go to -100; taps outside the source read fill[c], a whole number 0...255 given as a byte).
/// Never reads outside the source; needs width * height >= 2 (a source of at least 4 bytes).
void cwk_uint8_3_bilinear_row_zeros_avx512(
  const uint8_t *source, ptrdiff_t width, ptrdiff_t height, float row_x, float row_y, float step_x, float step_y,
  ptrdiff_t count, const uint8_t *fill, uint8_t *output);

/// The same row for the fused normalized warp: `sample * scale[c] + bias[c]` into planar rows.
void cwk_normalized3_bilinear_row_zeros_avx512(
  const uint8_t *source, ptrdiff_t width, ptrdiff_t height, float row_x, float row_y, float step_x, float step_y,
  ptrdiff_t count, const uint8_t *fill, float *out0, float *out1, float *out2, const float *scale, const float *bias);

/// cwk_uint8_3_bilinear_row_zeros_avx512 at any points: column ox samples source pixel
/// (xs[ox], ys[ox]) (a row of a perspective or thin-plate-spline map, evaluated by the caller).
void cwk_uint8_3_bilinear_points_zeros_avx512(
  const uint8_t *source, ptrdiff_t width, ptrdiff_t height, const float *xs, const float *ys,
  ptrdiff_t count, const uint8_t *fill, uint8_t *output);

/// cwk_normalized3_bilinear_row_zeros_avx512 at any points (xs[ox], ys[ox]).
void cwk_normalized3_bilinear_points_zeros_avx512(
  const uint8_t *source, ptrdiff_t width, ptrdiff_t height, const float *xs, const float *ys,
  ptrdiff_t count, const uint8_t *fill, float *out0, float *out1, float *out2, const float *scale, const float *bias);

/// One piece of a flattened output-to-source pixel map (STNWarp's `FlatPixelMap`): a projective
/// map (9 doubles, row-major) or a thin-plate spline (a0, ax, ay as 6 doubles, then per control
/// point c.x, c.y, w.x, w.y) at `offset` in the map's numbers.
typedef struct {
  int32_t is_spline;
  int32_t control_points;
  ptrdiff_t offset;
} cwk_map_piece;

/// The source positions of output pixels (0..<count, y) under the map's pieces, applied in
/// order, in double precision: `FlatPixelMap.apply`'s bits (the same operations in the same
/// order, `ThinPlateSpline.naturalLog` for the spline's r² log r²), 8 columns per step.
/// AVX-512 F only.
void cwk_map_row_avx512(
  const cwk_map_piece *pieces, ptrdiff_t piece_count, const double *numbers, double y, ptrdiff_t count, double *xs, double *ys);

/// `ThinPlateSpline.radialBasis` (r² log r²) of squared_distances[0..<count], 8 at a time, as
/// cwk_map_row_avx512 computes it (for the tests against the Swift twin). AVX-512 F only.
void cwk_radial_basis_avx512(const double *squared_distances, ptrdiff_t count, double *out);

/// AVX2 twin of cwk_map_row_avx512 (same arguments and bits), 4 columns per step.
void cwk_map_row_avx2(
  const cwk_map_piece *pieces, ptrdiff_t piece_count, const double *numbers, double y, ptrdiff_t count, double *xs, double *ys);

/// AVX2 twin of cwk_radial_basis_avx512 (same bits), 4 at a time.
void cwk_radial_basis_avx2(const double *squared_distances, ptrdiff_t count, double *out);

/// uint8 HWC (3 channels) -> bilinear at points (xs[ox], ys[ox]) -> uint8, for the AVX2 hosts'
/// map warps: only the full 8-column blocks (ox = 0, 8, ...) whose every tap lies inside the
/// width x height source are sampled (the bytes of cwk_uint8_3_bilinear_avx2's interior) and get
/// done[ox] = 1; done is 0 for every other column of the row, which the caller samples itself.
/// `output` is the row's first byte.
void cwk_uint8_3_bilinear_points_interior_avx2(
  const uint8_t *source, ptrdiff_t width, ptrdiff_t height, const float *xs, const float *ys, ptrdiff_t count, uint8_t *output, uint8_t *done);

/// The same for the fused normalized warp: `sample * scale[c] + bias[c]` into planar rows.
void cwk_normalized3_bilinear_points_interior_avx2(
  const uint8_t *source, ptrdiff_t width, ptrdiff_t height, const float *xs, const float *ys, ptrdiff_t count,
  float *out0, float *out1, float *out2, const float *scale, const float *bias, uint8_t *done);

/// Affine grid row geometry shared by the float kernels: theta of the image (6 values), the
/// row's normalized y, unnormalize scale/offset per axis (x_pixel = (g + 1) * scale_x - offset_x).
typedef struct {
  float t0, t1, t2, t3, t4, t5;
  float y;
  float scale_x, offset_x, scale_y, offset_y;  // offset 0 with align_corners (x - 0 == x exactly)
} cwk_affine_row;

/// Bilinear forward of interior columns start..<end of one output row, all channels.
/// input planes of width*height floats (plane_in apart), output rows plane_out apart.
void cwk_affine_forward_interior_avx2(
  const float *input, const cwk_affine_row *row, const float *xs, ptrdiff_t start, ptrdiff_t end,
  ptrdiff_t width, ptrdiff_t channels, ptrdiff_t plane_in, ptrdiff_t plane_out, float *output);

/// Bilinear backward of interior columns start..<end (end - start >= 8) of one row: adds to
/// grad_input (may be NULL) and writes the 4 theta lane accumulators (gX*x, gX, gY*x, gY), 8
/// lanes each, to lane_sums[32] (the caller sums the lanes, as the Swift twin does).
void cwk_affine_backward_interior_avx2(
  const float *input, float *grad_input, const float *grad_output, const cwk_affine_row *row, const float *xs,
  ptrdiff_t start, ptrdiff_t end, ptrdiff_t width, ptrdiff_t channels, ptrdiff_t plane_in, ptrdiff_t plane_out,
  float x_multiplier, float y_multiplier, float *lane_sums);

/// Zeros padding, bilinear: a whole output row (count >= 8 columns), taps outside the input
/// read 0 through masked gathers (never touching memory outside). Same values as the naive
/// kernel (coordinates that are not finite or beyond 1e9 go to -100, as sourceIndex does).
void cwk_affine_forward_row_zeros_avx2(
  const float *input, const cwk_affine_row *row, const float *xs, ptrdiff_t count,
  ptrdiff_t width, ptrdiff_t height, ptrdiff_t channels, ptrdiff_t plane_in, ptrdiff_t plane_out, float *output);

/// Backward twin of cwk_affine_forward_row_zeros_avx2 (count >= 8): adds to grad_input (may be
/// NULL), writes the theta lane accumulators to lane_sums[32] like the interior kernel.
void cwk_affine_backward_row_zeros_avx2(
  const float *input, float *grad_input, const float *grad_output, const cwk_affine_row *row, const float *xs,
  ptrdiff_t count, ptrdiff_t width, ptrdiff_t height, ptrdiff_t channels, ptrdiff_t plane_in, ptrdiff_t plane_out,
  float x_multiplier, float y_multiplier, float *lane_sums);

/// Unnormalize constants of a grid's two axes: x_pixel = (g + 1) * scale_x - offset_x (offset 0
/// with align_corners, 0.5 without), and the same for y. The scales are also the coordinate
/// derivatives (d x_pixel / d g) inside the input.
typedef struct {
  float scale_x, offset_x, scale_y, offset_y;
} cwk_grid_axes;

/// Zeros padding, bilinear: a whole output row (count >= 8 columns) at the normalized grid
/// coordinates grid_x[0..<count], grid_y[0..<count] (any grid: projective, thin-plate spline).
/// Same values as `gridSampleNaive` (masked taps, non-finite or beyond-1e9 coordinates -100).
void cwk_grid_forward_row_zeros_avx2(
  const float *input, const float *grid_x, const float *grid_y, ptrdiff_t count, const cwk_grid_axes *axes,
  ptrdiff_t width, ptrdiff_t height, ptrdiff_t channels, ptrdiff_t plane_in, ptrdiff_t plane_out, float *output);

/// Backward twin of cwk_grid_forward_row_zeros_avx2 (count >= 8): adds to grad_input (may be
/// NULL) and writes d(loss)/d(grid) of every column to grad_x[0..<count], grad_y[0..<count]
/// (the values `gridSampleBackwardNaive` gives; grad_input sums in another order).
void cwk_grid_backward_row_zeros_avx2(
  const float *input, float *grad_input, const float *grad_output, const float *grid_x, const float *grid_y, ptrdiff_t count,
  const cwk_grid_axes *axes, ptrdiff_t width, ptrdiff_t height, ptrdiff_t channels, ptrdiff_t plane_in, ptrdiff_t plane_out,
  float *grad_x, float *grad_y);

/// One row of a projective grid's gradient (`ProjectiveRow.accumulateGradient`): h is the 3x3
/// homography (row-major), y the row's normalized y, xs the columns' normalized x. With
/// (u, v, w) = h·(x, y, 1), a = grad_x/w, b = grad_y/w, c = -(a·u/w + b·v/w), and columns whose
/// two gradients are 0 left out, lane_sums[48] gets the 8-lane sums of a·x, a, b·x, b, c·x, c (in
/// that order, 8 floats each) over the count columns; the caller sums the lanes.
void cwk_projective_gradient_row_avx2(
  const float *h, float y, const float *xs, const float *grad_x, const float *grad_y, ptrdiff_t count, float *lane_sums);

/// One output row of a thin-plate-spline grid (`ThinPlateSplineGridBasis.fillRow`):
/// grid_x[ox] = xs[ox] + Σ_j basis[j*stride + ox]·d[2j], grid_y[ox] = y + Σ_j basis[j*stride + ox]·d[2j+1]
/// for ox < count, summed in j order. basis (k rows, `stride` apart) and xs are readable and
/// zero-padded up to a multiple of 8 columns; only count columns are stored.
void cwk_tps_fill_row_avx2(
  const float *basis, ptrdiff_t stride, ptrdiff_t k, const float *xs, float y, const float *d, ptrdiff_t count, float *grid_x, float *grid_y);

/// The row's gradient sums of the same basis, ADDED to 16-lane accumulators: lane_sums[32j ..< 32j+16]
/// += basis[j*stride + ox]·grad_x[ox] and lane_sums[32j+16 ..< 32j+32] += ...·grad_y[ox], column ox
/// going to lane ox % 16 (a short last block zero-filled); the caller sums the lanes of an
/// image's accumulators at the end, as the Swift twin does. The AVX2 kernel keeps the 16 lanes
/// as two halves, so both give the same bits.
void cwk_tps_gradient_row_avx2(
  const float *basis, ptrdiff_t stride, ptrdiff_t k, const float *grad_x, const float *grad_y, ptrdiff_t count, float *lane_sums);

/// AVX-512 twin of cwk_tps_gradient_row_avx2 (same arguments and bits); basis rows must be
/// readable and zero-padded up to a multiple of 16 columns.
void cwk_tps_gradient_row_avx512(
  const float *basis, ptrdiff_t stride, ptrdiff_t k, const float *grad_x, const float *grad_y, ptrdiff_t count, float *lane_sums);

#ifdef __cplusplus
}
#endif

#endif
