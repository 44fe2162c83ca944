/* Parallel loops. With OpenMP (-fopenmp) a matmul or convolution loop marked
 * NN2C_PARALLEL_FOR_IF(work) or NN2C_PARALLEL_FOR_DYN(work, n) runs on nt threads when its
 * work (multiply-adds at the batch of the call) reaches nn2c_par.min_work, and an
 * elementwise loop marked NN2C_PARALLEL_FOR_EW(n) when its n elements reach
 * nn2c_par.min_elems; without OpenMP every loop is a plain loop. Each parallel loop writes
 * its own outputs, so results depend neither on the thread count nor on which loops run
 * on the threads.
 *
 * The thresholds are measured, not assumed: once per process, by set_threads when it is
 * given nt > 1 threads (or by the first step, when m->threads was set directly), in about
 * 3 ms on free cores (longer when other processes hold them, as each parallel loop then
 * waits for its threads):
 *   1. region: the mean time of parallel loops of nt empty iterations run back to back
 *      for 1 ms. Under OpenMP's default wait policy the threads still spin between loops
 *      and take the next up within microseconds; under OMP_WAIT_POLICY=passive they sleep
 *      and each loop wakes them, as it will the model's loops; on a machine whose other
 *      processes keep the cores busy, some loops wait for a thread to be scheduled, and
 *      the mean counts those waits as the model's loops will pay them.
 *   2. Two kernels, each timed on one thread (the fastest of up to 5 runs of at least
 *      50 us) and shared out over the nt threads in one parallel loop (the mean of the
 *      runs, interleaved with the others, less the region; taken as at least the
 *      one-thread time / nt): madd1 and maddn, seconds per multiply-add of a small
 *      register-blocked vector kernel (the shape of the matmul and convolution kernels);
 *      elem1 and elemn, seconds per element of y = s * y + x over 2 x 128 KB. A thread
 *      off its core for a while (other processes) slows a shared run far beyond the
 *      others and could have hit any parallel loop, so both kernels' shared runs are
 *      taken as their fastest times the larger of the two slowdowns (mean / fastest).
 *   3. A loop of w multiply-adds saves w * (madd1 - maddn) - region on the threads. It runs
 *      on them when that saving is at least the region again:
 *        min_work = 2 * region / (madd1 - maddn), rounded up to 2 significant digits,
 *      and min_elems likewise from elem1 and elemn. A kernel the threads run less than 10%
 *      faster than one thread (cores busy with other work, threads sharing a core), or a
 *      region of 1 ms or more (threads waiting for cores), gives SIZE_MAX: those loops stay
 *      on one thread.
 * The kernels take less time per multiply-add or element than the model's loops, which
 * makes the thresholds err high (fewer parallel loops). Overrides, in this order: the
 * environment variable NN2C_PARALLEL_MIN_WORK=N (both thresholds N, read when they are
 * set); -DNN2C_PARALLEL_MIN_WORK_PASSIVE=N under OMP_WAIT_POLICY=passive;
 * -DNN2C_PARALLEL_MIN_WORK=N. NAME_parallel_info reports them and the measurements. */
#if defined(_OPENMP)
#include <omp.h>
#include <stdlib.h>
#define NN2C_PRAGMA(x) _Pragma(#x)
#define NN2C_PARALLEL_FOR _Pragma("omp parallel for schedule(static) num_threads(nt)")
#define NN2C_PARALLEL_FOR_IF(work) NN2C_PRAGMA(omp parallel for schedule(static) num_threads(nt) if (nt > 1 && (work) >= nn2c_par.min_work))
/* the same over n iterations handed out in chunks of about n / (8 nt): a thread
 * slowed by other processes on its core takes fewer (a static split waits for it) */
