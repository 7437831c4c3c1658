import STNImageIO
import STNTensor
import STNWarp
import XCTest

@testable import STNPipeline

final class BatchLoaderTests: XCTestCase {
  private let rts = """
    decode: {channels: 1}
    stages:
      - pad: {size: [42, 42]}
      - random_affine: {degrees: 45, scale: [0.7, 1.2], translate: inside, hflip: 0.3}
      - normalize: {mean: [0.1307], std: [0.3081]}
    batch: {size: 8, shuffle: true}
    seed: 5
    """

  func testBatchesAreByteIdenticalWhateverTheThreadCount() throws {
    let config = try PipelineConfig.parse(yaml: rts)
    let data = MemoryDataset.smoothGray(count: 37, side: 28)
    let one = Array(try BatchLoader(config: config, dataset: data, epoch: 2, threads: 1))
    let four = Array(try BatchLoader(config: config, dataset: data, epoch: 2, threads: 4, prefetchBatches: 1))
    XCTAssertEqual(one.count, 5)
    XCTAssertEqual(one.count, four.count)
    for (a, b) in zip(one, four) {
      XCTAssertEqual(a.images.shape, b.images.shape)
      XCTAssertEqual(a.images.data.map(\.bitPattern), b.images.data.map(\.bitPattern))
      XCTAssertEqual(a.labels, b.labels)
      XCTAssertEqual(a.indices, b.indices)
    }
    XCTAssertEqual(one[0].images.shape, [8, 1, 42, 42])
    XCTAssertEqual(one[4].images.shape, [5, 1, 42, 42])
    XCTAssertEqual(Set(one.flatMap(\.indices)), Set(0..<37))
    // Labels travel with their images.
    for batch in one { XCTAssertEqual(batch.labels, batch.indices.map { $0 % 10 }) }
    // A later run reproduces it; another epoch differs.
    let again = Array(try BatchLoader(config: config, dataset: data, epoch: 2, threads: 2))
    XCTAssertEqual(again.flatMap { $0.images.data.map(\.bitPattern) }, one.flatMap { $0.images.data.map(\.bitPattern) })
    let other = Array(try BatchLoader(config: config, dataset: data, epoch: 3, threads: 2))
    XCTAssertNotEqual(other.flatMap(\.indices), one.flatMap(\.indices))
  }

  func testASampleIsTheSameWhicheverBatchItLandsIn() throws {
    var config = try PipelineConfig.parse(yaml: rts)
    let data = MemoryDataset.smoothGray(count: 20, side: 28)
    let shuffled = Array(try BatchLoader(config: config, dataset: data, epoch: 0, threads: 2))
    config.batching.shuffle = false
    config.batching.size = 3
    let ordered = Array(try BatchLoader(config: config, dataset: data, epoch: 0, threads: 2))
    func sample(_ batches: [Batch], _ index: Int) -> [Float] {
      for batch in batches {
        if let k = batch.indices.firstIndex(of: index) {
          let n = 42 * 42
          return Array(batch.images.data[(k * n)..<((k + 1) * n)])
        }
      }
      return []
    }
    for index in [0, 7, 19] { XCTAssertEqual(sample(shuffled, index), sample(ordered, index)) }
  }

  func testOrderIsAPermutationAndShardsPartitionIt() throws {
    let order = BatchLoader.order(count: 100, seed: 1, epoch: 4, shuffle: true, shard: nil)
    XCTAssertEqual(order.sorted(), Array(0..<100))
    XCTAssertNotEqual(order, Array(0..<100))
    XCTAssertEqual(order, BatchLoader.order(count: 100, seed: 1, epoch: 4, shuffle: true, shard: nil))
    XCTAssertEqual(BatchLoader.order(count: 5, seed: 1, epoch: 4, shuffle: false, shard: nil), [0, 1, 2, 3, 4])
    var union: [Int] = []
    for i in 0..<3 {
      let part = BatchLoader.order(count: 100, seed: 1, epoch: 4, shuffle: true, shard: try Shard(index: i, count: 3))
      XCTAssertEqual(part.count, i == 0 ? 34 : 33)
      union += part
    }
    XCTAssertEqual(union.sorted(), Array(0..<100))
    XCTAssertEqual(try Shard(parsing: "2/4"), try Shard(index: 2, count: 4))
    XCTAssertThrowsError(try Shard(parsing: "4/4"))
    XCTAssertThrowsError(try Shard(parsing: "x"))
  }

