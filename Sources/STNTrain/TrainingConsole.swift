import Foundation

/// Prints a run's progress on stderr: a redrawn bar on a terminal, plain lines every few
/// seconds otherwise (logs, CI), and one summary line per epoch.
public final class TrainingConsole: TrainingObserver {
  /// True when stderr is a terminal (bar redrawn in place).
  public let interactive: Bool
  /// Seconds between plain progress lines when not interactive.
  public var lineInterval: TimeInterval = 10
  private var lastLine = Date.distantPast
  private var lastDraw = Date.distantPast
  private var barShown = false

  public init(interactive: Bool = isatty(2) != 0) {
    self.interactive = interactive
  }

  static func write(_ text: String) {
    FileHandle.standardError.write(Data(text.utf8))
  }

  public func batchFinished(epoch: Int, epochs: Int, batch: Int, batches: Int, loss: Double, accuracy: Double, imagesPerSecond: Double) {
    let now = Date()
    let stats = String(format: "loss %.4f  acc %5.1f%%  %6.0f img/s", loss, accuracy * 100, imagesPerSecond)
    if interactive {
      guard batch == batches || now.timeIntervalSince(lastDraw) >= 0.1 else { return }
      lastDraw = now
      let width = 30
      let filled = batches > 0 ? min(width, width * batch / batches) : 0
      let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
      TrainingConsole.write("\r\u{1B}[2Kepoch \(epoch)/\(epochs) \(bar) \(batch)/\(batches)  \(stats)")
      barShown = true
    } else if now.timeIntervalSince(lastLine) >= lineInterval || batch == batches {
      lastLine = now
      TrainingConsole.write("epoch \(epoch)/\(epochs) batch \(batch)/\(batches)  \(stats)\n")
    }
  }

  public func epochFinished(_ m: EpochMetrics, isBest: Bool) {
    if barShown {
      TrainingConsole.write("\r\u{1B}[2K")
      barShown = false
    }
    var parts = [String(format: "epoch %d  train loss %.4f acc %.2f%%", m.epoch, m.trainLoss, m.trainAccuracy * 100)]
    if let loss = m.validationLoss, let accuracy = m.validationAccuracy {
      parts.append(String(format: "val loss %.4f acc %.2f%%", loss, accuracy * 100))
    }
    if let accuracy = m.testAccuracy { parts.append(String(format: "test acc %.2f%%", accuracy * 100)) }
    parts.append(String(format: "lr %g  %.1f s  %.0f img/s", m.learningRate, m.seconds, m.imagesPerSecond))
    TrainingConsole.write(parts.joined(separator: "  ") + (isBest ? "  (best)" : "") + "\n")
  }

  public func note(_ message: String) {
    if barShown {
      TrainingConsole.write("\r\u{1B}[2K")
      barShown = false
    }
    TrainingConsole.write(message + "\n")
  }
}
