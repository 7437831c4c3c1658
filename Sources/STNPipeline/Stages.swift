import STNWarp

// MARK: - Stage parameters (the model; PipelineConfig+Parsing.swift reads them from YAML)

/// Where a random or fixed translation may move the image.
public enum TranslateSpec: Equatable, Sendable {
  /// No translation.
  case none
  /// torchvision `RandomAffine(translate=(x, y))`: a whole number of pixels,
  /// `round(U[-x·width, x·width])` by `round(U[-y·height, y·height])` (Python's round, half to even).
  case fraction(x: Double, y: Double)
  /// Anywhere the transformed content box stays inside the canvas (the STN paper's RTS
  /// placement). The content box is the decoded image's rectangle carried through the earlier
  /// stages, so after `pad` it is the original item, not the padded canvas. After a perspective
  /// or elastic step (whose content is no longer a rectangle) it is that step's canvas.
  case inside
}

/// `random_affine`: torchvision `RandomAffine` plus flips, drawn per sample.
///
/// The drawn (angle, translate, scale, shear) act exactly as `F.affine` with those values (see
/// `AffineParameters`): a positive angle turns the content clockwise on screen, as in torchvision.
public struct RandomAffineStage: Equatable, Sendable {
  /// Rotation range in degrees (`RandomAffine(degrees=n)` is -n...n).
  public var degrees: ClosedRange<Double> = 0...0
  public var translate: TranslateSpec = .none
  /// Isotropic scale range.
  public var scale: ClosedRange<Double> = 1...1
  /// Shear ranges in degrees parallel to x and to y (`RandomAffine`: `n` is x in -n...n, y 0;
  /// `[a, b]` is x in a...b, y 0; `[a, b, c, d]` is x in a...b, y in c...d).
  public var shearX: ClosedRange<Double> = 0...0
  public var shearY: ClosedRange<Double> = 0...0
  /// Probabilities of a horizontal and a vertical flip (applied after the affine).
  public var hflip: Double = 0
  public var vflip: Double = 0

  public init() {}
}

/// torchvision `F.affine(img, angle, translate, scale, shear)`'s parameters.
public struct AffineParameters: Equatable, Sendable {
  /// Degrees; positive turns the content clockwise on screen (torchvision `F.affine`'s sign;
  /// note torchvision's `F.rotate`/`RandomRotation` use the opposite one).
  public var angle: Double
  /// Pixels, applied after the rest (x right, y down).
  public var translateX: Double
  public var translateY: Double
  public var scale: Double
  /// Degrees: the shear parallel to the x axis and the one parallel to the y axis.
  public var shearX: Double
  public var shearY: Double

  public init(angle: Double = 0, translateX: Double = 0, translateY: Double = 0, scale: Double = 1, shearX: Double = 0, shearY: Double = 0) {
    self.angle = angle
    self.translateX = translateX
    self.translateY = translateY
    self.scale = scale
    self.shearX = shearX
    self.shearY = shearY
  }
}

/// `affine`: a fixed transform, as a matrix or as named parameters about the image centre.
public enum AffineStage: Equatable, Sendable {
  /// A source->destination pixel map (x right, y down, pixel centres at integers).
  case matrix(STNWarp.AffineTransform)
  /// torchvision `F.affine(angle, translate, scale, shear)` about the centre; translate in pixels.
  case named(AffineParameters)
}

/// `resize`: to a fixed size, or so the shorter side has a given length (aspect kept).
public enum ResizeStage: Equatable, Sendable {
  /// `size: [height, width]`.
  case size(width: Int, height: Int)
  /// `size: n` (or `shorter_side: n`): torchvision `Resize(n)`, the shorter side becomes n and the
  /// longer `int(n · long / short)`.
  case shorterSide(Int)
}

/// How `pad` places the image on its canvas.
public enum PadPosition: String, Equatable, Sendable {
  /// Centred (offset rounded down, like torchvision's CenterCrop inverse).
  case center
  /// A uniformly random integer offset that keeps the image inside the canvas.
  case random
}

/// `pad`: onto a canvas of a given size, or by explicit borders.
public enum PadStage: Equatable, Sendable {
  case canvas(width: Int, height: Int, position: PadPosition)
  case borders(left: Int, top: Int, right: Int, bottom: Int)
}

/// `perspective`: torchvision `F.perspective(img, startpoints, endpoints)`: the four points
/// `startpoints` (top-left, top-right, bottom-right, bottom-left, torchvision's order) move to
/// `endpoints`, in torchvision's pixel coordinates (pixel (i, j) covers i...i+1, j...j+1, so a
/// pixel centre is at i + 0.5).
public struct PerspectiveStage: Equatable, Sendable {
  public var startpoints: [SIMD2<Double>]
  public var endpoints: [SIMD2<Double>]

  public init(startpoints: [SIMD2<Double>], endpoints: [SIMD2<Double>]) {
    self.startpoints = startpoints
    self.endpoints = endpoints
  }
}

