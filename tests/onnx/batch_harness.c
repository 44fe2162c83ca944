/* batch_harness.c - one build of a generated model with the batch N, run at
 * batch 64 and at batch 1 on every sample (tests/onnx/coverage.sh). Built per
 * model with -DM=name -include NAME.h; the model has inputs x and z and one
 * output, XN, ZN and YN floats per sample (-D). Inputs: x[i] = sin(0.37 i),
 * z[i] = cos(0.11 i) over the whole batch. Prints the batch-64 outputs, one
 * number per line; exit status 1 when a batch-1 run differs from its row. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define F(x) CAT(M, x)
#define B 64

int main(void) {
  float *params = calloc(F(_PARAM_FLOATS) + 1, sizeof(float)), *state = calloc(F(_STATE_FLOATS) + 1, sizeof(float));
  float *x = malloc(sizeof(float) * XN * B), *z = malloc(sizeof(float) * ZN * B);
  float *y = malloc(sizeof(float) * YN * B), *y1 = malloc(sizeof(float) * YN);
  F(_Model) m = {params, state, aligned_alloc(64, (F(_arena_bytes)(B) + 63) / 64 * 64), B, 0, 0, 1};
  F(_init)(params, 1);
#if F(_STATE_FLOATS) > 0 /* only a model with state (batch-norm statistics) has init_state */
  F(_init_state)(state);
#endif
  for (int i = 0; i < XN * B; i++)
    x[i] = (float)sin(0.37 * i);
  for (int i = 0; i < ZN * B; i++)
    z[i] = (float)cos(0.11 * i);
  const void *in[2] = {x, z};
  void *out[1] = {y};
  if (F(_run)(&m, in, out, B)) return 1;
  if (F(_run)(&m, in, out, B + 1) != 1) return 1; /* past max_batch: refused */
  for (int s = 0; s < B; s++) {
    const void *in1[2] = {x + s * XN, z + s * ZN};
    void *out1[1] = {y1};
    if (F(_run)(&m, in1, out1, 1) || memcmp(y1, y + s * YN, sizeof(float) * YN)) {
      fprintf(stderr, "sample %d at batch 1 differs from batch %d\n", s, B);
      return 1;
    }
  }
  for (int i = 0; i < YN * B; i++)
    printf("%.9g\n", y[i]);
  free(params), free(state), free(x), free(z), free(y), free(y1), free(m.arena);
  return 0;
}
