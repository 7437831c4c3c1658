import XCTest
import STNFiles
import STNTensor
import STNTestSupport
import STNNetwork

final class CrossEntropyTests: XCTestCase {
  func testHandComputed() {
    // Row 0: equal logits, loss log 2. Row 1: logits (log 3, 0), target 1: p = (3/4, 1/4), loss log 4.
    let logits = Tensor(shape: [2, 2], data: [0, 0, Float(log(3.0)), 0])
    let (loss, probabilities) = softmaxCrossEntropyForward(logits: logits, targets: [0, 1])
    XCTAssertEqual(loss, Float((log(2.0) + log(4.0)) / 2), accuracy: 1e-6)
    XCTAssertNil(closeness(probabilities, Tensor(shape: [2, 2], data: [0.5, 0.5, 0.75, 0.25]), atol: 1e-6, rtol: 0))
    let gradient = freshGradient(logits.shape) { softmaxCrossEntropyBackward(gradLogits: &$0, probabilities: probabilities, targets: [0, 1]) }
    XCTAssertNil(closeness(gradient, Tensor(shape: [2, 2], data: [-0.25, 0.25, 0.375, -0.375]), atol: 1e-6, rtol: 0))
  }

  /// Huge logits neither overflow nor lose the loss (log-sum-exp after subtracting the max).
  func testStableForLargeLogits() {
    let logits = Tensor(shape: [1, 3], data: [1000, 0, -1000])
    let (confident, _) = softmaxCrossEntropyForward(logits: logits, targets: [0])
    XCTAssertEqual(confident, 0, accuracy: 1e-6)
    let (wrong, probabilities) = softmaxCrossEntropyForward(logits: logits, targets: [1])
    XCTAssertEqual(wrong, 1000, accuracy: 1e-3)
    XCTAssertTrue(probabilities.data.allSatisfy { $0.isFinite })
  }

  func testFiniteDifference() {
    var rng = RandomStream(seed: 12)
    let logits = randomTensor([5, 4], rng: &rng, scale: 3)
    let targets = [0, 3, 1, 1, 2]
    let probabilities = softmaxCrossEntropyForward(logits: logits, targets: targets).probabilities
    let analytic = freshGradient(logits.shape) { softmaxCrossEntropyBackward(gradLogits: &$0, probabilities: probabilities, targets: targets) }
    let numeric = numericalGradient(of: { Double(softmaxCrossEntropyForward(logits: $0, targets: targets).loss) }, at: logits, epsilon: 1e-2)
    XCTAssertNil(closeness(analytic, numeric, atol: 1e-3, rtol: 1e-2))
  }

  /// Every `cross_entropy_*` golden case: loss and grad_logits (targets stored as float32).
  func testCrossEntropyGolden() throws {
    let cases = Golden.cases(prefix: "cross_entropy_")
    try XCTSkipIf(cases.isEmpty, "no cross_entropy_ cases in \(Golden.directory)")
    for path in cases {
      let file = try Golden.load(path)
      let name = (path as NSString).lastPathComponent
      XCTAssertEqual(file.metadata["reduction"] ?? "mean", "mean", name)
      let logits = try file.tensor("logits", path: path)
      let targets = try file.tensor("target", path: path).data.map { Int($0.rounded()) }
      let (loss, probabilities) = softmaxCrossEntropyForward(logits: logits, targets: targets)
      XCTAssertNil(closeness(Tensor(shape: [1], data: [loss]), try file.tensor("loss", path: path), atol: 1e-5, rtol: 1e-5), name)
      let gradient = freshGradient(logits.shape) { softmaxCrossEntropyBackward(gradLogits: &$0, probabilities: probabilities, targets: targets) }
      XCTAssertNil(closeness(gradient, try file.tensor("grad_logits", path: path), atol: 1e-4, rtol: 1e-4), name)
    }
  }
}
