import XCTest

@testable import STNNetwork

/// The allocator tuning applies on glibc and is harmless to repeat.
final class AllocatorTests: XCTestCase {
  func testTuningAppliesOnGlibc() {
    #if canImport(Glibc)
    XCTAssertTrue(tuneAllocatorForTraining())
    XCTAssertTrue(tuneAllocatorForTraining())
    #else
    XCTAssertFalse(tuneAllocatorForTraining())
    #endif
  }
}
