// The fused uint8 warps for a non-affine `PixelMap` (perspective and elastic pipeline stages):
// the same pixel convention, padding, fill and sampling as `warpAffineUInt8` /
// `warpAffineNormalized` (see the top of WarpAffine.swift), one output pixel at a time in Swift.
// The map is evaluated in double precision and the position rounded to float32 before sampling.
// They run the naive affine twins' per-pixel loop (`forEachPixelSample`, no interior fast path)
// at the map's positions, so they are their own naive twin; a test checks that an affine `PixelMap` reproduces `warpAffineUInt8Naive`, and that the
// flattened map the loop evaluates (`FlatPixelMap`) equals `PixelMap.apply` bit for bit.

/// `warpAffineUInt8` for any `PixelMap`: source (height,width,channels) uint8 ->
/// output (outputHeight,outputWidth,channels) uint8, rounded to nearest (halves up), clamped.
public func warpMapUInt8(
  source: UnsafePointer<UInt8>, width: Int, height: Int, channels: Int, destinationToSource map: PixelMap,
  output: UnsafeMutablePointer<UInt8>, outputWidth: Int, outputHeight: Int, options: WarpOptions
) {
  FlatPixelMap(map).withUnsafeParts { pieces, numbers in
    warpPixelsUInt8(source: source, width: width, height: height, channels: channels, output: output, outputWidth: outputWidth,
                    outputHeight: outputHeight, options: options) { FlatPixelMap.position(pieces, numbers, $0, $1) }
  }
}

/// `warpAffineNormalized` for any `PixelMap`: output (channels,outputHeight,outputWidth) float32,
/// `out[c] = sample·scale[c] + bias[c]` with the sample in 0...255 pixel units.
public func warpMapNormalized(
  source: UnsafePointer<UInt8>, width: Int, height: Int, channels: Int, destinationToSource map: PixelMap,
  output: UnsafeMutablePointer<Float>, outputWidth: Int, outputHeight: Int, scale: [Float], bias: [Float],
  options: WarpOptions
) {
  FlatPixelMap(map).withUnsafeParts { pieces, numbers in
    warpPixelsNormalized(source: source, width: width, height: height, channels: channels, output: output, outputWidth: outputWidth,
                         outputHeight: outputHeight, scale: scale, bias: bias, options: options) { FlatPixelMap.position(pieces, numbers, $0, $1) }
  }
}

// MARK: - The map, flattened for the pixel loop

/// A `PixelMap` laid out for the per-pixel loop: its pieces as plain descriptors and all their
/// numbers in one flat buffer, so evaluating a pixel touches no enum payload boxes and no array
/// reference counts. Same arithmetic, in the same order, as `PixelMap.apply` (a test checks that
/// they agree bit for bit).
struct FlatPixelMap {
  /// One piece: a projective map (9 numbers, row-major) or a spline (affine a0, ax, ay as 6
  /// numbers, then per control point c.x, c.y, w.x, w.y) at `offset` in `numbers`.
  struct Piece {
    var isSpline: Bool
    var offset: Int
    var controlPoints: Int
  }

  var pieces: [Piece] = []
  var numbers: [Double] = []

  init(_ map: PixelMap) {
    for piece in map.pieces {
      switch piece {
      case .affine(let t):
        pieces.append(Piece(isSpline: false, offset: numbers.count, controlPoints: 0))
        numbers += t.coefficients + [0, 0, 1]
      case .homography(let h):
        pieces.append(Piece(isSpline: false, offset: numbers.count, controlPoints: 0))
        numbers += h.coefficients
      case .thinPlateSpline(let s):
        pieces.append(Piece(isSpline: true, offset: numbers.count, controlPoints: s.controlPoints.count))
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

  /// `PixelMap.apply` over the flattened pieces.
  @inline(__always)
  static func apply(_ pieces: UnsafeBufferPointer<Piece>, _ numbers: UnsafePointer<Double>, x: Double, y: Double) -> (x: Double, y: Double) {
    var px = x, py = y
    for piece in pieces {
      let m = numbers + piece.offset
      if !piece.isSpline {
        // Homography.apply (an affine piece has the last row 0 0 1: w is exactly 1).
        let w = m[6] * px + m[7] * py + m[8]
        (px, py) = ((m[0] * px + m[1] * py + m[2]) / w, (m[3] * px + m[4] * py + m[5]) / w)
        continue
      }
      // ThinPlateSpline.apply, component by component.
      var rx = m[0] + px * m[2] + py * m[4]
      var ry = m[1] + px * m[3] + py * m[5]
      var k = m + 6
      for _ in 0..<piece.controlPoints {
        let dx = px - k[0], dy = py - k[1]
        let u = ThinPlateSpline.radialBasis(squaredDistance: dx * dx + dy * dy)
        rx += u * k[2]
        ry += u * k[3]
        k += 4
      }
      (px, py) = (rx, ry)
    }
    return (px, py)
  }
}
