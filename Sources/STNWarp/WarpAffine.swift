import STNTensor

// Fused augmentation warps on 8-bit images: uint8 HWC source -> affine resample -> either
// normalized float32 CHW (`out[c] = sample·scale[c] + bias[c]`) or uint8 HWC, in one pass.
//
// Pixel convention: pixel centres at integer coordinates, x right, y down; `destinationToSource`
// maps output pixel (x, y) to source pixel coordinates. This is gridSample with
// align_corners=false and theta = AffineTransform.samplingTheta(destinationToSource:…) on the
// same image as float, with one extension: with `.zeros` padding, taps outside the source read
// `fill[c]` instead of 0 (so fill 0 is exactly gridSample; fill f equals gridSample of
// (image - f), plus f). Border and reflection padding never read outside, so fill is unused there.

/// Settings of the fused warps.
public struct WarpOptions: Sendable, Equatable {
  public var mode: GridSampleMode
  public var padding: GridSamplePadding
  /// Per-channel value (0...255 pixel units) read outside the source under `.zeros` padding;
  /// one value applies to every channel.
  public var fill: [Float]

  public init(mode: GridSampleMode = .bilinear, padding: GridSamplePadding = .zeros, fill: [Float] = [0]) {
    self.mode = mode
    self.padding = padding
    self.fill = fill
  }

  func fillValue(_ channel: Int) -> Float {
    fill.isEmpty ? 0 : (fill.count == 1 ? fill[0] : fill[channel])
  }
}

extension AffineTransform {
  /// The `affine_grid` theta (align_corners as given) equivalent to sampling with a
  /// destination->source pixel map, for a source of `inputWidth` x `inputHeight` and an output
  /// of `outputWidth` x `outputHeight`.
  public static func samplingTheta(destinationToSource: AffineTransform, inputWidth: Int, inputHeight: Int, outputWidth: Int, outputHeight: Int, alignCorners: Bool) -> AffineTransform {
    AffineTransform.pixelToNormalized(width: inputWidth, height: inputHeight, alignCorners: alignCorners)
      * destinationToSource
      * AffineTransform.normalizedToPixel(width: outputWidth, height: outputHeight, alignCorners: alignCorners)
  }
}

// MARK: - Shared per-pixel helpers

/// Row coefficients of a destination->source map in float32: source (x, y) of output column
/// `ox` in this row is (rowX + stepX·ox, rowY + stepY·ox). Every warp kernel uses this exact
/// expression so naive and fast kernels agree bit for bit.
struct WarpRow {
  var rowX: Float, rowY: Float, stepX: Float, stepY: Float

  init(_ t: AffineTransform, y: Int) {
    rowX = Float(t.b * Double(y) + t.c)
    rowY = Float(t.e * Double(y) + t.f)
    stepX = Float(t.a)
    stepY = Float(t.d)
  }

  @inline(__always) func x(_ ox: Int) -> Float { rowX + stepX * Float(ox) }
  @inline(__always) func y(_ ox: Int) -> Float { rowY + stepY * Float(ox) }
}

/// A source pixel coordinate after padding (border: clip; reflection about the edges -0.5 and
/// size-0.5, then clip; zeros: unchanged). Non-finite values go far outside (-100).
@inline(__always)
func paddedPixelCoordinate(_ x: Float, size: Int, padding: GridSamplePadding) -> Float {
  var value = x
  switch padding {
  case .zeros: break
  case .border: value = clipCoordinate(x, size: size)
  case .reflection: value = clipCoordinate(reflectCoordinateWithGradient(x, size: size, alignCorners: false).0, size: size)
  }
  if !value.isFinite || abs(value) > 1e9 { return -100 }
  return value
}

/// Samples every channel of an HWC uint8 source at pixel coordinate (x, y) (already padded),
/// writing `channels` values in pixel units to `result`. Taps outside read `fill`.
@inline(__always)
func sampleUInt8(
  _ src: UnsafePointer<UInt8>, width w: Int, height h: Int, channels: Int, x: Float, y: Float,
  options: WarpOptions, result: UnsafeMutablePointer<Float>
) {
  switch options.mode {
  case .nearest:
    let ix = Int(roundHalfToEven(x)), iy = Int(roundHalfToEven(y))
    let inside = ix >= 0 && ix < w && iy >= 0 && iy < h
    for c in 0..<channels {
      result[c] = inside ? Float(src[(iy * w + ix) * channels + c]) : options.fillValue(c)
    }
  case .bilinear:
    let corners = bilinearCorners(x: x, y: y, width: w, height: h)
    let ix = corners.ix, iy = corners.iy
    let north = corners.north, south = corners.south, west = corners.west, east = corners.east
    for c in 0..<channels {
      let fill = options.fillValue(c)
      let nw = corners.nwIn ? Float(src[(iy * w + ix) * channels + c]) : fill
      let ne = corners.neIn ? Float(src[(iy * w + ix + 1) * channels + c]) : fill
      let sw = corners.swIn ? Float(src[((iy + 1) * w + ix) * channels + c]) : fill
      let se = corners.seIn ? Float(src[((iy + 1) * w + ix + 1) * channels + c]) : fill
      result[c] = nw * (north * west) + ne * (north * east) + sw * (south * west) + se * (south * east)
    }
  }
}

/// uint8 rounding of a sample in pixel units: nearest, halves up, clamped to 0...255.
@inline(__always)
func roundToUInt8(_ value: Float) -> UInt8 {
  // Clamping first makes truncation of value + 0.5 equal floor(value + 0.5).
  if !(value > 0) { return 0 }
  if value >= 254.5 { return 255 }
  return UInt8(value + 0.5)
}

