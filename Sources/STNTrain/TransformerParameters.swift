import STNDrawing
import STNImageIO
import STNTensor
import STNWarp

/// How a spatial transformer's `theta` tap is shown (TensorBoard histograms, control-point
/// pictures), for each family, told apart by the tap's shape: theta (N,2,3) for affine, the
/// homography (N,3,3) for projective, the control points' source positions (N,K,2) for a
/// thin-plate spline (`SpatialTransformer.theta`).
public enum TransformerParameters {
  /// Histograms of a batch's parameters as (tag, values): affine `theta/0` … `theta/5` (a b c /
  /// d e f of theta (2,3)); projective `homography/h11` … `homography/h32` (h33 is 1); tps
  /// `tps/dx`, `tps/dy` (every control point's displacement from its grid position, pooled).
  public static func histograms(_ theta: Tensor) -> [(tag: String, values: [Float])] {
    guard theta.rank == 3, theta.shape[0] > 0 else { return [] }
    let n = theta.shape[0], per = theta.count / n
    func column(_ k: Int) -> [Float] { (0..<n).map { theta.data[$0 * per + k] } }
    switch (theta.shape[1], theta.shape[2]) {
    case (2, 3):
      return (0..<6).map { ("theta/\($0)", column($0)) }
    case (3, 3):
      let names = ["h11", "h12", "h13", "h21", "h22", "h23", "h31", "h32"]
      return names.enumerated().map { ("homography/\($1)", column($0)) }
    case (let k, 2):
      guard let grid = controlGrid(k) else { return [] }
      var dx: [Float] = [], dy: [Float] = []
      for b in 0..<n {
        for (i, c) in grid.enumerated() {
          dx.append(theta.data[(b * k + i) * 2] - Float(c.x))
          dy.append(theta.data[(b * k + i) * 2 + 1] - Float(c.y))
        }
      }
      return [("tps/dx", dx), ("tps/dy", dy)]
    default:
      return []
    }
  }

  /// The inputs with a TPS transformer's control points drawn where they sample: each input
  /// enlarged (to about 128 pixels) in RGB, the deformed control grid in yellow and a red cross
  /// at each control point's source position. Nil unless `theta` is a TPS tap (N,K,2) with one
  /// sample per input (or more).
  public static func controlPointImages(_ theta: Tensor, inputs: [Image]) -> [Image]? {
    guard theta.rank == 3, theta.shape[2] == 2, theta.shape[0] >= inputs.count, let grid = controlGrid(theta.shape[1]) else { return nil }
    let k = grid.count, side = Int(Double(k).squareRoot().rounded())
    return inputs.enumerated().map { b, input in
      let scale = max(1, 128 / max(1, max(input.width, input.height)))
      let enlarged = input.upscaledNearest(factor: scale)
      var canvas = Canvas(width: enlarged.width, height: enlarged.height, channels: 3)
      canvas.draw(image: enlarged, x: 0, y: 0)
      // Normalized (align_corners=false) -> pixel centre of the enlarged picture.
      func point(_ i: Int) -> (x: Double, y: Double) {
        let x = Double(theta.data[(b * k + i) * 2]), y = Double(theta.data[(b * k + i) * 2 + 1])
        return ((x + 1) * Double(enlarged.width) / 2 - 0.5, (y + 1) * Double(enlarged.height) / 2 - 0.5)
      }
      for i in 0..<k {
        let p = point(i)
        if i % side + 1 < side { let q = point(i + 1); canvas.drawLine(x0: p.x, y0: p.y, x1: q.x, y1: q.y, color: [255, 220, 0]) }
        if i + side < k { let q = point(i + side); canvas.drawLine(x0: p.x, y0: p.y, x1: q.x, y1: q.y, color: [255, 220, 0]) }
      }
      for i in 0..<k {
        let p = point(i), arm = Double(max(2, scale + 1))
        canvas.drawLine(x0: p.x - arm, y0: p.y, x1: p.x + arm, y1: p.y, color: [255, 0, 0], thickness: 1.5)
        canvas.drawLine(x0: p.x, y0: p.y - arm, x1: p.x, y1: p.y + arm, color: [255, 0, 0], thickness: 1.5)
      }
      return canvas.image
    }
  }

  /// The regular control grid of K = g² points (g >= 2), or nil when K is not such a square.
  static func controlGrid(_ k: Int) -> [SIMD2<Double>]? {
    let side = Int(Double(k).squareRoot().rounded())
    guard side >= 2, side * side == k else { return nil }
    return ThinPlateSpline.regularGrid(size: side)
  }
}
