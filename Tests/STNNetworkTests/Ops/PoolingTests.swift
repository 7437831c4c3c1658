import XCTest
import STNFiles
import STNTensor
import STNTestSupport
import STNNetwork

final class PoolingTests: XCTestCase {
  // MARK: - Output sizes

  /// Sizes PyTorch 2 gives for `F.max_pool2d(..., ceil_mode=)` (read off torch for each row).
  func testOutputSizeMatchesPyTorch() {
    let rows: [(size: Int, kernel: Int, stride: Int, padding: Int, ceil: Bool, expected: Int)] = [
      (5, 3, 3, 1, true, 2),  // the ceil window would start in the right padding: dropped
      (7, 3, 3, 0, true, 3), (7, 3, 2, 1, true, 4), (6, 2, 2, 1, true, 4), (8, 3, 3, 1, true, 3),
      (9, 4, 3, 2, true, 4), (42, 2, 2, 0, true, 21), (21, 2, 2, 0, false, 10), (21, 2, 2, 0, true, 11),
      (10, 3, 2, 1, false, 5), (4, 3, 2, 1, true, 3),
    ]
    for row in rows {
      XCTAssertEqual(pool2dOutputSize(row.size, kernel: row.kernel, stride: row.stride, padding: row.padding, ceilMode: row.ceil), row.expected, "\(row)")
    }
  }

  // MARK: - Max pooling

  func testMaxPoolHandComputed() {
    let input = Tensor(shape: [1, 1, 4, 4], data: [
      1, 5, 2, 0,
      3, 4, 8, 8,
      -1, -2, 0, 7,
      -3, -4, 9, 1,
    ])
    let (output, argmax) = maxPool2dForward(input: input, kernel: 2)
    XCTAssertEqual(output.data, [5, 8, -1, 9])
    // NOTE: the 8s tie; PyTorch keeps the first in row-major order (index 6, not 7).
    XCTAssertEqual(argmax, [1, 6, 8, 14])
    let gradInput = freshGradient(input.shape) { maxPool2dBackward(gradInput: &$0, gradOutput: Tensor(shape: [1, 1, 2, 2], data: [1, 2, 3, 4]), argmax: argmax) }
    XCTAssertEqual(gradInput.data, [0, 1, 0, 0, 0, 0, 2, 0, 3, 0, 0, 0, 0, 0, 4, 0])
  }

  /// Overlapping windows (stride 1) send several gradients to one shared maximum.
  func testMaxPoolOverlappingWindowsAccumulate() {
    let input = Tensor(shape: [1, 1, 3, 3], data: [0, 0, 0, 0, 9, 0, 0, 0, 0])
    let (output, argmax) = maxPool2dForward(input: input, kernel: 2, stride: 1)
    XCTAssertEqual(output.data, [9, 9, 9, 9])
    let gradInput = freshGradient(input.shape) { maxPool2dBackward(gradInput: &$0, gradOutput: Tensor(shape: [1, 1, 2, 2], repeating: 1), argmax: argmax) }
    XCTAssertEqual(gradInput.data, [0, 0, 0, 0, 4, 0, 0, 0, 0])
  }

  /// A NaN in a window wins (propagates), as in PyTorch.
  func testMaxPoolNaNPropagates() {
    let input = Tensor(shape: [1, 1, 2, 2], data: [1, .nan, 3, 2])
    let (output, argmax) = maxPool2dForward(input: input, kernel: 2)
    XCTAssertTrue(output.data[0].isNaN)
    XCTAssertEqual(argmax, [1])
  }

  /// Padding is never chosen: an all-negative input still yields input values.
  func testMaxPoolPaddingNeverWins() {
    let input = Tensor(shape: [1, 1, 2, 2], data: [-4, -3, -2, -1])
    let (output, argmax) = maxPool2dForward(input: input, kernel: 2, stride: 2, padding: 1)
    XCTAssertEqual(output.data, [-4, -3, -2, -1])
    XCTAssertEqual(argmax, [0, 1, 2, 3])
  }

  func testMaxPoolFiniteDifference() {
    // Distinct values at least 0.1 apart (a shuffled ramp) keep the probe away from ties.
    var rng = RandomStream(seed: 9)
    var values = (0..<(2 * 2 * 7 * 6)).map { Float($0) * 0.1 }
    values.shuffle(using: &rng)
    let input = Tensor(shape: [2, 2, 7, 6], data: values)
    let kernel = 3, stride = 2, padding = 1
    let (output, argmax) = maxPool2dForward(input: input, kernel: kernel, stride: stride, padding: padding, ceilMode: true)
    let probe = randomTensor(output.shape, rng: &rng)
    let analytic = freshGradient(input.shape) { maxPool2dBackward(gradInput: &$0, gradOutput: probe, argmax: argmax) }
    let numeric = numericalGradient(of: { dotProduct(maxPool2dForward(input: $0, kernel: kernel, stride: stride, padding: padding, ceilMode: true).output, probe) }, at: input)
    XCTAssertNil(closeness(analytic, numeric, atol: 1e-3, rtol: 1e-3))
  }

