import ArgumentParser
import Glibc
import STNTensor
import STNWarp

/// `stn bench stn-grad`: B2 of shared/bench/ANCHORS.md, affine_grid + grid_sample forward and
/// backward (gradients to input and theta) at 64x1x42x42, bilinear, zeros, align_corners=false;
/// with `--transform projective|tps` the same for the projective grid (gradients to the 3x3
/// homography) or the thin-plate-spline grid (4x4 control points, gradients to their source
/// positions), and `--transform all` times the three fused samplers alternated run by run, so
/// their ratios come from the same minutes of a shared machine.
struct BenchSTNGrad: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "stn-grad", abstract: "B2: grid generator + grid_sample forward+backward at 64x1x42x42 (affine, projective, tps).")

  /// `--transform` values.
  enum Transform: String, ExpressibleByArgument, CaseIterable {
    case affine, projective, tps, all
  }

  @Option(help: "Worker threads.") var threads = 2
  @Option(help: "Timed runs (after warm-up); the median is reported.") var runs = 21
  @Option(help: "Batches per timed run.") var repeats = 20
  @Flag(help: "Keep freed memory in the process (glibc M_TRIM_THRESHOLD and M_MMAP_THRESHOLD at 256 MB), so the per-call tensors stop page-faulting.")
  var keepMemory = false
  @Option(help: "Warp kernels: best (AVX2 where the CPU has it), avx2 or portable.") var kernels = "best"
  @Option(help: "Transform family: affine, projective, tps (4x4 control points), or all (the three fused samplers alternated run by run).")
  var transform: Transform = .affine

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
    let bench = Workload(threads: threads)

    func report(_ transform: Transform, _ path: String, _ timing: BenchTiming) {
      let ms = timing.median * 1000 / Double(repeats)
      printJSONLine(["bench": "B2", "transform": .string(transform.rawValue), "path": .string(path), "ms_per_batch": .number(ms, digits: 4),
                     "min_ms_per_batch": .number(timing.minimum * 1000 / Double(repeats), digits: 4),
                     "cpu_ms_per_batch": .number(timing.medianCPU * 1000 / Double(repeats), digits: 4),
                     "runs": .int(runs), "batches_per_run": .int(repeats), "threads": .int(threads), "kernels": .string(warpKernelPath.rawValue), "keep_memory": .string(keepMemory ? "true" : "false"), "shape": "64x1x42x42",
                     "anchor": "torch affine_grid+grid_sample fwd+bwd", "anchor_ms_per_batch": .number(Self.torchAnchor, digits: 2),
                     "ratio": .number(ms / Self.torchAnchor, digits: 3)])
    }

    var sink: Float = 0
    func batches(_ step: @escaping () -> Float) -> () -> Void {
      { for _ in 0..<repeats { sink += step() } }
    }
    if transform == .all {
      // One run of each family in turn (the order rotates), so slow minutes hit all three.
      let families: [Transform] = [.affine, .projective, .tps]
      let bodies = families.map { batches(bench.fused($0)) }
      for body in bodies { for _ in 0..<2 { body() } }
      var timings = families.map { _ in BenchTiming(seconds: []) }
      for run in 0..<runs {
        for offset in 0..<families.count {
          let index = (run + offset) % families.count
          timings[index].record(bodies[index])
        }
      }
      for (family, timing) in zip(families, timings) { report(family, "fused", timing) }
      let affine = timings[0]
      for (family, timing) in zip(families, timings).dropFirst() {
        printJSONLine(["bench": "B2", "transform": .string(family.rawValue), "path": "fused", "vs_affine": .number(timing.median / affine.median, digits: 3),
                       "cpu_vs_affine": .number(timing.medianCPU / affine.medianCPU, digits: 3), "runs": .int(runs), "alternated": "true"])
      }
    } else {
      report(transform, "fused", measure(runs: runs, warmup: 2, batches(bench.fused(transform))))
      report(transform, "grid", measure(runs: runs, warmup: 2, batches(bench.grid(transform))))
    }
    if sink.isNaN { print("") }
  }

  /// The batch, its output gradient and each family's parameters: theta near the identity, a
  /// homography adding a mild perspective to it, TPS source points displaced by up to 0.1.
  struct Workload {
    let threads: Int
    let size = [64, 1, 42, 42]
    let options = GridSampleOptions(mode: .bilinear, padding: .zeros, alignCorners: false)
    var input: Tensor, gradOutput: Tensor, theta: Tensor, homography: Tensor, sourcePoints: Tensor
    let basis: ThinPlateSplineGridBasis

    init(threads: Int) {
      self.threads = threads
      var random = RandomStream(seed: 3)
      input = Tensor(shape: size)
      for i in 0..<input.count { input.data[i] = Float(random.normal()) }
      gradOutput = Tensor(shape: size)
      for i in 0..<gradOutput.count { gradOutput.data[i] = Float(random.normal()) }
      theta = Tensor(shape: [64, 2, 3])
      for b in 0..<64 {
        for k in 0..<6 { theta.data[b * 6 + k] = Float((k == 0 || k == 4 ? 1 : 0) + random.uniform(-0.3, 0.3)) }
      }
      homography = Tensor(shape: [64, 3, 3])
      for b in 0..<64 {
        for k in 0..<6 { homography.data[b * 9 + k] = theta.data[b * 6 + k] }
        homography.data[b * 9 + 6] = Float(random.uniform(-0.1, 0.1))
        homography.data[b * 9 + 7] = Float(random.uniform(-0.1, 0.1))
        homography.data[b * 9 + 8] = 1
      }
      basis = ThinPlateSplineGridBasis(gridSize: 4, height: 42, width: 42, alignCorners: false)
      sourcePoints = Tensor(shape: [64, 16, 2])
      for b in 0..<64 {
        for k in 0..<16 {
          sourcePoints.data[(b * 16 + k) * 2] = Float(basis.controlPoints[k].x + random.uniform(-0.1, 0.1))
          sourcePoints.data[(b * 16 + k) * 2 + 1] = Float(basis.controlPoints[k].y + random.uniform(-0.1, 0.1))
        }
      }
    }

    /// One batch through the fused sampler (no grid tensor for affine and projective; TPS keeps
    /// the grid it generated for its backward): parameters -> output, then gradOutput ->
    /// gradInput and the parameters' gradient.
    func fused(_ transform: Transform) -> () -> Float {
      switch transform {
      case .affine, .all:
        return {
          let output = affineGridSample(input: input, theta: theta, outputSize: size, options: options, threads: threads)
          let grads = affineGridSampleBackward(gradOutput: gradOutput, input: input, theta: theta, options: options, threads: threads)
          return output.data[0] + grads.gradTheta.data[0] + grads.gradInput.data[0]
        }
      case .projective:
        return {
          let output = projectiveGridSample(input: input, homography: homography, outputSize: size, options: options, threads: threads)
          let grads = projectiveGridSampleBackward(gradOutput: gradOutput, input: input, homography: homography, options: options, threads: threads)
          return output.data[0] + grads.gradHomography.data[0] + grads.gradInput.data[0]
        }
      case .tps:
        return {
          // The forward keeps its grid for the backward (as the network's TPS op does).
          let (output, grid) = thinPlateSplineGridSample(input: input, sourcePoints: sourcePoints, basis: basis, options: options, threads: threads)
          let grads = thinPlateSplineGridSampleBackward(gradOutput: gradOutput, input: input, grid: grid, basis: basis, options: options, threads: threads)
          return output.data[0] + grads.gradSourcePoints.data[0] + grads.gradInput.data[0]
        }
      }
    }

    /// PyTorch's four steps with the grid materialized: grid, grid_sample, its backward, the
    /// grid's backward.
    func grid(_ transform: Transform) -> () -> Float {
      {
        let grid: Tensor
        switch transform {
        case .affine, .all: grid = affineGrid(theta: theta, size: size, alignCorners: false)
        case .projective: grid = projectiveGrid(homography: homography, size: size, alignCorners: false)
        case .tps: grid = thinPlateSplineGrid(sourcePoints: sourcePoints, basis: basis)
        }
        let output = gridSample(input: input, grid: grid, options: options, threads: threads)
        let grads = gridSampleBackward(gradOutput: gradOutput, input: input, grid: grid, options: options, threads: threads)
        let gradParameters: Tensor
        switch transform {
        case .affine, .all: gradParameters = affineGridBackward(gradGrid: grads.gradGrid, size: size, alignCorners: false)
        case .projective: gradParameters = projectiveGridBackward(gradGrid: grads.gradGrid, homography: homography, size: size, alignCorners: false)
        case .tps: gradParameters = thinPlateSplineGridBackward(gradGrid: grads.gradGrid, basis: basis)
        }
        return output.data[0] + gradParameters.data[0] + grads.gradInput.data[0]
      }
    }
  }
}
