import Foundation
import STNFiles
import STNImageIO
import STNTensor
import STNWarp

// MARK: - Public types

/// `--shard i/N`: this process takes every N-th sample of the epoch's order, starting at i.
public struct Shard: Equatable, Sendable, CustomStringConvertible {
  public var index: Int
  public var count: Int

  public init(index: Int, count: Int) throws {
    guard count >= 1, index >= 0, index < count else {
      throw PipelineError(file: "--shard", line: 0, reason: "shard \(index)/\(count) is out of range: need 0 <= i < N")
    }
    self.index = index
    self.count = count
  }

  /// Parses "i/N".
  public init(parsing text: String) throws {
    let parts = text.split(separator: "/", omittingEmptySubsequences: false)
    guard parts.count == 2, let index = Int(parts[0]), let count = Int(parts[1]) else {
      throw PipelineError(file: "--shard", line: 0, reason: "expected i/N (e.g. 0/4), got '\(text)'")
    }
    try self.init(index: index, count: count)
  }

  public var description: String { "\(index)/\(count)" }
}

/// Which part of every batch this process loads, in data-parallel training: rank r of `count`
/// takes the r-th of `count` contiguous, near-equal parts of each batch (sizes differ by at most
/// one; a part may be empty when the batch is smaller than `count`). The batches themselves are
/// those of one process: same order, same sizes, same random draws per sample.
public struct BatchPart: Equatable, Sendable, CustomStringConvertible {
  public var rank: Int
  public var count: Int

  public init(rank: Int, count: Int) {
    precondition(count >= 1 && (0..<count).contains(rank), "part \(rank) of \(count) is out of range")
    self.rank = rank
    self.count = count
  }

  /// Positions of this part in a batch of `size` samples: the rank-th of `count` contiguous
  /// ranges, the first `size % count` of them one longer.
  public func range(inBatchOf size: Int) -> Range<Int> {
    let base = size / count, extra = size % count
    let start = rank * base + Swift.min(rank, extra)
    return start..<(start + base + (rank < extra ? 1 : 0))
  }

  public var description: String { "part \(rank) of \(count)" }
}

/// One batch: images (N,C,H,W) float32, their labels and dataset indices (N may be smaller than
/// the configured batch size for the last batch, or when files in the batch were skipped).
public struct Batch: Sendable {
  /// images (N,C,H,W)
  public var images: Tensor
  public var labels: [Int]
  public var indices: [Int]

  public init(images: Tensor, labels: [Int], indices: [Int]) {
    self.images = images
    self.labels = labels
    self.indices = indices
  }

  /// An empty batch whose storage `BatchLoader.next(into:)` fills and reuses.
  public init() {
    self.init(images: Tensor(shape: [0, 0, 0, 0]), labels: [], indices: [])
  }
}

/// A batch lent by `BatchLoader.withNextBatch`: images (N,C,H,W) in the loader's own buffer,
/// valid only inside the closure.
public struct BatchView {
  /// images (N,C,H,W), `shape.reduce(1, *)` floats.
  public let images: UnsafeBufferPointer<Float>
  public let shape: [Int]
  public let labels: [Int]
  public let indices: [Int]
}

/// A dataset entry that was skipped, and why.
public struct SkippedSample: Error, Equatable, Sendable, CustomStringConvertible {
  public var index: Int
  public var path: String
  public var reason: String

  public var description: String { reason.hasPrefix(path) ? reason : "\(path): \(reason)" }
}

// MARK: - Output shape

extension SampleProcessor {
  /// The one output-shape probe: (C,H,W) of the output for the first readable sample among
  /// the first 64 `candidates` (the size every sample of a batch must have). Throws naming the
  /// first failure when none can be read.
  public func sampleShape(dataset: any ImageDataset, candidates: [Int]) throws -> [Int] {
    var failures: [SkippedSample] = []
    for index in candidates.prefix(64) {
      do {
        let image = try dataset.loadImage(at: index, options: config.decodeOptions)
        let size = outputSize(sourceWidth: image.width, sourceHeight: image.height)
        return [config.channels, size.height, size.width]
      } catch {
        failures.append(SkippedSample(index: index, path: dataset.sourcePath(at: index), reason: "\(error)"))
      }
    }
    guard let first = failures.first else { throw PipelineError(file: config.path, line: 0, reason: "the dataset has no samples") }
    throw PipelineError(file: config.path, line: 0, reason: "none of the first \(failures.count) samples could be read to learn the output size; first: \(first)")
  }
}

