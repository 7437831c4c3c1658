import CWarpKernels
import STNTensor

// Fast fused warps. Each output row is split analytically into a left border part, an interior
// span where every tap is inside the source (no bounds checks, no fill, no padding), and a right
// border part; border pixels take the same per-pixel path as the naive kernels, interior pixels
// the same arithmetic in SIMD form, so results equal the naive twins bit for bit.

// MARK: - Interior spans

/// Columns `0..<count` whose coordinate satisfies `inside`, as one contiguous range, given that
/// `coordinate(ox)` is monotone in `ox` and `inside` selects an interval of coordinates.
///
/// `lower`...`upper` is the interval in real arithmetic, giving the first estimate
/// `coordinate ≈ base + step·ox`; the estimate is then corrected with the exact float predicate.
/// NOTE: the result may be smaller than the true span (never larger); pixels left out go through
/// the per-pixel border path, which is correct everywhere, just slower.
@inline(__always)
func insideSpan(count: Int, base: Float, step: Float, lower: Double, upper: Double, inside: (Int) -> Bool) -> Range<Int> {
  if count <= 0 { return 0..<0 }
  var start: Int, end: Int
  if step == 0 {
    if !inside(0) { return 0..<0 }
    start = 0; end = count
  } else {
    let t1 = (lower - Double(base)) / Double(step), t2 = (upper - Double(base)) / Double(step)
    let low = min(t1, t2), high = max(t1, t2)
    guard low.isFinite, high.isFinite else { return 0..<0 }
    start = Int(max(0, min(Double(count), low.rounded(.up))))
    end = Int(max(0, min(Double(count), high.rounded(.up))))
    if end < start { end = start }
  }
  while start < end && !inside(start) { start += 1 }
  while end > start && !inside(end - 1) { end -= 1 }
  if start == end { return 0..<0 }
  while start > 0 && inside(start - 1) { start -= 1 }
  while end < count && inside(end) { end += 1 }
  return start..<end
}

/// Interior span of one output row of a warp: taps of every column in it are inside the source
/// and padding leaves its coordinates unchanged.
@inline(__always)
func warpInteriorSpan(_ row: WarpRow, outputWidth: Int, width w: Int, height h: Int, mode: GridSampleMode) -> Range<Int> {
  let spanX: Range<Int>, spanY: Range<Int>
  switch mode {
  case .bilinear:
    // floor(x) in 0...w-2 so that x0 + 1 is inside too.
    let xLimit = Float(w - 1), yLimit = Float(h - 1)
    spanX = insideSpan(count: outputWidth, base: row.rowX, step: row.stepX, lower: 0, upper: Double(w - 1)) { ox in
      let x = row.x(ox); return x >= 0 && x < xLimit
    }
    spanY = insideSpan(count: outputWidth, base: row.rowY, step: row.stepY, lower: 0, upper: Double(h - 1)) { ox in
      let y = row.y(ox); return y >= 0 && y < yLimit
    }
  case .nearest:
    let xLimit = Float(w - 1), yLimit = Float(h - 1)
    spanX = insideSpan(count: outputWidth, base: row.rowX, step: row.stepX, lower: -0.5, upper: Double(w) - 0.5) { ox in
      let x = row.x(ox); return x >= 0 && x <= xLimit
    }
    spanY = insideSpan(count: outputWidth, base: row.rowY, step: row.stepY, lower: -0.5, upper: Double(h) - 0.5) { ox in
      let y = row.y(ox); return y >= 0 && y <= yLimit
    }
  }
  let start = max(spanX.lowerBound, spanY.lowerBound), end = min(spanX.upperBound, spanY.upperBound)
  return start < end ? start..<end : 0..<0
}

