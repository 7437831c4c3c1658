#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A thin-plate spline f: R² -> R² that maps each control point c_i onto its target t_i with the
/// least bending energy (Bookstein 1989; the TPS of the Spatial Transformer Networks paper):
///
///   f(p) = a0 + ax·p.x + ay·p.y + Σ_i w_i · U(|p - c_i|),   U(r) = r² log r²   (U(0) = 0),
///
/// where (w, a) solve the standard system
///
///   [ K   P ] [ w ]   [ t ]
///   [ Pᵀ  0 ] [ a ] = [ 0 ],   K_ij = U(|c_i - c_j|),  P_i = (1, c_i.x, c_i.y).
///
/// The kernels are centred on the control points. (Kornia 0.9's `get_tps_transform(src, dst)`
/// centres them on `dst` instead, which interpolates the same pairs with another spline; its
/// `warp_points_tps` / `warp_image_tps` evaluate f exactly as here, with U halved.) Coordinates
/// are whatever frame the caller uses; spatial transformers use output normalized coordinates for
/// c and input normalized coordinates for t. Double precision throughout.
public struct ThinPlateSpline: Equatable, Sendable {
  /// The kernel centres c_i.
  public let controlPoints: [SIMD2<Double>]
  /// f(c_i).
  public let targets: [SIMD2<Double>]
  /// w_i, one (x, y) pair per control point.
  public let kernelWeights: [SIMD2<Double>]
  /// a0, ax, ay: the affine part, each an (x, y) pair.
  public let affineWeights: [SIMD2<Double>]

  /// Solves for the spline through `controlPoints[i] -> targets[i]`. Nil unless the counts match
  /// and the points determine a spline: at least 3, all finite, distinct, not all on one line.
  public init?(controlPoints: [SIMD2<Double>], targets: [SIMD2<Double>]) {
    guard controlPoints.count == targets.count, let m = ThinPlateSpline.interpolationMatrix(controlPoints: controlPoints) else { return nil }
    let k = controlPoints.count
    var weights = [SIMD2<Double>](repeating: .zero, count: k + 3)
    for j in 0..<(k + 3) {
      for i in 0..<k { weights[j] += m[j * k + i] * targets[i] }
    }
    guard weights.allSatisfy({ $0.x.isFinite && $0.y.isFinite }), targets.allSatisfy({ $0.x.isFinite && $0.y.isFinite }) else { return nil }
    self.controlPoints = controlPoints
    self.targets = targets
    kernelWeights = Array(weights[0..<k])
    affineWeights = Array(weights[k...])
  }

  /// f(p).
  public func apply(_ p: SIMD2<Double>) -> SIMD2<Double> {
    var result = affineWeights[0] + p.x * affineWeights[1] + p.y * affineWeights[2]
    for (c, w) in zip(controlPoints, kernelWeights) {
      let d = p - c
      result += ThinPlateSpline.radialBasis(squaredDistance: (d * d).sum()) * w
    }
    return result
  }

  /// f(x, y).
  public func apply(x: Double, y: Double) -> (x: Double, y: Double) {
    let p = apply(SIMD2(x, y))
    return (p.x, p.y)
  }

  /// The spline through the same pairs in the other direction (targets -> control points). A TPS
  /// has no closed-form inverse; this one inverts f exactly at the control points and
  /// approximately between them (well while f stays close to affine). Nil when the targets do
  /// not determine a spline.
  public func approximateInverse() -> ThinPlateSpline? {
    ThinPlateSpline(controlPoints: targets, targets: controlPoints)
  }

  // MARK: - Building blocks

  /// U(r) = r² log r² from the squared distance r² (0 at 0).
  @inline(__always)
  public static func radialBasis(squaredDistance r2: Double) -> Double {
    r2 > 0 ? r2 * naturalLog(r2) : 0
  }

  /// `radialBasis` of each lane (the same bits).
  @inline(__always)
  static func radialBasis(squaredDistances r2: SIMD4<Double>) -> SIMD4<Double> {
    (r2 * naturalLog(r2)).replacing(with: 0, where: .!(r2 .> 0))
  }

  /// log(x) for x > 0 (x itself for +infinity and NaN, -infinity at 0, NaN below 0), within 1
  /// ulp of libm's `log`, by operations that the map kernels (`cwk_map_row_avx512`, `_avx2`)
  /// repeat one for one, so that every kernel path gives the same maps.
  public static func naturalLog(_ x: Double) -> Double {
    naturalLog(SIMD4(repeating: x))[0]
  }

