#ifndef STN_BLAS_H
#define STN_BLAS_H

/// OpenBLAS, loaded at first use with dlopen.
///
/// Why dlopen and not a link: OpenBLAS reads OPENBLAS_CORETYPE once, when the library loads.
/// Debian's build picks its AVX2 (Haswell) kernels on AVX-512 CPUs; with SKYLAKEX it runs the
/// AVX-512 kernels at about 2.3x the sgemm throughput. Loading it ourselves lets us set that
/// variable first (only when the CPU has AVX-512 F/BW/DQ/VL and the user has not set it), so
/// users get the fast path without doing anything. Set STN_OPENBLAS_CORETYPE=keep to opt out.
/// If OpenBLAS cannot be loaded, a portable C sgemm is used and a warning is printed once.

#ifdef __cplusplus
extern "C" {
#endif

/// Loads OpenBLAS if not loaded yet. Returns 1 when OpenBLAS is in use, 0 for the fallback.
int stn_blas_load(void);

/// Human-readable description: "OpenBLAS 0.3.21 ... (core SKYLAKEX)" or "fallback C sgemm".
const char *stn_blas_description(void);

/// Number of threads OpenBLAS may use (no-op for the fallback).
void stn_blas_set_threads(int threads);

/// Row-major single-precision GEMM: C = alpha * op(A) * op(B) + beta * C.
/// op(A) is (M,K), op(B) is (K,N), C is (M,N). transA/transB: 0 = as stored, 1 = transposed.
void stn_sgemm(int transA, int transB, int M, int N, int K, float alpha,
               const float *A, int lda, const float *B, int ldb,
               float beta, float *C, int ldc);

/// The portable reference sgemm (same contract as stn_sgemm); the naive twin tests compare with.
void stn_sgemm_reference(int transA, int transB, int M, int N, int K, float alpha,
                         const float *A, int lda, const float *B, int ldb,
                         float beta, float *C, int ldc);

#ifdef __cplusplus
}
#endif
#endif
