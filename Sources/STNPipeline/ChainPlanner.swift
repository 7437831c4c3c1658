#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import STNTensor
import STNWarp

/// One geometric stage as it acts on one sample: the source->destination pixel map of that stage
/// alone, and the canvas size after it.
public struct StageStep: Equatable, Sendable {
  /// How a step moves pixels, which decides how the step-by-step reference and the separable
  /// resampler render it.
  public enum Kind: Equatable, Sendable {
    /// `resize`: the antialiased triangle filter of torchvision `Resize` (edges clamped).
    case resize
    /// `center_crop` / `pad`: a whole-pixel shift onto a new canvas; outside the old one is fill.
    case shift
    /// Any other affine map: a bilinear warp with the resample padding.
    case warp
  }

  public var transform: AffineTransform
  public var width: Int
  public var height: Int
  public var kind: Kind
  /// What a `random_affine` step drew (for contact sheets); nil for other stages.
  public var draw: RandomAffineDraw? = nil
  /// For a perspective or elastic step that distorts: its output pixel -> input pixel map
  /// (`transform` is then the identity and unused). Nil for affine steps.
  public var map: PixelMap? = nil
}

/// The geometry of one sample: every step, and their composition (one matrix, one resample).
public struct SampleGeometry: Equatable, Sendable {
  /// Decoded-image pixel -> output pixel (x right, y down, pixel centres at integers).
  public var transform: AffineTransform
  public var outputWidth: Int
  public var outputHeight: Int
  /// The individual steps, in order (for the step-by-step reference and for inspection).
  public var steps: [StageStep]
  /// Nil when every step is affine (then `transform` is the whole map). Otherwise the
  /// output pixel -> decoded-image pixel map of the whole chain, what the one resample samples
  /// with, and `transform` is only the affine steps after the last non-affine one.
  public var map: PixelMap? = nil
}

// MARK: - torchvision's affine

extension AffineParameters {
  /// The source->destination pixel map of torchvision `F.affine(img, angle, translate, scale,
  /// shear)` about `center` (for a W x H image torchvision's centre is pixel ((W-1)/2, (H-1)/2)
  /// in our pixel-centres-at-integers convention, on its tensor and its PIL paths alike).
  ///
  /// torchvision (`_get_inverse_affine_matrix`): M = T · C · RSS · C⁻¹ with
  /// RSS = R(angle) · S(scale) · SHy(shearY) · SHx(shearX), R(a) = [cos a, -sin a; sin a, cos a],
  /// SHx(s) = [1, -tan s; 0, 1], SHy(s) = [1, 0; -tan s, 1]. With y pointing down, R turns
  /// clockwise on screen for a positive angle, and SHx moves rows below the centre to the left.
  public func transform(center: (x: Double, y: Double)) -> AffineTransform {
    let rotation = angle * Double.pi / 180
    let sx = shearX * Double.pi / 180, sy = shearY * Double.pi / 180
    // torchvision's closed form of R · SHy · SHx (kept term for term so the values match).
    let a = cos(rotation - sy) / cos(sy)
    let b = -cos(rotation - sy) * tan(sx) / cos(sy) - sin(rotation)
    let c = sin(rotation - sy) / cos(sy)
    let d = -sin(rotation - sy) * tan(sx) / cos(sy) + cos(rotation)
    let linear = AffineTransform(a: scale * a, b: scale * b, c: 0, d: scale * c, e: scale * d, f: 0)
    return AffineTransform.translation(x: center.x + translateX, y: center.y + translateY)
      * linear * AffineTransform.translation(x: -center.x, y: -center.y)
  }
}

/// One `random_affine` draw: torchvision `RandomAffine`'s parameters, then the flips.
public struct RandomAffineDraw: Equatable, Sendable {
  public var parameters: AffineParameters
  public var hflip: Bool
  public var vflip: Bool