// MARK: - Loader

/// Streams batches of one epoch: worker threads decode and transform samples ahead of the
/// consumer into a fixed ring of preallocated batch buffers (memory stays flat for any dataset
/// size), the consumer receives them in order.
///
/// Reproducible: the order is a permutation drawn from (seed, epoch); the random parameters of
/// a sample depend on (seed, epoch, dataset index) only; so batches are byte-identical for any
/// thread count. Unreadable samples are skipped and listed in `skipped`.
///
/// With a `BatchPart` the loader decodes only its part of every batch, and delivers one
/// (possibly empty) batch per batch of the epoch, so the ranks of a data-parallel run stay in step.
public final class BatchLoader: Sequence, IteratorProtocol {
  public let config: PipelineConfig
  public let epoch: Int
  /// Dataset indices this loader delivers, in order (the epoch's order after shuffle and shard;
  /// with a part, only its part of each batch).
  public let order: [Int]
  /// Number of batches this epoch will deliver.
  public let batchCount: Int
  /// The part of each batch loaded (nil: whole batches).
  public let part: BatchPart?
  /// Output sample shape (C,H,W).
  public let sampleShape: [Int]
  private let state: LoaderState

  /// Starts `threads` workers for one epoch of `dataset`. `predictor` is required when the
  /// pipeline has a `learned_affine` stage. `prefetchBatches` bounds memory: that many batches
  /// may be in flight beyond the one the consumer holds.
  public init(config: PipelineConfig, dataset: any ImageDataset, epoch: Int, threads: Int = 2, shard: Shard? = nil,
              part: BatchPart? = nil, predictor: ThetaPredictor? = nil, prefetchBatches: Int = 2) throws {
    self.config = config
    self.epoch = epoch
    self.part = part
    let processor = try SampleProcessor(config: config)
    try config.requirePredictor(predictor, what: "this command")
    let epochOrder = BatchLoader.order(count: dataset.count, seed: config.seed, epoch: epoch, shuffle: config.batching.shuffle, shard: shard)
    let batchSize = config.batching.size
    batchCount = config.batching.dropLast ? epochOrder.count / batchSize : (epochOrder.count + batchSize - 1) / batchSize
    if epochOrder.isEmpty { throw PipelineError(file: config.path, line: 0, reason: "the dataset (or this shard) has no samples") }
    let (order, batchStarts) = BatchLoader.layout(epochOrder, batchSize: batchSize, batchCount: batchCount, part: part)
    self.order = order
    // NOTE: a part may hold no sample at all (fewer samples than ranks), or none readable
    // among its first; the sample size is then learned from the epoch's other samples, so its
    // (empty) batches still have the right shape.
    let candidates = part == nil ? order : Array((order + epochOrder).prefix(64))
    try LearnedStep.checkInput(processor: processor, predictor: predictor, dataset: dataset, candidates: candidates)
    let shape = try processor.sampleShape(dataset: dataset, candidates: candidates)
    sampleShape = shape
    // A ring slot holds a batch (with a part, the largest part of one).
    let slotSize = part == nil ? batchSize : zip(batchStarts, batchStarts.dropFirst()).map { $1 - $0 }.max() ?? 0
    // The ring holds (prefetch + 1) batches of floats: refuse sizes that cannot be allocated.
    let ringBytes = Double(Swift.max(1, prefetchBatches) + 1) * Double(slotSize) * Double(shape.reduce(1, *)) * 4
    guard ringBytes <= 8 * 1024 * 1024 * 1024 else {
      throw PipelineError(file: config.path, line: 0, reason: String(format: "batches of %d x %@ floats need %.1f GB of buffers; lower batch.size or the output size", slotSize, shape.map(String.init).joined(separator: "x"), ringBytes / 1e9))
    }
    state = LoaderState(processor: processor, dataset: dataset, epoch: epoch, order: order, batchStarts: batchStarts,
                        slotSize: Swift.max(1, slotSize), sampleShape: shape, ring: Swift.max(1, prefetchBatches) + 1,
                        predictor: predictor, threads: Swift.max(1, threads))
    state.start(threads: Swift.max(1, threads))
  }