/// The columns of a warp row whose bilinear taps touch a w x h source (all other columns miss it
/// entirely), exactly, or nil when that cannot be settled cheaply (callers then check per pixel).
///
/// NOTE: x and y are monotone along a row, so "touches" (x in [-1, w) and y in [-1, h)) holds on
/// one interval of columns; `insideSpan` expands its range until both neighbours fail, so a
/// non-empty answer is that whole interval. An empty answer may come from a misplaced estimate,
/// unless both ends of the row are outside on the same side.
func touchingSpan(_ row: WarpRow, outputWidth: Int, width w: Int, height h: Int) -> Range<Int>? {
  if outputWidth == 0 { return nil }
  let xLimit = Float(w), yLimit = Float(h)
  let x0 = row.x(0), x1 = row.x(outputWidth - 1), y0 = row.y(0), y1 = row.y(outputWidth - 1)
  if (x0 < -1 && x1 < -1) || (x0 >= xLimit && x1 >= xLimit) || (y0 < -1 && y1 < -1) || (y0 >= yLimit && y1 >= yLimit) {
    return 0..<0
  }
  let spanX = insideSpan(count: outputWidth, base: row.rowX, step: row.stepX, lower: -1, upper: Double(w)) { ox in
    let x = row.x(ox); return x >= -1 && x < xLimit
  }
  let spanY = insideSpan(count: outputWidth, base: row.rowY, step: row.stepY, lower: -1, upper: Double(h)) { ox in
    let y = row.y(ox); return y >= -1 && y < yLimit
  }
  if spanX.isEmpty || spanY.isEmpty { return nil }
  let start = max(spanX.lowerBound, spanY.lowerBound), end = min(spanX.upperBound, spanY.upperBound)
  // Two intervals that do not overlap: nothing touches.
  return start < end ? start..<end : 0..<0
}

// MARK: - 8 columns at a time

/// Byte offset of the nw tap (3 channels) and bilinear weights of interior columns ox..<ox+8:
/// the scalar path's arithmetic lane by lane (coordinates there are >= 0, so floor is the
/// SSE2-friendly `floorNonNegative8`).
@inline(__always)
func warpGeometry8(_ row: WarpRow, ox: Int, width w: Int) -> InteriorGeometry8 {
  let columns = SIMD8<Float>(0, 1, 2, 3, 4, 5, 6, 7) + Float(ox)
  let x = row.rowX + row.stepX * columns, y = row.rowY + row.stepY * columns
  let (x0, ix) = floorNonNegative8(x), (y0, iy) = floorNonNegative8(y)
  let east = x - x0, south = y - y0
  let west = 1 - east, north = 1 - south
  return InteriorGeometry8(base: (iy &* Int32(w) &+ ix) &* 3, w0: north * west, w1: north * east, w2: south * west, w3: south * east,
                           east: east, south: south)
}

// MARK: - Loading pixels

/// The 3 bytes at `p` as (b0, b1, b2, 0) floats, through one 4-byte load: p[3] must be readable.
@inline(__always)
func load3(_ p: UnsafePointer<UInt8>) -> SIMD4<Float> {
  let word = UnsafeRawPointer(p).loadUnaligned(as: UInt32.self) & 0x00FF_FFFF
  let bytes = unsafeBitCast(UInt32(littleEndian: word), to: SIMD4<UInt8>.self)
  return SIMD4<Float>(SIMD4<Int32>(truncatingIfNeeded: bytes))
}

/// The 3 bytes at `p` as (b0, b1, b2, 0) floats, byte by byte (for the last pixel of a buffer).
@inline(__always)
func load3Bytes(_ p: UnsafePointer<UInt8>) -> SIMD4<Float> {
  SIMD4<Float>(Float(p[0]), Float(p[1]), Float(p[2]), 0)
}

// MARK: - Fused uint8 -> normalized float32 CHW

