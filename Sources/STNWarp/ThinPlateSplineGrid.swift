import CWarpKernels
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
  /// B (H, K, stride): row oy of control point k is basis[(oy * K + k) * stride ..< + W], so
  /// each row's sums run over contiguous columns, 8 or 16 at a time; `stride` is W rounded up
  /// to a multiple of 16 (the AVX-512 gradient kernel's block) and the padding holds zeros.
  let basis: [Float]
  let stride: Int
  /// Output pixel centres, as `affineGrid` has them, padded with zeros to `stride`.
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
    stride = (width + 15) / 16 * 16
    xs = affineGridBase(steps: width, alignCorners: alignCorners) + [Float](repeating: 0, count: stride - width)
    ys = affineGridBase(steps: height, alignCorners: alignCorners)
    var basis = [Float](repeating: 0, count: height * k * stride)
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
          basis[(oy * k + column) * stride + ox] = Float(sum)
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
    basis[(oy * controlPointCount + k) * stride + ox]
  }

  // MARK: - Rows

  /// Normalized source coordinates of output row `oy` into gx, gy (`width` each), for
  /// displacements d (K,2): gx = x + Σ_k B_k·dx_k, gy = y + Σ_k B_k·dy_k, summed in k order.
  /// NOTE: 8 columns at a time with the sums in registers; a short last block is computed in
  /// full (the padded basis reads zeros) and only its real columns are stored. Every column
  /// gets the same float operations in the same order, wherever it falls.
  @inline(__always)
  func fillRow(_ oy: Int, displacements d: UnsafePointer<Float>, gx: UnsafeMutablePointer<Float>, gy: UnsafeMutablePointer<Float>) {
    let k = controlPointCount, w = width, stride = stride
    let y = SIMD8<Float>(repeating: ys[oy])
    basis.withUnsafeBufferPointer { basisBuffer in
      xs.withUnsafeBufferPointer { xsBuffer in
        if useAVX2Kernels {
          cwk_tps_fill_row_avx2(basisBuffer.baseAddress! + oy * k * stride, stride, k, xsBuffer.baseAddress!, ys[oy], d, w, gx, gy)
          return
        }
        let rowBasis = UnsafeRawPointer(basisBuffer.baseAddress! + oy * k * stride), x = UnsafeRawPointer(xsBuffer.baseAddress!)
        for start in Swift.stride(from: 0, to: w, by: 8) {
          var sx = x.loadUnaligned(fromByteOffset: start * 4, as: SIMD8<Float>.self), sy = y
          for j in 0..<k {
            let b = rowBasis.loadUnaligned(fromByteOffset: (j * stride + start) * 4, as: SIMD8<Float>.self)
            sx += b * d[2 * j]
            sy += b * d[2 * j + 1]
          }
          if start + 8 <= w {
            UnsafeMutableRawPointer(gx + start).storeBytes(of: sx, as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(gy + start).storeBytes(of: sy, as: SIMD8<Float>.self)
          } else {
            for lane in 0..<(w - start) {
              gx[start + lane] = sx[lane]
              gy[start + lane] = sy[lane]
            }
          }
        }
      }
    }
  }

  /// Adds row `oy`'s share of d(loss)/d(source positions) to an image's 16-lane accumulators
  /// `lanes` (2K of them: x then y of each control point), given d(loss)/d(grid) of its columns:
  /// lanes += B_k(p)·gradGrid(p), column ox in lane ox % 16. `gradient(lanes:images:)` sums the lanes
  /// once the image's rows are in (float32 lanes over the image, the 16 lanes added in double).
  @inline(__always)
  func accumulateRowGradient(_ oy: Int, gradX: UnsafePointer<Float>, gradY: UnsafePointer<Float>, into lanes: UnsafeMutablePointer<SIMD16<Float>>) {
    let k = controlPointCount, w = width, stride = stride
    if useAVX2Kernels {
      // The AVX2 and AVX-512 twins add into the same lane accumulators, in the same order.
      let kernel = useAVX512Kernels ? cwk_tps_gradient_row_avx512 : cwk_tps_gradient_row_avx2
      basis.withUnsafeBufferPointer { basisBuffer in
        kernel(basisBuffer.baseAddress! + oy * k * stride, stride, k, gradX, gradY, w, UnsafeMutableRawPointer(lanes).assumingMemoryBound(to: Float.self))
      }
      return
    }
    basis.withUnsafeBufferPointer { basisBuffer in
      let rowBasis = UnsafeRawPointer(basisBuffer.baseAddress! + oy * k * stride)
      for start in Swift.stride(from: 0, to: w, by: 16) {
        // A short last block reads zeros beyond the row (the basis is zero there too, but 0
        // times a stray Inf would not be).
        var gX = SIMD16<Float>(), gY = SIMD16<Float>()
        for lane in 0..<min(16, w - start) {
          gX[lane] = gradX[start + lane]
          gY[lane] = gradY[start + lane]
        }
        for j in 0..<k {
          let b = rowBasis.loadUnaligned(fromByteOffset: (j * stride + start) * 4, as: SIMD16<Float>.self)
          lanes[2 * j] += b * gX
          lanes[2 * j + 1] += b * gY
        }
      }
    }
  }

  /// d(loss)/d(source positions) (N,K,2) from the lane accumulators of N images (2K each).
  func gradient(lanes: [SIMD16<Float>], images n: Int) -> Tensor {
    var result = Tensor(shape: [n, controlPointCount, 2])
    for i in 0..<(n * 2 * controlPointCount) {
      var sum = 0.0
      for lane in 0..<16 { sum += Double(lanes[i][lane]) }
      result.data[i] = Float(sum)
    }
    return result
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
  let k = basis.controlPointCount
  let displacements = basis.allDisplacements(sourcePoints)
  return displacements.withUnsafeBufferPointer { d in
    generatedGrid(images: sourcePoints.shape[0], height: basis.height, width: basis.width) { b, oy, gx, gy in
      basis.fillRow(oy, displacements: d.baseAddress! + b * 2 * k, gx: gx, gy: gy)
    }
  }
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
  var lanes = [SIMD16<Float>](repeating: SIMD16(), count: gradGrid.shape[0] * 2 * k)
  lanes.withUnsafeMutableBufferPointer { lanesBuffer in
    guard let perImage = lanesBuffer.baseAddress else { return }
    forEachGridRowGradient(gradGrid) { b, oy, gradX, gradY in
      basis.accumulateRowGradient(oy, gradX: gradX, gradY: gradY, into: perImage + b * 2 * k)
    }
  }
  return basis.gradient(lanes: lanes, images: gradGrid.shape[0])
}

// MARK: - Fused with grid_sample

/// `gridSample(input, thinPlateSplineGrid(sourcePoints, basis))` in one pass over the rows; the
/// grid is kept for the backward, which then needs no second evaluation of the spline.
///
/// input (N,C,H,W), sourcePoints (N,K,2) -> output (N,C,Ho,Wo) with Ho, Wo those of `basis`, and
/// grid (N,Ho,Wo,2), both equal to the two-step form bit for bit, whatever `threads`.
/// `options.alignCorners` must be the basis's.
public func thinPlateSplineGridSample(
  input: Tensor, sourcePoints: Tensor, basis: ThinPlateSplineGridBasis, options: GridSampleOptions, threads: Int = 1
) -> (output: Tensor, grid: Tensor) {
  precondition(input.rank == 4 && sourcePoints.shape.first == input.shape.first,
               "thinPlateSplineGridSample input (N,C,H,W) \(input.shape) and source points (N,K,2) \(sourcePoints.shape) must share N")
  basis.checkSourcePoints(sourcePoints, function: "thinPlateSplineGridSample")
  precondition(options.alignCorners == basis.alignCorners, "thinPlateSplineGridSample: options and basis disagree on align_corners")
  let displacements = basis.allDisplacements(sourcePoints)
  let (n, ho, wo, k) = (input.shape[0], basis.height, basis.width, basis.controlPointCount)
  var grid = Tensor(shape: [n, ho, wo, 2])
  let output = displacements.withUnsafeBufferPointer { d in
    grid.data.withUnsafeMutableBufferPointer { gridBuffer in
      let stored = gridBuffer.baseAddress
      return generatedGridSample(input: input, outputSize: [n, input.shape[1], ho, wo], options: options, threads: threads) { b, oy, gx, gy in
        basis.fillRow(oy, displacements: d.baseAddress! + b * 2 * k, gx: gx, gy: gy)
        if let stored { writeGridRow(stored, image: b, row: oy, height: ho, width: wo, x: gx, y: gy) }
      }
    }
  }
  // NOTE: an empty input samples nothing (and generates no rows): the grid is still the spline's.
  if input.count == 0 { return (output, thinPlateSplineGrid(sourcePoints: sourcePoints, basis: basis)) }
  return (output, grid)
}

/// Gradients of `sum(thinPlateSplineGridSample(input, sourcePoints).output * gradOutput)` with
/// respect to input and source points, from the grid the forward kept (the grid is linear in the
/// source points, so they are not needed again).
///
/// gradOutput (N,C,Ho,Wo), input (N,C,H,W), grid (N,Ho,Wo,2) -> gradInput (N,C,H,W) (empty [0]
/// when `needInputGradient` is false), gradSourcePoints (N,K,2). Equals gridSampleBackward
/// followed by thinPlateSplineGridBackward up to float32 rounding of the input-gradient sums.
public func thinPlateSplineGridSampleBackward(
  gradOutput: Tensor, input: Tensor, grid: Tensor, basis: ThinPlateSplineGridBasis, options: GridSampleOptions,
  threads: Int = 1, needInputGradient: Bool = true
) -> (gradInput: Tensor, gradSourcePoints: Tensor) {
  let (ho, wo, k) = (basis.height, basis.width, basis.controlPointCount)
  precondition(grid.rank == 4 && Array(grid.shape[1...]) == [ho, wo, 2] && grid.shape[0] == input.shape.first,
               "thinPlateSplineGridSampleBackward grid must be (N,\(ho),\(wo),2) with input's N, got \(grid.shape)")
  precondition(gradOutput.rank == 4 && Array(gradOutput.shape[2...]) == [ho, wo],
               "thinPlateSplineGridSampleBackward gradOutput must be (N,C,\(ho),\(wo)), got \(gradOutput.shape)")
  precondition(options.alignCorners == basis.alignCorners, "thinPlateSplineGridSampleBackward: options and basis disagree on align_corners")
  let n = grid.shape[0]
  var lanes = [SIMD16<Float>](repeating: SIMD16(), count: n * 2 * k)
  let gradInput = grid.data.withUnsafeBufferPointer { gridBuffer in
    lanes.withUnsafeMutableBufferPointer { lanesBuffer in
      let perImage = lanesBuffer.baseAddress!, stored = gridBuffer.baseAddress
      return generatedGridSampleBackward(
        gradOutput: gradOutput, input: input, options: options, threads: threads, needInputGradient: needInputGradient,
        generator: { b, oy, gx, gy in if let stored { readGridRow(stored, image: b, row: oy, height: ho, width: wo, x: gx, y: gy) } },
        rowGradient: { b, oy, gradX, gradY in basis.accumulateRowGradient(oy, gradX: gradX, gradY: gradY, into: perImage + b * 2 * k) })
    }
  }
  return (gradInput, basis.gradient(lanes: lanes, images: n))
}
