import ArgumentParser
import Foundation
import STNImageIO
import STNPipeline
import STNTrain

/// `stn augment PIPELINE.yaml --input DIR --output DIR`: writes each transformed image.
struct Augment: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "augment",
    abstract: "Run a pipeline over an image folder and write the transformed images.",
    discussion: """
      Mirrors the input tree under --output (PNG by default, or JPEG), writing each file \
      atomically; never writes into the input folder. Normalization is not applied to written \
      images; a pipeline without stages writes the decoded pixels unchanged.

      Without --input, the pipeline's own `source:` is used (e.g. IDX files).

      A `learned_affine: {checkpoint: PATH}` stage loads that checkpoint's spatial transformer \
      and rectifies each image with the transform it predicts (one batched forward pass per \
      batch.size images, composed into the single resample).

      Exit status: 0 all written; 3 finished but some inputs were skipped (unreadable files, \
      listed in the summary); 1 the run could not start (bad pipeline, bad folders).
      """)

  /// Exit status when the run finished but skipped some inputs.
  static let skippedExitCode: Int32 = 3

  @Argument(help: "Pipeline file (.yaml).") var pipeline: String
  @Option(help: "Input folder (default: the pipeline's source).") var input: String?
  @Option(help: "Output folder (created if missing; must not be inside the input).") var output: String
  @Option(help: "Transformed copies per image (copy k draws its parameters as epoch k).") var copies: Int = 1
  @Option(help: "Worker threads.") var threads: Int = 2
  @Option(help: "Random seed (overrides the pipeline's).") var seed: UInt64?
  @Option(help: "Process only shard i of N (i/N: every N-th file from the i-th), to split a folder across machines.") var shard: String?
  @Option(help: "Output format: png or jpeg.") var format: String = "png"
  @Option(help: "JPEG quality 1...100.") var quality: Int = 90

  func validate() throws {
    guard copies >= 1 else { throw ValidationError("--copies must be >= 1") }
    guard threads >= 1 else { throw ValidationError("--threads must be >= 1") }
    guard OutputImageFormat(rawValue: format) != nil || format == "jpg" else { throw ValidationError("--format must be png or jpeg") }
    guard (1...100).contains(quality) else { throw ValidationError("--quality must be in 1...100") }
  }

  func run() throws {
    var config = try PipelineConfig.load(path: pipeline)
    if let seed { config.seed = seed }
    let dataset: any ImageDataset = try input.map { try ImageTree(root: $0) } ?? config.openSource()
    var job = AugmentJob(config: config, dataset: dataset, inputRoot: input ?? config.sourceFolder, outputRoot: output)
    job.copies = copies
    job.threads = threads
    job.shard = try shard.map { try Shard(parsing: $0) }
    job.format = format == "png" ? .png : .jpeg
    job.jpegQuality = quality
    job.predictor = try Augment.learnedPredictor(for: config, threads: threads)
    let bar = ProgressBar(label: "augment")
    let summary = try job.run(progress: bar.isActive ? { done, total in bar.update(done: done, total: total) } : nil)
    bar.finish()
    print(summary.line)
    for entry in summary.skipped {
      FileHandle.standardError.write(Data("skipped: \(entry)\n".utf8))
    }
    if !summary.skipped.isEmpty { throw ExitCode(Augment.skippedExitCode) }
  }
}

/// Why a pipeline's `learned_affine` checkpoint could not be loaded.
struct LearnedCheckpointError: Error, CustomStringConvertible {
  var checkpoint: String
  var reason: String
  var description: String {
    // Loader errors usually start with the path already; name it once.
    reason.hasPrefix(checkpoint) ? "learned_affine: \(reason)" : "learned_affine checkpoint \(checkpoint): \(reason)"
  }
}

extension Augment {
  /// The predictor for the pipeline's `learned_affine` stage (nil when it has none); errors
  /// name the checkpoint file.
  static func learnedPredictor(for config: PipelineConfig, threads: Int) throws -> CheckpointThetaPredictor? {
    let checkpoint = config.stages.lazy.compactMap { entry -> String? in
      if case .learnedAffine(let path) = entry.stage { return path }
      return nil
    }.first
    guard let checkpoint else { return nil }
    do {
      return try CheckpointThetaPredictor.forPipeline(config, threads: threads)
    } catch let error as PipelineError {
      throw error
    } catch {
      throw LearnedCheckpointError(checkpoint: checkpoint, reason: "\(error)")
    }
  }
}

/// A one-line progress bar on stderr, drawn only when stderr is a terminal.
final class ProgressBar: @unchecked Sendable {
  let label: String
  let isActive: Bool
  private let started = Date()
  private var lastDraw = Date.distantPast

  init(label: String) {
    self.label = label
    isActive = isatty(2) != 0
  }

  /// Redraws at most ten times a second (callers serialize calls).
  func update(done: Int, total: Int) {
    guard isActive else { return }
    let now = Date()
    guard done == total || now.timeIntervalSince(lastDraw) >= 0.1 else { return }
    lastDraw = now
    let width = 30
    let filled = total > 0 ? width * done / total : width
    let rate = Double(done) / max(now.timeIntervalSince(started), 1e-6)
    let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
    FileHandle.standardError.write(Data(String(format: "\r%@ [%@] %d/%d %.0f img/s", label, bar, done, total, rate).utf8))
  }

  func finish() {
    if isActive { FileHandle.standardError.write(Data("\n".utf8)) }
  }
}
