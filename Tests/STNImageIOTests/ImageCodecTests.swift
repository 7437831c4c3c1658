import Foundation
import XCTest

@testable import STNImageIO

/// Folder of committed fixtures (made by Fixtures/make_fixtures.py with Pillow).
let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path

func fixture(_ name: String) -> String { (fixtures as NSString).appendingPathComponent(name) }

func readBytes(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }

/// A fresh temporary folder, removed by the test's teardown block.
func temporaryFolder(_ test: XCTestCase) throws -> String {
  let path = NSTemporaryDirectory() + "stn-imageio-\(UUID().uuidString)"
  try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  test.addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
  return path
}

final class ImageCodecTests: XCTestCase {
  struct Entry: Decodable {
    var file: String
    var layout: String
    var width: Int
    var height: Int
    var gray: String
    var rgb: String
  }

  func manifest() throws -> [Entry] {
    try JSONDecoder().decode([Entry].self, from: Data(contentsOf: URL(fileURLWithPath: fixture("manifest.json"))))
  }

  // MARK: - Pixel equality with Pillow

  /// Every layout, gray and RGB output, must equal Pillow's pixels exactly (16-bit: round(v/257)).
  func testDecodeMatchesPillowForEveryLayout() throws {
    let entries = try manifest()
    XCTAssertGreaterThanOrEqual(entries.count, 24)
    for entry in entries {
      for (channels, expectedFile) in [(1, entry.gray), (3, entry.rgb)] {
        let image = try ImageCodec.decode(path: fixture(entry.file), options: DecodeOptions(channels: channels))
        let expected = try readBytes(fixture(expectedFile))
        XCTAssertEqual(image.width, entry.width, entry.file)
        XCTAssertEqual(image.height, entry.height, entry.file)
        XCTAssertEqual(image.channels, channels, entry.file)
        let mismatches = zip(image.pixels, expected).filter { $0 != $1 }.count
        XCTAssertEqual(image.pixels.count, expected.count, entry.file)
        XCTAssertEqual(mismatches, 0, "\(entry.file) (\(entry.layout)), \(channels) channel(s): \(mismatches) bytes differ from Pillow")
      }
    }
  }

  /// Decoders share nothing: concurrent decodes give the same pixels as serial ones.
  func testConcurrentDecodesAgree() throws {
    let files = try manifest().map(\.file)
    let serial = try files.map { try ImageCodec.decode(path: fixture($0)) }
    let results = UnsafeMutableBufferPointer<Image?>.allocate(capacity: files.count * 4)
    results.initialize(repeating: nil)
    defer { results.deallocate() }
    DispatchQueue.concurrentPerform(iterations: files.count * 4) { i in
      results[i] = try? ImageCodec.decode(path: fixture(files[i % files.count]))
    }
    for i in 0 ..< files.count * 4 {
      XCTAssertEqual(results[i], serial[i % files.count], files[i % files.count])
    }
  }

  func testProbeReadsHeaderFacts() throws {
    let cases: [(String, ImageFormat, Int)] = [
      ("jpeg_baseline_420.jpg", .jpeg, 3), ("jpeg_gray.jpg", .jpeg, 1), ("jpeg_cmyk_adobe.jpeg", .jpeg, 4),
      ("png_gray8.png", .png, 1), ("png_gray_alpha16.png", .png, 2), ("png_rgb8.png", .png, 3),
      ("png_rgba8.png", .png, 4), ("png_palette.png", .png, 3), ("png_palette_trns.png", .png, 4),
    ]
    for (file, format, channels) in cases {
      let info = try ImageCodec.probe(path: fixture(file))
      XCTAssertEqual(info, ImageInfo(format: format, width: 97, height: 61, channels: channels), file)
    }
    let idx = try ImageCodec.probe(path: fixture("idx/t10k-images-idx3-ubyte.gz"))
    XCTAssertEqual(idx, ImageInfo(format: .idx, width: 7, height: 5, channels: 1, count: 6))
  }

  func testFormatComesFromContentNotName() throws {
    let folder = try temporaryFolder(self)
    let renamed = folder + "/actually-a-png.jpg"
    try FileManager.default.copyItem(atPath: fixture("png_rgb8.png"), toPath: renamed)
    let image = try ImageCodec.decode(path: renamed)
    XCTAssertEqual(image, try ImageCodec.decode(path: fixture("png_rgb8.png")))
  }

  // MARK: - Reduced JPEG decoding

