/// An 8-bit image with interleaved channels (H,W,C), row-major, no padding between rows.
public struct Image: Equatable, Sendable {
  public var width: Int
  public var height: Int
  /// 1 (gray) or 3 (RGB).
  public var channels: Int
  /// `height * width * channels` bytes.
  public var pixels: [UInt8]

  public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
    precondition(width >= 0 && height >= 0 && channels >= 1, "bad image size \(width)x\(height)x\(channels)")
    precondition(pixels.count == width * height * channels, "pixel count does not match \(width)x\(height)x\(channels)")
    self.width = width
    self.height = height
    self.channels = channels
    self.pixels = pixels
  }

  /// A `width` x `height` image filled with `value`.
  public init(width: Int, height: Int, channels: Int, repeating value: UInt8 = 0) {
    self.init(width: width, height: height, channels: channels,
              pixels: [UInt8](repeating: value, count: width * height * channels))
  }
}

/// File formats the tool reads.
public enum ImageFormat: String, Sendable, Codable {
  case jpeg, png, idx
}

/// Why an image could not be read or written, always naming the file.
public struct ImageError: Error, CustomStringConvertible, Equatable, Sendable {
  /// The category of failure, for code that reacts to it (tests, skip counters).
  public enum Kind: String, Sendable {
    /// Zero-byte file.
    case empty
    /// The data ends before the image does (libjpeg's "premature end" included).
    case truncated
    /// Damaged or inconsistent data, including libjpeg corrupt-data warnings.
    case corrupt
    /// Not a format we read (or a JPEG/PNG variant we do not support).
    case unsupportedFormat
    /// Dimensions over the pixel limit (decompression-bomb guard) or otherwise absurd.
    case tooLarge
    /// The file could not be opened, read or written.
    case io
    /// Bad arguments from the caller (e.g. channels not 1 or 3).
    case invalidArgument
  }

  public var path: String
  public var kind: Kind
  public var reason: String

  public init(path: String, kind: Kind, reason: String) {
    self.path = path
    self.kind = kind
    self.reason = reason
  }

  public var description: String { "\(path): \(reason)" }
}
