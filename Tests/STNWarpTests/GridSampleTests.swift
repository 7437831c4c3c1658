import XCTest
import STNFiles
import STNTensor
import STNTestSupport
@testable import STNWarp

final class GridSampleTests: XCTestCase {
  let square = Tensor(shape: [1, 1, 2, 2], data: [1, 2, 3, 4])

  func sample(_ x: Float, _ y: Float, _ options: GridSampleOptions) -> Float {
    gridSampleNaive(input: square, grid: Tensor(shape: [1, 1, 1, 2], data: [x, y]), options: options).data[0]
  }

  // MARK: - Hand-computed cases

  /// Values worked out on paper for a 2x2 image [[1, 2], [3, 4]].
  func testHandComputedForward() {
    let ac = GridSampleOptions(alignCorners: true)
    XCTAssertEqual(sample(0, 0, ac), 2.5)
    XCTAssertEqual(sample(-1, -1, ac), 1)
    XCTAssertEqual(sample(1, 1, ac), 4)
    XCTAssertEqual(sample(1, -1, ac), 2)
    // x = 0.5 -> pixel 0.75 with align_corners; y = -1 -> row 0: 1 + 0.75.
    XCTAssertEqual(sample(0.5, -1, ac), 1.75)
    // align_corners=false: (0, 0) is the image centre, pixel (0.5, 0.5).
    XCTAssertEqual(sample(0, 0, GridSampleOptions()), 2.5)
    // (-1, -1) is the outer corner, pixel (-0.5, -0.5): zeros padding keeps 1/4 of pixel 1.
    XCTAssertEqual(sample(-1, -1, GridSampleOptions()), 0.25)
    XCTAssertEqual(sample(-1, -1, GridSampleOptions(padding: .border)), 1)
    // Reflection about the edge -0.5 lands on -0.5, then the clip to 0 reads pixel 1.
    XCTAssertEqual(sample(-1, -1, GridSampleOptions(padding: .reflection)), 1)
    // x = -1.5 -> pixel -1 -> reflected about -0.5 to 0: exactly pixel 1 (column 0).
    XCTAssertEqual(sample(-1.5, -0.5, GridSampleOptions(padding: .reflection)), 1)
    // Reflection with align_corners about the centre of pixel 0: x = -2 -> pixel -0.5 -> 0.5.
    XCTAssertEqual(sample(-2, -1, GridSampleOptions(padding: .reflection, alignCorners: true)), 1.5)
    // Far outside with zeros padding reads nothing.
    XCTAssertEqual(sample(5, 5, GridSampleOptions()), 0)
    // Nearest: pixel (0.5, 0.5) rounds half to even -> (0, 0); pixel 1.5 -> 2 (outside) -> 0.
    XCTAssertEqual(sample(0, 0, GridSampleOptions(mode: .nearest)), 1)
    XCTAssertEqual(sample(0.5, -0.5, GridSampleOptions(mode: .nearest)), 2)
    XCTAssertEqual(sample(1, 0, GridSampleOptions(mode: .nearest)), 0)
    XCTAssertEqual(sample(1, 0, GridSampleOptions(mode: .nearest, padding: .border)), 2)
  }

