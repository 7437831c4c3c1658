import Foundation
import STNFiles
import STNImageIO
import STNTensor

/// Format of the images `stn augment` writes.
public enum OutputImageFormat: String, Sendable, CaseIterable {
  case png, jpeg

  public var fileExtension: String { self == .png ? "png" : "jpg" }
}

/// What an augment run did.
public struct AugmentSummary: Sendable {
  /// Files written by this run.
  public var written: Int
  /// Outputs that already existed and were kept (`--skip-existing`).
  public var kept: Int = 0
  /// Inputs that could not be read or transformed.
  public var skipped: [SkippedSample]
  /// Files of formats this tool does not read (.bmp, .webp, ...), named, never silently ignored.
  public var unsupported: [FileError] = []
  /// Outputs planned (inputs of this shard times copies).
  public var planned: Int = 0
  /// True when the run was interrupted (SIGINT/SIGTERM) and stopped early.
  public var interrupted = false
  public var seconds: Double

  public var imagesPerSecond: Double { seconds > 0 ? Double(written) / seconds : 0 }

  /// Inputs skipped for any reason (unreadable or unsupported).
  public var skippedCount: Int { skipped.count + unsupported.count }

  /// The one-line summary printed at the end of `stn augment`.
  public var line: String {
    var text = interrupted ? "interrupted: " : ""
    text += String(format: "written %d, skipped %d, %.2f s, %.1f images/s", written, skippedCount, seconds, imagesPerSecond)
    if kept > 0 { text += ", kept \(kept) existing" }
    if interrupted { text += ", \(planned - written - kept) of \(planned) not written (re-run with --skip-existing to finish)" }
    let names = (skipped.map(\.path) + unsupported.map(\.path))
    if !names.isEmpty {
      text += " (skipped: \(names.prefix(10).joined(separator: ", "))\(names.count > 10 ? ", ..." : ""))"
    }
    return text
  }
}

// MARK: - Summaries of several ranks

extension AugmentSummary {
  /// The summary of shards run side by side (the ranks of an mpirun), as one run over the
  /// whole dataset would report it: counts added, skipped files merged in dataset order,
  /// unsupported files listed once, `seconds` the slowest shard's (the wall time of the run).
  public static func combined(_ parts: [AugmentSummary]) -> AugmentSummary {
    var total = AugmentSummary(written: 0, skipped: [], seconds: 0)
    for part in parts {
      total.written += part.written
      total.kept += part.kept
      total.planned += part.planned
      total.skipped += part.skipped
      total.unsupported += part.unsupported.filter { !total.unsupported.contains($0) }
      total.interrupted = total.interrupted || part.interrupted
      total.seconds = max(total.seconds, part.seconds)
    }
    total.skipped.sort { $0.index < $1.index }
    return total
  }

  /// The summary as bytes, to send to rank 0 (`init(transferBytes:)` reads them back).
  public func transferBytes() throws -> [UInt8] {
    let wire = Wire(written: written, kept: kept, planned: planned, interrupted: interrupted, seconds: seconds,
                    skipped: skipped.map { Wire.Skipped(index: $0.index, path: $0.path, reason: $0.reason) },
                    unsupported: unsupported.map { Wire.Unsupported(path: $0.path, reason: $0.reason) })
    return Array(try JSONEncoder().encode(wire))
  }

  /// Reads a summary sent by `transferBytes()`.
  public init(transferBytes bytes: [UInt8]) throws {
    let wire = try JSONDecoder().decode(Wire.self, from: Data(bytes))
    self.init(written: wire.written, skipped: wire.skipped.map { SkippedSample(index: $0.index, path: $0.path, reason: $0.reason) },
              seconds: wire.seconds)
    kept = wire.kept
    planned = wire.planned
    interrupted = wire.interrupted
    unsupported = wire.unsupported.map { FileError(path: $0.path, reason: $0.reason) }
  }

  /// The transfer form of a summary (plain Codable fields; not a user-facing format).
  private struct Wire: Codable {
    struct Skipped: Codable { var index: Int; var path: String; var reason: String }
    struct Unsupported: Codable { var path: String; var reason: String }
    var written, kept, planned: Int
    var interrupted: Bool
    var seconds: Double
    var skipped: [Skipped]
    var unsupported: [Unsupported]
  }
}

