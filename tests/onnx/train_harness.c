/* train_harness.c - feeds fixed batches to a generated model's train step and
 * saves a checkpoint (for tests/onnx/train_parity.sh). Built per model with
 * -DM=name -include NAME.h. usage: harness X.bin Y.bin STEPS BATCH OUT.ckpt
 * X.bin holds STEPS*BATCH samples (f32), Y.bin int32 labels or f32 targets. */
#include <stdio.h>
#include <stdlib.h>

#include "nn2c_rt.h"

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define F(x) CAT(M, x)

static void *slurp(const char *path, size_t want) {
  void *d = malloc(want);
  FILE *f = fopen(path, "rb");
  if (!d || !f || fread(d, 1, want, f) != want) {
    fprintf(stderr, "cannot read %zu bytes from %s\n", want, path);
    exit(1);
  }
  fclose(f);
  return d;
}

int main(int argc, char **argv) {
  if (argc != 6) return 2;
  int steps = atoi(argv[3]), batch = atoi(argv[4]);
  size_t nx = (size_t)steps * batch * F(_IN_NUMEL), ny = (size_t)steps * batch * F(_LABEL_NUMEL);
  float *x = slurp(argv[1], nx * 4);
  void *y = slurp(argv[2], ny * 4);
  static float params[F(_PARAM_FLOATS) + 1], state[F(_STATE_FLOATS) + 1], step[4];
  F(_Model)
  m = {params, state, aligned_alloc(64, (F(_arena_bytes)(batch) + 63) / 64 * 64), batch, F(_DEFAULT_LR), 0, 1};
  F(_init)(params, 1);
  F(_init_state)(state);
  for (int s = 0; s < steps; s++) {
    float loss;
    size_t o = (size_t)s * batch;
#if F(_LABEL_IS_INT)
    int rc = F(_train_step)(&m, x + o * F(_IN_NUMEL), (const int32_t *)y + o * F(_LABEL_NUMEL), batch, &loss, NULL);
#else
    int rc = F(_train_step)(&m, x + o * F(_IN_NUMEL), (const float *)y + o * F(_LABEL_NUMEL), batch, &loss, NULL);
#endif
    if (rc) return 1;
    printf("step %d loss %.9g\n", s, loss);
  }
  nn2c_u64_to_floats(m.step, step);
  nn2c_ckpt_section sec[3] = {
      {"params", params, F(_PARAM_FLOATS)}, {"state", state, F(_STATE_FLOATS)}, {"step", step, 4}};
  char err[256];
  if (nn2c_ckpt_save(argv[5], sec, 3, err, sizeof err)) return fprintf(stderr, "%s\n", err), 1;
  free(m.arena);
  free(x);
  free(y);
  return 0;
}
