import ArgumentParser
import Foundation
import STNImageIO
import STNPipeline

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

      Without --input, the pipeline's own `source:` is used. A `learned_affine` stage loads \
      its checkpoint's spatial transformer, so the sheet shows originals beside their \
      rectified versions. Exit status 3 when some samples \
      could not be read (the sheet is still written with the others).
      """)

  @Argument(help: "A pipeline file (.yaml/.yml) or a checkpoint (.safetensors).") var source: String
  @Option(help: "Input folder (default: the pipeline's source).") var input: String?
  @Option(help: "Output file (.png or .jpg) for a sheet.") var output: String
  @Option(help: "Number of samples on the sheet.") var count: Int = 16
  @Option(help: "Random seed (overrides the pipeline's).") var seed: UInt64?
  @Option(help: "Epoch whose random parameters are shown.") var epoch: Int = 0
  @Option(help: "Worker threads.") var threads: Int = 2

  func validate() throws {
    guard (1...1024).contains(count) else { throw ValidationError("--count must be in 1...1024") }
    guard threads >= 1 else { throw ValidationError("--threads must be >= 1") }
  }

  func run() throws {
    let lower = source.lowercased()
    if lower.hasSuffix(".yaml") || lower.hasSuffix(".yml") {
      try exportPipelineSheet()
    } else if lower.hasSuffix(".safetensors") {
      try ExportCheckpoint.run(checkpoint: source, input: input, output: output, count: count, threads: threads)
    } else {
      throw ValidationError("the first argument must be a pipeline (.yaml/.yml) or a checkpoint (.safetensors), got \(source)")
    }
  }

  private func exportPipelineSheet() throws {
    var config = try PipelineConfig.load(path: source)
    if let seed { config.seed = seed }
    let dataset: any ImageDataset = try input.map { try ImageTree(root: $0) } ?? config.openSource()
    var job = ExportJob(config: config, dataset: dataset, count: count)
    job.epoch = epoch
    job.threads = threads
    job.predictor = try Augment.learnedPredictor(for: config, threads: threads)
    let (entries, skipped) = try job.run()
    guard !entries.isEmpty else {
      throw ValidationError("no sample could be read (\(skipped.count) skipped; first: \(skipped.first?.description ?? "none"))")
    }
    let sheet = ContactSheet.render(entries)
    try ImageCodec.write(sheet, to: output, jpegQuality: 92)
    print("wrote \(output): \(entries.count) samples, \(sheet.width)x\(sheet.height)")
    for entry in skipped { FileHandle.standardError.write(Data("skipped: \(entry)\n".utf8)) }
    if !skipped.isEmpty { throw ExitCode(Augment.skippedExitCode) }
  }
}
