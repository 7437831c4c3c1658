import XCTest
import STNTensor
@testable import STNWarp

final class PixelMapTests: XCTestCase {
  let rotate = AffineTransform.rotation(degrees: 20, center: (10, 8))
  let tilt = Homography(h11: 1.1, h12: 0.05, h13: -2, h21: 0.02, h22: 0.95, h23: 1, h31: 0.002, h32: -0.001, h33: 1)
  var spline: ThinPlateSpline {
    let controls: [SIMD2<Double>] = [SIMD2(0, 0), SIMD2(20, 0), SIMD2(0, 16), SIMD2(20, 16), SIMD2(10, 8)]
    return ThinPlateSpline(controlPoints: controls, targets: controls.enumerated().map { $1 + SIMD2(Double($0) * 0.3, -Double($0) * 0.2) })!
  }

  func testThenMergesProjectiveNeighboursAndKeepsOrder() {
    XCTAssertEqual(PixelMap.affine(rotate).then(.affine(.translation(x: 3, y: 1))), .affine(.translation(x: 3, y: 1) * rotate))
    guard case .homography(let merged) = PixelMap.affine(rotate).then(.homography(tilt)) else { return XCTFail("affine + homography is one homography") }
    XCTAssertLessThan(merged.maxDifference(tilt * Homography(rotate)), 1e-12)
    let chain = PixelMap.affine(rotate).then(.thinPlateSpline(spline)).then(.homography(tilt)).then(.affine(.translation(x: 1, y: 2)))
    XCTAssertEqual(chain.pieces.count, 3)
    // Identity pieces vanish; nothing nests.
    XCTAssertEqual(PixelMap.identity.then(.thinPlateSpline(spline)).then(.identity), .thinPlateSpline(spline))
    XCTAssertEqual(PixelMap.identity.then(.identity), .identity)
    for (x, y) in [(0.0, 0.0), (5.5, 3.25), (19, 15)] {
      var expected = rotate.apply(x: x, y: y)
      expected = spline.apply(x: expected.x, y: expected.y)
      expected = tilt.apply(x: expected.x, y: expected.y)
      expected = (expected.x + 1, expected.y + 2)
      let got = chain.apply(x: x, y: y)
      XCTAssertEqual(got.x, expected.x, accuracy: 1e-9)
      XCTAssertEqual(got.y, expected.y, accuracy: 1e-9)
    }
  }

  /// For an affine map the footprint is the lengths of the rows of its matrix (what the affine
  /// path's prefilter uses); for a perspective the smallest over corners and centre.
  func testFootprint() throws {
    let scaled = AffineTransform(a: 3, b: 4, c: 1, d: 0, e: 2, f: 5)
    let footprint = try XCTUnwrap(PixelMap.affine(scaled).footprint(outputWidth: 10, outputHeight: 10))
    XCTAssertEqual(footprint.x, 5, accuracy: 1e-12)
    XCTAssertEqual(footprint.y, 2, accuracy: 1e-12)
    // x -> x / (1 + x/100): the local scale shrinks along x, smallest at the right edge.
    let perspective = Homography(h11: 1, h12: 0, h13: 0, h21: 0, h22: 1, h23: 0, h31: 0.01, h32: 0, h33: 1)
    let local = try XCTUnwrap(PixelMap.homography(perspective).footprint(outputWidth: 101, outputHeight: 11))
    XCTAssertEqual(local.x, 0.25, accuracy: 1e-3)
    XCTAssertNil(PixelMap.affine(AffineTransform(a: .nan, b: 0, c: 0, d: 0, e: 1, f: 0)).footprint(outputWidth: 4, outputHeight: 4))
    XCTAssertFalse(PixelMap.affine(AffineTransform(a: .nan, b: 0, c: 0, d: 0, e: 1, f: 0)).isFinite)
  }

