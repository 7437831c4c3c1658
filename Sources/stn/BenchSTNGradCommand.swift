import ArgumentParser
import Glibc
import STNTensor
import STNWarp

/// `stn bench stn-grad`: B2 of shared/bench/ANCHORS.md, affine_grid + grid_sample forward and
/// backward (gradients to input and theta) at 64x1x42x42, bilinear, zeros, align_corners=false.
struct BenchSTNGrad: ParsableCommand {
  static let configuration = CommandConfiguration(commandName: "stn-grad", abstract: "B2: affine_grid + grid_sample forward+backward at 64x1x42x42.")

  @Option(help: "Worker threads.") var threads = 2
  @Option(help: "Timed runs (after warm-up); the median is reported.") var runs = 21
  @Option(help: "Batches per timed run.") var repeats = 20
  @Flag(help: "Keep freed memory in the process (glibc M_TRIM_THRESHOLD and M_MMAP_THRESHOLD at 256 MB), so the per-call tensors stop page-faulting.")
  var keepMemory = false
  @Option(help: "Warp kernels: best (AVX2 where the CPU has it), avx2 or portable.") var kernels = "best"

  /// PyTorch's figure from ANCHORS.md, ms per batch.
  static let torchAnchor = 1.07

  func validate() throws {
    guard threads >= 1, runs >= 1, repeats >= 1 else { throw ValidationError("threads, runs and repeats must be >= 1") }
  }

  func run() throws {
    try selectWarpKernels(kernels)
    if keepMemory {
      // NOTE: glibc returns the freed top of the heap to the OS past 2x the last mmapped size,
      // so each batch's 450 KB tensors fault their pages in again (~25% of B2's time here).
      // malloc.h is not in the Glibc module: look mallopt up (M_TRIM_THRESHOLD -1, M_MMAP_THRESHOLD -3).
      if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") {
        typealias MallOpt = @convention(c) (Int32, Int32) -> Int32
        let mallopt = unsafeBitCast(symbol, to: MallOpt.self)
        _ = mallopt(-3, 256 << 20)
        _ = mallopt(-1, 256 << 20)
      }
    }
    let size = [64, 1, 42, 42]
    var random = RandomStream(seed: 3)
    var input = Tensor(shape: size)
    for i in 0..<input.count { input.data[i] = Float(random.normal()) }
    var gradOutput = Tensor(shape: size)
    for i in 0..<gradOutput.count { gradOutput.data[i] = Float(random.normal()) }
    var theta = Tensor(shape: [64, 2, 3])
    for b in 0..<64 {
      for k in 0..<6 { theta.data[b * 6 + k] = Float((k == 0 || k == 4 ? 1 : 0) + random.uniform(-0.3, 0.3)) }
    }
    let options = GridSampleOptions(mode: .bilinear, padding: .zeros, alignCorners: false)

    func report(_ path: String, _ timing: BenchTiming) {
      let ms = timing.median * 1000 / Double(repeats)
      printJSONLine(["bench": "B2", "path": .string(path), "ms_per_batch": .number(ms, digits: 4),
                     "min_ms_per_batch": .number(timing.minimum * 1000 / Double(repeats), digits: 4),
                     "cpu_ms_per_batch": .number(timing.medianCPU * 1000 / Double(repeats), digits: 4),
                     "runs": .int(runs), "batches_per_run": .int(repeats), "threads": .int(threads), "kernels": .string(warpKernelPath.rawValue), "keep_memory": .string(keepMemory ? "true" : "false"), "shape": "64x1x42x42",
                     "anchor": "torch affine_grid+grid_sample fwd+bwd", "anchor_ms_per_batch": .number(Self.torchAnchor, digits: 2),
                     "ratio": .number(ms / Self.torchAnchor, digits: 3)])
    }

    var sink: Float = 0
    // Fused: theta -> output, then gradOutput -> gradInput and gradTheta, no grid tensor.
    let fused = measure(runs: runs, warmup: 2) {
      for _ in 0..<repeats {
        let output = affineGridSample(input: input, theta: theta, outputSize: size, options: options, threads: threads)
        let grads = affineGridSampleBackward(gradOutput: gradOutput, input: input, theta: theta, options: options, threads: threads)
        sink += output.data[0] + grads.gradTheta.data[0] + grads.gradInput.data[0]
      }
    }
    report("fused", fused)

    // PyTorch's four steps with the grid materialized.
    let twoStep = measure(runs: runs, warmup: 2) {
      for _ in 0..<repeats {
        let grid = affineGrid(theta: theta, size: size, alignCorners: false)
        let output = gridSample(input: input, grid: grid, options: options, threads: threads)
        let grads = gridSampleBackward(gradOutput: gradOutput, input: input, grid: grid, options: options, threads: threads)
        let gradTheta = affineGridBackward(gradGrid: grads.gradGrid, size: size, alignCorners: false)
        sink += output.data[0] + gradTheta.data[0] + grads.gradInput.data[0]
      }
    }
    report("grid", twoStep)
    if sink.isNaN { print("") }
  }
}
