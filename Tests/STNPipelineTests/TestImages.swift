import Foundation
import STNImageIO

@testable import STNPipeline

/// An in-memory dataset; entries listed in `bad` throw a corrupt-data error when loaded.
struct MemoryDataset: ImageDataset {
  var images: [Image]
  var labels: [Int]
  var bad: Set<Int> = []
  var classes: [String] { Array(Set(labels)).sorted().map { "c\($0)" } }
  var count: Int { images.count }
  func label(at index: Int) -> Int { labels[index] }
  func relativePath(at index: Int) -> String { "c\(labels[index])/img\(index).png" }
  func sourcePath(at index: Int) -> String { "memory/c\(labels[index])/img\(index).png" }
  func loadImage(at index: Int, options: DecodeOptions) throws -> Image {
    if bad.contains(index) { throw ImageError(path: sourcePath(at: index), kind: .corrupt, reason: "corrupt data (test)") }
    return images[index]
  }
}

enum TestImages {
  /// A smooth, photo-like test image: a few low-frequency sinusoids and gradients per channel,
  /// varied by `variant`.
  static func smooth(width: Int, height: Int, channels: Int, variant: Int = 0) -> Image {
    var pixels = [UInt8](repeating: 0, count: width * height * channels)
    let v = Double(variant)
    for y in 0..<height {
      for x in 0..<width {
        for c in 0..<channels {
          let fx = Double(x) / Double(width), fy = Double(y) / Double(height), fc = Double(c)
          var value = 128 + 60 * sin(2 * Double.pi * (fx * (1.5 + 0.3 * v) + fy * 0.7 + fc * 0.3))
          value += 40 * cos(2 * Double.pi * (fy * (2.2 + 0.2 * fc) - fx * 0.4 + v * 0.1))
          value += 20 * sin(2 * Double.pi * (fx * 5.0 + fy * 4.0 + v))
          pixels[(y * width + x) * channels + c] = UInt8(min(max(value.rounded(), 0), 255))
        }
      }
    }
    return Image(width: width, height: height, channels: channels, pixels: pixels)
  }

  /// A one-pixel checkerboard (the worst case for aliasing).
  static func checkerboard(width: Int, height: Int) -> Image {
    var pixels = [UInt8](repeating: 0, count: width * height)
    for y in 0..<height { for x in 0..<width where (x + y) % 2 == 0 { pixels[y * width + x] = 255 } }
    return Image(width: width, height: height, channels: 1, pixels: pixels)
  }

  /// A fresh empty temporary folder.
  static func temporaryFolder(_ name: String) throws -> String {
    let path = NSTemporaryDirectory() + "stn-pipeline-tests-\(name)-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
  }
}