  /// Every `maxpool2d_*` case of the shared golden folder: output and grad_input.
  func testMaxPool2DGolden() throws {
    let cases = Golden.cases(prefix: "maxpool2d_")
    try XCTSkipIf(cases.isEmpty, "no maxpool2d_ cases in \(Golden.directory)")
    for path in cases { try checkMaxPoolReference(path) }
  }

  /// Padded cases from make_fixtures.py (the golden cases have no padding).
  func testMaxPoolPaddedMatchesPyTorchFixtures() throws {
    let cases = OpFixtures.cases(prefix: "maxpool2d_pad_")
    XCTAssertFalse(cases.isEmpty, "fixtures missing in \(OpFixtures.directory)")
    for path in cases { try checkMaxPoolReference(path) }
  }

  private func checkMaxPoolReference(_ path: String) throws {
    let file = try Golden.load(path)
    let name = (path as NSString).lastPathComponent
    let input = try file.tensor("input", path: path)
    let kernel = try XCTUnwrap(file.intSetting("kernel"), name)
    let stride = try XCTUnwrap(file.intSetting("stride"), name)
    let ceilMode = try XCTUnwrap(file.boolSetting("ceil_mode"), name)
    let padding = file.intSetting("padding") ?? 0
    let (output, argmax) = maxPool2dForward(input: input, kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode)
    XCTAssertNil(closeness(output, try file.tensor("output", path: path), atol: 1e-5, rtol: 1e-5), name)
    let gradOutput = try file.tensor("grad_output", path: path)
    let gradInput = freshGradient(input.shape) { maxPool2dBackward(gradInput: &$0, gradOutput: gradOutput, argmax: argmax) }
    XCTAssertNil(closeness(gradInput, try file.tensor("grad_input", path: path), atol: 1e-4, rtol: 1e-4), name)
  }

  // MARK: - Average pooling

  func testAvgPoolHandComputed() {
    let input = Tensor(shape: [1, 1, 2, 2], data: [1, 2, 3, 4])
    XCTAssertEqual(avgPool2dForward(input: input, kernel: 2).data, [2.5])
    // Padding 1, kernel 2, stride 2: each window holds one real cell and three zeros.
    XCTAssertEqual(avgPool2dForward(input: input, kernel: 2, stride: 2, padding: 1).data, [0.25, 0.5, 0.75, 1])
    XCTAssertEqual(avgPool2dForward(input: input, kernel: 2, stride: 2, padding: 1, countIncludePad: false).data, [1, 2, 3, 4])
    let gradInput = freshGradient(input.shape) { avgPool2dBackward(gradInput: &$0, gradOutput: Tensor(shape: [1, 1, 1, 1], data: [8]), kernel: 2) }
    XCTAssertEqual(gradInput.data, [2, 2, 2, 2])
  }

  func testAvgPoolFiniteDifference() {
    var rng = RandomStream(seed: 4)
    let input = randomTensor([2, 2, 7, 5], rng: &rng)
    for (countIncludePad, ceilMode) in [(true, true), (false, true), (true, false)] {
      let forward = { (x: Tensor) in avgPool2dForward(input: x, kernel: 3, stride: 2, padding: 1, ceilMode: ceilMode, countIncludePad: countIncludePad) }
      let probe = randomTensor(forward(input).shape, rng: &rng)
      let analytic = freshGradient(input.shape) { avgPool2dBackward(gradInput: &$0, gradOutput: probe, kernel: 3, stride: 2, padding: 1, ceilMode: ceilMode, countIncludePad: countIncludePad) }
      let numeric = numericalGradient(of: { dotProduct(forward($0), probe) }, at: input)
      XCTAssertNil(closeness(analytic, numeric, atol: 1e-3, rtol: 1e-3), "countIncludePad \(countIncludePad) ceil \(ceilMode)")
    }
  }

