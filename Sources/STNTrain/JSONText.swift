import Foundation
import STNFiles

/// A JSON value with ordered object keys, so reports print their most useful fields first
/// (`{"accuracy":…, "n":…, …}`) and files diff cleanly run to run.
public indirect enum JSONText: Equatable, Sendable, CustomStringConvertible {
  case null
  case bool(Bool)
  case int(Int)
  case number(Double)
  case string(String)
  case array([JSONText])
  case object([(String, JSONText)])

  public static func == (lhs: JSONText, rhs: JSONText) -> Bool { lhs.description == rhs.description }

  /// Compact one-line JSON.
  public var description: String {
    switch self {
    case .null: return "null"
    case .bool(let value): return value ? "true" : "false"
    case .int(let value): return String(value)
    case .number(let value): return JSONText.format(value)
    case .string(let value): return JSONText.quote(value)
    case .array(let values): return "[" + values.map(\.description).joined(separator: ",") + "]"
    case .object(let pairs):
      return "{" + pairs.map { JSONText.quote($0.0) + ":" + $0.1.description }.joined(separator: ",") + "}"
    }
  }

  /// Numbers print with at most 6 significant decimals; NaN and infinities (not JSON) as null.
  public static func format(_ value: Double) -> String {
    guard value.isFinite else { return "null" }
    if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
    var text = String(format: "%.6g", value)
    if text.contains("e") { text = String(format: "%.6e", value) }
    return text
  }

  /// A JSON string literal with the required escapes.
  public static func quote(_ text: String) -> String { JSONString.quoted(text) }
}
