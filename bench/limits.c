/*
 * The machine's limits for `npm run bench -- limits`: memory bandwidth (a streaming read and a dot
 * product over arrays far larger than the caches) and a dense GEMM rate, on 1 thread and, when
 * compiled with OpenMP, 2 threads. Compiled at run time into bench/.cache with
 * `gcc -O3 -march=native [-fopenmp]`. Prints one JSON object; every figure is the best of `reps`
 * timed repetitions (a limit is what the machine can do, not what it usually does).
 *
 *   limits STREAM_DOUBLES GEMM_N REPS
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

/* Keeps results alive so the compiler cannot drop the loops. */
static volatile double sink;

static double stream_read(const double *a, long n, int threads) {
  double s = 0;
#pragma omp parallel for simd reduction(+ : s) num_threads(threads) schedule(static)
  for (long i = 0; i < n; i++) s += a[i];
  return s;
}

static double dot(const double *a, const double *b, long n, int threads) {
  double s = 0;
#pragma omp parallel for simd reduction(+ : s) num_threads(threads) schedule(static)
  for (long i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

/*
 * C += A·B for n×n row-major matrices (n a multiple of 8): k is blocked so a panel of B stays in
 * cache, and each 4×8 block of C is accumulated in registers over the panel; gcc vectorizes the
 * 8-wide rows. A plain loop nest, not a tuned BLAS: a BLAS would set a higher limit.
 */
static void gemm(const double *A, const double *B, double *C, int n, int threads) {
  const int kb = 256;
  for (int kk = 0; kk < n; kk += kb) {
    const int kend = kk + kb < n ? kk + kb : n;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int i = 0; i < n; i += 4)
      for (int j = 0; j < n; j += 8) {
        double acc[4][8] = {{0}};
        for (int k = kk; k < kend; k++) {
          const double *b = B + (long)k * n + j;
          for (int r = 0; r < 4; r++) {
            const double a = A[(long)(i + r) * n + k];
            for (int c = 0; c < 8; c++) acc[r][c] += a * b[c];
          }
        }
        for (int r = 0; r < 4; r++)
          for (int c = 0; c < 8; c++) C[(long)(i + r) * n + j + c] += acc[r][c];
      }
  }
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: limits STREAM_DOUBLES GEMM_N REPS\n");
    return 2;
  }
  const long n = atol(argv[1]);
  const int gn = atoi(argv[2]);
  const int reps = atoi(argv[3]);
  double *a = malloc(n * sizeof(double)), *b = malloc(n * sizeof(double));
  double *A = malloc((long)gn * gn * sizeof(double)), *B = malloc((long)gn * gn * sizeof(double));
  double *C = malloc((long)gn * gn * sizeof(double));
  if (!a || !b || !A || !B || !C) {
    fprintf(stderr, "limits: out of memory\n");
    return 1;
  }
  for (long i = 0; i < n; i++) a[i] = 1.0 + (i % 7) * 1e-3, b[i] = 1.0 - (i % 5) * 1e-3;
  for (long i = 0; i < (long)gn * gn; i++) A[i] = 1.0 + (i % 3) * 1e-3, B[i] = 1.0 - (i % 11) * 1e-3;
#ifdef _OPENMP
  const int max_threads = 2;
#else
  const int max_threads = 1;
#endif
  printf("{\"openmp\":%s,\"streamBytes\":%ld,\"gemmN\":%d,\"reps\":%d,\"threads\":[", max_threads > 1 ? "true" : "false",
         n * 8, gn, reps);
  for (int t = 1; t <= max_threads; t++) {
    double best_read = 1e30, best_dot = 1e30, best_gemm = 1e30;
    for (int r = 0; r < reps; r++) {
      double t0 = now();
      sink = stream_read(a, n, t);
      double t1 = now();
      sink = dot(a, b, n, t);
      double t2 = now();
      memset(C, 0, (long)gn * gn * sizeof(double));
      double t3 = now();
      gemm(A, B, C, gn, t);
      double t4 = now();
      sink = C[gn / 2];
      if (t1 - t0 < best_read) best_read = t1 - t0;
      if (t2 - t1 < best_dot) best_dot = t2 - t1;
      if (t4 - t3 < best_gemm) best_gemm = t4 - t3;
    }
    printf("%s{\"threads\":%d,\"readGBs\":%.4f,\"dotGBs\":%.4f,\"gemmGflops\":%.4f}", t > 1 ? "," : "", t,
           n * 8 / best_read / 1e9, 2.0 * n * 8 / best_dot / 1e9, 2.0 * gn * gn * (double)gn / best_gemm / 1e9);
  }
  printf("]}\n");
  return 0;
}
