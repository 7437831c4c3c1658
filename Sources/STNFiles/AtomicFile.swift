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
}

/// Writes files atomically: the bytes go to a temporary file in the same folder, which is
/// flushed and then renamed over the destination, so a reader never sees a half-written file
/// and a crash never destroys the previous version.
public enum AtomicFile {
  /// Writes `bytes` to `path` atomically, creating parent folders as needed.
  public static func write(_ bytes: [UInt8], to path: String) throws {
    try bytes.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
      try write(raw, to: path)
    }
  }

  /// Writes `data` to `path` atomically, creating parent folders as needed.
  public static func write(_ data: Data, to path: String) throws {
    try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
      try write(raw, to: path)
    }
  }

  /// Writes raw bytes to `path` atomically, creating parent folders as needed.
  public static func write(_ raw: UnsafeRawBufferPointer, to path: String) throws {
    let url = URL(fileURLWithPath: path)
    let folder = url.deletingLastPathComponent().path
    do {
      try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    } catch {
      throw FileError(path: path, reason: "cannot create folder \(folder): \(error.localizedDescription)")
    }
    let template = folder + "/." + url.lastPathComponent + ".tmp-XXXXXX"
    var templateBytes = Array(template.utf8CString)
    let fd = templateBytes.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
    guard fd >= 0 else {
      throw FileError(path: path, reason: "cannot create temporary file: \(String(cString: strerror(errno)))")
    }
    let temporary = templateBytes.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    var written = 0
    while written < raw.count {
      let n = Foundation.write(fd, raw.baseAddress! + written, raw.count - written)
      if n < 0 {
        if errno == EINTR { continue }
        let reason = String(cString: strerror(errno))
        close(fd)
        unlink(temporary)
        throw FileError(path: path, reason: "write failed: \(reason)")
      }
      written += n
    }
    // Files are created 0600 by mkstemp; give them the usual 0644 (less the umask).
    let mask = umask(0)
    umask(mask)
    fchmod(fd, 0o666 & ~mask)
    if fsync(fd) != 0 && errno != EINVAL {
      let reason = String(cString: strerror(errno))
      close(fd)
      unlink(temporary)
      throw FileError(path: path, reason: "fsync failed: \(reason)")
    }
    close(fd)
    if rename(temporary, path) != 0 {
      let reason = String(cString: strerror(errno))
      unlink(temporary)
      throw FileError(path: path, reason: "rename failed: \(reason)")
    }
  }

  /// Reads a whole file, refusing files larger than `limit` bytes.
  public static func read(_ path: String, limit: Int = 1 << 34) throws -> [UInt8] {
    guard let handle = FileHandle(forReadingAtPath: path) else {
      var isDirectory: ObjCBool = false
      if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
        throw FileError(path: path, reason: isDirectory.boolValue ? "is a folder, not a file" : "cannot open (permission denied?)")
      }
      throw FileError(path: path, reason: "no such file")
    }
    defer { try? handle.close() }
    do {
      let size = try handle.seekToEnd()
      guard size <= UInt64(limit) else {
        throw FileError(path: path, reason: "file is \(size) bytes, over the \(limit)-byte limit")
      }
      try handle.seek(toOffset: 0)
      let data = try handle.readToEnd() ?? Data()
      return [UInt8](data)
    } catch let error as FileError {
      throw error
    } catch {
      throw FileError(path: path, reason: "read failed: \(error.localizedDescription)")
    }
  }
}
