import Foundation
import STNImageIO
import STNWarp

// MARK: - Stage parameters

/// Where a random or fixed translation may move the image.
public enum TranslateSpec: Equatable, Sendable {
  /// No translation.
  case none
  /// Uniform in [-x·width, x·width] by [-y·height, y·height] (torchvision's `translate=(x, y)`).
  case fraction(x: Double, y: Double)
  /// Anywhere the transformed content box stays inside the canvas (the STN paper's RTS
  /// placement). The content box is the decoded image's rectangle carried through the earlier
  /// stages, so after `pad` it is the original item, not the padded canvas.
  case inside
}

/// `random_affine`: torchvision `RandomAffine` plus flips, drawn per sample.
public struct RandomAffineStage: Equatable, Sendable {
  /// Rotation range in degrees (counter-clockwise as displayed).
  public var degrees: ClosedRange<Double> = 0...0
  public var translate: TranslateSpec = .none
  /// Isotropic scale range.
  public var scale: ClosedRange<Double> = 1...1
  /// Shear ranges in degrees along x and y.
  public var shearX: ClosedRange<Double> = 0...0
  public var shearY: ClosedRange<Double> = 0...0
  /// Probabilities of a horizontal and a vertical flip.
  public var hflip: Double = 0
  public var vflip: Double = 0

  public init() {}
}

/// `affine`: a fixed transform, as a matrix or as named parameters about the image centre.
public enum AffineStage: Equatable, Sendable {
  /// A source->destination pixel map (x right, y down, pixel centres at integers).
  case matrix(STNWarp.AffineTransform)
  /// torchvision `F.affine(angle, translate, scale, shear)` about the centre; translate in pixels.
  case named(rotate: Double, scale: Double, translateX: Double, translateY: Double, shearX: Double, shearY: Double)
}

/// `resize`: to a fixed size, or so the shorter side has a given length (aspect kept).
public enum ResizeStage: Equatable, Sendable {
  case size(width: Int, height: Int)
  case shorterSide(Int)
}

/// How `pad` places the image on its canvas.
public enum PadPosition: String, Equatable, Sendable {
  /// Centred (offset rounded down, like torchvision's CenterCrop inverse).
  case center
  /// A uniformly random integer offset that keeps the image inside the canvas.
  case random
}

/// `pad`: onto a canvas of a given size, or by explicit borders.
public enum PadStage: Equatable, Sendable {
  case canvas(width: Int, height: Int, position: PadPosition)
  case borders(left: Int, top: Int, right: Int, bottom: Int)
}

/// One pipeline stage, in file order.
public enum Stage: Equatable, Sendable {
  case randomAffine(RandomAffineStage)
  case affine(AffineStage)
  case resize(ResizeStage)
  case centerCrop(width: Int, height: Int)
  case pad(PadStage)
  /// Per-channel (x/255 - mean)/std on the float output; never applied to written images.
  case normalize(mean: [Double], std: [Double])
  /// A transform predicted per image by a trained model (see `ThetaPredictor`).
  case learnedAffine(checkpoint: String)

  /// True for stages that move pixels (and so compose into the one resample).
  public var isGeometric: Bool {
    if case .normalize = self { return false }
    return true
  }
}

/// A stage with the line it was declared on, for error messages at run time.
public struct StageEntry: Equatable, Sendable {
  public var stage: Stage
  /// The stage's name as written (`random_affine`, ...).
  public var name: String
  public var line: Int

  public init(stage: Stage, name: String, line: Int) {
    self.stage = stage
    self.name = name
    self.line = line
  }
}

/// The settings of the single resample a chain of geometric stages compiles to.
public struct ResampleSettings: Equatable, Sendable {
  public var interpolation: GridSampleMode = .bilinear
  public var padding: GridSamplePadding = .zeros
  /// Value(s) for pixels outside the source with `zeros` padding, 0-255, one or one per channel.
  public var fill: [Double] = [0]

  public init() {}

  public static func == (lhs: ResampleSettings, rhs: ResampleSettings) -> Bool {
    lhs.interpolation == rhs.interpolation && lhs.padding == rhs.padding && lhs.fill == rhs.fill
  }
}

