import XCTest
import STNFiles
import STNTensor
import STNTestSupport
import STNNetwork

final class LinearTests: XCTestCase {
  /// `linearBackward` into zero buffers: the gradients of one backward pass.
  private func gradients(_ gradOutput: Tensor, _ input: Tensor, _ weight: Tensor) -> (gradInput: Tensor, gradWeight: Tensor, gradBias: Tensor) {
    var gradInput: Tensor? = Tensor(shape: input.shape), gradWeight: Tensor? = Tensor(shape: weight.shape)
    var gradBias: Tensor? = Tensor(shape: [weight.shape[0]])
    linearBackward(gradInput: &gradInput, gradWeight: &gradWeight, gradBias: &gradBias, gradOutput: gradOutput, input: input, weight: weight)
    return (gradInput ?? Tensor(shape: []), gradWeight ?? Tensor(shape: []), gradBias ?? Tensor(shape: []))
  }

  func testHandComputed() {
    let input = Tensor(shape: [2, 3], data: [1, 2, 3, 4, 5, 6])
    let weight = Tensor(shape: [2, 3], data: [1, 0, -1, 0.5, 0.5, 0.5])
    let bias = Tensor(shape: [2], data: [10, 20])
    XCTAssertEqual(linearForward(input: input, weight: weight, bias: bias).data, [8, 23, 8, 27.5])
    XCTAssertEqual(linearForward(input: input, weight: weight, bias: nil).data, [-2, 3, -2, 7.5])
    let gradOutput = Tensor(shape: [2, 2], data: [1, 0, 0, 2])
    let grads = gradients(gradOutput, input, weight)
    XCTAssertEqual(grads.gradInput.data, [1, 0, -1, 1, 1, 1])
    XCTAssertEqual(grads.gradWeight.data, [1, 2, 3, 8, 10, 12])
    XCTAssertEqual(grads.gradBias.data, [1, 2])
    // Accumulating: a second pass adds the same again; nil buffers are left alone.
    var gradInput: Tensor? = grads.gradInput, gradWeight: Tensor? = grads.gradWeight, noBias: Tensor?
    linearBackward(gradInput: &gradInput, gradWeight: &gradWeight, gradBias: &noBias, gradOutput: gradOutput, input: input, weight: weight)
    XCTAssertEqual(gradInput?.data, [2, 0, -2, 2, 2, 2])
    XCTAssertEqual(gradWeight?.data, [2, 4, 6, 16, 20, 24])
    XCTAssertNil(noBias)
  }

  func testFiniteDifference() {
    var rng = RandomStream(seed: 8)
    let input = randomTensor([4, 6], rng: &rng), weight = randomTensor([3, 6], rng: &rng), bias = randomTensor([3], rng: &rng)
    let probe = randomTensor([4, 3], rng: &rng)
    let grads = gradients(probe, input, weight)
    XCTAssertNil(closeness(grads.gradInput, numericalGradient(of: { dotProduct(linearForward(input: $0, weight: weight, bias: bias), probe) }, at: input), atol: 2e-3, rtol: 2e-3))
    XCTAssertNil(closeness(grads.gradWeight, numericalGradient(of: { dotProduct(linearForward(input: input, weight: $0, bias: bias), probe) }, at: weight), atol: 2e-3, rtol: 2e-3))
    XCTAssertNil(closeness(grads.gradBias, numericalGradient(of: { dotProduct(linearForward(input: input, weight: weight, bias: $0), probe) }, at: bias), atol: 2e-3, rtol: 2e-3))
  }

  func testMatchesPyTorchFixture() throws {
    let cases = OpFixtures.cases(prefix: "linear_")
    XCTAssertFalse(cases.isEmpty, "fixtures missing in \(OpFixtures.directory)")
    for path in cases {
      let file = try Golden.load(path)
      let input = try file.tensor("input", path: path), weight = try file.tensor("weight", path: path)
      let output = linearForward(input: input, weight: weight, bias: try file.tensor("bias", path: path))
      XCTAssertNil(closeness(output, try file.tensor("output", path: path), atol: 1e-5, rtol: 1e-5))
      let grads = gradients(try file.tensor("grad_output", path: path), input, weight)
      XCTAssertNil(closeness(grads.gradInput, try file.tensor("grad_input", path: path), atol: 1e-4, rtol: 1e-4))
      XCTAssertNil(closeness(grads.gradWeight, try file.tensor("grad_weight", path: path), atol: 1e-4, rtol: 1e-4))
      XCTAssertNil(closeness(grads.gradBias, try file.tensor("grad_bias", path: path), atol: 1e-4, rtol: 1e-4))
    }
  }
}
