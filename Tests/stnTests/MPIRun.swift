import Foundation
import XCTest

/// Runs the built `stn` under Open MPI's mpirun, for the tests of rank-aware commands.
///
/// Every rank runs on this machine (shared memory), as root too: the variables below allow
/// root and more ranks than cores (`--oversubscribe`), and turn off the single-copy transport
/// that containers often forbid (ptrace). `--timeout` ends a hung job instead of the suite.
/// Tests skip, naming the package to install, where mpirun is missing.
enum MPIRun {
  /// mpirun on PATH (or Debian's /usr/bin/mpirun), if installed.
  static var mpirun: String? {
    let folders = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init) + ["/usr/bin"]
    return folders.map { $0 + "/mpirun" }.first { FileManager.default.isExecutableFile(atPath: $0) }
  }

  static let environment: [String: String] = [
    "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
    "OMPI_MCA_btl_vader_single_copy_mechanism": "none",
  ]

  /// `mpirun -np ranks stn arguments...`; waits for the end.
  static func run(ranks: Int, _ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
    try start(perRank: Array(repeating: arguments, count: ranks)).finish()
  }

  /// Starts one rank per element of `perRank`, each with its own `stn` arguments (mpirun's
  /// `-np 1 stn A : -np 1 stn B` form), without waiting.
  static func start(perRank: [[String]]) throws -> STNBinary.Running {
    guard let mpirun else { throw XCTSkip("mpirun not installed (apt-get install openmpi-bin); the multi-rank tests need it") }
    guard let stn = STNBinary.path else { throw XCTSkip("stn binary not built (swift build --build-tests builds it)") }
    var arguments = ["--oversubscribe", "--timeout", "120"]
    for (rank, rankArguments) in perRank.enumerated() {
      arguments += (rank == 0 ? [] : [":"]) + ["-np", "1", stn] + rankArguments
    }
    return try launch(mpirun, arguments, environment: environment)
  }

  /// Runs `stn` without mpirun but with `extra` environment variables (a launcher's, say).
  static func runPlain(_ arguments: [String], environment extra: [String: String]) throws -> (status: Int32, stdout: String, stderr: String) {
    guard let stn = STNBinary.path else { throw XCTSkip("stn binary not built (swift build --build-tests builds it)") }
    return try launch(stn, arguments, environment: extra).finish()
  }

  private static func launch(_ executable: String, _ arguments: [String], environment extra: [String: String]) throws -> STNBinary.Running {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(extra) { _, new in new }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    return STNBinary.Running(process: process, out: out, err: err)
  }

  /// Every file under `root` (relative path -> bytes), hidden temporaries included.
  static func files(under root: String) -> [String: Data] {
    var files: [String: Data] = [:]
    for relative in (try? FileManager.default.subpathsOfDirectory(atPath: root)) ?? [] {
      var isDirectory: ObjCBool = false
      if FileManager.default.fileExists(atPath: root + "/" + relative, isDirectory: &isDirectory), !isDirectory.boolValue {
        files[relative] = FileManager.default.contents(atPath: root + "/" + relative)
      }
    }
    return files
  }
}
