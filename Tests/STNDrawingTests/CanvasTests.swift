import Foundation
import XCTest
@testable import STNDrawing
import STNImageIO

/// Writes `image` as `<name>.png` when STN_CANVAS_DUMP names a folder, for looking at
/// drawings by eye (legibility is not something a pixel assertion can judge).
func dumpForTheEye(_ image: Image, name: String) {
  guard let folder = ProcessInfo.processInfo.environment["STN_CANVAS_DUMP"] else { return }
  try? ImageCodec.write(image, to: (folder as NSString).appendingPathComponent(name + ".png"))
}

final class CanvasTests: XCTestCase {
  // MARK: - Fill and pixels

  func testBackgroundAndFillRect() {
    var canvas = Canvas(width: 7, height: 5, channels: 3, background: [10, 20, 30])
    XCTAssertEqual(canvas.pixel(x: 6, y: 4), [10, 20, 30])
    canvas.fillRect(x: 2, y: 1, width: 3, height: 2, color: [200, 100, 50])
    for y in 0..<5 {
      for x in 0..<7 {
        let inside = (2..<5).contains(x) && (1..<3).contains(y)
        XCTAssertEqual(canvas.pixel(x: x, y: y), inside ? [200, 100, 50] : [10, 20, 30], "(\(x),\(y))")
      }
    }
  }

  func testGrayCanvasConvertsRGBColorToLuma() {
    var canvas = Canvas(width: 2, height: 1, channels: 1, background: [0])
    canvas.fillRect(x: 0, y: 0, width: 1, height: 1, color: [255, 0, 0])
    // 0.299 * 255 = 76.2
    XCTAssertEqual(canvas.pixel(x: 0, y: 0), [76])
    XCTAssertEqual(canvas.pixel(x: 1, y: 0), [0])
  }

  func testFillRectClipsAtEveryEdge() {
    var canvas = Canvas(width: 4, height: 4, channels: 1, background: [0])
    canvas.fillRect(x: -10, y: -10, width: 12, height: 11, color: [9])
    canvas.fillRect(x: 3, y: 3, width: 100, height: 100, color: [7])
    canvas.fillRect(x: 100, y: -100, width: 5, height: 5, color: [1])
    canvas.fillRect(x: Int.max - 2, y: 0, width: 5, height: 5, color: [1])
    XCTAssertEqual(canvas.image.pixels, [9, 9, 0, 0,
                                         0, 0, 0, 0,
                                         0, 0, 0, 0,
                                         0, 0, 0, 7])
  }

  // MARK: - Lines

  func testHorizontalAndVerticalLinesAreCrisp() {
    var canvas = Canvas(width: 9, height: 9, channels: 1, background: [255])
    canvas.drawLine(x0: 1, y0: 4, x1: 7, y1: 4, color: [0])
    canvas.drawLine(x0: 2.0, y0: 0.0, x1: 2.0, y1: 8.0, color: [0], thickness: 1, antialiased: true)
    for x in 0..<9 { XCTAssertEqual(canvas.pixel(x: x, y: 4), x == 0 || x == 8 ? [255] : [0], "x=\(x)") }
    for y in 0..<9 { XCTAssertEqual(canvas.pixel(x: 2, y: y), [0]) }
    XCTAssertEqual(canvas.pixel(x: 3, y: 3), [255])
    XCTAssertEqual(canvas.pixel(x: 1, y: 3), [255])
  }

  func testDiagonalLineHasNoGapsAndThicknessWidens() {
    var thin = Canvas(width: 20, height: 20, channels: 1, background: [0])
    thin.drawLine(x0: 0, y0: 0, x1: 19, y1: 6, color: [255])
    for x in 0..<20 {
      let column = (0..<20).map { thin.pixel(x: x, y: $0)[0] }
      XCTAssertTrue(column.contains(255), "column \(x) has no line pixel")
    }
    var thick = Canvas(width: 20, height: 20, channels: 1, background: [0])
    thick.drawLine(x0: 2, y0: 10, x1: 17, y1: 10, color: [255], thickness: 5)
    XCTAssertEqual((6...14).map { thick.pixel(x: 10, y: $0)[0] }, [0, 0, 255, 255, 255, 255, 255, 0, 0])
  }