#define NN2C_PARALLEL_FOR_DYN(work, n) NN2C_PRAGMA(omp parallel for schedule(dynamic, (size_t)(n) / (8 * (size_t)nt) + 1) num_threads(nt) if (nt > 1 && (work) >= nn2c_par.min_work))
/* an elementwise loop over n elements */
#define NN2C_PARALLEL_FOR_EW(n) NN2C_PRAGMA(omp parallel for schedule(static) num_threads(nt) if (nt > 1 && (n) >= nn2c_par.min_elems))
/* at the top of each step: the thresholds, if set_threads has not set them */
#define NN2C_PARALLEL_SETUP(nt) do { if ((nt) > 1 && nn2c_par.nt == 0) nn2c_parallel_setup(nt); } while (0)

/* The thresholds, and how they were set. */
static struct {
  int nt;           /* the thread count they are for (0: not set yet) */
  int measured;     /* 1: calibrated, 0: an override */
  size_t min_work;  /* multiply-adds from which a matmul or convolution loop runs on the threads */
  size_t min_elems; /* elements from which an elementwise loop does */
  double region, madd1, maddn, elem1, elemn, took; /* seconds, see above */
} nn2c_par = {0, 0, SIZE_MAX, SIZE_MAX, 0, 0, 0, 0, 0, 0};
static volatile int nn2c_cal_sink; /* keeps the empty loops' sums alive */

#define NN2C_CAL_K 64
#define NN2C_CAL_MADDS (8 * NN2C_VW * NN2C_CAL_K) /* per rep */
/* Seconds for reps times: 4 rows x 2 vectors of accumulators += a broadcast A element
 * x a B vector, over NN2C_CAL_K steps. The values stay near 1e-3 * reps: no overflow, no
 * subnormals. The volatile read and write keep the loop between the clock readings. */
static NN2C_KERNEL double nn2c_cal_kernel(long reps) {
  volatile float start = 1e-3f, keep;
  float a[4 * NN2C_CAL_K], b[2 * NN2C_VW * NN2C_CAL_K], c[8 * NN2C_VW], s;
  long r;
  int i, k;
  double t;
  for (i = 0; i < 4 * NN2C_CAL_K; i++) a[i] = 1e-3f * (float)(i % 7 + 1);
  for (i = 0; i < 2 * NN2C_VW * NN2C_CAL_K; i++) b[i] = 1e-3f * (float)(i % 5 + 1);
  t = omp_get_wtime();
  s = start;
  for (i = 0; i < 8 * NN2C_VW; i++) c[i] = s;
  for (r = 0; r < reps; r++) {
    nn2c_vf c0 = nn2c_vload(c), c1 = nn2c_vload(c + NN2C_VW), c2 = nn2c_vload(c + 2 * NN2C_VW);
    nn2c_vf c3 = nn2c_vload(c + 3 * NN2C_VW), c4 = nn2c_vload(c + 4 * NN2C_VW), c5 = nn2c_vload(c + 5 * NN2C_VW);
    nn2c_vf c6 = nn2c_vload(c + 6 * NN2C_VW), c7 = nn2c_vload(c + 7 * NN2C_VW);
    for (k = 0; k < NN2C_CAL_K; k++) {
      nn2c_vf b0 = nn2c_vload(b + 2 * NN2C_VW * k), b1 = nn2c_vload(b + 2 * NN2C_VW * k + NN2C_VW);
      nn2c_vf a0 = nn2c_vset1(a[k]), a1 = nn2c_vset1(a[NN2C_CAL_K + k]);
      nn2c_vf a2 = nn2c_vset1(a[2 * NN2C_CAL_K + k]), a3 = nn2c_vset1(a[3 * NN2C_CAL_K + k]);
      c0 += a0 * b0, c1 += a0 * b1, c2 += a1 * b0, c3 += a1 * b1;
      c4 += a2 * b0, c5 += a2 * b1, c6 += a3 * b0, c7 += a3 * b1;
    }
    nn2c_vstore(c, c0), nn2c_vstore(c + NN2C_VW, c1), nn2c_vstore(c + 2 * NN2C_VW, c2);
    nn2c_vstore(c + 3 * NN2C_VW, c3), nn2c_vstore(c + 4 * NN2C_VW, c4), nn2c_vstore(c + 5 * NN2C_VW, c5);
    nn2c_vstore(c + 6 * NN2C_VW, c6), nn2c_vstore(c + 7 * NN2C_VW, c7);
  }
  keep = c[0] + c[8 * NN2C_VW - 1];
  (void)keep;
  return omp_get_wtime() - t;
}

