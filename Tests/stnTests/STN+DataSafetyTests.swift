import Foundation
import STNFiles
import STNTestSupport
import XCTest

/// Issue 14, "Data safety": every command that writes refuses to overwrite or lose data, and
/// every mistake gets one line and a non-zero exit before any work. Each test failed on
/// 4d23a8b (the state the issue was reported against).
final class DataSafetyTests: XCTestCase {
  private let pipelines = Golden.packageRoot + "/pipelines"
  private let samples = Golden.packageRoot + "/samples/images"
  private var work = ""

  override func setUpWithError() throws {
    work = try makeTemporaryFolder("safety")
  }

  /// A copy of samples/images (3 classes, 6 images) to write around.
  private func input() throws -> String {
    let folder = work + "/in"
    try FileManager.default.copyItem(atPath: samples, toPath: folder)
    return folder
  }

  private func tree(_ root: String) -> [String] {
    ((try? FileManager.default.subpathsOfDirectory(atPath: root)) ?? []).sorted()
  }

  private func snapshot(_ root: String) -> [String: Data] {
    var files: [String: Data] = [:]
    for relative in tree(root) {
      if let data = FileManager.default.contents(atPath: root + "/" + relative) { files[relative] = data }
    }
    return files
  }

  /// Asserts one `Error:` line on stderr containing `text`, the status, and nothing on stdout.
  private func assertRefused(_ result: (status: Int32, stdout: String, stderr: String), _ text: String, status: Int32 = 1,
                             file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(result.status, status, result.stderr, file: file, line: line)
    let lines = result.stderr.split(separator: "\n")
    XCTAssertEqual(lines.count, 1, "one line: \(result.stderr)", file: file, line: line)
    XCTAssertTrue(result.stderr.hasPrefix("Error: "), result.stderr, file: file, line: line)
    XCTAssertTrue(result.stderr.contains(text), "expected '\(text)' in: \(result.stderr)", file: file, line: line)
  }

  // MARK: - One run per output folder

  /// Two runs writing into one folder (the same `stn train --output` started twice, an
  /// `stn augment` into a folder another one is filling) interleaved checkpoints and images.
  /// While a run holds the folder, the second stops before its first write, with one line.
  func testASecondRunIntoAHeldFolderStopsBeforeWriting() throws {
    let input = try input()
    let out = work + "/held"
    try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
    let idx = Golden.packageRoot + "/Tests/STNImageIOTests/Fixtures/idx"
    try withExtendedLifetime(try FolderLock.acquire(out)) {
      assertRefused(try STNBinary.run(["augment", pipelines + "/identity.yaml", "--input", input, "--output", out]),
                    "another stn run is writing into this --output folder")
      assertRefused(try STNBinary.run(["augment", pipelines + "/identity.yaml", "--input", input, "--output", out, "--overwrite"]),
                    "another stn run is writing into this --output folder")
      assertRefused(try STNBinary.run(["train", pipelines + "/fashion-mnist-rts-cnn.yaml", "--input", idx, "--epochs", "1", "--no-test",
                                       "--no-tensorboard", "--output", out, "--overwrite"]),
                    "another stn run is writing into this run folder")
      XCTAssertEqual(tree(out), [], "nothing written")
    }
    // Released: the same commands work.
    XCTAssertEqual(try STNBinary.run(["augment", pipelines + "/identity.yaml", "--input", input, "--output", out]).status, 0)
  }

  // MARK: - Outputs never overlap inputs

