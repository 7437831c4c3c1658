import Foundation
import STNTestSupport
import XCTest

/// `mpirun -np 2 stn augment ...` (issue 11): the ranks split the dataset and write into one
/// folder; the union is byte-identical to a one-process run; rank 0 alone checks the output
/// before any rank writes, and prints the combined summary; every rank agrees on the exit
/// status; Ctrl-C reaches every rank. Skipped where mpirun is not installed.
final class AugmentCommandMPITests: XCTestCase {
  private let samples = Golden.packageRoot + "/samples/images"
  private var work = ""
  private var pipeline = ""

  override func setUpWithError() throws {
    work = try makeTemporaryFolder("mpi")
    pipeline = work + "/random.yaml"
    try """
      decode: {channels: 3}
      stages:
        - random_affine: {degrees: 30, translate: [0.1, 0.1], hflip: 0.5}
        - resize: {size: [40, 40]}
      seed: 5
      """.write(toFile: pipeline, atomically: true, encoding: .utf8)
  }

  /// samples/images (6 images), plus flower/yellow.png beside flower/yellow.jpg (a shared stem:
  /// both keep their whole names, and with 2 ranks they fall on different ranks), an
  /// unreadable file and one of an unsupported format.
  private func input() throws -> String {
    let folder = work + "/in"
    try FileManager.default.copyItem(atPath: samples, toPath: folder)
    try FileManager.default.copyItem(atPath: folder + "/flower/fresh.png", toPath: folder + "/flower/yellow.png")
    try Data("not an image".utf8).write(to: URL(fileURLWithPath: folder + "/sneaker/broken.png"))
    try Data("BM".utf8).write(to: URL(fileURLWithPath: folder + "/sneaker/z.bmp"))
    return folder
  }

  private func lines(_ text: String) -> [String] { text.split(separator: "\n").map(String.init) }

  // MARK: - Two ranks write what one process writes

