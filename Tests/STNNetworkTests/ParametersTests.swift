import STNTensor
import XCTest

@testable import STNNetwork

/// The flat parameter buffer and its size/offset table.
final class ParametersTests: XCTestCase {
  func testEntriesShareOneFlatLayout() {
    let store = ParameterStore()
    let a = store.add(name: "a", shape: [2, 3], initial: [1, 2, 3, 4, 5, 6])
    let b = store.add(name: "b", shape: [2], initial: [7, 8])
    XCTAssertEqual(store.totalCount, 8)
    XCTAssertEqual(store.entries.map(\.offset), [0, 6])
    XCTAssertEqual(b.offset, 6)
    XCTAssertEqual(store.tensor(a), Tensor(shape: [2, 3], data: [1, 2, 3, 4, 5, 6]))
    store.set(b, to: Tensor(shape: [2], data: [9, 10]))
    XCTAssertEqual(store.values, [1, 2, 3, 4, 5, 6, 9, 10])
    store.accumulateGradient(b, Tensor(shape: [2], data: [1, 1]))
    store.accumulateGradient(b, Tensor(shape: [2], data: [0.5, 2]))
    XCTAssertEqual(store.gradients, [0, 0, 0, 0, 0, 0, 1.5, 3])
    XCTAssertEqual(store.gradient(b).data, [1.5, 3])
    XCTAssertEqual(store.parameter(named: "a"), a)
    XCTAssertNil(store.parameter(named: "c"))
    store.zeroGradients()
    XCTAssertTrue(store.gradients.allSatisfy { $0 == 0 })
    XCTAssertTrue(store.valuesAreFinite && store.gradientsAreFinite)
    store.gradients[3] = .nan
    XCTAssertFalse(store.gradientsAreFinite)
    store.values[0] = .infinity
    XCTAssertFalse(store.valuesAreFinite)
  }
}
