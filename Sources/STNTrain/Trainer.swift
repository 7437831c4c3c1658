import Foundation
import STNFiles
import STNNetwork
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
  /// killed run still has its curves).
  public var afterEpoch: (([EpochMetrics]) throws -> Void)?

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
  @discardableResult
  public func run(resume: Bool = false) throws -> [EpochMetrics] {
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    var firstEpoch = 1
    var step = 0
    var bestAccuracy: Double?
    var bestEpoch = 0
    var log = MetricsLog(folder: folder)
    if resume {
      guard FileManager.default.fileExists(atPath: lastCheckpointPath) else {
        throw TrainingError.cannotResume(path: lastCheckpointPath, reason: "no such file (nothing to resume)")
      }
      let metadata = try model.loadCheckpoint(from: lastCheckpointPath)
      guard let epoch = metadata[Trainer.epochKey].flatMap(Int.init), let steps = metadata[Trainer.stepKey].flatMap(Int.init)
      else {
        throw TrainingError.cannotResume(path: lastCheckpointPath, reason: "no training state in its metadata")
      }
      firstEpoch = epoch + 1
      step = steps
      bestAccuracy = metadata[Trainer.bestKey].flatMap(Double.init)
      bestEpoch = metadata[Trainer.bestEpochKey].flatMap(Int.init) ?? 0
      log = try MetricsLog.resume(folder: folder, throughEpoch: epoch)
      try log.write()
      observer?.note("resuming after epoch \(epoch) (step \(step)) from \(lastCheckpointPath)")
    }
    var haveCheckpoint = resume
    if firstEpoch > settings.epochs { observer?.note("nothing to do: already trained \(firstEpoch - 1) epochs") }

    for epoch in max(1, firstEpoch)...max(settings.epochs, firstEpoch) where epoch <= settings.epochs {
      let started = Date()
      let rate = settings.learningRate(epoch: epoch)
      // MARK: training pass
      var lossSum = 0.0, seen = 0, correct = 0, batchIndex = 0
      let batches = (data.trainIndices.count + batchSize - 1) / batchSize
      let iterator = try data.train.batches(indices: data.trainIndices, epoch: epoch, training: true, batchSize: batchSize)
      var firstBatch: LabeledBatch?
      while let next = iterator.next() {
        let batch = try next.get()
        if firstBatch == nil { firstBatch = batch }
        let result = try model.trainStep(images: batch.images, labels: batch.labels, learningRate: rate, step: step)
        try tensorBoard?.logStep(step: step, loss: result.loss)
        batchIndex += 1
        step += 1
        guard result.loss.isFinite else {
          throw TrainingError.nonFiniteLoss(
            epoch: epoch, batch: batchIndex, loss: result.loss, lastGoodCheckpoint: haveCheckpoint ? lastCheckpointPath : nil)
        }
        let n = batch.labels.count
        lossSum += result.loss * Double(n)
        correct += Trainer.countCorrect(logits: result.logits, labels: batch.labels)
        seen += n
        let elapsed = Date().timeIntervalSince(started)
        observer?.batchFinished(
          epoch: epoch, epochs: settings.epochs, batch: batchIndex, batches: batches, loss: lossSum / Double(seen),
          accuracy: Double(correct) / Double(seen), imagesPerSecond: Double(seen) / max(elapsed, 1e-9))
      }
      let trainElapsed = Date().timeIntervalSince(started)
      let lastGood = haveCheckpoint ? lastCheckpointPath : nil
      // NOTE: the training loss is measured before each step, so the last step of an epoch can
      // leave NaN or infinite weights behind a finite loss; they must not reach a checkpoint.
      guard model.parametersAreFinite else { throw TrainingError.nonFiniteParameters(epoch: epoch, lastGoodCheckpoint: lastGood) }
      // MARK: validation and test
      var validation: EvaluationResult?
      if !data.validationIndices.isEmpty {
        validation = try Trainer.evaluate(model: model, provider: data.train, indices: data.validationIndices, batchSize: batchSize)
      }
      var test: EvaluationResult?
      if let testProvider = data.test {
        test = try Trainer.evaluate(
          model: model, provider: testProvider, indices: Array(0..<testProvider.sampleCount), batchSize: batchSize)
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
      // MARK: checkpoints
      var metadata = checkpointMetadata
      metadata[Trainer.epochKey] = String(epoch)
      metadata[Trainer.stepKey] = String(step)
      if let bestAccuracy { metadata[Trainer.bestKey] = String(bestAccuracy) }
      metadata[Trainer.bestEpochKey] = String(bestEpoch)
      metadata[Trainer.settingsKey] = settings.json.description
      if let validation { metadata["stn.train.val_acc"] = String(validation.accuracy) }
      if let test { metadata["stn.train.test_acc"] = String(test.accuracy) }
      try model.saveCheckpoint(to: lastCheckpointPath, metadata: metadata)
      haveCheckpoint = true
      if isBest {
        // Same bytes as last.safetensors: copy through an atomic write.
        let bytes = try AtomicFile.read(lastCheckpointPath)
        try AtomicFile.write(bytes, to: bestCheckpointPath)
      }
      let row = EpochMetrics(
        epoch: epoch, trainLoss: seen > 0 ? lossSum / Double(seen) : .nan,
        trainAccuracy: seen > 0 ? Double(correct) / Double(seen) : .nan, validationLoss: validation?.loss,
        validationAccuracy: validation?.accuracy, testAccuracy: test?.accuracy, learningRate: rate,
        seconds: Date().timeIntervalSince(started), imagesPerSecond: Double(seen) / max(trainElapsed, 1e-9))
      try log.append(row)
      try afterEpoch?(log.rows)
      if let tensorBoard {
        try tensorBoard.log(epoch: epoch, metrics: row, model: model, sample: firstBatch)
      }
      observer?.epochFinished(row, isBest: isBest)
    }
    return log.rows
  }

  // MARK: - Evaluation

  /// Mean cross-entropy and confusion matrix of `model` over `indices` of `provider`, in order,
  /// with the provider's fixed evaluation distortion.
  public static func evaluate(model: TrainableClassifier, provider: BatchProvider, indices: [Int], batchSize: Int) throws
    -> EvaluationResult
  {
    var matrix = ConfusionMatrix(classes: provider.classNames)
    var lossSum = 0.0
    let iterator = try provider.batches(indices: indices, epoch: 0, training: false, batchSize: batchSize)
    while let next = iterator.next() {
      let batch = try next.get()
      let logits = try model.logits(images: batch.images)
      lossSum += crossEntropySum(logits: logits, labels: batch.labels)
      let predictions = argmaxRows(logits)
      for (label, predicted) in zip(batch.labels, predictions) { matrix.add(actual: label, predicted: predicted) }
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
