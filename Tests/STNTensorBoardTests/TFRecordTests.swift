import XCTest
import STNFiles
@testable import STNTensorBoard

final class TFRecordTests: XCTestCase {
  func testFrameLayout() throws {
    let data: [UInt8] = [1, 2, 3]
    let frame = TFRecord.frame(data)
    XCTAssertEqual(frame.count, 8 + 4 + 3 + 4)
    XCTAssertEqual(Array(frame[0..<8]), [3, 0, 0, 0, 0, 0, 0, 0])
    let lengthCRC = CRC32C.maskedChecksum(frame[0..<8])
    XCTAssertEqual(Array(frame[8..<12]), (0..<4).map { UInt8(truncatingIfNeeded: lengthCRC >> (8 * UInt32($0))) })
    XCTAssertEqual(Array(frame[12..<15]), data)
    let dataCRC = CRC32C.maskedChecksum(data)
    XCTAssertEqual(Array(frame[15..<19]), (0..<4).map { UInt8(truncatingIfNeeded: dataCRC >> (8 * UInt32($0))) })
  }

  func testRoundTripAndTruncatedTail() throws {
    let records: [[UInt8]] = [[], [7], Array(repeating: 9, count: 300)]
    var file = records.flatMap(TFRecord.frame)
    XCTAssertEqual(try TFRecord.records(in: file), records)
    // A writer killed mid-record leaves a partial frame: earlier records are still readable.
    file += Array(TFRecord.frame([1, 2, 3, 4, 5]).prefix(14))
    XCTAssertEqual(try TFRecord.records(in: file, allowTruncatedTail: true), records)
    XCTAssertThrowsError(try TFRecord.records(in: file))
  }

  func testCorruptionIsDetected() {
    var file = TFRecord.frame([10, 20, 30])
    file[13] ^= 0x01
    XCTAssertThrowsError(try TFRecord.records(in: file)) { error in
      XCTAssertEqual((error as? FileError)?.description, "<bytes>: TFRecord at byte 0: data checksum mismatch")
    }
    var lengthDamaged = TFRecord.frame([10, 20, 30])
    lengthDamaged[0] = 200
    XCTAssertThrowsError(try TFRecord.records(in: lengthDamaged, allowTruncatedTail: true)) { error in
      XCTAssertEqual((error as? FileError)?.description, "<bytes>: TFRecord at byte 0: length checksum mismatch")
    }
  }
}
