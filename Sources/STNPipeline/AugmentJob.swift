import Foundation
import STNImageIO
import STNTensor

/// Format of the images `stn augment` writes.
public enum OutputImageFormat: String, Sendable, CaseIterable {
  case png, jpeg

  public var fileExtension: String { self == .png ? "png" : "jpg" }
}

/// What an augment run did.
public struct AugmentSummary: Sendable {
  public var written: Int
  public var skipped: [SkippedSample]
  public var seconds: Double

  public var imagesPerSecond: Double { seconds > 0 ? Double(written) / seconds : 0 }

  /// The one-line summary printed at the end of `stn augment`.
  public var line: String {
    var text = String(format: "written %d, skipped %d, %.2f s, %.1f images/s", written, skipped.count, seconds, imagesPerSecond)
    if !skipped.isEmpty {
      let names = skipped.prefix(10).map(\.path).joined(separator: ", ")
      text += " (skipped: \(names)\(skipped.count > 10 ? ", ..." : ""))"
    }
    return text
  }
}

/// Runs a pipeline over every image of a dataset and writes the uint8 results (no
/// normalization) mirroring the dataset's relative paths, atomically, never into the input.
public struct AugmentJob {
  public var config: PipelineConfig
  public var dataset: any ImageDataset
  /// Folder the input lives in (writes inside it are refused); nil for IDX sources.
  public var inputRoot: String?
  public var outputRoot: String
  /// Transformed copies per image; copy k uses epoch k for its random parameters.
  public var copies: Int = 1
  public var threads: Int = 2
  /// Process only this shard's files (every N-th of the sorted list, from i).
  public var shard: Shard?
  public var format: OutputImageFormat = .png
  public var jpegQuality: Int = 90
  /// The trained model a `learned_affine` stage needs (nil: such a stage is refused).
  public var predictor: ThetaPredictor?

  public init(config: PipelineConfig, dataset: any ImageDataset, inputRoot: String?, outputRoot: String) {
    self.config = config
    self.dataset = dataset
    self.inputRoot = inputRoot
    self.outputRoot = outputRoot
  }

  /// Absolute, symlink-resolved form of a path that may not exist yet (its existing ancestor is
  /// resolved and the rest appended).
  public static func canonicalPath(_ path: String) -> String {
    let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    var existing = URL(fileURLWithPath: absolute).standardizedFileURL
    var rest: [String] = []
    while !FileManager.default.fileExists(atPath: existing.path) && existing.path != "/" {
      rest.insert(existing.lastPathComponent, at: 0)
      existing = existing.deletingLastPathComponent()
    }
    var resolved = existing.resolvingSymlinksInPath().path
    for part in rest { resolved += (resolved.hasSuffix("/") ? "" : "/") + part }
    return resolved
  }

  /// True when `child` is `parent` or lies inside it.
  public static func isInside(_ child: String, _ parent: String) -> Bool {
    let c = canonicalPath(child), p = canonicalPath(parent)
    return c == p || c.hasPrefix(p.hasSuffix("/") ? p : p + "/")
  }

  /// Refuses output folders equal to, inside, or containing the input folder.
  public func checkFolders() throws {
    guard let inputRoot else { return }
    if AugmentJob.isInside(outputRoot, inputRoot) {
      throw SampleError(path: outputRoot, reason: "the output folder is the input folder or inside it (\(inputRoot)); inputs are never modified, choose another folder")
    }
    if AugmentJob.isInside(inputRoot, outputRoot) {
      throw SampleError(path: outputRoot, reason: "the output folder contains the input folder (\(inputRoot)); choose a folder outside it")
    }
  }

  /// Output path for dataset entry `index`, copy `copy`.
  public func outputPath(index: Int, copy: Int) -> String {
    let relative = dataset.relativePath(at: index) as NSString
    let stem = relative.deletingPathExtension
    let suffix = copies > 1 ? "_\(copy)" : ""
    return outputRoot + "/" + stem + suffix + "." + format.fileExtension
  }

