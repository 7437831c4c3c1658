import Foundation
import STNTensor

/// A network built from a `ModelSpec` for a per-sample input shape [C,H,W] and a class count.
///
/// ## Parameter names (PyTorch `state_dict` convention)
/// The model is the `nn.Sequential` of its layers, so a layer's tensors are named by its
/// position in the list, counting parameter-free layers too: `0.weight`, `0.bias`, `3.weight`, ...
/// Exceptions, so the ST-CNN matches the usual PyTorch module with `loc`/`cls` children:
/// - A `spatial_transformer` FIRST in the model turns the model into
///   `{loc: Sequential(localization), cls: Sequential(remaining layers)}`: its localization
///   layers are `loc.<j>.*` and the remaining layers are `cls.<i-1>.*` (renumbered from 0).
/// - A `spatial_transformer` anywhere else (position i) is a module whose localization is its
///   child `loc`: `<i>.loc.<j>.*`.
/// Batch norm adds the buffers `<name>.running_mean`, `.running_var`, `.num_batches_tracked`.
/// Tensors keep PyTorch layouts: conv (O,I,kH,kW), linear (out,in).
public final class Model {
  public let spec: ModelSpec
  /// Per-sample input shape [C,H,W].
  public let inputShape: [Int]
  public let classCount: Int
  /// The seed of the initialization and of the dropout masks.
  public let seed: UInt64
  /// Every trainable tensor, in one flat buffer.
  public let parameters: ParameterStore
  /// Top-level layers in order (a front spatial transformer is the first).
  public let layers: [Layer]
  /// Every spatial transformer, outermost first (taps `<name>.theta`, `<name>.output`).
  public let spatialTransformers: [SpatialTransformer]
  /// Every batch-norm layer (their running statistics go into checkpoints).
  public let batchNorms: [BatchNorm2D]
  /// Every dropout layer (their pass counters key the masks; checkpoints record them).
  public let dropouts: [Dropout]
  /// One row per module, for `summary()`.
  public let summaryRows: [SummaryRow]
  /// Training mode (dropout active, batch norm on batch statistics); `forward` passes it on.
  public var training = true

  /// One line of the model summary.
  public struct SummaryRow: Equatable, Sendable {
    /// State-dict path, e.g. `loc.0`, or `st` for a front transformer.
    public var name: String
    public var module: String
    /// Per-sample output shape.
    public var outputShape: [Int]
    public var parameterCount: Int
    /// Nesting depth (children of a transformer are 1 deeper).
    public var depth: Int
  }

  /// Builds and initializes (PyTorch defaults, drawn from `seed`). Throws `SettingError`
  /// naming the layer when the spec does not fit the input shape or class count.
  public init(spec: ModelSpec, inputShape: [Int], classCount: Int, seed: UInt64 = 0) throws {
    guard inputShape.count == 3, inputShape.allSatisfy({ $0 > 0 }) else {
      throw SettingError(setting: "model", reason: "input shape must be [C,H,W] with positive sizes, got \(inputShape)")
    }
    guard classCount > 0 else { throw SettingError(setting: "model", reason: "class count must be positive, got \(classCount)") }
    guard !spec.layers.isEmpty else { throw SettingError(setting: "model", reason: "the model has no layers") }
    var builder = Builder(store: ParameterStore(), classCount: classCount, seed: seed)
    let frontTransformer: Bool
    if case .spatialTransformer = spec.layers[0] { frontTransformer = true } else { frontTransformer = false }
    let built = try builder.build(
      spec.layers, inputShape: inputShape, names: { i in frontTransformer ? (i == 0 ? "st" : "cls.\(i - 1)") : "\(i)" },
      localizationPrefix: { i in frontTransformer && i == 0 ? "loc." : "\(i).loc." }, path: "", depth: 0, topLevel: true)
    let output = built.last?.outputShape ?? inputShape
    guard output == [classCount] else {
      throw SettingError(setting: "model", reason: "the model ends with shape \(output), but the data has \(classCount) classes: end with `flatten` (if needed) and `{linear: classes}`")
    }
    self.spec = spec
    self.inputShape = inputShape
    self.classCount = classCount
    self.seed = seed
    parameters = builder.store
    layers = built
    spatialTransformers = builder.transformers
    batchNorms = builder.batchNorms
    dropouts = builder.dropouts
    summaryRows = builder.rows
  }

