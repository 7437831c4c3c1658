import Foundation
import STNDistributed
import STNFiles
import STNNetwork
import STNPipeline
import STNTensor

/// Why a training run stopped early.
///
/// The three non-finite stops leave `last.safetensors` (and `best.safetensors`) as the previous
/// epoch wrote them: a checkpoint is written only after its epoch's training loss, parameters,
/// validation loss and test loss were all finite.
public enum TrainingError: Error, CustomStringConvertible, Equatable {
  /// The training loss became NaN or infinite; the last checkpoint (if any) is the previous epoch's.
  case nonFiniteLoss(epoch: Int, batch: Int, loss: Double, lastGoodCheckpoint: String?)
  /// A parameter became NaN or infinite during the epoch's training pass.
  case nonFiniteParameters(epoch: Int, lastGoodCheckpoint: String?)
  /// The validation or test pass (`split`) gave a NaN or infinite loss.
  case nonFiniteEvaluationLoss(epoch: Int, split: String, loss: Double, lastGoodCheckpoint: String?)
  /// `--resume` found no usable checkpoint.
  case cannotResume(path: String, reason: String)
  /// The data cannot be split as asked.
  case badSplit(String)

  public var description: String {
    func kept(_ checkpoint: String?) -> String {
      checkpoint.map { "the last good checkpoint is intact: \($0)" } ?? "no checkpoint was written yet"
    }
    switch self {
    case let .nonFiniteLoss(epoch, batch, loss, checkpoint):
      return "training stopped: loss became \(loss) at epoch \(epoch), batch \(batch) (learning rate too high?); \(kept(checkpoint))"
    case let .nonFiniteParameters(epoch, checkpoint):
      return "training stopped: a parameter became NaN or infinite in epoch \(epoch) (learning rate too high?); \(kept(checkpoint))"
    case let .nonFiniteEvaluationLoss(epoch, split, loss, checkpoint):
      return "training stopped: the \(split) loss became \(loss) after epoch \(epoch) (learning rate too high?); \(kept(checkpoint))"
    case let .cannotResume(path, reason): return "cannot resume from \(path): \(reason)"
    case let .badSplit(reason): return "cannot split the data: \(reason)"
    }
  }
}

/// Progress events from a training run (the CLI draws bars and lines from these).
public protocol TrainingObserver: AnyObject {
  /// After every training batch: running means over the epoch so far.
  func batchFinished(epoch: Int, epochs: Int, batch: Int, batches: Int, loss: Double, accuracy: Double, imagesPerSecond: Double)
  /// After validation/test and checkpointing of an epoch.
  func epochFinished(_ metrics: EpochMetrics, isBest: Bool)
  /// Free-form notes (resume point, splits).
  func note(_ message: String)
}

/// Where a run's data comes from: the training source with its split, and an optional test set.
public struct TrainingData {
  public var train: BatchProvider
  /// Indices of `train` used for fitting.
  public var trainIndices: [Int]
  /// Indices of `train` held out for validation (empty: no validation).
  public var validationIndices: [Int]
  /// A separate test source (distorted once, fixed key), or nil.
  public var test: BatchProvider?

  public init(train: BatchProvider, trainIndices: [Int], validationIndices: [Int], test: BatchProvider?) {
    self.train = train
    self.trainIndices = trainIndices
    self.validationIndices = validationIndices
    self.test = test
  }
}

/// Accuracy and mean loss over a set of samples.
public struct EvaluationResult: Sendable {
  public var loss: Double
  public var matrix: ConfusionMatrix
  public var accuracy: Double { matrix.accuracy }
}

