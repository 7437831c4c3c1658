import XCTest
import STNTensor

final class RandomTests: XCTestCase {
  /// The stream is a pure function of its key, and different keys give different streams.
  func testStreamDependsOnlyOnKey() {
    var a = RandomStream(seed: 1, epoch: 2, index: 3)
    var b = RandomStream(seed: 1, epoch: 2, index: 3)
    var c = RandomStream(seed: 1, epoch: 2, index: 4)
    let xa = (0..<8).map { _ in a.next() }, xb = (0..<8).map { _ in b.next() }, xc = (0..<8).map { _ in c.next() }
    XCTAssertEqual(xa, xb)
    XCTAssertNotEqual(xa, xc)
  }

  /// Unit floats stay in [0, 1) and average near 0.5.
  func testUnitFloatRange() {
    var rng = RandomStream(seed: 42)
    var sum = 0.0
    for _ in 0..<10_000 {
      let x = rng.nextUnitFloat()
      XCTAssert(x >= 0 && x < 1)
      sum += Double(x)
    }
    XCTAssertEqual(sum / 10_000, 0.5, accuracy: 0.02)
  }
}
