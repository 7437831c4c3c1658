import STNFiles
import STNImageIO
import STNTensor
import STNWarp

// MARK: - Learned transforms

/// Predicts each image's transform from a batch, for `learned_transform`/`learned_affine` stages.
///
/// Implemented by the trainer module (a spatial transformer's localization network);
/// STNPipeline only knows this protocol, so it never depends on network code. The `input…`
/// properties are read from the loader's worker threads (keep them immutable);
/// `predictThetas` is called on the consumer's thread, once per batch.
public protocol ThetaPredictor: AnyObject {
  /// Checkpoint path this predictor was loaded from (matched against the stage's `checkpoint`).
  var checkpoint: String { get }
  /// Input size the model expects; the stages before `learned_affine` must produce it.
  var inputChannels: Int { get }
  var inputWidth: Int { get }
  var inputHeight: Int { get }
  /// Per-channel `pixel * scale + bias` the model was trained with (pixel in 0...255).
  var inputScale: [Float] { get }
  var inputBias: [Float] { get }
  /// images (N,C,H,W) -> N thetas in PyTorch's `affine_grid` convention
  /// (output normalized coordinates -> input normalized coordinates, align_corners=false).
  func predictThetas(_ images: Tensor) throws -> [AffineTransform]
  /// What the stage applies to images (N,C,H,W): thetas, or (projective, TPS) pixel maps.
  /// Default (`LearnedStep.swift`): `.affine(predictThetas(images))`.
  func predictTransforms(_ images: Tensor) throws -> LearnedTransforms
}

// MARK: - Prepared samples

/// A decoded sample with the single transform that produces its output.
public struct PreparedSample: Sendable {
  /// Dataset index and label.
  public var index: Int
  public var label: Int
  /// The pixels the final resample reads: the decoded image, possibly reduced in the DCT and/or
  /// area-prefiltered.
  public var image: Image
  /// `image` pixel -> output pixel (when `map` is nil).
  public var transform: AffineTransform
  /// For chains with perspective or elastic stages: output pixel -> `image` pixel, what the one
  /// resample samples with (then `transform` is unused). Nil for all-affine chains.
  public var map: PixelMap?
  public var outputWidth: Int
  public var outputHeight: Int
  /// The JPEG DCT reduction used (1, 2, 4 or 8) and whether the box prefilter ran.
  public var decodeDenominator: Int
  public var prefiltered: Bool
  /// For chains of `resize`/`center_crop`/`pad` only: the separable resample that renders them
  /// exactly (torchvision `Resize`, hard-edged crops and pads) instead of the bilinear warp.
  public var resampleAxes: (x: SeparableResample.Axis, y: SeparableResample.Axis)?
  /// Size of the image as stored in the file.
  public var sourceWidth: Int
  public var sourceHeight: Int
  /// For pipelines with `learned_affine`: state needed to finish the plan once theta is known.
  var pending: PendingLearned?
}

/// Plan state carried across a `learned_affine` stage.
struct PendingLearned: Sendable {
  /// Decoded pixel -> predictor-input pixel (the stages before `learned_affine`), when they are
  /// all affine.
  var prefix: AffineTransform
  /// Predictor-input pixel -> decoded pixel when the stages before the learned stage include a
  /// perspective or elastic one (then `prefix` is unused); nil otherwise.
  var prefixMap: PixelMap?
  var random: RandomStream

  /// What renders the predictor's input: predictor-input pixel -> decoded pixel.
  func inputToSource(index: Int) throws -> PixelMap {
    if let prefixMap { return prefixMap }
    guard let inverse = prefix.inverted() else { throw FileError(path: "\(index)", reason: "non-invertible transform") }
    return .affine(inverse)
  }
}

// MARK: - Processor

