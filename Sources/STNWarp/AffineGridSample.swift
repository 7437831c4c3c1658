import CWarpKernels
import STNTensor

// Fused affine_grid + grid_sample for the spatial transformer and for float32 batch warps:
// theta (N,2,3) -> output (N,C,Ho,Wo) without materializing the grid, and the backward straight
// to gradInput and gradTheta. Grid coordinates are computed with the same float expression as
// `affineGrid`, so the forward equals `gridSample(affineGrid(theta))` bit for bit.
//
// Each output row splits into an interior span, where all 4 bilinear taps are inside the input
// (found analytically: the source coordinate is monotone along a row), and the border columns
// on either side, which take the checked per-pixel path.

// MARK: - Row geometry

/// Grid coordinates of one output row: normalized (gx, gy) of column ox.
struct AffineRow {
  var t0: Float, t1: Float, t2: Float, t3: Float, t4: Float, t5: Float
  var y: Float

  @inline(__always) func gx(_ x: Float) -> Float { affineGridCoordinate(t0, t1, t2, x, y) }
  @inline(__always) func gy(_ x: Float) -> Float { affineGridCoordinate(t3, t4, t5, x, y) }
}

/// Columns of a row whose 4 bilinear taps are all inside a w x h input, for zeros or border
/// padding (both leave such coordinates unchanged). `strict` also excludes coordinates exactly
/// on pixel 0, where the border clip has zero gradient.
@inline(__always)
func affineInteriorSpan(_ row: AffineRow, xs: UnsafePointer<Float>, count: Int, width w: Int, height h: Int, alignCorners: Bool, strict: Bool) -> Range<Int> {
  if count == 0 || w < 2 || h < 2 { return 0..<0 }
  let xLimit = Float(w - 1), yLimit = Float(h - 1)
  func px(_ ox: Int) -> Float { unnormalize(row.gx(xs[ox]), size: w, alignCorners: alignCorners) }
  func py(_ ox: Int) -> Float { unnormalize(row.gy(xs[ox]), size: h, alignCorners: alignCorners) }
  let last = max(count - 1, 1)
  let baseX = px(0), stepX = (px(count - 1) - baseX) / Float(last)
  let baseY = py(0), stepY = (py(count - 1) - baseY) / Float(last)
  let spanX = insideSpan(count: count, base: baseX, step: stepX, lower: 0, upper: Double(w - 1)) { ox in
    let x = px(ox); return (strict ? x > 0 : x >= 0) && x < xLimit
  }
  let spanY = insideSpan(count: count, base: baseY, step: stepY, lower: 0, upper: Double(h - 1)) { ox in
    let y = py(ox); return (strict ? y > 0 : y >= 0) && y < yLimit
  }
  let start = max(spanX.lowerBound, spanY.lowerBound), end = min(spanX.upperBound, spanY.upperBound)
  return start < end ? start..<end : 0..<0
}

func checkAffineGridSampleShapes(input: Tensor, theta: Tensor) {
  precondition(input.rank == 4, "affineGridSample input must be (N,C,H,W), got \(input.shape)")
  precondition(theta.shape == [input.shape[0], 2, 3], "affineGridSample theta must be (\(input.shape[0]),2,3), got \(theta.shape)")
}

// MARK: - Forward

