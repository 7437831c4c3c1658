import Foundation
import XCTest

@testable import STNImageIO

final class IDXDatasetTests: XCTestCase {
  /// Pixels of the fixture: byte i of the payload is (7*i) mod 256; images are 7 wide, 5 high.
  func expectedPixels(_ index: Int) -> [UInt8] { (0 ..< 35).map { UInt8((index * 35 + $0) * 7 % 256) } }

  func testRawAndGzipFilesReadTheSame() throws {
    let raw = try IDXDataset(images: fixture("idx/train-images-idx3-ubyte"), labels: fixture("idx/train-labels-idx1-ubyte"))
    let gz = try IDXDataset(images: fixture("idx/t10k-images-idx3-ubyte.gz"), labels: fixture("idx/t10k-labels-idx1-ubyte.gz"))
    for dataset in [raw, gz] {
      XCTAssertEqual(dataset.count, 6)
      XCTAssertEqual(dataset.width, 7)
      XCTAssertEqual(dataset.height, 5)
      XCTAssertEqual(dataset.classes, ["0", "1", "2", "3", "4"])
      XCTAssertEqual((0 ..< 6).map(dataset.label(at:)), [0, 2, 4, 1, 2, 0])
      for k in 0 ..< 6 {
        let gray = try dataset.loadImage(at: k, options: DecodeOptions(channels: 1))
        XCTAssertEqual(gray, Image(width: 7, height: 5, channels: 1, pixels: expectedPixels(k)))
        let rgb = try dataset.loadImage(at: k, options: DecodeOptions(channels: 3))
        XCTAssertEqual(rgb.pixels, expectedPixels(k).flatMap { [$0, $0, $0] })
      }
    }
    // <class>/<index>.png (the split is the caller's choice, not part of the name).
    XCTAssertEqual(raw.relativePath(at: 2), "4/00002.png")
    XCTAssertEqual(gz.relativePath(at: 3), "1/00003.png")
    var named = raw
    try named.name(classes: ["zero", "one", "two", "three", "T-shirt/top"])
    XCTAssertEqual(named.classes[4], "T-shirt/top")
    XCTAssertEqual(named.relativePath(at: 2), "T-shirt_top/00002.png")
    XCTAssertThrowsError(try named.name(classes: ["only", "three", "names"]))
    XCTAssertEqual(gz.sourcePath(at: 0), fixture("idx/t10k-images-idx3-ubyte.gz"))
    XCTAssertThrowsError(try raw.loadImage(at: 6, options: DecodeOptions()))
  }

  func testLocateFindsBothSplits() throws {
    let train = try IDXDataset.locate(folder: fixture("idx"), split: "train")
    XCTAssertEqual(train.imagesPath, fixture("idx/train-images-idx3-ubyte"))
    let test = try IDXDataset.locate(folder: fixture("idx"), split: "test")
    XCTAssertEqual(test.labelsPath, fixture("idx/t10k-labels-idx1-ubyte.gz"))
    XCTAssertThrowsError(try IDXDataset.locate(folder: fixture("idx"), split: "validation"))
    XCTAssertThrowsError(try IDXDataset.locate(folder: fixture("bad"), split: "train"))
  }

  /// Debian's dataset-fashion-mnist, when installed.
  func testFashionMNISTWhenInstalled() throws {
    let folder = "/usr/share/datasets/fashion-mnist"
    guard FileManager.default.fileExists(atPath: folder + "/t10k-images-idx3-ubyte.gz") else {
      throw XCTSkip("dataset-fashion-mnist is not installed")
    }
    let test = try IDXDataset.locate(folder: folder, split: "test")
    XCTAssertEqual(test.count, 10_000)
    XCTAssertEqual(test.width, 28)
    XCTAssertEqual(test.classes.count, 10)
    // Fashion-MNIST t10k labels start 9, 2, 1, 1, 6.
    XCTAssertEqual((0 ..< 5).map(test.label(at:)), [9, 2, 1, 1, 6])
  }

  func testDamagedAndForgedIDXFilesAreTypedErrors() throws {
    let folder = try temporaryFolder(self)
    let images = try readBytes(fixture("idx/train-images-idx3-ubyte"))
    let gz = try readBytes(fixture("idx/t10k-images-idx3-ubyte.gz"))
    func check(_ bytes: [UInt8], _ kinds: [ImageError.Kind], _ note: String) throws {
      let path = folder + "/x-images-idx3-ubyte"
      try Data(bytes).write(to: URL(fileURLWithPath: path))
      do {
        _ = try IDXDataset(images: path, labels: nil)
        XCTFail("\(note): no error")
      } catch let error as ImageError {
        XCTAssertTrue(kinds.contains(error.kind), "\(note): \(error.kind) \(error.reason)")
        XCTAssertEqual(error.path, path)
      }
    }
    try check([], [.empty], "empty")
    try check(Array(images[..<3]), [.unsupportedFormat, .truncated], "3 bytes")
    try check(Array(images[..<10]), [.truncated], "header cut")
    try check(Array(images.dropLast()), [.truncated], "data cut")
    try check(images + [0], [.corrupt], "extra byte")
    try check([0, 0, 0x0D, 3] + Array(images[4...]), [.unsupportedFormat], "float element type")
    try check([0, 0, 8, 3, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0, 7], [.corrupt], "zero height")
    // Forged sizes: 60000 images of 200000x200000, raw and gzip, rejected from the header.
    let bomb: [UInt8] = [0, 0, 8, 3, 0, 0, 0xEA, 0x60, 0, 3, 0x0D, 0x40, 0, 3, 0x0D, 0x40]
    try check(bomb, [.tooLarge], "bomb")
    try check(Array(images[..<8]) + [0, 1, 0, 0, 0, 1, 0, 0], [.tooLarge], "65536x65536 images")
    try check(Array(images[..<4]) + [0x7F, 0, 0, 0] + Array(images[8...]), [.truncated, .tooLarge], "forged count")
    // gzip: every truncation, and flipped bytes in the compressed stream.
    for cut in stride(from: 1, to: gz.count, by: 3) {
      try check(Array(gz[..<cut]), [.truncated, .corrupt, .unsupportedFormat], "gzip cut at \(cut)")
    }
    for at in 10 ..< gz.count - 8 {
      var damaged = gz
      damaged[at] ^= 0x55
      let path = folder + "/flip-images-idx3-ubyte.gz"
      try Data(damaged).write(to: URL(fileURLWithPath: path))
      // The gzip CRC or the length check catches data damage; header damage gives other kinds.
      XCTAssertThrowsError(try IDXDataset(images: path, labels: nil), "flip at \(at)") {
        XCTAssertTrue($0 is ImageError)
      }
    }
    // Label count must match the image count.
    let labelsPath = folder + "/short-labels-idx1-ubyte"
    try Data([0, 0, 8, 1, 0, 0, 0, 2, 1, 1]).write(to: URL(fileURLWithPath: labelsPath))
    XCTAssertThrowsError(try IDXDataset(images: fixture("idx/train-images-idx3-ubyte"), labels: labelsPath)) {
      XCTAssertEqual(($0 as? ImageError)?.kind, .corrupt)
      XCTAssertEqual(($0 as? ImageError)?.path, labelsPath)
    }
  }
}
