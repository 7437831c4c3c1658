import CWarpKernels

// Run-time choice between the portable Swift kernels (x86-64 baseline, SSE2) and their AVX2 and
// AVX-512 twins in the CWarpKernels C target. Forward results are identical bits (the C code does
// the same float operations in the same order, with FMA contraction off); backward gradients are
// accumulated in another order where the AVX2 row kernel takes border columns into its 8-lane
// blocks, so they agree to float rounding (tested in WarpKernelPathTests).

/// Which implementation the warp fast paths run.
public enum WarpKernelPath: String, Sendable, CaseIterable {
  /// Swift SIMD code that runs on every CPU.
  case portable
  /// AVX2 kernels, 8 columns per step (x86-64 CPUs with AVX2 and FMA only).
  case avx2
  /// AVX-512 (F, BW) kernels, 16 columns per step, for the fused uint8 warps; every other warp
  /// kernel runs its AVX2 twin (every AVX-512 CPU has AVX2).
  case avx512

  /// True when this CPU can run the path.
  public var isSupported: Bool {
    switch self {
    case .portable: return true
    case .avx2: return cpuHasAVX2
    case .avx512: return cpuHasAVX512
    }
  }

  /// The fastest path this CPU supports.
  public static var best: WarpKernelPath { cpuHasAVX512 ? .avx512 : cpuHasAVX2 ? .avx2 : .portable }

  /// This path if the CPU supports it, else the next slower one that it does.
  var supportedFallback: WarpKernelPath {
    switch self {
    case .avx512 where !cpuHasAVX512: return WarpKernelPath.avx2.supportedFallback
    case .avx2 where !cpuHasAVX2: return .portable
    default: return self
    }
  }
}

/// Whether the CPU and OS support AVX2 + FMA, checked once.
let cpuHasAVX2: Bool = cwk_cpu_has_avx2() != 0

/// Whether the CPU and OS support AVX-512 F and BW (and AVX2 + FMA), checked once.
let cpuHasAVX512: Bool = cwk_cpu_has_avx512() != 0

// NOTE: a plain global, read on every row; it is meant to be set once at start-up (or by tests,
// which run serially) and never while kernels run.
nonisolated(unsafe) private var selectedWarpKernelPath: WarpKernelPath = .best

/// The path the warp kernels use: by default `WarpKernelPath.best`. Setting a path this CPU does
/// not support selects the next slower supported one (AVX-512, then AVX2, then portable), so a
/// binary never runs instructions the CPU lacks.
public var warpKernelPath: WarpKernelPath {
  get { selectedWarpKernelPath }
  set { selectedWarpKernelPath = newValue.supportedFallback }
}

/// True when the AVX2 kernels may run: AVX2 or AVX-512 selected (and so supported).
@inline(__always)
var useAVX2Kernels: Bool { selectedWarpKernelPath != .portable }

/// True when the AVX-512 kernels are selected (and so supported).
@inline(__always)
var useAVX512Kernels: Bool { selectedWarpKernelPath == .avx512 }

/// Row geometry for the C kernels: the `AffineRow` plus the unnormalize constants of both axes.
@inline(__always)
func cAffineRow(_ row: AffineRow, width w: Int, height h: Int, alignCorners: Bool) -> cwk_affine_row {
  // unnormalize(g) = (g + 1) * scale - offset; with align_corners the offset is 0 and x - 0 == x.
  cwk_affine_row(t0: row.t0, t1: row.t1, t2: row.t2, t3: row.t3, t4: row.t4, t5: row.t5, y: row.y,
                 scale_x: unnormalizeGradient(size: w, alignCorners: alignCorners), offset_x: alignCorners ? 0 : 0.5,
                 scale_y: unnormalizeGradient(size: h, alignCorners: alignCorners), offset_y: alignCorners ? 0 : 0.5)
}
