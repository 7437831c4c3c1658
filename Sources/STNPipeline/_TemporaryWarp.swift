// TEMPORARY stand-ins for the STNWarp kernel contract until the warp helper's work lands on main.
// Delete this file then. Naive, per-pixel, slow.
#if canImport(Glibc)
import Glibc
#endif
import STNWarp

public enum GridSampleMode: String, Sendable { case bilinear, nearest }
public enum GridSamplePadding: String, Sendable { case zeros, border, reflection }

public struct WarpOptions: Sendable {
  public var mode: GridSampleMode
  public var padding: GridSamplePadding
  public var fill: [Float]
  public init(mode: GridSampleMode = .bilinear, padding: GridSamplePadding = .zeros, fill: [Float] = [0]) {
    self.mode = mode
    self.padding = padding
    self.fill = fill
  }
}

@inline(__always) private func resolve(_ v: Double, _ size: Int, _ padding: GridSamplePadding) -> Double {
  switch padding {
  case .zeros: return v
  case .border: return min(max(v, 0), Double(size - 1))
  case .reflection:
    // Reflect about the outer pixel edges -0.5 and size-0.5, then clip.
    let low = -0.5, span = Double(size)
    var x = abs(v - low)
    let flips = (x / span).rounded(.down)
    x = x - flips * span
    x = Int(flips) % 2 == 0 ? x + low : span - x + low
    return min(max(x, 0), Double(size - 1))
  }
}

private func sample(_ source: UnsafePointer<UInt8>, _ width: Int, _ height: Int, _ channels: Int, _ sx: Double, _ sy: Double, _ c: Int, _ options: WarpOptions) -> Float {
  let fill = options.fill.count == channels ? options.fill[c] : (options.fill.first ?? 0)
  func at(_ x: Int, _ y: Int) -> Float {
    if x < 0 || y < 0 || x >= width || y >= height { return fill }
    return Float(source[(y * width + x) * channels + c])
  }
  let x = resolve(sx, width, options.padding), y = resolve(sy, height, options.padding)
  if options.mode == .nearest {
    return at(Int(x.rounded(.toNearestOrEven)), Int(y.rounded(.toNearestOrEven)))
  }
  let x0 = Int(x.rounded(.down)), y0 = Int(y.rounded(.down))
  let fx = Float(x - Double(x0)), fy = Float(y - Double(y0))
  let top = at(x0, y0) * (1 - fx) + at(x0 + 1, y0) * fx
  let bottom = at(x0, y0 + 1) * (1 - fx) + at(x0 + 1, y0 + 1) * fx
  return top * (1 - fy) + bottom * fy
}

public func warpAffineNormalized(
  source: UnsafePointer<UInt8>, width: Int, height: Int, channels: Int, destinationToSource: AffineTransform,
  output: UnsafeMutablePointer<Float>, outputWidth: Int, outputHeight: Int, scale: [Float], bias: [Float], options: WarpOptions
) {
  let m = destinationToSource
  for y in 0..<outputHeight {
    for x in 0..<outputWidth {
      let s = m.apply(x: Double(x), y: Double(y))
      for c in 0..<channels {
        let v = sample(source, width, height, channels, s.x, s.y, c, options)
        output[(c * outputHeight + y) * outputWidth + x] = v * scale[c] + bias[c]
      }
    }
  }
}

public func warpAffineUInt8(
  source: UnsafePointer<UInt8>, width: Int, height: Int, channels: Int, destinationToSource: AffineTransform,
  output: UnsafeMutablePointer<UInt8>, outputWidth: Int, outputHeight: Int, options: WarpOptions
) {
  let m = destinationToSource
  for y in 0..<outputHeight {
    for x in 0..<outputWidth {
      let s = m.apply(x: Double(x), y: Double(y))
      for c in 0..<channels {
        let v = sample(source, width, height, channels, s.x, s.y, c, options)
        output[(y * outputWidth + x) * channels + c] = UInt8(min(max(v.rounded(), 0), 255))
      }
    }
  }
}
