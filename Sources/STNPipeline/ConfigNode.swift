// NOTE: CYaml is Yams' copy of libyaml; its event API (which Yams keeps internal) lets the limits
// below be checked before Yams builds anything.
import CYaml
import Yams

// MARK: - Errors

/// A pipeline-file problem, naming the file, the line and column (1-based) and the reason.
public struct PipelineError: Error, CustomStringConvertible, Equatable, Sendable {
  /// The pipeline file (or `<string>` for text parsed from memory).
  public var file: String
  /// 1-based line of the offending node; 0 when the problem is not tied to a line.
  public var line: Int
  /// 1-based column; 0 when unknown.
  public var column: Int
  /// What is wrong, in words a user can act on.
  public var reason: String

  public init(file: String, line: Int, column: Int = 0, reason: String) {
    self.file = file
    self.line = line
    self.column = column
    self.reason = reason
  }

  public var description: String {
    if line <= 0 { return "\(file): \(reason)" }
    return column > 0 ? "\(file):\(line):\(column): \(reason)" : "\(file):\(line): \(reason)"
  }
}

// MARK: - Nodes

/// One node of a parsed YAML document with its position, independent of the YAML library so
/// modules that read pass-through sections (`model:`, `train:`) need not import Yams.
public struct ConfigNode: Sendable, CustomStringConvertible {
  /// The node's content: a scalar's text, a sequence, or a mapping in file order.
  public enum Value: Sendable {
    case scalar(String)
    case sequence([ConfigNode])
    case mapping([(key: String, keyNode: ConfigNode, value: ConfigNode)])
  }

  public var value: Value
  /// The file the node came from, for error messages.
  public var file: String
  /// 1-based line and column.
  public var line: Int
  public var column: Int

  public init(value: Value, file: String, line: Int, column: Int) {
    self.value = value
    self.file = file
    self.line = line
    self.column = column
  }

  /// A `PipelineError` located at this node.
  public func error(_ reason: String) -> PipelineError {
    PipelineError(file: file, line: line, column: column, reason: reason)
  }

  public var description: String {
    switch value {
    case .scalar(let text): return text
    case .sequence(let items): return "[" + items.map(\.description).joined(separator: ", ") + "]"
    case .mapping(let pairs): return "{" + pairs.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + "}"
    }
  }

  // MARK: Conversion from Yams

  /// Parses YAML text into a node tree; syntax errors, duplicate keys and documents over the
  /// limits (`maxBytes`, `maxDepth`, `maxNodes`) become `PipelineError`s.
  /// An empty document gives an empty mapping.
  public static func parse(yaml: String, file: String) throws -> ConfigNode {
    try checkLimits(yaml, file: file)
    let root: Node?
    do {
      root = try Yams.compose(yaml: yaml)
    } catch let error as YamlError {
      throw PipelineError(file: file, line: yamlErrorLine(error), reason: "YAML syntax error: \(yamlErrorProblem(error))")
    } catch {
      throw PipelineError(file: file, line: 0, reason: "YAML syntax error: \(error)")
    }
    guard let root else { return ConfigNode(value: .mapping([]), file: file, line: 1, column: 1) }
    return try convert(root, file: file)
  }

  // MARK: Limits (a pipeline file is untrusted input)

  /// Largest YAML text accepted, in bytes (pipeline files are a few KB).
  public static let maxBytes = 1 << 20
  /// Deepest nesting of sequences and mappings accepted (pipeline files need about 8).
  public static let maxDepth = 64
  /// Most nodes a document may have once every alias is expanded (pipeline files have hundreds).
  public static let maxNodes = 100_000

