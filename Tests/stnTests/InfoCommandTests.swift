import Foundation
import STNTestSupport
import XCTest

/// Runs the built `stn info` as a subprocess and checks its JSON lines and exit status.
final class InfoCommandTests: XCTestCase {
  static let packageRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

  /// The `stn` executable built next to the test bundle (SwiftPM puts products in one folder).
  func stnExecutable() throws -> String {
    var candidates: [URL] = [Bundle.main.bundleURL, Bundle.main.bundleURL.deletingLastPathComponent()]
    if let executable = Bundle.main.executableURL { candidates.append(executable.deletingLastPathComponent()) }
    candidates.append(URL(fileURLWithPath: Self.packageRoot + "/.build/debug"))
    for folder in candidates {
      let path = folder.appendingPathComponent("stn").path
      if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    throw XCTSkip("stn executable not found next to the tests (looked in \(candidates.map(\.path))); run `swift build` first")
  }

  /// Runs `stn info ARGS`; returns the exit status and the parsed JSON lines.
  func info(_ arguments: [String]) throws -> (status: Int32, lines: [[String: Any]], raw: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try stnExecutable())
    process.arguments = ["info"] + arguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let raw = String(decoding: data, as: UTF8.self)
    let lines = try raw.split(separator: "\n").map { line -> [String: Any] in
      let object = try JSONSerialization.jsonObject(with: Data(line.utf8))
      return try XCTUnwrap(object as? [String: Any], "not a JSON object: \(line)")
    }
    return (process.terminationStatus, lines, raw)
  }

  func fixture(_ name: String) -> String { Self.packageRoot + "/Tests/STNImageIOTests/Fixtures/" + name }

  func testFilesGiveOneExactLineEach() throws {
    let jpeg = fixture("jpeg_baseline_420.jpg"), png = fixture("png_rgba8.png")
    let result = try info([jpeg, png])
    XCTAssertEqual(result.status, 0)
    XCTAssertEqual(result.raw, """
      {"path":"\(jpeg)","format":"jpeg","width":97,"height":61,"channels":3}
      {"path":"\(png)","format":"png","width":97,"height":61,"channels":4}

      """)
  }

  func testFolderIsSearchedRecursively() throws {
    let result = try info([Self.packageRoot + "/samples"])
    XCTAssertEqual(result.status, 0, result.raw)
    XCTAssertGreaterThanOrEqual(result.lines.count, 4)
    XCTAssertTrue(result.lines.allSatisfy { $0["error"] == nil && ($0["width"] as? Int ?? 0) > 0 }, result.raw)
    let formats = Set(result.lines.compactMap { $0["format"] as? String })
    XCTAssertEqual(formats, ["jpeg", "png"])
    let channels = Set(result.lines.compactMap { $0["channels"] as? Int })
    XCTAssertTrue(channels.contains(1) && channels.contains(3), "samples hold gray and colour images")
  }

  func testIDXFilesReportCount() throws {
    let result = try info([fixture("idx/t10k-images-idx3-ubyte.gz"), fixture("idx")])
    XCTAssertEqual(result.status, 0, result.raw)
    XCTAssertEqual(result.lines.first?["format"] as? String, "idx")
    XCTAssertEqual(result.lines.first?["count"] as? Int, 6)
    XCTAssertEqual(result.lines.first?["width"] as? Int, 7)
    XCTAssertEqual(result.lines.first?["height"] as? Int, 5)
    XCTAssertEqual(result.lines.count, 5, "the file, then the folder's four IDX files")
  }

  func testFailuresGiveErrorLinesAndExitStatus1() throws {
    let good = fixture("png_gray8.png")
    let result = try info([good, fixture("bad/empty.jpg"), fixture("bad/text.png"), fixture("bad/bomb.png"),
                           fixture("bad/missing.jpg")])
    XCTAssertEqual(result.status, 1)
    XCTAssertEqual(result.lines.count, 5)
    XCTAssertNil(result.lines.first?["error"])
    for line in result.lines.dropFirst() {
      XCTAssertNotNil(line["error"] as? String, "\(line)")
      XCTAssertNil(line["width"])
    }
    XCTAssertTrue((result.lines.count > 3 ? result.lines[3]["error"] as? String ?? "" : "").contains("over the limit"))
    // --decode reads the pixels too, so damage past the header is reported.
    let decoded = try info(["--decode", fixture("bad/truncated.jpg")])
    XCTAssertEqual(decoded.status, 1)
    XCTAssertNotNil(decoded.lines.first?["error"])
  }

  func testPathsAreJSONEscaped() throws {
    let folder = try makeTemporaryFolder("info")
    let odd = folder + "/quote\" back\\slash\ttab\u{1}ctl é.png"
    try FileManager.default.copyItem(atPath: fixture("png_gray8.png"), toPath: odd)
    let result = try info([odd])
    XCTAssertEqual(result.status, 0, result.raw)
    XCTAssertEqual(result.lines.first?["path"] as? String, odd)
    XCTAssertTrue(result.raw.contains("\\u0001"))
  }

  func testHelpDescribesOutput() throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try stnExecutable())
    process.arguments = ["info", "--help"]
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    XCTAssertEqual(process.terminationStatus, 0)
    XCTAssertTrue(text.contains("JSON"))
    XCTAssertTrue(text.contains("--decode"))
    XCTAssertTrue(text.contains("Exit status"))
  }
}
