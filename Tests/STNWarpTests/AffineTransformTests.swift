import XCTest
import STNTensor
@testable import STNWarp

final class AffineTransformTests: XCTestCase {
  func assertClose(_ p: (x: Double, y: Double), _ x: Double, _ y: Double, _ message: String = "", line: UInt = #line) {
    XCTAssertEqual(p.x, x, accuracy: 1e-9, message, line: line)
    XCTAssertEqual(p.y, y, accuracy: 1e-9, message, line: line)
  }

  /// (A * B)(p) == A(B(p)), and `followed(by:)` is the reverse order.
  func testComposition() {
    let a = AffineTransform(a: 1, b: 2, c: 3, d: -1, e: 0.5, f: 2)
    let b = AffineTransform(a: 0.3, b: -1, c: 0, d: 2, e: 1, f: -4)
    let p = (x: 1.5, y: -2.0)
    let composed = (a * b).apply(x: p.x, y: p.y)
    let inner = b.apply(x: p.x, y: p.y)
    assertClose(composed, a.apply(x: inner.x, y: inner.y).x, a.apply(x: inner.x, y: inner.y).y)
    XCTAssertEqual(b.followed(by: a), a * b)
    XCTAssertEqual(AffineTransform.identity * a, a)
    XCTAssertEqual(a * .identity, a)
  }

  /// inverse * self is the identity; singular maps have no inverse.
  func testInversion() throws {
    let a = AffineTransform.rotation(degrees: 33, center: (10, 7)) * .scale(x: 1.3, y: 0.7) * .shear(xDegrees: 12) * .translation(x: 3, y: -2)
    let inverse = try XCTUnwrap(a.inverted())
    XCTAssertLessThan((inverse * a).maxDifference(.identity), 1e-12)
    XCTAssertLessThan((a * inverse).maxDifference(.identity), 1e-12)
    XCTAssertNil(AffineTransform(a: 1, b: 2, c: 0, d: 2, e: 4, f: 1).inverted())
    XCTAssertNil(AffineTransform.scale(0).inverted())
    XCTAssertNil(AffineTransform([1, 2, 3]))
    XCTAssertNil(AffineTransform([1, 0, .nan, 0, 1, 0]))
    XCTAssertEqual(AffineTransform([1, 2, 3, 4, 5, 6])?.coefficients, [1, 2, 3, 4, 5, 6])
  }

  /// Each constructor moves known points where it should (pixel space, y down).
  func testConstructors() {
    assertClose(AffineTransform.translation(x: 2, y: -3).apply(x: 1, y: 1), 3, -2)
    assertClose(AffineTransform.translation(fractionX: 0.1, fractionY: -0.5, width: 50, height: 20).apply(x: 0, y: 0), 5, -10)
    // 90° counter-clockwise as displayed (y down): right (1,0) goes up to (0,-1).
    assertClose(AffineTransform.rotation(degrees: 90).apply(x: 1, y: 0), 0, -1)
    assertClose(AffineTransform.rotation(degrees: 90, center: (5, 5)).apply(x: 6, y: 5), 5, 4)
    assertClose(AffineTransform.rotation(degrees: 90, center: (5, 5)).apply(x: 5, y: 5), 5, 5)
    assertClose(AffineTransform.scale(2, center: (1, 1)).apply(x: 2, y: 3), 3, 5)
    assertClose(AffineTransform.scale(x: 2, y: 0.5).apply(x: 2, y: 4), 4, 2)
    assertClose(AffineTransform.shear(xDegrees: 45).apply(x: 1, y: 2), 3, 2)
    assertClose(AffineTransform.shear(xDegrees: 0, yDegrees: 45, center: (1, 0)).apply(x: 3, y: 0), 3, 2)
    assertClose(AffineTransform.horizontalFlip(width: 10).apply(x: 0, y: 4), 9, 4)
    assertClose(AffineTransform.verticalFlip(height: 6).apply(x: 2, y: 1), 2, 4)
    assertClose(AffineTransform.center(width: 10, height: 5), 4.5, 2)
    // A flip is its own inverse.
    let flip = AffineTransform.horizontalFlip(width: 7)
    XCTAssertLessThan((flip * flip).maxDifference(.identity), 1e-12)
  }

