/* fast_math.c - checks templates/fast_math.c.in (nn2c_expf, nn2c_tanhf, nn2c_sigmoidf)
 * against libm in double on every STRIDE-th float and on the special values, with the
 * functions called from a loop the compiler vectorizes, as the emitted models do.
 * fast_math.sh builds it with each compiler and -march; FAST_MATH_H is the template
 * without its ## lines. Exit 1 and a line per failure when a bound is broken. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define NN2C_MAYBE_UNUSED __attribute__((unused))
#define NN2C_MATH_INLINE inline __attribute__((always_inline))
#include FAST_MATH_H

#define STRIDE 61u
#define CHUNK 4096

/* Error in units of the float nearest the exact value; below the normal range, in the
 * smallest normal's ulp (subnormal results may lose their low bits). */
static double ulps(float got, double want) {
  if (isnan(want)) return isnan(got) ? 0 : 1e30;
  if (isinf(want) || fabs(want) > 3.4028234663852886e38) return got == (float)want ? 0 : 1e30;
  if (isnan(got) || isinf(got)) return 1e30;
  float w = (float)want;
  double u = fabsf(w) < 1.17549435e-38f ? 1.4e-45 * 8388608.0 : (double)(nextafterf(fabsf(w), INFINITY) - fabsf(w));
  return fabs((double)got - want) / u;
}

static double exp_ref(double x) { return exp(x); }
static double tanh_ref(double x) { return tanh(x); }
static double sigmoid_ref(double x) { return 1 / (1 + exp(-x)); }

static void run_exp(const float *x, float *y, int n) {
  for (int i = 0; i < n; i++)
    y[i] = nn2c_expf(x[i]);
}
static void run_tanh(const float *x, float *y, int n) {
  for (int i = 0; i < n; i++)
    y[i] = nn2c_tanhf(x[i]);
}
static void run_sigmoid(const float *x, float *y, int n) {
  for (int i = 0; i < n; i++)
    y[i] = nn2c_sigmoidf(x[i]);
}

typedef struct {
  const char *name;
  void (*run)(const float *, float *, int);
  double (*ref)(double);
  double bound, worst;
  float worst_x;
} Fn;

static void check_chunk(Fn *f, const float *x, int n) {
  float y[CHUNK];
  f->run(x, y, n);
  for (int i = 0; i < n; i++) {
    double e = ulps(y[i], f->ref((double)x[i]));
    if (e > f->worst) f->worst = e, f->worst_x = x[i];
  }
}

int main(void) {
  Fn fns[] = {{"exp", run_exp, exp_ref, 2, 0, 0},
              {"tanh", run_tanh, tanh_ref, 3, 0, 0},
              {"sigmoid", run_sigmoid, sigmoid_ref, 3, 0, 0}};
  static const float special[] = {0.0f,  -0.0f,       INFINITY, -INFINITY, NAN,     88.72f, 88.73f,
                                  89.0f, -87.33f,     -103.9f,  -104.0f,   -1e30f,  1e30f,  0.5f,
                                  -0.5f, 0.49999997f, 1e-30f,   -1e-30f,   1.4e-45f};
  float x[CHUNK];
  int n = 0, failed = 0;
  for (int k = 0; k < 3; k++)
    check_chunk(&fns[k], special, (int)(sizeof special / sizeof special[0]));
  for (uint64_t i = 0; i < (1ull << 32); i += STRIDE) {
    uint32_t u = (uint32_t)i;
    memcpy(&x[n++], &u, sizeof u);
    if (n == CHUNK) {
      for (int k = 0; k < 3; k++)
        check_chunk(&fns[k], x, n);
      n = 0;
    }
  }
  for (int k = 0; k < 3; k++) {
    check_chunk(&fns[k], x, n);
    Fn *f = &fns[k];
    printf("%-8s max error %.2f ulp (bound %.0f) at x = %.9g\n", f->name, f->worst, f->bound, (double)f->worst_x);
    if (f->worst > f->bound) failed = 1;
  }
  return failed;
}
