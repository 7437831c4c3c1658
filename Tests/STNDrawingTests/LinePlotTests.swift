import XCTest
@testable import STNDrawing
import STNImageIO

final class LinePlotTests: XCTestCase {
  /// Rows and columns of the frame: the longest runs of axis-colored pixels.
  func frame(of image: Image) -> (left: Int, right: Int, top: Int, bottom: Int)? {
    let canvas = Canvas(image: image)
    var columns: [Int] = [], rows: [Int] = []
    for x in 0..<image.width {
      let run = (0..<image.height).filter { canvas.pixel(x: x, y: $0) == LinePlot.axisColor }.count
      if run > image.height / 2 { columns.append(x) }
    }
    for y in 0..<image.height {
      let run = (0..<image.width).filter { canvas.pixel(x: $0, y: y) == LinePlot.axisColor }.count
      if run > image.width / 2 { rows.append(y) }
    }
    guard let left = columns.first, let right = columns.last, let top = rows.first, let bottom = rows.last else { return nil }
    return (left, right, top, bottom)
  }

  func testTrainingCurvesDrawAxesCurvesAndLegend() throws {
    var plot = LinePlot(title: "Loss", xLabel: "epoch", yLabel: "cross-entropy", width: 640, height: 400)
    let epochs = (1...10).map(Double.init)
    plot.addSeries(name: "train", x: epochs, y: epochs.map { 2.3 * exp(-$0 / 3) + 0.2 }, color: [31, 119, 180])
    plot.addSeries(name: "validation", x: epochs, y: epochs.map { 2.3 * exp(-$0 / 3.5) + 0.3 }, color: [255, 127, 14])
    let image = plot.render()
    XCTAssertEqual(image.width, 640)
    XCTAssertEqual(image.height, 400)
    XCTAssertEqual(image.channels, 3)
    let box = try XCTUnwrap(frame(of: image))
    // Axes leave room for labels on the left and below, and span most of the image.
    XCTAssertGreaterThan(box.left, 20)
    XCTAssertLessThan(box.left, 80)
    XCTAssertGreaterThan(box.right, 600)
    XCTAssertGreaterThan(box.top, 20)
    XCTAssertLessThan(box.bottom, 400 - 25)
    XCTAssertGreaterThan(box.bottom - box.top, 250)
    let canvas = Canvas(image: image)
    // Both series colors appear inside the frame.
    var blue = 0, orange = 0
    for y in (box.top + 1)..<box.bottom {
      for x in (box.left + 1)..<box.right {
        let p = canvas.pixel(x: x, y: y)
        if p == [31, 119, 180] { blue += 1 }
        if p == [255, 127, 14] { orange += 1 }
      }
    }
    XCTAssertGreaterThan(blue, 200)
    XCTAssertGreaterThan(orange, 200)
    // Tick labels: dark text left of the y axis and below the x axis.
    let leftInk = (box.top..<box.bottom).contains { y in (0..<(box.left - 4)).contains { canvas.pixel(x: $0, y: y) == [0, 0, 0] } }
    let belowInk = ((box.bottom + 5)..<min(400, box.bottom + 20)).contains { y in
      (box.left..<box.right).contains { canvas.pixel(x: $0, y: y) == [0, 0, 0] }
    }
    XCTAssertTrue(leftInk)
    XCTAssertTrue(belowInk)
    // The curves fall from top-left to bottom-right, so the legend goes to the top right.
    let legendInk = ((box.top + 5)..<(box.top + 40)).contains { y in
      ((box.right - 120)..<box.right).contains { canvas.pixel(x: $0, y: y) == [0, 0, 0] }
    }
    XCTAssertTrue(legendInk)
  }

