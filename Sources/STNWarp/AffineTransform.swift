#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A 2D affine map (x, y) -> (a·x + b·y + c, d·x + e·y + f), in double precision.
///
/// Coordinate convention for the pixel-space constructors: x to the right, y **down**, pixel
/// centres at integer coordinates (pixel (0,0) covers [-0.5, 0.5]², OpenCV's convention). A
/// transform built from the constructors maps *source* pixel positions to *destination* pixel
/// positions (the way torchvision describes "rotate the image by 30°"); sampling needs the
/// inverse, which `samplingTheta` computes. Composition is matrix product: `(A * B)(p) == A(B(p))`,
/// so a chain of geometric steps collapses to one matrix and one resample.
public struct AffineTransform: Equatable, Sendable, CustomStringConvertible {
  public var a: Double, b: Double, c: Double
  public var d: Double, e: Double, f: Double

  /// The map with the given row-major 2x3 coefficients.
  public init(a: Double, b: Double, c: Double, d: Double, e: Double, f: Double) {
    self.a = a; self.b = b; self.c = c
    self.d = d; self.e = e; self.f = f
  }

  /// From six row-major coefficients [a, b, c, d, e, f]; nil unless exactly six finite values.
  public init?(_ m: [Double]) {
    guard m.count == 6, m.allSatisfy({ $0.isFinite }) else { return nil }
    self.init(a: m[0], b: m[1], c: m[2], d: m[3], e: m[4], f: m[5])
  }

  /// The identity map.
  public static let identity = AffineTransform(a: 1, b: 0, c: 0, d: 0, e: 1, f: 0)

  /// Row-major coefficients [a, b, c, d, e, f].
  public var coefficients: [Double] { [a, b, c, d, e, f] }

  /// Coefficients as float32, the layout of one (2,3) theta.
  public var theta: [Float] { coefficients.map { Float($0) } }

  public var description: String { "[[\(a), \(b), \(c)], [\(d), \(e), \(f)]]" }

  /// Determinant of the linear part; zero means the map is not invertible.
  public var determinant: Double { a * e - b * d }

  /// Applies the map to a point.
  @inlinable public func apply(x: Double, y: Double) -> (x: Double, y: Double) {
    (a * x + b * y + c, d * x + e * y + f)
  }

  /// Composition: `(lhs * rhs)(p) == lhs(rhs(p))` (rhs first).
  public static func * (lhs: AffineTransform, rhs: AffineTransform) -> AffineTransform {
    AffineTransform(
      a: lhs.a * rhs.a + lhs.b * rhs.d, b: lhs.a * rhs.b + lhs.b * rhs.e, c: lhs.a * rhs.c + lhs.b * rhs.f + lhs.c,
      d: lhs.d * rhs.a + lhs.e * rhs.d, e: lhs.d * rhs.b + lhs.e * rhs.e, f: lhs.d * rhs.c + lhs.e * rhs.f + lhs.f)
  }

  /// `self` first, then `next`: the same as `next * self`.
  public func followed(by next: AffineTransform) -> AffineTransform { next * self }

  /// The inverse map, or nil when the determinant is zero or not finite (relative to the scale
  /// of the coefficients), so callers can report a degenerate transform instead of producing NaN.
  public func inverted() -> AffineTransform? {
    let det = determinant
    let scale = max(abs(a), abs(b), abs(d), abs(e), 1e-300)
    guard det.isFinite, abs(det) > 1e-12 * scale * scale else { return nil }
    let ia = e / det, ib = -b / det, id = -d / det, ie = a / det
    return AffineTransform(a: ia, b: ib, c: -(ia * c + ib * f), d: id, e: ie, f: -(id * c + ie * f))
  }

  /// Largest absolute coefficient difference.
  public func maxDifference(_ other: AffineTransform) -> Double {
    zip(coefficients, other.coefficients).map { abs($0 - $1) }.max() ?? 0
  }

  // MARK: - Constructors in pixel space (y down, pixel centres at integers)

  /// Translation by (x, y) pixels.
  public static func translation(x: Double, y: Double) -> AffineTransform {
    AffineTransform(a: 1, b: 0, c: x, d: 0, e: 1, f: y)
  }

  /// Translation by a fraction of the image size (torchvision's `translate` is given this way).
  public static func translation(fractionX: Double, fractionY: Double, width: Int, height: Int) -> AffineTransform {
    translation(x: fractionX * Double(width), y: fractionY * Double(height))
  }

  /// Conjugates a linear map so it acts about `center` instead of the origin.
  static func about(_ center: (x: Double, y: Double), _ linear: AffineTransform) -> AffineTransform {
    translation(x: center.x, y: center.y) * linear * translation(x: -center.x, y: -center.y)
  }

  /// Rotation by `degrees` about `center`, counter-clockwise as the image is displayed
  /// (torchvision's `F.rotate`/`RandomRotation` sign: positive angles turn the content to the
  /// left). NOTE: torchvision's `F.affine`/`RandomAffine` use the opposite sign (clockwise); the
  /// pipeline's `affine`/`random_affine` stages follow those (STNPipeline `AffineParameters`).
  public static func rotation(degrees: Double, center: (x: Double, y: Double) = (0, 0)) -> AffineTransform {
    let r = degrees * Double.pi / 180
    let cosine = cos(r), sine = sin(r)
    // y points down, so a visual counter-clockwise turn is [cos, sin; -sin, cos].
    return about(center, AffineTransform(a: cosine, b: sine, c: 0, d: -sine, e: cosine, f: 0))
  }

