import Foundation
import STNFiles

/// K-fold cross-validation: K models, each trained on K-1 folds and validated on the held-out
/// one, in `FOLDER/fold-1 … fold-K`; the summary goes to `FOLDER/folds.json`.
public enum CrossValidation {
  /// One fold's outcome.
  public struct FoldResult: Sendable {
    public var fold: Int
    /// Best validation accuracy over the fold's epochs (the one its best.safetensors holds).
    public var bestValidationAccuracy: Double
    public var bestEpoch: Int
    /// Validation accuracy after the last epoch.
    public var finalValidationAccuracy: Double
  }

  /// The K folds and their mean ± (sample) standard deviation of the best validation accuracy.
  public struct Report: Sendable {
    public var folds: [FoldResult]
    public var mean: Double {
      folds.isEmpty ? .nan : folds.map(\.bestValidationAccuracy).reduce(0, +) / Double(folds.count)
    }
    public var standardDeviation: Double {
      guard folds.count > 1 else { return 0 }
      let m = mean
      let squares = folds.map { ($0.bestValidationAccuracy - m) * ($0.bestValidationAccuracy - m) }.reduce(0, +)
      return (squares / Double(folds.count - 1)).squareRoot()
    }

    /// `{"folds":K, "mean_val_acc":…, "std_val_acc":…, "per_fold":[{fold, best_val_acc, best_epoch, final_val_acc}]}`.
    public var json: JSONText {
      .object([
        ("folds", .int(folds.count)), ("mean_val_acc", .number(mean)), ("std_val_acc", .number(standardDeviation)),
        ("per_fold", .array(folds.map { fold in
          .object([
            ("fold", .int(fold.fold)), ("best_val_acc", .number(fold.bestValidationAccuracy)),
            ("best_epoch", .int(fold.bestEpoch)), ("final_val_acc", .number(fold.finalValidationAccuracy)),
          ])
        })),
      ])
    }
  }

  /// Trains one fresh model per fold. `makeTrainer(fold, data, folder)` builds the fold's trainer
  /// (a new model, same settings); `resume` continues each fold from its own last checkpoint,
  /// and folds already finished are trained no further.
  public static func run(
    folds k: Int, provider: BatchProvider, seed: UInt64, folder: String, resume: Bool,
    makeTrainer: (_ fold: Int, _ data: TrainingData, _ folder: String) throws -> Trainer,
    note: (String) -> Void = { _ in }
  ) throws -> Report {
    guard k >= 2, k <= provider.sampleCount else {
      throw TrainingError.badSplit("--folds \(k) needs 2 <= K <= \(provider.sampleCount) samples")
    }
    var results: [FoldResult] = []
    for (index, split) in DataSplit.folds(count: provider.sampleCount, k: k, seed: seed).enumerated() {
      let fold = index + 1
      let foldFolder = folder + "/fold-\(fold)"
      note("fold \(fold)/\(k): training on \(split.train.count) samples, validating on \(split.validation.count)")
      let data = TrainingData(train: provider, trainIndices: split.train, validationIndices: split.validation, test: nil)
      let trainer = try makeTrainer(fold, data, foldFolder)
      let canResume = resume && FileManager.default.fileExists(atPath: trainer.lastCheckpointPath)
      let rows = try trainer.run(resume: canResume)
      let scored = rows.compactMap { row in row.validationAccuracy.map { (row.epoch, $0) } }
      let best = scored.max { $0.1 < $1.1 } ?? (0, .nan)
      results.append(FoldResult(
        fold: fold, bestValidationAccuracy: best.1, bestEpoch: best.0, finalValidationAccuracy: scored.last?.1 ?? .nan))
      let report = Report(folds: results)
      try AtomicFile.write(Array((report.json.description + "\n").utf8), to: folder + "/folds.json")
    }
    return Report(folds: results)
  }
}
