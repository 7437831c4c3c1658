import XCTest
@testable import STNTrain

final class DataSplitTests: XCTestCase {
  func testValidationSplitIsSeededDisjointAndComplete() {
    let a = DataSplit.validation(count: 100, fraction: 0.1, seed: 3)
    XCTAssertEqual(a.validation.count, 10)
    XCTAssertEqual(a.train.count, 90)
    XCTAssertEqual(Set(a.train).union(a.validation), Set(0..<100))
    XCTAssertTrue(Set(a.train).isDisjoint(with: a.validation))
    let b = DataSplit.validation(count: 100, fraction: 0.1, seed: 3)
    XCTAssertEqual(a.validation, b.validation)
    XCTAssertNotEqual(a.validation, DataSplit.validation(count: 100, fraction: 0.1, seed: 4).validation)
    XCTAssertEqual(DataSplit.validation(count: 100, fraction: 0, seed: 3).validation, [])
  }

  func testFoldsPartitionTheData() {
    let folds = DataSplit.folds(count: 10, k: 3, seed: 1)
    XCTAssertEqual(folds.map(\.validation.count), [4, 3, 3])
    var seen: [Int] = []
    for fold in folds {
      XCTAssertTrue(Set(fold.train).isDisjoint(with: fold.validation))
      XCTAssertEqual(fold.train.count + fold.validation.count, 10)
      seen += fold.validation
    }
    XCTAssertEqual(seen.sorted(), Array(0..<10))
  }
}