/// Turns dataset entries into outputs: decode (reduced when the chain shrinks a JPEG enough),
/// compose every geometric stage into one transform, prefilter when it still minifies, and
/// resample once into uint8 (for writing) or normalized float32 CHW (for batches).
///
/// Two renderers: a chain made only of `resize`, `center_crop` and `pad` (bilinear, zeros
/// padding) is rendered by `SeparableResample`, which equals torchvision `Resize(antialias=True)`
/// followed by hard-edged crops and pads; every other chain by the one bilinear warp of the
/// composed transform (torchvision `F.affine`/`grid_sample` for a single affine stage).
public final class SampleProcessor: @unchecked Sendable {
  public let config: PipelineConfig
  /// Stages before a `learned_affine` (all of them when there is none).
  let prefix: ChainPlanner
  /// Stages after the `learned_affine`, or nil when there is none.
  let suffix: ChainPlanner?
  let learnedCheckpoint: String?
  /// True when `prefix` is rendered by the separable resampler (see the type's summary).
  let rendersSeparably: Bool
  public let outputScale: [Float]
  public let outputBias: [Float]
  let options: WarpOptions

  /// Largest output (pixels) a sample may have, like the decoder's decompression-bomb limit.
  public static let maxOutputPixels = DecodeOptions.defaultMaxPixels

  /// From this footprint (source pixels per output pixel along an axis) the image is box-halved
  /// along that axis before the bilinear pass.
  public static let prefilterThreshold = 2.0

  public init(config: PipelineConfig) throws {
    self.config = config
    let learned = config.stages.enumerated().filter { $0.element.stage.isLearned }
    if learned.count > 1 {
      throw PipelineError(file: config.path, line: config.stages[learned[1].offset].line, reason: "only one learned stage (learned_transform, learned_affine) is supported")
    }
    if let first = learned.first {
      prefix = ChainPlanner(stages: config.stages[..<first.offset].map(\.stage))
      suffix = ChainPlanner(stages: config.stages[(first.offset + 1)...].map(\.stage))
      if case .learnedAffine(let checkpoint) = first.element.stage { learnedCheckpoint = checkpoint } else { learnedCheckpoint = nil }
    } else {
      prefix = ChainPlanner(stages: config.stages.map(\.stage))
      suffix = nil
      learnedCheckpoint = nil
    }
    rendersSeparably = suffix == nil && config.resample.interpolation == .bilinear && config.resample.padding == .zeros
      && !prefix.stages.isEmpty && prefix.stages.allSatisfy(\.isResizeCropOrPad)
    (outputScale, outputBias) = config.outputScaleBias
    let fill = config.resample.fill.map { Float($0) }
    options = WarpOptions(mode: config.resample.interpolation, padding: config.resample.padding,
                          fill: fill.count == config.channels ? fill : [Float](repeating: fill.first ?? 0, count: config.channels))
  }

  /// The output size for a source of the given size (random stages never change sizes, except
  /// after `learned_affine`, whose input size is the predictor's).
  public func outputSize(sourceWidth: Int, sourceHeight: Int) -> (width: Int, height: Int) {
    var random = RandomStream(seed: 0)
    let geometry = prefix.plan(width: sourceWidth, height: sourceHeight, random: &random)
    guard let suffix else { return (geometry.outputWidth, geometry.outputHeight) }
    let after = suffix.plan(width: geometry.outputWidth, height: geometry.outputHeight, random: &random)
    return (after.outputWidth, after.outputHeight)
  }

  /// The plan of the stages before any `learned_affine` for a source of the given size, with the
  /// random parameters sample `index` draws in `epoch` (what `prepare` uses; for inspection).
  public func plan(sourceWidth: Int, sourceHeight: Int, epoch: Int, index: Int) -> SampleGeometry {
    var random = randomStream(epoch: epoch, index: index)
    return prefix.plan(width: sourceWidth, height: sourceHeight, random: &random)
  }

  /// The plan of the stages after the learned stage (nil without one), on the learned stage's
  /// output, with the random parameters sample `index` draws in `epoch` (for inspection).
  public func planAfterLearned(sourceWidth: Int, sourceHeight: Int, epoch: Int, index: Int) -> SampleGeometry? {
    guard let suffix else { return nil }
    var random = randomStream(epoch: epoch, index: index)
    let before = prefix.plan(width: sourceWidth, height: sourceHeight, random: &random)
    return suffix.plan(width: before.outputWidth, height: before.outputHeight, random: &random)
  }