  /// `stn export CHECKPOINT --input D --output D` rewrote D's images; `--output D/sub` made a
  /// class of `sub` on the next run. Every writer refuses an output equal to, inside, or
  /// containing an input (after `..` and symlinks), before reading anything.
  func testNoWriterAcceptsAnOutputOverlappingItsInput() throws {
    let input = try input()
    let before = snapshot(input)
    try Data("not read: refused first".utf8).write(to: URL(fileURLWithPath: work + "/model.safetensors"))
    try FileManager.default.createSymbolicLink(atPath: work + "/link", withDestinationPath: input)
    let overlapping = [input, input + "/sub", input + "/../in/flower", work + "/link/x", work]
    for output in overlapping {
      assertRefused(try STNBinary.run(["export", work + "/model.safetensors", "--input", input, "--output", output]), "input")
      assertRefused(try STNBinary.run(["augment", pipelines + "/photos-augment.yaml", "--input", input, "--output", output]), "input")
      if output != work {  // a sheet beside the input is fine; inside it, not
        assertRefused(try STNBinary.run(["export", pipelines + "/photos-augment.yaml", "--input", input, "--output", output + "/sheet.png"]), "input")
      }
    }
    // The checkpoint is an input of its export too.
    assertRefused(try STNBinary.run(["export", work + "/model.safetensors", "--input", input, "--output", work + "/model.safetensors"]), "input")
    XCTAssertEqual(snapshot(input), before, "inputs unchanged")
    XCTAssertEqual(tree(work).filter { !$0.hasPrefix("in") }, ["link", "model.safetensors"], "nothing written")
  }

  // MARK: - No two inputs share an output

  /// `a.jpg`, `a.png` and `a.JPG` in one folder: "written 3" left one file. Now each keeps its
  /// whole source name (the README's naming rule), and the plan is checked before writing.
  func testInputsThatShareAStemKeepTheirWholeNames() throws {
    let folder = work + "/same/c"
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    try FileManager.default.copyItem(atPath: samples + "/insect/ladybird.jpg", toPath: folder + "/a.jpg")
    try FileManager.default.copyItem(atPath: samples + "/flower/yellow.jpg", toPath: folder + "/a.JPG")
    try FileManager.default.copyItem(atPath: samples + "/sneaker/0.png", toPath: folder + "/a.png")
    try FileManager.default.copyItem(atPath: samples + "/sneaker/1.png", toPath: folder + "/b.png")
    let result = try STNBinary.run(["augment", pipelines + "/identity.yaml", "--input", work + "/same", "--output", work + "/out"])
    XCTAssertEqual(result.status, 0, result.stderr)
    XCTAssertTrue(result.stdout.hasPrefix("written 4, skipped 0"), result.stdout)
    XCTAssertEqual(tree(work + "/out"), ["c", "c/a.JPG.png", "c/a.jpg.png", "c/a.png.png", "c/b.png"])
  }

  // MARK: - Existing outputs

  /// `--copies 2` then `--copies 1` into the same folder mixed old and new files. A non-empty
  /// output is refused unless --overwrite; --skip-existing resumes.
  func testNonEmptyOutputNeedsOverwriteOrSkipExisting() throws {
    let input = try input()
    let output = work + "/out"
    let first = try STNBinary.run(["augment", pipelines + "/photos-augment.yaml", "--input", input, "--output", output, "--copies", "2"])
    XCTAssertEqual(first.status, 0, first.stderr)
    let written = snapshot(output)
    XCTAssertEqual(written.count, 12)
    assertRefused(try STNBinary.run(["augment", pipelines + "/photos-augment.yaml", "--input", input, "--output", output]), "not empty")
    XCTAssertEqual(snapshot(output), written, "refused run changed nothing")

    // Resume: remove some outputs, --skip-existing writes only those, keeping the rest byte for byte.
    try FileManager.default.removeItem(atPath: output + "/flower/fresh_1.png")
    try FileManager.default.removeItem(atPath: output + "/sneaker/0_0.png")
    let resumed = try STNBinary.run(["augment", pipelines + "/photos-augment.yaml", "--input", input, "--output", output, "--copies", "2", "--skip-existing"])
    XCTAssertEqual(resumed.status, 0, resumed.stderr)
    XCTAssertTrue(resumed.stdout.hasPrefix("written 2, skipped 0") && resumed.stdout.contains("kept 10 existing"), resumed.stdout)
    XCTAssertEqual(snapshot(output), written, "the resumed files are the same bytes")

    let overwritten = try STNBinary.run(["augment", pipelines + "/identity.yaml", "--input", input, "--output", output, "--overwrite"])
    XCTAssertEqual(overwritten.status, 0, overwritten.stderr)
    XCTAssertEqual(snapshot(output).count, 18, "--overwrite adds and replaces, and says so in --help")

    // A sheet file is not replaced silently either.
    let sheet = work + "/sheet.png"
    XCTAssertEqual(try STNBinary.run(["export", pipelines + "/photos-augment.yaml", "--input", input, "--output", sheet, "--count", "2"]).status, 0)
    assertRefused(try STNBinary.run(["export", pipelines + "/photos-augment.yaml", "--input", input, "--output", sheet]), "already exists")
    XCTAssertEqual(try STNBinary.run(["export", pipelines + "/photos-augment.yaml", "--input", input, "--output", sheet, "--overwrite", "--count", "2"]).status, 0)
  }

