import STNImageIO

/// Halves an 8-bit HWC image along x, y or both by averaging pixel pairs (a 2-tap box filter,
/// rounded half up): the cheap anti-aliasing prefilter applied while a transform minifies by 2x
/// or more along an axis, so the final bilinear pass never minifies by 2x or more.
///
/// Output pixel i covers source pixels 2i and 2i+1, so its centre is at source 2i + 0.5: the
/// output->source map is x_s = 2·x + 0.5 per halved axis. An odd last pixel is copied (its centre
/// is then half a pixel off, at the image edge only).
public enum BoxHalve {
  /// Output size of halving `size` pixels.
  @inline(__always) public static func halved(_ size: Int) -> Int { (size + 1) / 2 }

  /// Halves `image` along the chosen axes.
  public static func halve(_ image: Image, x: Bool, y: Bool) -> Image {
    if !x && !y { return image }
    let c = image.channels, w = image.width, h = image.height
    let ow = x ? halved(w) : w, oh = y ? halved(h) : h
    // Every byte is written below, so the buffer is not zero-filled first.
    let output = [UInt8](unsafeUninitializedCapacity: ow * oh * c) { outBuffer, initialized in
      let sourceRow = w * c, outRow = ow * c
      image.pixels.withUnsafeBufferPointer { sourceBuffer in
        let source = sourceBuffer.baseAddress!, out = outBuffer.baseAddress!
        for oy in 0..<oh {
          let top = source + (y ? 2 * oy : oy) * sourceRow
          // The second row: the next one when halving y (the same one at an odd last row).
          let bottom = y && 2 * oy + 1 < h ? top + sourceRow : top
          let destination = out + oy * outRow
          if !x {
            for i in 0..<sourceRow { destination[i] = UInt8((UInt16(top[i]) + UInt16(bottom[i]) + 1) >> 1) }
            continue
          }
          let pairs = w / 2
          if y && c == 3 {
            // Unrolled RGB: the common photo case.
            for ox in 0..<pairs {
              let a = top + 6 * ox, b = bottom + 6 * ox, d = destination + 3 * ox
              d[0] = UInt8((UInt16(a[0]) &+ UInt16(a[3]) &+ UInt16(b[0]) &+ UInt16(b[3]) &+ 2) >> 2)
              d[1] = UInt8((UInt16(a[1]) &+ UInt16(a[4]) &+ UInt16(b[1]) &+ UInt16(b[4]) &+ 2) >> 2)
              d[2] = UInt8((UInt16(a[2]) &+ UInt16(a[5]) &+ UInt16(b[2]) &+ UInt16(b[5]) &+ 2) >> 2)
            }
          } else if !y && c == 3 {
            for ox in 0..<pairs {
              let a = top + 6 * ox, d = destination + 3 * ox
              d[0] = UInt8((UInt16(a[0]) &+ UInt16(a[3]) &+ 1) >> 1)
              d[1] = UInt8((UInt16(a[1]) &+ UInt16(a[4]) &+ 1) >> 1)
              d[2] = UInt8((UInt16(a[2]) &+ UInt16(a[5]) &+ 1) >> 1)
            }
          } else if y {
            for ox in 0..<pairs {
              let a = top + 2 * ox * c, b = bottom + 2 * ox * c
              for k in 0..<c {
                let sum = UInt16(a[k]) + UInt16(a[k + c]) + UInt16(b[k]) + UInt16(b[k + c])
                destination[ox * c + k] = UInt8((sum + 2) >> 2)
              }
            }
          } else {
            for ox in 0..<pairs {
              let a = top + 2 * ox * c
              for k in 0..<c { destination[ox * c + k] = UInt8((UInt16(a[k]) + UInt16(a[k + c]) + 1) >> 1) }
            }
          }
          if w % 2 == 1 {
            let a = top + (w - 1) * c, b = bottom + (w - 1) * c
            for k in 0..<c { destination[pairs * c + k] = UInt8((UInt16(a[k]) + UInt16(b[k]) + 1) >> 1) }
          }
        }
      }
      initialized = ow * oh * c
    }
    return Image(width: ow, height: oh, channels: c, pixels: output)
  }

  /// The naive twin: every output pixel from its (up to) 2x2 source block, by index arithmetic.
  public static func halveNaive(_ image: Image, x: Bool, y: Bool) -> Image {
    let c = image.channels, w = image.width, h = image.height
    let ow = x ? halved(w) : w, oh = y ? halved(h) : h
    var output = Image(width: ow, height: oh, channels: c)
    for oy in 0..<oh {
      for ox in 0..<ow {
        for k in 0..<c {
          let xs = x ? [2 * ox, min(2 * ox + 1, w - 1)] : [ox]
          let ys = y ? [2 * oy, min(2 * oy + 1, h - 1)] : [oy]
          var sum = 0
          for sy in ys { for sx in xs { sum += Int(image.pixels[(sy * w + sx) * c + k]) } }
          let n = xs.count * ys.count
          output.pixels[(oy * ow + ox) * c + k] = UInt8((sum + n / 2) / n)
        }
      }
    }
    return output
  }
}
