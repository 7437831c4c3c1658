import Foundation
import STNImageIO
import STNPipeline
import STNTensor

/// The real `BatchProvider`: a pipeline's streaming `BatchLoader` over a dataset.
///
/// Training batches of epoch *e* (1-based) draw their random stages from (seed, e, sample), so
/// every epoch sees fresh distortions, reproducibly. Evaluation batches use the fixed key
/// (seed, epoch 0), unshuffled: a validation or test set is distorted once, identically in
/// every epoch, in `stn eval`, and across runs with the same pipeline seed.
public final class PipelineBatches: BatchProvider {
  /// The epoch number evaluation draws its (fixed) random stages from; training epochs start at 1.
  public static let evaluationEpoch = 0

  public let config: PipelineConfig
  public let dataset: any ImageDataset
  public let threads: Int
  public let predictor: ThetaPredictor?
  /// Class names reported (the dataset's, or the checkpoint's when relabelled).
  public let classNames: [String]
  private let labelMap: [Int]?
  /// Samples skipped (unreadable) so far, across calls.
  public private(set) var skipped: [SkippedSample] = []

  /// `labelMap[datasetLabel]` gives the label in `classNames` (nil: the dataset's own).
  public init(config: PipelineConfig, dataset: any ImageDataset, threads: Int, predictor: ThetaPredictor? = nil,
              classNames: [String]? = nil, labelMap: [Int]? = nil) {
    self.config = config
    self.dataset = dataset
    self.threads = max(1, threads)
    self.predictor = predictor
    self.classNames = classNames ?? dataset.classes
    self.labelMap = labelMap
  }

  public var sampleCount: Int { dataset.count }

  public func batches(indices: [Int], epoch: Int, training: Bool, batchSize: Int) throws -> AnyIterator<Result<Batch, Error>> {
    try batches(indices: indices, epoch: epoch, training: training, batchSize: batchSize, part: nil)
  }

  /// This rank's part of every batch; only its samples are decoded.
  public func batches(indices: [Int], epoch: Int, training: Bool, batchSize: Int, part: BatchPart) throws
    -> AnyIterator<Result<Batch, Error>>
  {
    try batches(indices: indices, epoch: epoch, training: training, batchSize: batchSize, part: Optional(part))
  }

  private func batches(indices: [Int], epoch: Int, training: Bool, batchSize: Int, part: BatchPart?) throws
    -> AnyIterator<Result<Batch, Error>>
  {
    var settings = config
    settings.batching.size = batchSize
    if !training {
      settings.batching.shuffle = false
      settings.batching.dropLast = false
    }
    let whole = indices.count == dataset.count && indices.elementsEqual(0..<dataset.count)
    let source: any ImageDataset = whole && labelMap == nil
      ? dataset : DatasetSubset(base: dataset, indices: indices, labelMap: labelMap, classes: classNames)
    let loader = try BatchLoader(
      config: settings, dataset: source, epoch: training ? epoch : PipelineBatches.evaluationEpoch, threads: threads,
      part: part, predictor: predictor)
    var finished = false
    return AnyIterator { [weak self] in
      guard !finished else { return nil }
      guard let batch = loader.next() else {
        finished = true
        self?.skipped += loader.skipped
        return nil
      }
      return .success(Batch(images: batch.images, labels: batch.labels, indices: batch.indices.map { indices[$0] }))
    }
  }
}
