import Foundation
import STNDistributed
import STNNetwork
import STNPipeline
import STNTensor
import STNTestSupport
import XCTest

@testable import STNTrain

/// Data-parallel training without mpirun: the ranks are threads (`ThreadGroupCommunicator`).
/// The 2-rank runs under Open MPI are in stnTests/TrainCommandMPITests.
final class DataParallelTests: XCTestCase {
  var folder = ""

  override func setUpWithError() throws {
    folder = try makeTemporaryFolder("data-parallel")
  }

  static let classes = 3

  /// A small MLP with dropout on the ToyProvider's (N,1,1,4) samples, Adam.
  static func classifier(settings: TrainSettings) throws -> NetworkClassifier {
    let spec = ModelSpec([.flatten, .linear(LinearSpec(out: 8)), .relu, .dropout(probability: 0.25), .linear(LinearSpec(out: nil))])
    let model = try Model(spec: spec, inputShape: [1, 1, 4], classCount: classes, seed: 3)
    let optimizer = try makeOptimizer(settings.optimizerConfig, parameters: model.parameters)
    return NetworkClassifier(
      model: model, optimizer: optimizer, classNames: (0..<classes).map { "class\($0)" }, preprocessing: nil, threads: 1, seed: 3)
  }

  /// 1 epoch per `epochs`, batch 15 (parts of 8 and 7 on 2 ranks), lr 0.05.
  static func trainer(folder: String, epochs: Int, communicator: any Communicator) throws -> Trainer {
    var settings = TrainSettings()
    settings.epochs = epochs
    settings.learningRate = 0.05
    let provider = ToyProvider(count: 137, classes: classes, seed: 5)
    let split = DataSplit.validation(count: provider.sampleCount, fraction: 0.2, seed: 11)
    let data = TrainingData(
      train: provider, trainIndices: split.train, validationIndices: split.validation, test: ToyProvider(count: 31, classes: classes, seed: 6))
    let trainer = Trainer(model: try classifier(settings: settings), data: data, settings: settings, folder: folder, batchSize: 15)
    trainer.communicator = communicator
    return trainer
  }

  static func values(_ trainer: Trainer) -> [Float] {
    (trainer.model as? NetworkClassifier)?.model.parameters.values ?? []
  }

