import STNFiles
import STNTensor
import STNTestSupport
import STNWarp
import XCTest

@testable import STNNetwork

/// The tape: hand-computed cases, fan-out accumulation and finite-difference checks of whole
/// models (every parameter and the input).
final class GraphTests: XCTestCase {
  /// The run-time policy `stn` applies at start-up (single-threaded OpenBLAS inside threaded kernels).
  override class func setUp() {
    super.setUp()
    RuntimePolicy.standard.apply()
  }

  // MARK: - Helpers

  static func randomTensor(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
    var random = RandomStream(seed: seed, salt: 77)
    return Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in Float(random.normal()) * scale })
  }

  /// Mean cross-entropy of `model` on (input, targets), in the model's current mode.
  static func loss(_ model: Model, _ input: Tensor, _ targets: [Int]) -> Double {
    let graph = Graph(parameters: model.parameters)
    return Double(graph.value(graph.softmaxCrossEntropy(model.forward(graph, input), targets: targets)).data[0])
  }

  /// Central, forward and backward differences of `f` around `x` (double precision sums).
  ///
  /// NOTE: max pooling, ReLU and bilinear sampling are piecewise smooth; when a probe crosses a
  /// kink the central difference averages two slopes, but the backprop gradient still equals
  /// one of the one-sided differences. Accepting any of the three keeps the check strict for
  /// real mistakes without being flaky at kinks.
  static func differences(_ f: () -> Double, probe: (Float) -> Void, epsilon: Float) -> (central: Float, forward: Float, backward: Float) {
    probe(epsilon)
    let plus = f()
    probe(-epsilon)
    let minus = f()
    probe(0)
    let center = f()
    let e = Double(epsilon)
    return (Float((plus - minus) / (2 * e)), Float((plus - center) / e), Float((center - minus) / e))
  }

  static func matches(_ analytic: Float, _ d: (central: Float, forward: Float, backward: Float), atol: Float, rtol: Float) -> Bool {
    [d.central, d.forward, d.backward].contains { abs(analytic - $0) <= atol + rtol * abs($0) }
  }

  /// Compares backprop gradients of every parameter and of the input with finite differences.
  func checkGradients(
    _ model: Model, input: Tensor, targets: [Int], epsilon: Float = 1e-3, atol: Float = 1e-3, rtol: Float = 2e-2,
    file: StaticString = #filePath, line: UInt = #line
  ) {
    let graph = Graph(parameters: model.parameters)
    let x = graph.input(input, requiresGradient: true)
    let loss = graph.softmaxCrossEntropy(model.forward(graph, x), targets: targets)
    model.parameters.zeroGradients()
    graph.backward(loss)
    let analytic = model.parameters.gradients
    let store = model.parameters
    var failures: [String] = []
    for i in 0..<store.values.count {
      let original = store.values[i]
      let d = GraphTests.differences({ GraphTests.loss(model, input, targets) }, probe: { store.values[i] = original + $0 }, epsilon: epsilon)
      if !GraphTests.matches(analytic[i], d, atol: atol, rtol: rtol) {
        let owner = store.entries.last { $0.offset <= i }?.name ?? "?"
        failures.append("\(owner)[\(i)]: backprop \(analytic[i]), differences \(d)")
      }
    }
    let inputGradient = graph.gradient(x) ?? Tensor(shape: input.shape)
    var probe = input
    for i in 0..<input.count {
      let d = GraphTests.differences({ GraphTests.loss(model, probe, targets) }, probe: { probe.data[i] = input.data[i] + $0 }, epsilon: epsilon)
      if !GraphTests.matches(inputGradient.data[i], d, atol: atol, rtol: rtol) {
        failures.append("input[\(i)]: backprop \(inputGradient.data[i]), differences \(d)")
      }
    }
    XCTAssertTrue(failures.isEmpty, "\(failures.count) mismatches, first: \(failures.prefix(3))", file: file, line: line)
    XCTAssertGreaterThan(analytic.map { abs($0) }.max() ?? 0, 1e-3, "gradients vanished", file: file, line: line)
    XCTAssertGreaterThan(inputGradient.data.map { abs($0) }.max() ?? 0, 1e-4, "input gradient vanished", file: file, line: line)
  }

  // MARK: - Hand-computed

  func testFanOutAccumulatesHandComputed() {
    // loss = mean((relu(x) + tanh(x) - t)²), x read twice.
    let graph = Graph()
    let input = Tensor(shape: [3], data: [0.5, -1, 2])
    let target = Tensor(shape: [3], data: [0, 0.5, 1])
    let x = graph.input(input, requiresGradient: true)
    let loss = graph.meanSquaredError(graph.add(graph.relu(x), graph.tanh(x)), target: target)
    graph.backward(loss)
    let gradient = graph.gradient(x)!
    for i in 0..<3 {
      let v = input.data[i], t = Foundation.tanh(v)
      let y = max(v, 0) + t
      let expected = 2 * (y - target.data[i]) / 3 * ((v > 0 ? 1 : 0) + (1 - t * t))
      XCTAssertEqual(gradient.data[i], expected, accuracy: 1e-6)
    }
    let z = graph.input(input, requiresGradient: true)
    graph.backward(graph.meanSquaredError(graph.add(z, z), target: target))
    for i in 0..<3 { XCTAssertEqual(graph.gradient(z)!.data[i], 2 * 2 * (2 * input.data[i] - target.data[i]) / 3, accuracy: 1e-6) }
  }

  func testParameterGradientsAccumulateAcrossBackwardCalls() {
    let store = ParameterStore()
    let w = store.add(name: "w", shape: [1, 2], initial: [0.5, -0.25])
    let graph = Graph(parameters: store)
    func pass() {
      graph.reset()
      let y = graph.linear(graph.input(Tensor(shape: [1, 2], data: [2, 4])), weight: graph.parameter(w), bias: nil)
      graph.backward(graph.meanSquaredError(y, target: Tensor(shape: [1, 1], data: [1])))
    }
    pass()
    // y = 0.5·2 - 0.25·4 = 0; dL/dy = 2(y - 1) = -2; dL/dw = -2·[2, 4].
    XCTAssertEqual(store.gradients, [-4, -8])
    pass()
    XCTAssertEqual(store.gradients, [-8, -16])
    store.zeroGradients()
    XCTAssertEqual(store.gradients, [0, 0])
  }

  func testConstantInputsGetNoGradient() {
    let graph = Graph()
    let x = graph.input(Tensor(shape: [2], data: [1, 2]))
    let y = graph.relu(x)
    XCTAssertFalse(graph.requiresGradient[y.id])
    let z = graph.input(Tensor(shape: [2], data: [1, 2]), requiresGradient: true)
    graph.backward(graph.meanSquaredError(graph.add(y, z), target: Tensor(shape: [2])))
    XCTAssertNil(graph.gradient(x))
    XCTAssertNotNil(graph.gradient(z))
  }

  // MARK: - Finite differences on whole models

  func testMixedModelGradientsMatchFiniteDifferences() throws {
    // conv -> max pool -> relu -> linear -> cross-entropy.
    let spec = ModelSpec([
      .conv2d(Conv2DSpec(out: 3, kernel: 3, padding: 1)), .maxPool2d(PoolSpec(kernel: 2)), .relu, .flatten, .linear(LinearSpec(out: nil)),
    ])
    let model = try Model(spec: spec, inputShape: [2, 6, 6], classCount: 4, seed: 3)
    checkGradients(model, input: GraphTests.randomTensor([3, 2, 6, 6], seed: 1), targets: [0, 3, 1])
  }

  func testSmoothLayersGradientsMatchFiniteDifferences() throws {
    let spec = ModelSpec([
      .conv2d(Conv2DSpec(out: 3, kernel: 3, stride: 2, padding: 1)), .tanh, .avgPool2d(PoolSpec(kernel: 2, stride: 1, padding: 1, countIncludePad: false)),
      .batchNorm2d(BatchNormSpec()), .sigmoid, .flatten, .linear(LinearSpec(out: 5)), .leakyReLU(slope: 0.1), .linear(LinearSpec(out: nil)),
    ])
    let model = try Model(spec: spec, inputShape: [1, 7, 7], classCount: 3, seed: 4)
    // Training-mode batch norm (batch statistics) is a smooth function of the batch.
    checkGradients(model, input: GraphTests.randomTensor([4, 1, 7, 7], seed: 2), targets: [0, 1, 2, 1])
    model.training = false
    checkGradients(model, input: GraphTests.randomTensor([4, 1, 7, 7], seed: 5), targets: [2, 1, 0, 0])
  }

  func testSpatialTransformerReadsItsInputTwiceAndGradientsMatch() throws {
    // The input reaches the loss through the localization branch AND the sampler.
    let spec = ModelSpec([
      .spatialTransformer(SpatialTransformerSpec(localization: [
        .conv2d(Conv2DSpec(out: 2, kernel: 3)), .tanh, .flatten, .linear(LinearSpec(out: 6)),
      ])),
      .conv2d(Conv2DSpec(out: 2, kernel: 3, padding: 1)), .tanh, .flatten, .linear(LinearSpec(out: nil)),
    ])
    let model = try Model(spec: spec, inputShape: [1, 6, 6], classCount: 3, seed: 5)
    // Move the transformer off its identity init so every localization weight matters.
    let store = model.parameters
    let lastWeight = try XCTUnwrap(store.parameter(named: "loc.3.weight"))
    store.set(lastWeight, to: GraphTests.randomTensor(lastWeight.shape, seed: 9, scale: 0.05))
    store.set(try XCTUnwrap(store.parameter(named: "loc.3.bias")), to: Tensor(shape: [6], data: [0.9, 0.15, 0.1, -0.2, 1.05, -0.05]))
    let input = GraphTests.randomTensor([2, 1, 6, 6], seed: 3)
    checkGradients(model, input: input, targets: [1, 2])

    // Both paths contribute: the input gradient differs from the sampler-only gradient.
    let graph = Graph(parameters: store)
    let x = graph.input(input, requiresGradient: true)
    graph.backward(graph.softmaxCrossEntropy(model.forward(graph, x), targets: [1, 2]))
    let theta = try XCTUnwrap(graph.taps["st.theta"])
    XCTAssertEqual(graph.shape(theta), [2, 2, 3])
    let fixed = Graph(parameters: store)
    let y = fixed.input(input, requiresGradient: true)
    let grid = fixed.affineGrid(fixed.input(graph.value(theta)), size: [2, 1, 6, 6], alignCorners: false)
    var h = fixed.gridSample(y, grid: grid, options: GridSampleOptions(mode: .bilinear, padding: .zeros, alignCorners: false))
    for layer in model.layers.dropFirst() { h = layer.forward(h, in: fixed) }
    fixed.backward(fixed.softmaxCrossEntropy(h, targets: [1, 2]))
    XCTAssertGreaterThan(graph.gradient(x)!.maxAbsDifference(fixed.gradient(y)!), 1e-5)
  }

  func testFusedAffineSamplingMatchesGridThenSample() {
    let input = GraphTests.randomTensor([2, 3, 7, 8], seed: 21)
    let target = GraphTests.randomTensor([2, 3, 7, 8], seed: 22)
    let theta = Tensor(shape: [2, 2, 3], data: [0.9, 0.2, 0.1, -0.15, 1.1, -0.05, 1.2, -0.3, 0.0, 0.25, 0.8, 0.2])
    let options = GridSampleOptions(mode: .bilinear, padding: .zeros, alignCorners: false)

    let fused = Graph()
    let x1 = fused.input(input, requiresGradient: true), t1 = fused.input(theta, requiresGradient: true)
    let y1 = fused.affineGridSample(x1, theta: t1, options: options)
    fused.backward(fused.meanSquaredError(y1, target: target))

    let split = Graph()
    let x2 = split.input(input, requiresGradient: true), t2 = split.input(theta, requiresGradient: true)
    let y2 = split.gridSample(x2, grid: split.affineGrid(t2, size: input.shape, alignCorners: false), options: options)
    split.backward(split.meanSquaredError(y2, target: target))

    XCTAssertLessThanOrEqual(fused.value(y1).maxAbsDifference(split.value(y2)), 1e-6)
    XCTAssertLessThanOrEqual(fused.gradient(x1)!.maxAbsDifference(split.gradient(x2)!), 1e-6)
    XCTAssertLessThanOrEqual(fused.gradient(t1)!.maxAbsDifference(split.gradient(t2)!), 1e-5)
    XCTAssertGreaterThan(fused.gradient(t1)!.data.map { abs($0) }.max() ?? 0, 1e-3)
  }

  // MARK: - Against PyTorch

  func testSTCNNLossAndGradientsMatchPyTorch() throws {
    // The fixture's model, input, loss and gradients come from scripts/make_torch_fixture.py.
    let model = try Checkpoint.importPyTorch(TorchFixtures.stateDict, spec: .benchmarkSTCNN, inputShape: [1, 42, 42])
    let io = try SafeTensorsFile(contentsOf: TorchFixtures.inputOutput)
    let targets = try io.tensor("targets").data.map { Int($0) }
    let graph = Graph(parameters: model.parameters)
    let loss = graph.softmaxCrossEntropy(model.forward(graph, try io.tensor("input")), targets: targets)
    XCTAssertEqual(graph.value(loss).data[0], try io.tensor("loss").data[0], accuracy: 1e-5)
    model.parameters.zeroGradients()
    graph.backward(loss)
    let names = io.tensors.keys.filter { $0.hasPrefix("grad.") }.sorted()
    XCTAssertEqual(names.count, 7)
    for name in names {
      let parameter = try XCTUnwrap(model.parameters.parameter(named: String(name.dropFirst(5))))
      let expected = try io.tensor(name)
      XCTAssertNil(closeness(model.parameters.gradient(parameter), expected, atol: 1e-5, rtol: 1e-3), name)
      XCTAssertGreaterThan(expected.data.map { abs($0) }.max() ?? 0, 1e-5, "\(name) is trivially zero")
    }
  }
}

