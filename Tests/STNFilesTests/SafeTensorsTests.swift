import XCTest
import STNFiles
import STNTensor
import STNTestSupport

final class SafeTensorsTests: XCTestCase {
  /// Writing then reading gives back the same tensors and metadata.
  func testRoundTrip() throws {
    let t = Tensor(shape: [2, 3], data: [1, 2, 3, 4, 5, 6])
    let file = SafeTensorsFile(tensors: ["w": SafeTensorsEntry(t), "b": SafeTensorsEntry(Tensor(shape: [1], data: [-1]))], metadata: ["arch": "x\"y"])
    let back = try SafeTensorsFile(bytes: file.serialized())
    XCTAssertEqual(back.tensors["w"]?.tensor, t)
    XCTAssertEqual(back.tensors["b"]?.floats, [-1])
    XCTAssertEqual(back.metadata["arch"], "x\"y")
  }

  /// Every golden file parses (the reader is real, not golden-specific).
  func testReadsEveryGoldenFile() throws {
    let cases = Golden.cases(prefix: "")
    XCTAssertFalse(cases.isEmpty, "no golden cases found in \(Golden.directory)")
    for path in cases { XCTAssertFalse(try Golden.load(path).tensors.isEmpty, path) }
  }

  /// Damaged files give FileError, never a crash: every truncation and a set of byte flips.
  func testDamagedFilesAreRejected() throws {
    let good = SafeTensorsFile(tensors: ["w": SafeTensorsEntry(Tensor(shape: [4], data: [1, 2, 3, 4]))]).serialized()
    for length in 0..<good.count {
      XCTAssertThrowsError(try SafeTensorsFile(bytes: Array(good[0..<length]))) { XCTAssert($0 is FileError) }
    }
    var huge = good
    huge[7] = 0x7F  // header length ~ 2^63
    XCTAssertThrowsError(try SafeTensorsFile(bytes: huge))
    for i in 8..<min(good.count, 80) {
      var flipped = good
      flipped[i] ^= 0xFF
      _ = try? SafeTensorsFile(bytes: flipped)  // must not crash; may or may not parse
    }
  }
}
