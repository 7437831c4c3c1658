import Foundation
import STNImageIO
import STNNetwork
import STNPipeline
import STNTensor
import STNTestSupport
import XCTest
@testable import STNTrain

/// `learned_affine` inside `stn augment` (AugmentJob) and the pipeline form of `stn export`
/// (ExportJob): a checkpoint that always predicts a known theta must write the same pixels as the
/// equivalent fixed `affine` stage.
final class LearnedAffineJobsTests: SyntheticFolderTestCase {
  override class var folderName: String { "learned-jobs" }
  override class var imagesPerClass: Int? { 4 }
  // MARK: - Helpers

  /// theta = +0.5 in normalized x (output x samples input x + 3 on 12 px): the content moves
  /// 3 px left, the fixed map [[1,0,-3],[0,1,0]]. A fixed stage after it composes.
  let theta: [Float] = [1, 0, 0.5, 0, 1, 0]

  func pipeline(_ middle: String, batch: Int = 3) throws -> PipelineConfig {
    let yaml = """
      name: t
      seed: 5
      decode: {channels: 1}
      batch: {size: \(batch), shuffle: false}
      stages:
        - pad: {size: [12, 12]}
      \(middle)
        - affine: {matrix: [[1, 0, 0], [0, 1, 2]]}

      """
    return try PipelineConfig.parse(yaml: yaml, path: folder + "/p.yaml")
  }

  func learnedPipeline(batch: Int = 3) throws -> (PipelineConfig, CheckpointThetaPredictor) {
    let path = try writeConstantThetaCheckpoint(theta)
    let config = try pipeline("  - learned_affine: {checkpoint: \(path)}", batch: batch)
    guard let predictor = try CheckpointThetaPredictor.forPipeline(config, threads: 1) else { throw TrainSessionError("no predictor") }
    return (config, predictor)
  }

  /// Runs an augment job; returns the written files' pixels by relative path.
  func augment(_ config: PipelineConfig, predictor: ThetaPredictor?, threads: Int, copies: Int = 1, name: String) throws -> [String: Image] {
    let output = folder + "/" + name
    var job = AugmentJob(config: config, dataset: try ImageFolder(root: folder + "/data"), inputs: [folder + "/data"], outputRoot: output)
    job.threads = threads
    job.copies = copies
    job.predictor = predictor
    let summary = try job.run()
    XCTAssertEqual(summary.skipped, [])
    XCTAssertEqual(summary.written, 8 * copies)
    var images: [String: Image] = [:]
    let tree = try ImageFolder(root: output)
    for i in 0..<tree.count {
      images[tree.relativePath(at: i)] = try tree.loadImage(at: i, options: DecodeOptions(channels: 1))
    }
    return images
  }

