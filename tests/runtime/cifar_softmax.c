/* cifar_softmax.c - see cifar_softmax.h. */
#include "cifar_softmax.h"

#include <stdio.h>

#include "softreg.h"

#define NIN 3072
#define NP (NIN * 10 + 10)

size_t cifar_softmax_arena_bytes(int batch) { return sizeof(float) * (size_t)(batch * 10 + NP); }

void cifar_softmax_init(float *params, uint64_t seed) { softreg_init(params, NP, seed); }

/* A real model would size its thread pool here; this one only says so. */
void cifar_softmax_set_threads(cifar_softmax_Model *m, int threads) {
  (void)m;
  printf("cifar_softmax: set_threads(%d)\n", threads);
}

int cifar_softmax_forward(cifar_softmax_Model *m, const float *x, float *out, int batch) {
  if (batch < 1 || batch > m->max_batch) return 2;
  softreg_forward(m->params, x, out, NIN, 10, batch);
  return 0;
}

int cifar_softmax_evaluate(cifar_softmax_Model *m, const float *x, const void *y, int batch, float *loss, float *out) {
  float *probs = (float *)m->arena, *grad = probs + 10 * batch;
  int i;
  if (batch < 1 || batch > m->max_batch) return 2;
  softreg_forward(m->params, x, probs, NIN, 10, batch);
  *loss = softreg_grad(x, (const int32_t *)y, probs, grad, NIN, 10, batch);
  for (i = 0; out && i < 10 * batch; i++)
    out[i] = probs[i];
  return 0;
}

int cifar_softmax_train_step(cifar_softmax_Model *m, const float *x, const void *y, int batch, float *loss,
                             float *out) {
  float *grad = (float *)m->arena + 10 * batch;
  int rc = cifar_softmax_evaluate(m, x, y, batch, loss, out), i;
  if (rc) return rc;
  for (i = 0; i < NP; i++)
    m->params[i] -= m->lr * grad[i];
  m->step++;
  return 0;
}

void cifar_softmax_init_state(float *state) {
  for (long i = 0; i < cifar_softmax_STATE_FLOATS; i++)
    state[i] = 0.0f;
}
