// Reshape and flatten (no arithmetic: the gradient is the output's, reshaped back), and the
// `Flatten` layer.
import STNTensor

// MARK: - Graph

extension Graph {
  /// Same elements, new shape (no copy: the storage is shared copy-on-write).
  public func reshape(_ x: Variable, _ shape: [Int]) -> Variable {
    record(values[x.id].reshaped(shape), op: "reshape", requiresGradient: needsGradient(x.id)) { gradOutput, _, graph in
      graph.accumulateGradient(x.id, adding: gradOutput)
    }
  }

  /// (N, ...) -> (N, product of the rest), like `nn.Flatten()`.
  public func flatten(_ x: Variable) -> Variable {
    let shape = values[x.id].shape
    return reshape(x, [shape[0], shape.dropFirst().reduce(1, *)])
  }
}

// MARK: - Layer

/// `nn.Flatten()`: (N, ...) -> (N, product).
public final class Flatten: Layer {
  public let outputShape: [Int]
  public init(inputShape: [Int]) { outputShape = [inputShape.reduce(1, *)] }
  public var parameterCount: Int { 0 }
  public var moduleDescription: String { "Flatten(start_dim=1, end_dim=-1)" }
  public func forward(_ x: Variable, in graph: Graph) -> Variable { graph.flatten(x) }
}
