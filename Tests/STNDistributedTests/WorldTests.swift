import STNDistributed
import XCTest

final class WorldTests: XCTestCase {
  func testNoLauncherMeansOneProcess() {
    XCTAssertNil(Launch.detect(in: [:]))
    XCTAssertNil(Launch.detect(in: ["PATH": "/usr/bin", "OMPI_MCA_btl": "self"]))
  }

  func testDetectsOpenMPIPMIxAndSrunSteps() {
    XCTAssertEqual(Launch.detect(in: ["OMPI_COMM_WORLD_SIZE": "2", "OMPI_COMM_WORLD_RANK": "1"]),
                   Launch(launcher: "Open MPI's mpirun", evidence: "OMPI_COMM_WORLD_SIZE=2", size: 2))
    // mpirun -np 1 is a launcher too (MPI starts, with one rank).
    XCTAssertNotNil(Launch.detect(in: ["OMPI_COMM_WORLD_SIZE": "1"]))
    XCTAssertEqual(Launch.detect(in: ["PMIX_RANK": "0"]), Launch(launcher: "a PMIx launcher", evidence: "PMIX_RANK=0", size: nil))
    // srun --mpi=pmix: PMIx, with the step's size to check MPI's against.
    XCTAssertEqual(Launch.detect(in: ["PMIX_RANK": "1", "SLURM_PROCID": "1", "SLURM_STEP_NUM_TASKS": "4"])?.size, 4)
    XCTAssertEqual(Launch.detect(in: ["SLURM_PROCID": "3", "SLURM_STEP_NUM_TASKS": "4", "SLURM_NTASKS": "4"]),
                   Launch(launcher: "Slurm's srun", evidence: "SLURM_PROCID=3 of a 4-task step", size: 4))
    XCTAssertEqual(Launch.detect(in: ["SLURM_PROCID": "0", "SLURM_STEP_ID": "0", "SLURM_NTASKS": "2"])?.size, 2)
  }

  /// A batch script's shell (SLURM_NTASKS=N, SLURM_PROCID=0, no step) and one-task steps run
  /// `stn` as one process.
  func testSlurmAllocationsWithoutAMultiTaskStepAreNotALauncher() {
    XCTAssertNil(Launch.detect(in: ["SLURM_PROCID": "0", "SLURM_NTASKS": "4", "SLURM_JOB_ID": "7"]))
    XCTAssertNil(Launch.detect(in: ["SLURM_PROCID": "0", "SLURM_STEP_NUM_TASKS": "1", "SLURM_NTASKS": "4"]))
    XCTAssertNil(Launch.detect(in: ["SLURM_STEP_NUM_TASKS": "4"]))
  }

  func testSTNMPIOffWins() {
    for value in ["off", "0", "NO", "false"] {
      XCTAssertNil(Launch.detect(in: ["STN_MPI": value, "OMPI_COMM_WORLD_SIZE": "2"]), value)
    }
    XCTAssertNotNil(Launch.detect(in: ["STN_MPI": "on", "OMPI_COMM_WORLD_SIZE": "2"]))
  }

  /// Under a launcher without the library: one error naming the library and the fix.
  func testAMissingLibraryIsOneClearError() {
    XCTAssertThrowsError(try MPICommunicator(library: "libstn-no-such-mpi.so.40", launch: "Open MPI's mpirun, OMPI_COMM_WORLD_SIZE=2")) { error in
      guard case DistributedError.libraryUnavailable(let library, _, let reason) = error else { return XCTFail("\(error)") }
      XCTAssertEqual(library, "libstn-no-such-mpi.so.40")
      XCTAssertFalse(reason.isEmpty)
      let text = "\(error)"
      XCTAssertTrue(text.contains("libstn-no-such-mpi.so.40") && text.contains("apt-get install openmpi-bin") && text.contains("OMPI_COMM_WORLD_SIZE=2"), text)
      XCTAssertFalse(text.contains("\n"))
    }
  }

  /// A library that is not Open MPI is named with the symbol it lacks (and is not kept loaded).
  func testALibraryThatIsNotOpenMPIIsRefused() throws {
    guard FileManager.default.fileExists(atPath: "/usr/lib/x86_64-linux-gnu/libz.so.1") || FileManager.default.fileExists(atPath: "/lib/x86_64-linux-gnu/libz.so.1") else {
      throw XCTSkip("libz.so.1 not found to stand in for a library that is not MPI")
    }
    XCTAssertThrowsError(try MPICommunicator(library: "libz.so.1", launch: "test")) { error in
      XCTAssertTrue("\(error)".contains("has no symbol MPI_Init_thread"), "\(error)")
    }
  }

  /// The test process has no launcher: the world is the single process, decided once.
  func testTheWorldOfAPlainProcessIsTheSingleProcess() throws {
    let world = try World.communicator(environment: [:])
    XCTAssertTrue(world is SingleProcessCommunicator)
    XCTAssertTrue(try World.communicator() === world)
    XCTAssertTrue(World.current === world)
  }
}
