import ArgumentParser
import Foundation
import STNImageIO
import STNPipeline
import STNWarp

/// `stn bench pipeline --input DIR`: B3, decode -> random affine -> resize -> normalize -> batch.
struct BenchPipeline: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "pipeline",
    abstract: "B3: decode -> augment -> batch throughput on a folder.",
    discussion: """
      Runs whole epochs of the B3 pipeline (pipelines/photos-augment.yaml's work, built in) over \
      the folder through the streaming loader and prints one JSON line with the median \
      images/s over --runs epochs, after a warm-up. --psnr N also compares the one-resample \
      output against the step-by-step reference on N images and reports PSNR (dB).
      """)

  /// The B3 work of shared/bench/ANCHORS.md, the same as pipelines/photos-augment.yaml.
  static let b3Pipeline = """
    decode: {channels: 3}
    stages:
      - random_affine: {degrees: 30, translate: [0.1, 0.1], scale: [0.8, 1.2]}
      - resize: {size: [224, 224]}
      - normalize: {mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225]}
    batch: {size: 64, shuffle: true}
    seed: 0
    """

  @Option(help: "Folder of images (the photos corpus of shared/bench/make_photos.py); default: the --pipeline's source.") var input: String?
  @Option(help: "Pipeline file to run instead of the built-in B3 work.") var pipeline: String?
  @Option(help: "Loader worker threads.") var threads: Int = 2
  @Option(help: "Timed epochs (median reported).") var runs: Int = 3
  @Option(help: "Use at most this many images.") var limit: Int?
  @Option(help: "Also time the phases (decode alone; decode+plan+prefilter; resample) on one thread over N images.") var profile: Int = 0
  @Option(help: "Also measure PSNR of the fused path against the step-by-step reference on N images.") var psnr: Int = 0
  @Option(help: warpKernelsHelp) var kernels = "best"

  func run() throws {
    try selectWarpKernels(kernels)
    let config = try pipeline.map { try PipelineConfig.load(path: $0) } ?? PipelineConfig.parse(yaml: BenchPipeline.b3Pipeline, path: "<B3>")
    let all: any ImageDataset = try config.openData(input: input, split: nil)
    let dataset = DatasetSubset(base: all, indices: Array(0..<min(limit ?? all.count, all.count)))
    guard dataset.count > 0 else { throw ValidationError("no images in \(input ?? config.path)") }

    // Warm-up (page cache, allocator, threads), then whole epochs, each a fresh loader.
    var images = 0, skipped = 0, epoch = 0
    let timing = measure(runs: max(1, runs), warmup: 1) {
      do {
        (images, skipped) = try runEpoch(config: config, dataset: dataset, epoch: epoch)
      } catch {
        FileHandle.standardError.write(Data("error: \(error)\n".utf8))
      }
      epoch += 1
    }
    guard images > 0 else { throw ValidationError("no batch was produced") }
    printJSONLine([
      "bench": .string(pipeline == nil ? "B3" : "pipeline"), "pipeline": .string(pipeline ?? "built-in B3"), "images_per_s": .number(Double(images) / timing.median, digits: 1),
      "images_per_cpu_s": .number(Double(images) / timing.medianCPU, digits: 1),
      "threads": .int(threads), "images": .int(images), "runs": .int(timing.seconds.count), "skipped": .int(skipped), "kernels": .string(warpKernelPath.rawValue),
      "all_runs": .string(timing.seconds.map { String(format: "%.1f", Double(images) / $0) }.joined(separator: " ")),
    ])
    if psnr > 0 { try reportPSNR(config: config, dataset: dataset) }
    if profile > 0 { try reportProfile(config: config, dataset: dataset) }
  }

  /// Single-thread time per image of each phase, in milliseconds.
  private func reportProfile(config: PipelineConfig, dataset: any ImageDataset) throws {
    let processor = try SampleProcessor(config: config)
    let n = min(profile, dataset.count)
    let options = config.decodeOptions
    var started = Date()
    for index in 0..<n { _ = try dataset.loadImage(at: index, options: options) }
    let decode = Date().timeIntervalSince(started)
    started = Date()
    var samples: [PreparedSample] = []
    var prepare = 0.0, render = 0.0
    let slot = UnsafeMutablePointer<Float>.allocate(capacity: 3 * 1024 * 1024)
    defer { slot.deallocate() }
    for index in 0..<n {
      started = Date()
      let sample = try processor.prepare(dataset: dataset, index: index, epoch: 0)
      prepare += Date().timeIntervalSince(started)
      if sample.outputWidth * sample.outputHeight * config.channels > 3 * 1024 * 1024 { continue }
      started = Date()
      try processor.renderFloat(sample, into: slot)
      render += Date().timeIntervalSince(started)
      if samples.count < 1 { samples.append(sample) }
    }
    print(String(format: "{\"profile\":\"B3 phases, 1 thread\",\"n\":%d,\"decode_full_ms\":%.3f,\"prepare_ms\":%.3f,\"resample_ms\":%.3f}",
                 n, 1000 * decode / Double(n), 1000 * prepare / Double(n), 1000 * render / Double(n)))
  }

  /// One epoch through the streaming loader; returns (images delivered, samples skipped).
  private func runEpoch(config: PipelineConfig, dataset: any ImageDataset, epoch: Int) throws -> (Int, Int) {
    let loader = try BatchLoader(config: config, dataset: dataset, epoch: epoch, threads: threads)
    var images = 0
    var checksum: Float = 0
    // Borrow each batch from the loader's buffer: B3 ends at the batch, it does not copy it.
    while let count = loader.withNextBatch({ view -> Int in
      checksum += view.images.first ?? 0
      return view.labels.count
    }) {
      images += count
    }
    if checksum.isNaN { FileHandle.standardError.write(Data("warning: NaN in batches\n".utf8)) }
    return (images, loader.skipped.count)
  }

  /// Fused one-resample output vs the step-by-step reference, on `psnr` evenly spaced images.
  private func reportPSNR(config: PipelineConfig, dataset: any ImageDataset) throws {
    let processor = try SampleProcessor(config: config)
    var values: [Double] = []
    var reduced = 0, prefiltered = 0
    let n = min(psnr, dataset.count)
    for k in 0..<n {
      let index = k * dataset.count / n
      let sample = try processor.prepare(dataset: dataset, index: index, epoch: 0)
      if sample.decodeDenominator > 1 { reduced += 1 }
      if sample.prefiltered { prefiltered += 1 }
      let fused = try processor.renderUInt8(sample)
      let reference = try processor.referenceRender(dataset: dataset, index: index, epoch: 0)
      values.append(StepByStepReference.psnr(fused, reference))
    }
    values.sort()
    let mean = values.reduce(0, +) / Double(values.count)
    print(String(format: "{\"check\":\"psnr_fused_vs_step_by_step\",\"n\":%d,\"min_db\":%.2f,\"median_db\":%.2f,\"mean_db\":%.2f,\"reduced_decode\":%d,\"prefiltered\":%d}",
                 values.count, values.first ?? 0, values[values.count / 2], mean, reduced, prefiltered))
  }
}
