import ArgumentParser
import Foundation
import STNTensor

/// The `stn` command: spatial-transformer augmentation and training without Python.
@main
struct STN: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "stn",
    abstract: "Spatial-transformer image augmentation and training, PyTorch-exact, without Python.",
    discussion: """
      Typical use:
        stn info samples/                                  describe images, folders, IDX files
        stn augment pipelines/photos-augment.yaml --input DIR --output OUT
        stn export pipelines/photos-augment.yaml --input DIR --output sheet.png
        stn train pipelines/fashion-mnist-rts-stn.yaml --epochs 10 --out runs/stn
        stn eval runs/stn/best.safetensors --data /usr/share/datasets/fashion-mnist
        stn bench warp                                     measure against ANCHORS.md
      """,
    subcommands: [Info.self, Augment.self, Export.self, Train.self, Eval.self, Bench.self])

  /// Applies the run-time policy (OpenBLAS threads, allocator) once, before any command runs.
  static func main() {
    for problem in RuntimePolicy.standard.apply() { FileHandle.standardError.write(Data("stn: note: \(problem)\n".utf8)) }
    main(nil)
  }
}

/// `stn bench ...`: benchmarks that print one JSON line per figure.
struct Bench: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Benchmarks (one JSON line per figure; compare with shared/bench/ANCHORS.md).",
    subcommands: [BenchWarp.self, BenchSTNGrad.self, BenchPipeline.self, BenchDecode.self, BenchTrain.self])
}

/// Thrown by commands whose implementation has not landed yet.
struct NotImplemented: Error, CustomStringConvertible {
  var command: String
  var description: String { "stn \(command) is not implemented yet" }
}
