import Foundation
import STNTensor
import XCTest

@testable import STNNetwork

/// Built models: PyTorch state-dict names, parameter counts, initialization, shapes, summary.
final class ModelTests: XCTestCase {
  func testBenchmarkSTCNNNamesAndCountsMatchPyTorch() throws {
    let model = try Model(spec: .benchmarkSTCNN, inputShape: [1, 42, 42], classCount: 10)
    XCTAssertEqual(model.parameters.entries.map(\.name), [
      "loc.0.weight", "loc.0.bias", "loc.3.weight", "loc.3.bias", "loc.7.weight", "loc.7.bias", "loc.9.weight", "loc.9.bias",
      "cls.0.weight", "cls.0.bias", "cls.3.weight", "cls.3.bias", "cls.6.weight", "cls.6.bias",
      "cls.10.weight", "cls.10.bias", "cls.12.weight", "cls.12.bias",
    ])
    XCTAssertEqual(model.parameters.entries[4].shape, [32, 490])
    XCTAssertEqual(model.parameters.entries[10].shape, [32, 32, 5, 5])
    XCTAssertEqual(model.parameters.entries[14].shape, [64, 1600])
    // sum(p.numel() for p in STCNN().parameters()) in PyTorch.
    XCTAssertEqual(model.parameterCount, 199_162)
    // Identity init of the transformer's last layer.
    let last = try XCTUnwrap(model.parameters.parameter(named: "loc.9.bias"))
    XCTAssertEqual(model.parameters.tensor(last).data, [1, 0, 0, 0, 1, 0])
    XCTAssertTrue(model.parameters.tensor(try XCTUnwrap(model.parameters.parameter(named: "loc.9.weight"))).data.allSatisfy { $0 == 0 })

    let cnn = try Model(spec: .benchmarkCNN, inputShape: [1, 42, 42], classCount: 10)
    XCTAssertEqual(cnn.parameters.entries.map(\.name).first, "0.weight")
    XCTAssertEqual(cnn.parameters.entries.map(\.name).last, "12.bias")
    XCTAssertEqual(cnn.parameterCount, 180_842)
  }

  func testTransformerInsideTheModelIsNamedByPosition() throws {
    let spec = ModelSpec([
      .conv2d(Conv2DSpec(out: 2, kernel: 3, padding: 1)), .relu,
      .spatialTransformer(SpatialTransformerSpec(localization: [.flatten, .linear(LinearSpec(out: 2))], constraint: .translation)),
      .flatten, .linear(LinearSpec(out: nil)),
    ])
    let model = try Model(spec: spec, inputShape: [1, 6, 6], classCount: 3)
    XCTAssertEqual(model.parameters.entries.map(\.name), ["0.weight", "0.bias", "2.loc.1.weight", "2.loc.1.bias", "4.weight", "4.bias"])
    XCTAssertEqual(model.spatialTransformers.first?.name, "2")
  }

  func testInitializationIsPyTorchDefaultAndSeeded() throws {
    let a = try Model(spec: .benchmarkCNN, inputShape: [1, 42, 42], classCount: 10, seed: 7)
    let b = try Model(spec: .benchmarkCNN, inputShape: [1, 42, 42], classCount: 10, seed: 7)
    let c = try Model(spec: .benchmarkCNN, inputShape: [1, 42, 42], classCount: 10, seed: 8)
    XCTAssertEqual(a.parameters.values, b.parameters.values)
    XCTAssertNotEqual(a.parameters.values, c.parameters.values)
    // cls conv 3: fan_in = 32·5·5 = 800, bound 1/sqrt(800) ≈ 0.0354; values fill the range.
    let weight = a.parameters.tensor(try XCTUnwrap(a.parameters.parameter(named: "3.weight"))).data
    let bound = 1 / Float(800).squareRoot()
    XCTAssertLessThanOrEqual(weight.map { abs($0) }.max() ?? 1, bound)
    XCTAssertGreaterThan(weight.map { abs($0) }.max() ?? 0, 0.95 * bound)
    let mean = weight.reduce(0, +) / Float(weight.count)
    XCTAssertLessThan(abs(mean), 0.002)
  }

  func testSummaryListsLayersShapesAndTotals() throws {
    let model = try Model(spec: .benchmarkSTCNN, inputShape: [1, 42, 42], classCount: 10)
    let text = model.summary()
    XCTAssertTrue(text.contains("Conv2d(1, 8, kernel_size=(7, 7), stride=(1, 1))"), text)
    XCTAssertTrue(text.contains("[10, 7, 7]"), text)
    XCTAssertTrue(text.contains("Linear(in_features=1600, out_features=64, bias=True)"), text)
    XCTAssertTrue(text.contains("102,464"), text)
    XCTAssertTrue(text.contains("Total params: 199,162"), text)
    let rows = model.summaryRows.map(\.name)
    XCTAssertEqual(rows.first, "st")
    XCTAssertEqual(rows[1], "loc.0")
    XCTAssertEqual(rows.last, "cls.12")
    XCTAssertEqual(model.summaryRows.first { $0.name == "cls.8" }?.outputShape, [64, 5, 5])
  }

  func testShapeInferenceFollowsPyTorch() throws {
    let spec = ModelSpec([
      .maxPool2d(PoolSpec(kernel: 2, ceilMode: true)), .conv2d(Conv2DSpec(out: 4, kernel: 3, stride: 2, dilation: 2)),
      .avgPool2d(PoolSpec(kernel: 3, stride: 2, padding: 1, ceilMode: true)), .flatten, .linear(LinearSpec(out: nil)),
    ])
    let model = try Model(spec: spec, inputShape: [2, 15, 11], classCount: 3)
    // Shapes printed by the same nn.Sequential in PyTorch: 8x6, 2x1, 2x1.
    XCTAssertEqual(model.summaryRows.map(\.outputShape), [[2, 8, 6], [4, 2, 1], [4, 2, 1], [8], [3]])
  }

  func testArgmaxRowsPicksTheFirstMaximum() {
    XCTAssertEqual(argmaxRows(Tensor(shape: [3, 3], data: [0, 2, 1, 5, 5, 1, -1, -3, -0.5])), [1, 0, 2])
  }
}