  /// Runs the job; `progress(done, total)` is called from worker threads (serialized).
  public func run(progress: ((Int, Int) -> Void)? = nil) throws -> AugmentSummary {
    try checkFolders()
    let processor = try SampleProcessor(config: config)
    try config.requirePredictor(predictor, what: "stn augment")
    let indices = BatchLoader.order(count: dataset.count, seed: 0, epoch: 0, shuffle: false, shard: shard)
    let total = indices.count * copies
    let started = Date()
    let lock = NSLock()
    var done = 0, written = 0
    var skipped: [SkippedSample] = []
    /// Counts one finished job (serialized).
    func finish(index: Int, failure: SkippedSample?) {
      lock.lock()
      done += 1
      if let failure {
        // A file is listed once even when all its copies fail.
        if !skipped.contains(where: { $0.index == failure.index }) { skipped.append(failure) }
      } else {
        written += 1
      }
      progress?(done, total)
      lock.unlock()
    }
    func skip(_ index: Int, _ error: any Error) -> SkippedSample {
      SkippedSample(index: index, path: dataset.sourcePath(at: index), reason: "\(error)")
    }
    // Copies of one image are adjacent jobs, so a file's copies reuse the disk cache.
    let job = { (number: Int) in (index: indices[number / copies], copy: number % copies) }
    if let predictor, config.hasLearnedStage {
      // Learned pipelines go batch by batch (batch.size jobs, in order): one forward pass of the
      // localization network per batch, as in the loader. Batches are cut by job number only,
      // so the thetas do not depend on the thread count.
      let batchSize = config.batching.size
      for start in stride(from: 0, to: total, by: batchSize) {
        let numbers = Array(start..<min(total, start + batchSize))
        var prepared = [Result<PreparedSample, any Error>](repeating: .failure(SampleError(path: "", reason: "not processed")), count: numbers.count)
        prepared.withUnsafeMutableBufferPointer { out in
          let slots = out.baseAddress!
          parallelFor(chunks: numbers.count, threads: threads) { k in
            let (index, copy) = job(numbers[k])
            slots[k] = Result { try processor.prepare(dataset: dataset, index: index, epoch: copy) }
          }
        }
        let readable = prepared.indices.filter { if case .success = prepared[$0] { return true } else { return false } }
        let samples = readable.compactMap { try? prepared[$0].get() }
        let completed = LearnedBatch.complete(samples, processor: processor, predictor: predictor, threads: threads)
        for (k, slot) in readable.enumerated() { prepared[slot] = completed[k] }
        parallelFor(chunks: numbers.count, threads: threads) { k in
          let (index, copy) = job(numbers[k])
          do {
            let image = try processor.renderUInt8(try prepared[k].get())
            try ImageCodec.write(image, to: outputPath(index: index, copy: copy), jpegQuality: jpegQuality)
            finish(index: index, failure: nil)
          } catch {
            finish(index: index, failure: skip(index, error))
          }
        }
      }
    } else {
      var next = 0
      let workers = max(1, min(threads, max(total, 1)))
      DispatchQueue.concurrentPerform(iterations: workers) { _ in
        while true {
          lock.lock()
          let number = next
          next += 1
          lock.unlock()
          if number >= total { break }
          let (index, copy) = job(number)
          do {
            let sample = try processor.prepare(dataset: dataset, index: index, epoch: copy)
            let image = try processor.renderUInt8(sample)
            try ImageCodec.write(image, to: outputPath(index: index, copy: copy), jpegQuality: jpegQuality)
            finish(index: index, failure: nil)
          } catch {
            finish(index: index, failure: skip(index, error))
          }
        }
      }
    }
    return AugmentSummary(written: written, skipped: skipped.sorted { $0.index < $1.index }, seconds: Date().timeIntervalSince(started))
  }
}
