import CJPEG
import CPNG
import Foundation
import STNFiles

// MARK: - Options and facts

/// How to decode an image: output channels, the decompression-bomb limit, reduced JPEG decoding.
public struct DecodeOptions: Sendable, Equatable {
  /// Output channels: 1 (gray, Pillow's `convert("L")`) or 3 (RGB, Pillow's `convert("RGB")`).
  public var channels: Int
  /// Images whose header claims more pixels than this are rejected before any large allocation.
  /// The default is twice Pillow's 89,478,485-pixel decompression-bomb warning level.
  public var maxPixels: Int
  /// JPEG only: decode at 1/1, 1/2, 1/4 or 1/8 of the size in the DCT (libjpeg `scale_denom`).
  /// Other formats ignore it.
  public var jpegScaleDenominator: Int

  public static let defaultMaxPixels = 178_956_970

  public init(channels: Int = 3, maxPixels: Int = 178_956_970, jpegScaleDenominator: Int = 1) {
    self.channels = channels
    self.maxPixels = maxPixels
    self.jpegScaleDenominator = jpegScaleDenominator
  }
}

/// What a file's header says, read without decoding the pixels.
public struct ImageInfo: Sendable, Equatable {
  public var format: ImageFormat
  public var width: Int
  public var height: Int
  /// Channels stored in the file: 1 gray, 2 gray+alpha, 3 colour, 4 colour+alpha or CMYK.
  public var channels: Int
  /// Images in the file: 1 for JPEG/PNG, N for an IDX file.
  public var count: Int

  public init(format: ImageFormat, width: Int, height: Int, channels: Int, count: Int = 1) {
    self.format = format
    self.width = width
    self.height = height
    self.channels = channels
    self.count = count
  }
}

// MARK: - Codec

