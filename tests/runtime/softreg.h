/* softreg.h - softmax regression shared by the hand-written test models
 * (inline_softmax, mnist_softmax, cifar_softmax). They stand in for compiler output: the same function
 * signatures as an emitted NAME.c, but hand-written and tiny.
 * Parameters: W [nout][nin] row-major, then b [nout]. */
#ifndef SOFTREG_H
#define SOFTREG_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Small deterministic init in [-0.05, 0.05) from an LCG, so runs repeat. */
static void softreg_init(float *p, int n, uint64_t seed) {
  uint64_t s = seed * 6364136223846793005ull + 1442695040888963407ull;
  int i;
  for (i = 0; i < n; i++) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    p[i] = ((float)(s >> 40) / 16777216.0f - 0.5f) * 0.1f;
  }
}

/* probs[b][nout] = softmax(W x + b) */
static void softreg_forward(const float *p, const float *x, float *probs, int nin, int nout, int batch) {
  const float *bias = p + nin * nout;
  int b, o, i;
  for (b = 0; b < batch; b++) {
    float *pr = probs + b * nout, mx, sum = 0;
    for (o = 0; o < nout; o++) {
      float z = bias[o];
      for (i = 0; i < nin; i++)
        z += p[o * nin + i] * x[b * nin + i];
      pr[o] = z;
    }
    mx = pr[0];
    for (o = 1; o < nout; o++)
      mx = pr[o] > mx ? pr[o] : mx;
    for (o = 0; o < nout; o++)
      sum += (pr[o] = expf(pr[o] - mx));
    for (o = 0; o < nout; o++)
      pr[o] /= sum;
  }
}

/* Mean cross-entropy of probs against y; grad (nin*nout + nout floats) gets dLoss/dparams. */
static float softreg_grad(const float *x, const int32_t *y, const float *probs, float *grad, int nin, int nout,
                          int batch) {
  float loss = 0;
  int b, o, i;
  memset(grad, 0, sizeof(float) * (size_t)(nin * nout + nout));
  for (b = 0; b < batch; b++) {
    const float *pr = probs + b * nout;
    loss -= logf(pr[y[b]] > 1e-30f ? pr[y[b]] : 1e-30f);
    for (o = 0; o < nout; o++) {
      float d = (pr[o] - (o == y[b] ? 1.0f : 0.0f)) / (float)batch;
      for (i = 0; i < nin; i++)
        grad[o * nin + i] += d * x[b * nin + i];
      grad[nin * nout + o] += d;
    }
  }
  return loss / (float)batch;
}

#endif
