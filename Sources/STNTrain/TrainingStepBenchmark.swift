// B5's inner loop without the data pipeline: time full training steps (forward, loss,
// backward, Adam) of a model on random data, so kernel work can be measured on its own.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import STNDistributed
import STNNetwork
import STNTensor

// MARK: - Training-step benchmark

/// Times `steps` training steps (zero gradients, forward, softmax cross-entropy, backward, Adam
/// lr 1e-3) of `spec` on one random batch (N = `batch`, inputs [C,H,W] = `inputShape`, 10
/// classes) with `threads` kernel threads, after `warmUp` untimed steps. No file I/O.
///
/// Returns the MEDIAN wall time of one step and the mean process CPU time of one step, both in
/// milliseconds (CPU time counts every thread, so it is the figure to compare on a shared
/// machine). Runs under the process's `RuntimePolicy` (`stn` applies it at start-up).
///
/// On a `communicator` of several ranks, every rank times data-parallel steps as `stn train`
/// takes them: its part of the batch, the gradient allreduce, the update and the parameter
/// check, plus a barrier before the allreduce so that the allreduce is timed alone:
/// `allreduceMs` is its median time, `waitMs` the median time waiting in the barrier for the
/// slowest rank (both 0 on one process). Figures are this rank's.
public func benchmarkTrainingStep(
  spec: ModelSpec = .benchmarkSTCNN, batch: Int = 64, threads: Int = 2, steps: Int = 20, inputShape: [Int] = [1, 42, 42],
  warmUp: Int = 2, seed: UInt64 = 0, communicator: any Communicator = SingleProcessCommunicator()
) throws -> (msPerBatch: Double, cpuMsPerBatch: Double, allreduceMs: Double, waitMs: Double) {
  precondition(batch >= 1 && threads >= 1 && steps >= 1 && warmUp >= 0, "batch, threads and steps must be >= 1")
  let classes = 10
  let model = try Model(spec: spec, inputShape: inputShape, classCount: classes, seed: seed)
  let optimizer = try Adam(parameters: model.parameters, learningRate: 1e-3)
  var random = RandomStream(seed: seed, salt: 0xBE_AC4)
  var input = Tensor(shape: [batch] + inputShape)
  for i in 0..<input.count { input.data[i] = Float(random.normal()) }
  let targets = (0..<batch).map { _ in Int(random.next() % UInt64(classes)) }
  let graph = Graph(parameters: model.parameters, training: true, threads: threads)
  var takeStep: () throws -> Void = {
    graph.reset()
    optimizer.zeroGradients()
    let loss = graph.softmaxCrossEntropy(model.forward(graph, graph.input(input)), targets: targets)
    graph.backward(loss)
    optimizer.step()
  }
  var exchange: GradientExchange?
  if communicator.isDistributed {
    let classifier = NetworkClassifier(
      model: model, optimizer: optimizer, classNames: (0..<classes).map(String.init), preprocessing: nil, threads: threads, seed: seed)
    let part = communicator.batchPart.range(inBatchOf: batch)
    let size = inputShape.reduce(1, *)
    let images = Tensor(shape: [part.count] + inputShape, data: Array(input.data[(part.lowerBound * size)..<(part.upperBound * size)]))
    let labels = Array(targets[part])
    let parallel = GradientExchange(communicator: communicator, model: classifier)
    parallel.waitsApart = true
    takeStep = {
      var local = LocalStep()
      do {
        let result = try classifier.computeGradients(images: images, labels: labels, step: 0, firstSample: part.lowerBound)
        local.samples = labels.count
        local.loss = result.loss
      } catch {
        local.failure = error
      }
      _ = try parallel.reduce(local)
      classifier.applyGradients(learningRate: 1e-3)
      try parallel.checkIdentical()
    }
    exchange = parallel
    try classifier.synchronize(from: 0, on: communicator)
  }
  var wall: [Double] = [], allreduce: [Double] = [], wait: [Double] = []
  var cpuTotal: Double = 0
  for step in 0..<(warmUp + steps) {
    let before = exchange?.report ?? CommunicationReport()
    let wallStart = clockMilliseconds(CLOCK_MONOTONIC), cpuStart = clockMilliseconds(CLOCK_PROCESS_CPUTIME_ID)
    try takeStep()
    if step >= warmUp {
      wall.append(clockMilliseconds(CLOCK_MONOTONIC) - wallStart)
      cpuTotal += clockMilliseconds(CLOCK_PROCESS_CPUTIME_ID) - cpuStart
      let after = exchange?.report ?? before
      allreduce.append((after.allreduceSeconds - before.allreduceSeconds) * 1000)
      wait.append((after.barrierSeconds - before.barrierSeconds) * 1000)
    }
  }
  return (median(wall), cpuTotal / Double(steps), median(allreduce), median(wait))
}

/// The median of `values` (the mean of the middle two for an even count).
private func median(_ values: [Double]) -> Double {
  let sorted = values.sorted()
  return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

/// Milliseconds on one POSIX clock.
private func clockMilliseconds(_ clock: clockid_t) -> Double {
  var time = timespec()
  clock_gettime(clock, &time)
  return Double(time.tv_sec) * 1e3 + Double(time.tv_nsec) * 1e-6
}
