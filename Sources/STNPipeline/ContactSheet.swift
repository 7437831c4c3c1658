import Foundation
import STNDrawing
import STNImageIO

/// One sample on a contact sheet: the decoded original, its transformed version, and the text
/// under each.
public struct ContactSheetEntry: Sendable {
  public var original: Image
  public var transformed: Image
  /// Under the original: what it is ("#12 cat").
  public var caption: String
  /// Under the original too: its file name.
  public var name: String
  /// Under the transformed version: the parameters drawn for it, one short line each.
  public var parameters: [String]

  public init(original: Image, transformed: Image, caption: String, name: String = "", parameters: [String] = []) {
    self.original = original
    self.transformed = transformed
    self.caption = caption
    self.name = name
    self.parameters = parameters
  }

  /// The lines describing a sample's random draws: rotation, scale, translation (pixels of the
  /// canvas they act on), shear and flips, as drawn for it; "perspective" for a perspective step
  /// that distorts, and an elastic step's largest control-point displacement.
  public static func parameterLines(_ geometry: SampleGeometry) -> [String] {
    var lines: [String] = []
    for step in geometry.steps {
      switch step.map {
      case .homography?: lines.append("perspective")
      case .thinPlateSpline(let spline)?:
        // The largest control-point displacement, in pixels of the canvas it acts on.
        let largest = zip(spline.controlPoints, spline.targets).map { (($1 - $0) * ($1 - $0)).sum().squareRoot() }.max() ?? 0
        lines.append(String(format: "elastic max %.1f px", largest))
      default: break
      }
      guard let draw = step.draw else { continue }
      let p = draw.parameters
      lines.append(String(format: "rot %.1f sc %.2f", p.angle, p.scale))
      lines.append(String(format: "tx %+.1f ty %+.1f", p.translateX, p.translateY))
      if p.shearX != 0 || p.shearY != 0 { lines.append(String(format: "shear %.1f %.1f", p.shearX, p.shearY)) }
      if draw.hflip || draw.vflip { lines.append([draw.hflip ? "hflip" : nil, draw.vflip ? "vflip" : nil].compactMap { $0 }.joined(separator: " ")) }
    }
    return lines
  }
}

/// Lays out originals beside their transformed versions on an RGB sheet, in a grid: both in
/// cells of one size, the original's class and file name under it, the drawn parameters under
/// the transformed version.
public enum ContactSheet {
  /// Gap between tiles and around the sheet, in pixels.
  static let gap = 12
  static let background: UInt8 = 40
  static let textColor: [UInt8] = [230, 230, 230]
  static let dimTextColor: [UInt8] = [170, 170, 170]

  /// Side of the square cell each image is shown in: the transformed size, enlarged by a whole
  /// factor until it is at least `minimumBox` (small images like 28x28 stay readable).
  static func box(for entries: [ContactSheetEntry], minimumBox: Int) -> (width: Int, height: Int) {
    let width = entries.map(\.transformed.width).max() ?? 1, height = entries.map(\.transformed.height).max() ?? 1
    let factor = max(1, (minimumBox + max(width, height) - 1) / max(width, height))
    return (width * factor, height * factor)
  }

  /// The sheet: each original beside its transformed version, text underneath.
  public static func render(_ entries: [ContactSheetEntry], minimumBox: Int = 112) -> Image {
    let box = box(for: entries, minimumBox: minimumBox)
    let columns = max(1, Int(Double(entries.count).squareRoot().rounded(.up)))
    let rows = max(1, (entries.count + columns - 1) / columns)
    let lines = max(2, entries.map(\.parameters.count).max() ?? 0)
    let captionHeight = 3 + lines * BitmapFont.lineHeight
    let pairWidth = 2 * box.width + gap / 2, pairHeight = box.height + captionHeight
    let width = gap + columns * (pairWidth + gap), height = gap + rows * (pairHeight + gap)
    var sheet = Image(width: width, height: height, channels: 3, repeating: background)
    for (i, entry) in entries.enumerated() {
      let x = gap + (i % columns) * (pairWidth + gap), y = gap + (i / columns) * (pairHeight + gap)
      paste(fit(entry.original, into: box), onto: &sheet, x: x, y: y, box: box)
      paste(fit(entry.transformed, into: box), onto: &sheet, x: x + box.width + gap / 2, y: y, box: box)
    }
    var canvas = Canvas(image: sheet)
    let characters = max(1, (box.width + BitmapFont.advance - BitmapFont.glyphWidth) / BitmapFont.advance)
    func clip(_ text: String) -> String { text.count <= characters ? text : String(text.prefix(max(1, characters - 2))) + ".." }
    for (i, entry) in entries.enumerated() {
      let x = gap + (i % columns) * (pairWidth + gap), y = gap + (i / columns) * (pairHeight + gap) + box.height + 3
      canvas.drawText(clip(entry.caption), x: x + 1, y: y, color: textColor)
      canvas.drawText(clip(entry.name), x: x + 1, y: y + BitmapFont.lineHeight, color: dimTextColor)
      for (k, line) in entry.parameters.enumerated() {
        canvas.drawText(clip(line), x: x + box.width + gap / 2 + 1, y: y + k * BitmapFont.lineHeight, color: textColor)
      }
    }
    return canvas.image
  }

  /// Scales `image` to fill the cell keeping its aspect: small images (under 64 pixels a side,
  /// like 28x28 digits) by the largest whole-factor nearest enlargement that fits (crisp pixels,
  /// so the sheet shows what the model sees), others with torchvision's antialiased bilinear
  /// resize to the exact fit.
  static func fit(_ image: Image, into box: (width: Int, height: Int)) -> Image {
    let scale = min(Double(box.width) / Double(image.width), Double(box.height) / Double(image.height))
    if max(image.width, image.height) < 64 && scale >= 2 {
      return image.upscaledNearest(factor: Int(scale))
    }
    let width = max(1, min(box.width, Int((Double(image.width) * scale).rounded()))), height = max(1, min(box.height, Int((Double(image.height) * scale).rounded())))
    if width == image.width && height == image.height { return image }
    let x = SeparableResample.Axis(rows: SeparableResample.triangleRows(source: image.width, destination: width))
    let y = SeparableResample.Axis(rows: SeparableResample.triangleRows(source: image.height, destination: height))
    return SeparableResample.resampleUInt8(image, x: x, y: y, fill: [0])
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
