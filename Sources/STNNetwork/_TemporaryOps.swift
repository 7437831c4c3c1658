// TEMPORARY naive stand-ins for the ops and warp helpers' kernels, with their agreed signatures,
// so the graph can be built and tested before their work lands. Delete once main has theirs.
import Foundation
import STNTensor

// MARK: - Convolution

public func conv2dForward(input: Tensor, weight: Tensor, bias: Tensor?, stride: Int, padding: Int, dilation: Int, threads: Int) -> Tensor {
  let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
  let (o, k) = (weight.shape[0], weight.shape[2])
  let ho = (h + 2 * padding - dilation * (k - 1) - 1) / stride + 1
  let wo = (w + 2 * padding - dilation * (k - 1) - 1) / stride + 1
  var out = Tensor(shape: [n, o, ho, wo])
  for b in 0..<n { for oc in 0..<o { for y in 0..<ho { for x in 0..<wo {
    var s: Float = bias?.data[oc] ?? 0
    for ic in 0..<c { for ky in 0..<k { for kx in 0..<k {
      let iy = y * stride - padding + ky * dilation, ix = x * stride - padding + kx * dilation
      if iy < 0 || iy >= h || ix < 0 || ix >= w { continue }
      s += input.data[((b * c + ic) * h + iy) * w + ix] * weight.data[((oc * c + ic) * k + ky) * k + kx]
    } } }
    out.data[((b * o + oc) * ho + y) * wo + x] = s
  } } } }
  return out
}

public func conv2dBackward(gradOutput: Tensor, input: Tensor, weight: Tensor, stride: Int, padding: Int, dilation: Int, needInputGradient: Bool, threads: Int) -> (gradInput: Tensor?, gradWeight: Tensor, gradBias: Tensor) {
  let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
  let (o, k) = (weight.shape[0], weight.shape[2])
  let (ho, wo) = (gradOutput.shape[2], gradOutput.shape[3])
  var gi = Tensor(shape: input.shape), gw = Tensor(shape: weight.shape), gb = Tensor(shape: [o])
  for b in 0..<n { for oc in 0..<o { for y in 0..<ho { for x in 0..<wo {
    let g = gradOutput.data[((b * o + oc) * ho + y) * wo + x]
    gb.data[oc] += g
    for ic in 0..<c { for ky in 0..<k { for kx in 0..<k {
      let iy = y * stride - padding + ky * dilation, ix = x * stride - padding + kx * dilation
      if iy < 0 || iy >= h || ix < 0 || ix >= w { continue }
      let ii = ((b * c + ic) * h + iy) * w + ix, wi = ((oc * c + ic) * k + ky) * k + kx
      gw.data[wi] += g * input.data[ii]
      gi.data[ii] += g * weight.data[wi]
    } } }
  } } } }
  return (needInputGradient ? gi : nil, gw, gb)
}

// MARK: - Pooling

private func poolOutputSize(_ size: Int, _ kernel: Int, _ stride: Int, _ padding: Int, _ ceilMode: Bool) -> Int {
  let span = size + 2 * padding - kernel
  var out = (ceilMode ? (span + stride - 1) / stride : span / stride) + 1
  if ceilMode && (out - 1) * stride >= size + padding { out -= 1 }
  return out
}

public func maxPool2dForward(input: Tensor, kernel: Int, stride: Int, padding: Int, ceilMode: Bool) -> (output: Tensor, argmax: [Int32]) {
  let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
  let ho = poolOutputSize(h, kernel, stride, padding, ceilMode), wo = poolOutputSize(w, kernel, stride, padding, ceilMode)
  var out = Tensor(shape: [n, c, ho, wo])
  var arg = [Int32](repeating: 0, count: out.count)
  for p in 0..<(n * c) { for y in 0..<ho { for x in 0..<wo {
    var best = -Float.infinity, bi = -1
    for ky in 0..<kernel { for kx in 0..<kernel {
      let iy = y * stride - padding + ky, ix = x * stride - padding + kx
      if iy < 0 || iy >= h || ix < 0 || ix >= w { continue }
      let v = input.data[(p * h + iy) * w + ix]
      if v > best || bi < 0 { best = v; bi = iy * w + ix }
    } }
    out.data[(p * ho + y) * wo + x] = best
    arg[(p * ho + y) * wo + x] = Int32(bi)
  } } }
  return (out, arg)
}

