import XCTest
import STNTensor
import STNTestSupport
@testable import STNWarp
import CWarpKernels

/// The run-time kernel choice: AVX2 and AVX-512 twins against the portable Swift kernels and the
/// naive twins, and the fallback. (Every fast-against-naive test in this target also runs once
/// per supported path.)
final class WarpKernelPathTests: XCTestCase {
  override func tearDown() {
    warpKernelPath = .best
    super.tearDown()
  }

  func requireAVX2() throws {
    guard WarpKernelPath.avx2.isSupported else { throw XCTSkip("this CPU has no AVX2: only the portable path runs here") }
  }

  /// The C paths this CPU supports (AVX2, AVX-512), or a skip when there are none.
  func supportedSIMDPaths() throws -> [WarpKernelPath] {
    try requireAVX2()
    return [WarpKernelPath.avx2, .avx512].filter { $0.isSupported }
  }

  // MARK: - Selection

  /// The portable path is always selectable; AVX2 and AVX-512 only where supported, else the next
  /// slower supported path.
  func testSelectionFallsBackToPortable() {
    XCTAssertTrue(WarpKernelPath.portable.isSupported)
    XCTAssertEqual(WarpKernelPath.best, cpuHasAVX512 ? .avx512 : cpuHasAVX2 ? .avx2 : .portable)
    XCTAssertTrue(WarpKernelPath.best.isSupported)
    warpKernelPath = .portable
    XCTAssertEqual(warpKernelPath, .portable)
    XCTAssertFalse(useAVX2Kernels)
    XCTAssertFalse(useAVX512Kernels)
    warpKernelPath = .avx2
    XCTAssertEqual(warpKernelPath, cpuHasAVX2 ? .avx2 : .portable)
    XCTAssertEqual(useAVX2Kernels, cpuHasAVX2)
    XCTAssertFalse(useAVX512Kernels)
    warpKernelPath = .avx512
    XCTAssertEqual(warpKernelPath, cpuHasAVX512 ? .avx512 : cpuHasAVX2 ? .avx2 : .portable)
    // Kernels without an AVX-512 twin run their AVX2 twin under .avx512.
    XCTAssertEqual(useAVX2Kernels, cpuHasAVX2)
    XCTAssertEqual(useAVX512Kernels, cpuHasAVX512)
    if cpuHasAVX512 { XCTAssertTrue(cpuHasAVX2, "every AVX-512 CPU the kernels accept has AVX2") }
  }

  // MARK: - Fused uint8 -> normalized float32

  /// B1-like work (224x224x3, rotation and scale about the centre) and odd sizes: the AVX2 and
  /// AVX-512 kernels give the portable kernel's bits, border and interior (with their tails).
  func testAVX2FusedUInt8EqualsPortable() throws {
    let paths = try supportedSIMDPaths()
    var random = RandomStream(seed: 11)
    for (w, h, wo, ho) in [(224, 224, 224, 224), (37, 23, 29, 31), (9, 8, 12, 10)] {
      let image = (0..<(w * h * 3)).map { _ in UInt8(truncatingIfNeeded: random.next() >> 56) }
      // NOTE: the identity and a half-pixel shift put interior blocks on the bottom-right source
      // pixels, where the AVX2 kernel's 8-byte loads would pass the end and it finishes in scalar.
      for k in 0..<5 {
        let center = AffineTransform.center(width: w, height: h)
        let outCenter = AffineTransform.center(width: wo, height: ho)
        let t = k == 3 ? .identity : k == 4 ? .translation(x: 0.5, y: 0.25)
          : AffineTransform.translation(x: center.x + random.uniform(-3, 3), y: center.y + random.uniform(-3, 3))
          * .rotation(degrees: random.uniform(-30, 30)) * .scale(random.uniform(0.8, 1.2)) * .translation(x: -outCenter.x, y: -outCenter.y)
        let scale: [Float] = [1 / (255 * 0.229), 1 / (255 * 0.224), 1 / (255 * 0.225)], bias: [Float] = [-2.1, -2.0, -1.8]
        for options in [WarpOptions(), WarpOptions(padding: .border), WarpOptions(fill: [10, 128, 250])] {
          var outputs: [[Float]] = []
          for path in [WarpKernelPath.portable] + paths {
            warpKernelPath = path
            var output = [Float](repeating: .nan, count: wo * ho * 3)
            image.withUnsafeBufferPointer { src in
              output.withUnsafeMutableBufferPointer { dst in
                warpAffineNormalized(source: src.baseAddress!, width: w, height: h, channels: 3, destinationToSource: t, output: dst.baseAddress!,
                                     outputWidth: wo, outputHeight: ho, scale: scale, bias: bias, options: options)
              }
            }
            outputs.append(output)
          }
          for (index, path) in paths.enumerated() {
            XCTAssertEqual(outputs[0], outputs[index + 1], "\(path) \(w)x\(h) -> \(wo)x\(ho) \(options)")
            XCTAssertFalse(outputs[index + 1].contains { $0.isNaN }, "every output element written")
          }
        }
      }
    }
  }

