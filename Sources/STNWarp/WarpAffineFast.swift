import CWarpKernels
import STNTensor

// Fast fused warps. Each output row is split analytically into a left border part, an interior
// span where every tap is inside the source (no bounds checks, no fill, no padding), and a right
// border part; border pixels take the same per-pixel path as the naive kernels, interior pixels
// the same arithmetic in SIMD form, so results equal the naive twins bit for bit. With AVX-512,
// bilinear, zeros padding and 3 channels, whole rows go to C kernels that mask the taps outside
// the source instead (the same values again).

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
  // NOTE: the estimate is nearly always right, so each correction is one check that fails. The
  // `if` in front of each loop keeps that check cheap: bare, the four loops were compiled into
  // vectorized searches whose set-up ran every time (callgrind: ~1,000 instructions per row
  // for touchingSpan alone, a third of a B1 uint8 row's kernel).
  if start < end && !inside(start) { repeat { start += 1 } while start < end && !inside(start) }
  if end > start && !inside(end - 1) { repeat { end -= 1 } while end > start && !inside(end - 1) }
  if start == end { return 0..<0 }
  if start > 0 && inside(start - 1) { repeat { start -= 1 } while start > 0 && inside(start - 1) }
  if end < count && inside(end) { repeat { end += 1 } while end < count && inside(end) }
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

/// True when every byte offset into a width x height x channels source fits in Int32, as the
/// 8- and 16-lane interior kernels compute them; larger images take the scalar interior loop.
@inline(__always)
func interiorOffsetsFitInt32(width: Int, height: Int, channels: Int) -> Bool {
  width * height * channels <= Int(Int32.max)
}

/// Reads a warp's source once, line by line, before the warp, when that pays: a source from
/// memory (not cache) is otherwise read in the warp's rotated order, one cache miss at a time
/// (B1, 64 different 224x224x3 images: the AVX-512 uint8 kernel took about twice as long as on
/// a cached source). Only sources up to 512 KiB (they stay in a 1-2 MiB L2) whose pixels the
/// output mostly covers; a large source shrunk to a small output reads few of its lines.
@inline(__always)
func warmSource(_ source: UnsafePointer<UInt8>, width: Int, height: Int, channels: Int, outputWidth: Int, outputHeight: Int) {
  let bytes = width * height * channels
  guard bytes <= 512 * 1024, 2 * outputWidth * outputHeight >= width * height else { return }
  _ = cwk_touch_lines(source, bytes)
}

/// The fill of 3 channels as 3 bytes when every value is a whole number in 0...255, as the
/// zeros-padding row kernels need (they read the fill like source bytes), else nil.
func fillBytes3(_ options: WarpOptions) -> [UInt8]? {
  var bytes: [UInt8] = []
  for c in 0..<3 {
    let value = options.fillValue(c)
    // NOTE: -0 is left out: it reads as byte 0, but a -0 fill gives -0 samples.
    guard value >= 0, value <= 255, value == value.rounded(), value.sign == .plus else { return nil }
    bytes.append(UInt8(value))
  }
  return bytes
}

