import Foundation
import STNFiles

/// An image folder: the one scanner every command uses (`info`, `augment`, `train`, `eval`,
/// `export`, the benchmarks), so a folder gives the same classes and sample order everywhere.
///
/// Rules (README, "Image folders"):
/// - Images are files ending in .jpg, .jpeg, .jpe, .jfif or .png, in any case.
/// - Each sub-folder of `root` is a class (sorted by Unicode code points, like Python's
///   `sorted`; label = index in that order), as in torchvision's `ImageFolder`. Images may sit
///   deeper inside a class folder (`root/cat/2024/001.jpg` is a "cat").
/// - Images directly in `root` form the class "." (listed first), so a flat folder of pictures
///   can be augmented or inspected; `stn train` names such a class in its summary.
/// - Names starting with "." (hidden files and folders) are ignored at every level.
/// - Symbolic links are followed; a link back to a folder being walked (a loop) is skipped
///   with a warning, and nesting stops at `maxDepth`.
/// - Files of other image formats (.bmp, .gif, .webp, .tif, ...) are not samples; they are
///   listed in `unsupported` so commands count and name them as skipped, never silently.
/// - IDX files (`*-ubyte`, `*-ubyte.gz`) are listed in `idxFiles`; `ImageDatasets.open`
///   reads a folder of them as an IDX dataset.
/// - An empty class folder is kept (so labels match the folder list) and noted in `warnings`.
/// - With `classes:` given, labels follow that list; each class folder must be named after an
///   entry (or its `folderName(forClass:)` spelling).
/// - Files are not opened here: a damaged image surfaces as an error from `loadImage`.
public struct ImageFolder: ImageDataset {
  public let root: String
  public let classes: [String]
  /// Things a user should know about the layout (empty classes, loops).
  public let warnings: [String]
  /// Files of image formats this tool does not read, with the reason.
  public let unsupported: [FileError]
  /// IDX files found while walking (paths).
  public let idxFiles: [String]
  /// Paths relative to `root`, sorted by class, then as torchvision sorts them (`samplePrecedes`).
  private let files: [String]
  private let labels: [Int]

  /// Image file extensions read (lowercase).
  public static let imageExtensions: Set<String> = ["jpg", "jpeg", "jpe", "jfif", "png"]
  /// Extensions of image formats recognised but not read (counted as skipped).
  public static let unsupportedExtensions: Set<String> = [
    "bmp", "dib", "gif", "webp", "tif", "tiff", "heic", "heif", "avif", "jxl", "jp2", "j2k", "ppm", "pgm", "pbm", "pnm",
    "ico", "tga", "psd", "svg", "exr", "hdr", "dng", "cr2", "nef", "arw",
  ]
  /// Deepest nesting followed below `root`.
  public static let maxDepth = 64
  /// The class of images lying directly in `root`.
  public static let rootClass = "."

  public var count: Int { files.count }

  /// Scans `root`. Throws when it is not a readable folder or holds no images.
  public init(root: String, classes names: [String]? = nil) throws {
    try self.init(scan: FolderScan(root: root), classes: names)
  }

  /// The dataset of a finished scan (see `init(root:classes:)`).
  public init(scan: FolderScan, classes names: [String]? = nil) throws {
    let root = scan.root
    guard !scan.images.isEmpty else {
      var reason = "no images (.jpg, .jpeg, .jpe, .jfif, .png) in this folder or its sub-folders"
      if !scan.idxFiles.isEmpty { reason += "; it holds IDX files (\((scan.idxFiles[0] as NSString).lastPathComponent)): open the folder itself as IDX data" }
      if let first = scan.unsupported.first { reason += "; \(scan.unsupported.count) file(s) of unsupported formats, e.g. \(first.path)" }
      throw ImageError(path: root, kind: .io, reason: reason)
    }
    self.root = root
    var warnings = scan.warnings
    let folders = scan.classFolders
    var classes: [String]
    var labelOfFolder: [String: Int] = [:]
    if let names {
      classes = names
      var unknown: [String] = []
      for folder in folders + (scan.images.contains { $0.classFolder == nil } ? [ImageFolder.rootClass] : []) {
        if let label = names.firstIndex(where: { $0 == folder || ImageFolder.folderName(forClass: $0) == folder }) {
          labelOfFolder[folder] = label
        } else {
          unknown.append(folder)
        }
      }
      guard unknown.isEmpty else {
        throw ImageError(path: root, kind: .invalidArgument, reason: "class folders not in the class list: \(unknown.joined(separator: ", ")) (classes: \(names.joined(separator: ", ")))")
      }
    } else {
      classes = folders
      if scan.images.contains(where: { $0.classFolder == nil }) { classes.insert(ImageFolder.rootClass, at: 0) }
      for (label, name) in classes.enumerated() { labelOfFolder[name] = label }
    }
    for folder in folders where !scan.images.contains(where: { $0.classFolder == folder }) {
      warnings.append("\(root)/\(folder): class folder holds no .jpg/.jpeg/.jpe/.jfif/.png images")
    }
    let ordered = scan.images
      .map { (label: labelOfFolder[$0.classFolder ?? ImageFolder.rootClass] ?? 0, path: $0.relativePath) }
      .sorted { $0.label != $1.label ? $0.label < $1.label : ImageFolder.samplePrecedes($0.path, $1.path) }
    self.classes = classes
    self.warnings = warnings
    self.unsupported = scan.unsupported
    self.idxFiles = scan.idxFiles
    self.files = ordered.map(\.path)
    self.labels = ordered.map(\.label)
  }

  public func label(at index: Int) -> Int { labels[index] }

  public func relativePath(at index: Int) -> String { files[index] }

  public func sourcePath(at index: Int) -> String { root + "/" + files[index] }

