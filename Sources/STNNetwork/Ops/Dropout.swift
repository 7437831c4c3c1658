// Inverted dropout: forward, accumulating backward, its graph node, and the `Dropout` layer.
import STNTensor

// MARK: - Kernels

/// Inverted dropout (training mode), any shape: each element is zeroed with probability `p` and
/// the kept ones are scaled by 1/(1-p), so evaluation needs no rescaling. The mask holds the
/// factor each element was multiplied by (0 or 1/(1-p)); its draws come from `rng` in element order.
public func dropoutForward(_ x: Tensor, probability p: Float, rng: inout RandomStream) -> (output: Tensor, mask: [Float]) {
  precondition(p >= 0 && p <= 1, "dropout probability \(p) must be in [0, 1]")
  // NOTE: p = 1 drops everything (PyTorch returns zeros rather than dividing by 0).
  let keep: Float = p < 1 ? 1 / (1 - p) : 0
  var mask = [Float](repeating: 0, count: x.count)
  for i in 0..<x.count { mask[i] = rng.nextUnitFloat() < p ? 0 : keep }
  var output = Tensor(shape: x.shape)
  for i in 0..<mask.count { output.data[i] = x.data[i] * mask[i] }
  return (output, mask)
}

/// Dropout backward, ACCUMULATING: gradInput += dy · mask (the local derivative is the mask).
public func dropoutBackward(gradInput: inout Tensor, gradOutput: Tensor, mask: [Float]) {
  precondition(mask.count == gradOutput.count && gradInput.count == mask.count, "dropout mask has \(mask.count) entries for \(gradOutput.count) elements")
  for i in 0..<mask.count { gradInput.data[i] += gradOutput.data[i] * mask[i] }
}

// MARK: - Graph

extension Graph {
  /// Inverted dropout in training mode (kept values scaled by 1/(1-p)); identity in eval mode.
  public func dropout(_ x: Variable, probability: Float, random: inout RandomStream) -> Variable {
    guard training, probability > 0 else { return x }
    let (y, mask) = dropoutForward(values[x.id], probability: probability, rng: &random)
    return record(y, op: "dropout", requiresGradient: needsGradient(x.id)) { gradOutput, _, graph in
      graph.accumulateGradient(x.id) { dropoutBackward(gradInput: &$0, gradOutput: gradOutput, mask: mask) }
    }
  }
}

// MARK: - Layer

/// Inverted dropout, PyTorch `nn.Dropout`; identity in eval mode.
///
/// The mask of the k-th training pass comes from the stream keyed (seed, k), so a run resumed
/// from a checkpoint (which records `calls`) draws exactly the masks the uninterrupted run would.
/// Sample j of a batch draws elements j·size ..< (j+1)·size of that stream, so a part of a batch
/// that starts at sample `firstSample` (one rank's slice in data-parallel training) gets the
/// masks the whole batch gives those samples.
public final class Dropout: Layer {
  public let probability: Float
  public let outputShape: [Int]
  public let seed: UInt64
  /// Training forward passes so far.
  public var calls: UInt64 = 0
  /// Position of this pass's first sample in the whole batch (0 unless only a part of the
  /// batch is passed).
  public var firstSample = 0

  public init(inputShape: [Int], probability: Float, seed: UInt64) {
    precondition(probability >= 0 && probability < 1)
    self.probability = probability
    self.seed = seed
    outputShape = inputShape
  }

  public var parameterCount: Int { 0 }
  public var moduleDescription: String { "Dropout(p=\(probability), inplace=False)" }
  public func forward(_ x: Variable, in graph: Graph) -> Variable {
    guard graph.training else { return x }
    var random = RandomStream(seed: seed, index: calls, salt: 0xD809_0117)
    random.skip(firstSample * outputShape.reduce(1, *))
    calls += 1
    return graph.dropout(x, probability: probability, random: &random)
  }
}
