import STNTestSupport
import STNWarp
import XCTest

@testable import STNPipeline

final class PipelineConfigTests: XCTestCase {
  /// Parses `yaml` expecting an error; returns it.
  private func parseError(_ yaml: String, file: StaticString = #filePath, line: UInt = #line) -> PipelineError? {
    do {
      _ = try PipelineConfig.parse(yaml: yaml, path: "test.yaml")
      XCTFail("expected an error", file: file, line: line)
      return nil
    } catch let error as PipelineError {
      return error
    } catch {
      XCTFail("unexpected error type \(error)", file: file, line: line)
      return nil
    }
  }

  func testParsesEveryStageKind() throws {
    let config = try PipelineConfig.parse(yaml: """
      decode: {channels: 1}
      stages:
        - pad: {size: [42, 42], position: random}
        - affine: {rotate: 10, scale: 2, translate: [1, 2], shear: 5}
        - affine: {matrix: [[1, 0, 3], [0, 1, 4]]}
        - random_affine: {degrees: [-10, 20], translate: inside, scale: [0.5, 1.5], shear: [-1, 1, -2, 2], hflip: 0.5, vflip: 0.25, fill: 7}
        - resize: {shorter_side: 32}
        - center_crop: {size: 30}
        - pad: {padding: [1, 2]}
        - normalize: {mean: 0.5, std: [0.25]}
      batch: {size: 8, shuffle: false, drop_last: true}
      seed: 42
      """, path: "test.yaml")
    XCTAssertEqual(config.channels, 1)
    XCTAssertEqual(config.seed, 42)
    XCTAssertEqual(config.batching, BatchingConfig(size: 8, shuffle: false, dropLast: true))
    XCTAssertEqual(config.stages.map(\.name), ["pad", "affine", "affine", "random_affine", "resize", "center_crop", "pad", "normalize"])
    XCTAssertEqual(config.stages.map(\.line), [3, 4, 5, 6, 7, 8, 9, 10])
    XCTAssertEqual(config.stages[0].stage, .pad(.canvas(width: 42, height: 42, position: .random)))
    XCTAssertEqual(config.stages[1].stage, .affine(.named(rotate: 10, scale: 2, translateX: 1, translateY: 2, shearX: 5, shearY: 0)))
    XCTAssertEqual(config.stages[2].stage, .affine(.matrix(STNWarp.AffineTransform(a: 1, b: 0, c: 3, d: 0, e: 1, f: 4))))
    guard case .randomAffine(let random) = config.stages[3].stage else { return XCTFail("not random_affine") }
    XCTAssertEqual(random.degrees, -10...20)
    XCTAssertEqual(random.translate, .inside)
    XCTAssertEqual(random.scale, 0.5...1.5)
    XCTAssertEqual(random.shearX, -1...1)
    XCTAssertEqual(random.shearY, -2...2)
    XCTAssertEqual(random.hflip, 0.5)
    XCTAssertEqual(random.vflip, 0.25)
    XCTAssertEqual(config.resample.fill, [7])
    XCTAssertEqual(config.stages[4].stage, .resize(.shorterSide(32)))
    XCTAssertEqual(config.stages[5].stage, .centerCrop(width: 30, height: 30))
    XCTAssertEqual(config.stages[6].stage, .pad(.borders(left: 1, top: 2, right: 1, bottom: 2)))
    let (scale, bias) = config.outputScaleBias
    XCTAssertEqual(scale[0], 1 / (255 * 0.25), accuracy: 1e-7)
    XCTAssertEqual(bias[0], -2, accuracy: 1e-7)
  }

  func testUnknownKeyNamesFileLineAndKey() {
    let error = parseError("""
      decode:
        channels: 3
      stages:
        - random_affine:
            degrees: 30
            rotation: 5
      """)
    XCTAssertEqual(error?.file, "test.yaml")
    XCTAssertEqual(error?.line, 6)
    XCTAssertTrue(error?.reason.contains("unknown key 'rotation'") ?? false, error?.reason ?? "")
    XCTAssertTrue(error?.description.hasPrefix("test.yaml:6:") ?? false, error?.description ?? "")
  }

  func testUnknownTopLevelKeyAndStage() {
    XCTAssertEqual(parseError("seed: 1\nbatches: {size: 3}\n")?.line, 2)
    let stage = parseError("stages:\n  - resize: {size: 4}\n  - blur: {sigma: 1}\n")
    XCTAssertEqual(stage?.line, 3)
    XCTAssertTrue(stage?.reason.contains("unknown stage 'blur'") ?? false)
  }