  /// Cases from make_fixtures.py: ceil mode, padding, count_include_pad both ways.
  func testAvgPoolMatchesPyTorchFixtures() throws {
    let cases = OpFixtures.cases(prefix: "avgpool2d_")
    XCTAssertFalse(cases.isEmpty, "fixtures missing in \(OpFixtures.directory)")
    for path in cases {
      let file = try Golden.load(path)
      let name = (path as NSString).lastPathComponent
      let input = try file.tensor("input", path: path)
      let kernel = try XCTUnwrap(file.intSetting("kernel"), name), stride = try XCTUnwrap(file.intSetting("stride"), name)
      let padding = try XCTUnwrap(file.intSetting("padding"), name)
      let ceilMode = try XCTUnwrap(file.boolSetting("ceil_mode"), name)
      let countIncludePad = try XCTUnwrap(file.boolSetting("count_include_pad"), name)
      let output = avgPool2dForward(input: input, kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode, countIncludePad: countIncludePad)
      XCTAssertNil(closeness(output, try file.tensor("output", path: path), atol: 1e-5, rtol: 1e-5), name)
      let gradOutput = try file.tensor("grad_output", path: path)
      let gradInput = freshGradient(input.shape) { avgPool2dBackward(gradInput: &$0, gradOutput: gradOutput, kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode, countIncludePad: countIncludePad) }
      XCTAssertNil(closeness(gradInput, try file.tensor("grad_input", path: path), atol: 1e-4, rtol: 1e-4), name)
    }
  }
}

// MARK: - Fast paths

extension PoolingTests {
  /// The 2x2/stride-2 loop and the plane threading equal the generic loop, ties and NaNs included.
  func testMaxPoolFastPathsMatchNaive() {
    var rng = RandomStream(seed: 21)
    for shape in [[3, 4, 8, 8], [2, 3, 7, 9], [1, 5, 42, 42]] {
      var input = randomTensor(shape, rng: &rng)
      // Quantize so windows hold ties, and plant a few NaNs.
      for i in 0..<input.count { input.data[i] = (input.data[i] * 4).rounded() }
      input.data[5] = .nan
      input.data[input.count / 2] = .nan
      for ceilMode in [false, true] {
        let reference = maxPool2dForwardNaive(input: input, kernel: 2, stride: 2, ceilMode: ceilMode)
        for threads in [1, 2, 3] {
          let fast = maxPool2dForward(input: input, kernel: 2, ceilMode: ceilMode, threads: threads)
          XCTAssertEqual(fast.argmax, reference.argmax, "\(shape) ceil \(ceilMode) threads \(threads)")
          XCTAssertEqual(fast.output.data.map(\.bitPattern), reference.output.data.map(\.bitPattern))
          let gradOutput = randomTensor(fast.output.shape, rng: &rng)
          XCTAssertEqual(
            freshGradient(shape) { maxPool2dBackward(gradInput: &$0, gradOutput: gradOutput, argmax: fast.argmax, threads: threads) },
            freshGradient(shape) { maxPool2dBackward(gradInput: &$0, gradOutput: gradOutput, argmax: reference.argmax) })
        }
      }
    }
  }
}

// MARK: - Fused max-pool + ReLU

extension PoolingTests {
  /// maxPool2dReLUForward/Backward are bit-identical to reluForward(maxPool2dForwardNaive) and to
  /// maxPool2dBackward(reluBackward(...)), ties, NaNs and negative maxima included.
  func testMaxPoolReLUMatchesTheComposition() {
    var rng = RandomStream(seed: 31)
    for shape in [[2, 3, 8, 8], [2, 3, 7, 9], [1, 4, 42, 42], [3, 2, 21, 21]] {
      var input = randomTensor(shape, rng: &rng)
      for i in 0..<input.count { input.data[i] = (input.data[i] * 4).rounded() - 1 }
      input.data[3] = .nan
      for (kernel, stride, padding) in [(2, 2, 0), (3, 2, 1)] {
        let pooled = maxPool2dForwardNaive(input: input, kernel: kernel, stride: stride, padding: padding)
        let expected = reluForward(pooled.output)
        let gradOutput = randomTensor(expected.shape, rng: &rng)
        let reluGradient = freshGradient(expected.shape) { reluBackward(gradInput: &$0, gradOutput: gradOutput, input: expected) }
        let expectedGrad = freshGradient(shape) { maxPool2dBackward(gradInput: &$0, gradOutput: reluGradient, argmax: pooled.argmax) }
        for threads in [1, 2, 3] {
          let fused = maxPool2dReLUForward(input: input, kernel: kernel, stride: stride, padding: padding, threads: threads)
          XCTAssertEqual(fused.output.data.map(\.bitPattern), expected.data.map(\.bitPattern), "\(shape) k\(kernel) threads \(threads)")
          XCTAssertEqual(fused.argmax, pooled.argmax)
          let grad = freshGradient(shape) { maxPool2dReLUBackward(gradInput: &$0, gradOutput: gradOutput, output: fused.output, argmax: fused.argmax, threads: threads) }
          XCTAssertEqual(grad.data.map(\.bitPattern), expectedGrad.data.map(\.bitPattern), "\(shape) k\(kernel) threads \(threads)")
        }
      }
    }
  }
}
