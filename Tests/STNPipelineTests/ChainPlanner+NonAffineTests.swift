import Foundation
import STNImageIO
import STNTestSupport
import STNTensor
import STNWarp
import XCTest

@testable import STNPipeline

/// `perspective`, `random_perspective` and `random_elastic`: planning, one resample, the
/// step-by-step reference, augment, parsing. (torchvision equality of `perspective` is in
/// SampleProcessor+TorchvisionTests.swift.)
final class NonAffineStagesTests: XCTestCase {
  private func processor(_ yaml: String) throws -> SampleProcessor {
    try SampleProcessor(config: PipelineConfig.parse(yaml: yaml, path: "test.yaml"))
  }

  private func render(_ processor: SampleProcessor, _ image: Image, index: Int = 0, epoch: Int = 0) throws -> (PreparedSample, Image) {
    let dataset = MemoryDataset(images: [Image](repeating: image, count: index + 1), labels: [Int](repeating: 0, count: index + 1))
    let sample = try processor.prepare(dataset: dataset, index: index, epoch: epoch)
    return (sample, try processor.renderUInt8(sample))
  }

  private func maxDifference(_ a: Image, _ b: Image) -> Int {
    zip(a.pixels, b.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 0
  }

  // MARK: random_perspective

  func testRandomPerspectiveIsDeterministicPerSeedEpochIndex() throws {
    let yaml = "seed: 5\nstages:\n  - random_perspective: {distortion_scale: 0.6, p: 1}\n"
    let image = TestImages.smooth(width: 40, height: 30, channels: 3)
    let first = try render(processor(yaml), image, index: 3, epoch: 2).1
    let again = try render(processor(yaml), image, index: 3, epoch: 2).1
    XCTAssertEqual(first.pixels, again.pixels)
    let otherIndex = try render(processor(yaml), image, index: 4, epoch: 2).1
    let otherEpoch = try render(processor(yaml), image, index: 3, epoch: 1).1
    XCTAssertNotEqual(first.pixels, otherIndex.pixels)
    XCTAssertNotEqual(first.pixels, otherEpoch.pixels)
  }

  /// torchvision `RandomPerspective.get_params`: with half = size // 2 and b = int(d · half),
  /// top-left x in 0...b, top-right x in width-b-1...width-1 (likewise for y and the other corners).
  func testRandomPerspectivePointsStayInTorchvisionsRanges() {
    for (width, height, scale) in [(40, 30, 0.5), (33, 17, 1.0), (8, 9, 0.3)] {
      let stage = RandomPerspectiveStage(distortionScale: scale, p: 1)
      let bx = Int(scale * Double(width / 2)), by = Int(scale * Double(height / 2))
      var seen = Set<[Double]>()
      for index in 0..<300 {
        var random = RandomStream(seed: 1, epoch: 0, index: UInt64(index))
        guard let drawn = ChainPlanner.randomPerspective(stage, width: width, height: height, random: &random) else { return XCTFail("p = 1 always distorts") }
        let w = Double(width - 1), h = Double(height - 1)
        XCTAssertEqual(drawn.startpoints, [SIMD2(0, 0), SIMD2(w, 0), SIMD2(w, h), SIMD2(0, h)])
        let e = drawn.endpoints
        let left = 0...Double(bx), right = Double(width - bx - 1)...w, top = 0...Double(by), bottom = Double(height - by - 1)...h
        XCTAssertTrue(left.contains(e[0].x) && top.contains(e[0].y), "\(e)")
        XCTAssertTrue(right.contains(e[1].x) && top.contains(e[1].y), "\(e)")
        XCTAssertTrue(right.contains(e[2].x) && bottom.contains(e[2].y), "\(e)")
        XCTAssertTrue(left.contains(e[3].x) && bottom.contains(e[3].y), "\(e)")
        XCTAssertTrue(e.allSatisfy { $0.x == $0.x.rounded() && $0.y == $0.y.rounded() }, "integers, as torch.randint")
        seen.insert([e[0].x, e[0].y, e[2].x, e[2].y])
      }
      // Every value of the ranges is reached (the ends included).
      XCTAssertEqual(Set(seen.map { $0[0] }), Set((0...bx).map(Double.init)), "\(width)x\(height)")
      XCTAssertEqual(Set(seen.map { $0[2] }), Set((width - bx - 1...width - 1).map(Double.init)), "\(width)x\(height)")
    }
  }

  func testRandomPerspectiveProbability() throws {
    let image = TestImages.smooth(width: 40, height: 30, channels: 3)
    let never = try processor("stages:\n  - random_perspective: {distortion_scale: 0.5, p: 0}\n")
    let always = try processor("stages:\n  - random_perspective: {distortion_scale: 0.5, p: 1}\n")
    for index in 0..<20 {
      let (sample, output) = try render(never, image, index: index)
      XCTAssertNil(sample.map)
      XCTAssertEqual(output.pixels, image.pixels, "p = 0: the image as it is")
      let geometry = always.plan(sourceWidth: 40, sourceHeight: 30, epoch: 0, index: index)
      guard case .homography? = geometry.map else { return XCTFail("p = 1 distorts every sample: \(String(describing: geometry.map))") }
    }
    // distortion_scale 0: the corners stay put, the map is the identity.
    let flat = try processor("stages:\n  - random_perspective: {distortion_scale: 0, p: 1}\n")
    XCTAssertLessThanOrEqual(maxDifference(try render(flat, image).1, image), 1)
  }

  /// `sigma`: the STN paper's P. Each corner moves by sigma times the stream's next two normals
  /// (x, then y; corners top-left, top-right, bottom-right, bottom-left), after the p draw.
  func testRandomPerspectiveWithSigmaMovesEachCornerByGaussianNoise() throws {
    let stage = RandomPerspectiveStage(p: 1, sigma: 5)
    for index in 0..<20 {
      var random = RandomStream(seed: 9, epoch: 1, index: UInt64(index))
      let drawn = try XCTUnwrap(ChainPlanner.randomPerspective(stage, width: 28, height: 28, random: &random))
      var replay = RandomStream(seed: 9, epoch: 1, index: UInt64(index))
      _ = replay.uniform(0, 1)
      XCTAssertEqual(drawn.startpoints, [SIMD2(0, 0), SIMD2(27, 0), SIMD2(27, 27), SIMD2(0, 27)])
      for (start, end) in zip(drawn.startpoints, drawn.endpoints) {
        let dx = replay.normal(), dy = replay.normal()
        XCTAssertEqual(end.x, start.x + 5 * dx, accuracy: 1e-12)
        XCTAssertEqual(end.y, start.y + 5 * dy, accuracy: 1e-12)
      }
    }
    // p = 0 and sigma = 0 leave the image as it is; the same key gives the same output.
    let image = TestImages.smooth(width: 28, height: 28, channels: 3)
    XCTAssertEqual(try render(processor("stages:\n  - random_perspective: {sigma: 5, p: 0}\n"), image).1.pixels, image.pixels)
    XCTAssertLessThanOrEqual(maxDifference(try render(processor("stages:\n  - random_perspective: {sigma: 0, p: 1}\n"), image).1, image), 1)
    let paper = try processor("seed: 4\nstages:\n  - random_perspective: {sigma: 5, p: 1}\n")
    XCTAssertEqual(try render(paper, image, index: 2).1.pixels, try render(paper, image, index: 2).1.pixels)
    XCTAssertNotEqual(try render(paper, image, index: 2).1.pixels, image.pixels)
  }

  // MARK: random_elastic

  func testElasticWithSigmaZeroIsTheIdentity() throws {
    for channels in [1, 3] {
      let image = TestImages.smooth(width: 37, height: 23, channels: channels, variant: channels)
      let elastic = try processor("decode: {channels: \(channels)}\nstages:\n  - random_elastic: {sigma: 0, grid: 4}\n")
      let (sample, output) = try render(elastic, image)
      guard case .thinPlateSpline? = sample.map else { return XCTFail("the spline is planned even at sigma 0") }
      XCTAssertLessThanOrEqual(maxDifference(output, image), 1)
      var floats = [Float](repeating: 0, count: image.pixels.count)
      try floats.withUnsafeMutableBufferPointer { try elastic.renderFloat(sample, into: $0.baseAddress!) }
      let plane = image.width * image.height
      var worst: Float = 0
      for i in 0..<image.pixels.count {
        let value: Float = floats[(i % channels) * plane + i / channels] * 255
        worst = max(worst, abs(value - Float(image.pixels[i])))
      }
      XCTAssertLessThan(worst, 1e-2)
    }
  }

  func testElasticIsDeterministicAndVaries() throws {
    let yaml = "seed: 9\nstages:\n  - random_elastic: {sigma: 2, grid: 3}\n"
    let image = TestImages.smooth(width: 32, height: 32, channels: 3)
    let a = try render(processor(yaml), image, index: 1).1, b = try render(processor(yaml), image, index: 1).1
    XCTAssertEqual(a.pixels, b.pixels)
    XCTAssertNotEqual(a.pixels, try render(processor(yaml), image, index: 2).1.pixels)
    XCTAssertGreaterThan(maxDifference(a, image), 2)
    let never = try processor("stages:\n  - random_elastic: {sigma: 2, p: 0}\n")
    XCTAssertEqual(try render(never, image).1.pixels, image.pixels)
  }

  /// The drawn displacements, replayed by hand from the sample's stream (p's draw, then x and y
  /// per control point), land exactly where the planned map sends the control points; and a
  /// spline whose targets are all one shift is that shift everywhere.
  func testElasticControlPointsMoveByTheDrawnNoise() throws {
    let elastic = try processor("seed: 3\nstages:\n  - random_elastic: {sigma: 1.5, grid: 2}\n")
    let geometry = elastic.plan(sourceWidth: 20, sourceHeight: 10, epoch: 4, index: 7)
    let map = try XCTUnwrap(geometry.map)
    var random = RandomStream(seed: 3, epoch: 4, index: 7)
    _ = random.uniform(0, 1)
    // grid 2 on 20x10: the image's corners, pixel edge to pixel edge.
    let controls: [SIMD2<Double>] = [SIMD2(-0.5, -0.5), SIMD2(19.5, -0.5), SIMD2(-0.5, 9.5), SIMD2(19.5, 9.5)]
    XCTAssertEqual(ChainPlanner.elasticControlPoints(grid: 2, width: 20, height: 10), controls)
    for control in controls {
      let dx = random.normal(), dy = random.normal()
      let p = map.apply(x: control.x, y: control.y)
      XCTAssertEqual(p.x, control.x + 1.5 * dx, accuracy: 1e-9)
      XCTAssertEqual(p.y, control.y + 1.5 * dy, accuracy: 1e-9)
    }
    let shift = try XCTUnwrap(ThinPlateSpline(controlPoints: controls, targets: controls.map { $0 + SIMD2(1.25, -0.5) }))
    let centre = shift.apply(x: 9.5, y: 4.5)
    XCTAssertEqual(centre.x, 10.75, accuracy: 1e-9)
    XCTAssertEqual(centre.y, 4.0, accuracy: 1e-9)
  }

  // MARK: Composition

  /// The one resample against the step-by-step reference, on the photo fixtures and with the
  /// rule of `PhotoFixtureTests` (>= 30 dB), at epochs 0 and 1 (so JPEG reduced decodes and the
  /// box prefilter take part).
  ///
  /// NOTE: the chains never pull in content an earlier step moved off its canvas: the reference
  /// loses such content (its canvases are cut at each step) while the one resample keeps it, a
  /// difference by design, not an error.
  private func assertMatchesStepByStepOnPhotos(_ stages: String, check: (SampleGeometry) -> Void, file: StaticString = #filePath, line: UInt = #line) throws {
    let dataset = try ImageFolder(root: Golden.packageRoot + "/Tests/STNPipelineFixtures")
    let processor = try processor("seed: 2\nstages:\n" + stages)
    for epoch in 0..<2 {
      for index in 0..<dataset.count {
        let sample = try processor.prepare(dataset: dataset, index: index, epoch: epoch)
        check(processor.plan(sourceWidth: sample.sourceWidth, sourceHeight: sample.sourceHeight, epoch: epoch, index: index))
        let fused = try processor.renderUInt8(sample)
        let reference = try processor.referenceRender(dataset: dataset, index: index, epoch: epoch)
        let psnr = StepByStepReference.psnr(fused, reference)
        XCTAssertGreaterThanOrEqual(psnr, 30, "photo \(index) epoch \(epoch): \(psnr) dB", file: file, line: line)
      }
    }
  }

  func testAffineThenPerspectiveIsOneHomographyAndMatchesStepByStep() throws {
    try assertMatchesStepByStepOnPhotos("""
        - random_perspective: {distortion_scale: 0.2, p: 1}
        - random_affine: {degrees: 20, scale: [0.8, 0.9]}
        - perspective: {startpoints: [[10, 8], [190, 5], [195, 140], [6, 144]], endpoints: [[0, 0], [199, 0], [199, 149], [0, 149]]}
        - resize: {size: [48, 64]}
      """) { geometry in
      guard case .homography? = geometry.map else { return XCTFail("affine and perspective compose into one homography: \(String(describing: geometry.map))") }
    }
  }

  func testElasticComposesWithItsAffineNeighboursAndMatchesStepByStep() throws {
    try assertMatchesStepByStepOnPhotos("""
        - random_affine: {degrees: 10, scale: [0.7, 0.75]}
        - random_elastic: {sigma: 3, grid: 4}
        - affine: {rotate: -5}
        - resize: {size: [48, 64]}
      """) { geometry in
      XCTAssertEqual(geometry.map?.pieces.count, 3, "affine, spline, affine: \(String(describing: geometry.map))")
    }
  }

  /// A perspective that shrinks the image 4x is box-halved first (by its smallest local scale)
  /// and still matches the reference.
  func testShrinkingPerspectiveIsPrefiltered() throws {
    let processor = try processor("""
      stages:
        - perspective: {startpoints: [[0, 0], [95, 0], [95, 95], [0, 95]], endpoints: [[1, 1], [22, 2], [23, 23], [2, 22]]}
        - center_crop: {size: 24}
      """)
    let image = TestImages.smooth(width: 96, height: 96, channels: 3, variant: 3)
    let dataset = MemoryDataset(images: [image], labels: [0])
    let sample = try processor.prepare(dataset: dataset, index: 0, epoch: 0)
    XCTAssertTrue(sample.prefiltered)
    XCTAssertLessThanOrEqual(sample.image.width, 48)
    let psnr = StepByStepReference.psnr(try processor.renderUInt8(sample), try processor.referenceRender(dataset: dataset, index: 0, epoch: 0))
    XCTAssertGreaterThanOrEqual(psnr, 25, "\(psnr) dB")
  }

  /// Perspective and elastic stages may stand on either side of a learned stage (the pixels are
  /// tested in STNTrainTests' LearnedTransformTests).
  func testLearnedStageAcceptsNonAffineStagesAroundIt() throws {
    let yaml = "stages:\n  - random_elastic: {sigma: 1}\n  - learned_affine: {checkpoint: x.safetensors}\n  - random_perspective: {p: 1}\n"
    XCTAssertNoThrow(try SampleProcessor(config: try PipelineConfig.parse(yaml: yaml, path: "test.yaml")))
  }

  // MARK: Augment

  func testAugmentWithEachNewStageIsByteIdenticalAtOneAndTwoThreads() throws {
    let input = try TestImages.temporaryFolder("nonaffine-in")
    for i in 0..<3 {
      try ImageCodec.write(TestImages.smooth(width: 28 + i, height: 22 + i, channels: 3, variant: i), to: input + "/c/img\(i).png", jpegQuality: 90)
    }
    for stage in ["perspective: {startpoints: [[0, 0], [20, 0], [20, 15], [0, 15]], endpoints: [[2, 1], [19, 0], [20, 14], [1, 13]]}",
                  "random_perspective: {distortion_scale: 0.5, p: 0.5}", "random_elastic: {sigma: 1.5, grid: 3}"] {
      let config = try PipelineConfig.parse(yaml: "seed: 7\nstages:\n  - \(stage)\n  - resize: {size: [20, 24]}\n")
      var outputs: [[Data]] = []
      for threads in [1, 2] {
        let output = try TestImages.temporaryFolder("nonaffine-out-\(threads)")
        let summary = try AugmentJob(config: config, folder: input, output: output, threads: threads, copies: 2).run()
        XCTAssertEqual(summary.written, 6, stage)
        outputs.append(try (0..<3).flatMap { i in try (0..<2).map { copy in try Data(contentsOf: URL(fileURLWithPath: output + "/c/img\(i)_\(copy).png")) } })
      }
      XCTAssertEqual(outputs[0], outputs[1], stage)
    }
  }

  // MARK: Batches (stn train / eval / export)

  /// The float batches of a chain with every new stage: the same at 1 and 3 loader threads, and
  /// each image the uint8 output before rounding (within half a step, in normalized units).
  func testBatchesWithTheNewStagesAreThreadIndependentAndMatchTheUInt8Output() throws {
    let config = try PipelineConfig.parse(yaml: """
      decode: {channels: 1}
      stages:
        - random_perspective: {distortion_scale: 0.4, p: 0.7}
        - random_affine: {degrees: 10}
        - random_elastic: {sigma: 1, grid: 3}
        - perspective: {startpoints: [[0, 0], [27, 0], [27, 27], [0, 27]], endpoints: [[1, 1], [26, 0], [27, 26], [0, 27]]}
        - resize: {size: [20, 20]}
        - normalize: {mean: [0.5], std: [0.25]}
      batch: {size: 4, shuffle: true}
      seed: 8
      """)
    let data = MemoryDataset(images: (0..<9).map { TestImages.smooth(width: 28, height: 28, channels: 1, variant: $0) }, labels: [Int](repeating: 0, count: 9))
    let one = Array(try BatchLoader(config: config, dataset: data, epoch: 1, threads: 1))
    let three = Array(try BatchLoader(config: config, dataset: data, epoch: 1, threads: 3, prefetchBatches: 1))
    XCTAssertEqual(one.flatMap { $0.images.data.map(\.bitPattern) }, three.flatMap { $0.images.data.map(\.bitPattern) })
    XCTAssertEqual(one.flatMap(\.indices).sorted(), Array(0..<9))
    let processor = try SampleProcessor(config: config)
    let batch = try XCTUnwrap(one.first)
    for (slot, index) in batch.indices.enumerated() {
      let bytes = try processor.renderUInt8(processor.prepare(dataset: data, index: index, epoch: 1))
      for i in 0..<400 {
        let pixel = (batch.images.data[slot * 400 + i] * 0.25 + 0.5) * 255
        XCTAssertEqual(pixel, Float(bytes.pixels[i]), accuracy: 0.5001, "sample \(index) pixel \(i)")
      }
    }
  }

  // MARK: Parsing

  func testParsesTheNewStages() throws {
    let config = try PipelineConfig.parse(yaml: """
      stages:
        - perspective: {startpoints: [[0, 0], [31, 0], [31, 23], [0, 23]], endpoints: [[1.5, 2], [30, 1], [29, 22], [0, 20]]}
        - random_perspective: {distortion_scale: 0.25, p: 0.75, fill: 0}
        - random_perspective: {}
        - random_elastic: {sigma: 2.5, grid: 5, p: 0.5}
        - random_elastic: {sigma: 1}
      """)
    XCTAssertEqual(config.stages[0].stage, .perspective(PerspectiveStage(startpoints: [SIMD2(0, 0), SIMD2(31, 0), SIMD2(31, 23), SIMD2(0, 23)],
                                                                         endpoints: [SIMD2(1.5, 2), SIMD2(30, 1), SIMD2(29, 22), SIMD2(0, 20)])))
    XCTAssertEqual(config.stages[1].stage, .randomPerspective(RandomPerspectiveStage(distortionScale: 0.25, p: 0.75)))
    XCTAssertEqual(config.stages[2].stage, .randomPerspective(RandomPerspectiveStage(distortionScale: 0.5, p: 0.5)))
    XCTAssertEqual(config.stages[3].stage, .randomElastic(RandomElasticStage(sigma: 2.5, grid: 5, p: 0.5)))
    XCTAssertEqual(config.stages[4].stage, .randomElastic(RandomElasticStage(sigma: 1, grid: 4, p: 1)))
  }

  func testParseErrorsNameTheKey() {
    let points = "[[0, 0], [9, 0], [9, 9], [0, 9]]"
    let cases: [(String, String)] = [
      ("perspective: {startpoints: \(points), endpoints: \(points), fil: 0}", "unknown key 'fil'"),
      ("perspective: {startpoints: [[0, 0], [9, 0], [9, 9]], endpoints: \(points)}", "perspective.startpoints needs 4 points"),
      ("perspective: {startpoints: \(points), endpoints: [[0, 0], [9, 0], [9, 9], [0, 9], [1, 1]]}", "perspective.endpoints needs 4 points"),
      ("perspective: {startpoints: \(points), endpoints: [[0, 0], [9, 0], [9, 9], [0]]}", "perspective.endpoints: each point is [x, y]"),
      ("perspective: {startpoints: \(points)}", "endpoints"),
      ("perspective: {startpoints: \(points), endpoints: [[0, 0], [5, 5], [9, 9], [0, 9]]}", "do not determine a perspective map"),
      ("random_perspective: {distortion_scale: 1.5}", "random_perspective.distortion_scale must be in 0...1"),
      ("random_perspective: {distortion_scale: -0.1}", "random_perspective.distortion_scale must be in 0...1"),
      ("random_perspective: {p: 2}", "random_perspective.p is a probability in 0...1"),
      ("random_perspective: {scale: 0.5}", "unknown key 'scale'"),
      ("random_perspective: {sigma: -2}", "random_perspective.sigma"),
      ("random_perspective: {sigma: .nan}", "random_perspective.sigma"),
      ("random_perspective: {sigma: 2, distortion_scale: 0.5}", "not both"),
      ("random_elastic: {sigma: -1}", "random_elastic.sigma"),
      ("random_elastic: {sigma: .inf}", "random_elastic.sigma"),
      ("random_elastic: {sigma: .nan}", "random_elastic.sigma"),
      ("random_elastic: {grid: 4}", "sigma"),
      ("random_elastic: {sigma: 1, grid: 1}", "random_elastic.grid"),
      ("random_elastic: {sigma: 1, p: -0.5}", "random_elastic.p is a probability in 0...1"),
      ("random_elastic: {sigma: 1, sigmas: 2}", "unknown key 'sigmas'"),
    ]
    for (stage, fragment) in cases {
      XCTAssertThrowsError(try PipelineConfig.parse(yaml: "stages:\n  - \(stage)\n", path: "bad.yaml"), stage) { error in
        guard let error = error as? PipelineError else { return XCTFail("\(stage): \(error)") }
        XCTAssertEqual(error.line, 2, stage)
        XCTAssertTrue(error.reason.contains(fragment), "\(stage): '\(error.reason)' lacks '\(fragment)'")
        XCTAssertFalse(error.reason.contains("\n"), "one line")
      }
    }
  }
}

