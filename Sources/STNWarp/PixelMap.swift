/// An output-pixel -> source-pixel map that may be non-affine: what the one resample of a
/// pipeline chain with perspective or elastic stages samples with (x right, y down, pixel
/// centres at integers, as `AffineTransform`).
///
/// Built by `then`, which keeps the form small: neighbouring affine and projective pieces
/// multiply into one `AffineTransform` or one `Homography`, so affine + perspective is a single
/// homography and an elastic step is at most (projective, spline, projective).
public indirect enum PixelMap: Equatable, Sendable {
  case affine(AffineTransform)
  case homography(Homography)
  /// The spline's control points are in the frame of the map's input (the output side), its
  /// targets in the frame of its result.
  case thinPlateSpline(ThinPlateSpline)
  /// `pieces[0]` acts first (on the output pixel), then `pieces[1]`, ...: at least two pieces,
  /// none a composition, no two projective neighbours.
  case composition([PixelMap])

  /// The identity map.
  public static let identity = PixelMap.affine(.identity)

  /// The pieces in order (one for a non-composition).
  public var pieces: [PixelMap] {
    if case .composition(let pieces) = self { return pieces }
    return [self]
  }

  /// The pixel map of `normalized`, a map from output to input in PyTorch's normalized
  /// coordinates (what a spatial transformer's grid holds, `affine_grid`'s convention): output
  /// pixel -> output normalized -> `normalized` -> input normalized -> input pixel.
  public static func fromNormalized(_ normalized: PixelMap, inputWidth: Int, inputHeight: Int, outputWidth: Int, outputHeight: Int,
                                    alignCorners: Bool) -> PixelMap {
    PixelMap.affine(.pixelToNormalized(width: outputWidth, height: outputHeight, alignCorners: alignCorners))
      .then(normalized)
      .then(.affine(.normalizedToPixel(width: inputWidth, height: inputHeight, alignCorners: alignCorners)))
  }

  /// The projective form of a piece, nil for a spline or a composition.
  var projective: Homography? {
    switch self {
    case .affine(let t): return Homography(t)
    case .homography(let h): return h
    case .thinPlateSpline, .composition: return nil
    }
  }

  /// `self` first, then `next`: (self.then(next))(p) == next(self(p)).
  public func then(_ next: PixelMap) -> PixelMap {
    var result = pieces
    for piece in next.pieces {
      guard let last = result.last else { result.append(piece); continue }
      switch (last, piece) {
      case (.affine(let first), .affine(let second)):
        result[result.count - 1] = .affine(second * first)
      default:
        if let first = last.projective, let second = piece.projective {
          result[result.count - 1] = .homography(second * first)
        } else {
          result.append(piece)
        }
      }
    }
    // An identity piece changes nothing (elastic steps leave identity affines beside them).
    if result.count > 1 { result.removeAll { $0 == .affine(.identity) } }
    if result.isEmpty { return .identity }
    return result.count == 1 ? result[0] : .composition(result)
  }

  /// The source pixel the output pixel (x, y) reads.
  @inlinable public func apply(x: Double, y: Double) -> (x: Double, y: Double) {
    switch self {
    case .affine(let t): return t.apply(x: x, y: y)
    case .homography(let h): return h.apply(x: x, y: y)
    case .thinPlateSpline(let spline): return spline.apply(x: x, y: y)
    case .composition(let pieces):
      var p = (x: x, y: y)
      for piece in pieces { p = piece.apply(x: p.x, y: p.y) }
      return p
    }
  }

  /// True when every coefficient is finite (a non-invertible stage is planned as a map of NaNs).
  public var isFinite: Bool {
    switch self {
    case .affine(let t): return t.coefficients.allSatisfy(\.isFinite)
    case .homography(let h): return h.coefficients.allSatisfy(\.isFinite)
    case .thinPlateSpline(let s): return (s.kernelWeights + s.affineWeights).allSatisfy { $0.x.isFinite && $0.y.isFinite }
    case .composition(let pieces): return pieces.allSatisfy(\.isFinite)
    }
  }

  /// How many source pixels one output pixel step covers along source x and along source y: the
  /// lengths of the Jacobian's rows (for an affine map, exactly the footprint of the affine path),
  /// taken as the MINIMUM over the output's four corner pixels and its centre (central
  /// differences, half a pixel each way).
  ///
  /// NOTE: the minimum, not the maximum, because the prefilter that uses it (box-halving the whole
  /// image) acts everywhere at once: halving where only part of the output minifies would blur
  /// the parts that do not, and a perspective map's scale varies a lot across the image; where it
  /// shrinks more than the minimum, the bilinear pass may alias a little (as torchvision's
  /// `F.perspective`, which never prefilters). Nil when no sampled point is finite.
  public func footprint(outputWidth: Int, outputHeight: Int) -> (x: Double, y: Double)? {
    let right = Double(max(outputWidth - 1, 0)), bottom = Double(max(outputHeight - 1, 0))
    let points = [(0.0, 0.0), (right, 0), (0, bottom), (right, bottom), (right / 2, bottom / 2)]
    var result: (x: Double, y: Double)?
    for (x, y) in points {
      let left = apply(x: x - 0.5, y: y), rightPoint = apply(x: x + 0.5, y: y)
      let up = apply(x: x, y: y - 0.5), down = apply(x: x, y: y + 0.5)
      // Rows of the Jacobian d(source)/d(output).
      let xx = rightPoint.x - left.x, xy = down.x - up.x
      let yx = rightPoint.y - left.y, yy = down.y - up.y
      let fx = (xx * xx + xy * xy).squareRoot(), fy = (yx * yx + yy * yy).squareRoot()
      guard fx.isFinite, fy.isFinite else { continue }
      result = result.map { (min($0.x, fx), min($0.y, fy)) } ?? (fx, fy)
    }
    return result
  }
}
