import Foundation
import STNFiles
import STNPipeline
import STNTensor
@testable import STNTrain

/// Softmax regression with plain SGD: the smallest `TrainableClassifier`, for testing the loop.
final class ToyClassifier: TrainableClassifier {
  var weight: [Float]  // (K, D)
  var bias: [Float]  // (K,)
  let inputs: Int, classes: Int
  var stepsTaken = 0

  init(inputs: Int, classes: Int, seed: UInt64) {
    self.inputs = inputs
    self.classes = classes
    var random = RandomStream(seed: seed)
    weight = (0..<(inputs * classes)).map { _ in (random.nextUnitFloat() - 0.5) * 0.1 }
    bias = [Float](repeating: 0, count: classes)
  }

  func logits(images: Tensor) throws -> Tensor {
    let n = images.shape[0]
    var out = Tensor(shape: [n, classes])
    for i in 0..<n {
      for k in 0..<classes {
        var sum = bias[k]
        for d in 0..<inputs { sum += weight[k * inputs + d] * images.data[i * inputs + d] }
        out.data[i * classes + k] = sum
      }
    }
    return out
  }

  func trainStep(images: Tensor, labels: [Int], learningRate: Double, step: Int) throws -> StepResult {
    let out = try logits(images: images)
    let n = labels.count
    let loss = Trainer.crossEntropySum(logits: out, labels: labels) / Double(n)
    var gradW = [Float](repeating: 0, count: weight.count), gradB = [Float](repeating: 0, count: classes)
    for i in 0..<n {
      let row = Array(out.data[(i * classes)..<((i + 1) * classes)])
      let peak = row.max() ?? 0
      let exps = row.map { exp($0 - peak) }
      let total = exps.reduce(0, +)
      for k in 0..<classes {
        let g = (exps[k] / total - (k == labels[i] ? 1 : 0)) / Float(n)
        gradB[k] += g
        for d in 0..<inputs { gradW[k * inputs + d] += g * images.data[i * inputs + d] }
      }
    }
    let rate = Float(learningRate)
    for j in 0..<weight.count { weight[j] -= rate * gradW[j] }
    for k in 0..<classes { bias[k] -= rate * gradB[k] }
    stepsTaken = step + 1
    return StepResult(loss: loss, logits: out)
  }

  func transformerView(images: Tensor) throws -> TransformerView? { nil }

  func saveCheckpoint(to path: String, metadata: [String: String]) throws {
    let file = SafeTensorsFile(
      tensors: [
        "weight": SafeTensorsEntry(Tensor(shape: [classes, inputs], data: weight)),
        "bias": SafeTensorsEntry(Tensor(shape: [classes], data: bias)),
      ], metadata: metadata)
    try file.write(to: path)
  }

  func loadCheckpoint(from path: String) throws -> [String: String] {
    let file = try SafeTensorsFile(contentsOf: path)
    weight = try file.tensor("weight", path: path).data
    bias = try file.tensor("bias", path: path).data
    return file.metadata
  }

  var summary: String { "ToyClassifier(\(inputs) -> \(classes))" }

  var parametersAreFinite: Bool { weight.allSatisfy(\.isFinite) && bias.allSatisfy(\.isFinite) }
}

/// A `ToyClassifier` that goes wrong the way a diverging network does, without a non-finite
/// training loss: from training step `failingStep` on, its evaluation logits are NaN (finite
/// weights near 1e29 overflow), or one of its weights is infinite (the epoch's last step blew
/// up after its loss was measured).
final class FailingToyClassifier: TrainableClassifier {
  enum Failure { case evaluationLogits, infiniteWeight }
  let base: ToyClassifier
  let failingStep: Int
  let failure: Failure

  init(failingStep: Int, failure: Failure) {
    base = ToyClassifier(inputs: 4, classes: 3, seed: 1)
    self.failingStep = failingStep
    self.failure = failure
  }

  func trainStep(images: Tensor, labels: [Int], learningRate: Double, step: Int) throws -> StepResult {
    let result = try base.trainStep(images: images, labels: labels, learningRate: learningRate, step: step)
    if failure == .infiniteWeight && base.stepsTaken >= failingStep { base.weight[0] = .infinity }
    return result
  }

  func logits(images: Tensor) throws -> Tensor {
    let logits = try base.logits(images: images)
    guard failure == .evaluationLogits && base.stepsTaken >= failingStep else { return logits }
    return Tensor(shape: logits.shape, repeating: .nan)
  }

  func transformerView(images: Tensor) throws -> TransformerView? { nil }
  func saveCheckpoint(to path: String, metadata: [String: String]) throws { try base.saveCheckpoint(to: path, metadata: metadata) }
  func loadCheckpoint(from path: String) throws -> [String: String] { try base.loadCheckpoint(from: path) }
  var summary: String { "FailingToyClassifier" }
  var parametersAreFinite: Bool { base.parametersAreFinite }
}

/// In-memory labelled samples; training batches are shuffled per epoch and get fresh noise per
/// (epoch, index), like the pipeline's per-epoch augmentation; evaluation batches are fixed.
final class ToyProvider: BatchProvider {
  let samples: [[Float]]
  let labels: [Int]
  let classNames: [String]
  let seed: UInt64

  /// Two Gaussian blobs per class in `dimension` dimensions, seeded.
  init(count: Int, classes: Int, dimension: Int = 4, seed: UInt64) {
    var random = RandomStream(seed: seed, salt: 99)
    var samples: [[Float]] = [], labels: [Int] = []
    for i in 0..<count {
      let label = i % classes
      samples.append((0..<dimension).map { d in Float(d % classes == label ? 2 : 0) + Float(random.normal()) * 0.3 })
      labels.append(label)
    }
    self.samples = samples
    self.labels = labels
    self.classNames = (0..<classes).map { "class\($0)" }
    self.seed = seed
  }

  var sampleCount: Int { samples.count }

  func batches(indices: [Int], epoch: Int, training: Bool, batchSize: Int) throws -> AnyIterator<Result<Batch, Error>> {
    var order = indices
    if training {
      let permutation = DataSplit.permutation(count: order.count, seed: seed &+ UInt64(epoch))
      order = permutation.map { indices[$0] }
    }
    var position = 0
    let dimension = samples[0].count
    return AnyIterator {
      guard position < order.count else { return nil }
      let chunk = Array(order[position..<min(order.count, position + batchSize)])
      position += chunk.count
      var data: [Float] = []
      for index in chunk {
        var random = RandomStream(seed: self.seed, epoch: UInt64(training ? epoch : 1_000_000), index: UInt64(index))
        data += self.samples[index].map { $0 + (random.nextUnitFloat() - 0.5) * 0.1 }
      }
      return .success(Batch(
        images: Tensor(shape: [chunk.count, 1, 1, dimension], data: data),
        labels: chunk.map { self.labels[$0] }, indices: chunk))
    }
  }
}
