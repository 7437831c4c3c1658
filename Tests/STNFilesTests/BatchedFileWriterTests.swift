import Foundation
import XCTest

@testable import STNFiles

/// Atomic writes without an fsync per file: final names appear only after a sync, temporary
/// files never survive a discard, reads are whole.
final class BatchedFileWriterTests: XCTestCase {
  func testFinalNamesAppearOnlyWhenCommitted() throws {
    let root = NSTemporaryDirectory() + "stn-batched-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: root) }
    let writer = BatchedFileWriter(syncPath: root, maxPending: 3, interval: 3600)
    try writer.write([1, 2, 3], to: root + "/a/x.bin")
    try writer.write([4], to: root + "/a/y.bin")
    // Queued: only hidden temporaries exist so far.
    XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/a/x.bin"))
    let hidden = try FileManager.default.contentsOfDirectory(atPath: root + "/a")
    XCTAssertEqual(hidden.count, 2)
    XCTAssertTrue(hidden.allSatisfy(AtomicFile.isTemporaryName), "\(hidden)")
    try writer.write([5, 6], to: root + "/b.bin")  // the third write fills the batch: committed
    XCTAssertEqual(writer.committedCount, 3)
    XCTAssertEqual(try AtomicFile.read(root + "/a/x.bin"), [1, 2, 3])
    try writer.write([7], to: root + "/c.bin")
    writer.discardPending()
    XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/c.bin"))
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: root).sorted(), ["a", "b.bin"])
    try writer.finish()
    XCTAssertEqual(writer.committedCount, 3)
  }

  func testInterruptionRemovesTemporaries() throws {
    let root = NSTemporaryDirectory() + "stn-batched-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: root) }
    let writer = BatchedFileWriter(syncPath: root, maxPending: 100, interval: 3600)
    for k in 0..<5 { try writer.write([UInt8(k)], to: root + "/\(k).bin") }
    AtomicFile.removeTemporaryFiles()
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: root), [])
  }

  func testReadsWholeFilesAndRefusesOversized() throws {
    let path = NSTemporaryDirectory() + "stn-read-\(UUID().uuidString)"
    defer { unlink(path) }
    let bytes = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
    try AtomicFile.write(bytes, to: path)
    XCTAssertEqual(try AtomicFile.read(path), bytes)
    XCTAssertThrowsError(try AtomicFile.read(path, limit: 1000))
    XCTAssertThrowsError(try AtomicFile.read(path + ".missing")) { XCTAssertTrue("\($0)".contains("no such file")) }
    XCTAssertThrowsError(try AtomicFile.read(NSTemporaryDirectory())) { XCTAssertTrue("\($0)".contains("folder")) }
    try AtomicFile.write([UInt8](), to: path)
    XCTAssertEqual(try AtomicFile.read(path), [])
  }
}
