import Foundation

/// A model declared as data: a list of layers applied in order, like `nn.Sequential`.
///
/// In YAML (and in a checkpoint's `architecture` metadata, as JSON) each layer is either a bare
/// name or a one-key map from the name to its settings:
/// ```yaml
/// model:
///   - spatial_transformer:
///       transform: affine           # affine (default) | projective | tps
///       constraint: affine          # affine only: affine | rts | translation | scale_translation
///       localization: [{conv2d: {out: 8, kernel: 7}}, {max_pool2d: 2}, relu, flatten, {linear: 32}, relu, {linear: theta}]
///   - {conv2d: {out: 32, kernel: 5, padding: 2}}
///   - {max_pool2d: 2}
///   - relu
///   - flatten
///   - {linear: 64}
///   - {dropout: 0.5}
///   - {linear: classes}             # `classes`: the dataset's class count
/// ```
/// Input channels and features are inferred from the input shape; `Model.init` validates the
/// list and reports the layer index and the reason for anything wrong (a `SettingError` naming `model layer I (kind)`).
///
/// | layer | settings (defaults) | PyTorch module |
/// |-------|---------------------|----------------|
/// | `conv2d` | `out`, `kernel`, `stride` (1), `padding` (0), `dilation` (1), `bias` (true) | `nn.Conv2d` |
/// | `max_pool2d` | a number (the kernel) or `kernel`, `stride` (= kernel), `padding` (0), `ceil_mode` (false) | `nn.MaxPool2d` |
/// | `avg_pool2d` | as max_pool2d, plus `count_include_pad` (true) | `nn.AvgPool2d` |
/// | `relu`, `sigmoid`, `tanh`, `flatten` | none | `nn.ReLU`, `nn.Sigmoid`, `nn.Tanh`, `nn.Flatten` |
/// | `leaky_relu` | a number or `negative_slope` (0.01) | `nn.LeakyReLU` |
/// | `linear` | a number, `classes`, `theta`, or `out`, `bias` (true) | `nn.Linear` |
/// | `dropout` | a number or `p` (0.5) | `nn.Dropout` |
/// | `batch_norm2d` | `eps` (1e-5), `momentum` (0.1) | `nn.BatchNorm2d` |
/// | `spatial_transformer` | `localization` (a layer list ending in `{linear: theta}` or `{linear: k}`), `transform` (affine), `constraint` (affine; affine transform only), `control_grid` (4; tps only) | see `SpatialTransformer` |
///
/// The transform sets k, the size of the localization's last layer (`{linear: theta}` is sized
/// to it, as `{linear: classes}` is to the class count): affine 6, or with `constraint` rts 4
/// (angle, log-scale, tx, ty), translation 2, scale_translation 3 (log-scale, tx, ty);
/// projective 8 (h11 h12 h13 h21 h22 h23 h31 h32, h33 = 1); tps 2·g² for a g x g `control_grid`
/// (2...8; 4 gives the paper's 16 points): the (dx, dy) displacements of the control points (see
/// `SpatialTransform`). State-dict names follow `Model`'s naming rule.
public struct ModelSpec: Codable, Equatable, Sendable {
  public var layers: [LayerSpec]

  public init(_ layers: [LayerSpec]) { self.layers = layers }

  /// Decodes either a bare list of layers or `{layers: [...]}`.
  public init(from decoder: Decoder) throws {
    if (try? decoder.unkeyedContainer()) != nil {
      layers = try decoder.singleValueContainer().decode([LayerSpec].self)
      return
    }
    let container = try decoder.container(keyedBy: SpecKey.self)
    try rejectUnknownKeys(container, allowed: ["layers"], in: "model")
    layers = try container.decode([LayerSpec].self, forKey: SpecKey("layers"))
  }

  /// Encodes as the bare list.
  public func encode(to encoder: Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(layers)
  }