/// `gridSample(input, affineGrid(theta, outputSize))` in one pass, without the grid.
///
/// input (N,C,H,W), theta (N,2,3), outputSize [N,C,Ho,Wo] -> output (N,C,Ho,Wo). Threads split the
/// batch and, for small batches, the rows; results do not depend on `threads`.
public func affineGridSample(input: Tensor, theta: Tensor, outputSize: [Int], options: GridSampleOptions, threads: Int = 1) -> Tensor {
  checkAffineGridSampleShapes(input: input, theta: theta)
  precondition(outputSize.count == 4 && outputSize[0] == input.shape[0] && outputSize[1] == input.shape[1],
               "outputSize \(outputSize) must be [N,C,Ho,Wo] with input's N and C \(input.shape)")
  let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
  let (ho, wo) = (outputSize[2], outputSize[3])
  let count = outputSize.reduce(1, *)
  if count == 0 { return Tensor(shape: outputSize) }
  let xs = affineGridBase(steps: wo, alignCorners: options.alignCorners)
  let ys = affineGridBase(steps: ho, alignCorners: options.alignCorners)
  let rowRanges = splitRange(ho, parts: rowBlocksPerImage(images: n, rows: ho, threads: threads))
  let padding = options.padding, alignCorners = options.alignCorners
  let zerosRowKernel = useAVX2Kernels && options.mode == .bilinear && padding == .zeros && wo >= 8
  // NOTE: every element is written below, so the storage starts uninitialized (no memset).
  let data = [Float](unsafeUninitializedCapacity: count) { outputBuffer, initialized in
    initialized = count
    input.data.withUnsafeBufferPointer { inputBuffer in
      theta.data.withUnsafeBufferPointer { thetaBuffer in
        xs.withUnsafeBufferPointer { xsBuffer in
          do {
            let src = inputBuffer.baseAddress!, dst = outputBuffer.baseAddress!, xsPointer = xsBuffer.baseAddress!
            parallelFor(chunks: n * rowRanges.count, threads: threads) { chunk in
              let b = chunk / rowRanges.count, rows = rowRanges[chunk % rowRanges.count]
              let t = thetaBuffer.baseAddress! + b * 6
              let planeIn = h * w, planeOut = ho * wo
              let imageIn = src + b * c * planeIn, imageOut = dst + b * c * planeOut
              for oy in rows {
                let row = AffineRow(t0: t[0], t1: t[1], t2: t[2], t3: t[3], t4: t[4], t5: t[5], y: ys[oy])
                let rowOut = imageOut + oy * wo
                if zerosRowKernel {
                  // AVX2: the whole row with masked taps, border columns included.
                  var cRow = cAffineRow(row, width: w, height: h, alignCorners: alignCorners)
                  cwk_affine_forward_row_zeros_avx2(imageIn, &cRow, xsPointer, wo, w, h, c, planeIn, planeOut, rowOut)
                  continue
                }
                func checked(_ columns: Range<Int>) {
                  for ox in columns {
                    gridSamplePosition(x: row.gx(xsPointer[ox]), y: row.gy(xsPointer[ox]), input: imageIn, output: rowOut + ox, channels: c,
                                       planeIn: planeIn, planeOut: planeOut, width: w, height: h, options: options)
                  }
                }
                let interior = (options.mode == .bilinear && padding != .reflection)
                  ? affineInteriorSpan(row, xs: xsPointer, count: wo, width: w, height: h, alignCorners: alignCorners, strict: false) : 0..<0
                checked(0..<interior.lowerBound)
                if !interior.isEmpty {
                  affineInteriorForward(imageIn, row: row, xs: xsPointer, columns: interior, width: w, height: h, channels: c,
                                        alignCorners: alignCorners, output: rowOut, planeIn: planeIn, planeOut: planeOut)
                }
                checked(interior.upperBound..<wo)
              }
            }
          }
        }
      }
    }
  }
  return Tensor(shape: outputSize, data: data)
}

/// Bilinear interior of one row: every tap inside, no checks.
@inline(__always)
func affineInteriorForward(
  _ imageIn: UnsafePointer<Float>, row: AffineRow, xs: UnsafePointer<Float>, columns: Range<Int>, width w: Int, height h: Int,
  channels c: Int, alignCorners: Bool, output: UnsafeMutablePointer<Float>, planeIn: Int, planeOut: Int
) {
  if useAVX2Kernels {
    var cRow = cAffineRow(row, width: w, height: h, alignCorners: alignCorners)
    cwk_affine_forward_interior_avx2(imageIn, &cRow, xs, columns.lowerBound, columns.upperBound, w, c, planeIn, planeOut, output)
    return
  }
  var start = columns.lowerBound
  // NOTE: the last block of 8 is moved left to end at the span's end; it overlaps columns
  // already written and writes them again with the same values, instead of a scalar tail.
  while columns.count >= 8 && start < columns.upperBound {
    let block = min(start, columns.upperBound - 8)
    let g = interiorGeometry8(row, xs: xs, ox: block, width: w, height: h, alignCorners: alignCorners)
    var p = imageIn
    var o = output + block
    for _ in 0..<c {
      let nw = gather8(p, g.base), ne = gather8(p + 1, g.base), sw = gather8(p + w, g.base), se = gather8(p + w + 1, g.base)
      let value = nw * g.w0 + ne * g.w1 + sw * g.w2 + se * g.w3
      UnsafeMutableRawPointer(o).storeBytes(of: value, as: SIMD8<Float>.self)
      p += planeIn
      o += planeOut
    }
    start = block + 8
  }
  for ox in start..<columns.upperBound {
    let x = unnormalize(row.gx(xs[ox]), size: w, alignCorners: alignCorners)
    let y = unnormalize(row.gy(xs[ox]), size: h, alignCorners: alignCorners)
    let x0 = floorFast(x), y0 = floorFast(y)
    let east = x - x0, south = y - y0
    let west = 1 - east, north = 1 - south
    let w0 = north * west, w1 = north * east, w2 = south * west, w3 = south * east
    let base = Int(y0) * w + Int(x0)
    var p = imageIn + base
    var o = output + ox
    for _ in 0..<c {
      o.pointee = p[0] * w0 + p[1] * w1 + p[w] * w2 + p[w + 1] * w3
      p += planeIn
      o += planeOut
    }
  }
}

