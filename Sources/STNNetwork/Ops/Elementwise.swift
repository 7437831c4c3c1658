// Helpers the kernels share: element-wise loops split across threads, and raw access to
// tensors that are written in full or may be absent.
import STNTensor

// MARK: - Buffers

/// A tensor whose storage is left uninitialized, for kernels that write every element (saves
/// the zero fill `Tensor(shape:)` does, a pass over memory that is overwritten at once).
@inline(__always)
func uninitializedTensor(shape: [Int]) -> Tensor {
  let count = shape.reduce(1, *)
  return Tensor(shape: shape, data: [Float](unsafeUninitializedCapacity: count) { _, initialized in initialized = count })
}

/// Runs `body` with a pointer to `tensor`'s elements, or with nil when there is no tensor (a
/// gradient buffer nobody needs, llm.c's NULL).
@inline(__always)
func withOptionalMutablePointer<Result>(_ tensor: inout Tensor?, _ body: (UnsafeMutablePointer<Float>?) -> Result) -> Result {
  guard tensor != nil else { return body(nil) }
  return tensor!.data.withUnsafeMutableBufferPointer { body($0.baseAddress) }
}

// MARK: - Element-wise loops

/// Below this many elements an element-wise op runs on the calling thread (a thread hand-off
/// costs more than it saves).
let elementwiseParallelMinimum = 1 << 15

/// The flat ranges an element-wise loop over `count` elements splits into.
@inline(__always)
func elementwiseRanges(_ count: Int, threads: Int) -> [Range<Int>] {
  splitRange(count, parts: count >= elementwiseParallelMinimum ? max(1, threads) : 1)
}

/// y[i] = f(x[i]) over any shape, split across `threads` (each element's value does not depend
/// on the split).
@inline(__always)
func elementwise(_ x: Tensor, threads: Int = 1, _ f: (Float) -> Float) -> Tensor {
  var y = uninitializedTensor(shape: x.shape)
  let ranges = elementwiseRanges(x.count, threads: threads)
  x.data.withUnsafeBufferPointer { source in
    y.data.withUnsafeMutableBufferPointer { destination in
      let from = source.baseAddress, to = destination.baseAddress
      parallelFor(chunks: ranges.count, threads: threads) { chunk in
        guard let from, let to else { return }
        for i in ranges[chunk] { to[i] = f(from[i]) }
      }
    }
  }
  return y
}

/// target[i] += f(a[i], b[i]) for three tensors of one shape, split across `threads`: the
/// accumulating backward of an element-wise op (a = gradOutput, b = its input or output).
@inline(__always)
func accumulateElementwise(into target: inout Tensor, _ a: Tensor, _ b: Tensor, op: String, threads: Int = 1, _ f: (Float, Float) -> Float) {
  precondition(a.shape == b.shape && target.shape == a.shape, "\(op): gradient shapes \(target.shape), \(a.shape), \(b.shape) differ")
  let ranges = elementwiseRanges(a.count, threads: threads)
  a.data.withUnsafeBufferPointer { first in
    b.data.withUnsafeBufferPointer { second in
      target.data.withUnsafeMutableBufferPointer { destination in
        let p = first.baseAddress, q = second.baseAddress, to = destination.baseAddress
        parallelFor(chunks: ranges.count, threads: threads) { chunk in
          guard let p, let q, let to else { return }
          for i in ranges[chunk] { to[i] += f(p[i], q[i]) }
        }
      }
    }
  }
}
