// The fused uint8 warps for a non-affine `PixelMap` (perspective and elastic pipeline stages):
// the same pixel convention, padding, fill and sampling as `warpAffineUInt8` /
// `warpAffineNormalized` (see the top of WarpAffine.swift). The map is evaluated in double
// precision and the position rounded to float32 before sampling.
//
// The map is evaluated one output row at a time (`FlatPixelMap.sourcePoints`: 8 columns per
// step in AVX-512, 4 in AVX2, 4 lanes of Swift SIMD elsewhere, with the spline's own logarithm
// `ThinPlateSpline.naturalLog`). Then, 3 channels bilinear: zeros padding with a fill of whole
// bytes (what the pipeline's photo stages use) is sampled by the AVX-512 zeros-padding row
// kernels of the affine warp at the row's positions (`cwk_*_points_zeros_avx512`); otherwise,
// with AVX2, the 8-column blocks wholly inside the source by `cwk_*_points_interior_avx2` and
// the other pixels one by one. Everything else takes the affine naive kernels' per-pixel loop
// (`forEachPixelSample`) at the row's positions. The naive twins below evaluate and sample one
// pixel at a time. Tests check that every kernel path gives their bytes and floats, that the
// row evaluators give `FlatPixelMap.apply`'s doubles, that an affine `PixelMap` reproduces
// `warpAffineUInt8Naive`, and that the flattened map equals `PixelMap.apply` bit for bit.

import CWarpKernels

/// `warpAffineUInt8` for any `PixelMap`: source (height,width,channels) uint8 ->
/// output (outputHeight,outputWidth,channels) uint8, rounded to nearest (halves up), clamped.
public func warpMapUInt8(
  source: UnsafePointer<UInt8>, width: Int, height: Int, channels: Int, destinationToSource map: PixelMap,
  output: UnsafeMutablePointer<UInt8>, outputWidth: Int, outputHeight: Int, options: WarpOptions
) {
  checkWarpArguments(width: width, height: height, channels: channels, outputWidth: outputWidth, outputHeight: outputHeight, options: options)
  let fill = useZerosRowKernels(width: width, height: height, channels: channels, options: options) ? fillBytes3(options) : nil
  let interiorKernel = fill == nil && useMapInteriorKernels(width: width, height: height, channels: channels, options: options)
  withRowPositions(map, outputWidth: outputWidth) { rows in
    if let fill {
      for oy in 0..<outputHeight {
        rows.evaluate(oy)
        cwk_uint8_3_bilinear_points_zeros_avx512(source, width, height, rows.xs, rows.ys, outputWidth, fill, output + oy * outputWidth * 3)
      }
    } else if interiorKernel {
      let (xs, ys) = (rows.xs, rows.ys)  // filled row by row
      forEachRowWithInterior(&rows, outputHeight: outputHeight) { oy, done, sample in
        let row = output + oy * outputWidth * 3
        cwk_uint8_3_bilinear_points_interior_avx2(source, width, height, xs, ys, outputWidth, row, done)
        for ox in 0..<outputWidth where done[ox] == 0 {
          samplePadded(source, width: width, height: height, channels: 3, at: (xs[ox], ys[ox]), options: options, result: sample)
          for c in 0..<3 { row[ox * 3 + c] = roundToUInt8(sample[c]) }
        }
      }
    } else {
      warpPixelsUInt8(source: source, width: width, height: height, channels: channels, output: output, outputWidth: outputWidth,
                      outputHeight: outputHeight, options: options) { rows.position($0, $1) }
    }
  }
}

