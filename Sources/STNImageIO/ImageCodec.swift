import CJPEG
import CPNG
import Foundation
import STNFiles

// MARK: - Options and facts

/// How to decode an image: output channels, the decompression-bomb limit, reduced JPEG decoding,
/// EXIF orientation.
public struct DecodeOptions: Sendable, Equatable {
  /// Output channels: 1 (gray, Pillow's `convert("L")`) or 3 (RGB, Pillow's `convert("RGB")`).
  public var channels: Int
  /// Images whose header claims more pixels than this are rejected before any large allocation.
  /// The default is twice Pillow's 89,478,485-pixel decompression-bomb warning level.
  public var maxPixels: Int
  /// JPEG only: decode at 1/1, 1/2, 1/4 or 1/8 of the size in the DCT (libjpeg `scale_denom`).
  /// Other formats ignore it.
  public var jpegScaleDenominator: Int
  /// Turn the pixels upright by the file's EXIF Orientation tag (1...8), as Pillow's
  /// `ImageOps.exif_transpose` does; `probe` then reports the displayed size. Off by default,
  /// as in torchvision's `read_image`/`decode_jpeg` and Pillow's plain `Image.open`: pixels as
  /// stored. Read from JPEG APP1 "Exif" segments and from a PNG eXIf chunk placed before the
  /// image data (not from XMP, which Pillow also consults when EXIF has no tag). Missing,
  /// damaged or cut-off EXIF data counts as orientation 1, never an error (see ExifOrientation).
  public var exifOrientation: Bool

  public static let defaultMaxPixels = 178_956_970

  public init(channels: Int = 3, maxPixels: Int = 178_956_970, jpegScaleDenominator: Int = 1,
              exifOrientation: Bool = false) {
    self.channels = channels
    self.maxPixels = maxPixels
    self.jpegScaleDenominator = jpegScaleDenominator
    self.exifOrientation = exifOrientation
  }
}

/// How to compress a PNG: the fast encoder (default) or zlib through libpng at a level 0...9.
///
/// Size against speed on 240 augmented 224x224 RGB photos (rotated, scaled crops of the bench
/// corpus with black corners), one core, medians of 3 rounds alternated with OpenCV in one
/// sitting (2-core machine under a load average of 3 to 6.6 from other builds: compare the
/// rows, not the absolute times):
///
/// | setting                                                    | ms/image | bytes/image |
/// |------------------------------------------------------------|---------:|------------:|
/// | `.fast` (default)                                          |     0.49 |      59,802 |
/// | OpenCV `cv2.imencode(".png")` (level 1, Z_RLE, Sub filter) |     2.59 |      68,076 |
/// | level 0 (stored)                                           |     0.30 |     151,056 |
/// | level 1                                                    |     3.57 |      66,395 |
/// | level 3                                                    |     5.37 |      63,926 |
/// | level 6 (libpng's default, the encoder before `.fast`)     |    16.1  |      58,794 |
/// | level 9                                                    |    57.4  |      57,955 |
///
/// On photos the levels buy at most 3% over `.fast`. Flat pictures with text or repeated
/// patterns (plots, contact sheets) are another matter: zlib finds matches the fast encoder does
/// not look for; a 640x480 line plot with text took 66,827 bytes with `.fast`, 44,213 at level
/// 1 and 39,759 at level 9.
public struct PNGOptions: Sendable, Equatable {
  /// nil: the fast encoder, every row Paeth-filtered, then one deflate block of literals and
  /// byte runs under a Huffman table built for the image (fpng/fpnge's approach).
  /// 0...9: zlib level through libpng with its adaptive row filters; 0 stores the rows
  /// uncompressed, 1 is fastest, 9 smallest, 6 is libpng's own default.
  public var level: Int?

  /// The accepted zlib levels.
  public static let levels: ClosedRange<Int> = 0 ... 9
  /// The fast encoder: the default.
  public static let fast = PNGOptions()

  /// `level` nil for the fast encoder, or 0...9 (checked when encoding).
  public init(level: Int? = nil) {
    self.level = level
  }

  /// Reads a command-line value (for `--png-level`): "fast", or a zlib level "0" ... "9".
  /// nil for anything else.
  public init?(argument: String) {
    if argument.lowercased() == "fast" {
      self.init()
    } else if let level = Int(argument), PNGOptions.levels.contains(level) {
      self.init(level: level)
    } else {
      return nil
    }
  }
}

/// How to encode an image: PNG compression and JPEG quality (each format uses its own).
public struct EncodeOptions: Sendable, Equatable {
  public var png: PNGOptions
  /// JPEG quality 1...100 (libjpeg's scale); baseline, 4:2:0 for colour.
  public var jpegQuality: Int

  public init(png: PNGOptions = .fast, jpegQuality: Int = 90) {
    self.png = png
    self.jpegQuality = jpegQuality
  }

