import Foundation
import XCTest

@testable import STNImageIO

/// EXIF orientation: Pillow's `ImageOps.exif_transpose` on fixtures from
/// Fixtures/make_exif_fixtures.py, the parser on hand-made blocks, and damaged EXIF that must
/// never cost the image.
final class ExifTests: XCTestCase {
  let exifOn = DecodeOptions(exifOrientation: true)

  // MARK: - Against Pillow

  /// Every orientation 1...8 (big-endian from Pillow, little-endian SHORT and LONG made by
  /// hand, a PNG eXIf chunk) gives Pillow's upright pixels and size.
  func testDecodeEqualsPillowExifTranspose() throws {
    let names = (1 ... 8).map { "orientation_\($0).jpg" }
      + ["orientation_3_ii.jpg", "orientation_6_ii.jpg", "orientation_5_ii_long.jpg", "orientation_8_exif_chunk.png"]
    for name in names {
      let path = fixture("exif/" + name)
      let expectedPath = fixture("exif/" + (name as NSString).deletingPathExtension + ".upright.png")
      let expected = try ImageCodec.decode(path: expectedPath)
      let upright = try ImageCodec.decode(path: path, options: exifOn)
      XCTAssertEqual(upright.width, expected.width, name)
      XCTAssertEqual(upright.height, expected.height, name)
      XCTAssertEqual(upright, expected, name)
      // Probing reports the displayed size (and the tag) only when asked.
      let info = try ImageCodec.probe(path: path, options: exifOn)
      XCTAssertEqual([info.width, info.height], [expected.width, expected.height], name)
      let plain = try ImageCodec.probe(path: path)
      XCTAssertEqual([plain.width, plain.height, plain.orientation], [23, 15, 1], name)
    }
    // Orientations really differ, so the comparisons above can fail.
    let stored = try ImageCodec.decode(path: fixture("exif/orientation_1.jpg"))
    for value in 2 ... 8 {
      XCTAssertNotEqual(try ImageCodec.decode(path: fixture("exif/orientation_\(value).jpg"), options: exifOn), stored, "\(value)")
    }
    XCTAssertEqual(try ImageCodec.probe(path: fixture("exif/orientation_6.jpg"), options: exifOn).orientation, 6)
  }

  /// Off by default: pixels as stored, as torchvision and Pillow's plain `open` give them.
  func testOffByDefault() throws {
    XCTAssertFalse(DecodeOptions().exifOrientation)
    let stored = try ImageCodec.decode(path: fixture("exif/orientation_1.jpg"))
    for value in 1 ... 8 {
      XCTAssertEqual(try ImageCodec.decode(path: fixture("exif/orientation_\(value).jpg")), stored, "\(value)")
    }
  }

  /// Gray output and reduced JPEG decoding turn the same way as full RGB.
  func testGrayAndScaledDecodesTurnToo() throws {
    for value in 1 ... 8 {
      let path = fixture("exif/orientation_\(value).jpg")
      for options in [DecodeOptions(channels: 1), DecodeOptions(jpegScaleDenominator: 2)] {
        var on = options
        on.exifOrientation = true
        XCTAssertEqual(try ImageCodec.decode(path: path, options: on),
                       try ImageCodec.decode(path: path, options: options).applyingExifOrientation(value), "\(value)")
      }
    }
  }

  // MARK: - Damaged EXIF is ignored

