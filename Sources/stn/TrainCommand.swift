import ArgumentParser
import Foundation
import STNTrain

/// `stn train PIPELINE.yaml`: trains the model a pipeline file declares.
struct Train: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "train", abstract: "Train a (spatial-transformer) classifier declared in a pipeline file.",
    discussion: """
      Prints the model summary, then a progress bar on stderr (plain lines when stderr is not a \
      terminal). The run folder gets metrics.jsonl and metrics.csv (one row per epoch), \
      last.safetensors (every epoch, atomically), best.safetensors (best validation accuracy; \
      the latest epoch when there is no validation split), curves.png and TensorBoard events. \
      The last stdout line is a JSON summary. A NaN/Inf loss stops the run (exit status 2) and \
      leaves the last good checkpoint intact; --resume continues a killed run. \
      With --folds K: K-fold cross-validation, RUN/fold-i/ per fold and RUN/folds.json.
      """)

  @Argument(help: "Pipeline file with source, stages, `model:` and `train:` sections.") var pipeline: String
  @Option(help: "Epochs (default: the pipeline's train.epochs).") var epochs: Int?
  @Option(help: "Run folder (default: runs/<pipeline name>).") var out: String?
  @Option(help: "Threads for data loading and compute.") var threads: Int = 2
  @Flag(help: "Continue the run in --out from its last.safetensors.") var resume = false
  @Option(name: .customLong("val-fraction"), help: "Share of the training data held out for validation (default: the pipeline's train.val_fraction, else 0.1).") var valFraction: Double?
  @Option(help: "K-fold cross-validation with K folds.") var folds: Int?
  @Option(help: "Seed (overrides the pipeline's).") var seed: UInt64?
  @Option(help: "TensorBoard event folder (default: the run folder).") var tensorboard: String?
  @Flag(name: .customLong("no-tensorboard"), help: "Write no TensorBoard events.") var noTensorboard = false
  @Option(help: "Train on a seeded random subset of N images.") var limit: Int?
  @Option(name: .customLong("init-from"), help: "Start from the weights of a state dict (PyTorch-saved safetensors or a checkpoint).") var initFrom: String?
  @Flag(name: .customLong("no-test"), help: "Skip the per-epoch pass over the pipeline's test split.") var noTest = false

  func validate() throws {
    guard threads >= 1 else { throw ValidationError("--threads must be >= 1") }
    if let epochs, epochs < 1 { throw ValidationError("--epochs must be >= 1") }
    if let folds, folds < 2 { throw ValidationError("--folds must be >= 2") }
    if let valFraction, !(0..<1).contains(valFraction) { throw ValidationError("--val-fraction must be in [0, 1)") }
    if let folds, folds >= 2, valFraction != nil { throw ValidationError("--folds and --val-fraction exclude each other") }
    if tensorboard != nil && noTensorboard { throw ValidationError("--tensorboard and --no-tensorboard exclude each other") }
  }

  func run() throws {
    var request = TrainRequest(pipeline: pipeline)
    request.epochs = epochs
    request.out = out
    request.threads = threads
    request.resume = resume
    request.validationFraction = valFraction
    request.folds = folds
    request.seed = seed
    request.tensorBoard = noTensorboard ? .off : tensorboard.map { .directory($0) } ?? .runFolder
    request.limit = limit
    request.initFrom = initFrom
    request.skipTest = noTest
    let console = TrainingConsole()
    do {
      let outcome = try TrainingSession.run(request, observer: console) { print($0) }
      print(outcome.summary)
    } catch let error as TrainingError {
      FileHandle.standardError.write(Data("error: \(error)\n".utf8))
      throw ExitCode(2)
    }
  }
}
