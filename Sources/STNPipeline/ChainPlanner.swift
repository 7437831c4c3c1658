import STNTensor
import STNWarp

/// One geometric stage as it acts on one sample: the source->destination pixel map of that stage
/// alone, and the canvas size after it.
public struct StageStep: Equatable, Sendable {
  public var transform: AffineTransform
  public var width: Int
  public var height: Int
  /// True for `resize` steps (the step-by-step reference resamples those with an antialiased filter).
  public var isResize: Bool
}

/// The geometry of one sample: every step, and their composition (one matrix, one resample).
public struct SampleGeometry: Equatable, Sendable {
  /// Decoded-image pixel -> output pixel (x right, y down, pixel centres at integers).
  public var transform: AffineTransform
  public var outputWidth: Int
  public var outputHeight: Int
  /// The individual steps, in order (for the step-by-step reference and for inspection).
  public var steps: [StageStep]
}

/// Compiles a run of geometric stages into one affine transform per sample.
///
/// Random parameters are drawn from the sample's `RandomStream` in stage order, so they depend
/// only on (seed, epoch, index) and never on the decoded resolution: a JPEG decoded at 1/4 in the
/// DCT gets exactly the parameters it would have got at full size.
public struct ChainPlanner: Sendable {
  public let stages: [Stage]

  /// The geometric stages of `stages`. `normalize` is not geometric and `learned_affine` is not
  /// planned here (its transform is known only after prediction: `SampleProcessor` splits the
  /// chain at it and plans each side), so both are left out.
  public init(stages: [Stage]) {
    self.stages = stages.filter { $0.isGeometric && !$0.isLearned }
  }

  /// The geometry for a source of `width` x `height`, drawing random parameters from `random`.
  public func plan(width: Int, height: Int, random: inout RandomStream) -> SampleGeometry {
    var total = AffineTransform.identity
    var currentWidth = width, currentHeight = height
    var steps: [StageStep] = []
    for stage in stages {
      let step: AffineTransform
      var nextWidth = currentWidth, nextHeight = currentHeight
      var isResize = false
      switch stage {
      case .randomAffine(let parameters):
        step = ChainPlanner.randomAffine(parameters, width: currentWidth, height: currentHeight, sourceWidth: width, sourceHeight: height, sourceToCanvas: total, random: &random)
      case .affine(.matrix(let matrix)):
        step = matrix
      case .affine(.named(let p)):
        let center = AffineTransform.center(width: currentWidth, height: currentHeight)
        step = AffineTransform.translation(x: p.translateX, y: p.translateY)
          * AffineTransform.rotation(degrees: p.angle, center: center)
          * AffineTransform.shear(xDegrees: p.shearX, yDegrees: p.shearY, center: center)
          * AffineTransform.scale(p.scale, center: center)
      case .resize(let resize):
        switch resize {
        case .size(let w, let h):
          nextWidth = w; nextHeight = h
        case .shorterSide(let side):
          // torchvision: the shorter side becomes `side`, the longer int(side * long / short).
          if currentWidth <= currentHeight {
            nextWidth = side; nextHeight = max(1, Int(Double(side) * Double(currentHeight) / Double(currentWidth)))
          } else {
            nextHeight = side; nextWidth = max(1, Int(Double(side) * Double(currentWidth) / Double(currentHeight)))
          }
        }
        step = ChainPlanner.resizeMap(fromWidth: currentWidth, fromHeight: currentHeight, toWidth: nextWidth, toHeight: nextHeight)
        isResize = true
      case .centerCrop(let w, let h):
        // torchvision: top = int(round((H - h) / 2)), Python rounds half to even.
        let left = (Double(currentWidth - w) / 2).rounded(.toNearestOrEven)
        let top = (Double(currentHeight - h) / 2).rounded(.toNearestOrEven)
        step = AffineTransform.translation(x: -left, y: -top)
        nextWidth = w; nextHeight = h
      case .pad(.canvas(let w, let h, let position)):
        let spareX = w - currentWidth, spareY = h - currentHeight
        let left: Int, top: Int
        switch position {
        case .center:
          left = floorDivide(spareX, 2); top = floorDivide(spareY, 2)
        case .random:
          left = ChainPlanner.uniformInteger(0, spareX, &random); top = ChainPlanner.uniformInteger(0, spareY, &random)
        }
        step = AffineTransform.translation(x: Double(left), y: Double(top))
        nextWidth = w; nextHeight = h
      case .pad(.borders(let left, let top, let right, let bottom)):
        step = AffineTransform.translation(x: Double(left), y: Double(top))
        nextWidth = currentWidth + left + right; nextHeight = currentHeight + top + bottom
      case .normalize, .learnedAffine:
        continue
      }
      total = step * total
      currentWidth = nextWidth; currentHeight = nextHeight
      steps.append(StageStep(transform: step, width: nextWidth, height: nextHeight, isResize: isResize))
    }
    return SampleGeometry(transform: total, outputWidth: currentWidth, outputHeight: currentHeight, steps: steps)
  }

