/* infer_harness.c - one inference of a generated model (NAME_forward) on a
 * raw f32 input, for tests/onnx/weights_file.sh and real_models.py. Built per
 * model with -DM=name -include NAME.h, and -DWEIGHTS for a model compiled
 * with its weights in a file (NAME.weights), which it reads with
 * NAME_load_weights first.
 * usage: harness WEIGHTS IN.bin OUT.bin [BATCH]   (WEIGHTS unused without a
 * weights file; BATCH, default 1, for a model whose batch is symbolic)
 * Exit status 1 when the weights file is refused or a file cannot be read. */
#include <stdio.h>
#include <stdlib.h>

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define F(x) CAT(M, x)

int main(int argc, char **argv) {
  if (argc != 4 && argc != 5) return 2;
  int batch = argc == 5 ? atoi(argv[4]) : 1;
  if (batch < 1) return 2;
  size_t nin = (size_t)F(_IN_NUMEL) * batch, nout = (size_t)F(_OUT_NUMEL) * batch;
  float *params = calloc(F(_PARAM_FLOATS) + 1, sizeof(float)), *state = calloc(F(_STATE_FLOATS) + 1, sizeof(float));
  float *x = calloc(nin, sizeof(float)), *y = calloc(nout, sizeof(float));
  F(_Model) m = {params, state, aligned_alloc(64, (F(_arena_bytes)(batch) + 63) / 64 * 64), batch, 0, 0, 1};
  F(_init)(params, 1);
#if F(_STATE_FLOATS) > 0 /* only a model with state (batch-norm statistics) has init_state */
  F(_init_state)(state);
#endif
#ifdef WEIGHTS /* the script defines it when it finds NAME.weights */
  if (F(_load_weights)(params, argv[1])) return 1;
#endif
  FILE *f = fopen(argv[2], "rb");
  if (!f || fread(x, sizeof(float), nin, f) != nin) {
    fprintf(stderr, "cannot read %zu floats from %s\n", nin, argv[2]);
    return 1;
  }
  fclose(f);
  if (F(_forward)(&m, x, y, batch)) return 1;
  f = fopen(argv[3], "wb");
  if (!f || fwrite(y, sizeof(float), nout, f) != nout || fclose(f)) return 1;
  free(params), free(state), free(x), free(y), free(m.arena);
  return 0;
}