/// Decodes and encodes JPEG and PNG files (and probes IDX files) through the C shims.
public enum ImageCodec {
  /// Identifies a format from the first bytes, never from the file name.
  public static func sniff(_ bytes: [UInt8]) -> ImageFormat? {
    if bytes.count >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF { return .jpeg }
    if bytes.count >= 8 && bytes[0 ..< 8].elementsEqual([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
    if IDXHeader.looksLikeIDX(bytes) { return .idx }
    return nil
  }

  /// Reads the header of the file at `path`; images over `maxPixels` are `.tooLarge` errors.
  public static func probe(path: String, maxPixels: Int = DecodeOptions.defaultMaxPixels) throws -> ImageInfo {
    try probe(bytes: readFile(path), path: path, maxPixels: maxPixels)
  }

  /// Reads the header of `bytes` (the contents of `path`, which names the file in errors).
  public static func probe(bytes: [UInt8], path: String, maxPixels: Int = DecodeOptions.defaultMaxPixels) throws -> ImageInfo {
    switch try format(of: bytes, path: path) {
    case .jpeg:
      return try withJPEGDecoder(bytes, path: path, options: DecodeOptions(maxPixels: maxPixels)) { decoder in
        var width: Int32 = 0, height: Int32 = 0, components: Int32 = 0
        stn_jpeg_header(decoder, &width, &height, &components)
        return ImageInfo(format: .jpeg, width: Int(width), height: Int(height), channels: Int(components))
      }
    case .png:
      return try withPNGDecoder(bytes, path: path, options: DecodeOptions(maxPixels: maxPixels)) { decoder in
        var width: Int32 = 0, height: Int32 = 0, channels: Int32 = 0, depth: Int32 = 0, interlaced: Int32 = 0
        stn_png_header(decoder, &width, &height, &channels, &depth, &interlaced)
        return ImageInfo(format: .png, width: Int(width), height: Int(height), channels: Int(channels))
      }
    case .idx:
      let header = try IDXHeader.read(bytes, path: path)
      if header.dimensions.count == 3 && header.width * header.height > maxPixels {
        throw ImageError(path: path, kind: .tooLarge,
                         reason: "IDX images are \(header.width)x\(header.height), over the \(maxPixels)-pixel limit")
      }
      return ImageInfo(format: .idx, width: header.width, height: header.height, channels: 1, count: header.count)
    }
  }

  /// Decodes the JPEG or PNG file at `path` into 8-bit pixels with `options.channels` channels.
  public static func decode(path: String, options: DecodeOptions = .init()) throws -> Image {
    try decode(bytes: readFile(path), path: path, options: options)
  }

  /// Decodes JPEG or PNG `bytes` (the contents of `path`, which names the file in errors).
  public static func decode(bytes: [UInt8], path: String, options: DecodeOptions = .init()) throws -> Image {
    guard options.channels == 1 || options.channels == 3 else {
      throw ImageError(path: path, kind: .invalidArgument, reason: "channels must be 1 or 3, not \(options.channels)")
    }
    switch try format(of: bytes, path: path) {
    case .jpeg:
      return try withJPEGDecoder(bytes, path: path, options: options) { decoder in
        var width: Int32 = 0, height: Int32 = 0
        stn_jpeg_output_size(decoder, &width, &height)
        return try decodePixels(path: path, what: "JPEG", width: Int(width), height: Int(height), channels: options.channels) {
          stn_jpeg_decode(decoder, $0, $1, $2)
        }
      }
    case .png:
      return try withPNGDecoder(bytes, path: path, options: options) { decoder in
        var width: Int32 = 0, height: Int32 = 0, channels: Int32 = 0, depth: Int32 = 0, interlaced: Int32 = 0
        stn_png_header(decoder, &width, &height, &channels, &depth, &interlaced)
        return try decodePixels(path: path, what: "PNG", width: Int(width), height: Int(height), channels: options.channels) {
          stn_png_decode(decoder, $0, $1, $2)
        }
      }
    case .idx:
      throw ImageError(path: path, kind: .unsupportedFormat,
                       reason: "an IDX (or other gzip) file, not a JPEG or PNG image; IDX files are read with IDXDataset")
    }
  }

  /// Encodes a gray or RGB image as an 8-bit PNG.
  public static func encodePNG(_ image: Image) throws -> [UInt8] {
    try encode(image, what: "PNG") { pixels, out, size, message in
      stn_png_encode(pixels, Int32(image.width), Int32(image.height), Int32(image.channels), out, size, message)
    } release: { stn_png_free($0) }
  }

  /// Encodes a gray or RGB image as a baseline JPEG (4:2:0 for colour) at `quality` 1...100.
  public static func encodeJPEG(_ image: Image, quality: Int = 90) throws -> [UInt8] {
    guard (1 ... 100).contains(quality) else {
      throw ImageError(path: "<JPEG>", kind: .invalidArgument, reason: "JPEG quality must be 1...100, not \(quality)")
    }
    return try encode(image, what: "JPEG") { pixels, out, size, message in
      stn_jpeg_encode(pixels, Int32(image.width), Int32(image.height), Int32(image.channels), Int32(quality), out, size, message)
    } release: { stn_jpeg_free($0) }
  }

  /// Writes `image` to `path` atomically, as PNG or JPEG by the extension (.png, .jpg, .jpeg).
  /// `jpegQuality` defaults to 90.
  public static func write(_ image: Image, to path: String, jpegQuality: Int? = nil) throws {
    let bytes: [UInt8]
    do {
      switch (path as NSString).pathExtension.lowercased() {
      case "png": bytes = try encodePNG(image)
      case "jpg", "jpeg": bytes = try encodeJPEG(image, quality: jpegQuality ?? 90)
      default:
        throw ImageError(path: path, kind: .invalidArgument, reason: "cannot tell the format: use a .png, .jpg or .jpeg name")
      }
    } catch var error as ImageError {
      error.path = path
      throw error
    }
    do {
      try AtomicFile.write(bytes, to: path)
    } catch let error as FileError {
      throw ImageError(path: path, kind: .io, reason: error.reason)
    }
  }

  // MARK: - File reading

  /// Reads a whole file with one read into an array sized from fstat (no Data round trip: this
  /// sits on the decode benchmark's path).
  static func readFile(_ path: String) throws -> [UInt8] {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else {
      let reason = errno == ENOENT ? "no such file" : String(cString: strerror(errno))
      throw ImageError(path: path, kind: .io, reason: "cannot open: \(reason)")
    }
    defer { close(fd) }
    var status = stat()
    guard fstat(fd, &status) == 0 else {
      throw ImageError(path: path, kind: .io, reason: "cannot stat: \(String(cString: strerror(errno)))")
    }
    if (status.st_mode & S_IFMT) == S_IFDIR {
      throw ImageError(path: path, kind: .io, reason: "is a folder, not a file")
    }
    let size = Int(status.st_size)
    guard size <= 1 << 34 else {
      throw ImageError(path: path, kind: .tooLarge, reason: "file is \(size) bytes, over the 16 GiB limit")
    }
    var failure: String? = nil
    let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
      var done = 0
      while done < size {
        let n = read(fd, buffer.baseAddress! + done, size - done)
        if n < 0 && errno == EINTR { continue }
        if n < 0 { failure = String(cString: strerror(errno)); break }
        if n == 0 { break }  // file shrank while reading
        done += n
      }
      count = done
    }
    if let failure { throw ImageError(path: path, kind: .io, reason: "read failed: \(failure)") }
    return bytes
  }

  // MARK: - Shim plumbing

  static func format(of bytes: [UInt8], path: String) throws -> ImageFormat {
    if bytes.isEmpty { throw ImageError(path: path, kind: .empty, reason: "empty file (0 bytes)") }
    if let format = sniff(bytes) { return format }
    let start = bytes.prefix(4).map { String(format: "%02x", $0) }.joined(separator: " ")
    throw ImageError(path: path, kind: .unsupportedFormat, reason: "not a JPEG, PNG or IDX file (starts with \(start))")
  }

  static func kind(ofStatus status: Int32) -> ImageError.Kind {
    switch status {
    case 1: return .truncated
    case 2: return .corrupt
    case 3: return .unsupportedFormat
    case 4, 5: return .tooLarge
    case 6: return .invalidArgument
    default: return .corrupt
    }
  }

  static func shimError(_ status: Int32, _ message: [CChar], path: String, what: String) -> ImageError {
    var text = String(cString: message)
    if status == 5 { text = "out of memory" + (text.isEmpty ? "" : " (\(text))") }
    if text.isEmpty { text = "unknown error" }
    return ImageError(path: path, kind: kind(ofStatus: status), reason: "\(what): \(text)")
  }

  private static func withJPEGDecoder<T>(_ bytes: [UInt8], path: String, options: DecodeOptions,
                                         _ body: (OpaquePointer) throws -> T) throws -> T {
    var message = [CChar](repeating: 0, count: Int(STN_MESSAGE_SIZE))
    var decoder: OpaquePointer? = nil
    let status = bytes.withUnsafeBufferPointer { buffer in
      stn_jpeg_open(buffer.baseAddress, buffer.count, Int32(options.channels), Int32(options.jpegScaleDenominator),
                    Int64(options.maxPixels), &decoder, &message)
    }
    guard status == 0, let decoder else { throw shimError(status, message, path: path, what: "JPEG") }
    defer { stn_jpeg_close(decoder) }
    // NOTE: the decoder points into `bytes`; keep the array alive (and unmoved) until closed.
    return try withExtendedLifetime(bytes) { try body(decoder) }
  }

  private static func withPNGDecoder<T>(_ bytes: [UInt8], path: String, options: DecodeOptions,
                                        _ body: (OpaquePointer) throws -> T) throws -> T {
    var message = [CChar](repeating: 0, count: Int(STN_PNG_MESSAGE_SIZE))
    var decoder: OpaquePointer? = nil
    let status = bytes.withUnsafeBufferPointer { buffer in
      stn_png_open(buffer.baseAddress, buffer.count, Int32(options.channels), Int64(options.maxPixels), &decoder, &message)
    }
    guard status == 0, let decoder else { throw shimError(status, message, path: path, what: "PNG") }
    defer { stn_png_close(decoder) }
    return try withExtendedLifetime(bytes) { try body(decoder) }
  }

  /// Allocates the image once and lets the shim decode straight into it.
  private static func decodePixels(
    path: String, what: String, width: Int, height: Int, channels: Int,
    _ decode: (UnsafeMutablePointer<UInt8>?, Int, UnsafeMutablePointer<CChar>) -> Int32
  ) throws -> Image {
    let count = width * height * channels
    var message = [CChar](repeating: 0, count: 200)
    var status: Int32 = 0
    let pixels = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
      status = message.withUnsafeMutableBufferPointer { decode(buffer.baseAddress, count, $0.baseAddress!) }
      initialized = status == 0 ? count : 0
    }
    guard status == 0 else { throw shimError(status, message, path: path, what: what) }
    return Image(width: width, height: height, channels: channels, pixels: pixels)
  }

  private static func encode(
    _ image: Image, what: String,
    _ call: (UnsafePointer<UInt8>?, UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>, UnsafeMutablePointer<Int>,
             UnsafeMutablePointer<CChar>) -> Int32,
    release: (UnsafeMutableRawPointer?) -> Void
  ) throws -> [UInt8] {
    guard image.channels == 1 || image.channels == 3 else {
      throw ImageError(path: "<\(what)>", kind: .invalidArgument, reason: "can encode 1 or 3 channels, not \(image.channels)")
    }
    var message = [CChar](repeating: 0, count: 200)
    var out: UnsafeMutablePointer<UInt8>? = nil
    var size = 0
    let status = image.pixels.withUnsafeBufferPointer { pixels in
      message.withUnsafeMutableBufferPointer { call(pixels.baseAddress, &out, &size, $0.baseAddress!) }
    }
    guard status == 0, let out else { throw shimError(status, message, path: "<\(what)>", what: "\(what) encode") }
    defer { release(out) }
    return [UInt8](UnsafeBufferPointer(start: out, count: size))
  }
}
