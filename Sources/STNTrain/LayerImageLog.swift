import Foundation
import STNDrawing
import STNImageIO
import STNNetwork
import STNTensor
import STNTensorBoard

/// The `layers/...` images of a training run: every epoch, for the same few samples, each
/// selected layer's output as one grid, a row per sample and a gray tile per channel
/// (`FeatureMapTiles`: each scaled to its own min..max, channels in order).
///
/// Tags are `layers/<index>-<kind>` (`layers/03-conv2d`, `layers/00.02-max_pool2d`,
/// `layers/input`; `LayerEntry` explains the index). Each tag's description, shown on its
/// TensorBoard card, gives the layer's state-dict name, its output shape and the channels shown.
public final class LayerImageLog {
  public let model: Model
  /// The fixed samples (N,C,H,W), as the pipeline makes them with the evaluation key.
  public let samples: Tensor
  /// The layers written (rows of `model.layerTable`).
  public let entries: [LayerEntry]
  /// Channels shown per layer: the first ones.
  public var channelLimit = 16
  /// Every tile is fitted into a box this many pixels wide and high.
  public var tileSide = 48
  /// Threads for the forward pass.
  public var threads = 1

  /// Samples shown by default.
  public static let defaultSampleCount = 8
  /// The gap between tiles: a color no gray tile has, so tiles' edges stay visible.
  static let gapColor: [UInt8] = [0, 96, 128]

  public init(model: Model, samples: Tensor, entries: [LayerEntry]) {
    self.model = model
    self.samples = samples
    self.entries = entries
  }

  /// Before a run: throws `LayerSelectionError` when `selection` names something `model` lacks;
  /// says through `note` when the default leaves a big model's layers out.
  public static func check(_ selection: LayerSelection, model: Model, note: (String) -> Void) throws {
    let entries = try selection.entries(of: model)
    if entries.isEmpty, selection == .automatic {
      note("no per-layer TensorBoard images: the model has \(model.spec.layers.count) layers (more than \(LayerSelection.automaticLimit)); pass --tensorboard-layers all or a list to get them")
    }
  }

  /// The log of one run (or fold): `selection`'s layers of `model` for the fixed samples of
  /// `data`; nil when it selects nothing or there is no sample.
  public static func forRun(_ selection: LayerSelection, model: Model, data: TrainingData, threads: Int) throws -> LayerImageLog? {
    let entries = try selection.entries(of: model)
    guard !entries.isEmpty, let samples = try fixedSamples(data) else { return nil }
    let log = LayerImageLog(model: model, samples: samples, entries: entries)
    log.threads = max(1, threads)
    return log
  }

  /// The fixed samples of a run: the first `count` of the validation split (of the training
  /// split when there is none), through the pipeline with the evaluation key, so they are the
  /// same images every epoch. nil when there are none.
  public static func fixedSamples(_ data: TrainingData, count: Int = defaultSampleCount) throws -> Tensor? {
    let chosen = Array((data.validationIndices.isEmpty ? data.trainIndices : data.validationIndices).prefix(max(0, count)))
    guard !chosen.isEmpty else { return nil }
    let iterator = try data.train.batches(indices: chosen, epoch: 0, training: false, batchSize: chosen.count)
    guard let first = iterator.next() else { return nil }
    let images = try first.get().images
    return (images.shape.first ?? 0) > 0 ? images : nil
  }

  /// Writes one grid per entry at `step`.
  public func write(to writer: EventWriter, step: Int) throws {
    let wanted = Set(entries.map(\.position))
    for (entry, value) in model.layerOutputs(samples, threads: threads) where wanted.contains(entry.position) {
      let grid = LayerImageLog.grid(value, channelLimit: channelLimit, tileSide: tileSide)
      try writer.addImage(
        tag: "layers/" + entry.label, png: try ImageCodec.encodePNG(grid.image, options: EncodeOptions.pictures.png),
        width: grid.image.width, height: grid.image.height, channels: grid.image.channels, step: step,
        description: LayerImageLog.description(entry, samples: value.shape[0], shown: grid.shown))
    }
  }

  /// One layer's output (N, per-sample shape...) for every sample: a row per sample, a tile per
  /// channel (the first `channelLimit`), each fitted into `tileSide` pixels, 2-pixel gaps.
  public static func grid(_ output: Tensor, channelLimit: Int, tileSide: Int) -> (image: Image, shown: Int) {
    var images: [Image] = []
    var shown = 1
    for sample in 0..<output.shape[0] {
      let tiles = FeatureMapTiles.tiles(output, sample: sample, limit: channelLimit).tiles
      shown = tiles.count
      images += tiles.map { FeatureMapTiles.displayed($0.image, side: tileSide) }
    }
    let image = Canvas.grid(images: images, columns: max(1, shown), padding: 2, channels: 3, background: gapColor)
    return (image, shown)
  }

  /// The tag's description (markdown).
  static func description(_ entry: LayerEntry, samples: Int, shown: Int) -> String {
    let shape = "[" + entry.outputShape.map(String.init).joined(separator: ", ") + "]"
    let channels = entry.outputShape.count == 3 ? entry.outputShape[0] : 1
    let what = entry.position.isEmpty ? "The model's input" : "Layer `\(entry.index)` \(entry.kind) (`\(entry.name)`)"
    let tiles = entry.outputShape.count == 3
      ? (shown < channels ? "the first \(shown) of \(channels) channels" : "its \(channels) channel\(channels == 1 ? "" : "s")")
      : "its \(entry.outputShape.reduce(1, *)) features as one strip, \(FeatureMapTiles.stripWidth) per row"
    return "\(what): output \(shape) per sample. A row per fixed sample (\(samples)), a tile per channel: \(tiles); "
      + "each tile scaled to its own min (black) .. max (white)."
  }
}
