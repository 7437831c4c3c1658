import Foundation

/// Uncompressed IDX files (the MNIST format) written by tests.
public enum IDXFiles {
  /// Writes `folder/<prefix>-images-idx3-ubyte` (`images`, each `height` rows of `width` bytes)
  /// and `folder/<prefix>-labels-idx1-ubyte` (`labels`, one byte each), creating `folder`.
  public static func write(images: [[UInt8]], labels: [UInt8], width: Int, height: Int, prefix: String, into folder: String) throws {
    func bigEndian(_ values: [Int]) -> [UInt8] { values.flatMap { value in (0..<4).reversed().map { UInt8(value >> ($0 * 8) & 255) } } }
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    let imageBytes = [0, 0, 8, 3] + bigEndian([images.count, height, width]) + images.flatMap { $0 }
    try Data(imageBytes).write(to: URL(fileURLWithPath: "\(folder)/\(prefix)-images-idx3-ubyte"))
    try Data([0, 0, 8, 1] + bigEndian([labels.count]) + labels).write(to: URL(fileURLWithPath: "\(folder)/\(prefix)-labels-idx1-ubyte"))
  }
}
