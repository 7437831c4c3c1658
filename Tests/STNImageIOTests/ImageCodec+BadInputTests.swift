import Foundation
import XCTest

@testable import STNImageIO

/// Damaged, hostile and non-image inputs: each gives a typed ImageError naming the file; none
/// crashes, hangs or allocates what a forged header claims.
final class ImageCodecBadInputTests: XCTestCase {
  /// Decodes `bytes` as both channel counts; returns the error (nil when it decoded).
  func decodeError(_ bytes: [UInt8], _ path: String = "bad.img") -> ImageError? {
    var first: ImageError? = nil
    for channels in [1, 3] {
      do {
        _ = try ImageCodec.decode(bytes: bytes, path: path, options: DecodeOptions(channels: channels))
      } catch let error as ImageError {
        XCTAssertEqual(error.path, path)
        XCTAssertFalse(error.reason.isEmpty)
        first = first ?? error
      } catch {
        XCTFail("untyped error \(error)")
      }
    }
    return first
  }

  // MARK: - Generated corpus

  /// Every cut of a JPEG or PNG before its last byte is an error (JPEG: "premature end";
  /// PNG: unexpected end or a missing IEND), never a quietly grey image.
  func testTruncationsAtManyOffsetsAreErrors() throws {
    for file in ["jpeg_baseline_420.jpg", "jpeg_progressive_420.jpg", "jpeg_cmyk_adobe.jpeg", "png_rgb8.png",
                 "png_interlaced_rgb8.png", "png_gray16.png", "png_palette.png"] {
      let bytes = try readBytes(fixture(file))
      var offsets = Set(stride(from: 1, to: bytes.count, by: max(1, bytes.count / 60)))
      offsets.formUnion([1, 2, 3, 7, 8, 9, 20, 33, bytes.count - 2, bytes.count - 1])
      for cut in offsets.sorted() where cut < bytes.count {
        guard let error = decodeError(Array(bytes[..<cut]), file) else {
          XCTFail("\(file) cut at \(cut) of \(bytes.count) decoded without error")
          continue
        }
        XCTAssertTrue([.truncated, .corrupt, .unsupportedFormat].contains(error.kind),
                      "\(file) cut at \(cut): \(error.kind) \(error.reason)")
      }
      // The libjpeg "premature end" warning in particular surfaces as .truncated.
      if file.hasSuffix("jpg") {
        XCTAssertEqual(decodeError(Array(bytes[..<(bytes.count * 3 / 4)]), file)?.kind, .truncated, file)
      }
    }
  }

  /// Flipped bytes: PNG's CRCs catch every one; JPEG entropy data has no checksum, so a flip
  /// there may decode, but nothing may crash and most must be caught.
  func testByteFlipsNeverCrash() throws {
    var generator = SplitMix(seed: 42)
    for file in ["jpeg_baseline_444.jpg", "jpeg_progressive_420.jpg", "png_rgb8.png", "png_palette_trns.png", "png_gray1.png"] {
      let bytes = try readBytes(fixture(file))
      var caught = 0
      let trials = 120
      for _ in 0 ..< trials {
        var damaged = bytes
        let at = 8 + Int(generator.next() % UInt64(bytes.count - 8))
        damaged[at] ^= UInt8(1 + generator.next() % 255)
        if decodeError(damaged, file) != nil { caught += 1 }
      }
      if file.hasSuffix("png") {
        XCTAssertEqual(caught, trials, "\(file): every flipped byte breaks a CRC")
      } else {
        XCTAssertGreaterThan(caught, trials / 4, "\(file): corrupt-data warnings must be errors")
      }
    }
  }

  func testRandomBytesAndNonImagesAreRejected() throws {
    var generator = SplitMix(seed: 7)
    for length in [1, 2, 3, 10, 100, 5000] {
      let bytes = (0 ..< length).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
      XCTAssertEqual(decodeError(bytes, "random.jpg")?.kind, .unsupportedFormat)
    }
    // Random bytes after a valid signature.
    for signature in [[0xFF, 0xD8, 0xFF] as [UInt8], [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]] {
      for _ in 0 ..< 20 {
        let bytes = signature + (0 ..< 300).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        let kind = decodeError(bytes, "noise.img")?.kind
        XCTAssertNotNil(kind)
        XCTAssertNotEqual(kind, .tooLarge)
      }
    }
    let text = Array("<html><body>not an image</body></html>\n".utf8)
    let error = decodeError(text, "page.png")
    XCTAssertEqual(error?.kind, .unsupportedFormat)
    XCTAssertTrue(error?.description.hasPrefix("page.png: ") ?? false)
    XCTAssertEqual(decodeError([], "empty.png")?.kind, .empty)
  }

  // MARK: - Decompression bombs

