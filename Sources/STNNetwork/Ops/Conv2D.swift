// 2-D convolution (PyTorch `nn.Conv2d` semantics, groups = 1): forward, accumulating backward,
// its graph node, and the `Conv2D` layer.
//
// The fast path lowers each image to an im2col matrix and multiplies it with OpenBLAS `sgemm`;
// the naive twins below it are the direct seven-loop definitions the tests compare with.
import STNTensor

// MARK: - Shapes

/// Output length of a convolution along one axis: floor((size + 2p - d(k-1) - 1) / s) + 1.
public func conv2dOutputSize(_ size: Int, kernel: Int, stride: Int, padding: Int, dilation: Int) -> Int {
  let span = size + 2 * padding - dilation * (kernel - 1) - 1
  // NOTE: floor division, so a kernel wider than the padded input gives 0, not 1.
  return span < 0 ? 0 : span / stride + 1
}

/// Output shape (N,O,Ho,Wo) of `conv2dForward` for input (N,C,H,W) and weight (O,C,kH,kW).
public func conv2dOutputShape(inputShape: [Int], weightShape: [Int], stride: Int = 1, padding: Int = 0, dilation: Int = 1) -> [Int] {
  precondition(inputShape.count == 4 && weightShape.count == 4, "conv2d wants (N,C,H,W) input and (O,C,kH,kW) weight, got \(inputShape) and \(weightShape)")
  return [
    inputShape[0], weightShape[0],
    conv2dOutputSize(inputShape[2], kernel: weightShape[2], stride: stride, padding: padding, dilation: dilation),
    conv2dOutputSize(inputShape[3], kernel: weightShape[3], stride: stride, padding: padding, dilation: dilation),
  ]
}

/// Every size a convolution kernel needs, checked once.
struct Conv2DGeometry {
  let batch, channels, height, width: Int
  let outChannels, kernelH, kernelW: Int
  let outHeight, outWidth: Int
  let stride, padding, dilation: Int

  init(input: [Int], weight: [Int], stride: Int, padding: Int, dilation: Int) {
    precondition(input.count == 4, "conv2d input must be (N,C,H,W), got \(input)")
    precondition(weight.count == 4, "conv2d weight must be (O,C,kH,kW), got \(weight)")
    precondition(input[1] == weight[1], "conv2d input has \(input[1]) channels, weight expects \(weight[1])")
    precondition(input[1] >= 1 && weight[0] >= 1 && weight[2] >= 1 && weight[3] >= 1, "conv2d weight \(weight) has an empty dimension")
    precondition(stride >= 1 && padding >= 0 && dilation >= 1, "conv2d stride \(stride), padding \(padding), dilation \(dilation) out of range")
    batch = input[0]; channels = input[1]; height = input[2]; width = input[3]
    outChannels = weight[0]; kernelH = weight[2]; kernelW = weight[3]
    self.stride = stride; self.padding = padding; self.dilation = dilation
    outHeight = conv2dOutputSize(height, kernel: kernelH, stride: stride, padding: padding, dilation: dilation)
    outWidth = conv2dOutputSize(width, kernel: kernelW, stride: stride, padding: padding, dilation: dilation)
    precondition(outHeight >= 1 && outWidth >= 1, "conv2d kernel \(kernelH)x\(kernelW) (dilation \(dilation)) does not fit input \(height)x\(width) with padding \(padding)")
  }

  var outputShape: [Int] { [batch, outChannels, outHeight, outWidth] }
  /// Rows of the im2col matrix: C*kH*kW.
  var patchSize: Int { channels * kernelH * kernelW }
  /// Columns of the im2col matrix for one image: Ho*Wo.
  var outPlane: Int { outHeight * outWidth }
  var inPlane: Int { height * width }
}

// MARK: - im2col / col2im

// NOTE: the fast path first copies each image into a zero-bordered buffer (C, H+2p, W+2p), so
// the im2col and col2im loops below have no bounds checks: every tap reads or writes inside the
// padded plane, and a stride-1 row is one contiguous run the compiler vectorizes.

extension Conv2DGeometry {
  var paddedHeight: Int { height + 2 * padding }
  var paddedWidth: Int { width + 2 * padding }
  var paddedPlane: Int { paddedHeight * paddedWidth }
}

