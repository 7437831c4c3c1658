import Foundation
import STNFiles
import STNImageIO
import STNTestSupport
import XCTest

@testable import STNPipeline

/// The README's "equals torchvision" sentences, checked against torchvision's own outputs
/// (Tests/Fixtures/torchvision, written by scripts/make_torchvision_fixtures.py from one case
/// table that also gives the pipeline stages run here).
///
/// Tolerances: uint8 within ±1. Both sides compute in float32 and round to the nearest integer,
/// so a value within float32 noise of a .5 boundary may round either way (and torchvision
/// rounds halves to even, we round them up). Float outputs within 2e-5 (in [0, 1] units, 1/200
/// of a uint8 step): torchvision builds its sampling grid in float32, a position error of about
/// 1e-5 pixels at these sizes (float32 spacing near 100 is 8e-6), which moves a value by at most
/// that much on an edge of full contrast, and it sums in another order (~1e-7); a wrong centre,
/// sign or filter is off by 1e-3 or more.
final class SampleProcessorTorchvisionTests: XCTestCase {
  struct Manifest: Decodable {
    var photo: String
    var photo_fnv1a64: String
    var cases: [Case]
  }

  struct Case: Decodable {
    var name: String
    var input: Input
    var dtype: String
    var stages: [String]
    var width: Int
    var height: Int
    var file: String?
    var tensor: String?
    /// For affines with a fill: where torchvision's fill blend does not apply (255), and
    /// torchvision's output with the fill painted outside the image (see the script's note).
    var interior_file: String?
    var fill_outside_file: String?
    /// 1 for gray cases (one channel of the photo); nil: RGB.
    var channels: Int?
  }

  /// A crop `[x, y, width, height]` of the photo, the photo mirror-tiled to `[width, height]`,
  /// or a flat `[width, height, r, g, b]` image.
  struct Input: Decodable {
    var crop: [Int]?
    /// With `crop`: keep only this channel (a gray image).
    var channel: Int?
    var mirror_tile: [Int]?
    var flat: [Int]?
  }

  static let uint8Tolerance = 1
  static let floatTolerance: Float = 2e-5

  private var folder: String { Golden.packageRoot + "/Tests/Fixtures/torchvision" }