/// Warps an 8-bit HWC image and normalizes it into a float32 CHW slot, in one pass.
///
/// source (height,width,channels) uint8; output (channels,outputHeight,outputWidth) float32,
/// e.g. one image's slot of an (N,C,H,W) batch buffer; `out[c] = sample·scale[c] + bias[c]` with
/// the sample in 0...255 pixel units (ImageNet: scale = 1/(255·std), bias = -mean/std).
/// Pixel convention and fill: see the top of WarpAffine.swift.
public func warpAffineNormalized(
  source: UnsafePointer<UInt8>, width: Int, height: Int, channels: Int, destinationToSource: AffineTransform,
  output: UnsafeMutablePointer<Float>, outputWidth: Int, outputHeight: Int, scale: [Float], bias: [Float],
  options: WarpOptions
) {
  checkWarpArguments(width: width, height: height, channels: channels, outputWidth: outputWidth, outputHeight: outputHeight, options: options)
  precondition(scale.count == channels && bias.count == channels, "scale and bias need \(channels) values")
  let plane = outputWidth * outputHeight
  let w = width, h = height
  let exactInterior = options.padding != .reflection  // reflection rounds even inside: see NOTE below
  // NOTE: with zeros padding and fill 0, a bilinear position whose 4 taps all miss the source
  // samples exactly 0 (every term is 0 · weight), so it is written as 0·scale + bias directly.
  let zeroMisses = options.mode == .bilinear && options.padding == .zeros && (0..<channels).allSatisfy { options.fillValue($0) == 0 }
  let missValues = (0..<channels).map { Float(0) * scale[$0] + bias[$0] }
  withUnsafeTemporaryAllocation(of: Float.self, capacity: max(channels, 4)) { sampleBuffer in
    let sample = sampleBuffer.baseAddress!
    for oy in 0..<outputHeight {
      let row = WarpRow(destinationToSource, y: oy)
      // NOTE: reflection computes (x + 0.5) - 0.5, which is not always x in float, so with that
      // padding every pixel takes the per-pixel path to stay identical to the reference.
      let interior = exactInterior ? warpInteriorSpan(row, outputWidth: outputWidth, width: w, height: h, mode: options.mode) : 0..<0
      let rowOut = output + oy * outputWidth
      let touching = zeroMisses ? touchingSpan(row, outputWidth: outputWidth, width: w, height: h) : nil
      // Border pixels: the reference path, except runs known to miss the source.
      func border(_ columns: Range<Int>) {
        if let touching {
          for run in [columns.clamped(to: 0..<touching.lowerBound), columns.clamped(to: touching.upperBound..<outputWidth)] where !run.isEmpty {
            for c in 0..<channels { (rowOut + c * plane + run.lowerBound).update(repeating: missValues[c], count: run.count) }
          }
          perPixel(columns.clamped(to: touching))
        } else {
          perPixel(columns)
        }
      }
      func perPixel(_ columns: Range<Int>) {
        for ox in columns {
          let x = paddedPixelCoordinate(row.x(ox), size: w, padding: options.padding)
          let y = paddedPixelCoordinate(row.y(ox), size: h, padding: options.padding)
          if zeroMisses && bilinearMissesInput(x: x, y: y, width: w, height: h) {
            for c in 0..<channels { rowOut[c * plane + ox] = missValues[c] }
            continue
          }
          sampleUInt8(source, width: w, height: h, channels: channels, x: x, y: y, options: options, result: sample)
          for c in 0..<channels { rowOut[c * plane + ox] = sample[c] * scale[c] + bias[c] }
        }
      }
      border(0..<interior.lowerBound)
      if !interior.isEmpty {
        if channels == 3 {
          interiorNormalized3(source, width: w, height: h, row: row, columns: interior, mode: options.mode, output: rowOut, plane: plane,
                              scale: SIMD4(scale[0], scale[1], scale[2], 0), bias: SIMD4(bias[0], bias[1], bias[2], 0))
        } else if channels == 1 {
          interiorNormalized1(source, width: w, row: row, columns: interior, mode: options.mode, output: rowOut,
                              scale: scale[0], bias: bias[0])
        } else {
          border(interior)
        }
      }
      border(interior.upperBound..<outputWidth)
    }
  }
}