/// Copies image (C,H,W) into the interior of padded (C,H+2p,W+2p); the border is left as is (0).
func copyIntoPadded(_ g: Conv2DGeometry, image: UnsafePointer<Float>, padded: UnsafeMutablePointer<Float>) {
  let W = g.width, Wp = g.paddedWidth
  for c in 0..<g.channels {
    let source = image + c * g.inPlane
    let destination = padded + c * g.paddedPlane + g.padding * Wp + g.padding
    for y in 0..<g.height {
      let from = source + y * W, to = destination + y * Wp
      for x in 0..<W { to[x] = from[x] }
    }
  }
}

/// Adds the interior of padded (C,H+2p,W+2p) onto image (C,H,W) (the crop adjoint of `copyIntoPadded`).
func addPaddedInterior(_ g: Conv2DGeometry, padded: UnsafePointer<Float>, image: UnsafeMutablePointer<Float>) {
  let W = g.width, Wp = g.paddedWidth
  for c in 0..<g.channels {
    let source = padded + c * g.paddedPlane + g.padding * Wp + g.padding
    let destination = image + c * g.inPlane
    for y in 0..<g.height {
      let from = source + y * Wp, to = destination + y * W
      for x in 0..<W { to[x] += from[x] }
    }
  }
}

/// Lowers one padded image (C,Hp,Wp) to col (C·kH·kW, Ho·Wo):
/// col[(c,ky,kx), (oy,ox)] = padded[c, oy·s + ky·d, ox·s + kx·d].
func im2col(_ g: Conv2DGeometry, padded: UnsafePointer<Float>, col: UnsafeMutablePointer<Float>) {
  let Ho = g.outHeight, Wo = g.outWidth, Wp = g.paddedWidth, s = g.stride, d = g.dilation
  var row = col
  for c in 0..<g.channels {
    let plane = padded + c * g.paddedPlane
    for ky in 0..<g.kernelH {
      for kx in 0..<g.kernelW {
        var source = plane + ky * d * Wp + kx * d
        for _ in 0..<Ho {
          if s == 1 {
            copyRow(from: source, to: row, count: Wo)
          } else {
            for ox in 0..<Wo { row[ox] = source[ox * s] }
          }
          row += Wo
          source += s * Wp
        }
      }
    }
  }
}

/// to[0..<count] = from[0..<count] for the short rows im2col copies (10 to 42 floats in the
/// ST-CNN), in 8-float moves with no scalar tail: the last move is shifted back to end exactly
/// at `count`, rewriting a few floats with the same values (the buffers never overlap).
@inline(__always)
func copyRow(from: UnsafePointer<Float>, to: UnsafeMutablePointer<Float>, count: Int) {
  if count < 8 {
    for i in 0..<count { to[i] = from[i] }
    return
  }
  var i = 0
  while i + 8 <= count {
    UnsafeMutableRawPointer(to + i).storeBytes(of: UnsafeRawPointer(from + i).loadUnaligned(as: SIMD8<Float>.self), as: SIMD8<Float>.self)
    i += 8
  }
  if i < count {
    let last = count - 8
    UnsafeMutableRawPointer(to + last).storeBytes(of: UnsafeRawPointer(from + last).loadUnaligned(as: SIMD8<Float>.self), as: SIMD8<Float>.self)
  }
}

/// The adjoint of `im2col`: adds col (C·kH·kW, Ho·Wo) onto padded (C,Hp,Wp) (`+=`).
func col2imAdd(_ g: Conv2DGeometry, col: UnsafePointer<Float>, padded: UnsafeMutablePointer<Float>) {
  let Ho = g.outHeight, Wo = g.outWidth, Wp = g.paddedWidth, s = g.stride, d = g.dilation
  var row = col
  for c in 0..<g.channels {
    let plane = padded + c * g.paddedPlane
    for ky in 0..<g.kernelH {
      for kx in 0..<g.kernelW {
        var target = plane + ky * d * Wp + kx * d
        for _ in 0..<Ho {
          if s == 1 {
            for ox in 0..<Wo { target[ox] += row[ox] }
          } else {
            for ox in 0..<Wo { target[ox * s] += row[ox] }
          }
          row += Wo
          target += s * Wp
        }
      }
    }
  }
}