  deinit {
    state.stop()
    // Hand the batch buffers back now (the worker threads may release the state a little
    // later), so the next epoch's loader reuses them instead of allocating a second set.
    state.releaseBuffers()
  }

  /// The delivered order and its batch boundaries: batches of `batchSize` from `epochOrder`
  /// (the first `batchCount`), or, with a part, only that part of each. `starts` has
  /// `batchCount + 1` entries: batch b is `order[starts[b]..<starts[b + 1]]`.
  static func layout(_ epochOrder: [Int], batchSize: Int, batchCount: Int, part: BatchPart?) -> (order: [Int], starts: [Int]) {
    var order: [Int] = [], starts = [0]
    for batch in 0..<batchCount {
      let first = batch * batchSize
      let size = Swift.min(batchSize, epochOrder.count - first)
      let taken = part?.range(inBatchOf: size) ?? 0..<size
      order += epochOrder[(first + taken.lowerBound)..<(first + taken.upperBound)]
      starts.append(order.count)
    }
    return (order, starts)
  }

  /// The epoch's order: all indices, permuted from (seed, epoch) when shuffling, then every
  /// `shard.count`-th from `shard.index` (like PyTorch's DistributedSampler, without padding).
  public static func order(count: Int, seed: UInt64, epoch: Int, shuffle: Bool, shard: Shard?) -> [Int] {
    var order = Array(0..<count)
    if shuffle && count > 1 {
      var random = RandomStream(seed: seed, epoch: UInt64(epoch), index: UInt64.max, salt: 0x5348_5546)
      for i in stride(from: count - 1, to: 0, by: -1) {
        let j = Int(random.next() % UInt64(i + 1))
        order.swapAt(i, j)
      }
    }
    if let shard, shard.count > 1 {
      order = stride(from: shard.index, to: order.count, by: shard.count).map { order[$0] }
    }
    return order
  }

  /// Samples skipped so far (unreadable or wrong-sized), sorted by dataset index.
  public var skipped: [SkippedSample] { state.skippedSnapshot() }

  /// Lends the next batch straight from the loader's buffer (no copy) to `body`; the buffer is
  /// reused once `body` returns, so `body` must not keep the pointer. Batches whose samples were
  /// all skipped are passed over (with a part, every batch is delivered, empty or not, so the
  /// ranks stay in step). Nil at the end of the epoch.
  public func withNextBatch<R>(_ body: (BatchView) throws -> R) rethrows -> R? {
    while true {
      var result: R?
      let delivered: Bool? = try state.borrow { view in
        if view.labels.isEmpty && part == nil { return false }
        result = try body(view)
        return true
      }
      guard let delivered else { return nil }
      if delivered { return result }
    }
  }

  /// The next batch in a freshly allocated tensor, or nil at the end of the epoch.
  public func next() -> Batch? {
    var batch = Batch()
    return next(into: &batch) ? batch : nil
  }

  /// Fills `batch`, reusing its storage when its capacity allows; false at the end of the epoch.
  /// A batch whose samples were all skipped is passed over (not with a part: see `withNextBatch`).
  public func next(into batch: inout Batch) -> Bool {
    let delivered: Bool? = withNextBatch { view in
      if batch.images.shape != view.shape {
        batch.images.shape = view.shape
        if batch.images.data.count != view.images.count {
          batch.images.data = [Float](repeating: 0, count: view.images.count)
        }
      }
      batch.images.data.withUnsafeMutableBufferPointer { destination in
        _ = destination.update(fromContentsOf: view.images)
      }
      batch.labels = view.labels
      batch.indices = view.indices
      return true
    }
    return delivered ?? false
  }
}

// MARK: - Shared state

/// Everything the workers and the consumer share, guarded by one condition variable.
final class LoaderState: @unchecked Sendable {
  let processor: SampleProcessor
  let dataset: any ImageDataset
  let epoch: Int
  let order: [Int]
  /// Batch b is order[batchStarts[b]..<batchStarts[b + 1]].
  let batchStarts: [Int]
  /// Samples a ring slot holds (the largest batch).
  let slotSize: Int
  let batchCount: Int
  let sampleShape: [Int]
  let sampleCount: Int
  let ring: Int
  let predictor: ThetaPredictor?
  let threads: Int

  private let condition = NSCondition()
  private var nextPosition = 0
  /// Batches the consumer has finished with (slots of batches below this may be reused).
  private var consumed = 0
  private var stopped = false
  private var running = 0
  private var skippedList: [SkippedSample] = []

