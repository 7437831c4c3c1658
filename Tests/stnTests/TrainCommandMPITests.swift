import Foundation
import STNFiles
import STNTestSupport
import XCTest

/// `mpirun -np 2 stn train ...` (issue 11, data-parallel training): two ranks train what one
/// process trains; every rank holds the same parameters after every step; rank 0 alone prints
/// and writes; a rank that dies stops the others within seconds and `--resume` continues;
/// `stn eval` is sharded; `--folds` and `stn export` are refused in one line. Skipped where
/// mpirun is not installed. A small model on 8x8 IDX images, so each run takes about a second.
final class TrainCommandMPITests: XCTestCase {
  private var work = ""

  override func setUpWithError() throws {
    guard MPIRun.mpirun != nil else { throw XCTSkip("mpirun not installed (apt-get install openmpi-bin); the multi-rank tests need it") }
    work = try makeTemporaryFolder("mpi-train")
    try writeIDX(prefix: "train", count: 1024, seed: 1)
    try writeIDX(prefix: "t10k", count: 64, seed: 2)
  }

  // MARK: - Fixture

  /// `count` 8x8 images of 4 classes, a stroke in one of four places (a left or right column,
  /// a top or bottom row) with a seeded jitter, as uncompressed IDX files in `work/data`.
  private func writeIDX(prefix: String, count: Int, seed: UInt32) throws {
    var state = seed &* 2_654_435_761
    let images = (0..<count).map { k in
      state = state &* 1_664_525 &+ 1_013_904_223
      let label = k % 4, jitter = Int(state >> 29) % 2
      var pixels = [UInt8](repeating: 0, count: 64)
      for along in 1..<7 {
        let at = label < 2 ? along * 8 + (label == 0 ? 1 + jitter : 6 - jitter) : (label == 2 ? 1 + jitter : 6 - jitter) * 8 + along
        pixels[at] = UInt8(180 + Int(state >> 24) % 60)
      }
      return pixels
    }
    try IDXFiles.write(images: images, labels: (0..<count).map { UInt8($0 % 4) }, width: 8, height: 8, prefix: prefix, into: work + "/data")
  }

  /// The pipeline: a spatial transformer, dropout, Adam; batch 31, so the ranks' parts are
  /// uneven (16 and 15) and the last batch of 1,024 images (1 image) leaves rank 1 empty.
  private func pipeline(lr: Double = 0.003, epochs: Int = 1) throws -> String {
    let path = work + "/mpi.yaml"
    try """
      name: mpi-idx
      seed: 3
      source: {idx: \(work)/data, split: train}
      decode: {channels: 1}
      stages:
        - pad: {size: [12, 12]}
        - random_affine: {degrees: 10, translate: inside}
        - normalize: {mean: [0.2], std: [0.3]}
      batch: {size: 31}
      model:
        - spatial_transformer: {localization: [flatten, {linear: 8}, relu, {linear: 6}]}
        - flatten
        - {linear: 16}
        - relu
        - {dropout: 0.25}
        - {linear: classes}
      train: {optimizer: adam, lr: \(lr), epochs: \(epochs), val_fraction: 0, test: test}

      """.write(toFile: path, atomically: true, encoding: .utf8)
    return path
  }

  private func lines(_ text: String) -> [String] { text.split(separator: "\n").map(String.init) }

  private func parameters(_ checkpoint: String) throws -> [String: [Float]] {
    try Golden.load(checkpoint).tensors.filter { $0.value.dtype == .F32 }.mapValues(\.floats)
  }

  // MARK: - Two ranks train what one process trains