/// The training loop: epochs of forward/backward/step over freshly augmented batches, then
/// validation and test, checkpoints (`last.safetensors` every epoch, `best.safetensors` by
/// validation accuracy), metrics files, TensorBoard events; resumable from `last.safetensors`.
public final class Trainer {
  public let model: TrainableClassifier
  public let data: TrainingData
  public let settings: TrainSettings
  /// Run folder (created).
  public let folder: String
  public let batchSize: Int
  public weak var observer: TrainingObserver?
  /// Optional TensorBoard logger (events in the run folder or elsewhere).
  public var tensorBoard: TrainingTensorBoard?
  /// Metadata added to every checkpoint (pipeline, class names, preprocessing …).
  public var checkpointMetadata: [String: String] = [:]
  /// Called after every epoch with all rows so far (the session redraws `curves.png`, so a
  /// killed run still has its curves). Rank 0 only.
  public var afterEpoch: (([EpochMetrics]) throws -> Void)?
  /// The processes training together (one by default; the ranks of mpirun for data-parallel
  /// training, see `run`).
  public var communicator: any Communicator = SingleProcessCommunicator()
  /// Called before every training step with its number (0-based over the run); a test hook.
  public var beforeStep: ((Int) -> Void)?
  /// The last `run`'s allreduce time and consistency events (zeros on one process).
  public private(set) var communication = CommunicationReport()

  public var lastCheckpointPath: String { folder + "/last.safetensors" }
  public var bestCheckpointPath: String { folder + "/best.safetensors" }

  public init(model: TrainableClassifier, data: TrainingData, settings: TrainSettings, folder: String, batchSize: Int) {
    precondition(batchSize >= 1)
    self.model = model
    self.data = data
    self.settings = settings
    self.folder = folder
    self.batchSize = batchSize
  }

  // MARK: - Metadata keys of the training state

  static let epochKey = "stn.train.epoch"
  static let stepKey = "stn.train.step"
  static let bestKey = "stn.train.best_val_acc"
  static let bestEpochKey = "stn.train.best_epoch"
  static let settingsKey = "stn.train.settings"

  // MARK: - Run

