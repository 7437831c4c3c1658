import STNImageIO
import STNTestSupport
import STNTensor
import STNWarp
import XCTest

@testable import STNPipeline

final class AreaResizeTests: XCTestCase {
  func testFastResizeMatchesNaiveTwin() {
    for (channels, w, h, tw, th) in [(3, 125, 94, 56, 41), (1, 64, 64, 16, 16), (3, 50, 37, 49, 20), (1, 7, 5, 3, 2)] {
      let image = TestImages.smooth(width: w, height: h, channels: channels, variant: w)
      let fast = AreaResize.resize(image, width: tw, height: th)
      let naive = AreaResize.resizeNaive(image, width: tw, height: th)
      XCTAssertEqual(fast.width, tw)
      XCTAssertEqual(fast.height, th)
      let worst = zip(fast.pixels, naive.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 99
      XCTAssertLessThanOrEqual(worst, 1, "\(channels)x\(w)x\(h) -> \(tw)x\(th)")
    }
  }
}