  func testLinesFarOutsideOrNonFiniteDoNotCrash() {
    var canvas = Canvas(width: 5, height: 5, channels: 3)
    canvas.drawLine(x0: -1e6, y0: -1e6, x1: -2e6, y1: 3, color: [0, 0, 0], thickness: 3)
    canvas.drawLine(x0: .nan, y0: 0, x1: 4, y1: 4, color: [0, 0, 0])
    canvas.drawLine(x0: -50, y0: 2, x1: 50, y1: 2, color: [0, 0, 0])
    XCTAssertEqual(canvas.pixel(x: 0, y: 2), [0, 0, 0])
    XCTAssertEqual(canvas.pixel(x: 4, y: 2), [0, 0, 0])
    XCTAssertEqual(canvas.pixel(x: 0, y: 0), [255, 255, 255])
  }

  // MARK: - Images

  func testDrawGrayImageOnRGBCanvasClipped() {
    var canvas = Canvas(width: 4, height: 3, channels: 3, background: [0, 0, 0])
    let gray = Image(width: 3, height: 2, channels: 1, pixels: [1, 2, 3, 4, 5, 6])
    canvas.draw(image: gray, x: 2, y: 2)
    XCTAssertEqual(canvas.pixel(x: 2, y: 2), [1, 1, 1])
    XCTAssertEqual(canvas.pixel(x: 3, y: 2), [2, 2, 2])
    XCTAssertEqual(canvas.pixel(x: 1, y: 2), [0, 0, 0])
    canvas.draw(image: gray, x: -2, y: -1)
    XCTAssertEqual(canvas.pixel(x: 0, y: 0), [6, 6, 6])
    canvas.draw(image: gray, x: 100, y: 100)
  }

  func testDrawRGBImageOnGrayCanvasUsesLuma() {
    var canvas = Canvas(width: 2, height: 1, channels: 1, background: [0])
    canvas.draw(image: Image(width: 2, height: 1, channels: 3, pixels: [0, 255, 0, 0, 0, 255]), x: 0, y: 0)
    XCTAssertEqual(canvas.image.pixels, [150, 29])
  }

  func testUpscaledNearestRepeatsPixels() {
    let image = Image(width: 2, height: 1, channels: 1, pixels: [10, 20])
    let big = image.upscaledNearest(factor: 3)
    XCTAssertEqual(big.width, 6)
    XCTAssertEqual(big.height, 3)
    XCTAssertEqual(big.pixels, [10, 10, 10, 20, 20, 20, 10, 10, 10, 20, 20, 20, 10, 10, 10, 20, 20, 20])
    XCTAssertEqual(image.upscaledNearest(factor: 1), image)
    // Different factors per direction: a 1-pixel-high strip made 3 high, columns doubled.
    let strip = Image(width: 2, height: 1, channels: 3, pixels: [1, 2, 3, 4, 5, 6])
    let tall = strip.upscaledNearest(horizontal: 2, vertical: 3)
    XCTAssertEqual([tall.width, tall.height], [4, 3])
    XCTAssertEqual(tall.pixels, Array(repeating: [1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6], count: 3).joined().map { $0 })
    XCTAssertEqual(strip.upscaledNearest(horizontal: 1, vertical: 2).pixels, [1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6])
  }

  // MARK: - Text

  func testTextSize() {
    XCTAssertEqual(Canvas.textSize("", scale: 1).width, 0)
    XCTAssertEqual(Canvas.textSize("A", scale: 1).width, 5)
    XCTAssertEqual(Canvas.textSize("A", scale: 1).height, 9)
    XCTAssertEqual(Canvas.textSize("AB", scale: 2).width, 22)
    XCTAssertEqual(Canvas.textSize("AB\nC", scale: 1).height, 19)
    XCTAssertEqual(Canvas.textSize("A\nBCD", scale: 1).width, 17)
  }

  func testTextDrawsInsideItsBoxOnly() {
    var canvas = Canvas(width: 60, height: 40, channels: 1, background: [255])
    canvas.drawText("Hg1\nx", x: 10, y: 5, color: [0], scale: 1)
    let size = Canvas.textSize("Hg1\nx", scale: 1)
    var inside = 0
    for y in 0..<40 {
      for x in 0..<60 where canvas.pixel(x: x, y: y) == [0] {
        XCTAssertTrue(x >= 10 && x < 10 + size.width && y >= 5 && y < 5 + size.height, "ink at (\(x),\(y))")
        inside += 1
      }
    }
    XCTAssertGreaterThan(inside, 30)
    // 'H' has a full left stem: rows 0...6 of column 0.
    for row in 0..<7 { XCTAssertEqual(canvas.pixel(x: 10, y: 5 + row), [0]) }
    // 'g' descender reaches row 8; second line 'x' starts 10 rows lower.
    XCTAssertEqual(canvas.pixel(x: 16 + 1, y: 5 + 8), [0])
    XCTAssertEqual(canvas.pixel(x: 10, y: 15 + 2), [0])
  }

