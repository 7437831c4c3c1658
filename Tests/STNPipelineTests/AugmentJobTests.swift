import Foundation
import STNImageIO
import XCTest

@testable import STNPipeline

final class AugmentJobTests: XCTestCase {
  /// input/<class>/<name>.png with smooth images, plus a corrupt and a truncated file.
  private func makeInput(good: Int = 6) throws -> (root: String, images: [String: Image]) {
    let root = try TestImages.temporaryFolder("augment-in")
    var images: [String: Image] = [:]
    for i in 0..<good {
      let image = TestImages.smooth(width: 30 + i, height: 20 + 2 * i, channels: 3, variant: i)
      let relative = "\(i % 2 == 0 ? "cats" : "dogs")/img\(i).png"
      try ImageCodec.write(image, to: root + "/" + relative, jpegQuality: 90)
      images[relative] = image
    }
    try Data((0..<300).map { UInt8(truncatingIfNeeded: $0 &* 37) }).write(to: URL(fileURLWithPath: root + "/cats/random.png"))
    try FileManager.default.createDirectory(atPath: root + "/dogs", withIntermediateDirectories: true)
    let good = try Data(contentsOf: URL(fileURLWithPath: root + "/cats/img0.png"))
    try good.prefix(good.count / 2).write(to: URL(fileURLWithPath: root + "/dogs/truncated.png"))
    return (root, images)
  }

  private func files(under root: String) -> [String] {
    (FileManager.default.enumerator(atPath: root)?.allObjects as? [String] ?? []).filter {
      var isDirectory: ObjCBool = false
      return FileManager.default.fileExists(atPath: root + "/" + $0, isDirectory: &isDirectory) && !isDirectory.boolValue
    }.sorted()
  }

  func testIdentityMirrorsTheTreeWithUnchangedPixelsAndSkipsBadFiles() throws {
    let (input, images) = try makeInput()
    let output = try TestImages.temporaryFolder("augment-out") + "/nested/out"
    let config = try PipelineConfig.parse(yaml: "decode: {channels: 3}\nstages: []\n")
    let before = files(under: input).map { try? Data(contentsOf: URL(fileURLWithPath: input + "/" + $0)) }
    let summary = try AugmentJob(config: config, folder: input, output: output, threads: 3, copies: 1).run()
    XCTAssertEqual(summary.written, 6)
    XCTAssertEqual(summary.skipped.map { ($0.path as NSString).lastPathComponent }.sorted(), ["random.png", "truncated.png"])
    XCTAssertTrue(summary.line.hasPrefix("written 6, skipped 2, "), summary.line)
    XCTAssertTrue(summary.line.contains("random.png"))
    // Mirrored, nothing else (no temporary files left behind: writes are atomic renames).
    XCTAssertEqual(files(under: output), images.keys.sorted())
    for (relative, image) in images {
      XCTAssertEqual(try ImageCodec.decode(path: output + "/" + relative, options: DecodeOptions(channels: 3)), image, relative)
    }
    // The input is untouched.
    XCTAssertEqual(files(under: input).map { try? Data(contentsOf: URL(fileURLWithPath: input + "/" + $0)) }, before)
  }

  func testOutputsAreByteIdenticalWhateverTheThreadCount() throws {
    let (input, _) = try makeInput(good: 5)
    let config = try PipelineConfig.parse(yaml: """
      stages:
        - random_affine: {degrees: 30, translate: [0.1, 0.1], scale: [0.8, 1.2], hflip: 0.5}
        - resize: {size: [24, 24]}
        - normalize: {mean: [0.5, 0.5, 0.5], std: [0.2, 0.2, 0.2]}
      seed: 11
      """)
    var outputs: [[Data?]] = []
    for threads in [1, 4] {
      let output = try TestImages.temporaryFolder("augment-threads-\(threads)")
      let summary = try AugmentJob(config: config, folder: input, output: output, threads: threads, copies: 2).run()
      XCTAssertEqual(summary.written, 10)
      let names = files(under: output)
      XCTAssertTrue(names.contains("cats/img0_0.png") && names.contains("cats/img0_1.png"), "\(names)")
      outputs.append(names.map { try? Data(contentsOf: URL(fileURLWithPath: output + "/" + $0)) })
    }
    XCTAssertEqual(outputs[0], outputs[1])
    XCTAssertNotEqual(outputs[0][0], outputs[0][1], "two copies draw different parameters")
  }

  func testRefusesToWriteIntoTheInput() throws {
    let (input, _) = try makeInput(good: 1)
    let config = try PipelineConfig.parse(yaml: "stages: []\n")
    let dataset = try ImageFolder(root: input)
    for output in [input, input + "/", input + "/cats", input + "/new/deeper", input + "/../" + (input as NSString).lastPathComponent, (input as NSString).deletingLastPathComponent] {
      let job = AugmentJob(config: config, dataset: dataset, inputs: [input], outputRoot: output)
      XCTAssertThrowsError(try job.run(), output) { error in
        XCTAssertTrue("\(error)".contains("the input") || "\(error)".contains("contains the input"), "\(error)")
      }
    }
    XCTAssertFalse(FileManager.default.fileExists(atPath: input + "/new"))
    // A symlink to the input is the input.
    let link = try TestImages.temporaryFolder("augment-link") + "/link"
    try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: input)
    XCTAssertThrowsError(try AugmentJob(config: config, dataset: dataset, inputs: [input], outputRoot: link + "/out").run())
  }

  func testShardsSplitTheFolder() throws {
    let (input, images) = try makeInput(good: 5)
    let config = try PipelineConfig.parse(yaml: "stages: []\n")
    var union: [String] = []
    for i in 0..<2 {
      let output = try TestImages.temporaryFolder("augment-shard-\(i)")
      var job = AugmentJob(config: config, dataset: try ImageFolder(root: input), inputs: [input], outputRoot: output)
      job.shard = try Shard(index: i, count: 2)
      _ = try job.run()
      let written = files(under: output)
      XCTAssertFalse(written.isEmpty)
      union += written
    }
    XCTAssertEqual(union.sorted(), images.keys.sorted())
  }
}

extension AugmentJob {
  /// The job over the image folder `input` (its only input) into `output`, with `threads`
  /// workers and `copies` per image.
  init(config: PipelineConfig, folder input: String, output: String, threads: Int, copies: Int) throws {
    self.init(config: config, dataset: try ImageFolder(root: input), inputs: [input], outputRoot: output)
    self.threads = threads
    self.copies = copies
  }
}