// MARK: - Fast path (im2col + sgemm)

/// Convolution forward, PyTorch `F.conv2d` (groups 1): input (N,C,H,W), weight (O,C,kH,kW),
/// bias (O) or nil -> output (N,O,Ho,Wo), Ho = floor((H + 2p - d(kH-1) - 1)/s) + 1.
///
/// Each image is lowered by im2col to (C·kH·kW, Ho·Wo) and multiplied by the weight viewed as
/// (O, C·kH·kW); stride-1 convolutions with C·kW >= 64 are lowered by kernel rows instead (see
/// `im2colKernelRows`). With `threads > 1` the batch is split across threads, each calling
/// sgemm (single-threaded by `RuntimePolicy`: OpenBLAS's own threads would fight ours).
public func conv2dForward(
  input: Tensor, weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Int = 0, dilation: Int = 1, threads: Int = 1
) -> Tensor {
  let g = Conv2DGeometry(input: input.shape, weight: weight.shape, stride: stride, padding: padding, dilation: dilation)
  if let bias { precondition(bias.shape == [g.outChannels], "conv2d bias must be (\(g.outChannels)), got \(bias.shape)") }
  // Every element is written (bias fill, then beta 1; or beta 0, which OpenBLAS treats as
  // "overwrite", never reading the old value).
  var output = g.batch == 0 ? Tensor(shape: g.outputShape) : uninitializedTensor(shape: g.outputShape)
  output.data.withUnsafeMutableBufferPointer { y in
    conv2dForward(g, output: y.baseAddress, accumulate: false, input: input, weight: weight, bias: bias, threads: threads)
  }
  return output
}

/// output (N,O,Ho,Wo) = conv(input) + bias, or, with `accumulate` (and no bias), output +=
/// conv(input): the transposed convolution that gives conv2d's input gradient adds into it.
func conv2dForward(
  _ g: Conv2DGeometry, output y: UnsafeMutablePointer<Float>?, accumulate: Bool, input: Tensor, weight: Tensor, bias: Tensor?,
  threads: Int
) {
  precondition(!accumulate || bias == nil, "conv2d adds a bias only when it overwrites its output")
  guard g.batch > 0, let y else { return }
  let K = g.patchSize, P = g.outPlane, O = g.outChannels
  let chunks = splitRange(g.batch, parts: max(1, min(threads, g.batch)))
  let byKernelRows = g.lowersByKernelRows
  let rowWeights = byKernelRows ? weightsByKernelRow(weight) : []
  let colCapacity = byKernelRows ? max(K * P, g.kernelRowPatchSize * g.paddedHeight * g.outWidth) : K * P
  // beta 0 overwrites the output (the first GEMM of an image without bias); 1 adds to it.
  let overwrites = !accumulate && bias == nil
  input.data.withUnsafeBufferPointer { inputBuffer in
    weight.data.withUnsafeBufferPointer { weightBuffer in
      rowWeights.withUnsafeBufferPointer { rowWeightBuffer in
        let x = inputBuffer.baseAddress!, w = weightBuffer.baseAddress!
        let wr = rowWeightBuffer.baseAddress
        let b = bias?.data
        parallelFor(chunks: chunks.count, threads: threads) { chunk in
          let col = UnsafeMutablePointer<Float>.allocate(capacity: colCapacity)
          let padded = UnsafeMutablePointer<Float>.allocate(capacity: g.channels * g.paddedPlane)
          padded.initialize(repeating: 0, count: g.channels * g.paddedPlane)
          defer { col.deallocate(); padded.deallocate() }
          for n in chunks[chunk] {
            copyIntoPadded(g, image: x + n * g.channels * g.inPlane, padded: padded)
            let out = y + n * O * P
            if let b {
              for o in 0..<O { (out + o * P).update(repeating: b[o], count: P) }
            }
            if byKernelRows, let wr {
              // out (O,P) += W_ky (O, C·kW) x rows (C·kW, P) shifted down by ky·d, per ky.
              let rowK = g.kernelRowPatchSize, ldb = g.paddedHeight * g.outWidth
              im2colKernelRows(g, padded: padded, col: col)
              for ky in 0..<g.kernelH {
                sgemm(transposeA: false, transposeB: false, M: O, N: P, K: rowK, wr + ky * O * rowK, lda: rowK,
                  col + ky * g.dilation * g.outWidth, ldb: ldb, beta: overwrites && ky == 0 ? 0 : 1, out, ldc: P)
              }
            } else {
              im2col(g, padded: padded, col: col)
              sgemm(transposeA: false, transposeB: false, M: O, N: P, K: K, w, lda: K, col, ldb: P, beta: overwrites ? 0 : 1, out, ldc: P)
            }
          }
        }
      }
    }
  }
}