  /// Pixel-centre-exact resize map: x' = (x + 0.5)·(W'/W) - 0.5 (PyTorch/OpenCV/Pillow agree).
  public static func resizeMap(fromWidth: Int, fromHeight: Int, toWidth: Int, toHeight: Int) -> AffineTransform {
    let sx = Double(toWidth) / Double(fromWidth), sy = Double(toHeight) / Double(fromHeight)
    return AffineTransform(a: sx, b: 0, c: 0.5 * sx - 0.5, d: 0, e: sy, f: 0.5 * sy - 0.5)
  }

  /// Uniform integer in [low, high] (either order), inclusive.
  static func uniformInteger(_ a: Int, _ b: Int, _ random: inout RandomStream) -> Int {
    let low = min(a, b), high = max(a, b)
    let value = low + Int(random.uniform(0, Double(high - low + 1)).rounded(.down))
    return min(value, high)
  }

  /// Draws one `random_affine` step. Draw order is fixed (angle, scale, shear x, shear y,
  /// translate x, translate y, hflip, vflip) and every draw happens even when its range is empty,
  /// so adding a parameter to a stage never shifts the random numbers of later stages.
  static func randomAffine(_ p: RandomAffineStage, width: Int, height: Int, sourceWidth: Int, sourceHeight: Int, sourceToCanvas: AffineTransform, random: inout RandomStream) -> AffineTransform {
    let angle = random.uniform(p.degrees.lowerBound, p.degrees.upperBound)
    let scale = random.uniform(p.scale.lowerBound, p.scale.upperBound)
    let shearX = random.uniform(p.shearX.lowerBound, p.shearX.upperBound)
    let shearY = random.uniform(p.shearY.lowerBound, p.shearY.upperBound)
    let unitX = random.uniform(0, 1), unitY = random.uniform(0, 1)
    let flipX = random.uniform(0, 1) < p.hflip, flipY = random.uniform(0, 1) < p.vflip
    let center = AffineTransform.center(width: width, height: height)
    // torchvision's order about the centre: rotate, then shear, then scale (applied right to left).
    let linear = AffineTransform.rotation(degrees: angle, center: center)
      * AffineTransform.shear(xDegrees: shearX, yDegrees: shearY, center: center)
      * AffineTransform.scale(scale, center: center)
    var translation = (x: 0.0, y: 0.0)
    switch p.translate {
    case .none:
      break
    case .fraction(let fx, let fy):
      translation = ((2 * unitX - 1) * fx * Double(width), (2 * unitY - 1) * fy * Double(height))
    case .inside:
      // NOTE: the content is the decoded image's rectangle (pixel edges at -0.5 and W-0.5)
      // carried through the earlier stages; the translation range keeps its bounding box within
      // the canvas edges. If the box is larger than the canvas the range is reversed and we draw
      // within it anyway, which keeps the overhang balanced around the centre.
      let box = boundingBox(linear * sourceToCanvas, width: sourceWidth, height: sourceHeight)
      let lowX = -0.5 - box.minX, highX = Double(width) - 0.5 - box.maxX
      let lowY = -0.5 - box.minY, highY = Double(height) - 0.5 - box.maxY
      translation = (lowX + unitX * (highX - lowX), lowY + unitY * (highY - lowY))
    }
    var step = AffineTransform.translation(x: translation.x, y: translation.y) * linear
    if flipX { step = AffineTransform.horizontalFlip(width: width) * step }
    if flipY { step = AffineTransform.verticalFlip(height: height) * step }
    return step
  }

  /// Bounding box of a `width` x `height` image's rectangle under `transform`.
  static func boundingBox(_ transform: AffineTransform, width: Int, height: Int) -> (minX: Double, maxX: Double, minY: Double, maxY: Double) {
    let xs = [-0.5, Double(width) - 0.5], ys = [-0.5, Double(height) - 0.5]
    var box = (minX: Double.infinity, maxX: -Double.infinity, minY: Double.infinity, maxY: -Double.infinity)
    for x in xs {
      for y in ys {
        let p = transform.apply(x: x, y: y)
        box = (min(box.minX, p.x), max(box.maxX, p.x), min(box.minY, p.y), max(box.maxY, p.y))
      }
    }
    return box
  }
}

/// Floor division for possibly negative numerators.
@inline(__always) func floorDivide(_ a: Int, _ b: Int) -> Int {
  let q = a / b
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
}
