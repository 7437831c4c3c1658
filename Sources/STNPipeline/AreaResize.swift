import STNImageIO

/// Area (box) resampling of an 8-bit HWC image: each output pixel is the mean of the source
/// pixels its footprint covers, fractional edge pixels weighted by coverage (OpenCV INTER_AREA
/// for shrinking). Used to scale images down for contact sheets.
///
/// Pixel-centre consistent: output pixel x covers source [x·W/W', (x+1)·W/W'), so the map from
/// output to source pixel coordinates is x_s = (x + 0.5)·W/W' - 0.5, like `ChainPlanner.resizeMap`.
/// The work is `SeparableResample`'s kernel with box weights.
public enum AreaResize {
  /// Box weights for both axes of shrinking `image` to `width` x `height`.
  static func axes(_ image: Image, width: Int, height: Int) -> (x: SeparableResample.Axis, y: SeparableResample.Axis) {
    (SeparableResample.Axis(rows: SeparableResample.areaRows(source: image.width, destination: width)),
     SeparableResample.Axis(rows: SeparableResample.areaRows(source: image.height, destination: height)))
  }

  /// Shrinks `image` to `width` x `height` (each no larger than the source's).
  public static func resize(_ image: Image, width: Int, height: Int) -> Image {
    precondition(width >= 1 && height >= 1 && width <= image.width && height <= image.height, "area resize only shrinks")
    let (x, y) = axes(image, width: width, height: height)
    return SeparableResample.resampleUInt8(image, x: x, y: y, fill: [0])
  }

  /// The naive twin of `resize` (`SeparableResample.resampleNaive`, rounded; kept for tests).
  public static func resizeNaive(_ image: Image, width: Int, height: Int) -> Image {
    precondition(width >= 1 && height >= 1 && width <= image.width && height <= image.height, "area resize only shrinks")
    let (x, y) = axes(image, width: width, height: height)
    let values = SeparableResample.resampleNaive(image, x: x, y: y, fill: [0])
    return Image(width: width, height: height, channels: image.channels, pixels: values.map { SeparableResample.roundToUInt8(Float($0)) })
  }
}
