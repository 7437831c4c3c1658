// Max and average 2-D pooling (PyTorch `F.max_pool2d` / `F.avg_pool2d` semantics, square
// windows): forward, accumulating backward, their graph nodes, and the `MaxPool2D` and
// `AvgPool2D` layers.
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

/// relu(max_pool2d(x)) in one pass: `maxPool2dForward` with each output plane clamped at 0 while
/// it is still in cache (NaN kept, as `reluForward`). The ST-CNN has MaxPool -> ReLU three
/// times in a row; the graph fuses them (`Graph.maxPool2dReLU`). Twin: `reluForward` of
/// `maxPool2dForwardNaive`.
public func maxPool2dReLUForward(input: Tensor, kernel: Int, stride: Int? = nil, padding: Int = 0, ceilMode: Bool = false, threads: Int = 1) -> (output: Tensor, argmax: [Int32]) {
  maxPool2dForward(input: input, kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode, threads: threads, specialized: true, relu: true)
}

func maxPool2dForward(input: Tensor, kernel: Int, stride: Int?, padding: Int, ceilMode: Bool, threads: Int, specialized: Bool, relu: Bool = false) -> (output: Tensor, argmax: [Int32]) {
  let g = Pool2DGeometry(inputShape: input.shape, kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode, op: "max_pool2d")
  // Every output element and index is written below.
  var output = uninitializedTensor(shape: g.outputShape)
  var argmax = [Int32](unsafeUninitializedCapacity: output.count) { _, initialized in initialized = output.count }
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
            defer {
              if relu {
                // An unconditional select (no branch on random signs), which vectorizes.
                for i in 0..<(Ho * Wo) {
                  let value = out[i]
                  out[i] = value > 0 || value.isNaN ? value : 0
                }
              }
            }
            if pairs {
              for oy in 0..<Ho {
                // Four windows at a time, branch-free (random data mispredicts half the
                // branches of the scalar loop); the scalar loop finishes the row.
                let vectorEnd = maxPool2x2RowVectorized(top: source + 2 * oy * W, width: W, outCount: Wo, out: out + oy * Wo, outIndex: outIndex + oy * Wo, rowBase: 2 * oy * W)
                for ox in vectorEnd..<Wo {
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

/// The 2x2/stride-2 max-pool windows of one output row, four at a time: `top` is the window
/// row's first input row (the second is `top + width`). Writes outputs and plane indices for
/// ox in 0..<k and returns k (a multiple of 4 whose windows' 8-float loads stay inside the row).
///
/// NOTE: same rule as the scalar loops, lane by lane: candidates in row-major order (nw, ne, sw,
/// se), a later one wins when greater or NaN, so ties keep the first and NaN propagates.
@inline(__always)
func maxPool2x2RowVectorized(
  top: UnsafePointer<Float>, width W: Int, outCount: Int, out: UnsafeMutablePointer<Float>, outIndex: UnsafeMutablePointer<Int32>,
  rowBase: Int
) -> Int {
  var ox = 0
  let lanes = SIMD4<Int32>(0, 2, 4, 6)
  let offsetNE = SIMD4<Int32>(repeating: 1), offsetSW = SIMD4<Int32>(repeating: Int32(W))
  let offsetSE = SIMD4<Int32>(repeating: Int32(W + 1))
  while ox + 4 <= outCount && 2 * ox + 8 <= W {
    let upper = UnsafeRawPointer(top + 2 * ox).loadUnaligned(as: SIMD8<Float>.self)
    let lower = UnsafeRawPointer(top + W + 2 * ox).loadUnaligned(as: SIMD8<Float>.self)
    var best = upper.evenHalf
    var offset = SIMD4<Int32>(repeating: 0)
    @inline(__always) func consider(_ value: SIMD4<Float>, _ candidate: SIMD4<Int32>) {
      let wins = (value .> best) .| (value .!= value)
      best.replace(with: value, where: wins)
      offset.replace(with: candidate, where: wins)
    }
    consider(upper.oddHalf, offsetNE)
    consider(lower.evenHalf, offsetSW)
    consider(lower.oddHalf, offsetSE)
    UnsafeMutableRawPointer(out + ox).storeBytes(of: best, as: SIMD4<Float>.self)
    let index = SIMD4<Int32>(repeating: Int32(rowBase + 2 * ox)) &+ lanes &+ offset
    UnsafeMutableRawPointer(outIndex + ox).storeBytes(of: index, as: SIMD4<Int32>.self)
    ox += 4
  }
  return ox
}

/// Max pooling backward, ACCUMULATING: routes each gradOutput (N,C,Ho,Wo) element to its argmax
/// position and adds it to gradInput (N,C,H,W) (overlapping windows add up).
public func maxPool2dBackward(gradInput: inout Tensor, gradOutput: Tensor, argmax: [Int32], threads: Int = 1) {
  maxPool2dBackward(gradInput: &gradInput, gradOutput: gradOutput, argmax: argmax, reluOutput: nil, threads: threads)
}

/// Backward of `maxPool2dReLUForward`, accumulating into gradInput (N,C,H,W): gradOutput
/// (N,C,Ho,Wo) is masked where the forward `output` (N,C,Ho,Wo) is not > 0 (the ReLU's rule),
/// then routed as `maxPool2dBackward` does.
public func maxPool2dReLUBackward(gradInput: inout Tensor, gradOutput: Tensor, output: Tensor, argmax: [Int32], threads: Int = 1) {
  precondition(output.shape == gradOutput.shape, "max_pool2d+relu output \(output.shape) does not match gradOutput \(gradOutput.shape)")
  maxPool2dBackward(gradInput: &gradInput, gradOutput: gradOutput, argmax: argmax, reluOutput: output, threads: threads)
}

func maxPool2dBackward(gradInput: inout Tensor, gradOutput: Tensor, argmax: [Int32], reluOutput: Tensor?, threads: Int) {
  let inputShape = gradInput.shape
  precondition(inputShape.count == 4 && gradOutput.rank == 4, "max_pool2d backward wants 4-D shapes, got \(gradOutput.shape) and \(inputShape)")
  precondition(gradOutput.shape[0] == inputShape[0] && gradOutput.shape[1] == inputShape[1], "max_pool2d gradOutput \(gradOutput.shape) does not match input \(inputShape)")
  precondition(argmax.count == gradOutput.count, "max_pool2d argmax has \(argmax.count) entries for \(gradOutput.count) outputs")
  let planes = inputShape[0] * inputShape[1], inPlane = inputShape[2] * inputShape[3]
  let outPlane = gradOutput.shape[2] * gradOutput.shape[3]
  if planes == 0 || inPlane == 0 || outPlane == 0 { return }
  let ranges = splitRange(planes, parts: max(1, min(threads, planes)))
  let mask = reluOutput?.data ?? []
  gradOutput.data.withUnsafeBufferPointer { dyBuffer in
    argmax.withUnsafeBufferPointer { indices in
      mask.withUnsafeBufferPointer { maskBuffer in
        gradInput.data.withUnsafeMutableBufferPointer { dxBuffer in
          let dx = dxBuffer.baseAddress!
          let y = reluOutput == nil ? nil : maskBuffer.baseAddress
          // Each plane's gradients stay inside that plane, so planes can go to different threads.
          parallelFor(chunks: ranges.count, threads: threads) { chunk in
            for plane in ranges[chunk] {
              let dxPlane = dx + plane * inPlane
              let first = plane * outPlane
              if let y {
                for k in first..<(first + outPlane) {
                  let target = Int(indices[k])
                  precondition(target >= 0 && target < inPlane, "max_pool2d argmax \(target) outside a \(inPlane)-element plane")
                  // NOTE: the ReLU's gradient is dy or 0, added rather than skipped, so the
                  // result is bit-identical to reluBackward followed by maxPool2dBackward.
                  dxPlane[target] += y[k] > 0 ? dyBuffer[k] : 0
                }
              } else {
                for k in first..<(first + outPlane) {
                  let target = Int(indices[k])
                  precondition(target >= 0 && target < inPlane, "max_pool2d argmax \(target) outside a \(inPlane)-element plane")
                  dxPlane[target] += dyBuffer[k]
                }
              }
            }
          }
        }
      }
    }
  }
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

/// Average pooling backward, ACCUMULATING into gradInput (N,C,H,W): each gradOutput (N,C,Ho,Wo)
/// element is shared equally (1/divisor) by the input cells of its window.
public func avgPool2dBackward(gradInput: inout Tensor, gradOutput: Tensor, kernel: Int, stride: Int? = nil, padding: Int = 0, ceilMode: Bool = false, countIncludePad: Bool = true) {
  let g = Pool2DGeometry(inputShape: gradInput.shape, kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode, op: "avg_pool2d")
  precondition(gradOutput.shape == g.outputShape, "avg_pool2d gradOutput must be \(g.outputShape), got \(gradOutput.shape)")
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
}

// MARK: - Graph

extension Graph {
  /// Max pooling (PyTorch `ceil_mode` semantics). (N,C,H,W) -> (N,C,Ho,Wo).
  public func maxPool2d(_ x: Variable, kernel: Int, stride: Int, padding: Int = 0, ceilMode: Bool = false) -> Variable {
    let (y, argmax) = maxPool2dForward(input: values[x.id], kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode, threads: threads)
    return record(y, op: "max_pool2d", requiresGradient: needsGradient(x.id)) { gradOutput, _, graph in
      // The forward's argmax routes the gradient.
      graph.accumulateGradient(x.id) { maxPool2dBackward(gradInput: &$0, gradOutput: gradOutput, argmax: argmax, threads: graph.threads) }
    }
  }

  /// relu(maxPool2d(x)) as one node (one pass over the pooled values forward and backward);
  /// same values and gradients as the two ops. (N,C,H,W) -> (N,C,Ho,Wo).
  public func maxPool2dReLU(_ x: Variable, kernel: Int, stride: Int, padding: Int = 0, ceilMode: Bool = false) -> Variable {
    let (y, argmax) = maxPool2dReLUForward(input: values[x.id], kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode, threads: threads)
    return record(y, op: "max_pool2d_relu", requiresGradient: needsGradient(x.id)) { gradOutput, output, graph in
      graph.accumulateGradient(x.id) {
        maxPool2dReLUBackward(gradInput: &$0, gradOutput: gradOutput, output: graph.values[output], argmax: argmax, threads: graph.threads)
      }
    }
  }

  /// Average pooling. (N,C,H,W) -> (N,C,Ho,Wo).
  public func avgPool2d(_ x: Variable, kernel: Int, stride: Int, padding: Int = 0, ceilMode: Bool = false, countIncludePad: Bool = true) -> Variable {
    let y = avgPool2dForward(input: values[x.id], kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode, countIncludePad: countIncludePad)
    return record(y, op: "avg_pool2d", requiresGradient: needsGradient(x.id)) { gradOutput, _, graph in
      graph.accumulateGradient(x.id) {
        avgPool2dBackward(
          gradInput: &$0, gradOutput: gradOutput, kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode,
          countIncludePad: countIncludePad)
      }
    }
  }
}

// MARK: - Layer

/// Per-sample output shape [C,Ho,Wo] of a pooling layer on [C,H,W] (the builder has checked the
/// settings against PyTorch's rules).
func pool2dLayerOutputShape(_ inputShape: [Int], kernel: Int, stride: Int, padding: Int, ceilMode: Bool) -> [Int] {
  precondition(inputShape.count == 3 && kernel > 0 && stride > 0 && padding >= 0 && padding * 2 <= kernel)
  return [inputShape[0],
    pool2dOutputSize(inputShape[1], kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode),
    pool2dOutputSize(inputShape[2], kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode)]
}

/// Max pooling, PyTorch `nn.MaxPool2d` (stride defaults to the kernel).
public final class MaxPool2D: Layer {
  public let kernel: Int, stride: Int, padding: Int, ceilMode: Bool
  public let outputShape: [Int]

  public init(inputShape: [Int], kernel: Int, stride: Int? = nil, padding: Int = 0, ceilMode: Bool = false) {
    self.kernel = kernel
    self.stride = stride ?? kernel
    self.padding = padding
    self.ceilMode = ceilMode
    outputShape = pool2dLayerOutputShape(inputShape, kernel: kernel, stride: self.stride, padding: padding, ceilMode: ceilMode)
  }

  public var parameterCount: Int { 0 }
  public var moduleDescription: String {
    "MaxPool2d(kernel_size=\(kernel), stride=\(stride), padding=\(padding), dilation=1, ceil_mode=\(ceilMode ? "True" : "False"))"
  }
  public func forward(_ x: Variable, in graph: Graph) -> Variable {
    graph.maxPool2d(x, kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode)
  }
}

/// Average pooling, PyTorch `nn.AvgPool2d` (stride defaults to the kernel).
public final class AvgPool2D: Layer {
  public let kernel: Int, stride: Int, padding: Int, ceilMode: Bool, countIncludePad: Bool
  public let outputShape: [Int]

  public init(inputShape: [Int], kernel: Int, stride: Int? = nil, padding: Int = 0, ceilMode: Bool = false, countIncludePad: Bool = true) {
    self.kernel = kernel
    self.stride = stride ?? kernel
    self.padding = padding
    self.ceilMode = ceilMode
    self.countIncludePad = countIncludePad
    outputShape = pool2dLayerOutputShape(inputShape, kernel: kernel, stride: self.stride, padding: padding, ceilMode: ceilMode)
  }

  public var parameterCount: Int { 0 }
  public var moduleDescription: String { "AvgPool2d(kernel_size=\(kernel), stride=\(stride), padding=\(padding))" }
  public func forward(_ x: Variable, in graph: Graph) -> Variable {
    graph.avgPool2d(x, kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode, countIncludePad: countIncludePad)
  }
}