  func testBadSamplesAreSkippedCountedAndNamed() throws {
    var config = try PipelineConfig.parse(yaml: rts)
    config.batching.shuffle = false
    let loader = try BatchLoader(config: config, dataset: MemoryDataset.smoothGray(count: 20, side: 28, bad: [0, 9, 10]), epoch: 0, threads: 2)
    let batches = Array(loader)
    let indices = batches.flatMap(\.indices)
    XCTAssertEqual(indices, (0..<20).filter { ![0, 9, 10].contains($0) })
    XCTAssertEqual(batches.map { $0.images.shape[0] }, [7, 6, 4])
    XCTAssertEqual(loader.skipped.map(\.index), [0, 9, 10])
    XCTAssertEqual(loader.skipped[1].path, "memory/c9/img9.png")
    XCTAssertTrue(loader.skipped[1].reason.contains("corrupt"))
  }

  func testDropLastAndReusedBatchStorage() throws {
    var config = try PipelineConfig.parse(yaml: rts)
    config.batching.dropLast = true
    let loader = try BatchLoader(config: config, dataset: MemoryDataset.smoothGray(count: 20, side: 28), epoch: 0, threads: 2)
    XCTAssertEqual(loader.batchCount, 2)
    var batch = Batch()
    var count = 0
    while loader.next(into: &batch) {
      XCTAssertEqual(batch.images.shape, [8, 1, 42, 42])
      count += 1
    }
    XCTAssertEqual(count, 2)
  }

  /// Workers stay at most `prefetchBatches + 1` batches ahead of the consumer.
  func testQueueIsBounded() throws {
    final class CountingDataset: ImageDataset, @unchecked Sendable {
      let base: MemoryDataset
      let lock = NSLock()
      var loads = 0
      init(_ base: MemoryDataset) { self.base = base }
      var count: Int { base.count }
      var classes: [String] { base.classes }
      func label(at index: Int) -> Int { base.label(at: index) }
      func relativePath(at index: Int) -> String { base.relativePath(at: index) }
      func sourcePath(at index: Int) -> String { base.sourcePath(at: index) }
      func loadImage(at index: Int, options: DecodeOptions) throws -> Image {
        lock.lock(); loads += 1; lock.unlock()
        return try base.loadImage(at: index, options: options)
      }
    }
    var config = try PipelineConfig.parse(yaml: rts)
    config.batching.size = 4
    let counting = CountingDataset(MemoryDataset.smoothGray(count: 200, side: 28))
    let loader = try BatchLoader(config: config, dataset: counting, epoch: 0, threads: 3, prefetchBatches: 2)
    XCTAssertNotNil(loader.next())
    Thread.sleep(forTimeInterval: 0.3)
    counting.lock.lock()
    let loads = counting.loads
    counting.lock.unlock()
    // 1 probe at start-up + at most 4 batches of 4 (one delivered, three in the ring).
    XCTAssertLessThanOrEqual(loads, 1 + 4 * 4)
    XCTAssertGreaterThanOrEqual(loads, 1 + 2 * 4)
  }

