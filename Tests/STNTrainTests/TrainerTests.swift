import Foundation
import STNFiles
import STNTensor
import XCTest
@testable import STNTrain

final class TrainerTests: XCTestCase {
  var folder = ""

  override func setUpWithError() throws {
    folder = NSTemporaryDirectory() + "stn-trainer-\(UUID().uuidString)"
  }

  override func tearDownWithError() throws {
    try? FileManager.default.removeItem(atPath: folder)
  }

  func makeTrainer(
    epochs: Int, learningRate: Double = 0.5, validation: Double = 0.2, folder: String? = nil,
    model: TrainableClassifier = ToyClassifier(inputs: 4, classes: 3, seed: 1)
  ) -> Trainer {
    let provider = ToyProvider(count: 120, classes: 3, seed: 5)
    var settings = TrainSettings()
    settings.epochs = epochs
    settings.learningRate = learningRate
    let split = DataSplit.validation(count: provider.sampleCount, fraction: validation, seed: 11)
    let data = TrainingData(train: provider, trainIndices: split.train, validationIndices: split.validation, test: ToyProvider(count: 30, classes: 3, seed: 6))
    return Trainer(model: model, data: data, settings: settings, folder: folder ?? self.folder, batchSize: 16)
  }

  func testRunWritesMetricsAndCheckpoints() throws {
    let rows = try makeTrainer(epochs: 3).run()
    XCTAssertEqual(rows.map(\.epoch), [1, 2, 3])
    XCTAssertGreaterThan(rows[2].validationAccuracy ?? 0, 0.9, "blobs are separable")
    XCTAssertNotNil(rows[2].testAccuracy)
    XCTAssertLessThan(rows[2].trainLoss, rows[0].trainLoss)
    let jsonl = try String(contentsOfFile: folder + "/metrics.jsonl", encoding: .utf8)
    XCTAssertEqual(jsonl.split(separator: "\n").count, 3)
    XCTAssertTrue(jsonl.hasPrefix("{\"epoch\":1,\"train_loss\":"))
    let csv = try String(contentsOfFile: folder + "/metrics.csv", encoding: .utf8).split(separator: "\n")
    XCTAssertEqual(csv.first, "epoch,train_loss,train_acc,val_loss,val_acc,test_acc,lr,seconds,images_per_s")
    XCTAssertEqual(csv.count, 4)
    let last = try SafeTensorsFile(contentsOf: folder + "/last.safetensors")
    XCTAssertEqual(last.metadata["stn.train.epoch"], "3")
    XCTAssertEqual(last.metadata["stn.train.step"], "18", "96 training samples / 16 = 6 steps per epoch")
    let best = try SafeTensorsFile(contentsOf: folder + "/best.safetensors")
    let bestEpoch = Int(best.metadata["stn.train.best_epoch"] ?? "") ?? 0
    let bestAccuracy = rows.compactMap(\.validationAccuracy).max() ?? -1
    XCTAssertEqual(rows[bestEpoch - 1].validationAccuracy, bestAccuracy)
  }

  func testResumeMatchesUninterruptedRun() throws {
    let straight = try makeTrainer(epochs: 4, folder: folder + "/straight").run()
    // "Killed" after epoch 2: a run configured for 2 epochs leaves the same files behind.
    _ = try makeTrainer(epochs: 2, folder: folder + "/resumed").run()
    let resumedTrainer = makeTrainer(epochs: 4, folder: folder + "/resumed")
    let resumed = try resumedTrainer.run(resume: true)
    XCTAssertEqual(resumed.map(\.epoch), [1, 2, 3, 4])
    XCTAssertEqual((resumedTrainer.model as? ToyClassifier)?.stepsTaken, 24)
    // Epochs 1-2 come back from metrics.jsonl (6 significant digits); 3-4 were recomputed.
    for (a, b) in zip(straight, resumed) {
      XCTAssertEqual(a.trainLoss, b.trainLoss, accuracy: a.epoch <= 2 ? 1e-5 : 0)
      XCTAssertEqual(a.validationAccuracy ?? -1, b.validationAccuracy ?? -2, accuracy: a.epoch <= 2 ? 1e-5 : 0)
    }
    let a = try SafeTensorsFile(contentsOf: folder + "/straight/last.safetensors").tensor("weight")
    let b = try SafeTensorsFile(contentsOf: folder + "/resumed/last.safetensors").tensor("weight")
    XCTAssertEqual(a, b, "resumed weights equal the uninterrupted run's bit for bit")
  }

