import STNImageIO

/// A separable linear resample of an 8-bit HWC image:
///
///     output(y, x, c) = Σ_i Σ_j wy[y][i] · wx[x][j] · source(i, j, c) + fill[c] · (1 - cy[y] · cx[x])
///
/// where `cy[y]` and `cx[x]` are the sums of an output row's and column's weights: 1 where the
/// output shows the image, 0 on a pad, in between where a later resize blends a pad's edge into
/// the image. Pixels outside the image take the fill value exactly as if a pad had been drawn
/// with it and then resampled, because every resize row's weights sum to 1.
///
/// Used for chains of `resize`, `center_crop` and `pad` (torchvision `Resize(antialias=True)`
/// with clamped edges, then hard-edged crops and pads) and, with box weights, by `AreaResize`.
public enum SeparableResample {
  /// One axis: output index i reads source indices `start[i] ..< start[i] + count[i]` with the
  /// weights stored consecutively from `offset[i]`; `coverage[i]` is their sum (0 when count is 0).
  public struct Axis: Equatable, Sendable {
    public private(set) var start: [Int32] = []
    public private(set) var count: [Int32] = []
    public private(set) var offset: [Int32] = []
    public private(set) var weights: [Float] = []
    public private(set) var coverage: [Float] = []

    /// Output size along this axis.
    public var size: Int { start.count }

    /// From one sparse row per output index.
    init(rows: [Row]) {
      for row in rows {
        start.append(Int32(row.start))
        count.append(Int32(row.weights.count))
        offset.append(Int32(weights.count))
        weights.append(contentsOf: row.weights.map { Float($0) })
        let sum = row.weights.reduce(0, +)
        // Interior rows sum to 1 up to rounding; snapping keeps them exactly fill-free.
        coverage.append(abs(sum - 1) < 1e-9 ? 1 : Float(sum))
      }
    }

    /// Lowest and one-past-highest source index any output index reads (0..<0 when none).
    var sourceSpan: Range<Int> {
      var low = Int.max, high = Int.min
      for i in 0..<size where count[i] > 0 {
        low = min(low, Int(start[i]))
        high = max(high, Int(start[i] + count[i]))
      }
      return low < high ? low..<high : 0..<0
    }
  }

  /// One output index's weights over source indices `start ..< start + weights.count` (double
  /// precision while a chain is composed).
  struct Row: Equatable {
    var start: Int
    var weights: [Double]

    static let empty = Row(start: 0, weights: [])

    /// Drops zero weights at both ends.
    func trimmed() -> Row {
      guard let first = weights.firstIndex(where: { $0 != 0 }), let last = weights.lastIndex(where: { $0 != 0 }) else { return .empty }
      return Row(start: start + first, weights: Array(weights[first...last]))
    }
  }

  // MARK: - Weights

  /// Box (area) weights for shrinking `source` to `destination` pixels: output pixel i covers
  /// source [i·r, (i+1)·r) with r = source/destination, edge pixels weighted by coverage.
  static func areaRows(source: Int, destination: Int) -> [Row] {
    let ratio = Double(source) / Double(destination)
    return (0..<destination).map { i in
      let low = Double(i) * ratio, high = min(Double(i + 1) * ratio, Double(source))
      let first = Int(low), last = min(source - 1, Int((high - 1e-9).rounded(.down)))
      let weights = (first...max(first, last)).map { s in (min(high, Double(s + 1)) - max(low, Double(s))) / (high - low) }
      return Row(start: first, weights: weights)
    }
  }

  /// The antialiased triangle filter of torchvision `Resize(interpolation=BILINEAR,
  /// antialias=True)` (PyTorch's `_upsample_bilinear2d_aa`, Pillow's BILINEAR reduce): output
  /// pixel i is centred at source edge coordinate c = r·(i + 0.5), r = source/destination; the
  /// filter is a triangle of half-width max(r, 1) source pixels, taps outside the image are
  /// dropped and the rest renormalized (so edges are clamped, never darkened).
  static func triangleRows(source: Int, destination: Int) -> [Row] {
    let ratio = Double(source) / Double(destination)
    let support = max(ratio, 1), inverseSupport = 1 / support
    return (0..<destination).map { i in
      let center = ratio * (Double(i) + 0.5)
      // PyTorch truncates toward zero here; the max() makes that the same as floor.
      let low = max(Int(center - support + 0.5), 0)
      let high = min(Int(center + support + 0.5), source)
      var weights = (low..<max(low, high)).map { j in max(0, 1 - abs((Double(j) - center + 0.5) * inverseSupport)) }
      let total = weights.reduce(0, +)
      if total > 0 { weights = weights.map { $0 / total } }
      return Row(start: low, weights: weights).trimmed()
    }
  }

