import Foundation
import STNTensor
import XCTest

@testable import STNNetwork

/// Spec decoding (the YAML-equivalent JSON), validation errors, PyTorch names and the summary.
final class ModelSpecTests: XCTestCase {
  private func decode(_ json: String) throws -> ModelSpec {
    try JSONDecoder().decode(ModelSpec.self, from: Data(json.utf8))
  }

  private func buildError(_ spec: ModelSpec, inputShape: [Int] = [1, 42, 42], classes: Int = 10) -> SettingError? {
    do {
      _ = try Model(spec: spec, inputShape: inputShape, classCount: classes)
      return nil
    } catch let error as SettingError {
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

  /// The error decoding `json` gives, as text ("no error" when it decodes).
  private func message(_ json: String) -> String {
    do {
      _ = try ModelSpec.fromJSON(json, source: "model.json")
      return "no error"
    } catch {
      return "\(error)"
    }
  }

  func testDecodingErrorsNameTheLayerAndKey() {
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
    XCTAssertEqual(noFlatten?.setting, "model layer 1 (linear)")
    XCTAssertTrue(noFlatten?.reason.contains("add `flatten`") ?? false)

    let bigKernel = buildError(ModelSpec([.conv2d(Conv2DSpec(out: 4, kernel: 9)), .flatten, .linear(LinearSpec(out: nil))]), inputShape: [1, 5, 5])
    XCTAssertEqual(bigKernel?.setting, "model layer 0 (conv2d)")
    XCTAssertTrue(bigKernel?.reason.contains("does not fit the 5x5 input") ?? false)

    let classesEarly = buildError(ModelSpec([.flatten, .linear(LinearSpec(out: nil)), .relu, .linear(LinearSpec(out: 10))]))
    XCTAssertEqual(classesEarly?.setting, "model layer 1 (linear)")

    let wrongEnd = buildError(ModelSpec([.flatten, .linear(LinearSpec(out: 7))]))
    XCTAssertTrue(wrongEnd?.reason.contains("10 classes") ?? false)

    let convAfterFlatten = buildError(ModelSpec([.flatten, .conv2d(Conv2DSpec(out: 4, kernel: 3)), .linear(LinearSpec(out: nil))]))
    XCTAssertEqual(convAfterFlatten?.setting, "model layer 1 (conv2d)")

    let badDropout = buildError(ModelSpec([.flatten, .dropout(probability: 1), .linear(LinearSpec(out: nil))]))
    XCTAssertEqual(badDropout?.setting, "model layer 1 (dropout)")

    let locEnd = buildError(ModelSpec([
      .spatialTransformer(SpatialTransformerSpec(localization: [.flatten, .linear(LinearSpec(out: 6))], constraint: .rts)),
      .flatten, .linear(LinearSpec(out: nil)),
    ]))
    XCTAssertEqual(locEnd?.setting, "model layer 0 (spatial_transformer)")
    XCTAssertTrue(locEnd?.reason.contains("{linear: 4}") ?? false, "\(String(describing: locEnd))")

    let locInner = buildError(ModelSpec([
      .spatialTransformer(SpatialTransformerSpec(localization: [.linear(LinearSpec(out: 6))])), .flatten, .linear(LinearSpec(out: nil)),
    ]))
    XCTAssertEqual(locInner?.setting, "model layer 0 (spatial_transformer) > localization layer 0 (linear)")

    XCTAssertNotNil(buildError(ModelSpec([.flatten, .linear(LinearSpec(out: nil))]), inputShape: [42, 42]))
    XCTAssertNotNil(buildError(ModelSpec([]), inputShape: [1, 4, 4]))
  }
}

// MARK: - Transform families

extension ModelSpecTests {
  func testTransformFamiliesDecodeSizeThetaAndRoundTrip() throws {
    let json = """
      [{"spatial_transformer": {"transform": "tps", "control_grid": 3, "localization": ["flatten", {"linear": 16}, "relu", {"linear": "theta"}]}},
       {"spatial_transformer": {"transform": "projective", "localization": ["flatten", {"linear": {"out": "theta"}}]}},
       {"spatial_transformer": {"constraint": "rts", "localization": ["flatten", {"linear": "theta"}]}},
       {"spatial_transformer": {"transform": "affine", "localization": ["flatten", {"linear": 6}]}},
       "flatten", {"linear": "classes"}]
      """
    let spec = try decode(json)
    guard case .spatialTransformer(let tps) = spec.layers[0], case .spatialTransformer(let projective) = spec.layers[1],
          case .spatialTransformer(let rts) = spec.layers[2], case .spatialTransformer(let affine) = spec.layers[3] else {
      return XCTFail("four transformers expected")
    }
    XCTAssertEqual(tps.spatialTransform, .thinPlateSpline(gridSize: 3))
    XCTAssertEqual(projective.spatialTransform, .projective)
    XCTAssertEqual(rts.spatialTransform, .affine(.rts))
    XCTAssertEqual(affine.spatialTransform, .affine(.affine))
    XCTAssertEqual(projective.localization.last, .linear(LinearSpec(out: nil, sizedBy: .theta)))
    // The canonical JSON keeps the family (and the control grid) and round-trips; an affine
    // transformer is written as before the families existed.
    let text = spec.jsonString()
    XCTAssertTrue(text.contains(#""control_grid":3"#) && text.contains(#""transform":"tps""#) && text.contains(#""transform":"projective""#), text)
    XCTAssertTrue(text.contains(#"{"spatial_transformer":{"constraint":"affine","localization":["flatten",{"linear":6}]}}"#), text)
    XCTAssertEqual(try ModelSpec.fromJSON(text, source: "test"), spec)
    XCTAssertEqual(ModelSpec.benchmarkSTCNN.jsonString(), try ModelSpec.fromJSON(ModelSpec.benchmarkSTCNN.jsonString(), source: "test").jsonString())
    // `theta` sizes each localization's last layer: 2·3² = 18, 8, 4 (rts), 6.
    let model = try Model(spec: spec, inputShape: [1, 6, 6], classCount: 3)
    XCTAssertEqual(model.spatialTransformers.map(\.transform), [.thinPlateSpline(gridSize: 3), .projective, .affine(.rts), .affine(.affine)])
    XCTAssertEqual(model.parameters.parameter(named: "loc.3.bias")?.shape, [18])
    XCTAssertEqual(model.parameters.parameter(named: "1.loc.1.bias")?.shape, [8])
    XCTAssertEqual(model.parameters.parameter(named: "2.loc.1.bias")?.shape, [4])
    XCTAssertTrue(model.summary().contains("SpatialTransformer(transform=tps, control_points=3x3, align_corners=False)"), model.summary())
    XCTAssertTrue(model.summary().contains("SpatialTransformer(transform=projective, align_corners=False)"))
  }

  func testTransformFamilyErrors() {
    let constraint = message(#"[{"spatial_transformer": {"transform": "projective", "constraint": "rts", "localization": ["flatten", {"linear": "theta"}]}}]"#)
    XCTAssertTrue(constraint.contains("constraint applies to the affine transform only, not to transform: projective"), constraint)
    let grid = message(#"[{"spatial_transformer": {"control_grid": 3, "localization": ["flatten", {"linear": "theta"}]}}]"#)
    XCTAssertTrue(grid.contains("control_grid applies to transform: tps only"), grid)
    let family = message(#"[{"spatial_transformer": {"transform": "elastic", "localization": ["flatten", {"linear": "theta"}]}}]"#)
    XCTAssertTrue(family.contains("unknown transform elastic (known: affine, projective, tps)"), family)
    let word = message(#"["flatten", {"linear": "thetas"}]"#)
    XCTAssertTrue(word.contains("linear takes a size, `classes` or `theta`"), word)

    let thetaOutside = buildError(ModelSpec([.flatten, .linear(LinearSpec(out: nil, sizedBy: .theta)), .linear(LinearSpec(out: nil))]))
    XCTAssertEqual(thetaOutside?.setting, "model layer 1 (linear)")
    XCTAssertTrue(thetaOutside?.reason.contains("`theta` is only allowed") ?? false)
    let thetaInner = buildError(ModelSpec([
      .spatialTransformer(SpatialTransformerSpec(localization: [.flatten, .linear(LinearSpec(out: nil, sizedBy: .theta)), .linear(LinearSpec(out: 8))], transform: .projective)),
      .flatten, .linear(LinearSpec(out: nil)),
    ]))
    XCTAssertEqual(thetaInner?.setting, "model layer 0 (spatial_transformer) > localization layer 1 (linear)")
    let wrongSize = buildError(ModelSpec([
      .spatialTransformer(SpatialTransformerSpec(localization: [.flatten, .linear(LinearSpec(out: 6))], transform: .projective)),
      .flatten, .linear(LinearSpec(out: nil)),
    ]))
    XCTAssertTrue(wrongSize?.reason.contains("`{linear: theta}` or `{linear: 8}` (with bias) for transform projective") ?? false, "\(String(describing: wrongSize))")
    let bigGrid = buildError(ModelSpec([
      .spatialTransformer(SpatialTransformerSpec(localization: [.flatten, .linear(LinearSpec(out: nil, sizedBy: .theta))], transform: .tps, controlGrid: 9)),
      .flatten, .linear(LinearSpec(out: nil)),
    ]))
    XCTAssertTrue(bigGrid?.reason.contains("control_grid must be 2...8") ?? false, "\(String(describing: bigGrid))")
    XCTAssertNotNil(buildError(ModelSpec([
      .spatialTransformer(SpatialTransformerSpec(localization: [.flatten, .linear(LinearSpec(out: 2))], transform: .tps, controlGrid: 1)),
      .flatten, .linear(LinearSpec(out: nil)),
    ])))
  }
}
