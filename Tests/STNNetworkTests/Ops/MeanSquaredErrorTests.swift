import XCTest
import STNTensor
import STNTestSupport
import STNNetwork

final class MeanSquaredErrorTests: XCTestCase {
  func testHandComputed() {
    let input = Tensor(shape: [2, 2], data: [1, 2, 3, 4]), target = Tensor(shape: [2, 2], data: [1, 0, 3, 8])
    // (0 + 4 + 0 + 16) / 4
    XCTAssertEqual(meanSquaredErrorForward(input: input, target: target), 5)
    // 2 (x - t) / 4, times the upstream 3, added to what the buffer holds (1).
    var gradInput = Tensor(shape: [2, 2], repeating: 1)
    meanSquaredErrorBackward(gradInput: &gradInput, gradLoss: 3, input: input, target: target)
    XCTAssertEqual(gradInput.data, [1, 4, 1, -5])
  }

  func testFiniteDifference() {
    var rng = RandomStream(seed: 14)
    let input = randomTensor([3, 5], rng: &rng), target = randomTensor([3, 5], rng: &rng)
    let analytic = freshGradient(input.shape) { meanSquaredErrorBackward(gradInput: &$0, input: input, target: target) }
    let numeric = numericalGradient(of: { Double(meanSquaredErrorForward(input: $0, target: target)) }, at: input, epsilon: 1e-2)
    XCTAssertNil(closeness(analytic, numeric, atol: 1e-3, rtol: 1e-3))
  }
}
