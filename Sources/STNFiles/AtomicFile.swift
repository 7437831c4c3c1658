import Foundation

/// An error reading or writing a file, naming the file and the reason.
public struct FileError: Error, CustomStringConvertible, Equatable, Sendable {
  /// The file concerned.
  public var path: String
  /// What went wrong, in words a user can act on.
  public var reason: String

  public init(path: String, reason: String) {
    self.path = path
    self.reason = reason
  }

  public var description: String { "\(path): \(reason)" }

  /// A readable reason from a Foundation file error: its POSIX cause when it has one
  /// ("Permission denied"), not Foundation's "NSCocoaErrorDomain error 512".
  public static func systemReason(_ error: Error) -> String {
    if let underlying = (error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
      return String(cString: strerror(Int32(underlying.code)))
    }
    return (error as NSError).localizedFailureReason ?? error.localizedDescription
  }
}

/// Writes files atomically and reads them whole, each in one system call where the size is
/// known.
///
/// A write goes to a temporary file in the destination's folder (`.NAME.tmp-PID-N`), which is
/// renamed over the destination once complete, so a reader never sees a half-written file and
/// a crash never destroys the previous version. `write(_:to:)` also `fsync`s the file before
/// the rename (checkpoints, sheets: rare, precious writes); `BatchedFileWriter` gives the same
/// guarantee for thousands of small files with one file-system sync per batch instead.
public enum AtomicFile {
  /// Writes `bytes` to `path` atomically (and durably), creating parent folders as needed.
  public static func write(_ bytes: [UInt8], to path: String) throws {
    try bytes.withUnsafeBytes { try write($0, to: path) }
  }

  /// Writes `data` to `path` atomically (and durably), creating parent folders as needed.
  public static func write(_ data: Data, to path: String) throws {
    try data.withUnsafeBytes { try write($0, to: path) }
  }

  /// Writes raw bytes to `path` atomically (and durably), creating parent folders as needed.
  public static func write(_ raw: UnsafeRawBufferPointer, to path: String) throws {
    let temporary = try writeTemporary(raw, beside: path, sync: true)
    try commit(temporary, to: path)
  }

  // MARK: - Temporary files

  /// Writes `raw` (one `write` call for any size the kernel accepts whole) to a new temporary
  /// file in `path`'s folder, creating the folder if needed; returns the temporary's path,
  /// which is registered until `commit` or `discard`.
  static func writeTemporary(_ raw: UnsafeRawBufferPointer, beside path: String, sync: Bool) throws -> String {
    let (folder, name) = split(path)
    var (fd, temporary) = openTemporary(folder: folder, name: name)
    if fd < 0 && errno == ENOENT {
      if let reason = OutputLocation.makeFolders(folder) { throw FileError(path: path, reason: "cannot create folder \(folder): \(reason)") }
      (fd, temporary) = openTemporary(folder: folder, name: name)
    }
    guard fd >= 0 else {
      throw FileError(path: path, reason: "cannot create a file in \(folder): \(String(cString: strerror(errno)))")
    }
    var written = 0
    while written < raw.count {
      let n = Foundation.write(fd, raw.baseAddress! + written, raw.count - written)
      if n < 0 {
        if errno == EINTR { continue }
        let reason = String(cString: strerror(errno))
        close(fd)
        discard(temporary)
        throw FileError(path: path, reason: "write failed: \(reason)")
      }
      written += n
    }
    if sync && fsync(fd) != 0 && errno != EINVAL {
      let reason = String(cString: strerror(errno))
      close(fd)
      discard(temporary)
      throw FileError(path: path, reason: "fsync failed: \(reason)")
    }
    if close(fd) != 0 && errno != EINTR {
      let reason = String(cString: strerror(errno))
      discard(temporary)
      throw FileError(path: path, reason: "close failed: \(reason)")
    }
    return temporary
  }

  /// Renames a finished temporary file over `path`.
  static func commit(_ temporary: String, to path: String) throws {
    if rename(temporary, path) != 0 {
      let reason = String(cString: strerror(errno))
      discard(temporary)
      throw FileError(path: path, reason: "rename failed: \(reason)")
    }
    TemporaryFiles.shared.remove(temporary)
  }

  /// Removes a temporary file that will not be committed.
  static func discard(_ temporary: String) {
    unlink(temporary)
    TemporaryFiles.shared.remove(temporary)
  }

