import STNImageIO
import STNTestSupport
import STNTensor
import STNWarp
import XCTest

@testable import STNPipeline

final class ChainPlannerTests: XCTestCase {
  private func config(_ yaml: String) throws -> PipelineConfig { try PipelineConfig.parse(yaml: yaml) }

  func testConsecutiveStagesComposeToTheProductOfTheirSteps() throws {
    let c = try config("""
      decode: {channels: 1}
      stages:
        - pad: {size: [40, 40]}
        - affine: {rotate: 30, scale: 0.5}
        - random_affine: {degrees: 20, translate: [0.1, 0.2], scale: [0.9, 1.1], shear: 5, hflip: 0.5}
        - resize: {size: [20, 30]}
        - center_crop: {size: [16, 24]}
      """)
    let planner = ChainPlanner(stages: c.stages.map(\.stage))
    var random = RandomStream(seed: 3, epoch: 1, index: 7)
    let geometry = planner.plan(width: 28, height: 28, random: &random)
    XCTAssertEqual(geometry.steps.count, 5)
    XCTAssertEqual(geometry.outputWidth, 24)
    XCTAssertEqual(geometry.outputHeight, 16)
    let product = geometry.steps.reduce(STNWarp.AffineTransform.identity) { $1.transform * $0 }
    XCTAssertLessThan(product.maxDifference(geometry.transform), 1e-12)
    // Pad 28 -> 40 centred moves pixel (0, 0) to (6, 6).
    XCTAssertEqual(geometry.steps[0].transform, .translation(x: 6, y: 6))
    // center_crop 30x20 -> 24x16 removes 3 columns and 2 rows on the left/top.
    XCTAssertEqual(geometry.steps[4].transform, .translation(x: -3, y: -2))
  }

  /// torchvision `F.affine`'s sign: a positive angle turns the content clockwise on screen (a
  /// point right of the centre moves below it), and a positive x shear moves rows below the
  /// centre to the left (checked on torchvision itself: `F.affine(angle=90)` and `shear=[45, 0]`
  /// on a one-dot 21x21 image). The fixture tests compare whole images.
  func testAffineFollowsTorchvisionSigns() throws {
    let center = STNWarp.AffineTransform.center(width: 21, height: 21)
    let rotate = AffineParameters(angle: 90).transform(center: center)
    let moved = rotate.apply(x: 18, y: 10)
    XCTAssertEqual(moved.x, 10, accuracy: 1e-9)
    XCTAssertEqual(moved.y, 18, accuracy: 1e-9)
    let sheared = AffineParameters(shearX: 45).transform(center: center).apply(x: 10, y: 18)
    XCTAssertEqual(sheared.x, 2, accuracy: 1e-9)
    XCTAssertEqual(sheared.y, 18, accuracy: 1e-9)
    // Without shear it is the STNWarp helpers' rotation with the opposite sign, then the scale.
    let mixed = AffineParameters(angle: 33, translateX: 3, translateY: -2, scale: 1.4).transform(center: center)
    let helpers = STNWarp.AffineTransform.translation(x: 3, y: -2) * .rotation(degrees: -33, center: center) * .scale(1.4, center: center)
    XCTAssertLessThan(mixed.maxDifference(helpers), 1e-12)
    // The stage uses it about the current canvas centre.
    let planner = ChainPlanner(stages: try config("stages:\n  - affine: {rotate: 90}\n").stages.map(\.stage))
    var random = RandomStream(seed: 0)
    XCTAssertLessThan(planner.plan(width: 21, height: 21, random: &random).transform.maxDifference(rotate), 1e-12)
  }

