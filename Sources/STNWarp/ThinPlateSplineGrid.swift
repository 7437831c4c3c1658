import STNTensor

// Thin-plate-spline grid: K fixed control points c_k in output normalized coordinates, and per
// image their source positions s_k (N,K,2) in input normalized coordinates. The grid is the
// spline f with f(c_k) = s_k evaluated at the output pixel centres p (`affineGridBase`, so
// align_corners means what it means for `affine_grid`):
//
//   grid[n, p] = f_n(p) = Σ_k B_k(p) · s_k,   B_k(p) = Σ_j φ_j(p) · M[j, k]
//
// with φ(p) = (U(|p - c_1|) ... U(|p - c_K|), 1, p.x, p.y) and M the first K columns of the
// inverse TPS system matrix (`ThinPlateSpline`). The grid is linear in s, so the backward is
// gradS_k = Σ_p B_k(p) · gradGrid(p). Since a TPS reproduces affine maps, Σ_k B_k(p)·c_k = p,
// and the grid is computed as p + Σ_k B_k(p)·(s_k - c_k): zero displacement gives exactly the
// `affine_grid` identity grid, in float32 too.

/// The TPS grid generator for one output size and one set of control points: the basis B_k(p)
/// of every output pixel, precomputed in double and stored as float32.
public struct ThinPlateSplineGridBasis: Sendable {
  /// The control points c_k (output normalized coordinates), K of them.
  public let controlPoints: [SIMD2<Double>]
  /// The same as float32, subtracted from the source positions.
  let controlPointsFloat: [Float]
  public let height: Int
  public let width: Int
  public let alignCorners: Bool
  /// B (H, K, W): row oy of control point k is basis[(oy * K + k) * W ..< +W], so each row's
  /// sums run over contiguous columns.
  let basis: [Float]
  /// Output pixel centres, as `affineGrid` has them.
  let xs: [Float]
  let ys: [Float]

  public var controlPointCount: Int { controlPoints.count }

  /// The basis for an `height` x `width` output; nil when the control points do not determine
  /// a spline (see `ThinPlateSpline.init`).
  public init?(controlPoints: [SIMD2<Double>], height: Int, width: Int, alignCorners: Bool) {
    guard height >= 0, width >= 0, let m = ThinPlateSpline.interpolationMatrix(controlPoints: controlPoints) else { return nil }
    let k = controlPoints.count
    self.controlPoints = controlPoints
    controlPointsFloat = controlPoints.flatMap { [Float($0.x), Float($0.y)] }
    self.height = height
    self.width = width
    self.alignCorners = alignCorners
    xs = affineGridBase(steps: width, alignCorners: alignCorners)
    ys = affineGridBase(steps: height, alignCorners: alignCorners)
    var basis = [Float](repeating: 0, count: height * k * width)
    var phi = [Double](repeating: 0, count: k + 3)
    for oy in 0..<height {
      for ox in 0..<width {
        let p = SIMD2(Double(xs[ox]), Double(ys[oy]))
        for j in 0..<k {
          let d = p - controlPoints[j]
          phi[j] = ThinPlateSpline.radialBasis(squaredDistance: (d * d).sum())
        }
        phi[k] = 1
        phi[k + 1] = p.x
        phi[k + 2] = p.y
        for column in 0..<k {
          var sum = 0.0
          for j in 0..<(k + 3) { sum += phi[j] * m[j * k + column] }
          basis[(oy * k + column) * width + ox] = Float(sum)
        }
      }
    }
    self.basis = basis
  }

  /// The basis on a regular `gridSize` x `gridSize` control grid spanning [-1, 1]²
  /// (`ThinPlateSpline.regularGrid`; 4 gives the paper's 16 points). gridSize >= 2.
  public init(gridSize: Int, height: Int, width: Int, alignCorners: Bool) {
    // A regular grid of at least 2x2 points always determines a spline.
    guard let basis = ThinPlateSplineGridBasis(
      controlPoints: ThinPlateSpline.regularGrid(size: gridSize), height: height, width: width, alignCorners: alignCorners)
    else { preconditionFailure("a regular \(gridSize)x\(gridSize) control grid determines a spline") }
    self = basis
  }

  /// B_k(p) for output pixel (ox, oy).
  public func weight(controlPoint k: Int, x ox: Int, y oy: Int) -> Float {
    basis[(oy * controlPointCount + k) * width + ox]
  }

  // MARK: - Rows

