import XCTest
import STNFiles
import STNTensor
import STNTestSupport
@testable import STNWarp

final class ThinPlateSplineGridTests: XCTestCase {
  /// Source positions c + d for a basis, d uniform in ±spread, (N,K,2).
  func sourcePoints(_ basis: ThinPlateSplineGridBasis, count n: Int, seed: UInt64, spread: Double = 0.15) -> Tensor {
    var random = RandomStream(seed: seed, salt: 17)
    let k = basis.controlPointCount
    var points = Tensor(shape: [n, k, 2])
    for b in 0..<n {
      for i in 0..<k {
        points.data[(b * k + i) * 2] = Float(basis.controlPoints[i].x + random.uniform(-spread, spread))
        points.data[(b * k + i) * 2 + 1] = Float(basis.controlPoints[i].y + random.uniform(-spread, spread))
      }
    }
    return points
  }

  func identityPoints(_ basis: ThinPlateSplineGridBasis, count n: Int) -> Tensor {
    Tensor(shape: [n, basis.controlPointCount, 2], data: (0..<n).flatMap { _ in basis.controlPoints.flatMap { [Float($0.x), Float($0.y)] } })
  }

  // MARK: - Hand-computed

  /// Zero displacement is exactly the affine_grid identity; a common displacement of every
  /// control point is a translation of the whole grid (a TPS reproduces affine maps).
  func testIdentityAndTranslationByHand() {
    for alignCorners in [false, true] {
      let basis = ThinPlateSplineGridBasis(gridSize: 4, height: 5, width: 7, alignCorners: alignCorners)
      let identity = Tensor(shape: [2, 2, 3], data: [1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0])
      XCTAssertEqual(thinPlateSplineGrid(sourcePoints: identityPoints(basis, count: 2), basis: basis).data,
                     affineGrid(theta: identity, size: [2, 1, 5, 7], alignCorners: alignCorners).data)
      var shifted = identityPoints(basis, count: 1)
      for i in 0..<16 { shifted.data[2 * i] += 0.1; shifted.data[2 * i + 1] -= 0.2 }
      let grid = thinPlateSplineGrid(sourcePoints: shifted, basis: basis)
      let base = affineGrid(theta: Tensor(shape: [1, 2, 3], data: [1, 0, 0.1, 0, 1, -0.2]), size: [1, 1, 5, 7], alignCorners: alignCorners)
      XCTAssertLessThan(grid.maxAbsDifference(base), 2e-6)
    }
    // Basis weights at a control point: 1 for that point, 0 for the others (the spline interpolates).
    let aligned = ThinPlateSplineGridBasis(gridSize: 3, height: 5, width: 5, alignCorners: true)
    for (k, (ox, oy)) in [(0, (0, 0)), (4, (2, 2)), (8, (4, 4))] {
      for j in 0..<9 { XCTAssertEqual(aligned.weight(controlPoint: j, x: ox, y: oy), j == k ? 1 : 0, accuracy: 1e-6) }
    }
  }

  /// The stored basis gives the grid that `ThinPlateSpline.apply` computes in double.
  func testGridMatchesSplineEvaluation() throws {
    let basis = ThinPlateSplineGridBasis(gridSize: 4, height: 6, width: 8, alignCorners: false)
    let points = sourcePoints(basis, count: 1, seed: 3, spread: 0.3)
    let spline = try XCTUnwrap(ThinPlateSpline(controlPoints: basis.controlPoints,
                                               targets: (0..<16).map { SIMD2(Double(points.data[2 * $0]), Double(points.data[2 * $0 + 1])) }))
    let grid = thinPlateSplineGrid(sourcePoints: points, basis: basis)
    let xs = affineGridBase(steps: 8, alignCorners: false), ys = affineGridBase(steps: 6, alignCorners: false)
    for oy in 0..<6 {
      for ox in 0..<8 {
        let p = spline.apply(x: Double(xs[ox]), y: Double(ys[oy]))
        XCTAssertEqual(Double(grid.data[(oy * 8 + ox) * 2]), p.x, accuracy: 1e-5)
        XCTAssertEqual(Double(grid.data[(oy * 8 + ox) * 2 + 1]), p.y, accuracy: 1e-5)
      }
    }
  }

  // MARK: - Finite differences

  /// The grid is linear in the source points, so its backward is the exact transpose.
  func testGridBackwardIsAdjoint() {
    let basis = ThinPlateSplineGridBasis(gridSize: 3, height: 4, width: 6, alignCorners: true)
    let points = sourcePoints(basis, count: 2, seed: 4)
    let gradGrid = randomTensor([2, 4, 6, 2], seed: 5)
    let numeric = numericalGradient(of: { dot(thinPlateSplineGrid(sourcePoints: $0, basis: basis), gradGrid) }, at: points, epsilon: 0.25)
    assertClose(thinPlateSplineGridBackward(gradGrid: gradGrid, basis: basis), numeric, atol: 1e-4, rtol: 1e-4, "TPS grid backward vs finite differences")
  }

