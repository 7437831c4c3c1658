import XCTest
import STNFiles
import STNTensor
import STNTestSupport
@testable import STNWarp

final class ThinPlateSplineTests: XCTestCase {
  func testHandComputedBasisAndGrid() {
    XCTAssertEqual(ThinPlateSpline.radialBasis(squaredDistance: 0), 0)
    XCTAssertEqual(ThinPlateSpline.radialBasis(squaredDistance: 1), 0)
    XCTAssertEqual(ThinPlateSpline.radialBasis(squaredDistance: 4), 4 * log(4.0), accuracy: 1e-15)
    let grid = ThinPlateSpline.regularGrid(size: 4)
    XCTAssertEqual(grid.count, 16)
    XCTAssertEqual(grid[0], [-1, -1])
    XCTAssertEqual(grid[1].x, -1.0 / 3.0, accuracy: 1e-15)
    XCTAssertEqual(grid[1].y, -1)
    XCTAssertEqual(grid[4].x, -1)  // second row
    XCTAssertEqual(grid[4].y, -1.0 / 3.0, accuracy: 1e-15)
    XCTAssertEqual(grid[15], [1, 1])
  }

  /// `naturalLog` (the one the map kernels repeat in AVX-512) is within 1 ulp of libm's `log`
  /// over the whole double range, subnormals included, exact at powers of 2 (k·ln 2 in two
  /// parts) and at 1, and total: +inf and NaN give themselves, 0 gives -inf, negatives NaN.
  func testNaturalLogIsWithinOneUlpOfLibm() {
    var random = RandomStream(seed: 5)
    var worst = 0.0, exact = 0
    let count = 200_000
    for i in 0..<count {
      // Uniform in the exponent and the mantissa: every binade, subnormals and around 1.
      let x: Double
      switch i % 4 {
      case 0: x = Double(bitPattern: random.next() & 0x7FEF_FFFF_FFFF_FFFF | 0x0010_0000_0000_0000)
      case 1: x = Double(bitPattern: random.next() & 0x000F_FFFF_FFFF_FFFF | 1)
      case 2: x = 1 + random.uniform(-0.3, 0.5)
      default: x = random.uniform(0, 2e4)  // squared pixel distances
      }
      let ours = ThinPlateSpline.naturalLog(x), libm = log(x)
      let ulps = abs(ours - libm) / libm.ulp
      worst = max(worst, ulps)
      if ours == libm { exact += 1 }
    }
    XCTAssertLessThanOrEqual(worst, 1, "worst error in ulps")
    XCTAssertGreaterThan(exact, count * 9 / 10, "equal to libm's log")
    for k in -1074...1023 {
      let x = 0x1p0 * pow(2.0, Double(k))
      XCTAssertEqual(ThinPlateSpline.naturalLog(x), log(x), "2^\(k)")
    }
    XCTAssertEqual(ThinPlateSpline.naturalLog(1), 0)
    XCTAssertEqual(ThinPlateSpline.naturalLog(.infinity), .infinity)
    XCTAssertTrue(ThinPlateSpline.naturalLog(.nan).isNaN)
    XCTAssertEqual(ThinPlateSpline.naturalLog(0), -.infinity)
    XCTAssertTrue(ThinPlateSpline.naturalLog(-1).isNaN)
    XCTAssertEqual(ThinPlateSpline.radialBasis(squaredDistance: .nan), 0)
  }

  /// Three points determine an affine map (no bending): f(p) = A·p everywhere. A spline through
  /// an affine image of a grid is that affine map too, with zero kernel weights.
  func testReproducesAffineMaps() throws {
    let affine = AffineTransform(a: 1.2, b: -0.3, c: 0.1, d: 0.25, e: 0.8, f: -0.2)
    func image(_ p: SIMD2<Double>) -> SIMD2<Double> { let q = affine.apply(x: p.x, y: p.y); return SIMD2(q.x, q.y) }
    for points in [[SIMD2(0.0, 0.0), [1, 0], [0, 1]], ThinPlateSpline.regularGrid(size: 4)] {
      let spline = try XCTUnwrap(ThinPlateSpline(controlPoints: points, targets: points.map(image)))
      XCTAssertLessThan(spline.kernelWeights.map { max(abs($0.x), abs($0.y)) }.max() ?? 1, 1e-12)
      for p in [SIMD2(0.3, -0.7), [1.5, 2], [-1, 0.25]] {
        XCTAssertLessThan(max(abs(spline.apply(p).x - image(p).x), abs(spline.apply(p).y - image(p).y)), 1e-12)
      }
    }
  }