  /// The map warps sample exactly as the affine warps: an affine `PixelMap` reproduces the naive
  /// affine twin (within 1 for uint8, 1e-4 for floats: the map computes positions in double,
  /// the affine kernels in float32 rows), bit for bit at whole-pixel shifts.
  func testAffineMapMatchesTheAffineNaiveTwin() {
    var random = RandomStream(seed: 4)
    for channels in [1, 3] {
      let (w, h, wo, ho) = (23, 17, 19, 21)
      let image = (0..<(w * h * channels)).map { _ in UInt8(truncatingIfNeeded: random.next() >> 56) }
      for (t, exact) in [(AffineTransform.translation(x: 2, y: -3), true), (rotate * .scale(0.8), false)] {
        for options in [WarpOptions(), WarpOptions(mode: .nearest), WarpOptions(padding: .border), WarpOptions(fill: [9])] {
          var ours = [UInt8](repeating: 0, count: wo * ho * channels), naive = ours
          var oursFloat = [Float](repeating: 0, count: wo * ho * channels), naiveFloat = oursFloat
          let scale = [Float](repeating: 0.5, count: channels), bias = [Float](repeating: -1, count: channels)
          image.withUnsafeBufferPointer { src in
            warpMapUInt8(source: src.baseAddress!, width: w, height: h, channels: channels, destinationToSource: .affine(t),
                         output: &ours, outputWidth: wo, outputHeight: ho, options: options)
            warpAffineUInt8Naive(source: src.baseAddress!, width: w, height: h, channels: channels, destinationToSource: t,
                                 output: &naive, outputWidth: wo, outputHeight: ho, options: options)
            warpMapNormalized(source: src.baseAddress!, width: w, height: h, channels: channels, destinationToSource: .affine(t),
                              output: &oursFloat, outputWidth: wo, outputHeight: ho, scale: scale, bias: bias, options: options)
            warpAffineNormalizedNaive(source: src.baseAddress!, width: w, height: h, channels: channels, destinationToSource: t,
                                      output: &naiveFloat, outputWidth: wo, outputHeight: ho, scale: scale, bias: bias, options: options)
          }
          let worst = zip(ours, naive).map { abs(Int($0) - Int($1)) }.max() ?? 0
          XCTAssertLessThanOrEqual(worst, exact ? 0 : 1, "\(channels) channels, \(options)")
          let worstFloat = zip(oursFloat, naiveFloat).map { abs($0 - $1) }.max() ?? 0
          XCTAssertLessThanOrEqual(worstFloat, exact ? 0 : 0.5 * 1e-2, "\(channels) channels, \(options)")
          if options.mode == .bilinear && !exact {
            // Mostly identical: the positions differ by float32 rounding only.
            XCTAssertGreaterThan(zip(ours, naive).filter { $0 == $1 }.count, ours.count * 9 / 10)
          }
        }
      }
    }
  }
}

extension PixelMapTests {
  /// The warp loop's flattened map gives `PixelMap.apply`'s numbers bit for bit.
  func testFlatMapEqualsApply() {
    let maps: [PixelMap] = [
      .affine(rotate), .homography(tilt), .thinPlateSpline(spline),
      PixelMap.affine(rotate).then(.thinPlateSpline(spline)).then(.homography(tilt)).then(.thinPlateSpline(spline)),
    ]
    for map in maps {
      let flat = FlatPixelMap(map)
      flat.withUnsafeParts { pieces, numbers in
        for (x, y) in [(0.0, 0.0), (3.0, 7.0), (19.25, -2.5), (40, 33)] {
          let a = map.apply(x: x, y: y), b = FlatPixelMap.apply(pieces, numbers, x: x, y: y)
          XCTAssertEqual(a.x.bitPattern, b.x.bitPattern, "\(map)")
          XCTAssertEqual(a.y.bitPattern, b.y.bitPattern, "\(map)")
        }
      }
    }
  }

  /// A normalized-coordinate map in pixels: an affine theta gives the inverse of
  /// `fromSamplingTheta` (the affine_grid convention), and a homography the hand-computed
  /// positions (12x8 output, 6x4 input, align_corners false: x = ((u + 1) W - 1) / 2).
  func testFromNormalized() throws {
    let theta = AffineTransform(a: 0.8, b: 0.1, c: 0.25, d: -0.1, e: 0.9, f: -0.5)
    let map = PixelMap.fromNormalized(.affine(theta), inputWidth: 6, inputHeight: 4, outputWidth: 12, outputHeight: 8, alignCorners: false)
    let forward = try XCTUnwrap(AffineTransform.fromSamplingTheta(theta, inputWidth: 6, inputHeight: 4, outputWidth: 12, outputHeight: 8, alignCorners: false))
    guard case .affine(let t) = map, let inverse = forward.inverted() else { return XCTFail("\(map)") }
    XCTAssertLessThan(t.maxDifference(inverse), 1e-12)
    // Homography [[1 0 0] [0 1 0] [0.5 0 1]], by hand: output pixel (3, 2) is normalized
    // u = (2*3 + 1)/12 - 1 = -5/12, v = (2*2 + 1)/8 - 1 = -3/8; w = 1 + 0.5u = 19/24, so the
    // source is normalized (u/w, v/w) = (-10/19, -9/19), in pixels ((-10/19 + 1) * 6 - 1) / 2, ...
    let h = Homography(h11: 1, h12: 0, h13: 0, h21: 0, h22: 1, h23: 0, h31: 0.5, h32: 0)
    let projective = PixelMap.fromNormalized(.homography(h), inputWidth: 6, inputHeight: 4, outputWidth: 12, outputHeight: 8, alignCorners: false)
    let p = projective.apply(x: 3, y: 2)
    XCTAssertEqual(p.x, ((-10.0 / 19 + 1) * 6 - 1) / 2, accuracy: 1e-12)
    XCTAssertEqual(p.y, ((-9.0 / 19 + 1) * 4 - 1) / 2, accuracy: 1e-12)
  }
}
