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
/// - affine: theta;
/// - projective, TPS: the map the transformer's grid samples with (its homography or spline,
///   align_corners false), in the predictor input's pixels (`LearnedTransforms.maps`);
///
/// which the pipeline composes with the neighbouring fixed stages into the sample's one resample.
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
    family == .affine ? .affine(try predictThetas(images)) : .maps(predictMaps(images))
  }

  /// Projective and TPS transformers: for images (N,C,H,W), the N maps their grids sample with,
  /// output pixel -> input pixel (the model's input frame, align_corners false); nil for a
  /// prediction with non-finite numbers. (An affine transformer's are its thetas' maps.)
  public func predictMaps(_ images: Tensor) -> [PixelMap?] {
    let parameters = thetaTensor(images)
    let n = images.shape.first ?? 0, perImage = n > 0 ? parameters.count / n : 0
    return (0..<n).map { i in
      let p = parameters.data[(i * perImage)..<((i + 1) * perImage)].map(Double.init)
      let normalized: PixelMap
      switch transformer.transform {
      case .affine:
        normalized = .affine(STNWarp.AffineTransform(a: p[0], b: p[1], c: p[2], d: p[3], e: p[4], f: p[5]))
      case .projective:
        guard let h = Homography(p) else { return nil }
        normalized = .homography(h)
      case .thinPlateSpline:
        let targets = (0..<(p.count / 2)).map { SIMD2(p[2 * $0], p[2 * $0 + 1]) }
        guard let basis = transformer.splineBasis, let spline = ThinPlateSpline(controlPoints: basis.controlPoints, targets: targets) else { return nil }
        normalized = .thinPlateSpline(spline)
      }
      return PixelMap.fromNormalized(normalized, inputWidth: inputWidth, inputHeight: inputHeight, outputWidth: inputWidth,
                                     outputHeight: inputHeight, alignCorners: false)
    }
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
