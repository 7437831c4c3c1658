import STNImageIO
import STNTestSupport
import STNTensor
import STNWarp
import XCTest

@testable import STNPipeline

/// The one-resample path on real photo crops (Tests/STNPipelineFixtures, 200x150 JPEG).
final class PhotoFixtureTests: XCTestCase {
  private var fixtures: String { Golden.packageRoot + "/Tests/STNPipelineFixtures" }

  func testOneResampleWithReducedDecodeMatchesStepByStepOnPhotos() throws {
    let dataset = try ImageFolder(root: fixtures)
    XCTAssertEqual(dataset.count, 3)
    let config = try PipelineConfig.parse(yaml: """
      stages:
        - random_affine: {degrees: 30, translate: [0.1, 0.1], scale: [0.8, 1.2]}
        - resize: {size: [48, 48]}
      """)
    let processor = try SampleProcessor(config: config)
    var reduced = 0
    for epoch in 0..<2 {
      for index in 0..<dataset.count {
        let sample = try processor.prepare(dataset: dataset, index: index, epoch: epoch)
        if sample.decodeDenominator > 1 { reduced += 1 }
        XCTAssertLessThan(sample.image.width, 200, "200 -> 48 must shrink before the bilinear pass")
        let fused = try processor.renderUInt8(sample)
        let reference = try processor.referenceRender(dataset: dataset, index: index, epoch: epoch)
        let psnr = StepByStepReference.psnr(fused, reference)
        XCTAssertGreaterThanOrEqual(psnr, 30, "photo \(index) epoch \(epoch): \(psnr) dB")
      }
    }
    XCTAssertGreaterThan(reduced, 0, "a >= 2x shrink of a JPEG decodes reduced in the DCT")
  }

  /// On the warp path (here an affine before the resize) a JPEG is decoded reduced in the DCT as
  /// far as the output allows; a resize-only chain (the separable, torchvision-exact path) is
  /// always decoded at full size.
  func testReducedDecodeFactorFollowsTheShrink() throws {
    let dataset = try ImageFolder(root: fixtures)
    for (size, expected) in [("[150, 200]", 1), ("[75, 100]", 2), ("[50, 66]", 2), ("[37, 50]", 4), ("[18, 25]", 8)] {
      let processor = try SampleProcessor(config: try PipelineConfig.parse(yaml: "stages:\n  - affine: {rotate: 3}\n  - resize: {size: \(size)}\n"))
      let sample = try processor.prepare(dataset: dataset, index: 0, epoch: 0)
      XCTAssertEqual(sample.decodeDenominator, expected, size)
      XCTAssertNil(sample.resampleAxes)
      // Never below the output's resolution.
      XCTAssertGreaterThanOrEqual(sample.image.width, sample.outputWidth)
      XCTAssertGreaterThanOrEqual(sample.image.height, sample.outputHeight)
      let separable = try SampleProcessor(config: try PipelineConfig.parse(yaml: "stages:\n  - resize: {size: \(size)}\n"))
      let full = try separable.prepare(dataset: dataset, index: 0, epoch: 0)
      XCTAssertEqual(full.decodeDenominator, 1, size)
      XCTAssertNotNil(full.resampleAxes)
    }
  }
}

final class ResampleSettingsTests: XCTestCase {
  private func render(_ yaml: String, _ image: Image) throws -> Image {
    let processor = try SampleProcessor(config: try PipelineConfig.parse(yaml: yaml))
    return try processor.renderUInt8(try processor.prepare(dataset: MemoryDataset(images: [image], labels: [0]), index: 0, epoch: 0))
  }

  func testFillBorderAndNearestReachTheResample() throws {
    let image = Image(width: 2, height: 1, channels: 1, pixels: [10, 200])
    // Shift right by 2: both output pixels lie outside the source.
    let filled = try render("decode: {channels: 1}\nstages:\n  - affine: {translate: [2, 0], fill: 128}\n", image)
    XCTAssertEqual(filled.pixels, [128, 128])
    let border = try render("decode: {channels: 1}\nstages:\n  - affine: {translate: [2, 0], padding_mode: border}\n", image)
    XCTAssertEqual(border.pixels, [10, 10])
    // Half-pixel shift: bilinear averages, nearest picks (ties to even: 0.5 -> 0).
    let bilinear = try render("decode: {channels: 1}\nstages:\n  - affine: {translate: [0.5, 0], padding_mode: border}\n", image)
    XCTAssertEqual(bilinear.pixels, [10, 105])
    let nearest = try render("decode: {channels: 1}\nstages:\n  - affine: {translate: [0.5, 0], padding_mode: border, interpolation: nearest}\n", image)
    XCTAssertEqual(nearest.pixels, [10, 10])
  }

  func testDatasetSubsetMapsIndices() {
    let base = MemoryDataset(images: (0..<5).map { TestImages.smooth(width: 4, height: 4, channels: 1, variant: $0) }, labels: [0, 1, 2, 3, 4])
    let subset = DatasetSubset(base: base, indices: [4, 1])
    XCTAssertEqual(subset.count, 2)
    XCTAssertEqual(subset.label(at: 0), 4)
    XCTAssertEqual(subset.sourcePath(at: 1), base.sourcePath(at: 1))
  }
}

final class OutputLimitTests: XCTestCase {
  func testHugeOutputsAreRefusedNotAllocated() throws {
    // A size fixed in the file is refused at load time (PipelineConfigTests); one that depends
    // on the image is refused per sample.
    XCTAssertThrowsError(try PipelineConfig.parse(yaml: "decode: {channels: 1}\nstages:\n  - resize: {size: [65536, 65536]}\n")) {
      XCTAssertTrue("\($0)".contains(":3: resize produces") && "\($0)".contains("pixel limit"), "\($0)")
    }
    let config = try PipelineConfig.parse(yaml: "decode: {channels: 1}\nstages:\n  - resize: {shorter_side: 8000}\nbatch: {size: 64}\n")
    let data = MemoryDataset(images: [TestImages.smooth(width: 80, height: 8, channels: 1)], labels: [0])
    let processor = try SampleProcessor(config: config)
    XCTAssertThrowsError(try processor.prepare(dataset: data, index: 0, epoch: 0)) { XCTAssertTrue("\($0)".contains("pixel limit"), "\($0)") }
    let medium = try PipelineConfig.parse(yaml: "decode: {channels: 3}\nstages:\n  - resize: {size: [8000, 8000]}\nbatch: {size: 64}\n")
    XCTAssertThrowsError(try BatchLoader(config: medium, dataset: data, epoch: 0)) { XCTAssertTrue("\($0)".contains("GB"), "\($0)") }
  }
}
