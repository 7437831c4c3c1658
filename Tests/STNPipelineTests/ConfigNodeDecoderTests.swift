import XCTest

@testable import STNPipeline

/// Decoding `Decodable` types straight from YAML nodes: scalar typing and located errors.
final class ConfigNodeDecoderTests: XCTestCase {
  private struct Settings: Decodable, Equatable {
    var count: Int
    var rate: Float
    var scale: Double
    var enabled: Bool
    var name: String
    var note: String?
    var sizes: [Int]
    var nested: [String: [Bool]]
  }

  /// "[path]: reason", the shape of STNNetwork's `describe`.
  private func describe(_ error: DecodingError) -> String {
    let path = ConfigNodeDecoder.codingPath(of: error).map { $0.intValue.map { "[\($0)]" } ?? "." + $0.stringValue }.joined()
    switch error {
    case .dataCorrupted(let context), .typeMismatch(_, let context), .valueNotFound(_, let context): return "\(path): \(context.debugDescription)"
    case .keyNotFound(let key, _): return "\(path): missing key \(key.stringValue)"
    @unknown default: return "\(error)"
    }
  }

  private func decode(_ yaml: String) throws -> Settings {
    try ConfigNodeDecoder().decode(Settings.self, from: try ConfigNode.parse(yaml: yaml, file: "s.yaml"), describe: describe)
  }

  func testScalarsAreTypedAsYAMLResolvesThem() throws {
    let settings = try decode("""
      count: 3
      rate: 1.0e-5
      scale: 2
      enabled: yes
      name: sixty-four
      note: ~
      sizes: [1, 2, 3]
      nested: {a: [on, Off, TRUE]}
      """)
    // A float is the nearest to the double, as a Python float becomes float32.
    XCTAssertEqual(settings, Settings(count: 3, rate: Float(1.0e-5 as Double), scale: 2, enabled: true, name: "sixty-four", note: nil, sizes: [1, 2, 3], nested: ["a": [true, false, true]]))
  }

  func testErrorsNameTheFileLineAndPath() {
    func message(_ yaml: String) -> String {
      do {
        _ = try decode(yaml)
        return "no error"
      } catch {
        return "\(error)"
      }
    }
    let base = "rate: 1\nscale: 1\nenabled: no\nname: x\nnested: {}\n"
    XCTAssertEqual(message("count: three\n" + base), "s.yaml:1:8: .count: expected an integer, got a string 'three'")
    XCTAssertEqual(message("count: 2.5\n" + base), "s.yaml:1:8: .count: expected an integer, got a number '2.5'")
    XCTAssertEqual(message("count: 1\n" + base.replacingOccurrences(of: "rate: 1", with: "rate: .inf")), "s.yaml:2:7: .rate: expected a number, got a string '.inf'")
    XCTAssertEqual(message("count: 1\n" + base.replacingOccurrences(of: "name: x", with: "name: 64")), "s.yaml:5:7: .name: expected a string, got an integer '64'")
    XCTAssertEqual(message("count: 1\nsizes: [1, [2], 3]\n" + base), "s.yaml:2:12: .sizes[1]: expected an integer, got a list")
    XCTAssertEqual(message("count: 1\nsizes: []\n" + base.replacingOccurrences(of: "enabled: no", with: "enabled: maybe")), "s.yaml:5:10: .enabled: expected true or false, got a string 'maybe'")
    XCTAssertEqual(message("count: 1\n" + base), "s.yaml:1:1: : missing key sizes")
  }
}
