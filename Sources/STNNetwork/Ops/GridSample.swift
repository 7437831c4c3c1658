// The sampler ops of a spatial transformer on the tape: affine_grid, grid_sample and the fused
// affine_grid + grid_sample. Their kernels live in STNWarp (shared with the augmentation
// pipeline) and return fresh gradient arrays, which the backward closures add into the
// graph's buffers.
import STNTensor
import STNWarp

// MARK: - Graph

extension Graph {
  /// Sampling grid for theta (N,2,3) and output size [N,C,H,W] -> (N,H,W,2).
  public func affineGrid(_ theta: Variable, size: [Int], alignCorners: Bool) -> Variable {
    let grid = STNWarp.affineGrid(theta: values[theta.id], size: size, alignCorners: alignCorners)
    return record(grid, op: "affine_grid", requiresGradient: needsGradient(theta.id)) { gradOutput, _, graph in
      graph.accumulateGradient(theta.id, adding: affineGridBackward(gradGrid: gradOutput, size: size, alignCorners: alignCorners))
    }
  }

  /// Samples input (N,C,H,W) at grid (N,Ho,Wo,2) -> (N,C,Ho,Wo).
  public func gridSample(_ x: Variable, grid: Variable, options: GridSampleOptions) -> Variable {
    let y = STNWarp.gridSample(input: values[x.id], grid: values[grid.id], options: options, threads: threads)
    return record(y, op: "grid_sample", requiresGradient: needsGradient(x.id, grid.id)) { gradOutput, _, graph in
      graph.addSamplerGradients(input: x.id, coordinates: grid.id) { needInput in
        gridSampleBackward(
          gradOutput: gradOutput, input: graph.values[x.id], grid: graph.values[grid.id], options: options, threads: graph.threads,
          needInputGradient: needInput)
      }
    }
  }

  /// `gridSample(x, affineGrid(theta))` fused: input (N,C,H,W), theta (N,2,3) -> (N,C,Ho,Wo)
  /// with `outputSize` [Ho,Wo] (default: the input's H,W). No grid is stored; the backward goes
  /// straight to gradInput and gradTheta.
  public func affineGridSample(_ x: Variable, theta: Variable, outputSize: [Int]? = nil, options: GridSampleOptions) -> Variable {
    let input = values[x.id]
    let size = [input.shape[0], input.shape[1]] + (outputSize ?? [input.shape[2], input.shape[3]])
    let y = STNWarp.affineGridSample(input: input, theta: values[theta.id], outputSize: size, options: options, threads: threads)
    return record(y, op: "affine_grid_sample", requiresGradient: needsGradient(x.id, theta.id)) { gradOutput, _, graph in
      graph.addSamplerGradients(input: x.id, coordinates: theta.id) { needInput in
        affineGridSampleBackward(
          gradOutput: gradOutput, input: graph.values[x.id], theta: graph.values[theta.id], options: options, threads: graph.threads,
          needInputGradient: needInput)
      }
    }
  }

  /// Adds a sampler backward's two gradients: to the sampled input (computed only when it needs
  /// one) and to what gives the sampling coordinates (the grid or theta).
  func addSamplerGradients(input: Int, coordinates: Int, _ kernel: (_ needInput: Bool) -> (Tensor, Tensor)) {
    let needInput = requiresGradient[input]
    let (gradInput, gradCoordinates) = kernel(needInput)
    if needInput { accumulateGradient(input, adding: gradInput) }
    accumulateGradient(coordinates, adding: gradCoordinates)
  }
}