  func testTwoRanksWriteExactlyWhatOneProcessWritesAndRankZeroSummarizes() throws {
    let input = try input()
    let arguments = ["augment", pipeline, "--input", input, "--copies", "3", "--threads", "1"]
    let one = try STNBinary.run(arguments + ["--output", work + "/one"])
    let two = try MPIRun.run(ranks: 2, arguments + ["--output", work + "/two"])
    XCTAssertEqual(one.status, 3, one.stderr)
    XCTAssertEqual(two.status, 3, "every rank exits 3 (some inputs skipped): \(two.stderr)")

    let expected = MPIRun.files(under: work + "/one")
    XCTAssertEqual(expected.count, 21)
    XCTAssertTrue(expected.keys.contains("flower/yellow.jpg_2.png") && expected.keys.contains("flower/yellow.png_0.png"), "\(expected.keys.sorted())")
    let written = MPIRun.files(under: work + "/two")
    XCTAssertEqual(written.keys.sorted(), expected.keys.sorted())
    for (name, bytes) in expected { XCTAssertEqual(written[name], bytes, "\(name) differs between 1 process and 2 ranks") }

    // One combined summary (rank 0's), the same line as one process's up to the timing.
    XCTAssertEqual(lines(two.stdout).count, 2, two.stdout)
    XCTAssertTrue(two.stdout.hasPrefix("written 21, skipped 2, "), two.stdout)
    XCTAssertTrue(one.stdout.hasPrefix("written 21, skipped 2, "), one.stdout)
    for result in [one, two] {
      XCTAssertTrue(result.stdout.contains("broken.png") && result.stdout.contains("z.bmp"), result.stdout)
      XCTAssertEqual(result.stderr.components(separatedBy: "skipped: ").count - 1, 2, result.stderr)
    }
    let json = lines(two.stdout).last ?? ""
    for field in [#"{"written":21,"kept":0,"skipped":1,"unsupported":1,"seconds":"#, #""ranks":2,"interrupted":false}"#] {
      XCTAssertTrue(json.contains(field), "\(field) in \(json)")
    }
    XCTAssertTrue(lines(one.stdout).last?.contains(#""ranks":1,"interrupted":false}"#) == true, one.stdout)
  }

  /// `--shard i/N` under mpirun: the ranks split shard i/N (i + N*rank of N*ranks).
  func testAnExplicitShardIsSplitAcrossTheRanks() throws {
    let input = try input()
    let arguments = ["augment", pipeline, "--input", input, "--shard", "1/2"]
    let one = try STNBinary.run(arguments + ["--output", work + "/one"])
    let two = try MPIRun.run(ranks: 2, arguments + ["--output", work + "/two"])
    XCTAssertEqual(one.status, 3, one.stderr)
    XCTAssertEqual(two.status, 3, two.stderr)
    XCTAssertEqual(MPIRun.files(under: work + "/two"), MPIRun.files(under: work + "/one"))
    XCTAssertEqual(MPIRun.files(under: work + "/one").count, 3, "inputs 1, 3, 5 (7 is unreadable)")
  }

  /// Shards (`--shard`, and so ranks) name their outputs as the whole run does: yellow.jpg
  /// and yellow.png fall in different shards and still keep their whole names, so shards that
  /// write into one folder never collide (each shard used to see only its own stems: both
  /// wrote flower/yellow.png). Needs no mpirun.
  func testShardsNameTheirOutputsAsTheWholeRunDoes() throws {
    let input = try input()
    let arguments = ["augment", pipeline, "--input", input, "--output"]
    XCTAssertEqual(try STNBinary.run(arguments + [work + "/whole"]).status, 3)
    for shard in ["0/2", "1/2"] {
      let result = try STNBinary.run(arguments + [work + "/shards", "--shard", shard, "--skip-existing"])
      XCTAssertEqual(result.status, 3, result.stderr)
    }
    XCTAssertEqual(MPIRun.files(under: work + "/shards"), MPIRun.files(under: work + "/whole"))
    XCTAssertNotNil(MPIRun.files(under: work + "/shards")["flower/yellow.jpg.png"])
  }

  // MARK: - The output is checked once, by rank 0, before any rank writes

  func testANonEmptyOutputIsRefusedOnceAndSkipExistingResumesUnderMPI() throws {
    let input = try input()
    let output = work + "/out"
    let arguments = ["augment", pipeline, "--input", input, "--output", output]
    XCTAssertEqual(try STNBinary.run(arguments).status, 3)
    let complete = MPIRun.files(under: output)

    let refused = try MPIRun.run(ranks: 2, arguments)
    XCTAssertEqual(refused.status, 1, refused.stderr)
    let errors = lines(refused.stderr).filter { $0.hasPrefix("Error:") }
    XCTAssertEqual(errors.count, 1, refused.stderr)
    XCTAssertTrue(errors.first?.contains("rank 0 of 2") == true && errors.first?.contains("not empty") == true, refused.stderr)
    XCTAssertEqual(refused.stdout, "")
    XCTAssertEqual(MPIRun.files(under: output), complete)

    // Two outputs gone (inputs 0 and 3 in reading order: one per rank): the ranks keep the
    // rest and write only those.
    for name in ["flower/fresh.png", "insect/ladybird.png"] { try FileManager.default.removeItem(atPath: output + "/" + name) }
    let resumed = try MPIRun.run(ranks: 2, arguments + ["--skip-existing"])
    XCTAssertEqual(resumed.status, 3, resumed.stderr)
    XCTAssertTrue(lines(resumed.stdout).last?.hasPrefix(#"{"written":2,"kept":5,"#) == true, resumed.stdout)
    XCTAssertEqual(MPIRun.files(under: output), complete)
  }

  // MARK: - Failures and exit status

  /// Rank 1 cannot read its data: every rank exits non-zero, rank 1 says why, rank 0 names
  /// the failed rank, and nothing is created.
  func testARankThatCannotReadItsDataFailsTheWholeRun() throws {
    let input = try input()
    let output = work + "/out"
    let common = ["augment", pipeline, "--output", output]
    let result = try MPIRun.start(perRank: [common + ["--input", input], common + ["--input", work + "/missing"]]).finish()
    XCTAssertEqual(result.status, 1, result.stderr)
    XCTAssertTrue(result.stderr.contains("Error: rank 1 of 2: ") && result.stderr.contains(work + "/missing"), result.stderr)
    XCTAssertTrue(result.stderr.contains("Error: rank 1 of 2 failed"), result.stderr)
    XCTAssertEqual(result.stdout, "")
    XCTAssertFalse(FileManager.default.fileExists(atPath: output))
  }

  // MARK: - Ctrl-C

  /// mpirun answers Ctrl-C with SIGTERM to every rank: each stops at once, and every file under
  /// a final name is complete (identity copies of one input are the same bytes).
  func testCtrlCReachesEveryRankAndLeavesOnlyCompleteFiles() throws {
    let input = work + "/in"
    try FileManager.default.copyItem(atPath: samples, toPath: input)
    let reference = work + "/reference"
    XCTAssertEqual(try STNBinary.run(["augment", Golden.packageRoot + "/pipelines/identity.yaml", "--input", input, "--output", reference]).status, 0)
    let expected = MPIRun.files(under: reference)

    let output = work + "/out"
    let arguments = ["augment", Golden.packageRoot + "/pipelines/identity.yaml", "--input", input, "--output", output, "--copies", "10000"]
    let running = try MPIRun.start(perRank: [arguments, arguments])
    let deadline = Date().addingTimeInterval(60)
    while MPIRun.files(under: output).count < 50, Date() < deadline, running.process.isRunning { usleep(20_000) }
    kill(running.process.processIdentifier, SIGINT)
    let started = Date()
    let result = running.finish()
    XCTAssertLessThan(Date().timeIntervalSince(started), 10, "every rank stops within seconds")
    XCTAssertNotEqual(result.status, 0, result.stderr)
    XCTAssertTrue(result.stderr.contains("interrupted (rank "), result.stderr)
    XCTAssertFalse(result.stdout.contains("written"), "no summary after Ctrl-C under mpirun: \(result.stdout)")
    let written = MPIRun.files(under: output).filter { !($0.key as NSString).lastPathComponent.hasPrefix(".") }
    XCTAssertGreaterThan(written.count, 0)
    XCTAssertLessThan(written.count, 60_000)
    for (name, bytes) in written {
      // class/stem_k.png is a complete copy of class/stem.png.
      let stem = (name as NSString).deletingPathExtension
      let source = String(stem[..<(stem.lastIndex(of: "_") ?? stem.endIndex)]) + ".png"
      XCTAssertEqual(bytes, expected[source], "\(name) is complete")
    }
  }
}
