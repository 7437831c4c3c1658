import Dispatch

/// Runs `body(chunk)` for `chunk` in `0..<chunks` on up to `threads` threads and waits.
///
/// With `threads <= 1` (or one chunk) it runs inline, in order, on the calling thread, which is
/// what tests and determinism checks rely on. Work must be split so chunks never write the same
/// memory; results must not depend on the thread count.
public func parallelFor(chunks: Int, threads: Int, _ body: (Int) -> Void) {
  if chunks <= 0 { return }
  if threads <= 1 || chunks == 1 {
    for chunk in 0..<chunks { body(chunk) }
    return
  }
  let workers = min(threads, chunks)
  withoutActuallyEscaping(body) { body in
    DispatchQueue.concurrentPerform(iterations: workers) { worker in
      var chunk = worker
      while chunk < chunks {
        body(chunk)
        chunk += workers
      }
    }
  }
}

/// Splits `0..<count` into `parts` contiguous ranges whose sizes differ by at most one.
public func splitRange(_ count: Int, parts: Int) -> [Range<Int>] {
  let parts = max(1, min(parts, max(count, 1)))
  let base = count / parts, extra = count % parts
  var ranges: [Range<Int>] = []
  var start = 0
  for part in 0..<parts {
    let size = base + (part < extra ? 1 : 0)
    ranges.append(start..<(start + size))
    start += size
  }
  return ranges
}
