import Foundation

/// Settings of an optimizer, as stored in checkpoint metadata (JSON).
public struct OptimizerConfig: Codable, Equatable, Sendable {
  /// `sgd`, `adam` or `adamw`.
  public var kind: String
  public var learningRate: Float
  public var momentum: Float = 0
  public var dampening: Float = 0
  public var nesterov: Bool = false
  public var weightDecay: Float = 0
  public var beta1: Float = 0.9
  public var beta2: Float = 0.999
  public var epsilon: Float = 1e-8

  public init(
    kind: String, learningRate: Float, momentum: Float = 0, dampening: Float = 0, nesterov: Bool = false, weightDecay: Float = 0,
    beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8
  ) {
    self.kind = kind
    self.learningRate = learningRate
    self.momentum = momentum
    self.dampening = dampening
    self.nesterov = nesterov
    self.weightDecay = weightDecay
    self.beta1 = beta1
    self.beta2 = beta2
    self.epsilon = epsilon
  }

  enum CodingKeys: String, CodingKey, CaseIterable {
    case kind, momentum, dampening, nesterov, epsilon
    case learningRate = "lr"
    case weightDecay = "weight_decay"
    case beta1, beta2
  }

  /// Decodes `{kind: adam, lr: 0.001, ...}`: `kind` and `lr` are required, the rest default as
  /// in PyTorch; unknown keys are rejected.
  public init(from decoder: Decoder) throws {
    let keys = try decoder.container(keyedBy: SpecKey.self)
    try rejectUnknownKeys(keys, allowed: CodingKeys.allCases.map(\.rawValue), in: "optimizer")
    let c = try decoder.container(keyedBy: CodingKeys.self)
    kind = try c.decode(String.self, forKey: .kind)
    learningRate = try c.decode(Float.self, forKey: .learningRate)
    momentum = try c.decodeIfPresent(Float.self, forKey: .momentum) ?? 0
    dampening = try c.decodeIfPresent(Float.self, forKey: .dampening) ?? 0
    nesterov = try c.decodeIfPresent(Bool.self, forKey: .nesterov) ?? false
    weightDecay = try c.decodeIfPresent(Float.self, forKey: .weightDecay) ?? (kind == "adamw" ? 1e-2 : 0)
    beta1 = try c.decodeIfPresent(Float.self, forKey: .beta1) ?? 0.9
    beta2 = try c.decodeIfPresent(Float.self, forKey: .beta2) ?? 0.999
    epsilon = try c.decodeIfPresent(Float.self, forKey: .epsilon) ?? 1e-8
  }
}

/// An optimizer over a `ParameterStore`'s flat buffers (state buffers share its layout).
public protocol Optimizer: AnyObject {
  /// The store it updates.
  var parameters: ParameterStore { get }
  /// Current learning rate (schedules set it each epoch).
  var learningRate: Float { get set }
  /// Updates applied so far.
  var stepCount: Int { get set }
  var config: OptimizerConfig { get }
  /// Named state buffers, each `parameters.totalCount` long (e.g. `exp_avg`), for checkpoints.
  var state: [String: [Float]] { get set }
  /// One update from the accumulated gradients.
  func step()
}

extension Optimizer {
  /// Sets every gradient to zero (one fill over the flat gradient buffer).
  public func zeroGradients() { parameters.zeroGradients() }
}

/// Builds the optimizer a config describes; throws for an unknown kind or bad settings.
public func makeOptimizer(_ config: OptimizerConfig, parameters: ParameterStore) throws -> Optimizer {
  switch config.kind {
  case "sgd":
    return try SGD(parameters: parameters, learningRate: config.learningRate, momentum: config.momentum, dampening: config.dampening,
      nesterov: config.nesterov, weightDecay: config.weightDecay)
  case "adam", "adamw":
    return try Adam(parameters: parameters, learningRate: config.learningRate, beta1: config.beta1, beta2: config.beta2,
      epsilon: config.epsilon, weightDecay: config.weightDecay, decoupledWeightDecay: config.kind == "adamw")
  default:
    throw SettingError(setting: "optimizer", reason: "unknown optimizer \(config.kind) (known: sgd, adam, adamw)")
  }
}

