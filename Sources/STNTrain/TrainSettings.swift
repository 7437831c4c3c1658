import Foundation
import STNFiles
import STNNetwork
import STNPipeline

/// The `train:` section of a pipeline file: optimizer, schedule, epochs, batch size, split.
///
/// ```yaml
/// train:
///   optimizer: adam          # adam | adamw | sgd
///   lr: 0.001
///   betas: [0.9, 0.999]      # adam/adamw
///   eps: 1.0e-8
///   weight_decay: 0          # L2 (sgd, adam) or decoupled (adamw)
///   momentum: 0              # sgd
///   nesterov: false          # sgd
///   epochs: 10
///   batch_size: 64           # default: the pipeline's batch size
///   schedule: none           # none | step | cosine
///   step_size: 5             # step: epochs between decays
///   gamma: 0.1               # step: decay factor
///   min_lr: 0                # cosine: final learning rate
///   val_fraction: 0.1        # held-out share of the training source (0: none)
///   test: t10k               # optional test split (IDX split name or image folder)
/// ```
public struct TrainSettings: Equatable, Sendable {
  /// Optimizer family.
  public enum Optimizer: String, Sendable, CaseIterable { case adam, adamw, sgd }
  /// Learning-rate schedule over epochs.
  public enum Schedule: String, Sendable, CaseIterable { case none, step, cosine }

  public var optimizer: Optimizer = .adam
  public var learningRate: Double = 1e-3
  public var beta1: Double = 0.9
  public var beta2: Double = 0.999
  public var epsilon: Double = 1e-8
  public var weightDecay: Double = 0
  public var momentum: Double = 0
  public var nesterov = false
  public var epochs = 10
  /// nil: the pipeline's batch size.
  public var batchSize: Int?
  public var scheduleKind: Schedule = .none
  public var stepSize = 1
  public var gamma: Double = 0.1
  public var minimumLearningRate: Double = 0
  /// Share of the training source held out for validation. Default 0.1: a best checkpoint by
  /// validation accuracy needs a validation set; the bundled recipe pipelines set 0 to train on
  /// all 60k images like MODEL.md.
  public var validationFraction: Double = 0.1
  /// Test split: an IDX split name (`t10k`) or an image folder; nil: none.
  public var test: String?

  public init() {}

  static let keys: Set<String> = [
    "optimizer", "lr", "betas", "eps", "weight_decay", "momentum", "nesterov", "epochs", "batch_size", "schedule",
    "step_size", "gamma", "min_lr", "val_fraction", "test",
  ]

  /// Parses the pipeline file's `train:` section; unknown keys and out-of-range values are
  /// errors naming the file and line.
  public init(node: ConfigNode) throws {
    var reader = try node.mapping("train")
    if let value = reader.optional("optimizer") {
      let name = try value.string("train.optimizer").lowercased()
      guard let parsed = Optimizer(rawValue: name) else {
        throw value.error("train.optimizer must be one of \(Optimizer.allCases.map(\.rawValue).joined(separator: ", ")), got '\(name)'")
      }
      optimizer = parsed
    }
    if let value = reader.optional("schedule") {
      let name = try value.string("train.schedule").lowercased()
      guard let parsed = Schedule(rawValue: name) else {
        throw value.error("train.schedule must be one of \(Schedule.allCases.map(\.rawValue).joined(separator: ", ")), got '\(name)'")
      }
      scheduleKind = parsed
    }
    if let value = reader.optional("lr") { learningRate = try value.double("train.lr") }
    if let value = reader.optional("betas") {
      let items = try value.sequence("train.betas")
      guard items.count == 2 else { throw value.error("train.betas must be [beta1, beta2]") }
      beta1 = try items[0].double("train.betas")
      beta2 = try items[1].double("train.betas")
    }
    if let value = reader.optional("eps") { epsilon = try value.double("train.eps") }
    if let value = reader.optional("weight_decay") { weightDecay = try value.double("train.weight_decay") }
    if let value = reader.optional("momentum") { momentum = try value.double("train.momentum") }
    if let value = reader.optional("nesterov") { nesterov = try value.bool("train.nesterov") }
    if let value = reader.optional("epochs") { epochs = try value.int("train.epochs") }
    if let value = reader.optional("batch_size") { batchSize = try value.int("train.batch_size") }
    if let value = reader.optional("step_size") { stepSize = try value.int("train.step_size") }
    if let value = reader.optional("gamma") { gamma = try value.double("train.gamma") }
    if let value = reader.optional("min_lr") { minimumLearningRate = try value.double("train.min_lr") }
    if let value = reader.optional("val_fraction") { validationFraction = try value.double("train.val_fraction") }
    if let value = reader.optional("test") { test = try value.string("train.test") }
    try reader.finish(known: TrainSettings.keys.sorted())
    do {
      try validate(path: node.file)
    } catch let error as FileError {
      throw node.error(error.reason)
    }
  }