  func testOutOfRangeValuesAreRejectedWithTheirLine() {
    let cases: [(String, Int, String)] = [
      ("decode: {channels: 4}\n", 1, "channels must be 1 or 3"),
      ("stages:\n  - random_affine:\n      scale: [1.2, 0.7]\n", 3, "scale range"),
      ("stages:\n  - random_affine:\n      hflip: 1.5\n", 3, "probability"),
      ("stages:\n  - random_affine:\n      translate: [0.1, 2]\n", 3, "translate fractions"),
      ("stages:\n  - random_affine: {degrees: -5}\n", 2, "must be >= 0"),
      ("stages:\n  - random_affine: {interpolation: bicubic}\n", 2, "bilinear or nearest"),
      ("stages:\n  - random_affine: {padding_mode: wrap}\n", 2, "zeros, border or reflection"),
      ("stages:\n  - resize: {size: [0, 10]}\n", 2, "1...65536"),
      ("stages:\n  - resize: {size: [10, 10], shorter_side: 3}\n", 2, "not both"),
      ("stages:\n  - normalize: {mean: [0.5], std: [0]}\n", 2, "must be > 0"),
      ("decode: {channels: 3}\nstages:\n  - normalize: {mean: [0.5, 0.5], std: [1]}\n", 3, "needs 1 or 3 values"),
      ("stages:\n  - affine: {matrix: [[1, 0, 0], [2, 0, 0]]}\n", 2, "not invertible"),
      ("stages:\n  - pad: {size: 42, position: corner}\n", 2, "center or random"),
      ("batch:\n  size: 0\n", 2, "batch.size"),
      ("batch:\n  shuffle: maybe\n", 2, "true or false"),
      ("seed: -1\n", 1, "seed must be >= 0"),
      ("seed: 1\nseed: 2\n", 2, "duplicate key"),
      ("stages:\n  - normalize: {mean: 0, std: 1}\n  - resize: {size: 4}\n", 3, "after normalize"),
      ("stages:\n  - random_affine: {fill: 300}\n", 2, "0...255"),
      ("stages:\n  - random_affine: {interpolation: nearest}\n  - resize: {size: 4, interpolation: bilinear}\n", 3, "conflicts"),
      ("stages: [\n", 2, "YAML syntax error"),
    ]
    for (yaml, line, fragment) in cases {
      guard let error = parseError(yaml) else { continue }
      XCTAssertEqual(error.line, line, "\(yaml): \(error)")
      XCTAssertTrue(error.reason.contains(fragment), "\(yaml): '\(error.reason)' lacks '\(fragment)'")
    }
  }

  func testModelAndTrainSectionsPassThroughUnvalidated() throws {
    let config = try PipelineConfig.parse(yaml: """
      model:
        - conv2d: {out: 32, kernel: 5, anything: [1, 2]}
        - relu: {}
      train:
        epochs: 10
        optimizer: {adam: {lr: 0.001}}
      """)
    let layers = try XCTUnwrap(config.model).sequence("model")
    XCTAssertEqual(layers.count, 2)
    XCTAssertEqual(layers[0].line, 2)
    var first = try layers[0].mapping("layer")
    XCTAssertEqual(try first.required("conv2d").mapping("conv2d").keys, ["out", "kernel", "anything"])
    var train = try XCTUnwrap(config.train).mapping("train")
    XCTAssertEqual(try train.required("epochs").int("epochs"), 10)
  }

  func testSourceSpecs() throws {
    let idx = try PipelineConfig.parse(yaml: "source: {idx: data/fm, split: test}\n", path: "/p/pipe.yaml")
    XCTAssertEqual(idx.source, .idx(folder: "/p/data/fm", split: "test"))
    let folder = try PipelineConfig.parse(yaml: "source: {image_folder: /abs}\n", path: "/p/pipe.yaml")
    XCTAssertEqual(folder.source, .imageFolder(path: "/abs"))
    XCTAssertEqual(parseError("source: {idx: a, split: val}\n")?.line, 1)
    XCTAssertEqual(parseError("source: {}\n")?.line, 1)
  }

  func testEmptyPipelineIsIdentityWithDefaults() throws {
    let config = try PipelineConfig.parse(yaml: "")
    XCTAssertTrue(config.stages.isEmpty)
    XCTAssertEqual(config.channels, 3)
    XCTAssertEqual(config.batching, BatchingConfig())
  }

  /// Every file in pipelines/ loads, and the bundled ones say what the issue asks.
  func testBundledPipelinesLoad() throws {
    let folder = Golden.packageRoot + "/pipelines"
    let names = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".yaml") }.sorted()
    for required in ["example-all-options.yaml", "fashion-mnist-rts.yaml", "identity.yaml", "photos-augment.yaml"] {
      XCTAssertTrue(names.contains(required), "missing \(required)")
    }
    for name in names {
      XCTAssertNoThrow(try PipelineConfig.load(path: folder + "/" + name), name)
    }
    let rts = try PipelineConfig.load(path: folder + "/fashion-mnist-rts.yaml")
    XCTAssertEqual(rts.channels, 1)
    XCTAssertEqual(rts.source, .idx(folder: "/usr/share/datasets/fashion-mnist", split: "train"))
    XCTAssertEqual(rts.stages.first?.stage, .pad(.canvas(width: 42, height: 42, position: .center)))
    guard case .randomAffine(let random)? = rts.stages.dropFirst().first?.stage else { return XCTFail("no random_affine") }
    XCTAssertEqual(random.degrees, -45...45)
    XCTAssertEqual(random.scale, 0.7...1.2)
    XCTAssertEqual(random.translate, .inside)
    XCTAssertEqual(rts.normalization?.mean, [0.1307])
    XCTAssertEqual(rts.normalization?.std, [0.3081])
    let photos = try PipelineConfig.load(path: folder + "/photos-augment.yaml")
    XCTAssertEqual(photos.batching.size, 64)
    XCTAssertTrue(photos.stages.contains { $0.stage == .resize(.size(width: 224, height: 224)) })
    let identity = try PipelineConfig.load(path: folder + "/identity.yaml")
    XCTAssertTrue(identity.stages.isEmpty)
    XCTAssertEqual(identity.channels, 3)
  }
}
