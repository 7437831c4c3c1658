import Foundation
import STNFiles
import STNTensor

/// The preprocessing evaluation must apply to match training: decode to `channels`, resize or
/// pad to `height`x`width`, scale pixels to [0, 1], then (x - mean[c]) / std[c].
public struct Preprocessing: Codable, Equatable, Sendable {
  public var channels: Int
  public var height: Int
  public var width: Int
  public var mean: [Float]
  public var std: [Float]

  public init(channels: Int, height: Int, width: Int, mean: [Float], std: [Float]) {
    self.channels = channels
    self.height = height
    self.width = width
    self.mean = mean
    self.std = std
  }
}

/// What a checkpoint records besides the weights.
public struct CheckpointInfo: Equatable, Sendable {
  public var classNames: [String]
  public var preprocessing: Preprocessing?
  /// Epochs completed.
  public var epoch: Int
  /// Optimizer steps taken.
  public var step: Int
  public var bestAccuracy: Double?
  public var seed: UInt64
  /// Free-form metadata for the trainer (stored as `extra.<key>`).
  public var extra: [String: String]

  public init(
    classNames: [String], preprocessing: Preprocessing? = nil, epoch: Int = 0, step: Int = 0, bestAccuracy: Double? = nil, seed: UInt64 = 0,
    extra: [String: String] = [:]
  ) {
    self.classNames = classNames
    self.preprocessing = preprocessing
    self.epoch = epoch
    self.step = step
    self.bestAccuracy = bestAccuracy
    self.seed = seed
    self.extra = extra
  }
}

/// Self-describing safetensors checkpoints, loadable by PyTorch.
///
/// Tensors: every parameter under its PyTorch `state_dict` name in PyTorch layout (see `Model`
/// for the names), batch-norm buffers (`running_mean`, `running_var` F32, `num_batches_tracked`
/// I64 scalar), and optimizer state under `optimizer.<buffer>.<name>` (e.g.
/// `optimizer.exp_avg.loc.0.weight`), which `load_state_dict(strict=False)` or a filter skips.
/// Metadata (strings; JSON where structured): `format`, `architecture` (the ModelSpec),
/// `input_shape`, `class_count`, `model_seed`, `class_names`, `preprocessing`, `epoch`, `step`, `best_accuracy`, `seed`,
/// `optimizer` (its config), `optimizer_step`, `dropout_calls`, and `extra.*`.
public enum Checkpoint {
  /// The `format` metadata value.
  public static let formatName = "swift-stn-checkpoint/1"
  /// Prefix of optimizer-state tensors.
  public static let optimizerPrefix = "optimizer."

  /// A loaded checkpoint: the rebuilt model (weights loaded) and everything else it recorded.
  public struct Loaded {
    public var model: Model
    public var info: CheckpointInfo
    public var optimizerConfig: OptimizerConfig?
    /// Optimizer state buffers, flat in the model's parameter layout.
    public var optimizerState: [String: [Float]]
    public var optimizerStep: Int

    /// A new optimizer of the recorded kind with its state restored, or nil if none was saved.
    public func makeOptimizer() throws -> Optimizer? {
      guard let optimizerConfig else { return nil }
      let optimizer = try STNNetwork.makeOptimizer(optimizerConfig, parameters: model.parameters)
      optimizer.state = optimizerState
      optimizer.stepCount = optimizerStep
      return optimizer
    }
  }

  // MARK: - Saving

  /// The model's state dict: parameters and batch-norm buffers by PyTorch name.
  public static func stateDict(_ model: Model) -> [String: SafeTensorsEntry] {
    var tensors: [String: SafeTensorsEntry] = [:]
    let store = model.parameters
    for (index, entry) in store.entries.enumerated() {
      tensors[entry.name] = SafeTensorsEntry(store.tensor(Parameter(index: index, offset: entry.offset, shape: entry.shape)))
    }
    for norm in model.batchNorms {
      tensors[norm.name + "running_mean"] = SafeTensorsEntry(norm.runningMean)
      tensors[norm.name + "running_var"] = SafeTensorsEntry(norm.runningVar)
      tensors[norm.name + "num_batches_tracked"] = SafeTensorsEntry(
        dtype: .I64, shape: [], bytes: withUnsafeBytes(of: norm.numBatchesTracked.littleEndian) { [UInt8]($0) })
    }
    return tensors
  }