  func testNiceTicks() {
    let fixed = LinePlot.axis(values: [0.13, 0.87], fixed: 0...1, target: 6, integral: false)
    XCTAssertEqual(fixed.step, 0.2, accuracy: 1e-12)
    XCTAssertEqual(fixed.low, 0.0)
    XCTAssertEqual(fixed.high, 1.0)
    XCTAssertEqual(fixed.ticks.map { LinePlot.format($0, step: fixed.step) }, ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])
    // Fitted: 5% margin each side, ticks inside.
    let fitted = LinePlot.axis(values: [0.13, 0.87], fixed: nil, target: 6, integral: false)
    XCTAssertEqual(fitted.low, 0.093, accuracy: 1e-12)
    XCTAssertEqual(fitted.high, 0.907, accuracy: 1e-12)
    XCTAssertEqual(fitted.ticks.map { LinePlot.format($0, step: fitted.step) }, ["0.2", "0.4", "0.6", "0.8"])
    let epochs = LinePlot.axis(values: [1, 2, 3], fixed: nil, target: 8, integral: true)
    XCTAssertEqual(epochs.step, 1)
    XCTAssertEqual(epochs.ticks, [1, 2, 3])
    let big = LinePlot.axis(values: [1200, 9800], fixed: nil, target: 5, integral: false)
    XCTAssertEqual(big.ticks, [2000, 4000, 6000, 8000, 10000])  // range 770...10230
    let single = LinePlot.axis(values: [0.5], fixed: nil, target: 5, integral: false)
    XCTAssertTrue(single.low < 0.5 && single.high > 0.5 && !single.ticks.isEmpty)
    XCTAssertEqual(LinePlot.format(-0.0, step: 0.5), "0.0")
    XCTAssertEqual(LinePlot.niceNumber(0.037, round: true), 0.05, accuracy: 1e-15)
    XCTAssertEqual(LinePlot.niceNumber(7.2, round: true), 10)
  }

  func testAwkwardSeriesRenderWithoutCrashing() {
    var plot = LinePlot(title: "", xLabel: "", width: 300, height: 200)
    XCTAssertEqual(plot.render().width, 300)  // no series at all: "no data"
    plot.addSeries(name: "empty", x: [], y: [])
    plot.addSeries(name: "nan", x: [1, 2, 3], y: [.nan, .infinity, .nan])
    XCTAssertEqual(plot.render().height, 200)
    var single = LinePlot(title: "one point", xLabel: "epoch", width: 300, height: 200)
    single.addSeries(name: "acc", x: [1], y: [0.5], color: [214, 39, 40])
    single.addSeries(name: "gap", x: [1, 2, 3, 4], y: [1, .nan, 3, 4])
    let image = single.render()
    let canvas = Canvas(image: image)
    // The lone point is drawn as a marker.
    let red = (0..<200).contains { y in (0..<300).contains { canvas.pixel(x: $0, y: y) == [214, 39, 40] } }
    XCTAssertTrue(red)
    var mismatched = LinePlot(title: "t", xLabel: "x", width: 200, height: 120)
    mismatched.addSeries(name: "short", x: [1, 2, 3], y: [1, 2])
    XCTAssertEqual(mismatched.series[0].x.count, 2)
    mismatched.yRange = 0...1  // second point is clipped away, not drawn outside the frame
    _ = mismatched.render()
  }

  func testPlotSurvivesPNGRoundTrip() throws {
    var plot = LinePlot(title: "accuracy", xLabel: "epoch", width: 300, height: 180)
    plot.addSeries(name: "val", y: [0.2, 0.5, 0.7])
    let image = plot.render()
    let png = try ImageCodec.encodePNG(image)
    XCTAssertEqual(Array(png.prefix(4)), [0x89, 0x50, 0x4E, 0x47])
    XCTAssertEqual(try ImageCodec.decode(bytes: png, path: "plot.png", options: DecodeOptions(channels: 3)), image)
  }

  func testClipSegment() throws {
    let box = (left: 0.0, top: 0.0, right: 10.0, bottom: 10.0)
    let clipped = try XCTUnwrap(LinePlot.clipSegment((-5, 5), (15, 5), to: box))
    XCTAssertEqual(clipped.0.0, 0)
    XCTAssertEqual(clipped.1.0, 10)
    XCTAssertNil(LinePlot.clipSegment((-5, -5), (-1, 20), to: box))
  }

  func testPanelsTileSideBySide() {
    var loss = LinePlot(title: "loss", xLabel: "epoch", width: 320, height: 200)
    loss.addSeries(name: "train", y: [2, 1.2, 0.8, 0.6])
    var accuracy = LinePlot(title: "accuracy", xLabel: "epoch", width: 320, height: 200)
    accuracy.addSeries(name: "train", y: [0.4, 0.6, 0.7, 0.75])
    accuracy.addSeries(name: "val", y: [0.35, 0.55, 0.68, 0.7])
    accuracy.yRange = 0...1
    let panels = LinePlot.renderPanels([loss, accuracy], columns: 2)
    XCTAssertEqual(panels.width, 640)
    XCTAssertEqual(panels.height, 200)
    XCTAssertEqual(Array(panels.pixels[0..<(320 * 3)]), Array(loss.render().pixels[0..<(320 * 3)]))
    dumpForTheEye(panels, name: "panels")
    var big = LinePlot(title: "RTS Fashion-MNIST: ST-CNN", xLabel: "epoch", yLabel: "loss")
    let epochs = (1...10).map(Double.init)
    big.addSeries(name: "train loss", x: epochs, y: epochs.map { 1.9 * exp(-$0 / 2.5) + 0.35 })
    big.addSeries(name: "validation loss", x: epochs, y: epochs.map { 1.7 * exp(-$0 / 2.8) + 0.42 + 0.02 * sin($0) })
    big.addSeries(name: "with NaN gap", x: epochs, y: epochs.map { $0 == 6 ? .nan : 1.2 - 0.05 * $0 })
    dumpForTheEye(big.render(), name: "plot")
  }
}
