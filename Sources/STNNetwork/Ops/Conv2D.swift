// 2-D convolution (PyTorch `nn.Conv2d` semantics, groups = 1), forward and backward.
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

  /// The output columns `ox` whose input column `ox*s - p + offset` lies inside [0, width).
  func validRange(offset: Int, outLength: Int, inLength: Int) -> Range<Int> {
    // ox*s - p + offset >= 0  <=>  ox >= ceil((p - offset) / s)
    let lowNumerator = padding - offset
    let low = lowNumerator <= 0 ? 0 : (lowNumerator + stride - 1) / stride
    // ox*s - p + offset <= inLength - 1  <=>  ox <= floor((inLength - 1 + p - offset) / s)
    let highNumerator = inLength - 1 + padding - offset
    let high = highNumerator < 0 ? -1 : highNumerator / stride
    let lo = min(low, outLength), hi = min(high + 1, outLength)
    return lo..<max(lo, hi)
  }
}

// MARK: - im2col / col2im

/// Lowers one image (C,H,W) to col (C*kH*kW, Ho*Wo): col[(c,ky,kx), (oy,ox)] = image[c, oy*s-p+ky*d, ox*s-p+kx*d]
/// (0 outside). `columnStride` is the row stride of `col` (>= Ho*Wo) so several images can sit side by side.
func im2col(_ g: Conv2DGeometry, image: UnsafePointer<Float>, col: UnsafeMutablePointer<Float>, columnStride: Int) {
  let Ho = g.outHeight, Wo = g.outWidth, H = g.height, W = g.width
  for c in 0..<g.channels {
    let plane = image + c * H * W
    for ky in 0..<g.kernelH {
      let rowOffset = ky * g.dilation
      let rows = g.validRange(offset: rowOffset, outLength: Ho, inLength: H)
      for kx in 0..<g.kernelW {
        let colOffset = kx * g.dilation
        let cols = g.validRange(offset: colOffset, outLength: Wo, inLength: W)
        let destination = col + ((c * g.kernelH + ky) * g.kernelW + kx) * columnStride
        for oy in 0..<Ho {
          let out = destination + oy * Wo
          guard rows.contains(oy), !cols.isEmpty else {
            out.update(repeating: 0, count: Wo)
            continue
          }
          let source = plane + (oy * g.stride - g.padding + rowOffset) * W
          if cols.lowerBound > 0 { out.update(repeating: 0, count: cols.lowerBound) }
          if g.stride == 1 {
            let start = cols.lowerBound - g.padding + colOffset
            out.advanced(by: cols.lowerBound).update(from: source + start, count: cols.count)
          } else {
            var ix = cols.lowerBound * g.stride - g.padding + colOffset
            for ox in cols {
              out[ox] = source[ix]
              ix += g.stride
            }
          }
          if cols.upperBound < Wo { out.advanced(by: cols.upperBound).update(repeating: 0, count: Wo - cols.upperBound) }
        }
      }
    }
  }
}

