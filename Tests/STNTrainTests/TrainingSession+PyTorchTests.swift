import Foundation
import STNFiles
import STNImageIO
import STNNetwork
import STNPipeline
import STNTensor
import STNTestSupport
import XCTest
@testable import STNTrain

/// The bundled pipeline's `model:` section is the PyTorch ST-CNN of MODEL.md: a state dict
/// saved by PyTorch (`TorchFixtures`, from scripts/make_torch_fixture.py) loads by name and
/// gives PyTorch's logits.
final class PyTorchInteropTests: XCTestCase {
  /// The run-time policy `stn` applies at start-up (single-threaded OpenBLAS inside threaded kernels).
  override class func setUp() {
    super.setUp()
    RuntimePolicy.standard.apply()
  }

  func bundledModel(_ name: String) throws -> Model {
    let config = try PipelineConfig.load(path: Golden.packageRoot + "/pipelines/" + name)
    let node = try XCTUnwrap(config.model)
    return try Model(spec: try TrainingSession.modelSpec(from: node), inputShape: [1, 42, 42], classCount: 10)
  }

  func testTorchStateDictLoadsIntoBundledPipelineModel() throws {
    let model = try bundledModel("fashion-mnist-rts-stn.yaml")
    let state = try SafeTensorsFile(contentsOf: TorchFixtures.stateDict)
    try Checkpoint.loadWeights(into: model, from: state, path: "torch_stcnn_state.safetensors")
    let io = try SafeTensorsFile(contentsOf: TorchFixtures.inputOutput)
    let logits = model.predict(try io.tensor("input"))
    XCTAssertLessThanOrEqual(logits.maxAbsDifference(try io.tensor("logits")), 1e-4)
    let theta = try CheckpointThetaPredictor(model: model, preprocessing: nil, checkpoint: "torch").thetaTensor(try io.tensor("input"))
    XCTAssertLessThanOrEqual(theta.maxAbsDifference(try io.tensor("theta")), 1e-5)
  }

  func testBundledPipelinesDeclareMODELmdNames() throws {
    let stcnn = try bundledModel("fashion-mnist-rts-stn.yaml").parameters.entries.map(\.name)
    XCTAssertEqual(stcnn.filter { $0.hasSuffix(".weight") }, [
      "loc.0.weight", "loc.3.weight", "loc.7.weight", "loc.9.weight",
      "cls.0.weight", "cls.3.weight", "cls.6.weight", "cls.10.weight", "cls.12.weight",
    ])
    let cnn = try bundledModel("fashion-mnist-rts-cnn.yaml").parameters.entries.map(\.name)
    XCTAssertEqual(cnn.filter { $0.hasSuffix(".weight") }, ["0.weight", "3.weight", "6.weight", "10.weight", "12.weight"])
  }

  func testBundledPipelinesFollowTheRecipe() throws {
    for name in ["fashion-mnist-rts-stn.yaml", "fashion-mnist-rts-cnn.yaml"] {
      let config = try PipelineConfig.load(path: Golden.packageRoot + "/pipelines/" + name)
      let settings = try TrainSettings(node: try XCTUnwrap(config.train))
      XCTAssertEqual(settings.optimizer, .adam)
      XCTAssertEqual(settings.learningRate, 1e-3)
      XCTAssertEqual(settings.epochs, 10)
      XCTAssertEqual(settings.batchSize ?? config.batching.size, 64)
      XCTAssertEqual(config.normalization?.mean, [0.1307])
      XCTAssertEqual(config.normalization?.std, [0.3081])
      XCTAssertEqual(config.channels, 1)
    }
  }

  /// Our checkpoint back into PyTorch: runs only where python3 with torch and safetensors exists.
  func testCheckpointLoadsIntoPyTorch() throws {
    let folder = SyntheticData.temporaryFolder("interop")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let model = try bundledModel("fashion-mnist-rts-stn.yaml")
    // Perturb the transformer so the sampler does real work.
    let bias = try XCTUnwrap(model.parameters.parameter(named: "loc.9.bias"))
    model.parameters.set(bias, to: Tensor(shape: [6], data: [0.9, 0.1, 0.05, -0.1, 1.1, -0.05]))
    let path = folder + "/ours.safetensors"
    try Checkpoint.save(model: model, optimizer: try Adam(parameters: model.parameters), info: CheckpointInfo(classNames: (0..<10).map(String.init)), to: path)
    let io = try SafeTensorsFile(contentsOf: TorchFixtures.inputOutput)
    let input = try io.tensor("input")
    let ours = model.predict(input)
    try SafeTensorsFile(tensors: ["input": SafeTensorsEntry(input)]).write(to: folder + "/input.safetensors")
    let theirs = try torchSTCNN("STCNN()", checkpoint: path, input: folder + "/input.safetensors", output: folder + "/torch_logits.safetensors")
    XCTAssertLessThanOrEqual(ours.maxAbsDifference(try theirs.tensor("logits")), 1e-4)
  }

