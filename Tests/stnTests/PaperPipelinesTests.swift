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

  /// Runs `bash bench/paper.sh arguments` with `environment` over ours (DATA: the IDX fixture).
  private func paperScript(_ environment: [String: String], _ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["bash", root + "/bench/paper.sh"] + arguments
    process.environment = ProcessInfo.processInfo.environment.merging(["DATA": idx].merging(environment) { $1 }) { $1 }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    return STNBinary.Running(process: process, out: out, err: err).finish()
  }

  /// bench/paper.sh trains a cell for seed 0 and a replicate (`SEEDS="0 1"`), keeps finished runs,
  /// and its table reports the mean of both runs with their count and range.
  func testPaperScriptTrainsReplicatesAndReportsTheirMean() throws {
    guard let binary = STNBinary.path else { throw XCTSkip("stn not built") }
    func script(_ environment: [String: String], _ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
      try paperScript(["OUT": work + "/runs", "EPOCHS": "1", "THREADS": "1"].merging(environment) { $1 }, [binary] + arguments)
    }
    let trained = try script(["SEEDS": "0 1"], ["r-cnn"])
    XCTAssertEqual(trained.status, 0, trained.stderr)
    XCTAssertTrue(FileManager.default.fileExists(atPath: work + "/runs/r-cnn/metrics.csv"), trained.stderr)
    XCTAssertTrue(FileManager.default.fileExists(atPath: work + "/runs/r-cnn-seed1/metrics.csv"), trained.stderr)
    let row = try XCTUnwrap(trained.stdout.split(separator: "\n").first { $0.hasPrefix("| CNN |") }, trained.stdout)
    XCTAssertTrue(row.contains(", n=2 (") && row.contains("· paper 1.2"), String(row))
    XCTAssertTrue(row.contains("| - · paper 0.8 |"), "cells not run print '-': \(row)")
    XCTAssertTrue(trained.stdout.contains("R: best ST-CNN below the CNN: not enough runs"), trained.stdout)

    let again = try script(["SEED": "1"], ["r-cnn"])
    XCTAssertEqual(again.status, 0, again.stderr)
    XCTAssertTrue(again.stderr.contains("finished run in"), "a finished run is kept, not retrained: \(again.stderr)")

    let wrong = try script(["SEEDS": "1 two"], ["r-cnn"])
    XCTAssertEqual(wrong.status, 2)
    XCTAssertTrue(wrong.stderr.contains("seed 'two'"), wrong.stderr)
  }

  /// The verdict lines under the table apply the two targets to the cells' means, each
  /// followed by the per-seed differences behind it.
  func testPaperScriptJudgesTheTargetsOnTheMeans() throws {
    let out = work + "/judged"
    func finishedRun(_ cell: String, error: Double) throws {
      try FileManager.default.createDirectory(atPath: out + "/" + cell, withIntermediateDirectories: true)
      let rows = (1...10).map { "\($0),0.5,0.8,,,\(1 - error / 100),0.001,1,1" }
      try (["epoch,train_loss,train_acc,val_loss,val_acc,test_acc,lr,seconds,images_per_s"] + rows).joined(separator: "\n")
        .write(toFile: out + "/" + cell + "/metrics.csv", atomically: true, encoding: .utf8)
    }
    try finishedRun("r-cnn", error: 20); try finishedRun("r-affine", error: 10); try finishedRun("r-tps", error: 12)
    try finishedRun("r-cnn-seed1", error: 22); try finishedRun("r-affine-seed1", error: 14)  // means 21 and 12
    try finishedRun("p-cnn", error: 20); try finishedRun("p-affine", error: 15); try finishedRun("p-projective", error: 14)
    try finishedRun("p-projective-seed1", error: 16)  // mean 15: ties affine, which counts as met
    try finishedRun("e-cnn", error: 11); try finishedRun("e-affine", error: 12); try finishedRun("e-tps", error: 13)
    let (status, text, stderr) = try paperScript(["OUT": out, "TABLE_ONLY": "1"], [])
    XCTAssertEqual(status, 0, stderr)
    for line in ["R: best ST-CNN below the CNN: met (affine 12.00 vs CNN 21.00)",
                 // The per-seed differences behind a verdict: seeds both cells ran, mean, standard error.
                 "R: best ST-CNN below the CNN: met (affine 12.00 vs CNN 21.00)\n  affine - cnn per seed: 0 -10.00, 1 -8.00; mean -9.00, standard error 1.00 (n=2)\n",
                 "P: projective at least as good as affine: met (15.00 vs 15.00)\n  projective - affine per seed: 0 -1.00\n",
                 "RTS: best ST-CNN below the CNN: not enough runs",
                 "P: best ST-CNN below the CNN: met (affine 15.00 vs CNN 20.00)",
                 "E: best ST-CNN below the CNN: NOT met (affine 12.00 vs CNN 11.00)",
                 "P: projective at least as good as affine: met (15.00 vs 15.00)",
                 "E: tps at least as good as affine: NOT met (13.00 vs 12.00)",
                 "| 15.00, n=2 (14.00-16.00) · paper 0.8 |"] {
      XCTAssertTrue(text.contains(line), "missing '\(line)' in\n\(text)")
    }
  }
}
