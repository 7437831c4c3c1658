/// A labelled image source the pipeline reads from (random access, thread-safe reads).
public protocol ImageDataset: Sendable {
  /// Number of images.
  var count: Int { get }
  /// Class names; `label(at:)` indexes into them.
  var classes: [String] { get }
  func label(at index: Int) -> Int
  /// Relative path used to mirror the input tree on output (e.g. "cat/001.jpg", or
  /// "train/3/000123.png" for IDX).
  func relativePath(at index: Int) -> String
  /// Source file path for error messages (for IDX: the IDX file).
  func sourcePath(at index: Int) -> String
  func loadImage(at index: Int, options: DecodeOptions) throws -> Image
}
