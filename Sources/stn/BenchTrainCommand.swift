import ArgumentParser
import Foundation
import STNDistributed
import STNFiles
import STNNetwork
import STNTrain

/// `stn bench train` (B5): seconds per training epoch of the benchmark ST-CNN.
struct BenchTrain: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "train", abstract: "B5: seconds per epoch of the benchmark ST-CNN.",
    discussion: """
      Trains pipelines/fashion-mnist-rts-stn.yaml (MODEL.md: Adam, batch 64, RTS Fashion-MNIST, \
      60k images) for one epoch, no validation, test pass or TensorBoard, and prints
      {"bench":"B5","seconds_per_epoch":…}. --limit N trains on N images and extrapolates to
      60,000 ("extrapolated":true). --steps N instead times N training steps of the same \
      ST-CNN on one random batch of 64 (no pipeline, no data loading: the kernels alone) and prints \
      {"bench":"B5-steps","ms_per_step":…,"cpu_ms_per_step":…}.

      Under mpirun (or srun) the ranks train data-parallel as stn train does (batch 64 is the \
      global batch, split among them); rank 0 prints the figures with "ranks":N and \
      "allreduce_ms_per_step": the time in the per-step gradient allreduce, rank 0's (for an \
      epoch: the mean, including the wait for the slowest rank; with --steps: the median of the \
      allreduce alone, after a barrier whose median wait is "wait_ms_per_step"). images_per_s \
      counts the images of all ranks.
      """)

  @Option(help: "Pipeline of the benchmark model.") var pipeline: String = "pipelines/fashion-mnist-rts-stn.yaml"
  @Option(help: "Threads.") var threads: Int = 2
  @Option(help: "Train on N images and extrapolate to a 60,000-image epoch.") var limit: Int?
  @Option(help: "Epochs to time (the median is reported).") var epochs: Int = 1
  @Option(help: "Time N training steps on random data instead of an epoch of the pipeline.") var steps: Int?

  func validate() throws {
    guard threads >= 1, epochs >= 1 else { throw ValidationError("--threads and --epochs must be >= 1") }
    if let limit, limit < 1 { throw ValidationError("--limit must be >= 1") }
    if let steps, steps < 1 { throw ValidationError("--steps must be >= 1") }
  }

  func run() throws {
    let world = try World.communicator()
    try RankAware.run(world) { try bench(on: world) }
  }

  private func bench(on world: any Communicator) throws {
    if let steps {
      let step = try world.collectively {
        try benchmarkTrainingStep(spec: .benchmarkSTCNN, batch: 64, threads: threads, steps: steps, communicator: world)
      }
      guard world.isRoot else { return }
      var fields: [(String, JSONText)] = [
        ("bench", "B5-steps"), ("ms_per_step", .number(step.msPerBatch, digits: 2)), ("cpu_ms_per_step", .number(step.cpuMsPerBatch, digits: 2)),
        ("batch", 64), ("steps", .int(steps)), ("threads", .int(threads)), ("images_per_s", .number(64_000 / step.msPerBatch, digits: 1)),
        ("ranks", .int(world.size)),
      ]
      if world.isDistributed {
        fields += [("allreduce_ms_per_step", .number(step.allreduceMs, digits: 3)), ("wait_ms_per_step", .number(step.waitMs, digits: 3))]
      }
      print(JSONText.object(fields))
      return
    }
    let folder = NSTemporaryDirectory() + "stn-bench-train-\(getpid())"
    defer { try? FileManager.default.removeItem(atPath: folder) }
    var request = TrainRequest(pipeline: pipeline)
    request.epochs = epochs
    request.out = folder
    request.threads = threads
    request.validationFraction = 0
    request.tensorBoard = .off
    request.skipTest = true
    request.limit = limit
    let outcome = try TrainingSession.run(request, observer: nil, communicator: world) { _ in }
    guard world.isRoot else { return }
    let seconds = outcome.rows.map(\.seconds).sorted()
    guard !seconds.isEmpty else { throw ValidationError("no epoch finished") }
    let median = seconds[seconds.count / 2]
    let images = Double(limit.map { min($0, 60_000) } ?? 60_000)
    let perEpoch = median * 60_000 / images
    let rate = outcome.rows.map(\.imagesPerSecond).sorted()[outcome.rows.count / 2]
    var fields: [(String, JSONText)] = [
      ("bench", "B5"), ("seconds_per_epoch", .number(perEpoch, digits: 2)), ("images_per_s", .number(rate, digits: 1)),
      ("images", .int(Int(images))), ("epochs", .int(outcome.rows.count)), ("threads", .int(threads)),
      ("extrapolated", .bool(limit != nil)), ("ranks", .int(world.size)),
    ]
    if world.isDistributed { fields.append(("allreduce_ms_per_step", .number(outcome.communication.allreduceMillisecondsPerStep, digits: 3))) }
    print(JSONText.object(fields))
  }
}
