// Fully connected layer (PyTorch `nn.Linear` layout): forward and accumulating backward on
// sgemm, its graph node, and the `Linear` layer.
import STNTensor

// MARK: - Kernels

/// Linear layer: input (N,in), weight (out,in) (PyTorch layout), bias (out) or nil -> (N,out),
/// y = x·Wᵀ + b.
public func linearForward(input: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
  precondition(input.rank == 2 && weight.rank == 2, "linear wants (N,in) input and (out,in) weight, got \(input.shape) and \(weight.shape)")
  let N = input.shape[0], inFeatures = input.shape[1], outFeatures = weight.shape[0]
  precondition(weight.shape[1] == inFeatures, "linear input has \(inFeatures) features, weight expects \(weight.shape[1])")
  if let bias { precondition(bias.shape == [outFeatures], "linear bias must be (\(outFeatures)), got \(bias.shape)") }
  var output = Tensor(shape: [N, outFeatures])
  if let bias {
    for n in 0..<N {
      for o in 0..<outFeatures { output.data[n * outFeatures + o] = bias.data[o] }
    }
  }
  if N == 0 || outFeatures == 0 || inFeatures == 0 { return output }
  input.data.withUnsafeBufferPointer { x in
    weight.data.withUnsafeBufferPointer { w in
      output.data.withUnsafeMutableBufferPointer { y in
        sgemm(transposeA: false, transposeB: true, M: N, N: outFeatures, K: inFeatures,
              x.baseAddress!, lda: inFeatures, w.baseAddress!, ldb: inFeatures,
              beta: bias == nil ? 0 : 1, y.baseAddress!, ldc: outFeatures)
      }
    }
  }
  return output
}

/// Linear backward, ACCUMULATING into the gradient buffers: gradInput (N,in) += dy·W,
/// gradWeight (out,in) += dyᵀ·x, gradBias (out) += Σ_n dy, for gradOutput dy (N,out); a nil
/// buffer is not needed and not computed.
public func linearBackward(
  gradInput: inout Tensor?, gradWeight: inout Tensor?, gradBias: inout Tensor?, gradOutput: Tensor, input: Tensor, weight: Tensor
) {
  precondition(input.rank == 2 && weight.rank == 2 && gradOutput.rank == 2, "linear backward wants 2-D tensors")
  let N = input.shape[0], inFeatures = input.shape[1], outFeatures = weight.shape[0]
  precondition(weight.shape[1] == inFeatures && gradOutput.shape == [N, outFeatures], "linear backward shapes do not match: input \(input.shape), weight \(weight.shape), gradOutput \(gradOutput.shape)")
  precondition((gradInput?.shape ?? input.shape) == input.shape && (gradWeight?.shape ?? weight.shape) == weight.shape
    && (gradBias?.shape ?? [outFeatures]) == [outFeatures], "linear backward: gradient buffers do not match the input, weight and bias")
  withOptionalMutablePointer(&gradBias) { db in
    guard let db else { return }
    for o in 0..<outFeatures {
      var sum: Float = 0
      for n in 0..<N { sum += gradOutput.data[n * outFeatures + o] }
      db[o] += sum
    }
  }
  if N == 0 || outFeatures == 0 || inFeatures == 0 { return }
  gradOutput.data.withUnsafeBufferPointer { dy in
    withOptionalMutablePointer(&gradWeight) { dw in
      guard let dw else { return }
      input.data.withUnsafeBufferPointer { x in
        sgemm(transposeA: true, transposeB: false, M: outFeatures, N: inFeatures, K: N,
              dy.baseAddress!, lda: outFeatures, x.baseAddress!, ldb: inFeatures, beta: 1, dw, ldc: inFeatures)
      }
    }
    withOptionalMutablePointer(&gradInput) { dx in
      guard let dx else { return }
      weight.data.withUnsafeBufferPointer { w in
        sgemm(transposeA: false, transposeB: false, M: N, N: inFeatures, K: outFeatures,
              dy.baseAddress!, lda: outFeatures, w.baseAddress!, ldb: inFeatures, beta: 1, dx, ldc: inFeatures)
      }
    }
  }
}

// MARK: - Graph

extension Graph {
  /// Fully connected. input (N,in), weight (out,in), bias (out,) -> (N,out).
  public func linear(_ x: Variable, weight: Variable, bias: Variable?) -> Variable {
    let y = linearForward(input: values[x.id], weight: values[weight.id], bias: bias.map { values[$0.id] })
    return record(y, op: "linear", requiresGradient: needsGradient(x.id, weight.id, bias?.id)) { gradOutput, _, graph in
      var gradInput = graph.takeGradient(x.id), gradWeight = graph.takeGradient(weight.id)
      var gradBias = bias.flatMap { graph.takeGradient($0.id) }
      linearBackward(
        gradInput: &gradInput, gradWeight: &gradWeight, gradBias: &gradBias, gradOutput: gradOutput, input: graph.values[x.id],
        weight: graph.values[weight.id])
      graph.restoreGradient(x.id, gradInput)
      graph.restoreGradient(weight.id, gradWeight)
      if let bias { graph.restoreGradient(bias.id, gradBias) }
    }
  }
}

// MARK: - Layer

/// Fully connected layer, PyTorch `nn.Linear`; weight (out,in).
public final class Linear: Layer {
  public let inFeatures: Int, outFeatures: Int
  /// (out,in)
  public let weight: Parameter
  /// (out,)
  public let bias: Parameter?
  public var outputShape: [Int] { [outFeatures] }

  /// PyTorch default init: weight and bias uniform in ±1/sqrt(in).
  public init(store: ParameterStore, name: String, inFeatures: Int, outFeatures: Int, bias: Bool = true, random: inout RandomStream) {
    precondition(inFeatures > 0 && outFeatures > 0)
    self.inFeatures = inFeatures
    self.outFeatures = outFeatures
    let bound = 1 / Float(inFeatures).squareRoot()
    weight = store.add(name: name + "weight", shape: [outFeatures, inFeatures], initial: uniformValues(outFeatures * inFeatures, bound: bound, &random))
    self.bias = bias ? store.add(name: name + "bias", shape: [outFeatures], initial: uniformValues(outFeatures, bound: bound, &random)) : nil
  }

  public var parameterCount: Int { weight.count + (bias?.count ?? 0) }
  public var moduleDescription: String {
    "Linear(in_features=\(inFeatures), out_features=\(outFeatures), bias=\(bias == nil ? "False" : "True"))"
  }
  public func forward(_ x: Variable, in graph: Graph) -> Variable {
    graph.linear(x, weight: graph.parameter(weight), bias: bias.map { graph.parameter($0) })
  }
}
