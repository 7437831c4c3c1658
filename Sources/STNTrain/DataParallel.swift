import Foundation
import STNDistributed
import STNPipeline
import STNTensor

// Data-parallel training (mpirun -np N stn train): what the ranks exchange per step and per
// epoch. The trainer decides when; this file says how. See docs/distributed.md.
//
// Every rank takes its part of the same global batch (`BatchPart`), computes the gradient of
// the mean loss over its part, and the ranks sum, in ONE allreduce, the gradients weighted by
// their part's size together with the step's figures; every rank then divides by the global
// sample count, so it holds the gradient of the global batch's mean loss, and takes the same
// optimizer step.

// MARK: - Agreement

extension Communicator {
  /// `collectively` on several ranks (a failure on one reaches all, as a `CollectiveFailure`);
  /// on one process simply `body`, its error as it is.
  func agreeing<Value>(_ body: () throws -> Value) throws -> Value {
    isDistributed ? try collectively(body) : try body()
  }

  /// This rank's part of every global batch.
  var batchPart: BatchPart { BatchPart(rank: rank, count: size) }
}

// MARK: - Checksum

/// A checksum of the bits of `values`: the wrapping sum of bits(v[i]) · (2i + 1). A difference
/// in any one element always changes it (an odd factor is invertible modulo 2^64); ranks whose
/// parameters agree bit for bit have equal checksums.
func parameterBitsChecksum(_ values: [Float]) -> UInt64 {
  values.withUnsafeBufferPointer { buffer in
    var sum: UInt64 = 0
    for i in 0..<buffer.count { sum &+= UInt64(buffer[i].bitPattern) &* UInt64(2 &* i &+ 1) }
    return sum
  }
}

// MARK: - One step

/// What a rank did with its part of one global batch.
struct LocalStep {
  /// Samples in this rank's part (after unreadable ones were skipped).
  var samples = 0
  /// Mean loss over the part (0 when empty).
  var loss = 0.0
  /// Correct predictions in the part.
  var correct = 0
  /// Why this rank could not do its part (its data, its disk); every rank then stops.
  var failure: (any Error)?
}

/// The step's figures summed over the ranks.
struct GlobalStep {
  var samples: Int
  /// Sum over every sample of the global batch of its loss.
  var lossSum: Double
  var correct: Int
  /// Some rank's loss was NaN or infinite (no rank updates; the run stops).
  var nonFinite: Bool
}

/// Communication time and events of a data-parallel run (all zero on one process).
public struct CommunicationReport: Sendable {
  /// Gradient allreduces made (one per step).
  public var allreduces = 0
  /// Wall time spent in them, seconds (this rank's): the transfer, plus the wait for the
  /// slowest rank to arrive unless `GradientExchange.waitsApart` moves that wait to a barrier.
  public var allreduceSeconds = 0.0
  /// Wall time in the barrier before each allreduce (with `waitsApart` only), seconds.
  public var barrierSeconds = 0.0
  /// Steps after which the ranks' parameters differed and rank 0's were sent to all (expected
  /// 0: MPI's allreduce gives every rank the same sums in practice, but does not promise it).
  public var resynchronizations = 0

  /// Mean milliseconds per allreduce (0 when none).
  public var allreduceMillisecondsPerStep: Double { allreduces > 0 ? allreduceSeconds * 1000 / Double(allreduces) : 0 }
}

/// The per-step exchange of a data-parallel run: one allreduce of
/// `[gradient · n_r | n_r, loss_r · n_r, correct_r, nonFinite_r | failed_0 ... failed_{N-1}]`,
/// then the consistency check of the updated parameters.
final class GradientExchange {
  let communicator: any Communicator
  let model: DataParallelClassifier
  private(set) var report = CommunicationReport()
  /// A barrier before each allreduce, timed apart, so `allreduceSeconds` is the transfer alone
  /// (for benchmarks: it costs one more collective per step).
  var waitsApart = false
  /// The allreduce buffer: the gradients, 4 figures, one failure flag per rank.
  private var buffer: [Float] = []

