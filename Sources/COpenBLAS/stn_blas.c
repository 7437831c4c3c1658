#define _GNU_SOURCE
#include "stn_blas.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* CBLAS enum values (cblas.h): RowMajor = 101, NoTrans = 111, Trans = 112. */
typedef void (*cblas_sgemm_fn)(int, int, int, int, int, int, float, const float *, int,
                               const float *, int, float, float *, int);
typedef void (*set_threads_fn)(int);
typedef char *(*string_fn)(void);

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static cblas_sgemm_fn blas_sgemm = NULL;
static set_threads_fn blas_set_threads = NULL;
static char description[256] = "fallback C sgemm (OpenBLAS not loaded)";

static int cpu_has_avx512(void) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
#else
  return 0;
#endif
}

static void load_openblas(void) {
  const char *policy = getenv("STN_OPENBLAS_CORETYPE");
  int keep = policy != NULL && strcmp(policy, "keep") == 0;
  if (!keep && getenv("OPENBLAS_CORETYPE") == NULL && cpu_has_avx512()) {
    setenv("OPENBLAS_CORETYPE", "SKYLAKEX", 0);
  }
  const char *names[] = {"libopenblas.so.0", "libopenblas.so", NULL};
  void *handle = NULL;
  for (int i = 0; names[i] != NULL && handle == NULL; i++) {
    handle = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
  }
  if (handle == NULL) {
    fprintf(stderr, "stn: warning: OpenBLAS not found (%s); using the slow portable sgemm. "
                    "Install libopenblas-dev.\n", dlerror());
    return;
  }
  blas_sgemm = (cblas_sgemm_fn)dlsym(handle, "cblas_sgemm");
  blas_set_threads = (set_threads_fn)dlsym(handle, "openblas_set_num_threads");
  string_fn config = (string_fn)dlsym(handle, "openblas_get_config");
  string_fn corename = (string_fn)dlsym(handle, "openblas_get_corename");
  if (blas_sgemm == NULL) {
    fprintf(stderr, "stn: warning: OpenBLAS has no cblas_sgemm; using the portable sgemm.\n");
    return;
  }
  snprintf(description, sizeof description, "%s (core %s)",
           config ? config() : "OpenBLAS", corename ? corename() : "?");
}

int stn_blas_load(void) {
  pthread_once(&load_once, load_openblas);
  return blas_sgemm != NULL;
}

const char *stn_blas_description(void) {
  stn_blas_load();
  return description;
}

void stn_blas_set_threads(int threads) {
  stn_blas_load();
  if (blas_set_threads != NULL && threads > 0) blas_set_threads(threads);
}

void stn_sgemm_reference(int transA, int transB, int M, int N, int K, float alpha,
                         const float *A, int lda, const float *B, int ldb,
                         float beta, float *C, int ldc) {
  for (int i = 0; i < M; i++) {
    for (int j = 0; j < N; j++) {
      float sum = 0;
      for (int k = 0; k < K; k++) {
        float a = transA ? A[k * lda + i] : A[i * lda + k];
        float b = transB ? B[j * ldb + k] : B[k * ldb + j];
        sum += a * b;
      }
      C[i * ldc + j] = alpha * sum + (beta == 0 ? 0 : beta * C[i * ldc + j]);
    }
  }
}

void stn_sgemm(int transA, int transB, int M, int N, int K, float alpha,
               const float *A, int lda, const float *B, int ldb,
               float beta, float *C, int ldc) {
  if (M <= 0 || N <= 0) return;
  if (stn_blas_load()) {
    blas_sgemm(101, transA ? 112 : 111, transB ? 112 : 111, M, N, K, alpha, A, lda, B, ldb,
               beta, C, ldc);
  } else {
    stn_sgemm_reference(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  }
}