public func maxPool2dBackward(gradOutput: Tensor, argmax: [Int32], inputShape: [Int]) -> Tensor {
  var gi = Tensor(shape: inputShape)
  let plane = inputShape[2] * inputShape[3], outPlane = gradOutput.shape[2] * gradOutput.shape[3]
  for i in 0..<gradOutput.count { gi.data[(i / outPlane) * plane + Int(argmax[i])] += gradOutput.data[i] }
  return gi
}

public func avgPool2dForward(input: Tensor, kernel: Int, stride: Int, padding: Int, ceilMode: Bool, countIncludePad: Bool) -> Tensor {
  let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
  let ho = poolOutputSize(h, kernel, stride, padding, ceilMode), wo = poolOutputSize(w, kernel, stride, padding, ceilMode)
  var out = Tensor(shape: [n, c, ho, wo])
  for p in 0..<(n * c) { for y in 0..<ho { for x in 0..<wo {
    let y0 = y * stride - padding, x0 = x * stride - padding
    let y1 = min(y0 + kernel, h + padding), x1 = min(x0 + kernel, w + padding)
    let poolSize = (y1 - y0) * (x1 - x0)
    var s: Float = 0, count = 0
    for iy in max(y0, 0)..<min(y1, h) { for ix in max(x0, 0)..<min(x1, w) { s += input.data[(p * h + iy) * w + ix]; count += 1 } }
    out.data[(p * ho + y) * wo + x] = s / Float(countIncludePad ? poolSize : count)
  } } }
  return out
}

public func avgPool2dBackward(gradOutput: Tensor, inputShape: [Int], kernel: Int, stride: Int, padding: Int, ceilMode: Bool, countIncludePad: Bool) -> Tensor {
  let (h, w) = (inputShape[2], inputShape[3])
  let (ho, wo) = (gradOutput.shape[2], gradOutput.shape[3])
  var gi = Tensor(shape: inputShape)
  for p in 0..<(inputShape[0] * inputShape[1]) { for y in 0..<ho { for x in 0..<wo {
    let y0 = y * stride - padding, x0 = x * stride - padding
    let y1 = min(y0 + kernel, h + padding), x1 = min(x0 + kernel, w + padding)
    let poolSize = (y1 - y0) * (x1 - x0)
    let count = (min(y1, h) - max(y0, 0)) * (min(x1, w) - max(x0, 0))
    let g = gradOutput.data[(p * ho + y) * wo + x] / Float(countIncludePad ? poolSize : count)
    for iy in max(y0, 0)..<min(y1, h) { for ix in max(x0, 0)..<min(x1, w) { gi.data[(p * h + iy) * w + ix] += g } }
  } } }
  return gi
}

// MARK: - Activations

public func reluForward(_ x: Tensor) -> Tensor { Tensor(shape: x.shape, data: x.data.map { max($0, 0) }) }
public func reluBackward(gradOutput: Tensor, input: Tensor) -> Tensor {
  Tensor(shape: input.shape, data: zip(gradOutput.data, input.data).map { $1 > 0 ? $0 : 0 })
}
public func leakyReLUForward(_ x: Tensor, slope: Float) -> Tensor { Tensor(shape: x.shape, data: x.data.map { $0 > 0 ? $0 : $0 * slope }) }
public func leakyReLUBackward(gradOutput: Tensor, input: Tensor, slope: Float) -> Tensor {
  Tensor(shape: input.shape, data: zip(gradOutput.data, input.data).map { $1 > 0 ? $0 : $0 * slope })
}
public func sigmoidForward(_ x: Tensor) -> Tensor { Tensor(shape: x.shape, data: x.data.map { 1 / (1 + exp(-$0)) }) }
public func sigmoidBackward(gradOutput: Tensor, output: Tensor) -> Tensor {
  Tensor(shape: output.shape, data: zip(gradOutput.data, output.data).map { $0 * $1 * (1 - $1) })
}
public func tanhForward(_ x: Tensor) -> Tensor { Tensor(shape: x.shape, data: x.data.map { Foundation.tanh($0) }) }
public func tanhBackward(gradOutput: Tensor, output: Tensor) -> Tensor {
  Tensor(shape: output.shape, data: zip(gradOutput.data, output.data).map { $0 * (1 - $1 * $1) })
}

