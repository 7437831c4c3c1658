import STNImageIO

/// Area (box) resampling of an 8-bit HWC image: each output pixel is the mean of the source
/// pixels its footprint covers, fractional edge pixels weighted by coverage (OpenCV INTER_AREA
/// for shrinking). Used as the anti-aliasing prefilter before a minifying bilinear warp.
///
/// Pixel-centre consistent: output pixel x covers source [x·W/W', (x+1)·W/W'), so the map from
/// output to source pixel coordinates is x_s = (x + 0.5)·W/W' - 0.5, like `ChainPlanner.resizeMap`.
public enum AreaResize {
  /// One axis of the filter: for output index i, source indices `start[i]..<start[i]+count[i]`
  /// with `weights` laid out consecutively from `offset[i]` (weights sum to 1).
  struct Axis {
    var start: [Int32] = []
    var count: [Int32] = []
    var offset: [Int32] = []
    var weights: [Float] = []

    init(source: Int, destination: Int) {
      let ratio = Double(source) / Double(destination)
      for i in 0..<destination {
        let low = Double(i) * ratio, high = min(Double(i + 1) * ratio, Double(source))
        let first = Int(low), last = min(source - 1, Int((high - 1e-9).rounded(.down)))
        start.append(Int32(first))
        count.append(Int32(last - first + 1))
        offset.append(Int32(weights.count))
        for s in first...last {
          let covered = min(high, Double(s + 1)) - max(low, Double(s))
          weights.append(Float(covered / (high - low)))
        }
      }
    }
  }

  /// Shrinks `image` to `width` x `height` (each no larger than the source's).
  ///
  /// Fast path: per output row, the vertical taps are accumulated over whole source rows into
  /// one float row (contiguous, vectorizes), then the horizontal taps run on that row only.
  public static func resize(_ image: Image, width: Int, height: Int) -> Image {
    precondition(width >= 1 && height >= 1 && width <= image.width && height <= image.height, "area resize only shrinks")
    let channels = image.channels
    let xAxis = Axis(source: image.width, destination: width)
    let yAxis = Axis(source: image.height, destination: height)
    let sourceRowLength = image.width * channels, rowLength = width * channels
    var output = [UInt8](repeating: 0, count: height * rowLength)
    let accumulator = UnsafeMutablePointer<Float>.allocate(capacity: sourceRowLength)
    defer { accumulator.deallocate() }
    image.pixels.withUnsafeBufferPointer { source in
      output.withUnsafeMutableBufferPointer { out in
        xAxis.weights.withUnsafeBufferPointer { xWeights in
          for y in 0..<height {
            let first = Int(yAxis.start[y]), n = Int(yAxis.count[y]), w0 = Int(yAxis.offset[y])
            // Vertical: accumulator = sum_k w_k * row(first + k).
            do {
              let weight = yAxis.weights[w0]
              let row = source.baseAddress! + first * sourceRowLength
              for i in 0..<sourceRowLength { accumulator[i] = Float(row[i]) * weight }
            }
            for k in 1..<max(n, 1) {
              let weight = yAxis.weights[w0 + k]
              let row = source.baseAddress! + (first + k) * sourceRowLength
              for i in 0..<sourceRowLength { accumulator[i] += Float(row[i]) * weight }
            }
            // Horizontal on the one accumulated row.
            let outRow = out.baseAddress! + y * rowLength
            if channels == 3 {
              for x in 0..<width {
                let start = Int(xAxis.start[x]), taps = Int(xAxis.count[x]), offset = Int(xAxis.offset[x])
                var r: Float = 0, g: Float = 0, b: Float = 0
                for k in 0..<taps {
                  let w = xWeights[offset + k]
                  let p = accumulator + (start + k) * 3
                  r += p[0] * w; g += p[1] * w; b += p[2] * w
                }
                outRow[x * 3] = UInt8(min(max(r + 0.5, 0), 255))
                outRow[x * 3 + 1] = UInt8(min(max(g + 0.5, 0), 255))
                outRow[x * 3 + 2] = UInt8(min(max(b + 0.5, 0), 255))
              }
            } else {
              for x in 0..<width {
                let start = Int(xAxis.start[x]), taps = Int(xAxis.count[x]), offset = Int(xAxis.offset[x])
                for c in 0..<channels {
                  var sum: Float = 0
                  for k in 0..<taps { sum += accumulator[(start + k) * channels + c] * xWeights[offset + k] }
                  outRow[x * channels + c] = UInt8(min(max(sum + 0.5, 0), 255))
                }
              }
            }
          }
        }
      }
    }
    return Image(width: width, height: height, channels: channels, pixels: output)
  }

  /// The naive twin of `resize`: a full horizontal pass into a float image, then a vertical
  /// pass (kept for tests).
  public static func resizeNaive(_ image: Image, width: Int, height: Int) -> Image {
    precondition(width >= 1 && height >= 1 && width <= image.width && height <= image.height, "area resize only shrinks")
    let channels = image.channels
    let xAxis = Axis(source: image.width, destination: width)
    let yAxis = Axis(source: image.height, destination: height)
    // Horizontal pass into float rows (H, W', C), then vertical pass to uint8 (H', W', C).
    let rowLength = width * channels
    var horizontal = [Float](repeating: 0, count: image.height * rowLength)
    var output = [UInt8](repeating: 0, count: height * rowLength)
    image.pixels.withUnsafeBufferPointer { source in
      horizontal.withUnsafeMutableBufferPointer { middle in
        for y in 0..<image.height {
          let sourceRow = source.baseAddress! + y * image.width * channels
          let middleRow = middle.baseAddress! + y * rowLength
          for x in 0..<width {
            let first = Int(xAxis.start[x]), n = Int(xAxis.count[x]), w0 = Int(xAxis.offset[x])
            for c in 0..<channels {
              var sum: Float = 0
              for k in 0..<n { sum += Float(sourceRow[(first + k) * channels + c]) * xAxis.weights[w0 + k] }
              middleRow[x * channels + c] = sum
            }
          }
        }
        let accumulator = UnsafeMutablePointer<Float>.allocate(capacity: rowLength)
        defer { accumulator.deallocate() }
        output.withUnsafeMutableBufferPointer { out in
          for y in 0..<height {
            let first = Int(yAxis.start[y]), n = Int(yAxis.count[y]), w0 = Int(yAxis.offset[y])
            let outRow = out.baseAddress! + y * rowLength
            // Row-wise accumulation keeps the inner loop contiguous.
            for i in 0..<rowLength { accumulator[i] = 0 }
            for k in 0..<n {
              let weight = yAxis.weights[w0 + k]
              let middleRow = middle.baseAddress! + (first + k) * rowLength
              for i in 0..<rowLength { accumulator[i] += middleRow[i] * weight }
            }
            for i in 0..<rowLength { outRow[i] = UInt8(min(max(accumulator[i] + 0.5, 0), 255)) }
          }
        }
      }
    }
    return Image(width: width, height: height, channels: channels, pixels: output)
  }
}
