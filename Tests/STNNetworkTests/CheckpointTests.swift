import Foundation
import STNFiles
import STNTensor
import STNTestSupport
import XCTest

@testable import STNNetwork

/// Checkpoints: round trips, strict loading with clear errors, and PyTorch interop both ways
/// against the committed fixture set (`TorchFixtures`, made by scripts/make_torch_fixture.py).
final class CheckpointTests: XCTestCase {
  /// The run-time policy `stn` applies at start-up (single-threaded OpenBLAS inside threaded kernels).
  override class func setUp() {
    super.setUp()
    RuntimePolicy.standard.apply()
  }

  private var folder = ""

  override func setUpWithError() throws {
    folder = NSTemporaryDirectory() + "stn-checkpoint-tests-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
  }

  override func tearDown() {
    try? FileManager.default.removeItem(atPath: folder)
  }

  private func fixtureIO() throws -> (input: Tensor, logits: Tensor, theta: Tensor) {
    let file = try SafeTensorsFile(contentsOf: TorchFixtures.inputOutput)
    return (try file.tensor("input"), try file.tensor("logits"), try file.tensor("theta"))
  }

  /// A small model with every kind of state: conv, batch norm buffers, a transformer, linear.
  private func smallModel(seed: UInt64) throws -> Model {
    let spec = ModelSpec([
      .spatialTransformer(SpatialTransformerSpec(localization: [.flatten, .linear(LinearSpec(out: 4))], constraint: .rts)),
      .conv2d(Conv2DSpec(out: 3, kernel: 3, padding: 1)), .batchNorm2d(BatchNormSpec()), .relu, .flatten, .dropout(probability: 0.2),
      .linear(LinearSpec(out: nil)),
    ])
    return try Model(spec: spec, inputShape: [1, 5, 5], classCount: 3, seed: seed)
  }

  private func trainSteps(_ model: Model, _ optimizer: Optimizer, steps: Int, seed: UInt64) {
    let graph = Graph(parameters: model.parameters)
    for step in 0..<steps {
      graph.reset()
      let input = GraphTests.randomTensor([4, 1, 5, 5], seed: seed + UInt64(step))
      let loss = graph.softmaxCrossEntropy(model.forward(graph, input), targets: [0, 1, 2, 1])
      optimizer.zeroGradients()
      graph.backward(loss)
      optimizer.step()
    }
  }

  // MARK: - PyTorch -> swift-stn

  func testImportsPyTorchStateDictAndReproducesItsLogits() throws {
    let model = try Checkpoint.importPyTorch(TorchFixtures.stateDict, spec: .benchmarkSTCNN, inputShape: [1, 42, 42])
    XCTAssertEqual(model.classCount, 10)
    let io = try fixtureIO()
    model.training = false
    let graph = Graph(parameters: model.parameters, training: false)
    let logits = graph.value(model.forward(graph, io.input))
    XCTAssertLessThanOrEqual(logits.maxAbsDifference(io.logits), 1e-4)
    XCTAssertLessThanOrEqual(graph.value(try XCTUnwrap(graph.taps["st.theta"])).maxAbsDifference(io.theta), 1e-5)
    // The inspection helpers agree with the graph.
    let inspected = model.inspect(io.input)
    XCTAssertEqual(inspected.logits, logits)
    XCTAssertEqual(inspected.taps["st.output"]?.shape, [2, 1, 42, 42])
    XCTAssertEqual(model.frontTransformerTheta(io.input), inspected.taps["st.theta"])
  }

  func testImportRejectsAMismatchedArchitectureNamingTheFile() throws {
    let path = TorchFixtures.stateDict
    XCTAssertThrowsError(try Checkpoint.importPyTorch(path, spec: .benchmarkCNN, inputShape: [1, 42, 42], classCount: 10)) { error in
      let text = "\(error)"
      XCTAssertTrue(text.contains("torch_stcnn_state.safetensors") && text.contains("missing tensors") && text.contains("0.weight"), text)
    }
    var small = ModelSpec.benchmarkSTCNN
    small.layers[1] = .conv2d(Conv2DSpec(out: 16, kernel: 5, padding: 2))
    XCTAssertThrowsError(try Checkpoint.importPyTorch(path, spec: small, inputShape: [1, 42, 42], classCount: 10)) { error in
      XCTAssertTrue("\(error)".contains("cls.0.weight has shape [32, 1, 5, 5], the model expects [16, 1, 5, 5]"), "\(error)")
    }
  }

