import XCTest

@testable import STNTensor

final class RuntimePolicyTests: XCTestCase {
  /// The allocator tuning is accepted by glibc (mallopt returns 1 for both thresholds) and is
  /// harmless to repeat; applying the policy reports no problem there.
  func testStandardPolicyAppliesOnGlibc() {
    #if canImport(Glibc)
    XCTAssertNil(RuntimePolicy.tuneAllocator())
    XCTAssertNil(RuntimePolicy.tuneAllocator())
    XCTAssertEqual(RuntimePolicy.standard.apply(), [])
    #endif
    XCTAssertEqual(RuntimePolicy.standard.blasThreads, 1)
  }

  /// The threshold asked for is mallopt(3)'s documented upper limit on 64-bit systems, which
  /// every glibc accepts (some refuse more).
  func testMmapThresholdIsTheDocumentedLimit() {
    XCTAssertEqual(Int(RuntimePolicy.mmapThresholdLimit), 4 * 1024 * 1024 * MemoryLayout<Int>.size)
  }
}
