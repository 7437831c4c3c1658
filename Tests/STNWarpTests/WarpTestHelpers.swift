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