/// Where each output of an augment run goes: output-relative paths per (input, copy), decided
/// for the whole run before the first write.
///
/// The naming rule (README, "stn augment: output names"): an output keeps the input's relative
/// path with its extension replaced by the output format's (`cat/001.jpg` -> `cat/001.png`);
/// with `copies` > 1, copy k is `cat/001_k.png`. When inputs in one folder would share an
/// output name (`a.jpg`, `a.png`, `a.JPG`; compared ignoring case, as some file systems do),
/// each of them keeps its whole source name: `a.jpg.png`, `a.png.png`, `a.JPG.png`. Names that
/// still collide are an error naming the inputs, before anything is written.
///
/// The names are a pure function of the whole dataset (every item, whatever `indices` picks),
/// so a shard (`--shard`, a rank under mpirun) names its outputs exactly as a one-process run
/// does, and shards writing into one folder never collide.
public struct AugmentPlan: Sendable {
  /// Dataset indices in processing order (after the shard).
  public let indices: [Int]
  public let copies: Int
  /// Output path relative to the output folder, per position in `indices` and copy.
  private let names: [[String]]

  public var count: Int { indices.count * copies }

  public init(dataset: any ImageDataset, indices: [Int], copies: Int, format: OutputImageFormat, caseSensitive: Bool = false) throws {
    self.indices = indices
    self.copies = copies
    func fold(_ text: String) -> String { caseSensitive ? text : text.lowercased() }
    let relatives = (0..<dataset.count).map { dataset.relativePath(at: $0) }
    let stems = relatives.map { ($0 as NSString).deletingPathExtension }
    var stemUse: [String: Int] = [:]
    for stem in stems { stemUse[fold(stem), default: 0] += 1 }
    let ext = format.fileExtension
    var names: [[String]] = []
    var owner: [String: Int] = [:]
    for (index, relative) in relatives.enumerated() {
      let base = stemUse[fold(stems[index]), default: 0] > 1 ? relative : stems[index]
      let outputs = copies > 1 ? (0..<copies).map { "\(base)_\($0).\(ext)" } : ["\(base).\(ext)"]
      for name in outputs {
        if let first = owner[fold(name)] {
          throw PipelineError(file: dataset.sourcePath(at: index), line: 0,
                              reason: "would be written to \(name), as \(dataset.sourcePath(at: first)) would; rename one of them (no two inputs may share an output)")
        }
        owner[fold(name)] = index
      }
      names.append(outputs)
    }
    self.names = indices.map { names[$0] }
  }

  /// Output path (relative) of job `number` (copies of one input are adjacent jobs).
  public func relativeOutput(job number: Int) -> String { names[number / copies][number % copies] }

  /// (dataset index, copy) of job `number`.
  public func job(_ number: Int) -> (index: Int, copy: Int) { (indices[number / copies], number % copies) }
}

extension Shard {
  /// Part `rank` of `ranks` of this shard: every (count x ranks)-th file from index + count x
  /// rank. Shard i/N holds the files i + N*k; its rank r of P takes k = r + P*j, that is shard
  /// (i + N*r)/(N*P), so the P parts cover exactly shard i/N, each file once.
  public func split(rank: Int, of ranks: Int) throws -> Shard {
    try Shard(index: index + count * rank, count: count * ranks)
  }
}

/// Runs a pipeline over every image of a dataset and writes the uint8 results (no
/// normalization) to files named by `AugmentPlan`'s rule, atomically, never into an input.
public struct AugmentJob {
  public var config: PipelineConfig
  public var dataset: any ImageDataset
  /// Files or folders the input comes from (writes inside them are refused).
  public var inputs: [String]
  public var outputRoot: String
  /// Transformed copies per image; copy k uses epoch k for its random parameters.
  public var copies: Int = 1
  public var threads: Int = 2
  /// Process only this shard's files (every N-th of the sorted list, from i).
  public var shard: Shard?
  public var format: OutputImageFormat = .png
  public var jpegQuality: Int = 90
  /// PNG compression (`--png-level`): the fast default, or a zlib level for smaller files.
  public var png: PNGOptions = .fast
  /// What to do with outputs that exist already.
  public var existing: ExistingOutputPolicy = .refuse
  /// The trained model a `learned_affine` stage needs (nil: such a stage is refused).
  public var predictor: ThetaPredictor?
  /// Polled between images; true stops the run (files in progress are finished).
  public var shouldStop: (@Sendable () -> Bool)?
  /// Files renamed into place per file-system sync (see `BatchedFileWriter`).
  public var filesPerSync = 512

