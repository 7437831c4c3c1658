import Foundation

// MARK: - IDX header

/// The header of an MNIST-family IDX file: magic `00 00 08 n` (unsigned bytes, n dimensions),
/// then n big-endian UInt32 sizes, then the data. Files may be gzip-compressed.
struct IDXHeader: Equatable {
  /// Sizes, outermost first: (N) for labels, (N,H,W) for images.
  var dimensions: [Int]
  var compressed: Bool

  var headerSize: Int { 4 + 4 * dimensions.count }
  var count: Int { dimensions.first ?? 0 }
  var height: Int { dimensions.count >= 3 ? dimensions[1] : 1 }
  var width: Int { dimensions.count >= 3 ? dimensions[2] : 1 }
  /// Data bytes after the header (already checked not to overflow by `parse`).
  var payloadSize: Int { dimensions.reduce(1, *) }

  /// Largest payload we accept (16 GiB): a sanity bound on forged sizes.
  static let maxPayload = 1 << 34

  /// True for raw IDX magic, or any gzip stream (gzip content is only read as IDX here).
  static func looksLikeIDX(_ bytes: [UInt8]) -> Bool {
    if bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B { return true }
    return bytes.count >= 4 && bytes[0] == 0 && bytes[1] == 0 && bytes[2] == 0x08 && (1 ... 4).contains(bytes[3])
  }

  static func isGzip(_ bytes: [UInt8]) -> Bool { bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B }

  /// Parses the header from the start of a raw or gzip-compressed IDX file.
  static func read(_ bytes: [UInt8], path: String) throws -> IDXHeader {
    if bytes.isEmpty { throw ImageError(path: path, kind: .empty, reason: "empty file (0 bytes)") }
    if isGzip(bytes) {
      let inflater = try Inflater(bytes, path: path)
      let magic = try inflater.read(4)
      let rank = try checkMagic(magic, path: path)
      let sizes = try inflater.read(4 * rank)
      return try parse(magic + sizes, path: path, compressed: true)
    }
    return try parse(bytes, path: path, compressed: false)
  }

  private static func checkMagic(_ bytes: [UInt8], path: String) throws -> Int {
    guard bytes.count == 4 else {
      throw ImageError(path: path, kind: .truncated, reason: "IDX header ends early")
    }
    guard bytes[0] == 0, bytes[1] == 0 else {
      throw ImageError(path: path, kind: .unsupportedFormat, reason: "not an IDX file (bad magic)")
    }
    guard bytes[2] == 0x08 else {
      throw ImageError(path: path, kind: .unsupportedFormat,
                       reason: String(format: "IDX element type 0x%02x is not supported (only unsigned bytes, 0x08)", bytes[2]))
    }
    guard bytes[3] == 1 || bytes[3] == 3 else {
      throw ImageError(path: path, kind: .unsupportedFormat,
                       reason: "IDX file has \(bytes[3]) dimensions; expected 1 (labels) or 3 (images)")
    }
    return Int(bytes[3])
  }

