import Foundation
import XCTest
import STNFiles
import STNTensor
import STNTestSupport
import STNNetwork

/// conv2d's accumulating backward (fast, or the naive twin) into zero buffers: the gradients of
/// one backward pass; gradInput is nil unless `needInputGradient`.
private func conv2dGradients(
  naive: Bool = false, gradOutput: Tensor, input: Tensor, weight: Tensor, stride: Int = 1, padding: Int = 0, dilation: Int = 1,
  needInputGradient: Bool = true, threads: Int = 1
) -> (gradInput: Tensor?, gradWeight: Tensor, gradBias: Tensor) {
  var gradInput: Tensor? = needInputGradient ? Tensor(shape: input.shape) : nil
  var gradWeight: Tensor? = Tensor(shape: weight.shape), gradBias: Tensor? = Tensor(shape: [weight.shape[0]])
  if naive {
    conv2dBackwardNaive(
      gradInput: &gradInput, gradWeight: &gradWeight, gradBias: &gradBias, gradOutput: gradOutput, input: input, weight: weight,
      stride: stride, padding: padding, dilation: dilation)
  } else {
    conv2dBackward(
      gradInput: &gradInput, gradWeight: &gradWeight, gradBias: &gradBias, gradOutput: gradOutput, input: input, weight: weight,
      stride: stride, padding: padding, dilation: dilation, threads: threads)
  }
  return (gradInput, gradWeight ?? Tensor(shape: []), gradBias ?? Tensor(shape: []))
}

/// a + b element-wise.
private func addTensors(_ a: Tensor, _ b: Tensor) -> Tensor { Tensor(shape: a.shape, data: zip(a.data, b.data).map { $0 + $1 }) }

final class Conv2DTests: XCTestCase {
  /// The run-time policy `stn` applies at start-up (single-threaded OpenBLAS inside threaded kernels).
  override class func setUp() {
    super.setUp()
    RuntimePolicy.standard.apply()
  }

  // MARK: - Hand-computed

  /// 3x3 ramp, 2x2 kernel [[1,0],[0,-1]], bias 0.5: every output is x[i,j] - x[i+1,j+1] + 0.5 = -3.5.
  func testHandComputedForwardAndBackward() {
    let input = Tensor(shape: [1, 1, 3, 3], data: [1, 2, 3, 4, 5, 6, 7, 8, 9])
    let weight = Tensor(shape: [1, 1, 2, 2], data: [1, 0, 0, -1])
    let bias = Tensor(shape: [1], data: [0.5])
    let ones = Tensor(shape: [1, 1, 2, 2], repeating: 1)
    for threads in [1, 2] {
      for naive in [false, true] {
        let output = naive
          ? conv2dForwardNaive(input: input, weight: weight, bias: bias)
          : conv2dForward(input: input, weight: weight, bias: bias, threads: threads)
        XCTAssertEqual(output, Tensor(shape: [1, 1, 2, 2], data: [-3.5, -3.5, -3.5, -3.5]))
        let grads = naive
          ? conv2dGradients(naive: true, gradOutput: ones, input: input, weight: weight)
          : conv2dGradients(gradOutput: ones, input: input, weight: weight, threads: threads)
        XCTAssertEqual(grads.gradBias.data, [4])
        // Each weight tap sums the four input values it sees.
        XCTAssertEqual(grads.gradWeight.data, [12, 16, 24, 28])
        // Each input cell sums the taps that cover it.
        XCTAssertEqual(grads.gradInput?.data, [1, 1, 0, 1, 0, -1, 0, -1, -1])
      }
    }
  }

  /// Padding 1, stride 2 on a 1x1 kernel picks every other pixel and pads with zeros.
  func testPaddingAndStrideHandComputed() {
    let input = Tensor(shape: [1, 1, 2, 2], data: [1, 2, 3, 4])
    let weight = Tensor(shape: [1, 1, 1, 1], data: [2])
    let output = conv2dForward(input: input, weight: weight, bias: nil, stride: 2, padding: 1)
    XCTAssertEqual(output.shape, [1, 1, 2, 2])
    XCTAssertEqual(output.data, [0, 0, 0, 8])
  }

  func testOutputShape() {
    XCTAssertEqual(conv2dOutputShape(inputShape: [64, 1, 42, 42], weightShape: [32, 1, 5, 5], padding: 2), [64, 32, 42, 42])
    XCTAssertEqual(conv2dOutputShape(inputShape: [2, 8, 18, 18], weightShape: [10, 8, 5, 5]), [2, 10, 14, 14])
    XCTAssertEqual(conv2dOutputShape(inputShape: [1, 1, 9, 11], weightShape: [1, 1, 3, 2], stride: 2, padding: 2, dilation: 2), [1, 1, 5, 7])
  }