  /// Compact JSON (the form stored in checkpoint metadata).
  public func jsonString() -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    guard let data = try? encoder.encode(self), let text = String(data: data, encoding: .utf8) else { return "[]" }
    return text
  }

  /// Parses the JSON form; `source` names where it came from in errors.
  public static func fromJSON(_ text: String, source: String) throws -> ModelSpec {
    do {
      return try JSONDecoder().decode(ModelSpec.self, from: Data(text.utf8))
    } catch let error as DecodingError {
      throw SettingError(setting: "model", reason: "\(source): \(describe(error))")
    }
  }

  // MARK: - The benchmark models (../shared/bench/MODEL.md)

  /// The classifier of MODEL.md on 1x42x42 (the plain CNN; ends in `{linear: classes}`).
  public static let benchmarkCNN = ModelSpec(classifierLayers)

  /// The ST-CNN of MODEL.md: a spatial transformer (affine) in front of `benchmarkCNN`.
  public static let benchmarkSTCNN = ModelSpec(
    [.spatialTransformer(SpatialTransformerSpec(localization: localizationLayers, constraint: .affine))] + classifierLayers)

  static let classifierLayers: [LayerSpec] = [
    .conv2d(Conv2DSpec(out: 32, kernel: 5, padding: 2)), .maxPool2d(PoolSpec(kernel: 2)), .relu,
    .conv2d(Conv2DSpec(out: 32, kernel: 5, padding: 2)), .maxPool2d(PoolSpec(kernel: 2)), .relu,
    .conv2d(Conv2DSpec(out: 64, kernel: 5, padding: 2)), .maxPool2d(PoolSpec(kernel: 2)), .relu,
    .flatten, .linear(LinearSpec(out: 64)), .relu, .linear(LinearSpec(out: nil)),
  ]

  static let localizationLayers: [LayerSpec] = [
    .conv2d(Conv2DSpec(out: 8, kernel: 7)), .maxPool2d(PoolSpec(kernel: 2)), .relu,
    .conv2d(Conv2DSpec(out: 10, kernel: 5)), .maxPool2d(PoolSpec(kernel: 2)), .relu,
    .flatten, .linear(LinearSpec(out: 32)), .relu, .linear(LinearSpec(out: 6)),
  ]
}

// MARK: - Layers

/// One layer of a `ModelSpec`.
public enum LayerSpec: Codable, Equatable, Sendable {
  case conv2d(Conv2DSpec)
  case maxPool2d(PoolSpec)
  case avgPool2d(PoolSpec)
  case relu
  case leakyReLU(slope: Float)
  case sigmoid
  case tanh
  case flatten
  case linear(LinearSpec)
  case dropout(probability: Float)
  case batchNorm2d(BatchNormSpec)
  case spatialTransformer(SpatialTransformerSpec)

  /// The YAML name of the layer kind.
  public var kindName: String {
    switch self {
    case .conv2d: return "conv2d"
    case .maxPool2d: return "max_pool2d"
    case .avgPool2d: return "avg_pool2d"
    case .relu: return "relu"
    case .leakyReLU: return "leaky_relu"
    case .sigmoid: return "sigmoid"
    case .tanh: return "tanh"
    case .flatten: return "flatten"
    case .linear: return "linear"
    case .dropout: return "dropout"
    case .batchNorm2d: return "batch_norm2d"
    case .spatialTransformer: return "spatial_transformer"
    }
  }

  static let kindNames = [
    "conv2d", "max_pool2d", "avg_pool2d", "relu", "leaky_relu", "sigmoid", "tanh", "flatten", "linear", "dropout",
    "batch_norm2d", "spatial_transformer",
  ]

