import Foundation
import STNFiles

/// One epoch's figures, as written to `metrics.jsonl` and `metrics.csv`.
public struct EpochMetrics: Equatable, Sendable {
  /// 1-based epoch number.
  public var epoch: Int
  public var trainLoss: Double
  public var trainAccuracy: Double
  /// nil when the run has no validation split.
  public var validationLoss: Double?
  public var validationAccuracy: Double?
  /// nil when the pipeline declares no test split.
  public var testAccuracy: Double?
  /// Learning rate used during the epoch.
  public var learningRate: Double
  /// Wall time of the epoch (training + evaluation), seconds.
  public var seconds: Double
  /// Training images per second (training pass only).
  public var imagesPerSecond: Double

  public init(
    epoch: Int, trainLoss: Double, trainAccuracy: Double, validationLoss: Double? = nil,
    validationAccuracy: Double? = nil, testAccuracy: Double? = nil, learningRate: Double,
    seconds: Double, imagesPerSecond: Double
  ) {
    self.epoch = epoch
    self.trainLoss = trainLoss
    self.trainAccuracy = trainAccuracy
    self.validationLoss = validationLoss
    self.validationAccuracy = validationAccuracy
    self.testAccuracy = testAccuracy
    self.learningRate = learningRate
    self.seconds = seconds
    self.imagesPerSecond = imagesPerSecond
  }

  /// Column names, in file order.
  public static let columns = [
    "epoch", "train_loss", "train_acc", "val_loss", "val_acc", "test_acc", "lr", "seconds", "images_per_s",
  ]

  var values: [Double?] {
    [Double(epoch), trainLoss, trainAccuracy, validationLoss, validationAccuracy, testAccuracy, learningRate, seconds,
     imagesPerSecond]
  }

  /// One JSON object; absent figures are `null`.
  public var json: JSONText {
    .object(zip(EpochMetrics.columns, values).map { name, value in
      if name == "epoch" { return (name, .int(epoch)) }
      return (name, value.map(JSONText.number) ?? .null)
    })
  }

  /// One CSV row; absent figures are empty cells.
  public var csvRow: String {
    values.enumerated().map { index, value in
      guard let value else { return "" }
      return index == 0 ? String(Int(value)) : JSONText.format(value)
    }.joined(separator: ",")
  }

  /// Parses one `metrics.jsonl` line (as written by `json`).
  public init?(jsonLine: String) {
    guard let data = jsonLine.data(using: .utf8),
      let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
      let epoch = (object["epoch"] as? NSNumber)?.intValue
    else { return nil }
    func number(_ key: String) -> Double? { (object[key] as? NSNumber)?.doubleValue }
    self.init(
      epoch: epoch, trainLoss: number("train_loss") ?? .nan, trainAccuracy: number("train_acc") ?? .nan,
      validationLoss: number("val_loss"), validationAccuracy: number("val_acc"), testAccuracy: number("test_acc"),
      learningRate: number("lr") ?? .nan, seconds: number("seconds") ?? 0, imagesPerSecond: number("images_per_s") ?? 0)
  }
}

/// The per-epoch log of a run folder: `metrics.jsonl` (one JSON object per epoch) and
/// `metrics.csv` (same columns). Both files are rewritten atomically after every epoch, so a
/// killed run never leaves a torn line, and a resumed run drops epochs after its checkpoint.
public struct MetricsLog: Sendable {
  public let folder: String
  public private(set) var rows: [EpochMetrics] = []

  public var jsonlPath: String { folder + "/metrics.jsonl" }
  public var csvPath: String { folder + "/metrics.csv" }

  /// A new, empty log for `folder` (files are written on the first `append`).
  public init(folder: String) { self.folder = folder }

  /// Reads an existing log, keeping only epochs `<= throughEpoch` (the resumed checkpoint's).
  public static func resume(folder: String, throughEpoch: Int) throws -> MetricsLog {
    var log = MetricsLog(folder: folder)
    let path = folder + "/metrics.jsonl"
    guard FileManager.default.fileExists(atPath: path) else { return log }
    let bytes = try AtomicFile.read(path)
    let text = String(decoding: bytes, as: UTF8.self)
    for line in text.split(separator: "\n") where !line.isEmpty {
      guard let row = EpochMetrics(jsonLine: String(line)) else {
        throw FileError(path: path, reason: "unreadable metrics line: \(line.prefix(80))")
      }
      if row.epoch <= throughEpoch { log.rows.append(row) }
    }
    return log
  }

  /// Adds an epoch and rewrites both files.
  public mutating func append(_ row: EpochMetrics) throws {
    rows.append(row)
    try write()
  }

  /// Rewrites both files from `rows`.
  public func write() throws {
    let jsonl = rows.map { $0.json.description + "\n" }.joined()
    let csv = EpochMetrics.columns.joined(separator: ",") + "\n" + rows.map { $0.csvRow + "\n" }.joined()
    try AtomicFile.write(Array(jsonl.utf8), to: jsonlPath)
    try AtomicFile.write(Array(csv.utf8), to: csvPath)
  }
}
