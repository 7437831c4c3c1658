import ArgumentParser
import Foundation
import STNDistributed
import STNTrain

/// `stn eval CHECKPOINT --data DIR|IDX`: accuracy, per-class accuracy, confusion matrix.
struct Eval: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "eval", abstract: "Evaluate a checkpoint: accuracy, per-class accuracy, confusion matrix.",
    discussion: """
      The data is preprocessed as the checkpoint records: its pipeline's deterministic stages \
      only (random_affine, random_perspective and random_elastic left out, random padding \
      centred), torchvision's train/eval \
      convention, so an already-distorted test folder is not distorted again. --random also \
      applies the random stages, drawn once from the fixed evaluation key (seed, epoch 0) as \
      stn train's per-epoch test pass does. Image-folder classes are matched to the \
      checkpoint's class names by name. \
      The last output line is one JSON object {"accuracy":…, "n":…, "per_class":{…}, …}. \
      A PyTorch-saved state dict needs --pipeline naming the file that declares its model. \
      Under mpirun (or srun) each rank evaluates its part of every batch and rank 0 prints the \
      combined report (with "ranks":N).

      \(ExitStatus.table)
      """)

  @Argument(help: "A checkpoint (.safetensors) written by stn train, or a PyTorch state dict (with --pipeline).") var checkpoint: String
  @Option(name: [.customLong("input"), .customLong("data")], help: "A folder of IDX files, an IDX image file, or an image folder (root/<class>/<image>).") var data: String
  @Option(help: ArgumentHelp("IDX split to evaluate: train or test (default: test).", discussion: splitDiscussion)) var split: String?
  @Option(help: "Pipeline file for preprocessing (and the model, for a bare state dict).") var pipeline: String?
  @Option(parsing: .unconditional, help: "Threads.") var threads: Int = 2
  @Option(name: .customLong("batch-size"), parsing: .unconditional, help: "Images per forward pass, 1...65536.") var batchSize: Int = 256
  @Flag(help: "Also apply the pipeline's random stages (drawn once from the fixed evaluation key).") var random = false
  @Flag(name: .customLong("no-random"), help: "Leave out the random stages (the default; kept for scripts).") var noRandom = false

  func validate() throws {
    try requireCount(threads, in: 1...maxThreads, "--threads")
    try requireCount(batchSize, in: 1...65_536, "--batch-size")
    try requireSplit(split)
    if random && noRandom { throw ValidationError("--random and --no-random exclude each other") }
  }

  func run() throws {
    let world = try World.communicator()
    try RankAware.run(world) { try evaluate(on: world) }
  }

  private func evaluate(on world: any Communicator) throws {
    var request = EvalRequest(checkpoint: checkpoint, data: data)
    request.split = split
    request.pipeline = pipeline
    request.threads = threads
    request.batchSize = batchSize
    request.random = random
    Interruption.install(graceful: false)
    let summary = try EvaluationSession.run(request, communicator: world) { print($0) }
    if world.isRoot { print(summary) }
    fflush(stdout)
  }
}
