import CWarpKernels
import STNTensor

// grid_sample with a grid generated one output row at a time and never stored: the fused
// sampler of the projective and thin-plate-spline transformers (the affine one has its own,
// `affineGridSample`). A generator writes the normalized source coordinates of a row into two
// scratch arrays; the row is sampled from them exactly as `gridSample` samples a stored grid
// (the per-position helpers of GridSampleFast.swift, or their AVX2 twins for bilinear + zeros),
// so the forward equals `gridSample(input, generatedGrid)` bit for bit. The backward hands each
// row's grid gradient back to the generator, which folds it into its parameters' gradient.
//
// Naive twin: `gridSampleNaive` / `gridSampleBackwardNaive` on the stored grid of the family's
// grid function (`projectiveGrid`, `thinPlateSplineGrid`) and its backward.

/// Writes the normalized source coordinates (x, y) of output row `row` of image `image` into
/// `x[0..<Wo]`, `y[0..<Wo]`. Called concurrently for different rows and images.
typealias GridRowGenerator = (_ image: Int, _ row: Int, _ x: UnsafeMutablePointer<Float>, _ y: UnsafeMutablePointer<Float>) -> Void

/// Folds d(loss)/d(grid) of output row `row` of image `image` (`gradX[0..<Wo]`, `gradY[0..<Wo]`)
/// into that image's parameter gradient. The rows of one image come from one thread, in order.
typealias GridRowGradient = (_ image: Int, _ row: Int, _ gradX: UnsafePointer<Float>, _ gradY: UnsafePointer<Float>) -> Void

/// Writes planar row coordinates x, y (Wo each) into row `row` of image `image` of a grid
/// (N,Ho,Wo,2) (a generator that keeps what it generated).
@inline(__always)
func writeGridRow(_ grid: UnsafeMutablePointer<Float>, image b: Int, row oy: Int, height ho: Int, width wo: Int,
                  x: UnsafePointer<Float>, y: UnsafePointer<Float>) {
  let row = grid + (b * ho + oy) * wo * 2
  for ox in 0..<wo {
    row[2 * ox] = x[ox]
    row[2 * ox + 1] = y[ox]
  }
}

/// Reads row `row` of image `image` of a grid (N,Ho,Wo,2) into planar x, y (a generator that
/// replays a kept grid).
@inline(__always)
func readGridRow(_ grid: UnsafePointer<Float>, image b: Int, row oy: Int, height ho: Int, width wo: Int,
                 x: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>) {
  let row = grid + (b * ho + oy) * wo * 2
  for ox in 0..<wo {
    x[ox] = row[2 * ox]
    y[ox] = row[2 * ox + 1]
  }
}

/// The grid (N,Ho,Wo,2) `generator` produces, row by row on the calling thread: the stored form
/// of the grid `generatedGridSample` samples (`projectiveGrid`, `thinPlateSplineGrid`).
func generatedGrid(images n: Int, height ho: Int, width wo: Int, generator: GridRowGenerator) -> Tensor {
  var grid = Tensor(shape: [n, ho, wo, 2])
  if grid.count == 0 { return grid }
  grid.data.withUnsafeMutableBufferPointer { gridBuffer in
    withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * wo) { scratch in
      guard let stored = gridBuffer.baseAddress, let x = scratch.baseAddress else { return }
      let y = x + wo
      for b in 0..<n {
        for oy in 0..<ho {
          generator(b, oy, x, y)
          writeGridRow(stored, image: b, row: oy, height: ho, width: wo, x: x, y: y)
        }
      }
    }
  }
  return grid
}

/// Hands every row of a grid gradient (N,Ho,Wo,2) to `rowGradient` as planar x, y, image by
/// image and row by row on the calling thread: the stored-grid backward of a generator
/// (`projectiveGridBackward`, `thinPlateSplineGridBackward`).
func forEachGridRowGradient(_ gradGrid: Tensor, rowGradient: GridRowGradient) {
  let (n, ho, wo) = (gradGrid.shape[0], gradGrid.shape[1], gradGrid.shape[2])
  if gradGrid.count == 0 { return }
  gradGrid.data.withUnsafeBufferPointer { gridBuffer in
    withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * wo) { scratch in
      guard let stored = gridBuffer.baseAddress, let gradX = scratch.baseAddress else { return }
      let gradY = gradX + wo
      for b in 0..<n {
        for oy in 0..<ho {
          readGridRow(stored, image: b, row: oy, height: ho, width: wo, x: gradX, y: gradY)
          rowGradient(b, oy, gradX, gradY)
        }
      }
    }
  }
}

/// True when a row takes the AVX2 row kernels: bilinear, zeros padding, at least 8 columns.
@inline(__always)
func useGridRowKernels(_ options: GridSampleOptions, columns: Int) -> Bool {
  useAVX2Kernels && options.mode == .bilinear && options.padding == .zeros && columns >= 8
}

/// The unnormalize constants of an h x w input for the C row kernels.
@inline(__always)
func gridAxes(width w: Int, height h: Int, alignCorners: Bool) -> cwk_grid_axes {
  cwk_grid_axes(scale_x: unnormalizeGradient(size: w, alignCorners: alignCorners), offset_x: alignCorners ? 0 : 0.5,
                scale_y: unnormalizeGradient(size: h, alignCorners: alignCorners), offset_y: alignCorners ? 0 : 0.5)
}

// MARK: - Forward

