import XCTest
@testable import STNTensorBoard

/// Expected bytes below were produced once by tensorboard 2.21's own protobuf classes:
///
///     from tensorboard.compat.proto import event_pb2
///     e = event_pb2.Event(wall_time=1700000001.5, step=7)
///     e.summary.value.add(tag="loss/train", simple_value=0.125)
///     print(e.SerializeToString().hex())
///
/// (and likewise for each case; see the test names).
final class EventProtoTests: XCTestCase {
  func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

  func testFileVersionEventMatchesTensorBoard() {
    XCTAssertEqual(hex(EventProto.fileVersionEvent(wallTime: 1_700_000_000.25)),
                   "0900001040fc54d9411a0d627261696e2e4576656e743a32")
  }

  func testScalarEventsMatchTensorBoard() {
    XCTAssertEqual(hex(EventProto.summaryEvent(wallTime: 1_700_000_001.5, step: 7, tag: "loss/train", value: .scalar(0.125))),
                   "0900006040fc54d94110072a130a110a0a6c6f73732f747261696e150000003e")
    // proto3: zero wall time and step are omitted, but simple_value sits in a oneof and stays.
    XCTAssertEqual(hex(EventProto.summaryEvent(wallTime: 0, step: 0, tag: "zero", value: .scalar(0))),
                   "2a0d0a0b0a047a65726f1500000000")
    // Negative int64: ten-byte varint.
    XCTAssertEqual(hex(EventProto.summaryEvent(wallTime: 2, step: -1, tag: "neg", value: .scalar(-3.5))),
                   "09000000000000004010ffffffffffffffffff012a0c0a0a0a036e656715000060c0")
  }

  func testImageEventMatchesTensorBoard() {
    let value = SummaryValue.image(encoded: [1, 2, 3, 4], width: 3, height: 2, channels: 3)
    XCTAssertEqual(hex(EventProto.summaryEvent(wallTime: 1_700_000_002, step: 300, tag: "inputs", value: value)),
                   "0900008040fc54d94110ac022a180a160a06696e70757473220c080210031803220401020304")
  }

  func testHistogramEventMatchesTensorBoard() {
    let histogram = Histogram(values: [1, 2, 2, 3, 10], bucketCount: 3)
    XCTAssertEqual(histogram, Histogram(min: 1, max: 10, count: 5, sum: 18, sumOfSquares: 118,
                                        bucketLimits: [4, 7, 10], bucketCounts: [4, 0, 1]))
    XCTAssertEqual(
      hex(EventProto.summaryEvent(wallTime: 1_700_000_003, step: 5, tag: "theta/0", value: .histogram(histogram))),
      "090000c040fc54d94110052a6e0a6c0a0774686574612f302a6109000000000000f03f110000000000002440190000000000001440"
        + "210000000000003240290000000000805d40321800000000000010400000000000001c4000000000000024403a18000000000000"
        + "10400000000000000000000000000000f03f")
    XCTAssertEqual(
      hex(EventProto.summaryEvent(wallTime: 1_700_000_003, step: 6, tag: "empty", value: .histogram(Histogram(values: [])))),
      "090000c040fc54d94110062a1f0a1d0a05656d7074792a14320800000000000000003a080000000000000000")
  }

  func testHistogramBucketsEdgesAndNonFinite() {
    let constant = Histogram(values: [2.5, 2.5, 2.5])
    XCTAssertEqual(constant.bucketLimits, [2.5])
    XCTAssertEqual(constant.bucketCounts, [3])
    let mixed = Histogram(values: [0, 1, .nan, 2, .infinity, 4], bucketCount: 4)
    XCTAssertEqual(mixed.count, 4)
    XCTAssertEqual(mixed.min, 0)
    XCTAssertEqual(mixed.max, 4)
    XCTAssertEqual(mixed.bucketLimits, [1, 2, 3, 4])
    // Right-closed buckets, the first starting at min: 0 and 1 -> bucket 0, 2 -> 1, 4 -> 3.
    XCTAssertEqual(mixed.bucketCounts, [2, 1, 0, 1])
    let many = Histogram(values: (0..<1000).map { Float($0) / 7 }, bucketCount: 30)
    XCTAssertEqual(many.bucketCounts.reduce(0, +), 1000)
    XCTAssertEqual(many.bucketCounts.count, 30)
  }
}