  /// Trains epochs `1...settings.epochs` (or continues after the epoch stored in
  /// `last.safetensors` when `resume`), returning every epoch's metrics.
  ///
  /// Data-parallel on a `communicator` of several ranks (the model must be a
  /// `DataParallelClassifier`): rank 0's parameters and optimizer state go to every rank first
  /// (read from the checkpoint by rank 0 alone when resuming); each step every rank takes its
  /// part of the same global batch of `batchSize`, one allreduce gives all the gradient of the
  /// global batch's mean loss, and all take the same step; validation and test are split among
  /// the ranks and summed. Only rank 0 writes files (checkpoints, metrics, TensorBoard) and
  /// calls the observer; a failure on any rank stops every rank at the same point.
  @discardableResult
  public func run(resume: Bool = false) throws -> [EpochMetrics] {
    let isRoot = communicator.isRoot
    let exchange = try gradientExchange()
    // Rank 0 alone reads the training state (the run folder may be its own disk); the others
    // get it, and the parameters and optimizer state, from it.
    var start = try communicator.agreeing { try isRoot ? startingPoint(resume: resume) : StartingPoint(log: MetricsLog(folder: folder)) }
    if let exchange {
      try start.broadcast(on: communicator)
      try exchange.model.synchronize(from: 0, on: communicator)
    }
    var log = start.log
    var rows = log.rows
    var step = start.step
    var bestAccuracy = start.bestAccuracy
    var bestEpoch = start.bestEpoch
    var haveCheckpoint = resume
    let firstEpoch = start.firstEpoch
    if firstEpoch > settings.epochs { observer?.note("nothing to do: already trained \(firstEpoch - 1) epochs") }

    for epoch in max(1, firstEpoch)...max(settings.epochs, firstEpoch) where epoch <= settings.epochs {
      let started = Date()
      let rate = settings.learningRate(epoch: epoch)
      // MARK: training pass
      var lossSum = 0.0, seen = 0, correct = 0, batchIndex = 0
      let batches = (data.trainIndices.count + batchSize - 1) / batchSize
      var firstBatch: Batch?
      /// Counts one finished step (`n` samples over all ranks) and reports progress.
      func finished(samples n: Int, lossSum batchLoss: Double, correct batchCorrect: Int) {
        lossSum += batchLoss
        correct += batchCorrect
        seen += n
        let elapsed = Date().timeIntervalSince(started)
        observer?.batchFinished(
          epoch: epoch, epochs: settings.epochs, batch: batchIndex, batches: batches, loss: lossSum / Double(seen),
          accuracy: Double(correct) / Double(seen), imagesPerSecond: Double(seen) / max(elapsed, 1e-9))
      }
      if let exchange {
        // Every rank gets one (possibly empty) part per global batch, so all make the same calls.
        let iterator = try communicator.agreeing {
          try data.train.batches(indices: data.trainIndices, epoch: epoch, training: true, batchSize: batchSize, part: communicator.batchPart)
        }
        var pendingFailure: (any Error)?
        for globalBatch in 0... {
          guard let next = iterator.next() else { break }
          beforeStep?(step)
          var local = LocalStep()
          local.failure = pendingFailure
          if local.failure == nil {
            do {
              let batch = try next.get()
              if firstBatch == nil && !batch.labels.isEmpty { firstBatch = batch }
              let whole = min(batchSize, data.trainIndices.count - globalBatch * batchSize)
              let result = try exchange.model.computeGradients(
                images: batch.images, labels: batch.labels, step: step,
                firstSample: communicator.batchPart.range(inBatchOf: whole).lowerBound)
              local.samples = batch.labels.count
              local.loss = result.loss
              local.correct = batch.labels.isEmpty ? 0 : Trainer.countCorrect(logits: result.logits, labels: batch.labels)
            } catch {
              local.failure = error
            }
          }
          let global = try exchange.reduce(local)
          // A global batch none of whose samples could be read is passed over, as on one process.
          guard global.samples > 0 else { continue }
          batchIndex += 1
          guard !global.nonFinite else {
            throw TrainingError.nonFiniteLoss(
              epoch: epoch, batch: batchIndex, loss: global.lossSum / Double(global.samples),
              lastGoodCheckpoint: haveCheckpoint ? lastCheckpointPath : nil)
          }
          exchange.model.applyGradients(learningRate: rate)
          try exchange.checkIdentical()
          if isRoot {
            // NOTE: a failure here is rank 0's alone; it travels with the next step's allreduce
            // (or the epoch's end) so that every rank stops there, none left waiting.
            do { try tensorBoard?.logStep(step: step, loss: global.lossSum / Double(global.samples)) } catch { pendingFailure = error }
          }
          step += 1
          finished(samples: global.samples, lossSum: global.lossSum, correct: global.correct)
        }
        try communicator.agreeing { if let pendingFailure { throw pendingFailure } }
      } else {
        let iterator = try data.train.batches(indices: data.trainIndices, epoch: epoch, training: true, batchSize: batchSize)
        while let next = iterator.next() {
          let batch = try next.get()
          if firstBatch == nil { firstBatch = batch }
          beforeStep?(step)
          let result = try model.trainStep(images: batch.images, labels: batch.labels, learningRate: rate, step: step)
          try tensorBoard?.logStep(step: step, loss: result.loss)
          batchIndex += 1
          step += 1
          guard result.loss.isFinite else {
            throw TrainingError.nonFiniteLoss(
              epoch: epoch, batch: batchIndex, loss: result.loss, lastGoodCheckpoint: haveCheckpoint ? lastCheckpointPath : nil)
          }
          let n = batch.labels.count
          finished(samples: n, lossSum: result.loss * Double(n), correct: Trainer.countCorrect(logits: result.logits, labels: batch.labels))
        }
      }
      let trainElapsed = Date().timeIntervalSince(started)
      let lastGood = haveCheckpoint ? lastCheckpointPath : nil
      // NOTE: the training loss is measured before each step, so the last step of an epoch can
      // leave NaN or infinite weights behind a finite loss; they must not reach a checkpoint.
      // (Every rank holds the same parameters, so every rank stops here together.)
      guard model.parametersAreFinite else { throw TrainingError.nonFiniteParameters(epoch: epoch, lastGoodCheckpoint: lastGood) }
      // Batch-norm statistics were gathered per rank; evaluation and checkpoints use their mean.
      try exchange?.model.averageRunningStatistics(on: communicator)
      // MARK: validation and test
      var validation: EvaluationResult?
      if !data.validationIndices.isEmpty {
        validation = try Trainer.evaluate(
          model: model, provider: data.train, indices: data.validationIndices, batchSize: batchSize, communicator: communicator)
      }
      var test: EvaluationResult?
      if let testProvider = data.test {
        test = try Trainer.evaluate(
          model: model, provider: testProvider, indices: Array(0..<testProvider.sampleCount), batchSize: batchSize,
          communicator: communicator)
      }
      // Finite but huge weights (1e29) give NaN or infinite logits: a non-finite evaluation loss
      // stops the run too, before these weights become the "last good" checkpoint.
      // NOTE: a pass that read no sample has no loss (NaN by convention); that is not a stop.
      for (split, result) in [("validation", validation), ("test", test)] {
        if let result, result.matrix.total > 0, !result.loss.isFinite {
          throw TrainingError.nonFiniteEvaluationLoss(epoch: epoch, split: split, loss: result.loss, lastGoodCheckpoint: lastGood)
        }
      }
      // NOTE: without a validation split, "best" is simply the latest epoch: choosing by test
      // accuracy would leak the test set into model selection.
      var isBest = true
      if let validation {
        isBest = validation.accuracy > (bestAccuracy ?? -1)
        if isBest { bestAccuracy = validation.accuracy }
      }
      if isBest { bestEpoch = epoch }
      // MARK: checkpoints and metrics (rank 0)
      try communicator.agreeing {
        guard isRoot else { return }
        var metadata = checkpointMetadata
        metadata[Trainer.epochKey] = String(epoch)
        metadata[Trainer.stepKey] = String(step)
        if let bestAccuracy { metadata[Trainer.bestKey] = String(bestAccuracy) }
        metadata[Trainer.bestEpochKey] = String(bestEpoch)
        metadata[Trainer.settingsKey] = settings.json.description
        if let validation { metadata["stn.train.val_acc"] = String(validation.accuracy) }
        if let test { metadata["stn.train.test_acc"] = String(test.accuracy) }
        try model.saveCheckpoint(to: lastCheckpointPath, metadata: metadata)
        if isBest {
          // Same bytes as last.safetensors: copy through an atomic write.
          let bytes = try AtomicFile.read(lastCheckpointPath)
          try AtomicFile.write(bytes, to: bestCheckpointPath)
        }
      }
      haveCheckpoint = true
      let row = EpochMetrics(
        epoch: epoch, trainLoss: seen > 0 ? lossSum / Double(seen) : .nan,
        trainAccuracy: seen > 0 ? Double(correct) / Double(seen) : .nan, validationLoss: validation?.loss,
        validationAccuracy: validation?.accuracy, testAccuracy: test?.accuracy, learningRate: rate,
        seconds: Date().timeIntervalSince(started), imagesPerSecond: Double(seen) / max(trainElapsed, 1e-9))
      rows.append(row)
      try communicator.agreeing {
        guard isRoot else { return }
        try log.append(row)
        try afterEpoch?(log.rows)
        if let tensorBoard {
          try tensorBoard.log(epoch: epoch, metrics: row, model: model, sample: firstBatch)
        }
      }
      observer?.epochFinished(row, isBest: isBest)
    }
    communication = exchange?.report ?? CommunicationReport()
    return rows
  }

