// Max and average 2-D pooling (PyTorch `F.max_pool2d` / `F.avg_pool2d` semantics, square windows).
import STNTensor

// MARK: - Shapes

/// Output length of a pooling window along one axis, exactly PyTorch's `pooling_output_shape`
/// (dilation 1): floor or ceil of (size + 2p - k)/s, plus one.
///
/// NOTE: in ceil mode the last window must start inside the input or its left padding
/// ((out-1)·s < size + p); a window that would start in the right padding is dropped.
public func pool2dOutputSize(_ size: Int, kernel: Int, stride: Int, padding: Int, ceilMode: Bool) -> Int {
  let span = size + 2 * padding - kernel + (ceilMode ? stride - 1 : 0)
  // Floor division that rounds toward minus infinity, as PyTorch's div_rtn.
  var outSize = (span >= 0 ? span / stride : -((-span + stride - 1) / stride)) + 1
  if ceilMode && (outSize - 1) * stride >= size + padding { outSize -= 1 }
  return outSize
}

/// Pooling sizes, checked once (PyTorch's rules: kernel >= 1, stride >= 1, padding <= kernel/2).
struct Pool2DGeometry {
  let planes, height, width, outHeight, outWidth, kernel, stride, padding: Int
  let outputShape: [Int]

  init(inputShape: [Int], kernel: Int, stride: Int?, padding: Int, ceilMode: Bool, op: String) {
    precondition(inputShape.count == 4, "\(op) input must be (N,C,H,W), got \(inputShape)")
    let stride = stride ?? kernel
    precondition(kernel >= 1 && stride >= 1, "\(op) kernel \(kernel) and stride \(stride) must be positive")
    precondition(padding >= 0 && padding <= kernel / 2, "\(op) padding \(padding) must be in 0...kernel/2 (\(kernel / 2))")
    planes = inputShape[0] * inputShape[1]
    height = inputShape[2]; width = inputShape[3]
    self.kernel = kernel; self.stride = stride; self.padding = padding
    outHeight = pool2dOutputSize(height, kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode)
    outWidth = pool2dOutputSize(width, kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode)
    precondition(outHeight >= 1 && outWidth >= 1, "\(op) kernel \(kernel) does not fit input \(height)x\(width) with padding \(padding)")
    outputShape = [inputShape[0], inputShape[1], outHeight, outWidth]
  }
}

// MARK: - Max pooling

/// Max pooling: input (N,C,H,W) -> output (N,C,Ho,Wo) and, per output element, the index
/// (iy·W + ix) of the chosen input element within its (H,W) plane (PyTorch's `return_indices`).
///
/// `stride` defaults to `kernel`. Padding is -infinity (never chosen). Ties pick the first
/// maximum in row-major window order; a NaN is always taken (so NaN propagates), as in PyTorch.
/// Planes are split across `threads`; the common 2x2/stride-2 window has its own loop.
public func maxPool2dForward(input: Tensor, kernel: Int, stride: Int? = nil, padding: Int = 0, ceilMode: Bool = false, threads: Int = 1) -> (output: Tensor, argmax: [Int32]) {
  maxPool2dForward(input: input, kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode, threads: threads, specialized: true)
}

/// The generic window loop of `maxPool2dForward` alone (same contract), kept as the tested twin
/// of its 2x2 fast path.
public func maxPool2dForwardNaive(input: Tensor, kernel: Int, stride: Int? = nil, padding: Int = 0, ceilMode: Bool = false) -> (output: Tensor, argmax: [Int32]) {
  maxPool2dForward(input: input, kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode, threads: 1, specialized: false)
}