  /// Backward at the centre of the 2x2 image with align_corners: each pixel gets 1/4; the grid
  /// gradient is the image slope times d(pixel)/d(normalized) = 1/2.
  func testHandComputedBackward() {
    let grid = Tensor(shape: [1, 1, 1, 2], data: [0, 0])
    let options = GridSampleOptions(alignCorners: true)
    let gradOutput = Tensor(shape: [1, 1, 1, 1], data: [1])
    for (gradInput, gradGrid) in [
      gridSampleBackwardNaive(gradOutput: gradOutput, input: square, grid: grid, options: options),
      gridSampleBackward(gradOutput: gradOutput, input: square, grid: grid, options: options),
    ] {
      XCTAssertEqual(gradInput.data, [0.25, 0.25, 0.25, 0.25])
      XCTAssertEqual(gradGrid.data, [0.5, 1.0])
    }
    // Border padding at a clipped coordinate: zero grid gradient along x.
    let clipped = gridSampleBackwardNaive(gradOutput: gradOutput, input: square, grid: Tensor(shape: [1, 1, 1, 2], data: [-1.5, 0]),
                                          options: GridSampleOptions(padding: .border, alignCorners: true))
    XCTAssertEqual(clipped.gradGrid.data[0], 0)
    XCTAssertEqual(clipped.gradInput.data, [0.5, 0, 0.5, 0])
    // Reflection flips the sign: just left of the edge the image is read mirrored.
    let inside = gridSampleBackwardNaive(gradOutput: gradOutput, input: square, grid: Tensor(shape: [1, 1, 1, 2], data: [-0.5, 0]),
                                         options: GridSampleOptions(padding: .reflection, alignCorners: true))
    let mirrored = gridSampleBackwardNaive(gradOutput: gradOutput, input: square, grid: Tensor(shape: [1, 1, 1, 2], data: [-1.5, 0]),
                                           options: GridSampleOptions(padding: .reflection, alignCorners: true))
    XCTAssertEqual(inside.gradGrid.data[0], -mirrored.gradGrid.data[0])
    XCTAssertEqual(inside.gradInput.data, mirrored.gradInput.data)
    // Nearest: all gradient to the nearest pixel, none to the grid.
    let nearest = gridSampleBackwardNaive(gradOutput: gradOutput, input: square, grid: Tensor(shape: [1, 1, 1, 2], data: [0.6, 0.6]),
                                          options: GridSampleOptions(mode: .nearest, alignCorners: true))
    XCTAssertEqual(nearest.gradInput.data, [0, 0, 0, 1])
    XCTAssertEqual(nearest.gradGrid.data, [0, 0])
  }

  // MARK: - Finite differences

  /// A random grid whose every coordinate is away from kinks, so finite differences apply.
  func smoothGrid(_ shape: [Int], inputHeight: Int, inputWidth: Int, options: GridSampleOptions, seed: UInt64, delta: Float) -> Tensor {
    var random = RandomStream(seed: seed)
    var grid = Tensor(shape: shape)
    for i in stride(from: 0, to: grid.count, by: 2) {
      for axis in 0..<2 {
        var value: Float
        repeat {
          value = Float(random.uniform(-1.6, 1.6))
        } while !isSmooth(value, size: axis == 0 ? inputWidth : inputHeight, options: options, delta: delta)
        grid.data[i + axis] = value
      }
    }
    return grid
  }

  /// Input and grid gradients match central differences for every mode, padding and alignment.
  func testFiniteDifferences() {
    for (k, options) in allGridSampleOptions.enumerated() {
      let input = randomTensor([2, 2, 4, 5], seed: 10 + UInt64(k))
      let epsilon: Float = 1e-3
      let grid = smoothGrid([2, 3, 4, 2], inputHeight: 4, inputWidth: 5, options: options, seed: 20 + UInt64(k), delta: 2 * epsilon)
      let gradOutput = randomTensor([2, 2, 3, 4], seed: 30 + UInt64(k))
      let (gradInput, gradGrid) = gridSampleBackward(gradOutput: gradOutput, input: input, grid: grid, options: options)
      let numericInput = numericalGradient(of: { dot(gridSampleNaive(input: $0, grid: grid, options: options), gradOutput) }, at: input, epsilon: 0.5)
      XCTAssertNil(closeness(gradInput, numericInput, atol: 1e-4, rtol: 1e-4), "gradInput \(options)")
      let numericGrid = numericalGradient(of: { dot(gridSampleNaive(input: input, grid: $0, options: options), gradOutput) }, at: grid, epsilon: epsilon)
      XCTAssertNil(closeness(gradGrid, numericGrid, atol: 2e-2, rtol: 1e-2), "gradGrid \(options)")
    }
  }