/// Where samples come from when a pipeline names its own data.
public enum SourceSpec: Equatable, Sendable {
  /// root/<class>/<image> folder.
  case imageFolder(path: String)
  /// MNIST-family IDX files in `folder`, `split` "train" or "test".
  case idx(folder: String, split: String)
}

/// Batching of the float output.
public struct BatchingConfig: Equatable, Sendable {
  public var size: Int = 64
  public var shuffle: Bool = true
  public var dropLast: Bool = false

  public init(size: Int = 64, shuffle: Bool = true, dropLast: Bool = false) {
    self.size = size
    self.shuffle = shuffle
    self.dropLast = dropLast
  }
}

// MARK: - Pipeline file

/// A parsed pipeline file: source, decode options, stages, batching, seed, and the `model:` and
/// `train:` sections kept verbatim for the trainer.
///
/// Accepted keys (see pipelines/example-all-options.yaml): `source`, `decode`, `stages`,
/// `batch`, `seed`, `model`, `train`, `name`, `description`.
public struct PipelineConfig: Sendable {
  /// The file this came from (`<string>` when parsed from text).
  public var path: String
  public var name: String?
  public var source: SourceSpec?
  /// 1 (gray) or 3 (RGB).
  public var channels: Int = 3
  public var stages: [StageEntry] = []
  public var resample = ResampleSettings()
  public var batching = BatchingConfig()
  public var seed: UInt64 = 0
  /// `model:` as written (not validated here).
  public var model: ConfigNode?
  /// `train:` as written (not validated here).
  public var train: ConfigNode?

  public init(path: String = "<string>") {
    self.path = path
  }

  /// The `normalize` stage's mean/std, expanded to one per channel, if there is one.
  public var normalization: (mean: [Double], std: [Double])? {
    for entry in stages {
      if case .normalize(let mean, let std) = entry.stage {
        return (expand(mean), expand(std))
      }
    }
    return nil
  }

  private func expand(_ values: [Double]) -> [Double] {
    values.count == channels ? values : [Double](repeating: values.first ?? 0, count: channels)
  }

  /// Per-channel `out = pixel * scale + bias` that turns a 0-255 sample into the float output:
  /// x/255 without `normalize`, (x/255 - mean)/std with it.
  public var outputScaleBias: (scale: [Float], bias: [Float]) {
    guard let (mean, std) = normalization else {
      return ([Float](repeating: 1 / 255, count: channels), [Float](repeating: 0, count: channels))
    }
    return ((0..<channels).map { Float(1 / (255 * std[$0])) }, (0..<channels).map { Float(-mean[$0] / std[$0]) })
  }

  /// True when a `learned_affine` stage needs a `ThetaPredictor`.
  public var hasLearnedStage: Bool {
    stages.contains { if case .learnedAffine = $0.stage { return true } else { return false } }
  }

  // MARK: Loading

  /// Reads and validates a pipeline file.
  public static func load(path: String) throws -> PipelineConfig {
    let text: String
    do {
      text = try String(contentsOfFile: path, encoding: .utf8)
    } catch {
      throw PipelineError(file: path, line: 0, reason: "cannot read pipeline file: \(error.localizedDescription)")
    }
    return try parse(yaml: text, path: path)
  }

  /// Parses and validates pipeline text; `path` is used in error messages and to resolve
  /// relative source paths (relative to the file's folder).
  public static func parse(yaml: String, path: String = "<string>") throws -> PipelineConfig {
    let root = try ConfigNode.parse(yaml: yaml, file: path)
    var top = try root.mapping("the pipeline file")
    var config = PipelineConfig(path: path)
    if let node = top.optional("name") { config.name = try node.string("name") }
    _ = top.optional("description")
    if let node = top.optional("seed") {
      let seed = try node.int("seed")
      guard seed >= 0 else { throw node.error("seed must be >= 0, got \(seed)") }
      config.seed = UInt64(seed)
    }
    if let node = top.optional("decode") {
      var decode = try node.mapping("decode")
      if let channels = decode.optional("channels") {
        let value = try channels.int("decode.channels")
        guard value == 1 || value == 3 else { throw channels.error("decode.channels must be 1 or 3, got \(value)") }
        config.channels = value
      }
      try decode.finish()
    }
    if let node = top.optional("source"), !node.isNull {
      config.source = try parseSource(node, pipelinePath: path)
    }
    if let node = top.optional("batch") {
      config.batching = try parseBatching(node)
    }
    if let node = top.optional("stages"), !node.isNull {
      try parseStages(node, into: &config)
    }
    config.model = top.optional("model")
    config.train = top.optional("train")
    try top.finish()
    return config
  }