  /// `rows` followed by a resample whose output index j reads `rows[k]` with `next[j]`'s weights.
  static func compose(_ next: [Row], after rows: [Row]) -> [Row] {
    next.map { outer in
      let inner = outer.weights.indices.map { rows[outer.start + $0] }.filter { !$0.weights.isEmpty }
      guard let low = inner.map(\.start).min(), let high = inner.map({ $0.start + $0.weights.count }).max() else { return .empty }
      var weights = [Double](repeating: 0, count: high - low)
      for (k, weight) in outer.weights.enumerated() {
        let row = rows[outer.start + k]
        for (m, value) in row.weights.enumerated() { weights[row.start - low + m] += weight * value }
      }
      return Row(start: low, weights: weights).trimmed()
    }
  }

  /// `rows` moved by `offset` whole pixels onto a canvas of `size`: new index i shows old index
  /// i - offset, or nothing (fill) outside the old canvas.
  static func shift(_ rows: [Row], by offset: Int, to size: Int) -> [Row] {
    (0..<size).map { i in rows.indices.contains(i - offset) ? rows[i - offset] : .empty }
  }

  /// Longest canvas side the composition handles: it keeps one weight row per index of every
  /// intermediate canvas, and a file may stack wide pads before a small crop.
  static let maxCanvasSide = 1 << 20

  /// The two axes of a chain of `resize` and `center_crop`/`pad` steps on a `sourceWidth` x
  /// `sourceHeight` image, or nil when a step is a general warp, a shift is not whole pixels, or
  /// a canvas side exceeds `maxCanvasSide` (the caller then warps instead).
  static func axes(steps: [StageStep], sourceWidth: Int, sourceHeight: Int) -> (x: Axis, y: Axis)? {
    guard steps.allSatisfy({ $0.width <= maxCanvasSide && $0.height <= maxCanvasSide }) else { return nil }
    var x = (0..<sourceWidth).map { Row(start: $0, weights: [1]) }
    var y = (0..<sourceHeight).map { Row(start: $0, weights: [1]) }
    for step in steps {
      switch step.kind {
      case .warp:
        return nil
      case .resize:
        x = compose(triangleRows(source: x.count, destination: step.width), after: x)
        y = compose(triangleRows(source: y.count, destination: step.height), after: y)
      case .shift:
        let t = step.transform
        guard t.a == 1, t.b == 0, t.d == 0, t.e == 1, t.c == t.c.rounded(), t.f == t.f.rounded(), abs(t.c) < 1e9, abs(t.f) < 1e9 else { return nil }
        x = shift(x, by: Int(t.c), to: step.width)
        y = shift(y, by: Int(t.f), to: step.height)
      }
    }
    return (Axis(rows: x), Axis(rows: y))
  }

  // MARK: - Kernel

  /// Fill per channel (one value repeats), in 0...255 pixel units.
  static func fillValues(_ fill: [Float], channels: Int) -> [Float] {
    (0..<channels).map { fill.isEmpty ? 0 : (fill.count == channels ? fill[$0] : fill[0]) }
  }