  // MARK: - Interruption

  /// SIGINT/SIGTERM left `.tmp-*` files. An interrupted run leaves only complete files and
  /// prints what it finished; --skip-existing then completes it.
  func testInterruptedAugmentLeavesOnlyCompleteFiles() throws {
    let input = work + "/many/c"
    try FileManager.default.createDirectory(atPath: input, withIntermediateDirectories: true)
    let source = try Data(contentsOf: URL(fileURLWithPath: samples + "/insect/ladybird.jpg"))
    for k in 0..<12 { try source.write(to: URL(fileURLWithPath: input + "/\(k).jpg")) }
    // Large outputs, so a file takes long enough to be caught in flight (debug builds too).
    let pipeline = work + "/big.yaml"
    try "stages:\n  - random_affine: {degrees: 30}\n  - resize: {size: [480, 480]}\n".write(toFile: pipeline, atomically: true, encoding: .utf8)
    let output = work + "/out"
    for signal in [SIGINT, SIGTERM] {
      let before = tree(output).count
      let process = try STNBinary.start(["augment", pipeline, "--input", work + "/many", "--output", output, "--threads", "2", "--skip-existing"])
      // Wait until a file is in flight (a temporary exists), then interrupt.
      let deadline = Date().addingTimeInterval(60)
      while !((try? FileManager.default.contentsOfDirectory(atPath: output + "/c")) ?? []).contains(where: { $0.contains(".tmp-") }),
            tree(output).count <= before + 1, Date() < deadline, process.process.isRunning {
        usleep(5_000)
      }
      kill(process.process.processIdentifier, signal)
      let result = process.finish()
      XCTAssertEqual(result.status, signal == SIGINT ? 130 : 143, result.stderr)
      XCTAssertTrue(result.stdout.hasPrefix("interrupted: written "), result.stdout)
      let names = tree(output)
      XCTAssertFalse(names.contains { $0.contains(".tmp-") }, "\(names.filter { $0.contains(".tmp-") })")
      for name in names where name.hasSuffix(".png") {
        let check = try STNBinary.run(["info", "--check", output + "/" + name])
        XCTAssertEqual(check.status, 0, "\(name) is complete: \(check.stdout)")
      }
    }
    let finished = try STNBinary.run(["augment", pipeline, "--input", work + "/many", "--output", output, "--skip-existing"])
    XCTAssertEqual(finished.status, 0, finished.stderr)
    XCTAssertEqual(tree(output + "/c").count, 12)
  }

  // MARK: - The output is checked once, before any work

  /// An unwritable folder, a file, or /dev/null gave one "skipped" line per input ("NSCocoaErrorDomain
  /// error 512") and exit 3. Now: one line, exit 1, before any image is read.
  func testBadOutputsAreOneLineBeforeAnyWork() throws {
    let input = try input()
    try Data("x".utf8).write(to: URL(fileURLWithPath: work + "/file"))
    for (output, reason) in [(work + "/file", "must be a folder"), ("/dev/null", "must be a folder"), (work + "/file/below", "is a file"),
                             ("/proc/stn-cannot-write-here", "cannot")] {
      let result = try STNBinary.run(["augment", pipelines + "/photos-augment.yaml", "--input", input, "--output", output])
      assertRefused(result, reason)
      XCTAssertFalse(result.stderr.contains("NSCocoaErrorDomain"))
      XCTAssertEqual(result.stdout, "", "no work done")
    }
  }

  // MARK: - Counts are bounded