  func testResumeWithoutCheckpointFails() {
    XCTAssertThrowsError(try makeTrainer(epochs: 1).run(resume: true)) { error in
      guard case TrainingError.cannotResume = error else { return XCTFail("\(error)") }
    }
  }

  func testNonFiniteLossStopsAndKeepsCheckpoint() throws {
    _ = try makeTrainer(epochs: 1).run()
    let before = try AtomicFile.read(folder + "/last.safetensors")
    // The toy model's float weights overflow to inf/NaN at this rate (the real network at 1e30).
    let exploding = makeTrainer(epochs: 3, learningRate: 1e300)
    XCTAssertThrowsError(try exploding.run(resume: true)) { error in
      guard case let TrainingError.nonFiniteLoss(epoch, _, loss, checkpoint) = error else { return XCTFail("\(error)") }
      XCTAssertEqual(epoch, 2)
      XCTAssertFalse(loss.isFinite)
      XCTAssertEqual(checkpoint, self.folder + "/last.safetensors")
      XCTAssertTrue("\(error)".contains("intact"))
    }
    XCTAssertTrue(try AtomicFile.read(folder + "/last.safetensors") == before, "last good checkpoint untouched")
    let lines = try String(contentsOfFile: folder + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
    XCTAssertEqual(lines.count, 1)
  }

  /// Issue 14: a NaN validation loss went unnoticed and "last good" held weights near 1e29. The
  /// model's evaluation logits turn NaN during epoch 2 (its training loss stays finite): the run
  /// stops after epoch 2's validation, before checkpointing, and the checkpoints stay epoch 1's.
  func testNonFiniteValidationLossStopsBeforeCheckpointing() throws {
    let trainer = makeTrainer(epochs: 3, model: FailingToyClassifier(failingStep: 8, failure: .evaluationLogits))
    XCTAssertThrowsError(try trainer.run()) { error in
      XCTAssertTrue(error is TrainingError, "\(error)")
      XCTAssertTrue("\(error)".contains("validation loss became nan after epoch 2"), "\(error)")
      XCTAssertTrue("\(error)".contains("intact: \(self.folder)/last.safetensors"), "\(error)")
    }
    try assertCheckpointsAreEpochOne()
  }

  /// The last step of epoch 2 leaves an infinite weight behind a finite loss: the run stops
  /// before evaluating or checkpointing epoch 2.
  func testNonFiniteParameterStopsBeforeCheckpointing() throws {
    let trainer = makeTrainer(epochs: 3, model: FailingToyClassifier(failingStep: 12, failure: .infiniteWeight))
    XCTAssertThrowsError(try trainer.run()) { error in
      XCTAssertEqual(error as? TrainingError, .nonFiniteParameters(epoch: 2, lastGoodCheckpoint: self.folder + "/last.safetensors"))
    }
    try assertCheckpointsAreEpochOne()
  }

  /// last.safetensors and best.safetensors hold epoch 1 with finite weights; one metrics row.
  private func assertCheckpointsAreEpochOne(file: StaticString = #filePath, line: UInt = #line) throws {
    for name in ["last", "best"] {
      let checkpoint = try SafeTensorsFile(contentsOf: folder + "/\(name).safetensors")
      XCTAssertEqual(checkpoint.metadata["stn.train.epoch"], "1", name, file: file, line: line)
      for tensor in ["weight", "bias"] {
        XCTAssertTrue(try checkpoint.tensor(tensor).data.allSatisfy(\.isFinite), "\(name) \(tensor)", file: file, line: line)
      }
    }
    let rows = try String(contentsOfFile: folder + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
    XCTAssertEqual(rows.count, 1, file: file, line: line)
  }

  func testNoValidationKeepsLatestAsBest() throws {
    _ = try makeTrainer(epochs: 2, validation: 0).run()
    let best = try SafeTensorsFile(contentsOf: folder + "/best.safetensors")
    XCTAssertEqual(best.metadata["stn.train.best_epoch"], "2")
    XCTAssertNil(best.metadata["stn.train.val_acc"])
  }

  func testCrossEntropy() {
    let logits = Tensor(shape: [2, 3], data: [1, 2, 3, 1000, 0, -1000])
    let expected = -log(exp(1.0) / (exp(1.0) + exp(2.0) + exp(3.0))) + 0
    XCTAssertEqual(Trainer.crossEntropySum(logits: logits, labels: [0, 0]), expected, accuracy: 1e-9)
  }
}