  /// Writes model, optional optimizer state and `info` to `path` atomically.
  public static func save(model: Model, optimizer: Optimizer?, info: CheckpointInfo, to path: String) throws {
    var file = SafeTensorsFile(tensors: stateDict(model))
    if let optimizer {
      for (bufferName, buffer) in optimizer.state {
        precondition(buffer.count == model.parameters.totalCount, "optimizer buffer \(bufferName) does not match the parameters")
        for entry in model.parameters.entries {
          let values = Array(buffer[entry.offset..<(entry.offset + entry.count)])
          file.tensors[optimizerPrefix + bufferName + "." + entry.name] = SafeTensorsEntry(Tensor(shape: entry.shape, data: values))
        }
      }
      file.metadata["optimizer"] = jsonText(optimizer.config)
      file.metadata["optimizer_step"] = String(optimizer.stepCount)
    }
    file.metadata["format"] = formatName
    file.metadata["architecture"] = model.spec.jsonString()
    file.metadata["input_shape"] = jsonText(model.inputShape)
    file.metadata["class_count"] = String(model.classCount)
    file.metadata["model_seed"] = String(model.seed)
    file.metadata["class_names"] = jsonText(info.classNames)
    if let preprocessing = info.preprocessing { file.metadata["preprocessing"] = jsonText(preprocessing) }
    file.metadata["epoch"] = String(info.epoch)
    file.metadata["step"] = String(info.step)
    if let best = info.bestAccuracy { file.metadata["best_accuracy"] = String(best) }
    file.metadata["seed"] = String(info.seed)
    if !model.dropouts.isEmpty { file.metadata["dropout_calls"] = jsonText(model.dropouts.map(\.calls)) }
    for (key, value) in info.extra { file.metadata["extra." + key] = value }
    try file.write(to: path)
  }

  /// Writes only the model's state dict (no optimizer state, no metadata): exactly what
  /// `model.load_state_dict(safetensors.torch.load_file(path))` expects in PyTorch.
  public static func saveStateDict(model: Model, to path: String) throws {
    try SafeTensorsFile(tensors: stateDict(model)).write(to: path)
  }

  // MARK: - Loading

  /// Reads a checkpoint written by `save`: rebuilds the model from its metadata and loads
  /// every tensor, checking names and shapes.
  public static func load(_ path: String) throws -> Loaded {
    let file = try SafeTensorsFile(contentsOf: path)
    return try load(file, path: path)
  }

