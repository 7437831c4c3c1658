// Inverted dropout, forward and backward.
import STNTensor

// MARK: - Dropout

/// Inverted dropout (training mode), any shape: each element is zeroed with probability `p` and
/// the kept ones are scaled by 1/(1-p), so evaluation needs no rescaling. The mask holds the
/// factor each element was multiplied by (0 or 1/(1-p)); its draws come from `rng` in element order.
public func dropoutForward(_ x: Tensor, probability p: Float, rng: inout RandomStream) -> (output: Tensor, mask: [Float]) {
  precondition(p >= 0 && p <= 1, "dropout probability \(p) must be in [0, 1]")
  // NOTE: p = 1 drops everything (PyTorch returns zeros rather than dividing by 0).
  let keep: Float = p < 1 ? 1 / (1 - p) : 0
  var mask = [Float](repeating: 0, count: x.count)
  for i in 0..<x.count { mask[i] = rng.nextUnitFloat() < p ? 0 : keep }
  return (dropoutBackward(gradOutput: x, mask: mask), mask)
}

/// Dropout backward: dx = dy · mask.
public func dropoutBackward(gradOutput: Tensor, mask: [Float]) -> Tensor {
  precondition(mask.count == gradOutput.count, "dropout mask has \(mask.count) entries for \(gradOutput.count) elements")
  var result = Tensor(shape: gradOutput.shape)
  for i in 0..<mask.count { result.data[i] = gradOutput.data[i] * mask[i] }
  return result
}
