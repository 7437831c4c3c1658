import Foundation
import STNNetwork
import STNPipeline
import STNTensor
import STNWarp

/// Why a checkpoint cannot drive a `learned_affine` stage.
public struct LearnedAffineError: Error, CustomStringConvertible, Equatable, Sendable {
  public var path: String
  public var reason: String
  public var description: String { "\(path): \(reason)" }
}

/// The pipeline's `learned_affine` hook: a trained spatial transformer's localization network
/// predicts theta for a whole batch in one forward pass; the pipeline composes it with the
/// neighbouring fixed stages into one resample.
///
/// The checkpoint's model must start with a `spatial_transformer` (it sees the image itself).
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
      throw LearnedAffineError(path: checkpoint, reason: "its model does not start with a spatial_transformer, so it predicts no transform of the image")
    }
    // NOTE: a projective or TPS transformer predicts no affine theta; reading its parameters as
    // one would warp with the wrong map, so it is refused here, once, before any pixel.
    guard first.transform.family == .affine else {
      throw LearnedAffineError(path: checkpoint, reason: "its spatial transformer is transform: \(first.transform.family.rawValue); learned stages for projective/tps come with the pipeline's perspective and elastic stages (issue 12, part B), and learned_affine takes an affine transformer")
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

  /// theta (N,2,3) for images (N,C,H,W), evaluation mode.
  public func thetaTensor(_ images: Tensor) -> Tensor {
    let graph = Graph(parameters: model.parameters, training: false, threads: threads)
    return graph.value(transformer.theta(graph.input(images), in: graph))
  }

  public func predictThetas(_ images: Tensor) throws -> [STNWarp.AffineTransform] {
    let theta = thetaTensor(images)
    var transforms: [STNWarp.AffineTransform] = []
    for i in 0..<(theta.count / 6) {
      let t = (0..<6).map { Double(theta.data[6 * i + $0]) }
      transforms.append(STNWarp.AffineTransform(a: t[0], b: t[1], c: t[2], d: t[3], e: t[4], f: t[5]))
    }
    return transforms
  }

  /// The predictor a pipeline's `learned_affine` stage needs, or nil when it has none.
  /// (One checkpoint per pipeline: the loader takes a single predictor.)
  public static func forPipeline(_ config: PipelineConfig, threads: Int = 1) throws -> CheckpointThetaPredictor? {
    let paths = config.stages.compactMap { entry -> String? in
      if case .learnedAffine(let checkpoint) = entry.stage { return checkpoint }
      return nil
    }
    guard let first = paths.first else { return nil }
    guard Set(paths).count == 1 else {
      throw PipelineError(file: config.path, line: 0, reason: "learned_affine stages name different checkpoints; one pipeline can use one")
    }
    return try CheckpointThetaPredictor(checkpoint: first, threads: threads)
  }
}
