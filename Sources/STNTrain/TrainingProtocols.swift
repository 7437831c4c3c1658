import STNDistributed
import STNPipeline
import STNTensor

// The trainer is written against these two small protocols so the loop (epochs, validation,
// checkpoints, resume, NaN guard, k-fold) does not depend on how the network or the data
// loader are built. `NetworkClassifier` and `PipelineBatches` adapt the real modules.

// MARK: - Model side

/// One training step's outcome.
public struct StepResult: Sendable {
  /// Mean cross-entropy over the batch.
  public var loss: Double
  /// Logits (N,K) computed in training mode (before the optimizer step).
  public var logits: Tensor

  public init(loss: Double, logits: Tensor) {
    self.loss = loss
    self.logits = logits
  }
}

/// What the spatial transformer made of a batch, for previews and TensorBoard.
public struct TransformerView: Sendable {
  /// The transformer's parameters (its `.theta` tap): theta (N,2,3) for affine, the homography
  /// (N,3,3) for projective, the control points' source positions (N,K,2) for tps.
  public var theta: Tensor
  /// The sampler's output (N,C,H,W) for the batch's images.
  public var output: Tensor

  public init(theta: Tensor, output: Tensor) {
    self.theta = theta
    self.output = output
  }
}

/// A classifier the trainer can fit: a network with its optimizer and its checkpoint format.
public protocol TrainableClassifier: AnyObject {
  /// Forward in training mode, softmax cross-entropy against `labels`, backward, and one
  /// optimizer step at `learningRate`. `step` (0-based, over the whole run) keys any
  /// randomness (dropout) so a resumed run repeats it. images (N,C,H,W), labels N.
  func trainStep(images: Tensor, labels: [Int], learningRate: Double, step: Int) throws -> StepResult
  /// Logits (N,K) in evaluation mode.
  func logits(images: Tensor) throws -> Tensor
  /// theta and sampler output of the first spatial transformer, nil when the model has none.
  func transformerView(images: Tensor) throws -> TransformerView?
  /// Writes model + optimizer state atomically with `metadata` added to the file's own.
  func saveCheckpoint(to path: String, metadata: [String: String]) throws
  /// Restores model + optimizer state; returns the file's metadata.
  func loadCheckpoint(from path: String) throws -> [String: String]
  /// False when any parameter is NaN or infinite (the trainer then stops before checkpointing).
  var parametersAreFinite: Bool { get }
  /// Printable module summary (layers, output shapes, parameter counts).
  var summary: String { get }
}

/// What data-parallel training needs of a classifier beyond `TrainableClassifier`: the step cut
/// at the allreduce (gradients first, the update after), the flat gradient buffer, and the
/// state every rank must hold identically.
public protocol DataParallelClassifier: TrainableClassifier {
  /// Forward in training mode, softmax cross-entropy and backward, without an update: leaves
  /// d(mean loss over this batch)/d(parameters) in the gradient buffer (zeros for an empty
  /// batch, whose loss is 0). `firstSample` is the position of this batch's first sample in the
  /// whole batch it is part of (it keys the dropout masks). images (N,C,H,W), labels N.
  func computeGradients(images: Tensor, labels: [Int], step: Int, firstSample: Int) throws -> StepResult
  /// Lends the flat gradient buffer (one float per parameter), e.g. to an allreduce.
  func withGradients<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R
  /// One optimizer step at `learningRate` from the gradient buffer.
  func applyGradients(learningRate: Double)
  /// A checksum of the bits of every parameter: equal on ranks whose parameters are identical.
  var parameterChecksum: UInt64 { get }
  /// Replaces this rank's parameters, optimizer state and batch-norm statistics by `root`'s.
  func synchronize(from root: Int, on communicator: any Communicator) throws
  /// Replaces every batch-norm running mean and variance by its mean over the ranks (each rank
  /// updates its own from its own slices during an epoch).
  func averageRunningStatistics(on communicator: any Communicator) throws
}

// MARK: - Data side

/// A labelled image source seen through a pipeline; its batches are the pipeline's own `Batch`
/// (images (N,C,H,W), labels, and the samples' indices in the source).
public protocol BatchProvider: AnyObject {
  /// Number of samples in the source.
  var sampleCount: Int { get }
  /// Class names, index = label.
  var classNames: [String] { get }
  /// Batches over `indices` (a subset of `0..<sampleCount`). Training: shuffled, random stages
  /// drawn for `epoch`, last partial batch as the pipeline says. Evaluation (`training` false):
  /// in order, every sample, random stages drawn once from a fixed key independent of epoch.
  func batches(indices: [Int], epoch: Int, training: Bool, batchSize: Int) throws -> AnyIterator<Result<Batch, Error>>
  /// Only `part` of each of those batches (data-parallel training: this rank's slice), one
  /// batch per batch of the whole, empty ones included, so every rank gets as many. The samples
  /// are drawn exactly as in the whole batches.
  func batches(indices: [Int], epoch: Int, training: Bool, batchSize: Int, part: BatchPart) throws
    -> AnyIterator<Result<Batch, Error>>
}

extension BatchProvider {
  /// The default part: whole batches, cut (every sample is loaded; `PipelineBatches` loads only
  /// its part). A batch whose samples were all unreadable is missing from the whole, so parts
  /// match only where every sample can be read.
  public func batches(indices: [Int], epoch: Int, training: Bool, batchSize: Int, part: BatchPart) throws
    -> AnyIterator<Result<Batch, Error>>
  {
    let whole = try batches(indices: indices, epoch: epoch, training: training, batchSize: batchSize)
    return AnyIterator {
      whole.next().map { next in
        next.map { batch in
          let taken = part.range(inBatchOf: batch.labels.count)
          let size = batch.images.count / max(batch.labels.count, 1)
          let shape = [taken.count] + batch.images.shape.dropFirst()
          return Batch(
            images: Tensor(shape: shape, data: Array(batch.images.data[(taken.lowerBound * size)..<(taken.upperBound * size)])),
            labels: Array(batch.labels[taken]), indices: Array(batch.indices[taken]))
        }
      }
    }
  }
}
