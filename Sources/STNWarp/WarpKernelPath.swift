import CWarpKernels

// Run-time choice between the portable Swift kernels (x86-64 baseline, SSE2) and their AVX2
// twins in the CWarpKernels C target. Forward results are identical bits (the C code does the
// same float operations in the same order, with FMA contraction off); backward gradients are
// accumulated in another order where the AVX2 row kernel takes border columns into its 8-lane
// blocks, so they agree to float rounding (tested in WarpKernelPathTests).

/// Which implementation the warp fast paths run.
public enum WarpKernelPath: String, Sendable, CaseIterable {
  /// Swift SIMD code that runs on every CPU.
  case portable
  /// AVX2 kernels, 8 columns per step (x86-64 CPUs with AVX2 and FMA only).
  case avx2

  /// True when this CPU can run the path.
  public var isSupported: Bool { self == .portable || cpuHasAVX2 }

  /// The fastest path this CPU supports.
  public static var best: WarpKernelPath { cpuHasAVX2 ? .avx2 : .portable }
}

/// Whether the CPU and OS support AVX2 + FMA, checked once.
let cpuHasAVX2: Bool = cwk_cpu_has_avx2() != 0

// NOTE: a plain global, read on every row; it is meant to be set once at start-up (or by tests,
// which run serially) and never while kernels run.
nonisolated(unsafe) private var selectedWarpKernelPath: WarpKernelPath = .best

/// The path the warp kernels use: by default `WarpKernelPath.best`. Setting an unsupported path
/// selects `.portable`, so a binary never runs AVX2 code on a CPU without it.
public var warpKernelPath: WarpKernelPath {
  get { selectedWarpKernelPath }
  set { selectedWarpKernelPath = newValue.isSupported ? newValue : .portable }
}

/// True when the AVX2 kernels are selected (and so supported).
@inline(__always)
var useAVX2Kernels: Bool { selectedWarpKernelPath == .avx2 }

/// Row geometry for the C kernels: the `AffineRow` plus the unnormalize constants of both axes.
@inline(__always)
func cAffineRow(_ row: AffineRow, width w: Int, height h: Int, alignCorners: Bool) -> cwk_affine_row {
  // unnormalize(g) = (g + 1) * scale - offset; with align_corners the offset is 0 and x - 0 == x.
  cwk_affine_row(t0: row.t0, t1: row.t1, t2: row.t2, t3: row.t3, t4: row.t4, t5: row.t5, y: row.y,
                 scale_x: unnormalizeGradient(size: w, alignCorners: alignCorners), offset_x: alignCorners ? 0 : 0.5,
                 scale_y: unnormalizeGradient(size: h, alignCorners: alignCorners), offset_y: alignCorners ? 0 : 0.5)
}
