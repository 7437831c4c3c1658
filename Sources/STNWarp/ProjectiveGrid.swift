import CWarpKernels
import STNTensor

// Projective grid: a homography H (N,3,3) maps output normalized coordinates (x, y, 1) to input
// normalized coordinates, the perspective counterpart of `affineGrid`:
//   (u, v, w) = H[n] · (xs[w], ys[h], 1),   grid[n, h, w] = (u / w, v / w)
// with the same base coordinates as `affine_grid` (`affineGridBase`, so align_corners means what
// it means there). A projective spatial transformer's localization network outputs the 8-parameter
// form [h11 h12 h13 h21 h22 h23 h31 h32] with h33 = 1 (see `Homography`); with h31 = h32 = 0 and
// h33 = 1 the grid equals `affineGrid` of the first six bit for bit (w is exactly 1).
// Kornia's `homography_warp(normalized_homography=True)` samples with the same grid.

// MARK: - Row coordinates

/// The 3x3 homography of one image, float32, and the row's normalized y.
struct ProjectiveRow {
  var h: (Float, Float, Float, Float, Float, Float, Float, Float, Float)
  var y: Float

  init(_ p: UnsafePointer<Float>, y: Float) {
    h = (p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8])
    self.y = y
  }

  /// Homogeneous (u, v, w) of output column coordinate x; the forms are `affineGridCoordinate`'s.
  @inline(__always) func homogeneous(_ x: Float) -> (u: Float, v: Float, w: Float) {
    (affineGridCoordinate(h.0, h.1, h.2, x, y), affineGridCoordinate(h.3, h.4, h.5, x, y), affineGridCoordinate(h.6, h.7, h.8, x, y))
  }

  /// Normalized source coordinates of `count` columns with base coordinates xs into gx, gy.
  /// NOTE: w = 0 gives infinities or NaN here; grid_sample treats them as outside the input
  /// (`sourceIndex`), and the backward skips positions with a zero gradient so that their
  /// 0 · Inf never reaches the parameters.
  @inline(__always) func fill(xs: UnsafePointer<Float>, count: Int, gx: UnsafeMutablePointer<Float>, gy: UnsafeMutablePointer<Float>) {
    for ox in 0..<count {
      let (u, v, w) = homogeneous(xs[ox])
      gx[ox] = u / w
      gy[ox] = v / w
    }
  }

  /// Adds the row's share of d(loss)/dH to sums[0..<9] (row-major H), given d(loss)/d(grid) of
  /// its columns. With (sx, sy) = (u/w, v/w) and φ = (x, y, 1):
  ///   d sx/d(h1j) = φj / w,  d sy/d(h2j) = φj / w,  d(sx, sy)/d(h3j) = -(sx, sy) · φj / w,
  /// so with a = gX/w, b = gY/w, c = -(a·sx + b·sy) the row adds (Σa·x, y·Σa, Σa | Σb·x, y·Σb, Σb |
  /// Σc·x, y·Σc, Σc). The column sums run in 8 float32 lanes (`cwk_projective_gradient_row_avx2`
  /// is the AVX2 twin), the lanes and the rows are summed in double.
  /// NOTE: columns with a zero gradient are left out: there w may be 0 (a point at infinity,
  /// which samples nothing) and 0 · Inf must not reach the sums.
  @inline(__always) func accumulateGradient(
    xs: UnsafePointer<Float>, count: Int, gradX: UnsafePointer<Float>, gradY: UnsafePointer<Float>, into sums: inout SIMD16<Double>
  ) {
    var lanes = (SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>())
    if useAVX2Kernels {
      var matrix = h
      withUnsafeMutableBytes(of: &lanes) { laneBytes in
        withUnsafeBytes(of: &matrix) { matrixBytes in
          cwk_projective_gradient_row_avx2(matrixBytes.baseAddress!.assumingMemoryBound(to: Float.self), y, xs, gradX, gradY, count,
                                           laneBytes.baseAddress!.assumingMemoryBound(to: Float.self))
        }
      }
    } else {
      for start in Swift.stride(from: 0, to: count, by: 8) {
        // A short last block reads zeros (zero gradient: left out).
        var x = SIMD8<Float>(), gX = SIMD8<Float>(), gY = SIMD8<Float>()
        for lane in 0..<min(8, count - start) {
          x[lane] = xs[start + lane]
          gX[lane] = gradX[start + lane]
          gY[lane] = gradY[start + lane]
        }
        let u = h.0 * x + h.1 * y + h.2, v = h.3 * x + h.4 * y + h.5, w = h.6 * x + h.7 * y + h.8
        let skip = (gX .== 0) .& (gY .== 0)
        var a = gX / w, b = gY / w
        var c = -(a * (u / w) + b * (v / w))
        a.replace(with: 0, where: skip)
        b.replace(with: 0, where: skip)
        c.replace(with: 0, where: skip)
        lanes.0 += a * x; lanes.1 += a; lanes.2 += b * x; lanes.3 += b; lanes.4 += c * x; lanes.5 += c
      }
    }
    let rowY = Double(y)
    let r = (Double(lanes.0.sum()), Double(lanes.1.sum()), Double(lanes.2.sum()), Double(lanes.3.sum()), Double(lanes.4.sum()), Double(lanes.5.sum()))
    sums += SIMD16(r.0, r.1 * rowY, r.1, r.2, r.3 * rowY, r.3, r.4, r.5 * rowY, r.5, 0, 0, 0, 0, 0, 0, 0)
  }
}

