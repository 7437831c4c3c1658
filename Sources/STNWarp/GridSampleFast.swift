import STNTensor

// Fast kernels for an arbitrary grid. Each output position computes its source coordinates once
// and reuses them for every channel; taps outside the input get weight 0 and offset 0, so the
// channel loop has no branches. Results equal `gridSampleNaive` / `gridSampleBackwardNaive`
// bit for bit (same arithmetic, same order), whatever the thread count.

/// One output position's 4 bilinear taps (nw, ne, sw, se): offsets into a plane, weights, and
/// inside masks (1 or 0). Taps outside get weight 0 and offset 0, so reading them is safe.
struct BilinearTaps {
  var o0: Int, o1: Int, o2: Int, o3: Int
  var w0: Float, w1: Float, w2: Float, w3: Float
  var m0: Float, m1: Float, m2: Float, m3: Float
  var east: Float, south: Float
}

/// The four bilinear corners of source pixel coordinate (x, y) on an h x w plane: the
/// north-west pixel (ix, iy), which corners lie inside, and the fractions east/south. Every
/// sampler (grid sample, the uint8 warps) starts here, so all compute the same floats.
struct BilinearCorners {
  var ix: Int, iy: Int
  var nwIn: Bool, neIn: Bool, swIn: Bool, seIn: Bool
  var east: Float, south: Float
  var west: Float { 1 - east }
  var north: Float { 1 - south }
}

@inline(__always)
func bilinearCorners(x: Float, y: Float, width w: Int, height h: Int) -> BilinearCorners {
  let x0 = floorFast(x), y0 = floorFast(y)
  let ix = Int(x0), iy = Int(y0)
  let xIn0 = ix >= 0 && ix < w, xIn1 = ix + 1 >= 0 && ix + 1 < w
  let yIn0 = iy >= 0 && iy < h, yIn1 = iy + 1 >= 0 && iy + 1 < h
  return BilinearCorners(ix: ix, iy: iy, nwIn: yIn0 && xIn0, neIn: yIn0 && xIn1, swIn: yIn1 && xIn0, seIn: yIn1 && xIn1,
                         east: x - x0, south: y - y0)
}

/// Taps for source pixel coordinate (x, y) on an h x w plane, zero-padded. Plain scalar code:
/// generic SIMD masks did not inline well here.
@inline(__always)
func bilinearTaps(x: Float, y: Float, width w: Int, height h: Int) -> BilinearTaps {
  let c = bilinearCorners(x: x, y: y, width: w, height: h)
  let north = c.north, south = c.south, west = c.west, east = c.east
  let base = c.iy * w + c.ix
  return BilinearTaps(
    o0: c.nwIn ? base : 0, o1: c.neIn ? base + 1 : 0, o2: c.swIn ? base + w : 0, o3: c.seIn ? base + w + 1 : 0,
    w0: c.nwIn ? north * west : 0, w1: c.neIn ? north * east : 0, w2: c.swIn ? south * west : 0, w3: c.seIn ? south * east : 0,
    m0: c.nwIn ? 1 : 0, m1: c.neIn ? 1 : 0, m2: c.swIn ? 1 : 0, m3: c.seIn ? 1 : 0,
    east: east, south: south)
}

/// The value of a tap: p[offset] inside the input, 0 outside (`inside` is the tap's 0/1 mask).
/// NOTE: a select, not `p[offset] * inside`: an outside tap reads offset 0, and an Inf or NaN
/// stored there must not leak into border pixels (0 · Inf is NaN).
@inline(__always)
func tap(_ p: UnsafePointer<Float>, _ offset: Int, _ inside: Float) -> Float {
  inside != 0 ? p[offset] : 0
}

/// True when all 4 bilinear taps of (x, y) are outside a w x h plane: such a position reads 0
/// and has zero gradients (under zeros padding), so kernels skip it.
/// NOTE: strict at -1: with x == -1 the east tap is column 0 with weight 0, which still gives
/// the grid a gradient.
@inline(__always)
func bilinearMissesInput(x: Float, y: Float, width w: Int, height h: Int) -> Bool {
  x < -1 || x >= Float(w) || y < -1 || y >= Float(h)
}

