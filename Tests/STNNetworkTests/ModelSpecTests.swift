import Foundation
import STNTensor
import XCTest

@testable import STNNetwork

/// Spec decoding (the YAML-equivalent JSON), validation errors, PyTorch names and the summary.
final class ModelSpecTests: XCTestCase {
  private func decode(_ json: String) throws -> ModelSpec {
    try JSONDecoder().decode(ModelSpec.self, from: Data(json.utf8))
  }

  private func buildError(_ spec: ModelSpec, inputShape: [Int] = [1, 42, 42], classes: Int = 10) -> ModelSpecError? {
    do {
      _ = try Model(spec: spec, inputShape: inputShape, classCount: classes)
      return nil
    } catch let error as ModelSpecError {
      return error
    } catch {
      XCTFail("unexpected error \(error)")
      return nil
    }
  }

  func testBenchmarkSTCNNFromItsWrittenForm() throws {
    let json = """
      [{"spatial_transformer": {"constraint": "affine", "localization": [
          {"conv2d": {"out": 8, "kernel": 7}}, {"max_pool2d": 2}, "relu",
          {"conv2d": {"out": 10, "kernel": 5}}, {"max_pool2d": 2}, "relu",
          "flatten", {"linear": 32}, "relu", {"linear": 6}]}},
       {"conv2d": {"out": 32, "kernel": 5, "padding": 2}}, {"max_pool2d": 2}, "relu",
       {"conv2d": {"out": 32, "kernel": 5, "padding": 2}}, {"max_pool2d": 2}, "relu",
       {"conv2d": {"out": 64, "kernel": 5, "padding": 2}}, {"max_pool2d": 2}, "relu",
       "flatten", {"linear": 64}, "relu", {"linear": "classes"}]
      """
    XCTAssertEqual(try decode(json), ModelSpec.benchmarkSTCNN)
    // The canonical JSON round-trips, also in the {layers: [...]} form.
    let text = ModelSpec.benchmarkSTCNN.jsonString()
    XCTAssertEqual(try ModelSpec.fromJSON(text, source: "test"), ModelSpec.benchmarkSTCNN)
    XCTAssertEqual(try decode("{\"layers\": \(text)}"), ModelSpec.benchmarkSTCNN)
  }

  func testEveryLayerKindDecodesAndRoundTrips() throws {
    let json = """
      [{"conv2d": {"out": 4, "kernel": 3, "stride": 2, "padding": 1, "dilation": 1, "bias": false}},
       {"batch_norm2d": {}}, "batch_norm2d", {"batch_norm2d": {"eps": 0.001, "momentum": 0.2}},
       {"avg_pool2d": {"kernel": 2, "count_include_pad": false}}, {"max_pool2d": {"kernel": 3, "stride": 1, "padding": 1, "ceil_mode": true}},
       "leaky_relu", {"leaky_relu": 0.2}, "sigmoid", "tanh", {"relu": null},
       "flatten", {"dropout": 0.25}, "dropout", {"linear": {"out": 7, "bias": false}}, {"linear": "classes"}]
      """
    let spec = try decode(json)
    XCTAssertEqual(spec.layers.count, 16)
    XCTAssertEqual(spec.layers[0], .conv2d(Conv2DSpec(out: 4, kernel: 3, stride: 2, padding: 1, bias: false)))
    XCTAssertEqual(spec.layers[3], .batchNorm2d(BatchNormSpec(eps: 0.001, momentum: 0.2)))
    XCTAssertEqual(spec.layers[5], .maxPool2d(PoolSpec(kernel: 3, stride: 1, padding: 1, ceilMode: true)))
    XCTAssertEqual(spec.layers[7], .leakyReLU(slope: 0.2))
    XCTAssertEqual(spec.layers[13], .dropout(probability: 0.5))
    XCTAssertEqual(try ModelSpec.fromJSON(spec.jsonString(), source: "test"), spec)
    let model = try Model(spec: spec, inputShape: [3, 9, 9], classCount: 5)
    XCTAssertEqual(model.layers.last?.outputShape, [5])
    XCTAssertEqual(model.batchNorms.count, 3)
  }

