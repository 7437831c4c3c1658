import STNTensor

/// A handle to one trainable tensor inside a `ParameterStore`: where it lives in the flat buffer.
public struct Parameter: Hashable, Sendable {
  /// Position in the store's table.
  public let index: Int
  /// First element in the flat buffer.
  public let offset: Int
  /// Shape in PyTorch layout (conv (O,I,kH,kW), linear (out,in), vectors (C,)).
  public let shape: [Int]
  /// Number of elements.
  public var count: Int { shape.reduce(1, *) }
}

/// All trainable parameters of a model in one flat buffer, llm.c style.
///
/// Values, gradients and every optimizer moment share one layout described by `entries` (name,
/// shape, offset), so zeroing gradients is one fill and SGD/Adam are flat loops. Names are the
/// PyTorch `state_dict` names the checkpoint uses (see `Model` for the naming rule).
public final class ParameterStore {
  /// One row of the size/offset table.
  public struct Entry: Equatable, Sendable {
    /// PyTorch `state_dict` name, e.g. `loc.0.weight`.
    public var name: String
    public var shape: [Int]
    public var offset: Int
    public var count: Int { shape.reduce(1, *) }
  }

  /// The table, in registration order (the order layers appear in the model).
  public private(set) var entries: [Entry] = []
  /// Parameter values, `totalCount` floats.
  public var values: [Float] = []
  /// Gradients, same layout as `values`; backward accumulates (`+=`) into it.
  public var gradients: [Float] = []

  public init() {}

  /// Total number of scalar parameters.
  public var totalCount: Int { values.count }

  /// Appends a parameter with its initial values (`initial.count` must match `shape`).
  public func add(name: String, shape: [Int], initial: [Float]) -> Parameter {
    precondition(initial.count == shape.reduce(1, *), "initial values do not match shape \(shape)")
    precondition(!entries.contains { $0.name == name }, "duplicate parameter name \(name)")
    let offset = values.count
    entries.append(Entry(name: name, shape: shape, offset: offset))
    values += initial
    gradients += [Float](repeating: 0, count: initial.count)
    return Parameter(index: entries.count - 1, offset: offset, shape: shape)
  }

  /// Sets every gradient to zero (one call over the flat buffer).
  public func zeroGradients() {
    gradients.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
  }

  /// True when no value is NaN or infinite (check before saving a checkpoint).
  public var valuesAreFinite: Bool { values.allSatisfy { $0.isFinite } }

  /// True when no gradient is NaN or infinite (check before an optimizer step).
  public var gradientsAreFinite: Bool { gradients.allSatisfy { $0.isFinite } }

  /// A copy of one parameter's values as a tensor.
  public func tensor(_ parameter: Parameter) -> Tensor {
    Tensor(shape: parameter.shape, data: Array(values[parameter.offset..<(parameter.offset + parameter.count)]))
  }

  /// A copy of one parameter's gradient as a tensor.
  public func gradient(_ parameter: Parameter) -> Tensor {
    Tensor(shape: parameter.shape, data: Array(gradients[parameter.offset..<(parameter.offset + parameter.count)]))
  }

  /// Overwrites one parameter's values (`tensor.count` must match).
  public func set(_ parameter: Parameter, to tensor: Tensor) {
    precondition(tensor.count == parameter.count, "tensor of \(tensor.count) values for parameter of \(parameter.count)")
    values.withUnsafeMutableBufferPointer { buffer in
      tensor.data.withUnsafeBufferPointer { source in
        (buffer.baseAddress! + parameter.offset).update(from: source.baseAddress!, count: tensor.count)
      }
    }
  }

  /// The handle for the entry named `name`, if any.
  public func parameter(named name: String) -> Parameter? {
    guard let index = entries.firstIndex(where: { $0.name == name }) else { return nil }
    return Parameter(index: index, offset: entries[index].offset, shape: entries[index].shape)
  }

  /// Adds `gradient` into the gradient buffer at `parameter`'s slot.
  func accumulateGradient(_ parameter: Parameter, _ gradient: Tensor) {
    precondition(gradient.count == parameter.count, "gradient of \(gradient.count) values for parameter of \(parameter.count)")
    gradients.withUnsafeMutableBufferPointer { buffer in
      gradient.data.withUnsafeBufferPointer { source in
        let target = buffer.baseAddress! + parameter.offset
        for i in 0..<source.count { target[i] += source[i] }
      }
    }
  }
}