/// Samples input (N,C,H,W) on the grid `generator` produces -> output (N,C,Ho,Wo), outputSize
/// [N,C,Ho,Wo]. Threads split the batch and, for small batches, the rows; results do not depend
/// on `threads`.
func generatedGridSample(input: Tensor, outputSize: [Int], options: GridSampleOptions, threads: Int, generator: GridRowGenerator) -> Tensor {
  precondition(input.rank == 4 && outputSize.count == 4 && outputSize[0] == input.shape[0] && outputSize[1] == input.shape[1],
               "outputSize \(outputSize) must be [N,C,Ho,Wo] with input's N and C \(input.shape)")
  let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
  let (ho, wo) = (outputSize[2], outputSize[3])
  let count = outputSize.reduce(1, *)
  // An empty input reads as zeros everywhere.
  if count == 0 || input.count == 0 { return Tensor(shape: outputSize) }
  let rowRanges = splitRange(ho, parts: rowBlocksPerImage(images: n, rows: ho, threads: threads))
  let rowKernel = useGridRowKernels(options, columns: wo)
  var axes = gridAxes(width: w, height: h, alignCorners: options.alignCorners)
  // NOTE: every element is written below, so the storage starts uninitialized (no memset).
  let data = [Float](unsafeUninitializedCapacity: count) { outputBuffer, initialized in
    initialized = count
    input.data.withUnsafeBufferPointer { inputBuffer in
      let src = inputBuffer.baseAddress!, dst = outputBuffer.baseAddress!
      parallelFor(chunks: n * rowRanges.count, threads: threads) { chunk in
        let b = chunk / rowRanges.count, rows = rowRanges[chunk % rowRanges.count]
        let planeIn = h * w, planeOut = ho * wo
        let imageIn = src + b * c * planeIn, imageOut = dst + b * c * planeOut
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * wo) { scratch in
          let gx = scratch.baseAddress!, gy = gx + wo
          for oy in rows {
            generator(b, oy, gx, gy)
            let rowOut = imageOut + oy * wo
            if rowKernel {
              cwk_grid_forward_row_zeros_avx2(imageIn, gx, gy, wo, &axes, w, h, c, planeIn, planeOut, rowOut)
              continue
            }
            for ox in 0..<wo {
              gridSamplePosition(x: gx[ox], y: gy[ox], input: imageIn, output: rowOut + ox, channels: c, planeIn: planeIn,
                                 planeOut: planeOut, width: w, height: h, options: options)
            }
          }
        }
      }
    }
  }
  return Tensor(shape: outputSize, data: data)
}

// MARK: - Backward

/// Gradients of `sum(generatedGridSample(input) * gradOutput)`: returns gradInput (N,C,H,W)
/// (empty [0] when `needInputGradient` is false) and passes each row's grid gradient to
/// `rowGradient`. Threads split the batch (one image per chunk), so gradInput and every image's
/// parameter sums are written by one thread in a fixed order.
func generatedGridSampleBackward(
  gradOutput: Tensor, input: Tensor, options: GridSampleOptions, threads: Int, needInputGradient: Bool,
  generator: GridRowGenerator, rowGradient: GridRowGradient
) -> Tensor {
  precondition(input.rank == 4 && gradOutput.rank == 4 && gradOutput.shape[0] == input.shape[0] && gradOutput.shape[1] == input.shape[1],
               "gradOutput \(gradOutput.shape) must be (N,C,Ho,Wo) with input's N and C \(input.shape)")
  let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
  let (ho, wo) = (gradOutput.shape[2], gradOutput.shape[3])
  var gradInput = needInputGradient ? Tensor(shape: input.shape) : Tensor(shape: [0])
  // Nothing to sample: every gradient is 0 (the generator's sums stay as they are).
  if ho == 0 || wo == 0 || input.count == 0 { return gradInput }
  let rowKernel = useGridRowKernels(options, columns: wo)
  var axes = gridAxes(width: w, height: h, alignCorners: options.alignCorners)
  input.data.withUnsafeBufferPointer { inputBuffer in
    gradOutput.data.withUnsafeBufferPointer { gradOutputBuffer in
      gradInput.data.withUnsafeMutableBufferPointer { gradInputBuffer in
        let src = inputBuffer.baseAddress!, gOut = gradOutputBuffer.baseAddress!
        // NOTE: an empty array may still have a base address; never write through it.
        let gIn = needInputGradient ? gradInputBuffer.baseAddress : nil
        parallelFor(chunks: n, threads: threads) { b in
          let planeIn = h * w, planeOut = ho * wo
          let imageIn = src + b * c * planeIn, imageGradOut = gOut + b * c * planeOut
          let imageGradIn = gIn.map { $0 + b * c * planeIn }
          withUnsafeTemporaryAllocation(of: Float.self, capacity: 4 * wo) { scratch in
            let gx = scratch.baseAddress!, gy = gx + wo, gradX = gy + wo, gradY = gradX + wo
            for oy in 0..<ho {
              generator(b, oy, gx, gy)
              let rowGradOut = imageGradOut + oy * wo
              if rowKernel {
                cwk_grid_backward_row_zeros_avx2(imageIn, imageGradIn, rowGradOut, gx, gy, wo, &axes, w, h, c, planeIn, planeOut, gradX, gradY)
              } else {
                for ox in 0..<wo {
                  (gradX[ox], gradY[ox]) = gridSampleBackwardPosition(
                    x: gx[ox], y: gy[ox], input: imageIn, gradInput: imageGradIn, gradOutput: rowGradOut + ox, channels: c,
                    planeIn: planeIn, planeOut: planeOut, width: w, height: h, options: options)
                }
              }
              rowGradient(b, oy, gradX, gradY)
            }
          }
        }
      }
    }
  }
  return gradInput
}
