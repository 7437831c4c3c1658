import Foundation
import STNImageIO
import XCTest

@testable import STNPipeline

/// `BatchPart` (data-parallel training): the parts of the ranks, put side by side, are the
/// whole batches byte for byte; each part decodes only its own samples; every part gets one
/// batch per batch of the whole, empty ones too.
final class BatchLoaderPartTests: XCTestCase {
  /// Random stages and a shuffle: parts must draw what the whole batch draws.
  private let rts = """
    seed: 9
    decode: {channels: 1}
    stages: [{random_affine: {degrees: 30, translate: [0.1, 0.1], hflip: 0.5}}, {resize: {size: [16, 16]}}]
    batch: {size: 8, shuffle: true}
    """

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
    let whole = Array(try BatchLoader(config: config, dataset: MemoryDataset.smoothGray(count: 37, side: 20), epoch: 2, threads: 2))
    XCTAssertEqual(whole.map(\.labels.count), [8, 8, 8, 8, 5])
    for count in [2, 3] {
      var parts: [[Batch]] = []
      for rank in 0..<count {
        let part = BatchPart(rank: rank, count: count)
        let order = try BatchLoader(config: config, dataset: MemoryDataset.smoothGray(count: 37, side: 20), epoch: 2, threads: 1, part: part).order
        // Every other sample unreadable: a part that decoded one would skip it.
        let loader = try BatchLoader(config: config, dataset: MemoryDataset.smoothGray(count: 37, side: 20, bad: Set(0..<37).subtracting(order)), epoch: 2, threads: 2, part: part)
        let batches = Array(loader)
        XCTAssertEqual(batches.count, whole.count, "one part per batch on every rank")
        XCTAssertEqual(loader.skipped, [], "part \(rank) of \(count) decodes only its own samples")
        parts.append(batches)
      }
      for (b, batch) in whole.enumerated() {
        XCTAssertEqual(parts.flatMap { $0[b].indices }, batch.indices)
        XCTAssertEqual(parts.flatMap { $0[b].labels }, batch.labels)
        XCTAssertEqual(parts.flatMap { $0[b].images.data.map(\.bitPattern) }, batch.images.data.map(\.bitPattern))
        XCTAssertEqual(parts[0][b].images.shape, [BatchPart(rank: 0, count: count).range(inBatchOf: batch.labels.count).count, 1, 16, 16])
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
    let unreadable = MemoryDataset.smoothGray(count: 5, side: 20, bad: [2, 3])
    let batches = Array(try BatchLoader(config: config, dataset: unreadable, epoch: 0, threads: 1, part: BatchPart(rank: 1, count: 3)))
    XCTAssertEqual(batches.map(\.indices), [[], []], "part 1 of 3: samples 2 (unreadable) of batch 0 and nothing of batch 1")
    XCTAssertEqual(batches.map(\.images.shape), [[0, 1, 16, 16], [0, 1, 16, 16]])
    let last = Array(try BatchLoader(config: config, dataset: MemoryDataset.smoothGray(count: 5, side: 20), epoch: 0, threads: 1, part: BatchPart(rank: 2, count: 3)))
    XCTAssertEqual(last.map(\.indices), [[3], []])
    // Fewer samples than parts: a rank with no sample at all still gets its empty batch.
    let lone = MemoryDataset.smoothGray(count: 1, side: 20)
    let none = Array(try BatchLoader(config: config, dataset: lone, epoch: 0, threads: 1, part: BatchPart(rank: 1, count: 2)))
    XCTAssertEqual(none.map(\.indices), [[]])
    XCTAssertEqual(none.first?.images.shape, [0, 1, 16, 16], "the sample size is learned from the epoch's samples")
  }
}