#define NN2C_CAL_N 32768
static float nn2c_cal_x[NN2C_CAL_N], nn2c_cal_y[NN2C_CAL_N]; /* zeros: no subnormals */
/* Seconds for reps passes of y = s * y + x over elements [lo, hi). */
static NN2C_NOINLINE NN2C_MAYBE_UNUSED double nn2c_cal_stream(size_t lo, size_t hi, long reps) {
  volatile float start = 0.5f;
  double t = omp_get_wtime();
  float s = start;
  long r;
  size_t i;
  for (r = 0; r < reps; r++)
    for (i = lo; i < hi; i++) nn2c_cal_y[i] = s * nn2c_cal_y[i] + nn2c_cal_x[i];
  return omp_get_wtime() - t;
}

/* Seconds for a parallel loop of nt empty iterations (an empty region would be
 * optimized away). */
static NN2C_MAYBE_UNUSED double nn2c_cal_region(int nt) {
  int n = 0, i;
  double t = omp_get_wtime();
#pragma omp parallel for schedule(static) num_threads(nt) reduction(+ : n)
  for (i = 0; i < nt; i++) n += i;
  t = omp_get_wtime() - t;
  nn2c_cal_sink = n;
  return t;
}

/* Seconds for part j of nt of kernel kind (0: multiply-adds, each part all reps;
 * 1: elements, part j of the buffers), and for all nt parts in one parallel loop. */
static NN2C_MAYBE_UNUSED double nn2c_cal_part(int kind, int j, int nt, long reps) {
  if (kind == 0) return nn2c_cal_kernel(reps);
  return nn2c_cal_stream(NN2C_CAL_N / (size_t)nt * (size_t)j, NN2C_CAL_N / (size_t)nt * (size_t)(j + 1), reps);
}
static NN2C_MAYBE_UNUSED double nn2c_cal_all(int kind, int nt, long reps) {
  int j;
  double t = omp_get_wtime();
#pragma omp parallel for schedule(static) num_threads(nt)
  for (j = 0; j < nt; j++) nn2c_cal_part(kind, j, nt, reps);
  return omp_get_wtime() - t;
}

/* Step 2 for one kernel: m[0] the fastest run on one thread, m[1] the fastest and m[2] the
 * mean run shared out, m[3] units (multiply-adds or elements) per run on one thread and
 * m[4] shared out. */
static NN2C_MAYBE_UNUSED void nn2c_cal_measure(int kind, int nt, double m[5]) {
  double t0 = omp_get_wtime(), sum = 0;
  long reps = 1;
  int i;
  while (nn2c_cal_part(kind, 0, 1, reps) < 5e-5 && reps < (1L << 24)) reps *= 2;
  m[0] = m[1] = 1e30;
  for (i = 0; i < 5 && (i < 2 || omp_get_wtime() - t0 < 4e-3); i++) { /* interleaved: load meets both */
    double t = nn2c_cal_part(kind, 0, 1, reps), u = nn2c_cal_all(kind, nt, reps);
    m[0] = t < m[0] ? t : m[0];
    m[1] = u < m[1] ? u : m[1];
    sum += u;
  }
  m[2] = sum / i;
  m[3] = (double)reps * (kind == 0 ? NN2C_CAL_MADDS : NN2C_CAL_N);
  m[4] = m[3] * (kind == 0 ? nt : 1);
}

/* Step 3 for one kernel's m, its shared runs slowed by the factor slow: the seconds per
 * unit on one thread (*one) and shared out (*all), and the threshold. */