  // MARK: - uint8 -> uint8

  /// The AVX2 and AVX-512 uint8 -> uint8 kernels give the naive twin's bytes: B1 work, odd sizes,
  /// interior spans shorter than one 8- or 16-column block, the bottom-right source pixel as a
  /// tap, 1 and 3 channels, every mode and padding, fill 0 and other fills.
  func testUInt8KernelsEqualNaive() throws {
    let paths = try supportedSIMDPaths()
    var random = RandomStream(seed: 17)
    let sizes = [(224, 224, 224, 224), (37, 23, 29, 31), (9, 8, 12, 10), (5, 4, 7, 3), (40, 3, 17, 33), (2, 2, 19, 5)]
    for (w, h, wo, ho) in sizes {
      for channels in [3, 1] {
        let image = (0..<(w * h * channels)).map { _ in UInt8(truncatingIfNeeded: random.next() >> 56) }
        for k in 0..<6 {
          let center = AffineTransform.center(width: w, height: h)
          let outCenter = AffineTransform.center(width: wo, height: ho)
          // Identity, sub-pixel shifts (bottom-right taps, exact .5 rounding ties), B1 maps, and a
          // strong rotation with downscale (long miss runs and short interiors).
          let t: AffineTransform = switch k {
          case 0: .identity
          case 1: .translation(x: 0.5, y: 0.25)
          case 2: .translation(x: 0.5, y: 0)
          case 5: AffineTransform.translation(x: center.x, y: center.y) * .rotation(degrees: random.uniform(-180, 180))
            * .scale(random.uniform(1.5, 3)) * .translation(x: -outCenter.x, y: -outCenter.y)
          default: AffineTransform.translation(x: center.x + random.uniform(-3, 3), y: center.y + random.uniform(-3, 3))
            * .rotation(degrees: random.uniform(-30, 30)) * .scale(random.uniform(0.8, 1.2)) * .translation(x: -outCenter.x, y: -outCenter.y)
          }
          // The B1 size with the B1 options only (the naive twin is slow in debug builds).
          let optionsToTest = w == 224 ? [WarpOptions(), WarpOptions(fill: [10, 128, 250])] : WarpAffineTests.allWarpOptions
          for options in optionsToTest {
            var opts = options
            opts.fill = channels == 3 ? options.fill : [options.fill[0]]
            let naive = warpUInt8(image, w, h, channels, t, wo, ho, options: opts, naive: true)
            for path in paths {
              warpKernelPath = path
              XCTAssertEqual(warpUInt8(image, w, h, channels, t, wo, ho, options: opts, naive: false), naive,
                             "\(path) \(w)x\(h)x\(channels) -> \(wo)x\(ho) map \(k) \(opts)")
            }
          }
        }
      }
    }
  }

  /// Rounding: alternating columns of (0, 255), (255, 0), (1, 2), (254, 255) sampled at binary
  /// fractions give sums at exact halves (1.5, 127.5, 254.5) and at both ends of the range;
  /// every SIMD path rounds them like `roundToUInt8`.
  func testUInt8KernelsRoundLikeNaive() throws {
    let paths = try supportedSIMDPaths()
    let (w, h) = (34, 4)
    var image = [UInt8](repeating: 0, count: w * h * 3)
    let pairs: [(UInt8, UInt8)] = [(0, 255), (255, 0), (1, 2), (254, 255)]
    for y in 0..<h { for x in 0..<w { for c in 0..<3 { image[(y * w + x) * 3 + c] = x % 2 == 0 ? pairs[(y + c) % 4].0 : pairs[(y + c) % 4].1 } } }
    for step in [1.0 / 64, 1.0 / 3, 0.5, 0.999] {
      for (x0, y0) in [(0.25, 0.5), (0.0, 0.0), (0.5, 0.0)] {
        let t = AffineTransform(a: step, b: 0, c: x0, d: 0, e: 1, f: y0)
        let naive = warpUInt8(image, w, h, 3, t, 40, 3, options: WarpOptions(), naive: true)
        for path in paths {
          warpKernelPath = path
          XCTAssertEqual(warpUInt8(image, w, h, 3, t, 40, 3, options: WarpOptions(), naive: false), naive, "\(path) step \(step) origin \(x0), \(y0)")
        }
      }
    }
  }