// MARK: - Linear

public func linearForward(input: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
  let (n, i, o) = (input.shape[0], input.shape[1], weight.shape[0])
  var out = Tensor(shape: [n, o])
  for b in 0..<n { for j in 0..<o {
    var s: Float = bias?.data[j] ?? 0
    for k in 0..<i { s += input.data[b * i + k] * weight.data[j * i + k] }
    out.data[b * o + j] = s
  } }
  return out
}

public func linearBackward(gradOutput: Tensor, input: Tensor, weight: Tensor, needInputGradient: Bool) -> (gradInput: Tensor?, gradWeight: Tensor, gradBias: Tensor) {
  let (n, i, o) = (input.shape[0], input.shape[1], weight.shape[0])
  var gi = Tensor(shape: input.shape), gw = Tensor(shape: weight.shape), gb = Tensor(shape: [o])
  for b in 0..<n { for j in 0..<o {
    let g = gradOutput.data[b * o + j]
    gb.data[j] += g
    for k in 0..<i { gw.data[j * i + k] += g * input.data[b * i + k]; gi.data[b * i + k] += g * weight.data[j * i + k] }
  } }
  return (needInputGradient ? gi : nil, gw, gb)
}

// MARK: - Batch norm

public struct BatchNormCache { var mean: [Float]; var invStd: [Float]; var training: Bool }

public func batchNorm2dForward(input: Tensor, gamma: Tensor, beta: Tensor, runningMean: inout Tensor, runningVar: inout Tensor, training: Bool, momentum: Float, epsilon: Float) -> (output: Tensor, cache: BatchNormCache) {
  let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
  let m = n * h * w
  var mean = [Float](repeating: 0, count: c), invStd = [Float](repeating: 0, count: c)
  var out = Tensor(shape: input.shape)
  for ch in 0..<c {
    var mu: Double = 0, v: Double = 0
    if training {
      for b in 0..<n { for p in 0..<(h * w) { mu += Double(input.data[(b * c + ch) * h * w + p]) } }
      mu /= Double(m)
      for b in 0..<n { for p in 0..<(h * w) { let d = Double(input.data[(b * c + ch) * h * w + p]) - mu; v += d * d } }
      v /= Double(m)
      runningMean.data[ch] = (1 - momentum) * runningMean.data[ch] + momentum * Float(mu)
      runningVar.data[ch] = (1 - momentum) * runningVar.data[ch] + momentum * Float(v * Double(m) / Double(max(m - 1, 1)))
    } else {
      mu = Double(runningMean.data[ch]); v = Double(runningVar.data[ch])
    }
    mean[ch] = Float(mu); invStd[ch] = Float(1 / (v + Double(epsilon)).squareRoot())
    for b in 0..<n { for p in 0..<(h * w) {
      let i = (b * c + ch) * h * w + p
      out.data[i] = (input.data[i] - mean[ch]) * invStd[ch] * gamma.data[ch] + beta.data[ch]
    } }
  }
  return (out, BatchNormCache(mean: mean, invStd: invStd, training: training))
}

public func batchNorm2dBackward(gradOutput: Tensor, input: Tensor, gamma: Tensor, cache: BatchNormCache) -> (gradInput: Tensor, gradGamma: Tensor, gradBeta: Tensor) {
  let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
  let m = Float(n * h * w)
  var gi = Tensor(shape: input.shape), gg = Tensor(shape: [c]), gbeta = Tensor(shape: [c])
  for ch in 0..<c {
    var sumG: Float = 0, sumGX: Float = 0
    for b in 0..<n { for p in 0..<(h * w) {
      let i = (b * c + ch) * h * w + p
      let xhat = (input.data[i] - cache.mean[ch]) * cache.invStd[ch]
      sumG += gradOutput.data[i]; sumGX += gradOutput.data[i] * xhat
    } }
    gg.data[ch] = sumGX; gbeta.data[ch] = sumG
    for b in 0..<n { for p in 0..<(h * w) {
      let i = (b * c + ch) * h * w + p
      let xhat = (input.data[i] - cache.mean[ch]) * cache.invStd[ch]
      if cache.training {
        gi.data[i] = gamma.data[ch] * cache.invStd[ch] * (gradOutput.data[i] - sumG / m - xhat * sumGX / m)
      } else {
        gi.data[i] = gamma.data[ch] * cache.invStd[ch] * gradOutput.data[i]
      }
    } }
  }
  return (gi, gg, gbeta)
}