// MARK: - Lowering by kernel rows (stride 1)

// NOTE: for stride 1 the full im2col matrix repeats each padded row kH times (once per kernel
// row). Lowering only the kW horizontal taps of EVERY padded row gives rows (C·kW, Hp·Wo),
// kH times smaller; kernel row ky then reads the same matrix shifted down by ky·d image rows
// (a column offset of ky·d·Wo), and the output is the sum of kH GEMMs with inner size C·kW.
// Worth it when C·kW is long enough for an efficient GEMM (cls.3 / cls.6 of the ST-CNN: 160).

extension Conv2DGeometry {
  /// Inner size of one kernel row's GEMM: C·kW.
  var kernelRowPatchSize: Int { channels * kernelW }

  /// Whether `conv2dForward` lowers by kernel rows (stride 1, several kernel rows, C·kW >= 64).
  var lowersByKernelRows: Bool { stride == 1 && kernelH > 1 && kernelRowPatchSize >= 64 }
}

/// weight (O,C,kH,kW) -> (kH, O, C·kW): the weights of each kernel row as one GEMM operand.
func weightsByKernelRow(_ weight: Tensor) -> [Float] {
  let O = weight.shape[0], C = weight.shape[1], kH = weight.shape[2], kW = weight.shape[3]
  var rows = [Float](repeating: 0, count: weight.count)
  for ky in 0..<kH {
    for o in 0..<O {
      for c in 0..<C {
        for kx in 0..<kW {
          rows[((ky * O + o) * C + c) * kW + kx] = weight.data[((o * C + c) * kH + ky) * kW + kx]
        }
      }
    }
  }
  return rows
}

/// Lowers one padded image (C,Hp,Wp) to rows (C·kW, Hp·Wo) for stride 1:
/// rows[(c,kx), (y,ox)] = padded[c, y, ox + kx·d] for every padded row y.
func im2colKernelRows(_ g: Conv2DGeometry, padded: UnsafePointer<Float>, col: UnsafeMutablePointer<Float>) {
  let Wo = g.outWidth, Wp = g.paddedWidth, d = g.dilation
  var row = col
  for c in 0..<g.channels {
    let plane = padded + c * g.paddedPlane
    for kx in 0..<g.kernelW {
      var source = plane + kx * d
      for _ in 0..<g.paddedHeight {
        copyRow(from: source, to: row, count: Wo)
        row += Wo
        source += Wp
      }
    }
  }
}

