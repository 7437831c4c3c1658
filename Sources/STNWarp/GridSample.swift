import STNTensor

// grid_sample: reads an (N,C,H,W) input at the positions a grid names.
//
// Coordinate convention (exactly PyTorch's `torch.nn.functional.grid_sample`, 2D):
//   grid[n, ho, wo] = (x, y) in normalized coordinates, x across the width, y down the height,
//   -1 ... +1 spanning the input. With align_corners=true, -1 and +1 are the centres of the first
//   and last pixel: x_pixel = (x + 1)/2 · (W - 1). With align_corners=false, they are the outer
//   edges of the first and last pixel: x_pixel = (x + 1)/2 · W - 0.5. Pixel centres sit at
//   integer pixel coordinates. Padding then clips or reflects x_pixel (see
//   GridSampleCoordinates.swift); bilinear mode blends the 4 pixels around (x_pixel, y_pixel),
//   treating pixels outside the input as 0; nearest mode reads the pixel at
//   round-half-to-even(x_pixel, y_pixel), or 0 outside.
// Gradients are those PyTorch computes, including the zero derivative of a clipped coordinate
// (at the border itself as well) and the sign flip of a reflected one.

// MARK: - Public entry points

/// Samples `input` at `grid` (PyTorch's `grid_sample`, 2D).
///
/// input (N,C,H,W), grid (N,Ho,Wo,2) -> output (N,C,Ho,Wo). Threads split the batch and, for
/// small batches, the output rows; the result does not depend on `threads`.
public func gridSample(input: Tensor, grid: Tensor, options: GridSampleOptions, threads: Int = 1) -> Tensor {
  checkGridSampleShapes(input: input, grid: grid)
  return gridSampleFast(input: input, grid: grid, options: options, threads: threads)
}

/// Gradients of `sum(gridSample(input, grid) * gradOutput)` with respect to input and grid.
///
/// gradOutput (N,C,Ho,Wo), input (N,C,H,W), grid (N,Ho,Wo,2) -> gradInput (N,C,H,W),
/// gradGrid (N,Ho,Wo,2). With `needInputGradient: false`, gradInput is an empty (0-element)
/// tensor of shape [0]. Nearest mode has a zero grid gradient, as in PyTorch.
public func gridSampleBackward(
  gradOutput: Tensor, input: Tensor, grid: Tensor, options: GridSampleOptions, threads: Int = 1,
  needInputGradient: Bool = true
) -> (gradInput: Tensor, gradGrid: Tensor) {
  checkGridSampleShapes(input: input, grid: grid)
  precondition(gradOutput.shape == [input.shape[0], input.shape[1], grid.shape[1], grid.shape[2]],
               "gradOutput \(gradOutput.shape) does not match the output of input \(input.shape), grid \(grid.shape)")
  return gridSampleBackwardFast(gradOutput: gradOutput, input: input, grid: grid, options: options, threads: threads,
                                needInputGradient: needInputGradient)
}

func checkGridSampleShapes(input: Tensor, grid: Tensor) {
  precondition(input.rank == 4, "gridSample input must be (N,C,H,W), got \(input.shape)")
  precondition(grid.rank == 4 && grid.shape[3] == 2, "gridSample grid must be (N,Ho,Wo,2), got \(grid.shape)")
  precondition(grid.shape[0] == input.shape[0], "gridSample batch sizes differ: input \(input.shape), grid \(grid.shape)")
}

// MARK: - Naive reference kernels

