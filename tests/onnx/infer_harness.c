/* infer_harness.c - one inference of a generated model (NAME_forward) on a
 * raw f32 input, for tests/onnx/weights_file.sh and real_models.py. Built per
 * model with -DM=name -include NAME.h, and -DWEIGHTS for a model compiled
 * with its weights in a file (NAME.weights), which it reads with
 * NAME_load_weights first.
 * usage: harness WEIGHTS IN.bin OUT.bin   (WEIGHTS unused without a weights file)
 * Exit status 1 when the weights file is refused or a file cannot be read. */
#include <stdio.h>
#include <stdlib.h>

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define F(x) CAT(M, x)

int main(int argc, char **argv) {
  if (argc != 4) return 2;
  float *params = calloc(F(_PARAM_FLOATS) + 1, sizeof(float)), *state = calloc(F(_STATE_FLOATS) + 1, sizeof(float));
  float *x = calloc(F(_IN_NUMEL), sizeof(float)), *y = calloc(F(_OUT_NUMEL), sizeof(float));
  F(_Model) m = {params, state, aligned_alloc(64, (F(_arena_bytes)(1) + 63) / 64 * 64), 1, 0, 0, 1};
  F(_init)(params, 1);
#if F(_STATE_FLOATS) > 0 /* only a model with state (batch-norm statistics) has init_state */
  F(_init_state)(state);
#endif
#ifdef WEIGHTS /* the script defines it when it finds NAME.weights */
  if (F(_load_weights)(params, argv[1])) return 1;
#endif
  FILE *f = fopen(argv[2], "rb");
  if (!f || fread(x, sizeof(float), F(_IN_NUMEL), f) != F(_IN_NUMEL)) {
    fprintf(stderr, "cannot read %d floats from %s\n", F(_IN_NUMEL), argv[2]);
    return 1;
  }
  fclose(f);
  if (F(_forward)(&m, x, y, 1)) return 1;
  f = fopen(argv[3], "wb");
  if (!f || fwrite(y, sizeof(float), F(_OUT_NUMEL), f) != F(_OUT_NUMEL) || fclose(f)) return 1;
  free(params), free(state), free(x), free(y), free(m.arena);
  return 0;
}
