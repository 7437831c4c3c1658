import STNTensor
import STNWarp

/// A value recorded in a `Graph`: an index into its tape.
public struct Variable: Hashable, Sendable {
  public let id: Int
}

/// A tape of operations recorded during the forward pass, replayed backwards for gradients.
///
/// Each op call computes its output at once (eager, like micrograd), stores it on the tape with
/// what its backward needs (inputs by id, argmax, masks, caches), and returns a `Variable`.
/// Nodes are appended in execution order, which is a topological order, so `backward` walks the
/// tape from the loss down to the first node. Gradients ACCUMULATE (`+=`) into each node, which is
/// what makes non-chain models right: the spatial transformer's localization branch and its
/// sampler both read the same input and both contribute to its gradient. Parameter leaves read
/// their values from a `ParameterStore` and add their gradients into its flat gradient buffer.
///
/// One graph per batch: call `reset()` (keeps capacity) before recording the next forward pass.
public final class Graph {
  /// Where parameter leaves read values and write gradients (nil for parameter-free graphs).
  public let parameters: ParameterStore?
  /// Training mode: dropout drops, batch norm uses batch statistics and updates running ones.
  public var training: Bool
  /// Threads for the kernels that take a thread count (conv2d, grid_sample).
  public var threads: Int
  /// Named intermediate values layers publish for inspection (e.g. `theta`, `transformed`
  /// of a spatial transformer, keyed by its module name).
  public var taps: [String: Variable] = [:]
  /// Keep the gradients of intermediate nodes after `backward` (default: only leaves keep
  /// theirs; intermediate ones are released as soon as they are propagated, which lowers the
  /// peak memory of a training step).
  public var keepsIntermediateGradients = false

  var values: [Tensor] = []
  var gradients: [Tensor?] = []
  var requiresGradient: [Bool] = []
  var operations: [Operation] = []

  public init(parameters: ParameterStore? = nil, training: Bool = true, threads: Int = 1) {
    self.parameters = parameters
    self.training = training
    self.threads = threads
  }

  /// Forgets the tape (keeping array capacity) so the graph can record the next batch.
  public func reset() {
    values.removeAll(keepingCapacity: true)
    gradients.removeAll(keepingCapacity: true)
    requiresGradient.removeAll(keepingCapacity: true)
    operations.removeAll(keepingCapacity: true)
    taps.removeAll(keepingCapacity: true)
  }

  /// Number of recorded nodes.
  public var nodeCount: Int { values.count }

  /// The value of a recorded node.
  public func value(_ variable: Variable) -> Tensor { values[variable.id] }

  /// The accumulated gradient of a node after `backward`, or nil if none reached it.
  public func gradient(_ variable: Variable) -> Tensor? { gradients[variable.id] }

  /// Shape of a recorded node.
  public func shape(_ variable: Variable) -> [Int] { values[variable.id].shape }

  // MARK: - Leaves

  /// Records a constant input; with `requiresGradient` its gradient is kept (tests, saliency).
  public func input(_ tensor: Tensor, requiresGradient: Bool = false) -> Variable {
    record(tensor, .leaf, requiresGradient: requiresGradient)
  }

  /// Records a parameter leaf: a copy of its values; backward adds its gradient to the store.
  public func parameter(_ parameter: Parameter) -> Variable {
    guard let store = parameters else { preconditionFailure("graph has no ParameterStore") }
    return record(store.tensor(parameter), .parameter(parameter), requiresGradient: true)
  }

  func record(_ value: Tensor, _ operation: Operation, requiresGradient: Bool) -> Variable {
    values.append(value)
    gradients.append(nil)
    self.requiresGradient.append(requiresGradient)
    operations.append(operation)
    return Variable(id: values.count - 1)
  }

  func needsGradient(_ ids: Int?...) -> Bool {
    ids.contains { $0.map { requiresGradient[$0] } ?? false }
  }

  // MARK: - Backward

  /// Backpropagates from a scalar node (count 1, typically the mean loss), seeding d(loss) = 1.
  ///
  /// Gradients of parameters are ADDED to `parameters.gradients`: zero them before each step.
  public func backward(_ loss: Variable) {
    precondition(values[loss.id].count == 1, "backward needs a scalar, got shape \(values[loss.id].shape)")
    gradients[loss.id] = Tensor(shape: values[loss.id].shape, repeating: 1)
    for id in stride(from: loss.id, through: 0, by: -1) {
      guard requiresGradient[id], let gradient = gradients[id] else { continue }
      backwardNode(id, gradient)
      if !keepsIntermediateGradients {
        switch operations[id] {
        case .leaf, .parameter: break
        default: gradients[id] = nil
        }
      }
    }
  }

  /// Adds `gradient` into node `id`'s gradient (no-op for nodes that need none).
  func accumulate(_ id: Int, _ gradient: Tensor) {
    guard requiresGradient[id] else { return }
    precondition(gradient.shape == values[id].shape || gradient.count == values[id].count,
      "gradient shape \(gradient.shape) for node of shape \(values[id].shape)")
    if gradients[id] == nil {
      gradients[id] = gradient.shape == values[id].shape ? gradient : gradient.reshaped(values[id].shape)
      return
    }
    gradients[id]!.data.withUnsafeMutableBufferPointer { target in
      gradient.data.withUnsafeBufferPointer { source in
        for i in 0..<source.count { target[i] += source[i] }
      }
    }
  }
}