  func testSampleGradientsMatchFiniteDifferences() {
    let basis = ThinPlateSplineGridBasis(gridSize: 4, height: 6, width: 7, alignCorners: false)
    let options = GridSampleOptions()
    let input = randomTensor([2, 2, 6, 7], seed: 6), gradOutput = randomTensor([2, 2, 6, 7], seed: 7)
    let points = sourcePoints(basis, count: 2, seed: 8)
    let grid = thinPlateSplineGridSample(input: input, sourcePoints: points, basis: basis, options: options).grid
    let (gradInput, gradPoints) = thinPlateSplineGridSampleBackward(gradOutput: gradOutput, input: input, grid: grid, basis: basis, options: options)
    assertSamplerGradientsMatchFiniteDifferences(input: input, parameters: points, gradInput: gradInput, gradParameters: gradPoints) { x, s in
      dot(thinPlateSplineGridSample(input: x, sourcePoints: s, basis: basis, options: options).output, gradOutput)
    }
  }

  // MARK: - Kornia reference

  /// Every tps_* fixture: the grid (kornia warp_points_tps of the standard solve), its backward,
  /// the sampled image (kornia warp_image_tps) and its gradients to the image and the points.
  func testKorniaReference() throws {
    for (path, file) in try warpFixtures("tps_") {
      let alignCorners = try XCTUnwrap(file.boolSetting("align_corners"))
      let gridSize = try XCTUnwrap(file.intSetting("control_grid"))
      let input = try file.tensor("input", path: path), output = try file.tensor("output", path: path)
      let points = try file.tensor("source_points", path: path)
      let basis = ThinPlateSplineGridBasis(gridSize: gridSize, height: output.shape[2], width: output.shape[3], alignCorners: alignCorners)
      let control = try file.tensor("control_points", path: path)
      XCTAssertEqual(control.data, basis.controlPoints.flatMap { [Float($0.x), Float($0.y)] }, "control point order, \(path)")
      let options = GridSampleOptions(alignCorners: alignCorners)
      assertClose(thinPlateSplineGrid(sourcePoints: points, basis: basis), try file.tensor("grid", path: path), atol: 1e-5, rtol: 1e-5, "TPS grid, \(path)")
      assertClose(thinPlateSplineGridBackward(gradGrid: try file.tensor("grad_grid", path: path), basis: basis),
                  try file.tensor("grid_grad_source_points", path: path), atol: 1e-4, rtol: 1e-4, "TPS grid backward, \(path)")
      try forEachKernelPath { kernels in
        let forward = thinPlateSplineGridSample(input: input, sourcePoints: points, basis: basis, options: options)
        assertClose(forward.output, output, atol: 1e-5, rtol: 1e-5, "thinPlateSplineGridSample (\(kernels)), \(path)")
        let grads = thinPlateSplineGridSampleBackward(
          gradOutput: try file.tensor("grad_output", path: path), input: input, grid: forward.grid, basis: basis, options: options)
        assertClose(grads.gradInput, try file.tensor("grad_input", path: path), atol: 1e-5, rtol: 1e-5, "TPS grad_input (\(kernels)), \(path)")
        assertClose(grads.gradSourcePoints, try file.tensor("grad_source_points", path: path), atol: 1e-4, rtol: 1e-4,
                    "TPS grad_source_points (\(kernels)), \(path)")
      }
    }
  }
}

extension ThinPlateSplineGridTests {
  /// The AVX2 row kernels (fill and gradient sums) give the portable twin's bits, for widths
  /// that are and are not multiples of 8, and Inf beyond the row does not leak in.
  func testRowKernelsSameOnEveryKernelPath() {
    for width in [3, 8, 13, 16, 36, 42] {
      let basis = ThinPlateSplineGridBasis(gridSize: 4, height: 3, width: width, alignCorners: false)
      let d = randomTensor([16, 2], seed: UInt64(width)).data
      var gradient = randomTensor([2, width + 8], seed: 7).data
      for i in width..<(width + 8) { gradient[i] = .infinity }
      var results: [[Float]] = []
      forEachKernelPath { _ in
        var gx = [Float](repeating: .nan, count: width + 1), gy = [Float](repeating: .nan, count: width + 1)
        var lanes = [SIMD16<Float>](repeating: SIMD16(), count: 32)
        gradient.withUnsafeBufferPointer { g in
          for oy in 0..<3 {
            basis.fillRow(oy, displacements: d, gx: &gx, gy: &gy)
            basis.accumulateRowGradient(oy, gradX: g.baseAddress!, gradY: g.baseAddress! + width + 8, into: &lanes)
          }
        }
        XCTAssertTrue(gx[width].isNaN && gy[width].isNaN, "wrote past the row")
        results.append(gx + gy + lanes.flatMap { vector in (0..<16).map { vector[$0] } })
      }
      for result in results.dropFirst() { XCTAssertTrue(sameValues(result, results[0]), "width \(width)") }
    }
  }
}
