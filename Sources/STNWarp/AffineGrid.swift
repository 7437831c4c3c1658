import STNTensor

// affine_grid: theta (N,2,3) maps output normalized coordinates (x, y, 1) to input normalized
// coordinates, exactly PyTorch's `torch.nn.functional.affine_grid` (2D):
//   grid[n, h, w] = theta[n] · (xs[w], ys[h], 1)
// where xs = linspace(-1, 1, W) and ys = linspace(-1, 1, H) are the output pixel centres in
// normalized coordinates; with align_corners=false they are scaled by (size-1)/size, so they sit
// at pixel centres when -1/+1 are the image edges. A size-1 axis has the single coordinate 0.

// MARK: - Base coordinates

/// Normalized coordinates of the `steps` pixel centres along an output axis, computed as
/// PyTorch's `linspace` does on CPU (first half from -1 upward, second half from +1 downward,
/// in float32), so grids match torch's to the last bit in most positions.
public func affineGridBase(steps: Int, alignCorners: Bool) -> [Float] {
  if steps <= 1 { return [Float](repeating: 0, count: max(steps, 0)) }
  let step: Float = 2 / Float(steps - 1)
  let halfway = steps / 2
  var values = [Float](repeating: 0, count: steps)
  for i in 0..<steps {
    values[i] = i < halfway ? -1 + step * Float(i) : 1 - step * Float(steps - i - 1)
  }
  if !alignCorners {
    for i in 0..<steps { values[i] = values[i] * Float(steps - 1) / Float(steps) }
  }
  return values
}

func checkAffineGridShapes(theta: Tensor, size: [Int]) {
  precondition(size.count == 4, "affineGrid size must be [N,C,H,W], got \(size)")
  precondition(theta.shape == [size[0], 2, 3], "affineGrid theta must be (N,2,3) = (\(size[0]),2,3), got \(theta.shape)")
}

// MARK: - Forward

/// Sampling grid of an affine map.
///
/// theta (N,2,3) -> grid (N,H,W,2); size = [N,C,H,W] of the output.
public func affineGrid(theta: Tensor, size: [Int], alignCorners: Bool) -> Tensor {
  checkAffineGridShapes(theta: theta, size: size)
  let (n, h, w) = (size[0], size[2], size[3])
  let xs = affineGridBase(steps: w, alignCorners: alignCorners)
  let ys = affineGridBase(steps: h, alignCorners: alignCorners)
  var grid = Tensor(shape: [n, h, w, 2])
  for b in 0..<n {
    let t = Array(theta.data[(b * 6)..<(b * 6 + 6)])
    for oy in 0..<h {
      for ox in 0..<w {
        let g = ((b * h + oy) * w + ox) * 2
        grid.data[g] = affineGridCoordinate(t[0], t[1], t[2], xs[ox], ys[oy])
        grid.data[g + 1] = affineGridCoordinate(t[3], t[4], t[5], xs[ox], ys[oy])
      }
    }
  }
  return grid
}

/// One grid coordinate, `t0·x + t1·y + t2`; the fused kernels use the same expression so
/// they see the same grid values as `affineGrid` followed by `gridSample`.
@inline(__always)
func affineGridCoordinate(_ t0: Float, _ t1: Float, _ t2: Float, _ x: Float, _ y: Float) -> Float {
  t0 * x + t1 * y + t2
}

// MARK: - Backward

/// Gradient of `sum(affineGrid(theta) * gradGrid)` with respect to theta.
///
/// gradGrid (N,H,W,2) -> gradTheta (N,2,3); size = [N,C,H,W] of the output. Sums run in double
/// precision (PyTorch sums in float32 through a batched matrix product, so the two agree to
/// float32 rounding of the sums).
public func affineGridBackward(gradGrid: Tensor, size: [Int], alignCorners: Bool) -> Tensor {
  precondition(size.count == 4, "affineGridBackward size must be [N,C,H,W], got \(size)")
  let (n, h, w) = (size[0], size[2], size[3])
  precondition(gradGrid.shape == [n, h, w, 2], "affineGridBackward gradGrid must be (\(n),\(h),\(w),2), got \(gradGrid.shape)")
  let xs = affineGridBase(steps: w, alignCorners: alignCorners)
  let ys = affineGridBase(steps: h, alignCorners: alignCorners)
  var gradTheta = Tensor(shape: [n, 2, 3])
  for b in 0..<n {
    var sums = [Double](repeating: 0, count: 6)
    for oy in 0..<h {
      let y = Double(ys[oy])
      for ox in 0..<w {
        let g = ((b * h + oy) * w + ox) * 2
        let x = Double(xs[ox])
        let gx = Double(gradGrid.data[g]), gy = Double(gradGrid.data[g + 1])
        sums[0] += gx * x; sums[1] += gx * y; sums[2] += gx
        sums[3] += gy * x; sums[4] += gy * y; sums[5] += gy
      }
    }
    for k in 0..<6 { gradTheta.data[b * 6 + k] = Float(sums[k]) }
  }
  return gradTheta
}