  /// Maps whose coordinates are not finite or far outside (the kernels' -100 rule), fills that
  /// are not whole bytes (the row kernels leave those to the Swift path) and 1-pixel sources: the
  /// SIMD paths still give the naive twin's bytes and normalized values.
  func testKernelsEqualNaiveOnUnusualInput() throws {
    let paths = try supportedSIMDPaths()
    var random = RandomStream(seed: 23)
    let maps = [
      AffineTransform(a: .nan, b: 0, c: 1, d: 0, e: 1, f: 0),
      AffineTransform(a: 1, b: 0, c: .infinity, d: 0, e: 1, f: 0),
      AffineTransform(a: 1e12, b: 0, c: 0, d: 0, e: 1, f: 0),
      AffineTransform(a: 0.7, b: 0.2, c: -3e9, d: -0.2, e: 0.7, f: 5),
      AffineTransform(a: 0.9, b: 0.3, c: 2.5, d: -0.3, e: 0.9, f: 4.25),
    ]
    let fills: [[Float]] = [[0, 0, 0], [127.5, 0, 255], [-0.0, 0, 0], [300, 1, 2], [7, 7, 7]]
    for (w, h) in [(23, 17), (1, 1), (2, 1)] {
      let image = (0..<(w * h * 3)).map { _ in UInt8(truncatingIfNeeded: random.next() >> 56) }
      for t in maps {
        for fill in fills {
          let options = WarpOptions(fill: fill)
          let naive = warpUInt8(image, w, h, 3, t, 21, 9, options: options, naive: true)
          let scale: [Float] = [0.5, 1, 2], bias: [Float] = [0, -1, 0]
          let naiveNormalized = warpNormalized(image, w, h, t, 21, 9, scale: scale, bias: bias, options: options, naive: true)
          for path in paths {
            warpKernelPath = path
            XCTAssertEqual(warpUInt8(image, w, h, 3, t, 21, 9, options: options, naive: false), naive, "\(path) \(w)x\(h) \(t) fill \(fill)")
            let normalized = warpNormalized(image, w, h, t, 21, 9, scale: scale, bias: bias, options: options, naive: false)
            XCTAssertEqual(normalized.map(\.bitPattern), naiveNormalized.map(\.bitPattern), "\(path) normalized \(w)x\(h) \(t) fill \(fill)")
          }
        }
      }
    }
  }

  func warpNormalized(_ image: [UInt8], _ w: Int, _ h: Int, _ t: AffineTransform, _ wo: Int, _ ho: Int,
                      scale: [Float], bias: [Float], options: WarpOptions, naive: Bool) -> [Float] {
    render(image, count: wo * ho * 3, initial: .nan) { src, dst in
      let warp = naive ? warpAffineNormalizedNaive : warpAffineNormalized
      warp(src, w, h, 3, t, dst, wo, ho, scale, bias, options)
    }
  }

  func warpUInt8(_ image: [UInt8], _ w: Int, _ h: Int, _ c: Int, _ t: AffineTransform, _ wo: Int, _ ho: Int, options: WarpOptions, naive: Bool) -> [UInt8] {
    render(image, count: wo * ho * c, initial: 7) { src, dst in
      let warp = naive ? warpAffineUInt8Naive : warpAffineUInt8
      warp(src, w, h, c, t, dst, wo, ho, options)
    }
  }

  /// `body(source, output)` into a new output of `count` values, each `initial` at first.
  func render<T>(_ image: [UInt8], count: Int, initial: T, _ body: (UnsafePointer<UInt8>, UnsafeMutablePointer<T>) -> Void) -> [T] {
    var output = [T](repeating: initial, count: count)
    image.withUnsafeBufferPointer { src in
      output.withUnsafeMutableBufferPointer { dst in body(src.baseAddress!, dst.baseAddress!) }
    }
    return output
  }

