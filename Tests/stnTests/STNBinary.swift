import Foundation
import STNTestSupport
import XCTest

/// Runs the built `stn` binary (tests of the command line: flags, exit status, output).
enum STNBinary {
  /// The `stn` executable next to the test bundle, if it was built.
  static var path: String? {
    var folder = URL(fileURLWithPath: CommandLine.arguments.first ?? "").deletingLastPathComponent()
    for _ in 0..<3 {
      let candidate = folder.appendingPathComponent("stn").path
      if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
      folder = folder.deletingLastPathComponent()
    }
    let fallback = Golden.packageRoot + "/.build/debug/stn"
    return FileManager.default.isExecutableFile(atPath: fallback) ? fallback : nil
  }

  /// Runs `stn` with `arguments`; returns exit status, stdout and stderr.
  static func run(_ arguments: [String], in folder: String? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
    try start(arguments, in: folder).finish()
  }

  /// The last line of `output` (a command's stdout) as a JSON object.
  static func lastJSON(_ output: String) throws -> [String: Any] {
    let line = try XCTUnwrap(output.split(separator: "\n").last.map(String.init))
    return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], line)
  }

  /// A running `stn`, for tests that signal it.
  struct Running {
    let process: Process
    let out: Pipe
    let err: Pipe

    /// Waits for the end; returns exit status (128 + signal when killed), stdout and stderr.
    func finish() -> (status: Int32, stdout: String, stderr: String) {
      let stdout = out.fileHandleForReading.readDataToEndOfFile(), stderr = err.fileHandleForReading.readDataToEndOfFile()
      process.waitUntilExit()
      let status = process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
      return (status, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }
  }

  /// Starts `stn` with `arguments` without waiting.
  static func start(_ arguments: [String], in folder: String? = nil) throws -> Running {
    guard let path else { throw XCTSkip("stn binary not built (swift build --build-tests builds it)") }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    if let folder { process.currentDirectoryURL = URL(fileURLWithPath: folder) }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    return Running(process: process, out: out, err: err)
  }
}
