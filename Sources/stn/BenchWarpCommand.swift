import ArgumentParser
import STNTensor
import STNWarp

/// `stn bench warp`: B1 of shared/bench/ANCHORS.md, 64 images 3x224x224, random rotation ±30°,
/// scale 0.8-1.2, bilinear, zeros padding; float32 NCHW and fused uint8 HWC -> normalized CHW.
struct BenchWarp: ParsableCommand {
  static let configuration = CommandConfiguration(commandName: "warp", abstract: "B1: affine warp throughput (float32 NCHW and fused uint8).")

  @Option(help: "Worker threads.") var threads = 2
  @Option(help: "Timed runs (after one warm-up); the median is reported.") var runs = 7
  @Option(help: "Images per batch.") var images = 64
  @Option(help: "Image side in pixels.") var size = 224
  @Option(help: warpKernelsHelp) var kernels = "best"

  /// PyTorch affine_grid+grid_sample and OpenCV warpAffine uint8 figures from ANCHORS.md.
  static let torchAnchor = 1360.0, openCVAnchor = 8861.0

  func validate() throws {
    guard threads >= 1, runs >= 1, images >= 1, size >= 2 else { throw ValidationError("threads, runs, images must be >= 1 and size >= 2") }
  }

  func run() throws {
    try selectWarpKernels(kernels)
    let (n, c, side) = (images, 3, size)
    // The B1 transforms: rotation and isotropic scale about the image centre, per image.
    let destinationToSource: [AffineTransform] = (0..<n).map { i in
      var random = RandomStream(seed: 1, index: UInt64(i))
      let angle = random.uniform(-30, 30), scale = random.uniform(0.8, 1.2)
      let center = AffineTransform.center(width: side, height: side)
      let forward = AffineTransform.rotation(degrees: angle, center: center) * AffineTransform.scale(scale, center: center)
      return forward.inverted() ?? .identity
    }
    var theta = Tensor(shape: [n, 2, 3])
    for i in 0..<n {
      let t = AffineTransform.samplingTheta(destinationToSource: destinationToSource[i], inputWidth: side, inputHeight: side,
                                            outputWidth: side, outputHeight: side, alignCorners: false)
      for k in 0..<6 { theta.data[i * 6 + k] = t.theta[k] }
    }
    var random = RandomStream(seed: 2)
    var input = Tensor(shape: [n, c, side, side])
    for i in 0..<input.count { input.data[i] = random.nextUnitFloat() }
    let options = GridSampleOptions(mode: .bilinear, padding: .zeros, alignCorners: false)
    let size4 = [n, c, side, side]

    func report(_ path: String, _ timing: BenchTiming, anchor: Double, peer: String) {
      let imagesPerSecond = Double(n) / timing.median
      printJSONLine(["bench": "B1", "path": .string(path), "images_per_s": .number(imagesPerSecond, digits: 1),
                     "median_ms": .number(timing.median * 1000), "min_ms": .number(timing.minimum * 1000),
                     "cpu_ms": .number(timing.medianCPU * 1000),
                     "runs": .int(runs), "threads": .int(threads), "kernels": .string(warpKernelPath.rawValue), "images": .int(n), "size": .int(side),
                     "anchor": .string(peer), "anchor_images_per_s": .number(anchor, digits: 0),
                     "ratio": .number(imagesPerSecond / anchor, digits: 2)])
    }

    // float32 NCHW, fused theta -> output (what affine_grid + grid_sample compute).
    var sink: Float = 0
    let fused = measure(runs: runs) {
      let output = affineGridSample(input: input, theta: theta, outputSize: size4, options: options, threads: threads)
      sink += output.data[output.count / 2]
    }
    report("float32", fused, anchor: Self.torchAnchor, peer: "torch affine_grid+grid_sample")

    // float32 NCHW through a materialized grid, PyTorch's two-step form.
    let twoStep = measure(runs: runs) {
      let grid = affineGrid(theta: theta, size: size4, alignCorners: false)
      let output = gridSample(input: input, grid: grid, options: options, threads: threads)
      sink += output.data[output.count / 2]
    }
    report("float32-grid", twoStep, anchor: Self.torchAnchor, peer: "torch affine_grid+grid_sample")

    // uint8 HWC -> normalized float32 CHW slots of a preallocated batch (ImageNet normalization).
    var bytes = [UInt8](repeating: 0, count: n * side * side * c)
    for i in 0..<bytes.count { bytes[i] = UInt8(truncatingIfNeeded: random.next() >> 56) }
    var batch = [Float](repeating: 0, count: n * c * side * side)
    let mean: [Float] = [0.485, 0.456, 0.406], std: [Float] = [0.229, 0.224, 0.225]
    let scale = (0..<c).map { 1 / (255 * std[$0]) }, bias = (0..<c).map { -mean[$0] / std[$0] }
    let warpOptions = WarpOptions(mode: .bilinear, padding: .zeros, fill: [0])
    let imageBytes = side * side * c, slot = c * side * side
    var warped = [UInt8](repeating: 0, count: n * imageBytes)
    /// Times `warp(source, image i)` over the n images on `threads` threads.
    func timeWarps(_ warp: @escaping (UnsafePointer<UInt8>, Int) -> Void) -> BenchTiming {
      bytes.withUnsafeBufferPointer { src in
        guard let source = src.baseAddress else { return BenchTiming(seconds: []) }
        return measure(runs: runs) { parallelFor(chunks: n, threads: threads) { i in warp(source + i * imageBytes, i) } }
      }
    }
    let fusedUInt8 = batch.withUnsafeMutableBufferPointer { dst in
      guard let output = dst.baseAddress else { return BenchTiming(seconds: []) }
      return timeWarps { source, i in
        warpAffineNormalized(source: source, width: side, height: side, channels: c, destinationToSource: destinationToSource[i],
                             output: output + i * slot, outputWidth: side, outputHeight: side, scale: scale, bias: bias, options: warpOptions)
      }
    }
    sink += batch[batch.count / 2]
    report("uint8-fused", fusedUInt8, anchor: Self.openCVAnchor, peer: "OpenCV warpAffine uint8")

    // uint8 HWC -> uint8 HWC, OpenCV's exact work.
    let plainUInt8 = warped.withUnsafeMutableBufferPointer { dst in
      guard let output = dst.baseAddress else { return BenchTiming(seconds: []) }
      return timeWarps { source, i in
        warpAffineUInt8(source: source, width: side, height: side, channels: c, destinationToSource: destinationToSource[i],
                        output: output + i * imageBytes, outputWidth: side, outputHeight: side, options: warpOptions)
      }
    }
    report("uint8", plainUInt8, anchor: Self.openCVAnchor, peer: "OpenCV warpAffine uint8")
    if sink.isNaN { print("") }  // keeps the work observable
  }
}

/// The help of the benches' `--kernels` option.
let warpKernelsHelp: ArgumentHelp = "Warp kernels: best (AVX-512 or AVX2 where the CPU has it), avx512, avx2 or portable."

/// Applies a bench's `--kernels` option (best, avx512, avx2, portable) to the warp kernels.
func selectWarpKernels(_ name: String) throws {
  if name == "best" { warpKernelPath = .best; return }
  guard let path = WarpKernelPath(rawValue: name) else { throw ValidationError("--kernels must be best, avx512, avx2 or portable, got \(name)") }
  guard path.isSupported else { throw ValidationError("--kernels \(name): this CPU does not support it") }
  warpKernelPath = path
}
