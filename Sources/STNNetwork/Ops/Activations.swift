// Element-wise activations (ReLU, LeakyReLU, sigmoid, tanh): forward, accumulating backward
// (the local derivative beside each forward), their graph node, and the `Activation` layer.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import STNTensor

// MARK: - ReLU

/// ReLU: y = max(x, 0), any shape, elements split across `threads` (same values for any count).
/// NaN propagates (as PyTorch's `clamp_min`).
public func reluForward(_ x: Tensor, threads: Int = 1) -> Tensor {
  elementwise(x, threads: threads) { $0 > 0 || $0.isNaN ? $0 : 0 }
}

/// ReLU backward: gradInput += dy where x > 0, else 0 (PyTorch's choice at the kink x = 0 is 0).
public func reluBackward(gradInput: inout Tensor, gradOutput: Tensor, input: Tensor, threads: Int = 1) {
  accumulateElementwise(into: &gradInput, gradOutput, input, op: "relu", threads: threads) { dy, x in x > 0 ? dy : 0 }
}

// MARK: - LeakyReLU

/// LeakyReLU: y = x for x > 0, slope·x otherwise, any shape.
public func leakyReLUForward(_ x: Tensor, slope: Float = 0.01) -> Tensor {
  elementwise(x) { $0 > 0 ? $0 : $0 * slope }
}

/// LeakyReLU backward: gradInput += dy for x > 0, slope·dy otherwise.
public func leakyReLUBackward(gradInput: inout Tensor, gradOutput: Tensor, input: Tensor, slope: Float = 0.01) {
  accumulateElementwise(into: &gradInput, gradOutput, input, op: "leaky_relu") { dy, x in x > 0 ? dy : dy * slope }
}

// MARK: - Sigmoid

/// Sigmoid: y = 1 / (1 + exp(-x)), any shape (saturates cleanly to 0 or 1 for large |x|).
public func sigmoidForward(_ x: Tensor) -> Tensor {
  elementwise(x) { 1 / (1 + expf(-$0)) }
}

/// Sigmoid backward from the forward's output y: gradInput += dy·y·(1 - y).
public func sigmoidBackward(gradInput: inout Tensor, gradOutput: Tensor, output: Tensor) {
  accumulateElementwise(into: &gradInput, gradOutput, output, op: "sigmoid") { dy, y in dy * (1 - y) * y }
}

// MARK: - Tanh

/// Tanh, any shape.
public func tanhForward(_ x: Tensor) -> Tensor {
  elementwise(x) { tanhf($0) }
}

/// Tanh backward from the forward's output y: gradInput += dy·(1 - y²).
public func tanhBackward(gradInput: inout Tensor, gradOutput: Tensor, output: Tensor) {
  accumulateElementwise(into: &gradInput, gradOutput, output, op: "tanh") { dy, y in dy * (1 - y * y) }
}

// MARK: - Graph

extension Graph {
  /// max(x, 0), any shape.
  public func relu(_ x: Variable) -> Variable {
    record(reluForward(values[x.id], threads: threads), op: "relu", requiresGradient: needsGradient(x.id)) { gradOutput, _, graph in
      graph.accumulateGradient(x.id) { reluBackward(gradInput: &$0, gradOutput: gradOutput, input: graph.values[x.id], threads: graph.threads) }
    }
  }

  /// x for x > 0, slope·x otherwise, any shape.
  public func leakyReLU(_ x: Variable, slope: Float = 0.01) -> Variable {
    record(leakyReLUForward(values[x.id], slope: slope), op: "leaky_relu", requiresGradient: needsGradient(x.id)) { gradOutput, _, graph in
      graph.accumulateGradient(x.id) { leakyReLUBackward(gradInput: &$0, gradOutput: gradOutput, input: graph.values[x.id], slope: slope) }
    }
  }

  /// 1 / (1 + e^-x), any shape; the derivative is read off the output.
  public func sigmoid(_ x: Variable) -> Variable {
    record(sigmoidForward(values[x.id]), op: "sigmoid", requiresGradient: needsGradient(x.id)) { gradOutput, output, graph in
      graph.accumulateGradient(x.id) { sigmoidBackward(gradInput: &$0, gradOutput: gradOutput, output: graph.values[output]) }
    }
  }

  /// tanh(x), any shape; the derivative is read off the output.
  public func tanh(_ x: Variable) -> Variable {
    record(tanhForward(values[x.id]), op: "tanh", requiresGradient: needsGradient(x.id)) { gradOutput, output, graph in
      graph.accumulateGradient(x.id) { tanhBackward(gradInput: &$0, gradOutput: gradOutput, output: graph.values[output]) }
    }
  }
}

// MARK: - Layer

/// Element-wise activation functions (`nn.ReLU`, `nn.LeakyReLU`, `nn.Sigmoid`, `nn.Tanh`).
public final class Activation: Layer {
  /// Which function.
  public enum Kind: Equatable, Sendable {
    case relu, leakyReLU(slope: Float), sigmoid, tanh
  }
  public let kind: Kind
  public let outputShape: [Int]

  public init(_ kind: Kind, inputShape: [Int]) {
    self.kind = kind
    outputShape = inputShape
  }

  public var parameterCount: Int { 0 }
  public var moduleDescription: String {
    switch kind {
    case .relu: return "ReLU()"
    case .leakyReLU(let slope): return "LeakyReLU(negative_slope=\(slope))"
    case .sigmoid: return "Sigmoid()"
    case .tanh: return "Tanh()"
    }
  }
  public func forward(_ x: Variable, in graph: Graph) -> Variable {
    switch kind {
    case .relu: return graph.relu(x)
    case .leakyReLU(let slope): return graph.leakyReLU(x, slope: slope)
    case .sigmoid: return graph.sigmoid(x)
    case .tanh: return graph.tanh(x)
    }
  }
}
