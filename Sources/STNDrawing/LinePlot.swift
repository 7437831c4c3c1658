import Foundation
import STNImageIO

// MARK: - Line plot

/// A line chart rendered to an `Image` (training curves: loss, accuracy, learning rate),
/// with axes, "nice" tick labels, grid lines, a legend and a title; no fonts or libraries needed.
///
/// Robust to awkward data: points with a NaN/infinite coordinate are skipped and break the line
/// there; an empty plot shows "no data"; a single point (or constant series) gets a padded range
/// and a marker; x values that are all integers (epochs) get integer ticks.
public struct LinePlot {
  /// One named curve.
  public struct Series {
    public var name: String
    public var x: [Double]
    public var y: [Double]
    /// RGB color.
    public var color: [UInt8]
  }

  public var title: String
  public var xLabel: String
  /// Drawn above the y axis (horizontal text).
  public var yLabel: String
  public var width: Int
  public var height: Int
  public private(set) var series: [Series] = []
  /// Fixed y range (e.g. 0...1 for accuracy); nil fits the data. Points outside are clipped.
  public var yRange: ClosedRange<Double>?
  /// Fixed x range; nil fits the data.
  public var xRange: ClosedRange<Double>?

  /// Distinct colors given to series added without one (RGB).
  public static let palette: [[UInt8]] = [
    [31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189], [140, 86, 75],
    [227, 119, 194], [127, 127, 127],
  ]

  public init(title: String, xLabel: String, yLabel: String = "", width: Int = 800, height: Int = 500) {
    self.title = title
    self.xLabel = xLabel
    self.yLabel = yLabel
    self.width = max(width, 120)
    self.height = max(height, 90)
  }

  /// Adds a curve through (x[i], y[i]); extra entries of the longer array are ignored.
  /// `color` (RGB) defaults to the next palette color.
  public mutating func addSeries(name: String, x: [Double], y: [Double], color: [UInt8]? = nil) {
    let n = min(x.count, y.count)
    let chosen = color ?? LinePlot.palette[series.count % LinePlot.palette.count]
    series.append(Series(name: name, x: Array(x.prefix(n)), y: Array(y.prefix(n)), color: chosen))
  }

  /// Adds a curve with x = 1, 2, 3, ... (e.g. one value per epoch).
  public mutating func addSeries(name: String, y: [Double], color: [UInt8]? = nil) {
    addSeries(name: name, x: (0..<y.count).map { Double($0 + 1) }, y: y, color: color)
  }

  // MARK: - Rendering

  /// Plot colors and spacing.
  static let ink: [UInt8] = [0, 0, 0]
  static let axisColor: [UInt8] = [60, 60, 60]
  static let gridColor: [UInt8] = [225, 225, 225]
  static let padding = 12
  static let tickLength = 4

