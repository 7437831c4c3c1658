import Foundation
import STNTestSupport
import XCTest

/// `stn train`, `stn eval` and `stn export CHECKPOINT` as subprocesses on a tiny IDX dataset.
final class TrainCommandTests: XCTestCase {
  var folder = ""

  override func setUpWithError() throws {
    folder = try makeTemporaryFolder("train-cli")
    try writeIDX(prefix: "train", count: 24, seed: 1)
    try writeIDX(prefix: "t10k", count: 8, seed: 2)
  }

  /// 8x8 images, label 0 = bright bar on the left, 1 = on the right (uncompressed IDX).
  func writeIDX(prefix: String, count: Int, seed: Int) throws {
    let images = (0..<count).map { k in
      var pixels = [UInt8](repeating: 0, count: 64)
      let column = k % 2 == 0 ? (k + seed) % 3 : 5 + (k + seed) % 3
      for y in 1..<7 { pixels[y * 8 + column] = 220 }
      return pixels
    }
    try IDXFiles.write(images: images, labels: (0..<count).map { UInt8($0 % 2) }, width: 8, height: 8, prefix: prefix, into: folder + "/data")
  }

  func writePipeline(lr: Double = 0.01, classes: String? = nil, model: String? = nil) throws -> String {
    let text = """
      name: tiny-idx
      seed: 1
      source: {idx: \(folder)/data, split: train\(classes.map { ", classes: \($0)" } ?? "")}
      decode: {channels: 1}
      stages:
        - pad: {size: [12, 12]}
        - random_affine: {degrees: 10, translate: inside}
        - normalize: {mean: [0.2], std: [0.3]}
      batch: {size: 8}
      model: \(model ?? "[{spatial_transformer: {localization: [flatten, {linear: 8}, relu, {linear: 6}]}}, flatten, {linear: classes}]")
      train: {optimizer: adam, lr: \(lr), epochs: 1, val_fraction: 0.25, test: test}

      """
    let path = folder + "/tiny.yaml"
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
  }

  func testTrainThenEvalFromTheCommandLine() throws {
    let run = folder + "/run"
    let trained = try STNBinary.run(["train", try writePipeline(), "--out", run, "--threads", "1"])
    XCTAssertEqual(trained.status, 0, trained.stderr)
    XCTAssertTrue(trained.stdout.hasPrefix("Layer"), "model summary first")
    let summary = try STNBinary.lastJSON(trained.stdout)
    XCTAssertEqual(summary["epochs"] as? Int, 1)
    XCTAssertNotNil(summary["test_acc"] as? Double)
    XCTAssertNotNil(summary["val_acc"] as? Double)
    XCTAssertTrue(trained.stderr.contains("epoch 1"), "progress lines on stderr")
    let csv = try String(contentsOfFile: run + "/metrics.csv", encoding: .utf8)
    XCTAssertTrue(csv.hasPrefix("epoch,train_loss,train_acc,val_loss,val_acc,test_acc,lr,seconds,images_per_s\n1,"))

    let evaluated = try STNBinary.run(["eval", run + "/best.safetensors", "--data", folder + "/data", "--threads", "1", "--random"])
    XCTAssertEqual(evaluated.status, 0, evaluated.stderr)
    let report = try STNBinary.lastJSON(evaluated.stdout)
    XCTAssertEqual(report["n"] as? Int, 8)
    XCTAssertEqual((report["confusion"] as? [[Int]])?.count, 2)
    XCTAssertEqual((report["per_class"] as? [String: Any]).map { Set($0.keys) }, ["0", "1"])
    // With --random, eval distorts the test split with the fixed evaluation key, as training's
    // per-epoch test pass does.
    XCTAssertEqual(report["accuracy"] as? Double ?? -1, summary["test_acc"] as? Double ?? -2, accuracy: 1e-6)

    // Deterministic by default (no random_affine), so the number may differ from the above.
    let plain = try STNBinary.run(["eval", run + "/best.safetensors", "--input", folder + "/data", "--threads", "1"])
    XCTAssertEqual(plain.status, 0, plain.stderr)
    XCTAssertEqual(try STNBinary.lastJSON(plain.stdout)["n"] as? Int, 8)

    // A --pipeline whose output size differs from the model's input is one error line, not a trap.
    let other = folder + "/other.yaml"
    try "decode: {channels: 1}\nstages: [{pad: {size: [10, 10]}}]\n".write(toFile: other, atomically: true, encoding: .utf8)
    let mismatch = try STNBinary.run(["eval", run + "/best.safetensors", "--input", folder + "/data", "--pipeline", other])
    XCTAssertEqual(mismatch.status, 1, mismatch.stderr)
    XCTAssertEqual(mismatch.stderr.split(separator: "\n").count, 1, mismatch.stderr)
    XCTAssertTrue(mismatch.stderr.contains("1x10x10") && mismatch.stderr.contains("1x12x12"), mismatch.stderr)

    // What the transformer made of the test images: a sheet, and a folder of rectified images.
    let sheet = try STNBinary.run(["export", run + "/best.safetensors", "--input", folder + "/data", "--output", folder + "/sheet.png", "--count", "6"])
    XCTAssertEqual(sheet.status, 0, sheet.stderr)
    let png = try Data(contentsOf: URL(fileURLWithPath: folder + "/sheet.png"))
    XCTAssertEqual(Array(png.prefix(4)), [0x89, 0x50, 0x4E, 0x47])
    let rectified = try STNBinary.run(["export", run + "/best.safetensors", "--input", folder + "/data", "--output", folder + "/rectified"])
    XCTAssertEqual(rectified.status, 0, rectified.stderr)
    let files = FileManager.default.enumerator(atPath: folder + "/rectified")?.compactMap { $0 as? String }.filter { $0.hasSuffix(".png") } ?? []
    XCTAssertEqual(files.count, 8)
  }