/// The adjoint of `im2col`: adds col (C*kH*kW, Ho*Wo) back onto image (C,H,W) (`+=`).
func col2imAdd(_ g: Conv2DGeometry, col: UnsafePointer<Float>, columnStride: Int, image: UnsafeMutablePointer<Float>) {
  let Ho = g.outHeight, Wo = g.outWidth, H = g.height, W = g.width
  for c in 0..<g.channels {
    let plane = image + c * H * W
    for ky in 0..<g.kernelH {
      let rowOffset = ky * g.dilation
      let rows = g.validRange(offset: rowOffset, outLength: Ho, inLength: H)
      for kx in 0..<g.kernelW {
        let colOffset = kx * g.dilation
        let cols = g.validRange(offset: colOffset, outLength: Wo, inLength: W)
        if cols.isEmpty { continue }
        let source = col + ((c * g.kernelH + ky) * g.kernelW + kx) * columnStride
        for oy in rows {
          let input = source + oy * Wo
          let target = plane + (oy * g.stride - g.padding + rowOffset) * W
          var ix = cols.lowerBound * g.stride - g.padding + colOffset
          for ox in cols {
            target[ix] += input[ox]
            ix += g.stride
          }
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
/// (O, C·kH·kW). With `threads > 1` the batch is split across threads, each running
/// single-threaded sgemm (OpenBLAS's own threads would fight ours on small matrices).
public func conv2dForward(
  input: Tensor, weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Int = 0, dilation: Int = 1, threads: Int = 1
) -> Tensor {
  let g = Conv2DGeometry(input: input.shape, weight: weight.shape, stride: stride, padding: padding, dilation: dilation)
  if let bias { precondition(bias.shape == [g.outChannels], "conv2d bias must be (\(g.outChannels)), got \(bias.shape)") }
  var output = Tensor(shape: g.outputShape)
  if g.batch == 0 { return output }
  let K = g.patchSize, P = g.outPlane, O = g.outChannels
  let chunks = splitRange(g.batch, parts: max(1, min(threads, g.batch)))
  setBLASThreads(1)
  input.data.withUnsafeBufferPointer { inputBuffer in
    weight.data.withUnsafeBufferPointer { weightBuffer in
      output.data.withUnsafeMutableBufferPointer { outputBuffer in
        let x = inputBuffer.baseAddress!, w = weightBuffer.baseAddress!, y = outputBuffer.baseAddress!
        let b = bias?.data
        parallelFor(chunks: chunks.count, threads: threads) { chunk in
          let col = UnsafeMutablePointer<Float>.allocate(capacity: K * P)
          defer { col.deallocate() }
          for n in chunks[chunk] {
            im2col(g, image: x + n * g.channels * g.inPlane, col: col, columnStride: P)
            let out = y + n * O * P
            if let b {
              for o in 0..<O { (out + o * P).update(repeating: b[o], count: P) }
            }
            sgemm(transposeA: false, transposeB: false, M: O, N: P, K: K, w, lda: K, col, ldb: P, beta: b == nil ? 0 : 1, out, ldc: P)
          }
        }
      }
    }
  }
  return output
}

/// Convolution backward: gradOutput (N,O,Ho,Wo) -> gradInput (N,C,H,W) (nil unless
/// `needInputGradient`), gradWeight (O,C,kH,kW), gradBias (O). Gradients are returned fresh.
///
/// gradWeight = Σ_n gradOut_n (O, Ho·Wo) × col_nᵀ; gradInput_n = col2im(Wᵀ × gradOut_n).
/// NOTE: the batch is cut into a fixed number of groups whatever `threads` is, and the
/// per-group weight gradients are summed in group order, so results do not depend on threads.
public func conv2dBackward(
  gradOutput: Tensor, input: Tensor, weight: Tensor, stride: Int = 1, padding: Int = 0, dilation: Int = 1,
  needInputGradient: Bool = true, threads: Int = 1
) -> (gradInput: Tensor?, gradWeight: Tensor, gradBias: Tensor) {
  let g = Conv2DGeometry(input: input.shape, weight: weight.shape, stride: stride, padding: padding, dilation: dilation)
  precondition(gradOutput.shape == g.outputShape, "conv2d gradOutput must be \(g.outputShape), got \(gradOutput.shape)")
  let K = g.patchSize, P = g.outPlane, O = g.outChannels
  var gradWeight = Tensor(shape: weight.shape)
  let gradBias = conv2dBiasGradient(gradOutput)
  if g.batch == 0 { return (needInputGradient ? Tensor(shape: input.shape) : nil, gradWeight, gradBias) }
  let groups = splitRange(g.batch, parts: max(1, min(g.batch, conv2dReductionGroups)))
  let partials = UnsafeMutablePointer<Float>.allocate(capacity: groups.count * O * K)
  defer { partials.deallocate() }
  partials.initialize(repeating: 0, count: groups.count * O * K)
  setBLASThreads(1)
  var gradInputData = [Float](repeating: 0, count: needInputGradient ? input.count : 0)
  input.data.withUnsafeBufferPointer { inputBuffer in
    weight.data.withUnsafeBufferPointer { weightBuffer in
      gradOutput.data.withUnsafeBufferPointer { gradOutputBuffer in
        gradInputData.withUnsafeMutableBufferPointer { gradInputBuffer in
          let x = inputBuffer.baseAddress!, w = weightBuffer.baseAddress!, dy = gradOutputBuffer.baseAddress!
          // NOTE: an empty array may still have a base address; never write through it.
          let dx = needInputGradient ? gradInputBuffer.baseAddress : nil
          parallelFor(chunks: groups.count, threads: threads) { group in
            let col = UnsafeMutablePointer<Float>.allocate(capacity: K * P)
            defer { col.deallocate() }
            let partial = partials + group * O * K
            for n in groups[group] {
              let dyn = dy + n * O * P
              im2col(g, image: x + n * g.channels * g.inPlane, col: col, columnStride: P)
              // partial (O,K) += dy_n (O,P) x col^T (P,K)
              sgemm(transposeA: false, transposeB: true, M: O, N: K, K: P, dyn, lda: P, col, ldb: P, beta: 1, partial, ldc: K)
              if let dx {
                // col (K,P) = W^T (K,O) x dy_n (O,P), then scattered back onto the image.
                sgemm(transposeA: true, transposeB: false, M: K, N: P, K: O, w, lda: K, dyn, ldb: P, beta: 0, col, ldc: P)
                col2imAdd(g, col: col, columnStride: P, image: dx + n * g.channels * g.inPlane)
              }
            }
          }
        }
      }
    }
  }
  gradWeight.data.withUnsafeMutableBufferPointer { dw in
    for group in 0..<groups.count {
      let partial = partials + group * O * K
      for i in 0..<(O * K) { dw[i] += partial[i] }
    }
  }
  return (needInputGradient ? Tensor(shape: input.shape, data: gradInputData) : nil, gradWeight, gradBias)
}

/// How many batch groups the weight gradient is reduced over (fixed, for thread-independence).
let conv2dReductionGroups = 8

/// gradBias (O) = Σ over batch and positions of gradOutput (N,O,Ho,Wo), summed in double.
func conv2dBiasGradient(_ gradOutput: Tensor) -> Tensor {
  let N = gradOutput.shape[0], O = gradOutput.shape[1], P = gradOutput.shape[2] * gradOutput.shape[3]
  var gradBias = Tensor(shape: [O])
  gradOutput.data.withUnsafeBufferPointer { dy in
    for o in 0..<O {
      var sum: Double = 0
      for n in 0..<N {
        let plane = dy.baseAddress! + (n * O + o) * P
        var partial: Float = 0
        for i in 0..<P { partial += plane[i] }
        sum += Double(partial)
      }
      gradBias.data[o] = Float(sum)
    }
  }
  return gradBias
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
  gradOutput: Tensor, input: Tensor, weight: Tensor, stride: Int = 1, padding: Int = 0, dilation: Int = 1,
  needInputGradient: Bool = true, threads: Int = 1
) -> (gradInput: Tensor?, gradWeight: Tensor, gradBias: Tensor) {
  let g = Conv2DGeometry(input: input.shape, weight: weight.shape, stride: stride, padding: padding, dilation: dilation)
  precondition(gradOutput.shape == g.outputShape, "conv2d gradOutput must be \(g.outputShape), got \(gradOutput.shape)")
  let C = g.channels, H = g.height, W = g.width, kH = g.kernelH, kW = g.kernelW, O = g.outChannels
  var gradInput = Tensor(shape: input.shape)
  var gradWeight = Tensor(shape: weight.shape)
  var gradBias = Tensor(shape: [O])
  for n in 0..<g.batch {
    for o in 0..<O {
      for oy in 0..<g.outHeight {
        for ox in 0..<g.outWidth {
          let dy = gradOutput.data[((n * O + o) * g.outHeight + oy) * g.outWidth + ox]
          gradBias.data[o] += dy
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
                gradWeight.data[weightIndex] += dy * input.data[inputIndex]
                if needInputGradient { gradInput.data[inputIndex] += dy * weight.data[weightIndex] }
              }
            }
          }
        }
      }
    }
  }
  return (needInputGradient ? gradInput : nil, gradWeight, gradBias)
}