  /// The spline interpolates its pairs; the approximate inverse maps the targets back.
  func testInterpolatesAndInvertsAtTheControlPoints() throws {
    var random = RandomStream(seed: 5)
    let control = ThinPlateSpline.regularGrid(size: 4)
    let targets = control.map { $0 + SIMD2(random.uniform(-0.15, 0.15), random.uniform(-0.15, 0.15)) }
    let spline = try XCTUnwrap(ThinPlateSpline(controlPoints: control, targets: targets))
    let inverse = try XCTUnwrap(spline.approximateInverse())
    for (c, t) in zip(control, targets) {
      XCTAssertLessThan(max(abs(spline.apply(c).x - t.x), abs(spline.apply(c).y - t.y)), 1e-12)
      XCTAssertLessThan(max(abs(inverse.apply(t).x - c.x), abs(inverse.apply(t).y - c.y)), 1e-12)
    }
    let point = spline.apply(x: 0.1, y: 0.2)
    XCTAssertEqual(SIMD2(point.x, point.y), spline.apply(SIMD2(0.1, 0.2)))
  }

  func testDegeneratePointsGiveNil() {
    let line: [SIMD2<Double>] = [[0, 0], [1, 1], [2, 2], [3, 3]]
    XCTAssertNil(ThinPlateSpline(controlPoints: line, targets: line))
    XCTAssertNil(ThinPlateSpline(controlPoints: [[0, 0], [1, 0], [0, 1], [0, 1]], targets: line))
    XCTAssertNil(ThinPlateSpline(controlPoints: [[0, 0], [1, 0]], targets: [[0, 0], [1, 0]]))
    XCTAssertNil(ThinPlateSpline(controlPoints: [[0, 0], [1, 0], [0, 1]], targets: [[0, 0], [1, 0]]))
    XCTAssertNil(ThinPlateSpline(controlPoints: [[0, 0], [1, 0], [0, .nan]], targets: [[0, 0], [1, 0], [0, 1]]))
    XCTAssertNil(ThinPlateSplineGridBasis(controlPoints: line, height: 3, width: 3, alignCorners: false))
  }

  /// The fixtures' standard solve (torch.linalg.solve) and Kornia's warp_points_tps at random points.
  func testKorniaReference() throws {
    for (path, file) in try warpFixtures("tps_") {
      let control = try file.tensor("control_points", path: path), source = try file.tensor("source_points", path: path)
      let points = try file.tensor("points", path: path), warped = try file.tensor("points_warped", path: path)
      let kernelWeights = try file.tensor("kernel_weights", path: path), affineWeights = try file.tensor("affine_weights", path: path)
      let k = control.shape[0], n = source.shape[0], m = points.shape[0]
      let c = (0..<k).map { SIMD2(Double(control.data[2 * $0]), Double(control.data[2 * $0 + 1])) }
      var mapped = Tensor(shape: warped.shape), weights = Tensor(shape: kernelWeights.shape), affine = Tensor(shape: affineWeights.shape)
      for b in 0..<n {
        let targets = (0..<k).map { SIMD2(Double(source.data[(b * k + $0) * 2]), Double(source.data[(b * k + $0) * 2 + 1])) }
        let spline = try XCTUnwrap(ThinPlateSpline(controlPoints: c, targets: targets))
        for i in 0..<m {
          let p = spline.apply(SIMD2(Double(points.data[2 * i]), Double(points.data[2 * i + 1])))
          mapped.data[(b * m + i) * 2] = Float(p.x)
          mapped.data[(b * m + i) * 2 + 1] = Float(p.y)
        }
        for i in 0..<k { weights.data[(b * k + i) * 2] = Float(spline.kernelWeights[i].x); weights.data[(b * k + i) * 2 + 1] = Float(spline.kernelWeights[i].y) }
        for i in 0..<3 { affine.data[(b * 3 + i) * 2] = Float(spline.affineWeights[i].x); affine.data[(b * 3 + i) * 2 + 1] = Float(spline.affineWeights[i].y) }
      }
      assertClose(weights, kernelWeights, atol: 1e-5, rtol: 1e-5, "TPS kernel weights vs torch.linalg.solve, \(path)")
      assertClose(affine, affineWeights, atol: 1e-5, rtol: 1e-5, "TPS affine weights vs torch.linalg.solve, \(path)")
      assertClose(mapped, warped, atol: 1e-5, rtol: 1e-5, "ThinPlateSpline.apply vs kornia warp_points_tps, \(path)")
    }
  }
}