/// Reference forward: one output element at a time, straight from the definition.
/// input (N,C,H,W), grid (N,Ho,Wo,2) -> output (N,C,Ho,Wo).
public func gridSampleNaive(input: Tensor, grid: Tensor, options: GridSampleOptions) -> Tensor {
  checkGridSampleShapes(input: input, grid: grid)
  let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
  let (ho, wo) = (grid.shape[1], grid.shape[2])
  var output = Tensor(shape: [n, c, ho, wo])
  for b in 0..<n {
    for oy in 0..<ho {
      for ox in 0..<wo {
        let g = ((b * ho + oy) * wo + ox) * 2
        let x = sourceIndex(grid.data[g], size: w, padding: options.padding, alignCorners: options.alignCorners)
        let y = sourceIndex(grid.data[g + 1], size: h, padding: options.padding, alignCorners: options.alignCorners)
        for ch in 0..<c {
          let plane = (b * c + ch) * h * w
          func pixel(_ py: Int, _ px: Int) -> Float {
            (py >= 0 && py < h && px >= 0 && px < w) ? input.data[plane + py * w + px] : 0
          }
          var value: Float
          switch options.mode {
          case .nearest:
            value = pixel(Int(roundHalfToEven(y)), Int(roundHalfToEven(x)))
          case .bilinear:
            let x0 = floorFast(x), y0 = floorFast(y)
            let east = x - x0, south = y - y0
            let west = 1 - east, north = 1 - south
            let ix = Int(x0), iy = Int(y0)
            value = pixel(iy, ix) * (north * west) + pixel(iy, ix + 1) * (north * east)
              + pixel(iy + 1, ix) * (south * west) + pixel(iy + 1, ix + 1) * (south * east)
          }
          output.data[((b * c + ch) * ho + oy) * wo + ox] = value
        }
      }
    }
  }
  return output
}

/// Reference backward of `gridSampleNaive` (see `gridSampleBackward`).
public func gridSampleBackwardNaive(
  gradOutput: Tensor, input: Tensor, grid: Tensor, options: GridSampleOptions
) -> (gradInput: Tensor, gradGrid: Tensor) {
  checkGridSampleShapes(input: input, grid: grid)
  let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
  let (ho, wo) = (grid.shape[1], grid.shape[2])
  var gradInput = Tensor(shape: input.shape)
  var gradGrid = Tensor(shape: grid.shape)
  for b in 0..<n {
    for oy in 0..<ho {
      for ox in 0..<wo {
        let g = ((b * ho + oy) * wo + ox) * 2
        let (x, xMultiplier) = sourceIndexWithGradient(grid.data[g], size: w, padding: options.padding, alignCorners: options.alignCorners)
        let (y, yMultiplier) = sourceIndexWithGradient(grid.data[g + 1], size: h, padding: options.padding, alignCorners: options.alignCorners)
        var gx: Float = 0, gy: Float = 0
        for ch in 0..<c {
          let plane = (b * c + ch) * h * w
          let gOut = gradOutput.data[((b * c + ch) * ho + oy) * wo + ox]
          func inBounds(_ py: Int, _ px: Int) -> Bool { py >= 0 && py < h && px >= 0 && px < w }
          func pixel(_ py: Int, _ px: Int) -> Float { inBounds(py, px) ? input.data[plane + py * w + px] : 0 }
          func accumulate(_ py: Int, _ px: Int, _ value: Float) {
            if inBounds(py, px) { gradInput.data[plane + py * w + px] += value }
          }
          switch options.mode {
          case .nearest:
            accumulate(Int(roundHalfToEven(y)), Int(roundHalfToEven(x)), gOut)
          case .bilinear:
            let x0 = floorFast(x), y0 = floorFast(y)
            let east = x - x0, south = y - y0
            let west = 1 - east, north = 1 - south
            let ix = Int(x0), iy = Int(y0)
            let nw = pixel(iy, ix), ne = pixel(iy, ix + 1), sw = pixel(iy + 1, ix), se = pixel(iy + 1, ix + 1)
            accumulate(iy, ix, north * west * gOut)
            accumulate(iy, ix + 1, north * east * gOut)
            accumulate(iy + 1, ix, south * west * gOut)
            accumulate(iy + 1, ix + 1, south * east * gOut)
            // d(value)/dx and d(value)/dy of the bilinear blend.
            gx += ((ne - nw) * north + (se - sw) * south) * gOut
            gy += ((sw - nw) * west + (se - ne) * east) * gOut
          }
        }
        gradGrid.data[g] = gx * xMultiplier
        gradGrid.data[g + 1] = gy * yMultiplier
      }
    }
  }
  return (gradInput, gradGrid)
}
