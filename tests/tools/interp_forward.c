/* interp_forward MODEL.nn BATCH IN.f32 OUT.f32 - one forward pass of a .nn
 * model through nn2c's interpreter with the initial weights `nn2c export`
 * writes (the train section's seed): the input is BATCH samples of raw f32,
 * the first output is written as raw f32. export_onnx.py compares it with an
 * independent evaluation of the exported ONNX model. */
#include <stdio.h>
#include <stdlib.h>

#include "interp/interp.h"

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: interp_forward MODEL.nn BATCH IN.f32 OUT.f32\n");
    return 2;
  }
  Model *m = model_load(argv[1]);
  PassCtx cx = {0};
  Graph *g = m ? model_compile(m, MODE_INFER, "shape", &cx) : NULL;
  if (!g) return 1;
  int64_t batch = atoll(argv[2]);
  size_t len;
  float *x = (float *)read_whole_file(argv[3], &len);
  if (!x || (int64_t)len != 4 * shape_numel(g->values[0]->shape, batch)) {
    fprintf(stderr, "%s: expected %lld floats\n", argv[3], (long long)shape_numel(g->values[0]->shape, batch));
    return 1;
  }
  float *params = calloc((size_t)graph_block_layout(g, VK_PARAM, NULL) + 1, sizeof(float));
  float *state = calloc((size_t)graph_block_layout(g, VK_STATE, NULL) + 1, sizeof(float));
  interp_init_params(g, params, m->train.present ? m->train.seed : 1);
  interp_init_state(g, state);
  Feed feed = {g->values[0]->name, x};
  InterpRun r = {0};
  if (!interp_run(g, params, state, &feed, 1, batch, 0, &r)) return 1;
  Tensor *y = &r.vals[g->outputs[0]->id];
  float *out = malloc(sizeof(float) * (size_t)y->numel + 1);
  for (int64_t i = 0; i < y->numel; i++)
    out[i] = (float)tensor_get(y, i);
  bool ok = write_whole_file(argv[4], (const char *)out, sizeof(float) * (size_t)y->numel);
  interp_run_free(&r);
  graph_free(g);
  model_free(m);
  free(x), free(out), free(params), free(state);
  return ok ? 0 : 1;
}