// MARK: - 8 columns at a time

/// Geometry of 8 interior columns: flat offset of the nw tap, bilinear weights, fractions.
struct InteriorGeometry8 {
  var base: SIMD8<Int32>
  var w0: SIMD8<Float>, w1: SIMD8<Float>, w2: SIMD8<Float>, w3: SIMD8<Float>
  var east: SIMD8<Float>, south: SIMD8<Float>
}

/// floor of non-negative coordinates below 2^22, as float and integer, without SSE4.1: adding
/// 2^23 rounds to an integer whose value sits in the low mantissa bits. Equals `floorFast`.
@inline(__always)
func floorNonNegative8(_ x: SIMD8<Float>) -> (SIMD8<Float>, SIMD8<Int32>) {
  let magic = SIMD8<Float>(repeating: 8_388_608)
  let shifted = x + magic
  var integer = unsafeBitCast(shifted, to: SIMD8<Int32>.self) & 0x7F_FFFF
  var value = shifted - magic
  let over = value .> x
  value.replace(with: value - 1, where: over)
  integer.replace(with: integer &- 1, where: over)
  return (value, integer)
}

/// Interior geometry of columns ox..<ox+8 of a row: the same arithmetic as the scalar path,
/// lane by lane, so results are identical.
@inline(__always)
func interiorGeometry8(_ row: AffineRow, xs: UnsafePointer<Float>, ox: Int, width w: Int, height h: Int, alignCorners: Bool) -> InteriorGeometry8 {
  let bx = UnsafeRawPointer(xs + ox).loadUnaligned(as: SIMD8<Float>.self)
  let gx = row.t0 * bx + SIMD8(repeating: row.t1 * row.y) + row.t2
  let gy = row.t3 * bx + SIMD8(repeating: row.t4 * row.y) + row.t5
  let x: SIMD8<Float>, y: SIMD8<Float>
  if alignCorners {
    x = (gx + 1) * (Float(w - 1) / 2)
    y = (gy + 1) * (Float(h - 1) / 2)
  } else {
    x = (gx + 1) * (Float(w) / 2) - 0.5
    y = (gy + 1) * (Float(h) / 2) - 0.5
  }
  let (x0, ix) = floorNonNegative8(x), (y0, iy) = floorNonNegative8(y)
  let east = x - x0, south = y - y0
  let west = 1 - east, north = 1 - south
  return InteriorGeometry8(base: iy &* Int32(w) &+ ix, w0: north * west, w1: north * east, w2: south * west, w3: south * east,
                           east: east, south: south)
}

/// Runs a C backward kernel that fills 4 lane accumulators of 8 floats, and sums each, in the
/// same order as the Swift twin's `SIMD8.sum()`.
@inline(__always)
func summedLanes(_ kernel: (UnsafeMutablePointer<Float>) -> Void) -> SIMD4<Float> {
  var lanes = (SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>())
  withUnsafeMutableBytes(of: &lanes) { kernel($0.baseAddress!.assumingMemoryBound(to: Float.self)) }
  return SIMD4(lanes.0.sum(), lanes.1.sum(), lanes.2.sum(), lanes.3.sum())
}

