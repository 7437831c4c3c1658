// TEMPORARY stand-ins for the STNImageIO contract (codecs, datasets) until the image helper's
// work lands on main. Delete this file then. Only uncompressed ("stored" deflate) PNG is read.
import Foundation
import STNFiles
import STNImageIO

public struct DecodeOptions: Sendable {
  public var channels: Int
  public var maxPixels: Int
  public var jpegScaleDenominator: Int
  public init(channels: Int = 3, maxPixels: Int = 178_956_970, jpegScaleDenominator: Int = 1) {
    self.channels = channels
    self.maxPixels = maxPixels
    self.jpegScaleDenominator = jpegScaleDenominator
  }
}

public struct ImageInfo: Sendable {
  public var format: ImageFormat
  public var width: Int
  public var height: Int
  public var channels: Int
}

public enum ImageCodec {
  public static func probe(path: String) throws -> ImageInfo {
    let image = try decode(path: path, options: DecodeOptions(channels: 3))
    return ImageInfo(format: .png, width: image.width, height: image.height, channels: 3)
  }

  public static func decode(path: String, options: DecodeOptions) throws -> Image {
    let bytes: [UInt8]
    do { bytes = try AtomicFile.read(path) } catch { throw ImageError(path: path, kind: .io, reason: "\(error)") }
    if bytes.isEmpty { throw ImageError(path: path, kind: .empty, reason: "empty file") }
    guard bytes.count > 33, bytes[0] == 0x89, bytes[1] == 0x50 else {
      throw ImageError(path: path, kind: .unsupportedFormat, reason: "not a PNG (temporary decoder)")
    }
    func be32(_ i: Int) -> Int { Int(bytes[i]) << 24 | Int(bytes[i + 1]) << 16 | Int(bytes[i + 2]) << 8 | Int(bytes[i + 3]) }
    var i = 8
    var width = 0, height = 0, colorType = 0
    var idat: [UInt8] = []
    while i + 8 <= bytes.count {
      let length = be32(i)
      guard length >= 0, i + 12 + length <= bytes.count else { throw ImageError(path: path, kind: .truncated, reason: "truncated chunk") }
      let type = String(decoding: bytes[(i + 4)..<(i + 8)], as: UTF8.self)
      let body = Array(bytes[(i + 8)..<(i + 8 + length)])
      if type == "IHDR" {
        width = Int(body[0]) << 24 | Int(body[1]) << 16 | Int(body[2]) << 8 | Int(body[3])
        height = Int(body[4]) << 24 | Int(body[5]) << 16 | Int(body[6]) << 8 | Int(body[7])
        colorType = Int(body[9])
      } else if type == "IDAT" {
        idat += body
      } else if type == "IEND" {
        break
      }
      i += 12 + length
    }
    let sourceChannels = colorType == 0 ? 1 : 3
    var raw: [UInt8] = []
    var p = 2
    while p < idat.count {
      let final = idat[p] & 1
      guard idat[p] & 6 == 0, p + 5 <= idat.count else { throw ImageError(path: path, kind: .corrupt, reason: "compressed PNG not supported by temporary decoder") }
      let len = Int(idat[p + 1]) | Int(idat[p + 2]) << 8
      guard p + 5 + len <= idat.count else { throw ImageError(path: path, kind: .truncated, reason: "truncated") }
      raw += idat[(p + 5)..<(p + 5 + len)]
      p += 5 + len
      if final == 1 { break }
    }
    let stride = width * sourceChannels
    guard width > 0, height > 0, raw.count >= height * (stride + 1) else { throw ImageError(path: path, kind: .truncated, reason: "truncated") }
    var pixels = [UInt8](repeating: 0, count: width * height * options.channels)
    for y in 0..<height {
      for x in 0..<width {
        for c in 0..<options.channels {
          let s: UInt8
          if sourceChannels == options.channels {
            s = raw[y * (stride + 1) + 1 + x * sourceChannels + c]
          } else if sourceChannels == 1 {
            s = raw[y * (stride + 1) + 1 + x]
          } else {
            let r = Int(raw[y * (stride + 1) + 1 + x * 3]), g = Int(raw[y * (stride + 1) + 2 + x * 3]), b = Int(raw[y * (stride + 1) + 3 + x * 3])
            s = UInt8((r * 19595 + g * 38470 + b * 7471 + 32768) >> 16)
          }
          pixels[(y * width + x) * options.channels + c] = s
        }
      }
    }
    return Image(width: width, height: height, channels: options.channels, pixels: pixels)
  }