/// Convolution backward, ACCUMULATING into the gradient buffers (llm.c): gradInput (N,C,H,W),
/// gradWeight (O,C,kH,kW) and gradBias (O) get `+=` their share of gradOutput (N,O,Ho,Wo); a nil
/// buffer is not needed and not computed.
///
/// gradWeight += Σ_n gradOut_n (O, Ho·Wo) × col_nᵀ; gradInput_n += col2im(Wᵀ × gradOut_n).
/// NOTE: the batch is cut into a fixed number of groups whatever `threads` is, and the
/// per-group weight gradients are summed in group order, so results do not depend on threads.
public func conv2dBackward(
  gradInput: inout Tensor?, gradWeight: inout Tensor?, gradBias: inout Tensor?,
  gradOutput: Tensor, input: Tensor, weight: Tensor, stride: Int = 1, padding: Int = 0, dilation: Int = 1, threads: Int = 1
) {
  let g = Conv2DGeometry(input: input.shape, weight: weight.shape, stride: stride, padding: padding, dilation: dilation)
  precondition(gradOutput.shape == g.outputShape, "conv2d gradOutput must be \(g.outputShape), got \(gradOutput.shape)")
  precondition(gradInput.map { $0.shape == input.shape } ?? true, "conv2d gradInput must be \(input.shape)")
  precondition(gradWeight.map { $0.shape == weight.shape } ?? true, "conv2d gradWeight must be \(weight.shape)")
  precondition(gradBias.map { $0.shape == [g.outChannels] } ?? true, "conv2d gradBias must be (\(g.outChannels))")
  let K = g.patchSize, P = g.outPlane, O = g.outChannels
  withOptionalMutablePointer(&gradBias) { db in
    if let db { conv2dBiasGradient(db, gradOutput: gradOutput, threads: threads) }
  }
  if g.batch == 0 { return }
  let needInputGradient = gradInput != nil, needWeightGradient = gradWeight != nil
  let groups = splitRange(g.batch, parts: max(1, min(g.batch, conv2dReductionGroups)))
  // The weight gradient is lowered by kernel rows when the forward is (see `im2colKernelRows`).
  let byKernelRows = g.lowersByKernelRows
  let colCapacity = byKernelRows ? max(K * P, g.kernelRowPatchSize * g.paddedHeight * g.outWidth) : K * P
  let partialCount = needWeightGradient ? groups.count * O * K : 0
  let partials = UnsafeMutablePointer<Float>.allocate(capacity: partialCount)
  defer { partials.deallocate() }
  partials.initialize(repeating: 0, count: partialCount)
  // Stride 1 with a square kernel: the input gradient is itself a convolution (below), which
  // runs as im2col + a GEMM with the long O·k·k inner dimension instead of GEMM + col2im.
  // NOTE: only when O <= C. That convolution's im2col matrix is (O·k·k, H·W) per image; with
  // many more outputs than inputs (the ST-CNN's 1->32 first layer: 800 x 1764 floats to feed
  // a GEMM with ONE output row) it costs far more than GEMM + col2im of a (C·k·k, Ho·Wo) matrix
  // (measured on the benchmark ST-CNN: 177 -> 140 ms CPU per training step).
  let transposedPadding = dilation * (g.kernelH - 1) - padding
  let viaTransposedConvolution = needInputGradient && stride == 1 && g.kernelH == g.kernelW && transposedPadding >= 0 && O <= g.channels
  let scatterInputGradient = needInputGradient && !viaTransposedConvolution
  if needWeightGradient || scatterInputGradient {
    withOptionalMutablePointer(&gradInput) { gradInputPointer in
      input.data.withUnsafeBufferPointer { inputBuffer in
        weight.data.withUnsafeBufferPointer { weightBuffer in
          gradOutput.data.withUnsafeBufferPointer { gradOutputBuffer in
            let x = inputBuffer.baseAddress!, w = weightBuffer.baseAddress!, dy = gradOutputBuffer.baseAddress!
            let dx = scatterInputGradient ? gradInputPointer : nil
            parallelFor(chunks: groups.count, threads: threads) { group in
              let col = UnsafeMutablePointer<Float>.allocate(capacity: colCapacity)
              let padded = UnsafeMutablePointer<Float>.allocate(capacity: g.channels * g.paddedPlane)
              padded.initialize(repeating: 0, count: g.channels * g.paddedPlane)
              let gradPadded = UnsafeMutablePointer<Float>.allocate(capacity: dx == nil ? 0 : g.channels * g.paddedPlane)
              defer { col.deallocate(); padded.deallocate(); gradPadded.deallocate() }
              let partial = partials + group * O * K
              for n in groups[group] {
                let dyn = dy + n * O * P
                if needWeightGradient {
                  copyIntoPadded(g, image: x + n * g.channels * g.inPlane, padded: padded)
                  if byKernelRows {
                    // partial_ky (O, C·kW) += dy_n (O,P) x rows_ky^T (P, C·kW), per kernel row ky.
                    let rowK = g.kernelRowPatchSize, ldb = g.paddedHeight * g.outWidth
                    im2colKernelRows(g, padded: padded, col: col)
                    for ky in 0..<g.kernelH {
                      sgemm(transposeA: false, transposeB: true, M: O, N: rowK, K: P, dyn, lda: P, col + ky * g.dilation * g.outWidth,
                        ldb: ldb, beta: 1, partial + ky * O * rowK, ldc: rowK)
                    }
                  } else {
                    im2col(g, padded: padded, col: col)
                    // partial (O,K) += dy_n (O,P) x col^T (P,K)
                    sgemm(transposeA: false, transposeB: true, M: O, N: K, K: P, dyn, lda: P, col, ldb: P, beta: 1, partial, ldc: K)
                  }
                }
                if let dx {
                  // col (K,P) = W^T (K,O) x dy_n (O,P), then scattered back onto the image.
                  sgemm(transposeA: true, transposeB: false, M: K, N: P, K: O, w, lda: K, dyn, ldb: P, beta: 0, col, ldc: P)
                  gradPadded.update(repeating: 0, count: g.channels * g.paddedPlane)
                  col2imAdd(g, col: col, padded: gradPadded)
                  addPaddedInterior(g, padded: gradPadded, image: dx + n * g.channels * g.inPlane)
                }
              }
            }
          }
        }
      }
    }
  }
  gradWeight?.data.withUnsafeMutableBufferPointer { dw in
    for group in 0..<groups.count {
      let partial = partials + group * O * K
      if byKernelRows {
        // partial is (kH, O, C, kW); gradWeight is (O, C, kH, kW).
        let C = g.channels, kH = g.kernelH, kW = g.kernelW
        for ky in 0..<kH {
          for o in 0..<O {
            for c in 0..<C {
              for kx in 0..<kW { dw[((o * C + c) * kH + ky) * kW + kx] += partial[((ky * O + o) * C + c) * kW + kx] }
            }
          }
        }
      } else {
        for i in 0..<(O * K) { dw[i] += partial[i] }
      }
    }
  }
  if viaTransposedConvolution {
    let transposed = Conv2DGeometry(
      input: gradOutput.shape, weight: [g.channels, O, g.kernelH, g.kernelW], stride: 1, padding: transposedPadding, dilation: dilation)
    withOptionalMutablePointer(&gradInput) { dx in
      conv2dForward(transposed, output: dx, accumulate: true, input: gradOutput, weight: flippedTransposedKernel(weight), bias: nil, threads: threads)
    }
  }
}

