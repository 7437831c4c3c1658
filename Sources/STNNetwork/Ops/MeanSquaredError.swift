// Mean squared error loss (PyTorch `F.mse_loss`, mean reduction): forward, accumulating
// backward, and its graph node.
import STNTensor

// MARK: - Kernels

/// mean((x - target)²) over all elements of input and target (same shape), summed in double.
public func meanSquaredErrorForward(input: Tensor, target: Tensor) -> Float {
  precondition(input.shape == target.shape, "MSE target \(target.shape) for input \(input.shape)")
  var sum: Double = 0
  for i in 0..<input.count {
    let d = Double(input.data[i] - target.data[i])
    sum += d * d
  }
  return Float(sum / Double(max(input.count, 1)))
}

/// MSE backward, ACCUMULATING: gradInput += gradLoss · 2 (x - target) / count.
public func meanSquaredErrorBackward(gradInput: inout Tensor, gradLoss: Float = 1, input: Tensor, target: Tensor) {
  precondition(input.shape == target.shape && gradInput.shape == input.shape, "MSE backward: shapes \(gradInput.shape), \(input.shape), \(target.shape) differ")
  let scale = 2 * gradLoss / Float(max(input.count, 1))
  for i in 0..<input.count { gradInput.data[i] += scale * (input.data[i] - target.data[i]) }
}

// MARK: - Graph

extension Graph {
  /// mean((x - target)²) over all elements; a (1,) node. x and target have the same shape.
  public func meanSquaredError(_ x: Variable, target: Tensor) -> Variable {
    let loss = meanSquaredErrorForward(input: values[x.id], target: target)
    return record(Tensor(shape: [1], data: [loss]), op: "mean_squared_error", requiresGradient: needsGradient(x.id)) { gradOutput, _, graph in
      graph.accumulateGradient(x.id) {
        meanSquaredErrorBackward(gradInput: &$0, gradLoss: gradOutput.data[0], input: graph.values[x.id], target: target)
      }
    }
  }
}