  /// For drawn pictures (sheets, plots, TensorBoard grids): flat areas and text compress far
  /// better with zlib (a 640x480 plot: 44 KB at level 6 against 67 KB fast), and there are few.
  public static let pictures = EncodeOptions(png: PNGOptions(level: 6))
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
  /// The EXIF orientation applied to `width` and `height`: 1 (as stored) unless probed with
  /// `DecodeOptions.exifOrientation` and the file has a valid tag.
  public var orientation: Int

  public init(format: ImageFormat, width: Int, height: Int, channels: Int, count: Int = 1, orientation: Int = 1) {
    self.format = format
    self.width = width
    self.height = height
    self.channels = channels
    self.count = count
    self.orientation = orientation
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
    try probe(bytes: readFile(path), path: path, options: DecodeOptions(maxPixels: maxPixels))
  }

  /// Reads the header of `bytes` (the contents of `path`, which names the file in errors).
  public static func probe(bytes: [UInt8], path: String, maxPixels: Int = DecodeOptions.defaultMaxPixels) throws -> ImageInfo {
    try probe(bytes: bytes, path: path, options: DecodeOptions(maxPixels: maxPixels))
  }

  /// Reads the header of the file at `path` under `options` (`maxPixels`; `exifOrientation`
  /// makes width and height the displayed ones). Channel count and scale do not apply.
  public static func probe(path: String, options: DecodeOptions) throws -> ImageInfo {
    try probe(bytes: readFile(path), path: path, options: options)
  }