  init(communicator: any Communicator, model: DataParallelClassifier) {
    self.communicator = communicator
    self.model = model
  }

  /// Sums the ranks' gradients weighted by their part's size and divides by the global sample
  /// count, leaving in `model`'s gradient buffer the gradient of the global batch's mean loss
  /// (only summation order differs from one process computing the whole batch). Throws a
  /// `CollectiveFailure` on every rank when any rank's `local.failure` is set.
  ///
  /// NOTE: the counts travel as floats: exact below 2^24 samples per batch; the loss sum is
  /// rounded to float precision (it is only reported). An empty part has loss 0 (not NaN).
  func reduce(_ local: LocalStep) throws -> GlobalStep {
    let size = communicator.size
    let weight = Float(local.samples)
    let count = model.withGradients { gradients -> Int in
      let count = gradients.count
      if buffer.count != count + 4 + size { buffer = [Float](repeating: 0, count: count + 4 + size) }
      buffer.withUnsafeMutableBufferPointer { staged in
        // A failed rank contributes nothing but its flag.
        let scale: Float = local.failure == nil ? weight : 0
        for i in 0..<count { staged[i] = gradients[i] * scale }
      }
      return count
    }
    let finite = local.loss.isFinite
    buffer[count] = local.failure == nil ? weight : 0
    // A NaN or infinite loss is summed as it is, so the global loss is what one process reports.
    buffer[count + 1] = local.failure == nil ? Float(local.loss * Double(local.samples)) : 0
    buffer[count + 2] = local.failure == nil ? Float(local.correct) : 0
    buffer[count + 3] = local.failure == nil && !finite ? 1 : 0
    for rank in 0..<size { buffer[count + 4 + rank] = rank == communicator.rank && local.failure != nil ? 1 : 0 }

    if waitsApart {
      let arrived = communicator.seconds
      try communicator.barrier()
      report.barrierSeconds += communicator.seconds - arrived
    }
    let started = communicator.seconds
    try communicator.allreduce(&buffer, .sum)
    report.allreduceSeconds += communicator.seconds - started
    report.allreduces += 1

    let failed = (0..<size).filter { buffer[count + 4 + $0] != 0 }
    guard failed.isEmpty else { throw CollectiveFailure(failedRanks: failed, localError: local.failure, size: size) }
    let samples = Int(buffer[count])
    if samples > 0 {
      let inverse = 1 / Float(samples)
      model.withGradients { gradients in
        buffer.withUnsafeBufferPointer { summed in
          for i in 0..<count { gradients[i] = summed[i] * inverse }
        }
      }
    }
    return GlobalStep(samples: samples, lossSum: Double(buffer[count + 1]), correct: Int(buffer[count + 2]), nonFinite: buffer[count + 3] != 0)
  }

  /// Checks, after an update, that every rank holds the same parameters (an allreduce of the
  /// checksum with max and of its complement with max, i.e. min); when they differ, every rank
  /// takes rank 0's parameters and optimizer state. Returns false when it had to.
  @discardableResult
  func checkIdentical() throws -> Bool {
    let checksum = Int64(bitPattern: model.parameterChecksum)
    var extremes = [checksum, ~checksum]
    try communicator.allreduce(&extremes, .max)
    guard extremes[0] != ~extremes[1] else { return true }
    try model.synchronize(from: 0, on: communicator)
    report.resynchronizations += 1
    return false
  }
}

// MARK: - Evaluation

extension ConfusionMatrix {
  /// Sums the counts over all ranks, in place (every rank gets the sums; exact, integers).
  mutating func sum(on communicator: any Communicator) throws {
    guard communicator.isDistributed else { return }
    let k = classes.count
    var flat = counts.flatMap { $0.map(Int64.init) }
    try communicator.allreduce(&flat, .sum)
    counts = (0..<k).map { row in (0..<k).map { Int(flat[row * k + $0]) } }
  }
}