  // MARK: - Non-affine maps (perspective and elastic stages)

  /// The map evaluators (AVX-512, AVX2 and the portable 4-lane Swift rows) give the flattened map's
  /// positions, one point at a time, bit for bit: perspective
  /// maps (one with w = 0 on a pixel: infinite positions), splines whose control points sit on
  /// pixels (r = 0), points so far or so near that r² overflows or is subnormal, a composed elastic-like chain, a NaN
  /// map, rows of 1 to 37 columns (partial 8-column blocks).
  func testMapRowKernelEqualsTheScalarMap() throws {
    let paths = [WarpKernelPath.avx2, .avx512].filter(\.isSupported)
    var random = RandomStream(seed: 37)
    let tilt = Homography(h11: 1.1, h12: 0.05, h13: -4, h21: 0.02, h22: 0.95, h23: 2, h31: 0.004, h32: -0.003, h33: 1)
    var splines: [ThinPlateSpline] = []
    for controls: [SIMD2<Double>] in [
      [SIMD2(0, 0), SIMD2(30, 0), SIMD2(0, 20), SIMD2(30, 20), SIMD2(15, 10), SIMD2(7, 3)],  // on pixels
      (0..<16).map { SIMD2(Double($0 % 4) * 9.7 - 2, Double($0 / 4) * 6.1 - 1) },  // a 4x4 grid
    ] {
      let targets = controls.map { $0 + SIMD2(random.uniform(-3, 3), random.uniform(-3, 3)) }
      splines.append(try XCTUnwrap(ThinPlateSpline(controlPoints: controls, targets: targets)))
    }
    let maps: [PixelMap] = [
      .homography(tilt),
      .homography(Homography(h11: 1, h12: 0, h13: 0, h21: 0, h22: 1, h23: 0, h31: -0.25, h32: 0, h33: 1)),  // w = 0 at x = 4
      .homography(Homography(h11: .nan, h12: 0, h13: 0, h21: 0, h22: 1, h23: 0, h31: 0, h32: 0, h33: 1)),
      PixelMap.affine(.rotation(degrees: 15, center: (12, 8))).then(.thinPlateSpline(splines[1])).then(.homography(tilt)),
      PixelMap.affine(.scale(1e200)).then(.thinPlateSpline(splines[0])),  // squared distances overflow to +inf
      PixelMap.affine(.scale(1e-160)).then(.thinPlateSpline(splines[0])),  // subnormal squared distances
    ] + splines.map { PixelMap.thinPlateSpline($0) }
    for map in maps {
      FlatPixelMap(map).withUnsafeParts { pieces, numbers in
        for count in [1, 7, 8, 9, 37] {
          for y in [0, 3, 20] {
            // One point at a time (lane 0 of the 4-point form), then every path's rows.
            let points = (0..<count).map { FlatPixelMap.apply(pieces, numbers, x: Double($0), y: Double(y)) }
            let expected = (points.map(\.x) + [-7] + points.map(\.y)).map(\.bitPattern)
            for path in [WarpKernelPath.portable] + paths {
              warpKernelPath = path
              var xs = [Double](repeating: -7, count: count + 1), ys = xs
              FlatPixelMap.sourcePoints(pieces, numbers, y: y, count: count, xs: &xs, ys: &ys)
              XCTAssertEqual((xs + ys.prefix(count)).map(\.bitPattern), expected, "\(path) \(map) y \(y) count \(count)")
            }
          }
        }
      }
    }
  }