  func maxDifference(_ a: Image, _ b: Image) -> Int {
    guard a.width == b.width, a.height == b.height, a.channels == b.channels else { return Int.max }
    return zip(a.pixels, b.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 0
  }

  // MARK: - stn augment

  func testAugmentWithLearnedStageWritesTheFixedAffinesPixels() throws {
    let (learned, predictor) = try learnedPipeline()
    let viaCheckpoint = try augment(learned, predictor: predictor, threads: 2, name: "learned")
    let viaMatrix = try augment(try pipeline("  - affine: {matrix: [[1, 0, -3], [0, 1, 0]]}"), predictor: nil, threads: 2, name: "fixed")
    let untouched = try augment(try pipeline(""), predictor: nil, threads: 1, name: "untouched")
    XCTAssertEqual(viaCheckpoint.count, 8)
    XCTAssertEqual(Set(viaCheckpoint.keys), Set(viaMatrix.keys))
    var moved = 0
    for (path, image) in viaCheckpoint {
      XCTAssertEqual([image.width, image.height], [12, 12])
      guard let fixed = viaMatrix[path], let plain = untouched[path] else { return XCTFail("missing \(path)") }
      XCTAssertLessThanOrEqual(maxDifference(image, fixed), 1, path)
      moved = max(moved, maxDifference(image, plain))
    }
    XCTAssertGreaterThan(moved, 100, "the learned transform did move the bright stroke")
  }

  func testLearnedAugmentIsIdenticalForAnyThreadCount() throws {
    let (learned, predictor) = try learnedPipeline(batch: 3)
    // 8 files x 2 copies = 16 jobs: five full batches of 3 and a short one.
    let one = try augment(learned, predictor: predictor, threads: 1, copies: 2, name: "t1")
    let three = try augment(learned, predictor: predictor, threads: 3, copies: 2, name: "t3")
    XCTAssertEqual(one.count, 16)
    for (path, image) in one { XCTAssertEqual(image.pixels, three[path]?.pixels, path) }
  }

  func testLearnedStageWithoutPredictorIsATypedError() throws {
    let (learned, _) = try learnedPipeline()
    let job = AugmentJob(config: learned, dataset: try ImageFolder(root: folder + "/data"), inputs: [folder + "/data"], outputRoot: folder + "/none")
    XCTAssertThrowsError(try job.run()) { error in
      guard let error = error as? PipelineError else { return XCTFail("not a PipelineError: \(error)") }
      XCTAssertEqual(error.line, 7)
      XCTAssertTrue(error.reason.contains("learned_affine"), error.reason)
    }
    XCTAssertThrowsError(try ExportJob(config: learned, dataset: try ImageFolder(root: folder + "/data"), count: 4).run()) { error in
      XCTAssertTrue(error is PipelineError, "\(error)")
    }
  }

  /// Issue 14: a learned stage whose input size differs from the model's was one "skipped" per
  /// image; now it is one error at the stage's line, before any work (augment, export, loader).
  func testLearnedStageInputSizeMismatchIsOneErrorBeforeWork() throws {
    let path = try writeConstantThetaCheckpoint(theta)
    let config = try pipeline("  - resize: {size: [10, 10]}\n  - learned_affine: {checkpoint: \(path)}")
    guard let predictor = try CheckpointThetaPredictor.forPipeline(config, threads: 1) else { throw TrainSessionError("no predictor") }
    let dataset = try ImageFolder(root: folder + "/data")
    var job = AugmentJob(config: config, dataset: dataset, inputs: [folder + "/data"], outputRoot: folder + "/mismatch")
    job.predictor = predictor
    func check(_ error: Error) {
      guard let error = error as? PipelineError else { return XCTFail("not a PipelineError: \(error)") }
      XCTAssertEqual(error.line, 8)
      XCTAssertTrue(error.reason.contains("1x10x10") && error.reason.contains("1x12x12"), error.reason)
    }
    XCTAssertThrowsError(try job.run(), "augment", check)
    XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/mismatch"), "nothing written")
    var export = ExportJob(config: config, dataset: dataset, count: 2)
    export.predictor = predictor
    XCTAssertThrowsError(try export.run(), "export", check)
    XCTAssertThrowsError(try BatchLoader(config: config, dataset: dataset, epoch: 0, predictor: predictor), "loader", check)
  }

  // MARK: - stn export (pipeline form)

  func testExportWithLearnedStageMakesASheetOfRectifiedImages() throws {
    let (learned, predictor) = try learnedPipeline()
    let dataset = try ImageFolder(root: folder + "/data")
    var job = ExportJob(config: learned, dataset: dataset, count: 6)
    job.predictor = predictor
    job.threads = 2
    let (entries, skipped) = try job.run()
    XCTAssertEqual(skipped, [])
    XCTAssertEqual(entries.count, 6)
    let fixed = try ExportJob(config: try pipeline("  - affine: {matrix: [[1, 0, -3], [0, 1, 0]]}"), dataset: dataset, count: 6).run().entries
    for (a, b) in zip(entries, fixed) {
      XCTAssertEqual([a.original.width, a.original.height], [8, 8])
      XCTAssertLessThanOrEqual(maxDifference(a.transformed, b.transformed), 1, a.caption)
    }
    let sheet = ContactSheet.render(entries)
    XCTAssertEqual(sheet.channels, 3)
    let fixedSheet = ContactSheet.render(fixed)
    XCTAssertEqual([sheet.width, sheet.height], [fixedSheet.width, fixedSheet.height])
    XCTAssertGreaterThan(sheet.width, 2 * 112)
  }
}