  /// Rejects text over `maxBytes`, nesting deeper than `maxDepth`, and documents whose aliases
  /// expand to more than `maxNodes` nodes ("billion laughs"), from libyaml's event stream,
  /// before Yams builds the tree (whose recursion a deep file would overflow) and before
  /// `convert` expands the aliases (which share storage in Yams' nodes, so expansion is where
  /// such a file explodes). The expanded size is counted exactly: an alias adds the node count
  /// its anchor had when it was defined. Syntax errors are left to `Yams.compose` to report.
  static func checkLimits(_ yaml: String, file: String) throws {
    var bytes = Array(yaml.utf8)
    guard bytes.count <= maxBytes else {
      throw PipelineError(file: file, line: 0, reason: "the pipeline file is larger than \(maxBytes / 1024) KiB; pipeline files are small YAML documents")
    }
    if bytes.isEmpty { return }
    // NOTE: libyaml keeps a pointer to the parser inside the parser (its string reader's
    // context), so the parser needs an address that stays put: `&localVariable` is only valid
    // for the duration of one call.
    let parser = UnsafeMutablePointer<yaml_parser_t>.allocate(capacity: 1)
    parser.initialize(to: yaml_parser_t())
    defer { parser.deallocate() }
    guard yaml_parser_initialize(parser) == 1 else { throw PipelineError(file: file, line: 0, reason: "cannot start the YAML parser (out of memory)") }
    defer { yaml_parser_delete(parser) }
    try bytes.withUnsafeMutableBufferPointer { buffer in
      yaml_parser_set_encoding(parser, YAML_UTF8_ENCODING)
      yaml_parser_set_input_string(parser, buffer.baseAddress, buffer.count)
      var anchorSizes: [String: Int] = [:]
      // Open collections: the node count when each began, and its anchor.
      var open: [(countAtStart: Int, anchor: String?)] = []
      var count = 0
      while true {
        var event = yaml_event_t()
        guard yaml_parser_parse(parser, &event) == 1 else { return }
        defer { yaml_event_delete(&event) }
        let line = Int(event.start_mark.line) + 1
        switch event.type {
        case YAML_STREAM_END_EVENT:
          return
        case YAML_SCALAR_EVENT:
          count += 1
          if let anchor = anchorName(event.data.scalar.anchor) { anchorSizes[anchor] = 1 }
        case YAML_ALIAS_EVENT:
          count += anchorName(event.data.alias.anchor).flatMap { anchorSizes[$0] } ?? 1
        case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
          let anchor = anchorName(event.type == YAML_SEQUENCE_START_EVENT ? event.data.sequence_start.anchor : event.data.mapping_start.anchor)
          open.append((count, anchor))
          count += 1
          guard open.count <= maxDepth else {
            throw PipelineError(file: file, line: line, reason: "the YAML nests deeper than \(maxDepth) levels; pipeline files need only a few")
          }
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
          if let collection = open.popLast(), let anchor = collection.anchor { anchorSizes[anchor] = count - collection.countAtStart }
        default:
          break
        }
        guard count <= maxNodes else {
          throw PipelineError(file: file, line: line, reason: "the YAML's aliases expand to more than \(maxNodes) values; pipeline files need only hundreds (anchors may be reused, not multiplied)")
        }
      }
    }
  }

  private static func anchorName(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
    pointer.map { String(cString: $0) }
  }

  private static func convert(_ node: Node, file: String) throws -> ConfigNode {
    let line = node.mark?.line ?? 0, column = node.mark?.column ?? 0
    switch node {
    case .scalar(let scalar):
      return ConfigNode(value: .scalar(scalar.string), file: file, line: line, column: column)
    case .sequence(let sequence):
      return ConfigNode(value: .sequence(try sequence.map { try convert($0, file: file) }), file: file, line: line, column: column)
    case .mapping(let mapping):
      var pairs: [(key: String, keyNode: ConfigNode, value: ConfigNode)] = []
      for (key, value) in mapping {
        let keyNode = try convert(key, file: file)
        guard case .scalar(let name) = keyNode.value else { throw keyNode.error("mapping keys must be plain names") }
        if let first = pairs.first(where: { $0.key == name }) {
          throw keyNode.error("duplicate key '\(name)' (first given on line \(first.keyNode.line))")
        }
        pairs.append((name, keyNode, try convert(value, file: file)))
      }
      return ConfigNode(value: .mapping(pairs), file: file, line: line, column: column)
    }
  }

