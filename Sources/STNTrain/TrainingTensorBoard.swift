import Foundation
import STNDrawing
import STNImageIO
import STNPipeline
import STNTensor
import STNTensorBoard

/// Writes a run's TensorBoard events: scalars every epoch (and the training loss every few
/// steps), image grids of the inputs and of the spatial transformer's outputs, histograms of
/// the transformer's parameters.
///
/// Tags: `loss/train`, `loss/val`, `accuracy/train`, `accuracy/val`, `accuracy/test`,
/// `learning_rate`, `images_per_s`, `loss/train_step`; images `inputs`, `transformed`, and for
/// a TPS transformer `control_points` (the inputs with the control points' source positions);
/// histograms per family (`TransformerParameters.histograms`): `theta/0` … `theta/5` (row-major
/// a b c / d e f of an affine theta (2,3)), `homography/h11` … `homography/h32`, or `tps/dx`,
/// `tps/dy`; with `layers` set, every layer's output for fixed samples as
/// `layers/<index>-<kind>` (`LayerImageLog`).
public final class TrainingTensorBoard {
  public let writer: EventWriter
  /// Normalization to undo when drawing inputs (per channel, as in the pipeline).
  public let mean: [Double]
  public let std: [Double]
  /// Images per grid.
  public var gridCount = 16
  /// Training-loss points every this many steps.
  public var stepInterval = 50
  /// Per-layer images written every epoch (nil: none).
  public var layers: LayerImageLog?

  public init(directory: String, mean: [Double], std: [Double]) throws {
    writer = try EventWriter(directory: directory)
    self.mean = mean
    self.std = std
  }

  /// The event file's path.
  public var path: String { writer.path }

  func logStep(step: Int, loss: Double) throws {
    guard step % stepInterval == 0 else { return }
    try writer.addScalar(tag: "loss/train_step", value: Float(loss), step: step)
  }

  func log(epoch: Int, metrics: EpochMetrics, model: TrainableClassifier, sample: Batch?) throws {
    try writer.addScalar(tag: "loss/train", value: Float(metrics.trainLoss), step: epoch)
    try writer.addScalar(tag: "accuracy/train", value: Float(metrics.trainAccuracy), step: epoch)
    if let value = metrics.validationLoss { try writer.addScalar(tag: "loss/val", value: Float(value), step: epoch) }
    if let value = metrics.validationAccuracy { try writer.addScalar(tag: "accuracy/val", value: Float(value), step: epoch) }
    if let value = metrics.testAccuracy { try writer.addScalar(tag: "accuracy/test", value: Float(value), step: epoch) }
    try writer.addScalar(tag: "learning_rate", value: Float(metrics.learningRate), step: epoch)
    try writer.addScalar(tag: "images_per_s", value: Float(metrics.imagesPerSecond), step: epoch)
    if let sample, sample.images.rank == 4, [1, 3].contains(sample.images.shape[1]) {
      let inputs = TensorImages.images(sample.images, mean: mean, std: std, limit: gridCount)
      try addGrid(tag: "inputs", images: inputs, step: epoch)
      if let view = try model.transformerView(images: sample.images) {
        if view.output.rank == 4, [1, 3].contains(view.output.shape[1]) {
          try addGrid(tag: "transformed", batch: view.output, step: epoch)
        }
        for (tag, values) in TransformerParameters.histograms(view.theta) { try writer.addHistogram(tag: tag, values: values, step: epoch) }
        if let marked = TransformerParameters.controlPointImages(view.theta, inputs: inputs) { try addGrid(tag: "control_points", images: marked, step: epoch) }
      }
    }
    try layers?.write(to: writer, step: epoch)
    try writer.flush()
  }

  private func addGrid(tag: String, batch: Tensor, step: Int) throws {
    try addGrid(tag: tag, images: TensorImages.images(batch, mean: mean, std: std, limit: gridCount), step: step)
  }

  private func addGrid(tag: String, images: [Image], step: Int) throws {
    let columns = Int(Double(images.count).squareRoot().rounded(.up))
    let grid = Canvas.grid(images: images, columns: max(1, columns), padding: 2, background: [0, 0, 0])
    try writer.addImage(
      tag: tag, png: try ImageCodec.encodePNG(grid, options: EncodeOptions.pictures.png), width: grid.width, height: grid.height, channels: grid.channels, step: step)
  }

  /// Closes the event file.
  public func close() throws { try writer.close() }
}
