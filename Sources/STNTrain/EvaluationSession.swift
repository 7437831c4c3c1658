import Foundation
import STNDistributed
import STNFiles
import STNImageIO
import STNNetwork
import STNPipeline
import STNTensor

/// Everything `stn eval` can be told.
public struct EvalRequest: Sendable {
  public var checkpoint: String
  public var data: String
  /// IDX split when `data` is a folder of IDX files: a `--split` flag, or nil for "test" (given,
  /// data it cannot apply to is an error; see `ImageDatasets.open`).
  public var split: String?
  public var pipeline: String?
  public var threads = 2
  public var batchSize = 256
  /// Also apply the pipeline's random stages, drawn once from the fixed evaluation key (seed,
  /// epoch 0), as `stn train`'s per-epoch test pass does. Off by default: evaluation applies only
  /// the deterministic stages (torchvision's train/eval convention).
  public var random = false
  public init(checkpoint: String, data: String) {
    self.checkpoint = checkpoint
    self.data = data
  }
}

/// `stn eval`: accuracy, per-class accuracy and the confusion matrix of a checkpoint on data.
public enum EvaluationSession {
  /// Evaluates; `output` receives the human-readable report; returns the JSON summary.
  ///
  /// On a `communicator` of several ranks (`mpirun -np N stn eval`) every rank loads the
  /// checkpoint and opens the data, evaluates its part of every batch, and the counts and
  /// losses are summed; `output` is called on rank 0 only (every rank gets the summary).
  public static func run(
    _ request: EvalRequest, communicator: any Communicator = SingleProcessCommunicator(), output: (String) -> Void
  ) throws -> JSONText {
    let output = communicator.isRoot ? output : { _ in }
    let (inference, dataset, provider) = try communicator.agreeing { () throws -> (InferenceModel, any ImageDataset, PipelineBatches) in
      let (inference, dataset) = try InferenceModel.open(
        checkpoint: request.checkpoint, data: request.data, split: request.split, pipeline: request.pipeline, random: request.random)
      let map = try TrainingSession.labelMap(dataset: dataset.classes, model: inference.classNames, data: request.data)
      let provider = PipelineBatches(
        config: inference.config, dataset: dataset, threads: request.threads, classNames: inference.classNames, labelMap: map)
      return (inference, dataset, provider)
    }
    let started = Date()
    let result = try Trainer.evaluate(
      model: inference.classifier(threads: request.threads), provider: provider, indices: Array(0..<dataset.count),
      batchSize: request.batchSize, communicator: communicator)
    let seconds = Date().timeIntervalSince(started)
    let skipped = Int(try communicator.allreduce(Int64(provider.skipped.count), .sum))
    let matrix = result.matrix
    output("checkpoint \(request.checkpoint) (epoch \(inference.epoch)), data \(request.data): \(matrix.total) images"
      + (skipped == 0 ? "" : ", \(skipped) unreadable skipped"))
    output(String(format: "accuracy %.2f%% (%d/%d), mean loss %.4f, %.1f s", matrix.accuracy * 100, matrix.correct, matrix.total, result.loss, seconds))
    output("per-class accuracy:")
    for (name, accuracy) in zip(matrix.classes, matrix.perClassAccuracy) {
      output("  " + name.padding(toLength: max(12, name.count), withPad: " ", startingAt: 0)
        + (accuracy.map { String(format: "%6.2f%%", $0 * 100) } ?? "   n/a"))
    }
    output("confusion matrix (rows: true class, columns: predicted):")
    output(matrix.table())
    return matrix.json(extra: [
      ("loss", .number(result.loss)), ("checkpoint", .string(request.checkpoint)), ("data", .string(request.data)),
      ("skipped", .int(skipped)), ("seconds", .number(seconds)),
      ("images_per_s", .number(Double(matrix.total) / max(seconds, 1e-9))), ("ranks", .int(communicator.size)),
    ])
  }
}
