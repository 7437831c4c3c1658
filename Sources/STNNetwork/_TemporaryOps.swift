// integ-only shim: the graph's warp calls forwarded to the real STNWarp kernels.
import STNTensor
import STNWarp

public typealias GridSampleOptions = STNWarp.GridSampleOptions

public func affineGrid(theta: Tensor, size: [Int], alignCorners: Bool) -> Tensor {
  STNWarp.affineGrid(theta: theta, size: size, alignCorners: alignCorners)
}
public func affineGridBackward(gradGrid: Tensor, size: [Int], alignCorners: Bool) -> Tensor {
  STNWarp.affineGridBackward(gradGrid: gradGrid, size: size, alignCorners: alignCorners)
}
public func gridSample(input: Tensor, grid: Tensor, options: GridSampleOptions, threads: Int) -> Tensor {
  STNWarp.gridSample(input: input, grid: grid, options: options, threads: threads)
}
public func gridSampleBackward(gradOutput: Tensor, input: Tensor, grid: Tensor, options: GridSampleOptions, threads: Int, needInputGradient: Bool) -> (gradInput: Tensor, gradGrid: Tensor) {
  STNWarp.gridSampleBackward(gradOutput: gradOutput, input: input, grid: grid, options: options, threads: threads, needInputGradient: needInputGradient)
}