  /// theta gradients through affineGrid + gridSample match central differences.
  func testFiniteDifferencesThroughAffineGrid() {
    for (k, options) in allGridSampleOptions.enumerated() where options.mode == .bilinear {
      let input = randomTensor([2, 2, 5, 6], seed: 40 + UInt64(k))
      let size = [2, 2, 4, 5]
      let gradOutput = randomTensor(size, seed: 50 + UInt64(k))
      let epsilon: Float = 1e-3
      var random = RandomStream(seed: 60 + UInt64(k))
      var theta = Tensor(shape: [2, 2, 3])
      // Draw thetas until every grid point is away from kinks by more than theta's perturbation.
      var attempts = 0
      repeat {
        for i in 0..<6 {
          let identity: Double = (i == 0 || i == 4) ? 1 : 0
          for b in 0..<2 { theta.data[b * 6 + i] = Float(identity + random.uniform(-0.6, 0.6)) }
        }
        attempts += 1
      } while attempts < 500 && !affineGrid(theta: theta, size: size, alignCorners: options.alignCorners).data.enumerated().allSatisfy {
        isSmooth($0.element, size: $0.offset % 2 == 0 ? 6 : 5, options: options, delta: 4 * epsilon)
      }
      XCTAssertLessThan(attempts, 500, "no smooth theta found for \(options)")
      let grid = affineGrid(theta: theta, size: size, alignCorners: options.alignCorners)
      let gradGrid = gridSampleBackward(gradOutput: gradOutput, input: input, grid: grid, options: options).gradGrid
      let gradTheta = affineGridBackward(gradGrid: gradGrid, size: size, alignCorners: options.alignCorners)
      let numeric = numericalGradient(of: {
        dot(gridSampleNaive(input: input, grid: affineGrid(theta: $0, size: size, alignCorners: options.alignCorners), options: options), gradOutput)
      }, at: theta, epsilon: epsilon)
      XCTAssertNil(closeness(gradTheta, numeric, atol: 3e-2, rtol: 1e-2), "gradTheta \(options)")
      // The fused path gives the same gradient.
      let fused = affineGridSampleBackward(gradOutput: gradOutput, input: input, theta: theta, options: options)
      XCTAssertNil(closeness(fused.gradTheta, gradTheta, atol: 1e-4, rtol: 1e-4), "fused gradTheta \(options)")
    }
  }

  // MARK: - Fast kernels against their naive twins

  /// The fast kernels equal the naive ones exactly, for every option, odd sizes, grids reaching
  /// outside the input, and 1 or 3 threads.
  func testFastMatchesNaive() {
    for (k, options) in allGridSampleOptions.enumerated() {
      for (n, c, h, w, ho, wo) in [(1, 3, 7, 5, 9, 11), (5, 2, 6, 9, 3, 4), (2, 1, 1, 1, 2, 3)] {
        let seed = UInt64(k * 10)
        let input = randomTensor([n, c, h, w], seed: seed + 1)
        var grid = randomTensor([n, ho, wo, 2], seed: seed + 2, low: -1.7, high: 1.7)
        grid.data[0] = .nan
        let gradOutput = randomTensor([n, c, ho, wo], seed: seed + 3)
        let expected = gridSampleNaive(input: input, grid: grid, options: options)
        let expectedGrad = gridSampleBackwardNaive(gradOutput: gradOutput, input: input, grid: grid, options: options)
        for threads in [1, 3] {
          let output = gridSample(input: input, grid: grid, options: options, threads: threads)
          XCTAssertEqual(output, expected, "forward \(options) threads \(threads)")
          let grads = gridSampleBackward(gradOutput: gradOutput, input: input, grid: grid, options: options, threads: threads)
          XCTAssertEqual(grads.gradInput, expectedGrad.gradInput, "gradInput \(options) threads \(threads)")
          XCTAssertEqual(grads.gradGrid, expectedGrad.gradGrid, "gradGrid \(options) threads \(threads)")
          let noInput = gridSampleBackward(gradOutput: gradOutput, input: input, grid: grid, options: options, threads: threads, needInputGradient: false)
          XCTAssertEqual(noInput.gradGrid, expectedGrad.gradGrid)
          XCTAssertEqual(noInput.gradInput.count, 0)
        }
      }
    }
  }

