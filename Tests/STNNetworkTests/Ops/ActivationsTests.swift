import XCTest
import STNFiles
import STNTensor
import STNTestSupport
import STNNetwork

final class ActivationsTests: XCTestCase {
  private let x = Tensor(shape: [2, 2], data: [-2, -0.5, 0.5, 3])

  func testHandComputed() {
    XCTAssertEqual(reluForward(x).data, [0, 0, 0.5, 3])
    XCTAssertEqual(reluBackward(gradOutput: Tensor(shape: [2, 2], repeating: 2), input: x).data, [0, 0, 2, 2])
    XCTAssertEqual(leakyReLUForward(x, slope: 0.1).data, [-0.2, -0.05, 0.5, 3])
    XCTAssertEqual(leakyReLUBackward(gradOutput: Tensor(shape: [2, 2], repeating: 2), input: x, slope: 0.1).data, [0.2, 0.2, 2, 2])
    let s = sigmoidForward(Tensor(shape: [1], data: [0]))
    XCTAssertEqual(s.data, [0.5])
    XCTAssertEqual(sigmoidBackward(gradOutput: Tensor(shape: [1], data: [4]), output: s).data, [1])
    let t = tanhForward(Tensor(shape: [1], data: [0]))
    XCTAssertEqual(t.data, [0])
    XCTAssertEqual(tanhBackward(gradOutput: Tensor(shape: [1], data: [3]), output: t).data, [3])
  }

  /// At the kink x = 0 PyTorch's ReLU gradient is 0; LeakyReLU's is the slope.
  func testKinkConvention() {
    let zero = Tensor(shape: [1], data: [0])
    let one = Tensor(shape: [1], data: [1])
    XCTAssertEqual(reluBackward(gradOutput: one, input: zero).data, [0])
    XCTAssertEqual(leakyReLUBackward(gradOutput: one, input: zero, slope: 0.2).data, [0.2])
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
      ("relu", reluForward, reluBackward(gradOutput: probe, input: input)),
      ("leaky", { leakyReLUForward($0, slope: 0.2) }, leakyReLUBackward(gradOutput: probe, input: input, slope: 0.2)),
      ("sigmoid", sigmoidForward, sigmoidBackward(gradOutput: probe, output: sigmoidForward(input))),
      ("tanh", tanhForward, tanhBackward(gradOutput: probe, output: tanhForward(input))),
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
        output = reluForward(input); gradInput = reluBackward(gradOutput: gradOutput, input: input)
      case "leaky_relu":
        let slope = try XCTUnwrap(file.floatSetting("slope"))
        output = leakyReLUForward(input, slope: slope); gradInput = leakyReLUBackward(gradOutput: gradOutput, input: input, slope: slope)
      case "sigmoid":
        output = sigmoidForward(input); gradInput = sigmoidBackward(gradOutput: gradOutput, output: output)
      case "tanh":
        output = tanhForward(input); gradInput = tanhBackward(gradOutput: gradOutput, output: output)
      default:
        XCTFail("\(name): unknown op \(file.metadata["op"] ?? "nil")"); continue
      }
      XCTAssertNil(closeness(output, try file.tensor("output", path: path), atol: 1e-5, rtol: 1e-5), name)
      XCTAssertNil(closeness(gradInput, try file.tensor("grad_input", path: path), atol: 1e-4, rtol: 1e-4), name)
    }
  }
}