  public init(config: PipelineConfig, dataset: any ImageDataset, inputs: [String], outputRoot: String) {
    self.config = config
    self.dataset = dataset
    self.inputs = inputs
    self.outputRoot = outputRoot
  }

  /// The dataset indices this run processes (its shard, in order).
  public var indices: [Int] { BatchLoader.order(count: dataset.count, seed: 0, epoch: 0, shuffle: false, shard: shard) }

  /// Everything that can be known before the first image: the pipeline compiles, a learned
  /// stage has its model, there is something to do, the output does not overlap an input and
  /// can be written, it is empty unless the policy says otherwise, and no two inputs share an
  /// output name (compared as the output's file system compares names). A refused run leaves
  /// no output folder behind that it created.
  public func check() throws -> (processor: SampleProcessor, plan: AugmentPlan) {
    let processor = try checkInputs()
    return (processor, try prepareOutput())
  }

  /// The half of `check()` about the inputs (no file is created): the pipeline compiles, a
  /// learned stage has its model and fits the images, and there is something to do. With
  /// `emptyShardAllowed` (the ranks beyond the file count under mpirun) only an empty dataset
  /// is refused, not an empty shard.
  public func checkInputs(emptyShardAllowed: Bool = false) throws -> SampleProcessor {
    let processor = try SampleProcessor(config: config)
    try config.requirePredictor(predictor, what: "stn augment")
    let indices = indices
    if indices.isEmpty && !(emptyShardAllowed && dataset.count > 0) {
      let unsupported = dataset.notSamples
      throw PipelineError(file: inputs.first ?? config.path, line: 0, reason: unsupported.isEmpty
        ? "no images to augment" + (shard.map { " in shard \($0)" } ?? "")
        : "no readable images: \(unsupported.count) file(s) of unsupported formats, e.g. \(unsupported[0].path)")
    }
    try LearnedStep.checkInput(processor: processor, predictor: predictor, dataset: dataset, candidates: indices)
    return processor
  }

  /// The half of `check()` about the output, made once per run (by rank 0 under mpirun): no
  /// overlap with an input, the folder exists (created if missing) and is writable, it is empty
  /// unless the policy says otherwise, and the naming plan has no collision.
  public func prepareOutput() throws -> AugmentPlan {
    try OutputLocation.refuseOverlap(output: outputRoot, inputs: inputs)
    let created = !FileManager.default.fileExists(atPath: outputRoot)
    do {
      try OutputLocation.prepareFolder(outputRoot, policy: existing)
      return try plan(caseSensitive: OutputLocation.namesAreCaseSensitive(in: outputRoot))
    } catch {
      if created { try? FileManager.default.removeItem(atPath: outputRoot) }
      throw error
    }
  }

  /// The naming plan of this run's shard (see `AugmentPlan`).
  public func plan(caseSensitive: Bool) throws -> AugmentPlan {
    try AugmentPlan(dataset: dataset, indices: indices, copies: copies, format: format, caseSensitive: caseSensitive)
  }

  /// Runs the job; `progress(done, total)` is called from worker threads (serialized).
  public func run(progress: ((Int, Int) -> Void)? = nil) throws -> AugmentSummary {
    let (processor, plan) = try check()
    return try run(processor: processor, plan: plan, progress: progress)
  }