  private static func yamlErrorLine(_ error: YamlError) -> Int {
    switch error {
    case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): return mark.line
    default: return 0
    }
  }

  private static func yamlErrorProblem(_ error: YamlError) -> String {
    switch error {
    case .scanner(let context, let problem, _, _), .parser(let context, let problem, _, _), .composer(let context, let problem, _, _):
      return [context?.text, problem].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ": ")
    default:
      return "\(error)"
    }
  }

  // MARK: Typed access (errors name the node's line)

  /// Scalar text, or an error if the node is a sequence or mapping.
  public func string(_ what: String) throws -> String {
    guard case .scalar(let text) = value else { throw error("\(what) must be a single value, not \(kindName)") }
    return text
  }

  /// A finite number.
  public func double(_ what: String) throws -> Double {
    let text = try string(what)
    guard let number = Double(text.trimmingCharacters(in: .whitespaces)), number.isFinite else {
      throw error("\(what) must be a number, got '\(text)'")
    }
    return number
  }

  /// An integer.
  public func int(_ what: String) throws -> Int {
    let text = try string(what)
    guard let number = Int(text.trimmingCharacters(in: .whitespaces)) else { throw error("\(what) must be an integer, got '\(text)'") }
    return number
  }

  /// `true`/`false` (YAML 1.1 spellings yes/no/on/off accepted).
  public func bool(_ what: String) throws -> Bool {
    switch try string(what).lowercased() {
    case "true", "yes", "on": return true
    case "false", "no", "off": return false
    default: throw error("\(what) must be true or false, got '\(description)'")
    }
  }

  /// The items of a sequence.
  public func sequence(_ what: String) throws -> [ConfigNode] {
    guard case .sequence(let items) = value else { throw error("\(what) must be a list, not \(kindName)") }
    return items
  }

  /// A reader over a mapping that rejects unknown keys when finished.
  public func mapping(_ what: String) throws -> MappingReader {
    guard case .mapping(let pairs) = value else { throw error("\(what) must be a mapping (key: value), not \(kindName)") }
    return MappingReader(node: self, pairs: pairs, what: what)
  }

  /// True for an empty scalar or `null`/`~`.
  public var isNull: Bool {
    if case .scalar(let text) = value { return text.isEmpty || text == "null" || text == "~" || text == "Null" || text == "NULL" }
    return false
  }

  var kindName: String {
    switch value {
    case .scalar: return "a single value"
    case .sequence: return "a list"
    case .mapping: return "a mapping"
    }
  }
}

import Foundation

/// Reads the keys of one mapping, remembering which were used, so `finish()` can reject the
/// unknown ones with their line numbers.
public struct MappingReader {
  public let node: ConfigNode
  let pairs: [(key: String, keyNode: ConfigNode, value: ConfigNode)]
  let what: String
  private var used: Set<String> = []

  init(node: ConfigNode, pairs: [(key: String, keyNode: ConfigNode, value: ConfigNode)], what: String) {
    self.node = node
    self.pairs = pairs
    self.what = what
  }

  /// The keys, in file order.
  public var keys: [String] { pairs.map(\.key) }

  /// The value for `key` (marking it used), or nil when absent.
  public mutating func optional(_ key: String) -> ConfigNode? {
    used.insert(key)
    return pairs.first(where: { $0.key == key })?.value
  }

  /// The value for `key`, or an error naming the mapping's line (and a present key that looks
  /// like a misspelling of it: at most 2 letters changed, added or dropped).
  public mutating func required(_ key: String) throws -> ConfigNode {
    guard let value = optional(key) else {
      if let near = pairs.first(where: { !used.contains($0.key) && MappingReader.editDistance($0.key, key) <= 2 }) {
        throw near.keyNode.error("\(what) needs '\(key)'; is '\(near.key)' a misspelling of it?")
      }
      throw node.error("\(what) needs '\(key)'")
    }
    return value
  }

  /// Levenshtein distance between two short keys.
  static func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    guard !a.isEmpty, !b.isEmpty else { return a.count + b.count }
    var previous = Array(0...b.count)
    for i in 1...a.count {
      var row = [i] + [Int](repeating: 0, count: b.count)
      for j in 1...b.count {
        row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
      }
      previous = row
    }
    return previous[b.count]
  }

  /// Rejects keys that were never asked for, listing the accepted ones.
  public func finish(known: [String]? = nil) throws {
    for pair in pairs where !used.contains(pair.key) {
      let accepted = (known ?? Array(used)).sorted().joined(separator: ", ")
      throw pair.keyNode.error("unknown key '\(pair.key)' in \(what) (accepted: \(accepted))")
    }
  }
}
