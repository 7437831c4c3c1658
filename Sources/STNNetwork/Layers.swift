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

// MARK: - Conv2D

/// 2-D convolution, PyTorch `nn.Conv2d` (square kernel, stride, padding, dilation).
public final class Conv2D: Layer {
  public let inChannels: Int, outChannels: Int, kernel: Int, stride: Int, padding: Int, dilation: Int
  /// (O,I,kH,kW)
  public let weight: Parameter
  /// (O,)
  public let bias: Parameter?
  public let outputShape: [Int]

  /// PyTorch default init: Kaiming-uniform with a = sqrt(5), i.e. weight and bias uniform in
  /// ±1/sqrt(fan_in), fan_in = I·kH·kW. `inputShape` is [C,H,W] with C == inChannels.
  public init(
    store: ParameterStore, name: String, inputShape: [Int], outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
    dilation: Int = 1, bias: Bool = true, random: inout RandomStream
  ) {
    precondition(inputShape.count == 3 && kernel > 0 && stride > 0 && padding >= 0 && dilation > 0 && outChannels > 0)
    inChannels = inputShape[0]
    self.outChannels = outChannels
    self.kernel = kernel
    self.stride = stride
    self.padding = padding
    self.dilation = dilation
    let fanIn = inChannels * kernel * kernel
    let bound = 1 / Float(fanIn).squareRoot()
    let shape = [outChannels, inChannels, kernel, kernel]
    weight = store.add(name: name + "weight", shape: shape, initial: uniformValues(shape.reduce(1, *), bound: bound, &random))
    self.bias = bias ? store.add(name: name + "bias", shape: [outChannels], initial: uniformValues(outChannels, bound: bound, &random)) : nil
    outputShape = [outChannels,
      conv2dOutputSize(inputShape[1], kernel: kernel, stride: stride, padding: padding, dilation: dilation),
      conv2dOutputSize(inputShape[2], kernel: kernel, stride: stride, padding: padding, dilation: dilation)]
  }

  public var parameterCount: Int { weight.count + (bias?.count ?? 0) }

  public var moduleDescription: String {
    var text = "Conv2d(\(inChannels), \(outChannels), kernel_size=(\(kernel), \(kernel)), stride=(\(stride), \(stride))"
    if padding != 0 { text += ", padding=(\(padding), \(padding))" }
    if dilation != 1 { text += ", dilation=(\(dilation), \(dilation))" }
    if bias == nil { text += ", bias=False" }
    return text + ")"
  }

  public func forward(_ x: Variable, in graph: Graph) -> Variable {
    graph.conv2d(x, weight: graph.parameter(weight), bias: bias.map { graph.parameter($0) }, stride: stride, padding: padding, dilation: dilation)
  }
}

// MARK: - Pooling

/// Max pooling, PyTorch `nn.MaxPool2d` (stride defaults to the kernel).
public final class MaxPool2D: Layer {
  public let kernel: Int, stride: Int, padding: Int, ceilMode: Bool
  public let outputShape: [Int]

  public init(inputShape: [Int], kernel: Int, stride: Int? = nil, padding: Int = 0, ceilMode: Bool = false) {
    precondition(inputShape.count == 3 && kernel > 0 && (stride ?? 1) > 0 && padding >= 0 && padding * 2 <= kernel)
    self.kernel = kernel
    self.stride = stride ?? kernel
    self.padding = padding
    self.ceilMode = ceilMode
    outputShape = [inputShape[0],
      pool2dOutputSize(inputShape[1], kernel: kernel, stride: self.stride, padding: padding, ceilMode: ceilMode),
      pool2dOutputSize(inputShape[2], kernel: kernel, stride: self.stride, padding: padding, ceilMode: ceilMode)]
  }

  public var parameterCount: Int { 0 }
  public var moduleDescription: String {
    "MaxPool2d(kernel_size=\(kernel), stride=\(stride), padding=\(padding), dilation=1, ceil_mode=\(ceilMode ? "True" : "False"))"
  }
  public func forward(_ x: Variable, in graph: Graph) -> Variable {
    graph.maxPool2d(x, kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode)
  }
}

/// Average pooling, PyTorch `nn.AvgPool2d` (stride defaults to the kernel).
public final class AvgPool2D: Layer {
  public let kernel: Int, stride: Int, padding: Int, ceilMode: Bool, countIncludePad: Bool
  public let outputShape: [Int]

