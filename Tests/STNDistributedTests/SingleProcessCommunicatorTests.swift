import STNDistributed
import XCTest

final class SingleProcessCommunicatorTests: XCTestCase {
  func testIsRankZeroOfOneAndEveryCollectiveIsTheIdentity() throws {
    let world = SingleProcessCommunicator()
    XCTAssertEqual(world.rank, 0)
    XCTAssertEqual(world.size, 1)
    XCTAssertFalse(world.isDistributed)
    XCTAssertTrue(world.isRoot)
    for operation in ReductionOperation.allCases {
      var floats: [Float] = [1.5, -2, .greatestFiniteMagnitude]
      try world.allreduce(&floats, operation)
      XCTAssertEqual(floats, [1.5, -2, .greatestFiniteMagnitude])
      XCTAssertEqual(try world.allreduce(Int64.min, operation), Int64.min)
      XCTAssertEqual(try world.allreduce(-0.25 as Double, operation), -0.25)
    }
    var values: [Float] = [3, 4]
    try world.broadcast(&values, root: 0)
    XCTAssertEqual(values, [3, 4])
    XCTAssertEqual(try world.broadcast(bytes: [1, 2, 3], root: 0), [1, 2, 3])
    XCTAssertEqual(try world.broadcast(string: "é", root: 0), "é")
    XCTAssertEqual(try world.gather(bytes: [9], root: 0), [[9]])
    XCTAssertEqual(try world.gather(string: "", root: 0), [""])
    try world.barrier()
  }

  /// A root that does not exist is the same error as under MPI, not a silent success.
  func testRefusesARootOtherThanZero() {
    let world = SingleProcessCommunicator()
    var values: [Float] = [1]
    XCTAssertThrowsError(try world.broadcast(&values, root: 1)) { XCTAssertTrue($0 is DistributedError, "\($0)") }
    XCTAssertThrowsError(try world.broadcast(bytes: [], root: -1))
    XCTAssertThrowsError(try world.gather(bytes: [], root: 2))
  }

  func testCollectivelyReturnsTheValueOrWrapsTheOwnError() throws {
    let world = SingleProcessCommunicator()
    XCTAssertEqual(try world.collectively { 42 }, 42)
    struct Broken: Error {}
    XCTAssertThrowsError(try world.collectively { throw Broken() }) { error in
      guard let failure = error as? CollectiveFailure else { return XCTFail("\(error)") }
      XCTAssertEqual(failure.failedRanks, [0])
      XCTAssertTrue(failure.localError is Broken)
    }
  }

  /// The same checks `mpirun -np N stn debug mpi-selftest` runs, on one process.
  func testSelfTestPassesOnOneProcess() throws {
    let report = try CommunicatorSelfTest.run(SingleProcessCommunicator())
    XCTAssertEqual(report.failures, [])
    XCTAssertTrue(report.passed)
    XCTAssertGreaterThan(report.checks, 10)
  }
}
