/* inline_softmax.c - see inline_softmax.h. Status codes mimic emitted code: 2 = batch too big,
 * 3 = misaligned arena, 7 = simulated failure (requested with lr >= 1000). */
#include "inline_softmax.h"

#include "softreg.h"

const int inline_softmax_INLINE_N = 8;
const float inline_softmax_INLINE_X[] = {0.1f, 0.2f, 0.3f, 0.1f, 0.2f, 0.4f, 0.0f, 0.5f,
                                         0.9f, 0.8f, 0.7f, 1.0f, 1.0f, 0.6f, 0.8f, 0.9f};
const float inline_softmax_INLINE_YF[] = {0};
const int32_t inline_softmax_INLINE_YI[] = {0, 0, 0, 0, 1, 1, 1, 1};

size_t inline_softmax_arena_bytes(int batch) { return sizeof(float) * (size_t)(batch * 2 + 6); }

void inline_softmax_init(float *params, uint64_t seed) { softreg_init(params, 6, seed); }

static int check(const inline_softmax_Model *m, int batch) {
  if (batch < 1 || batch > m->max_batch) return 2;
  if ((uintptr_t)m->arena % 64 != 0) return 3;
  return 0;
}

int inline_softmax_forward(inline_softmax_Model *m, const float *x, float *out, int batch) {
  int rc = check(m, batch);
  if (!rc) softreg_forward(m->params, x, out, 2, 2, batch);
  return rc;
}

int inline_softmax_evaluate(inline_softmax_Model *m, const float *x, const void *y, int batch, float *loss,
                            float *out) {
  float *probs = (float *)m->arena, *grad = probs + 2 * batch;
  int rc = check(m, batch), i;
  if (rc) return rc;
  softreg_forward(m->params, x, probs, 2, 2, batch);
  *loss = softreg_grad(x, (const int32_t *)y, probs, grad, 2, 2, batch);
  for (i = 0; out && i < 2 * batch; i++)
    out[i] = probs[i];
  return 0;
}

int inline_softmax_train_step(inline_softmax_Model *m, const float *x, const void *y, int batch, float *loss,
                              float *out) {
  float *grad = (float *)m->arena + 2 * batch;
  int rc = inline_softmax_evaluate(m, x, y, batch, loss, out), i;
  if (rc) return rc;
  if (m->lr >= 1000.0f) return 7;
  for (i = 0; i < 6; i++) {
    m->state[i] = 0.9f * m->state[i] + grad[i];
    m->params[i] -= m->lr * m->state[i];
  }
  m->step++;
  return 0;
}

void inline_softmax_init_state(float *state) {
  for (long i = 0; i < inline_softmax_STATE_FLOATS; i++)
    state[i] = 0.0f;
}