/// `random_perspective`: torchvision `RandomPerspective(distortion_scale, p)`, drawn per sample.
public struct RandomPerspectiveStage: Equatable, Sendable {
  /// 0...1: how far (as a fraction of half the side) each corner may move inwards.
  public var distortionScale: Double = 0.5
  /// Probability that the sample is distorted at all.
  public var p: Double = 0.5
  /// When set, the STN paper's P instead of torchvision's draw: every corner moves by
  /// N(0, sigma²) pixels along x and y (outwards or inwards), and `distortionScale` is unused.
  public var sigma: Double?

  public init(distortionScale: Double = 0.5, p: Double = 0.5, sigma: Double? = nil) {
    self.distortionScale = distortionScale
    self.p = p
    self.sigma = sigma
  }
}

/// `random_elastic`: the Spatial Transformer Networks paper's elastic distortion (E): a
/// thin-plate spline through `grid` x `grid` control points on a regular grid over the image,
/// each displaced by i.i.d. Gaussian noise of standard deviation `sigma` pixels.
public struct RandomElasticStage: Equatable, Sendable {
  /// Standard deviation of each control point's displacement, in pixels (>= 0).
  public var sigma: Double
  /// Control points per side (2...16).
  public var grid: Int = 4
  /// Probability that the sample is distorted at all.
  public var p: Double = 1

  public init(sigma: Double, grid: Int = 4, p: Double = 1) {
    self.sigma = sigma
    self.grid = grid
    self.p = p
  }
}

/// One pipeline stage, in file order.
public enum Stage: Equatable, Sendable {
  case randomAffine(RandomAffineStage)
  case affine(AffineStage)
  case resize(ResizeStage)
  case centerCrop(width: Int, height: Int)
  case pad(PadStage)
  /// Per-channel (x/255 - mean)/std on the float output; never applied to written images.
  case normalize(mean: [Double], std: [Double])
  /// `learned_transform` (alias `learned_affine`): a transform predicted per image by a trained
  /// model, of whatever family its spatial transformer holds (see `ThetaPredictor`).
  case learnedAffine(checkpoint: String)
  /// torchvision `F.perspective`.
  case perspective(PerspectiveStage)
  /// torchvision `RandomPerspective`.
  case randomPerspective(RandomPerspectiveStage)
  /// A thin-plate spline with randomly displaced control points.
  case randomElastic(RandomElasticStage)

  /// True for stages that move pixels (and so compose into the one resample).
  public var isGeometric: Bool {
    if case .normalize = self { return false }
    return true
  }

  /// True for `learned_affine`, whose transform a trained model predicts per image.
  public var isLearned: Bool {
    if case .learnedAffine = self { return true }
    return false
  }

  /// True for stages that keep the pixel grid axis-aligned and only resize, crop or pad: a chain
  /// of these alone is rendered by the exact separable resampler (torchvision `Resize`, then
  /// hard-edged crops and pads) instead of the one bilinear warp.
  public var isResizeCropOrPad: Bool {
    switch self {
    case .resize, .centerCrop, .pad: return true
    case .randomAffine, .affine, .normalize, .learnedAffine, .perspective, .randomPerspective, .randomElastic: return false
    }
  }

  /// True for the stages that are not affine maps (perspective and elastic): a chain with one
  /// resamples through a `PixelMap` instead of one `AffineTransform`.
  public var isNonAffine: Bool {
    switch self {
    case .perspective, .randomPerspective, .randomElastic: return true
    default: return false
    }
  }
}

/// A stage with the line it was declared on, for error messages at run time.
public struct StageEntry: Equatable, Sendable {
  public var stage: Stage
  /// The stage's name as written (`random_affine`, ...).
  public var name: String
  public var line: Int

  public init(stage: Stage, name: String, line: Int) {
    self.stage = stage
    self.name = name
    self.line = line
  }
}

/// The settings of the single resample a chain of geometric stages compiles to (the top-level
/// `resample:` section; any geometric stage may repeat a key, which must then agree).
public struct ResampleSettings: Equatable, Sendable {
  public var interpolation: GridSampleMode = .bilinear
  /// How the one-resample warp reads outside the source image.
  public var padding: GridSamplePadding = .zeros
  /// Value(s) for pixels outside the source with `zeros` padding, 0-255, one or one per channel.
  public var fill: [Double] = [0]

  public init() {}
}

/// Where samples come from when a pipeline names its own data.
public enum SourceSpec: Equatable, Sendable {
  /// root/<class>/<image> folder.
  case imageFolder(path: String)
  /// MNIST-family IDX files in `folder`, `split` "train" or "test".
  case idx(folder: String, split: String)
}

/// Batching of the float output.
public struct BatchingConfig: Equatable, Sendable {
  public var size: Int = 64
  public var shuffle: Bool = true
  public var dropLast: Bool = false

  public init(size: Int = 64, shuffle: Bool = true, dropLast: Bool = false) {
    self.size = size
    self.shuffle = shuffle
    self.dropLast = dropLast
  }
}