  // MARK: - Fast vs naive

  /// The im2col+sgemm path equals the direct loops on random shapes, strides, paddings, dilations.
  func testFastMatchesNaive() {
    var rng = RandomStream(seed: 11)
    let configs: [(n: Int, c: Int, h: Int, w: Int, o: Int, kh: Int, kw: Int, s: Int, p: Int, d: Int)] = [
      (3, 2, 9, 8, 4, 3, 3, 1, 1, 1),
      (2, 3, 11, 10, 5, 3, 3, 2, 0, 1),
      (5, 1, 12, 12, 3, 5, 5, 1, 2, 1),
      (2, 4, 10, 9, 3, 3, 2, 2, 2, 2),
      (1, 2, 7, 13, 2, 2, 3, 3, 1, 3),
      (9, 3, 6, 6, 2, 1, 1, 1, 0, 1),
      (2, 2, 5, 5, 3, 5, 5, 1, 0, 1),
      (2, 2, 5, 5, 3, 1, 1, 1, 1, 1),  // padding beyond the kernel reach: scatter path
      (2, 3, 9, 9, 2, 3, 3, 1, 2, 2),  // dilated stride 1: transposed-convolution path
      (2, 4, 8, 8, 3, 5, 5, 1, 2, 1),  // stride 1, O <= C: transposed-convolution path
      (2, 1, 9, 9, 6, 5, 5, 1, 2, 1),  // stride 1, O > C (the 1->32 first layer): scatter path
      (3, 16, 9, 8, 5, 5, 5, 1, 2, 1),  // C·kW >= 64: lowered by kernel rows, scatter input gradient
      (2, 24, 8, 7, 6, 3, 3, 1, 1, 2),  // kernel rows, dilated, transposed-convolution input gradient
      (2, 13, 7, 9, 4, 2, 5, 1, 1, 1),  // kernel rows with a non-square kernel (kH 2, kW 5)
    ]
    for cfg in configs {
      let input = randomTensor([cfg.n, cfg.c, cfg.h, cfg.w], rng: &rng)
      let weight = randomTensor([cfg.o, cfg.c, cfg.kh, cfg.kw], rng: &rng)
      let bias = randomTensor([cfg.o], rng: &rng)
      let reference = conv2dForwardNaive(input: input, weight: weight, bias: bias, stride: cfg.s, padding: cfg.p, dilation: cfg.d)
      let gradOutput = randomTensor(reference.shape, rng: &rng)
      let expected = conv2dGradients(naive: true, gradOutput: gradOutput, input: input, weight: weight, stride: cfg.s, padding: cfg.p, dilation: cfg.d)
      for threads in [1, 2, 3] {
        let output = conv2dForward(input: input, weight: weight, bias: bias, stride: cfg.s, padding: cfg.p, dilation: cfg.d, threads: threads)
        XCTAssertNil(closeness(output, reference, atol: 1e-5, rtol: 1e-5), "forward \(cfg) threads \(threads)")
        let noBias = conv2dForward(input: input, weight: weight, bias: nil, stride: cfg.s, padding: cfg.p, dilation: cfg.d, threads: threads)
        let referenceNoBias = conv2dForwardNaive(input: input, weight: weight, bias: nil, stride: cfg.s, padding: cfg.p, dilation: cfg.d)
        XCTAssertNil(closeness(noBias, referenceNoBias, atol: 1e-5, rtol: 1e-5), "forward without bias \(cfg)")
        let grads = conv2dGradients(gradOutput: gradOutput, input: input, weight: weight, stride: cfg.s, padding: cfg.p, dilation: cfg.d, threads: threads)
        XCTAssertNil(closeness(grads.gradInput ?? Tensor(shape: [0]), expected.gradInput!, atol: 1e-4, rtol: 1e-4), "gradInput \(cfg)")
        XCTAssertNil(closeness(grads.gradWeight, expected.gradWeight, atol: 1e-4, rtol: 1e-4), "gradWeight \(cfg)")
        XCTAssertNil(closeness(grads.gradBias, expected.gradBias, atol: 1e-4, rtol: 1e-4), "gradBias \(cfg)")
        let weightOnly = conv2dGradients(gradOutput: gradOutput, input: input, weight: weight, stride: cfg.s, padding: cfg.p, dilation: cfg.d, needInputGradient: false, threads: threads)
        XCTAssertNil(weightOnly.gradInput)
        XCTAssertEqual(weightOnly.gradWeight, grads.gradWeight)
      }
    }
  }

