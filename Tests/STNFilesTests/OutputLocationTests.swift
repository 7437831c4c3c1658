import Foundation
import XCTest

@testable import STNFiles

/// The checks every writer makes, and the path helpers they use.
final class OutputLocationTests: XCTestCase {
  func testParentFolderAndJoined() {
    XCTAssertEqual(OutputLocation.parentFolder("a/b"), "a")
    XCTAssertEqual(OutputLocation.parentFolder("a/b/"), "a")
    XCTAssertEqual(OutputLocation.parentFolder("/b"), "/")
    XCTAssertEqual(OutputLocation.parentFolder("b"), "")
    XCTAssertEqual(OutputLocation.parentFolder("c"), "")
    XCTAssertEqual(OutputLocation.parentFolder("/"), "/")
    XCTAssertEqual(OutputLocation.joined("", "x"), "x")
    XCTAssertEqual(OutputLocation.joined("a", "x"), "a/x")
    XCTAssertEqual(OutputLocation.joined("/", "x"), "/x")
  }

  func testOverlapAfterDotDotAndSymlinks() throws {
    let root = NSTemporaryDirectory() + "stn-output-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: root + "/in/a", withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: root) }
    try FileManager.default.createSymbolicLink(atPath: root + "/link", withDestinationPath: root + "/in")
    for output in [root + "/in", root + "/in/a/new", root + "/x/../in/b", root + "/link/c", root] {
      XCTAssertThrowsError(try OutputLocation.refuseOverlap(output: output, inputs: [root + "/in"]), output)
    }
    XCTAssertNoThrow(try OutputLocation.refuseOverlap(output: root + "/out", inputs: [root + "/in"]))
    XCTAssertNoThrow(try OutputLocation.refuseOverlap(output: root + "/in2", inputs: [root + "/in"]), "a name prefix is not containment")
  }

  func testFolderPolicies() throws {
    let root = NSTemporaryDirectory() + "stn-output-\(UUID().uuidString)"
    defer { try? FileManager.default.removeItem(atPath: root) }
    XCTAssertNoThrow(try OutputLocation.prepareFolder(root + "/new/deeper", policy: .refuse))
    try Data("x".utf8).write(to: URL(fileURLWithPath: root + "/new/deeper/f"))
    XCTAssertThrowsError(try OutputLocation.prepareFolder(root + "/new/deeper", policy: .refuse))
    XCTAssertNoThrow(try OutputLocation.prepareFolder(root + "/new/deeper", policy: .overwrite))
    XCTAssertNoThrow(try OutputLocation.prepareFolder(root + "/new/deeper", policy: .skipExisting))
    XCTAssertThrowsError(try OutputLocation.prepareFolder(root + "/new/deeper/f", policy: .overwrite)) { error in
      XCTAssertTrue("\(error)".contains("must be a folder"), "\(error)")
    }
    XCTAssertThrowsError(try OutputLocation.prepareFile(root + "/new/deeper/f", overwrite: false))
    XCTAssertNoThrow(try OutputLocation.prepareFile(root + "/new/deeper/f", overwrite: true))
    XCTAssertThrowsError(try OutputLocation.prepareFile(root + "/new", overwrite: true), "a folder is not a file")
  }
}
