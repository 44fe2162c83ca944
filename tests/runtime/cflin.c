/* cflin.c - see cflin.h. */
#include "cflin.h"

#include <stdio.h>

#include "softreg.h"

#define NIN 3072
#define NP (NIN * 10 + 10)

size_t cflin_arena_bytes(int batch) { return sizeof(float) * (size_t)(batch * 10 + NP); }

void cflin_init(float *params, uint64_t seed) { softreg_init(params, NP, seed); }

/* A real model would size its thread pool here; this one only says so. */
void cflin_set_threads(cflin_Model *m, int threads) {
  (void)m;
  printf("cflin: set_threads(%d)\n", threads);
}

int cflin_forward(cflin_Model *m, const float *x, float *out, int batch) {
  if (batch < 1 || batch > m->max_batch)
    return 2;
  softreg_forward(m->params, x, out, NIN, 10, batch);
  return 0;
}

int cflin_evaluate(cflin_Model *m, const float *x, const void *y, int batch, float *loss,
                   float *out) {
  float *probs = (float *)m->arena, *grad = probs + 10 * batch;
  int i;
  if (batch < 1 || batch > m->max_batch)
    return 2;
  softreg_forward(m->params, x, probs, NIN, 10, batch);
  *loss = softreg_grad(x, (const int32_t *)y, probs, grad, NIN, 10, batch);
  for (i = 0; out && i < 10 * batch; i++)
    out[i] = probs[i];
  return 0;
}

int cflin_train_step(cflin_Model *m, const float *x, const void *y, int batch, float *loss,
                     float *out) {
  float *grad = (float *)m->arena + 10 * batch;
  int rc = cflin_evaluate(m, x, y, batch, loss, out), i;
  if (rc)
    return rc;
  for (i = 0; i < NP; i++)
    m->params[i] -= m->lr * grad[i];
  m->step++;
  return 0;
}

void cflin_init_state(float *state) {
  for (long i = 0; i < cflin_STATE_FLOATS; i++) state[i] = 0.0f;
}