/// Interior of one row, 3 channels: the 4 taps of a pixel as SIMD4 (r, g, b, 0) vectors.
@inline(__always)
func interiorNormalized3(
  _ src: UnsafePointer<UInt8>, width w: Int, height h: Int, row: WarpRow, columns: Range<Int>, mode: GridSampleMode,
  output: UnsafeMutablePointer<Float>, plane: Int, scale: SIMD4<Float>, bias: SIMD4<Float>
) {
  let out0 = output, out1 = output + plane, out2 = output + 2 * plane
  let stride = w * 3
  let end = src + h * stride
  switch mode {
  case .bilinear:
    if useAVX2Kernels {
      // The AVX2 twin: 8 columns per step from 8-byte loads and byte shuffles, same arithmetic.
      withUnsafePointer(to: scale) { scalePointer in
        withUnsafePointer(to: bias) { biasPointer in
          scalePointer.withMemoryRebound(to: Float.self, capacity: 4) { scale in
            biasPointer.withMemoryRebound(to: Float.self, capacity: 4) { bias in
              cwk_normalized3_bilinear_avx2(src, stride, h * stride, row.rowX, row.rowY, row.stepX, row.stepY, columns.lowerBound, columns.upperBound,
                                            out0, out1, out2, scale, bias)
            }
          }
        }
      }
      return
    }
    var start = columns.lowerBound
    while start + 8 <= columns.upperBound {
      let g = warpGeometry8(row, ox: start, width: w)
      for lane in 0..<8 {
        let p = src + Int(g.base[lane]), q = p + stride
        let (nw, ne, sw, se) = q + 6 < end ? (load3(p), load3(p + 3), load3(q), load3(q + 3)) : (load3Bytes(p), load3Bytes(p + 3), load3Bytes(q), load3Bytes(q + 3))
        let value = nw * g.w0[lane] + ne * g.w1[lane] + sw * g.w2[lane] + se * g.w3[lane]
        let result = value * scale + bias
        let ox = start + lane
        out0[ox] = result[0]; out1[ox] = result[1]; out2[ox] = result[2]
      }
      start += 8
    }
    for ox in start..<columns.upperBound {
      let x = row.x(ox), y = row.y(ox)
      let x0 = floorFast(x), y0 = floorFast(y)
      let east = x - x0, south = y - y0
      let west = 1 - east, north = 1 - south
      let p = src + Int(y0) * stride + Int(x0) * 3
      let q = p + stride
      let (nw, ne, sw, se) = q + 6 < end ? (load3(p), load3(p + 3), load3(q), load3(q + 3)) : (load3Bytes(p), load3Bytes(p + 3), load3Bytes(q), load3Bytes(q + 3))
      let value = nw * (north * west) + ne * (north * east) + sw * (south * west) + se * (south * east)
      let result = value * scale + bias
      out0[ox] = result[0]; out1[ox] = result[1]; out2[ox] = result[2]
    }
  case .nearest:
    for ox in columns {
      let ix = Int(roundHalfToEven(row.x(ox))), iy = Int(roundHalfToEven(row.y(ox)))
      let p = src + iy * stride + ix * 3
      let result = SIMD4<Float>(Float(p[0]), Float(p[1]), Float(p[2]), 0) * scale + bias
      out0[ox] = result[0]; out1[ox] = result[1]; out2[ox] = result[2]
    }
  }
}

/// Interior of one row, 1 channel.
@inline(__always)
func interiorNormalized1(
  _ src: UnsafePointer<UInt8>, width w: Int, row: WarpRow, columns: Range<Int>, mode: GridSampleMode,
  output: UnsafeMutablePointer<Float>, scale: Float, bias: Float
) {
  switch mode {
  case .bilinear:
    for ox in columns {
      let x = row.x(ox), y = row.y(ox)
      let x0 = floorFast(x), y0 = floorFast(y)
      let east = x - x0, south = y - y0
      let west = 1 - east, north = 1 - south
      let p = src + Int(y0) * w + Int(x0)
      let q = p + w
      let value = Float(p[0]) * (north * west) + Float(p[1]) * (north * east) + Float(q[0]) * (south * west) + Float(q[1]) * (south * east)
      output[ox] = value * scale + bias
    }
  case .nearest:
    for ox in columns {
      let ix = Int(roundHalfToEven(row.x(ox))), iy = Int(roundHalfToEven(row.y(ox)))
      output[ox] = Float(src[iy * w + ix]) * scale + bias
    }
  }
}

// MARK: - Fused uint8 -> uint8 HWC

