import Foundation
import STNImageIO
import STNNetwork
import STNPipeline
import STNTensor
import STNTestSupport
import STNWarp
import XCTest
@testable import STNTrain

/// `learned_transform: {checkpoint: PATH}` (alias `learned_affine`) applies the transform a
/// checkpoint's spatial transformer predicts, affine, projective or TPS, composed with the stages
/// around it into the pipeline's single resample.
final class LearnedTransformTests: SyntheticFolderTestCase {
  override class var folderName: String { "learned" }
  override class var imagesPerClass: Int? { 4 }

  func batches(_ yaml: String, predictor: ThetaPredictor?) throws -> Tensor {
    let config = try PipelineConfig.parse(yaml: yaml, path: folder + "/p.yaml")
    let dataset = try TrainingSession.openData(folder + "/data", split: nil)
    let loader = try BatchLoader(config: config, dataset: dataset, epoch: 0, threads: 1, predictor: predictor)
    var images: [Float] = []
    var shape: [Int] = []
    while let batch = loader.next() {
      images += batch.images.data
      shape = [images.count / (batch.images.count / batch.images.shape[0])] + Array(batch.images.shape.dropFirst())
    }
    return Tensor(shape: shape, data: images)
  }

  /// A pipeline's start for `batches`: seeded, gray, unshuffled batches of 4, padded to 12x12.
  let batchHead = "name: t\nseed: 5\ndecode: {channels: 1}\nbatch: {size: 4, shuffle: false}\nstages:\n  - pad: {size: [12, 12]}\n"

  func testPredictorReturnsTheCheckpointsTheta() throws {
    let theta: [Float] = [0.8, 0.1, 0.25, -0.1, 0.9, -0.5]
    let predictor = try CheckpointThetaPredictor(checkpoint: try writeConstantThetaCheckpoint(theta), threads: 1)
    XCTAssertEqual([predictor.inputChannels, predictor.inputHeight, predictor.inputWidth], [1, 12, 12])
    XCTAssertEqual(predictor.inputScale[0], 1 / (255 * 0.5), accuracy: 1e-9)
    XCTAssertEqual(predictor.inputBias[0], -1, accuracy: 1e-9)
    let thetas = try predictor.predictThetas(Tensor(shape: [3, 1, 12, 12], repeating: 0.3))
    XCTAssertEqual(thetas.count, 3)
    XCTAssertEqual(thetas[2].coefficients.map { Float($0) }, theta)
  }

  func testLearnedStageEqualsTheEquivalentFixedAffine() throws {
    // theta = translation by +0.5 in normalized x: output pixel x samples input x + 3 (12 px wide),
    // i.e. the content moves 3 px left: the fixed source->destination map [[1,0,-3],[0,1,0]].
    let path = try writeConstantThetaCheckpoint([1, 0, 0.5, 0, 1, 0])
    let head = batchHead
    let tail = "  - normalize: {mean: [0.5], std: [0.5]}\n"
    let learned = head + "  - learned_affine: {checkpoint: \(path)}\n" + tail
    let fixed = head + "  - affine: {matrix: [[1, 0, -3], [0, 1, 0]]}\n" + tail
    let predictor = try CheckpointThetaPredictor(checkpoint: path, threads: 1)
    let viaCheckpoint = try batches(learned, predictor: predictor)
    let viaMatrix = try batches(fixed, predictor: nil)
    XCTAssertEqual(viaCheckpoint.shape, [8, 1, 12, 12])
    XCTAssertLessThan(viaCheckpoint.maxAbsDifference(viaMatrix), 1e-4)
    let untouched = try batches(head + tail, predictor: nil)
    XCTAssertGreaterThan(viaCheckpoint.maxAbsDifference(untouched), 0.5, "the transform did move pixels")
  }

