import XCTest
@testable import STNWarp

final class LinearSystemTests: XCTestCase {
  /// 2x + y = 5, x - y = 1 -> (2, 1); a second right-hand side at once; a zero first pivot
  /// needs the row swap.
  func testHandComputed() throws {
    let x = try XCTUnwrap(solveLinearSystem([2, 1, 1, -1], [5, 4, 1, -1], size: 2, columns: 2))
    XCTAssertEqual(x[0], 2, accuracy: 1e-12)  // first column: (2, 1)
    XCTAssertEqual(x[2], 1, accuracy: 1e-12)
    XCTAssertEqual(x[1], 1, accuracy: 1e-12)  // second column: 2x + y = 4, x - y = -1 -> (1, 2)
    XCTAssertEqual(x[3], 2, accuracy: 1e-12)
    let swapped = try XCTUnwrap(solveLinearSystem([0, 1, 0, 1, 0, 0, 0, 0, 3], [7, 8, 9], size: 3, columns: 1))
    XCTAssertEqual(swapped, [8, 7, 3])
  }

  func testSingularOrNonFiniteSystemsGiveNil() {
    XCTAssertNil(solveLinearSystem([1, 2, 2, 4], [1, 2], size: 2, columns: 1))
    XCTAssertNil(solveLinearSystem([0, 0, 0, 0], [1, 2], size: 2, columns: 1))
    XCTAssertNil(solveLinearSystem([1, .nan, 0, 1], [1, 2], size: 2, columns: 1))
  }
}
