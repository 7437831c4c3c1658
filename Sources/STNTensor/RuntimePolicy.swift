#if canImport(Glibc)
import Glibc
#endif

/// How the process runs its kernels: chosen once at start-up by whoever owns the process (the
/// `stn` command before any subcommand runs; a test class in its `setUp`; a program embedding
/// the library), and never changed by a kernel.
///
/// Two of its three parts live here, below every module that runs kernels: OpenBLAS's thread
/// count and the allocator's thresholds. The third, which warp kernels run (portable, AVX2 or
/// AVX-512), is STNWarp's `warpKernelPath` (default: the fastest this CPU supports; `stn bench
/// warp --kernels` picks another), since this module cannot see STNWarp.
public struct RuntimePolicy: Equatable, Sendable {
  /// Threads OpenBLAS may use inside one GEMM.
  ///
  /// NOTE: 1 by measurement. The kernels already split their work across `--threads` threads
  /// (conv2d by image, pooling and activations by plane) and each calls sgemm on a small matrix
  /// (the ST-CNN's largest is 64x1600x64 for linear, 32x800x441 per image for conv). Letting
  /// OpenBLAS thread as well nests two thread pools on the same cores: `stn bench train --limit
  /// 3200 --epochs 3` on this 2-core machine took 60-78 s user + 27-50 s system CPU with
  /// OpenBLAS at 2 threads against 18 s user + 0.2 s system with 1 (load average 6-9).
  public var blasThreads: Int
  /// Keep the memory of freed tensors in the heap for reuse (see `tuneAllocator`): every
  /// training step frees and allocates the same large activation and gradient buffers.
  public var keepsFreedMemory: Bool

  public init(blasThreads: Int = 1, keepsFreedMemory: Bool = true) {
    self.blasThreads = blasThreads
    self.keepsFreedMemory = keepsFreedMemory
  }

  /// What `stn` applies at start-up: single-threaded OpenBLAS, freed memory kept for reuse.
  public static let standard = RuntimePolicy()

  /// Applies the policy to the process. Returns what could not be applied, in words (glibc
  /// refusing a threshold); the rest is applied regardless.
  @discardableResult
  public func apply() -> [String] {
    var problems: [String] = []
    setBLASThreads(max(1, blasThreads))
    if keepsFreedMemory, let failure = RuntimePolicy.tuneAllocator() { problems.append(failure) }
    return problems
  }

  // MARK: - Allocator

  /// The upper limit mallopt(3) documents for M_MMAP_THRESHOLD on 64-bit systems:
  /// DEFAULT_MMAP_THRESHOLD_MAX = 4·1024·1024·sizeof(long) = 32 MiB (HEAP_MAX_SIZE / 2).
  /// NOTE: glibc versions that enforce it refuse a larger value (mallopt returns 0 and changes
  /// nothing, which went unnoticed with 256 MiB); glibc 2.36 (Debian 12) accepts larger values.
  /// The limit is valid everywhere, and `tuneAllocator` checks what mallopt returns.
  static let mmapThresholdLimit: Int32 = 32 << 20
  /// Freed memory glibc may keep at the top of the heap before returning it to the system.
  static let trimThreshold: Int32 = 1 << 30

  /// Raises glibc's mmap and trim thresholds so freed tensors stay in the heap for reuse.
  /// Returns nil on success, else why not.
  ///
  /// By default glibc serves blocks above 128 KB (adaptively up to 32 MB) with `mmap` and trims
  /// freed memory off the heap top, so each training step pays page faults and page zeroing for
  /// memory it just returned (the ST-CNN's first conv output alone is 14 MB at batch 64;
  /// measured: ~12k minor faults per batch, about a tenth of the step's CPU time). The cost is
  /// that the process keeps its peak heap instead of returning it.
  static func tuneAllocator() -> String? {
    #if canImport(Glibc)
    // NOTE: looked up at run time because Swift's Glibc module does not import mallopt.
    guard let symbol = dlsym(nil, "mallopt") else { return "mallopt not found: allocator left as is" }
    typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
    let mallopt = unsafeBitCast(symbol, to: Mallopt.self)
    let mmapThreshold: Int32 = -3, trimThresholdOption: Int32 = -1  // M_MMAP_THRESHOLD, M_TRIM_THRESHOLD (malloc.h)
    // mallopt returns 1 on success, 0 on error.
    guard mallopt(mmapThreshold, mmapThresholdLimit) == 1 else { return "mallopt(M_MMAP_THRESHOLD, 32 MiB) was refused" }
    guard mallopt(trimThresholdOption, trimThreshold) == 1 else { return "mallopt(M_TRIM_THRESHOLD, 1 GiB) was refused" }
    return nil
    #else
    return nil  // other allocators have no such thresholds: nothing to tune
    #endif
  }
}