  /// The APP1 segment cut at every length (its marker length kept consistent, so the JPEG itself
  /// stays valid): never an error, and either the stored or the upright image.
  func testTruncatedAPP1AtEveryOffsetIsIgnored() throws {
    let bytes = try readBytes(fixture("exif/orientation_6.jpg"))
    let stored = try ImageCodec.decode(path: fixture("exif/orientation_6.jpg"))
    let upright = stored.applyingExifOrientation(6)
    let (start, length) = try app1Segment(bytes)
    var uprightCount = 0
    for cut in 0 ..< length - 2 {
      var damaged = Array(bytes[..<start])
      damaged += [0xFF, 0xE1, UInt8((cut + 2) >> 8), UInt8((cut + 2) & 0xFF)]
      damaged += bytes[(start + 4) ..< (start + 4 + cut)]
      damaged += bytes[(start + 2 + length)...]
      let image = try ImageCodec.decode(bytes: damaged, path: "cut\(cut).jpg", options: exifOn)
      XCTAssertTrue(image == stored || image == upright, "cut at \(cut)")
      if image == upright { uprightCount += 1 }
      XCTAssertNoThrow(try ImageCodec.probe(bytes: damaged, path: "cut\(cut).jpg", options: exifOn))
    }
    // Only cuts that keep the whole Orientation entry keep the turn.
    XCTAssertGreaterThan(uprightCount, 0)
    XCTAssertLessThan(uprightCount, length - 2)
  }

  /// Random bytes written over the APP1 payload: never an error or a crash.
  func testCorruptedAPP1IsIgnored() throws {
    let bytes = try readBytes(fixture("exif/orientation_5_ii_long.jpg"))
    let (start, length) = try app1Segment(bytes)
    var generator = SplitMix(seed: 14)
    for _ in 0 ..< 300 {
      var damaged = bytes
      for _ in 0 ..< 1 + Int(generator.next() % 4) {
        let at = start + 4 + Int(generator.next() % UInt64(length - 2))
        damaged[at] = UInt8(truncatingIfNeeded: generator.next())
      }
      let image = try ImageCodec.decode(bytes: damaged, path: "flipped.jpg", options: exifOn)
      XCTAssertEqual(image.width * image.height, 23 * 15)
    }
  }

  // MARK: - Parser

  /// Pillow's reading of 392 TIFF blocks (odd types and counts, several entries, every
  /// truncation of two real blocks, random damage), from Fixtures/make_exif_fixtures.py.
  func testParserEqualsPillowOnEveryCase() throws {
    struct Case: Decodable { var name: String; var tiff: String; var orientation: Int }
    let cases = try JSONDecoder().decode([Case].self, from: Data(contentsOf: URL(fileURLWithPath: fixture("exif/parser_cases.json"))))
    XCTAssertGreaterThan(cases.count, 300)
    for item in cases {
      var bytes: [UInt8] = []
      var hex = Substring(item.tiff)
      while hex.count >= 2 {
        bytes.append(UInt8(hex.prefix(2), radix: 16) ?? 0)
        hex = hex.dropFirst(2)
      }
      XCTAssertEqual(ExifOrientation.orientation(tiff: bytes[...]), item.orientation, item.name)
      XCTAssertEqual(ExifOrientation.orientation(app1Segments: [Array("Exif\0\0".utf8) + bytes]), item.orientation, item.name)
    }
  }

  func testParserEdgeCases() {
    for value in 1 ... 8 {
      XCTAssertEqual(ExifOrientation.orientation(tiff: tiff(bigEndian: true, entries: [(0x0112, 3, 1, value)])[...]), value)
      XCTAssertEqual(ExifOrientation.orientation(tiff: tiff(bigEndian: false, entries: [(0x0112, 4, 1, value)])[...]), value)
    }
    let good = tiff(bigEndian: false, entries: [(0x0100, 4, 1, 640), (0x0112, 3, 1, 6)])
    // Entries count while whole: cut inside the Orientation entry, it no longer does.
    let tagEnd = 8 + 2 + 2 * 12
    for cut in 0 ... good.count {
      XCTAssertEqual(ExifOrientation.orientation(tiff: good[..<cut]), cut >= tagEnd ? 6 : 1, "cut at \(cut)")
    }
    // A slice that does not start at index 0 reads the same; so do segments split like
    // Pillow's continued APP1 segments.
    XCTAssertEqual(ExifOrientation.orientation(tiff: ([0, 0, 0] + good)[3...]), 6)
    let app1 = Array("Exif\0\0".utf8) + good
    XCTAssertEqual(ExifOrientation.orientation(app1Segments: [Array(app1[..<20]), Array("Exif\0\0".utf8) + app1[20...]]), 6)
    XCTAssertEqual(ExifOrientation.orientation(app1Segments: []), 1)
    XCTAssertEqual(ExifOrientation.orientation(app1Segments: [Array("Exif".utf8)]), 1)
    // A huge count or offset is bounds-checked, not trusted.
    XCTAssertEqual(ExifOrientation.orientation(tiff: tiff(bigEndian: false, entries: [(0x0112, 3, 0x7FFF_FFFF, 6)])[...]), 1)
    XCTAssertEqual(ExifOrientation.orientation(tiff: tiff(bigEndian: true, entries: [(0x0112, 16, 1, 6)])[...]), 1)
    XCTAssertEqual(ExifOrientation.displayedSize(width: 4, height: 3, orientation: 6).width, 3)
    XCTAssertEqual(ExifOrientation.displayedSize(width: 4, height: 3, orientation: 4).width, 4)
  }

