// The sampler ops of a spatial transformer on the tape: affine_grid, grid_sample and the fused
// affine_grid + grid_sample, and what every sampler op shares (its output size, its recorder). Their kernels live in STNWarp (shared with the augmentation
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
    return recordSampler(y, op: "grid_sample", input: x, coordinates: grid) { gradOutput, graph, needInput in
      gridSampleBackward(
        gradOutput: gradOutput, input: graph.values[x.id], grid: graph.values[grid.id], options: options, threads: graph.threads,
        needInputGradient: needInput)
    }
  }

  /// `gridSample(x, affineGrid(theta))` fused: input (N,C,H,W), theta (N,2,3) -> (N,C,Ho,Wo)
  /// with `outputSize` [Ho,Wo] (default: the input's H,W). No grid is stored; the backward goes
  /// straight to gradInput and gradTheta.
  public func affineGridSample(_ x: Variable, theta: Variable, outputSize: [Int]? = nil, options: GridSampleOptions) -> Variable {
    let size = samplerOutputSize(x, outputSize)
    let y = STNWarp.affineGridSample(input: values[x.id], theta: values[theta.id], outputSize: size, options: options, threads: threads)
    return recordSampler(y, op: "affine_grid_sample", input: x, coordinates: theta) { gradOutput, graph, needInput in
      affineGridSampleBackward(
        gradOutput: gradOutput, input: graph.values[x.id], theta: graph.values[theta.id], options: options, threads: graph.threads,
        needInputGradient: needInput)
    }
  }

  /// [N,C,Ho,Wo] of a sampler reading input x (N,C,H,W): `outputSize` [Ho,Wo], or H,W.
  func samplerOutputSize(_ x: Variable, _ outputSize: [Int]?) -> [Int] {
    let shape = values[x.id].shape
    return [shape[0], shape[1]] + (outputSize ?? [shape[2], shape[3]])
  }

  /// Records a sampler's output y of input x at coordinates given by another node (a grid,
  /// theta, a homography, control points); `backward(gradOutput, graph, needInput)` returns
  /// (gradInput, gradCoordinates), and `addSamplerGradients` adds them.
  func recordSampler(
    _ y: Tensor, op: String, input x: Variable, coordinates: Variable,
    backward: @escaping (_ gradOutput: Tensor, _ graph: Graph, _ needInput: Bool) -> (Tensor, Tensor)
  ) -> Variable {
    record(y, op: op, requiresGradient: needsGradient(x.id, coordinates.id)) { gradOutput, _, graph in
      graph.addSamplerGradients(input: x.id, coordinates: coordinates.id) { backward(gradOutput, graph, $0) }
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
