import Foundation
import STNFiles

/// A labelled image source the pipeline reads from (random access, thread-safe reads).
public protocol ImageDataset: Sendable {
  /// Number of images.
  var count: Int { get }
  /// Class names; `label(at:)` indexes into them.
  var classes: [String] { get }
  func label(at index: Int) -> Int
  /// Relative path used to mirror the input tree on output (e.g. "cat/001.jpg", or
  /// "3/000123.png" for IDX).
  func relativePath(at index: Int) -> String
  /// Source file path for error messages (for IDX: the IDX file).
  func sourcePath(at index: Int) -> String
  func loadImage(at index: Int, options: DecodeOptions) throws -> Image
  /// Files found beside the samples that are not samples (unsupported image formats), each
  /// with the reason, so commands count and name them as skipped.
  var notSamples: [FileError] { get }
}

extension ImageDataset {
  public var notSamples: [FileError] { [] }
}

/// A view of some entries of another dataset, in the given order (validation splits, folds,
/// `--limit`, benchmarks on a prefix), optionally relabelled (image-folder classes matched to a
/// checkpoint's class list). The one subset type.
public struct DatasetSubset: ImageDataset {
  public let base: any ImageDataset
  /// Base-dataset index of each entry of the subset.
  public let indices: [Int]
  /// Base label -> reported label (nil: unchanged).
  public let labelMap: [Int]?
  public let classes: [String]

  /// Out-of-range indices are dropped (callers compute them; a user never gives them).
  public init(base: any ImageDataset, indices: [Int], labelMap: [Int]? = nil, classes: [String]? = nil) {
    self.base = base
    self.indices = indices.filter { $0 >= 0 && $0 < base.count }
    self.labelMap = labelMap
    self.classes = classes ?? base.classes
  }

  public var count: Int { indices.count }
  public func label(at index: Int) -> Int {
    let label = base.label(at: indices[index])
    guard let labelMap, label >= 0, label < labelMap.count else { return label }
    return labelMap[label]
  }
  public func relativePath(at index: Int) -> String { base.relativePath(at: indices[index]) }
  public func sourcePath(at index: Int) -> String { base.sourcePath(at: indices[index]) }
  public func loadImage(at index: Int, options: DecodeOptions) throws -> Image { try base.loadImage(at: indices[index], options: options) }
  public var notSamples: [FileError] { base.notSamples }
}

/// Opening data named on the command line or in a pipeline's `source:`: the one `open`.
public enum ImageDatasets {
  /// Opens `path`: an IDX image file (`*-images-idx3-ubyte[.gz]`, labels beside it), a folder
  /// of IDX files (the `split`: "train" or "test"), or an image folder (`ImageFolder` rules).
  /// `classNames` names the classes (IDX labels 0, 1, ...; or the order of image-folder classes).
  ///
  /// `splitGiven`: the split was asked for (a `--split` flag), not a default. Then data it cannot
  /// apply to is an error instead of being read whole: an image folder, or an IDX file of the
  /// other split (`t10k-images-idx3-ubyte` with "train").
  public static func open(
    _ path: String, split: String = "train", splitGiven: Bool = false, classNames: [String]? = nil
  ) throws -> any ImageDataset {
    var isFolder: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
      throw ImageError(path: path, kind: .io, reason: "no such file or folder")
    }
    if !isFolder.boolValue {
      let name = (path as NSString).lastPathComponent
      guard name.contains("images-idx3") else {
        throw ImageError(path: path, kind: .invalidArgument, reason: "expected a folder, or an IDX image file (*-images-idx3-ubyte[.gz])")
      }
      if splitGiven, let own = IDXDataset.splitNamed(by: name), own != IDXDataset.canonicalSplit(split) {
        throw ImageError(
          path: path, kind: .invalidArgument,
          reason: "this is the \(own) split's file, but the \(split) split was asked for (name the folder to choose a split)")
      }
      let labels = OutputLocation.joined(OutputLocation.parentFolder(path), name.replacingOccurrences(of: "images-idx3", with: "labels-idx1"))
      var dataset = try IDXDataset(images: path, labels: FileManager.default.fileExists(atPath: labels) ? labels : nil)
      if let classNames { try dataset.name(classes: classNames) }
      return dataset
    }
    let scan = try FolderScan(root: path)
    if scan.images.isEmpty && !scan.idxFiles.isEmpty {
      var dataset = try IDXDataset.locate(folder: path, split: split)
      if let classNames { try dataset.name(classes: classNames) }
      return dataset
    }
    if splitGiven {
      throw ImageError(
        path: path, kind: .invalidArgument,
        reason: "the \(split) split was asked for, but this is an image folder: a split picks the train or t10k files of a folder of IDX files")
    }
    return try ImageFolder(scan: scan, classes: classNames)
  }
}