  /// The weight gradient is bit-identical whatever the thread count (fixed reduction groups).
  func testBackwardIndependentOfThreads() {
    var rng = RandomStream(seed: 5)
    let input = randomTensor([13, 3, 8, 8], rng: &rng)
    let weight = randomTensor([4, 3, 3, 3], rng: &rng)
    let gradOutput = randomTensor([13, 4, 8, 8], rng: &rng)
    let one = conv2dGradients(gradOutput: gradOutput, input: input, weight: weight, padding: 1, threads: 1)
    let two = conv2dGradients(gradOutput: gradOutput, input: input, weight: weight, padding: 1, threads: 2)
    XCTAssertEqual(one.gradWeight, two.gradWeight)
    XCTAssertEqual(one.gradInput, two.gradInput)
    XCTAssertEqual(one.gradBias, two.gradBias)
    // The kernel-row lowering (C·kW >= 64), forward and backward.
    let wide = randomTensor([11, 16, 7, 7], rng: &rng), wideWeight = randomTensor([8, 16, 5, 5], rng: &rng)
    let wideGradOutput = randomTensor([11, 8, 7, 7], rng: &rng)
    XCTAssertEqual(
      conv2dForward(input: wide, weight: wideWeight, bias: nil, padding: 2, threads: 1),
      conv2dForward(input: wide, weight: wideWeight, bias: nil, padding: 2, threads: 3))
    let wideOne = conv2dGradients(gradOutput: wideGradOutput, input: wide, weight: wideWeight, padding: 2, threads: 1)
    let wideThree = conv2dGradients(gradOutput: wideGradOutput, input: wide, weight: wideWeight, padding: 2, threads: 3)
    XCTAssertEqual(wideOne.gradWeight, wideThree.gradWeight)
    XCTAssertEqual(wideOne.gradInput, wideThree.gradInput)
  }

  /// Backward adds into what the buffers hold, on every input-gradient path (scatter, transposed
  /// convolution, kernel rows), and leaves out the buffers it is not given.
  func testBackwardAccumulatesIntoTheBuffers() {
    var rng = RandomStream(seed: 21)
    for (c, o, padding) in [(2, 3, 1), (4, 3, 2), (16, 5, 2)] {
      let input = randomTensor([3, c, 7, 6], rng: &rng), weight = randomTensor([o, c, 5, 5], rng: &rng)
      let gradOutput = randomTensor(conv2dOutputShape(inputShape: input.shape, weightShape: weight.shape, padding: padding), rng: &rng)
      let fresh = conv2dGradients(gradOutput: gradOutput, input: input, weight: weight, padding: padding, threads: 2)
      let start = (input: randomTensor(input.shape, rng: &rng), weight: randomTensor(weight.shape, rng: &rng), bias: randomTensor([o], rng: &rng))
      for naive in [false, true] {
        var gradInput: Tensor? = start.input, gradWeight: Tensor? = start.weight, gradBias: Tensor? = start.bias
        if naive {
          conv2dBackwardNaive(gradInput: &gradInput, gradWeight: &gradWeight, gradBias: &gradBias, gradOutput: gradOutput, input: input, weight: weight, padding: padding)
        } else {
          conv2dBackward(gradInput: &gradInput, gradWeight: &gradWeight, gradBias: &gradBias, gradOutput: gradOutput, input: input, weight: weight, padding: padding, threads: 2)
        }
        let label = "C \(c) O \(o) \(naive ? "naive" : "fast")"
        XCTAssertNil(closeness(gradInput ?? Tensor(shape: []), addTensors(start.input, fresh.gradInput ?? Tensor(shape: [])), atol: 1e-4, rtol: 1e-4), label)
        XCTAssertNil(closeness(gradWeight ?? Tensor(shape: []), addTensors(start.weight, fresh.gradWeight), atol: 1e-4, rtol: 1e-4), label)
        XCTAssertNil(closeness(gradBias ?? Tensor(shape: []), addTensors(start.bias, fresh.gradBias), atol: 1e-4, rtol: 1e-4), label)
      }
      var none: Tensor?, gradWeight: Tensor? = Tensor(shape: weight.shape), noBias: Tensor?
      conv2dBackward(gradInput: &none, gradWeight: &gradWeight, gradBias: &noBias, gradOutput: gradOutput, input: input, weight: weight, padding: padding)
      XCTAssertNil(none)
      XCTAssertNil(noBias)
      XCTAssertNil(closeness(gradWeight ?? Tensor(shape: []), fresh.gradWeight, atol: 1e-5, rtol: 1e-5))
    }
  }