  public init(from decoder: Decoder) throws {
    // A bare name: `relu`, `flatten`, ... (layers whose settings all have defaults).
    if let name = try? decoder.singleValueContainer().decode(String.self) {
      switch name {
      case "relu": self = .relu
      case "sigmoid": self = .sigmoid
      case "tanh": self = .tanh
      case "flatten": self = .flatten
      case "leaky_relu": self = .leakyReLU(slope: 0.01)
      case "dropout": self = .dropout(probability: 0.5)
      case "batch_norm2d": self = .batchNorm2d(BatchNormSpec())
      default:
        let reason = LayerSpec.kindNames.contains(name)
          ? "layer \(name) needs settings, e.g. {\(name): ...}"
          : "unknown layer \(name) (known: \(LayerSpec.kindNames.joined(separator: ", ")))"
        throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: reason))
      }
      return
    }
    let container = try decoder.container(keyedBy: SpecKey.self)
    guard container.allKeys.count == 1, let key = container.allKeys.first else {
      throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
        debugDescription: "a layer is a name or a map with exactly one key (the layer kind), got keys \(container.allKeys.map(\.stringValue).sorted())"))
    }
    func isEmpty() -> Bool {
      (try? container.decodeNil(forKey: key)) == true
        || ((try? container.nestedContainer(keyedBy: SpecKey.self, forKey: key))?.allKeys.isEmpty ?? false)
    }
    // The one number of `dropout` (p) and `leaky_relu` (negative_slope): `{kind: }`, `{kind: 0.2}`
    // or `{kind: {name: 0.2}}`; the default when absent.
    func number(named name: String, default fallback: Float) throws -> Float {
      if isEmpty() { return fallback }
      if let value = try? container.decode(Float.self, forKey: key) { return value }
      let nested = try container.nestedContainer(keyedBy: SpecKey.self, forKey: key)
      try rejectUnknownKeys(nested, allowed: [name], in: key.stringValue)
      return try nested.decodeIfPresent(Float.self, forKey: SpecKey(name)) ?? fallback
    }
    switch key.stringValue {
    case "relu", "sigmoid", "tanh", "flatten":
      guard isEmpty() else {
        throw DecodingError.dataCorruptedError(forKey: key, in: container, debugDescription: "\(key.stringValue) takes no settings")
      }
      self = try LayerSpec(from: NameDecoder(name: key.stringValue, codingPath: decoder.codingPath))
    case "conv2d": self = .conv2d(try container.decode(Conv2DSpec.self, forKey: key))
    case "max_pool2d": self = .maxPool2d(try LayerSpec.decodePool(container, key, avg: false))
    case "avg_pool2d": self = .avgPool2d(try LayerSpec.decodePool(container, key, avg: true))
    case "linear":
      if let out = try? container.decode(Int.self, forKey: key) {
        self = .linear(LinearSpec(out: out))
      } else if let word = try? container.decode(String.self, forKey: key) {
        guard let size = LinearSpec.SymbolicSize(rawValue: word) else {
          throw DecodingError.dataCorruptedError(forKey: key, in: container, debugDescription: "linear takes a size, `classes` or `theta`, got \(word)")
        }
        self = .linear(LinearSpec(out: nil, sizedBy: size))
      } else {
        self = .linear(try container.decode(LinearSpec.self, forKey: key))
      }
    case "dropout": self = .dropout(probability: try number(named: "p", default: 0.5))
    case "leaky_relu": self = .leakyReLU(slope: try number(named: "negative_slope", default: 0.01))
    case "batch_norm2d":
      self = .batchNorm2d(isEmpty() ? BatchNormSpec() : try container.decode(BatchNormSpec.self, forKey: key))
    case "spatial_transformer":
      self = .spatialTransformer(try container.decode(SpatialTransformerSpec.self, forKey: key))
    default:
      throw DecodingError.dataCorruptedError(forKey: key, in: container,
        debugDescription: "unknown layer \(key.stringValue) (known: \(LayerSpec.kindNames.joined(separator: ", ")))")
    }
  }

  private static func decodePool(_ container: KeyedDecodingContainer<SpecKey>, _ key: SpecKey, avg: Bool) throws -> PoolSpec {
    if let kernel = try? container.decode(Int.self, forKey: key) { return PoolSpec(kernel: kernel) }
    let nested = try container.nestedContainer(keyedBy: SpecKey.self, forKey: key)
    let name = avg ? "avg_pool2d" : "max_pool2d"
    try rejectUnknownKeys(nested, allowed: avg ? ["kernel", "stride", "padding", "ceil_mode", "count_include_pad"] : ["kernel", "stride", "padding", "ceil_mode"], in: name)
    return PoolSpec(
      kernel: try nested.decode(Int.self, forKey: SpecKey("kernel")),
      stride: try nested.decodeIfPresent(Int.self, forKey: SpecKey("stride")),
      padding: try nested.decodeIfPresent(Int.self, forKey: SpecKey("padding")) ?? 0,
      ceilMode: try nested.decodeIfPresent(Bool.self, forKey: SpecKey("ceil_mode")) ?? false,
      countIncludePad: try nested.decodeIfPresent(Bool.self, forKey: SpecKey("count_include_pad")) ?? true)
  }

  /// Canonical form: bare names for setting-free layers, `{kind: settings}` otherwise.
  public func encode(to encoder: Encoder) throws {
    switch self {
    case .relu, .sigmoid, .tanh, .flatten:
      var container = encoder.singleValueContainer()
      try container.encode(kindName)
      return
    default: break
    }
    var container = encoder.container(keyedBy: SpecKey.self)
    let key = SpecKey(kindName)
    switch self {
    case .conv2d(let spec): try container.encode(spec, forKey: key)
    case .maxPool2d(let spec):
      var nested = container.nestedContainer(keyedBy: SpecKey.self, forKey: key)
      try nested.encode(spec.kernel, forKey: SpecKey("kernel"))
      try nested.encodeIfPresent(spec.stride, forKey: SpecKey("stride"))
      try nested.encode(spec.padding, forKey: SpecKey("padding"))
      try nested.encode(spec.ceilMode, forKey: SpecKey("ceil_mode"))
    case .avgPool2d(let spec): try container.encode(spec, forKey: key)
    case .leakyReLU(let slope): try container.encode(slope, forKey: key)
    case .linear(let spec):
      if spec.bias {
        if let out = spec.out { try container.encode(out, forKey: key) } else { try container.encode(spec.sizedBy.rawValue, forKey: key) }
      } else {
        try container.encode(spec, forKey: key)
      }
    case .dropout(let p): try container.encode(p, forKey: key)
    case .batchNorm2d(let spec): try container.encode(spec, forKey: key)
    case .spatialTransformer(let spec): try container.encode(spec, forKey: key)
    case .relu, .sigmoid, .tanh, .flatten: break
    }
  }
}