  func testForgedHugeHeadersAreRejectedBeforeAllocating() throws {
    // JPEG: SOF fields are 16-bit, so the largest claim is 65535x65535.
    let jpeg = try readBytes(fixture("jpeg_baseline_420.jpg"))
    for (width, height) in [(65535, 65535), (65000, 40000), (20000, 10000)] {
      let forged = forgeJPEGSize(jpeg, width: width, height: height)
      XCTAssertEqual(decodeError(forged, "bomb.jpg")?.kind, .tooLarge, "\(width)x\(height)")
      XCTAssertThrowsError(try ImageCodec.probe(bytes: forged, path: "bomb.jpg")) {
        XCTAssertEqual(($0 as? ImageError)?.kind, .tooLarge)
      }
    }
    // PNG: 200000x200000 and 2^31-1 wide; valid CRCs so only the size check can stop them.
    for (width, height) in [(200_000, 200_000), (0x7FFF_FFFF, 1), (14_000, 14_000)] {
      let forged = pngWithHeader(width: width, height: height)
      XCTAssertEqual(decodeError(forged, "bomb.png")?.kind, .tooLarge, "\(width)x\(height)")
    }
    // A lower limit applies to ordinary images too.
    XCTAssertThrowsError(try ImageCodec.decode(path: fixture("png_rgb8.png"), options: DecodeOptions(maxPixels: 97 * 61 - 1))) {
      XCTAssertEqual(($0 as? ImageError)?.kind, .tooLarge)
    }
    XCTAssertNoThrow(try ImageCodec.decode(path: fixture("png_rgb8.png"), options: DecodeOptions(maxPixels: 97 * 61)))
    XCTAssertThrowsError(try ImageCodec.decode(path: fixture("jpeg_gray.jpg"), options: DecodeOptions(maxPixels: 1000))) {
      XCTAssertEqual(($0 as? ImageError)?.kind, .tooLarge)
    }
  }

  /// A JPEG just under the limit whose data stops after the header: an error, quickly.
  func testTruncatedLargeJPEGFailsFast() throws {
    let jpeg = try readBytes(fixture("jpeg_progressive_420.jpg"))
    let forged = forgeJPEGSize(jpeg, width: 4000, height: 3000)
    let start = Date()
    XCTAssertNotNil(decodeError(forged, "big.jpg"))
    XCTAssertLessThan(Date().timeIntervalSince(start), 10)
  }

  // MARK: - Committed examples

  func testCommittedBadFilesGiveTheirErrors() throws {
    let expected: [String: ImageError.Kind] = [
      "empty.jpg": .empty, "text.png": .unsupportedFormat, "truncated.jpg": .truncated,
      "truncated.png": .truncated, "bomb.jpg": .tooLarge, "bomb.png": .tooLarge,
    ]
    for (name, kind) in expected {
      let path = fixture("bad/" + name)
      XCTAssertThrowsError(try ImageCodec.decode(path: path), name) {
        XCTAssertEqual(($0 as? ImageError)?.kind, kind, "\(name): \($0)")
        XCTAssertEqual(($0 as? ImageError)?.path, path)
      }
    }
    XCTAssertThrowsError(try IDXDataset(images: fixture("bad/bomb-images-idx3-ubyte"), labels: nil)) {
      XCTAssertEqual(($0 as? ImageError)?.kind, .tooLarge)
    }
    XCTAssertThrowsError(try ImageCodec.decode(path: fixture("bad/no-such-file.png"))) {
      XCTAssertEqual(($0 as? ImageError)?.kind, .io)
    }
    XCTAssertThrowsError(try ImageCodec.decode(path: fixture("bad"))) {
      XCTAssertEqual(($0 as? ImageError)?.kind, .io)
    }
  }

  // MARK: - Helpers

  func forgeJPEGSize(_ bytes: [UInt8], width: Int, height: Int) -> [UInt8] {
    var out = bytes
    var i = 2
    while i + 9 < out.count {
      let marker = out[i + 1]
      let length = Int(out[i + 2]) << 8 | Int(out[i + 3])
      if marker == 0xC0 || marker == 0xC1 || marker == 0xC2 {
        out[i + 5] = UInt8(height >> 8); out[i + 6] = UInt8(height & 0xFF)
        out[i + 7] = UInt8(width >> 8); out[i + 8] = UInt8(width & 0xFF)
        return out
      }
      i += 2 + length
    }
    XCTFail("no SOF marker")
    return out
  }

  func pngWithHeader(width: Int, height: Int) -> [UInt8] {
    func be32(_ v: Int) -> [UInt8] { [UInt8(v >> 24 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
    func chunk(_ kind: String, _ data: [UInt8]) -> [UInt8] {
      let body = Array(kind.utf8) + data
      return be32(data.count) + body + be32(Int(crc32(body)))
    }
    let ihdr = be32(width) + be32(height) + [8, 2, 0, 0, 0]
    // A tiny valid zlib stream (stored block of 16 zero bytes).
    let idat: [UInt8] = [0x78, 0x01, 0x01, 0x10, 0x00, 0xEF, 0xFF] + [UInt8](repeating: 0, count: 16) + [0x00, 0x10, 0x00, 0x01]
    return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", ihdr) + chunk("IDAT", idat) + chunk("IEND", [])
  }

  func crc32(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
      crc ^= UInt32(byte)
      for _ in 0 ..< 8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
    }
    return ~crc
  }
}

/// Small deterministic generator so the corpus is the same on every run.
struct SplitMix {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}
