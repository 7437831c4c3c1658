import Foundation
import STNImageIO
import STNTensor
import STNWarp

/// Every image file under a folder, recursively (hidden entries skipped, extensions matched
/// case-insensitively), in sorted path order. The class of a file is its top-level folder
/// (files directly in the root have class "."), so an ImageFolder layout keeps its labels while
/// any other tree can still be converted and mirrored.
public struct ImageTree: ImageDataset {
  public let root: String
  public let classes: [String]
  private let files: [String]
  private let labels: [Int]

  /// File extensions read (lowercase).
  public static let extensions: Set<String> = ["jpg", "jpeg", "jpe", "jfif", "png"]

  public init(root: String) throws {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory), isDirectory.boolValue else {
      throw SampleError(path: root, reason: "not a folder")
    }
    self.root = root
    var found: [String] = []
    ImageTree.walk(root: root, relative: "", into: &found)
    found.sort()
    files = found
    var classNames: [String] = []
    var labels: [Int] = []
    var classIndex: [String: Int] = [:]
    let tops = Set(found.map { ImageTree.topFolder($0) }).sorted()
    for name in tops {
      classIndex[name] = classNames.count
      classNames.append(name)
    }
    for file in found { labels.append(classIndex[ImageTree.topFolder(file)] ?? 0) }
    self.classes = classNames
    self.labels = labels
  }

  private static func topFolder(_ relative: String) -> String {
    let parts = relative.split(separator: "/")
    return parts.count > 1 ? String(parts[0]) : "."
  }

  private static func walk(root: String, relative: String, into found: inout [String]) {
    let folder = relative.isEmpty ? root : root + "/" + relative
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return }
    for name in names where !name.hasPrefix(".") {
      let path = folder + "/" + name
      let child = relative.isEmpty ? name : relative + "/" + name
      var isDirectory: ObjCBool = false
      guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { continue }
      if isDirectory.boolValue {
        walk(root: root, relative: child, into: &found)
      } else if extensions.contains((name as NSString).pathExtension.lowercased()) {
        found.append(child)
      }
    }
  }

  public var count: Int { files.count }
  public func label(at index: Int) -> Int { labels[index] }
  public func relativePath(at index: Int) -> String { files[index] }
  public func sourcePath(at index: Int) -> String { root + "/" + files[index] }
  public func loadImage(at index: Int, options: DecodeOptions) throws -> Image {
    try ImageCodec.decode(path: sourcePath(at: index), options: options)
  }
}

extension PipelineConfig {
  /// Opens the pipeline's `source:` (an image folder or IDX files).
  public func openSource() throws -> any ImageDataset {
    switch source {
    case .imageFolder(let path)?:
      return try ImageFolder(root: path)
    case .idx(let folder, let split)?:
      return try IDXDataset.locate(folder: folder, split: split)
    case nil:
      throw PipelineError(file: path, line: 0, reason: "the pipeline has no 'source:'; give the data with --input")
    }
  }
}

extension PipelineConfig {
  /// The folder the pipeline's `source:` reads (for refusing writes into it).
  public var sourceFolder: String? {
    switch source {
    case .imageFolder(let path)?: return path
    case .idx(let folder, _)?: return folder
    case nil: return nil
    }
  }

  /// Throws, at the stage's line, when a `learned_affine` stage needs a model `what` cannot load.
  public func rejectLearnedStage(what: String) throws {
    if let entry = stages.first(where: { if case .learnedAffine = $0.stage { return true } else { return false } }) {
      throw PipelineError(file: path, line: entry.line, reason: "learned_affine needs a trained model, which \(what) cannot load yet")
    }
  }