  /// `random_affine` draws torchvision `RandomAffine`'s parameters and applies them as `F.affine`:
  /// angle, scale and shear ranges as given (shear: one number -> x in -n...n, two -> x range,
  /// four -> x and y ranges), translate a whole number of pixels within fraction · size.
  func testRandomAffineDrawsFollowRandomAffine() throws {
    let stages = try config("""
      stages:
        - random_affine: {degrees: [10, 20], scale: [0.8, 0.9], shear: 7, translate: [0.1, 0.25]}
        - random_affine: {shear: [3, 4]}
        - random_affine: {shear: [3, 4, -6, -5], hflip: 1}
      """).stages.map(\.stage)
    var xShears: [Double] = [], translations: Set<Double> = []
    for index in 0..<300 {
      var random = RandomStream(seed: 5, epoch: 0, index: UInt64(index))
      var draws: [RandomAffineDraw] = []
      for stage in stages {
        guard case .randomAffine(let p) = stage else { return XCTFail("not random_affine") }
        draws.append(ChainPlanner.randomAffine(p, width: 96, height: 72, sourceWidth: 96, sourceHeight: 72, sourceToCanvas: .identity, random: &random))
      }
      let first = draws[0].parameters
      XCTAssertTrue((10...20).contains(first.angle) && (0.8...0.9).contains(first.scale) && (-7...7).contains(first.shearX), "\(first)")
      XCTAssertEqual(first.shearY, 0)
      // max_dx = 0.1 * 96 = 9.6 -> round(U[-9.6, 9.6]) in -10...10; max_dy = 18.
      XCTAssertEqual(first.translateX, first.translateX.rounded())
      XCTAssertTrue((-10...10).contains(first.translateX) && (-18...18).contains(first.translateY), "\(first)")
      xShears.append(first.shearX)
      translations.insert(first.translateX)
      XCTAssertTrue((3...4).contains(draws[1].parameters.shearX) && draws[1].parameters.shearY == 0, "\(draws[1])")
      XCTAssertTrue((3...4).contains(draws[2].parameters.shearX) && (-6...(-5)).contains(draws[2].parameters.shearY), "\(draws[2])")
      // The step is F.affine about the canvas centre, then the flip.
      let expected = STNWarp.AffineTransform.horizontalFlip(width: 96) * draws[2].parameters.transform(center: STNWarp.AffineTransform.center(width: 96, height: 72))
      XCTAssertLessThan(draws[2].transform(width: 96, height: 72).maxDifference(expected), 1e-12)
    }
    XCTAssertLessThan(xShears.min() ?? 0, -5)
    XCTAssertGreaterThan(xShears.max() ?? 0, 5)
    XCTAssertGreaterThan(translations.count, 15)
  }

  func testResizeMapIsPixelCentreExact() {
    let map = ChainPlanner.resizeMap(fromWidth: 4, fromHeight: 2, toWidth: 2, toHeight: 1)
    // Output pixel 0 covers input pixels 0 and 1: centre 0.5 maps to 0.
    let p = map.apply(x: 0.5, y: 0.5)
    XCTAssertEqual(p.x, 0, accuracy: 1e-12)
    XCTAssertEqual(p.y, 0, accuracy: 1e-12)
    // The outer edges map to the outer edges.
    XCTAssertEqual(map.apply(x: -0.5, y: -0.5).x, -0.5, accuracy: 1e-12)
    XCTAssertEqual(map.apply(x: 3.5, y: 1.5).x, 1.5, accuracy: 1e-12)
  }

  func testRandomParametersDependOnlyOnSeedEpochIndex() throws {
    let c = try config("stages:\n  - random_affine: {degrees: 45, scale: [0.5, 2], translate: [0.2, 0.2], hflip: 0.5}\n")
    let planner = ChainPlanner(stages: c.stages.map(\.stage))
    func plan(_ seed: UInt64, _ epoch: UInt64, _ index: UInt64, size: Int = 64) -> STNWarp.AffineTransform {
      var random = RandomStream(seed: seed, epoch: epoch, index: index)
      return planner.plan(width: size, height: size, random: &random).transform
    }
    XCTAssertEqual(plan(1, 2, 3), plan(1, 2, 3))
    XCTAssertNotEqual(plan(1, 2, 3), plan(1, 2, 4))
    XCTAssertNotEqual(plan(1, 2, 3), plan(1, 3, 3))
    XCTAssertNotEqual(plan(1, 2, 3), plan(2, 2, 3))
  }

