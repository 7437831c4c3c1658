import STNTensor

/// A value recorded in a `Graph`: an index into its tape.
public struct Variable: Hashable, Sendable {
  public let id: Int
}

/// How a recorded op sends its output's gradient back to its inputs: given the complete
/// gradient of the op's output (tape id `output`), it adds each input's share into that input's
/// gradient buffer (`Graph.accumulateGradient`, or `takeGradient`/`restoreGradient` for a kernel
/// that fills several).
///
/// Each op's recorder passes its backward as a closure right below the forward call, as
/// micrograd sets `out._backward` inside the op: the local derivative sits next to the forward
/// math, and each op lives in one file (`Ops/<Op>.swift`: the forward and backward kernels, the
/// `Graph` recorder, then the `Layer` that records it). Nothing lists the ops; a new op is one
/// new file. (A layer the `model:` list can name is also a `LayerSpec` case and a line of
/// `Model`'s builder.)
typealias Backward = (_ gradOutput: Tensor, _ output: Int, _ graph: Graph) -> Void

/// What produced one value on the tape.
struct Node {
  /// The op's name (`input`, `parameter`, `conv2d`, `max_pool2d_relu`, ...), for inspection.
  let op: String
  /// nil for inputs; parameters add their gradient to the store.
  let backward: Backward?

  /// Inputs and parameters keep their gradient after `Graph.backward`.
  var isLeaf: Bool { op == "input" || op == "parameter" }
}

/// A tape of operations recorded during the forward pass, replayed backwards for gradients.
///
/// Each op call computes its output at once (eager, like micrograd), stores it on the tape with
/// its `Backward` closure (holding what the backward needs: inputs by id, argmax, masks,
/// caches), and returns a `Variable`. Nodes are appended in execution order, which is a
/// topological order, so `backward` walks the tape from the loss down to the first node.
/// Backward kernels ACCUMULATE (`+=`) into each input's gradient buffer (llm.c), which is what
/// makes non-chain models right: the spatial transformer's localization branch and its sampler
/// both read the same input and both add to its gradient. Parameter leaves read their values
/// from a `ParameterStore` and add their gradients into its flat gradient buffer.
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
  /// Every layer's output keyed by the layer, recorded by `forwardLayers` when this is set to a
  /// dictionary before the forward pass (nil, the default: nothing is recorded). For per-layer
  /// inspection (`Model.layerOutputs`); it also turns off the fused max_pool2d + relu node, so
  /// the pooling's own output exists.
  public var layerOutputs: [ObjectIdentifier: Variable]?
  /// Keep the gradients of intermediate nodes after `backward` (default: only leaves keep
  /// theirs; intermediate ones are released as soon as they are propagated, which lowers the
  /// peak memory of a training step).
  public var keepsIntermediateGradients = false

  var values: [Tensor] = []
  var gradients: [Tensor?] = []
  var requiresGradient: [Bool] = []
  /// What produced each value.
  var nodes: [Node] = []

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
    nodes.removeAll(keepingCapacity: true)
    taps.removeAll(keepingCapacity: true)
    if layerOutputs != nil { layerOutputs = [:] }
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
    record(tensor, op: "input", requiresGradient: requiresGradient, backward: nil)
  }

  /// Records a parameter leaf: a copy of its values; backward adds its gradient to the store.
  public func parameter(_ parameter: Parameter) -> Variable {
    guard let store = parameters else { preconditionFailure("graph has no ParameterStore") }
    return record(store.tensor(parameter), op: "parameter", requiresGradient: true) { gradOutput, _, graph in
      // NOTE: reached after every consumer (reverse tape order), so `gradOutput` is complete here.
      graph.parameters?.accumulateGradient(parameter, gradOutput)
    }
  }

  /// Appends one value to the tape with the op that produced it (the ops' recorders call this).
  func record(_ value: Tensor, op: String, requiresGradient: Bool, backward: Backward?) -> Variable {
    values.append(value)
    gradients.append(nil)
    self.requiresGradient.append(requiresGradient)
    nodes.append(Node(op: op, backward: backward))
    return Variable(id: values.count - 1)
  }

  /// True when any of the given nodes needs a gradient (an op's output then needs one too).
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
      guard requiresGradient[id], let gradient = gradients[id], let backward = nodes[id].backward else { continue }
      backward(gradient, id, self)
      if !keepsIntermediateGradients && !nodes[id].isLeaf { gradients[id] = nil }
    }
  }

  // MARK: - Gradient buffers (what backward kernels accumulate into)

  /// Node `id`'s gradient buffer, taken off the tape for a backward kernel to accumulate into:
  /// what has accumulated so far, or zeros on first use; nil when the node needs no gradient.
  /// Hand it back with `restoreGradient`.
  ///
  /// NOTE: taken out rather than lent in place: one kernel often fills several buffers at once
  /// (input, weight, bias), and Swift forbids overlapping `inout` accesses to one array; a
  /// buffer the tape no longer holds is also mutated without a copy.
  func takeGradient(_ id: Int) -> Tensor? {
    guard requiresGradient[id] else { return nil }
    guard let gradient = gradients[id] else { return Tensor(shape: values[id].shape) }
    gradients[id] = nil
    return gradient
  }

  /// Puts back a buffer from `takeGradient` (no-op for nil).
  func restoreGradient(_ id: Int, _ gradient: Tensor?) {
    guard let gradient else { return }
    precondition(gradient.shape == values[id].shape, "gradient shape \(gradient.shape) for node of shape \(values[id].shape)")
    guard var existing = gradients[id] else {
      gradients[id] = gradient
      return
    }
    // One op took the same node twice, or a finished gradient meets an accumulated one.
    gradients[id] = nil  // so `existing` is the only reference and is added to without a copy
    addInPlace(&existing, gradient)
    gradients[id] = existing
  }

  /// `takeGradient`, `body`, `restoreGradient` for an op with one input (skipped when the node
  /// needs no gradient): `body` is the op's accumulating backward kernel.
  func accumulateGradient(_ id: Int, _ body: (inout Tensor) -> Void) {
    guard var gradient = takeGradient(id) else { return }
    body(&gradient)
    restoreGradient(id, gradient)
  }

  /// Adds a finished gradient (from a kernel that returns fresh arrays, or a reshape of the
  /// output's own) into node `id`'s: stored as is on first use, added element-wise after.
  func accumulateGradient(_ id: Int, adding gradient: Tensor) {
    guard requiresGradient[id] else { return }
    restoreGradient(id, gradient.shape == values[id].shape ? gradient : gradient.reshaped(values[id].shape))
  }
}

/// target += source, element-wise (same element count).
func addInPlace(_ target: inout Tensor, _ source: Tensor) {
  precondition(target.count == source.count, "adding \(source.shape) to \(target.shape)")
  target.data.withUnsafeMutableBufferPointer { to in
    source.data.withUnsafeBufferPointer { from in
      for i in 0..<from.count { to[i] += from[i] }
    }
  }
}