func maxPool2dForward(input: Tensor, kernel: Int, stride: Int?, padding: Int, ceilMode: Bool, threads: Int, specialized: Bool) -> (output: Tensor, argmax: [Int32]) {
  let g = Pool2DGeometry(inputShape: input.shape, kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode, op: "max_pool2d")
  var output = Tensor(shape: g.outputShape)
  var argmax = [Int32](repeating: 0, count: output.count)
  let H = g.height, W = g.width, Ho = g.outHeight, Wo = g.outWidth
  // 2x2 windows, stride 2, no padding: every window lies inside the input (floor or ceil mode
  // alike only when it fits; a ceil-mode window hanging past the edge takes the generic loop).
  let pairs = specialized && g.kernel == 2 && g.stride == 2 && g.padding == 0 && 2 * Ho <= H && 2 * Wo <= W
  let ranges = splitRange(g.planes, parts: max(1, min(threads, g.planes)))
  input.data.withUnsafeBufferPointer { xBuffer in
    output.data.withUnsafeMutableBufferPointer { yBuffer in
      argmax.withUnsafeMutableBufferPointer { indexBuffer in
        let x = xBuffer.baseAddress!, y = yBuffer.baseAddress!, indices = indexBuffer.baseAddress!
        parallelFor(chunks: ranges.count, threads: threads) { chunk in
          for plane in ranges[chunk] {
            let source = x + plane * H * W, out = y + plane * Ho * Wo, outIndex = indices + plane * Ho * Wo
            if pairs {
              for oy in 0..<Ho {
                for ox in 0..<Wo {
                  let topLeft = 2 * oy * W + 2 * ox
                  var best = source[topLeft], bestIndex = topLeft
                  // NOTE: same rule as the generic loop, in the same row-major order.
                  @inline(__always) func consider(_ index: Int) {
                    let value = source[index]
                    if value > best || value.isNaN { best = value; bestIndex = index }
                  }
                  consider(topLeft + 1)
                  consider(topLeft + W)
                  consider(topLeft + W + 1)
                  out[oy * Wo + ox] = best
                  outIndex[oy * Wo + ox] = Int32(bestIndex)
                }
              }
              continue
            }
            for oy in 0..<Ho {
              let y0 = max(oy * g.stride - g.padding, 0), y1 = min(oy * g.stride - g.padding + g.kernel, H)
              for ox in 0..<Wo {
                let x0 = max(ox * g.stride - g.padding, 0), x1 = min(ox * g.stride - g.padding + g.kernel, W)
                var best = -Float.infinity
                var bestIndex = y0 * W + x0
                for iy in y0..<y1 {
                  for ix in x0..<x1 {
                    let value = source[iy * W + ix]
                    // NOTE: `>` keeps the first of equal maxima; `isNaN` lets NaN win.
                    if value > best || value.isNaN {
                      best = value
                      bestIndex = iy * W + ix
                    }
                  }
                }
                out[oy * Wo + ox] = best
                outIndex[oy * Wo + ox] = Int32(bestIndex)
              }
            }
          }
        }
      }
    }
  }
  return (output, argmax)
}

/// Max pooling backward: routes each gradOutput (N,C,Ho,Wo) element to its argmax position in
/// gradInput (N,C,H,W) = `inputShape` (overlapping windows add up).
public func maxPool2dBackward(gradOutput: Tensor, argmax: [Int32], inputShape: [Int], threads: Int = 1) -> Tensor {
  precondition(inputShape.count == 4 && gradOutput.rank == 4, "max_pool2d backward wants 4-D shapes, got \(gradOutput.shape) and \(inputShape)")
  precondition(gradOutput.shape[0] == inputShape[0] && gradOutput.shape[1] == inputShape[1], "max_pool2d gradOutput \(gradOutput.shape) does not match input \(inputShape)")
  precondition(argmax.count == gradOutput.count, "max_pool2d argmax has \(argmax.count) entries for \(gradOutput.count) outputs")
  var gradInput = Tensor(shape: inputShape)
  let planes = inputShape[0] * inputShape[1], inPlane = inputShape[2] * inputShape[3]
  let outPlane = gradOutput.shape[2] * gradOutput.shape[3]
  if planes == 0 || inPlane == 0 { return gradInput }
  let ranges = splitRange(planes, parts: max(1, min(threads, planes)))
  gradOutput.data.withUnsafeBufferPointer { dyBuffer in
    argmax.withUnsafeBufferPointer { indices in
      gradInput.data.withUnsafeMutableBufferPointer { dxBuffer in
        let dx = dxBuffer.baseAddress!
        // Each plane's gradients stay inside that plane, so planes can go to different threads.
        parallelFor(chunks: ranges.count, threads: threads) { chunk in
          for plane in ranges[chunk] {
            for i in 0..<outPlane {
              let k = plane * outPlane + i
              let target = Int(indices[k])
              precondition(target >= 0 && target < inPlane, "max_pool2d argmax \(target) outside a \(inPlane)-element plane")
              dx[plane * inPlane + target] += dyBuffer[k]
            }
          }
        }
      }
    }
  }
  return gradInput
}

