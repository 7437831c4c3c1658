import STNImageIO
import STNTestSupport
import STNTensor
import STNWarp
import XCTest

@testable import STNPipeline

final class SeparableResampleTests: XCTestCase {
  /// Chains of resize / center_crop / pad in several orders, with and without a fill.
  static let chains: [String] = [
    "  - resize: {size: [40, 30]}\n",
    "  - resize: {size: [90, 130]}\n",
    "  - resize: {size: 20}\n  - center_crop: {size: [18, 25]}\n",
    "  - pad: {padding: [3, 1, 5, 2], fill: [200, 100, 50]}\n  - resize: {size: [33, 17]}\n",
    "  - resize: {size: [21, 29]}\n  - pad: {padding: [4, 2], fill: 90}\n  - center_crop: {size: [40, 20]}\n",
    "  - center_crop: {size: [30, 70]}\n  - resize: {size: [61, 45]}\n  - pad: {size: [70, 50], position: random, fill: [1, 2, 3]}\n",
    "  - resize: {size: [20, 20]}\n  - resize: {size: [57, 43]}\n",
  ]

  /// The stages' processor; for one channel, per-channel fills become their first value.
  private func processor(_ stages: String, channels: Int) throws -> SampleProcessor {
    let text = channels == 3 ? stages : stages.replacingOccurrences(of: "[200, 100, 50]", with: "200").replacingOccurrences(of: "[1, 2, 3]", with: "1")
    return try SampleProcessor(config: PipelineConfig.parse(yaml: "decode: {channels: \(channels)}\nstages:\n" + text))
  }

  /// The fast kernel against its naive twin (the double sum of every tap, in double precision),
  /// for uint8 and normalized float output, 1 and 3 channels.
  func testFastKernelMatchesNaiveTwin() throws {
    for channels in [1, 3] {
      let image = TestImages.smooth(width: 53, height: 37, channels: channels, variant: channels)
      for stages in Self.chains {
        let processor = try processor(stages, channels: channels)
        let sample = try processor.prepare(dataset: MemoryDataset(images: [image], labels: [0]), index: 0, epoch: 0)
        let axes = try XCTUnwrap(sample.resampleAxes, stages)
        let fill = processor.options.fill
        let naive = SeparableResample.resampleNaive(image, x: axes.x, y: axes.y, fill: fill)
        let fast = SeparableResample.resampleUInt8(image, x: axes.x, y: axes.y, fill: fill)
        let worst = zip(fast.pixels, naive).map { abs(Double($0) - $1) }.max() ?? 99
        XCTAssertLessThanOrEqual(worst, 0.5 + 1e-3, "\(channels) channels, \(stages)")
        var floats = [Float](repeating: 0, count: naive.count)
        let scale = [Float](repeating: 0.5, count: channels), bias = [Float](repeating: -3, count: channels)
        floats.withUnsafeMutableBufferPointer {
          SeparableResample.resampleNormalized(image, x: axes.x, y: axes.y, fill: fill, output: $0.baseAddress!, scale: scale, bias: bias)
        }
        let plane = axes.x.size * axes.y.size
        var floatWorst = 0.0
        for i in 0..<plane { for c in 0..<channels { floatWorst = max(floatWorst, abs(Double(floats[c * plane + i]) - (naive[i * channels + c] * 0.5 - 3))) } }
        XCTAssertLessThan(floatWorst, 1e-3, "\(channels) channels, \(stages)")
      }
    }
  }

  /// The whole path (plan, composed weights, kernel) against the step-by-step reference, an
  /// independent implementation: each resize with its own naive triangle filter, each crop or
  /// pad as a warp of the float canvas with the fill outside.
  func testChainsMatchTheStepByStepReference() throws {
    for stages in Self.chains {
      let processor = try processor(stages, channels: 3)
      let image = TestImages.smooth(width: 53, height: 37, channels: 3, variant: 2)
      let dataset = MemoryDataset(images: [image], labels: [0])
      for epoch in 0..<3 {
        let fused = try processor.renderUInt8(try processor.prepare(dataset: dataset, index: 0, epoch: epoch))
        let reference = try processor.referenceRender(dataset: dataset, index: 0, epoch: epoch)
        XCTAssertEqual([fused.width, fused.height], [reference.width, reference.height], stages)
        let worst = zip(fused.pixels, reference.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 99
        XCTAssertLessThanOrEqual(worst, 1, stages)
      }
    }
  }

  /// The case: a flat 10x10 (200, 100, 50) resized to 32x32 stays flat to the corners
  /// (the warp with zeros padding gave (86, 43, 22) in the corner).
  func testUpscalingAFlatImageKeepsItsEdges() throws {
    let flat = Image(width: 10, height: 10, channels: 3, pixels: [UInt8]((0..<100).flatMap { _ in [UInt8(200), 100, 50] }))
    let processor = try processor("  - resize: {size: [32, 32]}\n", channels: 3)
    let output = try processor.renderUInt8(try processor.prepare(dataset: MemoryDataset(images: [flat], labels: [0]), index: 0, epoch: 0))
    var colours = Set<[UInt8]>()
    for i in stride(from: 0, to: output.pixels.count, by: 3) { colours.insert(Array(output.pixels[i..<(i + 3)])) }
    XCTAssertEqual(colours, [[200, 100, 50]])
  }

  /// Crops and pads are hard-edged whole-pixel moves: exactly the source pixels and the fill.
  func testPadsAndCropsCopyPixelsExactly() throws {
    let image = Image(width: 3, height: 2, channels: 1, pixels: [10, 20, 30, 40, 50, 60])
    let processor = try processor("  - pad: {padding: [1, 0, 0, 1], fill: 7}\n  - center_crop: {size: [3, 3]}\n", channels: 1)
    let output = try processor.renderUInt8(try processor.prepare(dataset: MemoryDataset(images: [image], labels: [0]), index: 0, epoch: 0))
    // Padded 4x3: [7 10 20 30; 7 40 50 60; 7 7 7 7]; centre crop 3x3 from left round(0.5) = 0.
    XCTAssertEqual(output.pixels, [7, 10, 20, 7, 40, 50, 7, 7, 7])
  }

  /// A canvas wider than the composition handles falls back to the warp (same pixels here: the
  /// chain only shifts), instead of allocating a weight row per index of a huge canvas.
  func testHugeIntermediateCanvasesFallBackToTheWarp() throws {
    let pads = String(repeating: "  - pad: {padding: [65536, 0]}\n", count: 9)
    let processor = try processor(pads + "  - center_crop: {size: [3, 4]}\n", channels: 1)
    let image = Image(width: 4, height: 3, channels: 1, pixels: (0..<12).map { UInt8($0 * 10) })
    let sample = try processor.prepare(dataset: MemoryDataset(images: [image], labels: [0]), index: 0, epoch: 0)
    XCTAssertNil(sample.resampleAxes)
    XCTAssertEqual(try processor.renderUInt8(sample), image)
  }

  /// Identity-size resizes copy; the weights of a resize row sum to one.
  func testTriangleWeights() {
    let same = SeparableResample.triangleRows(source: 7, destination: 7)
    XCTAssertEqual(same, (0..<7).map { SeparableResample.Row(start: $0, weights: [1]) })
    for (source, destination) in [(500, 224), (96, 224), (7, 3), (3, 7)] {
      for row in SeparableResample.triangleRows(source: source, destination: destination) {
        XCTAssertEqual(row.weights.reduce(0, +), 1, accuracy: 1e-12)
        XCTAssertLessThanOrEqual(row.weights.count, 2 * Int((Double(source) / Double(destination)).rounded(.up)) + 2)
      }
    }
  }
}