  /// Projective and TPS transformers train, log their parameters (and the TPS control points)
  /// to TensorBoard, `stn export` draws their sheets, and their checkpoints drive a
  /// `learned_transform` stage in `stn augment` and `stn export`.
  func testProjectiveAndTPSTransformersTrainLogAndExport() throws {
    for (transform, tags) in [("projective", ["homography/h11", "homography/h32", "transformed"]), ("tps", ["tps/dx", "tps/dy", "control_points"])] {
      let grid = transform == "tps" ? "control_grid: 3, " : ""
      let pipeline = try writePipeline(
        model: "[{spatial_transformer: {transform: \(transform), \(grid)localization: [flatten, {linear: 8}, relu, {linear: theta}]}}, flatten, {linear: classes}]")
      let run = folder + "/run-" + transform
      let trained = try STNBinary.run(["train", pipeline, "--output", run, "--threads", "1"])
      XCTAssertEqual(trained.status, 0, trained.stderr)
      XCTAssertTrue(trained.stdout.contains("SpatialTransformer(transform=\(transform)"), trained.stdout)
      let events = try FileManager.default.contentsOfDirectory(atPath: run).filter { $0.hasPrefix("events.out.tfevents") }
      let logged = try events.map { try Data(contentsOf: URL(fileURLWithPath: run + "/" + $0)) }.reduce(Data(), +)
      for tag in tags { XCTAssertNotNil(logged.range(of: Data(tag.utf8)), "\(transform): TensorBoard tag \(tag)") }
      let sheet = try STNBinary.run(["export", run + "/best.safetensors", "--input", folder + "/data", "--output", folder + "/sheet-\(transform).png", "--count", "4"])
      XCTAssertEqual(sheet.status, 0, sheet.stderr)

      // The trained checkpoint drives a learned_transform stage in stn augment and stn export.
      let learned = folder + "/learned-\(transform).yaml"
      try "decode: {channels: 1}\nbatch: {size: 5}\nstages:\n  - pad: {size: [12, 12]}\n  - learned_transform: {checkpoint: \(run)/best.safetensors}\n"
        .write(toFile: learned, atomically: true, encoding: .utf8)
      let augmented = try STNBinary.run(["augment", learned, "--input", folder + "/data", "--output", folder + "/augmented-" + transform])
      XCTAssertEqual(augmented.status, 0, augmented.stderr)
      let written = FileManager.default.enumerator(atPath: folder + "/augmented-" + transform)?.compactMap { $0 as? String }.filter { $0.hasSuffix(".png") } ?? []
      XCTAssertEqual(written.count, 24, "\(transform): the train split's 24 images")
      let learnedSheet = try STNBinary.run(["export", learned, "--input", folder + "/data", "--output", folder + "/learned-sheet-\(transform).png", "--count", "4"])
      XCTAssertEqual(learnedSheet.status, 0, learnedSheet.stderr)
      // A pipeline whose output is not the model's input size is one error naming the sizes.
      try "decode: {channels: 1}\nstages:\n  - pad: {size: [10, 10]}\n  - learned_transform: {checkpoint: \(run)/best.safetensors}\n"
        .write(toFile: learned, atomically: true, encoding: .utf8)
      let mismatch = try STNBinary.run(["augment", learned, "--input", folder + "/data", "--output", folder + "/mismatch-" + transform])
      XCTAssertEqual(mismatch.status, 1, mismatch.stderr)
      XCTAssertTrue(mismatch.stderr.contains("1x10x10") && mismatch.stderr.contains("1x12x12"), mismatch.stderr)
    }
  }