  /// Scaling by (x, y) about `center`; use equal factors for isotropic scale.
  public static func scale(x: Double, y: Double, center: (x: Double, y: Double) = (0, 0)) -> AffineTransform {
    about(center, AffineTransform(a: x, b: 0, c: 0, d: 0, e: y, f: 0))
  }

  /// Isotropic scaling by `factor` about `center`.
  public static func scale(_ factor: Double, center: (x: Double, y: Double) = (0, 0)) -> AffineTransform {
    scale(x: factor, y: factor, center: center)
  }

  /// Shear about `center`: x' = x + tan(xDegrees)·(y - cy), y' = y + tan(yDegrees)·(x - cx).
  /// (torchvision's `F.affine` shears the other way, and composes its two shears in sequence.)
  public static func shear(xDegrees: Double, yDegrees: Double = 0, center: (x: Double, y: Double) = (0, 0)) -> AffineTransform {
    let sx = tan(xDegrees * Double.pi / 180), sy = tan(yDegrees * Double.pi / 180)
    return about(center, AffineTransform(a: 1, b: sx, c: 0, d: sy, e: 1, f: 0))
  }

  /// Mirror left-right within an image `width` pixels wide: x' = (width - 1) - x.
  public static func horizontalFlip(width: Int) -> AffineTransform {
    AffineTransform(a: -1, b: 0, c: Double(width - 1), d: 0, e: 1, f: 0)
  }

  /// Mirror top-bottom within an image `height` pixels high: y' = (height - 1) - y.
  public static func verticalFlip(height: Int) -> AffineTransform {
    AffineTransform(a: 1, b: 0, c: 0, d: 0, e: -1, f: Double(height - 1))
  }

  /// The centre of a `width` x `height` image in pixel coordinates.
  public static func center(width: Int, height: Int) -> (x: Double, y: Double) {
    (Double(width - 1) / 2, Double(height - 1) / 2)
  }

  // MARK: - PyTorch normalized coordinates

  /// Pixel -> PyTorch normalized coordinate along one axis of `size` pixels.
  ///
  /// align_corners=false: -1 and 1 are the outer *edges* of the first and last pixel,
  /// so x_n = (2x + 1) / size - 1. align_corners=true: -1 and 1 are the *centres* of the first
  /// and last pixel, so x_n = 2x / (size - 1) - 1 (for size 1 we map pixel 0 to 0 with unit
  /// scale, since every normalized value lands on that pixel).
  public static func normalizationAxis(size: Int, alignCorners: Bool) -> (scale: Double, offset: Double) {
    if alignCorners {
      if size <= 1 { return (1, 0) }
      return (2 / Double(size - 1), -1)
    }
    return (2 / Double(size), 1 / Double(size) - 1)
  }

  /// Pixel -> normalized map for a `width` x `height` image.
  public static func pixelToNormalized(width: Int, height: Int, alignCorners: Bool) -> AffineTransform {
    let x = normalizationAxis(size: width, alignCorners: alignCorners)
    let y = normalizationAxis(size: height, alignCorners: alignCorners)
    return AffineTransform(a: x.scale, b: 0, c: x.offset, d: 0, e: y.scale, f: y.offset)
  }

  /// Normalized -> pixel map for a `width` x `height` image.
  public static func normalizedToPixel(width: Int, height: Int, alignCorners: Bool) -> AffineTransform {
    // A diagonal map with nonzero scales is always invertible.
    let forward = pixelToNormalized(width: width, height: height, alignCorners: alignCorners)
    return AffineTransform(a: 1 / forward.a, b: 0, c: -forward.c / forward.a, d: 0, e: 1 / forward.e, f: -forward.f / forward.e)
  }

  /// The `affine_grid` theta that samples a destination of `output` size from a source of
  /// `input` size, when `self` maps source pixels to destination pixels: theta takes output
  /// normalized coordinates to input normalized coordinates. Nil when `self` is not invertible.
  public func samplingTheta(inputWidth: Int, inputHeight: Int, outputWidth: Int, outputHeight: Int, alignCorners: Bool) -> AffineTransform? {
    guard let inverse = inverted() else { return nil }
    return AffineTransform.pixelToNormalized(width: inputWidth, height: inputHeight, alignCorners: alignCorners)
      * inverse
      * AffineTransform.normalizedToPixel(width: outputWidth, height: outputHeight, alignCorners: alignCorners)
  }

  /// The inverse of `samplingTheta`: the source->destination pixel map that a theta describes.
  public static func fromSamplingTheta(_ theta: AffineTransform, inputWidth: Int, inputHeight: Int, outputWidth: Int, outputHeight: Int, alignCorners: Bool) -> AffineTransform? {
    let destinationToSource = AffineTransform.normalizedToPixel(width: inputWidth, height: inputHeight, alignCorners: alignCorners)
      * theta
      * AffineTransform.pixelToNormalized(width: outputWidth, height: outputHeight, alignCorners: alignCorners)
    return destinationToSource.inverted()
  }
}