// MARK: - Fused max-pool + ReLU

extension GraphTests {
  /// A MaxPool2D followed by a ReLU in a Sequential records one fused node, with the values and
  /// gradients of the separate maxPool2d and relu ops.
  func testSequentialFusesMaxPoolAndReLU() {
    let input = GraphTests.randomTensor([2, 3, 9, 10], seed: 4)
    let target = GraphTests.randomTensor([2, 3, 4, 5], seed: 5)
    let sequential = Sequential([MaxPool2D(inputShape: [3, 9, 10], kernel: 2), Activation(.relu, inputShape: [3, 4, 5])], inputShape: [3, 9, 10])
    func run(fused: Bool, threads: Int) -> (value: Tensor, gradient: Tensor?, nodes: Int) {
      let graph = Graph(threads: threads)
      let x = graph.input(input, requiresGradient: true)
      let y = fused ? sequential.forward(x, in: graph) : graph.relu(graph.maxPool2d(x, kernel: 2, stride: 2))
      graph.backward(graph.meanSquaredError(y, target: target))
      return (graph.value(y), graph.gradient(x), graph.nodeCount)
    }
    let separate = run(fused: false, threads: 1)
    for threads in [1, 2] {
      let fused = run(fused: true, threads: threads)
      XCTAssertEqual(fused.value, separate.value)
      XCTAssertEqual(fused.gradient, separate.gradient)
      XCTAssertEqual(fused.nodes, separate.nodes - 1)
    }
  }
}

