import Foundation
import STNImageIO
import STNWarp

/// A parsed pipeline file: source, decode options, stages, resample settings, batching, seed, and
/// the `model:` and `train:` sections kept verbatim for the trainer.
///
/// Accepted keys (see pipelines/example-all-options.yaml): `source`, `decode`, `resample`,
/// `stages`, `batch`, `seed`, `model`, `train`, `name`, `description`. The stage model is in
/// Stages.swift; reading it from YAML is in PipelineConfig+Parsing.swift.
public struct PipelineConfig: Sendable {
  /// The file this came from (`<string>` when parsed from text).
  public var path: String
  public var name: String?
  public var source: SourceSpec?
  /// The classes' names from `source.classes` / `source.classes_file` (nil: the data's own:
  /// folder names, or "0", "1", ... for IDX).
  public var classNames: [String]?
  /// 1 (gray) or 3 (RGB).
  public var channels: Int = 3
  /// `decode.exif_orientation`: turn images upright by their EXIF orientation tag before any
  /// stage (default false, as torchvision's and Pillow's decoders).
  public var exifOrientation: Bool = false
  public var stages: [StageEntry] = []
  public var resample = ResampleSettings()
  public var batching = BatchingConfig()
  public var seed: UInt64 = 0
  /// `model:` as written (not validated here).
  public var model: ConfigNode?
  /// `train:` as written (not validated here).
  public var train: ConfigNode?

  public init(path: String = "<string>") {
    self.path = path
  }

  /// The `normalize` stage's mean/std, expanded to one per channel, if there is one.
  public var normalization: (mean: [Double], std: [Double])? {
    for entry in stages {
      if case .normalize(let mean, let std) = entry.stage {
        return (expand(mean), expand(std))
      }
    }
    return nil
  }

  private func expand(_ values: [Double]) -> [Double] {
    values.count == channels ? values : [Double](repeating: values.first ?? 0, count: channels)
  }

  /// Per-channel `out = pixel * scale + bias` that turns a 0-255 sample into the float output:
  /// x/255 without `normalize`, (x/255 - mean)/std with it.
  public var outputScaleBias: (scale: [Float], bias: [Float]) {
    guard let (mean, std) = normalization else {
      return ([Float](repeating: 1 / 255, count: channels), [Float](repeating: 0, count: channels))
    }
    return ((0..<channels).map { Float(1 / (255 * std[$0])) }, (0..<channels).map { Float(-mean[$0] / std[$0]) })
  }

  /// The learned stage (`learned_transform`/`learned_affine`), if there is one (parsing allows at most one).
  public var learnedStage: StageEntry? {
    stages.first { $0.stage.isLearned }
  }

  /// True when a learned stage needs a `ThetaPredictor`.
  public var hasLearnedStage: Bool { learnedStage != nil }

  // MARK: Loading

  /// Reads and validates a pipeline file (at most `ConfigNode.maxBytes` of it is read: a
  /// pipeline file is untrusted input, and may be a device or a pipe).
  public static func load(path: String) throws -> PipelineConfig {
    guard let handle = FileHandle(forReadingAtPath: path) else {
      throw PipelineError(file: path, line: 0, reason: "cannot read pipeline file (missing or not readable)")
    }
    defer { try? handle.close() }
    let data: Data
    do {
      // One byte more than allowed tells "at the limit" from "over it" without reading it all.
      data = try handle.read(upToCount: ConfigNode.maxBytes + 1) ?? Data()
    } catch {
      throw PipelineError(file: path, line: 0, reason: "cannot read pipeline file: \(error.localizedDescription)")
    }
    guard data.count <= ConfigNode.maxBytes else {
      throw PipelineError(file: path, line: 0, reason: "the pipeline file is larger than \(ConfigNode.maxBytes / 1024) KiB; pipeline files are small YAML documents")
    }
    guard let text = String(data: data, encoding: .utf8) else {
      throw PipelineError(file: path, line: 0, reason: "pipeline file is not UTF-8 text")
    }
    return try parse(yaml: text, path: path)
  }
}