  /// RTS: after pad 28 -> 42, `translate: inside` keeps the item's box within the canvas
  /// whenever it fits, and the placements spread over the allowed range.
  func testTranslateInsideKeepsTheContentOnTheCanvas() throws {
    let c = try config("""
      stages:
        - pad: {size: [42, 42]}
        - random_affine: {degrees: 45, scale: [0.7, 1.2], translate: inside}
      """)
    let planner = ChainPlanner(stages: c.stages.map(\.stage))
    var fitted = 0, leftHalf = 0
    for index in 0..<500 {
      var random = RandomStream(seed: 9, epoch: 0, index: UInt64(index))
      let geometry = planner.plan(width: 28, height: 28, random: &random)
      let box = ChainPlanner.boundingBox(geometry.transform, width: 28, height: 28)
      let width = box.maxX - box.minX, height = box.maxY - box.minY
      if width <= 42 && height <= 42 {
        fitted += 1
        XCTAssertGreaterThanOrEqual(box.minX, -0.5 - 1e-9)
        XCTAssertLessThanOrEqual(box.maxX, 41.5 + 1e-9)
        XCTAssertGreaterThanOrEqual(box.minY, -0.5 - 1e-9)
        XCTAssertLessThanOrEqual(box.maxY, 41.5 + 1e-9)
        if (box.minX + box.maxX) / 2 < 20.5 { leftHalf += 1 }
      } else {
        // Too large to fit: the overhang is shared, so the box still covers the canvas centre.
        XCTAssertLessThan(box.minX, 20.5)
        XCTAssertGreaterThan(box.maxX, 20.5)
      }
    }
    XCTAssertGreaterThan(fitted, 250)
    XCTAssertGreaterThan(leftHalf, fitted / 4)
    XCTAssertLessThan(leftHalf, 3 * fitted / 4)
  }

  func testReducedDecodeNeverGoesBelowTheResolutionTheOutputNeeds() {
    XCTAssertEqual(SampleProcessor.reduction(for: .scale(0.6)), 1)
    XCTAssertEqual(SampleProcessor.reduction(for: .scale(0.5)), 2)
    XCTAssertEqual(SampleProcessor.reduction(for: .scale(0.3)), 2)
    XCTAssertEqual(SampleProcessor.reduction(for: .scale(0.25)), 4)
    XCTAssertEqual(SampleProcessor.reduction(for: .scale(0.05)), 8)
    // Anisotropic: the less-shrunk axis decides.
    XCTAssertEqual(SampleProcessor.reduction(for: .scale(x: 0.1, y: 0.3)), 2)
    // Rotation does not change the footprint.
    XCTAssertEqual(SampleProcessor.reduction(for: .scale(0.25) * .rotation(degrees: 45)), 4)
  }

  /// The one-resample path against the step-by-step reference (full-resolution affine, then an
  /// antialiased resize) on smooth photo-like images: PSNR >= 30 dB.
  func testOneResampleMatchesStepByStepReference() throws {
    let c = try config("""
      stages:
        - random_affine: {degrees: 30, translate: [0.1, 0.1], scale: [0.8, 1.2]}
        - resize: {size: [56, 56]}
      """)
    let images = (0..<4).map { TestImages.smooth(width: 125, height: 94, channels: 3, variant: $0) }
    let dataset = MemoryDataset(images: images, labels: [0, 0, 1, 1])
    let processor = try SampleProcessor(config: c)
    var prefiltered = 0
    for index in 0..<dataset.count {
      let sample = try processor.prepare(dataset: dataset, index: index, epoch: 0)
      if sample.prefiltered { prefiltered += 1 }
      let fused = try processor.renderUInt8(sample)
      let reference = try processor.referenceRender(dataset: dataset, index: index, epoch: 0)
      XCTAssertEqual(fused.width, 56)
      let psnr = StepByStepReference.psnr(fused, reference)
      XCTAssertGreaterThanOrEqual(psnr, 30, "sample \(index): \(psnr) dB")
    }
    XCTAssertGreaterThan(prefiltered, 0, "125 -> 56 shrinks by > 1.5x, the area prefilter should run")
  }