  func testScaledTextMatchesGlyphBitmap() {
    var canvas = Canvas(width: 12, height: 20, channels: 1, background: [0])
    canvas.drawText("T", x: 1, y: 1, color: [255], scale: 2)
    for row in 0..<BitmapFont.glyphHeight {
      for column in 0..<BitmapFont.glyphWidth {
        let expected: [UInt8] = BitmapFont.isSet("T", column: column, row: row) ? [255] : [0]
        for dy in 0..<2 {
          for dx in 0..<2 {
            XCTAssertEqual(canvas.pixel(x: 1 + column * 2 + dx, y: 1 + row * 2 + dy), expected)
          }
        }
      }
    }
  }

  func testTextClippedAtEdgesAndUnknownCharactersBoxed() {
    var canvas = Canvas(width: 8, height: 8, channels: 3)
    canvas.drawText("WWW\nWWW", x: -7, y: -4, color: [255, 0, 0], scale: 3)
    canvas.drawText("long text off the right edge", x: 5, y: 5, color: [0, 0, 255])
    var boxed = Canvas(width: 7, height: 9, channels: 1, background: [0])
    boxed.drawText("θ", x: 1, y: 1, color: [255])
    // The box glyph: top row fully inked, interior empty.
    XCTAssertEqual((1...5).map { boxed.pixel(x: $0, y: 1)[0] }, [255, 255, 255, 255, 255])
    XCTAssertEqual(boxed.pixel(x: 3, y: 4), [0])
  }

  func testFontCoversPrintableASCIIWithDistinctGlyphs() {
    var seen: [[UInt8]: Character] = [:]
    for code in 33...126 {
      let character = Character(UnicodeScalar(UInt8(code)))
      let rows = BitmapFont.rows(for: character)
      XCTAssertEqual(rows.count, BitmapFont.glyphHeight)
      XCTAssertTrue(rows.contains { $0 != 0 }, "'\(character)' is blank")
      if let other = seen[rows] { XCTFail("'\(character)' looks like '\(other)'") }
      seen[rows] = character
    }
    XCTAssertEqual(BitmapFont.rows(for: " "), [UInt8](repeating: 0, count: BitmapFont.glyphHeight))
  }

  // MARK: - Grid

  func testGridLayoutAndLabels() {
    let white = Image(width: 2, height: 2, channels: 1, repeating: 200)
    let red = Image(width: 2, height: 1, channels: 3, pixels: [255, 0, 0, 255, 0, 0])
    let sheet = Canvas.grid(images: [white, red, white], labels: ["a", "b"], columns: 2, cellScale: 3, padding: 4)
    // Cell: 6 px wide (image 6, label 5), 6 + 3 + 9 tall; two columns, two rows.
    XCTAssertEqual(sheet.channels, 3)
    XCTAssertEqual(sheet.width, 2 * 6 + 3 * 4)
    XCTAssertEqual(sheet.height, 2 * 18 + 3 * 4)
    let canvas = Canvas(image: sheet)
    XCTAssertEqual(canvas.pixel(x: 4, y: 4), [200, 200, 200])
    XCTAssertEqual(canvas.pixel(x: 9, y: 9), [200, 200, 200])
    XCTAssertEqual(canvas.pixel(x: 3, y: 4), [255, 255, 255])
    // The red 6x3 image is centred vertically in its 6-high image area: rows 1...3 of the cell.
    XCTAssertEqual(canvas.pixel(x: 14, y: 4 + 0), [255, 255, 255])
    XCTAssertEqual(canvas.pixel(x: 14, y: 4 + 1), [255, 0, 0])
    XCTAssertEqual(canvas.pixel(x: 19, y: 4 + 3), [255, 0, 0])
    XCTAssertEqual(canvas.pixel(x: 14, y: 4 + 4), [255, 255, 255])
    // Label "a" is drawn below the first image.
    let labelInk = (0..<9).flatMap { dy in (0..<6).map { dx in canvas.pixel(x: 4 + dx, y: 13 + dy) } }
    XCTAssertTrue(labelInk.contains([0, 0, 0]))
    // Third cell has no label: its label area stays white.
    let empty = (0..<9).flatMap { dy in (0..<6).map { dx in canvas.pixel(x: 4 + dx, y: 4 + 18 + 4 + 9 + dy) } }
    XCTAssertFalse(empty.contains([0, 0, 0]))
    dumpForTheEye(sheet, name: "grid")
  }

