import ArgumentParser
import Foundation
import STNFiles
import STNImageIO
import STNPipeline

/// `stn bench decode --input DIR`: B4, JPEG decode to RGB on one thread.
struct BenchDecode: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "decode",
    abstract: "B4: JPEG decode throughput, one thread.",
    discussion: "Reads every JPEG under the folder into memory, decodes them all to 8-bit RGB --runs times after a warm-up, and prints one JSON line with the median images/s.")

  @Option(help: "Folder of JPEG files (the photos corpus).") var input: String
  @Option(help: "Timed passes (median reported).") var runs: Int = 3
  @Option(help: "Use at most this many images.") var limit: Int?

  func run() throws {
    let tree = try ImageFolder(root: input)
    var paths = (0..<tree.count).map { tree.sourcePath(at: $0) }.filter {
      let lower = $0.lowercased()
      return lower.hasSuffix(".jpg") || lower.hasSuffix(".jpeg")
    }
    if let limit { paths = Array(paths.prefix(limit)) }
    guard !paths.isEmpty else { throw ValidationError("no JPEG files under \(input)") }
    let options = DecodeOptions(channels: 3)
    var failures = 0
    // Decode from memory, like torchvision.io.decode_jpeg on a bytes tensor: file reads are not
    // part of B4.
    var files: [(path: String, bytes: [UInt8])] = []
    for path in paths {
      do { files.append((path, try AtomicFile.read(path))) } catch { failures += 1 }
    }
    var checksum = 0
    let timing = measure(runs: max(1, runs), warmup: 1) {
      for file in files {
        do {
          let image = try ImageCodec.decode(bytes: file.bytes, path: file.path, options: options)
          checksum &+= Int(image.pixels[image.pixels.count / 2])
        } catch {
          failures += 1
        }
      }
    }
    printJSONLine([
      "bench": "B4", "images_per_s": .number(Double(files.count) / timing.median, digits: 1),
      "images_per_cpu_s": .number(Double(files.count) / timing.medianCPU, digits: 1),
      "threads": 1, "images": .int(files.count), "runs": .int(timing.seconds.count), "failed": .int(failures / (max(1, runs) + 1)),
      "all_runs": .string(timing.seconds.map { String(format: "%.1f", Double(files.count) / $0) }.joined(separator: " ")),
    ])
    if checksum == Int.min { print("") }
  }
}
