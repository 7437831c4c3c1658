import ArgumentParser
import Foundation
import STNDistributed
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

      Every epoch, TensorBoard also gets each layer's output for 8 fixed samples (the first 8 \
      of the validation split, else of the training split, through the pipeline with the \
      evaluation key): one image per layer, tagged layers/<index>-<kind> (layers/input, \
      layers/00-spatial_transformer, layers/00.02-relu, layers/01-conv2d), a row per sample and \
      a gray tile per channel (the first 16), each scaled to its own min..max; the layer's \
      shape is in the tag's description. The index is the layer's position in the model: list; \
      a spatial transformer's localization layers are <its index>.<position>.

      The run folder must not be, contain or lie inside the data or the pipeline file; a \
      folder that already holds a run needs --resume (continue it) or --overwrite (start \
      again in it). Ctrl-C stops at once; the last epoch's checkpoint stays usable.

      Under mpirun (or srun) the N ranks train one model, data-parallel: batch.size stays the \
      global batch, each rank computes its part of it, and one allreduce of the gradients per \
      step keeps every rank's parameters identical. Rank 0 alone prints and writes the run \
      folder (and reads --resume's checkpoint); the summary says "ranks":N. --folds is refused \
      under mpirun. See docs/distributed.md.

      \(ExitStatus.table)
      """)

  @Argument(help: "Pipeline file with source, stages, `model:` and `train:` sections.") var pipeline: String
  @Option(parsing: .unconditional, help: "Epochs (default: the pipeline's train.epochs).") var epochs: Int?
  @Option(name: [.customLong("output"), .customLong("out")], help: "Run folder (default: runs/<pipeline name>).") var out: String?
  @Option(parsing: .unconditional, help: "Threads for data loading and compute.") var threads: Int = 2
  @Flag(help: "Continue the run in --out from its last.safetensors.") var resume = false
  @Option(name: .customLong("val-fraction"), help: "Share of the training data held out for validation (default: the pipeline's train.val_fraction, else 0.1).") var valFraction: Double?
  @Option(parsing: .unconditional, help: "K-fold cross-validation with K folds, 2...100.") var folds: Int?
  @Option(help: "Seed (overrides the pipeline's).") var seed: UInt64?
  @Option(help: "TensorBoard event folder (default: the run folder).") var tensorboard: String?
  @Flag(name: .customLong("no-tensorboard"), help: "Write no TensorBoard events.") var noTensorboard = false
  @Option(name: .customLong("tensorboard-layers"), help: ArgumentHelp(
    "Layers whose outputs go to TensorBoard every epoch: all, none, or a comma-separated LIST of indices (3, 0.2), kinds (conv2d, relu, ...) and input. Default: all when the model: list has at most 20 layers, else none.",
    valueName: "all|none|LIST")) var tensorboardLayers: String?
  @Option(parsing: .unconditional, help: "Train on a seeded random subset of N images.") var limit: Int?
  @Option(help: "Training data instead of the pipeline's source: a folder of IDX files (train split; test: from the same folder) or an image folder.") var input: String?
  @Option(name: .customLong("init-from"), help: "Start from the weights of a state dict (PyTorch-saved safetensors or a checkpoint).") var initFrom: String?
  @Flag(name: .customLong("no-test"), help: "Skip the per-epoch pass over the pipeline's test split.") var noTest = false
  @Flag(help: "Start a new run in a folder that already holds one (its checkpoints and metrics are replaced).") var overwrite = false

  func validate() throws {
    try requireCount(threads, in: 1...maxThreads, "--threads")
    if let epochs { try requireCount(epochs, in: 1...1_000_000, "--epochs") }
    if let folds { try requireCount(folds, in: 2...100, "--folds") }
    if let limit { try requireCount(limit, in: 1...Int(Int32.max), "--limit") }
    if let valFraction, !(0..<1).contains(valFraction) { throw ValidationError("--val-fraction must be in [0, 1), got \(valFraction)") }
    if resume && overwrite { throw ValidationError("--resume and --overwrite exclude each other") }
    if let folds, folds >= 2, valFraction != nil { throw ValidationError("--folds and --val-fraction exclude each other") }
    if tensorboard != nil && noTensorboard { throw ValidationError("--tensorboard and --no-tensorboard exclude each other") }
    if tensorboardLayers != nil && noTensorboard { throw ValidationError("--tensorboard-layers and --no-tensorboard exclude each other") }
    _ = try layerSelection()
  }

  /// `--tensorboard-layers` parsed (a wrong value is a usage error).
  func layerSelection() throws -> LayerSelection {
    do {
      return try tensorboardLayers.map(LayerSelection.init(parsing:)) ?? .automatic
    } catch let error as LayerSelectionError {
      throw ValidationError(error.description)
    }
  }

  func run() throws {
    let world = try World.communicator()
    try RankAware.run(world) { try train(on: world) }
  }

  /// The run, on one process or on every rank of `world`.
  private func train(on world: any Communicator) throws {
    var request = TrainRequest(pipeline: pipeline)
    request.epochs = epochs
    request.out = out
    request.threads = threads
    request.resume = resume
    request.validationFraction = valFraction
    request.folds = folds
    request.seed = seed
    request.tensorBoard = noTensorboard ? .off : tensorboard.map { .directory($0) } ?? .runFolder
    request.tensorBoardLayers = try layerSelection()
    request.limit = limit
    request.input = input
    request.initFrom = initFrom
    request.skipTest = noTest
    request.overwrite = overwrite
    request.beforeStep = try Train.testExitHook(world)
    Interruption.install(graceful: false)
    let console = world.isRoot ? TrainingConsole() : nil
    do {
      let outcome = try TrainingSession.run(request, observer: console, communicator: world) { print($0) }
      if world.isRoot { print(outcome.summary) }
      fflush(stdout)
    } catch let error as TrainingError {
      // Under mpirun every rank stops here together, with the same error: rank 0 says it.
      if world.isRoot { FileHandle.standardError.write(Data("error: \(error)\n".utf8)) }
      fflush(stdout)
      throw ExitCode(ExitStatus.nonFinite)
    } catch let error as LayerSelectionError {
      // Only the model can tell that an index or kind names nothing: still a usage error.
      throw ValidationError(error.description)
    }
  }

  /// TEST ONLY (docs/distributed.md): `STN_TEST_EXIT_AT_STEP=k` makes rank
  /// `STN_TEST_EXIT_RANK` (default: the last) kill itself with SIGKILL just before training
  /// step k (0-based over the run), as a crashed or OOM-killed node would, to test that the
  /// other ranks stop and that `--resume` continues. Nil when the variable is not set.
  static func testExitHook(_ world: any Communicator, environment: [String: String] = ProcessInfo.processInfo.environment) throws
    -> (@Sendable (Int) -> Void)?
  {
    guard let text = environment["STN_TEST_EXIT_AT_STEP"] else { return nil }
    guard let step = Int(text), step >= 0 else { throw ValidationError("STN_TEST_EXIT_AT_STEP must be a step number >= 0, got '\(text)'") }
    let rankText = environment["STN_TEST_EXIT_RANK"] ?? String(world.size - 1)
    guard let rank = Int(rankText), (0..<world.size).contains(rank) else {
      throw ValidationError("STN_TEST_EXIT_RANK must be a rank in 0..<\(world.size), got '\(rankText)'")
    }
    guard rank == world.rank else { return nil }
    let name = "rank \(world.rank) of \(world.size)"
    return { current in
      guard current == step else { return }
      FileHandle.standardError.write(Data("stn: test hook (STN_TEST_EXIT_AT_STEP=\(step)): \(name) kills itself before step \(step)\n".utf8))
      kill(getpid(), SIGKILL)
    }
  }
}
