import Foundation
import XCTest

@testable import STNFiles

final class FolderLockTests: XCTestCase {
  private var folder = ""

  override func setUpWithError() throws {
    folder = NSTemporaryDirectory() + "stn-lock-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
  }

  override func tearDownWithError() throws {
    try? FileManager.default.removeItem(atPath: folder)
  }

  /// A second hold on a held folder is refused; once the first is released the folder can be
  /// held again. (flock locks belong to an open file, so two opens in one process conflict as
  /// two processes would.) Nothing is added to the folder.
  func testASecondHoldIsRefusedUntilTheFirstEnds() throws {
    var first: FolderLock? = try FolderLock.acquire(folder)
    XCTAssertEqual(first?.folder, folder)
    XCTAssertThrowsError(try FolderLock.acquire(folder, flag: "run")) { error in
      guard let error = error as? FileError else { return XCTFail("\(error)") }
      XCTAssertEqual(error.path, folder)
      XCTAssertTrue(error.reason.hasPrefix("another stn run is writing into this run folder"), error.reason)
    }
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder), [])
    first = nil
    XCTAssertNoThrow(try FolderLock.acquire(folder))
  }

  func testAMissingFolderIsOneError() throws {
    XCTAssertThrowsError(try FolderLock.acquire(folder + "/missing")) { error in
      XCTAssertTrue("\(error)".contains("cannot open the --output folder"), "\(error)")
    }
  }
}