/// Warps an 8-bit HWC image into an 8-bit HWC output (rounded to nearest, halves up, clamped),
/// for writing augmented images. Pixel convention and fill: see the top of WarpAffine.swift.
/// source (height,width,channels), output (outputHeight,outputWidth,channels).
public func warpAffineUInt8(
  source: UnsafePointer<UInt8>, width: Int, height: Int, channels: Int, destinationToSource: AffineTransform,
  output: UnsafeMutablePointer<UInt8>, outputWidth: Int, outputHeight: Int, options: WarpOptions
) {
  checkWarpArguments(width: width, height: height, channels: channels, outputWidth: outputWidth, outputHeight: outputHeight, options: options)
  let w = width, h = height
  let exactInterior = options.padding != .reflection
  // Positions whose taps all miss the source sample exactly 0 with fill 0 (see warpAffineNormalized).
  let zeroMisses = options.mode == .bilinear && options.padding == .zeros && (0..<channels).allSatisfy { options.fillValue($0) == 0 }
  withUnsafeTemporaryAllocation(of: Float.self, capacity: max(channels, 4)) { sampleBuffer in
    let sample = sampleBuffer.baseAddress!
    for oy in 0..<outputHeight {
      let row = WarpRow(destinationToSource, y: oy)
      let interior = exactInterior ? warpInteriorSpan(row, outputWidth: outputWidth, width: w, height: h, mode: options.mode) : 0..<0
      let rowOut = output + oy * outputWidth * channels
      func border(_ columns: Range<Int>) {
        for ox in columns {
          let x = paddedPixelCoordinate(row.x(ox), size: w, padding: options.padding)
          let y = paddedPixelCoordinate(row.y(ox), size: h, padding: options.padding)
          if zeroMisses && bilinearMissesInput(x: x, y: y, width: w, height: h) {
            for c in 0..<channels { rowOut[ox * channels + c] = 0 }
            continue
          }
          sampleUInt8(source, width: w, height: h, channels: channels, x: x, y: y, options: options, result: sample)
          for c in 0..<channels { rowOut[ox * channels + c] = roundToUInt8(sample[c]) }
        }
      }
      border(0..<interior.lowerBound)
      if !interior.isEmpty {
        if channels == 3 && options.mode == .bilinear {
          let stride = w * 3
          let end = source + h * stride
          var start = interior.lowerBound
          while start + 8 <= interior.upperBound {
            let g = warpGeometry8(row, ox: start, width: w)
            for lane in 0..<8 {
              let p = source + Int(g.base[lane]), q = p + stride
              let (nw, ne, sw, se) = q + 6 < end ? (load3(p), load3(p + 3), load3(q), load3(q + 3)) : (load3Bytes(p), load3Bytes(p + 3), load3Bytes(q), load3Bytes(q + 3))
              let value = nw * g.w0[lane] + ne * g.w1[lane] + sw * g.w2[lane] + se * g.w3[lane]
              let o = rowOut + (start + lane) * 3
              o[0] = roundToUInt8(value[0]); o[1] = roundToUInt8(value[1]); o[2] = roundToUInt8(value[2])
            }
            start += 8
          }
          for ox in start..<interior.upperBound {
            let x = row.x(ox), y = row.y(ox)
            let x0 = floorFast(x), y0 = floorFast(y)
            let east = x - x0, south = y - y0
            let west = 1 - east, north = 1 - south
            let p = source + Int(y0) * stride + Int(x0) * 3
            let q = p + stride
            let (nw, ne, sw, se) = q + 6 < end ? (load3(p), load3(p + 3), load3(q), load3(q + 3)) : (load3Bytes(p), load3Bytes(p + 3), load3Bytes(q), load3Bytes(q + 3))
            let value = nw * (north * west) + ne * (north * east) + sw * (south * west) + se * (south * east)
            let o = rowOut + ox * 3
            o[0] = roundToUInt8(value[0]); o[1] = roundToUInt8(value[1]); o[2] = roundToUInt8(value[2])
          }
        } else {
          border(interior)
        }
      }
      border(interior.upperBound..<outputWidth)
    }
  }
}
