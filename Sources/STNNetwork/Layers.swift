import STNTensor

/// A network layer: configuration (`let`s), parameter handles into a `ParameterStore`, and a
/// forward pass that records its ops on a `Graph`.
///
/// Shapes passed around at build time are per sample, without the batch: [C,H,W] or [F].
public protocol Layer: AnyObject {
  /// PyTorch-style module text, e.g. `Conv2d(1, 32, kernel_size=(5, 5), stride=(1, 1))`.
  var moduleDescription: String { get }
  /// Per-sample output shape.
  var outputShape: [Int] { get }
  /// Number of trainable scalars in this layer (children included).
  var parameterCount: Int { get }
  /// Records the layer on `graph`. x (N, inputShape...) -> (N, outputShape...).
  func forward(_ x: Variable, in graph: Graph) -> Variable
}

extension Layer {
  /// `layer(x, in: graph)`: the same as `forward(x, in: graph)`.
  public func callAsFunction(_ x: Variable, in graph: Graph) -> Variable { forward(x, in: graph) }
}

/// Uniform values in [-bound, bound) drawn from `random` (PyTorch's default init draws).
func uniformValues(_ count: Int, bound: Float, _ random: inout RandomStream) -> [Float] {
  (0..<count).map { _ in Float(random.uniform(-Double(bound), Double(bound))) }
}

// MARK: - Sequential

/// Layers applied in order, PyTorch `nn.Sequential`; children are named by position.
public final class Sequential: Layer {
  public let layers: [Layer]
  public let inputShape: [Int]

  public init(_ layers: [Layer], inputShape: [Int]) {
    self.layers = layers
    self.inputShape = inputShape
  }

  public var outputShape: [Int] { layers.last?.outputShape ?? inputShape }
  public var parameterCount: Int { layers.reduce(0) { $0 + $1.parameterCount } }
  public var moduleDescription: String { "Sequential" }
  public func forward(_ x: Variable, in graph: Graph) -> Variable {
    forwardLayers(layers, x, in: graph)
  }
}

/// Runs `layers` in order on `graph`; a MaxPool2D directly followed by a ReLU runs as the
/// fused `Graph.maxPool2dReLU` node (same values and gradients, one pass fewer each way),
/// except when the graph records every layer's output (`Graph.layerOutputs`).
func forwardLayers(_ layers: [Layer], _ x: Variable, in graph: Graph) -> Variable {
  var y = x
  var i = 0
  while i < layers.count {
    if graph.layerOutputs == nil, let pool = layers[i] as? MaxPool2D, i + 1 < layers.count, let activation = layers[i + 1] as? Activation,
       activation.kind == .relu {
      y = graph.maxPool2dReLU(y, kernel: pool.kernel, stride: pool.stride, padding: pool.padding, ceilMode: pool.ceilMode)
      i += 2
      continue
    }
    y = layers[i].forward(y, in: graph)
    graph.layerOutputs?[ObjectIdentifier(layers[i])] = y
    i += 1
  }
  return y
}
