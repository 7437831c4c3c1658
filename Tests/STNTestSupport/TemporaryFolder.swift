import Foundation
import XCTest

extension XCTestCase {
  /// A fresh empty folder under the temporary directory, named after `name`; it and everything
  /// in it are removed when the current test ends (call it from `setUpWithError` or the test).
  public func makeTemporaryFolder(_ name: String) throws -> String {
    let path = NSTemporaryDirectory() + "stn-tests-\(name)-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
    return path
  }
}