  public func loadImage(at index: Int, options: DecodeOptions) throws -> Image {
    try ImageCodec.decode(path: sourcePath(at: index), options: options)
  }

  public var notSamples: [FileError] { unsupported }

  // MARK: - Names

  /// True for names this tool reads as images (.jpg, .jpeg, .jpe, .jfif, .png, any case).
  public static func isImageName(_ name: String) -> Bool {
    !name.hasPrefix(".") && imageExtensions.contains((name as NSString).pathExtension.lowercased())
  }

  /// True for IDX file names (`*-ubyte`, `*-ubyte.gz`).
  public static func isIDXName(_ name: String) -> Bool {
    let lower = name.lowercased()
    return !name.hasPrefix(".") && (lower.hasSuffix("-ubyte") || lower.hasSuffix("-ubyte.gz"))
  }

  /// The folder name a class is written to (`stn augment` of IDX data): "/" and NUL become
  /// "_", and a name that would be hidden or special (".", "..", ".x") gets a leading "_".
  public static func folderName(forClass name: String) -> String {
    var folder = String(name.map { $0 == "/" || $0 == "\0" ? "_" : $0 })
    if folder.isEmpty || folder.hasPrefix(".") { folder = "_" + folder }
    return folder
  }

  /// Code-point order (Python's `sorted`), independent of locale and Unicode normalization.
  static func precedes(_ a: String, _ b: String) -> Bool {
    a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars) { $0.value < $1.value }
  }

  /// Sample order within a class, torchvision's `make_dataset`: folders in code-point order
  /// (`sorted(os.walk(...))`), then the files of each folder (`sorted(fnames)`). Not the order
  /// of whole paths: `deeper-x/f.png` comes before `deeper/zz/d.png` ('-' < '/'), and a folder's
  /// own files before its sub-folders'.
  static func samplePrecedes(_ a: String, _ b: String) -> Bool {
    func split(_ path: String) -> (folder: Substring, name: Substring) {
      guard let slash = path.lastIndex(of: "/") else { return ("", Substring(path)) }
      return (path[..<slash], path[path.index(after: slash)...])
    }
    let (x, y) = (split(a), split(b))
    if x.folder != y.folder { return precedes(String(x.folder), String(y.folder)) }
    return precedes(String(x.name), String(y.name))
  }
}

/// One walk of a folder tree under `ImageFolder`'s rules: images (with their class folder),
/// IDX files, files of unsupported formats, and warnings. Never opens a file.
public struct FolderScan: Sendable {
  public struct Entry: Sendable, Equatable {
    /// Path relative to the root.
    public var relativePath: String
    /// The top-level folder (nil for files directly in the root).
    public var classFolder: String?
  }

  public let root: String
  /// Sub-folders of the root (hidden ones excluded), code-point sorted.
  public private(set) var classFolders: [String] = []
  public private(set) var images: [Entry] = []
  /// IDX files, full paths, sorted.
  public private(set) var idxFiles: [String] = []
  public private(set) var unsupported: [FileError] = []
  public private(set) var warnings: [String] = []

  public init(root: String) throws {
    self.root = root
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory) else {
      throw ImageError(path: root, kind: .io, reason: "no such folder")
    }
    guard isDirectory.boolValue else { throw ImageError(path: root, kind: .io, reason: "not a folder") }
    var visiting: Set<String> = []
    try walk(relative: "", depth: 0, visiting: &visiting)
    classFolders.sort(by: ImageFolder.precedes)
    images.sort { ImageFolder.samplePrecedes($0.relativePath, $1.relativePath) }
    idxFiles.sort(by: ImageFolder.precedes)
    unsupported.sort { ImageFolder.precedes($0.path, $1.path) }
  }

  private mutating func walk(relative: String, depth: Int, visiting: inout Set<String>) throws {
    let folder = relative.isEmpty ? root : root + "/" + relative
    let identity = (folder as NSString).resolvingSymlinksInPath
    guard !visiting.contains(identity) else {
      warnings.append("\(folder): symbolic link loop (back to \(identity)), not followed")
      return
    }
    guard depth <= ImageFolder.maxDepth else {
      warnings.append("\(folder): nested deeper than \(ImageFolder.maxDepth) folders, not followed")
      return
    }
    visiting.insert(identity)
    defer { visiting.remove(identity) }
    let names: [String]
    do {
      names = try FileManager.default.contentsOfDirectory(atPath: folder)
    } catch {
      if relative.isEmpty { throw ImageError(path: root, kind: .io, reason: "cannot list folder: \(FileError.systemReason(error))") }
      warnings.append("\(folder): cannot list folder: \(FileError.systemReason(error))")
      return
    }
    for name in names.sorted(by: ImageFolder.precedes) where !name.hasPrefix(".") {
      let child = relative.isEmpty ? name : relative + "/" + name
      let path = root + "/" + child
      var isDirectory: ObjCBool = false
      guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        warnings.append("\(path): broken symbolic link, ignored")
        continue
      }
      if isDirectory.boolValue {
        if relative.isEmpty { classFolders.append(name) }
        try walk(relative: child, depth: depth + 1, visiting: &visiting)
        continue
      }
      let classFolder = relative.isEmpty ? nil : String(relative.split(separator: "/", maxSplits: 1)[0])
      let ext = (name as NSString).pathExtension.lowercased()
      if ImageFolder.imageExtensions.contains(ext) {
        images.append(Entry(relativePath: child, classFolder: classFolder))
      } else if ImageFolder.isIDXName(name) {
        idxFiles.append(path)
      } else if ImageFolder.unsupportedExtensions.contains(ext) {
        unsupported.append(FileError(path: path, reason: "unsupported format (.\(ext)); stn reads JPEG and PNG"))
      }
    }
  }
}
