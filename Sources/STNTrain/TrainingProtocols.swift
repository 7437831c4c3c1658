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

// MARK: - Data side

/// One batch with integer labels. images (N,C,H,W).
public struct LabeledBatch: Sendable {
  public var images: Tensor
  public var labels: [Int]
  /// Sample indices in the source, for reproducibility checks.
  public var indices: [Int]

  public init(images: Tensor, labels: [Int], indices: [Int]) {
    self.images = images
    self.labels = labels
    self.indices = indices
  }
}

/// A labelled image source seen through a pipeline.
public protocol BatchProvider: AnyObject {
  /// Number of samples in the source.
  var sampleCount: Int { get }
  /// Class names, index = label.
  var classNames: [String] { get }
  /// Batches over `indices` (a subset of `0..<sampleCount`). Training: shuffled, random stages
  /// drawn for `epoch`, last partial batch as the pipeline says. Evaluation (`training` false):
  /// in order, every sample, random stages drawn once from a fixed key independent of epoch.
  func batches(indices: [Int], epoch: Int, training: Bool, batchSize: Int) throws -> AnyIterator<Result<LabeledBatch, Error>>
}
