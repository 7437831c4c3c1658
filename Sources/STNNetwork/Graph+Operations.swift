import STNTensor
import STNWarp

// MARK: - The tape's node kinds

/// What produced a node, with everything its backward needs (inputs are tape ids).
enum Operation {
  case leaf
  case parameter(Parameter)
  case conv2d(input: Int, weight: Int, bias: Int?, stride: Int, padding: Int, dilation: Int)
  case maxPool2d(input: Int, argmax: [Int32])
  case avgPool2d(input: Int, kernel: Int, stride: Int, padding: Int, ceilMode: Bool, countIncludePad: Bool)
  case relu(input: Int)
  case leakyReLU(input: Int, slope: Float)
  case sigmoid(input: Int)
  case tanh(input: Int)
  case linear(input: Int, weight: Int, bias: Int?)
  case reshape(input: Int)
  case dropout(input: Int, mask: [Float])
  case batchNorm2d(input: Int, gamma: Int, beta: Int, cache: BatchNormCache)
  case softmaxCrossEntropy(logits: Int, targets: [Int], probabilities: Tensor)
  case meanSquaredError(input: Int, target: Tensor)
  case add(lhs: Int, rhs: Int)
  case theta(input: Int, constraint: TransformConstraint)
  case affineGrid(theta: Int, size: [Int], alignCorners: Bool)
  case gridSample(input: Int, grid: Int, options: GridSampleOptions)
  case affineGridSample(input: Int, theta: Int, options: GridSampleOptions)
}

// MARK: - Forward ops (each records one node)

extension Graph {
  /// Convolution. input (N,C,H,W), weight (O,C,kH,kW), bias (O,) -> (N,O,Ho,Wo).
  public func conv2d(_ x: Variable, weight: Variable, bias: Variable?, stride: Int = 1, padding: Int = 0, dilation: Int = 1) -> Variable {
    let w = values[weight.id]
    let b = bias.map { values[$0.id] } ?? Tensor(shape: [w.shape[0]])
    let y = conv2dForward(input: values[x.id], weight: w, bias: b, stride: stride, padding: padding, dilation: dilation, threads: threads)
    return record(y, .conv2d(input: x.id, weight: weight.id, bias: bias?.id, stride: stride, padding: padding, dilation: dilation),
      requiresGradient: needsGradient(x.id, weight.id, bias?.id))
  }

  /// Max pooling (PyTorch `ceil_mode` semantics). (N,C,H,W) -> (N,C,Ho,Wo).
  public func maxPool2d(_ x: Variable, kernel: Int, stride: Int, padding: Int = 0, ceilMode: Bool = false) -> Variable {
    let (y, argmax) = maxPool2dForward(input: values[x.id], kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode)
    return record(y, .maxPool2d(input: x.id, argmax: argmax), requiresGradient: needsGradient(x.id))
  }

  /// Average pooling. (N,C,H,W) -> (N,C,Ho,Wo).
  public func avgPool2d(_ x: Variable, kernel: Int, stride: Int, padding: Int = 0, ceilMode: Bool = false, countIncludePad: Bool = true) -> Variable {
    let y = avgPool2dForward(input: values[x.id], kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode, countIncludePad: countIncludePad)
    return record(y, .avgPool2d(input: x.id, kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode, countIncludePad: countIncludePad),
      requiresGradient: needsGradient(x.id))
  }

  /// max(x, 0), any shape.
  public func relu(_ x: Variable) -> Variable {
    record(reluForward(values[x.id]), .relu(input: x.id), requiresGradient: needsGradient(x.id))
  }

  /// x for x > 0, slope·x otherwise, any shape.
  public func leakyReLU(_ x: Variable, slope: Float = 0.01) -> Variable {
    record(leakyReLUForward(values[x.id], slope: slope), .leakyReLU(input: x.id, slope: slope), requiresGradient: needsGradient(x.id))
  }

  /// 1 / (1 + e^-x), any shape.
  public func sigmoid(_ x: Variable) -> Variable {
    record(sigmoidForward(values[x.id]), .sigmoid(input: x.id), requiresGradient: needsGradient(x.id))
  }