  /// The fused affine kernels equal affineGrid followed by the naive kernels.
  func testFusedAffineMatchesNaive() {
    forEachKernelPath { path in
    for (k, options) in allGridSampleOptions.enumerated() {
      for (n, c, h, w, ho, wo) in [(3, 3, 7, 5, 9, 11), (1, 1, 42, 42, 42, 42), (2, 2, 1, 3, 1, 4), (2, 2, 13, 17, 15, 23)] {
        let seed = UInt64(k * 10 + 5)
        let input = randomTensor([n, c, h, w], seed: seed + 1)
        var theta = randomTensor([n, 2, 3], seed: seed + 2, low: -0.8, high: 0.8)
        for b in 0..<n { theta.data[b * 6] += 1; theta.data[b * 6 + 4] += 1 }
        let size = [n, c, ho, wo]
        let gradOutput = randomTensor(size, seed: seed + 3)
        let grid = affineGrid(theta: theta, size: size, alignCorners: options.alignCorners)
        let expected = gridSampleNaive(input: input, grid: grid, options: options)
        let expectedGrad = gridSampleBackwardNaive(gradOutput: gradOutput, input: input, grid: grid, options: options)
        let expectedTheta = affineGridBackward(gradGrid: expectedGrad.gradGrid, size: size, alignCorners: options.alignCorners)
        for threads in [1, 3] {
          let output = affineGridSample(input: input, theta: theta, outputSize: size, options: options, threads: threads)
          XCTAssertEqual(output, expected, "forward \(options) \(size) threads \(threads) \(path)")
          let grads = affineGridSampleBackward(gradOutput: gradOutput, input: input, theta: theta, options: options, threads: threads)
          XCTAssertNil(closeness(grads.gradInput, expectedGrad.gradInput, atol: 1e-5, rtol: 1e-5), "gradInput \(options) \(size) \(path)")
          XCTAssertNil(closeness(grads.gradTheta, expectedTheta, atol: 1e-4, rtol: 1e-5), "gradTheta \(options) \(size) \(path)")
          let thetaOnly = affineGridSampleBackward(gradOutput: gradOutput, input: input, theta: theta, options: options, threads: threads,
                                                   needInputGradient: false)
          XCTAssertEqual(thetaOnly.gradTheta, grads.gradTheta, "theta-only backward \(options)")
          XCTAssertEqual(thetaOnly.gradInput.count, 0)
        }
      }
    }
    }
  }

  /// An Inf or NaN stored in the input reaches only outputs whose taps read it: border
  /// positions with taps outside must not pick it up (fast kernels read offset 0 there).
  func testNonFiniteInputDoesNotLeakIntoBorder() {
    forEachKernelPath { path in
      for options in [GridSampleOptions(), GridSampleOptions(alignCorners: true)] {
        var input = randomTensor([1, 2, 6, 6], seed: 21)
        input.data[0] = .infinity      // pixel (0, 0) of channel 0
        input.data[36] = .nan          // pixel (0, 0) of channel 1
        // Shifted right by 2.7 pixels: column 0 is never read, columns past the edge are.
        let theta = Tensor(shape: [1, 2, 3], data: [1, 0, 0.9, 0, 1, 0.1])
        let size = [1, 2, 6, 10]
        let gradOutput = randomTensor(size, seed: 22)
        let grid = affineGrid(theta: theta, size: size, alignCorners: options.alignCorners)
        let expected = gridSampleNaive(input: input, grid: grid, options: options)
        let expectedGrad = gridSampleBackwardNaive(gradOutput: gradOutput, input: input, grid: grid, options: options)
        XCTAssertTrue(expected.data.allSatisfy { $0.isFinite }, "the shifted map never reads pixel (0, 0)")
        let fused = affineGridSample(input: input, theta: theta, outputSize: size, options: options)
        XCTAssertEqual(fused, expected, "fused forward \(path) \(options)")
        XCTAssertEqual(gridSample(input: input, grid: grid, options: options), expected, "grid forward \(path)")
        let grads = gridSampleBackward(gradOutput: gradOutput, input: input, grid: grid, options: options)
        XCTAssertTrue(grads.gradGrid.data.allSatisfy { $0.isFinite }, "gradGrid \(path)")
        XCTAssertNil(closeness(grads.gradGrid, expectedGrad.gradGrid, atol: 1e-5, rtol: 1e-5))
        let fusedGrads = affineGridSampleBackward(gradOutput: gradOutput, input: input, theta: theta, options: options)
        XCTAssertTrue(fusedGrads.gradTheta.data.allSatisfy { $0.isFinite }, "gradTheta \(path) \(options)")
        XCTAssertNil(closeness(fusedGrads.gradInput, expectedGrad.gradInput, atol: 1e-5, rtol: 1e-5))
      }
    }
  }