// MARK: - SGD

/// Stochastic gradient descent with PyTorch `torch.optim.SGD` semantics:
/// g = grad + wd·p; buf = g on the first step, else momentum·buf + (1 - dampening)·g;
/// g = g + momentum·buf (Nesterov) or buf; p -= lr·g.
public final class SGD: Optimizer {
  public let parameters: ParameterStore
  public var learningRate: Float
  public let momentum: Float, dampening: Float, nesterov: Bool, weightDecay: Float
  public var stepCount = 0
  /// (total,) momentum buffer, PyTorch's `momentum_buffer`.
  public var momentumBuffer: [Float]

  public init(parameters: ParameterStore, learningRate: Float, momentum: Float = 0, dampening: Float = 0, nesterov: Bool = false, weightDecay: Float = 0) throws {
    guard learningRate >= 0, learningRate.isFinite else { throw SettingError(setting: "optimizer", reason: "learning rate must be >= 0, got \(learningRate)") }
    guard momentum >= 0, weightDecay >= 0 else { throw SettingError(setting: "optimizer", reason: "momentum and weight decay must be >= 0") }
    guard !nesterov || (momentum > 0 && dampening == 0) else { throw SettingError(setting: "optimizer", reason: "Nesterov momentum requires a momentum and zero dampening") }
    self.parameters = parameters
    self.learningRate = learningRate
    self.momentum = momentum
    self.dampening = dampening
    self.nesterov = nesterov
    self.weightDecay = weightDecay
    momentumBuffer = momentum > 0 ? [Float](repeating: 0, count: parameters.totalCount) : []
  }

  public var config: OptimizerConfig {
    OptimizerConfig(kind: "sgd", learningRate: learningRate, momentum: momentum, dampening: dampening, nesterov: nesterov, weightDecay: weightDecay)
  }

  public var state: [String: [Float]] {
    get { momentum > 0 ? ["momentum_buffer": momentumBuffer] : [:] }
    set { if let buffer = newValue["momentum_buffer"], buffer.count == momentumBuffer.count { momentumBuffer = buffer } }
  }

  public func step() {
    let n = parameters.totalCount
    let (lr, mu, damp, wd, nesterov) = (learningRate, momentum, dampening, weightDecay, self.nesterov)
    let first = stepCount == 0
    parameters.values.withUnsafeMutableBufferPointer { p in
      parameters.gradients.withUnsafeBufferPointer { grad in
        momentumBuffer.withUnsafeMutableBufferPointer { buf in
          for i in 0..<n {
            var g = grad[i] + wd * p[i]
            if mu != 0 {
              buf[i] = first ? g : mu * buf[i] + (1 - damp) * g
              g = nesterov ? g + mu * buf[i] : buf[i]
            }
            p[i] -= lr * g
          }
        }
      }
    }
    stepCount += 1
  }
}

// MARK: - Adam / AdamW

/// Adam (and AdamW with `decoupledWeightDecay`) with PyTorch semantics:
/// Adam: g = grad + wd·p.  AdamW: p *= 1 - lr·wd.  Then m = β1·m + (1-β1)·g,
/// v = β2·v + (1-β2)·g², p -= (lr / (1-β1^t)) · m / (sqrt(v) / sqrt(1-β2^t) + ε).
public final class Adam: Optimizer {
  public let parameters: ParameterStore
  public var learningRate: Float
  public let beta1: Float, beta2: Float, epsilon: Float, weightDecay: Float, decoupledWeightDecay: Bool
  public var stepCount = 0
  /// (total,) first moment, PyTorch's `exp_avg`.
  public var firstMoment: [Float]
  /// (total,) second moment, PyTorch's `exp_avg_sq`.
  public var secondMoment: [Float]

