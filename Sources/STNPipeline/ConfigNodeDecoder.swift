// A `Decoder` over `ConfigNode`: sections a pipeline passes through to another module (the
// `model:` list) decode straight from the YAML tree into that module's `Decodable` types,
// with errors located at the YAML node they concern.
import Foundation

/// Decodes any `Decodable` from a YAML node.
///
/// Plain scalars are typed as YAML 1.1 resolves them (and as the former YAML -> JSON detour
/// did, so `Decodable` code that tries one type and then another keeps its meaning): null (empty,
/// `null`, `~`), integer, finite number, boolean (true/false, yes/no, on/off, any case), else
/// string. A scalar decodes only as its own type, an integer also as `Double` or `Float` (a
/// `Float` is the nearest to the `Double`, as a Python float becomes float32).
///
/// A `DecodingError` becomes a `PipelineError` at the deepest node its coding path reaches (file,
/// line, column), so the message names the file, the line and the layer.
public struct ConfigNodeDecoder {
  public init() {}

  /// Decodes `type` from `node`. `describe` words a decoding error (its coding path relative to
  /// `node` included); the result is the reason of the `PipelineError` thrown.
  public func decode<T: Decodable>(_ type: T.Type, from node: ConfigNode, describe: (DecodingError) -> String) throws -> T {
    do {
      return try T(from: ConfigNodeDecoding(node: node, codingPath: []))
    } catch let error as DecodingError {
      throw ConfigNodeDecoder.node(at: ConfigNodeDecoder.codingPath(of: error), in: node).error(describe(error))
    }
  }

  /// Where a decoding error happened: its context's coding path.
  static func codingPath(of error: DecodingError) -> [CodingKey] {
    switch error {
    case .dataCorrupted(let context), .keyNotFound(_, let context), .typeMismatch(_, let context), .valueNotFound(_, let context):
      return context.codingPath
    @unknown default:
      return []
    }
  }

  /// The deepest node of `root` that `path` reaches (a missing key or index stops the walk).
  static func node(at path: [CodingKey], in root: ConfigNode) -> ConfigNode {
    var node = root
    for key in path {
      switch node.value {
      case .mapping(let pairs):
        guard let pair = pairs.first(where: { $0.key == key.stringValue }) else { return node }
        node = pair.value
      case .sequence(let items):
        guard let index = key.intValue, items.indices.contains(index) else { return node }
        node = items[index]
      case .scalar:
        return node
      }
    }
    return node
  }
}

// MARK: - The Decoder

/// The decoder handed to `init(from:)` for one node.
private struct ConfigNodeDecoding: Decoder {
  let node: ConfigNode
  let codingPath: [CodingKey]
  var userInfo: [CodingUserInfoKey: Any] { [:] }

  func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
    guard case .mapping(let pairs) = node.value else {
      throw DecodingError.typeMismatch(
        [String: Any].self, .init(codingPath: codingPath, debugDescription: "expected a mapping (key: value), got \(node.kindName)"))
    }
    return KeyedDecodingContainer(MappingContainer<Key>(pairs: pairs, codingPath: codingPath))
  }

  func unkeyedContainer() throws -> UnkeyedDecodingContainer {
    guard case .sequence(let items) = node.value else {
      throw DecodingError.typeMismatch([Any].self, .init(codingPath: codingPath, debugDescription: "expected a list, got \(node.kindName)"))
    }
    return SequenceContainer(items: items, codingPath: codingPath)
  }

  func singleValueContainer() throws -> SingleValueDecodingContainer { ScalarContainer(node: node, codingPath: codingPath) }
}

/// An index key for list items (`[3]` in coding paths).
private struct IndexKey: CodingKey {
  let intValue: Int?
  var stringValue: String { "\(intValue ?? 0)" }
  init(_ index: Int) { intValue = index }
  init?(stringValue: String) { nil }
  init?(intValue: Int) { self.intValue = intValue }
}

// MARK: - Scalars

/// What a plain scalar is, resolved from its text.
private enum ScalarType {
  case null, integer(Int), number(Double), boolean(Bool), string(String)

  init(_ node: ConfigNode, text: String) {
    if node.isNull {
      self = .null
    } else if let value = Int(text) {
      self = .integer(value)
    } else if let value = Double(text), value.isFinite {
      self = .number(value)
    } else {
      switch text.lowercased() {
      case "true", "yes", "on": self = .boolean(true)
      case "false", "no", "off": self = .boolean(false)
      default: self = .string(text)
      }
    }
  }

  var name: String {
    switch self {
    case .null: return "null"
    case .integer: return "an integer"
    case .number: return "a number"
    case .boolean: return "a boolean"
    case .string: return "a string"
    }
  }
}

/// One node read as a single value.
private struct ScalarContainer: SingleValueDecodingContainer {
  let node: ConfigNode
  let codingPath: [CodingKey]

  func decodeNil() -> Bool { node.isNull }

  /// The scalar's type, or a type mismatch for a list or mapping.
  private func scalar<T>(_ type: T.Type, expected: String) throws -> ScalarType {
    guard case .scalar(let text) = node.value else {
      throw DecodingError.typeMismatch(type, .init(codingPath: codingPath, debugDescription: "expected \(expected), got \(node.kindName)"))
    }
    let scalar = ScalarType(node, text: text)
    if case .null = scalar {
      throw DecodingError.valueNotFound(type, .init(codingPath: codingPath, debugDescription: "expected \(expected), got null"))
    }
    return scalar
  }