  /// Issue 14: `source: {classes: [...]}` names travel into the checkpoint, the eval JSON and
  /// its confusion matrix, an augmented folder (a class per folder, "/" written "_") and back.
  func testClassNamesTravel() throws {
    let pipeline = try writePipeline(classes: "[left/bar, right bar]")
    let run = folder + "/run"
    let trained = try STNBinary.run(["train", pipeline, "--output", run, "--threads", "1", "--no-tensorboard"])
    XCTAssertEqual(trained.status, 0, trained.stderr)
    XCTAssertTrue(trained.stdout.contains("classes: left/bar, right bar\n"), trained.stdout)
    let evaluated = try STNBinary.run(["eval", run + "/best.safetensors", "--input", folder + "/data", "--threads", "1"])
    XCTAssertEqual(evaluated.status, 0, evaluated.stderr)
    let report = try STNBinary.lastJSON(evaluated.stdout)
    XCTAssertEqual(report["classes"] as? [String], ["left/bar", "right bar"])
    XCTAssertEqual((report["per_class"] as? [String: Any]).map { Set($0.keys) }, ["left/bar", "right bar"])
    XCTAssertTrue(evaluated.stdout.contains("left/bar"), "confusion table names the classes")
    // The test split written as an image folder, then evaluated from it (folders "left_bar", "right bar").
    let written = try STNBinary.run(["augment", pipeline, "--input", folder + "/data", "--split", "test", "--output", folder + "/rts-test"])
    XCTAssertEqual(written.status, 0, written.stderr)
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder + "/rts-test").sorted(), ["left_bar", "right bar"])
    let fromFolder = try STNBinary.run(["eval", run + "/best.safetensors", "--input", folder + "/rts-test", "--threads", "1"])
    XCTAssertEqual(fromFolder.status, 0, fromFolder.stderr)
    XCTAssertEqual(try STNBinary.lastJSON(fromFolder.stdout)["n"] as? Int, 8)
    // The folder holds the test split distorted with the fixed evaluation key (seed, epoch 0):
    // what `stn eval --random` does on the IDX data, up to uint8 rounding.
    let random = try STNBinary.run(["eval", run + "/best.safetensors", "--input", folder + "/data", "--random", "--threads", "1"])
    XCTAssertEqual(try STNBinary.lastJSON(fromFolder.stdout)["accuracy"] as? Double ?? -1, try STNBinary.lastJSON(random.stdout)["accuracy"] as? Double ?? -2, accuracy: 0.13)
  }

  func testExplodingLossExitsWithStatus2() throws {
    let result = try STNBinary.run(["train", try writePipeline(lr: 1e38), "--out", folder + "/run", "--threads", "1", "--no-tensorboard"])
    XCTAssertEqual(result.status, 2, result.stderr)
    XCTAssertTrue(result.stderr.contains("loss became"), result.stderr)
  }

  /// Issue 13: a wrong --tensorboard-layers value is one usage error line (exit 64) before any
  /// training, whether the text does not parse or names a layer the model lacks.
  func testBadTensorBoardLayersIsAUsageErrorBeforeTraining() throws {
    let pipeline = try writePipeline()
    for (value, expected) in [
      ("conv2d,,relu", "--tensorboard-layers: empty item"), ("1.2.3", "'1.2.3' is not a layer index"),
      ("7", "no layer 7 in this model (its indices: 00 00.00 00.01 00.02 00.03 01 02)"), ("conv2d", "no layer of kind 'conv2d'"),
    ] {
      let result = try STNBinary.run(["train", pipeline, "--out", folder + "/run", "--threads", "1", "--tensorboard-layers", value])
      XCTAssertEqual(result.status, 64, value + ": " + result.stderr)
      XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
      XCTAssertTrue(result.stderr.hasPrefix("Error: --tensorboard-layers: ") && result.stderr.contains(expected), result.stderr)
      XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/run/last.safetensors"), "nothing trained")
    }
    let both = try STNBinary.run(["train", pipeline, "--tensorboard-layers", "all", "--no-tensorboard"])
    XCTAssertEqual(both.status, 64, both.stderr)
  }

  /// Issue 13: `stn export CHECKPOINT --layers`: a sheet with a row per layer for each sample,
  /// a 46-pixel cell per channel, so its size follows from the model.
  func testExportLayersWritesASheetOfTheExpectedSize() throws {
    let pipeline = try writePipeline(model: "[{conv2d: {out: 8, kernel: 3, padding: 1}}, relu, flatten, {linear: classes}]")
    let run = folder + "/run"
    let trained = try STNBinary.run(["train", pipeline, "--out", run, "--threads", "1", "--no-tensorboard", "--no-test"])
    XCTAssertEqual(trained.status, 0, trained.stderr)
    let sheet = folder + "/layers.png"
    let result = try STNBinary.run(["export", run + "/best.safetensors", "--layers", "--input", folder + "/data", "--output", sheet, "--count", "2"])
    XCTAssertEqual(result.status, 0, result.stderr)
    // Rows: (input + 4 layers) x 2 samples; columns: the label (24 characters, 143 pixels) and
    // up to 8 tiles; 4-pixel padding; under each tile two lines (min, max); a two-line title.
    let (width, height) = (4 + 143 + 4 + 8 * (46 + 4), (19 + 4) + 10 * (46 + 3 + 19) + 11 * 4)
    XCTAssertEqual(result.stdout, "wrote \(sheet): 5 layers (input included) x 2 samples, \(width)x\(height)\n")
    let png = [UInt8](try Data(contentsOf: URL(fileURLWithPath: sheet)))
    XCTAssertEqual(Array(png.prefix(4)), [0x89, 0x50, 0x4E, 0x47])
    func bigEndian(_ at: Int) -> Int { png[at..<(at + 4)].reduce(0) { $0 << 8 | Int($1) } }
    XCTAssertEqual([bigEndian(16), bigEndian(20)], [width, height], "IHDR width, height")
    // Bad uses are usage errors.
    let tooMany = try STNBinary.run(["export", run + "/best.safetensors", "--layers", "--input", folder + "/data", "--output", folder + "/b.png", "--count", "17"])
    XCTAssertEqual(tooMany.status, 64, tooMany.stderr)
    XCTAssertTrue(tooMany.stderr.contains("--count (with --layers) must be in 1...16"), tooMany.stderr)
    let pipelineForm = try STNBinary.run(["export", pipeline, "--layers", "--output", folder + "/c.png"])
    XCTAssertEqual(pipelineForm.status, 64, pipelineForm.stderr)
  }

  func testResumeWithoutRunFails() throws {
    let result = try STNBinary.run(["train", try writePipeline(), "--out", folder + "/none", "--resume"])
    XCTAssertNotEqual(result.status, 0)
    XCTAssertTrue(result.stderr.contains("nothing to resume"), result.stderr)
  }
}