  /// Normalized source coordinates of output row `oy` into gx, gy (`width` each), for
  /// displacements d (K,2).
  @inline(__always)
  func fillRow(_ oy: Int, displacements d: UnsafePointer<Float>, gx: UnsafeMutablePointer<Float>, gy: UnsafeMutablePointer<Float>) {
    let k = controlPointCount, w = width
    let y = ys[oy]
    basis.withUnsafeBufferPointer { basisBuffer in
      xs.withUnsafeBufferPointer { xsBuffer in
        for ox in 0..<w {
          gx[ox] = xsBuffer[ox]
          gy[ox] = y
        }
        let rowBasis = basisBuffer.baseAddress! + oy * k * w
        for j in 0..<k {
          let b = rowBasis + j * w
          let dx = d[2 * j], dy = d[2 * j + 1]
          for ox in 0..<w {
            gx[ox] += b[ox] * dx
            gy[ox] += b[ox] * dy
          }
        }
      }
    }
  }

  /// Adds row `oy`'s share of d(loss)/d(source positions) to sums (K,2), given d(loss)/d(grid)
  /// of its columns: sums_k += Σ_ox B_k(p)·gradGrid(p), in float32 over the row.
  @inline(__always)
  func accumulateRowGradient(_ oy: Int, gradX: UnsafePointer<Float>, gradY: UnsafePointer<Float>, into sums: UnsafeMutablePointer<Double>) {
    let k = controlPointCount, w = width
    basis.withUnsafeBufferPointer { basisBuffer in
      let rowBasis = basisBuffer.baseAddress! + oy * k * w
      for j in 0..<k {
        let b = rowBasis + j * w
        var sx: Float = 0, sy: Float = 0
        for ox in 0..<w {
          sx += b[ox] * gradX[ox]
          sy += b[ox] * gradY[ox]
        }
        sums[2 * j] += Double(sx)
        sums[2 * j + 1] += Double(sy)
      }
    }
  }

  /// Displacements s - c of every image: (N,K,2) flat.
  func allDisplacements(_ sourcePoints: Tensor) -> [Float] {
    let k2 = 2 * controlPointCount, n = sourcePoints.shape[0]
    var d = [Float](repeating: 0, count: n * k2)
    for b in 0..<n {
      for i in 0..<k2 { d[b * k2 + i] = sourcePoints.data[b * k2 + i] - controlPointsFloat[i] }
    }
    return d
  }

  func checkSourcePoints(_ sourcePoints: Tensor, function: String) {
    precondition(sourcePoints.rank == 3 && sourcePoints.shape[1] == controlPointCount && sourcePoints.shape[2] == 2,
                 "\(function) source points must be (N,\(controlPointCount),2), got \(sourcePoints.shape)")
  }
}

// MARK: - Forward

/// Sampling grid of a thin-plate spline.
///
/// sourcePoints (N,K,2) -> grid (N,H,W,2) with H, W, K and align_corners those of `basis`.
public func thinPlateSplineGrid(sourcePoints: Tensor, basis: ThinPlateSplineGridBasis) -> Tensor {
  basis.checkSourcePoints(sourcePoints, function: "thinPlateSplineGrid")
  let (n, h, w, k) = (sourcePoints.shape[0], basis.height, basis.width, basis.controlPointCount)
  var gx = [Float](repeating: 0, count: w), gy = [Float](repeating: 0, count: w)
  let displacements = basis.allDisplacements(sourcePoints)
  var grid = Tensor(shape: [n, h, w, 2])
  displacements.withUnsafeBufferPointer { d in
    for b in 0..<n {
      for oy in 0..<h {
        basis.fillRow(oy, displacements: d.baseAddress! + b * 2 * k, gx: &gx, gy: &gy)
        for ox in 0..<w {
          let g = ((b * h + oy) * w + ox) * 2
          grid.data[g] = gx[ox]
          grid.data[g + 1] = gy[ox]
        }
      }
    }
  }
  return grid
}

// MARK: - Backward

/// Gradient of `sum(thinPlateSplineGrid(sourcePoints) * gradGrid)` with respect to the source
/// positions (equally, to the displacements s - c).
///
/// gradGrid (N,H,W,2) -> gradSourcePoints (N,K,2).
public func thinPlateSplineGridBackward(gradGrid: Tensor, basis: ThinPlateSplineGridBasis) -> Tensor {
  let (h, w, k) = (basis.height, basis.width, basis.controlPointCount)
  precondition(gradGrid.rank == 4 && Array(gradGrid.shape.dropFirst()) == [h, w, 2],
               "thinPlateSplineGridBackward gradGrid must be (N,\(h),\(w),2), got \(gradGrid.shape)")
  let n = gradGrid.shape[0]
  var gradX = [Float](repeating: 0, count: w), gradY = [Float](repeating: 0, count: w)
  var sums = [Double](repeating: 0, count: 2 * k)
  var gradPoints = Tensor(shape: [n, k, 2])
  for b in 0..<n {
    for i in 0..<(2 * k) { sums[i] = 0 }
    for oy in 0..<h {
      for ox in 0..<w {
        let g = ((b * h + oy) * w + ox) * 2
        gradX[ox] = gradGrid.data[g]
        gradY[ox] = gradGrid.data[g + 1]
      }
      basis.accumulateRowGradient(oy, gradX: gradX, gradY: gradY, into: &sums)
    }
    for i in 0..<(2 * k) { gradPoints.data[b * 2 * k + i] = Float(sums[i]) }
  }
  return gradPoints
}