  public init(
    parameters: ParameterStore, learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8,
    weightDecay: Float = 0, decoupledWeightDecay: Bool = false
  ) throws {
    guard learningRate >= 0, learningRate.isFinite else { throw SettingError(setting: "optimizer", reason: "learning rate must be >= 0, got \(learningRate)") }
    guard (0..<1).contains(beta1), (0..<1).contains(beta2) else { throw SettingError(setting: "optimizer", reason: "betas must be in [0, 1), got \(beta1), \(beta2)") }
    guard epsilon >= 0, weightDecay >= 0 else { throw SettingError(setting: "optimizer", reason: "epsilon and weight decay must be >= 0") }
    self.parameters = parameters
    self.learningRate = learningRate
    self.beta1 = beta1
    self.beta2 = beta2
    self.epsilon = epsilon
    self.weightDecay = weightDecay
    self.decoupledWeightDecay = decoupledWeightDecay
    firstMoment = [Float](repeating: 0, count: parameters.totalCount)
    secondMoment = [Float](repeating: 0, count: parameters.totalCount)
  }

  /// AdamW with PyTorch's default weight decay 1e-2.
  public static func adamW(parameters: ParameterStore, learningRate: Float = 1e-3, weightDecay: Float = 1e-2) throws -> Adam {
    try Adam(parameters: parameters, learningRate: learningRate, weightDecay: weightDecay, decoupledWeightDecay: true)
  }

  public var config: OptimizerConfig {
    OptimizerConfig(kind: decoupledWeightDecay ? "adamw" : "adam", learningRate: learningRate, weightDecay: weightDecay, beta1: beta1, beta2: beta2, epsilon: epsilon)
  }

  public var state: [String: [Float]] {
    get { ["exp_avg": firstMoment, "exp_avg_sq": secondMoment] }
    set {
      if let m = newValue["exp_avg"], m.count == firstMoment.count { firstMoment = m }
      if let v = newValue["exp_avg_sq"], v.count == secondMoment.count { secondMoment = v }
    }
  }

  public func step() {
    stepCount += 1
    let n = parameters.totalCount
    let (lr, b1, b2, eps, wd, decoupled) = (learningRate, beta1, beta2, epsilon, weightDecay, decoupledWeightDecay)
    // Bias corrections in double precision, as PyTorch computes them on Python floats.
    let correction1 = 1 - Foundation.pow(Double(b1), Double(stepCount))
    let correction2 = 1 - Foundation.pow(Double(b2), Double(stepCount))
    let stepSize = Float(Double(lr) / correction1)
    let correction2Root = Float(correction2.squareRoot())
    parameters.values.withUnsafeMutableBufferPointer { p in
      parameters.gradients.withUnsafeBufferPointer { grad in
        firstMoment.withUnsafeMutableBufferPointer { m in
          secondMoment.withUnsafeMutableBufferPointer { v in
            for i in 0..<n {
              var g = grad[i]
              if wd != 0 {
                if decoupled { p[i] *= 1 - lr * wd } else { g += wd * p[i] }
              }
              m[i] = b1 * m[i] + (1 - b1) * g
              v[i] = b2 * v[i] + (1 - b2) * g * g
              p[i] -= stepSize * m[i] / (v[i].squareRoot() / correction2Root + eps)
            }
          }
        }
      }
    }
  }
}

// MARK: - Learning-rate schedules

/// A per-epoch learning-rate schedule (epochs count from 0), PyTorch `StepLR` / `CosineAnnealingLR`.
///
/// Written in YAML/JSON as `constant`, `cosine` (annealed over the whole run), `{step: {step_size:
/// 3, gamma: 0.1}}` or `{cosine: {t_max: 10, eta_min: 0.0}}`.
public enum LearningRateSchedule: Codable, Equatable, Sendable {
  /// The base rate throughout.
  case constant
  /// base · gamma^(epoch / stepSize) (integer division).
  case step(stepSize: Int, gamma: Float)
  /// minimum + (base - minimum)·(1 + cos(π·epoch/totalEpochs))/2; totalEpochs 0 means "the
  /// run's epoch count" (see `resolved(epochs:)`).
  case cosine(totalEpochs: Int, minimum: Float)

