// theta (N,2,3) from a localization network's output under a `TransformConstraint`:
// forward, accumulating backward, and its graph node.
import STNTensor

// MARK: - Kernels

/// theta (N,2,3) from the localization output (N,k), k = `constraint.parameterCount`, one
/// sample at a time by `TransformConstraint.theta`.
public func thetaForward(parameters: Tensor, constraint: TransformConstraint) -> Tensor {
  let n = parameters.shape[0], k = constraint.parameterCount
  precondition(parameters.count == n * k, "theta(\(constraint)) needs (N,\(k)), got \(parameters.shape)")
  var theta = Tensor(shape: [n, 2, 3])
  for b in 0..<n {
    let t = constraint.theta(Array(parameters.data[(b * k)..<(b * k + k)]))
    for i in 0..<6 { theta.data[b * 6 + i] = t[i] }
  }
  return theta
}

/// Backward, ACCUMULATING: gradParameters (N,k) += the chain rule of `TransformConstraint.theta`
/// (its `parameterGradient`) applied to gradTheta (N,2,3).
public func thetaBackward(gradParameters: inout Tensor, gradTheta: Tensor, parameters: Tensor, constraint: TransformConstraint) {
  let n = parameters.shape[0], k = constraint.parameterCount
  precondition(gradParameters.shape == parameters.shape && gradTheta.count == n * 6, "theta backward: shapes \(gradParameters.shape), \(parameters.shape), \(gradTheta.shape)")
  for b in 0..<n {
    let gp = constraint.parameterGradient(Array(parameters.data[(b * k)..<(b * k + k)]), thetaGradient: Array(gradTheta.data[(b * 6)..<(b * 6 + 6)]))
    for i in 0..<k { gradParameters.data[b * k + i] += gp[i] }
  }
}

// MARK: - Graph

extension Graph {
  /// Turns the localization output (N,P) into theta (N,2,3) under a constraint (see
  /// `TransformConstraint` for each parameterization).
  public func theta(_ x: Variable, constraint: TransformConstraint) -> Variable {
    record(thetaForward(parameters: values[x.id], constraint: constraint), op: "theta", requiresGradient: needsGradient(x.id)) { gradOutput, _, graph in
      graph.accumulateGradient(x.id) {
        thetaBackward(gradParameters: &$0, gradTheta: gradOutput, parameters: graph.values[x.id], constraint: constraint)
      }
    }
  }
}
