import Foundation
import STNImageIO

/// Every image file under a folder, recursively (hidden entries skipped, extensions matched
/// case-insensitively), in sorted path order. The class of a file is its top-level folder
/// (files directly in the root have class "."), so an ImageFolder layout keeps its labels while
/// any other tree can still be converted and mirrored.
public struct ImageTree: ImageDataset {
  public let root: String
  public let classes: [String]
  private let files: [String]
  private let labels: [Int]

  /// File extensions read (lowercase).
  public static let extensions: Set<String> = ["jpg", "jpeg", "jpe", "jfif", "png"]

  public init(root: String) throws {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory), isDirectory.boolValue else {
      throw SampleError(path: root, reason: "not a folder")
    }
    self.root = root
    var found: [String] = []
    ImageTree.walk(root: root, relative: "", into: &found)
    found.sort()
    files = found
    var classNames: [String] = []
    var labels: [Int] = []
    var classIndex: [String: Int] = [:]
    let tops = Set(found.map { ImageTree.topFolder($0) }).sorted()
    for name in tops {
      classIndex[name] = classNames.count
      classNames.append(name)
    }
    for file in found { labels.append(classIndex[ImageTree.topFolder(file)] ?? 0) }
    self.classes = classNames
    self.labels = labels
  }

  private static func topFolder(_ relative: String) -> String {
    let parts = relative.split(separator: "/")
    return parts.count > 1 ? String(parts[0]) : "."
  }

  private static func walk(root: String, relative: String, into found: inout [String]) {
    let folder = relative.isEmpty ? root : root + "/" + relative
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return }
    for name in names where !name.hasPrefix(".") {
      let path = folder + "/" + name
      let child = relative.isEmpty ? name : relative + "/" + name
      var isDirectory: ObjCBool = false
      guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { continue }
      if isDirectory.boolValue {
        walk(root: root, relative: child, into: &found)
      } else if extensions.contains((name as NSString).pathExtension.lowercased()) {
        found.append(child)
      }
    }
  }

  public var count: Int { files.count }
  public func label(at index: Int) -> Int { labels[index] }
  public func relativePath(at index: Int) -> String { files[index] }
  public func sourcePath(at index: Int) -> String { root + "/" + files[index] }
  public func loadImage(at index: Int, options: DecodeOptions) throws -> Image {
    try ImageCodec.decode(path: sourcePath(at: index), options: options)
  }
}

extension PipelineConfig {
  /// Opens the pipeline's `source:` (an image folder or IDX files).
  public func openSource() throws -> any ImageDataset {
    switch source {
    case .imageFolder(let path)?:
      return try ImageFolder(root: path)
    case .idx(let folder, let split)?:
      return try IDXDataset.locate(folder: folder, split: split)
    case nil:
      throw PipelineError(file: path, line: 0, reason: "the pipeline has no 'source:'; give the data with --input")
    }
  }
}

extension PipelineConfig {
  /// The folder the pipeline's `source:` reads (for refusing writes into it).
  public var sourceFolder: String? {
    switch source {
    case .imageFolder(let path)?: return path
    case .idx(let folder, _)?: return folder
    case nil: return nil
    }
  }

  /// Throws, at the stage's line, when a `learned_affine` stage needs a model `what` cannot load.
  public func rejectLearnedStage(what: String) throws {
    if let entry = stages.first(where: { if case .learnedAffine = $0.stage { return true } else { return false } }) {
      throw PipelineError(file: path, line: entry.line, reason: "learned_affine needs a trained model, which \(what) cannot load yet")
    }
  }
}

/// A view of some entries of another dataset, in the given order (validation splits, k-fold
/// cross-validation, benchmarks on a prefix).
public struct DatasetSubset: ImageDataset {
  public let base: any ImageDataset
  /// Base-dataset index of each entry of the subset.
  public let indices: [Int]

  public init(base: any ImageDataset, indices: [Int]) {
    precondition(indices.allSatisfy { $0 >= 0 && $0 < base.count }, "subset index out of range")
    self.base = base
    self.indices = indices
  }

  public var count: Int { indices.count }
  public var classes: [String] { base.classes }
  public func label(at index: Int) -> Int { base.label(at: indices[index]) }
  public func relativePath(at index: Int) -> String { base.relativePath(at: indices[index]) }
  public func sourcePath(at index: Int) -> String { base.sourcePath(at: indices[index]) }
  public func loadImage(at index: Int, options: DecodeOptions) throws -> Image { try base.loadImage(at: indices[index], options: options) }
}
