import XCTest
import STNTensor
import STNTestSupport
@testable import STNWarp

/// The fused projective and thin-plate-spline samplers against their naive twins (the stored
/// grid through `gridSampleNaive` / `gridSampleBackwardNaive`), on every kernel path, at 1, 2 and
/// 3 threads, for every mode, padding and alignment, narrow (scalar) and wide (AVX2 rows) outputs.
final class GeneratedGridSampleTests: XCTestCase {
  func testProjectiveFastMatchesNaive() {
    var random = RandomStream(seed: 21)
    let n = 3
    var h = Tensor(shape: [n, 3, 3])
    for i in 0..<h.count { h.data[i] = Float((i % 9 == 0 || i % 9 == 4 || i % 9 == 8 ? 1 : 0) + random.uniform(-0.4, 0.4)) }
    for (ho, wo) in [(4, 5), (7, 19)] {
      let size = [n, 2, ho, wo]
      let input = randomTensor([n, 2, 6, 9], seed: 22), gradOutput = randomTensor(size, seed: 23)
      for options in allGridSampleOptions {
        let grid = projectiveGrid(homography: h, size: size, alignCorners: options.alignCorners)
        let expected = gridSampleNaive(input: input, grid: grid, options: options)
        let naive = gridSampleBackwardNaive(gradOutput: gradOutput, input: input, grid: grid, options: options)
        let expectedH = projectiveGridBackward(gradGrid: naive.gradGrid, homography: h, size: size, alignCorners: options.alignCorners)
        forEachKernelPath { kernels in
          for threads in 1...3 {
            let what = "\(kernels) \(threads) threads \(options) \(ho)x\(wo)"
            XCTAssertTrue(sameValues(projectiveGridSample(input: input, homography: h, outputSize: size, options: options, threads: threads).data, expected.data), what)
            let fast = projectiveGridSampleBackward(gradOutput: gradOutput, input: input, homography: h, options: options, threads: threads)
            XCTAssertNil(closeness(fast.gradInput, naive.gradInput, atol: 1e-5, rtol: 1e-5), what)
            XCTAssertEqual(fast.gradHomography.data, expectedH.data, what)
            let noInput = projectiveGridSampleBackward(gradOutput: gradOutput, input: input, homography: h, options: options, threads: threads, needInputGradient: false)
            XCTAssertEqual(noInput.gradInput.shape, [0])
            XCTAssertEqual(noInput.gradHomography.data, expectedH.data, what)
          }
        }
      }
    }
  }

  func testThinPlateSplineFastMatchesNaive() {
    for (ho, wo) in [(4, 5), (7, 19)] {
      for options in allGridSampleOptions {
        let basis = ThinPlateSplineGridBasis(gridSize: 3, height: ho, width: wo, alignCorners: options.alignCorners)
        var random = RandomStream(seed: 31)
        let points = Tensor(shape: [3, 9, 2], data: (0..<3).flatMap { _ in
          basis.controlPoints.flatMap { [Float($0.x + random.uniform(-0.3, 0.3)), Float($0.y + random.uniform(-0.3, 0.3))] } })
        let input = randomTensor([3, 2, 6, 9], seed: 32), gradOutput = randomTensor([3, 2, ho, wo], seed: 33)
        let grid = thinPlateSplineGrid(sourcePoints: points, basis: basis)
        let expected = gridSampleNaive(input: input, grid: grid, options: options)
        let naive = gridSampleBackwardNaive(gradOutput: gradOutput, input: input, grid: grid, options: options)
        let expectedPoints = thinPlateSplineGridBackward(gradGrid: naive.gradGrid, basis: basis)
        forEachKernelPath { kernels in
          for threads in 1...3 {
            let what = "\(kernels) \(threads) threads \(options) \(ho)x\(wo)"
            let forward = thinPlateSplineGridSample(input: input, sourcePoints: points, basis: basis, options: options, threads: threads)
            XCTAssertTrue(sameValues(forward.output.data, expected.data), what)
            XCTAssertEqual(forward.grid.data, grid.data, what)
            let fast = thinPlateSplineGridSampleBackward(gradOutput: gradOutput, input: input, grid: forward.grid, basis: basis, options: options, threads: threads)
            XCTAssertNil(closeness(fast.gradInput, naive.gradInput, atol: 1e-5, rtol: 1e-5), what)
            XCTAssertEqual(fast.gradSourcePoints.data, expectedPoints.data, what)
          }
        }
      }
    }
  }

  /// Empty inputs and outputs: zeros, no crash.
  func testEmptyShapes() {
    let h = Tensor(shape: [2, 3, 3], data: (0..<2).flatMap { _ in [1, 0, 0, 0, 1, 0, 0, 0, 1] as [Float] })
    let empty = Tensor(shape: [2, 1, 0, 4])
    let output = projectiveGridSample(input: empty, homography: h, outputSize: [2, 1, 3, 9], options: GridSampleOptions())
    XCTAssertEqual(output.data, [Float](repeating: 0, count: 54))
    let grads = projectiveGridSampleBackward(gradOutput: randomTensor([2, 1, 3, 9], seed: 1), input: empty, homography: h, options: GridSampleOptions())
    XCTAssertEqual(grads.gradHomography.data, [Float](repeating: 0, count: 18))
    XCTAssertEqual(projectiveGridSample(input: randomTensor([2, 1, 3, 3], seed: 2), homography: h, outputSize: [2, 1, 0, 5], options: GridSampleOptions()).count, 0)
  }
}