  private func manifest() throws -> Manifest {
    try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: URL(fileURLWithPath: folder + "/cases.json")))
  }

  private func photo(_ manifest: Manifest) throws -> Image {
    try ImageCodec.decode(path: Golden.packageRoot + "/" + manifest.photo, options: DecodeOptions(channels: 3))
  }

  /// The case's input, built from our decode of the photo exactly as the script builds it.
  private func input(_ spec: Input, photo: Image) throws -> Image {
    if let crop = spec.crop {
      let (x0, y0, width, height) = (crop[0], crop[1], crop[2], crop[3])
      var pixels: [UInt8] = []
      for y in y0..<(y0 + height) { pixels += photo.pixels[((y * photo.width + x0) * 3)..<((y * photo.width + x0 + width) * 3)] }
      if let channel = spec.channel {
        return Image(width: width, height: height, channels: 1, pixels: stride(from: channel, to: pixels.count, by: 3).map { pixels[$0] })
      }
      return Image(width: width, height: height, channels: 3, pixels: pixels)
    }
    if let tile = spec.mirror_tile {
      func mirror(_ i: Int, _ n: Int) -> Int { let m = i % (2 * n); return m < n ? m : 2 * n - 1 - m }
      var pixels: [UInt8] = []
      for y in 0..<tile[1] {
        for x in 0..<tile[0] {
          let source = (mirror(y, photo.height) * photo.width + mirror(x, photo.width)) * 3
          pixels += photo.pixels[source..<(source + 3)]
        }
      }
      return Image(width: tile[0], height: tile[1], channels: 3, pixels: pixels)
    }
    let flat = try XCTUnwrap(spec.flat)
    return Image(width: flat[0], height: flat[1], channels: 3, pixels: [UInt8]((0..<(flat[0] * flat[1])).flatMap { _ in flat[2...4].map { UInt8($0) } }))
  }

  private func processor(_ stages: [String], channels: Int = 3) throws -> SampleProcessor {
    try SampleProcessor(config: PipelineConfig.parse(yaml: "decode: {channels: \(channels)}\nstages:\n" + stages.map { "  - " + $0 + "\n" }.joined(), path: "torchvision-case.yaml"))
  }

  /// Asserts `ours` is within ±1 of `expected` at the values `compared` selects, and prints the
  /// figures (max difference, how many values differ).
  private func compare(_ ours: Image, _ expected: Image, where compared: [Bool], name: String) throws {
    XCTAssertEqual(ours.pixels.count, expected.pixels.count, name)
    let differences = ours.pixels.indices.filter { compared[$0] }.map { abs(Int(ours.pixels[$0]) - Int(expected.pixels[$0])) }
    let worst = differences.max() ?? 0, differing = differences.filter { $0 > 0 }.count
    let skipped = compared.count - differences.count
    print("torchvision \(name) (uint8): max difference \(worst), \(differing) of \(differences.count) values differ" + (skipped > 0 ? " (\(skipped) edge-band values not compared)" : ""))
    XCTAssertLessThanOrEqual(worst, Self.uint8Tolerance, "\(name): \(differing) values differ")
  }

  /// Our decoder gives Pillow's bytes for the photo (so the inputs on both sides are equal).
  func testPhotoDecodesToPillowsBytes() throws {
    let manifest = try manifest()
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in try photo(manifest).pixels { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
    XCTAssertEqual(String(format: "%016llx", hash), manifest.photo_fnv1a64)
  }

  func testEveryCaseEqualsTorchvision() throws {
    let manifest = try manifest()
    let photo = try photo(manifest)
    let floats = try SafeTensorsFile(contentsOf: folder + "/float.safetensors")
    XCTAssertGreaterThanOrEqual(manifest.cases.count, 30)
    XCTAssertGreaterThanOrEqual(manifest.cases.filter { $0.stages.contains { $0.hasPrefix("perspective:") } }.count, 6)
    for testCase in manifest.cases {
      let channels = testCase.channels ?? 3
      let processor = try processor(testCase.stages, channels: channels)
      let source = try input(testCase.input, photo: photo)
      let sample = try processor.prepare(dataset: MemoryDataset(images: [source], labels: [0]), index: 0, epoch: 0)
      XCTAssertEqual([sample.outputWidth, sample.outputHeight], [testCase.width, testCase.height], testCase.name)
      guard sample.outputWidth == testCase.width, sample.outputHeight == testCase.height else { continue }
      if let file = testCase.file {
        let ours = try processor.renderUInt8(sample)
        let expected = try ImageCodec.decode(path: folder + "/" + file, options: DecodeOptions(channels: channels))
        var compared = [Bool](repeating: true, count: ours.pixels.count)
        if let interiorFile = testCase.interior_file, let outsideFile = testCase.fill_outside_file {
          // torchvision blends a given fill into the edge band (pytorch/vision#8083): compare
          // there with "the fill painted outside", and with torchvision's own call inside.
          let outside = try ImageCodec.decode(path: folder + "/" + outsideFile, options: DecodeOptions(channels: 3))
          try compare(ours, outside, where: compared, name: testCase.name + " vs fill painted outside")
          let interior = try ImageCodec.decode(path: folder + "/" + interiorFile, options: DecodeOptions(channels: 1))
          compared = ours.pixels.indices.map { interior.pixels[$0 / 3] == 255 }
        }
        try compare(ours, expected, where: compared, name: testCase.name)
      } else {
        let name = try XCTUnwrap(testCase.tensor)
        let expected = try floats.tensor(name)
        var ours = [Float](repeating: 0, count: expected.count)
        try ours.withUnsafeMutableBufferPointer { try processor.renderFloat(sample, into: $0.baseAddress!) }
        let worst = zip(ours, expected.data).map { abs($0 - $1) }.max() ?? 0
        print("torchvision \(testCase.name) (float): max difference \(worst)")
        XCTAssertLessThanOrEqual(worst, Self.floatTolerance, testCase.name)
      }
    }
  }
}
