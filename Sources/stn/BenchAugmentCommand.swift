import ArgumentParser
import Foundation
import STNFiles
import STNImageIO
import STNPipeline
import STNWarp

/// `stn bench augment --input DIR`: B8, the main job, folder to folder with files written.
struct BenchAugment: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "augment",
    abstract: "B8: folder -> augment -> folder of files (what stn augment does), images/s.",
    discussion: """
      Runs `stn augment`'s job (decode, random affine ±30°, translate 10%, scale 0.8-1.2, \
      resize 224x224, encode, atomic write, one file-system sync per batch and at the end) \
      over the folder --runs times after a warm-up, each run into a fresh empty folder, and \
      prints one JSON line: median images/s (wall and per CPU second), CPU seconds, and the \
      total bytes written. The peer is bench/peers.py B8 (cv2.imread -> Albumentations -> \
      cv2.imwrite, multiprocessing.Pool); bench/run-all.sh alternates the two.
      """)

  /// The B8 work of shared/bench/ANCHORS.md: pipelines/photos-augment.yaml without normalize.
  static let b8Pipeline = """
    decode: {channels: 3}
    stages:
      - random_affine: {degrees: 30, translate: [0.1, 0.1], scale: [0.8, 1.2]}
      - resize: {size: [224, 224]}
    seed: 0
    """

  @Option(help: "Folder of images (the photos corpus of shared/bench/make_photos.py).") var input: String
  @Option(help: "Pipeline file to run instead of the built-in B8 work.") var pipeline: String?
  @Option(help: "Output format: png or jpeg.") var format: String = "png"
  @Option(help: "JPEG quality 1...100.") var quality: Int = 90
  @Option(name: .customLong("png-level"), help: "PNG compression: fast or 0...9.") var pngLevel: String = "fast"
  @Option(help: "Worker threads.") var threads: Int = 2
  @Option(help: "Timed runs (median reported).") var runs: Int = 3
  @Option(help: "Use at most this many images.") var limit: Int?
  @Option(help: "Scratch folder for the outputs (emptied before each run, removed at the end); default: a new folder in $TMPDIR.") var scratch: String?
  @Option(help: warpKernelsHelp) var kernels = "best"

  func validate() throws {
    try requireCount(threads, in: 1...maxThreads, "--threads")
    try requireCount(runs, in: 1...1000, "--runs")
    try requireCount(quality, in: 1...100, "--quality")
    guard OutputImageFormat(rawValue: format) != nil || format == "jpg" else { throw ValidationError("--format must be png or jpeg, got '\(format)'") }
    guard PNGOptions(argument: pngLevel) != nil else { throw ValidationError("--png-level must be fast or 0...9, got '\(pngLevel)'") }
  }

  func run() throws {
    try selectWarpKernels(kernels)
    let config = try pipeline.map { try PipelineConfig.load(path: $0) } ?? PipelineConfig.parse(yaml: BenchAugment.b8Pipeline, path: "<B8>")
    let all = try config.openInput(input)
    let dataset = DatasetSubset(base: all, indices: Array(0..<min(limit ?? all.count, all.count)))
    guard dataset.count > 0 else { throw ValidationError("no images in \(input)") }
    let root = scratch ?? NSTemporaryDirectory() + "stn-bench-augment-\(getpid())"
    try OutputLocation.refuseOverlap(output: root, inputs: [input])
    defer { if scratch == nil { try? FileManager.default.removeItem(atPath: root) } }

    var written = 0, bytes = 0, failure: Error?
    let timing = measure(runs: runs, warmup: 1) {
      try? FileManager.default.removeItem(atPath: root)
      var job = AugmentJob(config: config, dataset: dataset, inputs: [input], outputRoot: root)
      job.threads = threads
      job.format = format == "png" ? .png : .jpeg
      job.jpegQuality = quality
      job.png = PNGOptions(argument: pngLevel) ?? .fast
      do {
        written = try job.run().written
      } catch {
        failure = error
      }
    }
    if let failure { throw failure }
    for relative in (try? FileManager.default.subpathsOfDirectory(atPath: root)) ?? [] {
      bytes += (try? FileManager.default.attributesOfItem(atPath: root + "/" + relative)[.size] as? Int) ?? 0
    }
    printJSONLine([
      "bench": "B8", "path": .string(format == "jpg" ? "jpeg" : format), "format": .string(format == "jpg" ? "jpeg" : format), "png_level": .string(pngLevel),
      "images_per_s": .number(Double(written) / timing.median, digits: 1),
      "images_per_cpu_s": .number(Double(written) / timing.medianCPU, digits: 1),
      "cpu_s": .number(timing.medianCPU, digits: 3), "output_bytes": .int(bytes),
      "threads": .int(threads), "images": .int(written), "runs": .int(timing.seconds.count), "kernels": .string(warpKernelPath.rawValue),
      "all_runs": .string(timing.seconds.map { String(format: "%.1f", Double(written) / $0) }.joined(separator: " ")),
    ])
  }
}
