import XCTest
import STNTensor
import STNTestSupport
import STNNetwork
import STNWarp

/// The batched theta op over `TransformConstraint` (whose per-sample derivatives
/// SpatialTransformerTests checks by finite differences).
final class ThetaTests: XCTestCase {
  func testBatchedForwardAndAccumulatingBackward() {
    let constraint = TransformConstraint.rts
    let parameters = Tensor(shape: [2, 4], data: [Float.pi / 2, 0, 0.5, -0.25, 0, 0, 0, 0])
    let theta = thetaForward(parameters: parameters, constraint: constraint)
    XCTAssertEqual(theta.shape, [2, 2, 3])
    XCTAssertEqual(Array(theta.data[6..<12]), [1, 0, 0, 0, 1, 0], "zero rts parameters are the identity")
    for (a, e) in zip(theta.data[0..<6], [0, -1, 0.5, 1, 0, -0.25] as [Float]) { XCTAssertEqual(a, e, accuracy: 1e-6) }
    var rng = RandomStream(seed: 2)
    let gradTheta = randomTensor([2, 2, 3], rng: &rng)
    var gradParameters = Tensor(shape: [2, 4], repeating: 1)
    thetaBackward(gradParameters: &gradParameters, gradTheta: gradTheta, parameters: parameters, constraint: constraint)
    for b in 0..<2 {
      let expected = constraint.parameterGradient(Array(parameters.data[(b * 4)..<(b * 4 + 4)]), thetaGradient: Array(gradTheta.data[(b * 6)..<(b * 6 + 6)]))
      XCTAssertEqual(Array(gradParameters.data[(b * 4)..<(b * 4 + 4)]), expected.map { 1 + $0 })
    }
  }
}

extension ThetaTests {
  /// The 8-parameter form gets h33 = 1; its backward drops h33's gradient and accumulates.
  func testHomographyByHand() {
    let parameters = Tensor(shape: [1, 8], data: [1, 2, 3, 4, 5, 6, 7, 8])
    XCTAssertEqual(homographyForward(parameters: parameters).data, [1, 2, 3, 4, 5, 6, 7, 8, 1])
    var gradParameters = Tensor(shape: [1, 8], repeating: 1)
    homographyBackward(gradParameters: &gradParameters, gradHomography: Tensor(shape: [1, 3, 3], data: [1, 2, 3, 4, 5, 6, 7, 8, 100]))
    XCTAssertEqual(gradParameters.data, [2, 3, 4, 5, 6, 7, 8, 9])
  }

  /// Source positions are the control points plus the displacements, (N,2K) -> (N,K,2).
  func testControlPointSourcesByHand() {
    let basis = ThinPlateSplineGridBasis(gridSize: 2, height: 3, width: 3, alignCorners: false)
    let displacements = Tensor(shape: [1, 8], data: [0.1, 0, 0, 0.2, 0, 0, -0.1, -0.1])
    let points = controlPointSourcesForward(displacements: displacements, basis: basis)
    XCTAssertEqual(points.shape, [1, 4, 2])
    for (a, e) in zip(points.data, [-0.9, -1, 1, -0.8, -1, 1, 0.9, 0.9] as [Float]) { XCTAssertEqual(a, e, accuracy: 1e-7) }
  }
}