  /// tanh(x), any shape.
  public func tanh(_ x: Variable) -> Variable {
    record(tanhForward(values[x.id]), .tanh(input: x.id), requiresGradient: needsGradient(x.id))
  }

  /// Fully connected. input (N,in), weight (out,in), bias (out,) -> (N,out).
  public func linear(_ x: Variable, weight: Variable, bias: Variable?) -> Variable {
    let w = values[weight.id]
    let b = bias.map { values[$0.id] } ?? Tensor(shape: [w.shape[0]])
    let y = linearForward(input: values[x.id], weight: w, bias: b)
    return record(y, .linear(input: x.id, weight: weight.id, bias: bias?.id), requiresGradient: needsGradient(x.id, weight.id, bias?.id))
  }

  /// Same elements, new shape (no copy: the storage is shared copy-on-write).
  public func reshape(_ x: Variable, _ shape: [Int]) -> Variable {
    record(values[x.id].reshaped(shape), .reshape(input: x.id), requiresGradient: needsGradient(x.id))
  }

  /// (N, ...) -> (N, product of the rest), like `nn.Flatten()`.
  public func flatten(_ x: Variable) -> Variable {
    let shape = values[x.id].shape
    return reshape(x, [shape[0], shape.dropFirst().reduce(1, *)])
  }

  /// Inverted dropout in training mode (kept values scaled by 1/(1-p)); identity in eval mode.
  public func dropout(_ x: Variable, probability: Float, random: inout RandomStream) -> Variable {
    guard training, probability > 0 else { return x }
    let (y, mask) = dropoutForward(values[x.id], probability: probability, rng: &random)
    return record(y, .dropout(input: x.id, mask: mask), requiresGradient: needsGradient(x.id))
  }

  /// Batch norm over (N,H,W) per channel; updates the running statistics in training mode.
  /// input (N,C,H,W), gamma/beta (C,), running stats (C,).
  public func batchNorm2d(
    _ x: Variable, gamma: Variable, beta: Variable, runningMean: inout Tensor, runningVar: inout Tensor,
    momentum: Float, epsilon: Float
  ) -> Variable {
    let (y, cache) = batchNorm2dForward(
      input: values[x.id], gamma: values[gamma.id], beta: values[beta.id], runningMean: &runningMean,
      runningVar: &runningVar, training: training, momentum: momentum, epsilon: epsilon)
    return record(y, .batchNorm2d(input: x.id, gamma: gamma.id, beta: beta.id, cache: cache),
      requiresGradient: needsGradient(x.id, gamma.id, beta.id))
  }

  /// Mean softmax cross-entropy of logits (N,K) against class indices; a (1,) node.
  public func softmaxCrossEntropy(_ logits: Variable, targets: [Int]) -> Variable {
    precondition(targets.count == values[logits.id].shape[0], "\(targets.count) targets for \(values[logits.id].shape[0]) rows")
    let classes = values[logits.id].shape[1]
    precondition(targets.allSatisfy { (0..<classes).contains($0) }, "targets must be class indices in 0..<\(classes) (check labels before training)")
    let (loss, probabilities) = softmaxCrossEntropyForward(logits: values[logits.id], targets: targets)
    return record(Tensor(shape: [1], data: [loss]), .softmaxCrossEntropy(logits: logits.id, targets: targets, probabilities: probabilities),
      requiresGradient: needsGradient(logits.id))
  }

  /// Element-wise sum of two same-shape values (residual connections, tests of fan-out).
  public func add(_ a: Variable, _ b: Variable) -> Variable {
    var sum = values[a.id]
    precondition(sum.shape == values[b.id].shape, "add: shapes \(sum.shape) and \(values[b.id].shape)")
    sum.data.withUnsafeMutableBufferPointer { target in
      values[b.id].data.withUnsafeBufferPointer { source in
        for i in 0..<source.count { target[i] += source[i] }
      }
    }
    return record(sum, .add(lhs: a.id, rhs: b.id), requiresGradient: needsGradient(a.id, b.id))
  }

