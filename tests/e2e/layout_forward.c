/* layout_forward.c - one forward pass of an emitted model; prints the outputs
 * one number a line (%.9g). Parameters from NAME_init(params, 1); BATCH
 * samples from a raw f32 file, or without one a fixed pattern in [-0.5, 0.5).
 * Built per model with -DM=name -include NAME.h by
 * tests/e2e/run_layout_parity.sh and tests/onnx/layout_cases.sh.
 * usage: layout_forward BATCH [X.bin] */
#include <stdio.h>
#include <stdlib.h>

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define F(x) CAT(M, x)

int main(int argc, char **argv) {
  if (argc < 2 || argc > 3) return 2;
  int batch = atoi(argv[1]);
  size_t nx = (size_t)batch * F(_IN_NUMEL), ny = (size_t)batch * F(_OUT_NUMEL);
  float *x = malloc(nx * sizeof(float)), *y = malloc(ny * sizeof(float));
  static float params[F(_PARAM_FLOATS) + 1], state[F(_STATE_FLOATS) + 1];
  if (!x || !y) return 1;
  for (size_t i = 0; i < nx; i++)
    x[i] = (float)((i * 2654435761u) % 1000u) / 1000.0f - 0.5f;
  FILE *f = argc > 2 ? fopen(argv[2], "rb") : NULL;
  if (argc > 2 && (!f || fread(x, sizeof(float), nx, f) != nx)) return fprintf(stderr, "cannot read %s\n", argv[2]), 1;
  if (f) fclose(f);
  F(_Model) m = {0};
  m.params = params, m.state = state, m.max_batch = batch;
  m.arena = aligned_alloc(64, (F(_arena_bytes)(batch) + 63) / 64 * 64);
  F(_init)(params, 1);
#if F(_STATE_FLOATS) > 0 /* only a model with state (batch-norm statistics) has init_state */
  F(_init_state)(state);
#endif
  if (!m.arena || F(_forward)(&m, x, y, batch)) return fprintf(stderr, "forward failed\n"), 1;
  for (size_t i = 0; i < ny; i++)
    printf("%.9g\n", y[i]);
  free(m.arena);
  free(x);
  free(y);
  return 0;
}