// MARK: - Average pooling

/// One average-pooling window: its clipped input span and the divisor PyTorch uses.
@inline(__always)
func avgPoolWindow(_ g: Pool2DGeometry, oy: Int, ox: Int, countIncludePad: Bool) -> (y: Range<Int>, x: Range<Int>, divisor: Int) {
  let yStart = oy * g.stride - g.padding, xStart = ox * g.stride - g.padding
  // NOTE: the padded window is clipped to the padded input (H + p), and only then to the input;
  // count_include_pad divides by the first size, so ceil-mode windows hanging past the right
  // padding do not count the cells beyond it.
  let yEnd = min(yStart + g.kernel, g.height + g.padding), xEnd = min(xStart + g.kernel, g.width + g.padding)
  let paddedSize = (yEnd - yStart) * (xEnd - xStart)
  let y0 = max(yStart, 0), x0 = max(xStart, 0)
  let y1 = min(yEnd, g.height), x1 = min(xEnd, g.width)
  let ys = y0..<max(y0, y1), xs = x0..<max(x0, x1)
  return (ys, xs, countIncludePad ? paddedSize : ys.count * xs.count)
}

/// Average pooling: input (N,C,H,W) -> output (N,C,Ho,Wo), PyTorch `F.avg_pool2d` (no divisor
/// override). `stride` defaults to `kernel`; zero padding counts in the divisor when
/// `countIncludePad`.
public func avgPool2dForward(input: Tensor, kernel: Int, stride: Int? = nil, padding: Int = 0, ceilMode: Bool = false, countIncludePad: Bool = true) -> Tensor {
  let g = Pool2DGeometry(inputShape: input.shape, kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode, op: "avg_pool2d")
  var output = Tensor(shape: g.outputShape)
  let H = g.height, W = g.width, Ho = g.outHeight, Wo = g.outWidth
  input.data.withUnsafeBufferPointer { x in
    output.data.withUnsafeMutableBufferPointer { y in
      for plane in 0..<g.planes {
        let inBase = plane * H * W, outBase = plane * Ho * Wo
        for oy in 0..<Ho {
          for ox in 0..<Wo {
            let window = avgPoolWindow(g, oy: oy, ox: ox, countIncludePad: countIncludePad)
            if window.y.isEmpty || window.x.isEmpty { continue }  // stays 0, as PyTorch
            var sum: Float = 0
            for iy in window.y {
              for ix in window.x { sum += x[inBase + iy * W + ix] }
            }
            y[outBase + oy * Wo + ox] = sum / Float(window.divisor)
          }
        }
      }
    }
  }
  return output
}

/// Average pooling backward: gradOutput (N,C,Ho,Wo) -> gradInput (N,C,H,W) = `inputShape`;
/// each output's gradient is shared equally (1/divisor) by the input cells of its window.
public func avgPool2dBackward(gradOutput: Tensor, inputShape: [Int], kernel: Int, stride: Int? = nil, padding: Int = 0, ceilMode: Bool = false, countIncludePad: Bool = true) -> Tensor {
  let g = Pool2DGeometry(inputShape: inputShape, kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode, op: "avg_pool2d")
  precondition(gradOutput.shape == g.outputShape, "avg_pool2d gradOutput must be \(g.outputShape), got \(gradOutput.shape)")
  var gradInput = Tensor(shape: inputShape)
  let H = g.height, W = g.width, Ho = g.outHeight, Wo = g.outWidth
  gradOutput.data.withUnsafeBufferPointer { dy in
    gradInput.data.withUnsafeMutableBufferPointer { dx in
      for plane in 0..<g.planes {
        let inBase = plane * H * W, outBase = plane * Ho * Wo
        for oy in 0..<Ho {
          for ox in 0..<Wo {
            let window = avgPoolWindow(g, oy: oy, ox: ox, countIncludePad: countIncludePad)
            if window.y.isEmpty || window.x.isEmpty { continue }
            let share = dy[outBase + oy * Wo + ox] / Float(window.divisor)
            for iy in window.y {
              for ix in window.x { dx[inBase + iy * W + ix] += share }
            }
          }
        }
      }
    }
  }
  return gradInput
}