// MARK: - Fused with grid_sample

/// `gridSample(input, thinPlateSplineGrid(sourcePoints, basis))` without storing the grid.
///
/// input (N,C,H,W), sourcePoints (N,K,2) -> output (N,C,Ho,Wo) with Ho, Wo those of `basis`,
/// equal to the two-step form bit for bit, whatever `threads`. `options.alignCorners` must be the
/// basis's.
public func thinPlateSplineGridSample(
  input: Tensor, sourcePoints: Tensor, basis: ThinPlateSplineGridBasis, options: GridSampleOptions, threads: Int = 1
) -> Tensor {
  precondition(input.rank == 4 && sourcePoints.shape.first == input.shape.first,
               "thinPlateSplineGridSample input (N,C,H,W) \(input.shape) and source points (N,K,2) \(sourcePoints.shape) must share N")
  basis.checkSourcePoints(sourcePoints, function: "thinPlateSplineGridSample")
  precondition(options.alignCorners == basis.alignCorners, "thinPlateSplineGridSample: options and basis disagree on align_corners")
  let displacements = basis.allDisplacements(sourcePoints)
  let outputSize = [input.shape[0], input.shape[1], basis.height, basis.width]
  return displacements.withUnsafeBufferPointer { d in
    generatedGridSample(input: input, outputSize: outputSize, options: options, threads: threads) { b, oy, gx, gy in
      basis.fillRow(oy, displacements: d.baseAddress! + b * 2 * basis.controlPointCount, gx: gx, gy: gy)
    }
  }
}

/// Gradients of `sum(thinPlateSplineGridSample(input, sourcePoints) * gradOutput)` with respect to
/// input and source points.
///
/// gradOutput (N,C,Ho,Wo), input (N,C,H,W), sourcePoints (N,K,2) -> gradInput (N,C,H,W) (empty [0]
/// when `needInputGradient` is false), gradSourcePoints (N,K,2). Equals gridSampleBackward
/// followed by thinPlateSplineGridBackward up to float32 rounding of the input-gradient sums.
public func thinPlateSplineGridSampleBackward(
  gradOutput: Tensor, input: Tensor, sourcePoints: Tensor, basis: ThinPlateSplineGridBasis, options: GridSampleOptions,
  threads: Int = 1, needInputGradient: Bool = true
) -> (gradInput: Tensor, gradSourcePoints: Tensor) {
  basis.checkSourcePoints(sourcePoints, function: "thinPlateSplineGridSampleBackward")
  precondition(gradOutput.rank == 4 && Array(gradOutput.shape[2...]) == [basis.height, basis.width],
               "thinPlateSplineGridSampleBackward gradOutput must be (N,C,\(basis.height),\(basis.width)), got \(gradOutput.shape)")
  precondition(options.alignCorners == basis.alignCorners, "thinPlateSplineGridSampleBackward: options and basis disagree on align_corners")
  let n = sourcePoints.shape[0], k = basis.controlPointCount
  let displacements = basis.allDisplacements(sourcePoints)
  var sums = [Double](repeating: 0, count: n * 2 * k)
  let gradInput = displacements.withUnsafeBufferPointer { d in
    sums.withUnsafeMutableBufferPointer { sumsBuffer in
      let perImage = sumsBuffer.baseAddress!
      return generatedGridSampleBackward(
        gradOutput: gradOutput, input: input, options: options, threads: threads, needInputGradient: needInputGradient,
        generator: { b, oy, gx, gy in basis.fillRow(oy, displacements: d.baseAddress! + b * 2 * k, gx: gx, gy: gy) },
        rowGradient: { b, oy, gradX, gradY in basis.accumulateRowGradient(oy, gradX: gradX, gradY: gradY, into: perImage + b * 2 * k) })
    }
  }
  return (gradInput, Tensor(shape: [n, k, 2], data: sums.map { Float($0) }))
}
