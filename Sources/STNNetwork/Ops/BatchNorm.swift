// 2-D batch normalization (PyTorch `nn.BatchNorm2d`), training and evaluation: forward,
// accumulating backward, its graph node, and the `BatchNorm2D` layer.
import STNTensor

// MARK: - Batch norm

/// What the backward pass needs from a batch-norm forward: per-channel mean and 1/sqrt(var + eps)
/// that normalized the input, and whether they were batch statistics (training) or running ones.
public struct BatchNormCache: Sendable {
  /// Per-channel mean used to normalize (C).
  public var mean: [Float]
  /// Per-channel 1/sqrt(var + epsilon) used to normalize (C).
  public var invStd: [Float]
  /// True when `mean`/`invStd` came from the batch (their gradient flows back through them).
  public var training: Bool

  public init(mean: [Float], invStd: [Float], training: Bool = true) {
    self.mean = mean
    self.invStd = invStd
    self.training = training
  }
}

/// Batch norm over (N,H,W) per channel: input (N,C,H,W), gamma and beta (C),
/// running mean and variance (C) -> output (N,C,H,W).
///
/// Training: normalizes with the batch mean and *biased* variance, then updates the running
/// statistics PyTorch's way, running = (1 - momentum)·running + momentum·batch, with the
/// *unbiased* variance (n/(n-1)). Evaluation: normalizes with the running statistics, unchanged.
public func batchNorm2dForward(
  input: Tensor, gamma: Tensor, beta: Tensor, runningMean: inout Tensor, runningVar: inout Tensor,
  training: Bool, momentum: Float = 0.1, epsilon: Float = 1e-5
) -> (output: Tensor, cache: BatchNormCache) {
  precondition(input.rank == 4, "batch_norm2d input must be (N,C,H,W), got \(input.shape)")
  let N = input.shape[0], C = input.shape[1], plane = input.shape[2] * input.shape[3]
  for (name, t) in [("gamma", gamma), ("beta", beta), ("running mean", runningMean), ("running var", runningVar)] {
    precondition(t.shape == [C], "batch_norm2d \(name) must be (\(C)), got \(t.shape)")
  }
  let count = N * plane
  var mean = [Float](repeating: 0, count: C)
  var invStd = [Float](repeating: 0, count: C)
  if training {
    precondition(count > 1, "batch_norm2d in training needs more than one value per channel, got input \(input.shape)")
    for c in 0..<C {
      // Two passes in double precision: the mean first, then squared deviations from it.
      var sum: Double = 0
      for n in 0..<N {
        let base = (n * C + c) * plane
        for i in 0..<plane { sum += Double(input.data[base + i]) }
      }
      let m = sum / Double(count)
      var squares: Double = 0
      for n in 0..<N {
        let base = (n * C + c) * plane
        for i in 0..<plane {
          let d = Double(input.data[base + i]) - m
          squares += d * d
        }
      }
      let biased = squares / Double(count)
      let unbiased = squares / Double(count - 1)
      mean[c] = Float(m)
      invStd[c] = Float(1 / (biased + Double(epsilon)).squareRoot())
      runningMean.data[c] = (1 - momentum) * runningMean.data[c] + momentum * Float(m)
      runningVar.data[c] = (1 - momentum) * runningVar.data[c] + momentum * Float(unbiased)
    }
  } else {
    for c in 0..<C {
      mean[c] = runningMean.data[c]
      invStd[c] = Float(1 / (Double(runningVar.data[c]) + Double(epsilon)).squareRoot())
    }
  }
  var output = Tensor(shape: input.shape)
  for n in 0..<N {
    for c in 0..<C {
      let scale = gamma.data[c] * invStd[c]
      let shift = beta.data[c] - mean[c] * scale
      let base = (n * C + c) * plane
      for i in 0..<plane { output.data[base + i] = input.data[base + i] * scale + shift }
    }
  }
  return (output, BatchNormCache(mean: mean, invStd: invStd, training: training))
}