  /// The chart as an RGB image of `width` x `height`.
  public func render() -> Image {
    var canvas = Canvas(width: width, height: height, channels: 3)
    let finite = series.flatMap { s in zip(s.x, s.y).filter { $0.0.isFinite && $0.1.isFinite } }
    let xs = finite.map { $0.0 }, ys = finite.map { $0.1 }
    let integralX = !xs.isEmpty && xs.allSatisfy { $0 == $0.rounded() && abs($0) < 1e15 }

    // Title (scale 2) on top, y label under it.
    let titleSize = Canvas.textSize(title, scale: 2)
    var top = LinePlot.padding
    if !title.isEmpty {
      canvas.drawText(title, x: (width - titleSize.width) / 2, y: top, color: LinePlot.ink, scale: 2)
      top += titleSize.height + 8
    }
    if !yLabel.isEmpty { top += Canvas.textSize(yLabel, scale: 1).height + 6 }
    let bottomText = 9 + (xLabel.isEmpty ? 0 : 9 + 6)
    let plotBottom = height - LinePlot.padding - bottomText - LinePlot.tickLength - 4
    let plotTop = top
    let roughPlotHeight = max(1, plotBottom - plotTop)

    // Y ticks first: their label width decides the left margin.
    let yAxis = LinePlot.axis(values: ys, fixed: yRange, target: max(4, min(10, roughPlotHeight / 40)), integral: false)
    let yLabels = yAxis.ticks.map { LinePlot.format($0, step: yAxis.step) }
    let yLabelWidth = yLabels.map { Canvas.textSize($0, scale: 1).width }.max() ?? 0
    let plotLeft = LinePlot.padding + yLabelWidth + LinePlot.tickLength + 4
    let plotRight = width - LinePlot.padding - 8
    let plotWidth = max(1, plotRight - plotLeft), plotHeight = roughPlotHeight
    let xAxis = LinePlot.axis(values: xs, fixed: xRange, target: max(3, min(10, plotWidth / 80)), integral: integralX)

    let mapX = { (x: Double) -> Double in
      Double(plotLeft) + (x - xAxis.low) / (xAxis.high - xAxis.low) * Double(plotWidth)
    }
    let mapY = { (y: Double) -> Double in
      Double(plotBottom) - (y - yAxis.low) / (yAxis.high - yAxis.low) * Double(plotHeight)
    }

    // Grid lines, ticks and tick labels.
    for (tick, label) in zip(yAxis.ticks, yLabels) {
      let py = Int(mapY(tick).rounded())
      canvas.fillRect(x: plotLeft + 1, y: py, width: plotWidth - 1, height: 1, color: LinePlot.gridColor)
      canvas.fillRect(x: plotLeft - LinePlot.tickLength, y: py, width: LinePlot.tickLength, height: 1, color: LinePlot.axisColor)
      let size = Canvas.textSize(label, scale: 1)
      canvas.drawText(label, x: plotLeft - LinePlot.tickLength - 3 - size.width, y: py - 3, color: LinePlot.ink)
    }
    for tick in xAxis.ticks {
      let px = Int(mapX(tick).rounded())
      canvas.fillRect(x: px, y: plotTop, width: 1, height: plotHeight, color: LinePlot.gridColor)
      canvas.fillRect(x: px, y: plotBottom + 1, width: 1, height: LinePlot.tickLength, color: LinePlot.axisColor)
      let label = LinePlot.format(tick, step: xAxis.step)
      let size = Canvas.textSize(label, scale: 1)
      canvas.drawText(label, x: px - size.width / 2, y: plotBottom + LinePlot.tickLength + 4, color: LinePlot.ink)
    }
    // Frame around the plot area (left and bottom are the axes).
    canvas.strokeRect(x: plotLeft, y: plotTop, width: plotWidth + 1, height: plotHeight + 1, color: LinePlot.axisColor)

    if !yLabel.isEmpty {
      canvas.drawText(yLabel, x: max(LinePlot.padding, plotLeft - yLabelWidth), y: plotTop - 9 - 6, color: LinePlot.ink)
    }
    if !xLabel.isEmpty {
      let size = Canvas.textSize(xLabel, scale: 1)
      canvas.drawText(xLabel, x: plotLeft + (plotWidth - size.width) / 2, y: plotBottom + LinePlot.tickLength + 4 + 9 + 6,
                      color: LinePlot.ink)
    }

    // Curves, clipped to the plot area.
    let clip = (left: Double(plotLeft) + 1, top: Double(plotTop) + 1, right: Double(plotLeft + plotWidth) - 1,
                bottom: Double(plotBottom) - 1)
    var pixelPoints: [(Double, Double)] = []
    for s in series {
      let points = zip(s.x, s.y).map { (x, y) -> (Double, Double)? in
        x.isFinite && y.isFinite ? (mapX(x), mapY(y)) : nil
      }
      let showMarkers = points.lazy.compactMap { $0 }.count <= 60
      for i in points.indices {
        guard let p = points[i] else { continue }
        pixelPoints.append(p)
        if i + 1 < points.count, let q = points[i + 1],
           let segment = LinePlot.clipSegment(p, q, to: clip) {
          canvas.drawLine(x0: segment.0.0, y0: segment.0.1, x1: segment.1.0, y1: segment.1.1, color: s.color,
                          thickness: 2, antialiased: true)
          // Sample the segment so the legend avoids lines, not just points.
          let steps = Int((abs(q.0 - p.0) + abs(q.1 - p.1)) / 6)
          if steps > 1 {
            for k in 1..<steps {
              let t = Double(k) / Double(steps)
              pixelPoints.append((p.0 + (q.0 - p.0) * t, p.1 + (q.1 - p.1) * t))
            }
          }
        }
        let isolated = (i == 0 || points[i - 1] == nil) && (i + 1 == points.count || points[i + 1] == nil)
        // Points on the frame itself (a fixed range's limits) still get their marker.
        let inside = p.0 >= clip.left - 1.5 && p.0 <= clip.right + 1.5 && p.1 >= clip.top - 1.5 && p.1 <= clip.bottom + 1.5
        if inside && (showMarkers || isolated) {
          canvas.fillCircle(x: p.0, y: p.1, radius: 3, color: s.color)
        }
      }
    }

    if finite.isEmpty {
      let message = "no data"
      let size = Canvas.textSize(message, scale: 2)
      canvas.drawText(message, x: plotLeft + (plotWidth - size.width) / 2, y: plotTop + (plotHeight - size.height) / 2,
                      color: [150, 150, 150], scale: 2)
    }
    drawLegend(on: &canvas, plotArea: (plotLeft, plotTop, plotWidth, plotHeight), avoiding: pixelPoints)
    return canvas.image
  }

