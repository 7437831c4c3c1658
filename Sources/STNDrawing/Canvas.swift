import STNImageIO
// MARK: - Canvas

/// A mutable 8-bit drawing surface (gray or RGB) for contact sheets, labels and plots.
///
/// Coordinates are pixels, x to the right and y down, (0,0) the top-left pixel. Every drawing
/// call clips to the canvas, so callers may draw partly (or wholly) outside it.
/// Colors are `[UInt8]` of 1 (gray) or 3 (RGB) values and are converted to the canvas's
/// channel count (RGB -> gray uses ITU-R 601 luma, like Pillow's "L" conversion).
public struct Canvas {
  /// The pixels drawn so far, (H,W,C).
  public var image: Image

  public var width: Int { image.width }
  public var height: Int { image.height }
  public var channels: Int { image.channels }

  /// A `width` x `height` canvas with `channels` (1 or 3), filled with `background`.
  public init(width: Int, height: Int, channels: Int = 3, background: [UInt8] = [255, 255, 255]) {
    precondition(channels == 1 || channels == 3, "canvas channels must be 1 or 3, got \(channels)")
    let w = max(0, width), h = max(0, height)
    image = Image(width: w, height: h, channels: channels)
    let fill = Canvas.convert(color: background, to: channels)
    if channels == 1 {
      image.pixels = [UInt8](repeating: fill[0], count: w * h)
    } else {
      var pixels = [UInt8](repeating: 0, count: w * h * 3)
      var i = 0
      while i < pixels.count {
        pixels[i] = fill[0]; pixels[i + 1] = fill[1]; pixels[i + 2] = fill[2]
        i += 3
      }
      image.pixels = pixels
    }
  }

  /// Wraps an existing image so it can be drawn on (channels must be 1 or 3).
  public init(image: Image) {
    precondition(image.channels == 1 || image.channels == 3, "canvas channels must be 1 or 3")
    self.image = image
  }

  // MARK: - Colors

  /// `color` (1 or 3 values) expressed with `channels` values.
  static func convert(color: [UInt8], to channels: Int) -> [UInt8] {
    precondition(color.count == 1 || color.count == 3, "a color has 1 (gray) or 3 (RGB) values")
    if color.count == channels { return color }
    if channels == 3 { return [color[0], color[0], color[0]] }
    return [luma(color[0], color[1], color[2])]
  }

