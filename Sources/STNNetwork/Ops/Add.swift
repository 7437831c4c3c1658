// Element-wise sum of two values (residual connections, fan-out tests) on the tape.
import STNTensor

// MARK: - Graph

extension Graph {
  /// Element-wise sum of two same-shape values.
  public func add(_ a: Variable, _ b: Variable) -> Variable {
    precondition(values[a.id].shape == values[b.id].shape, "add: shapes \(values[a.id].shape) and \(values[b.id].shape)")
    var sum = values[a.id]
    addInPlace(&sum, values[b.id])
    return record(sum, op: "add", requiresGradient: needsGradient(a.id, b.id)) { gradOutput, _, graph in
      // d(a + b)/da = d(a + b)/db = 1: each side gets the output's gradient.
      graph.accumulateGradient(a.id, adding: gradOutput)
      graph.accumulateGradient(b.id, adding: gradOutput)
    }
  }
}