  /// Legend box in whichever plot corner covers the fewest curve pixels.
  func drawLegend(on canvas: inout Canvas, plotArea: (x: Int, y: Int, width: Int, height: Int),
                  avoiding points: [(Double, Double)]) {
    let named = series.filter { !$0.name.isEmpty }
    guard !named.isEmpty else { return }
    let nameWidth = named.map { Canvas.textSize($0.name, scale: 1).width }.max() ?? 0
    let rowHeight = 14, swatch = 20
    let boxWidth = 8 + swatch + 6 + nameWidth + 8
    let boxHeight = 6 + named.count * rowHeight
    let margin = 8
    let corners = [
      (plotArea.x + plotArea.width - margin - boxWidth, plotArea.y + margin),  // top right
      (plotArea.x + plotArea.width - margin - boxWidth, plotArea.y + plotArea.height - margin - boxHeight),  // bottom right
      (plotArea.x + margin, plotArea.y + margin),  // top left
      (plotArea.x + margin, plotArea.y + plotArea.height - margin - boxHeight),  // bottom left
    ]
    func overlap(_ corner: (Int, Int)) -> Int {
      let x0 = Double(corner.0 - 3), y0 = Double(corner.1 - 3)
      let x1 = Double(corner.0 + boxWidth + 3), y1 = Double(corner.1 + boxHeight + 3)
      return points.reduce(0) { $0 + ($1.0 >= x0 && $1.0 <= x1 && $1.1 >= y0 && $1.1 <= y1 ? 1 : 0) }
    }
    // First corner with the least overlap; order above is the preference on ties.
    var best = corners[0], bestOverlap = overlap(corners[0])
    for corner in corners.dropFirst() {
      let count = overlap(corner)
      if count < bestOverlap { best = corner; bestOverlap = count }
    }
    canvas.fillRect(x: best.0, y: best.1, width: boxWidth, height: boxHeight, color: [255, 255, 255])
    canvas.strokeRect(x: best.0, y: best.1, width: boxWidth, height: boxHeight, color: [170, 170, 170])
    for (row, s) in named.enumerated() {
      let centreY = best.1 + 4 + row * rowHeight + 5
      canvas.drawLine(x0: Double(best.0 + 8), y0: Double(centreY), x1: Double(best.0 + 8 + swatch), y1: Double(centreY),
                      color: s.color, thickness: 2, antialiased: true)
      canvas.drawText(s.name, x: best.0 + 8 + swatch + 6, y: centreY - 4, color: LinePlot.ink)
    }
  }

  /// Several plots tiled `columns` per row (e.g. loss beside accuracy) into one image.
  public static func renderPanels(_ plots: [LinePlot], columns: Int = 2) -> Image {
    Canvas.grid(images: plots.map { $0.render() }, labels: [], columns: columns, cellScale: 1, padding: 0, channels: 3)
  }

  // MARK: - Axes and ticks

  /// An axis range expanded to nice tick values.
  struct Axis {
    var low: Double
    var high: Double
    var step: Double
    var ticks: [Double]
  }