  /// The sample's random stream: a pure function of (seed, epoch, index).
  public func randomStream(epoch: Int, index: Int) -> RandomStream {
    RandomStream(seed: config.seed, epoch: UInt64(epoch), index: UInt64(index))
  }

  /// True for file names libjpeg decodes (reduced decoding is only possible for those).
  static func isJPEGName(_ path: String) -> Bool {
    let lower = path.lowercased()
    return lower.hasSuffix(".jpg") || lower.hasSuffix(".jpeg") || lower.hasSuffix(".jpe") || lower.hasSuffix(".jfif")
  }

  /// Decodes entry `index` of `dataset` and plans its one resample for `epoch`.
  public func prepare(dataset: any ImageDataset, index: Int, epoch: Int) throws -> PreparedSample {
    var random = randomStream(epoch: epoch, index: index)
    let path = dataset.sourcePath(at: index)
    var options = config.decodeOptions

    // Plan first when the file is a JPEG: the plan decides how far the DCT may reduce.
    var geometry: SampleGeometry?
    var sourceWidth = 0, sourceHeight = 0
    let decoded: Image
    // NOTE: the separable path decodes at full size: its filter already antialiases, and a
    // DCT-reduced decode would not equal torchvision's Resize of the full image.
    if suffix == nil, !rendersSeparably, config.resample.interpolation == .bilinear, SampleProcessor.isJPEGName(path) {
      // One read serves both the header probe and the (possibly reduced) decode.
      let bytes = try AtomicFile.read(path)
      let info = try ImageCodec.probe(bytes: bytes, path: path, options: options)
      sourceWidth = info.width; sourceHeight = info.height
      let planned = prefix.plan(width: info.width, height: info.height, random: &random)
      geometry = planned
      options.jpegScaleDenominator = SampleProcessor.reduction(footprint: SampleProcessor.footprint(
        planned.transform, map: planned.map, outputWidth: planned.outputWidth, outputHeight: planned.outputHeight))
      decoded = try ImageCodec.decode(bytes: bytes, path: path, options: options)
    } else {
      decoded = try dataset.loadImage(at: index, options: options)
    }
    guard decoded.channels == config.channels, decoded.width > 0, decoded.height > 0 else {
      throw FileError(path: path, reason: "decoder returned \(decoded.width)x\(decoded.height)x\(decoded.channels), expected \(config.channels) channels")
    }
    if geometry == nil {
      sourceWidth = decoded.width; sourceHeight = decoded.height
      geometry = prefix.plan(width: decoded.width, height: decoded.height, random: &random)
    }
    guard let geometry else { throw FileError(path: path, reason: "no plan") }
    guard geometry.outputWidth * geometry.outputHeight <= SampleProcessor.maxOutputPixels else {
      throw FileError(path: path, reason: "the stages produce \(geometry.outputWidth)x\(geometry.outputHeight), over the \(SampleProcessor.maxOutputPixels)-pixel limit")
    }
    var sample = PreparedSample(
      index: index, label: dataset.label(at: index), image: decoded, transform: geometry.transform, map: geometry.map,
      outputWidth: geometry.outputWidth, outputHeight: geometry.outputHeight,
      decodeDenominator: options.jpegScaleDenominator, prefiltered: false, resampleAxes: nil,
      sourceWidth: sourceWidth, sourceHeight: sourceHeight, pending: nil)
    // NOTE: the plan is in the file's pixel coordinates; a reduced decode is folded in by the
    // exact size ratio (libjpeg rounds reduced sizes up, so the ratio is not exactly 1/d).
    if decoded.width != sourceWidth || decoded.height != sourceHeight {
      sample.map = sample.map?.then(.affine(ChainPlanner.resizeMap(fromWidth: sourceWidth, fromHeight: sourceHeight, toWidth: decoded.width, toHeight: decoded.height)))
      sample.transform = sample.transform * ChainPlanner.resizeMap(fromWidth: decoded.width, fromHeight: decoded.height, toWidth: sourceWidth, toHeight: sourceHeight)
    }
    if suffix != nil {
      sample.pending = PendingLearned(prefix: sample.transform, prefixMap: sample.map, random: random)
      sample.map = nil
      return sample
    }
    if rendersSeparably, let axes = SeparableResample.axes(steps: geometry.steps, sourceWidth: decoded.width, sourceHeight: decoded.height) {
      sample.resampleAxes = axes
      return sample
    }
    try prefilterIfMinifying(&sample, path: path)
    return sample
  }