// MARK: - Dropout, loss

public func dropoutForward(_ x: Tensor, probability: Float, rng: inout RandomStream) -> (output: Tensor, mask: [Float]) {
  let scale = 1 / (1 - probability)
  let mask = (0..<x.count).map { _ in rng.nextUnitFloat() < probability ? Float(0) : scale }
  return (Tensor(shape: x.shape, data: zip(x.data, mask).map { $0 * $1 }), mask)
}
public func dropoutBackward(gradOutput: Tensor, mask: [Float]) -> Tensor {
  Tensor(shape: gradOutput.shape, data: zip(gradOutput.data, mask).map { $0 * $1 })
}

public func softmaxCrossEntropyForward(logits: Tensor, targets: [Int]) -> (loss: Float, probabilities: Tensor) {
  let (n, k) = (logits.shape[0], logits.shape[1])
  var probs = Tensor(shape: logits.shape)
  var loss: Double = 0
  for b in 0..<n {
    let row = Array(logits.data[(b * k)..<(b * k + k)])
    let mx = row.max() ?? 0
    var s: Double = 0
    for j in 0..<k { s += exp(Double(row[j] - mx)) }
    for j in 0..<k { probs.data[b * k + j] = Float(exp(Double(row[j] - mx)) / s) }
    loss += log(s) - Double(row[targets[b]] - mx)
  }
  return (Float(loss / Double(n)), probs)
}
public func softmaxCrossEntropyBackward(probabilities: Tensor, targets: [Int]) -> Tensor {
  let (n, k) = (probabilities.shape[0], probabilities.shape[1])
  var g = probabilities
  for b in 0..<n { g.data[b * k + targets[b]] -= 1 }
  for i in 0..<g.count { g.data[i] /= Float(n) }
  return g
}

// MARK: - Warp (bilinear, zeros only)

public struct GridSampleOptions {
  public enum Mode { case bilinear, nearest }
  public enum Padding { case zeros, border, reflection }
  public var mode: Mode, padding: Padding, alignCorners: Bool
  public init(mode: Mode, padding: Padding, alignCorners: Bool) { self.mode = mode; self.padding = padding; self.alignCorners = alignCorners }
}

private func baseCoordinate(_ i: Int, _ size: Int, _ alignCorners: Bool) -> Float {
  alignCorners ? (size == 1 ? 0 : Float(2 * i) / Float(size - 1) - 1) : (Float(2 * i + 1) / Float(size) - 1)
}

public func affineGrid(theta: Tensor, size: [Int], alignCorners: Bool) -> Tensor {
  let (n, h, w) = (size[0], size[2], size[3])
  var grid = Tensor(shape: [n, h, w, 2])
  for b in 0..<n { for y in 0..<h { for x in 0..<w {
    let bx = baseCoordinate(x, w, alignCorners), by = baseCoordinate(y, h, alignCorners)
    let t = Array(theta.data[(b * 6)..<(b * 6 + 6)])
    grid.data[((b * h + y) * w + x) * 2] = t[0] * bx + t[1] * by + t[2]
    grid.data[((b * h + y) * w + x) * 2 + 1] = t[3] * bx + t[4] * by + t[5]
  } } }
  return grid
}

public func affineGridBackward(gradGrid: Tensor, size: [Int], alignCorners: Bool) -> Tensor {
  let (n, h, w) = (size[0], size[2], size[3])
  var gt = Tensor(shape: [n, 2, 3])
  for b in 0..<n { for y in 0..<h { for x in 0..<w {
    let bx = baseCoordinate(x, w, alignCorners), by = baseCoordinate(y, h, alignCorners)
    let gx = gradGrid.data[((b * h + y) * w + x) * 2], gy = gradGrid.data[((b * h + y) * w + x) * 2 + 1]
    gt.data[b * 6 + 0] += gx * bx; gt.data[b * 6 + 1] += gx * by; gt.data[b * 6 + 2] += gx
    gt.data[b * 6 + 3] += gy * bx; gt.data[b * 6 + 4] += gy * by; gt.data[b * 6 + 5] += gy
  } } }
  return gt
}