  /// The AVX-512 and AVX2 r² log r² of the map evaluators equal `ThinPlateSpline.radialBasis` bit for bit:
  /// squared pixel distances, every binade, subnormals, 0, -0, +inf, NaN, and 1 (log 0).
  func testRadialBasisKernelEqualsTheScalar() throws {
    try requireAVX2()
    var random = RandomStream(seed: 41)
    var values: [Double] = [0, -0.0, 1, .infinity, .nan, .leastNonzeroMagnitude, .leastNormalMagnitude, .greatestFiniteMagnitude, 2, 0.5]
    for i in 0..<100_003 {
      switch i % 3 {
      case 0: values.append(Double(bitPattern: random.next() & 0x7FEF_FFFF_FFFF_FFFF))
      case 1: values.append(Double(bitPattern: random.next() & 0x000F_FFFF_FFFF_FFFF))
      default: values.append(random.uniform(0, 3e4))
      }
    }
    let expected = values.map { ThinPlateSpline.radialBasis(squaredDistance: $0) }
    for (path, kernel) in [(WarpKernelPath.avx2, cwk_radial_basis_avx2), (.avx512, cwk_radial_basis_avx512)] where path.isSupported {
      var out = [Double](repeating: -1, count: values.count + 1)
      kernel(values, values.count, &out)
      XCTAssertEqual(out[values.count], -1, "\(path) wrote past the end")
      XCTAssertEqual(Array(out.prefix(values.count)).map(\.bitPattern), expected.map(\.bitPattern), "\(path)")
    }
  }

  /// The map warps' AVX-512 row kernels and AVX2 interior kernels at evaluated positions give their
  /// naive twins' bytes and normalized values: perspective maps that leave the source, a thin-plate spline, a composed
  /// elastic-like chain, maps of NaN or far-away positions, fills of bytes and not, odd widths
  /// (partial 16-column blocks) and 1- and 2-pixel sources; and so does the per-pixel loop at
  /// the row-evaluated positions (1 channel, border, reflection and nearest).
  func testMapWarpsEqualTheirNaiveTwins() throws {
    let paths = try supportedSIMDPaths()
    var random = RandomStream(seed: 31)
    let tilt = Homography(h11: 1.1, h12: 0.05, h13: -4, h21: 0.02, h22: 0.95, h23: 2, h31: 0.004, h32: -0.003, h33: 1)
    let controls: [SIMD2<Double>] = [SIMD2(0, 0), SIMD2(30, 0), SIMD2(0, 20), SIMD2(30, 20), SIMD2(15, 10)]
    let spline = try XCTUnwrap(ThinPlateSpline(controlPoints: controls, targets: controls.map { $0 + SIMD2(random.uniform(-3, 3), random.uniform(-3, 3)) }))
    let maps: [PixelMap] = [
      .homography(tilt),
      .homography(Homography(h11: 0.3, h12: 0, h13: 0, h21: 0, h22: 0.3, h23: 0, h31: 0.05, h32: 0.05, h33: 1)),  // crosses w = 0
      .thinPlateSpline(spline),
      PixelMap.affine(.rotation(degrees: 15, center: (12, 8))).then(.thinPlateSpline(spline)).then(.homography(tilt)),
      .homography(Homography(h11: .nan, h12: 0, h13: 0, h21: 0, h22: 1, h23: 0, h31: 0, h32: 0, h33: 1)),
      .homography(Homography(h11: 1, h12: 0, h13: 3e9, h21: 0, h22: 1, h23: 0, h31: 0, h32: 0, h33: 1)),
      // Blocks on the last pixels of the source (the AVX2 kernel's 8-byte loads must not pass the end).
      .identity, .affine(.translation(x: 0.5, y: 0.25)), .affine(.translation(x: 15.5, y: 0.25)),  // x0 = w - 1 in the last lane
    ]
    // The row kernels (3 channels, bilinear, zeros, a byte fill) and the per-pixel loop at the
    // row-evaluated positions (every other case).
    let options3 = [[Float]]([[0, 0, 0], [9, 200, 3], [127.5, 0, 255]]).map { WarpOptions(fill: $0) }
      + [WarpOptions(padding: .border), WarpOptions(mode: .nearest), WarpOptions(padding: .reflection)]
    for channels in [3, 1] {
      let scale = Array([Float](arrayLiteral: 0.5, 1, 2).prefix(channels)), bias = Array([Float](arrayLiteral: 0, -1, 0).prefix(channels))
      let optionsList = channels == 3 ? options3 : [WarpOptions(), WarpOptions(fill: [9]), WarpOptions(padding: .border), WarpOptions(mode: .nearest)]
      for (w, h, wo, ho) in [(23, 17, 37, 19), (64, 48, 16, 3), (1, 1, 5, 2), (2, 1, 17, 4)] {
        let image = (0..<(w * h * channels)).map { _ in UInt8(truncatingIfNeeded: random.next() >> 56) }
        let count = wo * ho * channels
        for map in maps {
          for options in optionsList {
            let naive = render(image, count: count, initial: UInt8(7)) {
              warpMapUInt8Naive(source: $0, width: w, height: h, channels: channels, destinationToSource: map, output: $1, outputWidth: wo,
                                outputHeight: ho, options: options)
            }
            let naiveNormalized = render(image, count: count, initial: Float.nan) {
              warpMapNormalizedNaive(source: $0, width: w, height: h, channels: channels, destinationToSource: map, output: $1, outputWidth: wo,
                                     outputHeight: ho, scale: scale, bias: bias, options: options)
            }
            for path in [WarpKernelPath.portable] + paths {
              warpKernelPath = path
              let fast = render(image, count: count, initial: UInt8(7)) {
                warpMapUInt8(source: $0, width: w, height: h, channels: channels, destinationToSource: map, output: $1, outputWidth: wo,
                             outputHeight: ho, options: options)
              }
              XCTAssertEqual(fast, naive, "\(path) \(channels)ch \(w)x\(h) -> \(wo)x\(ho) \(map) \(options)")
              let normalized = render(image, count: count, initial: Float.nan) {
                warpMapNormalized(source: $0, width: w, height: h, channels: channels, destinationToSource: map, output: $1, outputWidth: wo,
                                  outputHeight: ho, scale: scale, bias: bias, options: options)
              }
              XCTAssertEqual(normalized.map(\.bitPattern), naiveNormalized.map(\.bitPattern), "\(path) normalized \(channels)ch \(map) \(options)")
            }
          }
        }
        // The warps did sample: a map inside the source is not all fill.
        XCTAssertTrue(w < 8 || Set(render(image, count: count, initial: UInt8(7)) {
          warpMapUInt8(source: $0, width: w, height: h, channels: channels, destinationToSource: .thinPlateSpline(spline), output: $1,
                       outputWidth: wo, outputHeight: ho, options: WarpOptions())
        }).count > 10)
      }
    }
  }

