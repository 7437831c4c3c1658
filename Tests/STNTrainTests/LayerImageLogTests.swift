import Foundation
import STNNetwork
import STNTensor
import STNTensorBoard
import STNTestSupport
import XCTest
@testable import STNTrain

/// The `layers/...` TensorBoard images, read back with tensorboard's own reader (skipped with
/// STN_SKIP_TENSORBOARD=1 when tensorboard is not importable).
final class LayerImageLogTests: XCTestCase {
  var folder = ""

  override func setUpWithError() throws {
    folder = try makeTemporaryFolder("layer-images")
  }

  /// Every image tag of the event files in `directory` as TensorBoard's image dashboard reads
  /// them (its plugin event accumulator, legacy images converted): [step, width, height, PIL
  /// mode, bytes hash] per event, and the tag's description.
  func readImages(_ directory: String) throws -> (images: [String: [[String]]], descriptions: [String: String]) {
    let script = """
    import io, json, sys
    from tensorboard.backend.event_processing import plugin_event_accumulator
    from tensorboard.util import tensor_util
    acc = plugin_event_accumulator.EventAccumulator(sys.argv[1], size_guidance={"tensors": 0})
    acc.Reload()
    out = {"images": {}, "descriptions": {}}
    for tag in acc.PluginTagToContent("images"):
        rows = []
        for e in acc.Tensors(tag):
            width, height, png = tensor_util.make_ndarray(e.tensor_proto)
            mode = ""
            try:
                from PIL import Image
                mode = Image.open(io.BytesIO(png)).mode
            except ImportError:
                pass
            rows.append([str(e.step), width.decode(), height.decode(), mode, str(hash(png))])
        out["images"][tag] = rows
        out["descriptions"][tag] = acc.SummaryMetadata(tag).summary_description
    print(json.dumps(out))
    """
    let output = try Python.run(["-c", script, directory])
    let parsed = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any], output)
    return (try XCTUnwrap(parsed["images"] as? [String: [[String]]]), try XCTUnwrap(parsed["descriptions"] as? [String: String]))
  }

  func testTensorBoardReadsEveryLayerTagWithItsSizeAndShape() throws {
    guard try Python.requireTensorBoard() else { return }
    let spec = ModelSpec([.conv2d(Conv2DSpec(out: 6, kernel: 3, padding: 1)), .relu, .flatten, .linear(LinearSpec(out: nil))])
    let model = try Model(spec: spec, inputShape: [1, 6, 6], classCount: 3)
    let samples = Tensor(shape: [3, 1, 6, 6], data: (0..<108).map { Float($0 % 13) })
    let log = LayerImageLog(model: model, samples: samples, entries: model.layerTable)
    let writer = try EventWriter(directory: folder)
    try log.write(to: writer, step: 1)
    try writer.close()
    let (images, descriptions) = try readImages(folder)
    // 6x6 maps fitted into 48 pixels (x8), 2-pixel gaps; a row per sample, a column per channel.
    let expected: [String: (width: Int, height: Int)] = [
      "layers/input": (2 + 50, 2 + 3 * 50),
      "layers/00-conv2d": (2 + 6 * 50, 2 + 3 * 50),  // six gray tiles, not two RGB pictures
      "layers/01-relu": (2 + 6 * 50, 2 + 3 * 50),
      "layers/02-flatten": (2 + 42, 2 + 3 * 14),  // 216 features: 40x6 strip, rows doubled to 12
      "layers/03-linear": (2 + 50, 2 + 3 * 18),  // 3 features: 48x16
    ]
    XCTAssertEqual(Set(images.keys), Set(expected.keys))
    for (tag, size) in expected {
      XCTAssertEqual(images[tag]?.first?.prefix(3).map { $0 }, ["1", String(size.width), String(size.height)], tag)
      if let mode = images[tag]?.first?[3], !mode.isEmpty { XCTAssertEqual(mode, "RGB", tag) }
    }
    XCTAssertEqual(descriptions["layers/00-conv2d"],
      "Layer `00` conv2d (`0`): output [6, 6, 6] per sample. A row per fixed sample (3), a tile per channel: its 6 channels; each tile scaled to its own min (black) .. max (white).")
    XCTAssertTrue(descriptions["layers/02-flatten"]?.contains("output [216] per sample") == true, descriptions["layers/02-flatten"] ?? "")
  }

  /// `stn train`'s path: the session picks the fixed samples (the validation split's first) and
  /// the trainer writes the selected layers every epoch, the same input image each time.
  func testTrainingWritesTheSelectedLayersEveryEpoch() throws {
    guard try Python.requireTensorBoard() else { return }
    let pipeline = folder + "/tiny.yaml"
    try SyntheticData.pipeline(data: try SyntheticData.writeFolder(folder + "/data"), epochs: 2).write(toFile: pipeline, atomically: true, encoding: .utf8)
    var request = TrainRequest(pipeline: pipeline)
    request.out = folder + "/run"
    request.threads = 1
    request.tensorBoardLayers = try LayerSelection(parsing: "conv2d,input")
    _ = try TrainingSession.run(request, observer: nil) { _ in }
    let (images, _) = try readImages(folder + "/run")
    let layers = images.filter { $0.key.hasPrefix("layers/") }
    XCTAssertEqual(Set(layers.keys), ["layers/input", "layers/01-conv2d"])
    // 6 validation images (a quarter of 24), 12x12 maps at x4; conv: 4 channels.
    XCTAssertEqual(layers["layers/01-conv2d"]?.map { Array($0.prefix(3)) }, [["1", "202", "302"], ["2", "202", "302"]])
    let input = try XCTUnwrap(layers["layers/input"])
    XCTAssertEqual(input.map { $0[0] }, ["1", "2"])
    XCTAssertEqual(input[0][4], input[1][4], "the same fixed samples every epoch")
  }

  func testBadSelectionStopsTheRunBeforeTraining() throws {
    let pipeline = folder + "/tiny.yaml"
    try SyntheticData.pipeline(data: try SyntheticData.writeFolder(folder + "/data"), epochs: 1).write(toFile: pipeline, atomically: true, encoding: .utf8)
    var request = TrainRequest(pipeline: pipeline)
    request.out = folder + "/run"
    request.tensorBoardLayers = try LayerSelection(parsing: "7")
    XCTAssertThrowsError(try TrainingSession.run(request, observer: nil) { _ in }) { error in
      XCTAssertTrue(error is LayerSelectionError, "\(error)")
    }
    XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/run/last.safetensors"))
  }
}
