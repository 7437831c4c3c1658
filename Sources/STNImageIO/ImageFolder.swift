import Foundation

/// An image folder laid out as `root/<class>/<image>`, like torchvision's `ImageFolder`.
///
/// - Classes are the sub-folders of `root`, sorted by name; label = index in that order.
/// - Images are files ending in .jpg, .jpeg or .png (any case). They may sit deeper inside a
///   class folder (`root/cat/2024/001.jpg` is a "cat"), which torchvision also allows.
/// - Names starting with "." (hidden files and folders) are ignored, at every level.
/// - An empty class folder is kept (so label numbering matches the folder list) and noted in
///   `warnings`; files directly under `root` are ignored with a warning.
/// - Files are not opened here: a damaged image surfaces as an error from `loadImage`.
public struct ImageFolder: ImageDataset {
  public let root: String
  public let classes: [String]
  /// Things a user should know about the layout (empty classes, stray files).
  public var warnings: [String]
  /// Paths relative to `root`, sorted by class, then by path.
  private let files: [String]
  private let labels: [Int]

  public var count: Int { files.count }

  /// Scans `root`. Throws when it is not a readable folder or holds no images at all.
  public init(root: String) throws {
    self.root = root
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory), isDirectory.boolValue else {
      throw ImageError(path: root, kind: .io, reason: "not a folder")
    }
    let entries = try Self.list(root)
    var classes: [String] = []
    var stray = 0
    for name in entries {
      if Self.isDirectory((root as NSString).appendingPathComponent(name)) {
        classes.append(name)
      } else if Self.isImageName(name) {
        stray += 1
      }
    }
    classes.sort { Array($0.unicodeScalars.map(\.value)).lexicographicallyPrecedes($1.unicodeScalars.map(\.value)) }
    var warnings: [String] = []
    if stray > 0 {
      warnings.append("\(root): ignored \(stray) image file(s) directly in the root; images belong in class folders")
    }
    var files: [String] = []
    var labels: [Int] = []
    for (label, name) in classes.enumerated() {
      var found: [String] = []
      try Self.collect(root: root, relative: name, depth: 0, into: &found)
      found.sort()
      if found.isEmpty {
        warnings.append("\((root as NSString).appendingPathComponent(name)): class folder holds no .jpg/.jpeg/.png images")
      }
      files += found
      labels += [Int](repeating: label, count: found.count)
    }
    guard !classes.isEmpty else {
      throw ImageError(path: root, kind: .io, reason: "no class folders (expected root/<class>/<image>)")
    }
    guard !files.isEmpty else {
      throw ImageError(path: root, kind: .io, reason: "no .jpg/.jpeg/.png images in any class folder")
    }
    self.classes = classes
    self.warnings = warnings
    self.files = files
    self.labels = labels
  }

  public func label(at index: Int) -> Int { labels[index] }

  public func relativePath(at index: Int) -> String { files[index] }

  public func sourcePath(at index: Int) -> String { (root as NSString).appendingPathComponent(files[index]) }

  public func loadImage(at index: Int, options: DecodeOptions) throws -> Image {
    try ImageCodec.decode(path: sourcePath(at: index), options: options)
  }

  // MARK: - Scanning

  /// True for names ending in .jpg, .jpeg or .png in any case.
  public static func isImageName(_ name: String) -> Bool {
    guard !name.hasPrefix(".") else { return false }
    let ext = (name as NSString).pathExtension.lowercased()
    return ext == "jpg" || ext == "jpeg" || ext == "png"
  }

  private static func list(_ folder: String) throws -> [String] {
    do {
      return try FileManager.default.contentsOfDirectory(atPath: folder).filter { !$0.hasPrefix(".") }
    } catch {
      throw ImageError(path: folder, kind: .io, reason: "cannot list folder: \(error.localizedDescription)")
    }
  }

  private static func isDirectory(_ path: String) -> Bool {
    var isDirectory: ObjCBool = false
    return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
  }

  /// Symlinked folders are followed; the depth bound stops symlink loops.
  private static func collect(root: String, relative: String, depth: Int, into found: inout [String]) throws {
    guard depth < 32 else { return }
    let folder = (root as NSString).appendingPathComponent(relative)
    for name in try list(folder) {
      let child = relative + "/" + name
      if isDirectory((root as NSString).appendingPathComponent(child)) {
        try collect(root: root, relative: child, depth: depth + 1, into: &found)
      } else if isImageName(name) {
        found.append(child)
      }
    }
  }
}