  /// Per ring slot: float outputs, labels, valid flags, completion count.
  private var slotImages: [UnsafeMutablePointer<Float>] = []
  private var slotLabels: [UnsafeMutablePointer<Int>] = []
  private var slotValid: [UnsafeMutablePointer<Bool>] = []
  private var slotDone: [Int]
  /// For learned pipelines: prepared samples awaiting theta.
  private var slotPrepared: [UnsafeMutablePointer<PreparedSample?>] = []

  init(processor: SampleProcessor, dataset: any ImageDataset, epoch: Int, order: [Int], batchStarts: [Int], slotSize: Int,
       sampleShape: [Int], ring: Int, predictor: ThetaPredictor?, threads: Int) {
    self.processor = processor
    self.dataset = dataset
    self.epoch = epoch
    self.order = order
    self.batchStarts = batchStarts
    self.slotSize = slotSize
    self.batchCount = batchStarts.count - 1
    self.sampleShape = sampleShape
    self.sampleCount = sampleShape.reduce(1, *)
    self.ring = ring
    self.predictor = predictor
    self.threads = threads
    slotDone = [Int](repeating: 0, count: ring)
    for _ in 0..<ring {
      slotImages.append(BufferPool.take(capacity: slotSize * sampleCount))
      slotLabels.append(UnsafeMutablePointer<Int>.allocate(capacity: slotSize))
      let valid = UnsafeMutablePointer<Bool>.allocate(capacity: slotSize)
      valid.initialize(repeating: false, count: slotSize)
      slotValid.append(valid)
      if predictor != nil {
        let prepared = UnsafeMutablePointer<PreparedSample?>.allocate(capacity: slotSize)
        prepared.initialize(repeating: nil, count: slotSize)
        slotPrepared.append(prepared)
      }
    }
  }

  /// Returns the image buffers to the pool; called once, after `stop()`.
  func releaseBuffers() {
    for pointer in slotImages { BufferPool.give(pointer, capacity: slotSize * sampleCount) }
    slotImages = []
  }

  deinit {
    for pointer in slotImages { BufferPool.give(pointer, capacity: slotSize * sampleCount) }
    for pointer in slotLabels { pointer.deallocate() }
    for pointer in slotValid { pointer.deallocate() }
    for pointer in slotPrepared {
      pointer.deinitialize(count: slotSize)
      pointer.deallocate()
    }
  }

  /// Samples in batch `b` (the last one may be short; drop_last already trimmed `batchCount`).
  private func expected(_ batch: Int) -> Int { batchStarts[batch + 1] - batchStarts[batch] }

  private var totalPositions: Int { batchStarts[batchCount] }

  /// The batch that holds `position` of `order` (the last batch that starts at or before it;
  /// empty batches start where the next one does, so they are never the answer).
  private func batch(holding position: Int) -> Int {
    var low = 0, high = batchCount - 1
    while low < high {
      let middle = (low + high + 1) / 2
      if batchStarts[middle] <= position { low = middle } else { high = middle - 1 }
    }
    return low
  }

  func start(threads: Int) {
    running = threads
    for worker in 0..<threads {
      let thread = Thread { [self] in self.work() }
      thread.name = "stn-loader-\(worker)"
      thread.stackSize = 1 << 20
      thread.start()
    }
  }

  /// Stops the workers and waits for them (they finish the sample in hand).
  func stop() {
    condition.lock()
    stopped = true
    condition.broadcast()
    while running > 0 { condition.wait() }
    condition.unlock()
  }

  func skippedSnapshot() -> [SkippedSample] {
    condition.lock()
    defer { condition.unlock() }
    return skippedList.sorted { $0.index < $1.index }
  }

  // MARK: Workers

  private func work() {
    condition.lock()
    while true {
      if stopped || nextPosition >= totalPositions { break }
      let position = nextPosition
      let batch = batch(holding: position)
      if batch >= consumed + ring {
        condition.wait()
        continue
      }
      nextPosition += 1
      condition.unlock()
      let skip = process(position: position, offset: position - batchStarts[batch], slot: batch % ring)
      condition.lock()
      if let skip { skippedList.append(skip) }
      slotDone[batch % ring] += 1
      if slotDone[batch % ring] == expected(batch) { condition.broadcast() }
    }
    running -= 1
    condition.broadcast()
    condition.unlock()
  }

