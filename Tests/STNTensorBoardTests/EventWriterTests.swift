import Foundation
import XCTest
@testable import STNTensorBoard
import STNTestSupport

final class EventWriterTests: XCTestCase {
  var folder = ""

  override func setUpWithError() throws {
    folder = NSTemporaryDirectory() + "stn-tensorboard-\(UUID().uuidString)"
  }

  override func tearDownWithError() throws {
    // STN_KEEP_TEST_OUTPUT=1 keeps the event files, e.g. to open them in `tensorboard --logdir`.
    if ProcessInfo.processInfo.environment["STN_KEEP_TEST_OUTPUT"] == "1" {
      print("kept \(folder)")
    } else {
      try? FileManager.default.removeItem(atPath: folder)
    }
  }

  func readRecords(_ path: String) throws -> [[UInt8]] {
    let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
    return try TFRecord.records(in: bytes)
  }

  // MARK: - File layout

  func testFileNameFollowsTensorBoardConventionAndStartsWithVersion() throws {
    let writer = try EventWriter(directory: folder, wallTime: 1_700_000_000)
    try writer.addScalar(tag: "loss", value: 0.5, step: 1, wallTime: 1_700_000_001)
    try writer.close()
    let name = (writer.path as NSString).lastPathComponent
    XCTAssertTrue(name.hasPrefix("events.out.tfevents.1700000000."), name)
    XCTAssertEqual((writer.path as NSString).deletingLastPathComponent, folder)
    let records = try readRecords(writer.path)
    XCTAssertEqual(records.count, 2)
    XCTAssertEqual(records[0], EventProto.fileVersionEvent(wallTime: 1_700_000_000))
    XCTAssertEqual(records[1], EventProto.summaryEvent(wallTime: 1_700_000_001, step: 1, tag: "loss", value: .scalar(0.5)))
    XCTAssertThrowsError(try writer.addScalar(tag: "late", value: 1, step: 2))
    XCTAssertNoThrow(try writer.close())
  }

  func testTwoWritersInTheSameSecondDoNotClobberEachOther() throws {
    let first = try EventWriter(directory: folder, wallTime: 1_700_000_000)
    let second = try EventWriter(directory: folder, wallTime: 1_700_000_000)
    XCTAssertNotEqual(first.path, second.path)
    try first.addScalar(tag: "a", value: 1, step: 1)
    try second.addScalar(tag: "b", value: 2, step: 1)
    try first.close()
    try second.close()
    XCTAssertEqual(try readRecords(first.path).count, 2)
    XCTAssertEqual(try readRecords(second.path).count, 2)
  }

