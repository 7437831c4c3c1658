import STNDrawing
import STNImageIO

/// The loss and accuracy curves of a run as one PNG (two panels), from its metrics rows.
public enum TrainingCurves {
  /// Renders the loss panel (train, val) beside the accuracy panel (train, val, test, in %).
  public static func render(_ rows: [EpochMetrics], title: String) -> Image {
    let epochs = rows.map { Double($0.epoch) }
    var loss = LinePlot(title: title + ": loss", xLabel: "epoch", yLabel: "cross-entropy", width: 640, height: 420)
    loss.addSeries(name: "train", x: epochs, y: rows.map(\.trainLoss))
    if rows.contains(where: { $0.validationLoss != nil }) {
      loss.addSeries(name: "val", x: epochs, y: rows.map { $0.validationLoss ?? .nan })
    }
    var accuracy = LinePlot(title: title + ": accuracy", xLabel: "epoch", yLabel: "%", width: 640, height: 420)
    accuracy.addSeries(name: "train", x: epochs, y: rows.map { $0.trainAccuracy * 100 })
    if rows.contains(where: { $0.validationAccuracy != nil }) {
      accuracy.addSeries(name: "val", x: epochs, y: rows.map { ($0.validationAccuracy ?? .nan) * 100 })
    }
    if rows.contains(where: { $0.testAccuracy != nil }) {
      accuracy.addSeries(name: "test", x: epochs, y: rows.map { ($0.testAccuracy ?? .nan) * 100 })
    }
    return LinePlot.renderPanels([loss, accuracy], columns: 2)
  }

  /// Writes `curves.png` atomically.
  public static func write(_ rows: [EpochMetrics], title: String, to path: String) throws {
    try ImageCodec.write(render(rows, title: title), to: path, options: .pictures)
  }
}