/// True when the AVX-512 zeros-padding row kernels compute this warp: bilinear, zeros padding,
/// 3 channels, a fill of bytes, a source of at least 2 pixels whose offsets fit in Int32.
@inline(__always)
func useZerosRowKernels(width: Int, height: Int, channels: Int, options: WarpOptions) -> Bool {
  useAVX512Kernels && channels == 3 && options.mode == .bilinear && options.padding == .zeros && width * height >= 2
    && interiorOffsetsFitInt32(width: width, height: height, channels: 3)
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

/// The row loop of both warps: for each output row `oy`, its `WarpRow`, its spans
/// (`warpRowSpans`) and `sample`, scratch for `sampleUInt8` (max(channels, 4) floats).
@inline(__always)
func forEachWarpRow(
  _ destinationToSource: AffineTransform, outputWidth: Int, outputHeight: Int, width w: Int, height h: Int, channels: Int,
  options: WarpOptions, zeroMisses: Bool,
  _ body: (_ oy: Int, _ row: WarpRow, _ interior: Range<Int>, _ first: Int, _ last: Int, _ sample: UnsafeMutablePointer<Float>) -> Void
) {
  withUnsafeTemporaryAllocation(of: Float.self, capacity: max(channels, 4)) { sampleBuffer in
    guard let sample = sampleBuffer.baseAddress else { return }
    for oy in 0..<outputHeight {
      let row = WarpRow(destinationToSource, y: oy)
      let (interior, first, last) = warpRowSpans(row, outputWidth: outputWidth, width: w, height: h, options: options, zeroMisses: zeroMisses)
      body(oy, row, interior, first, last, sample)
    }
  }
}

/// One output row's columns for both warps: `interior`, where the fast kernels run, inside
/// `first..<last`, outside which every column misses the source (known only with `zeroMisses`;
/// else `first..<last` is the whole row).
///
/// NOTE: reflection computes (x + 0.5) - 0.5, which is not always x in float, so with that
/// padding the interior is empty: every pixel takes the per-pixel path to stay identical to the
/// reference.
@inline(__always)
func warpRowSpans(
  _ row: WarpRow, outputWidth: Int, width w: Int, height h: Int, options: WarpOptions, zeroMisses: Bool
) -> (interior: Range<Int>, first: Int, last: Int) {
  let interior = options.padding != .reflection ? warpInteriorSpan(row, outputWidth: outputWidth, width: w, height: h, mode: options.mode) : 0..<0
  guard zeroMisses, let touching = touchingSpan(row, outputWidth: outputWidth, width: w, height: h) else { return (interior, 0, outputWidth) }
  return (interior.clamped(to: touching), touching.lowerBound, touching.upperBound)  // already inside it: interior taps touch
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

// MARK: - Interior pixels, portable

/// The portable bilinear interior of one row, 3 channels (interleaved, `height` rows): hands each
/// column of `columns` and its interpolated (r, g, b, 0) to `store`; 8 columns per step from
/// `warpGeometry8` while the offsets fit Int32 (`int32Offsets`), then one column at a time.
/// Both output kinds (normalized float, uint8) go through it, so they sample the same values.
@inline(__always)
func forEachBilinear3(
  _ source: UnsafePointer<UInt8>, width w: Int, height h: Int, row: WarpRow, columns: Range<Int>, int32Offsets: Bool,
  _ store: (Int, SIMD4<Float>) -> Void
) {
  let stride = w * 3
  let end = source + h * stride
  var start = columns.lowerBound
  while int32Offsets && start + 8 <= columns.upperBound {
    let g = warpGeometry8(row, ox: start, width: w)
    for lane in 0..<8 {
      let p = source + Int(g.base[lane]), q = p + stride
      let (nw, ne, sw, se) = q + 6 < end ? (load3(p), load3(p + 3), load3(q), load3(q + 3)) : (load3Bytes(p), load3Bytes(p + 3), load3Bytes(q), load3Bytes(q + 3))
      store(start + lane, nw * g.w0[lane] + ne * g.w1[lane] + sw * g.w2[lane] + se * g.w3[lane])
    }
    start += 8
  }
  for ox in start..<columns.upperBound {
    let x = row.x(ox), y = row.y(ox)
    let x0 = floorFast(x), y0 = floorFast(y)
    let east = x - x0, south = y - y0
    let west = 1 - east, north = 1 - south
    let p = source + Int(y0) * stride + Int(x0) * 3
    let q = p + stride
    let (nw, ne, sw, se) = q + 6 < end ? (load3(p), load3(p + 3), load3(q), load3(q + 3)) : (load3Bytes(p), load3Bytes(p + 3), load3Bytes(q), load3Bytes(q + 3))
    store(ox, nw * (north * west) + ne * (north * east) + sw * (south * west) + se * (south * east))
  }
}

/// The bilinear interior of one row, 1 channel: hands each column of `columns` and its
/// interpolated value to `store` (the naive kernel's arithmetic without its bounds checks).
@inline(__always)
func forEachBilinear1(_ source: UnsafePointer<UInt8>, width w: Int, row: WarpRow, columns: Range<Int>, _ store: (Int, Float) -> Void) {
  for ox in columns {
    let x = row.x(ox), y = row.y(ox)
    let x0 = floorFast(x), y0 = floorFast(y)
    let east = x - x0, south = y - y0
    let west = 1 - east, north = 1 - south
    let p = source + Int(y0) * w + Int(x0)
    let q = p + w
    store(ox, Float(p[0]) * (north * west) + Float(p[1]) * (north * east) + Float(q[0]) * (south * west) + Float(q[1]) * (south * east))
  }
}

// MARK: - Border pixels, 3 channels

/// `sampleUInt8` for 3 channels and bilinear mode: the same tap checks, fill and arithmetic,
/// with the channels as one (r, g, b, 0) vector instead of a loop that reads `options` per tap.
/// (x, y) are padded coordinates (finite, within ±1e9), as `paddedPixelCoordinate` returns.
@inline(__always)
func sampleBilinear3(_ src: UnsafePointer<UInt8>, width w: Int, height h: Int, x: Float, y: Float, fill: SIMD4<Float>) -> SIMD4<Float> {
  let corners = bilinearCorners(x: x, y: y, width: w, height: h)
  let north = corners.north, south = corners.south, west = corners.west, east = corners.east
  let p = (corners.iy * w + corners.ix) * 3, q = p + w * 3
  let nw = corners.nwIn ? load3Bytes(src + p) : fill
  let ne = corners.neIn ? load3Bytes(src + p + 3) : fill
  let sw = corners.swIn ? load3Bytes(src + q) : fill
  let se = corners.seIn ? load3Bytes(src + q + 3) : fill
  return nw * (north * west) + ne * (north * east) + sw * (south * west) + se * (south * east)
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
  // NOTE: with zeros padding and fill 0, a bilinear position whose 4 taps all miss the source
  // samples exactly 0 (every term is 0 · weight), so it is written as 0·scale + bias directly.
  let zeroMisses = options.mode == .bilinear && options.padding == .zeros && (0..<channels).allSatisfy { options.fillValue($0) == 0 }
  let missValues = (0..<channels).map { Float(0) * scale[$0] + bias[$0] }
  // 3-channel bilinear border pixels take `sampleBilinear3`.
  let fill3 = channels == 3 && options.mode == .bilinear ? SIMD4(options.fillValue(0), options.fillValue(1), options.fillValue(2), 0) : nil
  let scale3 = channels == 3 ? SIMD4(scale[0], scale[1], scale[2], 0) : .zero
  let bias3 = channels == 3 ? SIMD4(bias[0], bias[1], bias[2], 0) : .zero
  warmSource(source, width: w, height: h, channels: channels, outputWidth: outputWidth, outputHeight: outputHeight)
  if useZerosRowKernels(width: w, height: h, channels: channels, options: options), let fill = fillBytes3(options) {
    // Whole rows in C: the kernel masks taps outside the source, so no spans, no border path.
    for oy in 0..<outputHeight {
      let row = WarpRow(destinationToSource, y: oy)
      let rowOut = output + oy * outputWidth
      cwk_normalized3_bilinear_row_zeros_avx512(source, w, h, row.rowX, row.rowY, row.stepX, row.stepY, outputWidth, fill,
                                                rowOut, rowOut + plane, rowOut + 2 * plane, scale, bias)
    }
    return
  }
  forEachWarpRow(destinationToSource, outputWidth: outputWidth, outputHeight: outputHeight, width: w, height: h, channels: channels,
                 options: options, zeroMisses: zeroMisses) { oy, row, interior, first, last, sample in
    let rowOut = output + oy * outputWidth
    // Columns outside first..<last miss the source: miss values.
    for c in 0..<channels {
      (rowOut + c * plane).update(repeating: missValues[c], count: first)
      (rowOut + c * plane + last).update(repeating: missValues[c], count: outputWidth - last)
    }
    // Border pixels: the reference path.
    func perPixel(_ columns: Range<Int>) {
      for ox in columns {
        let x = paddedPixelCoordinate(row.x(ox), size: w, padding: options.padding)
        let y = paddedPixelCoordinate(row.y(ox), size: h, padding: options.padding)
        if zeroMisses && bilinearMissesInput(x: x, y: y, width: w, height: h) {
          for c in 0..<channels { rowOut[c * plane + ox] = missValues[c] }
          continue
        }
        if let fill3 {
          let result = sampleBilinear3(source, width: w, height: h, x: x, y: y, fill: fill3) * scale3 + bias3
          rowOut[ox] = result[0]; rowOut[plane + ox] = result[1]; rowOut[2 * plane + ox] = result[2]
          continue
        }
        sampleUInt8(source, width: w, height: h, channels: channels, x: x, y: y, options: options, result: sample)
        for c in 0..<channels { rowOut[c * plane + ox] = sample[c] * scale[c] + bias[c] }
      }
    }
    if interior.isEmpty || (channels != 3 && channels != 1) {
      perPixel(first..<last)
      return
    }
    perPixel(first..<interior.lowerBound)
    if channels == 3 {
      interiorNormalized3(source, width: w, height: h, row: row, columns: interior, mode: options.mode, output: rowOut, plane: plane,
                          scale: scale3, bias: bias3)
    } else {
      interiorNormalized1(source, width: w, row: row, columns: interior, mode: options.mode, output: rowOut,
                          scale: scale[0], bias: bias[0])
    }
    perPixel(interior.upperBound..<last)
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
  let int32Offsets = interiorOffsetsFitInt32(width: w, height: h, channels: 3)
  switch mode {
  case .bilinear:
    if int32Offsets && useAVX2Kernels {
      // The C twins: AVX-512, 16 columns per step from 4-byte gathers, or AVX2, 8 columns per
      // step from 8-byte loads and byte shuffles; same arithmetic.
      withUnsafePointer(to: scale) { scalePointer in
        withUnsafePointer(to: bias) { biasPointer in
          scalePointer.withMemoryRebound(to: Float.self, capacity: 4) { scale in
            biasPointer.withMemoryRebound(to: Float.self, capacity: 4) { bias in
              if useAVX512Kernels {
                cwk_normalized3_bilinear_avx512(src, stride, h * stride, row.rowX, row.rowY, row.stepX, row.stepY, columns.lowerBound, columns.upperBound,
                                                out0, out1, out2, scale, bias)
              } else {
                cwk_normalized3_bilinear_avx2(src, stride, h * stride, row.rowX, row.rowY, row.stepX, row.stepY, columns.lowerBound, columns.upperBound,
                                              out0, out1, out2, scale, bias)
              }
            }
          }
        }
      }
      return
    }
    forEachBilinear3(src, width: w, height: h, row: row, columns: columns, int32Offsets: int32Offsets) { ox, value in
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
    forEachBilinear1(src, width: w, row: row, columns: columns) { ox, value in output[ox] = value * scale + bias }
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
  // Positions whose taps all miss the source sample exactly 0 with fill 0 (see warpAffineNormalized).
  let zeroMisses = options.mode == .bilinear && options.padding == .zeros && (0..<channels).allSatisfy { options.fillValue($0) == 0 }
  // 3-channel bilinear border pixels take `sampleBilinear3`.
  let fill3 = channels == 3 && options.mode == .bilinear ? SIMD4(options.fillValue(0), options.fillValue(1), options.fillValue(2), 0) : nil
  warmSource(source, width: w, height: h, channels: channels, outputWidth: outputWidth, outputHeight: outputHeight)
  if useZerosRowKernels(width: w, height: h, channels: channels, options: options), let fill = fillBytes3(options) {
    // Whole rows in C: the kernel masks taps outside the source, so no spans, no border path.
    for oy in 0..<outputHeight {
      let row = WarpRow(destinationToSource, y: oy)
      cwk_uint8_3_bilinear_row_zeros_avx512(source, w, h, row.rowX, row.rowY, row.stepX, row.stepY, outputWidth, fill,
                                            output + oy * outputWidth * 3)
    }
    return
  }
  forEachWarpRow(destinationToSource, outputWidth: outputWidth, outputHeight: outputHeight, width: w, height: h, channels: channels,
                 options: options, zeroMisses: zeroMisses) { oy, row, interior, first, last, sample in
    let rowOut = output + oy * outputWidth * channels
    // Columns outside first..<last miss the source: zero bytes.
    rowOut.update(repeating: 0, count: first * channels)
    (rowOut + last * channels).update(repeating: 0, count: (outputWidth - last) * channels)
    // Border pixels: the reference path.
    func perPixel(_ columns: Range<Int>) {
      for ox in columns {
        let x = paddedPixelCoordinate(row.x(ox), size: w, padding: options.padding)
        let y = paddedPixelCoordinate(row.y(ox), size: h, padding: options.padding)
        if zeroMisses && bilinearMissesInput(x: x, y: y, width: w, height: h) {
          for c in 0..<channels { rowOut[ox * channels + c] = 0 }
          continue
        }
        if let fill3 {
          let value = sampleBilinear3(source, width: w, height: h, x: x, y: y, fill: fill3)
          let o = rowOut + ox * 3
          o[0] = roundToUInt8(value[0]); o[1] = roundToUInt8(value[1]); o[2] = roundToUInt8(value[2])
          continue
        }
        sampleUInt8(source, width: w, height: h, channels: channels, x: x, y: y, options: options, result: sample)
        for c in 0..<channels { rowOut[ox * channels + c] = roundToUInt8(sample[c]) }
      }
    }
    if interior.isEmpty || options.mode != .bilinear || (channels != 3 && channels != 1) {
      perPixel(first..<last)
      return
    }
    perPixel(first..<interior.lowerBound)
    if channels == 3 {
      interiorUInt8x3(source, width: w, height: h, row: row, columns: interior, output: rowOut)
    } else {
      interiorUInt8x1(source, width: w, row: row, columns: interior, output: rowOut)
    }
    perPixel(interior.upperBound..<last)
  }
}

/// Interior of one row of the uint8 warp, 3 channels, bilinear; `output` is the row's first byte.
@inline(__always)
func interiorUInt8x3(
  _ source: UnsafePointer<UInt8>, width w: Int, height h: Int, row: WarpRow, columns: Range<Int>, output: UnsafeMutablePointer<UInt8>
) {
  let stride = w * 3
  let int32Offsets = interiorOffsetsFitInt32(width: w, height: h, channels: 3)
  if int32Offsets && useAVX512Kernels {
    cwk_uint8_3_bilinear_avx512(source, stride, h * stride, row.rowX, row.rowY, row.stepX, row.stepY, columns.lowerBound, columns.upperBound, output)
    return
  }
  if int32Offsets && useAVX2Kernels {
    cwk_uint8_3_bilinear_avx2(source, stride, h * stride, row.rowX, row.rowY, row.stepX, row.stepY, columns.lowerBound, columns.upperBound, output)
    return
  }
  forEachBilinear3(source, width: w, height: h, row: row, columns: columns, int32Offsets: int32Offsets) { ox, value in
    let o = output + ox * 3
    o[0] = roundToUInt8(value[0]); o[1] = roundToUInt8(value[1]); o[2] = roundToUInt8(value[2])
  }
}

/// Interior of one row of the uint8 warp, 1 channel, bilinear: the naive kernel's arithmetic
/// without its bounds checks and fill.
@inline(__always)
func interiorUInt8x1(_ source: UnsafePointer<UInt8>, width w: Int, row: WarpRow, columns: Range<Int>, output: UnsafeMutablePointer<UInt8>) {
  forEachBilinear1(source, width: w, row: row, columns: columns) { ox, value in output[ox] = roundToUInt8(value) }
}
