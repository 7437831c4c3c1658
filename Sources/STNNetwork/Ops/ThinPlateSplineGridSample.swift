// The thin-plate-spline transformer's sampler on the tape: the TPS grid, and the fused TPS grid
// + grid_sample. Their kernels live in STNWarp (ThinPlateSplineGrid.swift, shared with the
// augmentation pipeline) and return fresh gradient arrays, which the backward closures add into
// the graph's buffers.
import STNTensor
import STNWarp

// MARK: - Graph

extension Graph {
  /// Sampling grid (N,H,W,2) of the control points' source positions (N,K,2), H, W and K those
  /// of `basis`.
  public func thinPlateSplineGrid(_ sourcePoints: Variable, basis: ThinPlateSplineGridBasis) -> Variable {
    let grid = STNWarp.thinPlateSplineGrid(sourcePoints: values[sourcePoints.id], basis: basis)
    return record(grid, op: "tps_grid", requiresGradient: needsGradient(sourcePoints.id)) { gradOutput, _, graph in
      graph.accumulateGradient(sourcePoints.id, adding: thinPlateSplineGridBackward(gradGrid: gradOutput, basis: basis))
    }
  }

  /// `gridSample(x, thinPlateSplineGrid(sourcePoints))` fused: input (N,C,H,W), sourcePoints
  /// (N,K,2) -> (N,C,Ho,Wo), Ho, Wo those of `basis`. The backward closure holds the grid the
  /// forward generated (the spline is evaluated once per step) and goes straight to gradInput
  /// and gradSourcePoints.
  public func thinPlateSplineGridSample(_ x: Variable, sourcePoints: Variable, basis: ThinPlateSplineGridBasis, options: GridSampleOptions) -> Variable {
    let (y, grid) = STNWarp.thinPlateSplineGridSample(
      input: values[x.id], sourcePoints: values[sourcePoints.id], basis: basis, options: options, threads: threads)
    return recordSampler(y, op: "tps_grid_sample", input: x, coordinates: sourcePoints) { gradOutput, graph, needInput in
      thinPlateSplineGridSampleBackward(
        gradOutput: gradOutput, input: graph.values[x.id], grid: grid, basis: basis, options: options, threads: graph.threads,
        needInputGradient: needInput)
    }
  }
}