  /// mean((x - target)²) over all elements; a (1,) node. x and target have the same shape.
  public func meanSquaredError(_ x: Variable, target: Tensor) -> Variable {
    let value = values[x.id]
    precondition(value.shape == target.shape, "MSE target \(target.shape) for input \(value.shape)")
    var sum: Double = 0
    for i in 0..<value.count {
      let d = Double(value.data[i] - target.data[i])
      sum += d * d
    }
    return record(Tensor(shape: [1], data: [Float(sum / Double(max(value.count, 1)))]), .meanSquaredError(input: x.id, target: target),
      requiresGradient: needsGradient(x.id))
  }

  /// Turns the localization output (N,P) into theta (N,2,3) under a constraint (see
  /// `TransformConstraint` for each parameterization).
  public func theta(_ x: Variable, constraint: TransformConstraint) -> Variable {
    let p = values[x.id]
    let n = p.shape[0], k = constraint.parameterCount
    precondition(p.count == n * k, "theta(\(constraint)) needs (N,\(k)), got \(p.shape)")
    var theta = Tensor(shape: [n, 2, 3])
    for b in 0..<n {
      let t = constraint.theta(Array(p.data[(b * k)..<(b * k + k)]))
      for i in 0..<6 { theta.data[b * 6 + i] = t[i] }
    }
    return record(theta, .theta(input: x.id, constraint: constraint), requiresGradient: needsGradient(x.id))
  }

  /// Sampling grid for theta (N,2,3) and output size [N,C,H,W] -> (N,H,W,2).
  public func affineGrid(_ theta: Variable, size: [Int], alignCorners: Bool) -> Variable {
    let grid = STNWarp.affineGrid(theta: values[theta.id], size: size, alignCorners: alignCorners)
    return record(grid, .affineGrid(theta: theta.id, size: size, alignCorners: alignCorners), requiresGradient: needsGradient(theta.id))
  }

  /// Samples input (N,C,H,W) at grid (N,Ho,Wo,2) -> (N,C,Ho,Wo).
  public func gridSample(_ x: Variable, grid: Variable, options: GridSampleOptions) -> Variable {
    let y = STNWarp.gridSample(input: values[x.id], grid: values[grid.id], options: options, threads: threads)
    return record(y, .gridSample(input: x.id, grid: grid.id, options: options), requiresGradient: needsGradient(x.id, grid.id))
  }
}

extension Graph {
  /// `gridSample(x, affineGrid(theta))` fused: input (N,C,H,W), theta (N,2,3) -> (N,C,Ho,Wo)
  /// with `outputSize` [Ho,Wo] (default: the input's H,W). No grid is stored; the backward goes
  /// straight to gradInput and gradTheta.
  public func affineGridSample(_ x: Variable, theta: Variable, outputSize: [Int]? = nil, options: GridSampleOptions) -> Variable {
    let input = values[x.id]
    let size = [input.shape[0], input.shape[1]] + (outputSize ?? [input.shape[2], input.shape[3]])
    let y = STNWarp.affineGridSample(input: input, theta: values[theta.id], outputSize: size, options: options, threads: threads)
    return record(y, .affineGridSample(input: x.id, theta: theta.id, options: options), requiresGradient: needsGradient(x.id, theta.id))
  }
}

// MARK: - Backward of one node