  /// Reads the header of `bytes` (the contents of `path`, which names the file in errors).
  public static func probe(bytes: [UInt8], path: String, options: DecodeOptions) throws -> ImageInfo {
    let maxPixels = options.maxPixels
    var info: ImageInfo
    switch try format(of: bytes, path: path) {
    case .jpeg:
      info = try withJPEGDecoder(bytes, path: path, options: DecodeOptions(maxPixels: maxPixels, exifOrientation: options.exifOrientation)) { decoder in
        var width: Int32 = 0, height: Int32 = 0, components: Int32 = 0
        stn_jpeg_header(decoder, &width, &height, &components)
        return ImageInfo(format: .jpeg, width: Int(width), height: Int(height), channels: Int(components),
                         orientation: options.exifOrientation ? jpegOrientation(decoder) : 1)
      }
    case .png:
      info = try withPNGDecoder(bytes, path: path, options: DecodeOptions(maxPixels: maxPixels)) { decoder in
        var width: Int32 = 0, height: Int32 = 0, channels: Int32 = 0, depth: Int32 = 0, interlaced: Int32 = 0
        stn_png_header(decoder, &width, &height, &channels, &depth, &interlaced)
        return ImageInfo(format: .png, width: Int(width), height: Int(height), channels: Int(channels),
                         orientation: options.exifOrientation ? pngOrientation(decoder) : 1)
      }
    case .idx:
      let header = try IDXHeader.read(bytes, path: path)
      if header.dimensions.count == 3 && header.width * header.height > maxPixels {
        throw ImageError(path: path, kind: .tooLarge,
                         reason: "IDX images are \(header.width)x\(header.height), over the \(maxPixels)-pixel limit")
      }
      return ImageInfo(format: .idx, width: header.width, height: header.height, channels: 1, count: header.count)
    }
    (info.width, info.height) = ExifOrientation.displayedSize(width: info.width, height: info.height, orientation: info.orientation)
    return info
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
        // Read before decoding: libjpeg releases the saved markers when it finishes.
        let orientation = options.exifOrientation ? jpegOrientation(decoder) : 1
        return try decodePixels(path: path, what: "JPEG", width: Int(width), height: Int(height), channels: options.channels) {
          stn_jpeg_decode(decoder, $0, $1, $2)
        }.applyingExifOrientation(orientation)
      }
    case .png:
      return try withPNGDecoder(bytes, path: path, options: options) { decoder in
        var width: Int32 = 0, height: Int32 = 0, channels: Int32 = 0, depth: Int32 = 0, interlaced: Int32 = 0
        stn_png_header(decoder, &width, &height, &channels, &depth, &interlaced)
        let orientation = options.exifOrientation ? pngOrientation(decoder) : 1
        return try decodePixels(path: path, what: "PNG", width: Int(width), height: Int(height), channels: options.channels) {
          stn_png_decode(decoder, $0, $1, $2)
        }.applyingExifOrientation(orientation)
      }
    case .idx:
      throw ImageError(path: path, kind: .unsupportedFormat,
                       reason: "an IDX (or other gzip) file, not a JPEG or PNG image; IDX files are read with IDXDataset")
    }
  }

  /// Encodes a gray or RGB image as PNG or JPEG bytes in memory, so the caller can write the
  /// file in one call. IDX is not an output format (`.invalidArgument`).
  public static func encode(_ image: Image, format: ImageFormat, options: EncodeOptions = .init()) throws -> [UInt8] {
    switch format {
    case .png: return try encodePNG(image, options: options.png)
    case .jpeg: return try encodeJPEG(image, quality: options.jpegQuality)
    case .idx:
      throw ImageError(path: "<IDX>", kind: .invalidArgument, reason: "cannot encode IDX: images are written as PNG or JPEG")
    }
  }

  /// Encodes a gray or RGB image as an 8-bit PNG (fast encoder unless `options.level` is set).
  public static func encodePNG(_ image: Image, options: PNGOptions = .fast) throws -> [UInt8] {
    guard let level = options.level else {
      return try encode(image, what: "PNG") { pixels, out, size, message in
        stn_png_encode_fast(pixels, Int32(image.width), Int32(image.height), Int32(image.channels), out, size, message)
      } release: { stn_png_free($0) }
    }
    guard PNGOptions.levels.contains(level) else {
      throw ImageError(path: "<PNG>", kind: .invalidArgument, reason: "PNG compression level must be 0...9 or fast, not \(level)")
    }
    return try encode(image, what: "PNG") { pixels, out, size, message in
      stn_png_encode(pixels, Int32(image.width), Int32(image.height), Int32(image.channels), Int32(level), out, size, message)
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

  /// The output format a file name asks for: .png, or .jpg/.jpeg (any case); nil otherwise.
  public static func outputFormat(forPath path: String) -> ImageFormat? {
    switch (path as NSString).pathExtension.lowercased() {
    case "png": return .png
    case "jpg", "jpeg": return .jpeg
    default: return nil
    }
  }

  /// Writes `image` to `path` atomically, as PNG or JPEG by the extension (.png, .jpg, .jpeg).
  /// `jpegQuality` defaults to 90; PNGs use the fast encoder.
  public static func write(_ image: Image, to path: String, jpegQuality: Int? = nil) throws {
    try write(image, to: path, options: EncodeOptions(jpegQuality: jpegQuality ?? 90))
  }

  /// Writes `image` to `path` atomically (encoded in memory, then AtomicFile), as PNG or JPEG by
  /// the extension (.png, .jpg, .jpeg), with `options` for that format.
  public static func write(_ image: Image, to path: String, options: EncodeOptions) throws {
    let bytes: [UInt8]
    do {
      guard let format = outputFormat(forPath: path) else {
        throw ImageError(path: path, kind: .invalidArgument, reason: "cannot tell the format: use a .png, .jpg or .jpeg name")
      }
      bytes = try encode(image, format: format, options: options)
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
                    Int64(options.maxPixels), options.exifOrientation ? 1 : 0, &decoder, &message)
    }
    guard status == 0, let decoder else { throw shimError(status, message, path: path, what: "JPEG") }
    defer { stn_jpeg_close(decoder) }
    // NOTE: the decoder points into `bytes`; keep the array alive (and unmoved) until closed.
    return try withExtendedLifetime(bytes) { try body(decoder) }
  }

  private static func withPNGDecoder<T>(_ bytes: [UInt8], path: String, options: DecodeOptions,
                                        _ body: (OpaquePointer) throws -> T) throws -> T {
    var message = [CChar](repeating: 0, count: Int(STN_MESSAGE_SIZE))
    var decoder: OpaquePointer? = nil
    let status = bytes.withUnsafeBufferPointer { buffer in
      stn_png_open(buffer.baseAddress, buffer.count, Int32(options.channels), Int64(options.maxPixels), &decoder, &message)
    }
    guard status == 0, let decoder else { throw shimError(status, message, path: path, what: "PNG") }
    defer { stn_png_close(decoder) }
    return try withExtendedLifetime(bytes) { try body(decoder) }
  }

  /// EXIF orientation from an open JPEG decoder's kept APP1 segments (opened with exifOrientation).
  private static func jpegOrientation(_ decoder: OpaquePointer) -> Int {
    var segments: [[UInt8]] = []
    var data: UnsafePointer<UInt8>? = nil
    var size = 0
    while stn_jpeg_exif_segment(decoder, Int32(segments.count), &data, &size) != 0, let data {
      segments.append(Array(UnsafeBufferPointer(start: data, count: size)))
    }
    return ExifOrientation.orientation(app1Segments: segments)
  }

  /// EXIF orientation from an open PNG decoder's eXIf chunk.
  private static func pngOrientation(_ decoder: OpaquePointer) -> Int {
    var data: UnsafePointer<UInt8>? = nil
    var size = 0
    guard stn_png_exif(decoder, &data, &size) != 0, let data else { return ExifOrientation.upright }
    return ExifOrientation.orientation(tiff: Array(UnsafeBufferPointer(start: data, count: size))[...])
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
