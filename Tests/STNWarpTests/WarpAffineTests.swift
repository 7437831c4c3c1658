import XCTest
import STNTensor
@testable import STNWarp

final class WarpAffineTests: XCTestCase {
  func randomImage(width: Int, height: Int, channels: Int, seed: UInt64) -> [UInt8] {
    var random = RandomStream(seed: seed)
    return (0..<(width * height * channels)).map { _ in UInt8(truncatingIfNeeded: random.next() >> 56) }
  }

  /// A random destination->source map: rotation, scale, shear, translation about the centre.
  func randomTransform(_ random: inout RandomStream, width: Int, height: Int, outputWidth: Int, outputHeight: Int, shift: Double) -> AffineTransform {
    let center = AffineTransform.center(width: width, height: height)
    let outCenter = AffineTransform.center(width: outputWidth, height: outputHeight)
    return AffineTransform.translation(x: center.x + random.uniform(-shift, shift), y: center.y + random.uniform(-shift, shift))
      * .rotation(degrees: random.uniform(-180, 180)) * .scale(x: random.uniform(0.5, 1.6), y: random.uniform(0.5, 1.6))
      * .shear(xDegrees: random.uniform(-20, 20)) * .translation(x: -outCenter.x, y: -outCenter.y)
  }

  func warpNormalized(_ image: [UInt8], _ w: Int, _ h: Int, _ c: Int, _ t: AffineTransform, _ wo: Int, _ ho: Int,
                      scale: [Float], bias: [Float], options: WarpOptions, naive: Bool) -> [Float] {
    var output = [Float](repeating: .nan, count: wo * ho * c)
    image.withUnsafeBufferPointer { src in
      output.withUnsafeMutableBufferPointer { dst in
        if naive {
          warpAffineNormalizedNaive(source: src.baseAddress!, width: w, height: h, channels: c, destinationToSource: t, output: dst.baseAddress!,
                                    outputWidth: wo, outputHeight: ho, scale: scale, bias: bias, options: options)
        } else {
          warpAffineNormalized(source: src.baseAddress!, width: w, height: h, channels: c, destinationToSource: t, output: dst.baseAddress!,
                               outputWidth: wo, outputHeight: ho, scale: scale, bias: bias, options: options)
        }
      }
    }
    return output
  }

  func warpBytes(_ image: [UInt8], _ w: Int, _ h: Int, _ c: Int, _ t: AffineTransform, _ wo: Int, _ ho: Int, options: WarpOptions, naive: Bool) -> [UInt8] {
    var output = [UInt8](repeating: 7, count: wo * ho * c)
    image.withUnsafeBufferPointer { src in
      output.withUnsafeMutableBufferPointer { dst in
        if naive {
          warpAffineUInt8Naive(source: src.baseAddress!, width: w, height: h, channels: c, destinationToSource: t, output: dst.baseAddress!,
                               outputWidth: wo, outputHeight: ho, options: options)
        } else {
          warpAffineUInt8(source: src.baseAddress!, width: w, height: h, channels: c, destinationToSource: t, output: dst.baseAddress!,
                          outputWidth: wo, outputHeight: ho, options: options)
        }
      }
    }
    return output
  }

  /// Every mode and padding, with a fill and with fill 0 (whose all-outside positions take a
  /// shortcut in the fast kernels).
  static let allWarpOptions: [WarpOptions] = GridSampleMode.allCases.flatMap { mode in
    GridSamplePadding.allCases.flatMap { padding in
      [[10, 128, 250], [0, 0, 0]].map { WarpOptions(mode: mode, padding: padding, fill: $0) }
    }
  }

  // MARK: - Hand-computed cases

  /// Identity copies the image; a one-pixel shift moves it and fills the uncovered column.
  func testHandComputed() {
    let image: [UInt8] = [10, 20, 30, 40, 50, 60]  // 3x2, one channel
    XCTAssertEqual(warpBytes(image, 3, 2, 1, .identity, 3, 2, options: WarpOptions(), naive: false), image)
    let shifted = warpBytes(image, 3, 2, 1, .translation(x: 1, y: 0), 3, 2, options: WarpOptions(fill: [99]), naive: false)
    XCTAssertEqual(shifted, [20, 30, 99, 50, 60, 99])
    // Half a pixel to the right: averages of neighbours; past the edge half the fill.
    let half = warpNormalized(image, 3, 2, 1, .translation(x: 0.5, y: 0), 3, 2, scale: [1], bias: [0], options: WarpOptions(), naive: false)
    XCTAssertEqual(half, [15, 25, 15, 45, 55, 30])
    // Normalization: (value·scale + bias).
    let normalized = warpNormalized(image, 3, 2, 1, .identity, 3, 2, scale: [0.5], bias: [-1], options: WarpOptions(), naive: false)
    XCTAssertEqual(normalized, [4, 9, 14, 19, 24, 29])
    // Border padding repeats the edge instead of filling.
    let border = warpBytes(image, 3, 2, 1, .translation(x: 1, y: 0), 3, 2, options: WarpOptions(padding: .border, fill: [99]), naive: false)
    XCTAssertEqual(border, [20, 30, 30, 50, 60, 60])
  }