  func testRecordsAreOnDiskBeforeCloseSoACrashKeepsThem() throws {
    let writer = try EventWriter(directory: folder)
    for step in 0..<5 { try writer.addScalar(tag: "loss", value: Float(step), step: step) }
    // Without close or flush: a process killed now leaves these records readable.
    let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: writer.path)))
    XCTAssertEqual(try TFRecord.records(in: bytes).count, 6)
    // A torn final record (simulated) does not hide the earlier ones.
    let torn = bytes + Array(TFRecord.frame([1, 2, 3, 4, 5, 6]).prefix(9))
    XCTAssertEqual(try TFRecord.records(in: torn, allowTruncatedTail: true).count, 6)
    try writer.flush()
  }

  func testConcurrentAddsKeepRecordsWhole() throws {
    let writer = try EventWriter(directory: folder)
    let failures = NSLock()
    var errors: [Error] = []
    DispatchQueue.concurrentPerform(iterations: 200) { i in
      do {
        if i % 10 == 0 {
          try writer.addHistogram(tag: "h", values: (0..<100).map { Float($0 * i) }, step: i)
        } else {
          try writer.addScalar(tag: "s\(i % 3)", value: Float(i), step: i)
        }
      } catch {
        failures.lock(); errors.append(error); failures.unlock()
      }
    }
    try writer.close()
    XCTAssertTrue(errors.isEmpty, "\(errors)")
    XCTAssertEqual(try readRecords(writer.path).count, 201)
  }

  func testUnwritableFolderThrowsNamingIt() {
    XCTAssertThrowsError(try EventWriter(directory: "/proc/stn-no-such-place/tb")) { error in
      XCTAssertTrue("\(error)".contains("/proc/stn-no-such-place/tb"), "\(error)")
    }
  }

  // MARK: - Read back by TensorBoard itself

  /// Writes scalars, an image and a histogram, then reads the file with tensorboard's own
  /// `EventAccumulator` (python) and checks tags, steps, values, image size and histogram count.
  /// Requires `python3 -c "import tensorboard"`; with STN_SKIP_TENSORBOARD=1 it is skipped
  /// instead of failing when tensorboard is missing.
  func testTensorBoardReadsOurEventFile() throws {
    guard try Python.requireTensorBoard() else { return }
    let writer = try EventWriter(directory: folder)
    let losses: [Float] = [2.25, 1.5, 0.875]
    for (step, loss) in losses.enumerated() {
      try writer.addScalar(tag: "loss/train", value: loss, step: step + 1)
      try writer.addScalar(tag: "accuracy/val", value: 0.5 + Float(step) * 0.125, step: step + 1)
    }
    let png = tinyPNG(width: 5, height: 3, channels: 3)
    try writer.addImage(tag: "inputs", png: png, width: 5, height: 3, channels: 3, step: 2)
    try writer.addImage(tag: "layers/01-conv2d", png: png, width: 5, height: 3, channels: 3, step: 2, description: "output **[2, 3]**")
    let theta: [Float] = (0..<64).map { Float($0) / 32 - 1 }
    try writer.addHistogram(tag: "theta/0", values: theta, step: 3)
    try writer.flush()
    try writer.close()

    let script = """
    import json, sys, io
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    acc = EventAccumulator(sys.argv[1], size_guidance={"scalars": 0, "images": 0, "histograms": 0, "tensors": 0})
    acc.Reload()
    tags = acc.Tags()
    out = {"scalars": {}, "images": {}, "histograms": {}}
    for tag in tags["scalars"]:
        out["scalars"][tag] = [[e.step, e.value] for e in acc.Scalars(tag)]
    for tag in tags["images"]:
        out["images"][tag] = [[e.step, e.width, e.height, len(e.encoded_image_string)] for e in acc.Images(tag)]
        try:
            from PIL import Image
            im = Image.open(io.BytesIO(acc.Images(tag)[0].encoded_image_string)); im.load()
            out["decoded_" + tag] = [im.width, im.height, im.mode]
        except ImportError:
            pass
    for tag in tags["histograms"]:
        out["histograms"][tag] = [[e.step, e.histogram_value.num, e.histogram_value.min, e.histogram_value.max,
                                   sum(e.histogram_value.bucket)] for e in acc.Histograms(tag)]
    # The server's own path: raw loader + data_compat migration to plugin tensors.
    import glob
    from tensorboard import data_compat
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    out["plugins"] = {}
    for path in glob.glob(sys.argv[1] + "/events.out.tfevents.*"):
        for event in EventFileLoader(path).Load():
            if event.HasField("summary"):
                for value in event.summary.value:
                    out["plugins"][value.tag] = data_compat.migrate_value(value).metadata.plugin_data.plugin_name
    # Images as the image dashboard reads them (legacy ones converted): [step, width, height,
    # PNG bytes, description, data class].
    from tensorboard.backend.event_processing import plugin_event_accumulator
    from tensorboard.util import tensor_util
    served = plugin_event_accumulator.EventAccumulator(sys.argv[1], size_guidance={"tensors": 0})
    served.Reload()
    out["served"] = {}
    for tag in served.PluginTagToContent("images"):
        event = served.Tensors(tag)[0]
        width, height, png = tensor_util.make_ndarray(event.tensor_proto)
        metadata = served.SummaryMetadata(tag)
        out["served"][tag] = [event.step, int(width), int(height), len(png), metadata.summary_description, metadata.data_class]
    print(json.dumps(out))
    """
    let output = try Python.run(["-c", script, folder])
    let parsed = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any]
    let scalars = try XCTUnwrap(parsed?["scalars"] as? [String: [[Double]]], output)
    XCTAssertEqual(scalars["loss/train"]?.map { $0[0] }, [1, 2, 3])
    XCTAssertEqual(scalars["loss/train"]?.map { Float($0[1]) }, losses)
    XCTAssertEqual(scalars["accuracy/val"]?.map { Float($0[1]) }, [0.5, 0.625, 0.75])
    let images = try XCTUnwrap(parsed?["images"] as? [String: [[Int]]], output)
    XCTAssertEqual(images["inputs"], [[2, 5, 3, png.count]])
    XCTAssertNil(images["layers/01-conv2d"], "a described image is a tensor to the legacy reader")
    let served = try XCTUnwrap(parsed?["served"] as? [String: [Any]], output)
    XCTAssertEqual(served["inputs"]?.prefix(4).compactMap { $0 as? Int }, [2, 5, 3, png.count])
    XCTAssertEqual(served["layers/01-conv2d"]?.prefix(4).compactMap { $0 as? Int }, [2, 5, 3, png.count])
    XCTAssertEqual(served["layers/01-conv2d"]?[4] as? String, "output **[2, 3]**", "the description the image dashboard shows")
    XCTAssertEqual(served["layers/01-conv2d"]?[5] as? Int, 3, "DATA_CLASS_BLOB_SEQUENCE")
    if let decoded = parsed?["decoded_inputs"] as? [Any] {
      XCTAssertEqual(decoded[0] as? Int, 5)
      XCTAssertEqual(decoded[1] as? Int, 3)
      XCTAssertEqual(decoded[2] as? String, "RGB")
    }
    let histograms = try XCTUnwrap(parsed?["histograms"] as? [String: [[Double]]], output)
    XCTAssertEqual(histograms["theta/0"], [[3, 64, -1, Double(Float(63) / 32 - 1), 64]])
    let plugins = try XCTUnwrap(parsed?["plugins"] as? [String: String], output)
    XCTAssertEqual(plugins, ["loss/train": "scalars", "accuracy/val": "scalars", "inputs": "images", "layers/01-conv2d": "images", "theta/0": "histograms"])
  }

  // MARK: - Helpers

  /// A valid PNG built by hand (stored, uncompressed deflate), so this test needs no codec.
  func tinyPNG(width: Int, height: Int, channels: Int) -> [UInt8] {
    func crc32(_ bytes: [UInt8]) -> UInt32 {
      var crc: UInt32 = 0xFFFF_FFFF
      for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
      }
      return crc ^ 0xFFFF_FFFF
    }
    func bigEndian(_ value: UInt32) -> [UInt8] { [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: value >> UInt32($0)) } }
    func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
      let body = Array(type.utf8) + data
      return bigEndian(UInt32(data.count)) + body + bigEndian(crc32(body))
    }
    var raw: [UInt8] = []
    for y in 0..<height {
      raw.append(0)  // filter type none
      for x in 0..<width { for c in 0..<channels { raw.append(UInt8((x * 40 + y * 70 + c * 90) % 256)) } }
    }
    var a: UInt32 = 1, b: UInt32 = 0
    for byte in raw { a = (a + UInt32(byte)) % 65521; b = (b + a) % 65521 }
    let length = UInt16(raw.count)
    let zlib: [UInt8] = [0x78, 0x01, 0x01, UInt8(length & 0xFF), UInt8(length >> 8), UInt8(~length & 0xFF), UInt8(~length >> 8)]
      + raw + bigEndian(b << 16 | a)
    let colorType: UInt8 = channels == 1 ? 0 : 2
    let header = bigEndian(UInt32(width)) + bigEndian(UInt32(height)) + [8, colorType, 0, 0, 0]
    return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", header) + chunk("IDAT", zlib) + chunk("IEND", [])
  }
}