  /// One epoch on 1,024 images: every parameter agrees within 1e-4 relative (values below 0.01
  /// compared as 0.01: only the float summation order differs, and sums near 0 keep their
  /// rounding), the summary is the same up to timing and "ranks", and the per-step check found
  /// every rank's parameters identical after every step ("resynchronizations":0).
  func testTwoRanksTrainWhatOneProcessTrains() throws {
    let pipeline = try pipeline()
    let arguments = ["train", pipeline, "--threads", "1", "--no-tensorboard"]
    let one = try STNBinary.run(arguments + ["--output", work + "/one"])
    let two = try MPIRun.run(ranks: 2, arguments + ["--output", work + "/two"])
    XCTAssertEqual(one.status, 0, one.stderr)
    XCTAssertEqual(two.status, 0, two.stderr)

    let expected = try parameters(work + "/one/last.safetensors"), trained = try parameters(work + "/two/last.safetensors")
    XCTAssertEqual(trained.keys.sorted(), expected.keys.sorted())
    var worst: (Float, String) = (0, "")
    for (name, values) in expected {
      for (a, b) in zip(values, trained[name] ?? []) {
        let difference = abs(a - b) / max(abs(a), abs(b), 0.01)
        if difference > worst.0 { worst = (difference, name) }
      }
    }
    XCTAssertLessThanOrEqual(worst.0, 1e-4, "largest relative difference, in \(worst.1)")

    let single = try STNBinary.lastJSON(one.stdout), ranks = try STNBinary.lastJSON(two.stdout)
    XCTAssertEqual(single["ranks"] as? Int, 1)
    XCTAssertEqual(ranks["ranks"] as? Int, 2)
    XCTAssertEqual(ranks["resynchronizations"] as? Int, 0, "parameters identical on every rank after every step")
    XCTAssertNotNil(ranks["allreduce_ms_per_step"] as? Double)
    XCTAssertEqual(ranks["test_acc"] as? Double, single["test_acc"] as? Double, "the test pass, split among the ranks and summed")
    XCTAssertEqual(ranks["train_acc"] as? Double, single["train_acc"] as? Double)
    XCTAssertEqual(ranks["train_loss"] as? Double ?? 0, single["train_loss"] as? Double ?? 1, accuracy: 1e-4)

    // Rank 0 alone prints: one model summary, one epoch line, one summary line.
    XCTAssertEqual(two.stdout.components(separatedBy: "Total params").count - 1, 1, two.stdout)
    XCTAssertTrue(two.stdout.contains("2 ranks, 15-16 images per rank per step"), two.stdout)
    XCTAssertEqual(lines(two.stderr).filter { $0.hasPrefix("epoch 1  train loss") }.count, 1, two.stderr)
    XCTAssertEqual(lines(try String(contentsOfFile: work + "/two/metrics.jsonl", encoding: .utf8)).count, 1)
  }

  // MARK: - Faults and --resume

  /// Rank 1 dies in epoch 2 (SIGKILL, the test hook): mpirun stops rank 0 within seconds and
  /// names rank 1; epoch 1's checkpoint is intact; `--resume` under mpirun continues it to the
  /// parameters of an uninterrupted 2-rank run, bit for bit. With --val-fraction, validation
  /// (split among the ranks) gives what one process gets.
  func testARankThatDiesStopsTheOthersAndResumeContinues() throws {
    let pipeline = try pipeline(epochs: 2)
    let arguments = ["train", pipeline, "--threads", "1", "--no-tensorboard", "--val-fraction", "0.25"]
    let run = work + "/run"
    // 768 training images in batches of 31: 25 steps per epoch; step 28 is the 4th of epoch 2.
    // (mpirun passes this process's environment on to the ranks.)
    setenv("STN_TEST_EXIT_AT_STEP", "28", 1)
    setenv("STN_TEST_EXIT_RANK", "1", 1)
    let started = Date()
    let killed: (status: Int32, stdout: String, stderr: String)
    do {
      defer {
        unsetenv("STN_TEST_EXIT_AT_STEP")
        unsetenv("STN_TEST_EXIT_RANK")
      }
      killed = try MPIRun.run(ranks: 2, arguments + ["--output", run])
    }
    XCTAssertLessThan(Date().timeIntervalSince(started), 30, "no hang: the other rank stops within seconds")
    XCTAssertNotEqual(killed.status, 0, killed.stderr)
    XCTAssertTrue(killed.stderr.contains("rank 1 of 2 kills itself before step 28"), killed.stderr)
    XCTAssertTrue(killed.stderr.contains("process rank 1"), "mpirun names the rank that died: \(killed.stderr)")
    XCTAssertFalse(killed.stdout.contains("\"ranks\""), "no summary from a run that died")
    let checkpoint = try Golden.load(run + "/last.safetensors")
    XCTAssertEqual(checkpoint.metadata["epoch"], "1", "epoch 1's checkpoint is intact")
    XCTAssertEqual(lines(try String(contentsOfFile: run + "/metrics.jsonl", encoding: .utf8)).count, 1)

    let resumed = try MPIRun.run(ranks: 2, arguments + ["--output", run, "--resume"])
    XCTAssertEqual(resumed.status, 0, resumed.stderr)
    XCTAssertTrue(resumed.stderr.contains("resuming after epoch 1"), resumed.stderr)
    XCTAssertEqual(try STNBinary.lastJSON(resumed.stdout)["epochs"] as? Int, 2)
    XCTAssertEqual(lines(try String(contentsOfFile: run + "/metrics.jsonl", encoding: .utf8)).count, 2)

    let whole = try MPIRun.run(ranks: 2, arguments + ["--output", work + "/whole"])
    XCTAssertEqual(whole.status, 0, whole.stderr)
    XCTAssertEqual(try parameters(run + "/last.safetensors"), try parameters(work + "/whole/last.safetensors"),
                   "resumed = uninterrupted, bit for bit")

    let one = try STNBinary.run(arguments + ["--output", work + "/one"])
    XCTAssertEqual(one.status, 0, one.stderr)
    for key in ["val_acc", "best_val_acc", "test_acc"] {
      XCTAssertEqual(try STNBinary.lastJSON(whole.stdout)[key] as? Double, try STNBinary.lastJSON(one.stdout)[key] as? Double, key)
    }
  }