/// The backward of one bilinear output position over all channels: scatters `gradOut` into
/// `gradIn` (when given) through the tap weights and returns d(loss)/d(x, y) in pixel units
/// (before the unnormalize/padding multipliers). `gradOut` points at this position's value in
/// channel 0; channels are `planeOut` apart in it and `planeIn` apart in `input` / `gradIn`.
/// NOTE: tap *values* for the coordinate gradient use the 0/1 masks, not the weights: an inside
/// tap may have weight 0 and still shape the gradient. Outside taps have weight 0 and offset 0,
/// so adding into them is harmless.
@inline(__always)
func bilinearBackwardPosition(
  _ taps: BilinearTaps, input: UnsafePointer<Float>, gradIn: UnsafeMutablePointer<Float>?,
  gradOut: UnsafePointer<Float>, channels c: Int, planeIn: Int, planeOut: Int
) -> (gx: Float, gy: Float) {
  let east = taps.east, south = taps.south, west = 1 - east, north = 1 - south
  let o0 = taps.o0, o1 = taps.o1, o2 = taps.o2, o3 = taps.o3
  let w0 = taps.w0, w1 = taps.w1, w2 = taps.w2, w3 = taps.w3
  let m0 = taps.m0, m1 = taps.m1, m2 = taps.m2, m3 = taps.m3
  var gx: Float = 0, gy: Float = 0
  for ch in 0..<c {
    let p = input + ch * planeIn
    let g = gradOut[ch * planeOut]
    let nw = tap(p, o0, m0), ne = tap(p, o1, m1), sw = tap(p, o2, m2), se = tap(p, o3, m3)
    if let gradIn {
      let q = gradIn + ch * planeIn
      q[o0] += w0 * g; q[o1] += w1 * g; q[o2] += w2 * g; q[o3] += w3 * g
    }
    gx += ((ne - nw) * north + (se - sw) * south) * g
    gy += ((sw - nw) * west + (se - ne) * east) * g
  }
  return (gx, gy)
}

/// How to split `n` images with `rows` output rows each over `threads`: (chunks per image).
func rowBlocksPerImage(images n: Int, rows: Int, threads: Int) -> Int {
  if threads <= 1 || n >= 2 * threads { return 1 }
  return max(1, min(rows, (2 * threads + n - 1) / max(n, 1)))
}

// MARK: - One output position

/// The forward of one output position over all channels: samples the planes of `input` at
/// normalized grid coordinates (x, y) and writes `output[ch * planeOut]`.
@inline(__always)
func gridSamplePosition(
  x gridX: Float, y gridY: Float, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, channels c: Int,
  planeIn: Int, planeOut: Int, width w: Int, height h: Int, options: GridSampleOptions
) {
  let x = sourceIndex(gridX, size: w, padding: options.padding, alignCorners: options.alignCorners)
  let y = sourceIndex(gridY, size: h, padding: options.padding, alignCorners: options.alignCorners)
  switch options.mode {
  case .nearest:
    let ix = Int(roundHalfToEven(x)), iy = Int(roundHalfToEven(y))
    if ix >= 0 && ix < w && iy >= 0 && iy < h {
      let offset = iy * w + ix
      for ch in 0..<c { output[ch * planeOut] = input[ch * planeIn + offset] }
    } else {
      for ch in 0..<c { output[ch * planeOut] = 0 }
    }
  case .bilinear:
    if bilinearMissesInput(x: x, y: y, width: w, height: h) {
      for ch in 0..<c { output[ch * planeOut] = 0 }
      return
    }
    let taps = bilinearTaps(x: x, y: y, width: w, height: h)
    let o0 = taps.o0, o1 = taps.o1, o2 = taps.o2, o3 = taps.o3
    let w0 = taps.w0, w1 = taps.w1, w2 = taps.w2, w3 = taps.w3
    for ch in 0..<c {
      let p = input + ch * planeIn
      output[ch * planeOut] = tap(p, o0, taps.m0) * w0 + tap(p, o1, taps.m1) * w1 + tap(p, o2, taps.m2) * w2 + tap(p, o3, taps.m3) * w3
    }
  }
}

/// The backward of one output position over all channels: adds into `gradInput` (when given)
/// and returns d(loss)/d(grid x, grid y) (0 in nearest mode, as in PyTorch). `gradOutput`
/// points at the position in channel 0.
@inline(__always)
func gridSampleBackwardPosition(
  x gridX: Float, y gridY: Float, input: UnsafePointer<Float>, gradInput: UnsafeMutablePointer<Float>?, gradOutput: UnsafePointer<Float>,
  channels c: Int, planeIn: Int, planeOut: Int, width w: Int, height h: Int, options: GridSampleOptions
) -> (Float, Float) {
  let (x, xMultiplier) = sourceIndexWithGradient(gridX, size: w, padding: options.padding, alignCorners: options.alignCorners)
  let (y, yMultiplier) = sourceIndexWithGradient(gridY, size: h, padding: options.padding, alignCorners: options.alignCorners)
  switch options.mode {
  case .nearest:
    guard let gradInput else { return (0, 0) }
    let ix = Int(roundHalfToEven(x)), iy = Int(roundHalfToEven(y))
    if ix >= 0 && ix < w && iy >= 0 && iy < h {
      let offset = iy * w + ix
      for ch in 0..<c { gradInput[ch * planeIn + offset] += gradOutput[ch * planeOut] }
    }
    return (0, 0)
  case .bilinear:
    if bilinearMissesInput(x: x, y: y, width: w, height: h) { return (0, 0) }
    let taps = bilinearTaps(x: x, y: y, width: w, height: h)
    let (gx, gy) = bilinearBackwardPosition(
      taps, input: input, gradIn: gradInput, gradOut: gradOutput, channels: c, planeIn: planeIn, planeOut: planeOut)
    return (gx * xMultiplier, gy * yMultiplier)
  }
}