// MARK: - Projective and thin-plate-spline transformers

extension GraphTests {
  /// A whole ST-CNN with a projective, then with a TPS transformer, off its identity start:
  /// backprop against finite differences for every parameter and the input.
  func testProjectiveAndTPSTransformersGradientsMatchFiniteDifferences() throws {
    for (transform, bias) in [
      (TransformFamily.projective, [0.9, 0.15, 0.1, -0.2, 1.05, -0.05, 0.2, -0.15] as [Float]),
      (TransformFamily.tps, (0..<8).map { Float($0 % 3) * 0.06 - 0.05 }),
    ] {
      let spec = ModelSpec([
        .spatialTransformer(SpatialTransformerSpec(
          localization: [.conv2d(Conv2DSpec(out: 2, kernel: 3)), .tanh, .flatten, .linear(LinearSpec(out: nil, sizedBy: .theta))],
          transform: transform, controlGrid: 2)),
        .conv2d(Conv2DSpec(out: 2, kernel: 3, padding: 1)), .tanh, .flatten, .linear(LinearSpec(out: nil)),
      ])
      let model = try Model(spec: spec, inputShape: [1, 6, 6], classCount: 3, seed: 5)
      let store = model.parameters
      let lastWeight = try XCTUnwrap(store.parameter(named: "loc.3.weight"))
      store.set(lastWeight, to: GraphTests.randomTensor(lastWeight.shape, seed: 9, scale: 0.05))
      store.set(try XCTUnwrap(store.parameter(named: "loc.3.bias")), to: Tensor(shape: [8], data: bias))
      checkGradients(model, input: GraphTests.randomTensor([2, 1, 6, 6], seed: 3), targets: [1, 2])
    }
  }