  /// The step on a `width` x `height` canvas: `F.affine` about the centre, then the flips.
  public func transform(width: Int, height: Int) -> AffineTransform {
    var step = parameters.transform(center: AffineTransform.center(width: width, height: height))
    if hflip { step = AffineTransform.horizontalFlip(width: width) * step }
    if vflip { step = AffineTransform.verticalFlip(height: height) * step }
    return step
  }
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
  ///
  /// Affine steps multiply into `total` (source -> canvas). A non-affine step (a perspective or
  /// elastic one that distorts) is an output -> input map; the chain's map so far becomes
  /// "the step's map, then total⁻¹, then the earlier map", and `total` starts again from the
  /// identity. A chain of affine steps only never builds a map, so its plan is exactly what it
  /// was before non-affine stages existed.
  public func plan(width: Int, height: Int, random: inout RandomStream) -> SampleGeometry {
    var total = AffineTransform.identity
    var map: PixelMap?
    var currentWidth = width, currentHeight = height
    // What `translate: inside` keeps on the canvas: the decoded image, or after a non-affine
    // step the canvas that step produced (its content is no longer a rectangle).
    var contentWidth = width, contentHeight = height
    var steps: [StageStep] = []
    for stage in stages {
      var step = AffineTransform.identity
      var nextWidth = currentWidth, nextHeight = currentHeight
      var kind = StageStep.Kind.warp
      var draw: RandomAffineDraw?
      var stepMap: PixelMap?
      switch stage {
      case .randomAffine(let parameters):
        let drawn = ChainPlanner.randomAffine(parameters, width: currentWidth, height: currentHeight, sourceWidth: contentWidth, sourceHeight: contentHeight, sourceToCanvas: total, random: &random)
        draw = drawn
        step = drawn.transform(width: currentWidth, height: currentHeight)
      case .affine(.matrix(let matrix)):
        step = matrix
      case .affine(.named(let parameters)):
        step = parameters.transform(center: AffineTransform.center(width: currentWidth, height: currentHeight))
      case .perspective(let perspective):
        stepMap = ChainPlanner.perspectiveMap(startpoints: perspective.startpoints, endpoints: perspective.endpoints)
          ?? .affine(AffineTransform(a: .nan, b: .nan, c: .nan, d: .nan, e: .nan, f: .nan))
      case .randomPerspective(let parameters):
        if let drawn = ChainPlanner.randomPerspective(parameters, width: currentWidth, height: currentHeight, random: &random) {
          // NOTE: a degenerate draw (possible on images a few pixels wide) leaves the sample as it is.
          stepMap = ChainPlanner.perspectiveMap(startpoints: drawn.startpoints, endpoints: drawn.endpoints)
        }
      case .randomElastic(let parameters):
        stepMap = ChainPlanner.randomElastic(parameters, width: currentWidth, height: currentHeight, random: &random).map { .thinPlateSpline($0) }
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
        kind = .resize
      case .centerCrop(let w, let h):
        // torchvision: top = int(round((H - h) / 2)), Python rounds half to even.
        let left = (Double(currentWidth - w) / 2).rounded(.toNearestOrEven)
        let top = (Double(currentHeight - h) / 2).rounded(.toNearestOrEven)
        step = AffineTransform.translation(x: -left, y: -top)
        nextWidth = w; nextHeight = h
        kind = .shift
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
        kind = .shift
      case .pad(.borders(let left, let top, let right, let bottom)):
        step = AffineTransform.translation(x: Double(left), y: Double(top))
        nextWidth = currentWidth + left + right; nextHeight = currentHeight + top + bottom
        kind = .shift
      case .normalize, .learnedAffine:
        continue
      }
      if let stepMap {
        map = ChainPlanner.compose(stepMap, then: total, then: map)
        total = .identity
        contentWidth = nextWidth; contentHeight = nextHeight
      } else {
        total = step * total
      }
      currentWidth = nextWidth; currentHeight = nextHeight
      steps.append(StageStep(transform: step, width: nextWidth, height: nextHeight, kind: kind, draw: draw, map: stepMap))
    }
    if let earlier = map { map = ChainPlanner.compose(.identity, then: total, then: earlier) }
    return SampleGeometry(transform: total, outputWidth: currentWidth, outputHeight: currentHeight, steps: steps, map: map)
  }

