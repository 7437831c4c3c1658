/// A plane projective map (a homography) in double precision:
/// (x, y) -> ((h11·x + h12·y + h13) / w, (h21·x + h22·y + h23) / w), w = h31·x + h32·y + h33.
///
/// The 3x3 matrix acts on homogeneous column vectors (x, y, 1); it is defined up to scale, and
/// the *8-parameter form* fixes h33 = 1: [h11, h12, h13, h21, h22, h23, h31, h32] (`parameters`),
/// the layout a projective spatial transformer's localization network outputs. Its first six
/// numbers are an `affine_grid` theta, and with h31 = h32 = 0 the map is that affine map.
/// Conventions otherwise follow `AffineTransform`: the pixel-space helpers put pixel centres at
/// integers, y down; composition is matrix product, `(A * B)(p) == A(B(p))`; `samplingHomography`
/// turns a source->destination pixel map into the output-normalized -> input-normalized map a
/// projective grid samples with.
public struct Homography: Equatable, Sendable, CustomStringConvertible {
  public var h11: Double, h12: Double, h13: Double
  public var h21: Double, h22: Double, h23: Double
  public var h31: Double, h32: Double, h33: Double

  /// The map with the given row-major 3x3 coefficients.
  public init(h11: Double, h12: Double, h13: Double, h21: Double, h22: Double, h23: Double, h31: Double, h32: Double, h33: Double = 1) {
    self.h11 = h11; self.h12 = h12; self.h13 = h13
    self.h21 = h21; self.h22 = h22; self.h23 = h23
    self.h31 = h31; self.h32 = h32; self.h33 = h33
  }

  /// From 8 numbers (the 8-parameter form, h33 = 1) or 9 (row-major 3x3); nil unless the count
  /// fits and every value is finite.
  public init?(_ m: [Double]) {
    guard m.count == 8 || m.count == 9, m.allSatisfy({ $0.isFinite }) else { return nil }
    self.init(h11: m[0], h12: m[1], h13: m[2], h21: m[3], h22: m[4], h23: m[5], h31: m[6], h32: m[7], h33: m.count == 9 ? m[8] : 1)
  }

  /// The affine map as a homography (last row 0 0 1).
  public init(_ affine: AffineTransform) {
    self.init(h11: affine.a, h12: affine.b, h13: affine.c, h21: affine.d, h22: affine.e, h23: affine.f, h31: 0, h32: 0, h33: 1)
  }

  /// The identity map.
  public static let identity = Homography(h11: 1, h12: 0, h13: 0, h21: 0, h22: 1, h23: 0, h31: 0, h32: 0, h33: 1)

  /// Row-major coefficients, 9 numbers.
  public var coefficients: [Double] { [h11, h12, h13, h21, h22, h23, h31, h32, h33] }

  /// The 8-parameter form (scaled so that h33 = 1), or nil when h33 is 0 (the origin maps to
  /// infinity; no 8-parameter form exists).
  public var parameters: [Double]? {
    guard let normalized = normalized() else { return nil }
    return Array(normalized.coefficients.prefix(8))
  }

  /// Row-major coefficients as float32, the layout of one (3,3) homography of `projectiveGrid`.
  public var theta: [Float] { coefficients.map { Float($0) } }

  public var description: String { "[[\(h11), \(h12), \(h13)], [\(h21), \(h22), \(h23)], [\(h31), \(h32), \(h33)]]" }

  /// Determinant of the 3x3 matrix; zero means the map is not invertible.
  public var determinant: Double {
    h11 * (h22 * h33 - h23 * h32) - h12 * (h21 * h33 - h23 * h31) + h13 * (h21 * h32 - h22 * h31)
  }

  /// The same map scaled so that h33 = 1, or nil when h33 is 0 (or the result is not finite).
  public func normalized() -> Homography? {
    guard h33 != 0 else { return nil }
    let scaled = Homography(coefficients.map { $0 / h33 })
    return scaled
  }

  /// The affine map when the last row is (0, 0, h33 != 0), else nil.
  public var affine: AffineTransform? {
    guard h31 == 0, h32 == 0, h33 != 0 else { return nil }
    return AffineTransform(a: h11 / h33, b: h12 / h33, c: h13 / h33, d: h21 / h33, e: h22 / h33, f: h23 / h33)
  }

  /// Applies the map to a point. Points on the line w = 0 map to infinity (non-finite results).
  @inlinable public func apply(x: Double, y: Double) -> (x: Double, y: Double) {
    let w = h31 * x + h32 * y + h33
    return ((h11 * x + h12 * y + h13) / w, (h21 * x + h22 * y + h23) / w)
  }

  /// Composition: `(lhs * rhs)(p) == lhs(rhs(p))` (rhs first).
  public static func * (lhs: Homography, rhs: Homography) -> Homography {
    let l = lhs.coefficients, r = rhs.coefficients
    var m = [Double](repeating: 0, count: 9)
    for i in 0..<3 {
      for j in 0..<3 { m[i * 3 + j] = l[i * 3] * r[j] + l[i * 3 + 1] * r[3 + j] + l[i * 3 + 2] * r[6 + j] }
    }
    return Homography(h11: m[0], h12: m[1], h13: m[2], h21: m[3], h22: m[4], h23: m[5], h31: m[6], h32: m[7], h33: m[8])
  }

