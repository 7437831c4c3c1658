import XCTest
import STNFiles
import STNTensor
import STNTestSupport
import STNNetwork

final class DropoutTests: XCTestCase {
  func testMaskScalesKeptValuesAndBackwardUsesIt() {
    var rng = RandomStream(seed: 1)
    let x = Tensor(shape: [4, 250], repeating: 2)
    let (output, mask) = dropoutForward(x, probability: 0.25, rng: &rng)
    let keep: Float = 1 / 0.75
    var dropped = 0
    for i in 0..<x.count {
      XCTAssertTrue(mask[i] == 0 || mask[i] == keep, "mask \(mask[i])")
      if mask[i] == 0 { dropped += 1 }
      XCTAssertEqual(output.data[i], 2 * mask[i])
    }
    // 1000 Bernoulli(0.25) draws: 250 expected, standard deviation about 14.
    XCTAssertTrue((180...320).contains(dropped), "dropped \(dropped) of 1000")
    let gradInput = freshGradient(x.shape) { dropoutBackward(gradInput: &$0, gradOutput: Tensor(shape: x.shape, repeating: 3), mask: mask) }
    for i in 0..<x.count { XCTAssertEqual(gradInput.data[i], 3 * mask[i]) }
  }

  func testDeterministicForASeedAndEdgeProbabilities() {
    var a = RandomStream(seed: 42), b = RandomStream(seed: 42)
    let x = Tensor(shape: [100], repeating: 1)
    XCTAssertEqual(dropoutForward(x, probability: 0.5, rng: &a).mask, dropoutForward(x, probability: 0.5, rng: &b).mask)
    XCTAssertEqual(dropoutForward(x, probability: 0, rng: &a).output, x)
    XCTAssertEqual(dropoutForward(x, probability: 1, rng: &a).output, Tensor(shape: [100]))
  }

  /// PyTorch's dropout_0 fixture: every output is 0 or input/(1-p), the convention we follow.
  func testScalingMatchesPyTorchFixture() throws {
    let path = try XCTUnwrap(OpFixtures.cases(prefix: "dropout_").first, "fixture missing in \(OpFixtures.directory)")
    let file = try Golden.load(path)
    let input = try file.tensor("input", path: path), output = try file.tensor("output", path: path)
    let p = try XCTUnwrap(file.floatSetting("probability"))
    var rng = RandomStream(seed: 0)
    let keep = dropoutForward(Tensor(shape: [1], data: [1]), probability: 0, rng: &rng).mask[0]
    XCTAssertEqual(keep, 1)
    for i in 0..<input.count where output.data[i] != 0 {
      XCTAssertEqual(output.data[i], input.data[i] / (1 - p), accuracy: 1e-5)
    }
    XCTAssertTrue(output.data.contains(0))
  }
}