  /// A loss that becomes infinite stops every rank at the same step with status 2; rank 0
  /// alone says so.
  func testANonFiniteLossStopsEveryRankWithStatus2() throws {
    let result = try MPIRun.run(ranks: 2, ["train", try pipeline(lr: 1e38), "--output", work + "/run", "--threads", "1", "--no-tensorboard"])
    XCTAssertEqual(result.status, 2, result.stderr)
    XCTAssertEqual(lines(result.stderr).filter { $0.hasPrefix("error: training stopped: loss became") }.count, 1, result.stderr)
  }

  // MARK: - eval, export, --folds, bench

  /// `stn eval` under mpirun: each rank evaluates its part; the report is one process's.
  func testEvalUnderMPIGivesWhatOneProcessGives() throws {
    let trained = try STNBinary.run(["train", try pipeline(), "--output", work + "/run", "--threads", "1", "--no-tensorboard", "--limit", "256"])
    XCTAssertEqual(trained.status, 0, trained.stderr)
    let arguments = ["eval", work + "/run/last.safetensors", "--input", work + "/data", "--random", "--batch-size", "7", "--threads", "1"]
    let one = try STNBinary.run(arguments)
    let two = try MPIRun.run(ranks: 2, arguments)
    XCTAssertEqual(one.status, 0, one.stderr)
    XCTAssertEqual(two.status, 0, two.stderr)
    let single = try STNBinary.lastJSON(one.stdout), ranks = try STNBinary.lastJSON(two.stdout)
    XCTAssertEqual(ranks["n"] as? Int, 64)
    XCTAssertEqual(ranks["ranks"] as? Int, 2)
    XCTAssertEqual(single["ranks"] as? Int, 1)
    XCTAssertEqual(ranks["accuracy"] as? Double, single["accuracy"] as? Double)
    XCTAssertEqual(ranks["confusion"] as? [[Int]], single["confusion"] as? [[Int]])
    XCTAssertEqual(ranks["loss"] as? Double ?? 0, single["loss"] as? Double ?? 1, accuracy: 1e-5)
    XCTAssertEqual(two.stdout.components(separatedBy: "confusion matrix").count - 1, 1, "rank 0 alone prints the report")
  }

  func testFoldsAndExportAreRefusedInOneLine() throws {
    let folds = try MPIRun.run(ranks: 2, ["train", try pipeline(), "--output", work + "/run", "--folds", "2"])
    XCTAssertEqual(folds.status, 1, folds.stderr)
    let errors = lines(folds.stderr).filter { $0.hasPrefix("Error:") }
    XCTAssertEqual(errors.count, 1, folds.stderr)
    XCTAssertTrue(errors.first?.contains("--folds is not supported under mpirun") == true, folds.stderr)
    XCTAssertFalse(FileManager.default.fileExists(atPath: work + "/run/fold-1"))

    let export = try MPIRun.run(ranks: 2, ["export", try pipeline(), "--output", work + "/sheet.png"])
    XCTAssertEqual(export.status, 1, export.stderr)
    XCTAssertEqual(lines(export.stderr).filter { $0.hasPrefix("Error:") }, [
      "Error: stn export runs as one process, not under mpirun/srun (2 ranks were started): run it without the launcher",
    ])
    XCTAssertFalse(FileManager.default.fileExists(atPath: work + "/sheet.png"))
  }

  /// `stn bench train` under mpirun: one JSON line from rank 0 with the ranks and the allreduce time.
  func testBenchTrainUnderMPI() throws {
    let result = try MPIRun.run(ranks: 2, ["bench", "train", "--pipeline", try pipeline(), "--limit", "124", "--threads", "1"])
    XCTAssertEqual(result.status, 0, result.stderr)
    XCTAssertEqual(lines(result.stdout).count, 1, result.stdout)
    let report = try STNBinary.lastJSON(result.stdout)
    XCTAssertEqual(report["ranks"] as? Int, 2)
    XCTAssertEqual(report["bench"] as? String, "B5")
    XCTAssertGreaterThan(report["allreduce_ms_per_step"] as? Double ?? -1, 0)
    XCTAssertGreaterThan(report["images_per_s"] as? Double ?? -1, 0)
  }
}
