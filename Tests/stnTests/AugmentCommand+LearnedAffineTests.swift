import Foundation
import STNTestSupport
import XCTest

/// `stn augment` / `stn export` with a `learned_affine` stage: the checkpoint is loaded, and a
/// checkpoint that cannot be loaded is named in the error. (The pixels a working checkpoint
/// writes are checked in STNTrainTests/LearnedAffineJobsTests.)
final class LearnedAffineCommandTests: XCTestCase {
  func testUnloadableCheckpointIsNamedByAugmentAndExport() throws {
    let work = try makeTemporaryFolder("learned")
    let input = work + "/in"
    try FileManager.default.createDirectory(atPath: input + "/a", withIntermediateDirectories: true)
    try FileManager.default.copyItem(atPath: Golden.packageRoot + "/samples/images/sneaker/0.png", toPath: input + "/a/0.png")
    try Data("not a checkpoint".utf8).write(to: URL(fileURLWithPath: work + "/broken.safetensors"))
    for name in ["missing.safetensors", "broken.safetensors"] {
      let pipeline = work + "/p-\(name).yaml"
      try "stages:\n  - pad: {size: [12, 12]}\n  - learned_affine: {checkpoint: \(name)}\n".write(toFile: pipeline, atomically: true, encoding: .utf8)
      let augment = try STNBinary.run(["augment", pipeline, "--input", input, "--output", work + "/out"])
      XCTAssertEqual(augment.status, 1, augment.stderr)
      XCTAssertTrue(augment.stderr.contains(work + "/" + name), augment.stderr)
      XCTAssertFalse(augment.stderr.contains("cannot load yet"), augment.stderr)
      let export = try STNBinary.run(["export", pipeline, "--input", input, "--output", work + "/sheet.png"])
      XCTAssertEqual(export.status, 1, export.stderr)
      XCTAssertTrue(export.stderr.contains(work + "/" + name), export.stderr)
      XCTAssertFalse(FileManager.default.fileExists(atPath: work + "/sheet.png"))
    }
  }
}
