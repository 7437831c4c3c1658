import Foundation
import STNFiles

// MARK: - Event file writer

/// Writes a TensorBoard event file (`events.out.tfevents.<unix time>.<hostname>`) that the real
/// `tensorboard` reads: scalars, PNG images and histograms, one TFRecord per call.
///
/// Durability: the file is append-only and each record goes to the operating system in a
/// single `write` as soon as it is added, so a crash (or kill) mid-run loses at most the
/// record being written; every earlier record stays readable (TensorBoard stops at a truncated
/// final record). `flush()` additionally `fsync`s, e.g. at the end of an epoch.
/// Safe to call from several threads (calls are serialized by a lock).
public final class EventWriter: @unchecked Sendable {
  /// Full path of the event file.
  public let path: String
  private var descriptor: Int32
  private let lock = NSLock()

  /// Creates `directory` if needed and starts a new event file in it (never overwriting one:
  /// a name already taken gets a `.<pid>.<n>` suffix).
  public init(directory: String, wallTime: Double? = nil) throws {
    do {
      try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    } catch {
      throw FileError(path: directory, reason: "cannot create TensorBoard folder: \(error.localizedDescription)")
    }
    let now = wallTime ?? Date().timeIntervalSince1970
    let base = (directory as NSString).appendingPathComponent(
      "events.out.tfevents." + String(format: "%010lld", Int64(now)) + "." + EventWriter.hostname())
    var candidate = base
    var attempt = 0
    var fd: Int32 = -1
    while true {
      fd = open(candidate, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0o644)
      if fd >= 0 { break }
      let code = errno
      guard code == EEXIST, attempt < 1000 else {
        throw FileError(path: candidate, reason: "cannot create event file: \(String(cString: strerror(code)))")
      }
      attempt += 1
      candidate = base + ".\(getpid()).\(attempt)"
    }
    path = candidate
    descriptor = fd
    try append(EventProto.fileVersionEvent(wallTime: now))
  }

  deinit {
    if descriptor >= 0 { Foundation.close(descriptor) }
  }

  // MARK: - Summaries

  /// Appends one point of the scalar curve `tag`.
  public func addScalar(tag: String, value: Float, step: Int, wallTime: Double? = nil) throws {
    try add(tag: tag, value: .scalar(value), step: step, wallTime: wallTime)
  }

  /// Appends an image already encoded as PNG (`channels`: 1 gray, 3 RGB, 4 RGBA). For a grid
  /// of images (`add_images`), tile them first (e.g. `Canvas.grid` in STNDrawing). With a
  /// `description` (markdown, shown on the tag's card; TensorBoard keeps a tag's first), the
  /// image is written in `tf.summary.image`'s form (`SummaryValue.describedImage`).
  public func addImage(tag: String, png: [UInt8], width: Int, height: Int, channels: Int, step: Int,
                       description: String? = nil, wallTime: Double? = nil) throws {
    let value: SummaryValue = description.map { .describedImage(encoded: png, width: width, height: height, description: $0) }
      ?? .image(encoded: png, width: width, height: height, channels: channels)
    try add(tag: tag, value: value, step: step, wallTime: wallTime)
  }

  /// Appends a histogram of `values` with `bucketCount` equal-width buckets (see `Histogram`).
  public func addHistogram(tag: String, values: [Float], step: Int, bucketCount: Int = 30,
                           wallTime: Double? = nil) throws {
    try add(tag: tag, value: .histogram(Histogram(values: values, bucketCount: bucketCount)), step: step,
            wallTime: wallTime)
  }

  /// Appends any summary value.
  public func add(tag: String, value: SummaryValue, step: Int, wallTime: Double? = nil) throws {
    let event = EventProto.summaryEvent(wallTime: wallTime ?? Date().timeIntervalSince1970, step: Int64(step),
                                        tag: tag, value: value)
    try append(event)
  }

  // MARK: - File

  /// Forces written records to disk (`fsync`).
  public func flush() throws {
    lock.lock()
    defer { lock.unlock() }
    guard descriptor >= 0 else { throw FileError(path: path, reason: "event writer is closed") }
    if fsync(descriptor) != 0 && errno != EINVAL {
      throw FileError(path: path, reason: "fsync failed: \(String(cString: strerror(errno)))")
    }
  }

  /// Flushes and closes the file; later calls to add throw. Closing twice is harmless.
  public func close() throws {
    lock.lock()
    defer { lock.unlock() }
    guard descriptor >= 0 else { return }
    let syncFailed = fsync(descriptor) != 0 && errno != EINVAL
    let reason = String(cString: strerror(errno))
    Foundation.close(descriptor)
    descriptor = -1
    if syncFailed { throw FileError(path: path, reason: "fsync failed: \(reason)") }
  }

  /// Frames `event` as a TFRecord and writes it with one `write` call (retrying short writes).
  private func append(_ event: [UInt8]) throws {
    let record = TFRecord.frame(event)
    lock.lock()
    defer { lock.unlock() }
    guard descriptor >= 0 else { throw FileError(path: path, reason: "event writer is closed") }
    try record.withUnsafeBytes { raw in
      guard let base = raw.baseAddress else { return }
      var written = 0
      while written < raw.count {
        let n = write(descriptor, base + written, raw.count - written)
        if n < 0 {
          if errno == EINTR { continue }
          throw FileError(path: path, reason: "write failed: \(String(cString: strerror(errno)))")
        }
        written += n
      }
    }
  }

  /// This machine's host name, as TensorBoard's own writers put in file names.
  static func hostname() -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
    let name = String(cString: buffer)
    // A '/' would make the name a path; keep the file in the requested folder.
    let safe = name.replacingOccurrences(of: "/", with: "_")
    return safe.isEmpty ? "localhost" : safe
  }
}