  public init(inputShape: [Int], kernel: Int, stride: Int? = nil, padding: Int = 0, ceilMode: Bool = false, countIncludePad: Bool = true) {
    precondition(inputShape.count == 3 && kernel > 0 && (stride ?? 1) > 0 && padding >= 0 && padding * 2 <= kernel)
    self.kernel = kernel
    self.stride = stride ?? kernel
    self.padding = padding
    self.ceilMode = ceilMode
    self.countIncludePad = countIncludePad
    outputShape = [inputShape[0],
      pool2dOutputSize(inputShape[1], kernel: kernel, stride: self.stride, padding: padding, ceilMode: ceilMode),
      pool2dOutputSize(inputShape[2], kernel: kernel, stride: self.stride, padding: padding, ceilMode: ceilMode)]
  }

  public var parameterCount: Int { 0 }
  public var moduleDescription: String { "AvgPool2d(kernel_size=\(kernel), stride=\(stride), padding=\(padding))" }
  public func forward(_ x: Variable, in graph: Graph) -> Variable {
    graph.avgPool2d(x, kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode, countIncludePad: countIncludePad)
  }
}

// MARK: - Activations, flatten

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

/// `nn.Flatten()`: (N, ...) -> (N, product).
public final class Flatten: Layer {
  public let outputShape: [Int]
  public init(inputShape: [Int]) { outputShape = [inputShape.reduce(1, *)] }
  public var parameterCount: Int { 0 }
  public var moduleDescription: String { "Flatten(start_dim=1, end_dim=-1)" }
  public func forward(_ x: Variable, in graph: Graph) -> Variable { graph.flatten(x) }
}

// MARK: - Linear

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

// MARK: - Dropout

/// Inverted dropout, PyTorch `nn.Dropout`; identity in eval mode.
///
/// The mask of the k-th training pass comes from the stream keyed (seed, k), so a run resumed
/// from a checkpoint (which records `calls`) draws exactly the masks the uninterrupted run would.
public final class Dropout: Layer {
  public let probability: Float
  public let outputShape: [Int]
  public let seed: UInt64
  /// Training forward passes so far.
  public var calls: UInt64 = 0

  public init(inputShape: [Int], probability: Float, seed: UInt64) {
    precondition(probability >= 0 && probability < 1)
    self.probability = probability
    self.seed = seed
    outputShape = inputShape
  }

  public var parameterCount: Int { 0 }
  public var moduleDescription: String { "Dropout(p=\(probability), inplace=False)" }
  public func forward(_ x: Variable, in graph: Graph) -> Variable {
    guard graph.training else { return x }
    var random = RandomStream(seed: seed, index: calls, salt: 0xD809_0117)
    calls += 1
    return graph.dropout(x, probability: probability, random: &random)
  }
}

// MARK: - BatchNorm2D

/// Batch normalization over channels, PyTorch `nn.BatchNorm2d` (affine, tracked running stats).
public final class BatchNorm2D: Layer {
  public let channels: Int, momentum: Float, epsilon: Float
  /// gamma (C,), named `weight` like PyTorch.
  public let weight: Parameter
  /// beta (C,), named `bias`.
  public let bias: Parameter
  /// (C,), starts at 0.
  public var runningMean: Tensor
  /// (C,), starts at 1; updated with the unbiased batch variance, as PyTorch does.
  public var runningVar: Tensor
  /// Training forward passes seen (PyTorch's `num_batches_tracked`).
  public var numBatchesTracked: Int64 = 0
  /// State-dict prefix, e.g. `cls.1.`.
  public let name: String
  public let outputShape: [Int]

  public init(store: ParameterStore, name: String, inputShape: [Int], momentum: Float = 0.1, epsilon: Float = 1e-5) {
    precondition(inputShape.count == 3 && momentum >= 0 && momentum <= 1 && epsilon > 0)
    channels = inputShape[0]
    self.momentum = momentum
    self.epsilon = epsilon
    self.name = name
    weight = store.add(name: name + "weight", shape: [channels], initial: [Float](repeating: 1, count: channels))
    bias = store.add(name: name + "bias", shape: [channels], initial: [Float](repeating: 0, count: channels))
    runningMean = Tensor(shape: [channels], repeating: 0)
    runningVar = Tensor(shape: [channels], repeating: 1)
    outputShape = inputShape
  }

  public var parameterCount: Int { 2 * channels }
  public var moduleDescription: String {
    "BatchNorm2d(\(channels), eps=\(epsilon), momentum=\(momentum), affine=True, track_running_stats=True)"
  }
  public func forward(_ x: Variable, in graph: Graph) -> Variable {
    if graph.training { numBatchesTracked += 1 }
    return graph.batchNorm2d(
      x, gamma: graph.parameter(weight), beta: graph.parameter(bias), runningMean: &runningMean, runningVar: &runningVar,
      momentum: momentum, epsilon: epsilon)
  }
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
    var y = x
    for layer in layers { y = layer.forward(y, in: graph) }
    return y
  }
}
