import Foundation
import STNDistributed
import STNFiles
import STNNetwork
import STNTensor

/// The real `TrainableClassifier`: an STNNetwork `Model` with its optimizer, trained on one
/// recorded graph per batch (or, data-parallel, one part of each batch per rank), saved as
/// self-describing safetensors checkpoints.
public final class NetworkClassifier: DataParallelClassifier {
  public let model: Model
  public let optimizer: Optimizer
  /// Threads for the kernels (conv2d, grid_sample); OpenBLAS follows the `RuntimePolicy`.
  public let threads: Int
  /// Seed for dropout masks (keyed by step so resumed runs repeat them).
  public let seed: UInt64
  /// Class names stored in checkpoints (index = label).
  public var classNames: [String]
  /// Evaluation preprocessing stored in checkpoints.
  public var preprocessing: Preprocessing?
  private let graph: Graph

  public init(model: Model, optimizer: Optimizer, classNames: [String], preprocessing: Preprocessing?, threads: Int, seed: UInt64) {
    self.model = model
    self.classNames = classNames
    self.preprocessing = preprocessing
    self.optimizer = optimizer
    self.threads = max(1, threads)
    self.seed = seed
    graph = Graph(parameters: model.parameters, training: true, threads: max(1, threads))
  }

  public func trainStep(images: Tensor, labels: [Int], learningRate: Double, step: Int) throws -> StepResult {
    let result = try computeGradients(images: images, labels: labels, step: step, firstSample: 0)
    // NOTE: a non-finite loss must not reach the weights: the trainer stops and the last
    // checkpoint stays the last good state.
    guard result.loss.isFinite else { return result }
    applyGradients(learningRate: learningRate)
    return result
  }

  public func logits(images: Tensor) throws -> Tensor {
    model.predict(images, threads: threads)
  }

  public func transformerView(images: Tensor) throws -> TransformerView? {
    guard let transformer = model.spatialTransformers.first else { return nil }
    let wasTraining = model.training
    model.training = false
    defer { model.training = wasTraining }
    let probe = Graph(parameters: model.parameters, training: false, threads: threads)
    _ = model.forward(probe, images)
    guard let theta = probe.taps[transformer.name + ".theta"], let output = probe.taps[transformer.name + ".output"] else {
      return nil
    }
    return TransformerView(theta: probe.value(theta), output: probe.value(output))
  }

  public var summary: String { model.summary() }

  public var parametersAreFinite: Bool { model.parameters.valuesAreFinite }

  // MARK: - Data-parallel steps

  public func computeGradients(images: Tensor, labels: [Int], step: Int, firstSample: Int) throws -> StepResult {
    optimizer.zeroGradients()
    guard !labels.isEmpty else { return StepResult(loss: 0, logits: Tensor(shape: [0, model.classCount])) }
    // Dropout masks are keyed by the pass count: pin it to the global step so a resumed run
    // draws the masks the uninterrupted run would have (and a rank's slice those of its samples).
    for dropout in model.dropouts {
      dropout.calls = UInt64(step)
      dropout.firstSample = firstSample
    }
    model.training = true
    graph.reset()
    graph.training = true
    let logits = model.forward(graph, images)
    let loss = graph.softmaxCrossEntropy(logits, targets: labels)
    let lossValue = Double(graph.value(loss).data[0])
    let logitValues = graph.value(logits)
    // A non-finite loss is not propagated: its gradients stay zero (the trainer stops).
    if lossValue.isFinite { graph.backward(loss) }
    return StepResult(loss: lossValue, logits: logitValues)
  }

  public func withGradients<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
    try model.parameters.gradients.withUnsafeMutableBufferPointer { try body($0) }
  }

  public func applyGradients(learningRate: Double) {
    optimizer.learningRate = Float(learningRate)
    optimizer.step()
  }

  public var parameterChecksum: UInt64 { parameterBitsChecksum(model.parameters.values) }

  public func synchronize(from root: Int, on communicator: any Communicator) throws {
    try communicator.broadcast(&model.parameters.values, root: root)
    // The optimizer's buffers by name, in one fixed order (every rank has the same names).
    var state = optimizer.state
    for name in state.keys.sorted() {
      guard var buffer = state[name] else { continue }
      try communicator.broadcast(&buffer, root: root)
      state[name] = buffer
    }
    optimizer.state = state
    var counters = [Int64(optimizer.stepCount)] + model.batchNorms.map(\.numBatchesTracked)
    try communicator.broadcast(&counters, root: root)
    optimizer.stepCount = Int(counters[0])
    for (layer, tracked) in zip(model.batchNorms, counters.dropFirst()) {
      layer.numBatchesTracked = tracked
      try communicator.broadcast(&layer.runningMean.data, root: root)
      try communicator.broadcast(&layer.runningVar.data, root: root)
    }
  }

  public func averageRunningStatistics(on communicator: any Communicator) throws {
    let scale = 1 / Float(communicator.size)
    for layer in model.batchNorms {
      var statistics = layer.runningMean.data + layer.runningVar.data
      try communicator.allreduce(&statistics, .sum)
      let channels = layer.runningMean.count
      for c in 0..<channels {
        layer.runningMean.data[c] = statistics[c] * scale
        layer.runningVar.data[c] = statistics[channels + c] * scale
      }
    }
  }

  // MARK: - Checkpoints

  public func saveCheckpoint(to path: String, metadata: [String: String]) throws {
    var info = CheckpointInfo(classNames: classNames, preprocessing: preprocessing, seed: seed, extra: metadata)
    info.epoch = metadata[Trainer.epochKey].flatMap { Int($0) } ?? 0
    info.step = metadata[Trainer.stepKey].flatMap { Int($0) } ?? optimizer.stepCount
    info.bestAccuracy = metadata[Trainer.bestKey].flatMap { Double($0) }
    try Checkpoint.save(model: model, optimizer: optimizer, info: info, to: path)
  }

  public func loadCheckpoint(from path: String) throws -> [String: String] {
    let loaded = try Checkpoint.load(path)
    guard loaded.model.spec == model.spec, loaded.model.inputShape == model.inputShape, loaded.model.classCount == model.classCount
    else {
      throw FileError(path: path, reason: "its architecture differs from the pipeline's model (was the pipeline file edited?)")
    }
    model.parameters.values = loaded.model.parameters.values
    for (mine, theirs) in zip(model.batchNorms, loaded.model.batchNorms) {
      mine.runningMean = theirs.runningMean
      mine.runningVar = theirs.runningVar
      mine.numBatchesTracked = theirs.numBatchesTracked
    }
    guard let config = loaded.optimizerConfig, config.kind == optimizer.config.kind else {
      throw FileError(path: path, reason: "it holds no \(optimizer.config.kind) optimizer state to resume from")
    }
    optimizer.state = loaded.optimizerState
    optimizer.stepCount = loaded.optimizerStep
    return loaded.info.extra
  }
}
