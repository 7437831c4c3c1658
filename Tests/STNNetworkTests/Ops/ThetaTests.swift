import XCTest
import STNTensor
import STNTestSupport
import STNNetwork

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