  /// `--copies 9223372036854775807` ran until killed; `--threads -1` said "Missing value".
  func testCountFlagsAreBoundedAndNegativeValuesExplained() throws {
    let input = try input()
    let cases: [([String], String)] = [
      (["augment", pipelines + "/identity.yaml", "--input", input, "--output", work + "/o", "--copies", "9223372036854775807"], "--copies must be in 1...10000"),
      (["augment", pipelines + "/identity.yaml", "--input", input, "--output", work + "/o", "--threads", "-1"], "--threads must be in 1...1024, got -1"),
      (["augment", pipelines + "/identity.yaml", "--input", input, "--output", work + "/o", "--copies", "0"], "--copies must be in 1...10000, got 0"),
      (["export", pipelines + "/identity.yaml", "--input", input, "--output", work + "/s.png", "--count", "-5"], "--count must be in 1...1024, got -5"),
      (["train", pipelines + "/fashion-mnist-rts-stn.yaml", "--epochs", "-2"], "--epochs must be in 1...1000000, got -2"),
      (["eval", work + "/x.safetensors", "--input", input, "--batch-size", "0"], "--batch-size must be in 1...65536, got 0"),
    ]
    for (arguments, message) in cases {
      let result = try STNBinary.run(arguments)
      assertRefused(result, message, status: 64)
    }
    XCTAssertFalse(FileManager.default.fileExists(atPath: work + "/o"))
  }

  /// `--input a --input b` read only b (the parser keeps an option's last value), exit 0: now one
  /// line, exit 64, before any work; the same for an option and its alias.
  func testAnOptionGivenTwiceIsRefused() throws {
    let input = try input()
    let cases: [([String], String)] = [
      (["augment", pipelines + "/identity.yaml", "--input", input, "--input", input, "--output", work + "/o"], "--input is given twice"),
      (["augment", pipelines + "/identity.yaml", "--input", input, "--output", work + "/o", "--output=" + work + "/p"], "--output is given twice"),
      (["eval", work + "/x.safetensors", "--input", input, "--data", input], "--input and --data are the same option"),
      (["train", pipelines + "/fashion-mnist-rts-stn.yaml", "--out", work + "/r", "--output", work + "/s"], "--out and --output are the same option"),
    ]
    for (arguments, message) in cases {
      assertRefused(try STNBinary.run(arguments), message, status: 64)
    }
    XCTAssertFalse(FileManager.default.fileExists(atPath: work + "/o"))
    XCTAssertFalse(FileManager.default.fileExists(atPath: work + "/p"))
  }

  // MARK: - Training runs

  /// A run folder inside the data, or one that holds other files, is refused before training.
  func testTrainRefusesARunFolderOverlappingItsDataOrHoldingFiles() throws {
    let data = work + "/data"
    try FileManager.default.createDirectory(atPath: data + "/a", withIntermediateDirectories: true)
    try FileManager.default.copyItem(atPath: samples + "/sneaker/0.png", toPath: data + "/a/0.png")
    let pipeline = work + "/p.yaml"
    try "source: {image_folder: data}\ndecode: {channels: 1}\nstages: [{resize: {size: [8, 8]}}]\nmodel: [flatten, {linear: classes}]\ntrain: {epochs: 1}\n"
      .write(toFile: pipeline, atomically: true, encoding: .utf8)
    assertRefused(try STNBinary.run(["train", pipeline, "--output", data + "/run"]), "inside the input")
    assertRefused(try STNBinary.run(["train", pipeline, "--out", work]), "contains the input")
    try FileManager.default.createDirectory(atPath: work + "/busy", withIntermediateDirectories: true)
    try Data("keep".utf8).write(to: URL(fileURLWithPath: work + "/busy/notes.txt"))
    assertRefused(try STNBinary.run(["train", pipeline, "--output", work + "/busy"]), "not empty")
    XCTAssertEqual(tree(data), ["a", "a/0.png"])
  }

  /// Short relative paths (a one-letter output folder beside the input) work: Foundation's
  /// `deletingLastPathComponent` traps on them, so no path code uses it.
  func testOneLetterRelativePaths() throws {
    _ = try input()
    let augment = try STNBinary.run(["augment", pipelines + "/identity.yaml", "--input", "in", "--output", "c"], in: work)
    XCTAssertEqual(augment.status, 0, augment.stderr)
    XCTAssertTrue(FileManager.default.fileExists(atPath: work + "/c/sneaker/0.png"))
    let sheet = try STNBinary.run(["export", pipelines + "/identity.yaml", "--input", "in", "--output", "s.png", "--count", "2"], in: work)
    XCTAssertEqual(sheet.status, 0, sheet.stderr)
  }
}
