import Foundation
import STNNetwork

/// A `--tensorboard-layers` value that does not parse or names no layer of the model.
public struct LayerSelectionError: Error, CustomStringConvertible, Equatable, Sendable {
  public var reason: String
  public init(_ reason: String) { self.reason = reason }
  public var description: String { "--tensorboard-layers: " + reason }
}

/// Which layers' outputs `stn train` writes to TensorBoard every epoch
/// (`--tensorboard-layers all|none|LIST`).
///
/// A LIST is comma-separated items, each one of:
/// - an index (`3`, `03`, `0.2`, `00.02`): the layer at that position of the `model:` list, or
///   localization layer j of the transformer at i (`LayerEntry`'s index scheme);
/// - a kind as the YAML names it (`conv2d`, `relu`, `spatial_transformer`, ...): every layer of
///   that kind, localization layers included;
/// - `input`: the fixed samples themselves.
/// Every item must select something in the model, so a typo is an error before training.
public enum LayerSelection: Equatable, Sendable {
  /// The default: `all` when the `model:` list has at most `automaticLimit` entries
  /// (localization layers not counted), else `none`.
  case automatic
  case all
  case none
  case list([Item])

  /// One item of a LIST.
  public enum Item: Equatable, Sendable {
    case position([Int])
    case kind(String)
  }

  /// The largest `model:` list that gets every layer's images by default.
  public static let automaticLimit = 20

  /// Parses the flag's text (case-insensitive; spaces around items are ignored).
  public init(parsing text: String) throws {
    let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
    switch trimmed {
    case "all": self = .all
    case "none": self = .none
    default:
      let items = trimmed.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
      self = .list(try items.map(LayerSelection.item))
    }
  }

  private static func item(_ text: String) throws -> Item {
    guard !text.isEmpty else { throw LayerSelectionError("empty item in the list (expected all, none, or items like 3,0.2,conv2d,input)") }
    if let first = text.unicodeScalars.first, CharacterSet.decimalDigits.contains(first) {
      let parts = text.split(separator: ".", omittingEmptySubsequences: false)
      let numbers = parts.map { part in !part.isEmpty && part.allSatisfy({ ("0"..."9").contains($0) }) ? Int(part) : nil }
      guard parts.count <= 2, numbers.allSatisfy({ ($0 ?? -1) >= 0 }) else {
        throw LayerSelectionError("'\(text)' is not a layer index (an index is 3 or 0.2: a position in the model: list, then in its transformer's localization list)")
      }
      return .position(numbers.compactMap { $0 })
    }
    guard text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
      throw LayerSelectionError("'\(text)' is neither a layer index (3, 0.2) nor a layer kind (conv2d, relu, ...)")
    }
    return .kind(text)
  }

  /// The rows of `model.layerTable` this selection picks, in table order. Throws naming an item
  /// that selects nothing (and what the model has).
  public func entries(of model: Model) throws -> [LayerEntry] {
    let table = model.layerTable
    switch self {
    case .all: return table
    case .none: return []
    case .automatic: return model.spec.layers.count <= LayerSelection.automaticLimit ? table : []
    case .list(let items):
      for item in items {
        switch item {
        case .position(let position) where !table.contains { $0.position == position }:
          let indices = table.filter { !$0.position.isEmpty }.map(\.index)
          throw LayerSelectionError("no layer \(position.map(String.init).joined(separator: ".")) in this model (its indices: \(indices.joined(separator: " ")))")
        case .kind(let kind) where !table.contains { $0.kind == kind }:
          var kinds: [String] = []
          for entry in table where !kinds.contains(entry.kind) { kinds.append(entry.kind) }
          throw LayerSelectionError("this model has no layer of kind '\(kind)' (its kinds: \(kinds.joined(separator: ", ")))")
        default: continue
        }
      }
      return table.filter { entry in
        items.contains { item in
          switch item {
          case .position(let position): return entry.position == position
          case .kind(let kind): return entry.kind == kind
          }
        }
      }
    }
  }
}