  func testDecodingErrorsNameTheLayerAndKey() {
    func message(_ json: String) -> String {
      do {
        _ = try ModelSpec.fromJSON(json, source: "model.json")
        return "no error"
      } catch {
        return "\(error)"
      }
    }
    let unknownKey = message(#"["relu", {"conv2d": {"out": 8, "kernal": 3}}]"#)
    XCTAssertTrue(unknownKey.contains("[1]") && unknownKey.contains("kernal") && unknownKey.contains("allowed"), unknownKey)
    let unknownLayer = message(#"["relu", "softmax"]"#)
    XCTAssertTrue(unknownLayer.contains("[1]") && unknownLayer.contains("unknown layer softmax"), unknownLayer)
    let twoKeys = message(#"[{"relu": null, "tanh": null}]"#)
    XCTAssertTrue(twoKeys.contains("exactly one key"), twoKeys)
    let badConstraint = message(#"[{"spatial_transformer": {"localization": ["flatten", {"linear": 6}], "constraint": "shear"}}]"#)
    XCTAssertTrue(badConstraint.contains("unknown constraint shear"), badConstraint)
    let missing = message(#"[{"conv2d": {"kernel": 3}}]"#)
    XCTAssertTrue(missing.contains("missing key out"), missing)
    let needsSettings = message(#"["conv2d"]"#)
    XCTAssertTrue(needsSettings.contains("needs settings"), needsSettings)
  }

  func testValidationErrorsNameTheLayerAndReason() {
    let noFlatten = buildError(ModelSpec([.conv2d(Conv2DSpec(out: 4, kernel: 3)), .linear(LinearSpec(out: nil))]))
    XCTAssertEqual(noFlatten?.layer, "layer 1 (linear)")
    XCTAssertTrue(noFlatten?.reason.contains("add `flatten`") ?? false)

    let bigKernel = buildError(ModelSpec([.conv2d(Conv2DSpec(out: 4, kernel: 9)), .flatten, .linear(LinearSpec(out: nil))]), inputShape: [1, 5, 5])
    XCTAssertEqual(bigKernel?.layer, "layer 0 (conv2d)")
    XCTAssertTrue(bigKernel?.reason.contains("does not fit the 5x5 input") ?? false)

    let classesEarly = buildError(ModelSpec([.flatten, .linear(LinearSpec(out: nil)), .relu, .linear(LinearSpec(out: 10))]))
    XCTAssertEqual(classesEarly?.layer, "layer 1 (linear)")

    let wrongEnd = buildError(ModelSpec([.flatten, .linear(LinearSpec(out: 7))]))
    XCTAssertTrue(wrongEnd?.reason.contains("10 classes") ?? false)

    let convAfterFlatten = buildError(ModelSpec([.flatten, .conv2d(Conv2DSpec(out: 4, kernel: 3)), .linear(LinearSpec(out: nil))]))
    XCTAssertEqual(convAfterFlatten?.layer, "layer 1 (conv2d)")

    let badDropout = buildError(ModelSpec([.flatten, .dropout(probability: 1), .linear(LinearSpec(out: nil))]))
    XCTAssertEqual(badDropout?.layer, "layer 1 (dropout)")

    let locEnd = buildError(ModelSpec([
      .spatialTransformer(SpatialTransformerSpec(localization: [.flatten, .linear(LinearSpec(out: 6))], constraint: .rts)),
      .flatten, .linear(LinearSpec(out: nil)),
    ]))
    XCTAssertEqual(locEnd?.layer, "layer 0 (spatial_transformer)")
    XCTAssertTrue(locEnd?.reason.contains("{linear: 4}") ?? false, "\(String(describing: locEnd))")

    let locInner = buildError(ModelSpec([
      .spatialTransformer(SpatialTransformerSpec(localization: [.linear(LinearSpec(out: 6))])), .flatten, .linear(LinearSpec(out: nil)),
    ]))
    XCTAssertEqual(locInner?.layer, "layer 0 (spatial_transformer) > localization layer 0 (linear)")

    XCTAssertNotNil(buildError(ModelSpec([.flatten, .linear(LinearSpec(out: nil))]), inputShape: [42, 42]))
    XCTAssertNotNil(buildError(ModelSpec([]), inputShape: [1, 4, 4]))
  }

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

  func testArgmaxRowsPicksTheFirstMaximum() {
    XCTAssertEqual(argmaxRows(Tensor(shape: [3, 3], data: [0, 2, 1, 5, 5, 1, -1, -3, -0.5])), [1, 0, 2])
  }
}
