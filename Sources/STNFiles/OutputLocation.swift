import Foundation

/// What a command may do with outputs that already exist.
public enum ExistingOutputPolicy: Sendable, Equatable {
  /// Refuse a non-empty output folder or an existing output file (the default).
  case refuse
  /// Write anyway, replacing files of the same name (`--overwrite`).
  case overwrite
  /// Keep files that already exist and write only the missing ones (`--skip-existing`, to
  /// resume an interrupted run).
  case skipExisting
}

/// The checks every command that writes makes once, before any work: the output never
/// overlaps an input, is of the right kind, can be written, and holds nothing the run would
/// silently replace. Each failure is one `FileError` naming the path and the reason.
public enum OutputLocation {
  // MARK: - Paths

  /// Absolute, `..`-free, symlink-resolved form of a path that may not exist yet (its deepest
  /// existing ancestor is resolved, the rest appended).
  public static func canonicalPath(_ path: String) -> String {
    let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    var existing = URL(fileURLWithPath: absolute).standardizedFileURL
    var rest: [String] = []
    while !FileManager.default.fileExists(atPath: existing.path) && existing.path != "/" {
      rest.insert(existing.lastPathComponent, at: 0)
      existing = existing.deletingLastPathComponent()
    }
    var resolved = existing.resolvingSymlinksInPath().path
    for part in rest { resolved += (resolved.hasSuffix("/") ? "" : "/") + part }
    return resolved
  }

  /// True when `child` is `parent` or lies inside it (both canonicalized).
  public static func isInside(_ child: String, _ parent: String) -> Bool {
    let c = canonicalPath(child), p = canonicalPath(parent)
    return c == p || c.hasPrefix(p.hasSuffix("/") ? p : p + "/")
  }

  /// Refuses an output equal to, inside, or containing any of `inputs` (files or folders,
  /// after resolving `..` and symlinks). `flag` names the option in the message.
  public static func refuseOverlap(output: String, inputs: [String], flag: String = "--output") throws {
    for input in inputs where !input.isEmpty {
      if isInside(output, input) {
        let same = canonicalPath(output) == canonicalPath(input)
        throw FileError(path: output, reason: "\(flag) is \(same ? "the input itself" : "inside the input") (\(input)); inputs are never modified: choose a folder outside it")
      }
      if isInside(input, output) {
        throw FileError(path: output, reason: "\(flag) contains the input (\(input)); choose a folder outside it")
      }
    }
  }

  // MARK: - Folders

  /// Prepares an output folder: creates it (with parents) when missing, and checks it is a
  /// folder this process can create files in. Returns the names it already holds (hidden
  /// names and this tool's temporary files excluded), so the caller can apply its policy.
  @discardableResult
  public static func prepareFolder(_ path: String, flag: String = "--output") throws -> [String] {
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
      guard isDirectory.boolValue else { throw FileError(path: path, reason: "\(flag) must be a folder, but this is a file") }
    } else {
      if let reason = makeFolders(path) { throw FileError(path: path, reason: "cannot create the \(flag) folder: \(reason)") }
    }
    try probeWritable(folder: path, flag: flag)
    let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
    return names.filter { !$0.hasPrefix(".") }.sorted()
  }

  /// `prepareFolder`, then the policy: `.refuse` throws when the folder holds anything.
  public static func prepareFolder(_ path: String, policy: ExistingOutputPolicy, flag: String = "--output") throws {
    let existing = try prepareFolder(path, flag: flag)
    if policy == .refuse, let first = existing.first {
      throw FileError(path: path, reason: "\(flag) folder is not empty (holds \(existing.count) entr\(existing.count == 1 ? "y" : "ies"), e.g. \(first)); pass --overwrite to write into it anyway, or --skip-existing to keep what is there and write only what is missing")
    }
  }

  // MARK: - Files

  /// Prepares the folder an output file goes in and checks the file itself: not a folder, and
  /// not already there unless `overwrite`.
  public static func prepareFile(_ path: String, overwrite: Bool, flag: String = "--output") throws {
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
      if isDirectory.boolValue { throw FileError(path: path, reason: "\(flag) is a folder; give a file name (e.g. \(path)/sheet.png)") }
      guard overwrite else { throw FileError(path: path, reason: "\(flag) file already exists; pass --overwrite to replace it") }
      let attributes = try? FileManager.default.attributesOfItem(atPath: path)
      guard (attributes?[.type] as? FileAttributeType) == .typeRegular else {
        throw FileError(path: path, reason: "\(flag) is not a regular file (a device or pipe?); give a file name")
      }
    }
    let folder = parentFolder(path)
    try prepareFolder(folder.isEmpty ? "." : folder, flag: "the folder of \(flag)")
  }

  // MARK: - Helpers

  /// `name` inside `folder` ("" meaning the current folder): "a" + "b" -> "a/b", "" + "b" -> "b".
  public static func joined(_ folder: String, _ name: String) -> String {
    folder.isEmpty ? name : (folder.hasSuffix("/") ? folder + name : folder + "/" + name)
  }

  /// The folder part of a path: "a/b" -> "a", "/b" -> "/", "b" -> "" (no folder), trailing
  /// slashes ignored. (Not `NSString.deletingLastPathComponent`, which traps on relative
  /// paths without a slash in this Foundation.)
  public static func parentFolder(_ path: String) -> String {
    var trimmed = Substring(path)
    while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
    guard let slash = trimmed.lastIndex(of: "/") else { return "" }
    if slash == trimmed.startIndex { return "/" }
    return String(trimmed[..<slash])
  }

  /// `mkdir -p`: creates `path` and its missing parents; nil on success, else the system's
  /// reason ("Permission denied", "Read-only file system", "Not a directory").
  public static func makeFolders(_ path: String) -> String? {
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
      return isDirectory.boolValue ? nil : "\(path) is a file"
    }
    let parent = parentFolder(path)
    if !parent.isEmpty && parent != path, let reason = makeFolders(parent) { return reason }
    if mkdir(path, 0o777) != 0 && errno != EEXIST { return String(cString: strerror(errno)) }
    return nil
  }

  /// False when the file system holding `folder` (an existing, writable folder) treats names
  /// that differ only in case as the same file (macOS and Windows defaults, some mounts).
  public static func namesAreCaseSensitive(in folder: String) -> Bool {
    let probe = "\(folder)/.stn-case-probe-\(getpid())"
    let fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
    guard fd >= 0 else { return false }
    close(fd)
    defer { unlink(probe) }
    return access("\(folder)/.STN-CASE-PROBE-\(getpid())", F_OK) != 0
  }

  /// Creates and removes a probe file, the only reliable test (permissions, read-only mounts,
  /// full disks, root squash all show up here).
  static func probeWritable(folder: String, flag: String) throws {
    let probe = "\(folder)/.stn-write-test-\(getpid())"
    let fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
    guard fd >= 0 else {
      throw FileError(path: folder, reason: "cannot write into the \(flag) folder: \(String(cString: strerror(errno)))")
    }
    close(fd)
    unlink(probe)
  }
}