  private static func resolve(_ path: String, relativeTo pipelinePath: String) -> String {
    if path.hasPrefix("/") || pipelinePath == "<string>" { return path }
    let folder = (pipelinePath as NSString).deletingLastPathComponent
    return folder.isEmpty ? path : folder + "/" + path
  }

  private static func parseSource(_ node: ConfigNode, pipelinePath: String) throws -> SourceSpec {
    var source = try node.mapping("source")
    let folder = source.optional("image_folder")
    let idx = source.optional("idx")
    let split = source.optional("split")
    try source.finish()
    switch (folder, idx) {
    case (let folder?, nil):
      if let split { throw split.error("'split' applies to idx sources only") }
      return .imageFolder(path: resolve(try folder.string("source.image_folder"), relativeTo: pipelinePath))
    case (nil, let idx?):
      let name = try split?.string("source.split") ?? "train"
      guard name == "train" || name == "test" else { throw (split ?? idx).error("source.split must be train or test, got '\(name)'") }
      return .idx(folder: resolve(try idx.string("source.idx"), relativeTo: pipelinePath), split: name)
    case (nil, nil):
      throw node.error("source needs 'image_folder: DIR' or 'idx: DIR'")
    case (_?, let idx?):
      throw idx.error("source takes either 'image_folder' or 'idx', not both")
    }
  }

  private static func parseBatching(_ node: ConfigNode) throws -> BatchingConfig {
    var reader = try node.mapping("batch")
    var batching = BatchingConfig()
    if let size = reader.optional("size") {
      batching.size = try size.int("batch.size")
      guard (1...65536).contains(batching.size) else { throw size.error("batch.size must be in 1...65536, got \(batching.size)") }
    }
    if let shuffle = reader.optional("shuffle") { batching.shuffle = try shuffle.bool("batch.shuffle") }
    if let dropLast = reader.optional("drop_last") { batching.dropLast = try dropLast.bool("batch.drop_last") }
    try reader.finish()
    return batching
  }

  // MARK: Stages

  /// Resample settings seen so far, with the line that set each, to reject conflicts.
  private struct ResampleSources {
    var interpolation: Int?
    var padding: Int?
    var fill: Int?
  }

  private static func parseStages(_ node: ConfigNode, into config: inout PipelineConfig) throws {
    var seen = ResampleSources()
    var sawNormalize: Int?
    for item in try node.sequence("stages") {
      var stageMap = try item.mapping("a stage")
      guard stageMap.keys.count == 1, let name = stageMap.keys.first, let body = stageMap.optional(name) else {
        throw item.error("each stage is a mapping with exactly one key, the stage name (e.g. '- resize: {size: [224, 224]}')")
      }
      let stage: Stage
      switch name {
      case "random_affine": stage = .randomAffine(try parseRandomAffine(body, config: &config, seen: &seen))
      case "affine": stage = .affine(try parseAffine(body, config: &config, seen: &seen))
      case "resize": stage = .resize(try parseResize(body, config: &config, seen: &seen))
      case "center_crop":
        var reader = try body.mapping("center_crop")
        let (width, height) = try parseSize(try reader.required("size"), what: "center_crop.size")
        try reader.finish()
        stage = .centerCrop(width: width, height: height)
      case "pad": stage = .pad(try parsePad(body, config: &config, seen: &seen))
      case "normalize":
        if let line = sawNormalize { throw item.error("normalize is given twice (first on line \(line))") }
        sawNormalize = item.line
        stage = try parseNormalize(body, channels: config.channels)
      case "learned_affine":
        var reader = try body.mapping("learned_affine")
        let checkpoint = try reader.required("checkpoint").string("learned_affine.checkpoint")
        try reader.finish()
        stage = .learnedAffine(checkpoint: resolve(checkpoint, relativeTo: config.path))
      default:
        throw item.error("unknown stage '\(name)' (stages: random_affine, affine, resize, center_crop, pad, normalize, learned_affine)")
      }
      if stage.isGeometric, let line = sawNormalize {
        throw item.error("\(name) comes after normalize (line \(line)); normalize must be the last stage")
      }
      config.stages.append(StageEntry(stage: stage, name: name, line: item.line))
    }
  }

