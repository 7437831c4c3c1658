// TEMPORARY naive stand-ins for the ops and warp helpers' kernels, with their agreed signatures,
// so the graph can be built and tested before their work lands. Delete once main has theirs.
import Foundation
import STNTensor
// MARK: - Warp (bilinear, zeros only)

public struct GridSampleOptions {
  public enum Mode { case bilinear, nearest }
  public enum Padding { case zeros, border, reflection }
  public var mode: Mode, padding: Padding, alignCorners: Bool
  public init(mode: Mode, padding: Padding, alignCorners: Bool) { self.mode = mode; self.padding = padding; self.alignCorners = alignCorners }
}

private func baseCoordinate(_ i: Int, _ size: Int, _ alignCorners: Bool) -> Float {
  alignCorners ? (size == 1 ? 0 : Float(2 * i) / Float(size - 1) - 1) : (Float(2 * i + 1) / Float(size) - 1)
}

public func affineGrid(theta: Tensor, size: [Int], alignCorners: Bool) -> Tensor {
  let (n, h, w) = (size[0], size[2], size[3])
  var grid = Tensor(shape: [n, h, w, 2])
  for b in 0..<n { for y in 0..<h { for x in 0..<w {
    let bx = baseCoordinate(x, w, alignCorners), by = baseCoordinate(y, h, alignCorners)
    let t = Array(theta.data[(b * 6)..<(b * 6 + 6)])
    grid.data[((b * h + y) * w + x) * 2] = t[0] * bx + t[1] * by + t[2]
    grid.data[((b * h + y) * w + x) * 2 + 1] = t[3] * bx + t[4] * by + t[5]
  } } }
  return grid
}

public func affineGridBackward(gradGrid: Tensor, size: [Int], alignCorners: Bool) -> Tensor {
  let (n, h, w) = (size[0], size[2], size[3])
  var gt = Tensor(shape: [n, 2, 3])
  for b in 0..<n { for y in 0..<h { for x in 0..<w {
    let bx = baseCoordinate(x, w, alignCorners), by = baseCoordinate(y, h, alignCorners)
    let gx = gradGrid.data[((b * h + y) * w + x) * 2], gy = gradGrid.data[((b * h + y) * w + x) * 2 + 1]
    gt.data[b * 6 + 0] += gx * bx; gt.data[b * 6 + 1] += gx * by; gt.data[b * 6 + 2] += gx
    gt.data[b * 6 + 3] += gy * bx; gt.data[b * 6 + 4] += gy * by; gt.data[b * 6 + 5] += gy
  } } }
  return gt
}

private func unnormalize(_ c: Float, _ size: Int, _ alignCorners: Bool) -> Float {
  alignCorners ? (c + 1) / 2 * Float(size - 1) : ((c + 1) * Float(size) - 1) / 2
}

public func gridSample(input: Tensor, grid: Tensor, options: GridSampleOptions, threads: Int) -> Tensor {
  let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
  let (ho, wo) = (grid.shape[1], grid.shape[2])
  var out = Tensor(shape: [n, c, ho, wo])
  for b in 0..<n { for y in 0..<ho { for x in 0..<wo {
    let gi = ((b * ho + y) * wo + x) * 2
    let ix = unnormalize(grid.data[gi], w, options.alignCorners), iy = unnormalize(grid.data[gi + 1], h, options.alignCorners)
    let x0 = Int(floor(ix)), y0 = Int(floor(iy))
    let tx = ix - Float(x0), ty = iy - Float(y0)
    for ch in 0..<c {
      func at(_ yy: Int, _ xx: Int) -> Float { (yy < 0 || yy >= h || xx < 0 || xx >= w) ? 0 : input.data[((b * c + ch) * h + yy) * w + xx] }
      let v = at(y0, x0) * (1 - tx) * (1 - ty) + at(y0, x0 + 1) * tx * (1 - ty) + at(y0 + 1, x0) * (1 - tx) * ty + at(y0 + 1, x0 + 1) * tx * ty
      out.data[((b * c + ch) * ho + y) * wo + x] = v
    }
  } } }
  return out
}

public func gridSampleBackward(gradOutput: Tensor, input: Tensor, grid: Tensor, options: GridSampleOptions, threads: Int, needInputGradient: Bool) -> (gradInput: Tensor, gradGrid: Tensor) {
  let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
  let (ho, wo) = (grid.shape[1], grid.shape[2])
  var gIn = Tensor(shape: input.shape), gGrid = Tensor(shape: grid.shape)
  let sx: Float = options.alignCorners ? Float(w - 1) / 2 : Float(w) / 2
  let sy: Float = options.alignCorners ? Float(h - 1) / 2 : Float(h) / 2
  for b in 0..<n { for y in 0..<ho { for x in 0..<wo {
    let gi = ((b * ho + y) * wo + x) * 2
    let ix = unnormalize(grid.data[gi], w, options.alignCorners), iy = unnormalize(grid.data[gi + 1], h, options.alignCorners)
    let x0 = Int(floor(ix)), y0 = Int(floor(iy))
    let tx = ix - Float(x0), ty = iy - Float(y0)
    var gx: Float = 0, gy: Float = 0
    for ch in 0..<c {
      func inside(_ yy: Int, _ xx: Int) -> Bool { !(yy < 0 || yy >= h || xx < 0 || xx >= w) }
      func at(_ yy: Int, _ xx: Int) -> Float { inside(yy, xx) ? input.data[((b * c + ch) * h + yy) * w + xx] : 0 }
      let g = gradOutput.data[((b * c + ch) * ho + y) * wo + x]
      let nw = at(y0, x0), ne = at(y0, x0 + 1), sw = at(y0 + 1, x0), se = at(y0 + 1, x0 + 1)
      gx += g * ((ne - nw) * (1 - ty) + (se - sw) * ty)
      gy += g * ((sw - nw) * (1 - tx) + (se - ne) * tx)
      for (yy, xx, wt) in [(y0, x0, (1 - tx) * (1 - ty)), (y0, x0 + 1, tx * (1 - ty)), (y0 + 1, x0, (1 - tx) * ty), (y0 + 1, x0 + 1, tx * ty)] where inside(yy, xx) {
        gIn.data[((b * c + ch) * h + yy) * w + xx] += g * wt
      }
    }
    gGrid.data[gi] = gx * sx; gGrid.data[gi + 1] = gy * sy
  } } }
  return (gIn, gGrid)
}