  // MARK: - swift-stn -> PyTorch

  func testExportedCheckpointLoadsInPyTorchWithTheSameLogits() throws {
    let python = Process()
    python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    python.arguments = ["python3", "-c", "import torch, safetensors"]
    python.standardError = FileHandle.nullDevice
    do {
      try python.run()
      python.waitUntilExit()
    } catch {
      throw XCTSkip("python3 is not available")
    }
    guard python.terminationStatus == 0 else { throw XCTSkip("python3 with torch and safetensors is not available") }

    // Start from the fixture, change the weights with a few Adam steps so nothing is copied
    // through unchanged, and save with optimizer state (which PyTorch must ignore).
    let model = try Checkpoint.importPyTorch(TorchFixtures.stateDict, spec: .benchmarkSTCNN, inputShape: [1, 42, 42])
    let io = try fixtureIO()
    let adam = try Adam(parameters: model.parameters, learningRate: 1e-3)
    let graph = Graph(parameters: model.parameters)
    for _ in 0..<2 {
      graph.reset()
      adam.zeroGradients()
      graph.backward(graph.softmaxCrossEntropy(model.forward(graph, io.input), targets: [3, 7]))
      adam.step()
    }
    let checkpoint = folder + "/exported.safetensors"
    try Checkpoint.save(model: model, optimizer: adam, info: CheckpointInfo(classNames: (0..<10).map(String.init)), to: checkpoint)
    let output = folder + "/torch_logits.safetensors"
    let run = Process()
    run.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    run.arguments = ["python3", TorchFixtures.scripts + "/make_torch_fixture.py", "check", checkpoint, TorchFixtures.inputOutput, output]
    try run.run()
    run.waitUntilExit()
    XCTAssertEqual(run.terminationStatus, 0, "PyTorch could not load the exported checkpoint")
    let torchLogits = try SafeTensorsFile(contentsOf: output).tensor("logits")
    let ours = model.predict(io.input)
    XCTAssertGreaterThan(ours.maxAbsDifference(io.logits), 1e-4, "training steps should have changed the logits")
    XCTAssertLessThanOrEqual(ours.maxAbsDifference(torchLogits), 1e-4)
  }

  // MARK: - Round trip