private func unnormalize(_ c: Float, _ size: Int, _ alignCorners: Bool) -> Float {
  alignCorners ? (c + 1) / 2 * Float(size - 1) : ((c + 1) * Float(size) - 1) / 2
}

public func gridSample(input: Tensor, grid: Tensor, options: GridSampleOptions, threads: Int) -> Tensor {
  let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
  let (ho, wo) = (grid.shape[1], grid.shape[2])
  var out = Tensor(shape: [n, c, ho, wo])
  for b in 0..<n { for y in 0..<ho { for x in 0..<wo {
    let gi = ((b * ho + y) * wo + x) * 2
    let ix = unnormalize(grid.data[gi], w, options.alignCorners), iy = unnormalize(grid.data[gi + 1], h, options.alignCorners)
    let x0 = Int(floor(ix)), y0 = Int(floor(iy))
    let tx = ix - Float(x0), ty = iy - Float(y0)
    for ch in 0..<c {
      func at(_ yy: Int, _ xx: Int) -> Float { (yy < 0 || yy >= h || xx < 0 || xx >= w) ? 0 : input.data[((b * c + ch) * h + yy) * w + xx] }
      let v = at(y0, x0) * (1 - tx) * (1 - ty) + at(y0, x0 + 1) * tx * (1 - ty) + at(y0 + 1, x0) * (1 - tx) * ty + at(y0 + 1, x0 + 1) * tx * ty
      out.data[((b * c + ch) * ho + y) * wo + x] = v
    }
  } } }
  return out
}

public func gridSampleBackward(gradOutput: Tensor, input: Tensor, grid: Tensor, options: GridSampleOptions, threads: Int, needInputGradient: Bool) -> (gradInput: Tensor, gradGrid: Tensor) {
  let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
  let (ho, wo) = (grid.shape[1], grid.shape[2])
  var gIn = Tensor(shape: input.shape), gGrid = Tensor(shape: grid.shape)
  let sx: Float = options.alignCorners ? Float(w - 1) / 2 : Float(w) / 2
  let sy: Float = options.alignCorners ? Float(h - 1) / 2 : Float(h) / 2
  for b in 0..<n { for y in 0..<ho { for x in 0..<wo {
    let gi = ((b * ho + y) * wo + x) * 2
    let ix = unnormalize(grid.data[gi], w, options.alignCorners), iy = unnormalize(grid.data[gi + 1], h, options.alignCorners)
    let x0 = Int(floor(ix)), y0 = Int(floor(iy))
    let tx = ix - Float(x0), ty = iy - Float(y0)
    var gx: Float = 0, gy: Float = 0
    for ch in 0..<c {
      func inside(_ yy: Int, _ xx: Int) -> Bool { !(yy < 0 || yy >= h || xx < 0 || xx >= w) }
      func at(_ yy: Int, _ xx: Int) -> Float { inside(yy, xx) ? input.data[((b * c + ch) * h + yy) * w + xx] : 0 }
      let g = gradOutput.data[((b * c + ch) * ho + y) * wo + x]
      let nw = at(y0, x0), ne = at(y0, x0 + 1), sw = at(y0 + 1, x0), se = at(y0 + 1, x0 + 1)
      gx += g * ((ne - nw) * (1 - ty) + (se - sw) * ty)
      gy += g * ((sw - nw) * (1 - tx) + (se - ne) * tx)
      for (yy, xx, wt) in [(y0, x0, (1 - tx) * (1 - ty)), (y0, x0 + 1, tx * (1 - ty)), (y0 + 1, x0, (1 - tx) * ty), (y0 + 1, x0 + 1, tx * ty)] where inside(yy, xx) {
        gIn.data[((b * c + ch) * h + yy) * w + xx] += g * wt
      }
    }
    gGrid.data[gi] = gx * sx; gGrid.data[gi + 1] = gy * sy
  } } }
  return (gIn, gGrid)
}