  /// Elementwise |a - b| <= tolerance · max(|a|, |b|, 0.01): relative, with values below 0.01
  /// compared as if they were 0.01 (sums of float products near 0 differ by their rounding).
  static func assertClose(_ a: [Float], _ b: [Float], tolerance: Float, _ message: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, message, file: file, line: line)
    let worst = zip(a, b).map { abs($0 - $1) / max(abs($0), abs($1), 0.01) }.max() ?? 0
    XCTAssertLessThanOrEqual(worst, tolerance, message, file: file, line: line)
  }

  // MARK: - The gradient of uneven parts

  /// Parts of 4 and 3 samples, weighted by their size, give the gradient of the whole batch's
  /// mean loss (with the whole batch's dropout masks).
  func testWeightedPartGradientsAreTheWholeBatchGradient() throws {
    let settings = TrainSettings()
    let model = try Self.classifier(settings: settings)
    let batch = try XCTUnwrap(try ToyProvider(count: 7, classes: 3, seed: 2).batches(indices: Array(0..<7), epoch: 1, training: true, batchSize: 7).next()?.get())
    let whole = try model.computeGradients(images: batch.images, labels: batch.labels, step: 5, firstSample: 0)
    let expected = model.withGradients { Array($0) }
    var combined = [Float](repeating: 0, count: expected.count)
    var lossSum = 0.0
    for range in [0..<4, 4..<7] {
      let images = Tensor(shape: [range.count, 1, 1, 4], data: Array(batch.images.data[(range.lowerBound * 4)..<(range.upperBound * 4)]))
      let part = try model.computeGradients(images: images, labels: Array(batch.labels[range]), step: 5, firstSample: range.lowerBound)
      lossSum += part.loss * Double(range.count)
      model.withGradients { gradients in for i in gradients.indices { combined[i] += gradients[i] * Float(range.count) / 7 } }
    }
    XCTAssertEqual(lossSum / 7, whole.loss, accuracy: 1e-6)
    Self.assertClose(combined, expected, tolerance: 1e-5, "part gradients")
    XCTAssertTrue(expected.contains { $0 != 0 })
    // An empty part: zero gradients, loss 0.
    let empty = try model.computeGradients(images: Tensor(shape: [0, 1, 1, 4]), labels: [], step: 5, firstSample: 7)
    XCTAssertEqual(empty.loss, 0)
    XCTAssertTrue(model.withGradients { $0.allSatisfy { $0 == 0 } })
  }

  // MARK: - Two ranks train what one process trains

  func testTwoRanksTrainWhatOneProcessTrainsAndOnlyRankZeroWrites() throws {
    let one = try Self.trainer(folder: folder + "/one", epochs: 2, communicator: SingleProcessCommunicator())
    let oneRows = try one.run()
    let folder = self.folder
    let outcomes = ThreadGroupCommunicator.run(size: 2) { rank, communicator in
      let trainer = try Self.trainer(folder: folder + "/rank\(rank)", epochs: 2, communicator: communicator)
      let rows = try trainer.run()
      return (rows, Self.values(trainer), trainer.communication)
    }
    let ranks = try outcomes.map { try $0.get() }
    XCTAssertEqual(ranks[0].1.map(\.bitPattern), ranks[1].1.map(\.bitPattern), "every rank holds the same parameters")
    XCTAssertEqual(ranks[0].2.resynchronizations, 0)
    XCTAssertEqual(ranks[0].2.allreduces, 2 * 8, "one allreduce per step: 110 training samples in batches of 15")
    Self.assertClose(ranks[0].1, Self.values(one), tolerance: 1e-4, "2 ranks against 1 process")
    for (mine, theirs) in zip(ranks[0].0, oneRows) {
      XCTAssertEqual(mine.trainLoss, theirs.trainLoss, accuracy: 1e-5)
      XCTAssertEqual(mine.trainAccuracy, theirs.trainAccuracy)
      XCTAssertEqual(mine.validationAccuracy, theirs.validationAccuracy)
      XCTAssertEqual(mine.validationLoss ?? 0, theirs.validationLoss ?? 1, accuracy: 1e-5)
      XCTAssertEqual(mine.testAccuracy, theirs.testAccuracy)
    }
    XCTAssertEqual(ranks[1].0.map(\.validationAccuracy), ranks[0].0.map(\.validationAccuracy), "every rank gets the reduced metrics")
    XCTAssertTrue(FileManager.default.fileExists(atPath: folder + "/rank0/last.safetensors"))
    XCTAssertTrue(FileManager.default.fileExists(atPath: folder + "/rank0/metrics.jsonl"))
    XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/rank1"), "rank 1 writes nothing")
  }

  /// Resuming reads the checkpoint on rank 0 alone (rank 1's folder does not even exist) and
  /// continues exactly where the uninterrupted run would be.
  func testResumeReadsTheCheckpointOnRankZeroAndContinuesTheRun() throws {
    let folder = self.folder
    func run(_ name: String, epochs: Int, resume: Bool) throws -> [[Float]] {
      try ThreadGroupCommunicator.run(size: 2) { rank, communicator in
        let trainer = try Self.trainer(folder: folder + "/\(name)-rank\(rank)", epochs: epochs, communicator: communicator)
        try trainer.run(resume: resume)
        return Self.values(trainer)
      }.map { try $0.get() }
    }
    let uninterrupted = try run("whole", epochs: 3, resume: false)
    _ = try run("parted", epochs: 1, resume: false)
    let resumed = try run("parted", epochs: 3, resume: true)
    XCTAssertEqual(resumed[0].map(\.bitPattern), uninterrupted[0].map(\.bitPattern))
    XCTAssertEqual(resumed[1].map(\.bitPattern), uninterrupted[1].map(\.bitPattern))
    let rows = try MetricsLog.resume(folder: folder + "/parted-rank0", throughEpoch: 99).rows
    XCTAssertEqual(rows.map(\.epoch), [1, 2, 3])
  }

  // MARK: - Agreement

  /// MPI does not promise every rank the same sums: when a rank's differ, the check after the
  /// step finds it and every rank takes rank 0's parameters and optimizer state.
  func testRanksWhoseSumsDifferTakeRankZerosParameters() throws {
    let folder = self.folder
    let outcomes = ThreadGroupCommunicator.run(size: 2, configure: { communicator in
      guard communicator.rank == 1 else { return }
      var calls = 0
      communicator.tamper = { values in
        calls += 1
        if calls == 3 && values.count > 10 { values[0] += 0.5 }  // the 3rd step's gradients
      }
    }) { rank, communicator in
      let trainer = try Self.trainer(folder: folder + "/rank\(rank)", epochs: 1, communicator: communicator)
      try trainer.run()
      return (Self.values(trainer), trainer.communication.resynchronizations)
    }
    let ranks = try outcomes.map { try $0.get() }
    XCTAssertEqual(ranks.map(\.1), [1, 1])
    XCTAssertEqual(ranks[0].0.map(\.bitPattern), ranks[1].0.map(\.bitPattern))
  }

  /// A rank whose data fails mid-epoch stops every rank at that step, with its error on its
  /// own rank and its number on all.
  func testAFailureOnOneRankStopsEveryRank() throws {
    struct Broken: Error {}
    final class FailingProvider: BatchProvider {
      let base = ToyProvider(count: 137, classes: 3, seed: 5)
      let rank: Int
      init(rank: Int) { self.rank = rank }
      var sampleCount: Int { base.sampleCount }
      var classNames: [String] { base.classNames }
      func batches(indices: [Int], epoch: Int, training: Bool, batchSize: Int) throws -> AnyIterator<Result<Batch, Error>> {
        try base.batches(indices: indices, epoch: epoch, training: training, batchSize: batchSize)
      }
      func batches(indices: [Int], epoch: Int, training: Bool, batchSize: Int, part: BatchPart) throws -> AnyIterator<Result<Batch, Error>> {
        let parts = try base.batches(indices: indices, epoch: epoch, training: training, batchSize: batchSize, part: part)
        var count = 0
        return AnyIterator {
          count += 1
          return count == 3 && self.rank == 1 ? .failure(Broken()) : parts.next()
        }
      }
    }
    let folder = self.folder
    let outcomes = ThreadGroupCommunicator.run(size: 2) { rank, communicator in
      var settings = TrainSettings()
      settings.epochs = 1
      let provider = FailingProvider(rank: rank)
      let data = TrainingData(train: provider, trainIndices: Array(0..<100), validationIndices: [], test: nil)
      let trainer = Trainer(model: try Self.classifier(settings: settings), data: data, settings: settings, folder: folder + "/r\(rank)", batchSize: 10)
      trainer.communicator = communicator
      var steps: [Int] = []
      trainer.beforeStep = { steps.append($0) }
      do {
        try trainer.run()
      } catch let failure as CollectiveFailure {
        return (failure.failedRanks, failure.localError is Broken, steps)
      }
      return ([], false, steps)
    }
    let ranks = try outcomes.map { try $0.get() }
    XCTAssertEqual(ranks.map(\.0), [[1], [1]])
    XCTAssertEqual(ranks.map(\.1), [false, true])
    XCTAssertEqual(ranks.map(\.2), [[0, 1, 2], [0, 1, 2]], "both stop at the third step")
  }
}
