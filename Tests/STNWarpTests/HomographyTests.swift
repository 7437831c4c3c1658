import XCTest
import STNFiles
import STNTensor
import STNTestSupport
@testable import STNWarp

final class HomographyTests: XCTestCase {
  /// Values worked out on paper.
  func testHandComputed() throws {
    XCTAssertTrue(Homography.identity.apply(x: 0.3, y: -2) == (0.3, -2))
    // w = 0.5·x + 1: (1, 1) -> (1/1.5, 1/1.5); (-2, 3) sits on the line w = 0 -> infinite.
    let perspective = try XCTUnwrap(Homography([1, 0, 0, 0, 1, 0, 0.5, 0]))
    let p = perspective.apply(x: 1, y: 1)
    XCTAssertEqual(p.x, 2.0 / 3.0, accuracy: 1e-15)
    XCTAssertEqual(p.y, 2.0 / 3.0, accuracy: 1e-15)
    XCTAssertFalse(perspective.apply(x: -2, y: 3).x.isFinite)
    // The 8-parameter form divides by h33; h33 = 0 has none.
    XCTAssertEqual(Homography(h11: 2, h12: 0, h13: 4, h21: 0, h22: 2, h23: 0, h31: 0, h32: 1, h33: 2).parameters, [1, 0, 2, 0, 1, 0, 0, 0.5])
    XCTAssertNil(Homography(h11: 1, h12: 0, h13: 0, h21: 0, h22: 1, h23: 0, h31: 1, h32: 0, h33: 0).parameters)
    XCTAssertNil(Homography([1, 2, 3]))
    XCTAssertNil(Homography([1, 0, 0, 0, 1, 0, .infinity, 0]))
    // An affine map round-trips; a perspective one has no affine form.
    let affine = AffineTransform(a: 1.5, b: 0.2, c: -3, d: 0.1, e: 0.9, f: 4)
    XCTAssertEqual(Homography(affine).affine, affine)
    XCTAssertNil(perspective.affine)
    XCTAssertEqual(Homography(affine).theta, [1.5, 0.2, -3, 0.1, 0.9, 4, 0, 0, 1])
  }

  func testCompositionAndInverse() throws {
    let a = try XCTUnwrap(Homography([1.1, 0.2, -0.3, -0.1, 0.9, 0.25, 0.15, -0.2]))
    let b = try XCTUnwrap(Homography([0.8, -0.3, 0.1, 0.2, 1.2, -0.05, -0.1, 0.05]))
    for (x, y) in [(0.3, -0.4), (-0.7, 0.9), (0, 0)] {
      let sequential = a.apply(x: b.apply(x: x, y: y).x, y: b.apply(x: x, y: y).y)
      let composed = (a * b).apply(x: x, y: y)
      XCTAssertEqual(composed.x, sequential.x, accuracy: 1e-12)
      XCTAssertEqual(composed.y, sequential.y, accuracy: 1e-12)
      XCTAssertTrue(b.followed(by: a) == a * b)
      let back = try XCTUnwrap(a.inverted()).apply(x: a.apply(x: x, y: y).x, y: a.apply(x: x, y: y).y)
      XCTAssertEqual(back.x, x, accuracy: 1e-12)
      XCTAssertEqual(back.y, y, accuracy: 1e-12)
    }
    XCTAssertLessThan((try XCTUnwrap(a.inverted()) * a).normalized().map { $0.maxDifference(.identity) } ?? 1, 1e-12)
    XCTAssertNil(Homography(h11: 1, h12: 2, h13: 0, h21: 2, h22: 4, h23: 0, h31: 0, h32: 0, h33: 1).inverted())
  }

  /// Four pairs by hand: the unit square onto a square twice the size shifted by (1, 0) is the
  /// affine map 2p + (1, 0); collinear points determine nothing.
  func testFourPointsHandComputed() throws {
    let square: [SIMD2<Double>] = [[0, 0], [1, 0], [1, 1], [0, 1]]
    let h = try XCTUnwrap(Homography(mapping: square, to: square.map { 2 * $0 + [1, 0] }))
    XCTAssertLessThan(h.maxDifference(Homography(h11: 2, h12: 0, h13: 1, h21: 0, h22: 2, h23: 0, h31: 0, h32: 0)), 1e-12)
    XCTAssertNil(Homography(mapping: [[0, 0], [1, 1], [2, 2], [0, 1]], to: square))
    XCTAssertNil(Homography(mapping: square, to: [[0, 0], [1, 0], [2, 0], [3, 0]]))
    XCTAssertNil(Homography(mapping: Array(square.prefix(3)), to: Array(square.prefix(3))))
  }

  /// Kornia's get_perspective_transform on the fixtures' 4 point pairs.
  func testFourPointsMatchKornia() throws {
    for (path, file) in try warpFixtures("projective_") {
      let pointsOut = try file.tensor("points_out", path: path), pointsIn = try file.tensor("points_in", path: path)
      let expected = try file.tensor("homography", path: path)
      var solved = Tensor(shape: expected.shape)
      for b in 0..<pointsOut.shape[0] {
        func points(_ t: Tensor) -> [SIMD2<Double>] { (0..<4).map { SIMD2(Double(t.data[b * 8 + 2 * $0]), Double(t.data[b * 8 + 2 * $0 + 1])) } }
        let h = try XCTUnwrap(Homography(mapping: points(pointsOut), to: points(pointsIn)))
        for k in 0..<9 { solved.data[b * 9 + k] = h.theta[k] }
        for (source, target) in zip(points(pointsOut), points(pointsIn)) {
          let mapped = h.apply(x: source.x, y: source.y)
          XCTAssertEqual(mapped.x, target.x, accuracy: 1e-9)
          XCTAssertEqual(mapped.y, target.y, accuracy: 1e-9)
        }
      }
      assertClose(solved, expected, atol: 1e-5, rtol: 1e-5, "Homography(mapping:to:) vs kornia get_perspective_transform, \(path)")
    }
  }

  /// Kornia's warp_perspective (source -> destination pixel homography, pixel centres at
  /// integers) equals sampling with `samplingHomography`.
  func testSamplingHomographyMatchesKorniaWarpPerspective() throws {
    for (path, file) in try warpFixtures("projective_") {
      let input = try file.tensor("input", path: path), pixelHomography = try file.tensor("pixel_homography", path: path)
      let expected = try file.tensor("pixel_output", path: path)
      let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
      let (ho, wo) = (expected.shape[2], expected.shape[3])
      var sampling = Tensor(shape: [n, 3, 3])
      for b in 0..<n {
        let pixel = try XCTUnwrap(Homography((0..<9).map { Double(pixelHomography.data[b * 9 + $0]) }))
        let normalized = try XCTUnwrap(pixel.samplingHomography(inputWidth: w, inputHeight: h, outputWidth: wo, outputHeight: ho, alignCorners: true))
        let back = try XCTUnwrap(Homography.fromSamplingHomography(normalized, inputWidth: w, inputHeight: h, outputWidth: wo, outputHeight: ho, alignCorners: true))
        XCTAssertLessThan(try XCTUnwrap(back.normalized()).maxDifference(try XCTUnwrap(pixel.normalized())), 1e-9)
        for k in 0..<9 { sampling.data[b * 9 + k] = normalized.theta[k] }
      }
      let output = projectiveGridSample(input: input, homography: sampling, outputSize: [n, c, ho, wo], options: GridSampleOptions(alignCorners: true))
      assertClose(output, expected, atol: 1e-4, rtol: 1e-4, "samplingHomography + projectiveGridSample vs kornia warp_perspective, \(path)")
    }
  }
}