  private static func parse(_ bytes: [UInt8], path: String, compressed: Bool) throws -> IDXHeader {
    let rank = try checkMagic(Array(bytes.prefix(4)), path: path)
    guard bytes.count >= 4 + 4 * rank else {
      throw ImageError(path: path, kind: .truncated, reason: "IDX header ends early")
    }
    var dimensions: [Int] = []
    var product = 1
    for i in 0 ..< rank {
      let at = 4 + 4 * i
      let size = Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3])
      guard size > 0 else {
        throw ImageError(path: path, kind: .corrupt, reason: "IDX dimension \(i) is 0")
      }
      let (next, overflow) = product.multipliedReportingOverflow(by: size)
      guard !overflow, next <= maxPayload else {
        throw ImageError(path: path, kind: .tooLarge, reason: "IDX header claims sizes \((dimensions + [size]).map(String.init).joined(separator: "x"))..., over the 16 GiB limit")
      }
      product = next
      dimensions.append(size)
    }
    return IDXHeader(dimensions: dimensions, compressed: compressed)
  }

  /// Reads the whole data payload, checking every size claim before allocating.
  /// Returns the bytes and the offset of the payload in them (raw files are not copied).
  static func load(_ bytes: [UInt8], path: String, rank: Int, maxPixels: Int) throws -> (IDXHeader, [UInt8], Int) {
    let header = try read(bytes, path: path)
    guard header.dimensions.count == rank else {
      throw ImageError(path: path, kind: .unsupportedFormat,
                       reason: "IDX file has \(header.dimensions.count) dimensions; expected \(rank) (\(rank == 3 ? "images" : "labels"))")
    }
    if rank == 3 && header.width * header.height > maxPixels {
      throw ImageError(path: path, kind: .tooLarge,
                       reason: "IDX images are \(header.width)x\(header.height), over the \(maxPixels)-pixel limit")
    }
    let total = header.headerSize + header.payloadSize
    if !header.compressed {
      guard bytes.count >= total else {
        throw ImageError(path: path, kind: .truncated,
                         reason: "IDX header promises \(total) bytes, the file has \(bytes.count)")
      }
      guard bytes.count == total else {
        throw ImageError(path: path, kind: .corrupt,
                         reason: "IDX file has \(bytes.count - total) bytes after the data the header describes")
      }
      return (header, bytes, header.headerSize)
    }
    // gzip's trailer holds the uncompressed size modulo 2^32 (little-endian): a free check
    // before allocating. (A zlib stream has no such field; the inflater's byte cap covers it.)
    let n = bytes.count
    if IDXHeader.isGzip(bytes) && n >= 18 {
      let stored = UInt32(bytes[n - 1]) << 24 | UInt32(bytes[n - 2]) << 16 | UInt32(bytes[n - 3]) << 8 | UInt32(bytes[n - 4])
      guard stored == UInt32(truncatingIfNeeded: total) else {
        throw ImageError(path: path, kind: .corrupt,
                         reason: "gzip trailer says \(stored) bytes but the IDX header implies \(total) (truncated or forged)")
      }
    }
    let inflater = try Inflater(bytes, path: path)
    _ = try inflater.read(header.headerSize)
    let payload = try inflater.read(header.payloadSize)
    guard payload.count == header.payloadSize else {
      throw ImageError(path: path, kind: .truncated,
                       reason: "IDX data ends after \(payload.count) of \(header.payloadSize) bytes")
    }
    let extra = try inflater.read(1)
    guard extra.isEmpty, inflater.finished else {
      throw ImageError(path: path, kind: .corrupt, reason: "IDX file has data after what the header describes")
    }
    return (header, payload, 0)
  }
}

// MARK: - Dataset

/// An MNIST-family IDX image file (N,H,W unsigned bytes) with an optional label file, read fully
/// into memory. Classes are the labels' integer values as names, "0" ... "max label".
public struct IDXDataset: ImageDataset {
  /// Image width and height in pixels.
  public var width: Int
  public var height: Int
  public let count: Int
  /// Class names: "0", "1", ... unless named with `name(classes:)`.
  public private(set) var classes: [String]
  /// The IDX image file and label file.
  public let imagesPath: String
  public let labelsPath: String?

  /// Raw or decompressed file contents; pixels of image k start at offset + k*H*W.
  private let storage: [UInt8]
  private let offset: Int
  private let labels: [UInt8]

  /// Opens `images` (idx3) and `labels` (idx1; nil: every label 0, class "0"). Either may be
  /// gzip-compressed (detected from the magic bytes, not the name).
  public init(images: String, labels: String?, maxPixels: Int = DecodeOptions.defaultMaxPixels) throws {
    let imageBytes = try ImageCodec.readFile(images)
    let (header, storage, offset) = try IDXHeader.load(imageBytes, path: images, rank: 3, maxPixels: maxPixels)
    self.width = header.width
    self.height = header.height
    self.count = header.count
    self.storage = storage
    self.offset = offset
    self.imagesPath = images
    self.labelsPath = labels
    if let labels {
      let labelBytes = try ImageCodec.readFile(labels)
      let (labelHeader, labelStorage, labelOffset) = try IDXHeader.load(labelBytes, path: labels, rank: 1, maxPixels: maxPixels)
      guard labelHeader.count == header.count else {
        throw ImageError(path: labels, kind: .corrupt,
                         reason: "\(labelHeader.count) labels for \(header.count) images in \(images)")
      }
      self.labels = Array(labelStorage[labelOffset...])
    } else {
      self.labels = [UInt8](repeating: 0, count: header.count)
    }
    let maxLabel = Int(self.labels.max() ?? 0)
    self.classes = (0 ... maxLabel).map(String.init)
  }

  public func label(at index: Int) -> Int { Int(labels[index]) }

