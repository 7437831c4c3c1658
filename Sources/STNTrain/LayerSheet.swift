import STNDrawing
import STNImageIO
import STNNetwork
import STNTensor

/// The sheet of `stn export CHECKPOINT --layers`: every layer's output for a few samples.
///
/// For each sample, a row per layer (the input first, then the layers in `summary()` order).
/// A row starts with a label (index and kind, state-dict name, per-sample output shape; the
/// sample's caption on the input row), then a tile per channel (`FeatureMapTiles`), each in a
/// blue border with its own min (black) and max (white) printed under it. Every cell has a
/// fixed size, so rows line up and the size of the sheet follows from its rows and tiles.
///
/// Bounded for big models: at most `tilesPerRow` tiles per row (the label says how many
/// channels there are), `layersPerSample` layers per sample and `maximumRows` rows on the
/// sheet (later samples are left out); a row or `leftOut` says what is missing.
public enum LayerSheet {
  /// Tiles per row at most.
  public static let tilesPerRow = 16
  /// Layer rows (input included) per sample at most.
  public static let layersPerSample = 64
  /// Rows on a sheet at most.
  public static let maximumRows = 128
  /// Every tile is fitted into a box this many pixels wide and high.
  public static let tileSide = 44
  /// A tile's cell: the box plus its 1-pixel border.
  public static let cellSide = tileSide + 2
  /// Characters per line of a row's label (longer lines are cut).
  public static let labelCharacters = 24
  /// Lines of a row's label at most.
  public static let labelLines = 4
  /// Padding between cells.
  public static let padding = 4
  static let borderColor: [UInt8] = [70, 110, 190]
  static let white: [UInt8] = [255, 255, 255]

  /// A sheet's rows: each row's images (label first, then tiles) and the texts under them.
  public struct Layout {
    public var rows: [[Image]] = []
    public var cellLabels: [[String]] = []
    /// Samples drawn (fewer than given when `maximumRows` cut the sheet).
    public var samples = 0
  }

  /// The rows for `outputs` (`Model.layerOutputs` of a batch of N samples) and one caption per
  /// sample (`captions[i]`: lines for sample i's input row, e.g. its class and prediction).
  public static func layout(outputs: [(entry: LayerEntry, value: Tensor)], captions: [[String]]) -> Layout {
    var layout = Layout()
    let sampleCount = outputs.first?.value.shape[0] ?? 0
    let shownLayers = Array(outputs.prefix(layersPerSample))
    let rowsPerSample = shownLayers.count + (outputs.count > shownLayers.count ? 1 : 0)
    for sample in 0..<sampleCount where layout.rows.count + rowsPerSample <= maximumRows || layout.samples == 0 {
      for (entry, value) in shownLayers {
        let (tiles, channelCount) = FeatureMapTiles.tiles(value, sample: sample, limit: tilesPerRow)
        var lines = [entry.label, entry.name == entry.label ? shape(entry) : entry.name + " " + shape(entry)]
        if entry.position.isEmpty, sample < captions.count { lines += captions[sample] }
        if tiles.count < channelCount { lines.append("first \(tiles.count) of \(channelCount) channels") }
        layout.rows.append([label(lines)] + tiles.map(cell))
        layout.cellLabels.append([""] + tiles.map { FeatureMapTiles.compact($0.minimum) + "\n" + FeatureMapTiles.compact($0.maximum) })
      }
      if outputs.count > shownLayers.count {
        layout.rows.append([label(["\(outputs.count - shownLayers.count) more layers", "left out"])])
        layout.cellLabels.append([])
      }
      layout.samples += 1
    }
    return layout
  }

  /// The sheet: `title` (one or more lines) over the rows of `layout`.
  public static func render(_ layout: Layout, title: String) -> Image {
    Canvas.table(rows: layout.rows, cellLabels: layout.cellLabels, padding: padding, title: title, channels: 3)
  }

  /// "[8,18,18]".
  static func shape(_ entry: LayerEntry) -> String {
    "[" + entry.outputShape.map(String.init).joined(separator: ",") + "]"
  }

  /// A row's label: up to `labelLines` lines of `labelCharacters`, on a fixed-size white image.
  static func label(_ lines: [String]) -> Image {
    let width = labelCharacters * BitmapFont.advance - 1
    var canvas = Canvas(width: width, height: cellSide, channels: 3, background: white)
    let text = lines.prefix(labelLines).map { String($0.prefix(labelCharacters)) }.joined(separator: "\n")
    canvas.drawText(text, x: 0, y: 0, color: [0, 0, 0])
    return canvas.image
  }

  /// A tile fitted into `tileSide`, framed by a 1-pixel border, centred on a `cellSide` cell.
  static func cell(_ tile: FeatureMapTiles.Tile) -> Image {
    let shown = FeatureMapTiles.displayed(tile.image, side: tileSide)
    var canvas = Canvas(width: cellSide, height: cellSide, channels: 3, background: white)
    let x = (cellSide - shown.width) / 2, y = (cellSide - shown.height) / 2
    canvas.strokeRect(x: x - 1, y: y - 1, width: shown.width + 2, height: shown.height + 2, color: borderColor)
    canvas.draw(image: shown, x: x, y: y)
    return canvas.image
  }
}