  /// Range checks shared by the file and the command-line overrides; throws a `FileError`
  /// naming `path` (the pipeline file, or `command line` for flags) and `train: <key> ...`.
  public func validate(path: String) throws {
    func fail(_ reason: String) -> FileError { FileError(path: path, reason: "train: " + reason) }
    guard learningRate.isFinite, learningRate > 0 else { throw fail("'lr' must be > 0, got \(learningRate)") }
    guard (0..<1).contains(beta1), (0..<1).contains(beta2) else { throw fail("'betas' must lie in [0, 1)") }
    guard epsilon > 0 else { throw fail("'eps' must be > 0") }
    guard weightDecay >= 0 else { throw fail("'weight_decay' must be >= 0") }
    guard momentum >= 0, momentum < 1 else { throw fail("'momentum' must lie in [0, 1)") }
    guard !nesterov || momentum > 0 else { throw fail("'nesterov' needs momentum > 0") }
    guard epochs >= 1 else { throw fail("'epochs' must be >= 1, got \(epochs)") }
    if let batchSize { guard batchSize >= 1 else { throw fail("'batch_size' must be >= 1") } }
    guard stepSize >= 1 else { throw fail("'step_size' must be >= 1") }
    guard gamma > 0 else { throw fail("'gamma' must be > 0") }
    guard minimumLearningRate >= 0 else { throw fail("'min_lr' must be >= 0") }
    guard validationFraction >= 0, validationFraction < 1 else {
      throw fail("'val_fraction' must lie in [0, 1), got \(validationFraction)")
    }
  }

  /// The network module's schedule for these settings.
  public var schedule: LearningRateSchedule {
    switch scheduleKind {
    case .none: return .constant
    case .step: return .step(stepSize: stepSize, gamma: Float(gamma))
    case .cosine: return .cosine(totalEpochs: epochs, minimum: Float(minimumLearningRate))
    }
  }

  /// The learning rate for 1-based `epoch` (PyTorch StepLR / CosineAnnealingLR stepped per epoch).
  public func learningRate(epoch: Int) -> Double {
    Double(schedule.rate(epoch: epoch - 1, base: Float(learningRate)))
  }

  /// The network module's optimizer configuration.
  public var optimizerConfig: OptimizerConfig {
    OptimizerConfig(
      kind: optimizer.rawValue, learningRate: Float(learningRate), momentum: Float(momentum), nesterov: nesterov,
      weightDecay: Float(weightDecay), beta1: Float(beta1), beta2: Float(beta2), epsilon: Float(epsilon))
  }

  /// The settings as checkpoint metadata (one JSON string).
  public var json: JSONText {
    var pairs: [(String, JSONText)] = [
      ("optimizer", .string(optimizer.rawValue)), ("lr", .number(learningRate)),
      ("betas", .array([.number(beta1), .number(beta2)])), ("eps", .number(epsilon)),
      ("weight_decay", .number(weightDecay)), ("momentum", .number(momentum)), ("nesterov", .bool(nesterov)),
      ("epochs", .int(epochs)), ("schedule", .string(scheduleKind.rawValue)), ("step_size", .int(stepSize)),
      ("gamma", .number(gamma)), ("min_lr", .number(minimumLearningRate)), ("val_fraction", .number(validationFraction)),
    ]
    if let batchSize { pairs.append(("batch_size", .int(batchSize))) }
    if let test { pairs.append(("test", .string(test))) }
    return .object(pairs)
  }
}