  /// The fused projective and TPS samplers on the tape equal the two-step grid + grid_sample.
  func testFusedProjectiveAndTPSSamplingMatchGridThenSample() {
    let input = GraphTests.randomTensor([2, 3, 7, 8], seed: 21)
    let target = GraphTests.randomTensor([2, 3, 7, 8], seed: 22)
    let options = GridSampleOptions(mode: .bilinear, padding: .zeros, alignCorners: false)
    let homography = Tensor(shape: [2, 3, 3], data: [0.9, 0.2, 0.1, -0.15, 1.1, -0.05, 0.1, -0.2, 1, 1.2, -0.3, 0.0, 0.25, 0.8, 0.2, -0.1, 0.15, 1])
    let basis = ThinPlateSplineGridBasis(gridSize: 3, height: 7, width: 8, alignCorners: false)
    var points = Tensor(shape: [2, 9, 2])
    for b in 0..<2 {
      for k in 0..<9 {
        let shiftX = 0.05 * Float((k + b) % 3 - 1), shiftY = -0.04 * Float((k * 2 + b) % 3 - 1)
        points.data[(b * 9 + k) * 2] = Float(basis.controlPoints[k].x) + shiftX
        points.data[(b * 9 + k) * 2 + 1] = Float(basis.controlPoints[k].y) + shiftY
      }
    }
    for family in ["projective", "tps"] {
      func run(fused: Bool) -> (Tensor, Tensor, Tensor) {
        let graph = Graph()
        let x = graph.input(input, requiresGradient: true)
        let p = graph.input(family == "tps" ? points : homography, requiresGradient: true)
        let y: Variable
        switch (family, fused) {
        case ("tps", true): y = graph.thinPlateSplineGridSample(x, sourcePoints: p, basis: basis, options: options)
        case ("tps", false): y = graph.gridSample(x, grid: graph.thinPlateSplineGrid(p, basis: basis), options: options)
        case (_, true): y = graph.projectiveGridSample(x, homography: p, options: options)
        default: y = graph.gridSample(x, grid: graph.projectiveGrid(p, size: input.shape, alignCorners: false), options: options)
        }
        graph.backward(graph.meanSquaredError(y, target: target))
        return (graph.value(y), graph.gradient(x)!, graph.gradient(p)!)
      }
      let (fusedValue, fusedInput, fusedParameters) = run(fused: true)
      let (splitValue, splitInput, splitParameters) = run(fused: false)
      XCTAssertEqual(fusedValue.data, splitValue.data, family)
      XCTAssertLessThanOrEqual(fusedInput.maxAbsDifference(splitInput), 1e-6, family)
      XCTAssertLessThanOrEqual(fusedParameters.maxAbsDifference(splitParameters), 1e-5, family)
      XCTAssertGreaterThan(fusedParameters.data.map { abs($0) }.max() ?? 0, 1e-3, family)
    }
  }
}