/// `conv2d` settings; `in` channels come from the input shape.
public struct Conv2DSpec: Codable, Equatable, Sendable {
  public var out: Int
  public var kernel: Int
  public var stride: Int = 1
  public var padding: Int = 0
  public var dilation: Int = 1
  public var bias: Bool = true

  public init(out: Int, kernel: Int, stride: Int = 1, padding: Int = 0, dilation: Int = 1, bias: Bool = true) {
    self.out = out
    self.kernel = kernel
    self.stride = stride
    self.padding = padding
    self.dilation = dilation
    self.bias = bias
  }

  public init(from decoder: Decoder) throws {
    let c = try decoder.container(keyedBy: SpecKey.self)
    try rejectUnknownKeys(c, allowed: ["out", "kernel", "stride", "padding", "dilation", "bias"], in: "conv2d")
    out = try c.decode(Int.self, forKey: SpecKey("out"))
    kernel = try c.decode(Int.self, forKey: SpecKey("kernel"))
    stride = try c.decodeIfPresent(Int.self, forKey: SpecKey("stride")) ?? 1
    padding = try c.decodeIfPresent(Int.self, forKey: SpecKey("padding")) ?? 0
    dilation = try c.decodeIfPresent(Int.self, forKey: SpecKey("dilation")) ?? 1
    bias = try c.decodeIfPresent(Bool.self, forKey: SpecKey("bias")) ?? true
  }
}

/// `max_pool2d` / `avg_pool2d` settings (a bare number is the kernel; stride defaults to it).
public struct PoolSpec: Codable, Equatable, Sendable {
  public var kernel: Int
  public var stride: Int?
  public var padding: Int = 0
  public var ceilMode: Bool = false
  /// avg_pool2d only.
  public var countIncludePad: Bool = true

  public init(kernel: Int, stride: Int? = nil, padding: Int = 0, ceilMode: Bool = false, countIncludePad: Bool = true) {
    self.kernel = kernel
    self.stride = stride
    self.padding = padding
    self.ceilMode = ceilMode
    self.countIncludePad = countIncludePad
  }

  enum CodingKeys: String, CodingKey {
    case kernel, stride, padding
    case ceilMode = "ceil_mode"
    case countIncludePad = "count_include_pad"
  }
}

/// `linear` settings; `out: nil` means a size named by `sizedBy`: the number of classes
/// (`{linear: classes}`) or the enclosing spatial transformer's parameter count (`{linear: theta}`).
public struct LinearSpec: Codable, Equatable, Sendable {
  /// The names a linear layer's size can be given by.
  public enum SymbolicSize: String, Codable, Sendable {
    /// The dataset's class count (only the model's last layer).
    case classes
    /// The spatial transformer's parameter count (only a localization network's last layer).
    case theta
  }

  public var out: Int?
  public var bias: Bool = true
  /// What sizes the layer when `out` is nil.
  public var sizedBy: SymbolicSize = .classes

  public init(out: Int?, bias: Bool = true, sizedBy: SymbolicSize = .classes) {
    self.out = out
    self.bias = bias
    self.sizedBy = sizedBy
  }

