import XCTest

/// Placeholder so the target builds; replaced as the module's tests land.
final class STNPipelinePlaceholderTests: XCTestCase {
  func testPlaceholder() { XCTAssertTrue(true) }
}
