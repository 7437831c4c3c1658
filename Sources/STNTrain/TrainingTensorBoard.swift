import STNTensor

/// Writes a run's TensorBoard events (placeholder until STNTensorBoard lands).
public final class TrainingTensorBoard {
  public init() {}
  func logStep(step: Int, loss: Double) throws {}
  func log(epoch: Int, metrics: EpochMetrics, model: TrainableClassifier, sample: LabeledBatch?) throws {}
}
