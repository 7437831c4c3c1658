import Foundation
import STNImageIO

extension PipelineConfig {
  /// Opens the pipeline's `source:` (an image folder or IDX files) with `ImageDatasets.open`,
  /// the one way data is opened, with the class names the pipeline gives.
  /// `split`: a `--split` flag, read instead of the source's own `split:`; an error when the
  /// source is an image folder (it would change nothing).
  public func openSource(split asked: String? = nil) throws -> any ImageDataset {
    switch source {
    case .imageFolder(let path)?:
      return try ImageDatasets.open(path, split: asked ?? "train", splitGiven: asked != nil, classNames: classNames)
    case .idx(let folder, let split)?:
      return try ImageDatasets.open(folder, split: asked ?? split, splitGiven: asked != nil, classNames: classNames)
    case nil:
      throw PipelineError(file: path, line: 0, reason: "the pipeline has no 'source:'; give the data with --input")
    }
  }

  /// Opens data named on the command line (`--input`) for this pipeline. The pipeline's class
  /// names apply to IDX data, and to image folders when its own source is an image folder (a
  /// name list for Fashion-MNIST labels says nothing about a folder of photos).
  /// `split`: a `--split` flag (nil: "train"); given, data it cannot apply to is an error.
  /// The path is opened (and an image folder scanned) once.
  public func openInput(_ path: String, split asked: String? = nil) throws -> any ImageDataset {
    var folderNames: [String]?
    if case .imageFolder? = source { folderNames = classNames }
    let dataset = try ImageDatasets.open(path, split: asked ?? "train", splitGiven: asked != nil, classNames: folderNames)
    guard folderNames == nil, let classNames, var idx = dataset as? IDXDataset else { return dataset }
    try idx.name(classes: classNames)
    return idx
  }

  /// What a command reads: `--input` when given (`openInput`), else the pipeline's `source:`
  /// (`openSource`); `split` is the command's `--split`.
  public func openData(input: String?, split: String?) throws -> any ImageDataset {
    try input.map { try openInput($0, split: split) } ?? openSource(split: split)
  }

  /// How every sample of this pipeline is decoded: its channels, and EXIF orientation when
  /// `decode.exif_orientation` is on (the one place both are turned into `DecodeOptions`).
  public var decodeOptions: DecodeOptions { DecodeOptions(channels: channels, exifOrientation: exifOrientation) }

  /// The folder the pipeline's `source:` reads (for refusing writes into it).
  public var sourceFolder: String? {
    switch source {
    case .imageFolder(let path)?: return path
    case .idx(let folder, _)?: return folder
    case nil: return nil
    }
  }

  /// The one "needs a predictor" check: throws, at the stage's line, when a learned stage
  /// (`learned_transform`/`learned_affine`) is present but `what` (a command) was given no
  /// `ThetaPredictor` to drive it.
  public func requirePredictor(_ predictor: ThetaPredictor?, what: String) throws {
    guard predictor == nil, let entry = learnedStage else { return }
    throw PipelineError(file: path, line: entry.line, reason: "\(entry.name) needs a trained model (its checkpoint), which \(what) was not given")
  }
}

extension SourceSpec {
  /// The source a command-line `--input` names: a folder holding IDX files (and no images) is
  /// IDX data (its train split), any other folder an image folder.
  public init(input: String) throws {
    let scan = try FolderScan(root: input)
    self = scan.images.isEmpty && !scan.idxFiles.isEmpty ? .idx(folder: input, split: "train") : .imageFolder(path: input)
  }
}
