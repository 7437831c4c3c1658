import Foundation

/// Writes many files atomically with one file-system sync per batch instead of one `fsync` per
/// file (`stn augment` writes thousands of small images).
///
/// Each file is written in one call to a temporary name beside its destination and queued.
/// When `maxPending` files are queued or `interval` seconds have passed, the queue is committed:
/// one `syncfs` of the output's file system, then every queued file is renamed into place.
/// `finish()` commits the rest and syncs again, so the renames are on disk too.
///
/// The guarantee this gives (documented in the README): a final name only ever holds complete
/// bytes that reached the disk before the rename; after `finish()` returns, every file is on
/// disk; after a crash, only complete files exist under final names (at most one batch of
/// `.NAME.tmp-*` files may remain, never under a final name).
public final class BatchedFileWriter: @unchecked Sendable {
  /// Files renamed into place so far.
  public var committedCount: Int { lock.withLock { committed } }

  private let syncPath: String
  private let maxPending: Int
  private let interval: Double
  private let lock = NSLock()
  /// Commits run one at a time, outside `lock`, so writers keep writing while one syncs.
  private let commitLock = NSLock()
  private var pending: [(temporary: String, path: String)] = []
  private var committed = 0
  private var lastCommit = Date()

  /// `syncPath` is any existing path on the output's file system (the output folder).
  public init(syncPath: String, maxPending: Int = 512, interval: Double = 1.0) {
    self.syncPath = syncPath
    self.maxPending = max(1, maxPending)
    self.interval = interval
  }

  /// Writes `bytes` to a temporary file beside `path` and queues its rename (committing the
  /// queue when it is full or old enough).
  public func write(_ bytes: UnsafeRawBufferPointer, to path: String) throws {
    let temporary = try AtomicFile.writeTemporary(bytes, beside: path, sync: false)
    let due: Bool = lock.withLock {
      pending.append((temporary, path))
      return pending.count >= maxPending || Date().timeIntervalSince(lastCommit) >= interval
    }
    if due { try commit() }
  }

  /// Writes `bytes` to `path` (see `write(_:to:)` above).
  public func write(_ bytes: [UInt8], to path: String) throws {
    try bytes.withUnsafeBytes { try write($0, to: path) }
  }

  /// Syncs the file system once and renames every queued file into place.
  public func commit() throws {
    commitLock.lock()
    defer { commitLock.unlock() }
    let batch: [(temporary: String, path: String)] = lock.withLock {
      defer { pending.removeAll(keepingCapacity: true); lastCommit = Date() }
      return pending
    }
    if batch.isEmpty { return }
    try syncFileSystem()
    var firstError: Error?
    for entry in batch {
      do {
        try AtomicFile.commit(entry.temporary, to: entry.path)
        lock.withLock { committed += 1 }
      } catch {
        if firstError == nil { firstError = error }
      }
    }
    if let firstError { throw firstError }
  }

  /// Commits what is queued and syncs the renames: after this returns, everything written is on
  /// disk under its final name.
  public func finish() throws {
    try commit()
    try syncFileSystem()
  }

  /// Drops the queue without renaming (the temporaries are removed).
  public func discardPending() {
    let batch: [(temporary: String, path: String)] = lock.withLock {
      defer { pending.removeAll() }
      return pending
    }
    for entry in batch { AtomicFile.discard(entry.temporary) }
  }

  private func syncFileSystem() throws {
    let fd = open(syncPath, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw FileError(path: syncPath, reason: "cannot open to sync: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    if let syncfs = FileSystemSync.syncfs {
      if syncfs(fd) != 0 { throw FileError(path: syncPath, reason: "syncfs failed: \(String(cString: strerror(errno)))") }
    } else {
      sync()
    }
  }
}

/// Linux's `syncfs(2)`, looked up at run time (glibc's header declares it only with
/// _GNU_SOURCE, which Swift's Glibc module does not set); nil elsewhere, where `sync()` serves.
enum FileSystemSync {
  typealias Function = @convention(c) (Int32) -> Int32
  static let syncfs: Function? = {
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "syncfs") else { return nil }
    return unsafeBitCast(symbol, to: Function.self)
  }()
}
