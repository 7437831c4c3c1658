// Coordinate steps of PyTorch's grid_sample, one helper per step, each with a twin that also
// returns its derivative (the `…WithGradient` functions). Every kernel in this module (naive,
// fast, fused uint8) computes source positions through these helpers, so they agree bit for bit
// on where a tap lands.

/// Interpolation used by `gridSample`.
public enum GridSampleMode: String, Sendable, CaseIterable {
  /// Weighted average of the 4 neighbouring pixels.
  case bilinear
  /// The nearest pixel, ties rounded half to even (`nearbyint`, as PyTorch).
  case nearest
}

/// What `gridSample` reads outside the input.
public enum GridSamplePadding: String, Sendable, CaseIterable {
  /// Taps outside the input contribute 0.
  case zeros
  /// Coordinates are clipped to the input.
  case border
  /// Coordinates are reflected about the edges (align_corners=false) or the edge pixel centres
  /// (align_corners=true), then clipped.
  case reflection
}

/// Settings of `gridSample`, PyTorch's `mode`, `padding_mode` and `align_corners`.
public struct GridSampleOptions: Sendable, Equatable {
  public var mode: GridSampleMode
  public var padding: GridSamplePadding
  public var alignCorners: Bool

  public init(mode: GridSampleMode = .bilinear, padding: GridSamplePadding = .zeros, alignCorners: Bool = false) {
    self.mode = mode
    self.padding = padding
    self.alignCorners = alignCorners
  }
}

// MARK: - Unnormalize

/// Normalized coordinate [-1, 1] -> pixel index along an axis of `size` pixels.
///
/// align_corners=true: -1 and +1 are the centres of the first and last pixel (scale (size-1)/2).
/// align_corners=false: -1 and +1 are the outer edges, i.e. -0.5 and size-0.5 (scale size/2).
/// NOTE: written as `(coord + 1) * scale - 0.5`, the form PyTorch's vectorized CPU kernel uses,
/// so nearest-mode ties resolve the same way as torch on CPU.
@inline(__always)
func unnormalize(_ coord: Float, size: Int, alignCorners: Bool) -> Float {
  alignCorners ? (coord + 1) * (Float(size - 1) / 2) : (coord + 1) * (Float(size) / 2) - 0.5
}

/// d(unnormalize)/d(coord).
@inline(__always)
func unnormalizeGradient(size: Int, alignCorners: Bool) -> Float {
  alignCorners ? Float(size - 1) / 2 : Float(size) / 2
}

// MARK: - Clip (border padding)

/// Clips a pixel coordinate to [0, size-1].
@inline(__always)
func clipCoordinate(_ x: Float, size: Int) -> Float {
  min(Float(size - 1), max(x, 0))
}

/// Clip and its derivative: 1 strictly inside (0, size-1), 0 at or beyond either border.
/// NOTE: the borders themselves count as out of bounds for the gradient, as in PyTorch.
@inline(__always)
func clipCoordinateWithGradient(_ x: Float, size: Int) -> (Float, Float) {
  let limit = Float(size - 1)
  if x <= 0 { return (0, 0) }
  if x >= limit { return (limit, 0) }
  return (x, 1)
}

// MARK: - Reflect (reflection padding)

/// Reflects a pixel coordinate into range, with the sign of d(result)/d(x) (+1 or -1; 0 when the
/// axis has a single position under align_corners).
///
/// The reflection period is 2(size-1) about pixel centres (align_corners=true) or 2·size about
/// the edges -0.5 and size-0.5 (align_corners=false). The result still needs `clip`.
@inline(__always)
func reflectCoordinateWithGradient(_ x: Float, size: Int, alignCorners: Bool) -> (Float, Float) {
  let twiceSpan = Float(alignCorners ? 2 * (size - 1) : 2 * size)
  if twiceSpan == 0 { return (0, 0) }
  let shifted = alignCorners ? x : x + 0.5
  let negative = shifted < 0
  let magnitude = abs(shifted)
  let flips = floorFast(magnitude / twiceSpan)
  let extra = magnitude - flips * twiceSpan
  let reflected = twiceSpan - extra
  // NOTE: past the half period the coordinate runs backwards; the sign flips once more for
  // coordinates below the low edge (the abs above).
  let oneMoreFlip = extra > reflected
  let value = oneMoreFlip ? reflected : extra
  let sign: Float = (oneMoreFlip != negative) ? -1 : 1
  return (alignCorners ? value : value - 0.5, sign)
}

// MARK: - Full coordinate computation

/// Normalized grid coordinate -> source pixel coordinate after padding (PyTorch's
/// `grid_sampler_compute_source_index`). Non-finite coordinates map to -100 (out of bounds),
/// as PyTorch's `safe_downgrade_to_int_range` does.
@inline(__always)
func sourceIndex(_ coord: Float, size: Int, padding: GridSamplePadding, alignCorners: Bool) -> Float {
  sourceIndexWithGradient(coord, size: size, padding: padding, alignCorners: alignCorners).0
}

/// `sourceIndex` and d(source index)/d(normalized coordinate).
@inline(__always)
func sourceIndexWithGradient(_ coord: Float, size: Int, padding: GridSamplePadding, alignCorners: Bool) -> (Float, Float) {
  var x = unnormalize(coord, size: size, alignCorners: alignCorners)
  var gradient = unnormalizeGradient(size: size, alignCorners: alignCorners)
  switch padding {
  case .zeros:
    break
  case .border:
    let (clipped, clipGradient) = clipCoordinateWithGradient(x, size: size)
    x = clipped
    gradient *= clipGradient
  case .reflection:
    let (reflected, reflectGradient) = reflectCoordinateWithGradient(x, size: size, alignCorners: alignCorners)
    let (clipped, clipGradient) = clipCoordinateWithGradient(reflected, size: size)
    x = clipped
    gradient *= reflectGradient * clipGradient
  }
  if !x.isFinite || abs(x) > 1e9 { return (-100, 0) }
  return (x, gradient)
}

/// Round half to even, PyTorch's `nearbyint` in nearest mode.
@inline(__always)
func roundHalfToEven(_ x: Float) -> Float {
  // Adding and subtracting 1.5·2^23 rounds to an integer in the current (nearest-even) mode.
  guard abs(x) < 4_194_304 else { return x.rounded(.toNearestOrEven) }
  let magic: Float = 12_582_912
  return (x + magic) - magic
}

// MARK: - Fast rounding

// NOTE: the default x86-64 target has no SSE4.1 `roundss`, so `Float.rounded` becomes a libm
// call in the hot loops. These give identical results through integer conversion (exact for
// |x| < 2^22, which every coordinate that reaches them satisfies; larger values fall back).

/// floor(x), exactly `x.rounded(.down)`.
@inline(__always)
func floorFast(_ x: Float) -> Float {
  guard abs(x) < 4_194_304 else { return x.rounded(.down) }
  let t = Float(Int32(x))
  return t > x ? t - 1 : t
}