  /// The fast kernel: for each output row, the vertical taps are accumulated over the source
  /// columns the horizontal taps read (contiguous, vectorizes), then the horizontal taps run on
  /// that one row. `body(y, row)` receives output row y as `x.size · channels` floats (HWC), in
  /// 0...255 pixel units, fill included.
  static func forEachRow(_ image: Image, x: Axis, y: Axis, fill: [Float], _ body: (Int, UnsafeMutablePointer<Float>) -> Void) {
    let channels = image.channels
    let fills = fillValues(fill, channels: channels)
    let hasFill = fills.contains { $0 != 0 }
    let span = x.sourceSpan
    let spanLength = span.count * channels, rowLength = x.size * channels, sourceRowLength = image.width * channels
    let accumulator = UnsafeMutablePointer<Float>.allocate(capacity: max(spanLength, 1))
    let row = UnsafeMutablePointer<Float>.allocate(capacity: max(rowLength, 1))
    defer {
      accumulator.deallocate()
      row.deallocate()
    }
    image.pixels.withUnsafeBufferPointer { source in
      x.weights.withUnsafeBufferPointer { xWeights in
        guard let sourceBase = source.baseAddress else { return }
        for oy in 0..<y.size {
          let first = Int(y.start[oy]), taps = Int(y.count[oy]), w0 = Int(y.offset[oy])
          // Vertical: accumulator = Σ_k w_k · source row (first + k), over the read columns only.
          accumulator.update(repeating: 0, count: spanLength)
          for k in 0..<taps {
            let weight = y.weights[w0 + k]
            let sourceRow = sourceBase + (first + k) * sourceRowLength + span.lowerBound * channels
            for i in 0..<spanLength { accumulator[i] += Float(sourceRow[i]) * weight }
          }
          // Horizontal, on the one accumulated row.
          if channels == 3 {
            for ox in 0..<x.size {
              let start = Int(x.start[ox]) - span.lowerBound, n = Int(x.count[ox]), offset = Int(x.offset[ox])
              var r: Float = 0, g: Float = 0, b: Float = 0
              for k in 0..<n {
                let w = xWeights[offset + k]
                let p = accumulator + (start + k) * 3
                r += p[0] * w; g += p[1] * w; b += p[2] * w
              }
              row[ox * 3] = r; row[ox * 3 + 1] = g; row[ox * 3 + 2] = b
            }
          } else {
            for ox in 0..<x.size {
              let start = Int(x.start[ox]) - span.lowerBound, n = Int(x.count[ox]), offset = Int(x.offset[ox])
              for c in 0..<channels {
                var sum: Float = 0
                for k in 0..<n { sum += accumulator[(start + k) * channels + c] * xWeights[offset + k] }
                row[ox * channels + c] = sum
              }
            }
          }
          if hasFill {
            let rowCoverage = y.coverage[oy]
            for ox in 0..<x.size {
              let missing = 1 - rowCoverage * x.coverage[ox]
              if missing == 0 { continue }
              for c in 0..<channels { row[ox * channels + c] += fills[c] * missing }
            }
          }
          body(oy, row)
        }
      }
    }
  }

  /// uint8 rounding of a sample in pixel units: nearest, halves up, clamped to 0...255.
  @inline(__always) static func roundToUInt8(_ value: Float) -> UInt8 {
    UInt8(min(max(value + 0.5, 0), 255))
  }

  /// The resample as an 8-bit HWC image of `x.size` x `y.size`.
  public static func resampleUInt8(_ image: Image, x: Axis, y: Axis, fill: [Float]) -> Image {
    let channels = image.channels, rowLength = x.size * channels
    var output = Image(width: x.size, height: y.size, channels: channels)
    output.pixels.withUnsafeMutableBufferPointer { out in
      guard let base = out.baseAddress else { return }
      forEachRow(image, x: x, y: y, fill: fill) { oy, row in
        let destination = base + oy * rowLength
        for i in 0..<rowLength { destination[i] = roundToUInt8(row[i]) }
      }
    }
    return output
  }

  /// The resample as float32 (C,H,W), each value `pixel · scale[c] + bias[c]`.
  public static func resampleNormalized(_ image: Image, x: Axis, y: Axis, fill: [Float], output: UnsafeMutablePointer<Float>, scale: [Float], bias: [Float]) {
    let channels = image.channels, plane = x.size * y.size
    forEachRow(image, x: x, y: y, fill: fill) { oy, row in
      for c in 0..<channels {
        let destination = output + c * plane + oy * x.size
        let s = scale[c], b = bias[c]
        for ox in 0..<x.size { destination[ox] = row[ox * channels + c] * s + b }
      }
    }
  }

  /// The naive twin of `forEachRow`: every output pixel as the double sum of its taps, in double
  /// precision, returned as HWC values in pixel units (tests compare the two).
  public static func resampleNaive(_ image: Image, x: Axis, y: Axis, fill: [Float]) -> [Double] {
    let channels = image.channels
    let fills = fillValues(fill, channels: channels)
    var output = [Double](repeating: 0, count: x.size * y.size * channels)
    for oy in 0..<y.size {
      for ox in 0..<x.size {
        for c in 0..<channels {
          var sum = 0.0
          for i in 0..<Int(y.count[oy]) {
            for j in 0..<Int(x.count[ox]) {
              let pixel = image.pixels[((Int(y.start[oy]) + i) * image.width + Int(x.start[ox]) + j) * channels + c]
              sum += Double(y.weights[Int(y.offset[oy]) + i]) * Double(x.weights[Int(x.offset[ox]) + j]) * Double(pixel)
            }
          }
          sum += Double(fills[c]) * (1 - Double(y.coverage[oy]) * Double(x.coverage[ox]))
          output[(oy * x.size + ox) * channels + c] = sum
        }
      }
    }
    return output
  }
}
