import Foundation
import STNTestSupport
import XCTest

/// Issue 14: every bundled pipeline works with every command it is meant for, through the CLI
/// (on the small IDX fixture, given with --input, so no dataset needs to be installed).
final class BundledPipelinesTests: XCTestCase {
  private let pipelines = Golden.packageRoot + "/pipelines"
  private let idx = Golden.packageRoot + "/Tests/STNImageIOTests/Fixtures/idx"
  private var work = ""

  override func setUpWithError() throws {
    work = try makeTemporaryFolder("bundled")
  }

  private func expectSuccess(_ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws {
    let result = try STNBinary.run(arguments)
    XCTAssertEqual(result.status, 0, "stn \(arguments.joined(separator: " ")): \(result.stderr)", file: file, line: line)
  }

  func testEveryPipelineAugmentsAndExports() throws {
    let names = try FileManager.default.contentsOfDirectory(atPath: pipelines).filter { $0.hasSuffix(".yaml") }.sorted()
    XCTAssertEqual(names, ["example-all-options.yaml", "fashion-mnist-rts-cnn.yaml", "fashion-mnist-rts-stn.yaml", "fashion-mnist-rts.yaml",
                           "identity.yaml", "photos-augment.yaml"], "a new pipeline needs a line in these tests")
    for name in names {
      try expectSuccess(["augment", pipelines + "/" + name, "--input", idx, "--output", work + "/aug-" + name])
      try expectSuccess(["export", pipelines + "/" + name, "--input", idx, "--output", work + "/sheet-" + name + ".png", "--count", "4"])
    }
    try expectSuccess(["bench", "pipeline", "--pipeline", pipelines + "/photos-augment.yaml", "--input", idx, "--runs", "1"])
  }

  /// The pipelines that declare a model train (one short epoch), evaluate, and export what the
  /// trained transformer does.
  func testEveryModelPipelineTrainsEvaluatesAndExports() throws {
    for name in ["example-all-options.yaml", "fashion-mnist-rts-cnn.yaml", "fashion-mnist-rts-stn.yaml"] {
      let run = work + "/run-" + name
      try expectSuccess(["train", pipelines + "/" + name, "--input", idx, "--epochs", "1", "--val-fraction", "0", "--no-test",
                         "--no-tensorboard", "--threads", "1", "--output", run])
      try expectSuccess(["eval", run + "/last.safetensors", "--input", idx, "--threads", "1"])
      if name != "fashion-mnist-rts-cnn.yaml" {
        try expectSuccess(["export", run + "/last.safetensors", "--input", idx, "--output", work + "/stn-" + name + ".png", "--count", "2"])
      }
    }
  }
}
