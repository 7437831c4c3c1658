import STNFiles

// MARK: - TFRecord framing

/// TFRecord framing, the container of TensorBoard event files:
/// `uint64 length | uint32 masked_crc32c(length bytes) | data | uint32 masked_crc32c(data)`,
/// all integers little-endian.
public enum TFRecord {
  /// Frames one record.
  public static func frame(_ data: [UInt8]) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(data.count + 16)
    let length = littleEndianBytes(UInt64(data.count))
    out += length
    out += littleEndianBytes(CRC32C.maskedChecksum(length))
    out += data
    out += littleEndianBytes(CRC32C.maskedChecksum(data))
    return out
  }

  /// Splits `bytes` into records, verifying both checksums of each.
  ///
  /// A final frame cut short (a writer killed mid-record) ends the list without error when
  /// `allowTruncatedTail` is true, the way TensorBoard's reader waits for more data; corrupt
  /// checksums always throw. A bad frame throws a `FileError` naming `path` (the file the bytes
  /// came from) and the frame's byte offset: `run/events…: TFRecord at byte 96: data checksum mismatch`.
  public static func records(in bytes: [UInt8], path: String = "<bytes>", allowTruncatedTail: Bool = false) throws -> [[UInt8]] {
    var records: [[UInt8]] = []
    var offset = 0
    func fail(_ reason: String) -> FileError { FileError(path: path, reason: "TFRecord at byte \(offset): \(reason)") }
    while offset < bytes.count {
      guard bytes.count - offset >= 12 else {
        if allowTruncatedTail { break }
        throw fail("truncated header (\(bytes.count - offset) bytes)")
      }
      let lengthBytes = bytes[offset..<(offset + 8)]
      guard CRC32C.maskedChecksum(lengthBytes) == readUInt32(bytes, at: offset + 8) else {
        throw fail("length checksum mismatch")
      }
      let length = readUInt64(bytes, at: offset)
      let available = UInt64(bytes.count - offset - 12)
      guard length <= available, available - length >= 4 else {
        if allowTruncatedTail { break }
        throw fail("record of \(length) bytes runs past the end")
      }
      let start = offset + 12, end = start + Int(length)
      let data = Array(bytes[start..<end])
      guard CRC32C.maskedChecksum(data) == readUInt32(bytes, at: end) else {
        throw fail("data checksum mismatch")
      }
      records.append(data)
      offset = end + 4
    }
    return records
  }

  // MARK: - Little-endian helpers

  static func littleEndianBytes(_ value: UInt64) -> [UInt8] {
    (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) }
  }

  static func littleEndianBytes(_ value: UInt32) -> [UInt8] {
    (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * UInt32($0))) }
  }

  static func readUInt32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
    var value: UInt32 = 0
    for i in 0..<4 { value |= UInt32(bytes[offset + i]) << UInt32(8 * i) }
    return value
  }

  static func readUInt64(_ bytes: [UInt8], at offset: Int) -> UInt64 {
    var value: UInt64 = 0
    for i in 0..<8 { value |= UInt64(bytes[offset + i]) << UInt64(8 * i) }
    return value
  }
}