  /// Where a run starts: epoch 1, or after the epoch of `last.safetensors` (read on rank 0).
  struct StartingPoint {
    var firstEpoch = 1
    var step = 0
    var bestAccuracy: Double?
    var bestEpoch = 0
    /// The metrics so far (rank 0's; the other ranks keep an empty log and write none).
    var log: MetricsLog

    /// Rank 0's values on every rank (all but the log).
    mutating func broadcast(on communicator: any Communicator) throws {
      var integers = [Int64(firstEpoch), Int64(step), Int64(bestEpoch)]
      var best = [bestAccuracy ?? .nan]
      try communicator.broadcast(&integers, root: 0)
      try communicator.broadcast(&best, root: 0)
      (firstEpoch, step, bestEpoch) = (Int(integers[0]), Int(integers[1]), Int(integers[2]))
      bestAccuracy = best[0].isNaN ? nil : best[0]
    }
  }

  /// Creates the run folder; with `resume`, restores the model and optimizer from
  /// `last.safetensors` and the metrics of the epochs it holds.
  private func startingPoint(resume: Bool) throws -> StartingPoint {
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    var start = StartingPoint(log: MetricsLog(folder: folder))
    guard resume else { return start }
    guard FileManager.default.fileExists(atPath: lastCheckpointPath) else {
      throw TrainingError.cannotResume(path: lastCheckpointPath, reason: "no such file (nothing to resume)")
    }
    let metadata = try model.loadCheckpoint(from: lastCheckpointPath)
    guard let epoch = metadata[Trainer.epochKey].flatMap(Int.init), let steps = metadata[Trainer.stepKey].flatMap(Int.init)
    else {
      throw TrainingError.cannotResume(path: lastCheckpointPath, reason: "no training state in its metadata")
    }
    start.firstEpoch = epoch + 1
    start.step = steps
    start.bestAccuracy = metadata[Trainer.bestKey].flatMap(Double.init)
    start.bestEpoch = metadata[Trainer.bestEpochKey].flatMap(Int.init) ?? 0
    start.log = try MetricsLog.resume(folder: folder, throughEpoch: epoch)
    try start.log.write()
    observer?.note("resuming after epoch \(epoch) (step \(steps)) from \(lastCheckpointPath)")
    return start
  }