  /// Footprint of one output pixel in source pixels along source x and y.
  static func footprint(_ transform: AffineTransform) -> (x: Double, y: Double)? {
    guard let inverse = transform.inverted() else { return nil }
    return ((inverse.a * inverse.a + inverse.b * inverse.b).squareRoot(), (inverse.d * inverse.d + inverse.e * inverse.e).squareRoot())
  }

  /// The footprint of a planned resample: of the non-affine `map` when there is one (its smallest
  /// local footprint, see `PixelMap.footprint`), else of the affine `transform`.
  static func footprint(_ transform: AffineTransform, map: PixelMap?, outputWidth: Int, outputHeight: Int) -> (x: Double, y: Double)? {
    guard let map else { return footprint(transform) }
    return map.footprint(outputWidth: outputWidth, outputHeight: outputHeight)
  }

  /// The largest DCT reduction (1, 2, 4, 8) that keeps at least the resolution the output
  /// needs along both axes.
  static func reduction(for transform: AffineTransform) -> Int {
    reduction(footprint: footprint(transform))
  }

  static func reduction(footprint: (x: Double, y: Double)?) -> Int {
    guard let footprint else { return 1 }
    let limit = min(footprint.x, footprint.y)
    var denominator = 1
    for candidate in [2, 4, 8] where Double(candidate) <= limit + 1e-9 { denominator = candidate }
    return denominator
  }

  /// Box-halves the sample's image along each axis where the transform still minifies by 2x or
  /// more (after any DCT reduction), so the bilinear pass always reads at least one source pixel
  /// per output pixel step and does not alias. Each halving is folded into the transform.
  func prefilterIfMinifying(_ sample: inout PreparedSample, path: String) throws {
    if let map = sample.map, !map.isFinite {
      throw FileError(path: path, reason: "the stages compose to a non-invertible transform")
    }
    guard config.resample.interpolation == .bilinear else { return }
    while true {
      let footprint = SampleProcessor.footprint(sample.transform, map: sample.map, outputWidth: sample.outputWidth, outputHeight: sample.outputHeight)
      guard let footprint else {
        throw FileError(path: path, reason: "the stages compose to a non-invertible transform")
      }
      let halveX = footprint.x >= SampleProcessor.prefilterThreshold && sample.image.width > 1
      let halveY = footprint.y >= SampleProcessor.prefilterThreshold && sample.image.height > 1
      if !halveX && !halveY { return }
      sample.image = BoxHalve.halve(sample.image, x: halveX, y: halveY)
      // Halved pixel i is centred at source 2i + 0.5.
      let unhalve = STNWarp.AffineTransform(a: halveX ? 2 : 1, b: 0, c: halveX ? 0.5 : 0, d: 0, e: halveY ? 2 : 1, f: halveY ? 0.5 : 0)
      sample.transform = sample.transform * unhalve
      if let unhalveInverse = unhalve.inverted() { sample.map = sample.map?.then(.affine(unhalveInverse)) }
      sample.prefiltered = true
    }
  }

  // MARK: Learned stage

  /// For `learned_affine` pipelines: renders the predictor's input (C,H,W) for a prepared sample.
  public func renderPredictorInput(_ sample: PreparedSample, predictor: ThetaPredictor, into output: UnsafeMutablePointer<Float>) throws {
    guard let pending = sample.pending else { throw FileError(path: "\(sample.index)", reason: "sample has no learned stage") }
    var random = RandomStream(seed: 0)
    let geometry = prefix.plan(width: sample.sourceWidth, height: sample.sourceHeight, random: &random)
    guard geometry.outputWidth == predictor.inputWidth, geometry.outputHeight == predictor.inputHeight, config.channels == predictor.inputChannels else {
      throw FileError(path: "\(sample.index)", reason: "the stages before learned_affine produce \(config.channels)x\(geometry.outputHeight)x\(geometry.outputWidth), the model expects \(predictor.inputChannels)x\(predictor.inputHeight)x\(predictor.inputWidth)")
    }
    let map = try pending.inputToSource(index: sample.index)
    if !map.isFinite { throw FileError(path: "\(sample.index)", reason: "the stages before the learned stage compose to a non-invertible transform") }
    warpNormalized(sample.image, map: map, output: output, outputWidth: predictor.inputWidth, outputHeight: predictor.inputHeight,
                   scale: predictor.inputScale, bias: predictor.inputBias)
  }

