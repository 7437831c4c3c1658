// B5's inner loop without the data pipeline: time full training steps (forward, loss,
// backward, Adam) of a model on random data, so kernel work can be measured on its own.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
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
public func benchmarkTrainingStep(
  spec: ModelSpec = .benchmarkSTCNN, batch: Int = 64, threads: Int = 2, steps: Int = 20, inputShape: [Int] = [1, 42, 42],
  warmUp: Int = 2, seed: UInt64 = 0
) throws -> (msPerBatch: Double, cpuMsPerBatch: Double) {
  precondition(batch >= 1 && threads >= 1 && steps >= 1 && warmUp >= 0, "batch, threads and steps must be >= 1")
  let classes = 10
  let model = try Model(spec: spec, inputShape: inputShape, classCount: classes, seed: seed)
  let optimizer = try Adam(parameters: model.parameters, learningRate: 1e-3)
  var random = RandomStream(seed: seed, salt: 0xBE_AC4)
  var input = Tensor(shape: [batch] + inputShape)
  for i in 0..<input.count { input.data[i] = Float(random.normal()) }
  let targets = (0..<batch).map { _ in Int(random.next() % UInt64(classes)) }
  let graph = Graph(parameters: model.parameters, training: true, threads: threads)
  var wall: [Double] = []
  var cpuTotal: Double = 0
  for step in 0..<(warmUp + steps) {
    let wallStart = clockMilliseconds(CLOCK_MONOTONIC), cpuStart = clockMilliseconds(CLOCK_PROCESS_CPUTIME_ID)
    graph.reset()
    optimizer.zeroGradients()
    let loss = graph.softmaxCrossEntropy(model.forward(graph, graph.input(input)), targets: targets)
    graph.backward(loss)
    optimizer.step()
    if step >= warmUp {
      wall.append(clockMilliseconds(CLOCK_MONOTONIC) - wallStart)
      cpuTotal += clockMilliseconds(CLOCK_PROCESS_CPUTIME_ID) - cpuStart
    }
  }
  wall.sort()
  let median = wall.count % 2 == 1 ? wall[wall.count / 2] : (wall[wall.count / 2 - 1] + wall[wall.count / 2]) / 2
  return (median, cpuTotal / Double(steps))
}

/// Milliseconds on one POSIX clock.
private func clockMilliseconds(_ clock: clockid_t) -> Double {
  var time = timespec()
  clock_gettime(clock, &time)
  return Double(time.tv_sec) * 1e3 + Double(time.tv_nsec) * 1e-6
}