/// `warpAffineNormalized` for any `PixelMap`: output (channels,outputHeight,outputWidth) float32,
/// `out[c] = sample·scale[c] + bias[c]` with the sample in 0...255 pixel units.
public func warpMapNormalized(
  source: UnsafePointer<UInt8>, width: Int, height: Int, channels: Int, destinationToSource map: PixelMap,
  output: UnsafeMutablePointer<Float>, outputWidth: Int, outputHeight: Int, scale: [Float], bias: [Float],
  options: WarpOptions
) {
  checkWarpArguments(width: width, height: height, channels: channels, outputWidth: outputWidth, outputHeight: outputHeight, options: options)
  let threeValues = scale.count == 3 && bias.count == 3
  let fill = threeValues && useZerosRowKernels(width: width, height: height, channels: channels, options: options) ? fillBytes3(options) : nil
  let interiorKernel = fill == nil && threeValues && useMapInteriorKernels(width: width, height: height, channels: channels, options: options)
  let plane = outputWidth * outputHeight
  withRowPositions(map, outputWidth: outputWidth) { rows in
    if let fill {
      for oy in 0..<outputHeight {
        rows.evaluate(oy)
        let row = output + oy * outputWidth
        cwk_normalized3_bilinear_points_zeros_avx512(source, width, height, rows.xs, rows.ys, outputWidth, fill, row, row + plane,
                                                     row + 2 * plane, scale, bias)
      }
    } else if interiorKernel {
      let (xs, ys) = (rows.xs, rows.ys)  // filled row by row
      forEachRowWithInterior(&rows, outputHeight: outputHeight) { oy, done, sample in
        let row = output + oy * outputWidth
        cwk_normalized3_bilinear_points_interior_avx2(source, width, height, xs, ys, outputWidth, row, row + plane, row + 2 * plane,
                                                      scale, bias, done)
        for ox in 0..<outputWidth where done[ox] == 0 {
          samplePadded(source, width: width, height: height, channels: 3, at: (xs[ox], ys[ox]), options: options, result: sample)
          for c in 0..<3 { row[c * plane + ox] = sample[c] * scale[c] + bias[c] }
        }
      }
    } else {
      warpPixelsNormalized(source: source, width: width, height: height, channels: channels, output: output, outputWidth: outputWidth,
                           outputHeight: outputHeight, scale: scale, bias: bias, options: options) { rows.position($0, $1) }
    }
  }
}

/// True when the AVX2 interior kernels sample a map warp's inside blocks (the per-pixel loop the
/// rest): AVX2 without the AVX-512 row kernels' case, bilinear, 3 channels, zeros or border
/// padding (inside the source both leave a position as it is; reflection may not, so it stays
/// per pixel as in the affine warps), offsets that fit in Int32.
@inline(__always)
func useMapInteriorKernels(width: Int, height: Int, channels: Int, options: WarpOptions) -> Bool {
  useAVX2Kernels && channels == 3 && options.mode == .bilinear && options.padding != .reflection
    && interiorOffsetsFitInt32(width: width, height: height, channels: 3)
}

/// Evaluates each output row's positions and calls `body(oy, done, sample)`: `done` (one byte per
/// column) for the interior kernel to mark the columns it wrote, `sample` room for one pixel's
/// samples for the others.
private func forEachRowWithInterior(
  _ rows: inout RowPositions, outputHeight: Int, _ body: (Int, UnsafeMutablePointer<UInt8>, UnsafeMutablePointer<Float>) -> Void
) {
  withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max(rows.width, 1)) { done in
    withUnsafeTemporaryAllocation(of: Float.self, capacity: 4) { sample in
      guard let done = done.baseAddress, let sample = sample.baseAddress else { return }
      for oy in 0..<outputHeight {
        rows.evaluate(oy)
        body(oy, done, sample)
      }
    }
  }
}

/// Reference for `warpMapUInt8`: one output pixel at a time.
public func warpMapUInt8Naive(
  source: UnsafePointer<UInt8>, width: Int, height: Int, channels: Int, destinationToSource map: PixelMap,
  output: UnsafeMutablePointer<UInt8>, outputWidth: Int, outputHeight: Int, options: WarpOptions
) {
  FlatPixelMap(map).withUnsafeParts { pieces, numbers in
    warpPixelsUInt8(source: source, width: width, height: height, channels: channels, output: output, outputWidth: outputWidth,
                    outputHeight: outputHeight, options: options) { FlatPixelMap.position(pieces, numbers, $0, $1) }
  }
}

