// Softmax cross-entropy loss (PyTorch `F.cross_entropy`, mean reduction), forward and backward.
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

/// Gradient of the mean loss with respect to the logits: (softmax - onehot(target)) / N, (N,K).
public func softmaxCrossEntropyBackward(probabilities: Tensor, targets: [Int]) -> Tensor {
  precondition(probabilities.rank == 2 && probabilities.shape[0] == targets.count, "cross_entropy backward: \(targets.count) targets for probabilities \(probabilities.shape)")
  let N = probabilities.shape[0], K = probabilities.shape[1]
  var gradient = probabilities
  let scale = 1 / Float(N)
  for n in 0..<N {
    precondition(targets[n] >= 0 && targets[n] < K, "cross_entropy target \(targets[n]) outside 0..<\(K)")
    gradient.data[n * K + targets[n]] -= 1
    for k in 0..<K { gradient.data[n * K + k] *= scale }
  }
  return gradient
}