  /// The rate for `epoch` given the base rate.
  public func rate(epoch: Int, base: Float) -> Float {
    switch self {
    case .constant:
      return base
    case let .step(stepSize, gamma):
      return base * Foundation.pow(gamma, Float(epoch / max(stepSize, 1)))
    case let .cosine(totalEpochs, minimum):
      let t = Double(min(epoch, max(totalEpochs, 1))) / Double(max(totalEpochs, 1))
      return minimum + (base - minimum) * Float((1 + Foundation.cos(Double.pi * t)) / 2)
    }
  }

  /// The schedule with a cosine length of 0 replaced by `epochs`.
  public func resolved(epochs: Int) -> LearningRateSchedule {
    if case let .cosine(0, minimum) = self { return .cosine(totalEpochs: epochs, minimum: minimum) }
    return self
  }

  public init(from decoder: Decoder) throws {
    if let name = try? decoder.singleValueContainer().decode(String.self) {
      switch name {
      case "constant": self = .constant
      case "cosine": self = .cosine(totalEpochs: 0, minimum: 0)
      default:
        throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
          debugDescription: "unknown schedule \(name) (known: constant, cosine, {step: {step_size, gamma}}, {cosine: {t_max, eta_min}})"))
      }
      return
    }
    let container = try decoder.container(keyedBy: SpecKey.self)
    guard container.allKeys.count == 1, let key = container.allKeys.first else {
      throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "a schedule is a name or a map with one key"))
    }
    let settings = try container.nestedContainer(keyedBy: SpecKey.self, forKey: key)
    switch key.stringValue {
    case "step":
      try rejectUnknownKeys(settings, allowed: ["step_size", "gamma"], in: "step schedule")
      let stepSize = try settings.decode(Int.self, forKey: SpecKey("step_size"))
      guard stepSize > 0 else {
        throw DecodingError.dataCorruptedError(forKey: SpecKey("step_size"), in: settings, debugDescription: "step_size must be positive")
      }
      self = .step(stepSize: stepSize, gamma: try settings.decodeIfPresent(Float.self, forKey: SpecKey("gamma")) ?? 0.1)
    case "cosine":
      try rejectUnknownKeys(settings, allowed: ["t_max", "eta_min"], in: "cosine schedule")
      self = .cosine(
        totalEpochs: try settings.decodeIfPresent(Int.self, forKey: SpecKey("t_max")) ?? 0,
        minimum: try settings.decodeIfPresent(Float.self, forKey: SpecKey("eta_min")) ?? 0)
    default:
      throw DecodingError.dataCorruptedError(forKey: key, in: container, debugDescription: "unknown schedule \(key.stringValue) (known: constant, step, cosine)")
    }
  }

  public func encode(to encoder: Encoder) throws {
    switch self {
    case .constant:
      var container = encoder.singleValueContainer()
      try container.encode("constant")
    case let .step(stepSize, gamma):
      var container = encoder.container(keyedBy: SpecKey.self)
      var settings = container.nestedContainer(keyedBy: SpecKey.self, forKey: SpecKey("step"))
      try settings.encode(stepSize, forKey: SpecKey("step_size"))
      try settings.encode(gamma, forKey: SpecKey("gamma"))
    case let .cosine(totalEpochs, minimum):
      var container = encoder.container(keyedBy: SpecKey.self)
      var settings = container.nestedContainer(keyedBy: SpecKey.self, forKey: SpecKey("cosine"))
      try settings.encode(totalEpochs, forKey: SpecKey("t_max"))
      try settings.encode(minimum, forKey: SpecKey("eta_min"))
    }
  }
}