func checkProjectiveShapes(homography: Tensor, batch n: Int, function: String) {
  precondition(homography.shape == [n, 3, 3], "\(function) homography must be (\(n),3,3), got \(homography.shape)")
}

// MARK: - Forward

/// Sampling grid of a projective map.
///
/// homography (N,3,3) -> grid (N,H,W,2); size = [N,C,H,W] of the output.
public func projectiveGrid(homography: Tensor, size: [Int], alignCorners: Bool) -> Tensor {
  precondition(size.count == 4, "projectiveGrid size must be [N,C,H,W], got \(size)")
  let (n, h, w) = (size[0], size[2], size[3])
  checkProjectiveShapes(homography: homography, batch: n, function: "projectiveGrid")
  let xs = affineGridBase(steps: w, alignCorners: alignCorners)
  let ys = affineGridBase(steps: h, alignCorners: alignCorners)
  return homography.data.withUnsafeBufferPointer { hBuffer in
    generatedGrid(images: n, height: h, width: w) { b, oy, gx, gy in
      ProjectiveRow(hBuffer.baseAddress! + b * 9, y: ys[oy]).fill(xs: xs, count: w, gx: gx, gy: gy)
    }
  }
}

// MARK: - Backward

/// Gradient of `sum(projectiveGrid(homography) * gradGrid)` with respect to the homography.
///
/// gradGrid (N,H,W,2), homography (N,3,3) -> gradHomography (N,3,3), all 9 entries (a network
/// with h33 fixed at 1 drops the last). Positions whose grid gradient is 0 add nothing (see
/// `ProjectiveRow.fill`).
public func projectiveGridBackward(gradGrid: Tensor, homography: Tensor, size: [Int], alignCorners: Bool) -> Tensor {
  precondition(size.count == 4, "projectiveGridBackward size must be [N,C,H,W], got \(size)")
  let (n, h, w) = (size[0], size[2], size[3])
  checkProjectiveShapes(homography: homography, batch: n, function: "projectiveGridBackward")
  precondition(gradGrid.shape == [n, h, w, 2], "projectiveGridBackward gradGrid must be (\(n),\(h),\(w),2), got \(gradGrid.shape)")
  let xs = affineGridBase(steps: w, alignCorners: alignCorners)
  let ys = affineGridBase(steps: h, alignCorners: alignCorners)
  var sums = [SIMD16<Double>](repeating: SIMD16(), count: n)
  homography.data.withUnsafeBufferPointer { hBuffer in
    forEachGridRowGradient(gradGrid) { b, oy, gradX, gradY in
      ProjectiveRow(hBuffer.baseAddress! + b * 9, y: ys[oy]).accumulateGradient(xs: xs, count: w, gradX: gradX, gradY: gradY, into: &sums[b])
    }
  }
  return homographyGradient(sums)
}

