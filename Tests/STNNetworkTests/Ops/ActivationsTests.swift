import XCTest
import STNFiles
import STNTensor
import STNTestSupport
import STNNetwork

final class ActivationsTests: XCTestCase {
  private let x = Tensor(shape: [2, 2], data: [-2, -0.5, 0.5, 3])

  func testHandComputed() {
    XCTAssertEqual(reluForward(x).data, [0, 0, 0.5, 3])
    XCTAssertEqual(freshGradient(x.shape) { reluBackward(gradInput: &$0, gradOutput: Tensor(shape: [2, 2], repeating: 2), input: x) }.data, [0, 0, 2, 2])
    XCTAssertEqual(leakyReLUForward(x, slope: 0.1).data, [-0.2, -0.05, 0.5, 3])
    XCTAssertEqual(freshGradient(x.shape) { leakyReLUBackward(gradInput: &$0, gradOutput: Tensor(shape: [2, 2], repeating: 2), input: x, slope: 0.1) }.data, [0.2, 0.2, 2, 2])
    let s = sigmoidForward(Tensor(shape: [1], data: [0]))
    XCTAssertEqual(s.data, [0.5])
    XCTAssertEqual(freshGradient([1]) { sigmoidBackward(gradInput: &$0, gradOutput: Tensor(shape: [1], data: [4]), output: s) }.data, [1])
    let t = tanhForward(Tensor(shape: [1], data: [0]))
    XCTAssertEqual(t.data, [0])
    XCTAssertEqual(freshGradient([1]) { tanhBackward(gradInput: &$0, gradOutput: Tensor(shape: [1], data: [3]), output: t) }.data, [3])
  }

  /// At the kink x = 0 PyTorch's ReLU gradient is 0; LeakyReLU's is the slope.
  func testKinkConvention() {
    let zero = Tensor(shape: [1], data: [0])
    let one = Tensor(shape: [1], data: [1])
    XCTAssertEqual(freshGradient([1]) { reluBackward(gradInput: &$0, gradOutput: one, input: zero) }.data, [0])
    XCTAssertEqual(freshGradient([1]) { leakyReLUBackward(gradInput: &$0, gradOutput: one, input: zero, slope: 0.2) }.data, [0.2])
  }

  func testSaturationIsFinite() {
    let big = Tensor(shape: [2], data: [-200, 200])
    XCTAssertEqual(sigmoidForward(big).data, [0, 1])
    XCTAssertEqual(tanhForward(big).data, [-1, 1])
    XCTAssertTrue(reluForward(Tensor(shape: [1], data: [.nan])).data[0].isNaN)
  }

  func testFiniteDifference() {
    // Values at least 0.05 from 0 so the +-0.01 probe never straddles a kink.
    var rng = RandomStream(seed: 2)
    var input = randomTensor([3, 7], rng: &rng, scale: 2)
    for i in 0..<input.count where abs(input.data[i]) < 0.05 { input.data[i] = 0.3 }
    let probe = randomTensor(input.shape, rng: &rng)
    let checks: [(String, (Tensor) -> Tensor, Tensor)] = [
      ("relu", { reluForward($0) }, freshGradient(input.shape) { reluBackward(gradInput: &$0, gradOutput: probe, input: input) }),
      ("leaky", { leakyReLUForward($0, slope: 0.2) }, freshGradient(input.shape) { leakyReLUBackward(gradInput: &$0, gradOutput: probe, input: input, slope: 0.2) }),
      ("sigmoid", sigmoidForward, freshGradient(input.shape) { sigmoidBackward(gradInput: &$0, gradOutput: probe, output: sigmoidForward(input)) }),
      ("tanh", tanhForward, freshGradient(input.shape) { tanhBackward(gradInput: &$0, gradOutput: probe, output: tanhForward(input)) }),
    ]
    for (name, forward, analytic) in checks {
      let numeric = numericalGradient(of: { dotProduct(forward($0), probe) }, at: input, epsilon: 1e-2)
      XCTAssertNil(closeness(analytic, numeric, atol: 2e-3, rtol: 2e-3), name)
    }
  }

  /// activation_* fixtures from make_fixtures.py.
  func testMatchesPyTorchFixtures() throws {
    let cases = OpFixtures.cases(prefix: "activation_")
    XCTAssertEqual(cases.count, 4, "fixtures missing in \(OpFixtures.directory)")
    for path in cases {
      let file = try Golden.load(path)
      let name = (path as NSString).lastPathComponent
      let input = try file.tensor("input", path: path), gradOutput = try file.tensor("grad_output", path: path)
      let output: Tensor, gradInput: Tensor
      switch file.metadata["op"] {
      case "relu":
        output = reluForward(input); gradInput = freshGradient(input.shape) { reluBackward(gradInput: &$0, gradOutput: gradOutput, input: input) }
      case "leaky_relu":
        let slope = try XCTUnwrap(file.floatSetting("slope"))
        output = leakyReLUForward(input, slope: slope); gradInput = freshGradient(input.shape) { leakyReLUBackward(gradInput: &$0, gradOutput: gradOutput, input: input, slope: slope) }
      case "sigmoid":
        output = sigmoidForward(input); gradInput = freshGradient(input.shape) { sigmoidBackward(gradInput: &$0, gradOutput: gradOutput, output: output) }
      case "tanh":
        output = tanhForward(input); gradInput = freshGradient(input.shape) { tanhBackward(gradInput: &$0, gradOutput: gradOutput, output: output) }
      default:
        XCTFail("\(name): unknown op \(file.metadata["op"] ?? "nil")"); continue
      }
      XCTAssertNil(closeness(output, try file.tensor("output", path: path), atol: 1e-5, rtol: 1e-5), name)
      XCTAssertNil(closeness(gradInput, try file.tensor("grad_input", path: path), atol: 1e-4, rtol: 1e-4), name)
    }
  }
}

// MARK: - Threaded ReLU

extension ActivationsTests {
  /// The threaded ReLU (large enough to be split) equals the single-threaded one bit for bit.
  func testThreadedReLUMatchesSingleThreaded() {
    var rng = RandomStream(seed: 8)
    var input = randomTensor([3, 5, 61, 67], rng: &rng)
    input.data[10] = .nan
    input.data[11] = 0
    let gradOutput = randomTensor(input.shape, rng: &rng)
    let forward = reluForward(input), backward = freshGradient(input.shape) { reluBackward(gradInput: &$0, gradOutput: gradOutput, input: input) }
    for threads in [1, 2, 3] {
      XCTAssertEqual(reluForward(input, threads: threads).data.map(\.bitPattern), forward.data.map(\.bitPattern))
      XCTAssertEqual(freshGradient(input.shape) { reluBackward(gradInput: &$0, gradOutput: gradOutput, input: input, threads: threads) }, backward)
    }
    XCTAssertTrue(reluForward(input, threads: 2).data[10].isNaN)
  }

  /// Backward kernels add to what the buffer holds (a node read twice gets both shares).
  func testBackwardAccumulatesIntoTheBuffer() {
    let gradOutput = Tensor(shape: [2, 2], repeating: 2)
    var gradInput = Tensor(shape: [2, 2], data: [1, 1, 1, 1])
    reluBackward(gradInput: &gradInput, gradOutput: gradOutput, input: x)
    XCTAssertEqual(gradInput.data, [1, 1, 3, 3])
    tanhBackward(gradInput: &gradInput, gradOutput: gradOutput, output: Tensor(shape: [2, 2]))
    XCTAssertEqual(gradInput.data, [3, 3, 5, 5])
  }
}
