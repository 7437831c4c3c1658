import ArgumentParser
import Foundation
import STNTrain

/// `stn eval CHECKPOINT --data DIR|IDX`: accuracy, per-class accuracy, confusion matrix.
struct Eval: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "eval", abstract: "Evaluate a checkpoint: accuracy, per-class accuracy, confusion matrix.",
    discussion: """
      The data is preprocessed as the checkpoint records (its pipeline's stages; random stages \
      drawn once from the fixed evaluation key, so the RTS test set is distorted the same way \
      every time). Image-folder classes are matched to the checkpoint's class names by name. \
      The last output line is one JSON object {"accuracy":…, "n":…, "per_class":{…}, …}. \
      A PyTorch-saved state dict needs --pipeline naming the file that declares its model.
      """)

  @Argument(help: "A checkpoint (.safetensors) written by stn train, or a PyTorch state dict (with --pipeline).") var checkpoint: String
  @Option(help: "A folder of IDX files, an IDX image file, or an image folder (root/<class>/<image>).") var data: String
  @Option(help: "IDX split to use when --data is a folder of IDX files.") var split: String = "test"
  @Option(help: "Pipeline file for preprocessing (and the model, for a bare state dict).") var pipeline: String?
  @Option(help: "Threads.") var threads: Int = 2
  @Option(name: .customLong("batch-size"), help: "Images per forward pass.") var batchSize: Int = 256
  @Flag(name: .customLong("no-random"), help: "Leave out the pipeline's random_affine stages.") var noRandom = false

  func validate() throws {
    guard threads >= 1 else { throw ValidationError("--threads must be >= 1") }
    guard batchSize >= 1 else { throw ValidationError("--batch-size must be >= 1") }
  }

  func run() throws {
    var request = EvalRequest(checkpoint: checkpoint, data: data)
    request.split = split
    request.pipeline = pipeline
    request.threads = threads
    request.batchSize = batchSize
    request.noRandom = noRandom
    let summary = try EvaluationSession.run(request) { print($0) }
    print(summary)
  }
}
