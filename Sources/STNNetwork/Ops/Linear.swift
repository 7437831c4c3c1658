// Fully connected layer (PyTorch `nn.Linear` layout), forward and backward on sgemm.
import STNTensor

// MARK: - Linear

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

/// Linear backward: gradOutput (N,out) -> gradInput (N,in) = dy·W (nil unless
/// `needInputGradient`), gradWeight (out,in) = dyᵀ·x, gradBias (out) = Σ_n dy.
public func linearBackward(gradOutput: Tensor, input: Tensor, weight: Tensor, needInputGradient: Bool = true) -> (gradInput: Tensor?, gradWeight: Tensor, gradBias: Tensor) {
  precondition(input.rank == 2 && weight.rank == 2 && gradOutput.rank == 2, "linear backward wants 2-D tensors")
  let N = input.shape[0], inFeatures = input.shape[1], outFeatures = weight.shape[0]
  precondition(weight.shape[1] == inFeatures && gradOutput.shape == [N, outFeatures], "linear backward shapes do not match: input \(input.shape), weight \(weight.shape), gradOutput \(gradOutput.shape)")
  var gradInput = Tensor(shape: needInputGradient ? input.shape : [0])
  var gradWeight = Tensor(shape: weight.shape)
  var gradBias = Tensor(shape: [outFeatures])
  for o in 0..<outFeatures {
    var sum: Float = 0
    for n in 0..<N { sum += gradOutput.data[n * outFeatures + o] }
    gradBias.data[o] = sum
  }
  if N > 0 && outFeatures > 0 && inFeatures > 0 {
    gradOutput.data.withUnsafeBufferPointer { dy in
      input.data.withUnsafeBufferPointer { x in
        gradWeight.data.withUnsafeMutableBufferPointer { dw in
          sgemm(transposeA: true, transposeB: false, M: outFeatures, N: inFeatures, K: N,
                dy.baseAddress!, lda: outFeatures, x.baseAddress!, ldb: inFeatures, dw.baseAddress!, ldc: inFeatures)
        }
        if needInputGradient {
          weight.data.withUnsafeBufferPointer { w in
            gradInput.data.withUnsafeMutableBufferPointer { dx in
              sgemm(transposeA: false, transposeB: false, M: N, N: inFeatures, K: outFeatures,
                    dy.baseAddress!, lda: outFeatures, w.baseAddress!, ldb: inFeatures, dx.baseAddress!, ldc: inFeatures)
            }
          }
        }
      }
    }
  }
  return (needInputGradient ? gradInput : nil, gradWeight, gradBias)
}