  func testForPipelineFindsTheStageCheckpoint() throws {
    let path = try writeConstantThetaCheckpoint([1, 0, 0, 0, 1, 0])
    let config = try PipelineConfig.parse(yaml: "stages:\n  - learned_affine: {checkpoint: \(path)}\n", path: folder + "/p.yaml")
    XCTAssertEqual(try CheckpointThetaPredictor.forPipeline(config)?.checkpoint, path)
    XCTAssertNil(try CheckpointThetaPredictor.forPipeline(try PipelineConfig.parse(yaml: "stages: []\n", path: "p.yaml")))
  }

  func testModelWithoutFrontTransformerIsRejected() throws {
    let spec = try ModelSpec.fromJSON(#"["flatten",{"linear":"classes"}]"#, source: "test")
    let model = try Model(spec: spec, inputShape: [1, 4, 4], classCount: 2)
    XCTAssertThrowsError(try CheckpointThetaPredictor(model: model, preprocessing: nil, checkpoint: "x.safetensors")) { error in
      XCTAssertTrue("\(error)".contains("spatial_transformer"))
    }
  }

  // MARK: - Projective and TPS checkpoints

  /// A checkpoint (12x12 gray, x/255) with a `transform` spatial transformer. `parameters` nil:
  /// as initialised (the identity); otherwise the last Linear's bias, with small weights so that
  /// each image gets its own prediction.
  func writeCheckpoint(transform: String, parameters: [Float]?) throws -> (path: String, model: Model) {
    let grid = transform == "tps" ? #","control_grid":3"# : ""
    let spec = try ModelSpec.fromJSON(
      #"[{"spatial_transformer":{"transform":"\#(transform)"\#(grid),"localization":["flatten",{"linear":4},"relu",{"linear":"theta"}]}},"flatten",{"linear":"classes"}]"#,
      source: "test")
    let model = try Model(spec: spec, inputShape: [1, 12, 12], classCount: 2, seed: 1)
    if let parameters {
      guard let transformer = model.layers.first as? SpatialTransformer, let last = transformer.localization.layers.last as? Linear,
            let bias = last.bias else { throw TrainSessionError("no localization Linear") }
      let count = last.weight.shape.reduce(1, *)
      model.parameters.set(last.weight, to: Tensor(shape: last.weight.shape, data: (0..<count).map { 0.02 * sin(Float($0)) }))
      model.parameters.set(bias, to: Tensor(shape: [parameters.count], data: parameters))
    }
    let path = folder + "/\(transform).safetensors"
    try Checkpoint.save(model: model, optimizer: nil, info: CheckpointInfo(classNames: ["left", "right"]), to: path)
    return (path, model)
  }

  /// Non-identity parameters of each family (TPS: 3x3 control points).
  let families: [(transform: String, parameters: [Float])] = [
    ("projective", [0.9, 0.15, 0.1, -0.1, 1.1, -0.05, 0.2, -0.15]),
    ("tps", (0..<18).map { 0.12 * sin(Float($0) + 0.5) }),
  ]

  /// `stn augment`'s pixels for `stages` (after `pad` to 12x12), by relative path.
  func augment(_ stages: String, predictor: ThetaPredictor?, name: String) throws -> [String: Image] {
    let yaml = "decode: {channels: 1}\nbatch: {size: 3, shuffle: false}\nstages:\n  - pad: {size: [12, 12]}\n" + stages
    let config = try PipelineConfig.parse(yaml: yaml, path: folder + "/p.yaml")
    var job = AugmentJob(config: config, dataset: try ImageFolder(root: folder + "/data"), inputs: [folder + "/data"], outputRoot: folder + "/" + name)
    job.threads = 2
    job.predictor = predictor
    let summary = try job.run()
    XCTAssertEqual(summary.written, 8)
    var images: [String: Image] = [:]
    let tree = try ImageFolder(root: folder + "/" + name)
    for i in 0..<tree.count { images[tree.relativePath(at: i)] = try tree.loadImage(at: i, options: DecodeOptions(channels: 1)) }
    return images
  }

  /// The network's own spatial transformer output for one 12x12 gray image (pixels / 255).
  func transformerOutput(_ model: Model, _ image: Image) throws -> Tensor {
    guard let transformer = model.layers.first as? SpatialTransformer else { throw TrainSessionError("no transformer") }
    let graph = Graph(parameters: model.parameters, training: false)
    let input = Tensor(shape: [1, 1, 12, 12], data: image.pixels.map { Float($0) / 255 })
    return graph.value(transformer.forward(graph.input(input), in: graph))
  }

  /// The predictor's maps are the transformer's sampling grids, in pixels: at every output pixel
  /// centre, within float32 rounding of the network's grid.
  func testProjectiveAndTPSPredictorsReturnTheTransformersGrid() throws {
    for (transform, parameters) in families {
      let (path, model) = try writeCheckpoint(transform: transform, parameters: parameters)
      let predictor = try CheckpointThetaPredictor(checkpoint: path, threads: 1)
      XCTAssertEqual(predictor.family.rawValue, transform)
      XCTAssertThrowsError(try predictor.predictThetas(Tensor(shape: [1, 1, 12, 12])), transform) { error in
        XCTAssertTrue("\(error)".hasPrefix(path + ": its spatial transformer is transform: \(transform)"), "\(error)")
      }
      let images = Tensor(shape: [3, 1, 12, 12], data: (0..<432).map { Float(($0 * 37) % 256) / 255 })
      guard case .maps(let maps) = try predictor.predictTransforms(images) else { return XCTFail("\(transform): no maps") }
      XCTAssertEqual(maps.count, 3)
      guard let transformer = model.layers.first as? SpatialTransformer else { return XCTFail("no transformer") }
      let graph = Graph(parameters: model.parameters, training: false)
      let theta = graph.value(transformer.theta(graph.input(images), in: graph))
      let grid = transformer.splineBasis.map { thinPlateSplineGrid(sourcePoints: theta, basis: $0) }
        ?? projectiveGrid(homography: theta, size: [3, 1, 12, 12], alignCorners: false)
      var moved = 0.0
      for (i, map) in maps.enumerated() {
        let map = try XCTUnwrap(map, transform)
        for oy in 0..<12 {
          for ox in 0..<12 {
            let p = map.apply(x: Double(ox), y: Double(oy))
            let g = ((i * 12 + oy) * 12 + ox) * 2
            // normalized -> pixel, align_corners false: x = ((u + 1) W - 1) / 2.
            let x = (Double(grid.data[g]) + 1) * 6 - 0.5, y = (Double(grid.data[g + 1]) + 1) * 6 - 0.5
            XCTAssertEqual(p.x, x, accuracy: 1e-4, "\(transform) image \(i) (\(ox), \(oy))")
            XCTAssertEqual(p.y, y, accuracy: 1e-4, "\(transform) image \(i) (\(ox), \(oy))")
            moved = max(moved, abs(p.x - Double(ox)), abs(p.y - Double(oy)))
          }
        }
      }
      XCTAssertGreaterThan(moved, 0.5, "\(transform): the map is not the identity")
    }
  }

  /// `stn augment` with `learned_transform`: every written pixel is the network transformer's
  /// output for that image (after the pad), rounded to 8 bits.
  func testLearnedTransformStageWritesTheTransformersOutput() throws {
    let padded = try augment("", predictor: nil, name: "padded")
    for (transform, parameters) in families {
      let (path, model) = try writeCheckpoint(transform: transform, parameters: parameters)
      let predictor = try CheckpointThetaPredictor(checkpoint: path, threads: 1)
      let learned = try augment("  - learned_transform: {checkpoint: \(path)}\n", predictor: predictor, name: "learned-" + transform)
      XCTAssertEqual(Set(learned.keys), Set(padded.keys))
      var moved = 0
      for (name, image) in learned {
        guard let input = padded[name] else { return XCTFail("missing \(name)") }
        XCTAssertEqual([image.width, image.height, image.channels], [12, 12, 1])
        let expected = try transformerOutput(model, input)
        let difference = zip(image.pixels, expected.data).map { abs(Float($0) - $1 * 255) }.max() ?? 9
        XCTAssertLessThanOrEqual(difference, 0.5 + 1e-3, "\(transform) \(name)")
        moved = max(moved, zip(image.pixels, input.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 0)
      }
      XCTAssertGreaterThan(moved, 50, "\(transform): the transform moved the bright stroke")
    }
  }

  /// The loader (training/eval batches) finishes the stage the same way: each sample's floats
  /// are the transformer's output (one resample, no 8-bit rounding in between).
  func testLoaderBatchesHoldTheTransformersOutput() throws {
    let padded = try augment("", predictor: nil, name: "padded")
    let dataset = try ImageFolder(root: folder + "/data")
    for (transform, parameters) in families {
      let (path, model) = try writeCheckpoint(transform: transform, parameters: parameters)
      let yaml = "decode: {channels: 1}\nbatch: {size: 3, shuffle: false}\nstages:\n  - pad: {size: [12, 12]}\n  - learned_transform: {checkpoint: \(path)}\n"
      let config = try PipelineConfig.parse(yaml: yaml, path: folder + "/p.yaml")
      let loader = try BatchLoader(config: config, dataset: dataset, epoch: 0, threads: 2, predictor: try CheckpointThetaPredictor.forPipeline(config))
      var seen = 0
      while let batch = loader.next() {
        for (k, index) in batch.indices.enumerated() {
          guard let input = padded[dataset.relativePath(at: index)] else { return XCTFail("no padded image for \(index)") }
          let expected = try transformerOutput(model, input)
          let floats = batch.images.data[(k * 144)..<((k + 1) * 144)]
          let difference = zip(floats, expected.data).map { abs($0 - $1) }.max() ?? 1
          XCTAssertLessThanOrEqual(difference, 1e-4, "\(transform) \(index)")
          seen += 1
        }
      }
      XCTAssertEqual(seen, 8, transform)
    }
  }

  /// Stages after a projective/TPS learned stage join its map (here: 2 px down, so the top two
  /// rows sample above the image), and the result does not depend on the thread counts.
  func testStagesAfterTheLearnedStageAndThreadCounts() throws {
    for (transform, parameters) in families {
      let (path, _) = try writeCheckpoint(transform: transform, parameters: parameters)
      let stage = "  - learned_transform: {checkpoint: \(path)}\n"
      let learned = try augment(stage, predictor: try CheckpointThetaPredictor(checkpoint: path, threads: 1), name: "alone-" + transform)
      let shifted = try augment(stage + "  - affine: {matrix: [[1, 0, 0], [0, 1, 2]]}\n",
                                predictor: try CheckpointThetaPredictor(checkpoint: path, threads: 3), name: "shifted-" + transform)
      for (name, image) in shifted {
        guard let alone = learned[name] else { return XCTFail("missing \(name)") }
        XCTAssertEqual(Array(image.pixels[24...]), Array(alone.pixels[..<120]), "\(transform) \(name)")
        XCTAssertEqual(Array(image.pixels[..<24]), [UInt8](repeating: 0, count: 24), "\(transform) \(name)")
      }
    }
  }

  /// An identity-initialised projective or TPS checkpoint leaves the images as they are.
  func testIdentityCheckpointsLeaveImagesUnchanged() throws {
    let padded = try augment("", predictor: nil, name: "padded")
    for transform in ["projective", "tps"] {
      let (path, _) = try writeCheckpoint(transform: transform, parameters: nil)
      let predictor = try CheckpointThetaPredictor(checkpoint: path, threads: 1)
      let learned = try augment("  - learned_affine: {checkpoint: \(path)}\n", predictor: predictor, name: "identity-" + transform)
      for (name, image) in learned {
        let difference = zip(image.pixels, padded[name]?.pixels ?? []).map { abs(Int($0) - Int($1)) }.max() ?? 99
        XCTAssertLessThanOrEqual(difference, 1, "\(transform) \(name)")
      }
    }
  }

  /// The input-size check runs before any work for every family.
  func testInputSizeMismatchIsOneErrorForEveryFamily() throws {
    for (transform, parameters) in families {
      let (path, _) = try writeCheckpoint(transform: transform, parameters: parameters)
      let yaml = "decode: {channels: 1}\nstages:\n  - pad: {size: [10, 10]}\n  - learned_transform: {checkpoint: \(path)}\n"
      let config = try PipelineConfig.parse(yaml: yaml, path: folder + "/p.yaml")
      let predictor = try CheckpointThetaPredictor.forPipeline(config)
      XCTAssertThrowsError(try BatchLoader(config: config, dataset: try ImageFolder(root: folder + "/data"), epoch: 0, predictor: predictor)) { error in
        guard let error = error as? PipelineError else { return XCTFail("not a PipelineError: \(error)") }
        XCTAssertEqual(error.line, 4)
        XCTAssertTrue(error.reason.contains("learned_transform") && error.reason.contains("1x10x10") && error.reason.contains("1x12x12"), error.reason)
      }
    }
  }

  /// Both names parse to the same stage.
  func testLearnedAffineIsAnAliasOfLearnedTransform() throws {
    for name in ["learned_transform", "learned_affine"] {
      let config = try PipelineConfig.parse(yaml: "stages:\n  - \(name): {checkpoint: m.safetensors}\n", path: "/p/p.yaml")
      guard case .learnedAffine(let checkpoint)? = config.learnedStage?.stage else { return XCTFail(name) }
      XCTAssertEqual(checkpoint, "/p/m.safetensors")
      XCTAssertEqual(config.learnedStage?.name, name)
    }
  }

  // MARK: - Learned stages among perspective and elastic stages

  /// An affine learned stage between a random perspective and a random elastic stage joins their
  /// one resample: the batches equal those of the same chain with the theta as a fixed affine.
  func testAffineLearnedStageComposesWithPerspectiveAndElasticStages() throws {
    let path = try writeConstantThetaCheckpoint([1, 0, 0.5, 0, 1, 0])  // 3 px left, as above
    let head = batchHead + "  - random_perspective: {distortion_scale: 0.4, p: 1}\n"
    let tail = "  - random_elastic: {sigma: 0.8, grid: 3}\n  - normalize: {mean: [0.5], std: [0.5]}\n"
    let predictor = try CheckpointThetaPredictor(checkpoint: path, threads: 1)
    let learned = try batches(head + "  - learned_transform: {checkpoint: \(path)}\n" + tail, predictor: predictor)
    let fixed = try batches(head + "  - affine: {matrix: [[1, 0, -3], [0, 1, 0]]}\n" + tail, predictor: nil)
    XCTAssertEqual(learned.shape, [8, 1, 12, 12])
    XCTAssertLessThan(learned.maxAbsDifference(fixed), 1e-4)
    let without = try batches(head + tail, predictor: nil)
    XCTAssertGreaterThan(learned.maxAbsDifference(without), 0.5, "the learned stage did move pixels")
  }

  /// A projective or TPS learned stage after a perspective stage: the predictor sees the
  /// perspective's output, and each written pixel is ONE bilinear sample of the decoded image at
  /// perspective(learned(pixel)), the learned map being the one the predictor returns for that
  /// output (evaluated and sampled here independently of `PixelMap.then` and the warp).
  func testProjectiveAndTPSLearnedStagesFollowAPerspectiveStage() throws {
    let perspective = "  - perspective: {startpoints: [[0, 0], [11, 0], [11, 11], [0, 11]], endpoints: [[1, 0], [11, 1], [10, 11], [0, 10]]}\n"
    let config = try PipelineConfig.parse(yaml: "decode: {channels: 1}\nstages:\n  - pad: {size: [12, 12]}\n" + perspective, path: folder + "/p.yaml")
    let processor = try SampleProcessor(config: config)
    let dataset = try ImageFolder(root: folder + "/data")
    for (transform, parameters) in families {
      let (path, _) = try writeCheckpoint(transform: transform, parameters: parameters)
      let predictor = try CheckpointThetaPredictor(checkpoint: path, threads: 1)
      let learned = try augment(perspective + "  - learned_transform: {checkpoint: \(path)}\n", predictor: predictor, name: "after-perspective-" + transform)
      for index in 0..<dataset.count {
        let sample = try processor.prepare(dataset: dataset, index: index, epoch: 0)
        let perspectiveMap = try XCTUnwrap(sample.map)
        var input = Tensor(shape: [1, 1, 12, 12])
        try input.data.withUnsafeMutableBufferPointer { buffer in
          guard let base = buffer.baseAddress else { return }
          try processor.renderFloat(sample, into: base)
        }
        let learnedMap = try XCTUnwrap(predictor.predictMaps(input).first ?? nil)
        let image = try XCTUnwrap(learned[dataset.relativePath(at: index)])
        let source = sample.image
        // Bilinear, zeros outside, pixel centres at integers.
        func pixel(_ x: Int, _ y: Int) -> Double {
          x >= 0 && y >= 0 && x < source.width && y < source.height ? Double(source.pixels[y * source.width + x]) : 0
        }
        for oy in 0..<12 {
          for ox in 0..<12 {
            let q = learnedMap.apply(x: Double(ox), y: Double(oy))
            let p = perspectiveMap.apply(x: q.x, y: q.y)
            let x0 = Int(p.x.rounded(.down)), y0 = Int(p.y.rounded(.down))
            let fx = p.x - Double(x0), fy = p.y - Double(y0)
            let top = pixel(x0, y0) * (1 - fx) + pixel(x0 + 1, y0) * fx
            let bottom = pixel(x0, y0 + 1) * (1 - fx) + pixel(x0 + 1, y0 + 1) * fx
            let expected = top * (1 - fy) + bottom * fy
            XCTAssertEqual(Double(image.pixels[oy * 12 + ox]), expected, accuracy: 0.5 + 0.05, "\(transform) \(index) (\(ox), \(oy))")
          }
        }
      }
    }
  }

  /// `stn export PIPELINE.yaml`: the lines under each rectified image name the draws before the
  /// learned stage, "learned", then the draws after it.
  func testExportSheetNamesTheDrawsOnBothSidesOfTheLearnedStage() throws {
    let path = try writeConstantThetaCheckpoint([1, 0, 0.5, 0, 1, 0])
    let yaml = "decode: {channels: 1}\nstages:\n  - pad: {size: [12, 12]}\n  - random_perspective: {p: 1}\n"
      + "  - learned_transform: {checkpoint: \(path)}\n  - random_elastic: {sigma: 1, grid: 3}\n"
    var job = ExportJob(config: try PipelineConfig.parse(yaml: yaml, path: folder + "/p.yaml"), dataset: try ImageFolder(root: folder + "/data"), count: 3)
    job.predictor = try CheckpointThetaPredictor(checkpoint: path, threads: 1)
    let (entries, skipped) = try job.run()
    XCTAssertEqual(skipped, [])
    XCTAssertEqual(entries.count, 3)
    for entry in entries {
      XCTAssertEqual(entry.parameters.count, 3, "\(entry.parameters)")
      XCTAssertEqual(Array(entry.parameters.prefix(2)), ["perspective", "learned"])
      XCTAssertTrue(entry.parameters.last?.hasPrefix("elastic max ") == true, "\(entry.parameters)")
    }
  }
}
