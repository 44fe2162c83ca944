/* gemm_bench.c - OpenBLAS cblas_sgemm GFLOP/s on given GEMM shapes.
 *
 *   gemm_bench [--threads T] [--seconds S] NAME M K N [NAME M K N ...]
 *
 * For each shape, C[M,N] = A[M,K] * B[K,N] in row-major float32 (the shape of
 * an im2col convolution: M = batch*OH*OW output pixels, K = KH*KW*Cin, N =
 * Cout; or of a dense layer: M = batch, K = inputs, N = units).
 * 1. Fills A and B with a fixed pattern, calls sgemm twice untimed.
 * 2. Times each call with clock_gettime(CLOCK_MONOTONIC) until at least 5
 *    calls and S seconds (default 0.3) have passed.
 * 3. Checks 61 entries of the result against a double-precision dot product
 *    (relative to the sum of |a*b|; check=ok below 1e-5, else WRONG).
 * 4. Prints one line per shape with the median time and 2*M*K*N / median as
 *    GFLOP/s, then a total line: the sum of the FLOPs over the sum of the
 *    medians. The first line names OpenBLAS's build and the kernel it chose
 *    (which OPENBLAS_CORETYPE, when set, decides).
 * Build: cc -O2 gemm_bench.c -lopenblas (bench/run.sh does).
 */
#define _POSIX_C_SOURCE 199309L
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static float *filled(size_t n, unsigned salt) {
  float *p = malloc(n * sizeof(float));
  size_t i;
  if (!p) {
    fprintf(stderr, "gemm_bench: out of memory\n");
    exit(1);
  }
  for (i = 0; i < n; i++)
    p[i] = (float)(((i + salt) * 2654435761u) % 1000u) / 1000.0f - 0.5f;
  return p;
}

/* Largest relative error of 61 entries of C = A*B against a double-precision
 * dot product: a kernel choice that computes wrong results shows up here. */
static double check_sgemm(const float *a, const float *b, const float *c, int m, int k, int n) {
  double worst = 0;
  int t, p;
  for (t = 0; t < 61; t++) {
    int i = (int)((t * 7919u) % (unsigned)m), j = (int)((t * 104729u) % (unsigned)n);
    double ref = 0, mag = 0, err;
    for (p = 0; p < k; p++) {
      ref += (double)a[(size_t)i * k + p] * b[(size_t)p * n + j];
      mag += (double)(a[(size_t)i * k + p] < 0 ? -a[(size_t)i * k + p] : a[(size_t)i * k + p]) *
             (b[(size_t)p * n + j] < 0 ? -b[(size_t)p * n + j] : b[(size_t)p * n + j]);
    }
    err = (c[(size_t)i * n + j] - ref) / (mag > 0 ? mag : 1);
    if (err < 0) err = -err;
    if (err > worst) worst = err;
  }
  return worst;
}

/* Median microseconds of one sgemm call on M x K times K x N; *err gets
 * check_sgemm's figure for the last call's result. */
static double time_sgemm(int m, int k, int n, double seconds, double *err) {
  float *a = filled((size_t)m * k, 1), *b = filled((size_t)k * n, 2), *c = filled((size_t)m * n, 3);
  double times[10000], t_end, med;
  int i, count = 0;
  for (i = 0; i < 2; i++)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, k, b, n, 0.0f, c, n);
  t_end = now_us() + seconds * 1e6;
  while ((count < 5 || now_us() < t_end) && count < 10000) {
    double t0 = now_us();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, k, b, n, 0.0f, c, n);
    times[count++] = now_us() - t0;
  }
  *err = check_sgemm(a, b, c, m, k, n);
  qsort(times, (size_t)count, sizeof(double), cmp_double);
  med = times[count / 2];
  free(a);
  free(b);
  free(c);
  return med;
}

int main(int argc, char **argv) {
  int threads = 1, i = 1;
  double seconds = 0.3, flops_sum = 0, us_sum = 0, worst = 0;
  for (; i + 1 < argc && !strncmp(argv[i], "--", 2); i += 2) {
    if (!strcmp(argv[i], "--threads"))
      threads = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--seconds"))
      seconds = atof(argv[i + 1]);
    else
      break;
  }
  if (threads < 1 || i >= argc || (argc - i) % 4) {
    fprintf(stderr, "usage: gemm_bench [--threads T] [--seconds S] NAME M K N [NAME M K N ...]\n");
    return 2;
  }
  openblas_set_num_threads(threads);
  printf("openblas config=\"%s\" core=%s threads=%d\n", openblas_get_config(), openblas_get_corename(),
         openblas_get_num_threads());
  for (; i < argc; i += 4) {
    int m = atoi(argv[i + 1]), k = atoi(argv[i + 2]), n = atoi(argv[i + 3]);
    double err, us = time_sgemm(m, k, n, seconds, &err), flops = 2.0 * m * k * n;
    flops_sum += flops;
    us_sum += us;
    if (err > worst) worst = err;
    printf("sgemm %s M=%d K=%d N=%d median_us=%.2f gflops=%.2f check=%s\n", argv[i], m, k, n, us, flops / us / 1e3,
           err < 1e-5 ? "ok" : "WRONG");
  }
  printf("sgemm total flops=%.0f median_us=%.2f gflops=%.2f check=%s max_rel_err=%.1e\n", flops_sum, us_sum,
         flops_sum / us_sum / 1e3, worst < 1e-5 ? "ok" : "WRONG", worst);
  return 0;
}