  /// Reads the resample keys a stage may carry (interpolation, padding_mode, fill) and checks
  /// them against earlier stages: the chain resamples once, so they must agree.
  private static func readResample(_ reader: inout MappingReader, config: inout PipelineConfig, seen: inout ResampleSources, allowPadding: Bool = true) throws {
    if let node = reader.optional("interpolation") {
      let text = try node.string("interpolation")
      guard let mode = GridSampleMode(rawValue: text) else { throw node.error("interpolation must be bilinear or nearest, got '\(text)'") }
      if let line = seen.interpolation, config.resample.interpolation != mode {
        throw node.error("interpolation '\(text)' conflicts with '\(config.resample.interpolation.rawValue)' on line \(line): the chain resamples once, with one interpolation")
      }
      config.resample.interpolation = mode
      seen.interpolation = node.line
    }
    if allowPadding, let node = reader.optional("padding_mode") {
      let text = try node.string("padding_mode")
      guard let padding = GridSamplePadding(rawValue: text) else { throw node.error("padding_mode must be zeros, border or reflection, got '\(text)'") }
      if let line = seen.padding, config.resample.padding != padding {
        throw node.error("padding_mode '\(text)' conflicts with '\(config.resample.padding.rawValue)' on line \(line): the chain resamples once")
      }
      config.resample.padding = padding
      seen.padding = node.line
    }
    if allowPadding, let node = reader.optional("fill") {
      let values = try numbers(node, what: "fill")
      guard values.count == 1 || values.count == config.channels else {
        throw node.error("fill needs 1 or \(config.channels) values (one per channel), got \(values.count)")
      }
      for value in values where !(0...255).contains(value) { throw node.error("fill values must be in 0...255, got \(value)") }
      if let line = seen.fill, config.resample.fill != values {
        throw node.error("fill \(values) conflicts with \(config.resample.fill) on line \(line): the chain resamples once")
      }
      config.resample.fill = values
      seen.fill = node.line
    }
  }

  /// A number or a list of numbers.
  private static func numbers(_ node: ConfigNode, what: String) throws -> [Double] {
    if case .sequence(let items) = node.value { return try items.map { try $0.double(what) } }
    return [try node.double(what)]
  }

  /// `n` (symmetric: -n...n, n >= 0) or `[low, high]`.
  private static func symmetricRange(_ node: ConfigNode, what: String, limit: Double) throws -> ClosedRange<Double> {
    let values = try numbers(node, what: what)
    let range: ClosedRange<Double>
    if values.count == 1 {
      guard values[0] >= 0 else { throw node.error("\(what) as a single number must be >= 0 (the range is -n...n), got \(values[0])") }
      range = -values[0]...values[0]
    } else if values.count == 2 {
      guard values[0] <= values[1] else { throw node.error("\(what) range [\(values[0]), \(values[1])] has low > high") }
      range = values[0]...values[1]
    } else {
      throw node.error("\(what) must be a number or [low, high]")
    }
    guard range.lowerBound >= -limit, range.upperBound <= limit else { throw node.error("\(what) must stay within ±\(limit), got \(values)") }
    return range
  }

