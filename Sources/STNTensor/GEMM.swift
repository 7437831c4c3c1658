import COpenBLAS

/// Row-major single-precision matrix multiply, C = alpha * op(A) * op(B) + beta * C, on OpenBLAS.
///
/// op(A) is (M,K), op(B) is (K,N), C is (M,N); `lda`, `ldb`, `ldc` are row strides in elements.
/// OpenBLAS is loaded on first use (see `stn_blas.h` for why and how the AVX-512 kernels are
/// chosen); `sgemmReference` is the naive twin tests compare with.
@inlinable
public func sgemm(
  transposeA: Bool, transposeB: Bool, M: Int, N: Int, K: Int, alpha: Float = 1,
  _ A: UnsafePointer<Float>, lda: Int, _ B: UnsafePointer<Float>, ldb: Int,
  beta: Float = 0, _ C: UnsafeMutablePointer<Float>, ldc: Int
) {
  stn_sgemm(
    transposeA ? 1 : 0, transposeB ? 1 : 0, Int32(M), Int32(N), Int32(K), alpha,
    A, Int32(lda), B, Int32(ldb), beta, C, Int32(ldc))
}

/// The naive triple loop with the same contract as `sgemm`, kept as its tested twin.
public func sgemmReference(
  transposeA: Bool, transposeB: Bool, M: Int, N: Int, K: Int, alpha: Float = 1,
  _ A: UnsafePointer<Float>, lda: Int, _ B: UnsafePointer<Float>, ldb: Int,
  beta: Float = 0, _ C: UnsafeMutablePointer<Float>, ldc: Int
) {
  stn_sgemm_reference(
    transposeA ? 1 : 0, transposeB ? 1 : 0, Int32(M), Int32(N), Int32(K), alpha,
    A, Int32(lda), B, Int32(ldb), beta, C, Int32(ldc))
}

/// Which BLAS is in use, e.g. "OpenBLAS 0.3.21 ... (core SkylakeX)".
public var blasDescription: String { String(cString: stn_blas_description()) }

/// Sets how many threads OpenBLAS may use for one GEMM (only `RuntimePolicy.apply` does).
func setBLASThreads(_ threads: Int) { stn_blas_set_threads(Int32(threads)) }
