import STNDrawing
import STNImageIO
import STNNetwork
import STNTensor
import XCTest
@testable import STNTrain

final class LayerSheetTests: XCTestCase {
  /// input [1,6,6] -> conv 20 channels -> relu -> flatten -> linear 3.
  func smallModel() throws -> Model {
    let spec = ModelSpec([.conv2d(Conv2DSpec(out: 20, kernel: 3, padding: 1)), .relu, .flatten, .linear(LinearSpec(out: nil))])
    return try Model(spec: spec, inputShape: [1, 6, 6], classCount: 3, seed: 2)
  }

  func testARowPerLayerPerSampleAndATilePerChannel() throws {
    let model = try smallModel()
    let input = Tensor(shape: [2, 1, 6, 6], data: (0..<72).map { Float($0 % 11) })
    let outputs = model.layerOutputs(input)
    let layout = LayerSheet.layout(outputs: outputs, captions: [["sample 0: a"], ["sample 1: b"]])
    XCTAssertEqual(layout.samples, 2)
    XCTAssertEqual(layout.rows.count, 2 * 5, "input + 4 layers, for each sample")
    // Label, then tiles: input 1, conv and relu the first 16 of 20, flatten and linear one strip.
    XCTAssertEqual(layout.rows.map(\.count), [2, 17, 17, 2, 2, 2, 17, 17, 2, 2])
    XCTAssertTrue(layout.rows.joined().allSatisfy { $0.height == LayerSheet.cellSide })
    XCTAssertTrue(layout.rows.allSatisfy { $0.dropFirst().allSatisfy { $0.width == LayerSheet.cellSide } })
    // Under each tile: its min and max.
    let conv = try XCTUnwrap(outputs.first { $0.entry.label == "00-conv2d" })
    let tile = FeatureMapTiles.tiles(conv.value, sample: 1).tiles[3]
    XCTAssertEqual(layout.cellLabels[6][4], FeatureMapTiles.compact(tile.minimum) + "\n" + FeatureMapTiles.compact(tile.maximum))
    XCTAssertEqual(layout.cellLabels[6][0], "")
    // The rendered sheet: fixed cells, so its size follows from rows and tiles.
    let sheet = LayerSheet.render(layout, title: "one line")
    let pad = LayerSheet.padding
    let labelWidth = LayerSheet.labelCharacters * BitmapFont.advance - 1
    XCTAssertEqual(sheet.width, pad + labelWidth + pad + 16 * (LayerSheet.cellSide + pad))
    let rowHeight = LayerSheet.cellSide + 3 + 19  // two lines of min and max under the tiles
    XCTAssertEqual(sheet.height, (9 + pad) + 10 * rowHeight + 11 * pad)
    XCTAssertEqual(sheet.channels, 3)
  }

  func testRowLabelsNameTheLayerAndWhatIsLeftOut() throws {
    let outputs = try smallModel().layerOutputs(Tensor(shape: [1, 1, 6, 6]))
    let layout = LayerSheet.layout(outputs: outputs, captions: [["sample 7: left", "predicted: right"]])
    XCTAssertEqual(layout.rows[0][0], LayerSheet.label(["input", "[1,6,6]", "sample 7: left", "predicted: right"]))
    XCTAssertEqual(layout.rows[1][0], LayerSheet.label(["00-conv2d", "0 [20,6,6]", "first 16 of 20 channels"]))
    XCTAssertEqual(layout.rows[4][0], LayerSheet.label(["03-linear", "3 [3]"]))
  }

  func testTallSheetsKeepWholeSamplesUpToTheRowLimit() throws {
    let outputs = try smallModel().layerOutputs(Tensor(shape: [40, 1, 6, 6]))
    let layout = LayerSheet.layout(outputs: outputs, captions: [])
    XCTAssertEqual(layout.samples, LayerSheet.maximumRows / 5)
    XCTAssertEqual(layout.rows.count, layout.samples * 5)
  }
}