  /// ITU-R 601-2 luma, rounded: L = (299 R + 587 G + 114 B) / 1000.
  static func luma(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> UInt8 {
    let red: Int = 299 * Int(r)
    let green: Int = 587 * Int(g)
    let blue: Int = 114 * Int(b)
    return UInt8((red + green + blue + 500) / 1000)
  }

  // MARK: - Pixels

  /// Sets one pixel; ignored when outside the canvas. `color` has `channels` values.
  @inline(__always)
  mutating func setPixel(x: Int, y: Int, _ color: [UInt8]) {
    guard x >= 0, y >= 0, x < width, y < height else { return }
    let base = (y * width + x) * channels
    for c in 0..<channels { image.pixels[base + c] = color[c] }
  }

  /// Mixes `color` over one pixel with opacity `alpha` in [0, 1]; ignored outside the canvas.
  @inline(__always)
  mutating func blendPixel(x: Int, y: Int, _ color: [UInt8], alpha: Double) {
    guard x >= 0, y >= 0, x < width, y < height, alpha > 0 else { return }
    let base = (y * width + x) * channels
    let a = min(alpha, 1)
    for c in 0..<channels {
      let old = Double(image.pixels[base + c])
      image.pixels[base + c] = UInt8((old + (Double(color[c]) - old) * a).rounded())
    }
  }

  /// The pixel at (`x`, `y`) as `channels` values (precondition: inside the canvas).
  public func pixel(x: Int, y: Int) -> [UInt8] {
    precondition(x >= 0 && y >= 0 && x < width && y < height, "pixel (\(x),\(y)) outside the canvas")
    let base = (y * width + x) * channels
    return Array(image.pixels[base..<(base + channels)])
  }

  // MARK: - Shapes

  /// Fills the rectangle with top-left (`x`, `y`), clipped to the canvas.
  public mutating func fillRect(x: Int, y: Int, width rectWidth: Int, height rectHeight: Int, color: [UInt8]) {
    let fill = Canvas.convert(color: color, to: channels)
    let x0 = max(0, x), y0 = max(0, y)
    let x1 = min(width, x &+ max(0, rectWidth)), y1 = min(height, y &+ max(0, rectHeight))
    guard x0 < x1, y0 < y1 else { return }
    let c = channels, canvasWidth = width
    image.pixels.withUnsafeMutableBufferPointer { pixels in
      for row in y0..<y1 {
        var i = (row * canvasWidth + x0) * c
        for _ in x0..<x1 {
          for k in 0..<c { pixels[i + k] = fill[k] }
          i += c
        }
      }
    }
  }

  /// Draws the 1-pixel outline of a rectangle, clipped.
  public mutating func strokeRect(x: Int, y: Int, width rectWidth: Int, height rectHeight: Int, color: [UInt8]) {
    guard rectWidth > 0, rectHeight > 0 else { return }
    fillRect(x: x, y: y, width: rectWidth, height: 1, color: color)
    fillRect(x: x, y: y + rectHeight - 1, width: rectWidth, height: 1, color: color)
    fillRect(x: x, y: y, width: 1, height: rectHeight, color: color)
    fillRect(x: x + rectWidth - 1, y: y, width: 1, height: rectHeight, color: color)
  }

  /// Draws a straight line between pixel centres (`x0`,`y0`) and (`x1`,`y1`), `thickness` pixels
  /// wide with round caps, clipped.
  ///
  /// A pixel is covered by how far its centre lies from the segment: with `antialiased`, the
  /// coverage ramps linearly over one pixel at the edge (smooth curves in plots); without it, a
  /// pixel is drawn when its centre is within `thickness / 2`. Axis-aligned 1-pixel lines come
  /// out crisp either way.
  public mutating func drawLine(x0: Double, y0: Double, x1: Double, y1: Double, color: [UInt8],
                                thickness: Double = 1, antialiased: Bool = true) {
    guard x0.isFinite, y0.isFinite, x1.isFinite, y1.isFinite, thickness > 0 else { return }
    let ink = Canvas.convert(color: color, to: channels)
    let half = thickness / 2
    let reach = half + 1
    // Only the part of the bounding box on the canvas is visited.
    let left = max(0, Int((min(x0, x1) - reach).rounded(.down)))
    let right = min(width - 1, Int((max(x0, x1) + reach).rounded(.up)))
    let top = max(0, Int((min(y0, y1) - reach).rounded(.down)))
    let bottom = min(height - 1, Int((max(y0, y1) + reach).rounded(.up)))
    guard left <= right, top <= bottom else { return }
    let dx = x1 - x0, dy = y1 - y0
    let lengthSquared = dx * dx + dy * dy
    for py in top...bottom {
      for px in left...right {
        // Distance from the pixel centre to the closest point of the segment.
        let fx = Double(px) - x0, fy = Double(py) - y0
        let t = lengthSquared > 0 ? min(1, max(0, (fx * dx + fy * dy) / lengthSquared)) : 0
        let ex = fx - t * dx, ey = fy - t * dy
        let distance = (ex * ex + ey * ey).squareRoot()
        if antialiased {
          let coverage = half + 0.5 - distance
          if coverage > 0 { blendPixel(x: px, y: py, ink, alpha: coverage) }
        } else if distance <= half {
          setPixel(x: px, y: py, ink)
        }
      }
    }
  }

  /// Integer-coordinate convenience for `drawLine`.
  public mutating func drawLine(x0: Int, y0: Int, x1: Int, y1: Int, color: [UInt8], thickness: Int = 1,
                                antialiased: Bool = false) {
    drawLine(x0: Double(x0), y0: Double(y0), x1: Double(x1), y1: Double(y1), color: color,
             thickness: Double(thickness), antialiased: antialiased)
  }

  /// Fills a disc of `radius` pixels centred on (`x`, `y`), antialiased at the edge.
  public mutating func fillCircle(x: Double, y: Double, radius: Double, color: [UInt8]) {
    guard x.isFinite, y.isFinite, radius > 0 else { return }
    drawLine(x0: x, y0: y, x1: x, y1: y, color: color, thickness: 2 * radius, antialiased: true)
  }

  // MARK: - Images

  /// Copies `source` with its top-left corner at (`x`, `y`), clipped; gray sources are
  /// replicated into RGB canvases and RGB sources reduced to luma on gray canvases.
  public mutating func draw(image source: Image, x: Int, y: Int) {
    precondition(source.channels == 1 || source.channels == 3, "can only draw 1- or 3-channel images")
    let x0 = max(0, x), y0 = max(0, y)
    let x1 = min(width, x &+ source.width), y1 = min(height, y &+ source.height)
    guard x0 < x1, y0 < y1 else { return }
    let c = channels, sc = source.channels, canvasWidth = width
    image.pixels.withUnsafeMutableBufferPointer { dst in
      source.pixels.withUnsafeBufferPointer { src in
        for row in y0..<y1 {
          var d = (row * canvasWidth + x0) * c
          var s = ((row - y) * source.width + (x0 - x)) * sc
          for _ in x0..<x1 {
            if sc == c {
              for k in 0..<c { dst[d + k] = src[s + k] }
            } else if c == 3 {
              dst[d] = src[s]; dst[d + 1] = src[s]; dst[d + 2] = src[s]
            } else {
              dst[d] = Canvas.luma(src[s], src[s + 1], src[s + 2])
            }
            d += c
            s += sc
          }
        }
      }
    }
  }

  // MARK: - Text

  /// Size in pixels of `text` drawn with `drawText` at `scale` ('\n' starts a new line).
  /// Empty text is 0 x 0.
  public static func textSize(_ text: String, scale: Int = 1) -> (width: Int, height: Int) {
    guard !text.isEmpty else { return (0, 0) }
    let s = max(1, scale)
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    let longest = lines.map { $0.count }.max() ?? 0
    let width = longest == 0 ? 0 : (longest * BitmapFont.advance - (BitmapFont.advance - BitmapFont.glyphWidth)) * s
    let height = (lines.count * BitmapFont.lineHeight - (BitmapFont.lineHeight - BitmapFont.glyphHeight)) * s
    return (width, height)
  }

  /// Draws `text` with its first line's top-left at (`x`, `y`), each font pixel as a
  /// `scale` x `scale` block; clipped; '\n' starts a new line below.
  public mutating func drawText(_ text: String, x: Int, y: Int, color: [UInt8], scale: Int = 1) {
    let s = max(1, scale)
    let ink = Canvas.convert(color: color, to: channels)
    var penX = x, penY = y
    for character in text {
      if character == "\n" || character == "\r\n" {
        penX = x
        penY += BitmapFont.lineHeight * s
        continue
      }
      // Skip glyphs wholly outside the canvas (long labels on small sheets).
      if penX < width, penY < height, penX + BitmapFont.glyphWidth * s > 0, penY + BitmapFont.glyphHeight * s > 0 {
        let rows = BitmapFont.rows(for: character)
        for (row, bits) in rows.enumerated() where bits != 0 {
          for column in 0..<BitmapFont.glyphWidth where bits & (UInt8(1) << UInt8(BitmapFont.glyphWidth - 1 - column)) != 0 {
            for dy in 0..<s {
              for dx in 0..<s { setPixel(x: penX + column * s + dx, y: penY + row * s + dy, ink) }
            }
          }
        }
      }
      penX += BitmapFont.advance * s
    }
  }

  // MARK: - Sheets

  /// A labelled grid ("contact sheet"): each image enlarged `cellScale` times (nearest
  /// neighbour, so small digits stay crisp), centred in a cell, with its label below.
  ///
  /// Cells are as wide as the widest enlarged image or label, and as tall as the tallest image
  /// plus the tallest label, so labels are never cut. Missing labels (fewer labels than
  /// images) leave the space blank. The sheet is RGB when any image is, else gray, unless
  /// `channels` says otherwise.
  public static func grid(images: [Image], labels: [String] = [], columns: Int, cellScale: Int = 1,
                          padding: Int = 4, title: String? = nil, channels: Int? = nil,
                          background: [UInt8] = [255, 255, 255], textColor: [UInt8] = [0, 0, 0]) -> Image {
    let scale = max(1, cellScale)
    let columnCount = max(1, min(columns, max(1, images.count)))
    let rowCount = (images.count + columnCount - 1) / columnCount
    let pad = max(0, padding)
    let sheetChannels = channels ?? (images.contains { $0.channels == 3 } ? 3 : 1)
    let imageWidth = images.map { $0.width * scale }.max() ?? 0
    let imageHeight = images.map { $0.height * scale }.max() ?? 0
    let labelSizes = labels.prefix(images.count).map { textSize($0, scale: 1) }
    let labelWidth = labelSizes.map { $0.width }.max() ?? 0
    let labelHeight = labelSizes.map { $0.height }.max() ?? 0
    let cellWidth = max(imageWidth, labelWidth)
    let labelGap = labelHeight > 0 ? 3 : 0
    let cellHeight = imageHeight + labelGap + labelHeight
    let titleHeight = (title?.isEmpty == false) ? textSize(title ?? "", scale: 1).height + pad : 0
    let titleWidth = (title?.isEmpty == false) ? textSize(title ?? "", scale: 1).width + 2 * pad : 0
    let sheetWidth = max(titleWidth, columnCount * cellWidth + (columnCount + 1) * pad, 1)
    let sheetHeight = max(titleHeight + rowCount * cellHeight + (rowCount + 1) * pad, 1)
    var canvas = Canvas(width: sheetWidth, height: sheetHeight, channels: sheetChannels, background: background)
    if let title, !title.isEmpty { canvas.drawText(title, x: pad, y: pad, color: textColor) }
    for (index, source) in images.enumerated() {
      let column = index % columnCount, row = index / columnCount
      let cellX = pad + column * (cellWidth + pad)
      let cellY = titleHeight + pad + row * (cellHeight + pad)
      let enlarged = source.upscaledNearest(factor: scale)
      canvas.draw(image: enlarged, x: cellX + (cellWidth - enlarged.width) / 2, y: cellY + (imageHeight - enlarged.height) / 2)
      if index < labels.count, !labels[index].isEmpty {
        let size = labelSizes[index]
        canvas.drawText(labels[index], x: cellX + (cellWidth - size.width) / 2, y: cellY + imageHeight + labelGap,
                        color: textColor)
      }
    }
    return canvas.image
  }

  /// A table of images: each row shows related images side by side (e.g. original |
  /// transformed | rectified), `columnTitles` head the columns, and `cellLabels[row][column]`
  /// (optional) goes under a cell (e.g. the predicted class).
  ///
  /// Each column is as wide as its widest enlarged image, label or title; each row as tall as
  /// its tallest image plus label. Images are enlarged `cellScale` times (nearest neighbour)
  /// and centred. The sheet is RGB when any image is, else gray, unless `channels` says otherwise.
  public static func table(rows: [[Image]], columnTitles: [String] = [], cellLabels: [[String]] = [],
                           cellScale: Int = 1, padding: Int = 4, title: String? = nil, channels: Int? = nil,
                           background: [UInt8] = [255, 255, 255], textColor: [UInt8] = [0, 0, 0]) -> Image {
    let scale = max(1, cellScale)
    let pad = max(0, padding)
    let columnCount = max(rows.map { $0.count }.max() ?? 0, columnTitles.count)
    func label(_ row: Int, _ column: Int) -> String {
      row < cellLabels.count && column < cellLabels[row].count ? cellLabels[row][column] : ""
    }
    var columnWidths = [Int](repeating: 0, count: columnCount)
    for column in 0..<columnCount {
      var widest = column < columnTitles.count ? textSize(columnTitles[column], scale: 1).width : 0
      for (r, row) in rows.enumerated() where column < row.count {
        widest = max(widest, row[column].width * scale, textSize(label(r, column), scale: 1).width)
      }
      columnWidths[column] = widest
    }
    let imageHeights = rows.map { row in row.map { $0.height * scale }.max() ?? 0 }
    let labelHeights = rows.indices.map { r in (0..<columnCount).map { textSize(label(r, $0), scale: 1).height }.max() ?? 0 }
    let headerHeight = columnTitles.map { textSize($0, scale: 1).height }.max().map { $0 > 0 ? $0 + pad : 0 } ?? 0
    let hasTitle = title?.isEmpty == false
    let titleSize = textSize(title ?? "", scale: 1)
    let titleHeight = hasTitle ? titleSize.height + pad : 0
    let rowHeights = rows.indices.map { imageHeights[$0] + (labelHeights[$0] > 0 ? 3 + labelHeights[$0] : 0) }
    let sheetWidth = max(columnWidths.reduce(0, +) + (columnCount + 1) * pad, hasTitle ? titleSize.width + 2 * pad : 0, 1)
    let sheetHeight = max(titleHeight + headerHeight + rowHeights.reduce(0, +) + (rows.count + 1) * pad, 1)
    let sheetChannels = channels ?? (rows.contains { $0.contains { $0.channels == 3 } } ? 3 : 1)
    var canvas = Canvas(width: sheetWidth, height: sheetHeight, channels: sheetChannels, background: background)
    if let title, hasTitle { canvas.drawText(title, x: pad, y: pad, color: textColor) }
    var columnX = [Int](repeating: pad, count: columnCount)
    for column in 1..<max(1, columnCount) { columnX[column] = columnX[column - 1] + columnWidths[column - 1] + pad }
    for (column, text) in columnTitles.enumerated() where !text.isEmpty {
      let size = textSize(text, scale: 1)
      canvas.drawText(text, x: columnX[column] + (columnWidths[column] - size.width) / 2, y: titleHeight + pad, color: textColor)
    }
    var y = titleHeight + headerHeight + pad
    for (r, row) in rows.enumerated() {
      for (column, source) in row.enumerated() {
        let enlarged = source.upscaledNearest(factor: scale)
        canvas.draw(image: enlarged, x: columnX[column] + (columnWidths[column] - enlarged.width) / 2,
                    y: y + (imageHeights[r] - enlarged.height) / 2)
      }
      for column in 0..<columnCount {
        let text = label(r, column)
        guard !text.isEmpty else { continue }
        let size = textSize(text, scale: 1)
        canvas.drawText(text, x: columnX[column] + (columnWidths[column] - size.width) / 2, y: y + imageHeights[r] + 3,
                        color: textColor)
      }
      y += rowHeights[r] + pad
    }
    return canvas.image
  }
}

// MARK: - Image helpers

extension Image {
  /// This image enlarged `factor` times in each direction by repeating pixels (nearest
  /// neighbour), so 28x28 digits can be shown legibly; factor <= 1 returns the image unchanged.
  public func upscaledNearest(factor: Int) -> Image {
    upscaledNearest(horizontal: factor, vertical: factor)
  }

