// The fused uint8 warps for a non-affine `PixelMap` (perspective and elastic pipeline stages):
// the same pixel convention, padding, fill and sampling as `warpAffineUInt8` /
// `warpAffineNormalized` (see the top of WarpAffine.swift), one output pixel at a time in Swift.
// The map is evaluated in double precision and the position rounded to float32 before sampling.
// These are plain per-pixel loops (no interior fast path), so they are their own naive twin; a
// test checks that an affine `PixelMap` reproduces `warpAffineUInt8Naive`.

/// The padded source position and sample of every output pixel under `map`, one at a time,
/// handed to `store(ox, oy, sample)` (sample in pixel units, `channels` values).
func forEachMappedSample(
  source: UnsafePointer<UInt8>, width: Int, height: Int, channels: Int, destinationToSource map: PixelMap,
  outputWidth: Int, outputHeight: Int, options: WarpOptions, _ store: (Int, Int, UnsafePointer<Float>) -> Void
) {
  checkWarpArguments(width: width, height: height, channels: channels, outputWidth: outputWidth, outputHeight: outputHeight, options: options)
  withUnsafeTemporaryAllocation(of: Float.self, capacity: max(channels, 4)) { buffer in
    guard let result = buffer.baseAddress else { return }
    for oy in 0..<outputHeight {
      for ox in 0..<outputWidth {
        let p = map.apply(x: Double(ox), y: Double(oy))
        let x = paddedPixelCoordinate(Float(p.x), size: width, padding: options.padding)
        let y = paddedPixelCoordinate(Float(p.y), size: height, padding: options.padding)
        sampleUInt8(source, width: width, height: height, channels: channels, x: x, y: y, options: options, result: result)
        store(ox, oy, result)
      }
    }
  }
}

/// `warpAffineUInt8` for any `PixelMap`: source (height,width,channels) uint8 ->
/// output (outputHeight,outputWidth,channels) uint8, rounded to nearest (halves up), clamped.
public func warpMapUInt8(
  source: UnsafePointer<UInt8>, width: Int, height: Int, channels: Int, destinationToSource map: PixelMap,
  output: UnsafeMutablePointer<UInt8>, outputWidth: Int, outputHeight: Int, options: WarpOptions
) {
  forEachMappedSample(source: source, width: width, height: height, channels: channels, destinationToSource: map,
                      outputWidth: outputWidth, outputHeight: outputHeight, options: options) { ox, oy, sample in
    for c in 0..<channels { output[(oy * outputWidth + ox) * channels + c] = roundToUInt8(sample[c]) }
  }
}

/// `warpAffineNormalized` for any `PixelMap`: output (channels,outputHeight,outputWidth) float32,
/// `out[c] = sample·scale[c] + bias[c]` with the sample in 0...255 pixel units.
public func warpMapNormalized(
  source: UnsafePointer<UInt8>, width: Int, height: Int, channels: Int, destinationToSource map: PixelMap,
  output: UnsafeMutablePointer<Float>, outputWidth: Int, outputHeight: Int, scale: [Float], bias: [Float],
  options: WarpOptions
) {
  precondition(scale.count == channels && bias.count == channels, "scale and bias need \(channels) values")
  let plane = outputWidth * outputHeight
  forEachMappedSample(source: source, width: width, height: height, channels: channels, destinationToSource: map,
                      outputWidth: outputWidth, outputHeight: outputHeight, options: options) { ox, oy, sample in
    for c in 0..<channels { output[c * plane + oy * outputWidth + ox] = sample[c] * scale[c] + bias[c] }
  }
}
