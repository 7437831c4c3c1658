#if canImport(Glibc)
import Glibc
#endif
import STNImageIO
import STNWarp

/// The slow reference the one-resample path is tested against: each geometric step resampled
/// on its own, at full resolution, in float (bilinear for affine, perspective and elastic steps,
/// each through its own map; an antialiased triangle filter, like Pillow's reducing BILINEAR,
/// for resize steps), rounded to uint8 at the end.
///
/// Only `zeros` padding is modelled (intermediate canvases take the fill value outside).
public enum StepByStepReference {
  /// Runs every step of `geometry` on `image` (HWC uint8) and returns the HWC uint8 result.
  public static func render(_ image: Image, geometry: SampleGeometry, fill: [Double]) -> Image {
    var width = image.width, height = image.height
    let channels = image.channels
    let fillValues = (0..<channels).map { Float(fill.count == channels ? fill[$0] : (fill.first ?? 0)) }
    var current = image.pixels.map { Float($0) }
    for step in geometry.steps {
      if step.kind == .resize {
        current = resizeAntialiased(current, width: width, height: height, channels: channels, toWidth: step.width, toHeight: step.height)
      } else if let map = step.map {
        // A perspective or elastic step: its own output -> input map.
        current = warpBilinear(current, width: width, height: height, channels: channels, destinationToSource: { map.apply(x: $0, y: $1) },
                               toWidth: step.width, toHeight: step.height, fill: fillValues)
      } else if let inverse = step.transform.inverted() {
        current = warpBilinear(current, width: width, height: height, channels: channels, destinationToSource: { inverse.apply(x: $0, y: $1) },
                               toWidth: step.width, toHeight: step.height, fill: fillValues)
      } else {
        current = [Float](repeating: 0, count: step.width * step.height * channels)
      }
      width = step.width
      height = step.height
    }
    return Image(width: width, height: height, channels: channels, pixels: current.map { UInt8(min(max($0.rounded(), 0), 255)) })
  }

  /// Naive float bilinear warp; `destinationToSource` maps destination to source pixels.
  static func warpBilinear(_ source: [Float], width: Int, height: Int, channels: Int, destinationToSource: (Double, Double) -> (x: Double, y: Double),
                           toWidth: Int, toHeight: Int, fill: [Float]) -> [Float] {
    var output = [Float](repeating: 0, count: toWidth * toHeight * channels)
    for y in 0..<toHeight {
      for x in 0..<toWidth {
        let p = destinationToSource(Double(x), Double(y))
        guard p.x.isFinite, p.y.isFinite, abs(p.x) < 1e9, abs(p.y) < 1e9 else {
          for c in 0..<channels { output[(y * toWidth + x) * channels + c] = fill[c] }
          continue
        }
        let x0 = Int(p.x.rounded(.down)), y0 = Int(p.y.rounded(.down))
        let fx = Float(p.x - Double(x0)), fy = Float(p.y - Double(y0))
        for c in 0..<channels {
          func at(_ u: Int, _ v: Int) -> Float {
            (u < 0 || v < 0 || u >= width || v >= height) ? fill[c] : source[(v * width + u) * channels + c]
          }
          let top = at(x0, y0) * (1 - fx) + at(x0 + 1, y0) * fx
          let bottom = at(x0, y0 + 1) * (1 - fx) + at(x0 + 1, y0 + 1) * fx
          output[(y * toWidth + x) * channels + c] = top * (1 - fy) + bottom * fy
        }
      }
    }
    return output
  }

  /// torchvision's antialiased bilinear `Resize` of a float HWC canvas: the separable triangle
  /// filter of `SeparableResample.triangleRows`, one axis after the other, in float.
  static func resizeAntialiased(_ source: [Float], width: Int, height: Int, channels: Int, toWidth: Int, toHeight: Int) -> [Float] {
    let columns = SeparableResample.triangleRows(source: width, destination: toWidth)
    let rows = SeparableResample.triangleRows(source: height, destination: toHeight)
    // Along x: `count` lines of `width` pixels; along y: the transposed view of the same pass.
    let middle = resample(source, rows: columns, lines: height, lineStride: width * channels, tapStride: channels,
                          outputLineStride: toWidth * channels, outputTapStride: channels, channels: channels, outputSize: height * toWidth * channels)
    return resample(middle, rows: rows, lines: toWidth, lineStride: channels, tapStride: toWidth * channels,
                    outputLineStride: channels, outputTapStride: toWidth * channels, channels: channels, outputSize: toHeight * toWidth * channels)
  }

  /// One separable pass: for each of `lines` lines and each output index i, the weighted sum of
  /// the line's taps `rows[i]` (strides in floats), per channel.
  private static func resample(_ source: [Float], rows: [SeparableResample.Row], lines: Int, lineStride: Int, tapStride: Int,
                               outputLineStride: Int, outputTapStride: Int, channels: Int, outputSize: Int) -> [Float] {
    var output = [Float](repeating: 0, count: outputSize)
    for line in 0..<lines {
      for (i, row) in rows.enumerated() {
        for c in 0..<channels {
          var sum: Float = 0
          for (k, weight) in row.weights.enumerated() { sum += source[line * lineStride + (row.start + k) * tapStride + c] * Float(weight) }
          output[line * outputLineStride + i * outputTapStride + c] = sum
        }
      }
    }
    return output
  }

  /// Peak signal-to-noise ratio in dB between two same-sized 8-bit images (infinity if equal).
  public static func psnr(_ a: Image, _ b: Image) -> Double {
    precondition(a.pixels.count == b.pixels.count, "PSNR needs images of one size")
    var sum: Double = 0
    for i in 0..<a.pixels.count {
      let d = Double(a.pixels[i]) - Double(b.pixels[i])
      sum += d * d
    }
    if sum == 0 { return .infinity }
    let mse = sum / Double(a.pixels.count)
    return 10 * log10(255 * 255 / mse)
  }
}

extension SampleProcessor {
  /// The step-by-step reference output for a sample (full-resolution decode, each step
  /// resampled on its own), with exactly the random parameters `prepare` draws.
  public func referenceRender(dataset: any ImageDataset, index: Int, epoch: Int) throws -> Image {
    if suffix != nil { throw PipelineError(file: config.path, line: 0, reason: "the step-by-step reference does not model learned_affine") }
    let image = try dataset.loadImage(at: index, options: config.decodeOptions)
    var random = randomStream(epoch: epoch, index: index)
    let geometry = prefix.plan(width: image.width, height: image.height, random: &random)
    return StepByStepReference.render(image, geometry: geometry, fill: config.resample.fill)
  }
}
