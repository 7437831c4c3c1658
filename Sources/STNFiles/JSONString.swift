import Foundation

/// JSON text helpers shared by every writer of JSON (safetensors headers, `stn info`, metrics).
public enum JSONString {
  /// A JSON string literal (RFC 8259): quotes, backslashes and control characters escaped;
  /// DEL is escaped too so terminal output stays printable.
  public static func quoted(_ text: String) -> String {
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
}