/// p[offsets[i]] for 8 lanes.
@inline(__always)
func gather8(_ p: UnsafePointer<Float>, _ offsets: SIMD8<Int32>) -> SIMD8<Float> {
  SIMD8(p[Int(offsets[0])], p[Int(offsets[1])], p[Int(offsets[2])], p[Int(offsets[3])],
        p[Int(offsets[4])], p[Int(offsets[5])], p[Int(offsets[6])], p[Int(offsets[7])])
}

// MARK: - Backward

/// Gradients of `sum(affineGridSample(input, theta) * gradOutput)` with respect to input and theta.
///
/// gradOutput (N,C,Ho,Wo), input (N,C,H,W), theta (N,2,3) -> gradInput (N,C,H,W) (empty [0] when
/// `needInputGradient` is false), gradTheta (N,2,3). Equals gridSampleBackward followed by
/// affineGridBackward up to float32 rounding of the theta sums (accumulated per row in float32,
/// across rows in double).
public func affineGridSampleBackward(
  gradOutput: Tensor, input: Tensor, theta: Tensor, options: GridSampleOptions, threads: Int = 1, needInputGradient: Bool = true
) -> (gradInput: Tensor, gradTheta: Tensor) {
  checkAffineGridSampleShapes(input: input, theta: theta)
  precondition(gradOutput.rank == 4 && gradOutput.shape[0] == input.shape[0] && gradOutput.shape[1] == input.shape[1],
               "gradOutput \(gradOutput.shape) must be (N,C,Ho,Wo) with input's N and C \(input.shape)")
  let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
  let (ho, wo) = (gradOutput.shape[2], gradOutput.shape[3])
  var gradInput = needInputGradient ? Tensor(shape: input.shape) : Tensor(shape: [0])
  var gradTheta = Tensor(shape: [n, 2, 3])
  if n == 0 || c == 0 || h == 0 || w == 0 || ho == 0 || wo == 0 { return (gradInput, gradTheta) }
  let xs = affineGridBase(steps: wo, alignCorners: options.alignCorners)
  let ys = affineGridBase(steps: ho, alignCorners: options.alignCorners)
  let padding = options.padding, alignCorners = options.alignCorners
  let zerosRowKernel = useAVX2Kernels && options.mode == .bilinear && padding == .zeros && wo >= 8
  let xMultiplier = unnormalizeGradient(size: w, alignCorners: alignCorners)
  let yMultiplier = unnormalizeGradient(size: h, alignCorners: alignCorners)
  input.data.withUnsafeBufferPointer { inputBuffer in
    theta.data.withUnsafeBufferPointer { thetaBuffer in
      gradOutput.data.withUnsafeBufferPointer { gradOutputBuffer in
        xs.withUnsafeBufferPointer { xsBuffer in
          gradInput.data.withUnsafeMutableBufferPointer { gradInputBuffer in
            gradTheta.data.withUnsafeMutableBufferPointer { gradThetaBuffer in
              let src = inputBuffer.baseAddress!, gOut = gradOutputBuffer.baseAddress!, xsPointer = xsBuffer.baseAddress!
              // NOTE: an empty array may still have a base address; never write through it.
              let gIn = needInputGradient ? gradInputBuffer.baseAddress : nil, gTheta = gradThetaBuffer.baseAddress!
              // NOTE: one chunk per image: gradInput of an image is written by one chunk only.
              parallelFor(chunks: n, threads: threads) { b in
                let t = thetaBuffer.baseAddress! + b * 6
                let planeIn = h * w, planeOut = ho * wo
                let imageIn = src + b * c * planeIn, imageGradOut = gOut + b * c * planeOut
                let imageGradIn = gIn.map { $0 + b * c * planeIn }
                var sums = SIMD8<Double>()  // d/dtheta: (x·gX, y·gX, gX, x·gY, y·gY, gY)
                for oy in 0..<ho {
                  let row = AffineRow(t0: t[0], t1: t[1], t2: t[2], t3: t[3], t4: t[4], t5: t[5], y: ys[oy])
                  let rowGradOut = imageGradOut + oy * wo
                  // Per-row float sums of gX·x, gX, gY·x, gY (y is constant along the row).
                  var rowSums = SIMD4<Float>()
                  if zerosRowKernel {
                    // AVX2: the whole row with masked taps, border columns included.
                    var cRow = cAffineRow(row, width: w, height: h, alignCorners: alignCorners)
                    rowSums = summedLanes { lanes in
                      cwk_affine_backward_row_zeros_avx2(imageIn, imageGradIn, rowGradOut, &cRow, xsPointer, wo, w, h, c, planeIn, planeOut,
                                                         xMultiplier, yMultiplier, lanes)
                    }
                    let y = Double(ys[oy])
                    let r = SIMD4<Double>(Double(rowSums[0]), Double(rowSums[1]), Double(rowSums[2]), Double(rowSums[3]))
                    sums += SIMD8(r[0], r[1] * y, r[1], r[2], r[3] * y, r[3], 0, 0)
                    continue
                  }
                  func checked(_ columns: Range<Int>) {
                    for ox in columns {
                      let (x, xMultiplier) = sourceIndexWithGradient(row.gx(xsPointer[ox]), size: w, padding: padding, alignCorners: alignCorners)
                      let (y, yMultiplier) = sourceIndexWithGradient(row.gy(xsPointer[ox]), size: h, padding: padding, alignCorners: alignCorners)
                      switch options.mode {
                      case .nearest:
                        guard let gradIn = imageGradIn else { continue }
                        let ix = Int(roundHalfToEven(x)), iy = Int(roundHalfToEven(y))
                        if ix >= 0 && ix < w && iy >= 0 && iy < h {
                          let offset = iy * w + ix
                          for ch in 0..<c { gradIn[ch * planeIn + offset] += rowGradOut[ch * planeOut + ox] }
                        }
                      case .bilinear:
                        if bilinearMissesInput(x: x, y: y, width: w, height: h) { continue }
                        let taps = bilinearTaps(x: x, y: y, width: w, height: h)
                        let (gx, gy) = bilinearBackwardPosition(
                          taps, input: imageIn, gradIn: imageGradIn, gradOut: rowGradOut + ox,
                          channels: c, planeIn: planeIn, planeOut: planeOut)
                        let gX = gx * xMultiplier, gY = gy * yMultiplier
                        let bx = xsPointer[ox]
                        rowSums += SIMD4(gX * bx, gX, gY * bx, gY)
                      }
                    }
                  }
                  let interior = (options.mode == .bilinear && padding != .reflection)
                    ? affineInteriorSpan(row, xs: xsPointer, count: wo, width: w, height: h, alignCorners: alignCorners, strict: true) : 0..<0
                  checked(0..<interior.lowerBound)
                  if !interior.isEmpty {
                    rowSums += affineInteriorBackward(
                      imageIn, gradIn: imageGradIn, gradOut: rowGradOut, row: row, xs: xsPointer, columns: interior,
                      width: w, height: h, channels: c, alignCorners: alignCorners, planeIn: planeIn, planeOut: planeOut)
                  }
                  checked(interior.upperBound..<wo)
                  let y = Double(ys[oy])
                  let r = SIMD4<Double>(Double(rowSums[0]), Double(rowSums[1]), Double(rowSums[2]), Double(rowSums[3]))
                  sums += SIMD8(r[0], r[1] * y, r[1], r[2], r[3] * y, r[3], 0, 0)
                }
                for k in 0..<6 { gTheta[b * 6 + k] = Float(sums[k]) }
              }
            }
          }
        }
      }
    }
  }
  return (gradInput, gradTheta)
}

