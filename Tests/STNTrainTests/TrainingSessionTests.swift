import Foundation
import STNFiles
import STNNetwork
import STNPipeline
import STNTensor
import STNTestSupport
import XCTest
@testable import STNTrain

/// End to end on the real network and pipeline: a tiny image folder, two epochs.
final class TrainingSessionTests: SyntheticFolderTestCase {
  override class var folderName: String { "session" }
  func writePipeline(_ name: String, epochs: Int = 2, lr: Double = 0.01, linearModel: Bool = false) throws -> String {
    let path = folder + "/" + name
    try SyntheticData.pipeline(data: folder + "/data", epochs: epochs, lr: lr, linearModel: linearModel).write(toFile: path, atomically: true, encoding: .utf8)
    return path
  }

  func request(_ pipeline: String, out: String) -> TrainRequest {
    var request = TrainRequest(pipeline: pipeline)
    request.out = out
    request.threads = 1
    return request
  }

  func testTinyRunWritesEveryOutput() throws {
    let pipeline = try writePipeline("tiny.yaml")
    var printed: [String] = []
    let outcome = try TrainingSession.run(request(pipeline, out: folder + "/run"), observer: nil) { printed.append($0) }
    XCTAssertTrue(printed[0].contains("SpatialTransformer(constraint=affine"), "model summary first")
    XCTAssertTrue(printed[0].contains("Total params:"))
    XCTAssertEqual(outcome.rows.map(\.epoch), [1, 2])
    XCTAssertNotNil(outcome.rows[1].validationAccuracy)
    let run = folder + "/run"
    for name in ["metrics.jsonl", "metrics.csv", "best.safetensors", "last.safetensors", "curves.png"] {
      XCTAssertTrue(FileManager.default.fileExists(atPath: run + "/" + name), name)
    }
    let events = try FileManager.default.contentsOfDirectory(atPath: run).filter { $0.hasPrefix("events.out.tfevents.") }
    XCTAssertEqual(events.count, 1)
    let eventSize = try FileManager.default.attributesOfItem(atPath: run + "/" + events[0])[.size] as? Int ?? 0
    XCTAssertGreaterThan(eventSize, 1000, "scalars, two image grids and theta histograms per epoch")
    let lines = try String(contentsOfFile: run + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
    XCTAssertEqual(lines.count, 2)
    XCTAssertTrue(lines[1].hasPrefix("{\"epoch\":2,"))
    let loaded = try Checkpoint.load(run + "/last.safetensors")
    XCTAssertEqual(loaded.info.classNames, ["left", "right"])
    XCTAssertEqual(loaded.info.epoch, 2)
    XCTAssertEqual(loaded.info.step, 6, "18 training images in batches of 8: 3 steps per epoch")
    XCTAssertEqual(loaded.info.preprocessing, Preprocessing(channels: 1, height: 12, width: 12, mean: [0.5], std: [0.5]))
    XCTAssertEqual(loaded.optimizerConfig?.kind, "adam")
    XCTAssertEqual(loaded.optimizerStep, 6)
    XCTAssertNotNil(loaded.info.extra["pipeline"])
    // A second run into the same folder without --resume is refused.
    XCTAssertThrowsError(try TrainingSession.run(request(pipeline, out: run), observer: nil) { _ in })
  }

  func testResumeAfterKillMatchesUninterruptedRun() throws {
    let twoEpochs = try writePipeline("two.yaml", epochs: 2)
    let straight = try TrainingSession.run(request(twoEpochs, out: folder + "/straight"), observer: nil) { _ in }
    // The "killed" run: stopped after epoch 1 (as if killed during epoch 2).
    var first = request(twoEpochs, out: folder + "/resumed")
    first.epochs = 1
    _ = try TrainingSession.run(first, observer: nil) { _ in }
    XCTAssertEqual(try Checkpoint.load(folder + "/resumed/last.safetensors").info.epoch, 1)
    var resumed = request(twoEpochs, out: folder + "/resumed")
    resumed.resume = true
    let outcome = try TrainingSession.run(resumed, observer: nil) { _ in }
    XCTAssertEqual(outcome.rows.map(\.epoch), [1, 2])
    XCTAssertEqual(outcome.rows[1].trainLoss, straight.rows[1].trainLoss, "epoch 2 repeats the uninterrupted run")
    let a = try Checkpoint.load(folder + "/straight/last.safetensors"), b = try Checkpoint.load(folder + "/resumed/last.safetensors")
    XCTAssertEqual(a.model.parameters.values, b.model.parameters.values, "bit-identical weights")
    XCTAssertEqual(a.optimizerState["exp_avg"], b.optimizerState["exp_avg"])
    XCTAssertEqual(b.info.epoch, 2)
  }

  func testNaNLossStopsWithCheckpointIntact() throws {
    // A linear model: with weights near 1e38 its logits overflow at once (a ReLU network can
    // hide the blow-up behind dead units for a few steps).
    let good = try writePipeline("good.yaml", epochs: 1, linearModel: true)
    _ = try TrainingSession.run(request(good, out: folder + "/run"), observer: nil) { _ in }
    let before = try AtomicFile.read(folder + "/run/last.safetensors")
    let exploding = try writePipeline("exploding.yaml", epochs: 3, lr: 1e38, linearModel: true)
    var resumed = request(exploding, out: folder + "/run")
    resumed.resume = true
    XCTAssertThrowsError(try TrainingSession.run(resumed, observer: nil) { _ in }) { error in
      guard case let TrainingError.nonFiniteLoss(epoch, _, loss, checkpoint) = error else { return XCTFail("\(error)") }
      XCTAssertEqual(epoch, 2)
      XCTAssertFalse(loss.isFinite)
      XCTAssertEqual(checkpoint, self.folder + "/run/last.safetensors")
    }
    XCTAssertTrue(try AtomicFile.read(folder + "/run/last.safetensors") == before, "last good checkpoint untouched")
    XCTAssertEqual(try Checkpoint.load(folder + "/run/last.safetensors").info.epoch, 1)
  }

  func testEvalReportsAccuracyAndConfusionMatrix() throws {
    let pipeline = try writePipeline("tiny.yaml")
    _ = try TrainingSession.run(request(pipeline, out: folder + "/run"), observer: nil) { _ in }
    var eval = EvalRequest(checkpoint: folder + "/run/best.safetensors", data: folder + "/data")
    eval.threads = 1
    var text: [String] = []
    let json = try EvaluationSession.run(eval) { text.append($0) }
    let line = json.description
    XCTAssertTrue(line.hasPrefix("{\"accuracy\":"), line)
    let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
    XCTAssertEqual(object?["n"] as? Int, 24)
    XCTAssertEqual((object?["per_class"] as? [String: Any]).map { Set($0.keys) }, ["left", "right"])
    let confusion = object?["confusion"] as? [[Int]] ?? []
    XCTAssertEqual(confusion.count, 2)
    XCTAssertEqual(confusion.flatMap { $0 }.reduce(0, +), 24)
    let accuracy = object?["accuracy"] as? Double ?? -1
    XCTAssertEqual(accuracy, Double(confusion[0][0] + confusion[1][1]) / 24, accuracy: 1e-6)
    XCTAssertTrue(text.contains { $0.contains("confusion matrix") })
    // Deterministic: the fixed evaluation key gives the same answer twice.
    XCTAssertEqual(try EvaluationSession.run(eval) { _ in }.description.prefix(60), line.prefix(60))
  }

  func testEvalRejectsUnknownClassFolders() throws {
    let pipeline = try writePipeline("tiny.yaml", epochs: 1)
    _ = try TrainingSession.run(request(pipeline, out: folder + "/run"), observer: nil) { _ in }
    try SyntheticData.writeFolder(folder + "/other", perClass: 1)
    try FileManager.default.moveItem(atPath: folder + "/other/left", toPath: folder + "/other/up")
    let eval = EvalRequest(checkpoint: folder + "/run/last.safetensors", data: folder + "/other")
    XCTAssertThrowsError(try EvaluationSession.run(eval) { _ in }) { error in
      XCTAssertTrue("\(error)".contains("up"), "\(error)")
    }
  }

  func testCrossValidationWritesFolds() throws {
    let pipeline = try writePipeline("tiny.yaml", epochs: 1)
    var folds = request(pipeline, out: folder + "/cv")
    folds.folds = 3
    folds.tensorBoard = .off
    let outcome = try TrainingSession.run(folds, observer: nil) { _ in }
    XCTAssertEqual(outcome.crossValidation?.folds.count, 3)
    XCTAssertTrue(outcome.summary.description.hasPrefix("{\"folds\":3,\"mean_val_acc\":"))
    XCTAssertTrue(FileManager.default.fileExists(atPath: folder + "/cv/fold-3/best.safetensors"))
  }

  func testInitFromStartsFromGivenWeights() throws {
    let pipeline = try writePipeline("tiny.yaml", epochs: 1)
    _ = try TrainingSession.run(request(pipeline, out: folder + "/first"), observer: nil) { _ in }
    var again = request(pipeline, out: folder + "/second")
    again.initFrom = folder + "/first/last.safetensors"
    again.epochs = 1
    // Capture the initial weights through a zero-epoch view: the first step starts from them.
    let first = try Checkpoint.load(folder + "/first/last.safetensors")
    let outcome = try TrainingSession.run(again, observer: nil) { _ in }
    XCTAssertEqual(outcome.rows.count, 1)
    let second = try Checkpoint.load(folder + "/second/last.safetensors")
    // Started from `first`'s weights (optimizer state is not imported: a fresh Adam).
    XCTAssertEqual(second.optimizerStep, 3)
    let moved = zip(first.model.parameters.values, second.model.parameters.values).map { abs($0 - $1) }.max() ?? 0
    XCTAssertGreaterThan(moved, 0)
    XCTAssertLessThan(moved, 0.2, "one short epoch from the imported weights, not a fresh initialization")
  }

  // MARK: - The model: section

  /// `model:` decodes straight from YAML to what the JSON form of the same list decodes to,
  /// for every layer kind and spelling (JSON flow syntax is YAML too).
  func testModelSectionDecodesLikeItsJSONForm() throws {
    let forms = [
      ModelSpec.benchmarkSTCNN.jsonString(),
      """
      [{"conv2d": {"out": 4, "kernel": 3, "stride": 2, "padding": 1, "dilation": 1, "bias": false}},
       {"batch_norm2d": {}}, "batch_norm2d", {"batch_norm2d": {"eps": 0.001, "momentum": 0.2}},
       {"avg_pool2d": {"kernel": 2, "count_include_pad": false}}, {"max_pool2d": {"kernel": 3, "stride": 1, "padding": 1, "ceil_mode": true}},
       "leaky_relu", {"leaky_relu": 0.2}, {"leaky_relu": {"negative_slope": 0.3}}, "sigmoid", "tanh", {"relu": null},
       {"spatial_transformer": {"constraint": "rts", "localization": ["flatten", {"linear": {"out": 4}}]}},
       "flatten", {"dropout": 0.25}, "dropout", {"dropout": {"p": 0.1}}, {"linear": {"out": 7, "bias": false}}, {"linear": "classes"}]
      """,
      "{\"layers\": [\"flatten\", {\"linear\": {\"out\": \"classes\"}}]}",
    ]
    for json in forms {
      let node = try ConfigNode.parse(yaml: json, file: "model.yaml")
      XCTAssertEqual(try TrainingSession.modelSpec(from: node), try ModelSpec.fromJSON(json, source: "test"), json)
    }
    let yaml = try ConfigNode.parse(yaml: "- {conv2d: {out: 8, kernel: 3}}\n- {max_pool2d: 2}\n- relu:\n- flatten\n- {linear: classes}\n", file: "m.yaml")
    XCTAssertEqual(try TrainingSession.modelSpec(from: yaml), ModelSpec([
      .conv2d(Conv2DSpec(out: 8, kernel: 3)), .maxPool2d(PoolSpec(kernel: 2)), .relu, .flatten, .linear(LinearSpec(out: nil)),
    ]))
  }

  /// A mistake in `model:` names the pipeline file, the line (and column) of the layer or key,
  /// and the layer's place in the list.
  func testModelSectionErrorsNameFileLineAndLayer() throws {
    let pipeline = try writePipeline("typo.yaml", linearModel: true)
    let text = try String(contentsOfFile: pipeline, encoding: .utf8)
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    let modelLine = try XCTUnwrap(lines.firstIndex { $0.hasPrefix("model:") })
    // The first layer after `model:` gets a misspelt key.
    let layerLine = modelLine + 1
    var edited = lines.map(String.init)
    edited[layerLine] = "  - {conv2d: {out: 4, kernal: 3}}"
    try edited.joined(separator: "\n").write(toFile: pipeline, atomically: true, encoding: .utf8)
    let config = try PipelineConfig.load(path: pipeline)
    XCTAssertThrowsError(try TrainingSession.modelSpec(from: try XCTUnwrap(config.model))) { error in
      let message = "\(error)"
      XCTAssertTrue(message.hasPrefix("\(pipeline):\(layerLine + 1):"), message)
      XCTAssertTrue(message.contains("model[0].conv2d") && message.contains("unknown key kernal in conv2d (allowed: "), message)
    }
  }
}
