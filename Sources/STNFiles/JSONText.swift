import Foundation

/// The one JSON writer: a JSON value with ordered object keys, so reports print their most useful
/// fields first (`{"accuracy":…, "n":…, …}`) and files diff cleanly run to run. Used by every
/// command's JSON lines, the benchmarks, metrics files and safetensors headers.
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

  /// A JSON string literal (RFC 8259): quotes, backslashes and control characters escaped;
  /// DEL is escaped too so terminal output stays printable.
  public static func quote(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
      switch scalar {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      default:
        if scalar.value < 0x20 || scalar.value == 0x7F {
          out += String(format: "\\u%04x", scalar.value)
        } else {
          out.unicodeScalars.append(scalar)
        }
      }
    }
    return out + "\""
  }

  /// A number rounded to `digits` decimals (benchmark figures).
  public static func number(_ value: Double, digits: Int) -> JSONText {
    guard value.isFinite else { return .null }
    let scale = pow(10, Double(max(0, min(digits, 12))))
    return .number((value * scale).rounded() / scale)
  }
}

extension JSONText: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral, ExpressibleByBooleanLiteral {
  public init(stringLiteral value: String) { self = .string(value) }
  public init(integerLiteral value: Int) { self = .int(value) }
  public init(floatLiteral value: Double) { self = .number(value) }
  public init(booleanLiteral value: Bool) { self = .bool(value) }
}
