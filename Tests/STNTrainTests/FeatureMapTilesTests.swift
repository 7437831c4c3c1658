import STNImageIO
import STNNetwork
import STNTensor
import XCTest
@testable import STNTrain

final class FeatureMapTilesTests: XCTestCase {
  /// A 2x2 convolution with known kernels on the 4x4 image x + 4y: channel 0 copies the
  /// window's top-left value, channel 1 is -2 x its top-right value + 1. Each channel's tile is
  /// scaled to its own range, pixel = round(255·(v − min)/(max − min)), checked exactly.
  func testKnownConvolutionGivesTheExpectedTiles() throws {
    let spec = ModelSpec([.conv2d(Conv2DSpec(out: 2, kernel: 2)), .flatten, .linear(LinearSpec(out: nil))])
    let model = try Model(spec: spec, inputShape: [1, 4, 4], classCount: 2)
    let weight = try XCTUnwrap(model.parameters.parameter(named: "0.weight"))
    let bias = try XCTUnwrap(model.parameters.parameter(named: "0.bias"))
    model.parameters.set(weight, to: Tensor(shape: [2, 1, 2, 2], data: [1, 0, 0, 0] + [0, -2, 0, 0]))
    model.parameters.set(bias, to: Tensor(shape: [2], data: [0, 1]))
    let image = Tensor(shape: [1, 1, 4, 4], data: (0..<16).map(Float.init))
    let outputs = model.layerOutputs(image)
    let conv = try XCTUnwrap(outputs.first { $0.entry.label == "00-conv2d" })
    let (tiles, channelCount) = FeatureMapTiles.tiles(conv.value, sample: 0)
    XCTAssertEqual(channelCount, 2)
    XCTAssertEqual(tiles.count, 2, "one gray tile per channel")
    // Channel 0: values 0 1 2 / 4 5 6 / 8 9 10 -> 25.5·v (ties round away from zero).
    XCTAssertEqual(tiles[0].minimum, 0)
    XCTAssertEqual(tiles[0].maximum, 10)
    XCTAssertEqual(tiles[0].image, Image(width: 3, height: 3, channels: 1, pixels: [0, 26, 51, 102, 128, 153, 204, 230, 255]))
    // Channel 1: -2·(x + 1 + 4y) + 1 = -1 -3 -5 / -9 -11 -13 / -17 -19 -21 -> 12.75·(v + 21).
    XCTAssertEqual(tiles[1].minimum, -21)
    XCTAssertEqual(tiles[1].maximum, -1)
    XCTAssertEqual(tiles[1].image.pixels, [255, 230, 204, 153, 128, 102, 51, 26, 0])
    // Shown 16 times larger: each value a crisp 16x16 block.
    let shown = FeatureMapTiles.displayed(tiles[0].image, side: 48)
    XCTAssertEqual([shown.width, shown.height], [48, 48])
    XCTAssertEqual(shown.pixels[0 * 48 + 16], 26)
    XCTAssertEqual(shown.pixels[47 * 48 + 47], 255)
    XCTAssertEqual(shown.pixels[15 * 48 + 15], 0)
  }

  func testSixChannelsAreSixGrayTilesAndTheLimitKeepsTheFirst() {
    let output = Tensor(shape: [2, 6, 2, 3], data: (0..<72).map { Float($0 % 7) })
    let all = FeatureMapTiles.tiles(output, sample: 1)
    XCTAssertEqual(all.tiles.count, 6)
    XCTAssertTrue(all.tiles.allSatisfy { $0.image.channels == 1 && $0.image.width == 3 && $0.image.height == 2 })
    let first = FeatureMapTiles.tiles(output, sample: 1, limit: 4)
    XCTAssertEqual(first.channelCount, 6)
    XCTAssertEqual(first.tiles, Array(all.tiles.prefix(4)))
    // Sample 1, channel 0 is elements 36...41: 1 2 3 4 5 6.
    XCTAssertEqual(all.tiles[0].minimum, 1)
    XCTAssertEqual(all.tiles[0].maximum, 6)
  }

  func testFlatOutputIsAStripWrappedEveryStripWidthFeatures() {
    let features = FeatureMapTiles.stripWidth + 5
    let output = Tensor(shape: [1, features], data: (0..<features).map(Float.init))
    let (tiles, channelCount) = FeatureMapTiles.tiles(output, sample: 0)
    XCTAssertEqual(channelCount, 1)
    XCTAssertEqual([tiles[0].image.width, tiles[0].image.height], [FeatureMapTiles.stripWidth, 2])
    XCTAssertEqual(tiles[0].image.pixels.last, 0, "past the last feature: black")
    XCTAssertEqual(tiles[0].image.pixels[features - 1], 255)
    let short = FeatureMapTiles.tiles(Tensor(shape: [1, 10], data: (0..<10).map(Float.init)), sample: 0).tiles[0].image
    XCTAssertEqual([short.width, short.height], [10, 1], "a 1x10 strip")
    // Shown 4 times larger, its single row repeated to 8 pixels high.
    let shown = FeatureMapTiles.displayed(short, side: 48)
    XCTAssertEqual([shown.width, shown.height], [40, 8])
  }

  func testConstantNonFiniteAndLargeTiles() {
    let constant = FeatureMapTiles.tile([3, 3, 3, 3], width: 2, height: 2)
    XCTAssertEqual(constant.image.pixels, [0, 0, 0, 0], "black, as torchvision's make_grid(normalize, scale_each)")
    XCTAssertEqual([constant.minimum, constant.maximum], [3, 3])
    let odd = FeatureMapTiles.tile([.nan, 1, .infinity, -.infinity, 3], width: 5, height: 1)
    XCTAssertEqual(odd.image.pixels, [0, 0, 255, 0, 255])
    XCTAssertEqual([odd.minimum, odd.maximum], [1, 3])
    // Larger than the box: shrunk by area averaging to fit.
    let big = Image(width: 96, height: 48, channels: 1, repeating: 200)
    let shown = FeatureMapTiles.displayed(big, side: 48)
    XCTAssertEqual([shown.width, shown.height], [48, 24])
    XCTAssertTrue(shown.pixels.allSatisfy { $0 == 200 })
  }

  func testCompactNumbers() {
    XCTAssertEqual([0, 0.42, -1.7, 12.4, -350, 1e-5, 30_000, 0.005, -9.96].map(FeatureMapTiles.compact),
                   ["0", "0.42", "-1.7", "12", "-350", "1e-5", "3e4", "5e-3", "-10.0"])
  }
}