  /// A `learned_affine` stage: the predictor sees the stages before it, its theta composes with
  /// them into one resample. An identity theta changes nothing; a half-scale theta zooms 2x.
  func testLearnedAffineComposesWithThePrediction() throws {
    final class FixedPredictor: ThetaPredictor {
      let theta: STNWarp.AffineTransform
      var seen: [Int] = []
      init(theta: STNWarp.AffineTransform) { self.theta = theta }
      var checkpoint: String { "fixed.safetensors" }
      var inputChannels: Int { 1 }
      var inputWidth: Int { 42 }
      var inputHeight: Int { 42 }
      var inputScale: [Float] { [1 / 255] }
      var inputBias: [Float] { [0] }
      func predictThetas(_ images: Tensor) throws -> [STNWarp.AffineTransform] {
        seen.append(images.shape[0])
        return [STNWarp.AffineTransform](repeating: theta, count: images.shape[0])
      }
    }
    let plain = try PipelineConfig.parse(yaml: "decode: {channels: 1}\nstages:\n  - pad: {size: [42, 42]}\nbatch: {size: 4, shuffle: false}\n")
    let learned = try PipelineConfig.parse(yaml: "decode: {channels: 1}\nstages:\n  - pad: {size: [42, 42]}\n  - learned_affine: {checkpoint: m.safetensors}\nbatch: {size: 4, shuffle: false}\n")
    let data = MemoryDataset.smoothGray(count: 6, side: 28)
    XCTAssertThrowsError(try BatchLoader(config: learned, dataset: data, epoch: 0))
    let identity = FixedPredictor(theta: .identity)
    let expected = Array(try BatchLoader(config: plain, dataset: data, epoch: 0, threads: 2))
    let got = Array(try BatchLoader(config: learned, dataset: data, epoch: 0, threads: 2, predictor: identity))
    XCTAssertEqual(identity.seen, [4, 2])
    XCTAssertEqual(got.count, expected.count)
    for (a, b) in zip(got, expected) { XCTAssertLessThan(a.images.maxAbsDifference(b.images), 1e-6) }
    // theta = 0.5·I samples the central half: a 2x zoom about the centre.
    let zoom = FixedPredictor(theta: STNWarp.AffineTransform(a: 0.5, b: 0, c: 0, d: 0, e: 0.5, f: 0))
    let zoomed = Array(try BatchLoader(config: learned, dataset: data, epoch: 0, threads: 1, predictor: zoom))
    let processor = try SampleProcessor(config: try PipelineConfig.parse(yaml: "decode: {channels: 1}\nstages:\n  - pad: {size: [42, 42]}\n  - affine: {scale: 2}\n"))
    let reference = try processor.prepare(dataset: data, index: 0, epoch: 0)
    var floats = [Float](repeating: 0, count: 42 * 42)
    try floats.withUnsafeMutableBufferPointer { try processor.renderFloat(reference, into: $0.baseAddress!) }
    let first = Array(zoomed[0].images.data[0..<(42 * 42)])
    XCTAssertLessThan(zip(first, floats).map { abs($0 - $1) }.max() ?? 1, 1e-5)
  }
}

final class BatchViewTests: XCTestCase {
  func testBorrowedBatchesEqualCopiedOnesAndCompactSkips() throws {
    var config = try PipelineConfig.parse(yaml: "decode: {channels: 1}\nstages:\n  - pad: {size: [30, 30]}\nbatch: {size: 4, shuffle: true}\nseed: 2\n")
    config.batching.dropLast = false
    let data = MemoryDataset(images: (0..<10).map { TestImages.smooth(width: 28, height: 28, channels: 1, variant: $0) },
                             labels: Array(0..<10), bad: [3, 4, 5, 6])
    var copied: [Batch] = []
    let first = try BatchLoader(config: config, dataset: data, epoch: 1, threads: 2)
    while let batch = first.next() { copied.append(batch) }
    var borrowed: [(shape: [Int], data: [Float], labels: [Int])] = []
    let second = try BatchLoader(config: config, dataset: data, epoch: 1, threads: 3)
    while let entry = second.withNextBatch({ ($0.shape, Array($0.images), $0.labels) }) { borrowed.append(entry) }
    XCTAssertEqual(borrowed.count, copied.count)
    for (a, b) in zip(borrowed, copied) {
      XCTAssertEqual(a.shape, b.images.shape)
      XCTAssertEqual(a.data, b.images.data)
      XCTAssertEqual(a.labels, b.labels)
    }
    XCTAssertEqual(copied.flatMap(\.labels).sorted(), [0, 1, 2, 7, 8, 9])
  }
}

extension MemoryDataset {
  /// `count` gray `side`x`side` `TestImages.smooth` images (variant = index), labelled
  /// index % 10; those in `bad` cannot be read.
  static func smoothGray(count: Int, side: Int, bad: Set<Int> = []) -> MemoryDataset {
    MemoryDataset(images: (0..<count).map { TestImages.smooth(width: side, height: side, channels: 1, variant: $0) },
                  labels: (0..<count).map { $0 % 10 }, bad: bad)
  }
}