  func testRoundTripRestoresWeightsBuffersOptimizerAndMetadata() throws {
    let model = try smallModel(seed: 1)
    let adam = try Adam(parameters: model.parameters, learningRate: 0.01)
    trainSteps(model, adam, steps: 3, seed: 10)
    let info = CheckpointInfo(
      classNames: ["cat", "dog", "ému \"quoted\""], preprocessing: Preprocessing(channels: 1, height: 5, width: 5, mean: [0.1307], std: [0.3081]),
      epoch: 4, step: 3, bestAccuracy: 0.8125, seed: 42, extra: ["pipeline": "fashion-mnist-rts-stn.yaml"])
    let path = folder + "/run/last.safetensors"
    try Checkpoint.save(model: model, optimizer: adam, info: info, to: path)

    let loaded = try Checkpoint.load(path)
    XCTAssertEqual(loaded.info, info)
    XCTAssertEqual(loaded.model.spec, model.spec)
    XCTAssertEqual(loaded.model.parameters.values, model.parameters.values)
    XCTAssertEqual(loaded.model.parameters.entries, model.parameters.entries)
    let norm = try XCTUnwrap(model.batchNorms.first), loadedNorm = try XCTUnwrap(loaded.model.batchNorms.first)
    XCTAssertEqual(loadedNorm.runningMean, norm.runningMean)
    XCTAssertEqual(loadedNorm.runningVar, norm.runningVar)
    XCTAssertEqual(loadedNorm.numBatchesTracked, 3)
    let input = GraphTests.randomTensor([2, 1, 5, 5], seed: 99)
    XCTAssertEqual(loaded.model.predict(input), model.predict(input))

    // Resuming gives exactly the run that was never interrupted.
    let resumed = try XCTUnwrap(try loaded.makeOptimizer())
    XCTAssertEqual(resumed.config, adam.config)
    XCTAssertEqual(resumed.stepCount, 3)
    trainSteps(model, adam, steps: 2, seed: 20)
    trainSteps(loaded.model, resumed, steps: 2, seed: 20)
    XCTAssertEqual(loaded.model.parameters.values, model.parameters.values)

    // The file is a plain safetensors file with PyTorch names and dtypes.
    let file = try SafeTensorsFile(contentsOf: path)
    XCTAssertEqual(file.tensors["cls.1.num_batches_tracked"]?.dtype, .I64)
    XCTAssertEqual(file.tensors["cls.1.num_batches_tracked"]?.shape, [])
    XCTAssertEqual(file.tensors["optimizer.exp_avg.cls.0.weight"]?.shape, [3, 1, 3, 3])
    XCTAssertEqual(file.tensors["st.loc.1.weight"] == nil, true)
    XCTAssertEqual(file.tensors["loc.1.weight"]?.shape, [4, 25])
    XCTAssertEqual(file.metadata["format"], Checkpoint.formatName)

    // A bare state dict has the same tensors minus the optimizer's, and imports with the spec.
    let bare = folder + "/bare.safetensors"
    try Checkpoint.saveStateDict(model: model, to: bare)
    let bareFile = try SafeTensorsFile(contentsOf: bare)
    XCTAssertTrue(bareFile.metadata.isEmpty)
    XCTAssertEqual(Set(bareFile.tensors.keys), Set(file.tensors.keys.filter { !$0.hasPrefix("optimizer.") }))
    let imported = try Checkpoint.importPyTorch(bare, spec: model.spec, inputShape: [1, 5, 5])
    XCTAssertEqual(imported.parameters.values, model.parameters.values)
    XCTAssertEqual(imported.batchNorms.first?.numBatchesTracked, 5)
  }