  /// Completes a learned-stage sample with its predicted affine theta: the stages after it are
  /// planned and everything composes into the one transform (or, with perspective or elastic
  /// stages around the learned one, into the one pixel map).
  public func complete(_ sample: PreparedSample, theta: AffineTransform, predictor: ThetaPredictor) throws -> PreparedSample {
    let w = predictor.inputWidth, h = predictor.inputHeight
    guard let learned = AffineTransform.fromSamplingTheta(theta, inputWidth: w, inputHeight: h, outputWidth: w, outputHeight: h, alignCorners: false),
          let learnedInverse = learned.inverted() else {
      throw FileError(path: "\(sample.index)", reason: "the predicted theta is not invertible")
    }
    return try complete(sample, forward: learned, sampling: .affine(learnedInverse), predictor: predictor)
  }

  /// Completes a learned-stage sample with its predicted projective or thin-plate-spline map
  /// (output pixel -> predictor-input pixel; nil: the prediction gave none): the stages
  /// before, the map and the stages after compose into the sample's one pixel map.
  public func complete(_ sample: PreparedSample, map: PixelMap?, predictor: ThetaPredictor) throws -> PreparedSample {
    guard let map, map.isFinite else {
      throw FileError(path: "\(sample.index)", reason: "the predicted transform is not finite")
    }
    return try complete(sample, forward: nil, sampling: map, predictor: predictor)
  }

  /// The one completion: `sampling` is the learned stage's output -> input pixel map, `forward`
  /// its affine inverse when it has one (all-affine chains compose forward transforms, as
  /// `prepare` does, so their output is the same as a fixed `affine` stage's).
  private func complete(_ sample: PreparedSample, forward: AffineTransform?, sampling: PixelMap, predictor: ThetaPredictor) throws -> PreparedSample {
    guard let pending = sample.pending, let suffix else { return sample }
    let w = predictor.inputWidth, h = predictor.inputHeight
    var random = pending.random
    // Plan the rest as if the learned output were the source; `inside` still sees the content box.
    let after = suffix.plan(width: w, height: h, random: &random)
    var done = sample
    done.map = nil
    if let forward, pending.prefixMap == nil, after.map == nil {
      done.transform = after.transform * forward * pending.prefix
    } else {
      // output -> learned output (the stages after) -> predictor input (the learned map) -> decoded pixel.
      guard let afterInverse = after.map ?? after.transform.inverted().map(PixelMap.affine) else {
        throw FileError(path: "\(sample.index)", reason: "the stages after the learned stage compose to a non-invertible transform")
      }
      done.map = afterInverse.then(sampling).then(try pending.inputToSource(index: sample.index))
    }
    done.outputWidth = after.outputWidth
    done.outputHeight = after.outputHeight
    done.pending = nil
    try prefilterIfMinifying(&done, path: "\(sample.index)")
    return done
  }

  // MARK: Rendering

  /// True when the transform is the identity and sizes match: the output is the decoded pixels.
  static func isIdentity(_ sample: PreparedSample) -> Bool {
    sample.map == nil && sample.outputWidth == sample.image.width && sample.outputHeight == sample.image.height
      && sample.transform.maxDifference(.identity) < 1e-12
  }

  /// What the one warp samples with, output pixel -> `image` pixel: the chain's non-affine `map`
  /// (never a finite `.affine`: a planned map always holds a perspective or spline piece, and a
  /// non-finite one is refused by `prepare`), or the inverse of the affine `transform`, which the
  /// renderers hand to the fast affine kernels.
  static func destinationToSource(_ sample: PreparedSample) throws -> PixelMap {
    if let map = sample.map { return map }
    guard let inverse = sample.transform.inverted() else { throw FileError(path: "\(sample.index)", reason: "non-invertible transform") }
    return .affine(inverse)
  }

