import Foundation
import STNFiles
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
    let script = """
      import sys, importlib.util
      sys.path.insert(0, "\(TorchFixtures.scripts)")
      import torch
      from safetensors.torch import load_file, save_file
      from stcnn import STCNN
      m = STCNN()
      state = {k: v for k, v in load_file("\(path)").items() if not k.startswith("optimizer.")}
      m.load_state_dict(state)
      x = load_file("\(folder)/input.safetensors")["input"]
      logits, _ = m(x)
      save_file({"logits": logits.detach()}, "\(folder)/torch_logits.safetensors")
      """
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", script]
    process.standardError = FileHandle.nullDevice
    do { try process.run() } catch { throw XCTSkip("python3 not available") }
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw XCTSkip("python3 with torch and safetensors not available") }
    let theirs = try SafeTensorsFile(contentsOf: folder + "/torch_logits.safetensors").tensor("logits")
    XCTAssertLessThanOrEqual(ours.maxAbsDifference(theirs), 1e-4)
  }

  /// `stn eval` on a PyTorch-saved state dict + the pipeline declaring its model: ten 28x28 IDX
  /// images, one per class, preprocessed by the bundled RTS pipeline.
  func testEvalOfTorchStateDictWithPipeline() throws {
    let folder = SyntheticData.temporaryFolder("torch-eval")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    func bigEndian(_ v: Int) -> [UInt8] { [UInt8(v >> 24 & 255), UInt8(v >> 16 & 255), UInt8(v >> 8 & 255), UInt8(v & 255)] }
    var images: [UInt8] = [0, 0, 8, 3] + bigEndian(10) + bigEndian(28) + bigEndian(28)
    var labels: [UInt8] = [0, 0, 8, 1] + bigEndian(10)
    for k in 0..<10 {
      images += (0..<784).map { UInt8(($0 * (k + 3)) % 256) }
      labels.append(UInt8(k))
    }
    try Data(images).write(to: URL(fileURLWithPath: folder + "/t10k-images-idx3-ubyte"))
    try Data(labels).write(to: URL(fileURLWithPath: folder + "/t10k-labels-idx1-ubyte"))
    var request = EvalRequest(checkpoint: TorchFixtures.stateDict, data: folder)
    request.pipeline = Golden.packageRoot + "/pipelines/fashion-mnist-rts-stn.yaml"
    request.threads = 1
    let json = try EvaluationSession.run(request) { _ in }
    let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.description.utf8)) as? [String: Any])
    XCTAssertEqual(object["n"] as? Int, 10)
    XCTAssertEqual((object["confusion"] as? [[Int]])?.count, 10)
    // Without --pipeline a bare state dict is refused with a hint.
    XCTAssertThrowsError(try EvaluationSession.run(EvalRequest(checkpoint: request.checkpoint, data: folder)) { _ in }) { error in
      XCTAssertTrue("\(error)".contains("--pipeline"), "\(error)")
    }
  }
}
