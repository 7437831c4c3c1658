// A spatial transformer's parameters from its localization network's output, one op per
// family (`SpatialTransform`): theta (N,2,3) under a `TransformConstraint`, the homography
// (N,3,3) of the 8-parameter form, the control points' source positions (N,K,2) of a thin-plate
// spline; each with its forward, accumulating backward and graph node.
import STNTensor
import STNWarp

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

// MARK: - Projective: homography (N,3,3) from the 8-parameter form

/// homography (N,3,3) from the localization output (N,8) = (h11 h12 h13 h21 h22 h23 h31 h32):
/// the same numbers row-major with h33 = 1 (`SpatialTransform.projective`).
public func homographyForward(parameters: Tensor) -> Tensor {
  let n = parameters.shape.first ?? 0
  precondition(parameters.count == n * 8, "homography needs (N,8), got \(parameters.shape)")
  var homography = Tensor(shape: [n, 3, 3])
  for b in 0..<n {
    for i in 0..<8 { homography.data[b * 9 + i] = parameters.data[b * 8 + i] }
    homography.data[b * 9 + 8] = 1
  }
  return homography
}

/// Backward, ACCUMULATING: gradParameters (N,8) += the first 8 entries of each gradHomography
/// (N,3,3) (h33 is a constant).
public func homographyBackward(gradParameters: inout Tensor, gradHomography: Tensor) {
  let n = gradParameters.shape.first ?? 0
  precondition(gradParameters.count == n * 8 && gradHomography.count == n * 9, "homography backward: shapes \(gradParameters.shape), \(gradHomography.shape)")
  for b in 0..<n {
    for i in 0..<8 { gradParameters.data[b * 8 + i] += gradHomography.data[b * 9 + i] }
  }
}

// MARK: - Thin-plate spline: control points' source positions (N,K,2) from displacements

/// Source positions (N,K,2) = c + d of the basis's control points c from the localization output
/// d (N,2K) = (dx_1, dy_1, ..., dx_K, dy_K) (`SpatialTransform.thinPlateSpline`).
public func controlPointSourcesForward(displacements: Tensor, basis: ThinPlateSplineGridBasis) -> Tensor {
  let n = displacements.shape.first ?? 0, k = basis.controlPointCount
  precondition(displacements.count == n * 2 * k, "control point sources need (N,\(2 * k)), got \(displacements.shape)")
  var points = Tensor(shape: [n, k, 2])
  for b in 0..<n {
    for i in 0..<k {
      points.data[(b * k + i) * 2] = Float(basis.controlPoints[i].x) + displacements.data[(b * k + i) * 2]
      points.data[(b * k + i) * 2 + 1] = Float(basis.controlPoints[i].y) + displacements.data[(b * k + i) * 2 + 1]
    }
  }
  return points
}

// MARK: - Graph (projective, thin-plate spline)

extension Graph {
  /// The homography (N,3,3) of the 8-parameter localization output (N,8), h33 = 1.
  public func homography(_ x: Variable) -> Variable {
    record(homographyForward(parameters: values[x.id]), op: "homography", requiresGradient: needsGradient(x.id)) { gradOutput, _, graph in
      graph.accumulateGradient(x.id) { homographyBackward(gradParameters: &$0, gradHomography: gradOutput) }
    }
  }

  /// The control points' source positions (N,K,2) from the displacement output (N,2K); the
  /// derivative is the identity, so the backward adds gradOutput as it is.
  public func controlPointSources(_ x: Variable, basis: ThinPlateSplineGridBasis) -> Variable {
    record(controlPointSourcesForward(displacements: values[x.id], basis: basis), op: "control_point_sources", requiresGradient: needsGradient(x.id)) { gradOutput, _, graph in
      // (N,K,2) onto (N,2K): the same numbers in the same order.
      graph.accumulateGradient(x.id, adding: gradOutput)
    }
  }
}
