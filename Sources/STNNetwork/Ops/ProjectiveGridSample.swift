// The projective transformer's sampler on the tape: the projective grid, and the fused
// projective grid + grid_sample. Their kernels live in STNWarp (ProjectiveGrid.swift, shared with
// the augmentation pipeline) and return fresh gradient arrays, which the backward closures add
// into the graph's buffers.
import STNTensor
import STNWarp

// MARK: - Graph

extension Graph {
  /// Sampling grid of homography (N,3,3) for output size [N,C,H,W] -> (N,H,W,2).
  public func projectiveGrid(_ homography: Variable, size: [Int], alignCorners: Bool) -> Variable {
    let grid = STNWarp.projectiveGrid(homography: values[homography.id], size: size, alignCorners: alignCorners)
    return record(grid, op: "projective_grid", requiresGradient: needsGradient(homography.id)) { gradOutput, _, graph in
      graph.accumulateGradient(homography.id, adding: projectiveGridBackward(
        gradGrid: gradOutput, homography: graph.values[homography.id], size: size, alignCorners: alignCorners))
    }
  }

  /// `gridSample(x, projectiveGrid(homography))` fused: input (N,C,H,W), homography (N,3,3) ->
  /// (N,C,Ho,Wo) with `outputSize` [Ho,Wo] (default: the input's H,W). No grid is stored; the
  /// backward goes straight to gradInput and gradHomography.
  public func projectiveGridSample(_ x: Variable, homography: Variable, outputSize: [Int]? = nil, options: GridSampleOptions) -> Variable {
    let size = samplerOutputSize(x, outputSize)
    let y = STNWarp.projectiveGridSample(input: values[x.id], homography: values[homography.id], outputSize: size, options: options, threads: threads)
    return recordSampler(y, op: "projective_grid_sample", input: x, coordinates: homography) { gradOutput, graph, needInput in
      projectiveGridSampleBackward(
        gradOutput: gradOutput, input: graph.values[x.id], homography: graph.values[homography.id], options: options,
        threads: graph.threads, needInputGradient: needInput)
    }
  }
}