  // MARK: - Fused affine_grid + grid_sample

  /// The B2 shape and multi-channel maps: forward bits equal; the backward's accumulation order
  /// differs (border columns join the 8-lane blocks), so gradients agree to float rounding.
  func testAVX2AffineGridSampleMatchesPortable() throws {
    try requireAVX2()
    for (n, c, h, w, ho, wo) in [(8, 1, 42, 42, 42, 42), (3, 3, 21, 21, 21, 21), (2, 2, 9, 13, 11, 8), (2, 1, 5, 5, 7, 19)] {
      for padding in [GridSamplePadding.zeros, .border] {
        for alignCorners in [false, true] {
          let options = GridSampleOptions(mode: .bilinear, padding: padding, alignCorners: alignCorners)
          let seed = UInt64(n * 100 + c * 10 + h)
          let input = randomTensor([n, c, h, w], seed: seed + 1)
          var theta = randomTensor([n, 2, 3], seed: seed + 2, low: -0.3, high: 0.3)
          for b in 0..<n { theta.data[b * 6] += 1; theta.data[b * 6 + 4] += 1 }
          let size = [n, c, ho, wo]
          let gradOutput = randomTensor(size, seed: seed + 3)
          var results: [(Tensor, Tensor, Tensor)] = []
          for path in [WarpKernelPath.portable, .avx2] {
            warpKernelPath = path
            let output = affineGridSample(input: input, theta: theta, outputSize: size, options: options, threads: 2)
            let grads = affineGridSampleBackward(gradOutput: gradOutput, input: input, theta: theta, options: options, threads: 2)
            results.append((output, grads.gradInput, grads.gradTheta))
          }
          let label = "\(size) \(options)"
          XCTAssertEqual(results[0].0, results[1].0, "forward \(label)")
          XCTAssertNil(closeness(results[1].1, results[0].1, atol: 1e-6, rtol: 1e-6), "gradInput \(label)")
          // NOTE: gradTheta sums Ho·Wo float terms per image (per row in float, rows in double);
          // the different order moves the last bits of terms that largely cancel (~3e-6 relative
          // seen on the B2 shape). Both paths are also checked against the naive reference in
          // GridSampleTests.testFusedAffineMatchesNaive.
          XCTAssertNil(closeness(results[1].2, results[0].2, atol: 1e-5, rtol: 1e-5), "gradTheta \(label)")
        }
      }
    }
  }
}