  /// A `learned_affine` sample must be completed with its theta before it can be rendered.
  func requireComplete(_ sample: PreparedSample) throws {
    if sample.pending != nil {
      throw PipelineError(file: config.path, line: 0, reason: "learned_affine needs a trained model's prediction before the sample can be rendered")
    }
  }

  /// The output as 8-bit HWC pixels (no normalization), for writing files.
  public func renderUInt8(_ sample: PreparedSample) throws -> Image {
    try requireComplete(sample)
    if SampleProcessor.isIdentity(sample) { return sample.image }
    if let axes = sample.resampleAxes {
      return SeparableResample.resampleUInt8(sample.image, x: axes.x, y: axes.y, fill: options.fill)
    }
    let map = try SampleProcessor.destinationToSource(sample)
    var output = Image(width: sample.outputWidth, height: sample.outputHeight, channels: sample.image.channels)
    sample.image.pixels.withUnsafeBufferPointer { pixels in
      output.pixels.withUnsafeMutableBufferPointer { out in
        if case .affine(let inverse) = map {
          warpAffineUInt8(source: pixels.baseAddress!, width: sample.image.width, height: sample.image.height, channels: sample.image.channels,
                          destinationToSource: inverse, output: out.baseAddress!, outputWidth: sample.outputWidth, outputHeight: sample.outputHeight,
                          options: options)
        } else {
          warpMapUInt8(source: pixels.baseAddress!, width: sample.image.width, height: sample.image.height, channels: sample.image.channels,
                       destinationToSource: map, output: out.baseAddress!, outputWidth: sample.outputWidth, outputHeight: sample.outputHeight,
                       options: options)
        }
      }
    }
    return output
  }

  /// The output as normalized float32, written to `output` laid out (C,H,W).
  public func renderFloat(_ sample: PreparedSample, into output: UnsafeMutablePointer<Float>) throws {
    try requireComplete(sample)
    let channels = sample.image.channels
    if SampleProcessor.isIdentity(sample) {
      let plane = sample.outputWidth * sample.outputHeight
      sample.image.pixels.withUnsafeBufferPointer { pixels in
        for c in 0..<channels {
          let scale = outputScale[c], bias = outputBias[c]
          for i in 0..<plane { output[c * plane + i] = Float(pixels[i * channels + c]) * scale + bias }
        }
      }
      return
    }
    if let axes = sample.resampleAxes {
      SeparableResample.resampleNormalized(sample.image, x: axes.x, y: axes.y, fill: options.fill, output: output, scale: outputScale, bias: outputBias)
      return
    }
    warpNormalized(sample.image, map: try SampleProcessor.destinationToSource(sample), output: output,
                   outputWidth: sample.outputWidth, outputHeight: sample.outputHeight, scale: outputScale, bias: outputBias)
  }

  /// The one bilinear (or nearest) resample of `image` through `map` (output pixel -> image
  /// pixel) into normalized float32 (C,H,W): the fast affine kernels for an affine map, the
  /// map warp (row-evaluated map, AVX-512 row kernels where they apply) otherwise. Used for batches and for the learned stage's predictor input.
  func warpNormalized(_ image: Image, map: PixelMap, output: UnsafeMutablePointer<Float>, outputWidth: Int, outputHeight: Int,
                      scale: [Float], bias: [Float]) {
    image.pixels.withUnsafeBufferPointer { pixels in
      if case .affine(let inverse) = map {
        warpAffineNormalized(source: pixels.baseAddress!, width: image.width, height: image.height, channels: image.channels,
                             destinationToSource: inverse, output: output, outputWidth: outputWidth, outputHeight: outputHeight,
                             scale: scale, bias: bias, options: options)
      } else {
        warpMapNormalized(source: pixels.baseAddress!, width: image.width, height: image.height, channels: image.channels,
                          destinationToSource: map, output: output, outputWidth: outputWidth, outputHeight: outputHeight,
                          scale: scale, bias: bias, options: options)
      }
    }
  }
}