  /// `self` first, then `next`: the same as `next * self`.
  public func followed(by next: Homography) -> Homography { next * self }

  /// The inverse map (scaled so that h33 = 1 when possible), or nil when the determinant is zero
  /// or not finite relative to the scale of the coefficients.
  public func inverted() -> Homography? {
    let det = determinant
    let scale = coefficients.reduce(1e-300) { max($0, abs($1)) }
    guard det.isFinite, abs(det) > 1e-12 * scale * scale * scale else { return nil }
    // The adjugate divided by the determinant.
    let inverse = Homography(
      h11: (h22 * h33 - h23 * h32) / det, h12: (h13 * h32 - h12 * h33) / det, h13: (h12 * h23 - h13 * h22) / det,
      h21: (h23 * h31 - h21 * h33) / det, h22: (h11 * h33 - h13 * h31) / det, h23: (h13 * h21 - h11 * h23) / det,
      h31: (h21 * h32 - h22 * h31) / det, h32: (h12 * h31 - h11 * h32) / det, h33: (h11 * h22 - h12 * h21) / det)
    return inverse.normalized() ?? inverse
  }

  /// Largest absolute coefficient difference.
  public func maxDifference(_ other: Homography) -> Double {
    zip(coefficients, other.coefficients).map { abs($0 - $1) }.max() ?? 0
  }

  // MARK: - Four point pairs

  /// The homography (h33 = 1) that maps each of 4 `source` points onto the matching
  /// `destination` point, as OpenCV's `getPerspectiveTransform` and Kornia's
  /// `get_perspective_transform` compute it (the same 8x8 linear system). Nil unless there are
  /// exactly 4 finite pairs in general position (no three source or destination points on a line).
  public init?(mapping source: [SIMD2<Double>], to destination: [SIMD2<Double>]) {
    guard source.count == 4, destination.count == 4 else { return nil }
    // u = (h11 x + h12 y + h13) / (h31 x + h32 y + 1), so h11 x + h12 y + h13 - h31 x u - h32 y u = u;
    // likewise for v. Unknowns h11 h12 h13 h21 h22 h23 h31 h32.
    var a = [Double](repeating: 0, count: 64), b = [Double](repeating: 0, count: 8)
    for i in 0..<4 {
      let (x, y) = (source[i].x, source[i].y), (u, v) = (destination[i].x, destination[i].y)
      let rowU = 2 * i * 8, rowV = (2 * i + 1) * 8
      a[rowU + 0] = x; a[rowU + 1] = y; a[rowU + 2] = 1; a[rowU + 6] = -x * u; a[rowU + 7] = -y * u
      a[rowV + 3] = x; a[rowV + 4] = y; a[rowV + 5] = 1; a[rowV + 6] = -x * v; a[rowV + 7] = -y * v
      b[2 * i] = u
      b[2 * i + 1] = v
    }
    guard let h = solveLinearSystem(a, b, size: 8, columns: 1) else { return nil }
    self.init(h11: h[0], h12: h[1], h13: h[2], h21: h[3], h22: h[4], h23: h[5], h31: h[6], h32: h[7], h33: 1)
  }

  // MARK: - PyTorch normalized coordinates

  /// The projective-grid homography that samples a destination of `output` size from a source of
  /// `input` size, when `self` maps source pixels to destination pixels: it takes output
  /// normalized coordinates to input normalized coordinates (h33 = 1). Nil when `self` is not
  /// invertible or the result has no 8-parameter form.
  public func samplingHomography(inputWidth: Int, inputHeight: Int, outputWidth: Int, outputHeight: Int, alignCorners: Bool) -> Homography? {
    guard let inverse = inverted() else { return nil }
    let toNormalized = Homography(AffineTransform.pixelToNormalized(width: inputWidth, height: inputHeight, alignCorners: alignCorners))
    let fromNormalized = Homography(AffineTransform.normalizedToPixel(width: outputWidth, height: outputHeight, alignCorners: alignCorners))
    return (toNormalized * inverse * fromNormalized).normalized()
  }

  /// The inverse of `samplingHomography`: the source->destination pixel map a sampling
  /// homography describes.
  public static func fromSamplingHomography(
    _ sampling: Homography, inputWidth: Int, inputHeight: Int, outputWidth: Int, outputHeight: Int, alignCorners: Bool
  ) -> Homography? {
    let toPixel = Homography(AffineTransform.normalizedToPixel(width: inputWidth, height: inputHeight, alignCorners: alignCorners))
    let toNormalized = Homography(AffineTransform.pixelToNormalized(width: outputWidth, height: outputHeight, alignCorners: alignCorners))
    return (toPixel * sampling * toNormalized).inverted()
  }
}