  // MARK: - Finite differences

  func testFiniteDifferenceGradients() {
    var rng = RandomStream(seed: 3)
    let input = randomTensor([2, 2, 5, 4], rng: &rng)
    let weight = randomTensor([3, 2, 3, 2], rng: &rng)
    let bias = randomTensor([3], rng: &rng)
    let s = 2, p = 1, d = 1
    let probe = randomTensor(conv2dOutputShape(inputShape: input.shape, weightShape: weight.shape, stride: s, padding: p, dilation: d), rng: &rng)
    let grads = conv2dGradients(gradOutput: probe, input: input, weight: weight, stride: s, padding: p, dilation: d)
    let numericInput = numericalGradient(of: { dotProduct(conv2dForward(input: $0, weight: weight, bias: bias, stride: s, padding: p, dilation: d), probe) }, at: input)
    let numericWeight = numericalGradient(of: { dotProduct(conv2dForward(input: input, weight: $0, bias: bias, stride: s, padding: p, dilation: d), probe) }, at: weight)
    let numericBias = numericalGradient(of: { dotProduct(conv2dForward(input: input, weight: weight, bias: $0, stride: s, padding: p, dilation: d), probe) }, at: bias)
    // conv is linear in each argument, so only float32 rounding of the forward separates them.
    XCTAssertNil(closeness(grads.gradInput!, numericInput, atol: 2e-3, rtol: 2e-3))
    XCTAssertNil(closeness(grads.gradWeight, numericWeight, atol: 2e-3, rtol: 2e-3))
    XCTAssertNil(closeness(grads.gradBias, numericBias, atol: 2e-3, rtol: 2e-3))
  }

  // MARK: - PyTorch references

  /// Every `conv2d_*` case of the shared golden folder: output and all three gradients.
  func testConv2DGolden() throws {
    let cases = Golden.cases(prefix: "conv2d_")
    try XCTSkipIf(cases.isEmpty, "no conv2d_ cases in \(Golden.directory)")
    for path in cases { try checkReference(path) }
  }

  /// Dilated, non-square cases made by make_fixtures.py (the golden cases have dilation 1).
  func testDilatedMatchesPyTorchFixtures() throws {
    let cases = OpFixtures.cases(prefix: "conv2d_dilated_")
    XCTAssertFalse(cases.isEmpty, "fixtures missing in \(OpFixtures.directory)")
    for path in cases { try checkReference(path) }
  }

  private func checkReference(_ path: String) throws {
    let file = try Golden.load(path)
    let name = (path as NSString).lastPathComponent
    let input = try file.tensor("input", path: path), weight = try file.tensor("weight", path: path)
    let bias = try file.tensor("bias", path: path), gradOutput = try file.tensor("grad_output", path: path)
    let stride = try XCTUnwrap(file.intSetting("stride"), name)
    let padding = try XCTUnwrap(file.intSetting("padding"), name)
    let dilation = file.intSetting("dilation") ?? 1
    if let kernel = file.intSetting("kernel") { XCTAssertEqual(weight.shape[2], kernel, name) }
    for naive in [false, true] {
      let label = "\(name) \(naive ? "naive" : "fast")"
      let output = naive
        ? conv2dForwardNaive(input: input, weight: weight, bias: bias, stride: stride, padding: padding, dilation: dilation)
        : conv2dForward(input: input, weight: weight, bias: bias, stride: stride, padding: padding, dilation: dilation, threads: 2)
      XCTAssertNil(closeness(output, try file.tensor("output", path: path), atol: 1e-5, rtol: 1e-5), label)
      let grads = naive
        ? conv2dGradients(naive: true, gradOutput: gradOutput, input: input, weight: weight, stride: stride, padding: padding, dilation: dilation)
        : conv2dGradients(gradOutput: gradOutput, input: input, weight: weight, stride: stride, padding: padding, dilation: dilation, threads: 2)
      XCTAssertNil(closeness(try XCTUnwrap(grads.gradInput), try file.tensor("grad_input", path: path), atol: 1e-4, rtol: 1e-4), label)
      XCTAssertNil(closeness(grads.gradWeight, try file.tensor("grad_weight", path: path), atol: 1e-4, rtol: 1e-4), label)
      XCTAssertNil(closeness(grads.gradBias, try file.tensor("grad_bias", path: path), atol: 1e-4, rtol: 1e-4), label)
    }
  }
}

