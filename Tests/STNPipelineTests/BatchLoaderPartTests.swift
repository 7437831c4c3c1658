import Foundation
import STNImageIO
import XCTest

@testable import STNPipeline

/// `BatchPart` (data-parallel training): the parts of the ranks, put side by side, are the
/// whole batches byte for byte; each part decodes only its own samples; every part gets one
/// batch per batch of the whole, empty ones too.
final class BatchLoaderPartTests: XCTestCase {
  private let rts = """
    decode: {channels: 1}
    stages:
      - pad: {size: [42, 42]}
      - random_affine: {degrees: 45, scale: [0.7, 1.2], translate: inside, hflip: 0.3}
      - normalize: {mean: [0.1307], std: [0.3081]}
    batch: {size: 8, shuffle: true}
    seed: 5
    """

  /// A dataset that records which samples were decoded.
  final class RecordingDataset: ImageDataset, @unchecked Sendable {
    let base: MemoryDataset
    private let lock = NSLock()
    private var decoded: Set<Int> = []

    init(count: Int, bad: Set<Int> = []) {
      base = MemoryDataset(images: (0..<count).map { TestImages.smooth(width: 28, height: 28, channels: 1, variant: $0) },
                           labels: (0..<count).map { $0 % 10 }, bad: bad)
    }

    var decodedIndices: Set<Int> { lock.withLock { decoded } }
    var count: Int { base.count }
    var classes: [String] { base.classes }
    func label(at index: Int) -> Int { base.label(at: index) }
    func relativePath(at index: Int) -> String { base.relativePath(at: index) }
    func sourcePath(at index: Int) -> String { base.sourcePath(at: index) }
    func loadImage(at index: Int, options: DecodeOptions) throws -> Image {
      lock.withLock { _ = decoded.insert(index) }
      return try base.loadImage(at: index, options: options)
    }
  }

  private func collect(_ loader: BatchLoader) -> [Batch] {
    var batches: [Batch] = []
    while let batch = loader.next() { batches.append(batch) }
    return batches
  }

  func testPartRangesCoverABatchInNearEqualContiguousPieces() {
    for size in 0...20 {
      for count in 1...5 {
        let ranges = (0..<count).map { BatchPart(rank: $0, count: count).range(inBatchOf: size) }
        XCTAssertEqual(ranges.first?.lowerBound, 0)
        XCTAssertEqual(ranges.last?.upperBound, size)
        for (a, b) in zip(ranges, ranges.dropFirst()) { XCTAssertEqual(a.upperBound, b.lowerBound) }
        let sizes = ranges.map(\.count)
        XCTAssertLessThanOrEqual((sizes.max() ?? 0) - (sizes.min() ?? 0), 1, "\(size) in \(count): \(sizes)")
        XCTAssertEqual(sizes, sizes.sorted(by: >), "the longer parts come first")
      }
    }
    XCTAssertEqual(BatchPart(rank: 2, count: 3).range(inBatchOf: 2), 2..<2, "more ranks than samples: an empty part")
  }

  func testPartsSideBySideAreTheWholeBatchesAndDecodeOnlyTheirSamples() throws {
    let config = try PipelineConfig.parse(yaml: rts)
    // 37 samples in batches of 8: 4 full batches and one of 5 (parts of 3: 3/3/2 and 2/2/1).
    let whole = collect(try BatchLoader(config: config, dataset: RecordingDataset(count: 37), epoch: 2, threads: 2))
    XCTAssertEqual(whole.map(\.labels.count), [8, 8, 8, 8, 5])
    for count in [2, 3] {
      var parts: [[Batch]] = []
      for rank in 0..<count {
        let data = RecordingDataset(count: 37)
        let loader = try BatchLoader(config: config, dataset: data, epoch: 2, threads: 2, part: BatchPart(rank: rank, count: count))
        let batches = collect(loader)
        XCTAssertEqual(batches.count, whole.count, "one part per batch on every rank")
        XCTAssertEqual(data.decodedIndices, Set(loader.order), "part \(rank) of \(count) decodes only its own samples")
        parts.append(batches)
      }
      for (b, batch) in whole.enumerated() {
        XCTAssertEqual(parts.flatMap { $0[b].indices }, batch.indices)
        XCTAssertEqual(parts.flatMap { $0[b].labels }, batch.labels)
        XCTAssertEqual(parts.flatMap { $0[b].images.data.map(\.bitPattern) }, batch.images.data.map(\.bitPattern))
        XCTAssertEqual(parts[0][b].images.shape, [BatchPart(rank: 0, count: count).range(inBatchOf: batch.labels.count).count, 1, 42, 42])
      }
    }
  }

  /// A part with no samples, or whose samples are all unreadable, is still delivered (empty),
  /// where the whole loader passes such a batch over: the ranks must stay in step.
  func testEmptyAndUnreadablePartsAreDelivered() throws {
    var config = try PipelineConfig.parse(yaml: rts)
    config.batching.shuffle = false
    config.batching.size = 4
    // 5 samples: batches [0 1 2 3] [4]; 3 parts of the last batch: [4], [], [].
    let unreadable = RecordingDataset(count: 5, bad: [2, 3])
    let batches = collect(try BatchLoader(config: config, dataset: unreadable, epoch: 0, threads: 1, part: BatchPart(rank: 1, count: 3)))
    XCTAssertEqual(batches.map(\.indices), [[], []], "part 1 of 3: samples 2 (unreadable) of batch 0 and nothing of batch 1")
    XCTAssertEqual(batches.map(\.images.shape), [[0, 1, 42, 42], [0, 1, 42, 42]])
    let last = collect(try BatchLoader(config: config, dataset: RecordingDataset(count: 5), epoch: 0, threads: 1, part: BatchPart(rank: 2, count: 3)))
    XCTAssertEqual(last.map(\.indices), [[3], []])
    // Fewer samples than parts: a rank with no sample at all still gets its empty batch.
    let lone = RecordingDataset(count: 1)
    let none = collect(try BatchLoader(config: config, dataset: lone, epoch: 0, threads: 1, part: BatchPart(rank: 1, count: 2)))
    XCTAssertEqual(none.map(\.indices), [[]])
    XCTAssertEqual(none.first?.images.shape, [0, 1, 42, 42], "the sample size is learned from the epoch's samples")
  }
}