  /// Removes every temporary file this process is writing or has not yet committed. Called when
  /// a run is interrupted (SIGINT/SIGTERM), so only complete files are left behind.
  public static func removeTemporaryFiles() {
    for path in TemporaryFiles.shared.drain() { unlink(path) }
  }

  /// True for names of this type's temporary files (`.NAME.tmp-…`), which a run may leave behind
  /// only if the machine crashed; they are never complete outputs.
  public static func isTemporaryName(_ name: String) -> Bool {
    name.hasPrefix(".") && name.contains(".tmp-")
  }

  private static func split(_ path: String) -> (folder: String, name: String) {
    guard let slash = path.lastIndex(of: "/") else { return (".", path) }
    let folder = String(path[..<slash])
    return (folder.isEmpty ? "/" : folder, String(path[path.index(after: slash)...]))
  }

  /// Opens `.NAME.tmp-PID-N` exclusively (mode 0666 less the umask), registering it.
  private static func openTemporary(folder: String, name: String) -> (Int32, String) {
    while true {
      let temporary = "\(folder)/.\(name).tmp-\(getpid())-\(TemporaryFiles.shared.nextNumber())"
      // Registered before it exists, so an interruption between open and registration cannot
      // leave it behind.
      TemporaryFiles.shared.add(temporary)
      let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
      if fd >= 0 { return (fd, temporary) }
      let code = errno
      TemporaryFiles.shared.remove(temporary)
      if code != EEXIST {
        errno = code
        return (-1, temporary)
      }
    }
  }

  // MARK: - Reading

  /// Reads a whole file (one `read` call for regular files, whose size `fstat` gives),
  /// refusing files larger than `limit` bytes.
  public static func read(_ path: String, limit: Int = 1 << 34) throws -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else {
      let code = errno
      switch code {
      case ENOENT: throw FileError(path: path, reason: "no such file")
      case EACCES: throw FileError(path: path, reason: "cannot open: permission denied")
      default: throw FileError(path: path, reason: "cannot open: \(String(cString: strerror(code)))")
      }
    }
    defer { close(fd) }
    var status = stat()
    guard fstat(fd, &status) == 0 else {
      throw FileError(path: path, reason: "cannot read: \(String(cString: strerror(errno)))")
    }
    if (status.st_mode & S_IFMT) == S_IFDIR { throw FileError(path: path, reason: "is a folder, not a file") }
    let size = Int(status.st_size)
    guard size <= limit else { throw FileError(path: path, reason: "file is \(size) bytes, over the \(limit)-byte limit") }
    // Regular files: exactly `size` bytes, read in one call (loops only on short reads). Other
    // files (pipes, /dev/stdin) report size 0: read until end of file, within the limit.
    var bytes = [UInt8](repeating: 0, count: max(size, 1 << 16))
    var count = 0
    while true {
      if count == bytes.count {
        guard size == 0, count < limit else { break }
        bytes += [UInt8](repeating: 0, count: min(bytes.count, limit - count))
      }
      let n = bytes.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress! + count, $0.count - count) }
      if n < 0 {
        if errno == EINTR { continue }
        throw FileError(path: path, reason: "read failed: \(String(cString: strerror(errno)))")
      }
      if n == 0 { break }
      count += n
      if size > 0 && count == size { break }
    }
    if size > 0 && count < size { throw FileError(path: path, reason: "file shrank while being read (\(count) of \(size) bytes)") }
    bytes.removeSubrange(count...)
    return bytes
  }
}

/// The temporary files this process has open or not yet committed (guarded by a lock; read by
/// the interruption handler).
final class TemporaryFiles: @unchecked Sendable {
  static let shared = TemporaryFiles()
  private let lock = NSLock()
  private var paths: Set<String> = []
  private var counter = 0

  func nextNumber() -> Int {
    lock.lock()
    defer { lock.unlock() }
    counter += 1
    return counter
  }

  func add(_ path: String) {
    lock.lock()
    paths.insert(path)
    lock.unlock()
  }

  func remove(_ path: String) {
    lock.lock()
    paths.remove(path)
    lock.unlock()
  }

  func drain() -> [String] {
    lock.lock()
    defer { lock.unlock() }
    let all = Array(paths)
    paths.removeAll()
    return all
  }
}
