import Foundation
import STNFiles
import STNNetwork
import STNTensor

/// The real `TrainableClassifier`: an STNNetwork `Model` with its optimizer, trained on one
/// recorded graph per batch, saved as self-describing safetensors checkpoints.
public final class NetworkClassifier: TrainableClassifier {
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
    // Dropout masks are keyed by the pass count: pin it to the global step so a resumed run
    // draws the masks the uninterrupted run would have.
    for dropout in model.dropouts { dropout.calls = UInt64(step) }
    model.training = true
    graph.reset()
    graph.training = true
    optimizer.zeroGradients()
    let logits = model.forward(graph, images)
    let loss = graph.softmaxCrossEntropy(logits, targets: labels)
    let lossValue = Double(graph.value(loss).data[0])
    let logitValues = graph.value(logits)
    // NOTE: a non-finite loss must not reach the weights: the trainer stops and the last
    // checkpoint stays the last good state.
    guard lossValue.isFinite else { return StepResult(loss: lossValue, logits: logitValues) }
    graph.backward(loss)
    optimizer.learningRate = Float(learningRate)
    optimizer.step()
    return StepResult(loss: lossValue, logits: logitValues)
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
      throw CheckpointError(path: path, reason: "its architecture differs from the pipeline's model (was the pipeline file edited?)")
    }
    model.parameters.values = loaded.model.parameters.values
    for (mine, theirs) in zip(model.batchNorms, loaded.model.batchNorms) {
      mine.runningMean = theirs.runningMean
      mine.runningVar = theirs.runningVar
      mine.numBatchesTracked = theirs.numBatchesTracked
    }
    guard let config = loaded.optimizerConfig, config.kind == optimizer.config.kind else {
      throw CheckpointError(path: path, reason: "it holds no \(optimizer.config.kind) optimizer state to resume from")
    }
    optimizer.state = loaded.optimizerState
    optimizer.stepCount = loaded.optimizerStep
    return loaded.info.extra
  }
}