  // MARK: - Golden cases

  /// Every grid_sample_* PyTorch case: output, grad_input and grad_grid from the stored grid.
  func testGoldenGridSample() throws {
    let cases = Golden.cases(prefix: "grid_sample_")
    XCTAssertFalse(cases.isEmpty, "no grid_sample_ golden cases in \(Golden.directory)")
    for path in cases {
      let file = try Golden.load(path)
      let options = try goldenOptions(file, path: path)
      let input = try file.tensor("input", path: path), grid = try file.tensor("grid", path: path)
      let gradOutput = try file.tensor("grad_output", path: path)
      for threads in [1, 2] {
        let output = gridSample(input: input, grid: grid, options: options, threads: threads)
        XCTAssertNil(closeness(output, try file.tensor("output", path: path), atol: 1e-5, rtol: 1e-5), "output \(path)")
        let grads = gridSampleBackward(gradOutput: gradOutput, input: input, grid: grid, options: options, threads: threads)
        XCTAssertNil(closeness(grads.gradInput, try file.tensor("grad_input", path: path), atol: 1e-4, rtol: 1e-4), "grad_input \(path)")
        XCTAssertNil(closeness(grads.gradGrid, try file.tensor("grad_grid", path: path), atol: 1e-4, rtol: 1e-4), "grad_grid \(path)")
      }
      XCTAssertNil(closeness(gridSampleNaive(input: input, grid: grid, options: options), try file.tensor("output", path: path), atol: 1e-5, rtol: 1e-5),
                   "naive output \(path)")
    }
  }

  /// Every grid_sample_* case end to end through the fused theta path (bilinear; nearest
  /// rounding may legitimately differ where a recomputed grid lands on a tie).
  func testGoldenFusedAffineGridSample() throws {
    try forEachKernelPath { _ in try goldenFusedAffineGridSample() }
  }

  func goldenFusedAffineGridSample() throws {
    for path in Golden.cases(prefix: "grid_sample_") {
      let file = try Golden.load(path)
      let options = try goldenOptions(file, path: path)
      guard options.mode == .bilinear else { continue }
      let input = try file.tensor("input", path: path), theta = try file.tensor("theta", path: path)
      let gradOutput = try file.tensor("grad_output", path: path)
      let output = try file.tensor("output", path: path)
      let output2 = affineGridSample(input: input, theta: theta, outputSize: output.shape, options: options, threads: 2)
      XCTAssertNil(closeness(output2, output, atol: 1e-4, rtol: 1e-4), "fused output \(path)")
      let grads = affineGridSampleBackward(gradOutput: gradOutput, input: input, theta: theta, options: options, threads: 2)
      XCTAssertNil(closeness(grads.gradInput, try file.tensor("grad_input", path: path), atol: 1e-4, rtol: 1e-4), "fused grad_input \(path)")
      XCTAssertNil(closeness(grads.gradTheta, try file.tensor("grad_theta", path: path), atol: 1e-3, rtol: 1e-4), "fused grad_theta \(path)")
    }
  }
}

struct GoldenMetadataError: Error, CustomStringConvertible {
  var path: String, reason: String
  var description: String { "\(path): \(reason)" }
}

/// mode / padding_mode / align_corners of a grid_sample_ golden case.
func goldenOptions(_ file: SafeTensorsFile, path: String) throws -> GridSampleOptions {
  guard let mode = file.metadata["mode"].flatMap(GridSampleMode.init(rawValue:)) else {
    throw GoldenMetadataError(path: path, reason: "bad or missing mode \(String(describing: file.metadata["mode"]))")
  }
  guard let padding = file.metadata["padding_mode"].flatMap(GridSamplePadding.init(rawValue:)) else {
    throw GoldenMetadataError(path: path, reason: "bad or missing padding_mode")
  }
  guard let align = file.metadata["align_corners"], align == "True" || align == "False" else {
    throw GoldenMetadataError(path: path, reason: "bad or missing align_corners")
  }
  return GridSampleOptions(mode: mode, padding: padding, alignCorners: align == "True")
}
