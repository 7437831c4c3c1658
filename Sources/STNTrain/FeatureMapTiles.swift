import Foundation
import STNDrawing
import STNImageIO
import STNPipeline
import STNTensor

/// A layer's output as grayscale tiles, one per channel, each scaled to its own min..max: what
/// the TensorBoard `layers/...` images and the `stn export --layers` sheet are made of.
///
/// A per-sample output [C,H,W] gives C tiles of HxW, channels in order (a 6-channel
/// convolution is six gray tiles, never folded into RGB pictures). Any other per-sample shape
/// (a `flatten` or `linear` output [F]) gives one tile, one pixel per feature, row-major,
/// `stripWidth` features per row: a 1xF strip, wrapped when longer (pixels past the last
/// feature are black).
public enum FeatureMapTiles {
  /// One channel of one sample.
  public struct Tile: Equatable, Sendable {
    /// 8-bit gray, one pixel per value.
    public var image: Image
    /// What black stands for: the smallest finite value (0 when there is none).
    public var minimum: Float
    /// What white stands for: the largest finite value (0 when there is none).
    public var maximum: Float
  }

  /// Features per row of a 1-D output's tile: 40 keeps one pixel per feature for up to 1600
  /// features (a 40x40 tile) inside the 44- and 48-pixel tiles of sheets and TensorBoard.
  public static let stripWidth = 40

  /// The tiles of sample `sample` of `output` (N, per-sample shape...): the first `limit`
  /// channels, and how many channels the output has.
  public static func tiles(_ output: Tensor, sample: Int, limit: Int = .max) -> (tiles: [Tile], channelCount: Int) {
    precondition(output.rank >= 2 && sample >= 0 && sample < output.shape[0], "need sample \(sample) of (N, ...), got \(output.shape)")
    let perSample = output.count / max(1, output.shape[0])
    let base = sample * perSample
    let channels: Int, height: Int, width: Int, plane: Int
    if output.rank == 4 {
      (channels, height, width) = (output.shape[1], output.shape[2], output.shape[3])
      plane = height * width
    } else {
      (channels, height, width) = (1, (perSample + stripWidth - 1) / stripWidth, min(perSample, stripWidth))
      plane = perSample
    }
    let shown = (0..<min(channels, max(0, limit))).map { channel in
      tile(output.data[(base + channel * plane)..<(base + (channel + 1) * plane)], width: width, height: height)
    }
    return (shown, channels)
  }

  /// `values` (row-major, at most `width`·`height` of them; pixels past the last value stay
  /// black) as a tile scaled to its own range: pixel = round(255·(v − min)/(max − min)), min and
  /// max over the finite values. A constant tile is all black (torchvision's
  /// `make_grid(normalize=True, scale_each=True)` does the same); NaN and -inf are black, +inf white.
  public static func tile(_ values: ArraySlice<Float>, width: Int, height: Int) -> Tile {
    precondition(width >= 1 && height >= 1 && values.count <= width * height, "\(values.count) values do not fit \(width)x\(height)")
    var low = Float.infinity, high = -Float.infinity
    for v in values where v.isFinite {
      low = min(low, v)
      high = max(high, v)
    }
    if low > high { (low, high) = (0, 0) }
    // NOTE: the scale is worked out in Double so that values on exact fractions of the range
    // (the tests' hand-computed pixels) are not rounded the other way by Float error.
    let range = Double(high) - Double(low)
    var pixels = [UInt8](repeating: 0, count: width * height)
    for (i, v) in values.enumerated() {
      if v == .infinity {
        pixels[i] = 255
      } else if v.isFinite && range > 0 {
        pixels[i] = UInt8(max(0, min(255, (255 * (Double(v) - Double(low)) / range).rounded())))
      }
    }
    return Tile(image: Image(width: width, height: height, channels: 1, pixels: pixels), minimum: low, maximum: high)
  }

  /// `image` fitted into a `side` x `side` box for display: enlarged by the largest whole
  /// factor that fits (nearest neighbour, so single values stay crisp squares), or shrunk by
  /// area averaging when larger; a thin strip's rows are repeated to `minimumHeight` pixels.
  public static func displayed(_ image: Image, side: Int, minimumHeight: Int = 8) -> Image {
    let box = max(1, side)
    var fitted = image
    let longest = max(image.width, image.height)
    if longest > box {
      let scale = Double(box) / Double(longest)
      fitted = AreaResize.resize(
        image, width: max(1, min(image.width, Int((Double(image.width) * scale).rounded()))),
        height: max(1, min(image.height, Int((Double(image.height) * scale).rounded()))))
    }
    let factor = max(1, box / max(fitted.width, fitted.height))
    let tall = max(factor, (min(minimumHeight, box) + fitted.height - 1) / fitted.height)
    return fitted.upscaledNearest(horizontal: factor, vertical: tall)
  }

  /// `value` in at most 6 characters for a tile's min..max caption: `0`, `0.42`, `-1.7`,
  /// `12`, `-350`, `1e-5`, `3e4`.
  public static func compact(_ value: Float) -> String {
    guard value.isFinite else { return value.isNaN ? "nan" : (value > 0 ? "inf" : "-inf") }
    let magnitude = abs(value)
    if magnitude == 0 { return "0" }
    let text: String
    if magnitude >= 1000 || magnitude < 0.01 {
      // "%.0e" gives 1e-05 / 3e+04: drop the exponent's sign and zero padding.
      text = String(format: "%.0e", Double(value)).replacingOccurrences(of: "e+0", with: "e").replacingOccurrences(of: "e+", with: "e")
        .replacingOccurrences(of: "e-0", with: "e-")
    } else if magnitude >= 10 {
      text = String(format: "%.0f", Double(value))
    } else if magnitude >= 1 {
      text = String(format: "%.1f", Double(value))
    } else {
      text = String(format: "%.2f", Double(value))
    }
    return text
  }
}