  /// Logits (N,classCount) for input (N,C,H,W), recorded on `graph` (its `training` is set
  /// from `self.training`).
  public func forward(_ graph: Graph, _ input: Variable) -> Variable {
    precondition(Array(graph.shape(input).dropFirst()) == inputShape, "input \(graph.shape(input)) does not match model input \(inputShape)")
    graph.training = training
    return forwardLayers(layers, input, in: graph)
  }

  /// Convenience: records `input` as a constant leaf and runs `forward`.
  public func forward(_ graph: Graph, _ input: Tensor) -> Variable {
    forward(graph, graph.input(input))
  }

  /// Eval-mode logits (N,classCount) without keeping a graph around.
  public func predict(_ input: Tensor, threads: Int = 1) -> Tensor {
    let wasTraining = training
    training = false
    defer { training = wasTraining }
    let graph = Graph(parameters: parameters, training: false, threads: threads)
    return graph.value(forward(graph, input))
  }

  /// Eval-mode logits (N,classCount) plus every tap's value (e.g. `st.theta` (N,2,3) and
  /// `st.output` (N,C,H,W) of a front transformer), for inspection sheets and TensorBoard.
  public func inspect(_ input: Tensor, threads: Int = 1) -> (logits: Tensor, taps: [String: Tensor]) {
    let wasTraining = training
    training = false
    defer { training = wasTraining }
    let graph = Graph(parameters: parameters, training: false, threads: threads)
    let logits = graph.value(forward(graph, input))
    return (logits, graph.taps.mapValues { graph.value($0) })
  }

  /// Eval-mode theta (N,2,3) of the first spatial transformer for input (N,C,H,W), running only
  /// its localization network (what a `learned_transform` pipeline stage needs); nil when the model
  /// has no transformer or the first one is not at the front (its input is then a feature map).
  public func frontTransformerTheta(_ input: Tensor, threads: Int = 1) -> Tensor? {
    guard let transformer = layers.first as? SpatialTransformer else { return nil }
    precondition(Array(input.shape.dropFirst()) == inputShape, "input \(input.shape) does not match model input \(inputShape)")
    let graph = Graph(parameters: parameters, training: false, threads: threads)
    return graph.value(transformer.theta(graph.input(input), in: graph))
  }

  /// Total trainable scalars.
  public var parameterCount: Int { parameters.totalCount }

  /// A PyTorch-like listing: each module, its per-sample output shape and parameter count, totals.
  public func summary() -> String {
    var lines: [(String, String, String, String)] = [("Layer", "Module", "Output shape", "Params")]
    lines.append(("input", "", "\(inputShape)", ""))
    for row in summaryRows {
      lines.append((String(repeating: "  ", count: row.depth) + row.name, row.module, "\(row.outputShape)", formatCount(row.parameterCount)))
    }
    let widths = [0, 1, 2].map { column in
      lines.map { line -> Int in [line.0, line.1, line.2][column].count }.max() ?? 0
    }
    var text = ""
    for line in lines {
      let params = String(repeating: " ", count: max(0, 10 - line.3.count)) + line.3
      text += line.0.padding(toLength: widths[0] + 2, withPad: " ", startingAt: 0)
        + line.1.padding(toLength: widths[1] + 2, withPad: " ", startingAt: 0)
        + line.2.padding(toLength: widths[2], withPad: " ", startingAt: 0) + params + "\n"
    }
    let buffers = batchNorms.reduce(0) { $0 + 2 * $1.channels }
    text += "Total params: \(formatCount(parameterCount))\n"
    text += "Trainable params: \(formatCount(parameterCount))\n"
    if buffers > 0 { text += "Non-trainable buffers: \(formatCount(buffers)) (batch-norm running statistics)\n" }
    text += "Parameter memory: \(String(format: "%.2f", Double(parameterCount * 4) / 1_048_576)) MB\n"
    return text
  }
}

