// The sampler ops of a spatial transformer on the tape: affine_grid, grid_sample and the fused
// affine_grid + grid_sample. Their kernels live in STNWarp (shared with the augmentation
// pipeline) and return fresh gradient arrays, which the nodes add into the graph's buffers.
import STNTensor
import STNWarp

// MARK: - Graph

extension Graph {
  /// Sampling grid for theta (N,2,3) and output size [N,C,H,W] -> (N,H,W,2).
  public func affineGrid(_ theta: Variable, size: [Int], alignCorners: Bool) -> Variable {
    let grid = STNWarp.affineGrid(theta: values[theta.id], size: size, alignCorners: alignCorners)
    return record(grid, AffineGridNode(theta: theta.id, size: size, alignCorners: alignCorners), requiresGradient: needsGradient(theta.id))
  }

  /// Samples input (N,C,H,W) at grid (N,Ho,Wo,2) -> (N,C,Ho,Wo).
  public func gridSample(_ x: Variable, grid: Variable, options: GridSampleOptions) -> Variable {
    let y = STNWarp.gridSample(input: values[x.id], grid: values[grid.id], options: options, threads: threads)
    return record(y, GridSampleNode(input: x.id, grid: grid.id, options: options), requiresGradient: needsGradient(x.id, grid.id))
  }

  /// `gridSample(x, affineGrid(theta))` fused: input (N,C,H,W), theta (N,2,3) -> (N,C,Ho,Wo)
  /// with `outputSize` [Ho,Wo] (default: the input's H,W). No grid is stored; the backward goes
  /// straight to gradInput and gradTheta.
  public func affineGridSample(_ x: Variable, theta: Variable, outputSize: [Int]? = nil, options: GridSampleOptions) -> Variable {
    let input = values[x.id]
    let size = [input.shape[0], input.shape[1]] + (outputSize ?? [input.shape[2], input.shape[3]])
    let y = STNWarp.affineGridSample(input: input, theta: values[theta.id], outputSize: size, options: options, threads: threads)
    return record(y, AffineGridSampleNode(input: x.id, theta: theta.id, options: options), requiresGradient: needsGradient(x.id, theta.id))
  }
}

/// affine_grid on the tape.
struct AffineGridNode: BackwardNode {
  let theta: Int
  let size: [Int]
  let alignCorners: Bool

  func backward(_ gradOutput: Tensor, output: Int, in graph: Graph) {
    graph.accumulateGradient(theta, adding: affineGridBackward(gradGrid: gradOutput, size: size, alignCorners: alignCorners))
  }
}

/// grid_sample on the tape.
struct GridSampleNode: BackwardNode {
  let input: Int, grid: Int
  let options: GridSampleOptions

  func backward(_ gradOutput: Tensor, output: Int, in graph: Graph) {
    let needInput = graph.requiresGradient[input]
    let (gradInput, gradGrid) = gridSampleBackward(
      gradOutput: gradOutput, input: graph.values[input], grid: graph.values[grid], options: options, threads: graph.threads,
      needInputGradient: needInput)
    if needInput { graph.accumulateGradient(input, adding: gradInput) }
    graph.accumulateGradient(grid, adding: gradGrid)
  }
}

/// The fused affine_grid + grid_sample on the tape.
struct AffineGridSampleNode: BackwardNode {
  let input: Int, theta: Int
  let options: GridSampleOptions

  func backward(_ gradOutput: Tensor, output: Int, in graph: Graph) {
    let needInput = graph.requiresGradient[input]
    let (gradInput, gradTheta) = affineGridSampleBackward(
      gradOutput: gradOutput, input: graph.values[input], theta: graph.values[theta], options: options, threads: graph.threads,
      needInputGradient: needInput)
    if needInput { graph.accumulateGradient(input, adding: gradInput) }
    graph.accumulateGradient(theta, adding: gradTheta)
  }
}
