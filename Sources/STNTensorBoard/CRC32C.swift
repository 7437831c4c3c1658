// MARK: - CRC-32C (Castagnoli)

/// CRC-32C (Castagnoli polynomial 0x1EDC6F41, reflected 0x82F63B78), the checksum TFRecord
/// framing uses, plus TensorFlow's "masked" form of it.
public enum CRC32C {
  /// Byte-at-a-time lookup table for the reflected polynomial.
  static let table: [UInt32] = (0..<256).map { index -> UInt32 in
    var crc = UInt32(index)
    for _ in 0..<8 { crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
    return crc
  }

  /// CRC-32C of `bytes` (initial value and final xor 0xFFFFFFFF): "123456789" -> 0xE3069283.
  public static func checksum<Bytes: Sequence>(_ bytes: Bytes) -> UInt32 where Bytes.Element == UInt8 {
    var crc: UInt32 = 0xFFFF_FFFF
    table.withUnsafeBufferPointer { table in
      for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
    }
    return crc ^ 0xFFFF_FFFF
  }

  /// TensorFlow masks stored CRCs so a CRC of data that itself contains CRCs stays well
  /// distributed: rotate right by 15 bits, then add 0xa282ead8 (mod 2^32).
  public static func mask(_ crc: UInt32) -> UInt32 {
    ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
  }

  /// Inverse of `mask`.
  public static func unmask(_ masked: UInt32) -> UInt32 {
    let rotated = masked &- 0xA282_EAD8
    return (rotated >> 17) | (rotated << 15)
  }

  /// `mask(checksum(bytes))`.
  public static func maskedChecksum<Bytes: Sequence>(_ bytes: Bytes) -> UInt32 where Bytes.Element == UInt8 {
    mask(checksum(bytes))
  }
}