/// Reference for `warpMapNormalized`: one output pixel at a time.
public func warpMapNormalizedNaive(
  source: UnsafePointer<UInt8>, width: Int, height: Int, channels: Int, destinationToSource map: PixelMap,
  output: UnsafeMutablePointer<Float>, outputWidth: Int, outputHeight: Int, scale: [Float], bias: [Float],
  options: WarpOptions
) {
  FlatPixelMap(map).withUnsafeParts { pieces, numbers in
    warpPixelsNormalized(source: source, width: width, height: height, channels: channels, output: output, outputWidth: outputWidth,
                         outputHeight: outputHeight, scale: scale, bias: bias, options: options) { FlatPixelMap.position(pieces, numbers, $0, $1) }
  }
}

/// A map's source positions, evaluated one output row at a time and rounded to float32: the
/// values `FlatPixelMap.position` gives, pixel by pixel.
private struct RowPositions {
  let pieces: UnsafeBufferPointer<FlatPixelMap.Piece>
  let numbers: UnsafePointer<Double>
  let width: Int
  /// The row's points in double (`FlatPixelMap.sourcePoints`), then rounded.
  let pointsX, pointsY: UnsafeMutablePointer<Double>
  let xs, ys: UnsafeMutablePointer<Float>
  private var row = -1

  init(pieces: UnsafeBufferPointer<FlatPixelMap.Piece>, numbers: UnsafePointer<Double>, width: Int,
       points: UnsafeMutablePointer<Double>, rounded: UnsafeMutablePointer<Float>) {
    (self.pieces, self.numbers, self.width) = (pieces, numbers, width)
    (pointsX, pointsY, xs, ys) = (points, points + width, rounded, rounded + width)
  }

  /// Fills `xs` and `ys` with row `oy` (once per row).
  mutating func evaluate(_ oy: Int) {
    guard oy != row else { return }
    FlatPixelMap.sourcePoints(pieces, numbers, y: oy, count: width, xs: pointsX, ys: pointsY)
    for ox in 0..<width { (xs[ox], ys[ox]) = (Float(pointsX[ox]), Float(pointsY[ox])) }
    row = oy
  }

  /// The position of output pixel (ox, oy).
  mutating func position(_ ox: Int, _ oy: Int) -> (x: Float, y: Float) {
    evaluate(oy)
    return (xs[ox], ys[ox])
  }
}

/// Runs `body` with the row positions of `map` over an output `outputWidth` wide.
private func withRowPositions(_ map: PixelMap, outputWidth: Int, _ body: (inout RowPositions) -> Void) {
  let n = max(outputWidth, 1)
  withUnsafeTemporaryAllocation(of: Double.self, capacity: 2 * n) { points in
    withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * n) { rounded in
      guard let points = points.baseAddress, let rounded = rounded.baseAddress else { return }
      FlatPixelMap(map).withUnsafeParts { pieces, numbers in
        var rows = RowPositions(pieces: pieces, numbers: numbers, width: outputWidth, points: points, rounded: rounded)
        body(&rows)
      }
    }
  }
}

// MARK: - The map, flattened for the pixel loop

/// A `PixelMap` laid out for the per-pixel loop: its pieces as plain descriptors and all their
/// numbers in one flat buffer, so evaluating a pixel touches no enum payload boxes and no array
/// reference counts. Same arithmetic, in the same order, as `PixelMap.apply` (a test checks that
/// they agree bit for bit).
struct FlatPixelMap {
  /// One piece: a projective map (9 numbers, row-major) or a spline (affine a0, ax, ay as 6
  /// numbers, then per control point c.x, c.y, w.x, w.y) at `offset` in `numbers` (the C
  /// layout, so that `cwk_map_row_avx512` reads the same pieces).
  typealias Piece = cwk_map_piece

  var pieces: [Piece] = []
  var numbers: [Double] = []

  init(_ map: PixelMap) {
    for piece in map.pieces {
      switch piece {
      case .affine(let t):
        pieces.append(Piece(is_spline: 0, control_points: 0, offset: numbers.count))
        numbers += t.coefficients + [0, 0, 1]
      case .homography(let h):
        pieces.append(Piece(is_spline: 0, control_points: 0, offset: numbers.count))
        numbers += h.coefficients
      case .thinPlateSpline(let s):
        pieces.append(Piece(is_spline: 1, control_points: Int32(s.controlPoints.count), offset: numbers.count))
        for a in s.affineWeights { numbers += [a.x, a.y] }
        for (c, w) in zip(s.controlPoints, s.kernelWeights) { numbers += [c.x, c.y, w.x, w.y] }
      case .composition:
        break  // `pieces` never nests
      }
    }
  }