  /// The per-step exchange on several ranks (nil on one process).
  private func gradientExchange() throws -> GradientExchange? {
    guard communicator.isDistributed else { return nil }
    guard let model = model as? DataParallelClassifier else {
      throw TrainSessionError("data-parallel training needs a DataParallelClassifier; \(type(of: model)) is not one")
    }
    return GradientExchange(communicator: communicator, model: model)
  }

  // MARK: - Evaluation

  /// Mean cross-entropy and confusion matrix of `model` over `indices` of `provider`, in order,
  /// with the provider's fixed evaluation distortion. On several ranks each evaluates its part
  /// of every batch of `batchSize` × ranks samples and the sums are combined (every rank gets
  /// the result over all of `indices`).
  public static func evaluate(
    model: TrainableClassifier, provider: BatchProvider, indices: [Int], batchSize: Int,
    communicator: any Communicator = SingleProcessCommunicator()
  ) throws -> EvaluationResult {
    var matrix = ConfusionMatrix(classes: provider.classNames)
    var lossSum = 0.0
    try communicator.agreeing {
      let iterator = communicator.isDistributed
        ? try provider.batches(
          indices: indices, epoch: 0, training: false, batchSize: batchSize * communicator.size, part: communicator.batchPart)
        : try provider.batches(indices: indices, epoch: 0, training: false, batchSize: batchSize)
      while let next = iterator.next() {
        let batch = try next.get()
        guard !batch.labels.isEmpty else { continue }
        let logits = try model.logits(images: batch.images)
        lossSum += crossEntropySum(logits: logits, labels: batch.labels)
        let predictions = argmaxRows(logits)
        for (label, predicted) in zip(batch.labels, predictions) { matrix.add(actual: label, predicted: predicted) }
      }
    }
    if communicator.isDistributed {
      try matrix.sum(on: communicator)
      lossSum = try communicator.allreduce(lossSum, .sum)
    }
    return EvaluationResult(loss: matrix.total > 0 ? lossSum / Double(matrix.total) : .nan, matrix: matrix)
  }

  static func countCorrect(logits: Tensor, labels: [Int]) -> Int {
    zip(argmaxRows(logits), labels).reduce(0) { $0 + ($1.0 == $1.1 ? 1 : 0) }
  }

  /// Sum over rows of -log softmax(logits)[label], computed stably in double. logits (N,K).
  public static func crossEntropySum(logits: Tensor, labels: [Int]) -> Double {
    let k = logits.shape[1]
    var total = 0.0
    for (row, label) in labels.enumerated() {
      let base = row * k
      var peak = -Double.infinity
      for j in 0..<k { peak = max(peak, Double(logits.data[base + j])) }
      var sum = 0.0
      for j in 0..<k { sum += exp(Double(logits.data[base + j]) - peak) }
      total += peak + log(sum) - Double(logits.data[base + label])
    }
    return total
  }
}