  /// `naturalLog` of each lane, the one implementation in Swift (the scalar takes a lane).
  ///
  /// The method of fdlibm's e_log.c (Sun Microsystems, 1993): x = 2^k·m with m in [√2/2, √2),
  /// f = m - 1 (exact), s = f / (2 + f), and log m = f - f²/2 + s·(f²/2 + R(s²)), R a degree-7
  /// minimax polynomial in s² (error below 2^-58); k·ln 2 is added in two parts, the high part
  /// exact in k·ln2Hi. Subnormal x is scaled by 2^54 first.
  static func naturalLog(_ input: SIMD4<Double>) -> SIMD4<Double> {
    let subnormal = input .< Double.leastNormalMagnitude
    let x = input.replacing(with: input * 0x1p54, where: subnormal)
    let bits = unsafeBitCast(x, to: SIMD4<Int64>.self)
    var k = (bits &>> 52) &- 1023
    k.replace(with: k &- 54, where: subnormal)
    let mantissa = bits & 0x000F_FFFF_FFFF_FFFF
    // m = 1.mantissa in [1, 2); above √2 (mantissa of 0x3FF6A09E667F3BCD) take m/2 instead.
    let high = mantissa .> 0x6_A09E_667F_3BCD
    k.replace(with: k &+ 1, where: high)
    let exponent = SIMD4<Int64>(repeating: 0x3FF0_0000_0000_0000).replacing(with: 0x3FE0_0000_0000_0000, where: high)
    let f = unsafeBitCast(exponent | mantissa, to: SIMD4<Double>.self) - 1
    let s = f / (2 + f)
    let z = s * s
    let w = z * z
    let t1 = w * (Log.c2 + w * (Log.c4 + w * Log.c6))
    let t2 = z * (Log.c1 + w * (Log.c3 + w * (Log.c5 + w * Log.c7)))
    let r = t2 + t1
    let halfSquare = 0.5 * f * f
    let dk = SIMD4<Double>(k)
    var result = dk * Log.ln2Hi - ((halfSquare - (s * (halfSquare + r) + dk * Log.ln2Lo)) - f)
    // +inf and NaN give themselves, 0 gives -inf, negatives NaN.
    result.replace(with: input, where: .!(input .< .infinity))
    result.replace(with: -.infinity, where: input .== 0)
    result.replace(with: .nan, where: input .< 0)
    return result
  }

  /// naturalLog's constants (fdlibm's Lg1...Lg7, ln2_hi, ln2_lo); CWarpKernels repeats them.
  enum Log {
    static let c1 = 6.666666666666735130e-01
    static let c2 = 3.999999999940941908e-01
    static let c3 = 2.857142874366239149e-01
    static let c4 = 2.222219843214978396e-01
    static let c5 = 1.818357216161805012e-01
    static let c6 = 1.531383769920937332e-01
    static let c7 = 1.479819860511658591e-01
    static let ln2Hi = 6.93147180369123816490e-01
    static let ln2Lo = 1.90821492927058770002e-10
  }

  /// `size` x `size` control points on a regular grid spanning [-1, 1]² (corners included),
  /// row by row from the top (y = -1), x from left to right: point k = (row k / size,
  /// column k % size). size 4 gives the paper's 16 points.
  public static func regularGrid(size: Int) -> [SIMD2<Double>] {
    precondition(size >= 2, "a regular control grid needs at least 2x2 points, got \(size)")
    let step = 2 / Double(size - 1)
    return (0..<(size * size)).map { k in SIMD2(-1 + step * Double(k % size), -1 + step * Double(k / size)) }
  }

  /// The first K columns of the inverse of the system matrix L: (K+3) x K, row-major. Weights
  /// are linear in the targets, (w; a) = M · t, so M is all a fixed set of control points needs.
  /// Nil when L is singular (fewer than 3 points, repeated or collinear points) or a point is
  /// not finite.
  static func interpolationMatrix(controlPoints c: [SIMD2<Double>]) -> [Double]? {
    let k = c.count
    guard k >= 3, c.allSatisfy({ $0.x.isFinite && $0.y.isFinite }) else { return nil }
    let n = k + 3
    var l = [Double](repeating: 0, count: n * n)
    for i in 0..<k {
      for j in 0..<k {
        let d = c[i] - c[j]
        l[i * n + j] = radialBasis(squaredDistance: (d * d).sum())
      }
      for (column, value) in [1, c[i].x, c[i].y].enumerated() {
        l[i * n + k + column] = value
        l[(k + column) * n + i] = value
      }
    }
    var identity = [Double](repeating: 0, count: n * k)
    for i in 0..<k { identity[i * k + i] = 1 }
    return solveLinearSystem(l, identity, size: n, columns: k)
  }
}