/// Bilinear interior of one row in the backward: every tap inside and strictly off the clip
/// borders, so the coordinate derivative is the constant unnormalize scale. Returns the row's
/// (gX·x, gX, gY·x, gY) sums.
@inline(__always)
func affineInteriorBackward(
  _ imageIn: UnsafePointer<Float>, gradIn: UnsafeMutablePointer<Float>?, gradOut: UnsafePointer<Float>, row: AffineRow,
  xs: UnsafePointer<Float>, columns: Range<Int>, width w: Int, height h: Int, channels c: Int, alignCorners: Bool,
  planeIn: Int, planeOut: Int
) -> SIMD4<Float> {
  let xMultiplier = unnormalizeGradient(size: w, alignCorners: alignCorners)
  let yMultiplier = unnormalizeGradient(size: h, alignCorners: alignCorners)
  var sums = SIMD4<Float>()
  var start = columns.lowerBound
  if useAVX2Kernels && columns.count >= 8 {
    // The AVX2 twin fills the same 4 lane accumulators; the lanes are summed here as below.
    var cRow = cAffineRow(row, width: w, height: h, alignCorners: alignCorners)
    return summedLanes { lanes in
      cwk_affine_backward_interior_avx2(imageIn, gradIn, gradOut, &cRow, xs, columns.lowerBound, columns.upperBound, w, c, planeIn, planeOut,
                                        xMultiplier, yMultiplier, lanes)
    }
  }
  if columns.count >= 8 {
    var sumXX = SIMD8<Float>(), sumX = SIMD8<Float>(), sumYX = SIMD8<Float>(), sumY = SIMD8<Float>()
    let laneIndex = SIMD8<Int32>(0, 1, 2, 3, 4, 5, 6, 7)
    // NOTE: the last block of 8 is moved left to end at the span's end; its lanes already done
    // get gradOutput 0, so they add exactly 0 everywhere (instead of a scalar tail).
    while start < columns.upperBound {
      let block = min(start, columns.upperBound - 8)
      let skip = Int32(start - block)
      let geometry = interiorGeometry8(row, xs: xs, ox: block, width: w, height: h, alignCorners: alignCorners)
      let west = 1 - geometry.east, north = 1 - geometry.south
      var gx = SIMD8<Float>(), gy = SIMD8<Float>()
      for ch in 0..<c {
        let p = imageIn + ch * planeIn
        var g = UnsafeRawPointer(gradOut + ch * planeOut + block).loadUnaligned(as: SIMD8<Float>.self)
        if skip > 0 { g.replace(with: 0, where: laneIndex .< skip) }
        let nw = gather8(p, geometry.base), ne = gather8(p + 1, geometry.base)
        let sw = gather8(p + w, geometry.base), se = gather8(p + w + 1, geometry.base)
        if let gradIn {
          let q = gradIn + ch * planeIn
          let a0 = geometry.w0 * g, a1 = geometry.w1 * g, a2 = geometry.w2 * g, a3 = geometry.w3 * g
          // NOTE: one tap at a time over the 8 lanes. Adding nw and ne of a pixel together let
          // the compiler pair them into 8-byte loads/stores that overlap the next pixel's,
          // which defeats store-to-load forwarding and stalled this loop.
          for lane in 0..<8 { q[Int(geometry.base[lane])] += a0[lane] }
          for lane in 0..<8 { q[Int(geometry.base[lane]) + 1] += a1[lane] }
          for lane in 0..<8 { q[Int(geometry.base[lane]) + w] += a2[lane] }
          for lane in 0..<8 { q[Int(geometry.base[lane]) + w + 1] += a3[lane] }
        }
        gx += ((ne - nw) * north + (se - sw) * geometry.south) * g
        gy += ((sw - nw) * west + (se - ne) * geometry.east) * g
      }
      let gX = gx * xMultiplier, gY = gy * yMultiplier
      let bx = UnsafeRawPointer(xs + block).loadUnaligned(as: SIMD8<Float>.self)
      sumXX += gX * bx; sumX += gX; sumYX += gY * bx; sumY += gY
      start = block + 8
    }
    sums = SIMD4(sumXX.sum(), sumX.sum(), sumYX.sum(), sumY.sum())
  }
  for ox in start..<columns.upperBound {
    let bx = xs[ox]
    let x = unnormalize(row.gx(bx), size: w, alignCorners: alignCorners)
    let y = unnormalize(row.gy(bx), size: h, alignCorners: alignCorners)
    let x0 = floorFast(x), y0 = floorFast(y)
    let east = x - x0, south = y - y0
    let west = 1 - east, north = 1 - south
    let w0 = north * west, w1 = north * east, w2 = south * west, w3 = south * east
    let base = Int(y0) * w + Int(x0)
    var gx: Float = 0, gy: Float = 0
    for ch in 0..<c {
      let p = imageIn + ch * planeIn + base
      let g = gradOut[ch * planeOut + ox]
      let nw = p[0], ne = p[1], sw = p[w], se = p[w + 1]
      if let gradIn {
        let q = gradIn + ch * planeIn + base
        q[0] += w0 * g; q[1] += w1 * g; q[w] += w2 * g; q[w + 1] += w3 * g
      }
      gx += ((ne - nw) * north + (se - sw) * south) * g
      gy += ((sw - nw) * west + (se - ne) * east) * g
    }
    let gX = gx * xMultiplier, gY = gy * yMultiplier
    sums += SIMD4(gX * bx, gX, gY * bx, gY)
  }
  return sums
}