  func testGridOfNothingIsASmallBlankImage() {
    let sheet = Canvas.grid(images: [], labels: [], columns: 3)
    XCTAssertGreaterThan(sheet.width, 0)
    XCTAssertGreaterThan(sheet.height, 0)
  }

  func testTableHasColumnTitlesAndPerColumnWidths() {
    let small = Image(width: 2, height: 2, channels: 1, repeating: 100)
    let wide = Image(width: 5, height: 1, channels: 1, repeating: 50)
    let sheet = Canvas.table(rows: [[small, wide], [small]], columnTitles: ["in", "out"],
                             cellLabels: [["", "pred 3"], ["x"]], cellScale: 2, padding: 2)
    // Column 0: max(4, "in" 11, "x" 5) = 11; column 1: max(10, "out" 17, "pred 3" 35) = 35.
    XCTAssertEqual(sheet.width, 11 + 35 + 3 * 2)
    // Header 9 + 2, row 0: 4 + 3 + 9, row 1: 4 + 3 + 9, pads 3 * 2.
    XCTAssertEqual(sheet.height, 11 + 16 + 16 + 6)
    let canvas = Canvas(image: sheet)
    // Title "in" centred over column 0, ink in the header band.
    XCTAssertTrue((2..<11).contains { y in (2..<13).contains { canvas.pixel(x: $0, y: y) == [0] } })
    // Row 0, column 0 image (4x4 at x 2 + (11-4)/2 = 5, y 13).
    XCTAssertEqual(canvas.pixel(x: 5, y: 13), [100])
    XCTAssertEqual(canvas.pixel(x: 8, y: 16), [100])
    XCTAssertEqual(canvas.pixel(x: 9, y: 16), [255])
    // Row 0, column 1 image (10x2 centred in 4 rows: y 14...15, x 15 + (35-10)/2 = 27).
    XCTAssertEqual(canvas.pixel(x: 27, y: 14), [50])
    XCTAssertEqual(canvas.pixel(x: 36, y: 15), [50])
    XCTAssertEqual(canvas.pixel(x: 27, y: 13), [255])
    XCTAssertGreaterThan(Canvas.table(rows: []).width, 0)
    // A digit-sized example for the eye (STN_CANVAS_DUMP).
    let digit = Image(width: 28, height: 28, channels: 1,
                      pixels: (0..<784).map { i in UInt8((abs(i % 28 - 14) + abs(i / 28 - 14)) < 9 ? 230 : 10) })
    let rgb = Image(width: 42, height: 42, channels: 3, pixels: (0..<(42 * 42 * 3)).map { UInt8(($0 * 7) % 256) })
    dumpForTheEye(Canvas.table(rows: [[digit, rgb, digit], [digit, rgb, digit]], columnTitles: ["input", "transformed", "rectified"],
                            cellLabels: [["", "", "pred: Sneaker"], ["", "", "pred: Bag"]], cellScale: 3, padding: 6,
                            title: "stn export: 2 samples"), name: "table")
  }

  func testTextSampleForTheEye() {
    let sample = "The quick brown fox jumps over the lazy dog.\nTHE QUICK BROWN FOX JUMPS OVER THE LAZY DOG!\n0123456789 +-*/=<>()[]{} ,.;:'\"`~^_|\\ @#$%&?\nepoch 3/10 loss=0.4321 acc=85.3% theta_0"
    let size = Canvas.textSize(sample, scale: 1)
    var canvas = Canvas(width: size.width * 2 + 20, height: size.height * 3 + 30, channels: 3)
    canvas.drawText(sample, x: 5, y: 5, color: [0, 0, 0])
    canvas.drawText(sample, x: 5, y: size.height + 15, color: [31, 119, 180], scale: 2)
    XCTAssertEqual(canvas.pixel(x: 5, y: 5), [0, 0, 0])
    dumpForTheEye(canvas.image, name: "text")
  }
}
