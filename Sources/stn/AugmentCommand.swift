import ArgumentParser
import Foundation
import STNFiles
import STNImageIO
import STNPipeline
import STNTrain

/// `stn augment PIPELINE.yaml --input DIR --output DIR`: writes each transformed image.
struct Augment: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "augment",
    abstract: "Run a pipeline over an image folder (or IDX files) and write the transformed images.",
    discussion: """
      Writes one image per input (per copy with --copies) under --output, mirroring the input \
      tree: cat/001.jpg becomes cat/001.png (cat/001_0.png, cat/001_1.png, ... with copies). \
      When inputs in one folder share a name but not an extension (a.jpg, a.png), each keeps \
      its whole name: a.jpg.png, a.png.png. IDX data is written as <class>/<index>.png. \
      Normalization is not applied to written images; a pipeline without stages writes the \
      decoded pixels unchanged.

      Safety: --output must not be, contain or lie inside an input; it must be empty unless \
      --overwrite (replace files of the same name) or --skip-existing (keep them, write only \
      the missing ones: resumes an interrupted run). All of this, and name collisions, is \
      checked before the first image. Files are written atomically (temporary name, then \
      rename) and synced once per batch and at the end: after exit 0 everything is on disk, \
      and after a crash or Ctrl-C only complete files exist.

      Without --input, the pipeline's own `source:` is used (e.g. IDX files).

      A `learned_affine: {checkpoint: PATH}` stage loads that checkpoint's spatial transformer \
      and rectifies each image with the transform it predicts (one batched forward pass per \
      batch.size images, composed into the single resample).

      \(ExitStatus.table)
      """)

  @Argument(help: "Pipeline file (.yaml).") var pipeline: String
  @Option(help: "Input: an image folder, a folder of IDX files, or an IDX image file (default: the pipeline's source).") var input: String?
  @Option(help: "IDX split to read when the input is a folder of IDX files: train or test.") var split: String = "train"
  @Option(help: "Output folder (created if missing; must be empty, see --overwrite / --skip-existing).") var output: String
  @Option(parsing: .unconditional, help: "Transformed copies per image, 1...10000 (copy k draws its parameters as epoch k).") var copies: Int = 1
  @Option(parsing: .unconditional, help: "Worker threads.") var threads: Int = 2
  @Option(help: "Random seed (overrides the pipeline's).") var seed: UInt64?
  @Option(help: "Process only shard i of N (i/N: every N-th file from the i-th), to split a folder across machines.") var shard: String?
  @Option(help: "Output format: png or jpeg.") var format: String = "png"
  @Option(parsing: .unconditional, help: "JPEG quality 1...100.") var quality: Int = 90
  @Option(name: .customLong("png-level"), help: ArgumentHelp(
    "PNG compression: fast (default) or a zlib level 0...9.",
    discussion: "fast is our own encoder (Paeth rows, one Huffman table per image): ~5x faster than zlib level 1 and smaller than OpenCV's default on photos; levels 6-9 give the smallest files, 10-100x slower.")) var pngLevel: String = "fast"
  @Flag(help: "Write into a non-empty output folder, replacing files of the same name (others are left as they are).") var overwrite = false
  @Flag(name: .customLong("skip-existing"), help: "Keep outputs that already exist and write only the missing ones (resume an interrupted run).") var skipExisting = false

  func validate() throws {
    try requireCount(copies, in: 1...10_000, "--copies")
    try requireCount(threads, in: 1...maxThreads, "--threads")
    try requireCount(quality, in: 1...100, "--quality")
    guard OutputImageFormat(rawValue: format) != nil || format == "jpg" else { throw ValidationError("--format must be png or jpeg, got '\(format)'") }
    guard split == "train" || split == "test" else { throw ValidationError("--split must be train or test, got '\(split)'") }
    guard PNGOptions(argument: pngLevel) != nil else { throw ValidationError("--png-level must be fast or 0...9, got '\(pngLevel)'") }
    if overwrite && skipExisting { throw ValidationError("--overwrite and --skip-existing exclude each other") }
  }

  func run() throws {
    var config = try PipelineConfig.load(path: pipeline)
    if let seed { config.seed = seed }
    let dataset: any ImageDataset = try input.map { try config.openInput($0, split: split) } ?? config.openSource()
    let inputs = [input ?? config.sourceFolder].compactMap { $0 } + (config.learnedStage.flatMap { entry -> String? in
      if case .learnedAffine(let checkpoint) = entry.stage { return checkpoint }
      return nil
    }.map { [$0] } ?? [])
    var job = AugmentJob(config: config, dataset: dataset, inputs: inputs, outputRoot: output)
    job.copies = copies
    job.threads = threads
    job.shard = try shard.map { try Shard(parsing: $0) }
    job.format = format == "png" ? .png : .jpeg
    job.jpegQuality = quality
    job.png = PNGOptions(argument: pngLevel) ?? .fast
    job.existing = overwrite ? .overwrite : skipExisting ? .skipExisting : .refuse
    job.predictor = try learnedPredictor(for: config, threads: threads)
    job.shouldStop = { Interruption.requested }
    Interruption.install(graceful: true)
    let bar = ProgressBar(label: "augment")
    let summary = try job.run(progress: bar.isActive ? { done, total in bar.update(done: done, total: total) } : nil)
    bar.finish()
    print(summary.line)
    for entry in summary.skipped { FileHandle.standardError.write(Data("skipped: \(entry)\n".utf8)) }
    for entry in summary.unsupported { FileHandle.standardError.write(Data("skipped: \(entry)\n".utf8)) }
    if summary.interrupted { throw ExitCode(Interruption.exitStatus) }
    if summary.skippedCount > 0 { throw ExitCode(ExitStatus.skipped) }
  }
}
