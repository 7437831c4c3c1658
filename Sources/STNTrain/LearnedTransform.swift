import Foundation
import STNFiles
import STNNetwork
import STNPipeline
import STNTensor
import STNWarp

/// The pipeline's learned stage (`learned_transform`, alias `learned_affine`): a trained spatial
/// transformer's localization network predicts each image's transform for a whole batch in one
/// forward pass.
///
/// - affine: theta, which the pipeline composes with the neighbouring fixed stages into one
///   resample;
/// - projective, TPS: the transformer's own sampler (`SpatialTransformer.sample`, the code its
///   forward pass runs: bilinear, zeros, align_corners false) resamples the pixels, and the
///   stages after the learned stage resample that result (`LearnedTransforms.resampled`).
///
/// The checkpoint's model must start with a `spatial_transformer` (it sees the image itself).
/// Errors are `FileError`s naming the checkpoint.
public final class CheckpointThetaPredictor: ThetaPredictor {
  public let checkpoint: String
  public let model: Model
  public let transformer: SpatialTransformer
  public let threads: Int
  public let inputChannels: Int
  public let inputWidth: Int
  public let inputHeight: Int
  public let inputScale: [Float]
  public let inputBias: [Float]

  /// Loads `path` (a swift-stn checkpoint).
  public convenience init(checkpoint path: String, threads: Int = 1) throws {
    let loaded = try Checkpoint.load(path)
    try self.init(model: loaded.model, preprocessing: loaded.info.preprocessing, checkpoint: path, threads: threads)
  }

  /// Wraps an in-memory model; `preprocessing` gives the normalization (none: x/255).
  public init(model: Model, preprocessing: Preprocessing?, checkpoint: String, threads: Int = 1) throws {
    guard let first = model.layers.first as? SpatialTransformer else {
      throw FileError(path: checkpoint, reason: "its model does not start with a spatial_transformer, so it predicts no transform of the image")
    }
    self.checkpoint = checkpoint
    self.model = model
    transformer = first
    self.threads = max(1, threads)
    inputChannels = model.inputShape[0]
    inputHeight = model.inputShape[1]
    inputWidth = model.inputShape[2]
    let mean = preprocessing?.mean ?? [0], std = preprocessing?.std ?? [1]
    inputScale = (0..<inputChannels).map { c in 1 / (255 * std[min(c, std.count - 1)]) }
    inputBias = (0..<inputChannels).map { c in -mean[min(c, mean.count - 1)] / std[min(c, std.count - 1)] }
  }

  /// The family of the transformer's map (affine, projective, tps).
  public var family: TransformFamily { transformer.transform.family }

  /// The transform's parameters for images (N,C,H,W), evaluation mode: theta (N,2,3), the
  /// homography (N,3,3) or the control points' source positions (N,K,2).
  public func thetaTensor(_ images: Tensor) -> Tensor {
    let graph = Graph(parameters: model.parameters, training: false, threads: threads)
    return graph.value(transformer.theta(graph.input(images), in: graph))
  }

  /// N affine thetas; only an affine transformer has them.
  public func predictThetas(_ images: Tensor) throws -> [STNWarp.AffineTransform] {
    guard family == .affine else {
      throw FileError(path: checkpoint, reason: "its spatial transformer is transform: \(family.rawValue), which predicts no affine theta")
    }
    let theta = thetaTensor(images)
    var transforms: [STNWarp.AffineTransform] = []
    for i in 0..<(theta.count / 6) {
      let t = (0..<6).map { Double(theta.data[6 * i + $0]) }
      transforms.append(STNWarp.AffineTransform(a: t[0], b: t[1], c: t[2], d: t[3], e: t[4], f: t[5]))
    }
    return transforms
  }

  public func predictTransforms(_ images: Tensor) throws -> LearnedTransforms {
    family == .affine ? .affine(try predictThetas(images)) : .resampled(resampledPixels(images))
  }

  /// images (N,C,H,W, normalized as the model's input) -> their pixels (N,C,H,W, 0...255)
  /// sampled by the transformer: the parameters come from the localization network on
  /// `images`, the sampler reads the pixels (image - bias) / scale.
  /// NOTE: sampling pixels rather than the normalized input makes "zeros" padding black, as
  /// in the affine route (the network's own output pads with the normalized 0, i.e. the mean);
  /// inside the image the two differ only by the normalization, which is affine per channel.
  public func resampledPixels(_ images: Tensor) -> Tensor {
    let graph = Graph(parameters: model.parameters, training: false, threads: threads)
    let theta = transformer.theta(graph.input(images), in: graph)
    var pixels = images
    let plane = inputWidth * inputHeight
    // One (sample, channel) plane at a time: its channel's bias and scale are chosen once.
    for start in stride(from: 0, to: pixels.count, by: plane) {
      let c = (start / plane) % inputChannels
      let bias = inputBias[c], scale = inputScale[c]
      for i in start..<min(start + plane, pixels.count) { pixels.data[i] = (images.data[i] - bias) / scale }
    }
    return graph.value(transformer.sample(graph.input(pixels), theta: theta, in: graph))
  }

  /// The predictor a pipeline's learned stage needs, or nil when it has none.
  /// (One checkpoint per pipeline: the loader takes a single predictor.)
  public static func forPipeline(_ config: PipelineConfig, threads: Int = 1) throws -> CheckpointThetaPredictor? {
    let paths = config.stages.compactMap { entry -> String? in
      if case .learnedAffine(let checkpoint) = entry.stage { return checkpoint }
      return nil
    }
    guard let first = paths.first else { return nil }
    guard Set(paths).count == 1 else {
      throw PipelineError(file: config.path, line: 0, reason: "learned stages name different checkpoints; one pipeline can use one")
    }
    return try CheckpointThetaPredictor(checkpoint: first, threads: threads)
  }
}