  /// Projective and TPS transformers: the architecture metadata records the family (and the
  /// control grid), the model loads back with the same weights and predictions, and the state
  /// dict keeps the usual names.
  func testProjectiveAndTPSCheckpointsRoundTrip() throws {
    for (st, recorded) in [
      (SpatialTransformerSpec(localization: [.flatten, .linear(LinearSpec(out: nil, sizedBy: .theta))], transform: .projective), #""transform":"projective""#),
      (SpatialTransformerSpec(localization: [.flatten, .linear(LinearSpec(out: nil, sizedBy: .theta))], transform: .tps, controlGrid: 3),
       #""control_grid":3,"localization":["flatten",{"linear":"theta"}],"transform":"tps""#),
    ] {
      let spec = ModelSpec([.spatialTransformer(st), .conv2d(Conv2DSpec(out: 2, kernel: 3, padding: 1)), .relu, .flatten, .linear(LinearSpec(out: nil))])
      let model = try Model(spec: spec, inputShape: [1, 5, 5], classCount: 3, seed: 4)
      let adam = try Adam(parameters: model.parameters, learningRate: 0.01)
      trainSteps(model, adam, steps: 2, seed: 30)
      let path = folder + "/\(st.transform.rawValue).safetensors"
      try Checkpoint.save(model: model, optimizer: adam, info: CheckpointInfo(classNames: ["a", "b", "c"]), to: path)
      let file = try SafeTensorsFile(contentsOf: path)
      XCTAssertTrue(file.metadata["architecture"]?.contains(recorded) ?? false, file.metadata["architecture"] ?? "")
      XCTAssertEqual(file.tensors["loc.1.bias"]?.shape, [st.spatialTransform.parameterCount])
      let loaded = try Checkpoint.load(path)
      XCTAssertEqual(loaded.model.spec, spec)
      XCTAssertEqual(loaded.model.spatialTransformers.first?.transform, st.spatialTransform)
      XCTAssertEqual(loaded.model.parameters.values, model.parameters.values)
      let input = GraphTests.randomTensor([2, 1, 5, 5], seed: 98)
      XCTAssertEqual(loaded.model.predict(input), model.predict(input))
    }
  }

  func testSGDStateRoundTrips() throws {
    let model = try smallModel(seed: 2)
    let sgd = try SGD(parameters: model.parameters, learningRate: 0.05, momentum: 0.9, nesterov: true, weightDecay: 1e-4)
    trainSteps(model, sgd, steps: 2, seed: 5)
    let path = folder + "/sgd.safetensors"
    try Checkpoint.save(model: model, optimizer: sgd, info: CheckpointInfo(classNames: ["a", "b", "c"]), to: path)
    let loaded = try Checkpoint.load(path)
    let resumed = try XCTUnwrap(try loaded.makeOptimizer() as? SGD)
    XCTAssertEqual(resumed.momentumBuffer, sgd.momentumBuffer)
    XCTAssertEqual(resumed.config, sgd.config)

    var file = try SafeTensorsFile(contentsOf: path)
    file.tensors["optimizer.momentum_buffer.cls.0.bias"] = nil
    try file.write(to: path)
    XCTAssertThrowsError(try Checkpoint.load(path)) { error in
      XCTAssertTrue("\(error)".contains("optimizer state momentum_buffer lacks tensors for: cls.0.bias"), "\(error)")
    }
  }

  func testLoadErrorsNameTheFileAndTheProblem() throws {
    let model = try smallModel(seed: 3)
    let path = folder + "/good.safetensors"
    try Checkpoint.save(model: model, optimizer: nil, info: CheckpointInfo(classNames: ["a", "b", "c"]), to: path)
    let good = try SafeTensorsFile(contentsOf: path)
    XCTAssertNil(try Checkpoint.load(path).optimizerConfig)

    func failure(_ edit: (inout SafeTensorsFile) -> Void) -> String {
      var file = good
      edit(&file)
      let broken = folder + "/broken.safetensors"
      do {
        try file.write(to: broken)
        _ = try Checkpoint.load(broken)
        return "loaded"
      } catch {
        XCTAssertTrue("\(error)".contains("broken.safetensors"), "\(error)")
        return "\(error)"
      }
    }
    XCTAssertTrue(failure { $0.tensors["cls.0.weight"] = nil }.contains("missing tensors for this architecture: cls.0.weight"))
    XCTAssertTrue(failure { $0.tensors["cls.0.weight"] = SafeTensorsEntry(Tensor(shape: [3, 1, 2, 2])) }.contains("cls.0.weight has shape [3, 1, 2, 2]"))
    XCTAssertTrue(failure { $0.tensors["9.weight"] = SafeTensorsEntry(Tensor(shape: [1])) }.contains("does not have: 9.weight"))
    XCTAssertTrue(failure { $0.metadata["architecture"] = nil }.contains("not a swift-stn checkpoint"))
    XCTAssertTrue(failure { $0.metadata["architecture"] = "[\"relu\", {\"conv2d\": {\"kernal\": 3}}]" }.contains("kernal"))
    XCTAssertTrue(failure { $0.metadata["input_shape"] = "[1, 2]" }.contains("cannot build"))
    XCTAssertTrue(failure { $0.metadata["format"] = "swift-stn-checkpoint/9" }.contains("format swift-stn-checkpoint/9"))
    XCTAssertThrowsError(try Checkpoint.load(folder + "/absent.safetensors")) { error in
      XCTAssertTrue("\(error)".contains("absent.safetensors"))
    }
    try AtomicFile.write([UInt8](repeating: 0xFF, count: 40), to: folder + "/garbage.safetensors")
    XCTAssertThrowsError(try Checkpoint.load(folder + "/garbage.safetensors")) { error in
      XCTAssertTrue("\(error)".contains("garbage.safetensors"))
    }
  }
}
