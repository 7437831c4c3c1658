import STNTensor
import XCTest

@testable import STNNetwork

/// Data-parallel training passes each rank a part of the batch: with `firstSample` set to the
/// part's position, a part draws exactly the masks the whole batch gives its samples.
final class DropoutPartTests: XCTestCase {
  func testSkippingDrawsEqualsDrawingThem() {
    var drawn = RandomStream(seed: 3, index: 9, salt: 1), skipped = drawn
    for _ in 0..<1000 { _ = drawn.next() }
    skipped.skip(1000)
    XCTAssertEqual((0..<5).map { _ in drawn.next() }, (0..<5).map { _ in skipped.next() })
  }

  func testPartsOfABatchGetTheWholeBatchsMasks() {
    let layer = Dropout(inputShape: [3, 4], probability: 0.5, seed: 9)
    var random = RandomStream(seed: 1)
    let input = Tensor(shape: [5, 3, 4], data: (0..<60).map { _ in Float(random.normal()) + 3 })
    func forward(_ x: Tensor, firstSample: Int) -> Tensor {
      layer.calls = 7
      layer.firstSample = firstSample
      let graph = Graph(parameters: ParameterStore(), training: true, threads: 1)
      return graph.value(layer.forward(graph.input(x), in: graph))
    }
    let whole = forward(input, firstSample: 0)
    XCTAssertTrue(whole.data.contains(0) && whole.data.contains { $0 != 0 }, "some dropped, some kept")
    let first = forward(Tensor(shape: [2, 3, 4], data: Array(input.data[0..<24])), firstSample: 0)
    let second = forward(Tensor(shape: [3, 3, 4], data: Array(input.data[24..<60])), firstSample: 2)
    XCTAssertEqual((first.data + second.data).map(\.bitPattern), whole.data.map(\.bitPattern))
  }
}
