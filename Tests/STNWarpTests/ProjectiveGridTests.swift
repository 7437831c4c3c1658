import XCTest
import STNFiles
import STNTensor
import STNTestSupport
@testable import STNWarp

final class ProjectiveGridTests: XCTestCase {
  /// A random homography near the identity, (N,3,3) with h33 = 1.
  func randomHomography(_ n: Int, seed: UInt64, spread: Double = 0.2) -> Tensor {
    var random = RandomStream(seed: seed, salt: 31)
    var h = Tensor(shape: [n, 3, 3])
    for b in 0..<n {
      for k in 0..<8 {
        let identity: Double = (k == 0 || k == 4) ? 1 : 0
        h.data[b * 9 + k] = Float(identity + random.uniform(-spread, spread))
      }
      h.data[b * 9 + 8] = 1
    }
    return h
  }

  // MARK: - Hand-computed

  func testHandComputedGrid() {
    // w = 0.5·x + 1. align_corners=true, 1x3 output: base x = -1, 0, 1 at y = 0.
    let h = Tensor(shape: [1, 3, 3], data: [1, 0, 0, 0, 1, 0.25, 0.5, 0, 1])
    let grid = projectiveGrid(homography: h, size: [1, 1, 1, 3], alignCorners: true)
    let expected: [Float] = [-1 / 0.5, 0.25 / 0.5, 0, 0.25, 1 / 1.5, 0.25 / 1.5]
    for i in 0..<6 { XCTAssertEqual(grid.data[i], expected[i], accuracy: 1e-7) }
    // d grid / d h at the middle pixel (x = 0, y = 0, w = 1): sx = h13, so only h13 (and h33,
    // through -sx/w·1) move it.
    let gradGrid = Tensor(shape: [1, 1, 3, 2], data: [0, 0, 1, 0, 0, 0])
    let gradH = projectiveGridBackward(gradGrid: gradGrid, homography: h, size: [1, 1, 1, 3], alignCorners: true)
    XCTAssertEqual(gradH.data, [0, 0, 1, 0, 0, 0, 0, 0, 0])
    // At x = 1 (w = 1.5, sx = 2/3): d sx/d h11 = x/w, d sx/d h31 = -sx·x/w.
    let right = projectiveGridBackward(gradGrid: Tensor(shape: [1, 1, 3, 2], data: [0, 0, 0, 0, 1, 0]), homography: h, size: [1, 1, 1, 3], alignCorners: true)
    XCTAssertEqual(right.data[0], 1 / 1.5, accuracy: 1e-7)
    XCTAssertEqual(right.data[6], -(1 / 1.5) / 1.5, accuracy: 1e-7)
    XCTAssertEqual(right.data[8], -(1 / 1.5) / 1.5, accuracy: 1e-7)
  }

  /// With last row (0, 0, 1) the grid is affineGrid of the first six, bit for bit, and so is the
  /// fused sampler's output; the gradients of the six agree with the affine ones.
  func testAffineLastRowEqualsAffineGrid() {
    let theta = randomTensor([3, 2, 3], seed: 4, low: -1, high: 1)
    var h = Tensor(shape: [3, 3, 3])
    for b in 0..<3 {
      for k in 0..<6 { h.data[b * 9 + k] = theta.data[b * 6 + k] }
      h.data[b * 9 + 8] = 1
    }
    for alignCorners in [false, true] {
      let size = [3, 2, 6, 9]
      XCTAssertEqual(projectiveGrid(homography: h, size: size, alignCorners: alignCorners).data, affineGrid(theta: theta, size: size, alignCorners: alignCorners).data)
      let input = randomTensor([3, 2, 7, 8], seed: 5), gradOutput = randomTensor(size, seed: 6)
      let options = GridSampleOptions(alignCorners: alignCorners)
      forEachKernelPath { _ in
        XCTAssertEqual(projectiveGridSample(input: input, homography: h, outputSize: size, options: options).data,
                       affineGridSample(input: input, theta: theta, outputSize: size, options: options).data)
        let projective = projectiveGridSampleBackward(gradOutput: gradOutput, input: input, homography: h, options: options)
        let affine = affineGridSampleBackward(gradOutput: gradOutput, input: input, theta: theta, options: options)
        XCTAssertNil(closeness(projective.gradInput, affine.gradInput, atol: 1e-5, rtol: 1e-5))
        for b in 0..<3 {
          for k in 0..<6 { XCTAssertEqual(projective.gradHomography.data[b * 9 + k], affine.gradTheta.data[b * 6 + k], accuracy: 1e-4) }
        }
      }
    }
  }

  // MARK: - Finite differences

  func testGridBackwardMatchesFiniteDifferences() {
    for alignCorners in [false, true] {
      let size = [2, 1, 5, 7]
      let h = randomHomography(2, seed: 7)
      let gradGrid = randomTensor([2, 5, 7, 2], seed: 8)
      let analytic = projectiveGridBackward(gradGrid: gradGrid, homography: h, size: size, alignCorners: alignCorners)
      let numeric = numericalGradient(of: { dot(projectiveGrid(homography: $0, size: size, alignCorners: alignCorners), gradGrid) }, at: h, epsilon: 1e-3)
      assertClose(analytic, numeric, atol: 2e-3, rtol: 1e-2, "projectiveGridBackward vs finite differences (align_corners \(alignCorners))")
    }
  }