  public init(from decoder: Decoder) throws {
    let c = try decoder.container(keyedBy: SpecKey.self)
    try rejectUnknownKeys(c, allowed: ["out", "bias"], in: "linear")
    if let word = try? c.decode(String.self, forKey: SpecKey("out")) {
      guard let size = SymbolicSize(rawValue: word) else {
        throw DecodingError.dataCorruptedError(forKey: SpecKey("out"), in: c, debugDescription: "linear out is a size, `classes` or `theta`, got \(word)")
      }
      out = nil
      sizedBy = size
    } else {
      out = try c.decode(Int.self, forKey: SpecKey("out"))
    }
    bias = try c.decodeIfPresent(Bool.self, forKey: SpecKey("bias")) ?? true
  }

  public func encode(to encoder: Encoder) throws {
    var c = encoder.container(keyedBy: SpecKey.self)
    if let out { try c.encode(out, forKey: SpecKey("out")) } else { try c.encode(sizedBy.rawValue, forKey: SpecKey("out")) }
    try c.encode(bias, forKey: SpecKey("bias"))
  }
}

/// `batch_norm2d` settings (PyTorch defaults).
public struct BatchNormSpec: Codable, Equatable, Sendable {
  public var eps: Float = 1e-5
  public var momentum: Float = 0.1

  public init(eps: Float = 1e-5, momentum: Float = 0.1) {
    self.eps = eps
    self.momentum = momentum
  }

  public init(from decoder: Decoder) throws {
    let c = try decoder.container(keyedBy: SpecKey.self)
    try rejectUnknownKeys(c, allowed: ["eps", "momentum"], in: "batch_norm2d")
    eps = try c.decodeIfPresent(Float.self, forKey: SpecKey("eps")) ?? 1e-5
    momentum = try c.decodeIfPresent(Float.self, forKey: SpecKey("momentum")) ?? 0.1
  }
}

/// `spatial_transformer` settings: the transform family and its options, and the localization
/// layers (ending in a Linear with the transform's parameter count, `{linear: theta}`: affine 6
/// (or the constraint's: rts 4, translation 2, scale_translation 3), projective 8, tps 2·g²).
///
/// Encoded as before the families existed for an affine transformer (`constraint`,
/// `localization`), so affine checkpoints stay readable by older builds; `transform` (and for
/// tps `control_grid`) are written for the others.
public struct SpatialTransformerSpec: Codable, Equatable, Sendable {
  public var localization: [LayerSpec]
  public var transform: TransformFamily = .affine
  /// The affine parameterization (meaningful for `transform: affine` only).
  public var constraint: TransformConstraint = .affine
  /// Control points per side of the thin-plate spline's regular grid (`transform: tps` only).
  public var controlGrid: Int = SpatialTransformerSpec.defaultControlGrid

  /// The default control grid: 4x4 = 16 points, as in the paper.
  public static let defaultControlGrid = 4
  /// The control grids a tps transformer accepts (K = 4 ... 64 points).
  public static let controlGridRange = 2...8

  public init(localization: [LayerSpec], constraint: TransformConstraint = .affine) {
    self.localization = localization
    self.constraint = constraint
  }

  public init(localization: [LayerSpec], transform: TransformFamily, controlGrid: Int = SpatialTransformerSpec.defaultControlGrid) {
    self.localization = localization
    self.transform = transform
    self.controlGrid = controlGrid
  }

  /// The sampler's transform with its settings.
  public var spatialTransform: SpatialTransform {
    switch transform {
    case .affine: return .affine(constraint)
    case .projective: return .projective
    case .tps: return .thinPlateSpline(gridSize: controlGrid)
    }
  }

