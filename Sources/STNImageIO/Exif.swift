// MARK: - EXIF Orientation

/// The EXIF Orientation tag (TIFF tag 0x0112 in IFD0) and what it takes to show an image
/// upright. Parsing is bounded by the bytes given and never fails: anything unreadable reads as
/// orientation 1 (as stored), because a damaged metadata block must not cost a good image.
public enum ExifOrientation {
  /// The tag value when there is none, or it cannot be read: pixels are shown as stored.
  public static let upright = 1

  /// Orientation from JPEG APP1 payloads ("Exif\0\0" then a TIFF block), in file order. Like
  /// Pillow's JpegImagePlugin, later segments continue the first one's TIFF block.
  public static func orientation(app1Segments segments: [[UInt8]]) -> Int {
    guard let first = segments.first, first.count >= 6 else { return upright }
    var tiff = Array(first[6...])
    for segment in segments.dropFirst() where segment.count > 6 { tiff += segment[6...] }
    return orientation(tiff: tiff[...])
  }

  /// Orientation from a TIFF-structured EXIF block: byte-order mark "II" or "MM", the magic
  /// number 42, the offset of IFD0, then IFD0's 12-byte entries. Read as Pillow reads it
  /// (TiffImagePlugin, then `ImageOps.exif_transpose`): entries are taken while they are whole,
  /// so a block cut after the tag still counts; the first 0x0112 entry of a known type and a
  /// non-zero count decides; its first value counts when it is an integer (SHORT, LONG, signed
  /// forms, IFD, LONG8) of 1...8. Where Pillow raises (no TIFF header) this returns 1.
  public static func orientation(tiff: ArraySlice<UInt8>) -> Int {
    let bytes = Array(tiff)  // zero-based indices from here on
    guard bytes.count >= 8 else { return upright }
    let bigEndian: Bool
    switch (bytes[0], bytes[1]) {
    case (0x49, 0x49): bigEndian = false  // "II", Intel
    case (0x4D, 0x4D): bigEndian = true   // "MM", Motorola
    default: return upright
    }
    // Pillow's TIFF prefixes: the magic number 42 in either byte order (BigTIFF's 43 never
    // carries EXIF in practice and reads as 1 here).
    guard (bytes[2], bytes[3]) == (0x00, 0x2A) || (bytes[2], bytes[3]) == (0x2A, 0x00) else { return upright }
    /// Unsigned integer of `size` bytes at `at`; nil past the end.
    func unsigned(_ at: Int, _ size: Int) -> UInt64? {
      guard at >= 0, at <= bytes.count - size else { return nil }
      var value: UInt64 = 0
      for k in 0 ..< size { value |= UInt64(bytes[at + k]) << (8 * UInt64(bigEndian ? size - 1 - k : k)) }
      return value
    }
    guard let ifd = unsigned(4, 4).map(Int.init), let entries = unsigned(ifd, 2).map(Int.init) else { return upright }
    // Whole entries only: a forged count cannot make this loop longer than the block.
    let readable = min(entries, (bytes.count - ifd - 2) / 12)
    for k in 0 ..< max(0, readable) {
      let entry = ifd + 2 + 12 * k
      guard unsigned(entry, 2) == 0x0112, let type = unsigned(entry + 2, 2), let count = unsigned(entry + 4, 4), count > 0 else {
        continue
      }
      // Byte size of one value per TIFF type; types Pillow does not know are skipped, like it.
      let sizes: [UInt64: Int] = [1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8]
      guard let size = sizes[type] else { continue }
      // Values of up to 4 bytes sit in the entry, longer ones at an offset; a value that is not
      // all there is skipped (Pillow: "Possibly corrupt EXIF data ... Skipping tag").
      let total = count.multipliedReportingOverflow(by: UInt64(size))
      guard !total.overflow else { continue }
      let start: Int
      if total.partialValue <= 4 {
        start = entry + 8
      } else {
        guard let offset = unsigned(entry + 8, 4), offset <= UInt64(bytes.count), total.partialValue <= UInt64(bytes.count) - offset
        else { continue }
        start = Int(offset)
      }
      // First value; only integer types can name an orientation (BYTE reads as bytes in Pillow).
      let value: Int64
      switch type {
      case 3, 4, 13, 16: value = Int64(truncatingIfNeeded: unsigned(start, size) ?? 0)
      case 6: value = Int64(Int8(truncatingIfNeeded: unsigned(start, 1) ?? 0))
      case 8: value = Int64(Int16(truncatingIfNeeded: unsigned(start, 2) ?? 0))
      case 9: value = Int64(Int32(truncatingIfNeeded: unsigned(start, 4) ?? 0))
      default: return upright
      }
      return (1 ... 8).contains(value) ? Int(value) : upright
    }
    return upright
  }

  /// Width and height as displayed: orientations 5...8 turn the image a quarter.
  public static func displayedSize(width: Int, height: Int, orientation: Int) -> (width: Int, height: Int) {
    (5 ... 8).contains(orientation) ? (height, width) : (width, height)
  }
}

extension Image {
  /// The image as displayed under EXIF `orientation`, equal to Pillow's
  /// `ImageOps.exif_transpose`: 2 mirror left-right, 3 turn 180 degrees, 4 mirror top-bottom,
  /// 5 transpose (mirror about the main diagonal), 6 turn 90 degrees clockwise, 7 transverse
  /// (mirror about the other diagonal), 8 turn 90 degrees counter-clockwise. 1 and any other
  /// value return the image unchanged.
  public func applyingExifOrientation(_ orientation: Int) -> Image {
    guard (2 ... 8).contains(orientation) else { return self }
    let (outWidth, outHeight) = ExifOrientation.displayedSize(width: width, height: height, orientation: orientation)
    let (w, h, c) = (width, height, channels)
    /// Where output pixel (x, y) comes from, in source coordinates.
    func source(_ x: Int, _ y: Int) -> (x: Int, y: Int) {
      switch orientation {
      case 2: return (w - 1 - x, y)
      case 3: return (w - 1 - x, h - 1 - y)
      case 4: return (x, h - 1 - y)
      case 5: return (y, x)
      case 6: return (y, h - 1 - x)
      case 7: return (w - 1 - y, h - 1 - x)
      default: return (w - 1 - y, x)  // 8
      }
    }
    var out = [UInt8](repeating: 0, count: pixels.count)
    pixels.withUnsafeBufferPointer { input in
      out.withUnsafeMutableBufferPointer { output in
        for y in 0 ..< outHeight {
          for x in 0 ..< outWidth {
            let (sx, sy) = source(x, y)
            let from = (sy * w + sx) * c, to = (y * outWidth + x) * c
            for k in 0 ..< c { output[to + k] = input[from + k] }
          }
        }
      }
    }
    return Image(width: outWidth, height: outHeight, channels: c, pixels: out)
  }
}