/// gradHomography (N,3,3) from each image's row sums (`ProjectiveRow.accumulateGradient`).
func homographyGradient(_ sums: [SIMD16<Double>]) -> Tensor {
  var gradHomography = Tensor(shape: [sums.count, 3, 3])
  for b in 0..<sums.count {
    for k in 0..<9 { gradHomography.data[b * 9 + k] = Float(sums[b][k]) }
  }
  return gradHomography
}

// MARK: - Fused with grid_sample

/// `gridSample(input, projectiveGrid(homography, outputSize))` without storing the grid.
///
/// input (N,C,H,W), homography (N,3,3), outputSize [N,C,Ho,Wo] -> output (N,C,Ho,Wo), equal to
/// the two-step form bit for bit, whatever `threads`.
public func projectiveGridSample(input: Tensor, homography: Tensor, outputSize: [Int], options: GridSampleOptions, threads: Int = 1) -> Tensor {
  precondition(input.rank == 4, "projectiveGridSample input must be (N,C,H,W), got \(input.shape)")
  checkProjectiveShapes(homography: homography, batch: input.shape[0], function: "projectiveGridSample")
  precondition(outputSize.count == 4, "projectiveGridSample outputSize must be [N,C,Ho,Wo], got \(outputSize)")
  let xs = affineGridBase(steps: outputSize[3], alignCorners: options.alignCorners)
  let ys = affineGridBase(steps: outputSize[2], alignCorners: options.alignCorners)
  return homography.data.withUnsafeBufferPointer { hBuffer in
    xs.withUnsafeBufferPointer { xsBuffer in
      generatedGridSample(input: input, outputSize: outputSize, options: options, threads: threads) { b, oy, gx, gy in
        ProjectiveRow(hBuffer.baseAddress! + b * 9, y: ys[oy]).fill(xs: xsBuffer.baseAddress!, count: xsBuffer.count, gx: gx, gy: gy)
      }
    }
  }
}

/// Gradients of `sum(projectiveGridSample(input, homography) * gradOutput)` with respect to input
/// and homography.
///
/// gradOutput (N,C,Ho,Wo), input (N,C,H,W), homography (N,3,3) -> gradInput (N,C,H,W) (empty [0]
/// when `needInputGradient` is false), gradHomography (N,3,3). Equals gridSampleBackward followed
/// by projectiveGridBackward up to float32 rounding of the input-gradient sums (the grid
/// gradient, and so gradHomography, is the same).
public func projectiveGridSampleBackward(
  gradOutput: Tensor, input: Tensor, homography: Tensor, options: GridSampleOptions, threads: Int = 1, needInputGradient: Bool = true
) -> (gradInput: Tensor, gradHomography: Tensor) {
  precondition(input.rank == 4, "projectiveGridSampleBackward input must be (N,C,H,W), got \(input.shape)")
  let n = input.shape[0]
  checkProjectiveShapes(homography: homography, batch: n, function: "projectiveGridSampleBackward")
  precondition(gradOutput.rank == 4, "projectiveGridSampleBackward gradOutput must be (N,C,Ho,Wo), got \(gradOutput.shape)")
  let xs = affineGridBase(steps: gradOutput.shape[3], alignCorners: options.alignCorners)
  let ys = affineGridBase(steps: gradOutput.shape[2], alignCorners: options.alignCorners)
  var sums = [SIMD16<Double>](repeating: SIMD16(), count: n)
  let gradInput = homography.data.withUnsafeBufferPointer { hBuffer in
    xs.withUnsafeBufferPointer { xsBuffer in
      sums.withUnsafeMutableBufferPointer { sumsBuffer in
        let h = hBuffer.baseAddress!, x = xsBuffer.baseAddress!, perImage = sumsBuffer.baseAddress!
        return generatedGridSampleBackward(
          gradOutput: gradOutput, input: input, options: options, threads: threads, needInputGradient: needInputGradient,
          generator: { b, oy, gx, gy in ProjectiveRow(h + b * 9, y: ys[oy]).fill(xs: x, count: xsBuffer.count, gx: gx, gy: gy) },
          rowGradient: { b, oy, gradX, gradY in
            ProjectiveRow(h + b * 9, y: ys[oy]).accumulateGradient(xs: x, count: xsBuffer.count, gradX: gradX, gradY: gradY, into: &perImage[b])
          })
      }
    }
  }
  return (gradInput, homographyGradient(sums))
}