  /// Pixel <-> normalized for both alignments: pixel centres and edges land where PyTorch puts them.
  func testNormalizedPixelConversion() throws {
    let unaligned = AffineTransform.pixelToNormalized(width: 4, height: 8, alignCorners: false)
    assertClose(unaligned.apply(x: -0.5, y: -0.5), -1, -1)
    assertClose(unaligned.apply(x: 3.5, y: 7.5), 1, 1)
    assertClose(unaligned.apply(x: 1.5, y: 3.5), 0, 0)
    let aligned = AffineTransform.pixelToNormalized(width: 4, height: 8, alignCorners: true)
    assertClose(aligned.apply(x: 0, y: 0), -1, -1)
    assertClose(aligned.apply(x: 3, y: 7), 1, 1)
    for alignCorners in [false, true] {
      let forward = AffineTransform.pixelToNormalized(width: 5, height: 3, alignCorners: alignCorners)
      let back = AffineTransform.normalizedToPixel(width: 5, height: 3, alignCorners: alignCorners)
      XCTAssertLessThan((back * forward).maxDifference(.identity), 1e-12)
      // The same unnormalization gridSample applies.
      for value in [-1.0, -0.3, 0.0, 0.8, 1.0] {
        XCTAssertEqual(back.apply(x: value, y: 0).x, Double(unnormalize(Float(value), size: 5, alignCorners: alignCorners)), accuracy: 1e-6)
      }
    }
  }

  /// samplingTheta + affineGrid + gridSample moves image content the way the transform says:
  /// a bright pixel at source p appears at destination M(p); fromSamplingTheta inverts it.
  func testSamplingThetaMatchesGridSample() throws {
    let (w, h, wo, ho) = (9, 7, 11, 8)
    let source = (x: 3.0, y: 2.0)
    var input = Tensor(shape: [1, 1, h, w])
    input.data[Int(source.y) * w + Int(source.x)] = 1
    // Rotate 90° about the centre, then shift by integers so the dot lands on a pixel centre.
    let transform = AffineTransform.translation(x: 2, y: 1) * .rotation(degrees: 90, center: AffineTransform.center(width: w, height: h))
    let target = transform.apply(x: source.x, y: source.y)
    for alignCorners in [false, true] {
      let theta = try XCTUnwrap(transform.samplingTheta(inputWidth: w, inputHeight: h, outputWidth: wo, outputHeight: ho, alignCorners: alignCorners))
      if alignCorners {
        // With align_corners the pixel grids differ in scale, so only check the round trip.
        let back = try XCTUnwrap(AffineTransform.fromSamplingTheta(theta, inputWidth: w, inputHeight: h, outputWidth: wo, outputHeight: ho, alignCorners: true))
        XCTAssertLessThan(back.maxDifference(transform), 1e-9)
        continue
      }
      let grid = affineGrid(theta: Tensor(shape: [1, 2, 3], data: theta.theta), size: [1, 1, ho, wo], alignCorners: false)
      let output = gridSampleNaive(input: input, grid: grid, options: GridSampleOptions(mode: .nearest))
      let bright = output.data.indices.filter { output.data[$0] > 0.5 }
      XCTAssertEqual(bright, [Int(target.y.rounded()) * wo + Int(target.x.rounded())])
      let back = try XCTUnwrap(AffineTransform.fromSamplingTheta(theta, inputWidth: w, inputHeight: h, outputWidth: wo, outputHeight: ho, alignCorners: false))
      XCTAssertLessThan(back.maxDifference(transform), 1e-9)
      // The destination->source form gives the same theta.
      let direct = AffineTransform.samplingTheta(destinationToSource: try XCTUnwrap(transform.inverted()), inputWidth: w, inputHeight: h,
                                                 outputWidth: wo, outputHeight: ho, alignCorners: false)
      XCTAssertLessThan(direct.maxDifference(theta), 1e-12)
    }
  }
}