  public init(from decoder: Decoder) throws {
    let c = try decoder.container(keyedBy: SpecKey.self)
    try rejectUnknownKeys(c, allowed: ["localization", "transform", "constraint", "control_grid"], in: "spatial_transformer")
    localization = try c.decode([LayerSpec].self, forKey: SpecKey("localization"))
    if let name = try c.decodeIfPresent(String.self, forKey: SpecKey("transform")) {
      guard let family = TransformFamily(rawValue: name) else {
        throw DecodingError.dataCorruptedError(forKey: SpecKey("transform"), in: c,
          debugDescription: "unknown transform \(name) (known: \(TransformFamily.allCases.map(\.rawValue).joined(separator: ", ")))")
      }
      transform = family
    }
    if let name = try c.decodeIfPresent(String.self, forKey: SpecKey("constraint")) {
      guard transform == .affine else {
        throw DecodingError.dataCorruptedError(forKey: SpecKey("constraint"), in: c,
          debugDescription: "constraint applies to the affine transform only, not to transform: \(transform.rawValue) (drop it)")
      }
      guard let constraint = TransformConstraint(rawValue: name) else {
        throw DecodingError.dataCorruptedError(forKey: SpecKey("constraint"), in: c,
          debugDescription: "unknown constraint \(name) (known: \(TransformConstraint.allCases.map(\.rawValue).joined(separator: ", ")))")
      }
      self.constraint = constraint
    }
    if let grid = try c.decodeIfPresent(Int.self, forKey: SpecKey("control_grid")) {
      guard transform == .tps else {
        throw DecodingError.dataCorruptedError(forKey: SpecKey("control_grid"), in: c,
          debugDescription: "control_grid applies to transform: tps only, not to transform: \(transform.rawValue)")
      }
      controlGrid = grid
    }
  }

  public func encode(to encoder: Encoder) throws {
    var c = encoder.container(keyedBy: SpecKey.self)
    try c.encode(localization, forKey: SpecKey("localization"))
    switch transform {
    case .affine:
      try c.encode(constraint.rawValue, forKey: SpecKey("constraint"))
    case .projective:
      try c.encode(transform.rawValue, forKey: SpecKey("transform"))
    case .tps:
      try c.encode(transform.rawValue, forKey: SpecKey("transform"))
      try c.encode(controlGrid, forKey: SpecKey("control_grid"))
    }
  }
}

// MARK: - Decoding helpers

/// A coding key for any string (YAML/JSON maps with user-chosen keys).
struct SpecKey: CodingKey {
  var stringValue: String
  var intValue: Int? { nil }
  init(_ string: String) { stringValue = string }
  init?(stringValue: String) { self.stringValue = stringValue }
  init?(intValue: Int) { nil }
}

/// Throws naming the first key of `container` not in `allowed`.
func rejectUnknownKeys(_ container: KeyedDecodingContainer<SpecKey>, allowed: [String], in layer: String) throws {
  for key in container.allKeys where !allowed.contains(key.stringValue) {
    throw DecodingError.dataCorruptedError(forKey: key, in: container,
      debugDescription: "unknown key \(key.stringValue) in \(layer) (allowed: \(allowed.joined(separator: ", ")))")
  }
}

/// Decodes a bare layer name (used to share the name switch with `{relu: {}}` forms).
private struct NameDecoder: Decoder, SingleValueDecodingContainer {
  let name: String
  let codingPath: [CodingKey]
  var userInfo: [CodingUserInfoKey: Any] { [:] }
  func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
    throw DecodingError.typeMismatch(type, .init(codingPath: codingPath, debugDescription: "a name"))
  }
  func unkeyedContainer() throws -> UnkeyedDecodingContainer {
    throw DecodingError.typeMismatch([Any].self, .init(codingPath: codingPath, debugDescription: "a name"))
  }
  func singleValueContainer() throws -> SingleValueDecodingContainer { self }
  func decodeNil() -> Bool { false }
  func decode<T: Decodable>(_ type: T.Type) throws -> T {
    guard let value = name as? T else { throw DecodingError.typeMismatch(type, .init(codingPath: codingPath, debugDescription: "a name")) }
    return value
  }
}

/// A one-line description of a decoding error with its path, e.g. `layer 3 (conv2d): unknown key foo ...`.
public func describe(_ error: DecodingError) -> String {
  func path(_ keys: [CodingKey]) -> String {
    keys.map { key in key.intValue.map { "[\($0)]" } ?? "." + key.stringValue }.joined()
  }
  switch error {
  case .dataCorrupted(let context): return "\(path(context.codingPath)): \(context.debugDescription)"
  case .keyNotFound(let key, let context): return "\(path(context.codingPath)): missing key \(key.stringValue)"
  case .typeMismatch(let type, let context): return "\(path(context.codingPath)): expected \(type)"
  case .valueNotFound(let type, let context): return "\(path(context.codingPath)): missing \(type)"
  @unknown default: return "\(error)"
  }
}