/// weight (O,C,k,k) -> (C,O,k,k) rotated by 180 degrees: the kernel of the transposed convolution.
///
/// For stride 1, dx[c,y,x] = Σ_{o,ky,kx} dy[o, y+p-ky·d, x+p-kx·d]·w[o,c,ky,kx]; substituting
/// ky' = k-1-ky makes it a plain convolution of dy, padded by d(k-1)-p, with this kernel.
func flippedTransposedKernel(_ weight: Tensor) -> Tensor {
  let O = weight.shape[0], C = weight.shape[1], kH = weight.shape[2], kW = weight.shape[3]
  var flipped = Tensor(shape: [C, O, kH, kW])
  for o in 0..<O {
    for c in 0..<C {
      for ky in 0..<kH {
        for kx in 0..<kW {
          flipped.data[((c * O + o) * kH + (kH - 1 - ky)) * kW + (kW - 1 - kx)] = weight.data[((o * C + c) * kH + ky) * kW + kx]
        }
      }
    }
  }
  return flipped
}

/// How many batch groups the weight gradient is reduced over (fixed, for thread-independence).
let conv2dReductionGroups = 8

/// gradBias (O) += Σ over batch and positions of gradOutput (N,O,Ho,Wo); planes summed in double.
/// Channels are split across `threads`; each channel's sum is the same whatever the split.
func conv2dBiasGradient(_ db: UnsafeMutablePointer<Float>, gradOutput: Tensor, threads: Int = 1) {
  let N = gradOutput.shape[0], O = gradOutput.shape[1], P = gradOutput.shape[2] * gradOutput.shape[3]
  if N == 0 || P == 0 { return }
  let ranges = splitRange(O, parts: max(1, min(threads, O)))
  gradOutput.data.withUnsafeBufferPointer { dyBuffer in
    let dy = dyBuffer.baseAddress!
    parallelFor(chunks: ranges.count, threads: threads) { chunk in
      for o in ranges[chunk] {
        var sum: Double = 0
        for n in 0..<N { sum += Double(planeSum(dy + (n * O + o) * P, count: P)) }
        db[o] += Float(sum)
      }
    }
  }
}