  /// This image enlarged `horizontal` times in x and `vertical` times in y by repeating pixels
  /// (e.g. a 1-pixel-high strip of features made tall enough to see); factors <= 1 keep that
  /// direction unchanged.
  public func upscaledNearest(horizontal: Int, vertical: Int) -> Image {
    let fx = max(1, horizontal), fy = max(1, vertical)
    guard fx > 1 || fy > 1 else { return self }
    let c = channels, sourceWidth = width, sourceHeight = height
    let outWidth = width * fx
    var out = [UInt8](repeating: 0, count: outWidth * height * fy * c)
    out.withUnsafeMutableBufferPointer { dst in
      pixels.withUnsafeBufferPointer { src in
        for y in 0..<sourceHeight {
          // Build one enlarged row, then copy it `fy` times.
          let rowStart = y * fy * outWidth * c
          for x in 0..<sourceWidth {
            for rep in 0..<fx {
              for k in 0..<c { dst[rowStart + (x * fx + rep) * c + k] = src[(y * sourceWidth + x) * c + k] }
            }
          }
          for rep in 1..<fy {
            let copyStart = rowStart + rep * outWidth * c
            for i in 0..<(outWidth * c) { dst[copyStart + i] = dst[rowStart + i] }
          }
        }
      }
    }
    return Image(width: outWidth, height: height * fy, channels: c, pixels: out)
  }
}