  /// The eight transposes on a 3x2 image, written out by hand.
  func testTransposesByHand() {
    // 1 2 3
    // 4 5 6
    let image = Image(width: 3, height: 2, channels: 1, pixels: [1, 2, 3, 4, 5, 6])
    let expected: [Int: (Int, Int, [UInt8])] = [
      1: (3, 2, [1, 2, 3, 4, 5, 6]),
      2: (3, 2, [3, 2, 1, 6, 5, 4]),
      3: (3, 2, [6, 5, 4, 3, 2, 1]),
      4: (3, 2, [4, 5, 6, 1, 2, 3]),
      5: (2, 3, [1, 4, 2, 5, 3, 6]),
      6: (2, 3, [4, 1, 5, 2, 6, 3]),
      7: (2, 3, [6, 3, 5, 2, 4, 1]),
      8: (2, 3, [3, 6, 2, 5, 1, 4]),
    ]
    for (orientation, (width, height, pixels)) in expected {
      XCTAssertEqual(image.applyingExifOrientation(orientation), Image(width: width, height: height, channels: 1, pixels: pixels),
                     "\(orientation)")
    }
    XCTAssertEqual(image.applyingExifOrientation(0), image)
    XCTAssertEqual(image.applyingExifOrientation(9), image)
  }

  // MARK: - Helpers

  /// A TIFF block with IFD0 at offset 8 holding (tag, type, count, value) entries.
  func tiff(bigEndian: Bool, entries: [(Int, Int, Int, Int)]) -> [UInt8] {
    func u16(_ v: Int) -> [UInt8] { bigEndian ? [UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] : [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)] }
    func u32(_ v: Int) -> [UInt8] { bigEndian ? u16(v >> 16) + u16(v & 0xFFFF) : u16(v & 0xFFFF) + u16(v >> 16) }
    var bytes: [UInt8] = (bigEndian ? [0x4D, 0x4D] : [0x49, 0x49]) + u16(42) + u32(8) + u16(entries.count)
    for (tag, type, count, value) in entries {
      bytes += u16(tag) + u16(type) + u32(count)
      switch type {
      case 1, 2: bytes += [UInt8(value & 0xFF), 0, 0, 0]
      case 3: bytes += u16(value) + [0, 0]
      default: bytes += u32(value)
      }
    }
    return bytes + u32(0)
  }

  /// Start of the first APP1 marker and its length field (payload + 2).
  func app1Segment(_ bytes: [UInt8]) throws -> (start: Int, length: Int) {
    var i = 2
    while i + 4 <= bytes.count, bytes[i] == 0xFF {
      let length = Int(bytes[i + 2]) << 8 | Int(bytes[i + 3])
      if bytes[i + 1] == 0xE1 { return (i, length) }
      i += 2 + length
    }
    throw ImageError(path: "fixture", kind: .corrupt, reason: "no APP1 segment")
  }
}