/// The predicted class of each row of logits (N,K): the index of the row's maximum (first on ties).
public func argmaxRows(_ logits: Tensor) -> [Int] {
  precondition(logits.rank == 2, "logits must be (N,K), got \(logits.shape)")
  let (n, k) = (logits.shape[0], logits.shape[1])
  return (0..<n).map { row in
    var best = 0
    for j in 1..<max(k, 1) where logits.data[row * k + j] > logits.data[row * k + best] { best = j }
    return best
  }
}

/// 123456 -> "123,456".
func formatCount(_ n: Int) -> String {
  let digits = String(n)
  var out = ""
  for (i, ch) in digits.enumerated() {
    if i > 0 && (digits.count - i) % 3 == 0 { out += "," }
    out.append(ch)
  }
  return out
}

// MARK: - Building and validation

/// Walks a layer list, checking each layer against the shape flowing into it, and creates it.
private struct Builder {
  let store: ParameterStore
  let classCount: Int
  var random: RandomStream
  let seed: UInt64
  var dropouts: [Dropout] = []
  var rows: [Model.SummaryRow] = []
  var transformers: [SpatialTransformer] = []
  var batchNorms: [BatchNorm2D] = []

  init(store: ParameterStore, classCount: Int, seed: UInt64) {
    self.store = store
    self.classCount = classCount
    self.seed = seed
    random = RandomStream(seed: seed, salt: 0x1417_A11E)
  }

