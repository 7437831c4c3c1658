import STNNetwork
import STNTensor
import XCTest

@testable import STNTrain

/// The training-step benchmark runs real steps and reports sane times (no timing assertions:
/// timing belongs in benchmarks).
final class TrainingStepBenchmarkTests: XCTestCase {
  /// The run-time policy `stn` applies at start-up (single-threaded OpenBLAS inside threaded kernels).
  override class func setUp() {
    super.setUp()
    RuntimePolicy.standard.apply()
  }

  func testBenchmarkRunsAndReportsPositiveTimes() throws {
    let spec = ModelSpec([
      .conv2d(Conv2DSpec(out: 4, kernel: 3, padding: 1)), .maxPool2d(PoolSpec(kernel: 2)), .relu,
      .flatten, .linear(LinearSpec(out: nil)),
    ])
    let result = try benchmarkTrainingStep(spec: spec, batch: 4, threads: 2, steps: 3, inputShape: [1, 8, 8], warmUp: 1)
    XCTAssertTrue(result.msPerBatch > 0 && result.msPerBatch.isFinite, "\(result)")
    XCTAssertTrue(result.cpuMsPerBatch > 0 && result.cpuMsPerBatch.isFinite, "\(result)")
  }

  func testBenchmarkRejectsASpecThatDoesNotFit() {
    let spec = ModelSpec([.flatten, .linear(LinearSpec(out: 3))])  // ends with 3 outputs, not 10 classes
    XCTAssertThrowsError(try benchmarkTrainingStep(spec: spec, batch: 2, threads: 1, steps: 1))
  }
}