  /// Runs the job after `check()` (or its halves) passed, with their results.
  public func run(processor: SampleProcessor, plan: AugmentPlan, progress: ((Int, Int) -> Void)? = nil) throws -> AugmentSummary {
    let writer = BatchedFileWriter(syncPath: outputRoot, maxPending: filesPerSync)
    let total = plan.count
    let started = Date()
    let lock = NSLock()
    var done = 0, kept = 0
    var skipped: [SkippedSample] = []
    var writeFailure: Error?
    var stopped = false
    /// Counts one finished job (serialized).
    func finish(index: Int, outcome: Result<Bool, SkippedSample>) {
      lock.lock()
      done += 1
      switch outcome {
      case .success(let wrote): if !wrote { kept += 1 }
      case .failure(let failure):
        // A file is listed once even when all its copies fail.
        if !skipped.contains(where: { $0.index == failure.index }) { skipped.append(failure) }
      }
      progress?(done, total)
      lock.unlock()
    }
    func skip(_ index: Int, _ error: any Error) -> SkippedSample {
      SkippedSample(index: index, path: dataset.sourcePath(at: index), reason: "\(error)")
    }
    /// True when the run must stop taking new jobs.
    func mustStop() -> Bool {
      lock.lock()
      defer { lock.unlock() }
      if !stopped, shouldStop?() == true { stopped = true }
      return stopped || writeFailure != nil
    }
    func outputPath(_ number: Int) -> String { outputRoot + "/" + plan.relativeOutput(job: number) }
    /// True when the job's output is kept as it is (`--skip-existing`).
    func keepsExisting(_ number: Int) -> Bool {
      existing == .skipExisting && FileManager.default.fileExists(atPath: outputPath(number))
    }
    /// Encodes and queues one output; a write failure (disk full, ...) stops the run.
    func write(_ image: Image, job number: Int) throws {
      let bytes = format == .png ? try ImageCodec.encodePNG(image, options: png) : try ImageCodec.encodeJPEG(image, quality: jpegQuality)
      do {
        try writer.write(bytes, to: outputPath(number))
      } catch {
        lock.lock()
        if writeFailure == nil { writeFailure = error }
        lock.unlock()
        throw error
      }
    }

    if let predictor, config.hasLearnedStage {
      // Learned pipelines go batch by batch (batch.size jobs, in order): one forward pass of the
      // localization network per batch, as in the loader. Batches are cut by job number only,
      // so the thetas do not depend on the thread count.
      let batchSize = config.batching.size
      for start in stride(from: 0, to: total, by: batchSize) {
        if mustStop() { break }
        let numbers = (start..<min(total, start + batchSize)).filter { number in
          if keepsExisting(number) { finish(index: plan.job(number).index, outcome: .success(false)); return false }
          return true
        }
        var prepared = [Result<PreparedSample, any Error>](repeating: .failure(FileError(path: "", reason: "not processed")), count: numbers.count)
        prepared.withUnsafeMutableBufferPointer { out in
          guard let slots = out.baseAddress else { return }
          parallelFor(chunks: numbers.count, threads: threads) { k in
            let (index, copy) = plan.job(numbers[k])
            slots[k] = Result { try processor.prepare(dataset: dataset, index: index, epoch: copy) }
          }
        }
        prepared = LearnedStep.complete(prepared, processor: processor, predictor: predictor, threads: threads)
        parallelFor(chunks: numbers.count, threads: threads) { k in
          let index = plan.job(numbers[k]).index
          do {
            try write(try processor.renderUInt8(try prepared[k].get()), job: numbers[k])
            finish(index: index, outcome: .success(true))
          } catch {
            finish(index: index, outcome: .failure(skip(index, error)))
          }
        }
      }
    } else {
      var next = 0
      let workers = max(1, min(threads, max(total, 1)))
      DispatchQueue.concurrentPerform(iterations: workers) { _ in
        while !mustStop() {
          lock.lock()
          let number = next
          next += 1
          lock.unlock()
          if number >= total { break }
          let index = plan.job(number).index
          if keepsExisting(number) {
            finish(index: index, outcome: .success(false))
            continue
          }
          do {
            let sample = try processor.prepare(dataset: dataset, index: index, epoch: plan.job(number).copy)
            try write(try processor.renderUInt8(sample), job: number)
            finish(index: index, outcome: .success(true))
          } catch {
            finish(index: index, outcome: .failure(skip(index, error)))
          }
        }
      }
    }
    // Whatever happened, files written completely are committed (synced, then renamed).
    do {
      try writer.finish()
    } catch {
      writer.discardPending()
      throw error
    }
    if let writeFailure { throw writeFailure }
    var summary = AugmentSummary(written: writer.committedCount, skipped: skipped.sorted { $0.index < $1.index }, seconds: Date().timeIntervalSince(started))
    summary.kept = kept
    summary.unsupported = shard == nil || shard?.index == 0 ? dataset.notSamples : []
    summary.planned = total
    summary.interrupted = stopped
    return summary
  }
}