/// Σ values[0..<count], with 16 independent lanes so the adds pipeline (a single running sum
/// would wait on each add's latency).
@inline(__always)
func planeSum(_ values: UnsafePointer<Float>, count: Int) -> Float {
  var lanes = SIMD16<Float>()
  var i = 0
  while i + 16 <= count {
    lanes += UnsafeRawPointer(values + i).loadUnaligned(as: SIMD16<Float>.self)
    i += 16
  }
  var tail: Float = 0
  while i < count {
    tail += values[i]
    i += 1
  }
  return lanes.sum() + tail
}

// MARK: - Naive twins

/// The direct definition of `conv2dForward` (same contract; `threads` is ignored), kept as the tested twin.
public func conv2dForwardNaive(
  input: Tensor, weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Int = 0, dilation: Int = 1, threads: Int = 1
) -> Tensor {
  let g = Conv2DGeometry(input: input.shape, weight: weight.shape, stride: stride, padding: padding, dilation: dilation)
  if let bias { precondition(bias.shape == [g.outChannels], "conv2d bias must be (\(g.outChannels)), got \(bias.shape)") }
  var output = Tensor(shape: g.outputShape)
  let C = g.channels, H = g.height, W = g.width, kH = g.kernelH, kW = g.kernelW
  var index = 0
  for n in 0..<g.batch {
    for o in 0..<g.outChannels {
      for oy in 0..<g.outHeight {
        for ox in 0..<g.outWidth {
          var sum: Float = bias?.data[o] ?? 0
          for c in 0..<C {
            for ky in 0..<kH {
              let iy = oy * stride - padding + ky * dilation
              if iy < 0 || iy >= H { continue }
              for kx in 0..<kW {
                let ix = ox * stride - padding + kx * dilation
                if ix < 0 || ix >= W { continue }
                sum += input.data[((n * C + c) * H + iy) * W + ix] * weight.data[((o * C + c) * kH + ky) * kW + kx]
              }
            }
          }
          output.data[index] = sum
          index += 1
        }
      }
    }
  }
  return output
}

/// The direct definition of `conv2dBackward` (same contract; `threads` is ignored), kept as the tested twin.
public func conv2dBackwardNaive(
  gradInput: inout Tensor?, gradWeight: inout Tensor?, gradBias: inout Tensor?,
  gradOutput: Tensor, input: Tensor, weight: Tensor, stride: Int = 1, padding: Int = 0, dilation: Int = 1, threads: Int = 1
) {
  let g = Conv2DGeometry(input: input.shape, weight: weight.shape, stride: stride, padding: padding, dilation: dilation)
  precondition(gradOutput.shape == g.outputShape, "conv2d gradOutput must be \(g.outputShape), got \(gradOutput.shape)")
  let C = g.channels, H = g.height, W = g.width, kH = g.kernelH, kW = g.kernelW, O = g.outChannels
  for n in 0..<g.batch {
    for o in 0..<O {
      for oy in 0..<g.outHeight {
        for ox in 0..<g.outWidth {
          let dy = gradOutput.data[((n * O + o) * g.outHeight + oy) * g.outWidth + ox]
          gradBias?.data[o] += dy
          for c in 0..<C {
            for ky in 0..<kH {
              let iy = oy * stride - padding + ky * dilation
              if iy < 0 || iy >= H { continue }
              for kx in 0..<kW {
                let ix = ox * stride - padding + kx * dilation
                if ix < 0 || ix >= W { continue }
                let inputIndex = ((n * C + c) * H + iy) * W + ix
                let weightIndex = ((o * C + c) * kH + ky) * kW + kx
                // d(out)/d(in) = w, d(out)/d(w) = in
                gradWeight?.data[weightIndex] += dy * input.data[inputIndex]
                gradInput?.data[inputIndex] += dy * weight.data[weightIndex]
              }
            }
          }
        }
      }
    }
  }
}

