// Element-wise activations (ReLU, LeakyReLU, sigmoid, tanh), forward and backward.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import STNTensor

// MARK: - Helpers

/// y[i] = f(x[i]) over any shape.
@inline(__always)
func elementwise(_ x: Tensor, _ f: (Float) -> Float) -> Tensor {
  var y = Tensor(shape: x.shape)
  x.data.withUnsafeBufferPointer { source in
    y.data.withUnsafeMutableBufferPointer { destination in
      for i in 0..<source.count { destination[i] = f(source[i]) }
    }
  }
  return y
}

/// z[i] = f(a[i], b[i]) for two tensors of one shape.
@inline(__always)
func elementwise(_ a: Tensor, _ b: Tensor, op: String, _ f: (Float, Float) -> Float) -> Tensor {
  precondition(a.shape == b.shape, "\(op): gradient shape \(a.shape) does not match \(b.shape)")
  var z = Tensor(shape: a.shape)
  a.data.withUnsafeBufferPointer { first in
    b.data.withUnsafeBufferPointer { second in
      z.data.withUnsafeMutableBufferPointer { destination in
        for i in 0..<first.count { destination[i] = f(first[i], second[i]) }
      }
    }
  }
  return z
}

// MARK: - ReLU

/// ReLU: y = max(x, 0), any shape. NaN propagates (as PyTorch's `clamp_min`).
public func reluForward(_ x: Tensor) -> Tensor {
  elementwise(x) { $0 > 0 || $0.isNaN ? $0 : 0 }
}

/// ReLU backward: dx = dy where x > 0, else 0 (PyTorch's choice at the kink x = 0 is 0).
public func reluBackward(gradOutput: Tensor, input: Tensor) -> Tensor {
  elementwise(gradOutput, input, op: "relu") { dy, x in x > 0 ? dy : 0 }
}

// MARK: - LeakyReLU

/// LeakyReLU: y = x for x > 0, slope·x otherwise, any shape.
public func leakyReLUForward(_ x: Tensor, slope: Float = 0.01) -> Tensor {
  elementwise(x) { $0 > 0 ? $0 : $0 * slope }
}

/// LeakyReLU backward: dx = dy for x > 0, slope·dy otherwise.
public func leakyReLUBackward(gradOutput: Tensor, input: Tensor, slope: Float = 0.01) -> Tensor {
  elementwise(gradOutput, input, op: "leaky_relu") { dy, x in x > 0 ? dy : dy * slope }
}

// MARK: - Sigmoid

/// Sigmoid: y = 1 / (1 + exp(-x)), any shape (saturates cleanly to 0 or 1 for large |x|).
public func sigmoidForward(_ x: Tensor) -> Tensor {
  elementwise(x) { 1 / (1 + expf(-$0)) }
}

/// Sigmoid backward from the forward's output y: dx = dy·y·(1 - y).
public func sigmoidBackward(gradOutput: Tensor, output: Tensor) -> Tensor {
  elementwise(gradOutput, output, op: "sigmoid") { dy, y in dy * (1 - y) * y }
}

// MARK: - Tanh

/// Tanh, any shape.
public func tanhForward(_ x: Tensor) -> Tensor {
  elementwise(x) { tanhf($0) }
}

/// Tanh backward from the forward's output y: dx = dy·(1 - y²).
public func tanhBackward(gradOutput: Tensor, output: Tensor) -> Tensor {
  elementwise(gradOutput, output, op: "tanh") { dy, y in dy * (1 - y * y) }
}
