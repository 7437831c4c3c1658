import ArgumentParser
import Foundation
import STNDistributed
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

      Output: the summary line (`written N, skipped M, ...`), then one JSON line: \
      {"written":N,"kept":K,"skipped":S,"unsupported":U,"seconds":T,"images_per_s":R,"ranks":P,\
      "interrupted":false} (skipped: unreadable inputs; unsupported: files of other formats; \
      together the summary's M). Skipped files are named on stderr.

      Under mpirun (or srun), each of the P ranks takes shard rank/P by itself (with --shard \
      i/N: shard i+N*rank of N*P, so the ranks split shard i/N) and all write into one --output, \
      which must be on a file system every rank sees. Rank 0 alone makes the output checks \
      before any rank writes, and prints the combined summary; every rank exits with the same \
      status. Ctrl-C stops every rank at once (only complete files stay). See docs/distributed.md.

      A `learned_transform: {checkpoint: PATH}` stage (alias `learned_affine`) loads that \
      checkpoint's spatial transformer and rectifies each image with the transform it predicts \
      (one batched forward pass per batch.size images), composed with the stages around it \
      into the single resample, whatever its family (affine, projective, TPS).

      \(ExitStatus.table)
      """)

  @Argument(help: "Pipeline file (.yaml).") var pipeline: String
  @Option(help: "Input: an image folder, a folder of IDX files, or an IDX image file (default: the pipeline's source).") var input: String?
  @Option(help: ArgumentHelp("IDX split to read: train or test (default: train for --input, else the pipeline source's split:).", discussion: splitDiscussion)) var split: String?
  @Option(help: "Output folder (created if missing; must be empty, see --overwrite / --skip-existing).") var output: String
  @Option(parsing: .unconditional, help: "Transformed copies per image, 1...10000 (copy k draws its parameters as epoch k).") var copies: Int = 1
  @Option(parsing: .unconditional, help: "Worker threads.") var threads: Int = 2
  @Option(help: "Random seed (overrides the pipeline's).") var seed: UInt64?
  @Option(help: "Process only shard i of N (i/N: every N-th file from the i-th), to split a folder across machines.") var shard: String?
  @Option(help: "Output format: png or jpeg.") var format: String = "png"
  @Option(parsing: .unconditional, help: "JPEG quality 1...100.") var quality: Int = 90
  @Option(name: .customLong("png-level"), help: ArgumentHelp(
    "PNG compression: fast (default) or a zlib level 0...9.",
    discussion: "fast is our own encoder (Paeth rows, run-length deflate with one Huffman table per image); on the B8 photos it wrote 13% fewer bytes than OpenCV's default PNG, with the whole job 3x as fast, and the job ran about 3x faster than at level 1 and 25x faster than at level 9, whose files were 4% smaller (README, Performance).")) var pngLevel: String = "fast"
  @Flag(help: "Write into a non-empty output folder, replacing files of the same name (others are left as they are).") var overwrite = false
  @Flag(name: .customLong("skip-existing"), help: "Keep outputs that already exist and write only the missing ones (resume an interrupted run).") var skipExisting = false

  func validate() throws {
    try requireCount(copies, in: 1...10_000, "--copies")
    try requireCount(threads, in: 1...maxThreads, "--threads")
    try requireCount(quality, in: 1...100, "--quality")
    guard OutputImageFormat(rawValue: format) != nil || format == "jpg" else { throw ValidationError("--format must be png or jpeg, got '\(format)'") }
    try requireSplit(split)
    guard PNGOptions(argument: pngLevel) != nil else { throw ValidationError("--png-level must be fast or 0...9, got '\(pngLevel)'") }
    if overwrite && skipExisting { throw ValidationError("--overwrite and --skip-existing exclude each other") }
  }

  func run() throws {
    let world = try World.communicator()
    try RankAware.run(world) { try augment(on: world) }
  }

  /// The run, on one process or on every rank of `world` (the same steps in the same order;
  /// each step that can fail on one rank is agreed on with `collectively`).
  private func augment(on world: any Communicator) throws {
    Interruption.install(graceful: true)
    // 1. Every rank: the pipeline, its data and model, its shard (reading only inputs).
    let (job, processor) = try world.collectively { () throws -> (AugmentJob, SampleProcessor) in
      var config = try PipelineConfig.load(path: pipeline)
      if let seed { config.seed = seed }
      let dataset: any ImageDataset = try config.openData(input: input, split: split)
      let inputs = [input ?? config.sourceFolder].compactMap { $0 } + (config.learnedStage.flatMap { entry -> String? in
        if case .learnedAffine(let checkpoint) = entry.stage { return checkpoint }
        return nil
      }.map { [$0] } ?? [])
      var job = AugmentJob(config: config, dataset: dataset, inputs: inputs, outputRoot: output)
      job.copies = copies
      job.threads = threads
      let asked = try shard.map { try Shard(parsing: $0) }
      job.shard = world.isDistributed ? try (asked ?? Shard(index: 0, count: 1)).split(rank: world.rank, of: world.size) : asked
      job.format = format == "png" ? .png : .jpeg
      job.jpegQuality = quality
      job.png = PNGOptions(argument: pngLevel) ?? .fast
      job.existing = overwrite ? .overwrite : skipExisting ? .skipExisting : .refuse
      job.predictor = try learnedPredictor(for: config, threads: threads)
      job.shouldStop = { Interruption.requested }
      return (job, try job.checkInputs(emptyShardAllowed: world.isDistributed))
    }
    // 2. The output, checked once (by rank 0) before any rank writes.
    let (plan, lock) = try prepareOutput(job, on: world)
    // 3. Every rank: its shard.
    let bar = ProgressBar(label: "augment")
    let showsProgress = bar.isActive && world.isRoot
    let summary = try withExtendedLifetime(lock) {
      try world.collectively {
        try job.run(processor: processor, plan: plan, progress: showsProgress ? { done, total in bar.update(done: done, total: total) } : nil)
      }
    }
    if showsProgress { bar.finish() }
    // 4. Rank 0: the combined summary; every rank: its exit status.
    let parts = try world.gather(bytes: try world.collectively { try summary.transferBytes() }, root: 0)
    var status: [Int64] = [try world.collectively { () -> Int64 in
      guard world.isRoot else { return 0 }
      return Int64(report(AugmentSummary.combined(try parts.map(AugmentSummary.init(transferBytes:))), ranks: world.size))
    }]
    try world.broadcast(&status, root: 0)
    if status[0] != 0 { throw ExitCode(Int32(truncatingIfNeeded: status[0])) }
  }

  /// Rank 0 prepares the output folder under the --overwrite/--skip-existing policy and checks
  /// the names, alone, so no rank sees another's first files as "not empty"; then every other
  /// rank checks it sees that folder and can write there, and makes its plan with rank 0's
  /// verdict on case-sensitive names. One process: `AugmentJob.prepareOutput()`, as always.
  /// Rank 0 also locks the folder for the run (`FolderLock`), so a second `stn augment` into it
  /// stops before writing.
  private func prepareOutput(_ job: AugmentJob, on world: any Communicator) throws -> (AugmentPlan, FolderLock?) {
    guard world.isDistributed else {
      let plan = try job.prepareOutput()
      return (plan, try FolderLock.acquire(output))
    }
    let existed = world.isRoot && FileManager.default.fileExists(atPath: output)
    var lock: FolderLock?
    var caseSensitive: [Int64] = [try world.collectively { () -> Int64 in
      guard world.isRoot else { return 0 }
      _ = try job.prepareOutput()
      lock = try FolderLock.acquire(output)
      return OutputLocation.namesAreCaseSensitive(in: output) ? 1 : 0
    }]
    try world.broadcast(&caseSensitive, root: 0)
    do {
      return try world.collectively {
        if !world.isRoot {
          guard FileManager.default.fileExists(atPath: output) else {
            throw FileError(path: output, reason: "rank 0 prepared this --output folder, but this rank does not see it: --output must be on a file system every rank shares")
          }
          try OutputLocation.prepareFolder(output)
        }
        return (try job.plan(caseSensitive: caseSensitive[0] != 0), lock)
      }
    } catch {
      // Nothing was written yet: a folder rank 0 created for this run goes again (rmdir
      // removes it only while it is empty).
      if world.isRoot && !existed { rmdir(output) }
      throw error
    }
  }

  /// Prints the summary line, its JSON line and the skipped files; returns the exit status.
  private func report(_ summary: AugmentSummary, ranks: Int) -> Int32 {
    print(summary.line)
    print(JSONText.object([
      ("written", .int(summary.written)), ("kept", .int(summary.kept)),
      ("skipped", .int(summary.skipped.count)), ("unsupported", .int(summary.unsupported.count)),
      ("seconds", .number(summary.seconds)), ("images_per_s", .number(summary.imagesPerSecond)),
      ("ranks", .int(ranks)), ("interrupted", .bool(summary.interrupted)),
    ]))
    for entry in summary.skipped { FileHandle.standardError.write(Data("skipped: \(entry)\n".utf8)) }
    for entry in summary.unsupported { FileHandle.standardError.write(Data("skipped: \(entry)\n".utf8)) }
    // Out before any rank exits: mpirun may end this rank once another exits non-zero.
    fflush(stdout)
    if summary.interrupted { return Interruption.exitStatus }
    return summary.skippedCount > 0 ? ExitStatus.skipped : ExitStatus.success
  }
}