// MARK: - Forward

func gridSampleFast(input: Tensor, grid: Tensor, options: GridSampleOptions, threads: Int) -> Tensor {
  let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
  let (ho, wo) = (grid.shape[1], grid.shape[2])
  let count = [n, c, ho, wo].reduce(1, *)
  if count == 0 { return Tensor(shape: [n, c, ho, wo]) }
  let blocks = rowBlocksPerImage(images: n, rows: ho, threads: threads)
  let rowRanges = splitRange(ho, parts: blocks)
  // NOTE: every element is written below, so the storage starts uninitialized (no memset).
  let data = [Float](unsafeUninitializedCapacity: count) { outputBuffer, initialized in
    initialized = count
    input.data.withUnsafeBufferPointer { inputBuffer in
      grid.data.withUnsafeBufferPointer { gridBuffer in
        do {
          let src = inputBuffer.baseAddress!, gridPointer = gridBuffer.baseAddress!, dst = outputBuffer.baseAddress!
          parallelFor(chunks: n * rowRanges.count, threads: threads) { chunk in
            let b = chunk / rowRanges.count, rows = rowRanges[chunk % rowRanges.count]
            let planeIn = h * w, planeOut = ho * wo
            let imageIn = src + b * c * planeIn, imageOut = dst + b * c * planeOut
            for oy in rows {
              for ox in 0..<wo {
                let g = gridPointer + ((b * ho + oy) * wo + ox) * 2
                gridSamplePosition(x: g[0], y: g[1], input: imageIn, output: imageOut + oy * wo + ox, channels: c, planeIn: planeIn,
                                   planeOut: planeOut, width: w, height: h, options: options)
              }
            }
          }
        }
      }
    }
  }
  return Tensor(shape: [n, c, ho, wo], data: data)
}

// MARK: - Backward

func gridSampleBackwardFast(
  gradOutput: Tensor, input: Tensor, grid: Tensor, options: GridSampleOptions, threads: Int, needInputGradient: Bool
) -> (gradInput: Tensor, gradGrid: Tensor) {
  let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
  let (ho, wo) = (grid.shape[1], grid.shape[2])
  var gradInput = needInputGradient ? Tensor(shape: input.shape) : Tensor(shape: [0])
  var gradGrid = Tensor(shape: grid.shape)
  if gradGrid.count == 0 || c == 0 || h == 0 || w == 0 { return (gradInput, gradGrid) }
  input.data.withUnsafeBufferPointer { inputBuffer in
    grid.data.withUnsafeBufferPointer { gridBuffer in
      gradOutput.data.withUnsafeBufferPointer { gradOutputBuffer in
        gradInput.data.withUnsafeMutableBufferPointer { gradInputBuffer in
          gradGrid.data.withUnsafeMutableBufferPointer { gradGridBuffer in
            let src = inputBuffer.baseAddress!, gridPointer = gridBuffer.baseAddress!, gOutPointer = gradOutputBuffer.baseAddress!
            // NOTE: an empty array may still have a base address; never write through it.
            let gInPointer = needInputGradient ? gradInputBuffer.baseAddress : nil, gGridPointer = gradGridBuffer.baseAddress!
            // NOTE: gradInput of image b is written only by chunk b, so splitting by image keeps
            // the scatter race-free and the sums in a fixed order.
            parallelFor(chunks: n, threads: threads) { b in
              let planeIn = h * w, planeOut = ho * wo
              let imageIn = src + b * c * planeIn, imageGradOut = gOutPointer + b * c * planeOut
              let imageGradIn = gInPointer.map { $0 + b * c * planeIn }
              for oy in 0..<ho {
                for ox in 0..<wo {
                  let gi = ((b * ho + oy) * wo + ox) * 2
                  let g = gridPointer + gi
                  let (gx, gy) = gridSampleBackwardPosition(
                    x: g[0], y: g[1], input: imageIn, gradInput: imageGradIn, gradOutput: imageGradOut + oy * wo + ox, channels: c,
                    planeIn: planeIn, planeOut: planeOut, width: w, height: h, options: options)
                  gGridPointer[gi] = gx
                  gGridPointer[gi + 1] = gy
                }
              }
            }
          }
        }
      }
    }
  }
  return (gradInput, gradGrid)
}