  private static func parseRandomAffine(_ node: ConfigNode, config: inout PipelineConfig, seen: inout ResampleSources) throws -> RandomAffineStage {
    var reader = try node.mapping("random_affine")
    var stage = RandomAffineStage()
    if let value = reader.optional("degrees") { stage.degrees = try symmetricRange(value, what: "degrees", limit: 360) }
    if let value = reader.optional("translate") {
      if case .scalar(let text) = value.value, text == "inside" {
        stage.translate = .inside
      } else {
        let values = try numbers(value, what: "translate")
        guard values.count == 1 || values.count == 2 else { throw value.error("translate must be 'inside', a fraction, or [fraction_x, fraction_y]") }
        for fraction in values where !(0...1).contains(fraction) {
          throw value.error("translate fractions must be in 0...1, got \(fraction)")
        }
        stage.translate = .fraction(x: values[0], y: values.count == 2 ? values[1] : values[0])
      }
    }
    if let value = reader.optional("scale") {
      let values = try numbers(value, what: "scale")
      guard values.count == 2 || values.count == 1 else { throw value.error("scale must be [low, high] or a single factor") }
      let low = values[0], high = values.count == 2 ? values[1] : values[0]
      guard low > 0, high >= low, high <= 100 else { throw value.error("scale range must satisfy 0 < low <= high <= 100, got \(values)") }
      stage.scale = low...high
    }
    if let value = reader.optional("shear") {
      let values = try numbers(value, what: "shear")
      switch values.count {
      case 1, 2:
        stage.shearX = try symmetricRange(value, what: "shear", limit: 89)
      case 4:
        guard values[0] <= values[1], values[2] <= values[3], values.allSatisfy({ abs($0) <= 89 }) else {
          throw value.error("shear [x_low, x_high, y_low, y_high] needs low <= high and |angle| <= 89, got \(values)")
        }
        stage.shearX = values[0]...values[1]
        stage.shearY = values[2]...values[3]
      default:
        throw value.error("shear must be a number, [low, high] (x) or [x_low, x_high, y_low, y_high]")
      }
    }
    for key in ["hflip", "vflip"] {
      if let value = reader.optional(key) {
        let probability = try value.double(key)
        guard (0...1).contains(probability) else { throw value.error("\(key) is a probability in 0...1, got \(probability)") }
        if key == "hflip" { stage.hflip = probability } else { stage.vflip = probability }
      }
    }
    try readResample(&reader, config: &config, seen: &seen)
    try reader.finish()
    return stage
  }

  private static func parseAffine(_ node: ConfigNode, config: inout PipelineConfig, seen: inout ResampleSources) throws -> AffineStage {
    var reader = try node.mapping("affine")
    let stage: AffineStage
    if let matrix = reader.optional("matrix") {
      for key in ["rotate", "scale", "translate", "shear"] where reader.keys.contains(key) {
        throw matrix.error("affine takes either 'matrix' or named parameters (\(key)), not both")
      }
      let rows = try matrix.sequence("affine.matrix")
      let values: [Double]
      if rows.count == 2, case .sequence = rows[0].value {
        let parsed = try rows.map { try $0.sequence("affine.matrix row").map { try $0.double("affine.matrix") } }
        guard parsed.allSatisfy({ $0.count == 3 }) else { throw matrix.error("affine.matrix must be [[a, b, c], [d, e, f]]") }
        values = parsed.flatMap { $0 }
      } else {
        values = try rows.map { try $0.double("affine.matrix") }
      }
      guard let transform = STNWarp.AffineTransform(values) else { throw matrix.error("affine.matrix must be 2x3: [[a, b, c], [d, e, f]]") }
      guard transform.inverted() != nil else { throw matrix.error("affine.matrix is not invertible (determinant \(transform.determinant))") }
      stage = .matrix(transform)
    } else {
      let rotate = try reader.optional("rotate")?.double("affine.rotate") ?? 0
      var scale = 1.0
      if let node = reader.optional("scale") {
        scale = try node.double("affine.scale")
        guard scale > 0, scale <= 100 else { throw node.error("affine.scale must be in (0, 100], got \(scale)") }
      }
      var translate = [0.0, 0.0]
      if let node = reader.optional("translate") {
        translate = try numbers(node, what: "affine.translate")
        guard translate.count == 2 else { throw node.error("affine.translate is [x, y] in pixels") }
      }
      var shear = [0.0, 0.0]
      if let node = reader.optional("shear") {
        shear = try numbers(node, what: "affine.shear")
        if shear.count == 1 { shear.append(0) }
        guard shear.count == 2, shear.allSatisfy({ abs($0) <= 89 }) else { throw node.error("affine.shear is x or [x, y] in degrees, each within ±89") }
      }
      stage = .named(rotate: rotate, scale: scale, translateX: translate[0], translateY: translate[1], shearX: shear[0], shearY: shear[1])
    }
    try readResample(&reader, config: &config, seen: &seen)
    try reader.finish()
    return stage
  }

