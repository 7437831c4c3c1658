import ArgumentParser
import Foundation
import STNTensor

/// The `stn` command: spatial-transformer augmentation and training without Python.
struct STN: ParsableCommand {
  /// `stn --version`.
  static let version = "0.2.0"

  static let configuration = CommandConfiguration(
    commandName: "stn",
    abstract: "Spatial-transformer image augmentation and training, PyTorch-exact, without Python.",
    discussion: """
      Typical use:
        stn info samples/                      images, folders, IDX files
        stn augment pipelines/photos-augment.yaml --input DIR --output OUT
        stn export pipelines/photos-augment.yaml --input DIR --output sheet.png
        stn train pipelines/fashion-mnist-rts-stn.yaml --output runs/stn
        stn augment pipelines/fashion-mnist-rts.yaml --split test \\
            --input /usr/share/datasets/fashion-mnist --output data/rts-test
        stn eval runs/stn/best.safetensors --input data/rts-test
        stn export runs/stn/best.safetensors --layers --input data/rts-test \\
            --output layers.png
        stn bench warp                         measure against ANCHORS.md

      \(ExitStatus.table)
      """,
    version: version,
    subcommands: [Info.self, Augment.self, Export.self, Train.self, Eval.self, Bench.self, Debug.self])
}

/// `stn bench ...`: benchmarks that print one JSON line per figure.
struct Bench: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Benchmarks (one JSON line per figure; compare with shared/bench/ANCHORS.md).",
    subcommands: [BenchWarp.self, BenchSTNGrad.self, BenchPipeline.self, BenchDecode.self, BenchTrain.self, BenchAugment.self])
}

/// The entry point: parses, runs, and reports a mistake in one line ("Error: ..." plus where to
/// read more), with the exit status of `ExitStatus`.
@main
enum Main {
  static func main() {
    // The run-time policy (OpenBLAS threads, allocator), once, before any command runs.
    for problem in RuntimePolicy.standard.apply() { FileHandle.standardError.write(Data("stn: note: \(problem)\n".utf8)) }
    let command: ParsableCommand
    do {
      if let problem = repeatedOption(in: Array(CommandLine.arguments.dropFirst())) { throw ValidationError(problem) }
      command = try STN.parseAsRoot()
    } catch {
      report(error, command: nil)
    }
    do {
      var running = command
      try running.run()
    } catch {
      report(error, command: command)
    }
  }

  /// The argument parser keeps the LAST value of an option given twice, so `--input a --input b`
  /// would read only b without a word. No `stn` option takes several values: a long option
  /// written twice (also through its alias: `--out`/`--output`, `--data`/`--input`) is a mistake,
  /// named here. Nil when there is none; scanning stops at `--`.
  static func repeatedOption(in arguments: [String]) -> String? {
    let aliases = ["--out": "--output", "--data": "--input"]
    var seen: [String: String] = [:]
    for argument in arguments {
      if argument == "--" { break }
      guard argument.hasPrefix("--") else { continue }
      let written = String(argument.prefix { $0 != "=" })
      let name = aliases[written] ?? written
      if let first = seen[name] {
        return first == written ? "\(written) is given twice; it takes one value (a second would silently replace the first)"
          : "\(first) and \(written) are the same option, given twice; it takes one value"
      }
      seen[name] = written
    }
    return nil
  }

  static func report(_ error: Error, command: ParsableCommand?) -> Never {
    let code = STN.exitCode(for: error)
    // Help, --version and explicit exit codes keep the argument parser's own output.
    if code == .success || error is ExitCode || error is CleanExit { STN.exit(withError: error) }
    var message = STN.message(for: error)
    if code.rawValue == ExitStatus.usage {
      let words = CommandLine.arguments.dropFirst().prefix { !$0.hasPrefix("-") }.prefix(2)
      let names = words.prefix { ["info", "augment", "export", "train", "eval", "bench", "warp", "stn-grad", "pipeline", "decode", "augment"].contains($0) }
      message += " (see: stn \(names.map { $0 + " " }.joined())--help)"
    }
    FileHandle.standardError.write(Data("Error: \(message)\n".utf8))
    Foundation.exit(code.rawValue)
  }
}
