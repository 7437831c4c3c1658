import Foundation
import STNFiles
import STNDrawing
import STNImageIO
import STNNetwork
import STNPipeline
import STNTensor

/// `stn export CHECKPOINT`: what a trained spatial transformer does to images, as rectified
/// image files or as a sheet of input / transformed / predicted class; with `layers`, a sheet
/// of every layer's output (`LayerSheet`).
public enum CheckpointExport {
  /// Everything the export can be told.
  public struct Request: Sendable {
    public var checkpoint: String
    public var input: String
    /// A `.png`/`.jpg` file: a sheet; anything else: a folder of rectified images.
    public var output: String
    /// Samples on a sheet (folders get every image).
    public var count = 24
    /// As `EvalRequest.split` (nil: "test").
    public var split: String?
    /// As `EvalRequest.pipeline`: preprocessing (and the model, for a bare state dict).
    public var pipeline: String?
    public var threads = 2
    /// Also apply the pipeline's random stages (see `EvalRequest.random`).
    public var random = false
    /// Replace an existing sheet, or write into a non-empty folder.
    public var overwrite = false
    /// A sheet of every layer's output for the first `count` samples (any model).
    public var layers = false
    public init(checkpoint: String, input: String, output: String) {
      self.checkpoint = checkpoint
      self.input = input
      self.output = output
    }
  }

  /// Runs the export; returns a one-line description of what was written.
  /// Everything that can be checked before the work is, first: the output overlaps neither
  /// the input nor the checkpoint, and replaces nothing unless `overwrite`.
  public static func run(_ request: Request) throws -> String {
    let lower = request.output.lowercased()
    let sheet = lower.hasSuffix(".png") || lower.hasSuffix(".jpg") || lower.hasSuffix(".jpeg")
    try OutputLocation.refuseOverlap(output: request.output, inputs: [request.input, request.checkpoint] + [request.pipeline].compactMap { $0 })
    if request.layers, !sheet { throw TrainSessionError("--layers writes a sheet: --output must name a .png or .jpg file, got \(request.output)") }
    let (inference, dataset) = try InferenceModel.open(
      checkpoint: request.checkpoint, data: request.input, split: request.split, pipeline: request.pipeline, random: request.random)
    if request.layers { return try writeLayerSheet(request, inference: inference, dataset: dataset) }
    guard !inference.model.spatialTransformers.isEmpty else {
      throw FileError(path: request.checkpoint, reason: "its model has no spatial transformer to show")
    }
    var lock: FolderLock?
    if sheet {
      try OutputLocation.prepareFile(request.output, overwrite: request.overwrite)
    } else {
      try OutputLocation.prepareFolder(request.output, policy: request.overwrite ? .overwrite : .refuse)
      lock = try FolderLock.acquire(request.output)
    }
    defer { withExtendedLifetime(lock) {} }
    let names = sheet ? nil : try AugmentPlan(dataset: dataset, indices: Array(0..<dataset.count), copies: 1, format: .png,
                                              caseSensitive: OutputLocation.namesAreCaseSensitive(in: request.output))
    let writer = BatchedFileWriter(syncPath: sheet ? "." : request.output)
    let (provider, knownClasses) = batches(request, inference: inference, dataset: dataset)
    let classifier = inference.classifier(threads: request.threads)
    let mean = inference.config.normalization?.mean ?? [0], std = inference.config.normalization?.std ?? [1]
    let indices = Array(0..<(sheet ? min(request.count, dataset.count) : dataset.count))
    var images: [Image] = [], labels: [String] = [], written = 0
    let iterator = try provider.batches(indices: indices, epoch: 0, training: false, batchSize: 64)
    while let next = iterator.next() {
      let batch = try next.get()
      guard let view = try classifier.transformerView(images: batch.images) else { break }
      let predictions = argmaxRows(try classifier.logits(images: batch.images))
      let inputs = TensorImages.images(batch.images, mean: mean, std: std)
      let outputs = TensorImages.images(view.output, mean: mean, std: std)
      for k in 0..<batch.labels.count {
        if sheet {
          let predicted = inference.classNames[predictions[k]]
          let truth = knownClasses ? inference.classNames[batch.labels[k]] : dataset.classes[batch.labels[k]]
          images += [inputs[k], outputs[k]]
          labels += ["input", predicted == truth ? "-> \(predicted)" : "-> \(predicted) (\(truth))"]
        } else {
          guard let names else { continue }
          try writer.write(try ImageCodec.encodePNG(outputs[k]), to: request.output + "/" + names.relativeOutput(job: batch.indices[k]))
          written += 1
        }
      }
    }
    if sheet {
      let scale = max(1, 96 / max(1, inference.model.inputShape[1]))
      let picture = Canvas.grid(
        images: images, labels: labels, columns: 8, cellScale: scale, padding: 6,
        title: "input | transformed -> predicted (true), \((request.checkpoint as NSString).lastPathComponent)")
      try ImageCodec.write(picture, to: request.output, options: .pictures)
      return "wrote \(request.output): \(images.count / 2) samples, \(picture.width)x\(picture.height)"
    }
    try writer.finish()
    return "wrote \(written) rectified images under \(request.output)"
  }