  /// Runs scripts/stcnn.py's `module` (e.g. `STCNN(transform="tps")`) with our checkpoint's
  /// weights on the input file's `input`, and returns its `logits` and `theta`. Skips where
  /// python3 with torch and safetensors is missing.
  func torchSTCNN(_ module: String, checkpoint: String, input: String, output: String) throws -> SafeTensorsFile {
    let script = """
      import sys
      sys.path.insert(0, "\(TorchFixtures.scripts)")
      import torch
      from safetensors.torch import load_file, save_file
      from stcnn import STCNN
      m = \(module)
      state = {k: v for k, v in load_file("\(checkpoint)").items() if not k.startswith("optimizer.")}
      m.load_state_dict(state)
      logits, theta = m(load_file("\(input)")["input"])
      save_file({"logits": logits.detach().contiguous(), "theta": theta.detach().contiguous()}, "\(output)")
      """
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", script]
    process.standardError = FileHandle.nullDevice
    do { try process.run() } catch { throw XCTSkip("python3 not available") }
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw XCTSkip("python3 with torch and safetensors not available") }
    return try SafeTensorsFile(contentsOf: output)
  }

  /// The projective and TPS ST-CNNs: our checkpoint in scripts/stcnn.py's STCNN(transform: ...)
  /// gives our logits and transform parameters (the parameterization docs/pytorch-interop.md
  /// describes), with the localization moved off its identity start.
  func testProjectiveAndTPSCheckpointsLoadIntoPyTorch() throws {
    let folder = SyntheticData.temporaryFolder("interop-families")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let io = try SafeTensorsFile(contentsOf: TorchFixtures.inputOutput)
    let input = try io.tensor("input")
    try SafeTensorsFile(tensors: ["input": SafeTensorsEntry(input)]).write(to: folder + "/input.safetensors")
    for (family, module) in [(TransformFamily.projective, #"STCNN(transform="projective")"#), (.tps, #"STCNN(transform="tps", control_grid=4)"#)] {
      var spec = try bundledModel("fashion-mnist-rts-stn.yaml").spec
      guard case .spatialTransformer(var transformer) = spec.layers[0] else { return XCTFail("the bundled ST-CNN starts with its transformer") }
      transformer.transform = family
      transformer.localization[transformer.localization.count - 1] = .linear(LinearSpec(out: nil, sizedBy: .theta))
      spec.layers[0] = .spatialTransformer(transformer)
      let model = try Model(spec: spec, inputShape: [1, 42, 42], classCount: 10, seed: 3)
      let weight = try XCTUnwrap(model.parameters.parameter(named: "loc.9.weight"))
      var random = RandomStream(seed: 8)
      model.parameters.set(weight, to: Tensor(shape: weight.shape, data: (0..<weight.count).map { _ in Float(random.uniform(-0.01, 0.01)) }))
      let path = folder + "/\(family.rawValue).safetensors"
      try Checkpoint.save(model: model, optimizer: nil, info: CheckpointInfo(classNames: (0..<10).map(String.init)), to: path)
      let view = model.inspect(input)
      let theirs = try torchSTCNN(module, checkpoint: path, input: folder + "/input.safetensors", output: folder + "/\(family.rawValue)-torch.safetensors")
      XCTAssertLessThanOrEqual(view.logits.maxAbsDifference(try theirs.tensor("logits")), 1e-4, "\(family)")
      let theta = try XCTUnwrap(view.taps["st.theta"])
      XCTAssertLessThanOrEqual(theta.maxAbsDifference(try theirs.tensor("theta")), 1e-5, "\(family)")
      XCTAssertGreaterThan(try XCTUnwrap(view.taps["st.output"]).maxAbsDifference(input), 1e-3, "\(family): the sampler moved pixels")
    }
  }

  /// `stn eval` on a PyTorch-saved state dict + the pipeline declaring its model: ten 28x28 IDX
  /// images, one per class, preprocessed by the bundled RTS pipeline.
  func testEvalOfTorchStateDictWithPipeline() throws {
    let folder = SyntheticData.temporaryFolder("torch-eval")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    try writeTenTestImages(folder)
    var request = EvalRequest(checkpoint: TorchFixtures.stateDict, data: folder)
    request.pipeline = Golden.packageRoot + "/pipelines/fashion-mnist-rts-stn.yaml"
    request.threads = 1
    let json = try EvaluationSession.run(request) { _ in }
    let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.description.utf8)) as? [String: Any])
    XCTAssertEqual(object["n"] as? Int, 10)
    XCTAssertEqual((object["confusion"] as? [[Int]])?.count, 10)
    // The state dict's outputs are the pipeline's classes in its order: the per-class results
    // carry those names, and the same images as an image folder (class folders named after
    // them, sorted otherwise: Ankle boot, Bag, ...) give the same results. (They were matched
    // to the folders' order: a PyTorch-trained B7 model scored 35% instead of its 86%.)
    let names = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    let perClass = try XCTUnwrap(object["per_class"] as? [String: Double])
    XCTAssertEqual(Set(perClass.keys), Set(names))
    let idx = try IDXDataset.locate(folder: folder, split: "test")
    for index in 0..<idx.count {
      let name = names[idx.label(at: index)].replacingOccurrences(of: "/", with: "_")
      try FileManager.default.createDirectory(atPath: folder + "/images/" + name, withIntermediateDirectories: true)
      try ImageCodec.write(try idx.loadImage(at: index, options: DecodeOptions()), to: folder + "/images/\(name)/\(index).png")
    }
    var fromFolder = request
    fromFolder.data = folder + "/images"
    let folderJSON = try EvaluationSession.run(fromFolder) { _ in }
    let folderObject = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(folderJSON.description.utf8)) as? [String: Any])
    XCTAssertEqual(folderObject["per_class"] as? [String: Double], perClass)
    XCTAssertEqual(folderObject["confusion"] as? [[Int]], object["confusion"] as? [[Int]])
    // Without --pipeline a bare state dict is refused with a hint.
    XCTAssertThrowsError(try EvaluationSession.run(EvalRequest(checkpoint: request.checkpoint, data: folder)) { _ in }) { error in
      XCTAssertTrue("\(error)".contains("--pipeline"), "\(error)")
    }
  }

  /// `stn export STATE_DICT --pipeline P` shows what a PyTorch-trained transformer does, as
  /// `stn eval` evaluates it: the pipeline gives the model and the preprocessing.
  func testExportOfTorchStateDictWithPipeline() throws {
    let folder = SyntheticData.temporaryFolder("torch-export")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    try FileManager.default.createDirectory(atPath: folder + "/data", withIntermediateDirectories: true)
    try writeTenTestImages(folder + "/data")
    var request = CheckpointExport.Request(checkpoint: TorchFixtures.stateDict, input: folder + "/data", output: folder + "/sheet.png")
    request.pipeline = Golden.packageRoot + "/pipelines/fashion-mnist-rts-stn.yaml"
    request.threads = 1
    request.count = 4
    XCTAssertTrue(try CheckpointExport.run(request).contains("sheet.png"))
    XCTAssertGreaterThan(try Data(contentsOf: URL(fileURLWithPath: request.output)).count, 100)
    request.pipeline = nil
    request.output = folder + "/again.png"
    XCTAssertThrowsError(try CheckpointExport.run(request)) { XCTAssertTrue("\($0)".contains("--pipeline"), "\($0)") }
    XCTAssertFalse(FileManager.default.fileExists(atPath: request.output))
  }

  /// Ten 28x28 IDX test images, one per class.
  private func writeTenTestImages(_ folder: String) throws {
    let images = (0..<10).map { k in (0..<784).map { UInt8(($0 * (k + 3)) % 256) } }
    try IDXFiles.write(images: images, labels: (0..<10).map(UInt8.init), width: 28, height: 28, prefix: "t10k", into: folder)
  }
}