  // MARK: - Fast against naive

  /// The fast fused kernels equal their naive twins exactly: every mode and padding, 1/2/3
  /// channels, odd sizes, maps that stay inside, cross the border, or miss the image.
  func testFastMatchesNaive() {
    forEachKernelPath { _ in fastMatchesNaive() }
  }

  func fastMatchesNaive() {
    var random = RandomStream(seed: 7)
    for options in Self.allWarpOptions {
      for (w, h, c, wo, ho) in [(13, 9, 3, 11, 15), (20, 17, 1, 19, 21), (6, 5, 2, 7, 4), (1, 1, 3, 3, 2), (31, 29, 3, 24, 24)] {
        let image = randomImage(width: w, height: h, channels: c, seed: random.next())
        let fill = Array(options.fill.prefix(c))
        var opts = options
        opts.fill = c == 3 ? fill : [fill[0]]
        for shift in [0.0, 3.0, 40.0] {
          let t = randomTransform(&random, width: w, height: h, outputWidth: wo, outputHeight: ho, shift: shift)
          let scale = (0..<c).map { Float($0) * 0.01 + 1 / 255 }, bias = (0..<c).map { -Float($0) - 0.5 }
          let fast = warpNormalized(image, w, h, c, t, wo, ho, scale: scale, bias: bias, options: opts, naive: false)
          let naive = warpNormalized(image, w, h, c, t, wo, ho, scale: scale, bias: bias, options: opts, naive: true)
          XCTAssertEqual(fast, naive, "normalized \(opts) \(w)x\(h)x\(c) shift \(shift) \(warpKernelPath)")
          XCTAssertEqual(warpBytes(image, w, h, c, t, wo, ho, options: opts, naive: false),
                         warpBytes(image, w, h, c, t, wo, ho, options: opts, naive: true), "uint8 \(opts) \(w)x\(h)x\(c)")
        }
      }
    }
  }

  /// A batch warped with one image per task is byte-identical at 1, 2 and 3 threads, and equal
  /// to the naive twin, on every kernel path.
  func testUInt8BatchSameForAnyThreadCount() {
    forEachKernelPath { path in
      var random = RandomStream(seed: 21)
      let (n, w, h, c, wo, ho) = (5, 45, 38, 3, 41, 37)
      let imageBytes = w * h * c, outputBytes = wo * ho * c
      let images = (0..<n).flatMap { randomImage(width: w, height: h, channels: c, seed: UInt64(100 + $0)) }
      let maps = (0..<n).map { _ in randomTransform(&random, width: w, height: h, outputWidth: wo, outputHeight: ho, shift: 3) }
      let expected = (0..<n).flatMap { i in
        warpBytes(Array(images[i * imageBytes..<(i + 1) * imageBytes]), w, h, c, maps[i], wo, ho, options: WarpOptions(), naive: true)
      }
      for threads in [1, 2, 3] {
        var output = [UInt8](repeating: 7, count: n * outputBytes)
        images.withUnsafeBufferPointer { src in
          output.withUnsafeMutableBufferPointer { dst in
            let source = src.baseAddress!, destination = dst.baseAddress!
            parallelFor(chunks: n, threads: threads) { i in
              warpAffineUInt8(source: source + i * imageBytes, width: w, height: h, channels: c, destinationToSource: maps[i],
                              output: destination + i * outputBytes, outputWidth: wo, outputHeight: ho, options: WarpOptions())
            }
          }
        }
        XCTAssertEqual(output, expected, "\(path) threads \(threads)")
      }
    }
  }

