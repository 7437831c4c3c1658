import Foundation
import STNNetwork
import STNPipeline
import STNTensor
import XCTest
@testable import STNTrain

/// `learned_affine: {checkpoint: PATH}` applies the transform a checkpoint's localization
/// network predicts, composed into the pipeline's single resample.
final class LearnedAffineTests: XCTestCase {
  /// The run-time policy `stn` applies at start-up (single-threaded OpenBLAS inside threaded kernels).
  override class func setUp() {
    super.setUp()
    RuntimePolicy.standard.apply()
  }

  var folder = ""

  override func setUpWithError() throws {
    folder = SyntheticData.temporaryFolder("learned")
    try SyntheticData.writeFolder(folder + "/data", perClass: 4)
  }

  override func tearDownWithError() throws {
    try? FileManager.default.removeItem(atPath: folder)
  }

  /// A checkpoint whose transformer always predicts `theta` (see SyntheticData).
  func writeConstantThetaCheckpoint(_ theta: [Float]) throws -> String {
    try SyntheticData.writeConstantThetaCheckpoint(theta, to: folder + "/constant.safetensors")
  }

  func batches(_ yaml: String, predictor: ThetaPredictor?) throws -> Tensor {
    let config = try PipelineConfig.parse(yaml: yaml, path: folder + "/p.yaml")
    let dataset = try TrainingSession.openData(folder + "/data", split: "test")
    let loader = try BatchLoader(config: config, dataset: dataset, epoch: 0, threads: 1, predictor: predictor)
    var images: [Float] = []
    var shape: [Int] = []
    while let batch = loader.next() {
      images += batch.images.data
      shape = [images.count / (batch.images.count / batch.images.shape[0])] + Array(batch.images.shape.dropFirst())
    }
    return Tensor(shape: shape, data: images)
  }

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
    let head = """
      name: t
      seed: 5
      decode: {channels: 1}
      batch: {size: 4, shuffle: false}
      stages:
        - pad: {size: [12, 12]}

      """
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

  /// A projective or TPS checkpoint gives one clear error instead of wrong pixels.
  func testNonAffineTransformerIsRejected() throws {
    for transform in ["projective", "tps"] {
      let spec = try ModelSpec.fromJSON(
        #"[{"spatial_transformer":{"transform":"\#(transform)","localization":["flatten",{"linear":"theta"}]}},"flatten",{"linear":"classes"}]"#, source: "test")
      let model = try Model(spec: spec, inputShape: [1, 12, 12], classCount: 2)
      let path = folder + "/\(transform).safetensors"
      try Checkpoint.save(model: model, optimizer: nil, info: CheckpointInfo(classNames: ["a", "b"]), to: path)
      let config = try PipelineConfig.parse(yaml: "stages:\n  - learned_affine: {checkpoint: \(path)}\n", path: folder + "/p.yaml")
      XCTAssertThrowsError(try CheckpointThetaPredictor.forPipeline(config)) { error in
        XCTAssertTrue("\(error)".contains("transform: \(transform); learned stages for projective/tps come with"), "\(error)")
        XCTAssertTrue("\(error)".hasPrefix(path), "\(error)")
      }
    }
  }
}
