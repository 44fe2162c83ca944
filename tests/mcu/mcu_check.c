/* mcu_check.c - the outputs a microcontroller build printed in the emulator
 * against the interpreter's.
 *
 *   mcu_check MODEL FIRMWARE_OUTPUT [--batch N] [--weights CKPT] [--rtol R] [--atol A]
 *
 * Builds MODEL's inference graph at the fixed batch N (default 1) without the
 * optimizing passes (shape inference and a schedule only: the interpreter is
 * the oracle), gives its params the values nn2c compile --target baked in
 * (the model's seed, or the checkpoint's with --weights), feeds every input what the test firmware's
 * main.c feeds (input_value(i) for floats, i % 2 for integers), runs it, and
 * compares each "out K I 0xBITS ..." line (or "out K I int V") of the
 * firmware's output: |emitted - interp| <= atol + rtol * |interp|. The output
 * must also say "status 0" and "stack U of R" with U <= R (the stack the
 * firmware reserved from nn2c's estimate sufficed). Exits 0 when all agree. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "interp/interp.h"
#include "target.h"
#ifdef NN2C_HAVE_ONNX
#include "onnx.h"
#endif

/* The firmware's input element i (templates/mcu_main.c.in). */
static float input_value(uint32_t i) { return (float)((i * 37u + 11u) % 101u) / 128.0f; }

static Graph *build(const char *path, Model **m) {
  size_t n = strlen(path);
  if (n > 5 && !strcmp(path + n - 5, ".onnx")) {
#ifdef NN2C_HAVE_ONNX
    OnnxOptions o;
    memset(&o, 0, sizeof o);
    o.batch_dim = ""; /* as nn2c compile --target: a symbolic first dimension is the batch */
    return onnx_import(path, &o, NULL);
#else
    fprintf(stderr, "mcu_check: built without ONNX\n");
    return NULL;
#endif
  }
  *m = model_load(path);
  return *m ? model_build(*m, MODE_INFER) : NULL;
}

static void *fill_input(Value *v) {
  int64_t n = shape_numel_static(v->shape);
  Tensor t = {v->dtype, v->shape, n, xcalloc((size_t)(n + 1), (size_t)dtype_size(v->dtype))};
  for (int64_t i = 0; i < n; i++)
    tensor_set(&t, i, v->dtype == DT_F32 ? (double)input_value((uint32_t)i) : (double)(i % 2));
  return t.data;
}

/* Compares one "out K I ..." line; returns the number of mismatches (0 or 1). */
static int check_line(const char *line, Graph *g, InterpRun *r, double rtol, double atol, int *seen, double *worst) {
  unsigned k, i, bits;
  long long iv;
  double got;
  if (sscanf(line, "out %u %u 0x%x", &k, &i, &bits) == 3) {
    float f;
    memcpy(&f, &bits, 4);
    got = f;
  } else if (sscanf(line, "out %u %u int %lld", &k, &i, &iv) == 3)
    got = (double)iv;
  else
    return 0;
  if ((int)k >= g->noutputs || (int64_t)i >= r->vals[g->outputs[k]->id].numel) {
    fprintf(stderr, "mcu_check: no such output element: %s", line);
    return 1;
  }
  double want = tensor_get(&r->vals[g->outputs[k]->id], i);
  seen[k]++;
  if (want != 0 && fabs(got - want) / fabs(want) > *worst) *worst = fabs(got - want) / fabs(want);
  if (fabs(got - want) <= atol + rtol * fabs(want) || (isnan(got) && isnan(want))) return 0;
  fprintf(stderr, "mcu_check: output %u element %u: firmware %.9g, interpreter %.9g\n", k, i, got, want);
  return 1;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: mcu_check MODEL FIRMWARE_OUTPUT [--batch N] [--weights CKPT] [--rtol R] [--atol A]\n");
    return 2;
  }
  int64_t batch = 1;
  double rtol = 1e-5, atol = 1e-6;
  const char *weights = NULL;
  for (int i = 3; i + 1 < argc; i += 2)
    if (!strcmp(argv[i], "--batch"))
      batch = atoll(argv[i + 1]);
    else if (!strcmp(argv[i], "--weights"))
      weights = argv[i + 1];
    else if (!strcmp(argv[i], "--rtol"))
      rtol = atof(argv[i + 1]);
    else if (!strcmp(argv[i], "--atol"))
      atol = atof(argv[i + 1]);
  Model *m = NULL;
  Graph *g = build(argv[1], &m);
  PassCtx cx = {0};
  cx.batch = batch;
  if (!g || !pass_run_pipeline(g, &cx, "shape,schedule")) return 1;
  int64_t np = graph_block_layout(g, VK_PARAM, NULL);
  float *params = xcalloc((size_t)np + 1, sizeof(float));
  float *state = xcalloc((size_t)graph_block_layout(g, VK_STATE, NULL) + 1, sizeof(float));
  if (weights && !target_read_params(weights, params, np)) return 1;
  if (!weights) interp_init_params(g, params, m ? m->train.seed : 0);
  interp_init_state(g, state);
  Feed feeds[16];
  int nf = 0;
  for (int i = 0; i < g->nvalues && nf < 16; i++)
    if (g->values[i]->kind == VK_INPUT) feeds[nf] = (Feed){g->values[i]->name, fill_input(g->values[i])}, nf++;
  InterpRun r = {0};
  if (!interp_run(g, params, state, feeds, nf, batch, 0, &r)) return 1;

  FILE *f = fopen(argv[2], "r");
  if (!f) {
    perror(argv[2]);
    return 1;
  }
  char line[512];
  int bad = 0, status = -1, seen[64] = {0};
  unsigned used = 0, reserved = 0;
  double worst = 0;
  while (fgets(line, sizeof line, f)) {
    sscanf(line, "status %d", &status);
    sscanf(line, "stack %u of %u", &used, &reserved);
    bad += check_line(line, g, &r, rtol, atol, seen, &worst);
  }
  fclose(f);
  for (int k = 0; k < g->noutputs && k < 64; k++)
    if (seen[k] != r.vals[g->outputs[k]->id].numel) {
      fprintf(stderr, "mcu_check: output %d: %d elements printed, the model has %lld\n", k, seen[k],
              (long long)r.vals[g->outputs[k]->id].numel);
      bad++;
    }
  if (status != 0) fprintf(stderr, "mcu_check: the firmware's status is %d, not 0\n", status), bad++;
  if (!reserved || used > reserved) fprintf(stderr, "mcu_check: stack %u of %u bytes\n", used, reserved), bad++;
  if (!bad)
    printf("mcu_check: %d outputs agree with the interpreter (rtol %g, atol %g; largest relative difference %.2g); "
           "stack %u of %u bytes\n",
           g->noutputs, rtol, atol, worst, used, reserved);
  interp_run_free(&r);
  for (int i = 0; i < nf; i++)
    free((void *)feeds[i].data);
  free(params);
  free(state);
  graph_free(g);
  if (m) model_free(m);
  return bad ? 1 : 0;
}