  /// `touchingSpan`, when it answers, is exactly the set of columns whose taps touch the source.
  func testTouchingSpanIsExact() {
    var random = RandomStream(seed: 13)
    var answered = 0
    for _ in 0..<2000 {
      let (w, h, wo) = (Int(random.next() % 40) + 1, Int(random.next() % 40) + 1, Int(random.next() % 60) + 1)
      let t = AffineTransform(a: random.uniform(-2, 2), b: 0, c: random.uniform(-60, 60), d: random.uniform(-2, 2), e: 0, f: random.uniform(-60, 60))
      let row = WarpRow(t, y: 0)
      guard let span = touchingSpan(row, outputWidth: wo, width: w, height: h) else { continue }
      answered += 1
      let touching = (0..<wo).filter {
        !bilinearMissesInput(x: paddedPixelCoordinate(row.x($0), size: w, padding: .zeros), y: paddedPixelCoordinate(row.y($0), size: h, padding: .zeros), width: w, height: h)
      }
      XCTAssertEqual(Array(span), touching, "\(w)x\(h) -> \(wo) \(t)")
    }
    XCTAssertGreaterThan(answered, 1000)
  }

  /// uint8 output is the float sample rounded to nearest and clamped.
  func testUInt8IsRoundedFloat() {
    var random = RandomStream(seed: 9)
    let (w, h, c) = (17, 12, 3)
    let image = randomImage(width: w, height: h, channels: c, seed: 3)
    for options in Self.allWarpOptions {
      let t = randomTransform(&random, width: w, height: h, outputWidth: 15, outputHeight: 14, shift: 4)
      let planar = warpNormalized(image, w, h, c, t, 15, 14, scale: [1, 1, 1], bias: [0, 0, 0], options: options, naive: false)
      let bytes = warpBytes(image, w, h, c, t, 15, 14, options: options, naive: false)
      for p in 0..<(15 * 14) {
        for ch in 0..<c { XCTAssertEqual(bytes[p * c + ch], roundToUInt8(planar[ch * 15 * 14 + p])) }
      }
    }
    XCTAssertEqual(roundToUInt8(-3), 0)
    XCTAssertEqual(roundToUInt8(254.5), 255)
    XCTAssertEqual(roundToUInt8(300), 255)
    XCTAssertEqual(roundToUInt8(2.49), 2)
  }

  // MARK: - Equivalence with gridSample

  /// warpAffineNormalized(D) == gridSample(align_corners=false, theta = samplingTheta(D)) on the
  /// image as float, with fill f meaning gridSample(image - f) + f. Bilinear agrees to float
  /// rounding of the coordinates; nearest may differ only where a coordinate is a rounding tie.
  func testEquivalentToGridSample() throws {
    var random = RandomStream(seed: 11)
    let (w, h, c, wo, ho) = (23, 19, 3, 21, 25)
    let image = randomImage(width: w, height: h, channels: c, seed: 5)
    for options in Self.allWarpOptions {
      for shift in [0.0, 8.0] {
        let t = randomTransform(&random, width: w, height: h, outputWidth: wo, outputHeight: ho, shift: shift)
        let warped = warpNormalized(image, w, h, c, t, wo, ho, scale: [1, 1, 1], bias: [0, 0, 0], options: options, naive: false)
        let fill = options.padding == .zeros ? options.fill : [0, 0, 0]
        var input = Tensor(shape: [1, c, h, w])
        for y in 0..<h { for x in 0..<w { for ch in 0..<c { input.data[(ch * h + y) * w + x] = Float(image[(y * w + x) * c + ch]) - fill[ch] } } }
        let theta = AffineTransform.samplingTheta(destinationToSource: t, inputWidth: w, inputHeight: h, outputWidth: wo, outputHeight: ho, alignCorners: false)
        let grid = affineGrid(theta: Tensor(shape: [1, 2, 3], data: theta.theta), size: [1, c, ho, wo], alignCorners: false)
        let sampled = gridSample(input: input, grid: grid, options: GridSampleOptions(mode: options.mode, padding: options.padding, alignCorners: false))
        var mismatches = 0
        for ch in 0..<c {
          for p in 0..<(wo * ho) {
            let expected = sampled.data[ch * wo * ho + p] + fill[ch]
            if abs(warped[ch * wo * ho + p] - expected) > 0.02 { mismatches += 1 }
          }
        }
        if options.mode == .bilinear {
          XCTAssertEqual(mismatches, 0, "\(options) shift \(shift)")
        } else {
          XCTAssertLessThanOrEqual(mismatches, wo * ho * c / 100, "\(options) shift \(shift)")
        }
      }
    }
  }
}