  /// `[height, width]` (torchvision order) or a single `n` for n x n.
  private static func parseSize(_ node: ConfigNode, what: String) throws -> (width: Int, height: Int) {
    let values: [Int]
    if case .sequence(let items) = node.value {
      values = try items.map { try $0.int(what) }
    } else {
      values = [try node.int(what)]
    }
    guard values.count == 1 || values.count == 2 else { throw node.error("\(what) is [height, width] or a single number") }
    let height = values[0], width = values.count == 2 ? values[1] : values[0]
    guard (1...65536).contains(height), (1...65536).contains(width) else { throw node.error("\(what) must be in 1...65536, got \(values)") }
    return (width, height)
  }

  private static func parseResize(_ node: ConfigNode, config: inout PipelineConfig, seen: inout ResampleSources) throws -> ResizeStage {
    var reader = try node.mapping("resize")
    let size = reader.optional("size"), shorter = reader.optional("shorter_side")
    let stage: ResizeStage
    switch (size, shorter) {
    case (let size?, nil):
      let (width, height) = try parseSize(size, what: "resize.size")
      stage = .size(width: width, height: height)
    case (nil, let shorter?):
      let side = try shorter.int("resize.shorter_side")
      guard (1...65536).contains(side) else { throw shorter.error("resize.shorter_side must be in 1...65536, got \(side)") }
      stage = .shorterSide(side)
    case (nil, nil): throw node.error("resize needs 'size: [height, width]' or 'shorter_side: n'")
    case (_?, let shorter?): throw shorter.error("resize takes 'size' or 'shorter_side', not both")
    }
    try readResample(&reader, config: &config, seen: &seen, allowPadding: false)
    try reader.finish()
    return stage
  }

  private static func parsePad(_ node: ConfigNode, config: inout PipelineConfig, seen: inout ResampleSources) throws -> PadStage {
    var reader = try node.mapping("pad")
    let size = reader.optional("size"), padding = reader.optional("padding"), position = reader.optional("position")
    let stage: PadStage
    switch (size, padding) {
    case (let size?, nil):
      let (width, height) = try parseSize(size, what: "pad.size")
      var place = PadPosition.center
      if let position {
        let text = try position.string("pad.position")
        guard let value = PadPosition(rawValue: text) else { throw position.error("pad.position must be center or random, got '\(text)'") }
        place = value
      }
      stage = .canvas(width: width, height: height, position: place)
    case (nil, let padding?):
      if let position { throw position.error("pad.position applies to 'size' (a canvas), not to 'padding'") }
      var values: [Int]
      if case .sequence(let items) = padding.value { values = try items.map { try $0.int("pad.padding") } } else { values = [try padding.int("pad.padding")] }
      // torchvision order: n, [left/right, top/bottom], or [left, top, right, bottom].
      if values.count == 1 { values = [values[0], values[0], values[0], values[0]] }
      if values.count == 2 { values = [values[0], values[1], values[0], values[1]] }
      guard values.count == 4, values.allSatisfy({ (0...65536).contains($0) }) else {
        throw padding.error("pad.padding is n, [left_right, top_bottom] or [left, top, right, bottom], each in 0...65536")
      }
      stage = .borders(left: values[0], top: values[1], right: values[2], bottom: values[3])
    case (nil, nil): throw node.error("pad needs 'size: [height, width]' (a canvas) or 'padding: n'")
    case (_?, let padding?): throw padding.error("pad takes 'size' or 'padding', not both")
    }
    try readResample(&reader, config: &config, seen: &seen)
    try reader.finish()
    return stage
  }

  private static func parseNormalize(_ node: ConfigNode, channels: Int) throws -> Stage {
    var reader = try node.mapping("normalize")
    let meanNode = try reader.required("mean"), stdNode = try reader.required("std")
    try reader.finish()
    let mean = try numbers(meanNode, what: "normalize.mean"), std = try numbers(stdNode, what: "normalize.std")
    for (values, valueNode, name) in [(mean, meanNode, "mean"), (std, stdNode, "std")] {
      guard values.count == 1 || values.count == channels else {
        throw valueNode.error("normalize.\(name) needs 1 or \(channels) values (decode.channels is \(channels)), got \(values.count)")
      }
    }
    for value in std where !(value > 0) { throw stdNode.error("normalize.std values must be > 0, got \(value)") }
    return .normalize(mean: mean, std: std)
  }
}