  /// `first` (an output -> input map), then the inverse of the affine `sourceToCanvas`, then
  /// `earlier` (nil: nothing). A non-invertible affine becomes a map of NaNs, which
  /// `SampleProcessor` reports as a non-invertible chain.
  static func compose(_ first: PixelMap, then sourceToCanvas: AffineTransform, then earlier: PixelMap?) -> PixelMap {
    let inverse = sourceToCanvas.inverted() ?? AffineTransform(a: .nan, b: .nan, c: .nan, d: .nan, e: .nan, f: .nan)
    let combined = first.then(.affine(inverse))
    return earlier.map { combined.then($0) } ?? combined
  }

  // MARK: Perspective and elastic

  /// torchvision `F.perspective(startpoints, endpoints)` as an output pixel -> input pixel map in
  /// our frame (pixel centres at integers). Nil when the points are degenerate.
  ///
  /// torchvision (`_get_perspective_coeffs`, `_perspective_grid`): the coefficients map endpoints
  /// to startpoints (solved in double, then rounded to float32), and are applied to the output
  /// pixel centre in its frame, x + 0.5; the result, read with `grid_sample(align_corners=False)`,
  /// is the source point in the same frame, so our source pixel is that minus 0.5.
  public static func perspectiveMap(startpoints: [SIMD2<Double>], endpoints: [SIMD2<Double>]) -> PixelMap? {
    guard let fit = Homography(mapping: endpoints, to: startpoints), fit.coefficients.allSatisfy(\.isFinite) else { return nil }
    // torchvision's float32 coefficients.
    guard let coefficients = Homography(Array(fit.coefficients.prefix(8)).map { Double(Float($0)) }) else { return nil }
    return PixelMap.affine(.translation(x: 0.5, y: 0.5)).then(.homography(coefficients)).then(.affine(.translation(x: -0.5, y: -0.5)))
  }

  /// One `random_perspective` draw on a `width` x `height` canvas: torchvision
  /// `RandomPerspective`'s `torch.rand(1) < p`, then `get_params` (corner offsets drawn in its
  /// order: top-left x, y, top-right x, y, bottom-right x, y, bottom-left x, y, each uniform over
  /// torchvision's integer range). All 9 numbers are drawn even when p fails, so the stage always
  /// uses the same amount of the stream. Nil when the sample is not distorted.
  static func randomPerspective(_ p: RandomPerspectiveStage, width: Int, height: Int, random: inout RandomStream) -> PerspectiveStage? {
    let apply = random.uniform(0, 1) < p.p
    let w = Double(width - 1), h = Double(height - 1)
    let corners = [SIMD2(0, 0), SIMD2(w, 0), SIMD2(w, h), SIMD2(0, h)]
    if let sigma = p.sigma {
      // The STN paper's P: each corner moves by N(0, sigma²) along x then y, in the same corner
      // order; all 8 numbers are drawn even when p fails.
      let moved = corners.map { corner -> SIMD2<Double> in
        let dx = random.normal(), dy = random.normal()
        return corner + sigma * SIMD2(dx, dy)
      }
      return apply ? PerspectiveStage(startpoints: corners, endpoints: moved) : nil
    }
    let boundX = Int(p.distortionScale * Double(width / 2)), boundY = Int(p.distortionScale * Double(height / 2))
    // torch.randint(low, high) is uniform over low...high-1.
    func draw(_ low: Int, _ highExclusive: Int) -> Double { Double(uniformInteger(low, highExclusive - 1, &random)) }
    let topLeft = SIMD2(draw(0, boundX + 1), draw(0, boundY + 1))
    let topRight = SIMD2(draw(width - boundX - 1, width), draw(0, boundY + 1))
    let bottomRight = SIMD2(draw(width - boundX - 1, width), draw(height - boundY - 1, height))
    let bottomLeft = SIMD2(draw(0, boundX + 1), draw(height - boundY - 1, height))
    guard apply else { return nil }
    return PerspectiveStage(startpoints: corners, endpoints: [topLeft, topRight, bottomRight, bottomLeft])
  }

