import Foundation
import STNTestSupport
import XCTest

/// Issue 12 (B7): the STN paper's distortion protocols. Every cell of the table bench/paper.sh
/// can run has a pipeline file, and each file trains through the CLI (one short epoch on the
/// small IDX fixture) and evaluates.
final class PaperPipelinesTests: XCTestCase {
  private let root = Golden.packageRoot
  private let idx = Golden.packageRoot + "/Tests/STNImageIOTests/Fixtures/idx"
  private var work = ""

  override func setUpWithError() throws {
    work = try makeTemporaryFolder("paper")
  }

  /// bench/paper.sh's rule: RTS's CNN and affine ST-CNN are MODEL.md's own files, every other
  /// cell is pipelines/paper/fashion-mnist-<distortion>-<model>.yaml.
  private func pipeline(_ distortion: String, _ model: String) -> String {
    switch (distortion, model) {
    case ("rts", "cnn"): return root + "/pipelines/fashion-mnist-rts-cnn.yaml"
    case ("rts", "affine"): return root + "/pipelines/fashion-mnist-rts-stn.yaml"
    default: return root + "/pipelines/paper/fashion-mnist-\(distortion)-\(model).yaml"
    }
  }

  func testEveryCellOfTheTableHasAPipeline() throws {
    var expected: Set<String> = []
    for distortion in ["r", "rts", "p", "e"] {
      for model in ["cnn", "affine", "projective", "tps"] {
        let path = pipeline(distortion, model)
        XCTAssertTrue(FileManager.default.fileExists(atPath: path), "no pipeline for \(distortion)-\(model): \(path)")
        if path.contains("/paper/") { expected.insert((path as NSString).lastPathComponent) }
      }
    }
    let present = Set(try FileManager.default.contentsOfDirectory(atPath: root + "/pipelines/paper").filter { $0.hasSuffix(".yaml") })
    XCTAssertEqual(present, expected, "pipelines/paper holds exactly the table's cells")
  }

  func testEveryPaperPipelineTrainsAndEvaluates() throws {
    let names = try FileManager.default.contentsOfDirectory(atPath: root + "/pipelines/paper").filter { $0.hasSuffix(".yaml") }.sorted()
    XCTAssertFalse(names.isEmpty)
    for name in names {
      let run = work + "/" + name
      let train = try STNBinary.run(["train", root + "/pipelines/paper/" + name, "--input", idx, "--epochs", "1", "--val-fraction", "0",
                                     "--no-test", "--no-tensorboard", "--threads", "1", "--output", run])
      XCTAssertEqual(train.status, 0, "\(name): \(train.stderr)")
      let eval = try STNBinary.run(["eval", run + "/last.safetensors", "--input", idx, "--threads", "1"])
      XCTAssertEqual(eval.status, 0, "\(name): \(eval.stderr)")
    }
  }
}