  private func mismatch<T>(_ type: T.Type, _ expected: String, _ scalar: ScalarType) -> DecodingError {
    DecodingError.typeMismatch(type, .init(codingPath: codingPath, debugDescription: "expected \(expected), got \(scalar.name) '\(node.description)'"))
  }

  func decode(_ type: String.Type) throws -> String {
    let scalar = try scalar(type, expected: "a string")
    guard case .string(let text) = scalar else { throw mismatch(type, "a string", scalar) }
    return text
  }

  func decode(_ type: Bool.Type) throws -> Bool {
    let scalar = try scalar(type, expected: "true or false")
    guard case .boolean(let value) = scalar else { throw mismatch(type, "true or false", scalar) }
    return value
  }

  func decode(_ type: Double.Type) throws -> Double {
    switch try scalar(type, expected: "a number") {
    case .integer(let value): return Double(value)
    case .number(let value): return value
    case let other: throw mismatch(type, "a number", other)
    }
  }

  func decode(_ type: Float.Type) throws -> Float {
    let value = Float(try decode(Double.self))
    guard value.isFinite else { throw mismatch(type, "a number within float range", ScalarType(node, text: node.description)) }
    return value
  }

  func decode<T: FixedWidthInteger>(integer type: T.Type) throws -> T {
    let scalar = try scalar(type, expected: "an integer")
    guard case .integer(let value) = scalar, let exact = T(exactly: value) else { throw mismatch(type, "an integer", scalar) }
    return exact
  }

  func decode(_ type: Int.Type) throws -> Int { try decode(integer: type) }
  func decode(_ type: Int8.Type) throws -> Int8 { try decode(integer: type) }
  func decode(_ type: Int16.Type) throws -> Int16 { try decode(integer: type) }
  func decode(_ type: Int32.Type) throws -> Int32 { try decode(integer: type) }
  func decode(_ type: Int64.Type) throws -> Int64 { try decode(integer: type) }
  func decode(_ type: UInt.Type) throws -> UInt { try decode(integer: type) }
  func decode(_ type: UInt8.Type) throws -> UInt8 { try decode(integer: type) }
  func decode(_ type: UInt16.Type) throws -> UInt16 { try decode(integer: type) }
  func decode(_ type: UInt32.Type) throws -> UInt32 { try decode(integer: type) }
  func decode(_ type: UInt64.Type) throws -> UInt64 { try decode(integer: type) }

  func decode<T: Decodable>(_ type: T.Type) throws -> T { try T(from: ConfigNodeDecoding(node: node, codingPath: codingPath)) }
}

// MARK: - Mappings

/// A mapping's keys, in file order.
private struct MappingContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
  let pairs: [(key: String, keyNode: ConfigNode, value: ConfigNode)]
  let codingPath: [CodingKey]

  var allKeys: [Key] { pairs.compactMap { Key(stringValue: $0.key) } }

  func contains(_ key: Key) -> Bool { pairs.contains { $0.key == key.stringValue } }

  /// The decoder of the value under `key`.
  private func decoder(for key: Key) throws -> ConfigNodeDecoding {
    guard let pair = pairs.first(where: { $0.key == key.stringValue }) else {
      throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "missing key \(key.stringValue)"))
    }
    return ConfigNodeDecoding(node: pair.value, codingPath: codingPath + [key])
  }

  func decodeNil(forKey key: Key) throws -> Bool { try decoder(for: key).node.isNull }

  func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try T(from: decoder(for: key)) }

  func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
    try decoder(for: key).container(keyedBy: type)
  }

  func nestedUnkeyedContainer(forKey key: Key) throws -> UnkeyedDecodingContainer { try decoder(for: key).unkeyedContainer() }

  func superDecoder() throws -> Decoder {
    throw DecodingError.dataCorrupted(.init(codingPath: codingPath, debugDescription: "super decoders are not supported"))
  }

  func superDecoder(forKey key: Key) throws -> Decoder { try decoder(for: key) }
}

// MARK: - Lists

/// A list's items, read in order.
private struct SequenceContainer: UnkeyedDecodingContainer {
  let items: [ConfigNode]
  let codingPath: [CodingKey]
  private(set) var currentIndex = 0

  init(items: [ConfigNode], codingPath: [CodingKey]) {
    self.items = items
    self.codingPath = codingPath
  }

  var count: Int? { items.count }
  var isAtEnd: Bool { currentIndex >= items.count }

  /// The decoder of the next item (advancing past it).
  private mutating func next<T>(_ type: T.Type) throws -> ConfigNodeDecoding {
    guard !isAtEnd else {
      throw DecodingError.valueNotFound(type, .init(codingPath: codingPath + [IndexKey(currentIndex)], debugDescription: "the list has no item \(currentIndex)"))
    }
    defer { currentIndex += 1 }
    return ConfigNodeDecoding(node: items[currentIndex], codingPath: codingPath + [IndexKey(currentIndex)])
  }

  mutating func decodeNil() throws -> Bool {
    guard !isAtEnd, items[currentIndex].isNull else { return false }
    currentIndex += 1
    return true
  }

  mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try T(from: next(type)) }

  mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
    try next(type).container(keyedBy: type)
  }

  mutating func nestedUnkeyedContainer() throws -> UnkeyedDecodingContainer { try next([Any].self).unkeyedContainer() }

  mutating func superDecoder() throws -> Decoder { try next(Any.self) }
}