static NN2C_MAYBE_UNUSED size_t nn2c_cal_threshold(const double m[5], double slow, int nt, double *one, double *all) {
  double w;
  int i;
  *one = m[0] / m[3];
  *all = (m[1] * slow - nn2c_par.region) / m[4];
  if (*all < *one / nt) *all = *one / nt;
  if (*all > 0.9 * *one) return SIZE_MAX;
  w = 2 * nn2c_par.region / (*one - *all);
  for (i = 0; w >= 100; i++) w /= 10; /* 2 significant digits, rounded up */
  w = ceil(w);
  for (; i > 0; i--) w *= 10;
  return w < 1e18 ? (size_t)w : SIZE_MAX;
}

static NN2C_MAYBE_UNUSED void nn2c_calibrate(int nt) {
  double t0 = omp_get_wtime(), t, mw[5], me[5], slow;
  long n;
  nn2c_par.measured = 1;
  memset(nn2c_cal_x, 0, sizeof nn2c_cal_x); /* written, so not a constant the compiler folds */
  nn2c_cal_region(nt); /* starts the threads */
  for (n = 0, t = 0; t < 1e-3 && n < 100000; n++) t += nn2c_cal_region(nt);
  nn2c_par.region = t / (double)n;
  if (nn2c_par.region < 1e-3) { /* else the threads are mostly off their cores */
    nn2c_cal_measure(0, nt, mw);
    nn2c_cal_measure(1, nt, me);
    /* a stall (a thread off its core) in either kernel's shared runs could have hit any
       parallel loop: the larger slowdown of mean over fastest applies to both */
    slow = mw[2] / mw[1] > me[2] / me[1] ? mw[2] / mw[1] : me[2] / me[1];
    nn2c_par.min_work = nn2c_cal_threshold(mw, slow, nt, &nn2c_par.madd1, &nn2c_par.maddn);
    nn2c_par.min_elems = nn2c_cal_threshold(me, slow, nt, &nn2c_par.elem1, &nn2c_par.elemn);
  }
  nn2c_par.took = omp_get_wtime() - t0;
}

#if defined(NN2C_PARALLEL_MIN_WORK_PASSIVE)
static int nn2c_passive_wait(void) { /* OMP_WAIT_POLICY=passive, in any case */
  const char *p = getenv("OMP_WAIT_POLICY"), *w = "passive";
  if (!p) return 0;
  for (; *w; p++, w++)
    if ((*p | 32) != *w) return 0;
  return *p == 0;
}
#endif

/* Sets the thresholds for nt > 1 threads: an override, or the calibration. */
static void nn2c_parallel_setup(int nt) {
  const char *env = getenv("NN2C_PARALLEL_MIN_WORK"), *p = env;
  size_t v = 0;
  memset(&nn2c_par, 0, sizeof nn2c_par);
  nn2c_par.nt = nt;
  nn2c_par.min_work = nn2c_par.min_elems = SIZE_MAX;
  for (; p && *p >= '0' && *p <= '9'; p++) v = v > (SIZE_MAX - 9) / 10 ? SIZE_MAX : v * 10 + (size_t)(*p - '0');
  if (env && p > env && *p == 0) {
    nn2c_par.min_work = nn2c_par.min_elems = v;
    return;
  }
#if defined(NN2C_PARALLEL_MIN_WORK_PASSIVE)
  if (nn2c_passive_wait()) {
    nn2c_par.min_work = nn2c_par.min_elems = NN2C_PARALLEL_MIN_WORK_PASSIVE;
    return;
  }
#endif
#if defined(NN2C_PARALLEL_MIN_WORK)
  nn2c_par.min_work = nn2c_par.min_elems = NN2C_PARALLEL_MIN_WORK;
#else
  nn2c_calibrate(nt);
#endif
}
#else
#define NN2C_PARALLEL_FOR
#define NN2C_PARALLEL_FOR_IF(work)
#define NN2C_PARALLEL_FOR_DYN(work, n)
#define NN2C_PARALLEL_FOR_EW(n)
#define NN2C_PARALLEL_SETUP(nt) (void)(nt)
#endif