  /// Ticks for `values` (finite) or a fixed range: about `target` ticks at 1, 2 or 5 x 10^k
  /// spacing (whole numbers only when `integral`). A fitted range gets a 5% margin each side so
  /// no point sits on the frame (matplotlib's default); a fixed range is used as given.
  static func axis(values: [Double], fixed: ClosedRange<Double>?, target: Int, integral: Bool) -> Axis {
    var low: Double, high: Double
    let isFixed: Bool
    if let fixed, fixed.lowerBound.isFinite, fixed.upperBound.isFinite, fixed.upperBound > fixed.lowerBound {
      (low, high, isFixed) = (fixed.lowerBound, fixed.upperBound, true)
    } else if let minimum = values.min(), let maximum = values.max() {
      (low, high, isFixed) = (minimum, maximum, false)
    } else {
      (low, high, isFixed) = (0, 1, true)
    }
    if !isFixed {
      if high - low <= max(abs(high), abs(low)) * 1e-12 {
        // A single value: pad around it so it sits mid-axis.
        let pad = low == 0 ? 1 : abs(low) * 0.1
        (low, high) = (low - pad, high + pad)
      } else {
        let margin = (high - low) * 0.05
        (low, high) = (low - margin, high + margin)
      }
    }
    // Heckbert: round the span up to a nice number first, then pick a nice step within it.
    let span = niceNumber(high - low, round: false)
    var step = niceNumber(span / Double(max(1, target - 1)), round: true)
    if integral {
      // Few whole numbers (epochs 1...8 on a small panel): label every one of them.
      step = (high - low) <= Double(2 * target) ? 1 : max(step, 1)
    }
    var ticks: [Double] = []
    let first = (low / step - 1e-9).rounded(.up)
    var k = 0.0
    while ticks.count < 100 {
      let tick = (first + k) * step
      if tick > high + step * 1e-9 { break }
      ticks.append(abs(tick) < step * 1e-9 ? 0 : tick)
      k += 1
    }
    return Axis(low: low, high: high, step: step, ticks: ticks)
  }

  /// The "nice" number (1, 2, 5 or 10 times a power of ten) nearest to (`round`) or at least
  /// (`!round`) `value`: Heckbert's tick-spacing rule from Graphics Gems.
  static func niceNumber(_ value: Double, round: Bool) -> Double {
    guard value > 0, value.isFinite else { return 1 }
    let exponent = (log10(value)).rounded(.down)
    let power = pow(10, exponent)
    let fraction = value / power
    let nice: Double
    if round {
      nice = fraction < 1.5 ? 1 : fraction < 3 ? 2 : fraction < 7 ? 5 : 10
    } else {
      nice = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10
    }
    return nice * power
  }

  /// A tick label with just enough decimals for `step` (scientific for huge or tiny values).
  static func format(_ value: Double, step: Double) -> String {
    let value = abs(value) < abs(step) * 1e-6 ? 0 : value  // never print "-0.0"
    let magnitude = abs(value)
    if magnitude >= 1e7 || (step < 1e-4 && magnitude != 0) {
      return String(format: "%.2e", value)
    }
    let decimals = max(0, min(6, Int((-log10(step) - 1e-9).rounded(.up))))
    return String(format: "%.\(decimals)f", value)
  }

  /// Liang-Barsky clipping of the segment p-q to a rectangle; nil when wholly outside.
  static func clipSegment(_ p: (Double, Double), _ q: (Double, Double),
                          to box: (left: Double, top: Double, right: Double, bottom: Double))
    -> ((Double, Double), (Double, Double))? {
    let dx = q.0 - p.0, dy = q.1 - p.1
    var t0 = 0.0, t1 = 1.0
    for (denominator, numerator) in [(-dx, p.0 - box.left), (dx, box.right - p.0), (-dy, p.1 - box.top), (dy, box.bottom - p.1)] {
      if denominator == 0 {
        if numerator < 0 { return nil }
      } else {
        let t = numerator / denominator
        if denominator < 0 { t0 = max(t0, t) } else { t1 = min(t1, t) }
        if t0 > t1 { return nil }
      }
    }
    return ((p.0 + t0 * dx, p.1 + t0 * dy), (p.0 + t1 * dx, p.1 + t1 * dy))
  }
}