  /// `thetaCount`: the parameter count of the spatial transformer whose localization network
  /// `specs` is (what `{linear: theta}` means there); nil elsewhere.
  mutating func build(
    _ specs: [LayerSpec], inputShape: [Int], names: (Int) -> String, localizationPrefix: (Int) -> String, path: String,
    depth: Int, topLevel: Bool, thetaCount: Int? = nil
  ) throws -> [Layer] {
    var shape = inputShape
    var layers: [Layer] = []
    for (i, spec) in specs.enumerated() {
      let here = (path.isEmpty ? "" : path + " > ") + (topLevel ? "layer \(i)" : "localization layer \(i)") + " (\(spec.kindName))"
      func fail(_ reason: String) -> SettingError { SettingError(setting: "model " + here, reason: reason) }
      func needImage() throws {
        guard shape.count == 3 else {
          throw fail("needs an image-shaped input [C,H,W] but gets \(shape) (is it after `flatten`?)")
        }
      }
      let name = names(i)
      let prefix = name + "."
      let layer: Layer
      switch spec {
      case .conv2d(let c):
        try needImage()
        guard c.out > 0 else { throw fail("out must be positive, got \(c.out)") }
        guard c.kernel > 0, c.stride > 0, c.dilation > 0, c.padding >= 0 else {
          throw fail("kernel, stride and dilation must be positive and padding >= 0 (kernel \(c.kernel), stride \(c.stride), dilation \(c.dilation), padding \(c.padding))")
        }
        let span = c.dilation * (c.kernel - 1) + 1
        guard shape[1] + 2 * c.padding >= span, shape[2] + 2 * c.padding >= span else {
          throw fail("kernel \(c.kernel) (dilation \(c.dilation), padding \(c.padding)) does not fit the \(shape[1])x\(shape[2]) input")
        }
        layer = Conv2D(store: store, name: prefix, inputShape: shape, outChannels: c.out, kernel: c.kernel, stride: c.stride,
          padding: c.padding, dilation: c.dilation, bias: c.bias, random: &random)
      case .maxPool2d(let p), .avgPool2d(let p):
        try needImage()
        guard p.kernel > 0, (p.stride ?? 1) > 0, p.padding >= 0 else { throw fail("kernel and stride must be positive, padding >= 0") }
        guard p.padding * 2 <= p.kernel else { throw fail("padding \(p.padding) must be at most half the kernel \(p.kernel) (PyTorch's rule)") }
        guard shape[1] + 2 * p.padding >= p.kernel, shape[2] + 2 * p.padding >= p.kernel else {
          throw fail("kernel \(p.kernel) does not fit the \(shape[1])x\(shape[2]) input")
        }
        if case .maxPool2d = spec {
          layer = MaxPool2D(inputShape: shape, kernel: p.kernel, stride: p.stride, padding: p.padding, ceilMode: p.ceilMode)
        } else {
          layer = AvgPool2D(inputShape: shape, kernel: p.kernel, stride: p.stride, padding: p.padding, ceilMode: p.ceilMode, countIncludePad: p.countIncludePad)
        }
      case .relu: layer = Activation(.relu, inputShape: shape)
      case .leakyReLU(let slope):
        guard slope.isFinite else { throw fail("negative_slope must be finite") }
        layer = Activation(.leakyReLU(slope: slope), inputShape: shape)
      case .sigmoid: layer = Activation(.sigmoid, inputShape: shape)
      case .tanh: layer = Activation(.tanh, inputShape: shape)
      case .flatten: layer = Flatten(inputShape: shape)
      case .linear(let l):
        guard shape.count == 1 else { throw fail("needs a flat input but gets \(shape): add `flatten` before it") }
        let isLast = i == specs.count - 1
        let out: Int
        switch (l.out, l.sizedBy) {
        case (let size?, _): out = size
        case (nil, .classes):
          guard topLevel && isLast else { throw fail("`classes` is only allowed for the model's last layer") }
          out = classCount
        case (nil, .theta):
          guard let thetaCount, isLast else { throw fail("`theta` is only allowed for the last layer of a spatial transformer's localization network") }
          out = thetaCount
        }
        guard out > 0 else { throw fail("out must be positive, got \(out)") }
        layer = Linear(store: store, name: prefix, inFeatures: shape[0], outFeatures: out, bias: l.bias, random: &random)
      case .dropout(let p):
        guard p >= 0, p < 1 else { throw fail("probability must be in [0, 1), got \(p)") }
        let dropout = Dropout(inputShape: shape, probability: p, seed: seed &+ UInt64(dropouts.count) &* 0x9E37_79B9)
        dropouts.append(dropout)
        layer = dropout
      case .batchNorm2d(let b):
        try needImage()
        guard b.eps > 0, b.momentum >= 0, b.momentum <= 1 else { throw fail("eps must be positive and momentum in [0, 1]") }
        let norm = BatchNorm2D(store: store, name: prefix, inputShape: shape, momentum: b.momentum, epsilon: b.eps)
        batchNorms.append(norm)
        layer = norm
      case .spatialTransformer(let st):
        try needImage()
        guard topLevel else { throw fail("a spatial transformer inside a localization network is not supported") }
        guard !st.localization.isEmpty else { throw fail("the localization network is empty") }
        let transform = st.spatialTransform
        let range = SpatialTransformerSpec.controlGridRange
        if st.transform == .tps, !range.contains(st.controlGrid) {
          throw fail("control_grid must be \(range.lowerBound)...\(range.upperBound) (a g x g grid of control points), got \(st.controlGrid)")
        }
        let k = transform.parameterCount
        let family = st.transform == .affine ? "constraint \(st.constraint.rawValue)" : "transform \(st.transform.rawValue)"
        guard case .linear(let last) = st.localization[st.localization.count - 1], last.out ?? (last.sizedBy == .theta ? k : nil) == k, last.bias else {
          throw fail("the localization network must end in `{linear: theta}` or `{linear: \(k)}` (with bias) for \(family)")
        }
        let rowIndex = rows.count
        rows.append(Model.SummaryRow(name: name, module: "", outputShape: shape, parameterCount: 0, depth: depth))
        let locPrefix = localizationPrefix(i)
        let children = try build(
          st.localization, inputShape: shape, names: { j in locPrefix + "\(j)" }, localizationPrefix: { _ in "" },
          path: here, depth: depth + 1, topLevel: false, thetaCount: k)
        let localization = Sequential(children, inputShape: shape)
        let transformer = SpatialTransformer(localization: localization, transform: transform, name: name, store: store)
        transformers.append(transformer)
        rows[rowIndex].module = transformer.moduleDescription
        rows[rowIndex].parameterCount = transformer.parameterCount
        layers.append(transformer)
        continue
      }
      rows.append(Model.SummaryRow(name: name, module: layer.moduleDescription, outputShape: layer.outputShape, parameterCount: layer.parameterCount, depth: depth))
      guard layer.outputShape.allSatisfy({ $0 > 0 }) else { throw fail("output shape \(layer.outputShape) is empty") }
      layers.append(layer)
      shape = layer.outputShape
    }
    return layers
  }
}
