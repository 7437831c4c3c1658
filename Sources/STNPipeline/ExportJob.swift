import Foundation
import STNFiles
import STNImageIO

/// Builds the entries of `stn export`: `count` samples spread evenly over the dataset.
public struct ExportJob {
  public var config: PipelineConfig
  public var dataset: any ImageDataset
  public var count: Int
  public var epoch: Int = 0
  /// The trained model a learned stage needs (nil: such a stage is refused).
  public var predictor: ThetaPredictor?
  /// Threads for the per-sample work around the predictor's batched forward pass.
  public var threads: Int = 1

  public init(config: PipelineConfig, dataset: any ImageDataset, count: Int) {
    self.config = config
    self.dataset = dataset
    self.count = count
  }

  /// Dataset indices shown: evenly spaced, so a class-sorted folder shows several classes.
  public var indices: [Int] {
    let n = min(count, dataset.count)
    return (0..<n).map { $0 * dataset.count / max(n, 1) }
  }

  /// The entries, and the samples that could not be read.
  public func run() throws -> (entries: [ContactSheetEntry], skipped: [SkippedSample]) {
    let processor = try SampleProcessor(config: config)
    try config.requirePredictor(predictor, what: "stn export with a pipeline")
    let shown = indices
    try LearnedStep.checkInput(processor: processor, predictor: predictor, dataset: dataset, candidates: shown)
    var samples: [Result<PreparedSample, any Error>] = shown.map { index in
      Result { try processor.prepare(dataset: dataset, index: index, epoch: epoch) }
    }
    if let predictor, config.hasLearnedStage {
      // One forward pass for the whole sheet (at most `count` images, a batch).
      samples = LearnedStep.complete(samples, processor: processor, predictor: predictor, threads: threads)
    }
    var entries: [ContactSheetEntry] = []
    var skipped: [SkippedSample] = []
    for (index, sample) in zip(shown, samples) {
      do {
        let original = try dataset.loadImage(at: index, options: config.decodeOptions)
        let transformed = try processor.renderUInt8(try sample.get())
        let label = dataset.label(at: index)
        let className = label >= 0 && label < dataset.classes.count ? dataset.classes[label] : "\(label)"
        let geometry = processor.plan(sourceWidth: original.width, sourceHeight: original.height, epoch: epoch, index: index)
        var parameters = ContactSheetEntry.parameterLines(geometry)
        if config.hasLearnedStage {
          parameters.append("learned")
          if let after = processor.planAfterLearned(sourceWidth: original.width, sourceHeight: original.height, epoch: epoch, index: index) {
            parameters += ContactSheetEntry.parameterLines(after)
          }
        }
        entries.append(ContactSheetEntry(original: original, transformed: transformed, caption: "#\(index) \(className)",
                                         name: (dataset.relativePath(at: index) as NSString).lastPathComponent, parameters: parameters))
      } catch {
        skipped.append(SkippedSample(index: index, path: dataset.sourcePath(at: index), reason: "\(error)"))
      }
    }
    return (entries, skipped)
  }
}