  /// Throws, at the stage's line, when a `learned_affine` stage is present but `what` was given
  /// no `ThetaPredictor` (the trained model that predicts its theta).
  public func requirePredictor(_ predictor: ThetaPredictor?, what: String) throws {
    guard predictor == nil, let entry = stages.first(where: { if case .learnedAffine = $0.stage { return true } else { return false } }) else { return }
    throw PipelineError(file: path, line: entry.line, reason: "learned_affine needs a trained model (a ThetaPredictor), and \(what) was given none")
  }
}

// MARK: - Learned stage, batched

/// Finishes `learned_affine` samples outside the loader (`stn augment`, `stn export`): the same
/// steps `BatchLoader` takes per batch (`renderPredictorInput`, one `predictThetas` call for the
/// whole batch, `complete`), so a file gets the same transform through either path.
public enum LearnedBatch {
  /// Completes `samples` (prepared by `processor`) with one batched forward pass of `predictor`.
  /// Result k belongs to sample k; a failure affects only its sample, except a failing forward
  /// pass, which fails them all. Independent of `threads` (per-sample work only is split).
  public static func complete(_ samples: [PreparedSample], processor: SampleProcessor, predictor: ThetaPredictor,
                              threads: Int) -> [Result<PreparedSample, any Error>] {
    if samples.isEmpty { return [] }
    let size = predictor.inputChannels * predictor.inputHeight * predictor.inputWidth
    var input = Tensor(shape: [samples.count, predictor.inputChannels, predictor.inputHeight, predictor.inputWidth])
    var results = [Result<PreparedSample, any Error>](repeating: .failure(SampleError(path: "", reason: "not processed")), count: samples.count)
    // Each chunk writes only its own sample's slice of `input` and its own result.
    input.data.withUnsafeMutableBufferPointer { destination in
      results.withUnsafeMutableBufferPointer { out in
        let base = destination.baseAddress!, slots = out.baseAddress!
        parallelFor(chunks: samples.count, threads: threads) { k in
          do {
            try processor.renderPredictorInput(samples[k], predictor: predictor, into: base + k * size)
            slots[k] = .success(samples[k])
          } catch {
            slots[k] = .failure(error)
          }
        }
      }
    }
    // NOTE: samples whose input failed still occupy their (zero) rows, so the batch, and hence
    // every other sample's theta, does not depend on which files failed to render.
    let thetas: [STNWarp.AffineTransform]
    do {
      thetas = try predictor.predictThetas(input)
      guard thetas.count == samples.count else {
        throw SampleError(path: predictor.checkpoint, reason: "predictor returned \(thetas.count) thetas for \(samples.count) images")
      }
    } catch {
      return results.map { result in result.flatMap { _ in .failure(SampleError(path: predictor.checkpoint, reason: "learned_affine: \(error)")) } }
    }
    results.withUnsafeMutableBufferPointer { out in
      let slots = out.baseAddress!
      parallelFor(chunks: samples.count, threads: threads) { k in
        guard case .success(let sample) = slots[k] else { return }
        slots[k] = Result { try processor.complete(sample, theta: thetas[k], predictor: predictor) }
      }
    }
    return results
  }
}

/// A view of some entries of another dataset, in the given order (validation splits, k-fold
/// cross-validation, benchmarks on a prefix).
public struct DatasetSubset: ImageDataset {
  public let base: any ImageDataset
  /// Base-dataset index of each entry of the subset.
  public let indices: [Int]

  public init(base: any ImageDataset, indices: [Int]) {
    precondition(indices.allSatisfy { $0 >= 0 && $0 < base.count }, "subset index out of range")
    self.base = base
    self.indices = indices
  }

  public var count: Int { indices.count }
  public var classes: [String] { base.classes }
  public func label(at index: Int) -> Int { base.label(at: indices[index]) }
  public func relativePath(at index: Int) -> String { base.relativePath(at: indices[index]) }
  public func sourcePath(at index: Int) -> String { base.sourcePath(at: indices[index]) }
  public func loadImage(at index: Int, options: DecodeOptions) throws -> Image { try base.loadImage(at: indices[index], options: options) }
}