  /// Calls `body` with the pieces and the numbers (never empty: a map has at least one piece).
  func withUnsafeParts(_ body: (UnsafeBufferPointer<Piece>, UnsafePointer<Double>) -> Void) {
    pieces.withUnsafeBufferPointer { pieces in
      numbers.withUnsafeBufferPointer { numbers in
        guard let base = numbers.baseAddress else { return }
        body(pieces, base)
      }
    }
  }

  /// The source position of output pixel (ox, oy): `apply` in double, rounded to float32.
  @inline(__always)
  static func position(_ pieces: UnsafeBufferPointer<Piece>, _ numbers: UnsafePointer<Double>, _ ox: Int, _ oy: Int) -> (x: Float, y: Float) {
    let p = apply(pieces, numbers, x: Double(ox), y: Double(oy))
    return (Float(p.x), Float(p.y))
  }

  /// `apply` at output pixels (0..<count, y), bit for bit: 8 columns at a time in AVX-512 or 4 in
  /// AVX2 where the warp kernels may use them, else 4 in Swift SIMD.
  static func sourcePoints(_ pieces: UnsafeBufferPointer<Piece>, _ numbers: UnsafePointer<Double>, y: Int, count: Int,
                           xs: UnsafeMutablePointer<Double>, ys: UnsafeMutablePointer<Double>) {
    if useAVX2Kernels, let base = pieces.baseAddress {
      let row = useAVX512Kernels ? cwk_map_row_avx512 : cwk_map_row_avx2
      row(base, pieces.count, numbers, Double(y), count, xs, ys)
      return
    }
    // Portable: 4 columns at a time in Swift SIMD (the same operations lane by lane).
    let lanes = SIMD4<Double>(0, 1, 2, 3), row = SIMD4<Double>(repeating: Double(y))
    for start in stride(from: 0, to: count, by: 4) {
      let p = apply(pieces, numbers, x: lanes + Double(start), y: row)
      for lane in 0..<min(4, count - start) { (xs[start + lane], ys[start + lane]) = (p.x[lane], p.y[lane]) }
    }
  }

  /// `PixelMap.apply` over the flattened pieces (lane 0 of the 4-point form: one implementation).
  @inline(__always)
  static func apply(_ pieces: UnsafeBufferPointer<Piece>, _ numbers: UnsafePointer<Double>, x: Double, y: Double) -> (x: Double, y: Double) {
    let p = apply(pieces, numbers, x: SIMD4(repeating: x), y: SIMD4(repeating: y))
    return (p.x[0], p.y[0])
  }

  /// `PixelMap.apply` over the flattened pieces at 4 points, lane by lane: the operations, in
  /// their order, that the AVX2 and AVX-512 map rows (`CWK_APPLY_MAP_PIECES`) repeat.
  @inline(__always)
  static func apply(_ pieces: UnsafeBufferPointer<Piece>, _ numbers: UnsafePointer<Double>, x: SIMD4<Double>, y: SIMD4<Double>)
    -> (x: SIMD4<Double>, y: SIMD4<Double>) {
    var px = x, py = y
    for piece in pieces {
      let m = numbers + piece.offset
      if piece.is_spline == 0 {
        // Homography.apply (an affine piece has the last row 0 0 1: w is exactly 1).
        let w = m[6] * px + m[7] * py + m[8]
        (px, py) = ((m[0] * px + m[1] * py + m[2]) / w, (m[3] * px + m[4] * py + m[5]) / w)
        continue
      }
      // ThinPlateSpline.apply, component by component.
      var rx = m[0] + px * m[2] + py * m[4]
      var ry = m[1] + px * m[3] + py * m[5]
      var k = m + 6
      for _ in 0..<piece.control_points {
        let dx = px - k[0], dy = py - k[1]
        let u = ThinPlateSpline.radialBasis(squaredDistances: dx * dx + dy * dy)
        rx += u * k[2]
        ry += u * k[3]
        k += 4
      }
      (px, py) = (rx, ry)
    }
    return (px, py)
  }
}
