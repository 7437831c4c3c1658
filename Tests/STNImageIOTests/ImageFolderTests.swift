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
      "cat/1.Png", "cat/2.jpe", "cat/3.JFIF", "Zebra/z.jpg", ".git/x.jpg", "empty/", "stray.jpg",
    ])
    try Data("BM".utf8).write(to: URL(fileURLWithPath: root + "/dog/old.bmp"))
    let folder = try ImageFolder(root: root)
    // Root files form the class "." (first: "." precedes letters in code-point order).
    XCTAssertEqual(folder.classes, [".", "Zebra", "cat", "dog", "empty"])  // code-point order, like Python's sorted
    XCTAssertEqual((0 ..< folder.count).map(folder.relativePath(at:)),
                   ["stray.jpg", "Zebra/z.jpg", "cat/1.Png", "cat/2.jpe", "cat/3.JFIF", "dog/a.png", "dog/b.JPG", "dog/deeper/c.jpeg"])
    XCTAssertEqual((0 ..< folder.count).map(folder.label(at:)), [0, 1, 2, 2, 2, 3, 3, 3])
    XCTAssertEqual(folder.sourcePath(at: 2), root + "/cat/1.Png")
    XCTAssertEqual(folder.warnings.count, 1)
    XCTAssertTrue(folder.warnings.contains { $0.contains("empty") })
    XCTAssertEqual(folder.unsupported.map(\.path), [root + "/dog/old.bmp"])
    XCTAssertTrue(folder.unsupported[0].reason.contains("unsupported format"))
    XCTAssertEqual(folder.notSamples, folder.unsupported)
    let image = try folder.loadImage(at: 1, options: DecodeOptions(channels: 1))
    XCTAssertEqual(image.channels, 1)
    XCTAssertEqual(image.width, 97)
  }

  /// Classes and sample order equal torchvision's `ImageFolder` on a layout of names chosen for
  /// the ordering rules (case, digits, spaces, non-ASCII, nested folders), from
  /// `scripts/make_imagefolder_fixture.py`.
  func testClassesAndOrderEqualTorchvisionImageFolder() throws {
    let data = try Data(contentsOf: URL(fileURLWithPath: fixture("imagefolder_torchvision.json")))
    struct Expected: Decodable { var files: [String]; var classes: [String]; var samples: [[Sample]] }
    enum Sample: Decodable {
      case path(String), label(Int)
      init(from decoder: Decoder) throws {
        let value = try decoder.singleValueContainer()
        if let label = try? value.decode(Int.self) { self = .label(label) } else { self = .path(try value.decode(String.self)) }
      }
    }
    let expected = try JSONDecoder().decode(Expected.self, from: data)
    let root = try temporaryFolder(self)
    try make(root, expected.files)
    let folder = try ImageFolder(root: root)
    XCTAssertEqual(folder.classes, expected.classes)
    let samples = expected.samples.map { pair -> String in
      pair.map { if case .path(let p) = $0 { return p } else if case .label(let l) = $0 { return "\(l)" } else { return "" } }.joined(separator: " -> ")
    }
    XCTAssertEqual((0 ..< folder.count).map { "\(folder.relativePath(at: $0)) -> \(folder.label(at: $0))" }, samples)
  }

  /// A symbolic link back to an ancestor is not followed (a warning says so); a link to a
  /// folder elsewhere is followed like a folder.
  func testSymlinkLoopsAreNotFollowed() throws {
    let root = try temporaryFolder(self)
    try make(root, ["a/1.png", "b/2.jpg"])
    try FileManager.default.createSymbolicLink(atPath: root + "/a/loop", withDestinationPath: root)
    try FileManager.default.createSymbolicLink(atPath: root + "/a/self", withDestinationPath: root + "/a")
    let elsewhere = try temporaryFolder(self)
    try make(elsewhere, ["x/3.png"])
    try FileManager.default.createSymbolicLink(atPath: root + "/c", withDestinationPath: elsewhere + "/x")
    let folder = try ImageFolder(root: root)
    XCTAssertEqual(folder.classes, ["a", "b", "c"])
    XCTAssertEqual((0 ..< folder.count).map(folder.relativePath(at:)), ["a/1.png", "b/2.jpg", "c/3.png"])
    XCTAssertEqual(folder.warnings.filter { $0.contains("loop") }.count, 2, "\(folder.warnings)")
  }

  /// With a class list, labels follow the list; folders are matched by name or by the folder
  /// spelling of a name ("T-shirt/top" -> "T-shirt_top"); unknown folders are an error.
  func testClassListGivesLabels() throws {
    let root = try temporaryFolder(self)
    try make(root, ["b/1.png", "T-shirt_top/2.png"])
    let folder = try ImageFolder(root: root, classes: ["T-shirt/top", "a", "b"])
    XCTAssertEqual(folder.classes, ["T-shirt/top", "a", "b"])
    XCTAssertEqual((0 ..< folder.count).map(folder.relativePath(at:)), ["T-shirt_top/2.png", "b/1.png"])
    XCTAssertEqual((0 ..< folder.count).map(folder.label(at:)), [0, 2])
    XCTAssertThrowsError(try ImageFolder(root: root, classes: ["a", "b"])) { error in
      XCTAssertTrue("\(error)".contains("T-shirt_top"), "\(error)")
    }
  }

  /// `ImageDatasets.open` reads a folder of IDX files as IDX, an image folder as images.
  func testOpenChoosesTheReader() throws {
    let idx = try ImageDatasets.open(fixture("idx"), split: "test")
    XCTAssertTrue(idx is IDXDataset)
    let root = try temporaryFolder(self)
    try make(root, ["a/1.png"])
    XCTAssertTrue(try ImageDatasets.open(root) is ImageFolder)
    XCTAssertThrowsError(try ImageDatasets.open(root + "/missing"))
  }

  /// A split that was asked for (`splitGiven`, a `--split` flag) must apply: an image folder or
  /// an IDX file of the other split is an error naming it; a default split is ignored there.
  func testAGivenSplitMustApply() throws {
    let root = try temporaryFolder(self)
    try make(root, ["a/1.png"])
    XCTAssertTrue(try ImageDatasets.open(root, split: "test") is ImageFolder)
    XCTAssertThrowsError(try ImageDatasets.open(root, split: "test", splitGiven: true)) { error in
      XCTAssertEqual((error as? ImageError)?.kind, .invalidArgument)
      XCTAssertTrue("\(error)".contains(root) && "\(error)".contains("image folder"), "\(error)")
    }
    let t10k = fixture("idx") + "/t10k-images-idx3-ubyte.gz"
    XCTAssertTrue(try ImageDatasets.open(t10k, split: "test", splitGiven: true) is IDXDataset)
    XCTAssertTrue(try ImageDatasets.open(t10k, split: "train") is IDXDataset)
    XCTAssertThrowsError(try ImageDatasets.open(t10k, split: "train", splitGiven: true)) { error in
      XCTAssertTrue("\(error)".contains("test split's file"), "\(error)")
    }
    XCTAssertTrue(try ImageDatasets.open(fixture("idx"), split: "test", splitGiven: true) is IDXDataset)
    XCTAssertEqual(IDXDataset.splitNamed(by: "t10k-images-idx3-ubyte.gz"), "test")
    XCTAssertEqual(IDXDataset.splitNamed(by: "train-images-idx3-ubyte"), "train")
    XCTAssertNil(IDXDataset.splitNamed(by: "emnist-images-idx3-ubyte"))
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
