import STNTensor
import XCTest
@testable import STNTrain

final class TensorImagesTests: XCTestCase {
  func testUndoesNormalizationAndClamps() {
    // (x·0.5 + 0.5)·255: -1 -> 0, 0 -> 127.5 -> 128, 1 -> 255, 3 -> clamped 255, -3 -> 0.
    let batch = Tensor(shape: [1, 1, 1, 5], data: [-1, 0, 1, 3, -3])
    let images = TensorImages.images(batch, mean: [0.5], std: [0.5])
    XCTAssertEqual(images.count, 1)
    XCTAssertEqual(images[0].pixels, [0, 128, 255, 255, 0])
  }

  func testInterleavesChannelsAndHonoursLimit() {
    let batch = Tensor(shape: [2, 3, 1, 2], data: [0, 1, 0.5, 0.5, 1, 0] + [0, 0, 0, 0, 0, 0])
    let images = TensorImages.images(batch, mean: [0], std: [1], limit: 1)
    XCTAssertEqual(images.count, 1)
    XCTAssertEqual(images[0].channels, 3)
    XCTAssertEqual(images[0].pixels, [0, 128, 255, 255, 128, 0], "CHW -> HWC")
  }
}
