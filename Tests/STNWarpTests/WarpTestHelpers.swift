import STNFiles
import STNTestSupport
import XCTest
import STNTensor
@testable import STNWarp

/// Random tensor with values uniform in [low, high).
func randomTensor(_ shape: [Int], seed: UInt64, low: Double = -1, high: Double = 1) -> Tensor {
  var random = RandomStream(seed: seed)
  var t = Tensor(shape: shape)
  for i in 0..<t.count { t.data[i] = Float(random.uniform(low, high)) }
  return t
}

/// sum(a * b) in double precision.
func dot(_ a: Tensor, _ b: Tensor) -> Double {
  var sum = 0.0
  for i in 0..<a.count { sum += Double(a.data[i]) * Double(b.data[i]) }
  return sum
}

/// Every combination of mode, padding and align_corners.
let allGridSampleOptions: [GridSampleOptions] = GridSampleMode.allCases.flatMap { mode in
  GridSamplePadding.allCases.flatMap { padding in
    [false, true].map { GridSampleOptions(mode: mode, padding: padding, alignCorners: $0) }
  }
}

/// True when a normalized grid coordinate is at least `delta` away from every kink of the
/// sampling (integer pixel positions, clip and reflection edges): the derivative and the cell
/// are the same at coord - delta, coord and coord + delta.
func isSmooth(_ coord: Float, size: Int, options: GridSampleOptions, delta: Float) -> Bool {
  let probes = [coord - delta, coord, coord + delta].map {
    sourceIndexWithGradient($0, size: size, padding: options.padding, alignCorners: options.alignCorners)
  }
  let cells = probes.map { options.mode == .nearest ? roundHalfToEven($0.0) : $0.0.rounded(.down) }
  return probes.allSatisfy { $0.1 == probes[0].1 } && cells.allSatisfy { $0 == cells[0] }
    && probes.allSatisfy { $0.0 != -100 }
}

/// Foundation (through XCTest) also has an `AffineTransform`; tests mean this module's.
typealias AffineTransform = STNWarp.AffineTransform

/// Runs `body` once per kernel path this CPU supports (portable always; AVX2 where present),
/// with that path selected, then restores the previous selection.
func forEachKernelPath(_ body: (WarpKernelPath) throws -> Void) rethrows {
  let saved = warpKernelPath
  defer { warpKernelPath = saved }
  for path in WarpKernelPath.allCases where path.isSupported {
    warpKernelPath = path
    try body(path)
  }
}

/// Element-wise equality that also counts NaN == NaN (for outputs that legitimately hold NaN).
func sameValues(_ a: [Float], _ b: [Float]) -> Bool {
  a.count == b.count && zip(a, b).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) }
}

// MARK: - Warp-core fixtures (Fixtures/make_warp_fixtures.py)

/// Every warp fixture whose name starts with `prefix`; fails the test when there is none.
func warpFixtures(_ prefix: String, file: StaticString = #filePath, line: UInt = #line) throws -> [(path: String, file: SafeTensorsFile)] {
  let paths = OpFixtures.cases(prefix: prefix, in: OpFixtures.warpDirectory)
  XCTAssertFalse(paths.isEmpty, "no \(prefix) fixtures in \(OpFixtures.warpDirectory)", file: file, line: line)
  return try paths.map { ($0, try SafeTensorsFile(contentsOf: $0)) }
}

/// Asserts |actual - expected| <= atol + rtol·|expected| and prints the largest difference (the
/// figure the reports quote).
func assertClose(
  _ actual: Tensor, _ expected: Tensor, atol: Float, rtol: Float, _ what: String, file: StaticString = #filePath, line: UInt = #line
) {
  XCTAssertNil(closeness(actual, expected, atol: atol, rtol: rtol), what, file: file, line: line)
  print("max |difference| \(what): \(actual.maxAbsDifference(expected))")
}

/// Central, forward and backward differences of `f` around a probe (see GraphTests): a
/// piecewise smooth function may cross a kink inside the probe, where backprop equals one of the
/// one-sided differences.
func oneSidedOrCentralMatch(_ analytic: Float, f: (Float) -> Double, epsilon: Float, atol: Float, rtol: Float) -> Bool {
  let plus = f(epsilon), minus = f(-epsilon), center = f(0)
  let e = Double(epsilon)
  let candidates = [(plus - minus) / (2 * e), (plus - center) / e, (center - minus) / e].map { Float($0) }
  return candidates.contains { abs(analytic - $0) <= atol + rtol * abs($0) }
}

/// Backprop gradients of a sampler's scalar `loss(input, parameters)` against finite
/// differences: every parameter `checksParameter` accepts (probe 1e-3) and every 5th input
/// element (probe 1e-2), accepting the central or a one-sided difference at bilinear kinks.
func assertSamplerGradientsMatchFiniteDifferences(
  input: Tensor, parameters: Tensor, gradInput: Tensor, gradParameters: Tensor, checksParameter: (Int) -> Bool = { _ in true },
  file: StaticString = #filePath, line: UInt = #line, loss: (Tensor, Tensor) -> Double
) {
  for i in 0..<parameters.count where checksParameter(i) {
    var probe = parameters
    XCTAssertTrue(oneSidedOrCentralMatch(gradParameters.data[i], f: { e in probe.data[i] = parameters.data[i] + e; return loss(input, probe) },
                                         epsilon: 1e-3, atol: 2e-3, rtol: 2e-2),
                  "parameter \(i): backprop \(gradParameters.data[i])", file: file, line: line)
  }
  for i in stride(from: 0, to: input.count, by: 5) {
    var probe = input
    XCTAssertTrue(oneSidedOrCentralMatch(gradInput.data[i], f: { e in probe.data[i] = input.data[i] + e; return loss(probe, parameters) },
                                         epsilon: 1e-2, atol: 1e-3, rtol: 1e-2),
                  "input[\(i)]: backprop \(gradInput.data[i])", file: file, line: line)
  }
}
