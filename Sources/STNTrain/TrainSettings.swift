import Foundation

/// A bad `train:` section or flag, naming the file and the key.
public struct TrainSettingsError: Error, CustomStringConvertible, Equatable, Sendable {
  public var path: String
  public var reason: String

  public init(path: String, reason: String) {
    self.path = path
    self.reason = reason
  }

  public var description: String { "\(path): train: \(reason)" }
}

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
  public var schedule: Schedule = .none
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

  /// Parses the section as loaded from YAML (a string-keyed map of scalars and lists);
  /// unknown keys and out-of-range values are errors naming `path`.
  public init(section: [String: Any], path: String) throws {
    func fail(_ reason: String) -> TrainSettingsError { TrainSettingsError(path: path, reason: reason) }
    for key in section.keys.sorted() where !TrainSettings.keys.contains(key) {
      throw fail("unknown key '\(key)' (known: \(TrainSettings.keys.sorted().joined(separator: ", ")))")
    }
    func number(_ key: String) throws -> Double? {
      guard let value = section[key] else { return nil }
      if let v = value as? Double { return v }
      if let v = value as? Int { return Double(v) }
      if let v = value as? String, let d = Double(v) { return d }
      throw fail("'\(key)' must be a number, got \(value)")
    }
    func integer(_ key: String) throws -> Int? {
      guard let value = try number(key) else { return nil }
      guard value == value.rounded(), abs(value) < 1e9 else { throw fail("'\(key)' must be an integer, got \(value)") }
      return Int(value)
    }
    if let value = section["optimizer"] {
      guard let name = value as? String, let parsed = Optimizer(rawValue: name.lowercased()) else {
        throw fail("'optimizer' must be one of \(Optimizer.allCases.map(\.rawValue)), got \(value)")
      }
      optimizer = parsed
    }
    if let value = section["schedule"] {
      guard let name = value as? String, let parsed = Schedule(rawValue: name.lowercased()) else {
        throw fail("'schedule' must be one of \(Schedule.allCases.map(\.rawValue)), got \(value)")
      }
      schedule = parsed
    }
    if let v = try number("lr") { learningRate = v }
    if let value = section["betas"] {
      guard let list = value as? [Any], list.count == 2,
        let b1 = (list[0] as? Double) ?? (list[0] as? Int).map(Double.init),
        let b2 = (list[1] as? Double) ?? (list[1] as? Int).map(Double.init)
      else { throw fail("'betas' must be a list of two numbers, got \(value)") }
      beta1 = b1
      beta2 = b2
    }
    if let v = try number("eps") { epsilon = v }
    if let v = try number("weight_decay") { weightDecay = v }
    if let v = try number("momentum") { momentum = v }
    if let value = section["nesterov"] {
      guard let flag = value as? Bool else { throw fail("'nesterov' must be true or false, got \(value)") }
      nesterov = flag
    }
    if let v = try integer("epochs") { epochs = v }
    if let v = try integer("batch_size") { batchSize = v }
    if let v = try integer("step_size") { stepSize = v }
    if let v = try number("gamma") { gamma = v }
    if let v = try number("min_lr") { minimumLearningRate = v }
    if let v = try number("val_fraction") { validationFraction = v }
    if let value = section["test"] {
      guard let name = value as? String else { throw fail("'test' must be a split name or folder, got \(value)") }
      test = name
    }
    try validate(path: path)
  }

  /// Range checks shared by the file and the command-line overrides.
  public func validate(path: String) throws {
    func fail(_ reason: String) -> TrainSettingsError { TrainSettingsError(path: path, reason: reason) }
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

  /// The learning rate for 1-based `epoch` (PyTorch StepLR / CosineAnnealingLR stepped per epoch).
  public func learningRate(epoch: Int) -> Double {
    let done = Double(epoch - 1)
    switch schedule {
    case .none: return learningRate
    case .step: return learningRate * pow(gamma, (done / Double(stepSize)).rounded(.down))
    case .cosine:
      let span = Double(max(1, epochs))
      return minimumLearningRate + (learningRate - minimumLearningRate) * (1 + cos(Double.pi * done / span)) / 2
    }
  }

  /// The settings as checkpoint metadata (one JSON string).
  public var json: JSONText {
    var pairs: [(String, JSONText)] = [
      ("optimizer", .string(optimizer.rawValue)), ("lr", .number(learningRate)),
      ("betas", .array([.number(beta1), .number(beta2)])), ("eps", .number(epsilon)),
      ("weight_decay", .number(weightDecay)), ("momentum", .number(momentum)), ("nesterov", .bool(nesterov)),
      ("epochs", .int(epochs)), ("schedule", .string(schedule.rawValue)), ("step_size", .int(stepSize)),
      ("gamma", .number(gamma)), ("min_lr", .number(minimumLearningRate)), ("val_fraction", .number(validationFraction)),
    ]
    if let batchSize { pairs.append(("batch_size", .int(batchSize))) }
    if let test { pairs.append(("test", .string(test))) }
    return .object(pairs)
  }
}
