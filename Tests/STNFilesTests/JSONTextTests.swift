import XCTest
@testable import STNFiles

final class JSONTextTests: XCTestCase {
  func testCompactOrderedOutput() {
    let value = JSONText.object([
      ("b", .int(2)), ("a", .number(0.125)), ("s", .string("q\"\\\n")), ("n", .number(.nan)), ("l", .array([.bool(true), .null])),
    ])
    XCTAssertEqual(value.description, #"{"b":2,"a":0.125,"s":"q\"\\\n","n":null,"l":[true,null]}"#)
    XCTAssertEqual(JSONText.format(3), "3")
    XCTAssertEqual(JSONText.format(1e-9), "1.000000e-09")
  }
}
