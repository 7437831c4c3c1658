import STNImageIO

/// One sample on a contact sheet: the decoded original, its transformed version, a caption.
public struct ContactSheetEntry: Sendable {
  public var original: Image
  public var transformed: Image
  public var caption: String

  public init(original: Image, transformed: Image, caption: String) {
    self.original = original
    self.transformed = transformed
    self.caption = caption
  }
}

/// Lays out originals beside their transformed versions on an RGB sheet, in a grid.
public enum ContactSheet {
  /// Gap between tiles and around the sheet, in pixels.
  static let gap = 12
  /// Height of the caption strip under each pair.
  static let captionHeight = 14
  static let background: UInt8 = 40

  /// Side of the square box each image is shown in: the transformed size, enlarged by a whole
  /// factor until it is at least `minimumBox` (small images like 28x28 stay readable).
  static func box(for entries: [ContactSheetEntry], minimumBox: Int) -> (width: Int, height: Int) {
    let width = entries.map(\.transformed.width).max() ?? 1, height = entries.map(\.transformed.height).max() ?? 1
    let factor = max(1, (minimumBox + max(width, height) - 1) / max(width, height))
    return (width * factor, height * factor)
  }

  /// The sheet: each original beside its transformed version, the caption underneath.
  public static func render(_ entries: [ContactSheetEntry], minimumBox: Int = 112) -> Image {
    let box = box(for: entries, minimumBox: minimumBox)
    let enlargement = box.width / max(1, entries.map(\.transformed.width).max() ?? 1)
    let columns = max(1, Int(Double(entries.count).squareRoot().rounded(.up)))
    let rows = max(1, (entries.count + columns - 1) / columns)
    let pairWidth = 2 * box.width + gap / 2, pairHeight = box.height + captionHeight
    let width = gap + columns * (pairWidth + gap), height = gap + rows * (pairHeight + gap)
    var sheet = Image(width: width, height: height, channels: 3, repeating: background)
    for (i, entry) in entries.enumerated() {
      let x = gap + (i % columns) * (pairWidth + gap), y = gap + (i / columns) * (pairHeight + gap)
      paste(fit(entry.original, into: box, enlargement: enlargement), onto: &sheet, x: x, y: y, box: box)
      paste(fit(entry.transformed, into: box, enlargement: enlargement), onto: &sheet, x: x + box.width + gap / 2, y: y, box: box)
    }
    var canvas = Canvas(image: sheet)
    for (i, entry) in entries.enumerated() {
      let x = gap + (i % columns) * (pairWidth + gap), y = gap + (i / columns) * (pairHeight + gap)
      canvas.drawText(entry.caption, x: x + 1, y: y + box.height + 3, color: [230, 230, 230])
    }
    return canvas.image
  }

  /// Scales `image` to fit `box` keeping its aspect: area shrink, or whole-factor nearest
  /// enlargement (crisp pixels, so the sheet shows what the model sees).
  static func fit(_ image: Image, into box: (width: Int, height: Int), enlargement: Int) -> Image {
    if image.width > box.width || image.height > box.height {
      let scale = min(Double(box.width) / Double(image.width), Double(box.height) / Double(image.height))
      return AreaResize.resize(image, width: max(1, Int(Double(image.width) * scale)), height: max(1, Int(Double(image.height) * scale)))
    }
    // The same whole factor as the transformed images where it fits, so sizes compare.
    let factor = max(1, min(enlargement, box.width / image.width, box.height / image.height))
    if factor == 1 { return image }
    var large = Image(width: image.width * factor, height: image.height * factor, channels: image.channels)
    for y in 0..<large.height {
      for x in 0..<large.width {
        for c in 0..<image.channels {
          large.pixels[(y * large.width + x) * image.channels + c] = image.pixels[((y / factor) * image.width + x / factor) * image.channels + c]
        }
      }
    }
    return large
  }

  /// Copies `image` (gray or RGB) centred in the box at (x, y) of the RGB sheet.
  static func paste(_ image: Image, onto sheet: inout Image, x: Int, y: Int, box: (width: Int, height: Int)) {
    let left = x + (box.width - image.width) / 2, top = y + (box.height - image.height) / 2
    for row in 0..<image.height {
      let sy = top + row
      guard sy >= 0, sy < sheet.height else { continue }
      for column in 0..<image.width {
        let sx = left + column
        guard sx >= 0, sx < sheet.width else { continue }
        for c in 0..<3 {
          let source = image.channels == 1 ? image.pixels[row * image.width + column] : image.pixels[(row * image.width + column) * image.channels + c]
          sheet.pixels[(sy * sheet.width + sx) * 3 + c] = source
        }
      }
    }
  }
}

/// Builds the entries of `stn export`: `count` samples spread evenly over the dataset.
public struct ExportJob {
  public var config: PipelineConfig
  public var dataset: any ImageDataset
  public var count: Int
  public var epoch: Int = 0
  /// The trained model a `learned_affine` stage needs (nil: such a stage is refused).
  public var predictor: ThetaPredictor?
  /// Threads for the per-sample work around the predictor's batched forward pass.
  public var threads: Int = 1

  public init(config: PipelineConfig, dataset: any ImageDataset, count: Int) {
    self.config = config
    self.dataset = dataset
    self.count = count
  }

  /// Dataset indices shown: evenly spaced, so a class-sorted folder shows several classes.
  public var indices: [Int] {
    let n = min(count, dataset.count)
    return (0..<n).map { $0 * dataset.count / max(n, 1) }
  }

  /// The entries, and the samples that could not be read.
  public func run() throws -> (entries: [ContactSheetEntry], skipped: [SkippedSample]) {
    let processor = try SampleProcessor(config: config)
    try config.requirePredictor(predictor, what: "stn export with a pipeline")
    let shown = indices
    try LearnedStep.checkInput(processor: processor, predictor: predictor, dataset: dataset, candidates: shown)
    var samples: [Result<PreparedSample, any Error>] = shown.map { index in
      Result { try processor.prepare(dataset: dataset, index: index, epoch: epoch) }
    }
    if let predictor, config.hasLearnedStage {
      // One forward pass for the whole sheet (at most `count` images, a batch).
      samples = LearnedStep.complete(samples, processor: processor, predictor: predictor, threads: threads)
    }
    var entries: [ContactSheetEntry] = []
    var skipped: [SkippedSample] = []
    for (index, sample) in zip(shown, samples) {
      do {
        let original = try dataset.loadImage(at: index, options: config.decodeOptions)
        let transformed = try processor.renderUInt8(try sample.get())
        let label = dataset.label(at: index)
        let className = label >= 0 && label < dataset.classes.count ? dataset.classes[label] : "\(label)"
        entries.append(ContactSheetEntry(original: original, transformed: transformed, caption: "#\(index) \(className)"))
      } catch {
        skipped.append(SkippedSample(index: index, path: dataset.sourcePath(at: index), reason: "\(error)"))
      }
    }
    return (entries, skipped)
  }
}
