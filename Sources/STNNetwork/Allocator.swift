#if canImport(Glibc)
import Glibc
#endif

/// Tunes glibc's allocator for the training loop's allocation pattern; call once at start-up.
///
/// Every training step allocates and frees the same set of large activation and gradient
/// tensors (the ST-CNN's first conv output alone is 14 MB at batch 64). By default glibc serves
/// such blocks with `mmap` or trims them off the heap when freed, so each step pays page faults
/// and page zeroing for memory it just returned (measured: ~12k minor faults per batch, about a
/// tenth of the step's CPU time). Raising the mmap and trim thresholds keeps the blocks in the
/// heap for reuse. The cost is that the process keeps its peak heap instead of returning it.
/// Returns false where the tuning is unavailable (not glibc); nothing else changes then.
@discardableResult
public func tuneAllocatorForTraining() -> Bool {
  #if canImport(Glibc)
  // NOTE: looked up at run time because Swift's Glibc module does not import mallopt.
  guard let symbol = dlsym(nil, "mallopt") else { return false }
  typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
  let mallopt = unsafeBitCast(symbol, to: Mallopt.self)
  let trimThreshold: Int32 = -1, mmapThreshold: Int32 = -3  // M_TRIM_THRESHOLD, M_MMAP_THRESHOLD
  // 32 MB is glibc's largest mmap threshold on 64-bit systems.
  let mmapOK = mallopt(mmapThreshold, 32 << 20) == 1
  let trimOK = mallopt(trimThreshold, 1 << 30) == 1
  return mmapOK && trimOK
  #else
  return false
  #endif
}
