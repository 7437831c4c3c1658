import ArgumentParser
import Foundation
import STNFiles
import STNDistributed
import STNTrain

/// `stn debug ...`: hidden commands for the test suite and for diagnosing an installation.
struct Debug: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Diagnostics (for the test suite and for checking an installation).",
    shouldDisplay: false,
    subcommands: [DebugMPISelfTest.self])
}

/// `mpirun -np N stn debug mpi-selftest`: every collective of the communicator with values
/// whose results are known (`CommunicatorSelfTest`); rank 0 prints one JSON line
/// `{"ranks":N,"checks":C,"failed":F,"seconds":S,"communicator":"..."}` and each failed check
/// on stderr; exit 0 when every check passed on every rank, 1 otherwise. Without a launcher it
/// checks the single-process communicator.
struct DebugMPISelfTest: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "mpi-selftest",
    abstract: "Check allreduce, broadcast, gather and agreement on every rank (run it under mpirun).")

  func run() throws {
    let world = try World.communicator()
    try RankAware.run(world) {
      let report = try CommunicatorSelfTest.run(world)
      for failure in report.failures {
        FileHandle.standardError.write(Data("failed on rank \(world.rank) of \(world.size): \(failure)\n".utf8))
      }
      if world.isRoot {
        print(JSONText.object([
          ("ranks", .int(world.size)), ("checks", .int(report.checks)), ("failed", .int(report.failuresOnAllRanks)),
          ("seconds", .number(report.seconds)), ("communicator", .string(world.description)),
        ]))
      }
      if !report.passed { throw ExitCode(ExitStatus.failure) }
    }
  }
}