  /// `load` from an already-read file; `path` names it in errors.
  public static func load(_ file: SafeTensorsFile, path: String) throws -> Loaded {
    func fail(_ reason: String) -> FileError { FileError(path: path, reason: reason) }
    let meta = file.metadata
    guard let architecture = meta["architecture"] else {
      throw fail("no `architecture` metadata: not a swift-stn checkpoint (for a plain PyTorch state dict, import it with a model spec)")
    }
    if let format = meta["format"], format != formatName {
      throw fail("checkpoint format \(format) is not the supported \(formatName) (written by another swift-stn version?)")
    }
    let spec: ModelSpec
    do {
      spec = try ModelSpec.fromJSON(architecture, source: "architecture metadata")
    } catch {
      throw fail("\(error)")
    }
    guard let shapeText = meta["input_shape"], let inputShape = decodeJSON([Int].self, shapeText) else {
      throw fail("missing or malformed `input_shape` metadata")
    }
    let classNames = meta["class_names"].flatMap { decodeJSON([String].self, $0) } ?? []
    guard let classCount = meta["class_count"].flatMap({ Int($0) }) ?? (classNames.isEmpty ? nil : classNames.count) else {
      throw fail("missing `class_count` and `class_names` metadata")
    }
    let model: Model
    do {
      model = try Model(spec: spec, inputShape: inputShape, classCount: classCount, seed: meta["model_seed"].flatMap { UInt64($0) } ?? 0)
    } catch {
      throw fail("cannot build the recorded architecture: \(error)")
    }
    try loadWeights(into: model, from: file, path: path)
    if let calls = meta["dropout_calls"].flatMap({ decodeJSON([UInt64].self, $0) }), calls.count == model.dropouts.count {
      for (dropout, count) in zip(model.dropouts, calls) { dropout.calls = count }
    }
    var info = CheckpointInfo(classNames: classNames)
    info.preprocessing = meta["preprocessing"].flatMap { decodeJSON(Preprocessing.self, $0) }
    info.epoch = meta["epoch"].flatMap { Int($0) } ?? 0
    info.step = meta["step"].flatMap { Int($0) } ?? 0
    info.bestAccuracy = meta["best_accuracy"].flatMap { Double($0) }
    info.seed = meta["seed"].flatMap { UInt64($0) } ?? 0
    for (key, value) in meta where key.hasPrefix("extra.") { info.extra[String(key.dropFirst(6))] = value }

    var optimizerConfig: OptimizerConfig?
    var optimizerState: [String: [Float]] = [:]
    if let configText = meta["optimizer"] {
      guard let config = decodeJSON(OptimizerConfig.self, configText) else { throw fail("malformed `optimizer` metadata") }
      optimizerConfig = config
      var buffers: [String: [Float]] = [:]
      var covered: [String: Set<String>] = [:]
      for (name, entry) in file.tensors where name.hasPrefix(optimizerPrefix) {
        let rest = name.dropFirst(optimizerPrefix.count)
        guard let dot = rest.firstIndex(of: ".") else { throw fail("malformed optimizer tensor name \(name)") }
        let bufferName = String(rest[..<dot]), parameterName = String(rest[rest.index(after: dot)...])
        guard let parameter = model.parameters.parameter(named: parameterName) else {
          throw fail("optimizer tensor \(name) names no parameter of the model")
        }
        guard entry.shape == parameter.shape else {
          throw fail("optimizer tensor \(name) has shape \(entry.shape), the parameter has \(parameter.shape)")
        }
        var buffer = buffers.removeValue(forKey: bufferName) ?? [Float](repeating: 0, count: model.parameters.totalCount)
        let values = entry.floats
        for i in 0..<values.count { buffer[parameter.offset + i] = values[i] }
        buffers[bufferName] = buffer
        covered[bufferName, default: []].insert(parameterName)
      }
      for (bufferName, names) in covered where names.count != model.parameters.entries.count {
        let missing = model.parameters.entries.map(\.name).filter { !names.contains($0) }
        throw fail("optimizer state \(bufferName) lacks tensors for: \(missing.joined(separator: ", "))")
      }
      optimizerState = buffers
    }
    let optimizerStep = meta["optimizer_step"].flatMap { Int($0) } ?? 0
    return Loaded(model: model, info: info, optimizerConfig: optimizerConfig, optimizerState: optimizerState, optimizerStep: optimizerStep)
  }

