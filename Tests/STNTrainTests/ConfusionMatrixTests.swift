import XCTest
@testable import STNTrain

final class ConfusionMatrixTests: XCTestCase {
  func testCountsAccuraciesAndJSON() {
    var matrix = ConfusionMatrix(classes: ["cat", "dog", "eel"])
    for (actual, predicted) in [(0, 0), (0, 1), (1, 1), (1, 1), (0, 0), (1, 0)] { matrix.add(actual: actual, predicted: predicted) }
    XCTAssertEqual(matrix.counts, [[2, 1, 0], [1, 2, 0], [0, 0, 0]])
    XCTAssertEqual(matrix.total, 6)
    XCTAssertEqual(matrix.correct, 4)
    XCTAssertEqual(matrix.accuracy, 4.0 / 6.0, accuracy: 1e-12)
    XCTAssertEqual(matrix.perClassAccuracy[0]!, 2.0 / 3.0, accuracy: 1e-12)
    XCTAssertNil(matrix.perClassAccuracy[2])
    XCTAssertEqual(
      matrix.json().description,
      "{\"accuracy\":0.666667,\"n\":6,\"correct\":4,\"per_class\":{\"cat\":0.666667,\"dog\":0.666667,\"eel\":null},"
        + "\"classes\":[\"cat\",\"dog\",\"eel\"],\"confusion\":[[2,1,0],[1,2,0],[0,0,0]]}")
    XCTAssertTrue(matrix.table().contains("cat"))
  }
}