  /// Produces one sample into its slot; returns why it was skipped, if it was.
  private func process(position: Int, offset: Int, slot: Int) -> SkippedSample? {
    let index = order[position]
    slotValid[slot][offset] = false
    do {
      let sample = try processor.prepare(dataset: dataset, index: index, epoch: epoch)
      if predictor != nil {
        // Finished by `LearnedStep` when the batch is complete (one forward pass per batch).
        slotPrepared[slot][offset] = sample
      } else {
        guard [processor.config.channels, sample.outputHeight, sample.outputWidth] == sampleShape else {
          throw FileError(path: dataset.sourcePath(at: index),
                            reason: "output is \(sample.outputWidth)x\(sample.outputHeight), the batch is \(sampleShape[2])x\(sampleShape[1]) (add a resize stage)")
        }
        try processor.renderFloat(sample, into: slotImages[slot] + offset * sampleCount)
      }
      slotLabels[slot][offset] = sample.label
      slotValid[slot][offset] = true
      return nil
    } catch {
      let path = dataset.sourcePath(at: index)
      return SkippedSample(index: index, path: path, reason: "\(error)")
    }
  }

  // MARK: Consumer

  /// Waits for the next batch, compacts its valid samples to the front of its slot (in place)
  /// and lends it to `body`; the slot is reused after `body` returns. Nil at the end.
  func borrow<R>(_ body: (BatchView) throws -> R) rethrows -> R? {
    condition.lock()
    let number = consumed
    guard number < batchCount else {
      condition.unlock()
      return nil
    }
    let slot = number % ring
    while slotDone[slot] < expected(number) { condition.wait() }
    condition.unlock()
    defer {
      condition.lock()
      slotDone[slot] = 0
      consumed += 1
      condition.broadcast()
      condition.unlock()
    }

    if predictor != nil { applyPredictor(batch: number, slot: slot) }
    var labels: [Int] = [], indices: [Int] = []
    labels.reserveCapacity(slotSize)
    indices.reserveCapacity(slotSize)
    for offset in 0..<expected(number) where slotValid[slot][offset] {
      let written = labels.count
      if written != offset {
        (slotImages[slot] + written * sampleCount).update(from: slotImages[slot] + offset * sampleCount, count: sampleCount)
      }
      labels.append(slotLabels[slot][offset])
      indices.append(order[batchStarts[number] + offset])
    }
    let view = BatchView(images: UnsafeBufferPointer(start: slotImages[slot], count: labels.count * sampleCount),
                         shape: [labels.count] + sampleShape, labels: labels, indices: indices)
    return try body(view)
  }

  /// Learned pipelines: `LearnedStep` (one batched forward pass of the predictor, each sample's
  /// single resample completed), then every sample's float output, in parallel.
  private func applyPredictor(batch number: Int, slot: Int) {
    guard let predictor else { return }
    let count = expected(number)
    let prepared: [Result<PreparedSample, any Error>] = (0..<count).map { offset in
      guard slotValid[slot][offset], let sample = slotPrepared[slot][offset] else { return .failure(FileError(path: "", reason: "skipped")) }
      return .success(sample)
    }
    let completed = LearnedStep.complete(prepared, processor: processor, predictor: predictor, threads: threads)
    let failures = UnsafeMutablePointer<SkippedSample?>.allocate(capacity: count)
    failures.initialize(repeating: nil, count: count)
    defer {
      failures.deinitialize(count: count)
      failures.deallocate()
    }
    parallelFor(chunks: count, threads: threads) { offset in
      guard slotValid[slot][offset] else { return }
      let index = order[batchStarts[number] + offset]
      do {
        let sample = try completed[offset].get()
        guard [processor.config.channels, sample.outputHeight, sample.outputWidth] == sampleShape else {
          throw FileError(path: dataset.sourcePath(at: index), reason: "output size differs from the batch's")
        }
        try processor.renderFloat(sample, into: slotImages[slot] + offset * sampleCount)
      } catch {
        failures[offset] = SkippedSample(index: index, path: dataset.sourcePath(at: index), reason: "\(error)")
      }
      slotPrepared[slot][offset] = nil
    }
    condition.lock()
    for offset in 0..<count {
      if let failure = failures[offset] {
        slotValid[slot][offset] = false
        skippedList.append(failure)
      }
    }
    condition.unlock()
  }
}
