import ArgumentParser
import Foundation
import STNDistributed
import STNFiles
import STNImageIO
import STNPipeline
import STNTrain

/// `stn export PIPELINE.yaml --input DIR --output FILE.png [--count N]`: a contact sheet.
///
/// The first argument picks the form: a pipeline file (.yaml/.yml) gives a sheet of originals
/// beside their transformed versions; a checkpoint (.safetensors) is reserved for the learned
/// transformer's export (rectified images or a sheet).
struct Export: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "export",
    abstract: "Write a contact sheet of originals beside transformed samples.",
    discussion: """
      stn export PIPELINE.yaml [--input DIR] --output FILE.png [--count N]

      Without --input, the pipeline's own `source:` is used. A `learned_transform` (or `learned_affine`) stage loads \
      its checkpoint's spatial transformer, so the sheet shows originals beside their \
      rectified versions. Status 3 when some samples could not be read (the sheet is still \
      written with the others).

      stn export CHECKPOINT --input DIR|IDX --output FILE.png|DIR [--count N] [--pipeline P.yaml]

      What a trained spatial transformer does: a sheet of input / transformed / predicted \
      class, or (--output DIR) the rectified images, named like stn augment's outputs. As \
      with stn eval, --pipeline gives the preprocessing, and the model of a bare PyTorch \
      state dict (docs/pytorch-interop.md).

      stn export CHECKPOINT --layers --input DIR|IDX --output FILE.png [--count N]

      What every layer of any model does: for each of the first N samples (default 2, at most \
      16), a row per layer (the input first; index-kind, state-dict name, output shape), a \
      gray tile per channel (the first 16), each scaled to its own range, with its min (black) \
      and max (white) printed under it. A 1-D output (flatten, linear) is one strip, 40 \
      features per row. At most 64 layers per sample and 128 rows per sheet; the sheet says \
      what it leaves out.

      The output must not be, contain or lie inside the input (or the checkpoint); an existing \
      sheet file or a non-empty output folder is refused unless --overwrite. stn export runs \
      as one process: under mpirun/srun it stops with one error line.

      \(ExitStatus.table)
      """)

  @Argument(help: "A pipeline file (.yaml/.yml) or a checkpoint (.safetensors).") var source: String
  @Option(help: "Input folder (default: the pipeline's source).") var input: String?
  @Option(help: "Output file (.png or .jpg) for a sheet.") var output: String
  @Option(parsing: .unconditional, help: "Number of samples on the sheet, 1...1024 (default 16; with --layers 1...16, default 2).") var count: Int?
  @Flag(help: "With a checkpoint: a sheet of every layer's output (see above).") var layers = false
  @Option(help: "Random seed (overrides the pipeline's).") var seed: UInt64?
  @Option(parsing: .unconditional, help: "Epoch whose random parameters are shown.") var epoch: Int = 0
  @Option(parsing: .unconditional, help: "Worker threads.") var threads: Int = 2
  @Option(help: ArgumentHelp("IDX split to read: train or test (default: test with a checkpoint; with a pipeline, train for --input, else its source's split:).", discussion: splitDiscussion)) var split: String?
  @Option(help: "With a checkpoint: pipeline file for preprocessing (and the model, for a bare PyTorch state dict), as in stn eval.") var pipeline: String?
  @Flag(help: "Replace an existing sheet file, or write into a non-empty output folder.") var overwrite = false

  func validate() throws {
    if let count { try requireCount(count, in: layers ? 1...16 : 1...1024, layers ? "--count (with --layers)" : "--count") }
    if layers && !source.lowercased().hasSuffix(".safetensors") {
      throw ValidationError("--layers needs a checkpoint (.safetensors) as the first argument, got \(source)")
    }
    try requireCount(threads, in: 1...maxThreads, "--threads")
    try requireCount(epoch, in: 0...1_000_000, "--epoch")
    try requireSplit(split)
    if pipeline != nil && !source.lowercased().hasSuffix(".safetensors") {
      throw ValidationError("--pipeline goes with a checkpoint (.safetensors) as the first argument, got \(source)")
    }
  }

  func run() throws {
    try RankAware.requireOneProcess(try World.communicator(), command: "stn export")
    let lower = source.lowercased()
    if lower.hasSuffix(".yaml") || lower.hasSuffix(".yml") {
      try exportPipelineSheet()
    } else if lower.hasSuffix(".safetensors") {
      guard let input else { throw ValidationError("stn export CHECKPOINT needs --input DIR (an image folder or a folder of IDX files)") }
      var request = CheckpointExport.Request(checkpoint: source, input: input, output: output)
      request.count = count ?? (layers ? 2 : 16)
      request.layers = layers
      request.threads = threads
      request.split = split
      request.pipeline = pipeline
      request.overwrite = overwrite
      Interruption.install(graceful: false)
      print(try CheckpointExport.run(request))
    } else {
      throw ValidationError("the first argument must be a pipeline (.yaml/.yml) or a checkpoint (.safetensors), got \(source)")
    }
  }

  private func exportPipelineSheet() throws {
    var config = try PipelineConfig.load(path: source)
    if let seed { config.seed = seed }
    let dataset: any ImageDataset = try config.openData(input: input, split: split)
    guard [".png", ".jpg", ".jpeg"].contains(where: { output.lowercased().hasSuffix($0) }) else {
      throw ValidationError("--output must name a .png or .jpg file, got \(output)")
    }
    try OutputLocation.refuseOverlap(output: output, inputs: [input ?? config.sourceFolder].compactMap { $0 })
    try OutputLocation.prepareFile(output, overwrite: overwrite)
    var job = ExportJob(config: config, dataset: dataset, count: count ?? 16)
    job.epoch = epoch
    job.threads = threads
    job.predictor = try learnedPredictor(for: config, threads: threads)
    Interruption.install(graceful: false)
    let (entries, skipped) = try job.run()
    guard !entries.isEmpty else {
      throw ValidationError("no sample could be read (\(skipped.count) skipped; first: \(skipped.first?.description ?? "none"))")
    }
    let sheet = ContactSheet.render(entries)
    try ImageCodec.write(sheet, to: output, options: EncodeOptions(png: EncodeOptions.pictures.png, jpegQuality: 92))
    print("wrote \(output): \(entries.count) samples, \(sheet.width)x\(sheet.height)")
    for entry in skipped { FileHandle.standardError.write(Data("skipped: \(entry)\n".utf8)) }
    if !skipped.isEmpty { throw ExitCode(ExitStatus.skipped) }
  }
}