/// Batch norm backward, ACCUMULATING into the gradient buffers: gradInput (N,C,H,W), gradGamma (C)
/// and gradBeta (C) get `+=` their share of gradOutput (N,C,H,W); a nil buffer is not computed.
///
/// With x̂ = (x - mean)·invStd and M = N·H·W values per channel:
/// gradBeta = Σ dy, gradGamma = Σ dy·x̂; in training (batch statistics depend on x)
/// dx = gamma·invStd/M · (M·dy - Σdy - x̂·Σ dy·x̂), in evaluation dx = gamma·invStd·dy.
public func batchNorm2dBackward(
  gradInput: inout Tensor?, gradGamma: inout Tensor?, gradBeta: inout Tensor?, gradOutput: Tensor, input: Tensor, gamma: Tensor,
  cache: BatchNormCache
) {
  precondition(input.rank == 4 && gradOutput.shape == input.shape, "batch_norm2d backward: gradOutput \(gradOutput.shape) must match input \(input.shape)")
  let N = input.shape[0], C = input.shape[1], plane = input.shape[2] * input.shape[3]
  precondition(gamma.shape == [C] && cache.mean.count == C && cache.invStd.count == C, "batch_norm2d backward: per-channel sizes do not match \(C) channels")
  precondition((gradInput?.shape ?? input.shape) == input.shape && (gradGamma?.shape ?? [C]) == [C] && (gradBeta?.shape ?? [C]) == [C],
    "batch_norm2d backward: gradient buffers do not match the input and \(C) channels")
  let count = Double(N * plane)
  for c in 0..<C {
    let mean = cache.mean[c], invStd = cache.invStd[c]
    var sumDy: Double = 0, sumDyXhat: Double = 0
    for n in 0..<N {
      let base = (n * C + c) * plane
      for i in 0..<plane {
        let dy = Double(gradOutput.data[base + i])
        sumDy += dy
        sumDyXhat += dy * Double((input.data[base + i] - mean) * invStd)
      }
    }
    gradBeta?.data[c] += Float(sumDy)
    gradGamma?.data[c] += Float(sumDyXhat)
    guard gradInput != nil else { continue }
    let scale = gamma.data[c] * invStd
    let meanDy = Float(sumDy / count), meanDyXhat = Float(sumDyXhat / count)
    for n in 0..<N {
      let base = (n * C + c) * plane
      for i in 0..<plane {
        let dy = gradOutput.data[base + i]
        if cache.training {
          let xhat = (input.data[base + i] - mean) * invStd
          gradInput?.data[base + i] += scale * (dy - meanDy - xhat * meanDyXhat)
        } else {
          gradInput?.data[base + i] += scale * dy
        }
      }
    }
  }
}

// MARK: - Graph

extension Graph {
  /// Batch norm over (N,H,W) per channel; updates the running statistics in training mode.
  /// input (N,C,H,W), gamma/beta (C,), running stats (C,).
  public func batchNorm2d(
    _ x: Variable, gamma: Variable, beta: Variable, runningMean: inout Tensor, runningVar: inout Tensor,
    momentum: Float, epsilon: Float
  ) -> Variable {
    let (y, cache) = batchNorm2dForward(
      input: values[x.id], gamma: values[gamma.id], beta: values[beta.id], runningMean: &runningMean,
      runningVar: &runningVar, training: training, momentum: momentum, epsilon: epsilon)
    return record(y, op: "batch_norm2d", requiresGradient: needsGradient(x.id, gamma.id, beta.id)) { gradOutput, _, graph in
      // `cache`: the statistics the forward normalized by.
      var gradInput = graph.takeGradient(x.id), gradGamma = graph.takeGradient(gamma.id), gradBeta = graph.takeGradient(beta.id)
      batchNorm2dBackward(
        gradInput: &gradInput, gradGamma: &gradGamma, gradBeta: &gradBeta, gradOutput: gradOutput, input: graph.values[x.id],
        gamma: graph.values[gamma.id], cache: cache)
      graph.restoreGradient(x.id, gradInput)
      graph.restoreGradient(gamma.id, gradGamma)
      graph.restoreGradient(beta.id, gradBeta)
    }
  }
}

// MARK: - Layer

/// Batch normalization over channels, PyTorch `nn.BatchNorm2d` (affine, tracked running stats).
public final class BatchNorm2D: Layer {
  public let channels: Int, momentum: Float, epsilon: Float
  /// gamma (C,), named `weight` like PyTorch.
  public let weight: Parameter
  /// beta (C,), named `bias`.
  public let bias: Parameter
  /// (C,), starts at 0.
  public var runningMean: Tensor
  /// (C,), starts at 1; updated with the unbiased batch variance, as PyTorch does.
  public var runningVar: Tensor
  /// Training forward passes seen (PyTorch's `num_batches_tracked`).
  public var numBatchesTracked: Int64 = 0
  /// State-dict prefix, e.g. `cls.1.`.
  public let name: String
  public let outputShape: [Int]

  public init(store: ParameterStore, name: String, inputShape: [Int], momentum: Float = 0.1, epsilon: Float = 1e-5) {
    precondition(inputShape.count == 3 && momentum >= 0 && momentum <= 1 && epsilon > 0)
    channels = inputShape[0]
    self.momentum = momentum
    self.epsilon = epsilon
    self.name = name
    weight = store.add(name: name + "weight", shape: [channels], initial: [Float](repeating: 1, count: channels))
    bias = store.add(name: name + "bias", shape: [channels], initial: [Float](repeating: 0, count: channels))
    runningMean = Tensor(shape: [channels], repeating: 0)
    runningVar = Tensor(shape: [channels], repeating: 1)
    outputShape = inputShape
  }

  public var parameterCount: Int { 2 * channels }
  public var moduleDescription: String {
    "BatchNorm2d(\(channels), eps=\(epsilon), momentum=\(momentum), affine=True, track_running_stats=True)"
  }
  public func forward(_ x: Variable, in graph: Graph) -> Variable {
    if graph.training { numBatchesTracked += 1 }
    return graph.batchNorm2d(
      x, gamma: graph.parameter(weight), beta: graph.parameter(bias), runningMean: &runningMean, runningVar: &runningVar,
      momentum: momentum, epsilon: epsilon)
  }
}
