import Foundation
import STNTestSupport
import XCTest

final class AugmentCommandTests: XCTestCase {
  private let pipelines = Golden.packageRoot + "/pipelines"

  /// Writes a tiny uncompressed 8-bit gray PNG (stored deflate blocks) without any codec.
  private func writePNG(width: Int, height: Int, seed: Int, to path: String) throws {
    func be(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 255), UInt8((v >> 8) & 255), UInt8(v & 255)] }
    func crc(_ data: [UInt8]) -> UInt32 {
      var c: UInt32 = 0xFFFF_FFFF
      for byte in data {
        c ^= UInt32(byte)
        for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
      }
      return c ^ 0xFFFF_FFFF
    }
    var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    func chunk(_ type: String, _ body: [UInt8]) {
      let typed = Array(type.utf8) + body
      png += be(UInt32(body.count)) + typed + be(crc(typed))
    }
    chunk("IHDR", be(UInt32(width)) + be(UInt32(height)) + [8, 0, 0, 0, 0])
    var raw: [UInt8] = []
    for y in 0..<height {
      raw.append(0)
      for x in 0..<width { raw.append(UInt8(truncatingIfNeeded: x * 7 + y * 3 + seed * 40)) }
    }
    var a: UInt32 = 1, b: UInt32 = 0
    for byte in raw { a = (a + UInt32(byte)) % 65521; b = (b + a) % 65521 }
    let n = raw.count
    let deflate: [UInt8] = [0x78, 0x01, 1, UInt8(n & 255), UInt8(n >> 8), UInt8(~n & 255), UInt8((~n >> 8) & 255)] + raw + be(b << 16 | a)
    chunk("IDAT", deflate)
    chunk("IEND", [])
    try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try Data(png).write(to: URL(fileURLWithPath: path))
  }

  private func makeInput() throws -> String {
    let input = try makeTemporaryFolder("in")
    for i in 0..<4 { try writePNG(width: 20 + i, height: 16, seed: i, to: input + "/\(i % 2 == 0 ? "a" : "b")/x\(i).png") }
    try Data("not an image".utf8).write(to: URL(fileURLWithPath: input + "/a/broken.png"))
    return input
  }

  func testAugmentWritesMirrorSummarizesAndExitsThreeOnSkips() throws {
    let input = try makeInput()
    let output = try makeTemporaryFolder("out") + "/o"
    let result = try STNBinary.run(["augment", pipelines + "/photos-augment.yaml", "--input", input, "--output", output, "--threads", "2", "--copies", "2"])
    XCTAssertEqual(result.status, 3, result.stderr)
    XCTAssertTrue(result.stdout.hasPrefix("written 8, skipped 1, "), result.stdout)
    XCTAssertTrue(result.stdout.contains("images/s"))
    XCTAssertTrue(result.stdout.contains("broken.png"))
    XCTAssertTrue(result.stderr.contains("broken.png"))
    let written = try FileManager.default.subpathsOfDirectory(atPath: output).filter { $0.hasSuffix(".png") }.sorted()
    XCTAssertEqual(written, ["a/x0_0.png", "a/x0_1.png", "a/x2_0.png", "a/x2_1.png", "b/x1_0.png", "b/x1_1.png", "b/x3_0.png", "b/x3_1.png"])
  }

  func testAugmentExitsZeroWhenNothingIsSkipped() throws {
    let input = try makeInput()
    try FileManager.default.removeItem(atPath: input + "/a/broken.png")
    let output = try makeTemporaryFolder("out")
    let result = try STNBinary.run(["augment", pipelines + "/identity.yaml", "--input", input, "--output", output])
    XCTAssertEqual(result.status, 0, result.stderr)
    XCTAssertTrue(result.stdout.hasPrefix("written 4, skipped 0, "), result.stdout)
  }

  /// `--split` picks the split of the pipeline's own IDX source when there is no --input (it
  /// was silently ignored there), and is an error, before any output, on an image folder.
  func testSplitAppliesToThePipelineSourceAndNotToImageFolders() throws {
    // Two splits told apart by their sizes: 3 train and 2 test images of 4x4 pixels.
    let idx = try makeTemporaryFolder("idx")
    for (prefix, count) in [("train", 3), ("t10k", 2)] {
      let images = (0..<count).map { i in (0..<16).map { UInt8(truncatingIfNeeded: (i * 16 + $0) * 13) } }
      try IDXFiles.write(images: images, labels: (0..<count).map(UInt8.init), width: 4, height: 4, prefix: prefix, into: idx)
    }
    let pipeline = try makeTemporaryFolder("split") + "/p.yaml"
    try "source: {idx: \(idx), split: train}\nstages: []\n".write(toFile: pipeline, atomically: true, encoding: .utf8)
    func written(_ extra: [String]) throws -> [String: Data] {  // the written files' bytes by name
      let output = try makeTemporaryFolder("o")
      let result = try STNBinary.run(["augment", pipeline, "--output", output] + extra)
      XCTAssertEqual(result.status, 0, result.stderr)
      let names = FileManager.default.enumerator(atPath: output)?.compactMap { $0 as? String } ?? []
      return try Dictionary(uniqueKeysWithValues: names.filter { $0.hasSuffix(".png") }.map {
        ($0, try Data(contentsOf: URL(fileURLWithPath: output + "/" + $0)))
      })
    }
    let train = try written(["--input", idx])
    let test = try written(["--input", idx, "--split", "test"])
    XCTAssertEqual([train.count, test.count], [3, 2])
    XCTAssertEqual(try written([]), train)
    XCTAssertEqual(try written(["--split", "test"]), test)

    let output = try makeTemporaryFolder("none") + "/out"
    let folder = try STNBinary.run(["augment", pipeline, "--split", "test", "--input", try makeInput(), "--output", output])
    XCTAssertEqual(folder.status, 1)
    XCTAssertTrue(folder.stderr.contains("this is an image folder"), folder.stderr)
    XCTAssertEqual(folder.stderr.split(separator: "\n").count, 1, folder.stderr)
    XCTAssertFalse(FileManager.default.fileExists(atPath: output))
    let file = try STNBinary.run(["augment", pipeline, "--split", "train", "--input", idx + "/t10k-images-idx3-ubyte", "--output", output])
    XCTAssertEqual(file.status, 1)
    XCTAssertTrue(file.stderr.contains("this is the test split's file"), file.stderr)
  }

  func testAugmentRefusesOutputInsideInputAndBadPipelines() throws {
    let input = try makeInput()
    let inside = try STNBinary.run(["augment", pipelines + "/identity.yaml", "--input", input, "--output", input + "/out"])
    XCTAssertNotEqual(inside.status, 0)
    XCTAssertTrue(inside.stderr.contains("inside the input"), inside.stderr)
    XCTAssertFalse(FileManager.default.fileExists(atPath: input + "/out"))
    let bad = try makeTemporaryFolder("bad") + "/bad.yaml"
    try "stages:\n  - resize: {size: 4}\n  - rotate: {degrees: 3}\n".write(toFile: bad, atomically: true, encoding: .utf8)
    let result = try STNBinary.run(["augment", bad, "--input", input, "--output", try makeTemporaryFolder("o2")])
    XCTAssertEqual(result.status, 1)
    XCTAssertTrue(result.stderr.contains("bad.yaml:3:"), result.stderr)
  }

  func testExportWritesASheet() throws {
    let input = try makeInput()
    let sheet = try makeTemporaryFolder("sheet") + "/sheet.png"
    let result = try STNBinary.run(["export", pipelines + "/photos-augment.yaml", "--input", input, "--output", sheet, "--count", "5"])
    // 5 evenly spaced of 5 files include broken.png: the sheet is still written, exit 3.
    XCTAssertEqual(result.status, 3, result.stderr)
    XCTAssertTrue(FileManager.default.fileExists(atPath: sheet))
    XCTAssertTrue(result.stdout.contains("4 samples"), result.stdout)
    let wrongKind = try STNBinary.run(["export", input + "/a/x0.png", "--output", sheet])
    XCTAssertNotEqual(wrongKind.status, 0)
  }
}
