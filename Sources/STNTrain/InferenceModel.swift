import Foundation
import STNFiles
import STNImageIO
import STNNetwork
import STNPipeline
import STNTensor

/// A trained model ready for evaluation or export: the network, its class names, and the
/// evaluation pipeline (the training pipeline's stages, drawn with the fixed evaluation key).
public struct InferenceModel {
  public var model: Model
  public var classNames: [String]
  public var config: PipelineConfig
  public var preprocessing: Preprocessing?
  /// Epochs the checkpoint was trained for (0 for an imported state dict).
  public var epoch: Int

  /// Loads a swift-stn checkpoint, or a plain (e.g. PyTorch-saved) state dict together with a
  /// pipeline file declaring its `model:`. A state dict records no class names: they are the
  /// pipeline's (`source: {classes: ...}`, output k = its k-th name), or else `data`'s.
  /// `pipeline` overrides the checkpoint's own pipeline.
  public static func load(checkpoint: String, pipeline: String?, data: (any ImageDataset)?) throws -> InferenceModel {
    let file = try SafeTensorsFile(contentsOf: checkpoint)
    var override: PipelineConfig?
    if let pipeline { override = try PipelineConfig.load(path: pipeline) }
    if file.metadata["architecture"] != nil {
      let loaded = try Checkpoint.load(file, path: checkpoint)
      var config: PipelineConfig
      if let override {
        config = override
      } else if let yaml = loaded.info.extra["pipeline"], !yaml.isEmpty {
        config = try PipelineConfig.parse(yaml: yaml, path: checkpoint + " (recorded pipeline)")
      } else {
        config = fallbackConfig(loaded.info.preprocessing, shape: loaded.model.inputShape, path: checkpoint)
      }
      let classNames = loaded.info.classNames.isEmpty ? (0..<loaded.model.classCount).map(String.init) : loaded.info.classNames
      return InferenceModel(model: loaded.model, classNames: classNames, config: config, preprocessing: loaded.info.preprocessing, epoch: loaded.info.epoch)
    }
    // A bare state dict: architecture and preprocessing come from the pipeline file.
    guard let config = override, let node = config.model else {
      throw FileError(path: checkpoint, reason: "a state dict without swift-stn metadata; name the pipeline file that declares its model with --pipeline")
    }
    guard let data else { throw FileError(path: checkpoint, reason: "class names unknown (no data given)") }
    let classNames = config.classNames ?? data.classes
    let spec = try TrainingSession.modelSpec(from: node)
    let shape = try TrainingSession.inputShape(config: config, dataset: data)
    let model = try Model(spec: spec, inputShape: shape, classCount: classNames.count, seed: 0)
    try Checkpoint.loadWeights(into: model, from: file, path: checkpoint)
    return InferenceModel(model: model, classNames: classNames, config: config,
      preprocessing: TrainingSession.preprocessing(config: config, shape: shape), epoch: 0)
  }

  /// `checkpoint` ready to run on the data at `data` (`split`: its IDX split as
  /// `TrainingSession.openData` takes it): loaded (with
  /// `pipeline` overriding its own), the data named by its classes (`naming`), random stages
  /// dropped unless `random` (`removeRandomStages`), and the input size checked (`checkInput`).
  /// What `stn eval` and `stn export CHECKPOINT` open.
  public static func open(checkpoint: String, data: String, split: String?, pipeline: String?, random: Bool) throws
    -> (inference: InferenceModel, dataset: any ImageDataset)
  {
    let opened = try TrainingSession.openData(data, split: split)
    var inference = try InferenceModel.load(checkpoint: checkpoint, pipeline: pipeline, data: opened)
    let dataset = try inference.naming(opened)
    if !random { inference.removeRandomStages() }
    try inference.checkInput(dataset: dataset, data: data, pipeline: pipeline, checkpoint: checkpoint)
    return (inference, dataset)
  }

