import Foundation
import STNTestSupport
import XCTest

/// `stn debug mpi-selftest` and how `stn` starts with and without an MPI launcher.
final class DebugCommandTests: XCTestCase {
  /// allreduce (sum/max/min of Float, Double, Int64), broadcast (floats from the last rank,
  /// bytes of any length), gather (strings of different lengths), agreement on a failure, on
  /// two real ranks.
  func testEveryCollectiveGivesTheKnownResultOnTwoRanks() throws {
    let result = try MPIRun.run(ranks: 2, ["debug", "mpi-selftest"])
    XCTAssertEqual(result.status, 0, result.stderr)
    XCTAssertTrue(result.stdout.hasPrefix(#"{"ranks":2,"checks":"#), result.stdout)
    XCTAssertTrue(result.stdout.contains(#""failed":0,"#) && result.stdout.contains("Open MPI"), result.stdout)
  }

  /// Without a launcher, MPI is never loaded: a library name that cannot load changes nothing.
  func testWithoutALauncherMPIIsNeverLoaded() throws {
    let result = try MPIRun.runPlain(["debug", "mpi-selftest"], environment: ["STN_MPI_LIBRARY": "libstn-no-such-mpi.so.40"])
    XCTAssertEqual(result.status, 0, result.stderr)
    XCTAssertTrue(result.stdout.hasPrefix(#"{"ranks":1,"#) && result.stdout.contains(#""communicator":"single process""#), result.stdout)
  }

  /// Started by a launcher on a machine without Open MPI: one line naming the library and the
  /// fix, exit 1, before any work.
  func testALauncherWithoutOpenMPIIsOneErrorLine() throws {
    let output = try makeTemporaryFolder("no-mpi") + "/out"
    let result = try MPIRun.runPlain(["augment", Golden.packageRoot + "/pipelines/identity.yaml", "--input", Golden.packageRoot + "/samples/images", "--output", output],
                                     environment: ["OMPI_COMM_WORLD_SIZE": "2", "OMPI_COMM_WORLD_RANK": "0", "STN_MPI_LIBRARY": "libstn-no-such-mpi.so.40"])
    XCTAssertEqual(result.status, 1)
    XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
    XCTAssertTrue(result.stderr.hasPrefix("Error: started by an MPI launcher (Open MPI's mpirun, OMPI_COMM_WORLD_SIZE=2)"), result.stderr)
    XCTAssertTrue(result.stderr.contains("libstn-no-such-mpi.so.40") && result.stderr.contains("apt-get install openmpi-bin"), result.stderr)
    XCTAssertFalse(FileManager.default.fileExists(atPath: output))
  }

  /// srun without PMI support starts lone processes that MPI sees as "rank 0 of 1" each; they
  /// would each do the whole job. A launcher's size that MPI does not see is one error.
  func testALauncherWhoseRanksMPICannotSeeIsOneError() throws {
    guard MPIRun.mpirun != nil else { throw XCTSkip("Open MPI not installed (apt-get install openmpi-bin)") }
    let result = try MPIRun.runPlain(["debug", "mpi-selftest"], environment: MPIRun.environment.merging(["SLURM_PROCID": "0", "SLURM_STEP_NUM_TASKS": "2"]) { $1 })
    XCTAssertEqual(result.status, 1, result.stdout)
    XCTAssertTrue(result.stderr.contains("Slurm's srun started 2 processes") && result.stderr.contains("MPI sees 1") && result.stderr.contains("srun --mpi=pmix"), result.stderr)
    XCTAssertEqual(result.stdout, "")
  }
}