  /// Shrinking a one-pixel checkerboard 4x must give flat gray instead of aliasing into
  /// stripes: on the separable path (resize alone: the antialiased filter) and on the warp path
  /// (an affine before the resize: the box prefilter removes what the output cannot represent).
  func testMinifyingDoesNotAlias() throws {
    let dataset = MemoryDataset(images: [TestImages.checkerboard(width: 64, height: 64)], labels: [0])
    for (stages, warps) in [("  - resize: {size: [16, 16]}\n", false), ("  - affine: {rotate: 0.01}\n  - resize: {size: [16, 16]}\n", true)] {
      let processor = try SampleProcessor(config: try config("decode: {channels: 1}\nstages:\n" + stages))
      let sample = try processor.prepare(dataset: dataset, index: 0, epoch: 0)
      XCTAssertEqual(sample.prefiltered, warps, stages)
      XCTAssertEqual(sample.resampleAxes == nil, warps, stages)
      let output = try processor.renderUInt8(sample)
      for (i, value) in output.pixels.enumerated() where !warps || (i % 16 > 0 && i % 16 < 15 && i > 16 && i < 240) {
        XCTAssertEqual(Double(value), 127.5, accuracy: 2, stages)
      }
    }
  }

  func testEmptyStagesGiveTheDecodedPixelsUnchanged() throws {
    let c = try config("stages: []\n")
    let image = TestImages.smooth(width: 17, height: 9, channels: 3)
    let dataset = MemoryDataset(images: [image], labels: [0])
    let processor = try SampleProcessor(config: c)
    let sample = try processor.prepare(dataset: dataset, index: 0, epoch: 0)
    XCTAssertEqual(try processor.renderUInt8(sample), image)
    var floats = [Float](repeating: 0, count: 17 * 9 * 3)
    try floats.withUnsafeMutableBufferPointer { try processor.renderFloat(sample, into: $0.baseAddress!) }
    // (C,H,W) layout, x/255.
    XCTAssertEqual(floats[0], Float(image.pixels[0]) / 255, accuracy: 1e-6)
    XCTAssertEqual(floats[17 * 9 + 1], Float(image.pixels[4]) / 255, accuracy: 1e-6)
  }

  func testPadPlacesTheImageExactly() throws {
    let c = try config("decode: {channels: 1}\nstages:\n  - pad: {size: [4, 5]}\n")
    let image = Image(width: 2, height: 2, channels: 1, pixels: [10, 20, 30, 40])
    let processor = try SampleProcessor(config: c)
    let sample = try processor.prepare(dataset: MemoryDataset(images: [image], labels: [0]), index: 0, epoch: 0)
    let output = try processor.renderUInt8(sample)
    XCTAssertEqual(output.width, 5)
    XCTAssertEqual(output.height, 4)
    // Offsets floor((5-2)/2) = 1, floor((4-2)/2) = 1.
    XCTAssertEqual(output.pixels, [0, 0, 0, 0, 0,
                                   0, 10, 20, 0, 0,
                                   0, 30, 40, 0, 0,
                                   0, 0, 0, 0, 0])
  }

  func testAreaResizeAveragesBlocks() {
    let image = Image(width: 4, height: 2, channels: 1, pixels: [0, 10, 20, 30, 40, 50, 60, 70])
    XCTAssertEqual(AreaResize.resize(image, width: 2, height: 1).pixels, [25, 45])
    // 3 -> 2: the middle pixel is shared half and half.
    let three = Image(width: 3, height: 1, channels: 1, pixels: [0, 90, 180])
    XCTAssertEqual(AreaResize.resize(three, width: 2, height: 1).pixels, [30, 150])
  }
}
