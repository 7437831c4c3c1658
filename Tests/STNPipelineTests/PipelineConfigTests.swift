import Foundation
import STNTensor
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

  /// Each (yaml, line, fragment) fails to parse on that line with a reason containing fragment.
  private func assertErrors(_ cases: [(String, Int, String)], file: StaticString = #filePath, line: UInt = #line) {
    for (yaml, expectedLine, fragment) in cases {
      guard let error = parseError(yaml, file: file, line: line) else { continue }
      XCTAssertEqual(error.line, expectedLine, "\(yaml): \(error)", file: file, line: line)
      XCTAssertTrue(error.reason.contains(fragment), "\(yaml): '\(error.reason)' lacks '\(fragment)'", file: file, line: line)
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
    XCTAssertEqual(config.stages[1].stage, .affine(.named(AffineParameters(angle: 10, translateX: 1, translateY: 2, scale: 2, shearX: 5, shearY: 0))))
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

  /// A required key spelled wrong names the misspelled key and its line, not only the missing one.
  func testMisspelledRequiredKeyIsNamed() {
    let error = parseError("decode:\n  channels: 3\nstages:\n  - random_elastic:\n      sigm: 4\n")
    XCTAssertEqual(error?.line, 5)
    XCTAssertTrue(error?.reason.contains("random_elastic needs 'sigma'; is 'sigm' a misspelling of it?") ?? false, error?.reason ?? "")
    XCTAssertEqual(MappingReader.editDistance("checkpont", "checkpoint"), 1)
    XCTAssertEqual(MappingReader.editDistance("", "abc"), 3)
    // Far from the key: the plain message.
    XCTAssertEqual(parseError("stages:\n  - random_elastic: {grid: 4}\n")?.reason, "random_elastic needs 'sigma'")
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
    assertErrors(cases)
  }

  /// The resample settings live in the top-level `resample:` section; every geometric stage may
  /// repeat a key (an alias), and repeated keys must agree.
  func testResampleSectionAndPerStageAliases() throws {
    let section = try PipelineConfig.parse(yaml: """
      resample: {interpolation: nearest, padding_mode: border, fill: [1, 2, 3]}
      stages:
        - resize: {size: [8, 8]}
      """)
    XCTAssertEqual(section.resample.interpolation, .nearest)
    XCTAssertEqual(section.resample.padding, .border)
    XCTAssertEqual(section.resample.fill, [1, 2, 3])
    // Every geometric stage accepts every key (resize and center_crop included).
    for stage in ["random_affine: {degrees: 5", "affine: {rotate: 5", "resize: {size: 8", "center_crop: {size: 8", "pad: {padding: 2", "learned_affine: {checkpoint: m.safetensors"] {
      let config = try PipelineConfig.parse(yaml: "stages:\n  - \(stage), interpolation: nearest, padding_mode: reflection, fill: 9}\n")
      XCTAssertEqual(config.resample.interpolation, .nearest, stage)
      XCTAssertEqual(config.resample.padding, .reflection, stage)
      XCTAssertEqual(config.resample.fill, [9], stage)
    }
    // Agreeing repeats are fine; a conflict names both lines, section or stage.
    XCTAssertNoThrow(try PipelineConfig.parse(yaml: "resample: {fill: 9}\nstages:\n  - pad: {padding: 2, fill: 9}\n"))
    let conflict = parseError("resample: {padding_mode: zeros}\nstages:\n  - resize: {size: 8}\n  - center_crop: {size: 4, padding_mode: border}\n")
    XCTAssertEqual(conflict?.line, 4)
    XCTAssertTrue(conflict?.reason.contains("conflicts with 'zeros' on line 1") ?? false, conflict?.reason ?? "")
    XCTAssertEqual(parseError("resample: {fill: 300}\n")?.line, 1)
    XCTAssertEqual(parseError("resample: {blur: 1}\n")?.line, 1)
    // normalize resamples nothing and takes no resample key.
    XCTAssertEqual(parseError("stages:\n  - normalize: {mean: 0, std: 1, fill: 3}\n")?.line, 2)
  }

  /// torchvision `Resize`: `size: n` (or `[n]`, or the `shorter_side: n` alias) sets the shorter
  /// side; `size: [h, w]` is the exact size.
  func testResizeSizeFollowsTorchvision() throws {
    for yaml in ["size: 32", "size: [32]", "shorter_side: 32"] {
      XCTAssertEqual(try PipelineConfig.parse(yaml: "stages:\n  - resize: {\(yaml)}\n").stages.first?.stage, .resize(.shorterSide(32)), yaml)
    }
    XCTAssertEqual(try PipelineConfig.parse(yaml: "stages:\n  - resize: {size: [20, 30]}\n").stages.first?.stage, .resize(.size(width: 30, height: 20)))
    // The planner: the long side is int(n * long / short).
    let planner = ChainPlanner(stages: [.resize(.shorterSide(224))])
    var random = RandomStream(seed: 0)
    let landscape = planner.plan(width: 500, height: 375, random: &random)
    XCTAssertEqual([landscape.outputWidth, landscape.outputHeight], [298, 224])
    let portrait = planner.plan(width: 375, height: 500, random: &random)
    XCTAssertEqual([portrait.outputWidth, portrait.outputHeight], [224, 298])
  }

  func testDecodeExifOrientationAndLearnedStage() throws {
    XCTAssertFalse(try PipelineConfig.parse(yaml: "decode: {channels: 3}\n").exifOrientation)
    XCTAssertTrue(try PipelineConfig.parse(yaml: "decode: {exif_orientation: true}\n").exifOrientation)
    XCTAssertEqual(parseError("decode: {exif_orientation: sideways}\n")?.line, 1)
    let learned = try PipelineConfig.parse(yaml: "stages:\n  - pad: {size: 42}\n  - learned_affine: {checkpoint: /m.safetensors}\n")
    XCTAssertEqual(learned.learnedStage?.line, 3)
    XCTAssertEqual(learned.stages.map(\.stage.isLearned), [false, true])
    XCTAssertNil(try PipelineConfig.parse(yaml: "stages:\n  - pad: {size: 42}\n").learnedStage)
    XCTAssertEqual(parseError("stages:\n  - learned_affine: {checkpoint: a}\n  - learned_affine: {checkpoint: b}\n")?.line, 3)
    // The planner leaves learned_affine out instead of trapping.
    XCTAssertEqual(ChainPlanner(stages: learned.stages.map(\.stage)).stages, [.pad(.canvas(width: 42, height: 42, position: .center))])
  }

  /// Sizes known (or bounded below) before any image is read are checked at load time.
  func testOutputsOverThePixelLimitAreLoadErrorsNamingTheStage() {
    let cases: [(String, Int, String)] = [
      ("stages:\n  - resize: {size: [65536, 65536]}\n", 2, "resize produces at least 65536x65536"),
      ("stages:\n  - resize: {size: 64}\n  - center_crop: {size: [30000, 30000]}\n", 3, "center_crop"),
      ("stages:\n  - pad: {size: [20000, 10000]}\n", 2, "pad"),
      ("stages:\n  - resize: {shorter_side: 20000}\n", 2, "resize"),
      ("stages:\n  - resize: {size: [10000, 10000]}\n  - affine: {rotate: 3}\n  - pad: {padding: [5000, 0]}\n", 4, "at least 20000x10000"),
    ]
    assertErrors(cases)
    XCTAssertTrue(cases.allSatisfy { parseError($0.0)?.reason.contains("pixel limit") ?? false })
    XCTAssertNoThrow(try PipelineConfig.parse(yaml: "stages:\n  - resize: {size: [8000, 8000]}\n"))
  }

  // MARK: Untrusted files

  /// Parses `yaml` from a file through `load` and returns the error and the seconds it took.
  private func loadError(_ yaml: String, name: String) throws -> (PipelineError?, Double) {
    let folder = try TestImages.temporaryFolder("yaml-limits")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let path = folder + "/" + name
    try yaml.write(toFile: path, atomically: true, encoding: .utf8)
    let started = Date()
    do {
      _ = try PipelineConfig.load(path: path)
      return (nil, Date().timeIntervalSince(started))
    } catch let error as PipelineError {
      return (error, Date().timeIntervalSince(started))
    }
  }

  /// "Billion laughs": nine levels of anchors, each a list of ten aliases of the previous one
  /// (10^9 scalars once expanded) stop at the node bound, fast and naming the file.
  func testAliasExpansionIsBounded() throws {
    var lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for level in 1...8 { lines.append("a\(level): &a\(level) [" + [String](repeating: "*a\(level - 1)", count: 10).joined(separator: ", ") + "]") }
    lines.append("stages: *a8")
    let (error, seconds) = try loadError(lines.joined(separator: "\n") + "\n", name: "laughs.yaml")
    XCTAssertTrue(error?.file.hasSuffix("laughs.yaml") ?? false, "\(String(describing: error))")
    XCTAssertTrue(error?.reason.contains("aliases expand to more than") ?? false, "\(String(describing: error))")
    XCTAssertLessThan(seconds, 1)
    // Modest reuse of anchors stays allowed.
    XCTAssertNoThrow(try PipelineConfig.parse(yaml: "x: &pad {padding: 2}\nstages:\n  - pad: *pad\n  - pad: *pad\n".replacingOccurrences(of: "x: ", with: "description: ")))
  }

  /// 5,000 nested flow lists (and 100,000 block lists) stop at the depth bound instead of
  /// overflowing the stack in Yams or in `ConfigNode.convert`.
  func testNestingDepthIsBounded() throws {
    for (name, yaml) in [("flow.yaml", "stages: " + String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000) + "\n"),
                         ("block.yaml", "stages:\n  " + String(repeating: "- ", count: 100_000) + "x\n")] {
      let (error, seconds) = try loadError(yaml, name: name)
      XCTAssertTrue(error?.file.hasSuffix(name) ?? false, "\(String(describing: error))")
      XCTAssertTrue(error?.reason.contains("nests deeper than \(ConfigNode.maxDepth)") ?? false, "\(String(describing: error))")
      XCTAssertLessThan(seconds, 1, name)
    }
    // The bundled pipelines are far from the bound; 60 levels still parse.
    XCTAssertNoThrow(try ConfigNode.parse(yaml: "x: " + String(repeating: "[", count: 60) + String(repeating: "]", count: 60), file: "ok.yaml"))
  }

  func testOversizedFilesAreRefusedBeforeParsing() throws {
    let (error, seconds) = try loadError("description: \"" + String(repeating: "x", count: ConfigNode.maxBytes) + "\"\n", name: "big.yaml")
    XCTAssertTrue(error?.reason.contains("larger than") ?? false, "\(String(describing: error))")
    XCTAssertLessThan(seconds, 1)
    XCTAssertTrue(parseError(String(repeating: "#", count: ConfigNode.maxBytes + 1))?.reason.contains("larger than") ?? false)
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
  /// The example's commented learned stage parses once uncommented (alias and new name alike).
  func testExampleLearnedTransformLineParses() throws {
    let path = Golden.packageRoot + "/pipelines/example-all-options.yaml"
    let text = try String(contentsOfFile: path, encoding: .utf8)
    let commented = "  # - learned_transform: {checkpoint: runs/stn/best.safetensors}"
    XCTAssertTrue(text.contains(commented))
    for name in ["learned_transform", "learned_affine"] {
      let yaml = text.replacingOccurrences(of: commented, with: "  - \(name): {checkpoint: runs/stn/best.safetensors}")
      let config = try PipelineConfig.parse(yaml: yaml, path: path)
      XCTAssertEqual(config.learnedStage?.name, name)
      XCTAssertEqual(config.learnedStage?.stage, .learnedAffine(checkpoint: Golden.packageRoot + "/pipelines/runs/stn/best.safetensors"))
    }
  }

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

  /// The benchmark pipelines the README's figures name (bench/pipelines) load.
  func testBenchPipelinesLoad() throws {
    let folder = Golden.packageRoot + "/bench/pipelines"
    let names = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".yaml") }.sorted()
    XCTAssertEqual(names.count, 5, "\(names)")
    for name in names {
      XCTAssertNoThrow(try PipelineConfig.load(path: folder + "/" + name), name)
    }
  }
}
