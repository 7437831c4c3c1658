import STNTensor

/// One row of a model's layer table: where a layer sits in the pipeline's `model:` list, what
/// kind it is, and the shape it outputs (the input comes first, as a row of its own).
///
/// ## Index scheme
/// `index` is the layer's position in the `model:` list, zero-padded (`03`); a localization
/// layer of the spatial transformer at position i is `i.j`, j its position in the
/// `localization:` list (`00.02`). Padding: two digits, more when a list is longer than 100.
/// So the index names the same layer whatever its kind, and sorts in `summary()` order (a
/// transformer's `00-...` before its localization layers' `00.00-...`).
public struct LayerEntry: Equatable, Sendable {
  /// Position in the `model:` list: `[3]`, `[0, 2]` (localization layer 2 of the transformer at
  /// 0); `[]` for the model's input.
  public var position: [Int]
  /// `03`, `00.02`, or `input`.
  public var index: String
  /// The kind as the YAML names it (`conv2d`, `max_pool2d`, `spatial_transformer`, ...), `input`.
  public var kind: String
  /// The state-dict path (`loc.0`, `cls.3`, `st`, `4`), `input` for the input.
  public var name: String
  /// Per-sample output shape: [C,H,W] or [F].
  public var outputShape: [Int]

  /// `03-conv2d`, `00.02-max_pool2d`, `input`: a TensorBoard tag's last part, a sheet's row name.
  public var label: String { position.isEmpty ? kind : index + "-" + kind }
}

extension Model {
  /// The input, then every layer (localization layers included) in the order of `summary()`.
  public var layerTable: [LayerEntry] { layerWalk().map(\.entry) }

  /// Eval-mode output of every row of `layerTable` for input (N,C,H,W): `values[i]` is
  /// (N, `entries[i].outputShape`...); the input's row is `input` itself, the last layer's the
  /// logits. Runs the layers unfused (`Graph.layerOutputs`); the values equal `predict`'s path.
  public func layerOutputs(_ input: Tensor, threads: Int = 1) -> [(entry: LayerEntry, value: Tensor)] {
    let wasTraining = training
    training = false
    defer { training = wasTraining }
    let graph = Graph(parameters: parameters, training: false, threads: threads)
    graph.layerOutputs = [:]
    _ = forward(graph, input)
    let recorded = graph.layerOutputs ?? [:]
    return layerWalk().compactMap { entry, layer in
      guard let layer else { return (entry, input) }
      // A layer that records no output of its own (none does today) is left out, not guessed.
      return recorded[ObjectIdentifier(layer)].map { (entry, graph.value($0)) }
    }
  }

  /// Each table row with its layer object (nil for the input). Names come from `summaryRows`,
  /// which the builder appends in this same order (transformer row, then its children).
  private func layerWalk() -> [(entry: LayerEntry, layer: Layer?)] {
    let localizations = spec.layers.map(Model.localizationSpecs)
    let longest = max(spec.layers.count, localizations.map(\.count).max() ?? 0)
    let digits = max(2, String(max(0, longest - 1)).count)
    func padded(_ value: Int) -> String {
      let text = String(value)
      return String(repeating: "0", count: max(0, digits - text.count)) + text
    }
    var rows = summaryRows.makeIterator()
    var walk: [(entry: LayerEntry, layer: Layer?)] = [
      (LayerEntry(position: [], index: "input", kind: "input", name: "input", outputShape: inputShape), nil)
    ]
    func add(_ position: [Int], _ kind: String, _ layer: Layer) {
      let name = rows.next()?.name ?? position.map(String.init).joined(separator: ".")
      let entry = LayerEntry(
        position: position, index: position.map(padded).joined(separator: "."), kind: kind, name: name, outputShape: layer.outputShape)
      walk.append((entry, layer))
    }
    for (i, (layerSpec, layer)) in zip(spec.layers, layers).enumerated() {
      add([i], layerSpec.kindName, layer)
      guard let transformer = layer as? SpatialTransformer else { continue }
      for (j, (childSpec, child)) in zip(localizations[i], transformer.localization.layers).enumerated() {
        add([i, j], childSpec.kindName, child)
      }
    }
    return walk
  }

  /// The localization layers a layer spec declares (none for layers without one).
  private static func localizationSpecs(_ layerSpec: LayerSpec) -> [LayerSpec] {
    if case .spatialTransformer(let transformer) = layerSpec { return transformer.localization }
    return []
  }
}
