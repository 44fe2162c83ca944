/* inline_logistic.c - see inline_logistic.h. Params: w0, w1, b. */
#include "inline_logistic.h"

#include <math.h>

const int inline_logistic_INLINE_N = 4;
const float inline_logistic_INLINE_X[] = {0, 0, 0, 1, 1, 0, 1, 1};
const float inline_logistic_INLINE_YF[] = {0, 1, 1, 1};
const int32_t inline_logistic_INLINE_YI[] = {0};

size_t inline_logistic_arena_bytes(int batch) { return sizeof(float) * (size_t)batch; }

void inline_logistic_init(float *params, uint64_t seed) {
  params[0] = 0.01f * (float)(seed % 7);
  params[1] = -0.01f;
  params[2] = 0.0f;
}

int inline_logistic_forward(inline_logistic_Model *m, const float *x, float *out, int batch) {
  const float *p = m->params;
  int b;
  if (batch < 1 || batch > m->max_batch) return 2;
  for (b = 0; b < batch; b++)
    out[b] = 1.0f / (1.0f + expf(-(p[0] * x[2 * b] + p[1] * x[2 * b + 1] + p[2])));
  return 0;
}

int inline_logistic_evaluate(inline_logistic_Model *m, const float *x, const void *y, int batch, float *loss,
                             float *out) {
  const float *t = (const float *)y;
  float *pr = (float *)m->arena, l = 0;
  int b, rc = inline_logistic_forward(m, x, pr, batch);
  if (rc) return rc;
  for (b = 0; b < batch; b++) {
    float q = pr[b] < 1e-7f ? 1e-7f : pr[b] > 1 - 1e-7f ? 1 - 1e-7f : pr[b];
    l -= t[b] * logf(q) + (1 - t[b]) * logf(1 - q);
    if (out) out[b] = pr[b];
  }
  *loss = l / (float)batch;
  return 0;
}

int inline_logistic_train_step(inline_logistic_Model *m, const float *x, const void *y, int batch, float *loss,
                               float *out) {
  const float *t = (const float *)y;
  const float *pr = (const float *)m->arena;
  float g[3] = {0, 0, 0};
  int b, i, rc = inline_logistic_evaluate(m, x, y, batch, loss, out);
  if (rc) return rc;
  for (b = 0; b < batch; b++) {
    float d = (pr[b] - t[b]) / (float)batch;
    g[0] += d * x[2 * b];
    g[1] += d * x[2 * b + 1];
    g[2] += d;
  }
  for (i = 0; i < 3; i++)
    m->params[i] -= m->lr * g[i];
  m->step++;
  return 0;
}

void inline_logistic_init_state(float *state) {
  for (long i = 0; i < inline_logistic_STATE_FLOATS; i++)
    state[i] = 0.0f;
}
