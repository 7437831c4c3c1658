import Foundation
import XCTest

/// Runs python3 for tests that check our files with the reference tools themselves (e.g.
/// tensorboard's own event reader).
public enum Python {
  /// A python3 run that could not start or exited non-zero.
  public struct Failure: Error, CustomStringConvertible {
    public var description: String
  }

  /// Runs python3 with `arguments`; returns its stdout; throws when it cannot start or exits non-zero.
  public static func run(_ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3"] + arguments
    var environment = ProcessInfo.processInfo.environment
    environment["TF_CPP_MIN_LOG_LEVEL"] = "3"
    process.environment = environment
    let stdout = Pipe(), stderr = Pipe()
    process.standardOutput = stdout
    process.standardError = stderr
    try process.run()
    // Read before waiting so a full pipe cannot block the child.
    let outData = stdout.fileHandleForReading.readDataToEndOfFile()
    let errData = stderr.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
      throw Failure(description: "python3 exited \(process.terminationStatus): \(String(decoding: errData, as: UTF8.self))")
    }
    return String(decoding: outData, as: UTF8.self)
  }

  /// Whether `python3 -c "import tensorboard"` works.
  public static var hasTensorBoard: Bool { (try? run(["-c", "import tensorboard"])) != nil }

  /// Throws `XCTSkip` when tensorboard is not importable and STN_SKIP_TENSORBOARD=1; fails the
  /// test (returning false) when it is not importable otherwise.
  public static func requireTensorBoard(file: StaticString = #filePath, line: UInt = #line) throws -> Bool {
    guard !hasTensorBoard else { return true }
    if ProcessInfo.processInfo.environment["STN_SKIP_TENSORBOARD"] == "1" {
      throw XCTSkip("tensorboard python package not installed (STN_SKIP_TENSORBOARD=1)")
    }
    XCTFail("`python3 -c 'import tensorboard'` failed: install it (pip install tensorboard) or set STN_SKIP_TENSORBOARD=1 to skip", file: file, line: line)
    return false
  }
}
