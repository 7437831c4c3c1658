// MARK: - Minimal protobuf encoder

/// Appends protocol-buffer wire-format fields to a byte buffer: just what TensorBoard's
/// `Event` / `Summary` / `HistogramProto` messages need.
///
/// NOTE: these messages are proto3, where a scalar field holding its default (0, empty) is not
/// written at all. Callers follow that rule (see `EventProto`) so our bytes equal what the
/// official protobuf runtime produces; fields inside a `oneof` are always written.
struct ProtobufWriter {
  /// Wire types of the protobuf encoding.
  enum WireType: UInt64 {
    case varint = 0, fixed64 = 1, lengthDelimited = 2, fixed32 = 5
  }

  private(set) var bytes: [UInt8] = []

  mutating func writeVarint(_ value: UInt64) {
    var v = value
    while v >= 0x80 {
      bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
      v >>= 7
    }
    bytes.append(UInt8(v))
  }

  mutating func writeKey(field: Int, wireType: WireType) {
    writeVarint(UInt64(field) << 3 | wireType.rawValue)
  }

  /// int64/int32 field: negative values take ten bytes (two's complement), as protobuf does.
  mutating func writeInt(field: Int, _ value: Int64) {
    writeKey(field: field, wireType: .varint)
    writeVarint(UInt64(bitPattern: value))
  }

  mutating func writeDouble(field: Int, _ value: Double) {
    writeKey(field: field, wireType: .fixed64)
    appendLittleEndian(value.bitPattern)
  }

  mutating func writeFloat(field: Int, _ value: Float) {
    writeKey(field: field, wireType: .fixed32)
    appendLittleEndian(value.bitPattern)
  }

  mutating func writeBytes(field: Int, _ value: [UInt8]) {
    writeKey(field: field, wireType: .lengthDelimited)
    writeVarint(UInt64(value.count))
    bytes += value
  }

  mutating func writeString(field: Int, _ value: String) {
    writeBytes(field: field, Array(value.utf8))
  }

  /// An embedded message is a length-delimited field holding the message's bytes.
  mutating func writeMessage(field: Int, _ message: ProtobufWriter) {
    writeBytes(field: field, message.bytes)
  }

  /// `repeated double` in packed form (proto3's default): one length-delimited field.
  mutating func writePackedDoubles(field: Int, _ values: [Double]) {
    writeKey(field: field, wireType: .lengthDelimited)
    writeVarint(UInt64(values.count * 8))
    for value in values { appendLittleEndian(value.bitPattern) }
  }

  private mutating func appendLittleEndian(_ value: UInt64) {
    for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
  }

  private mutating func appendLittleEndian(_ value: UInt32) {
    for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
  }
}
