import STNImageIO
import STNTestSupport
import STNTensor
import STNWarp
import XCTest

@testable import STNPipeline

final class BoxHalveTests: XCTestCase {
  func testHalveMatchesNaiveTwinOnEveryAxisChoice() {
    for (channels, w, h) in [(3, 17, 9), (1, 16, 10), (3, 1, 5), (1, 7, 1)] {
      let image = TestImages.smooth(width: w, height: h, channels: channels, variant: w + h)
      for (x, y) in [(true, true), (true, false), (false, true)] {
        XCTAssertEqual(BoxHalve.halve(image, x: x, y: y), BoxHalve.halveNaive(image, x: x, y: y), "\(channels)x\(w)x\(h) x:\(x) y:\(y)")
      }
    }
  }

  func testHalveAveragesPairs() {
    let image = Image(width: 3, height: 2, channels: 1, pixels: [0, 10, 20, 30, 41, 50])
    XCTAssertEqual(BoxHalve.halve(image, x: true, y: true).pixels, [20, 35])
    XCTAssertEqual(BoxHalve.halve(image, x: true, y: false).pixels, [5, 20, 36, 50])
    XCTAssertEqual(BoxHalve.halve(image, x: false, y: true).pixels, [15, 26, 35])
  }
}