  /// The `grid` x `grid` control points of `random_elastic` on a `width` x `height` canvas: a
  /// regular grid from pixel edge to pixel edge (-0.5 ... width - 0.5), `ThinPlateSpline.regularGrid`'s
  /// order (row by row from the top).
  public static func elasticControlPoints(grid: Int, width: Int, height: Int) -> [SIMD2<Double>] {
    ThinPlateSpline.regularGrid(size: grid).map { SIMD2(($0.x + 1) / 2 * Double(width) - 0.5, ($0.y + 1) / 2 * Double(height) - 0.5) }
  }

  /// One `random_elastic` draw: `uniform < p`, then one N(0, sigma²) displacement per control
  /// point and axis (x then y, point by point; always drawn). The spline maps each output control
  /// point to itself plus its displacement in the input. Nil when the sample is not distorted.
  static func randomElastic(_ p: RandomElasticStage, width: Int, height: Int, random: inout RandomStream) -> ThinPlateSpline? {
    let apply = random.uniform(0, 1) < p.p
    let controls = elasticControlPoints(grid: p.grid, width: width, height: height)
    var targets = controls
    for k in targets.indices {
      let dx = random.normal(), dy = random.normal()
      targets[k] += p.sigma * SIMD2(dx, dy)
    }
    guard apply else { return nil }
    return ThinPlateSpline(controlPoints: controls, targets: targets)
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

  /// Draws one `random_affine` step on a `width` x `height` canvas. Draw order is fixed (angle,
  /// scale, shear x, shear y, translate x, translate y, hflip, vflip) and every draw happens even
  /// when its range is empty, so adding a parameter to a stage never shifts the random numbers of
  /// later stages. `translate: inside` needs the source size and the map of the earlier stages.
  static func randomAffine(_ p: RandomAffineStage, width: Int, height: Int, sourceWidth: Int, sourceHeight: Int, sourceToCanvas: AffineTransform, random: inout RandomStream) -> RandomAffineDraw {
    let angle = random.uniform(p.degrees.lowerBound, p.degrees.upperBound)
    let scale = random.uniform(p.scale.lowerBound, p.scale.upperBound)
    let shearX = random.uniform(p.shearX.lowerBound, p.shearX.upperBound)
    let shearY = random.uniform(p.shearY.lowerBound, p.shearY.upperBound)
    let unitX = random.uniform(0, 1), unitY = random.uniform(0, 1)
    let flipX = random.uniform(0, 1) < p.hflip, flipY = random.uniform(0, 1) < p.vflip
    var parameters = AffineParameters(angle: angle, scale: scale, shearX: shearX, shearY: shearY)
    switch p.translate {
    case .none:
      break
    case .fraction(let fx, let fy):
      // RandomAffine: int(round(uniform(-max_d, max_d))) with max_d = fraction · size.
      parameters.translateX = ((2 * unitX - 1) * fx * Double(width)).rounded(.toNearestOrEven)
      parameters.translateY = ((2 * unitY - 1) * fy * Double(height)).rounded(.toNearestOrEven)
    case .inside:
      // NOTE: the content is the decoded image's rectangle (pixel edges at -0.5 and W-0.5)
      // carried through the earlier stages; the translation range keeps its bounding box within
      // the canvas edges. If the box is larger than the canvas the range is reversed and we draw
      // within it anyway, which keeps the overhang balanced around the centre.
      let linear = parameters.transform(center: AffineTransform.center(width: width, height: height))
      let box = boundingBox(linear * sourceToCanvas, width: sourceWidth, height: sourceHeight)
      let lowX = -0.5 - box.minX, highX = Double(width) - 0.5 - box.maxX
      let lowY = -0.5 - box.minY, highY = Double(height) - 0.5 - box.maxY
      parameters.translateX = lowX + unitX * (highX - lowX)
      parameters.translateY = lowY + unitY * (highY - lowY)
    }
    return RandomAffineDraw(parameters: parameters, hflip: flipX, vflip: flipY)
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
