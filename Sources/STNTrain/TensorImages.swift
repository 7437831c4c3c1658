import STNImageIO
import STNTensor

/// Turns normalized float batches back into 8-bit pictures for sheets and TensorBoard.
public enum TensorImages {
  /// Each sample of `batch` (N,C,H,W) as an 8-bit image: `(x·std + mean)·255`, clamped and
  /// rounded; C must be 1 or 3. `limit` caps how many samples are converted.
  public static func images(_ batch: Tensor, mean: [Double], std: [Double], limit: Int = .max) -> [Image] {
    precondition(batch.rank == 4 && (batch.shape[1] == 1 || batch.shape[1] == 3), "images need (N,1|3,H,W), got \(batch.shape)")
    let n = min(batch.shape[0], limit), c = batch.shape[1], h = batch.shape[2], w = batch.shape[3]
    let plane = h * w
    return (0..<n).map { i in
      var pixels = [UInt8](repeating: 0, count: plane * c)
      for channel in 0..<c {
        let m = mean.isEmpty ? 0 : mean[min(channel, mean.count - 1)]
        let s = std.isEmpty ? 1 : std[min(channel, std.count - 1)]
        let base = (i * c + channel) * plane
        for p in 0..<plane {
          let value = (Double(batch.data[base + p]) * s + m) * 255
          pixels[p * c + channel] = UInt8(max(0, min(255, value.rounded())))
        }
      }
      return Image(width: w, height: h, channels: c, pixels: pixels)
    }
  }
}