extension Graph {
  /// Propagates node `id`'s complete gradient `g` to its inputs (accumulating).
  func backwardNode(_ id: Int, _ g: Tensor) {
    switch operations[id] {
    case .leaf:
      break

    case .parameter(let parameter):
      // NOTE: reached after every consumer (reverse tape order), so `g` is complete here.
      parameters?.accumulateGradient(parameter, g)

    case let .conv2d(input, weight, bias, stride, padding, dilation):
      let (gradInput, gradWeight, gradBias) = conv2dBackward(
        gradOutput: g, input: values[input], weight: values[weight], stride: stride, padding: padding, dilation: dilation,
        needInputGradient: requiresGradient[input], threads: threads)
      if let gradInput { accumulate(input, gradInput) }
      accumulate(weight, gradWeight)
      if let bias { accumulate(bias, gradBias) }

    case let .maxPool2d(input, argmax):
      accumulate(input, maxPool2dBackward(gradOutput: g, argmax: argmax, inputShape: values[input].shape))

    case let .avgPool2d(input, kernel, stride, padding, ceilMode, countIncludePad):
      accumulate(input, avgPool2dBackward(
        gradOutput: g, inputShape: values[input].shape, kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode,
        countIncludePad: countIncludePad))

    case let .relu(input):
      accumulate(input, reluBackward(gradOutput: g, input: values[input]))

    case let .leakyReLU(input, slope):
      accumulate(input, leakyReLUBackward(gradOutput: g, input: values[input], slope: slope))

    case let .sigmoid(input):
      accumulate(input, sigmoidBackward(gradOutput: g, output: values[id]))

    case let .tanh(input):
      accumulate(input, tanhBackward(gradOutput: g, output: values[id]))

    case let .linear(input, weight, bias):
      let (gradInput, gradWeight, gradBias) = linearBackward(
        gradOutput: g, input: values[input], weight: values[weight], needInputGradient: requiresGradient[input])
      if let gradInput { accumulate(input, gradInput) }
      accumulate(weight, gradWeight)
      if let bias { accumulate(bias, gradBias) }

    case let .reshape(input):
      accumulate(input, g.reshaped(values[input].shape))

    case let .dropout(input, mask):
      accumulate(input, dropoutBackward(gradOutput: g, mask: mask))

    case let .batchNorm2d(input, gamma, beta, cache):
      let (gradInput, gradGamma, gradBeta) = batchNorm2dBackward(gradOutput: g, input: values[input], gamma: values[gamma], cache: cache)
      accumulate(input, gradInput)
      accumulate(gamma, gradGamma)
      accumulate(beta, gradBeta)

    case let .softmaxCrossEntropy(logits, targets, probabilities):
      var gradLogits = softmaxCrossEntropyBackward(probabilities: probabilities, targets: targets)
      // The kernel gives d(mean loss)/d(logits); scale by the upstream gradient (1 at the root).
      let upstream = g.data[0]
      if upstream != 1 {
        for i in 0..<gradLogits.count { gradLogits.data[i] *= upstream }
      }
      accumulate(logits, gradLogits)

    case let .add(lhs, rhs):
      accumulate(lhs, g)
      accumulate(rhs, g)

    case let .meanSquaredError(input, target):
      // d/dx mean((x - t)²) = 2 (x - t) / count, times the upstream scalar.
      let x = values[input]
      let scale = 2 * g.data[0] / Float(max(x.count, 1))
      var gradInput = Tensor(shape: x.shape)
      for i in 0..<x.count { gradInput.data[i] = scale * (x.data[i] - target.data[i]) }
      accumulate(input, gradInput)

    case let .theta(input, constraint):
      let p = values[input]
      let n = p.shape[0], k = constraint.parameterCount
      var gradP = Tensor(shape: p.shape)
      for b in 0..<n {
        let gp = constraint.parameterGradient(Array(p.data[(b * k)..<(b * k + k)]), thetaGradient: Array(g.data[(b * 6)..<(b * 6 + 6)]))
        for i in 0..<k { gradP.data[b * k + i] = gp[i] }
      }
      accumulate(input, gradP)

    case let .affineGrid(theta, size, alignCorners):
      accumulate(theta, affineGridBackward(gradGrid: g, size: size, alignCorners: alignCorners))

    case let .gridSample(input, grid, options):
      let needInput = requiresGradient[input]
      let (gradInput, gradGrid) = gridSampleBackward(
        gradOutput: g, input: values[input], grid: values[grid], options: options, threads: threads, needInputGradient: needInput)
      if needInput { accumulate(input, gradInput) }
      accumulate(grid, gradGrid)

    case let .affineGridSample(input, theta, options):
      let needInput = requiresGradient[input]
      let (gradInput, gradTheta) = affineGridSampleBackward(
        gradOutput: g, input: values[input], theta: values[theta], options: options, threads: threads, needInputGradient: needInput)
      if needInput { accumulate(input, gradInput) }
      accumulate(theta, gradTheta)
    }
  }
}
