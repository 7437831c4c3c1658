import XCTest
import STNFiles
import STNTensor
import STNTestSupport
@testable import STNWarp

final class AffineGridTests: XCTestCase {
  /// Identity theta gives the pixel-centre coordinates for both alignments.
  func testHandComputedIdentityGrid() {
    let theta = Tensor(shape: [1, 2, 3], data: [1, 0, 0, 0, 1, 0])
    let aligned = affineGrid(theta: theta, size: [1, 1, 2, 3], alignCorners: true)
    XCTAssertEqual(aligned.data, [-1, -1, 0, -1, 1, -1, -1, 1, 0, 1, 1, 1])
    let unaligned = affineGrid(theta: theta, size: [1, 1, 2, 3], alignCorners: false)
    let third: Float = 2.0 / 3.0
    let expected: [Float] = [-third, -0.5, 0, -0.5, third, -0.5, -third, 0.5, 0, 0.5, third, 0.5]
    for i in 0..<12 { XCTAssertEqual(unaligned.data[i], expected[i], accuracy: 1e-7) }
    // A size-1 axis has the single coordinate 0; translation shows through.
    let shifted = affineGrid(theta: Tensor(shape: [1, 2, 3], data: [2, 0, 0.25, 0, 1, -0.5]), size: [1, 1, 1, 1], alignCorners: false)
    XCTAssertEqual(shifted.data, [0.25, -0.5])
  }

  /// The base coordinates follow torch.linspace (symmetric halves).
  func testLinspaceMatchesTorch() {
    XCTAssertEqual(affineGridBase(steps: 5, alignCorners: true), [-1, -0.5, 0, 0.5, 1])
    XCTAssertEqual(affineGridBase(steps: 1, alignCorners: true), [0])
    XCTAssertEqual(affineGridBase(steps: 0, alignCorners: true), [])
    let base = affineGridBase(steps: 42, alignCorners: false)
    for i in 0..<42 { XCTAssertEqual(base[i], -base[41 - i]) }
  }

  /// The grid is linear in theta, so the backward is exactly its transpose: <grid(θ), G> = <θ, backward(G)>.
  func testBackwardIsAdjoint() {
    for alignCorners in [false, true] {
      let size = [3, 2, 5, 7]
      let theta = randomTensor([3, 2, 3], seed: 1)
      let gradGrid = randomTensor([3, 5, 7, 2], seed: 2)
      let gradTheta = affineGridBackward(gradGrid: gradGrid, size: size, alignCorners: alignCorners)
      let numeric = numericalGradient(of: { dot(affineGrid(theta: $0, size: size, alignCorners: alignCorners), gradGrid) }, at: theta, epsilon: 0.25)
      XCTAssertNil(closeness(gradTheta, numeric, atol: 1e-4, rtol: 1e-4))
    }
  }

  /// Every grid_sample_* case: grid = affineGrid(theta), grad_theta = affineGridBackward(grad_grid).
  func testGoldenAffineGrid() throws {
    let cases = Golden.cases(prefix: "grid_sample_")
    XCTAssertFalse(cases.isEmpty, "no grid_sample_ golden cases in \(Golden.directory)")
    for path in cases {
      let file = try Golden.load(path)
      let options = try goldenOptions(file, path: path)
      let theta = try file.tensor("theta", path: path)
      let output = try file.tensor("output", path: path)
      let grid = affineGrid(theta: theta, size: output.shape, alignCorners: options.alignCorners)
      XCTAssertNil(closeness(grid, try file.tensor("grid", path: path), atol: 1e-5, rtol: 1e-5), "grid \(path)")
      let gradTheta = affineGridBackward(gradGrid: try file.tensor("grad_grid", path: path), size: output.shape, alignCorners: options.alignCorners)
      XCTAssertNil(closeness(gradTheta, try file.tensor("grad_theta", path: path), atol: 1e-4, rtol: 1e-4), "grad_theta \(path)")
    }
  }
}