// MARK: - Graph

extension Graph {
  /// Convolution. input (N,C,H,W), weight (O,C,kH,kW), bias (O,) -> (N,O,Ho,Wo).
  public func conv2d(_ x: Variable, weight: Variable, bias: Variable?, stride: Int = 1, padding: Int = 0, dilation: Int = 1) -> Variable {
    let y = conv2dForward(
      input: values[x.id], weight: values[weight.id], bias: bias.map { values[$0.id] }, stride: stride, padding: padding, dilation: dilation,
      threads: threads)
    return record(y, op: "conv2d", requiresGradient: needsGradient(x.id, weight.id, bias?.id)) { gradOutput, _, graph in
      var gradInput = graph.takeGradient(x.id), gradWeight = graph.takeGradient(weight.id)
      var gradBias = bias.flatMap { graph.takeGradient($0.id) }
      conv2dBackward(
        gradInput: &gradInput, gradWeight: &gradWeight, gradBias: &gradBias, gradOutput: gradOutput, input: graph.values[x.id],
        weight: graph.values[weight.id], stride: stride, padding: padding, dilation: dilation, threads: graph.threads)
      graph.restoreGradient(x.id, gradInput)
      graph.restoreGradient(weight.id, gradWeight)
      if let bias { graph.restoreGradient(bias.id, gradBias) }
    }
  }
}

// MARK: - Layer

/// 2-D convolution, PyTorch `nn.Conv2d` (square kernel, stride, padding, dilation).
public final class Conv2D: Layer {
  public let inChannels: Int, outChannels: Int, kernel: Int, stride: Int, padding: Int, dilation: Int
  /// (O,I,kH,kW)
  public let weight: Parameter
  /// (O,)
  public let bias: Parameter?
  public let outputShape: [Int]

  /// PyTorch default init: Kaiming-uniform with a = sqrt(5), i.e. weight and bias uniform in
  /// ±1/sqrt(fan_in), fan_in = I·kH·kW. `inputShape` is [C,H,W] with C == inChannels.
  public init(
    store: ParameterStore, name: String, inputShape: [Int], outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
    dilation: Int = 1, bias: Bool = true, random: inout RandomStream
  ) {
    precondition(inputShape.count == 3 && kernel > 0 && stride > 0 && padding >= 0 && dilation > 0 && outChannels > 0)
    inChannels = inputShape[0]
    self.outChannels = outChannels
    self.kernel = kernel
    self.stride = stride
    self.padding = padding
    self.dilation = dilation
    let fanIn = inChannels * kernel * kernel
    let bound = 1 / Float(fanIn).squareRoot()
    let shape = [outChannels, inChannels, kernel, kernel]
    weight = store.add(name: name + "weight", shape: shape, initial: uniformValues(shape.reduce(1, *), bound: bound, &random))
    self.bias = bias ? store.add(name: name + "bias", shape: [outChannels], initial: uniformValues(outChannels, bound: bound, &random)) : nil
    outputShape = [outChannels,
      conv2dOutputSize(inputShape[1], kernel: kernel, stride: stride, padding: padding, dilation: dilation),
      conv2dOutputSize(inputShape[2], kernel: kernel, stride: stride, padding: padding, dilation: dilation)]
  }

  public var parameterCount: Int { weight.count + (bias?.count ?? 0) }

  public var moduleDescription: String {
    var text = "Conv2d(\(inChannels), \(outChannels), kernel_size=(\(kernel), \(kernel)), stride=(\(stride), \(stride))"
    if padding != 0 { text += ", padding=(\(padding), \(padding))" }
    if dilation != 1 { text += ", dilation=(\(dilation), \(dilation))" }
    if bias == nil { text += ", bias=False" }
    return text + ")"
  }

  public func forward(_ x: Variable, in graph: Graph) -> Variable {
    graph.conv2d(x, weight: graph.parameter(weight), bias: bias.map { graph.parameter($0) }, stride: stride, padding: padding, dilation: dilation)
  }
}