func checkWarpArguments(width: Int, height: Int, channels: Int, outputWidth: Int, outputHeight: Int, options: WarpOptions) {
  precondition(width > 0 && height > 0 && channels > 0 && outputWidth >= 0 && outputHeight >= 0,
               "warp sizes must be positive: \(width)x\(height)x\(channels) -> \(outputWidth)x\(outputHeight)")
  precondition(options.fill.count <= 1 || options.fill.count == channels, "fill needs 1 or \(channels) values, got \(options.fill.count)")
}

// MARK: - Per-pixel warps

/// The one per-pixel loop of the naive affine twins and the `PixelMap` warps (WarpPixelMap.swift):
/// the padded sample of every output pixel, one at a time. `position(ox, oy)` is the output
/// pixel's source coordinate before padding; `store(ox, oy, sample)` gets the sample (pixel units,
/// `channels` values).
@inline(__always)
func forEachPixelSample(
  source: UnsafePointer<UInt8>, width: Int, height: Int, channels: Int, outputWidth: Int, outputHeight: Int, options: WarpOptions,
  position: (Int, Int) -> (x: Float, y: Float), store: (Int, Int, UnsafePointer<Float>) -> Void
) {
  checkWarpArguments(width: width, height: height, channels: channels, outputWidth: outputWidth, outputHeight: outputHeight, options: options)
  withUnsafeTemporaryAllocation(of: Float.self, capacity: max(channels, 4)) { buffer in
    guard let result = buffer.baseAddress else { return }
    for oy in 0..<outputHeight {
      for ox in 0..<outputWidth {
        samplePadded(source, width: width, height: height, channels: channels, at: position(ox, oy), options: options, result: result)
        store(ox, oy, result)
      }
    }
  }
}

/// The per-pixel loop's sample of one output pixel whose source position (before padding) is `p`.
@inline(__always)
func samplePadded(
  _ source: UnsafePointer<UInt8>, width: Int, height: Int, channels: Int, at p: (x: Float, y: Float), options: WarpOptions,
  result: UnsafeMutablePointer<Float>
) {
  let x = paddedPixelCoordinate(p.x, size: width, padding: options.padding)
  let y = paddedPixelCoordinate(p.y, size: height, padding: options.padding)
  sampleUInt8(source, width: width, height: height, channels: channels, x: x, y: y, options: options, result: result)
}

/// `forEachPixelSample` into output (channels,outputHeight,outputWidth) float32:
/// `out[c] = sample·scale[c] + bias[c]`.
@inline(__always)
func warpPixelsNormalized(
  source: UnsafePointer<UInt8>, width: Int, height: Int, channels: Int, output: UnsafeMutablePointer<Float>, outputWidth: Int,
  outputHeight: Int, scale: [Float], bias: [Float], options: WarpOptions, position: (Int, Int) -> (x: Float, y: Float)
) {
  precondition(scale.count == channels && bias.count == channels, "scale and bias need \(channels) values")
  let plane = outputWidth * outputHeight
  forEachPixelSample(source: source, width: width, height: height, channels: channels, outputWidth: outputWidth, outputHeight: outputHeight,
                     options: options, position: position) { ox, oy, sample in
    for c in 0..<channels { output[c * plane + oy * outputWidth + ox] = sample[c] * scale[c] + bias[c] }
  }
}

/// `forEachPixelSample` into output (outputHeight,outputWidth,channels) uint8, rounded to nearest
/// (halves up), clamped.
@inline(__always)
func warpPixelsUInt8(
  source: UnsafePointer<UInt8>, width: Int, height: Int, channels: Int, output: UnsafeMutablePointer<UInt8>, outputWidth: Int,
  outputHeight: Int, options: WarpOptions, position: (Int, Int) -> (x: Float, y: Float)
) {
  forEachPixelSample(source: source, width: width, height: height, channels: channels, outputWidth: outputWidth, outputHeight: outputHeight,
                     options: options, position: position) { ox, oy, sample in
    for c in 0..<channels { output[(oy * outputWidth + ox) * channels + c] = roundToUInt8(sample[c]) }
  }
}

// MARK: - Naive reference kernels

/// The source position of output pixel (ox, oy) as every affine kernel computes it (`WarpRow`).
@inline(__always)
func affinePosition(_ destinationToSource: AffineTransform, _ ox: Int, _ oy: Int) -> (x: Float, y: Float) {
  let row = WarpRow(destinationToSource, y: oy)
  return (row.x(ox), row.y(ox))
}

/// Reference for `warpAffineNormalized`: one output pixel at a time.
public func warpAffineNormalizedNaive(
  source: UnsafePointer<UInt8>, width: Int, height: Int, channels: Int, destinationToSource: AffineTransform,
  output: UnsafeMutablePointer<Float>, outputWidth: Int, outputHeight: Int, scale: [Float], bias: [Float],
  options: WarpOptions
) {
  warpPixelsNormalized(source: source, width: width, height: height, channels: channels, output: output, outputWidth: outputWidth,
                       outputHeight: outputHeight, scale: scale, bias: bias, options: options) { affinePosition(destinationToSource, $0, $1) }
}

/// Reference for `warpAffineUInt8`: one output pixel at a time.
public func warpAffineUInt8Naive(
  source: UnsafePointer<UInt8>, width: Int, height: Int, channels: Int, destinationToSource: AffineTransform,
  output: UnsafeMutablePointer<UInt8>, outputWidth: Int, outputHeight: Int, options: WarpOptions
) {
  warpPixelsUInt8(source: source, width: width, height: height, channels: channels, output: output, outputWidth: outputWidth,
                  outputHeight: outputHeight, options: options) { affinePosition(destinationToSource, $0, $1) }
}
