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
}