  /// `<class>/<index>.png`, e.g. "3/000123.png" or "Dress/000123.png" once classes are named
  /// (`ImageFolder.folderName(forClass:)`), so mirrored output forms an image folder with the
  /// same classes.
  public func relativePath(at index: Int) -> String {
    let digits = max(String(count - 1).count, 5)
    let number = String(index)
    let label = Int(labels[index])
    let folder = label < classes.count ? ImageFolder.folderName(forClass: classes[label]) : String(label)
    return "\(folder)/\(String(repeating: "0", count: max(0, digits - number.count)))\(number).png"
  }

  /// Names the classes (label k is `names[k]`); there must be a name for every label present.
  public mutating func name(classes names: [String]) throws {
    let maxLabel = Int(labels.max() ?? 0)
    guard names.count > maxLabel else {
      throw ImageError(path: labelsPath ?? imagesPath, kind: .invalidArgument,
                       reason: "labels go up to \(maxLabel) but \(names.count) class names were given")
    }
    classes = names
  }

  public func sourcePath(at index: Int) -> String { imagesPath }

  /// Image `index` as 1 channel, or replicated to 3 when `options.channels == 3`.
  public func loadImage(at index: Int, options: DecodeOptions) throws -> Image {
    guard index >= 0 && index < count else {
      throw ImageError(path: imagesPath, kind: .invalidArgument, reason: "image index \(index) out of 0..<\(count)")
    }
    guard options.channels == 1 || options.channels == 3 else {
      throw ImageError(path: imagesPath, kind: .invalidArgument, reason: "channels must be 1 or 3, not \(options.channels)")
    }
    let size = width * height
    let start = offset + index * size
    if options.channels == 1 {
      return Image(width: width, height: height, channels: 1, pixels: Array(storage[start ..< start + size]))
    }
    let pixels = [UInt8](unsafeUninitializedCapacity: size * 3) { buffer, initialized in
      for i in 0 ..< size {
        let v = storage[start + i]
        buffer[3 * i] = v
        buffer[3 * i + 1] = v
        buffer[3 * i + 2] = v
      }
      initialized = size * 3
    }
    return Image(width: width, height: height, channels: 3, pixels: pixels)
  }

  /// "train" or "test" for a split name (any case; "t10k" is "test"), nil for anything else.
  public static func canonicalSplit(_ name: String) -> String? {
    switch name.lowercased() {
    case "train": return "train"
    case "test", "t10k": return "test"
    default: return nil
    }
  }

  /// The split an IDX file's name tells (`train-...`, `t10k-...` or `test-...`), or nil.
  public static func splitNamed(by fileName: String) -> String? {
    fileName.split(separator: "-", maxSplits: 1).first.flatMap { canonicalSplit(String($0)) }
  }

  /// Finds the image/label pair of a split in `folder`: for "train", files named
  /// `train-images-idx3-ubyte[.gz]` and `train-labels-idx1-ubyte[.gz]`; for "test" (or "t10k"),
  /// `t10k-images-idx3-ubyte[.gz]` and `t10k-labels-idx1-ubyte[.gz]`.
  public static func locate(folder: String, split: String, maxPixels: Int = DecodeOptions.defaultMaxPixels) throws -> IDXDataset {
    let prefixes: [String]
    switch canonicalSplit(split) {
    case "train"?: prefixes = ["train"]
    case "test"?: prefixes = ["t10k", "test"]
    default:
      throw ImageError(path: folder, kind: .invalidArgument, reason: "split must be \"train\" or \"test\", not \"\(split)\"")
    }
    let names: [String]
    do {
      names = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
    } catch {
      throw ImageError(path: folder, kind: .io, reason: "cannot list folder: \(error.localizedDescription)")
    }
    func find(_ kind: String, _ rank: String) -> String? {
      for prefix in prefixes {
        let stem = "\(prefix)-\(kind)-\(rank)-ubyte"
        for candidate in [stem, stem + ".gz"] where names.contains(candidate) {
          return (folder as NSString).appendingPathComponent(candidate)
        }
      }
      return nil
    }
    guard let images = find("images", "idx3") else {
      throw ImageError(path: folder, kind: .io, reason: "no \(prefixes[0])-images-idx3-ubyte[.gz] in this folder")
    }
    guard let labels = find("labels", "idx1") else {
      throw ImageError(path: folder, kind: .io, reason: "no \(prefixes[0])-labels-idx1-ubyte[.gz] in this folder")
    }
    return try IDXDataset(images: images, labels: labels, maxPixels: maxPixels)
  }
}
