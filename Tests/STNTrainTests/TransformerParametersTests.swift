import STNImageIO
import STNTensor
import STNWarp
import XCTest
@testable import STNTrain

/// TensorBoard's view of each family's parameters: histogram tags and the TPS control points.
final class TransformerParametersTests: XCTestCase {
  func testHistogramsPerFamily() {
    let affine = Tensor(shape: [2, 2, 3], data: [1, 0, 0.1, 0, 1, 0.2, 0.9, 0.1, 0, 0, 1.1, 0])
    let affineTags = TransformerParameters.histograms(affine)
    XCTAssertEqual(affineTags.map(\.tag), (0..<6).map { "theta/\($0)" })
    XCTAssertEqual(affineTags[2].values, [0.1, 0])
    let projective = Tensor(shape: [1, 3, 3], data: [1, 0, 0, 0, 1, 0, 0.25, -0.5, 1])
    let projectiveTags = TransformerParameters.histograms(projective)
    XCTAssertEqual(projectiveTags.map(\.tag), ["homography/h11", "homography/h12", "homography/h13", "homography/h21", "homography/h22", "homography/h23", "homography/h31", "homography/h32"])
    XCTAssertEqual(projectiveTags[7].values, [-0.5])
    // TPS: displacements from the 2x2 grid (-1,-1) (1,-1) (-1,1) (1,1).
    let tps = Tensor(shape: [1, 4, 2], data: [-0.9, -1, 1, -0.8, -1, 1, 1, 1])
    let tpsTags = TransformerParameters.histograms(tps)
    XCTAssertEqual(tpsTags.map(\.tag), ["tps/dx", "tps/dy"])
    for (a, e) in zip(tpsTags[0].values + tpsTags[1].values, [0.1, 0, 0, 0, 0, 0.2, 0, 0] as [Float]) { XCTAssertEqual(a, e, accuracy: 1e-6) }
    XCTAssertTrue(TransformerParameters.histograms(Tensor(shape: [1, 3, 2])).isEmpty, "3 points are no square grid")
  }

  /// Crosses sit at the control points' source positions: the identity 2x2 grid marks the
  /// corners' pixel centres; other families draw nothing.
  func testControlPointsAreDrawnAtTheirSourcePositions() throws {
    let input = Image(width: 32, height: 32, channels: 1, pixels: [UInt8](repeating: 0, count: 32 * 32))
    // Normalized ±(1 - 1/32) are the centres of the corner pixels (align_corners=false).
    let e: Float = 1 - 1.0 / 32
    let points = Tensor(shape: [1, 4, 2], data: [-e, -e, e, -e, -e, e, e, e])
    let images = try XCTUnwrap(TransformerParameters.controlPointImages(points, inputs: [input]))
    XCTAssertEqual(images.count, 1)
    let picture = images[0]
    XCTAssertEqual([picture.width, picture.height, picture.channels], [128, 128, 3])
    func pixel(_ x: Int, _ y: Int) -> [UInt8] { Array(picture.pixels[((y * 128 + x) * 3)..<((y * 128 + x) * 3 + 3)]) }
    // Corner pixel (0, 0) enlarged 4x covers 0...3; its centre 1.5 is where the cross is.
    XCTAssertGreaterThan(pixel(1, 1)[0], 200)
    XCTAssertLessThan(pixel(1, 1)[2], 60)
    XCTAssertEqual(pixel(64, 40), [0, 0, 0], "nothing drawn away from the grid")
    XCTAssertNil(TransformerParameters.controlPointImages(Tensor(shape: [1, 2, 3]), inputs: [input]))
    XCTAssertNil(TransformerParameters.controlPointImages(Tensor(shape: [1, 3, 3]), inputs: [input]))
  }
}
