import Foundation
import XCTest

@testable import STNImageIO

final class InflateTests: XCTestCase {
  /// zlib stream of `payload` in one stored (uncompressed) block, with its Adler-32.
  func storedZlib(_ payload: [UInt8]) -> [UInt8] {
    var a: UInt32 = 1, b: UInt32 = 0
    for byte in payload {
      a = (a + UInt32(byte)) % 65521
      b = (b + a) % 65521
    }
    let adler = b << 16 | a
    let length = UInt16(payload.count)
    return [0x78, 0x01, 0x01, UInt8(length & 0xFF), UInt8(length >> 8), UInt8(~length & 0xFF), UInt8(~length >> 8)]
      + payload + [UInt8(adler >> 24), UInt8(adler >> 16 & 0xFF), UInt8(adler >> 8 & 0xFF), UInt8(adler & 0xFF)]
  }

  func testReadsZlibInPiecesAndStopsAtTheCap() throws {
    let payload = (0 ..< 300).map { UInt8($0 % 251) }
    let inflater = try Inflater(storedZlib(payload), path: "mem.z")
    XCTAssertEqual(try inflater.read(10), Array(payload[..<10]))  // never more than asked
    XCTAssertFalse(inflater.finished)
    XCTAssertEqual(try inflater.read(1000), Array(payload[10...]))
    XCTAssertTrue(inflater.finished)
    XCTAssertEqual(try inflater.read(5), [])
  }

  func testReadsGzip() throws {
    let inflater = try Inflater(readBytes(fixture("idx/t10k-labels-idx1-ubyte.gz")), path: "labels.gz")
    XCTAssertEqual(try inflater.read(100), [0, 0, 8, 1, 0, 0, 0, 6, 0, 2, 4, 1, 2, 0])
    XCTAssertTrue(inflater.finished)
  }

  func testDamagedStreamsAreTypedErrors() throws {
    let stream = storedZlib(Array(repeating: 7, count: 100))
    XCTAssertThrowsError(try Inflater(Array(stream[..<50]), path: "cut.z").read(100)) {
      XCTAssertEqual(($0 as? ImageError)?.kind, .truncated)
    }
    var badChecksum = stream
    badChecksum[badChecksum.count - 1] ^= 1
    XCTAssertThrowsError(try Inflater(badChecksum, path: "sum.z").read(1000)) {
      XCTAssertEqual(($0 as? ImageError)?.kind, .corrupt)
      XCTAssertEqual(($0 as? ImageError)?.path, "sum.z")
    }
    XCTAssertThrowsError(try Inflater([0x78, 0x01, 0xFF, 0xFF, 0xFF], path: "junk.z").read(10))
  }
}
