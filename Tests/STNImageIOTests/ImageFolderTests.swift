import Foundation
import XCTest

@testable import STNImageIO

final class ImageFolderTests: XCTestCase {
  func make(_ root: String, _ files: [String]) throws {
    for file in files {
      let path = root + "/" + file
      if file.hasSuffix("/") {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        continue
      }
      try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
      let source = file.lowercased().hasSuffix("png") ? "png_rgb8.png" : "jpeg_baseline_420.jpg"
      try FileManager.default.copyItem(atPath: fixture(source), toPath: path)
    }
  }

  func testLayoutRules() throws {
    let root = try temporaryFolder(self)
    try make(root, [
      "dog/b.JPG", "dog/a.png", "dog/deeper/c.jpeg", "dog/notes.txt", "dog/.hidden.jpg",
      "cat/1.Png", "Zebra/z.jpg", ".git/x.jpg", "empty/", "stray.jpg",
    ])
    let folder = try ImageFolder(root: root)
    XCTAssertEqual(folder.classes, ["Zebra", "cat", "dog", "empty"])  // code-point order, like Python's sorted
    XCTAssertEqual((0 ..< folder.count).map(folder.relativePath(at:)),
                   ["Zebra/z.jpg", "cat/1.Png", "dog/a.png", "dog/b.JPG", "dog/deeper/c.jpeg"])
    XCTAssertEqual((0 ..< folder.count).map(folder.label(at:)), [0, 1, 2, 2, 2])
    XCTAssertEqual(folder.sourcePath(at: 1), root + "/cat/1.Png")
    XCTAssertEqual(folder.warnings.count, 2)
    XCTAssertTrue(folder.warnings.contains { $0.contains("empty") })
    XCTAssertTrue(folder.warnings.contains { $0.contains("directly in the root") })
    let image = try folder.loadImage(at: 0, options: DecodeOptions(channels: 1))
    XCTAssertEqual(image.channels, 1)
    XCTAssertEqual(image.width, 97)
  }

  func testMissingOrImagelessRootsAreErrors() throws {
    let root = try temporaryFolder(self)
    XCTAssertThrowsError(try ImageFolder(root: root + "/nope")) { XCTAssertEqual(($0 as? ImageError)?.kind, .io) }
    XCTAssertThrowsError(try ImageFolder(root: root)) { XCTAssertEqual(($0 as? ImageError)?.kind, .io) }
    try make(root, ["a/", "b/readme.txt"])
    try Data("x".utf8).write(to: URL(fileURLWithPath: root + "/b/readme.txt"))
    XCTAssertThrowsError(try ImageFolder(root: root)) { XCTAssertEqual(($0 as? ImageError)?.kind, .io) }
  }

  func testDamagedImageSurfacesOnLoad() throws {
    let root = try temporaryFolder(self)
    try make(root, ["a/good.png"])
    try Data("not a jpeg".utf8).write(to: URL(fileURLWithPath: root + "/a/bad.jpg"))
    let folder = try ImageFolder(root: root)
    XCTAssertEqual(folder.count, 2)
    XCTAssertThrowsError(try folder.loadImage(at: 0, options: DecodeOptions())) {
      XCTAssertEqual(($0 as? ImageError)?.path, root + "/a/bad.jpg")
      XCTAssertEqual(($0 as? ImageError)?.kind, .unsupportedFormat)
    }
    XCTAssertNoThrow(try folder.loadImage(at: 1, options: DecodeOptions()))
  }
}
