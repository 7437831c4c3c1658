import STNFiles
/// Counts of (true class, predicted class) pairs, with the accuracies derived from them.
public struct ConfusionMatrix: Equatable, Sendable {
  /// Class names, index = label.
  public var classes: [String]
  /// `counts[actual][predicted]`.
  public var counts: [[Int]]

  public init(classes: [String]) {
    self.classes = classes
    counts = Array(repeating: Array(repeating: 0, count: classes.count), count: classes.count)
  }

  /// Records one prediction.
  public mutating func add(actual: Int, predicted: Int) {
    precondition(actual >= 0 && actual < classes.count && predicted >= 0 && predicted < classes.count)
    counts[actual][predicted] += 1
  }

  /// Adds another matrix over the same classes.
  public mutating func merge(_ other: ConfusionMatrix) {
    precondition(other.classes.count == classes.count)
    for i in 0..<classes.count { for j in 0..<classes.count { counts[i][j] += other.counts[i][j] } }
  }

  /// Number of samples recorded.
  public var total: Int { counts.reduce(0) { $0 + $1.reduce(0, +) } }

  /// Number of correct predictions (the diagonal).
  public var correct: Int { (0..<classes.count).reduce(0) { $0 + counts[$1][$1] } }

  /// Fraction correct; 0 for an empty matrix.
  public var accuracy: Double { total == 0 ? 0 : Double(correct) / Double(total) }

  /// Recall of each class (correct / samples of that class); nil for a class with no samples.
  public var perClassAccuracy: [Double?] {
    (0..<classes.count).map { i in
      let row = counts[i].reduce(0, +)
      return row == 0 ? nil : Double(counts[i][i]) / Double(row)
    }
  }

  /// The matrix as aligned text: rows are true classes, columns predictions.
  public func table() -> String {
    let names = classes.map { String($0.prefix(12)) }
    let width = max(5, names.map(\.count).max() ?? 0, String(counts.flatMap { $0 }.max() ?? 0).count)
    func pad(_ text: String) -> String { String(repeating: " ", count: max(0, width - text.count)) + text }
    var lines = [pad("true\\pred") + " " + names.map(pad).joined(separator: " ")]
    for (i, row) in counts.enumerated() {
      lines.append(pad(names[i]) + " " + row.map { pad(String($0)) }.joined(separator: " "))
    }
    return lines.joined(separator: "\n")
  }

  /// `{"accuracy":…, "n":…, "correct":…, "per_class":{name: acc}, "classes":[…], "confusion":[[…]]}`.
  public func json(extra: [(String, JSONText)] = []) -> JSONText {
    let perClass = zip(classes, perClassAccuracy).map { ($0.0, $0.1.map(JSONText.number) ?? .null) }
    return .object([
      ("accuracy", .number(accuracy)),
      ("n", .int(total)),
      ("correct", .int(correct)),
      ("per_class", .object(perClass)),
      ("classes", .array(classes.map(JSONText.string))),
      ("confusion", .array(counts.map { .array($0.map(JSONText.int)) })),
    ] + extra)
  }
}