  /// The fused sampler's gradients to the homography and the input, against finite differences
  /// of the sampled image (bilinear is piecewise smooth: one-sided differences are accepted).
  func testSampleGradientsMatchFiniteDifferences() {
    let options = GridSampleOptions()
    let input = randomTensor([2, 2, 6, 7], seed: 9), gradOutput = randomTensor([2, 2, 5, 6], seed: 10)
    let h = randomHomography(2, seed: 11)
    let (gradInput, gradH) = projectiveGridSampleBackward(gradOutput: gradOutput, input: input, homography: h, options: options)
    assertSamplerGradientsMatchFiniteDifferences(
      input: input, parameters: h, gradInput: gradInput, gradParameters: gradH, checksParameter: { $0 % 9 != 8 }) { x, hom in
      dot(projectiveGridSample(input: x, homography: hom, outputSize: [2, 2, 5, 6], options: options), gradOutput)
    }
  }

  // MARK: - Kornia reference

  /// Every projective_* fixture: grid (kornia warp_grid), its backward, the sampled image
  /// (kornia homography_warp) and its gradients to the image and the homography.
  func testKorniaReference() throws {
    for (path, file) in try warpFixtures("projective_") {
      let alignCorners = try XCTUnwrap(file.boolSetting("align_corners"))
      let h = try file.tensor("homography", path: path), input = try file.tensor("input", path: path)
      let output = try file.tensor("output", path: path)
      let size = output.shape
      let options = GridSampleOptions(alignCorners: alignCorners)
      assertClose(projectiveGrid(homography: h, size: size, alignCorners: alignCorners), try file.tensor("grid", path: path),
                  atol: 1e-5, rtol: 1e-5, "projective grid, \(path)")
      assertClose(projectiveGridBackward(gradGrid: try file.tensor("grad_grid", path: path), homography: h, size: size, alignCorners: alignCorners),
                  try file.tensor("grid_grad_homography", path: path), atol: 1e-4, rtol: 1e-4, "projective grid backward, \(path)")
      try forEachKernelPath { kernels in
        assertClose(projectiveGridSample(input: input, homography: h, outputSize: size, options: options), output,
                    atol: 1e-5, rtol: 1e-5, "projectiveGridSample (\(kernels)), \(path)")
        let grads = projectiveGridSampleBackward(gradOutput: try file.tensor("grad_output", path: path), input: input, homography: h, options: options)
        assertClose(grads.gradInput, try file.tensor("grad_input", path: path), atol: 1e-5, rtol: 1e-5, "projective grad_input (\(kernels)), \(path)")
        assertClose(grads.gradHomography, try file.tensor("grad_homography", path: path), atol: 1e-4, rtol: 1e-4, "projective grad_homography (\(kernels)), \(path)")
      }
    }
  }

  // MARK: - Degenerate maps

  /// A homography whose w crosses 0 inside the output (w = 2x + 1): those pixels sample
  /// nothing, and no NaN reaches the output or the gradients.
  func testVanishingLineGivesFiniteResults() {
    let h = Tensor(shape: [1, 3, 3], data: [1, 0, 0, 0, 1, 0, 2, 0, 1])
    let input = randomTensor([1, 1, 5, 9], seed: 12), gradOutput = randomTensor([1, 1, 5, 9], seed: 13)
    for alignCorners in [false, true] {
      let options = GridSampleOptions(alignCorners: alignCorners)
      forEachKernelPath { _ in
        let output = projectiveGridSample(input: input, homography: h, outputSize: [1, 1, 5, 9], options: options)
        XCTAssertTrue(output.data.allSatisfy { $0.isFinite })
        let grads = projectiveGridSampleBackward(gradOutput: gradOutput, input: input, homography: h, options: options)
        XCTAssertTrue(grads.gradInput.data.allSatisfy { $0.isFinite } && grads.gradHomography.data.allSatisfy { $0.isFinite })
      }
      let naive = gridSampleBackwardNaive(gradOutput: gradOutput, input: input, grid: projectiveGrid(homography: h, size: [1, 1, 5, 9], alignCorners: alignCorners), options: options)
      XCTAssertTrue(projectiveGridBackward(gradGrid: naive.gradGrid, homography: h, size: [1, 1, 5, 9], alignCorners: alignCorners).data.allSatisfy { $0.isFinite })
    }
  }
}

extension ProjectiveGridTests {
  /// The AVX2 gradient row gives the portable twin's bits, for widths that are and are not
  /// multiples of 8, with zero-gradient columns (left out) on the line w = 0.
  func testGradientRowSameOnEveryKernelPath() {
    let h: [Float] = [1.1, 0.2, -0.1, -0.3, 0.9, 0.05, 2, 0, 2]  // w = 2x + 2: 0 at x = -1
    for width in [3, 8, 13, 42] {
      let xs = affineGridBase(steps: width, alignCorners: true)
      var gradX = randomTensor([width], seed: UInt64(width)).data, gradY = randomTensor([width], seed: 99).data
      gradX[0] = 0
      gradY[0] = 0  // x = -1 (align_corners): w = 0, left out
      var results: [SIMD16<Double>] = []
      forEachKernelPath { _ in
        var sums = SIMD16<Double>()
        h.withUnsafeBufferPointer { row in
          for y: Float in [-0.5, 0.3] { ProjectiveRow(row.baseAddress!, y: y).accumulateGradient(xs: xs, count: width, gradX: gradX, gradY: gradY, into: &sums) }
        }
        XCTAssertTrue((0..<16).allSatisfy { sums[$0].isFinite })
        results.append(sums)
      }
      for result in results.dropFirst() { XCTAssertEqual(result, results[0], "width \(width)") }
    }
  }
}
