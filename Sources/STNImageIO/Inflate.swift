import CZlib

/// Streaming zlib/gzip decompression of an in-memory buffer (format detected from its header).
/// Callers say how many bytes they want, so a forged size can never make it allocate more.
final class Inflater {
  private let source: [UInt8]
  private var state: OpaquePointer?
  private let path: String
  /// True once the compressed stream has ended.
  private(set) var finished = false

  init(_ bytes: [UInt8], path: String) throws {
    source = bytes
    self.path = path
    var message = [CChar](repeating: 0, count: Int(STN_MESSAGE_SIZE))
    var state: OpaquePointer? = nil
    // NOTE: the inflater keeps a pointer into `source`; arrays are not moved while a class
    // instance holds them unmodified, and deinit closes the stream before `source` is released.
    let status = source.withUnsafeBufferPointer { stn_inflate_open($0.baseAddress, $0.count, &state, &message) }
    guard status == 0, let state else { throw ImageCodec.shimError(status, message, path: path, what: "gzip") }
    self.state = state
  }

  deinit { stn_inflate_close(state) }

  /// Decompresses up to `count` bytes; fewer only when the stream ends first.
  func read(_ count: Int) throws -> [UInt8] {
    var message = [CChar](repeating: 0, count: Int(STN_MESSAGE_SIZE))
    var status: Int32 = 0
    var ended: Int32 = 0
    let bytes = source.withUnsafeBufferPointer { _ in
      [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
        var produced = 0
        status = stn_inflate_read(state, buffer.baseAddress, count, &produced, &ended, &message)
        initialized = produced
      }
    }
    finished = ended != 0
    guard status == 0 else { throw ImageCodec.shimError(status, message, path: path, what: "gzip") }
    return bytes
  }
}