  /// Copies parameters and batch-norm buffers from `file` into `model`, strictly: every
  /// parameter and buffer must be present with its exact shape, and no other tensor may be
  /// there except optimizer state. `path` names the file in errors.
  public static func loadWeights(into model: Model, from file: SafeTensorsFile, path: String) throws {
    func fail(_ reason: String) -> FileError { FileError(path: path, reason: reason) }
    var expected = Set<String>()
    var missing: [String] = []
    for (index, entry) in model.parameters.entries.enumerated() {
      expected.insert(entry.name)
      guard let tensor = file.tensors[entry.name] else { missing.append(entry.name); continue }
      guard tensor.shape == entry.shape else {
        throw fail("tensor \(entry.name) has shape \(tensor.shape), the model expects \(entry.shape)")
      }
      try checkFloat(tensor, entry.name, fail)
      model.parameters.set(Parameter(index: index, offset: entry.offset, shape: entry.shape), to: tensor.tensor)
    }
    for norm in model.batchNorms {
      for (suffix, shape) in [("running_mean", [norm.channels]), ("running_var", [norm.channels]), ("num_batches_tracked", [])] {
        let name = norm.name + suffix
        expected.insert(name)
        guard let tensor = file.tensors[name] else { missing.append(name); continue }
        guard tensor.shape == shape || (suffix == "num_batches_tracked" && tensor.shape == [1]) else {
          throw fail("tensor \(name) has shape \(tensor.shape), the model expects \(shape)")
        }
        switch suffix {
        case "running_mean": try checkFloat(tensor, name, fail); norm.runningMean = tensor.tensor
        case "running_var": try checkFloat(tensor, name, fail); norm.runningVar = tensor.tensor
        default:
          // Read I64 exactly (a float round trip would round counts above 2^24).
          if tensor.dtype == .I64, tensor.bytes.count == 8 {
            norm.numBatchesTracked = tensor.bytes.withUnsafeBytes { Int64(littleEndian: $0.loadUnaligned(as: Int64.self)) }
          } else {
            norm.numBatchesTracked = Int64(tensor.floats.first ?? 0)
          }
        }
      }
    }
    guard missing.isEmpty else {
      throw fail("missing tensors for this architecture: \(missing.joined(separator: ", "))")
    }
    let unexpected = file.tensors.keys.filter { !expected.contains($0) && !$0.hasPrefix(optimizerPrefix) }.sorted()
    guard unexpected.isEmpty else {
      throw fail("tensors the architecture does not have: \(unexpected.joined(separator: ", ")) (model tensors: \(expected.sorted().joined(separator: ", ")))")
    }
  }

  /// Builds a model from `spec` and loads a plain PyTorch state dict saved with
  /// `safetensors.torch.save_file` (no metadata needed). With `classCount` nil it is read from
  /// the last layer's weight.
  public static func importPyTorch(_ path: String, spec: ModelSpec, inputShape: [Int], classCount: Int? = nil) throws -> Model {
    let file = try SafeTensorsFile(contentsOf: path)
    func fail(_ reason: String) -> FileError { FileError(path: path, reason: reason) }
    var count = classCount
    if count == nil {
      do {
        let probe = try Model(spec: spec, inputShape: inputShape, classCount: 1)
        guard let last = probe.parameters.entries.last(where: { $0.name.hasSuffix("weight") && $0.shape.count == 2 }) else {
          throw fail("cannot infer the class count: the model has no final linear layer")
        }
        guard let tensor = file.tensors[last.name], tensor.shape.count == 2 else { throw fail("no 2-D tensor \(last.name) to infer the class count from") }
        count = tensor.shape[0]
      } catch let error as FileError {
        throw error
      } catch {
        throw fail("cannot build the model: \(error)")
      }
    }
    let model: Model
    do {
      model = try Model(spec: spec, inputShape: inputShape, classCount: count ?? 1)
    } catch {
      throw fail("cannot build the model: \(error)")
    }
    try loadWeights(into: model, from: file, path: path)
    return model
  }

  // MARK: - Helpers

  private static func checkFloat(_ entry: SafeTensorsEntry, _ name: String, _ fail: (String) -> FileError) throws {
    switch entry.dtype {
    case .F32, .F64, .F16, .BF16: return
    default: throw fail("tensor \(name) is \(entry.dtype.rawValue), expected a floating-point type")
    }
  }

  static func jsonText<T: Encodable>(_ value: T) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    guard let data = try? encoder.encode(value), let text = String(data: data, encoding: .utf8) else { return "null" }
    return text
  }

  static func decodeJSON<T: Decodable>(_ type: T.Type, _ text: String) -> T? {
    try? JSONDecoder().decode(type, from: Data(text.utf8))
  }
}
