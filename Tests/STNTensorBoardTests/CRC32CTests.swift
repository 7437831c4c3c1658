import XCTest
@testable import STNTensorBoard

final class CRC32CTests: XCTestCase {
  func testKnownVectors() {
    XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
    XCTAssertEqual(CRC32C.checksum([UInt8]()), 0)
    // RFC 3720 (iSCSI) B.4 test patterns.
    XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0, count: 32)), 0x8A91_36AA)
    XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)), 0x62A8_AB43)
    XCTAssertEqual(CRC32C.checksum((0..<32).map { UInt8($0) }), 0x46DD_794E)
    XCTAssertEqual(CRC32C.checksum((0..<32).map { UInt8(31 - $0) }), 0x113F_DB5C)
  }

  func testMaskMatchesTensorFlowFormulaAndUnmasks() {
    let crc: UInt32 = 0xE306_9283
    let expected = ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
    XCTAssertEqual(CRC32C.mask(crc), expected)
    for value: UInt32 in [0, 1, 0xFFFF_FFFF, 0x1234_5678, crc] {
      XCTAssertEqual(CRC32C.unmask(CRC32C.mask(value)), value)
    }
    // Masked CRC of 8 zero bytes (the length field of an empty record), as TensorFlow writes it.
    XCTAssertEqual(CRC32C.maskedChecksum([UInt8](repeating: 0, count: 8)), CRC32C.mask(CRC32C.checksum([UInt8](repeating: 0, count: 8))))
  }
}
