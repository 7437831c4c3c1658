import STNTensor
import XCTest

@testable import STNNetwork

/// Every layer's output: the table (index scheme, kinds, names, shapes) and the values.
final class ModelLayerOutputsTests: XCTestCase {
  func testTableOfTheBenchmarkSTCNNFollowsTheYAMLPositions() throws {
    let model = try Model(spec: .benchmarkSTCNN, inputShape: [1, 42, 42], classCount: 10)
    let table = model.layerTable
    XCTAssertEqual(table.count, 1 + 1 + 10 + 13, "input, the transformer, its 10 localization layers, 13 classifier layers")
    XCTAssertEqual(table.prefix(5).map(\.label), ["input", "00-spatial_transformer", "00.00-conv2d", "00.01-max_pool2d", "00.02-relu"])
    XCTAssertEqual(table.prefix(5).map(\.name), ["input", "st", "loc.0", "loc.1", "loc.2"])
    XCTAssertEqual(table[0].position, [])
    XCTAssertEqual(table[3].position, [0, 1])
    XCTAssertEqual(table[11].label, "00.09-linear")
    XCTAssertEqual(table[11].outputShape, [6])
    XCTAssertEqual(table[12].label, "01-conv2d")
    XCTAssertEqual(table[12].name, "cls.0")
    XCTAssertEqual(table[12].outputShape, [32, 42, 42])
    XCTAssertEqual(table.last?.label, "13-linear")
    XCTAssertEqual(table.last?.name, "cls.12")
    XCTAssertEqual(table.last?.outputShape, [10])
    // The names are the summary's.
    XCTAssertEqual(table.dropFirst().map(\.name), model.summaryRows.map(\.name))
  }

  func testTransformerInsideTheModelGetsItsPositionAsPrefix() throws {
    let spec = try ModelSpec.fromJSON(
      #"[{"conv2d": {"out": 2, "kernel": 3, "padding": 1}}, "relu", {"spatial_transformer": {"constraint": "translation", "#
        + #""localization": ["flatten", {"linear": 2}]}}, "flatten", {"linear": "classes"}]"#, source: "test")
    let model = try Model(spec: spec, inputShape: [1, 6, 6], classCount: 3)
    XCTAssertEqual(model.layerTable.map(\.label), [
      "input", "00-conv2d", "01-relu", "02-spatial_transformer", "02.00-flatten", "02.01-linear", "03-flatten", "04-linear",
    ])
    XCTAssertEqual(model.layerTable.map(\.name), ["input", "0", "1", "2", "2.loc.0", "2.loc.1", "3", "4"])
  }

  func testOutputsHaveTheTableShapesAndEndInThePredictedLogits() throws {
    let model = try Model(spec: .benchmarkSTCNN, inputShape: [1, 42, 42], classCount: 10, seed: 3)
    var random = RandomStream(seed: 5)
    let input = Tensor(shape: [2, 1, 42, 42], data: (0..<(2 * 42 * 42)).map { _ in random.nextUnitFloat() })
    let outputs = model.layerOutputs(input)
    XCTAssertEqual(outputs.map(\.entry), model.layerTable)
    for (entry, value) in outputs { XCTAssertEqual(value.shape, [2] + entry.outputShape, entry.label) }
    XCTAssertEqual(outputs[0].value, input)
    // Unfused max_pool2d then relu: the same logits as the fused path `predict` takes.
    XCTAssertEqual(outputs.last?.value, model.predict(input))
    let pool = try XCTUnwrap(outputs.first { $0.entry.label == "02-max_pool2d" }).value
    let relu = try XCTUnwrap(outputs.first { $0.entry.label == "03-relu" }).value
    XCTAssertTrue(pool.data.contains { $0 < 0 }, "the pooling's own output, before the relu")
    XCTAssertEqual(relu.data, pool.data.map { max(0, $0) })
    XCTAssertTrue(model.training, "training mode is restored")
  }

  func testRecordingSurvivesGraphReset() throws {
    let model = try Model(spec: .benchmarkSTCNN, inputShape: [1, 42, 42], classCount: 10)
    let graph = Graph(parameters: model.parameters, training: false)
    graph.layerOutputs = [:]
    _ = model.forward(graph, Tensor(shape: [1, 1, 42, 42]))
    XCTAssertEqual(graph.layerOutputs?.count, model.layerTable.count - 1)
    graph.reset()
    XCTAssertEqual(graph.layerOutputs?.count, 0, "still on, emptied")
    let plain = Graph(parameters: model.parameters, training: false)
    _ = model.forward(plain, Tensor(shape: [1, 1, 42, 42]))
    XCTAssertNil(plain.layerOutputs, "off by default")
  }
}