  /// Evaluation batches of `dataset`, its classes matched to the checkpoint's by name (or folder
  /// spelling); `knownClasses` false: unknown ones, labelled as the data names them.
  private static func batches(_ request: Request, inference: InferenceModel, dataset: any ImageDataset)
    -> (provider: PipelineBatches, knownClasses: Bool)
  {
    let matched = Result { try TrainingSession.labelMap(dataset: dataset.classes, model: inference.classNames, data: request.input) }
    let knownClasses = (try? matched.get()) != nil
    let provider = PipelineBatches(
      config: inference.config, dataset: dataset, threads: request.threads,
      classNames: knownClasses ? inference.classNames : dataset.classes, labelMap: (try? matched.get()) ?? nil)
    return (provider, knownClasses)
  }

  /// `--layers`: every layer's output for the first `count` samples, on one sheet.
  private static func writeLayerSheet(_ request: Request, inference: InferenceModel, dataset: any ImageDataset) throws -> String {
    try OutputLocation.prepareFile(request.output, overwrite: request.overwrite)
    let (provider, knownClasses) = batches(request, inference: inference, dataset: dataset)
    let count = min(request.count, dataset.count)
    let iterator = try provider.batches(indices: Array(0..<count), epoch: 0, training: false, batchSize: max(1, count))
    guard let next = iterator.next() else { throw FileError(path: request.input, reason: "no sample to show") }
    let batch = try next.get()
    let outputs = inference.model.layerOutputs(batch.images, threads: request.threads)
    let predictions = argmaxRows(outputs.last?.value ?? Tensor(shape: [batch.labels.count, 1]))
    let captions = batch.labels.indices.map { k -> [String] in
      let truth = knownClasses ? inference.classNames[batch.labels[k]] : dataset.classes[batch.labels[k]]
      return ["sample \(batch.indices[k]): \(truth)", "predicted: \(inference.classNames[predictions[k]])"]
    }
    let layout = LayerSheet.layout(outputs: outputs, captions: captions)
    let title = "\((request.checkpoint as NSString).lastPathComponent): the output of every layer for \(layout.samples) sample\(layout.samples == 1 ? "" : "s")\n"
      + "a row per layer, a tile per channel; under a tile: its min (black), max (white)"
    let picture = LayerSheet.render(layout, title: title)
    try ImageCodec.write(picture, to: request.output, options: .pictures)
    let leftOut = batch.labels.count - layout.samples
    return "wrote \(request.output): \(outputs.count) layers (input included) x \(layout.samples) samples, \(picture.width)x\(picture.height)"
      + (leftOut > 0 ? " (\(leftOut) samples left out: at most \(LayerSheet.maximumRows) rows per sheet)" : "")
  }
}