  func testScaledJPEGDecodeHasLibjpegSizesAndMatchesBoxAverage() throws {
    let full = try ImageCodec.decode(path: fixture("jpeg_baseline_444.jpg"))
    for denominator in [2, 4, 8] {
      let small = try ImageCodec.decode(path: fixture("jpeg_baseline_444.jpg"),
                                        options: DecodeOptions(jpegScaleDenominator: denominator))
      // libjpeg rounds output sizes up: ceil(97/d) x ceil(61/d).
      XCTAssertEqual(small.width, (97 + denominator - 1) / denominator)
      XCTAssertEqual(small.height, (61 + denominator - 1) / denominator)
      // Compare with a box average of the full decode over whole blocks.
      var total = 0.0, n = 0.0
      for y in 0 ..< 61 / denominator {
        for x in 0 ..< 97 / denominator {
          for c in 0 ..< 3 {
            var sum = 0
            for dy in 0 ..< denominator {
              for dx in 0 ..< denominator {
                sum += Int(full.pixels[((y * denominator + dy) * 97 + x * denominator + dx) * 3 + c])
              }
            }
            let box = Double(sum) / Double(denominator * denominator)
            total += abs(box - Double(small.pixels[(y * small.width + x) * 3 + c]))
            n += 1
          }
        }
      }
      XCTAssertLessThan(total / n, 6.0, "1/\(denominator): mean abs difference from a box average")
    }
    XCTAssertThrowsError(try ImageCodec.decode(path: fixture("jpeg_gray.jpg"), options: DecodeOptions(jpegScaleDenominator: 3))) {
      XCTAssertEqual(($0 as? ImageError)?.kind, .invalidArgument)
    }
  }

  // MARK: - Encoding

  func testPNGRoundTripIsExact() throws {
    for file in ["png_rgb8.png", "png_gray8.png"] {
      let image = try ImageCodec.decode(path: fixture(file), options: DecodeOptions(channels: file.contains("gray") ? 1 : 3))
      let encoded = try ImageCodec.encodePNG(image)
      XCTAssertEqual(try ImageCodec.decode(bytes: encoded, path: "memory.png", options: DecodeOptions(channels: image.channels)), image)
    }
  }

  func testJPEGEncodeQualityControlsSizeAndError() throws {
    let image = try ImageCodec.decode(path: fixture("png_rgb8.png"))
    var sizes: [Int] = []
    var errors: [Double] = []
    for quality in [30, 95] {
      let encoded = try ImageCodec.encodeJPEG(image, quality: quality)
      let decoded = try ImageCodec.decode(bytes: encoded, path: "memory.jpg")
      XCTAssertEqual(decoded.width, 97)
      XCTAssertEqual(decoded.height, 61)
      sizes.append(encoded.count)
      errors.append(zip(image.pixels, decoded.pixels).map { abs(Double($0) - Double($1)) }.reduce(0, +) / Double(image.pixels.count))
    }
    XCTAssertLessThan(sizes[0], sizes[1])
    XCTAssertLessThan(errors[1], errors[0])
    XCTAssertLessThan(errors[1], 12.0)  // noisy test picture, 4:2:0 chroma
    let gray = try ImageCodec.decode(path: fixture("png_gray8.png"), options: DecodeOptions(channels: 1))
    let grayJPEG = try ImageCodec.encodeJPEG(gray, quality: 90)
    XCTAssertEqual(try ImageCodec.probe(bytes: grayJPEG, path: "g.jpg").channels, 1)
    XCTAssertThrowsError(try ImageCodec.encodeJPEG(image, quality: 0))
    XCTAssertThrowsError(try ImageCodec.encodePNG(Image(width: 2, height: 2, channels: 4)))
  }

  func testWriteChoosesFormatByExtensionAndIsAtomic() throws {
    let folder = try temporaryFolder(self)
    let image = try ImageCodec.decode(path: fixture("png_rgb8.png"))
    try ImageCodec.write(image, to: folder + "/out/a.png")
    try ImageCodec.write(image, to: folder + "/out/b.JPG", jpegQuality: 80)
    XCTAssertEqual(try ImageCodec.probe(path: folder + "/out/a.png").format, .png)
    XCTAssertEqual(try ImageCodec.probe(path: folder + "/out/b.JPG").format, .jpeg)
    XCTAssertEqual(try ImageCodec.decode(path: folder + "/out/a.png"), image)
    XCTAssertThrowsError(try ImageCodec.write(image, to: folder + "/out/c.bmp")) {
      XCTAssertEqual(($0 as? ImageError)?.kind, .invalidArgument)
      XCTAssertEqual(($0 as? ImageError)?.path, folder + "/out/c.bmp")
    }
    // No temporary files left behind.
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder + "/out").sorted(), ["a.png", "b.JPG"])
  }

  func testInvalidChannelsIsRejected() {
    XCTAssertThrowsError(try ImageCodec.decode(path: fixture("png_rgb8.png"), options: DecodeOptions(channels: 2))) {
      XCTAssertEqual(($0 as? ImageError)?.kind, .invalidArgument)
    }
  }
}