  /// A pipeline that only resizes to the model's input and normalizes (checkpoints without a
  /// recorded pipeline).
  static func fallbackConfig(_ preprocessing: Preprocessing?, shape: [Int], path: String) -> PipelineConfig {
    var config = PipelineConfig(path: path)
    config.channels = shape[0]
    config.stages = [StageEntry(stage: .resize(.size(width: shape[2], height: shape[1])), name: "resize", line: 0)]
    if let preprocessing {
      config.stages.append(StageEntry(stage: .normalize(mean: preprocessing.mean.map(Double.init), std: preprocessing.std.map(Double.init)), name: "normalize", line: 0))
    }
    return config
  }

  /// Keeps only what is deterministic: `random_affine`, `random_perspective` and
  /// `random_elastic` stages are dropped and a `pad` at a
  /// random position pads centred (same size). Evaluation does this by default, torchvision's
  /// train/eval convention.
  public mutating func removeRandomStages() {
    config.stages = config.stages.compactMap { entry in
      var entry = entry
      switch entry.stage {
      case .randomAffine, .randomPerspective, .randomElastic: return nil
      case .pad(.canvas(let width, let height, .random)): entry.stage = .pad(.canvas(width: width, height: height, position: .center))
      default: break
      }
      return entry
    }
  }

  /// IDX data with the checkpoint's class names (its labels are the checkpoint's label
  /// numbers); other data as it is (image-folder classes are matched by name).
  public func naming(_ dataset: any ImageDataset) throws -> any ImageDataset {
    guard var idx = dataset as? IDXDataset, idx.classes != classNames, idx.classes.count <= classNames.count else { return dataset }
    try idx.name(classes: classNames)
    return idx
  }

  /// Before any work: the pipeline turns `dataset`'s samples into the model's input size (a
  /// mismatch is one error naming the pipeline and both sizes, not a trap in the network).
  public func checkInput(dataset: any ImageDataset, data: String, pipeline: String?, checkpoint: String) throws {
    let produced = try TrainingSession.inputShape(config: config, dataset: dataset)
    guard produced == model.inputShape else {
      let what = pipeline.map { "--pipeline \($0)" } ?? "the checkpoint's recorded pipeline"
      throw TrainSessionError("\(what) produces \(produced.map(String.init).joined(separator: "x")) (C x H x W) from \(data), but the model of \(checkpoint) expects \(model.inputShape.map(String.init).joined(separator: "x")); add or fix a resize/pad stage")
    }
  }

  /// The `TrainableClassifier` view used by the evaluator (no optimizer).
  func classifier(threads: Int) -> TrainableClassifier { InferenceClassifier(model: model, threads: threads) }
}

/// Evaluation-only wrapper of a `Model`.
final class InferenceClassifier: TrainableClassifier {
  let model: Model
  let threads: Int
  init(model: Model, threads: Int) {
    self.model = model
    self.threads = threads
  }
  func trainStep(images: Tensor, labels: [Int], learningRate: Double, step: Int) throws -> StepResult {
    throw TrainSessionError("this model is loaded for evaluation only")
  }
  func logits(images: Tensor) throws -> Tensor { model.predict(images, threads: threads) }
  func transformerView(images: Tensor) throws -> TransformerView? {
    guard let transformer = model.spatialTransformers.first else { return nil }
    model.training = false
    let graph = Graph(parameters: model.parameters, training: false, threads: threads)
    _ = model.forward(graph, images)
    guard let theta = graph.taps[transformer.name + ".theta"], let output = graph.taps[transformer.name + ".output"] else { return nil }
    return TransformerView(theta: graph.value(theta), output: graph.value(output))
  }
  func saveCheckpoint(to path: String, metadata: [String: String]) throws { throw TrainSessionError("evaluation only") }
  func loadCheckpoint(from path: String) throws -> [String: String] { throw TrainSessionError("evaluation only") }
  var summary: String { model.summary() }
  var parametersAreFinite: Bool { model.parameters.valuesAreFinite }
}