  public static func write(_ image: Image, to path: String, jpegQuality: Int = 90) throws {
    var out: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    func chunk(_ type: String, _ body: [UInt8]) {
      let typed = Array(type.utf8) + body
      out += be(UInt32(body.count)) + typed + be(crc(typed))
    }
    func be(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 255), UInt8((v >> 8) & 255), UInt8(v & 255)] }
    func crc(_ data: [UInt8]) -> UInt32 {
      var c: UInt32 = 0xFFFF_FFFF
      for byte in data {
        c ^= UInt32(byte)
        for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
      }
      return c ^ 0xFFFF_FFFF
    }
    chunk("IHDR", be(UInt32(image.width)) + be(UInt32(image.height)) + [8, image.channels == 1 ? 0 : 2, 0, 0, 0])
    var raw: [UInt8] = []
    let stride = image.width * image.channels
    for y in 0..<image.height { raw.append(0); raw += image.pixels[(y * stride)..<((y + 1) * stride)] }
    var z: [UInt8] = [0x78, 0x01]
    var p = 0
    repeat {
      let n = min(65535, raw.count - p)
      let final: UInt8 = p + n >= raw.count ? 1 : 0
      z += [final, UInt8(n & 255), UInt8(n >> 8), UInt8(~n & 255), UInt8((~n >> 8) & 255)]
      z += raw[p..<(p + n)]
      p += n
    } while p < raw.count
    var a: UInt32 = 1, b: UInt32 = 0
    for byte in raw { a = (a + UInt32(byte)) % 65521; b = (b + a) % 65521 }
    z += be(b << 16 | a)
    chunk("IDAT", z)
    chunk("IEND", [])
    do { try AtomicFile.write(out, to: path) } catch { throw ImageError(path: path, kind: .io, reason: "\(error)") }
  }
}

public protocol ImageDataset: Sendable {
  var count: Int { get }
  var classes: [String] { get }
  func label(at index: Int) -> Int
  func relativePath(at index: Int) -> String
  func sourcePath(at index: Int) -> String
  func loadImage(at index: Int, options: DecodeOptions) throws -> Image
}

public struct ImageFolder: ImageDataset {
  public let root: String
  public private(set) var classes: [String] = []
  public private(set) var warnings: [String] = []
  private var files: [(path: String, label: Int)] = []

  public init(root: String) throws {
    self.root = root
    let fm = FileManager.default
    var isDirectory: ObjCBool = false
    guard fm.fileExists(atPath: root, isDirectory: &isDirectory), isDirectory.boolValue else {
      throw ImageError(path: root, kind: .io, reason: "not a folder")
    }
    let extensions: Set<String> = ["png", "jpg", "jpeg"]
    let entries = ((try? fm.contentsOfDirectory(atPath: root)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
    for entry in entries {
      var isDir: ObjCBool = false
      guard fm.fileExists(atPath: root + "/" + entry, isDirectory: &isDir), isDir.boolValue else { continue }
      let label = classes.count
      classes.append(entry)
      let names = ((try? fm.contentsOfDirectory(atPath: root + "/" + entry)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
      for name in names where extensions.contains((name as NSString).pathExtension.lowercased()) {
        files.append((entry + "/" + name, label))
      }
    }
  }

  public var count: Int { files.count }
  public func label(at index: Int) -> Int { files[index].label }
  public func relativePath(at index: Int) -> String { files[index].path }
  public func sourcePath(at index: Int) -> String { root + "/" + files[index].path }
  public func loadImage(at index: Int, options: DecodeOptions) throws -> Image {
    try ImageCodec.decode(path: sourcePath(at: index), options: options)
  }
}

public struct IDXDataset: ImageDataset {
  public let imagesPath: String
  private let width: Int, height: Int
  private let pixels: [UInt8]
  private let labels: [UInt8]

  public init(images: String, labels: String) throws {
    imagesPath = images
    let data = try AtomicFile.read(images)
    let labelData = try AtomicFile.read(labels)
    func be32(_ b: [UInt8], _ i: Int) -> Int { Int(b[i]) << 24 | Int(b[i + 1]) << 16 | Int(b[i + 2]) << 8 | Int(b[i + 3]) }
    guard data.count >= 16, labelData.count >= 8 else { throw ImageError(path: images, kind: .corrupt, reason: "bad IDX") }
    let n = be32(data, 4)
    height = be32(data, 8)
    width = be32(data, 12)
    pixels = Array(data[16...])
    self.labels = Array(labelData[8...])
    guard pixels.count >= n * width * height, self.labels.count >= n else { throw ImageError(path: images, kind: .truncated, reason: "bad IDX") }
  }

  public static func locate(folder: String, split: String) throws -> (images: String, labels: String) {
    let prefix = split == "test" ? "t10k" : "train"
    return (folder + "/\(prefix)-images-idx3-ubyte", folder + "/\(prefix)-labels-idx1-ubyte")
  }

  public var count: Int { labels.count }
  public var classes: [String] { (0..<10).map { String($0) } }
  public func label(at index: Int) -> Int { Int(labels[index]) }
  public func relativePath(at index: Int) -> String { String(format: "%05d.png", index) }
  public func sourcePath(at index: Int) -> String { imagesPath + "#\(index)" }
  public func loadImage(at index: Int, options: DecodeOptions) throws -> Image {
    let start = index * width * height
    let gray = Array(pixels[start..<(start + width * height)])
    if options.channels == 1 { return Image(width: width, height: height, channels: 1, pixels: gray) }
    return Image(width: width, height: height, channels: 3, pixels: gray.flatMap { [$0, $0, $0] })
  }
}
