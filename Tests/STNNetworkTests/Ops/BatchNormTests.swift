import XCTest
import STNFiles
import STNTensor
import STNTestSupport
import STNNetwork

final class BatchNormTests: XCTestCase {
  /// `batchNorm2dBackward` into zero buffers: the gradients of one backward pass.
  private func gradients(_ gradOutput: Tensor, _ input: Tensor, _ gamma: Tensor, _ cache: BatchNormCache) -> (gradInput: Tensor, gradGamma: Tensor, gradBeta: Tensor) {
    var gradInput: Tensor? = Tensor(shape: input.shape), gradGamma: Tensor? = Tensor(shape: gamma.shape), gradBeta: Tensor? = Tensor(shape: gamma.shape)
    batchNorm2dBackward(gradInput: &gradInput, gradGamma: &gradGamma, gradBeta: &gradBeta, gradOutput: gradOutput, input: input, gamma: gamma, cache: cache)
    return (gradInput ?? Tensor(shape: []), gradGamma ?? Tensor(shape: []), gradBeta ?? Tensor(shape: []))
  }

  /// One channel holding 1, 2, 3, 4: mean 2.5, biased variance 1.25, unbiased 5/3.
  func testHandComputedTraining() {
    let input = Tensor(shape: [1, 1, 2, 2], data: [1, 2, 3, 4])
    var runningMean = Tensor(shape: [1], data: [0]), runningVar = Tensor(shape: [1], data: [1])
    let gamma = Tensor(shape: [1], data: [2]), beta = Tensor(shape: [1], data: [1])
    let (output, cache) = batchNorm2dForward(input: input, gamma: gamma, beta: beta, runningMean: &runningMean, runningVar: &runningVar, training: true, epsilon: 0)
    let s = Float(1 / 1.25.squareRoot())
    XCTAssertNil(closeness(output, Tensor(shape: [1, 1, 2, 2], data: [1 - 3 * s, 1 - s, 1 + s, 1 + 3 * s]), atol: 1e-6, rtol: 1e-6))
    XCTAssertEqual(cache.mean, [2.5])
    XCTAssertEqual(cache.invStd[0], s, accuracy: 1e-6)
    XCTAssertEqual(runningMean.data[0], 0.25, accuracy: 1e-6)
    XCTAssertEqual(runningVar.data[0], 0.9 + 0.1 * 5 / 3, accuracy: 1e-6)
    // A constant upstream gradient is absorbed by the mean: no gradient reaches the input.
    let grads = gradients(Tensor(shape: [1, 1, 2, 2], repeating: 1), input, gamma, cache)
    for value in grads.gradInput.data { XCTAssertEqual(value, 0, accuracy: 1e-6) }
    XCTAssertEqual(grads.gradBeta.data, [4])
    XCTAssertEqual(grads.gradGamma.data[0], 0, accuracy: 1e-6)
  }

  func testHandComputedEvaluation() {
    let input = Tensor(shape: [1, 1, 1, 2], data: [3, 5])
    var runningMean = Tensor(shape: [1], data: [1]), runningVar = Tensor(shape: [1], data: [4])
    let (output, cache) = batchNorm2dForward(input: input, gamma: Tensor(shape: [1], data: [1]), beta: Tensor(shape: [1], data: [0]), runningMean: &runningMean, runningVar: &runningVar, training: false, epsilon: 0)
    XCTAssertEqual(output.data, [1, 2])
    XCTAssertEqual(runningMean.data, [1])
    XCTAssertEqual(runningVar.data, [4])
    let grads = gradients(Tensor(shape: [1, 1, 1, 2], data: [2, 4]), input, Tensor(shape: [1], data: [3]), cache)
    XCTAssertEqual(grads.gradInput.data, [3, 6])
  }

  func testFiniteDifferenceTraining() {
    var rng = RandomStream(seed: 6)
    let input = randomTensor([3, 2, 3, 2], rng: &rng, scale: 2)
    let gamma = randomTensor([2], rng: &rng), beta = randomTensor([2], rng: &rng)
    let probe = randomTensor(input.shape, rng: &rng)
    func loss(_ x: Tensor, _ g: Tensor, _ b: Tensor) -> Double {
      var rm = Tensor(shape: [2]), rv = Tensor(shape: [2], repeating: 1)
      return dotProduct(batchNorm2dForward(input: x, gamma: g, beta: b, runningMean: &rm, runningVar: &rv, training: true).output, probe)
    }
    var rm = Tensor(shape: [2]), rv = Tensor(shape: [2], repeating: 1)
    let cache = batchNorm2dForward(input: input, gamma: gamma, beta: beta, runningMean: &rm, runningVar: &rv, training: true).cache
    let grads = gradients(probe, input, gamma, cache)
    XCTAssertNil(closeness(grads.gradInput, numericalGradient(of: { loss($0, gamma, beta) }, at: input, epsilon: 5e-3), atol: 5e-3, rtol: 5e-3))
    XCTAssertNil(closeness(grads.gradGamma, numericalGradient(of: { loss(input, $0, beta) }, at: gamma, epsilon: 5e-3), atol: 5e-3, rtol: 5e-3))
    XCTAssertNil(closeness(grads.gradBeta, numericalGradient(of: { loss(input, gamma, $0) }, at: beta, epsilon: 5e-3), atol: 5e-3, rtol: 5e-3))
  }

  /// batchnorm2d_train / _eval fixtures: output, running statistics after, all gradients.
  func testMatchesPyTorchFixtures() throws {
    let cases = OpFixtures.cases(prefix: "batchnorm2d_")
    XCTAssertEqual(cases.count, 2, "fixtures missing in \(OpFixtures.directory)")
    for path in cases {
      let file = try Golden.load(path)
      let name = (path as NSString).lastPathComponent
      let input = try file.tensor("input", path: path), gamma = try file.tensor("gamma", path: path)
      var runningMean = try file.tensor("running_mean", path: path), runningVar = try file.tensor("running_var", path: path)
      let training = try XCTUnwrap(file.boolSetting("training"), name)
      let (output, cache) = batchNorm2dForward(
        input: input, gamma: gamma, beta: try file.tensor("beta", path: path), runningMean: &runningMean, runningVar: &runningVar,
        training: training, momentum: try XCTUnwrap(file.floatSetting("momentum")), epsilon: try XCTUnwrap(file.floatSetting("eps")))
      XCTAssertNil(closeness(output, try file.tensor("output", path: path), atol: 1e-5, rtol: 1e-5), name)
      XCTAssertNil(closeness(runningMean, try file.tensor("running_mean_after", path: path), atol: 1e-5, rtol: 1e-5), name)
      XCTAssertNil(closeness(runningVar, try file.tensor("running_var_after", path: path), atol: 1e-5, rtol: 1e-5), name)
      let grads = gradients(try file.tensor("grad_output", path: path), input, gamma, cache)
      XCTAssertNil(closeness(grads.gradInput, try file.tensor("grad_input", path: path), atol: 1e-4, rtol: 1e-4), name)
      XCTAssertNil(closeness(grads.gradGamma, try file.tensor("grad_gamma", path: path), atol: 1e-4, rtol: 1e-4), name)
      XCTAssertNil(closeness(grads.gradBeta, try file.tensor("grad_beta", path: path), atol: 1e-4, rtol: 1e-4), name)
    }
  }
}