// MARK: - Timing (opt-in)

extension Conv2DTests {
  /// Per-layer forward/backward milliseconds for the benchmark ST-CNN's convolutions at batch 64.
  /// Skipped unless STN_OP_TIMING=1; meant for `swift test -c release --filter testTimingBenchmarkShapes`.
  func testTimingBenchmarkShapes() throws {
    let environment = ProcessInfo.processInfo.environment
    try XCTSkipUnless(environment["STN_OP_TIMING"] == "1", "set STN_OP_TIMING=1 to time the benchmark convolutions")
    let threads = Int(environment["STN_OP_THREADS"] ?? "") ?? 2
    let runs = Int(environment["STN_OP_RUNS"] ?? "") ?? 15
    let layers: [(name: String, input: [Int], weight: [Int], padding: Int, needInput: Bool)] = [
      ("cls.0 1->32 5x5 p2 @42", [64, 1, 42, 42], [32, 1, 5, 5], 2, false),
      ("cls.3 32->32 5x5 p2 @21", [64, 32, 21, 21], [32, 32, 5, 5], 2, true),
      ("cls.6 32->64 5x5 p2 @10", [64, 32, 10, 10], [64, 32, 5, 5], 2, true),
      ("loc.0 1->8 7x7 @42", [64, 1, 42, 42], [8, 1, 7, 7], 0, false),
      ("loc.3 8->10 5x5 @18", [64, 8, 18, 18], [10, 8, 5, 5], 0, true),
    ]
    var rng = RandomStream(seed: 1)
    print("blas: \(blasDescription); threads \(threads); median of \(runs) runs")
    var totalForward = 0.0, totalBackward = 0.0, minimum = 0.0, cpuMedian = 0.0, lastCPU = 0.0
    for layer in layers {
      let input = randomTensor(layer.input, rng: &rng), weight = randomTensor(layer.weight, rng: &rng)
      let bias = randomTensor([layer.weight[0]], rng: &rng)
      let gradOutput = randomTensor(conv2dOutputShape(inputShape: layer.input, weightShape: layer.weight, padding: layer.padding), rng: &rng)
      // NOTE: with one thread, the calling thread's CPU time is also reported: on a shared
      // machine it is far steadier than wall time.
      func cpuMilliseconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
        return Double(now.tv_sec) * 1e3 + Double(now.tv_nsec) / 1e6
      }
      func median(_ body: () -> Void) -> Double {
        body()
        var times: [Double] = [], cpu: [Double] = []
        for _ in 0..<runs {
          let start = DispatchTime.now().uptimeNanoseconds, cpuStart = cpuMilliseconds()
          body()
          times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
          cpu.append(cpuMilliseconds() - cpuStart)
        }
        lastCPU = cpu.sorted()[runs / 2]
        cpuMedian += lastCPU
        minimum += times.min() ?? 0
        return times.sorted()[runs / 2]
      }
      var sink: Float = 0
      let forward = median { sink += conv2dForward(input: input, weight: weight, bias: bias, padding: layer.padding, threads: threads).data[0] }
      let forwardCPU = lastCPU
      let backward = median {
        var gradInput: Tensor? = layer.needInput ? Tensor(shape: input.shape) : nil
        var gradWeight: Tensor? = Tensor(shape: weight.shape), gradBias: Tensor? = Tensor(shape: [weight.shape[0]])
        conv2dBackward(
          gradInput: &gradInput, gradWeight: &gradWeight, gradBias: &gradBias, gradOutput: gradOutput, input: input, weight: weight,
          padding: layer.padding, threads: threads)
        sink += gradWeight?.data[0] ?? 0
      }
      totalForward += forward; totalBackward += backward
      print(String(format: "%-26@ forward %7.2f ms (cpu %6.2f)  backward%@ %7.2f ms (cpu %6.2f)", layer.name as NSString, forward, forwardCPU, layer.needInput ? "" : " (weights only)", backward, lastCPU) + (sink.isNaN ? "!" : ""))
    }
    print(String(format: "total forward %.2f ms, backward %.2f ms (sum of minima %.2f ms; calling-thread CPU %.2f ms)", totalForward, totalBackward, minimum, cpuMedian))
  }
}
