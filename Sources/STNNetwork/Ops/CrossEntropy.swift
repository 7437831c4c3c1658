// Softmax cross-entropy loss (PyTorch `F.cross_entropy`, mean reduction): forward, accumulating
// backward, and its graph node.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import STNTensor

// MARK: - Softmax cross-entropy

/// Softmax cross-entropy with mean reduction: logits (N,K), targets N class indices in 0..<K
/// -> (mean loss, softmax probabilities (N,K)).
///
/// Stable: each row's maximum is subtracted before exponentiating, and the loss is computed as
/// log Σ exp(z - max) - (z_t - max) in double precision, so large logits neither overflow nor
/// lose the small terms.
public func softmaxCrossEntropyForward(logits: Tensor, targets: [Int]) -> (loss: Float, probabilities: Tensor) {
  precondition(logits.rank == 2, "cross_entropy logits must be (N,K), got \(logits.shape)")
  let N = logits.shape[0], K = logits.shape[1]
  precondition(targets.count == N, "cross_entropy has \(targets.count) targets for \(N) rows")
  precondition(N >= 1 && K >= 1, "cross_entropy needs at least one row and one class, got \(logits.shape)")
  var probabilities = Tensor(shape: logits.shape)
  var total: Double = 0
  for n in 0..<N {
    let target = targets[n]
    precondition(target >= 0 && target < K, "cross_entropy target \(target) outside 0..<\(K)")
    let row = n * K
    var rowMax = -Float.infinity
    for k in 0..<K { rowMax = max(rowMax, logits.data[row + k]) }
    var sum: Double = 0
    for k in 0..<K {
      let e = exp(Double(logits.data[row + k] - rowMax))
      probabilities.data[row + k] = Float(e)
      sum += e
    }
    let inverse = 1 / sum
    for k in 0..<K { probabilities.data[row + k] = Float(Double(probabilities.data[row + k]) * inverse) }
    total += log(sum) - Double(logits.data[row + target] - rowMax)
  }
  return (Float(total / Double(N)), probabilities)
}

/// Backward of the mean loss, ACCUMULATING: gradLogits (N,K) += gradLoss · (softmax -
/// onehot(target)) / N, where gradLoss is the upstream gradient of the loss (1 at the root).
public func softmaxCrossEntropyBackward(gradLogits: inout Tensor, gradLoss: Float = 1, probabilities: Tensor, targets: [Int]) {
  precondition(probabilities.rank == 2 && probabilities.shape[0] == targets.count, "cross_entropy backward: \(targets.count) targets for probabilities \(probabilities.shape)")
  precondition(gradLogits.shape == probabilities.shape, "cross_entropy backward: gradLogits \(gradLogits.shape) for probabilities \(probabilities.shape)")
  let N = probabilities.shape[0], K = probabilities.shape[1]
  let scale = 1 / Float(N)
  for n in 0..<N {
    precondition(targets[n] >= 0 && targets[n] < K, "cross_entropy target \(targets[n]) outside 0..<\(K)")
    for k in 0..<K {
      let p = probabilities.data[n * K + k]
      // NOTE: (p - onehot)·(1/N) first, then the upstream factor: at the root (x·1 = x) the
      // result has the bits of the plain d(mean loss)/d(logits).
      gradLogits.data[n * K + k] += (k == targets[n] ? p - 1 : p) * scale * gradLoss
    }
  }
}

// MARK: - Graph

extension Graph {
  /// Mean softmax cross-entropy of logits (N,K) against class indices; a (1,) node.
  public func softmaxCrossEntropy(_ logits: Variable, targets: [Int]) -> Variable {
    precondition(targets.count == values[logits.id].shape[0], "\(targets.count) targets for \(values[logits.id].shape[0]) rows")
    let classes = values[logits.id].shape[1]
    precondition(targets.allSatisfy { (0..<classes).contains($0) }, "targets must be class indices in 0..<\(classes) (check labels before training)")
    let (loss, probabilities) = softmaxCrossEntropyForward(logits: values[logits.id], targets: targets)
    return record(Tensor(shape: [1], data: [loss]), op: "softmax_cross_entropy", requiresGradient: needsGradient(logits.id)) { gradOutput, _, graph in
      graph.accumulateGradient(logits.id) {
        softmaxCrossEntropyBackward(gradLogits: &$0, gradLoss: gradOutput.data[0], probabilities: probabilities, targets: targets)
      }
    }
  }
}
