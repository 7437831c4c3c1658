// Element-wise sum of two values (residual connections, fan-out tests) and its graph node.
import STNTensor

extension Graph {
  /// Element-wise sum of two same-shape values.
  public func add(_ a: Variable, _ b: Variable) -> Variable {
    precondition(values[a.id].shape == values[b.id].shape, "add: shapes \(values[a.id].shape) and \(values[b.id].shape)")
    var sum = values[a.id]
    addInPlace(&sum, values[b.id])
    return record(sum, AddNode(lhs: a.id, rhs: b.id), requiresGradient: needsGradient(a.id, b.id))
  }
}

/// add on the tape: d(a + b)/da = d(a + b)/db = 1, so each side gets the output's gradient.
struct AddNode: BackwardNode {
  let lhs: Int, rhs: Int

  func backward(_ gradOutput: Tensor, output: Int, in graph: Graph) {
    graph.accumulateGradient(lhs, adding: gradOutput)
    graph.accumulateGradient(rhs, adding: gradOutput)
  }
}
