// Reshape and flatten (no arithmetic: the gradient is the output's, reshaped back).
import STNTensor

extension Graph {
  /// Same elements, new shape (no copy: the storage is shared copy-on-write).
  public func reshape(_ x: Variable, _ shape: [Int]) -> Variable {
    record(values[x.id].reshaped(shape), ReshapeNode(input: x.id), requiresGradient: needsGradient(x.id))
  }

  /// (N, ...) -> (N, product of the rest), like `nn.Flatten()`.
  public func flatten(_ x: Variable) -> Variable {
    let shape = values[x.id].shape
    return reshape(x, [shape[0], shape.dropFirst().reduce(1, *)])
  }
}

/// reshape on the tape.
struct ReshapeNode: BackwardNode {
  let input: Int

  func backward(_ gradOutput: Tensor, output: Int, in graph: Graph) {
    graph.accumulateGradient(input, adding: gradOutput)
  }
}
