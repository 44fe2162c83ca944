/* mnist_softmax.c - see mnist_softmax.h. */
#include "mnist_softmax.h"

#include "softreg.h"

size_t mnist_softmax_arena_bytes(int batch) { return sizeof(float) * (size_t)(batch * 10 + 7850); }

void mnist_softmax_init(float *params, uint64_t seed) { softreg_init(params, 7850, seed); }

int mnist_softmax_forward(mnist_softmax_Model *m, const float *x, float *out, int batch) {
  if (batch < 1 || batch > m->max_batch) return 2;
  softreg_forward(m->params, x, out, 784, 10, batch);
  return 0;
}

int mnist_softmax_evaluate(mnist_softmax_Model *m, const float *x, const void *y, int batch, float *loss, float *out) {
  float *probs = (float *)m->arena, *grad = probs + 10 * batch;
  int i;
  if (batch < 1 || batch > m->max_batch) return 2;
  softreg_forward(m->params, x, probs, 784, 10, batch);
  *loss = softreg_grad(x, (const int32_t *)y, probs, grad, 784, 10, batch);
  for (i = 0; out && i < 10 * batch; i++)
    out[i] = probs[i];
  return 0;
}

int mnist_softmax_train_step(mnist_softmax_Model *m, const float *x, const void *y, int batch, float *loss,
                             float *out) {
  float *grad = (float *)m->arena + 10 * batch;
  int rc = mnist_softmax_evaluate(m, x, y, batch, loss, out), i;
  if (rc) return rc;
  for (i = 0; i < 7850; i++)
    m->params[i] -= m->lr * grad[i];
  m->step++;
  return 0;
}

void mnist_softmax_init_state(float *state) {
  for (long i = 0; i < mnist_softmax_STATE_FLOATS; i++)
    state[i] = 0.0f;
}
