/* threads_calibration.c - checks threads_cnn_parallel_info, the measured
 * thresholds of the emitted parallel loops (templates/parallel.h). Not timed:
 * it checks that the numbers are sane and consistent, not how large they are.
 *
 *   threads_calibration check N     set_threads(N) calibrates; checks both
 *                                   thresholds against the measurements
 *   threads_calibration expect W N  set_threads(N) gives thresholds W ("max":
 *                                   SIZE_MAX) and no measurements (an override)
 *   threads_calibration lazy        m->threads = 2 set directly: the first
 *                                   forward call calibrates
 *
 * Every mode also checks that the forward pass gives the same bytes at 1 and
 * at N threads, and that the threshold is SIZE_MAX before set_threads.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "threads_cnn.h"

#define BATCH 16

static int fail(const char *msg) {
  fprintf(stderr, "FAIL: %s\n", msg);
  return 1;
}

/* A threshold follows templates/parallel.h's rule from its measurements: one unit
 * (multiply-add or element) takes t1 seconds on one thread, tn shared out. */
static int check_rule(const char *what, size_t w, double region, double t1, double tn, int nt) {
  double want;
  fprintf(stderr, "%s: threshold %.0f, %.3g s on 1 thread, %.3g s on %d\n", what, w == SIZE_MAX ? -1.0 : (double)w, t1,
          tn, nt);
  if (!(t1 > 1e-14 && t1 < 1e-6)) return fail("one-thread time per unit not in (0.01 ps, 1 us)");
  if (!(tn >= t1 / nt * 0.999999)) return fail("time per unit on the threads below the one-thread time / nt");
  if (tn > 0.9 * t1) return w == SIZE_MAX ? 0 : fail("threads under 10% faster but used");
  want = 2 * region / (t1 - tn);
  if (w == SIZE_MAX || (double)w < want * 0.999999 || (double)w > want * 1.1 + 1)
    return fail("threshold is not 2 * region / (t1 - tn) rounded up to 2 digits");
  return 0;
}

static int check_info(threads_cnn_ParallelInfo p, int nt) {
  if (p.threads != nt || !p.measured) return fail("not calibrated for this thread count");
  if (!(p.took_s > 0 && p.took_s < 5.0)) return fail("calibration time not in (0, 5 s)");
  if (!(p.region_s > 0 && p.region_s < 1.0)) return fail("parallel loop time not in (0, 1 s)");
  if (p.region_s >= 1e-3)
    return p.min_work == SIZE_MAX && p.min_elems == SIZE_MAX ? 0 : fail("parallel loop >= 1 ms but threads are used");
  return check_rule("multiply-adds", p.min_work, p.region_s, p.madd_s, p.madd_threads_s, nt) ||
         check_rule("elements", p.min_elems, p.region_s, p.elem_s, p.elem_threads_s, nt);
}

int main(int argc, char **argv) {
  static float params[threads_cnn_PARAM_FLOATS], state[threads_cnn_STATE_FLOATS + 1];
  static float x[BATCH * threads_cnn_IN_NUMEL], out1[BATCH * threads_cnn_OUT_NUMEL],
      outn[BATCH * threads_cnn_OUT_NUMEL];
  threads_cnn_Model m;
  unsigned char *raw = malloc(threads_cnn_arena_bytes(BATCH) + 64);
  threads_cnn_ParallelInfo p;
  int i, nt = 2;
  const char *mode = argc > 1 ? argv[1] : "";

  if (!raw) return fail("out of memory");
  memset(&m, 0, sizeof m);
  m.params = params, m.state = state, m.max_batch = BATCH, m.lr = 0.001f;
  m.arena = raw + (64 - (uintptr_t)raw % 64) % 64;
  threads_cnn_init(params, 3);
  threads_cnn_init_state(state);
  for (i = 0; i < BATCH * threads_cnn_IN_NUMEL; i++)
    x[i] = (float)((i * 2654435761u) % 1000u) / 1000.0f;

  p = threads_cnn_parallel_info();
  if (p.threads || p.measured || p.min_work != SIZE_MAX || p.min_elems != SIZE_MAX || p.took_s)
    return fail("thresholds before set_threads");
  threads_cnn_set_threads(&m, 1);
  if (threads_cnn_forward(&m, x, out1, BATCH)) return fail("forward at 1 thread");
  p = threads_cnn_parallel_info();
  if (p.threads || p.min_work != SIZE_MAX || p.min_elems != SIZE_MAX) return fail("thresholds at 1 thread");

  if (!strcmp(mode, "lazy")) {
    m.threads = 2;
  } else if ((!strcmp(mode, "check") && argc == 3) || (!strcmp(mode, "expect") && argc == 4)) {
    nt = atoi(argv[argc - 1]);
    threads_cnn_set_threads(&m, nt);
  } else {
    fprintf(stderr, "usage: threads_calibration check N | expect W N | lazy\n");
    return 2;
  }
  if (threads_cnn_forward(&m, x, outn, BATCH)) return fail("forward on the threads");
  if (memcmp(out1, outn, sizeof out1)) return fail("other outputs on the threads than on 1");
  p = threads_cnn_parallel_info();
  printf("threads=%d min_work=%.0f min_elems=%.0f region_us=%.2f madd_ps=%.2f/%.2f elem_ps=%.1f/%.1f took_ms=%.2f\n",
         nt, p.min_work == SIZE_MAX ? -1.0 : (double)p.min_work, p.min_elems == SIZE_MAX ? -1.0 : (double)p.min_elems,
         p.region_s * 1e6, p.madd_s * 1e12, p.madd_threads_s * 1e12, p.elem_s * 1e12, p.elem_threads_s * 1e12,
         p.took_s * 1e3);
  if (!strcmp(mode, "expect")) {
    size_t want = !strcmp(argv[2], "max") ? SIZE_MAX : (size_t)strtoull(argv[2], NULL, 10);
    if (p.min_work != want || p.min_elems != want) return fail("the thresholds are not the override");
    if (p.measured || p.region_s || p.madd_s || p.madd_threads_s || p.elem_s || p.elem_threads_s || p.took_s)
      return fail("measurements reported for an override");
  } else if (check_info(p, !strcmp(mode, "lazy") ? 2 : nt)) {
    return 1;
  }
  free(raw);
  printf("ok\n");
  return 0;
}
