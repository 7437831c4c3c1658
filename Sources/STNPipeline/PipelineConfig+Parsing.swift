import Foundation
import STNFiles
import STNWarp

// MARK: - Reading a pipeline file

extension PipelineConfig {
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
      if let exif = decode.optional("exif_orientation") { config.exifOrientation = try exif.bool("decode.exif_orientation") }
      try decode.finish()
    }
    if let node = top.optional("source"), !node.isNull {
      (config.source, config.classNames) = try parseSource(node, pipelinePath: path)
    }
    if let node = top.optional("batch") {
      config.batching = try parseBatching(node)
    }
    // The resample settings: the `resample:` section first, then any stage that repeats a key.
    var resampleKeys: [ResampleKeys] = []
    if let node = top.optional("resample"), !node.isNull {
      var reader = try node.mapping("resample")
      resampleKeys.append(try ResampleKeys.read(&reader, channels: config.channels))
      try reader.finish()
    }
    if let node = top.optional("stages"), !node.isNull {
      for item in try node.sequence("stages") {
        let (entry, keys) = try parseStage(item, channels: config.channels, pipelinePath: path)
        try checkOrder(entry, item: item, after: config.stages)
        config.stages.append(entry)
        if let keys { resampleKeys.append(keys) }
      }
      try checkKnownSizes(config.stages, file: path)
    }
    config.resample = try ResampleKeys.merged(resampleKeys)
    config.model = top.optional("model")
    config.train = top.optional("train")
    try top.finish()
    return config
  }

  private static func resolve(_ path: String, relativeTo pipelinePath: String) -> String {
    if path.hasPrefix("/") || pipelinePath == "<string>" { return path }
    return OutputLocation.joined(OutputLocation.parentFolder(pipelinePath), path)
  }

  /// `source:`: the data, and optionally its class names (`classes: [...]` or
  /// `classes_file: PATH`, one name per line).
  private static func parseSource(_ node: ConfigNode, pipelinePath: String) throws -> (SourceSpec, [String]?) {
    var source = try node.mapping("source")
    let folder = source.optional("image_folder")
    let idx = source.optional("idx")
    let split = source.optional("split")
    let classes = source.optional("classes")
    let classesFile = source.optional("classes_file")
    try source.finish()
    var names: [String]?
    switch (classes, classesFile) {
    case (let list?, nil):
      names = try list.sequence("source.classes").map { try $0.string("source.classes") }
    case (nil, let file?):
      let path = resolve(try file.string("source.classes_file"), relativeTo: pipelinePath)
      let bytes: [UInt8]
      do {
        bytes = try AtomicFile.read(path, limit: 1 << 20)
      } catch {
        throw file.error("source.classes_file: \(error)")
      }
      names = String(decoding: bytes, as: UTF8.self).split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    case (_?, let file?):
      throw file.error("source takes 'classes' or 'classes_file', not both")
    case (nil, nil):
      break
    }
    if let names {
      let where_ = classes ?? classesFile ?? node
      guard !names.isEmpty, names.count <= 100_000 else { throw where_.error("source.classes needs 1...100000 names, got \(names.count)") }
      guard Set(names).count == names.count else { throw where_.error("source.classes names a class twice") }
    }
    return (try parseSourceData(node, folder: folder, idx: idx, split: split, pipelinePath: pipelinePath), names)
  }

  private static func parseSourceData(_ node: ConfigNode, folder: ConfigNode?, idx: ConfigNode?, split: ConfigNode?, pipelinePath: String) throws -> SourceSpec {
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

  static let stageNames = "random_affine, affine, perspective, random_perspective, random_elastic, resize, center_crop, pad, normalize, learned_transform (alias learned_affine)"

  /// One `- name: {...}` item: the stage, and the resample keys it repeats (geometric stages only).
  private static func parseStage(_ item: ConfigNode, channels: Int, pipelinePath: String) throws -> (StageEntry, ResampleKeys?) {
    var stageMap = try item.mapping("a stage")
    guard stageMap.keys.count == 1, let name = stageMap.keys.first, let body = stageMap.optional(name) else {
      throw item.error("each stage is a mapping with exactly one key, the stage name (e.g. '- resize: {size: [224, 224]}')")
    }
    var reader = try body.mapping(name)
    let stage: Stage
    switch name {
    case "random_affine": stage = .randomAffine(try parseRandomAffine(&reader))
    case "affine": stage = .affine(try parseAffine(&reader))
    case "perspective": stage = .perspective(try parsePerspective(&reader))
    case "random_perspective": stage = .randomPerspective(try parseRandomPerspective(&reader))
    case "random_elastic": stage = .randomElastic(try parseRandomElastic(&reader))
    case "resize": stage = .resize(try parseResize(&reader))
    case "center_crop":
      let (width, height) = try parseSize(try reader.required("size"), what: "center_crop.size")
      stage = .centerCrop(width: width, height: height)
    case "pad": stage = .pad(try parsePad(&reader))
    case "normalize": stage = try parseNormalize(&reader, channels: channels)
    case "learned_transform", "learned_affine":
      // `learned_affine` is the name from before projective/TPS checkpoints; both apply
      // whatever family the checkpoint's spatial transformer holds.
      let checkpoint = try reader.required("checkpoint").string("\(name).checkpoint")
      stage = .learnedAffine(checkpoint: resolve(checkpoint, relativeTo: pipelinePath))
    default:
      throw item.error("unknown stage '\(name)' (stages: \(stageNames))")
    }
    let keys = stage.isGeometric ? try ResampleKeys.read(&reader, channels: channels) : nil
    try reader.finish()
    return (StageEntry(stage: stage, name: name, line: item.line), keys)
  }

  /// `normalize` is last and single; the learned stage is single.
  private static func checkOrder(_ entry: StageEntry, item: ConfigNode, after earlier: [StageEntry]) throws {
    if let normalize = earlier.first(where: { $0.name == "normalize" }) {
      if entry.name == "normalize" { throw item.error("normalize is given twice (first on line \(normalize.line))") }
      throw item.error("\(entry.name) comes after normalize (line \(normalize.line)); normalize must be the last stage")
    }
    if entry.stage.isLearned, let first = earlier.first(where: { $0.stage.isLearned }) {
      throw item.error("only one learned stage (learned_transform/learned_affine) is supported (first on line \(first.line))")
    }
  }

  /// Output sizes that are known, or bounded from below, before any image is read must stay
  /// within `SampleProcessor.maxOutputPixels`: a stage that breaks it is an error now, naming
  /// its line, instead of one skipped sample per image later.
  private static func checkKnownSizes(_ stages: [StageEntry], file: String) throws {
    // The smallest output each stage can produce (exact after a fixed-size stage).
    var minimum = (width: 1, height: 1)
    for entry in stages {
      switch entry.stage {
      case .resize(.size(let width, let height)), .centerCrop(let width, let height), .pad(.canvas(let width, let height, _)):
        minimum = (width, height)
      case .resize(.shorterSide(let side)):
        minimum = (side, side)
      case .pad(.borders(let left, let top, let right, let bottom)):
        minimum = (minimum.width + left + right, minimum.height + top + bottom)
      case .randomAffine, .affine, .normalize, .learnedAffine, .perspective, .randomPerspective, .randomElastic:
        continue
      }
      let pixels = minimum.width.multipliedReportingOverflow(by: minimum.height)
      if pixels.overflow || pixels.partialValue > SampleProcessor.maxOutputPixels {
        throw PipelineError(file: file, line: entry.line, reason: "\(entry.name) produces at least \(minimum.width)x\(minimum.height) pixels, over the \(SampleProcessor.maxOutputPixels)-pixel limit")
      }
    }
  }

  /// A number or a list of numbers.
  static func numbers(_ node: ConfigNode, what: String) throws -> [Double] {
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

  private static func parseRandomAffine(_ reader: inout MappingReader) throws -> RandomAffineStage {
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
      // RandomAffine's rule: n -> x in -n...n; [a, b] -> x in a...b; [a, b, c, d] -> x in a...b,
      // y in c...d. y stays 0 unless four numbers are given.
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
        let p = try probability(value, what: key)
        if key == "hflip" { stage.hflip = p } else { stage.vflip = p }
      }
    }
    return stage
  }

  /// A probability key in 0...1 (`what` names it in the message).
  private static func probability(_ node: ConfigNode, what: String) throws -> Double {
    let value = try node.double(what)
    guard (0...1).contains(value) else { throw node.error("\(what) is a probability in 0...1, got \(value)") }
    return value
  }

  /// A standard deviation in pixels, in 0...10000 (`what` names it in the message).
  private static func pixelSigma(_ node: ConfigNode, what: String) throws -> Double {
    let sigma = try node.double(what)
    guard sigma >= 0, sigma <= 1e4 else { throw node.error("\(what) is a standard deviation in pixels, finite and in 0...10000, got \(sigma)") }
    return sigma
  }

  /// Four `[x, y]` points (torchvision's top-left, top-right, bottom-right, bottom-left).
  private static func fourPoints(_ node: ConfigNode, what: String) throws -> [SIMD2<Double>] {
    let items = try node.sequence(what)
    guard items.count == 4 else { throw node.error("\(what) needs 4 points [[x, y], ...] (top-left, top-right, bottom-right, bottom-left), got \(items.count)") }
    return try items.map { item in
      let values = try numbers(item, what: what)
      guard values.count == 2, case .sequence = item.value else { throw item.error("\(what): each point is [x, y], got \(values.count) numbers") }
      guard values.allSatisfy({ $0.isFinite && abs($0) <= 1e6 }) else { throw item.error("\(what): coordinates must be finite and within ±1e6, got \(values)") }
      return SIMD2(values[0], values[1])
    }
  }

  /// `perspective: {startpoints: [[x, y] x4], endpoints: [[x, y] x4]}` (torchvision pixel coordinates).
  private static func parsePerspective(_ reader: inout MappingReader) throws -> PerspectiveStage {
    let startNode = try reader.required("startpoints"), endNode = try reader.required("endpoints")
    let stage = PerspectiveStage(startpoints: try fourPoints(startNode, what: "perspective.startpoints"),
                                 endpoints: try fourPoints(endNode, what: "perspective.endpoints"))
    guard let map = ChainPlanner.perspectiveMap(startpoints: stage.startpoints, endpoints: stage.endpoints), map.isFinite,
          case .homography(let homography) = map, homography.inverted() != nil else {
      throw endNode.error("perspective.endpoints and startpoints do not determine a perspective map (three points on one line, or a point given twice)")
    }
    return stage
  }

  /// `random_perspective: {distortion_scale: 0.5, p: 0.5}` (torchvision's defaults), or
  /// `{sigma: pixels, p: ...}` for Gaussian corners (the STN paper's P).
  private static func parseRandomPerspective(_ reader: inout MappingReader) throws -> RandomPerspectiveStage {
    var stage = RandomPerspectiveStage()
    if let node = reader.optional("sigma") {
      let sigma = try pixelSigma(node, what: "random_perspective.sigma")
      if reader.optional("distortion_scale") != nil {
        throw node.error("random_perspective takes distortion_scale (torchvision's corners, moved inwards) or sigma (Gaussian corners, the STN paper's P), not both")
      }
      stage.sigma = sigma
    }
    if let node = reader.optional("distortion_scale") {
      stage.distortionScale = try node.double("random_perspective.distortion_scale")
      guard (0...1).contains(stage.distortionScale) else {
        throw node.error("random_perspective.distortion_scale must be in 0...1, got \(stage.distortionScale)")
      }
    }
    if let node = reader.optional("p") { stage.p = try probability(node, what: "random_perspective.p") }
    return stage
  }

  /// `random_elastic: {sigma: pixels, grid: 4, p: 1}`.
  private static func parseRandomElastic(_ reader: inout MappingReader) throws -> RandomElasticStage {
    var stage = RandomElasticStage(sigma: try pixelSigma(try reader.required("sigma"), what: "random_elastic.sigma"))
    if let node = reader.optional("grid") {
      stage.grid = try node.int("random_elastic.grid")
      guard (2...16).contains(stage.grid) else { throw node.error("random_elastic.grid (control points per side) must be in 2...16, got \(stage.grid)") }
    }
    if let node = reader.optional("p") { stage.p = try probability(node, what: "random_elastic.p") }
    return stage
  }

  private static func parseAffine(_ reader: inout MappingReader) throws -> AffineStage {
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
      return .matrix(transform)
    }
    var parameters = AffineParameters()
    if let node = reader.optional("rotate") { parameters.angle = try node.double("affine.rotate") }
    if let node = reader.optional("scale") {
      parameters.scale = try node.double("affine.scale")
      guard parameters.scale > 0, parameters.scale <= 100 else { throw node.error("affine.scale must be in (0, 100], got \(parameters.scale)") }
    }
    if let node = reader.optional("translate") {
      let translate = try numbers(node, what: "affine.translate")
      guard translate.count == 2 else { throw node.error("affine.translate is [x, y] in pixels") }
      (parameters.translateX, parameters.translateY) = (translate[0], translate[1])
    }
    if let node = reader.optional("shear") {
      // F.affine's rule: a number is x only; a one-item list is x and y; [x, y] is both.
      var shear = try numbers(node, what: "affine.shear")
      if shear.count == 1 {
        if case .sequence = node.value { shear.append(shear[0]) } else { shear.append(0) }
      }
      guard shear.count == 2, shear.allSatisfy({ abs($0) <= 89 }) else { throw node.error("affine.shear is x or [x, y] in degrees, each within ±89") }
      (parameters.shearX, parameters.shearY) = (shear[0], shear[1])
    }
    return .named(parameters)
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

  /// torchvision `Resize(size)`: `[height, width]`, or `n` (also `[n]` or `shorter_side: n`) for
  /// "the shorter side becomes n, the aspect ratio kept".
  private static func parseResize(_ reader: inout MappingReader) throws -> ResizeStage {
    let size = reader.optional("size"), shorter = reader.optional("shorter_side")
    switch (size, shorter) {
    case (let size?, nil):
      if case .sequence(let items) = size.value, items.count == 2 {
        let (width, height) = try parseSize(size, what: "resize.size")
        return .size(width: width, height: height)
      }
      let (side, _) = try parseSize(size, what: "resize.size")
      return .shorterSide(side)
    case (nil, let shorter?):
      let side = try shorter.int("resize.shorter_side")
      guard (1...65536).contains(side) else { throw shorter.error("resize.shorter_side must be in 1...65536, got \(side)") }
      return .shorterSide(side)
    case (nil, nil): throw reader.node.error("resize needs 'size: [height, width]' or 'size: n' (the shorter side)")
    case (_?, let shorter?): throw shorter.error("resize takes 'size' or 'shorter_side', not both")
    }
  }

  private static func parsePad(_ reader: inout MappingReader) throws -> PadStage {
    let size = reader.optional("size"), padding = reader.optional("padding"), position = reader.optional("position")
    switch (size, padding) {
    case (let size?, nil):
      let (width, height) = try parseSize(size, what: "pad.size")
      var place = PadPosition.center
      if let position {
        let text = try position.string("pad.position")
        guard let value = PadPosition(rawValue: text) else { throw position.error("pad.position must be center or random, got '\(text)'") }
        place = value
      }
      return .canvas(width: width, height: height, position: place)
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
      return .borders(left: values[0], top: values[1], right: values[2], bottom: values[3])
    case (nil, nil): throw reader.node.error("pad needs 'size: [height, width]' (a canvas) or 'padding: n'")
    case (_?, let padding?): throw padding.error("pad takes 'size' or 'padding', not both")
    }
  }

  private static func parseNormalize(_ reader: inout MappingReader, channels: Int) throws -> Stage {
    let meanNode = try reader.required("mean"), stdNode = try reader.required("std")
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

// MARK: - Resample keys

/// The resample keys one place gave (the `resample:` section or one geometric stage), each with
/// its node so a conflict can name both lines.
struct ResampleKeys {
  var interpolation: (value: GridSampleMode, node: ConfigNode)?
  var padding: (value: GridSamplePadding, node: ConfigNode)?
  var fill: (value: [Double], node: ConfigNode)?

  /// Reads `interpolation`, `padding_mode` and `fill` from a mapping (marking them used).
  static func read(_ reader: inout MappingReader, channels: Int) throws -> ResampleKeys {
    var keys = ResampleKeys()
    if let node = reader.optional("interpolation") {
      let text = try node.string("interpolation")
      guard let mode = GridSampleMode(rawValue: text) else { throw node.error("interpolation must be bilinear or nearest, got '\(text)'") }
      keys.interpolation = (mode, node)
    }
    if let node = reader.optional("padding_mode") {
      let text = try node.string("padding_mode")
      guard let padding = GridSamplePadding(rawValue: text) else { throw node.error("padding_mode must be zeros, border or reflection, got '\(text)'") }
      keys.padding = (padding, node)
    }
    if let node = reader.optional("fill") {
      let values = try PipelineConfig.numbers(node, what: "fill")
      guard values.count == 1 || values.count == channels else {
        throw node.error("fill needs 1 or \(channels) values (one per channel), got \(values.count)")
      }
      for value in values where !(0...255).contains(value) { throw node.error("fill values must be in 0...255, got \(value)") }
      keys.fill = (values, node)
    }
    return keys
  }

  /// The one setting all places agree on: the chain resamples once, so a key given twice with
  /// different values is an error at the later place, naming the earlier line.
  static func merged(_ places: [ResampleKeys]) throws -> ResampleSettings {
    var settings = ResampleSettings()
    func agree<Value: Equatable>(_ given: [(value: Value, node: ConfigNode)], key: String, describe: (Value) -> String) throws -> Value? {
      guard let first = given.first else { return nil }
      for later in given.dropFirst() where later.value != first.value {
        throw later.node.error("\(key) \(describe(later.value)) conflicts with \(describe(first.value)) on line \(first.node.line): the chain resamples once, with one \(key)")
      }
      return first.value
    }
    if let mode = try agree(places.compactMap(\.interpolation), key: "interpolation", describe: { "'\($0.rawValue)'" }) { settings.interpolation = mode }
    if let padding = try agree(places.compactMap(\.padding), key: "padding_mode", describe: { "'\($0.rawValue)'" }) { settings.padding = padding }
    if let fill = try agree(places.compactMap(\.fill), key: "fill", describe: { "\($0)" }) { settings.fill = fill }
    return settings
  }
}
