/* interp_forward MODEL.nn BATCH IN.f32 OUT.f32 [CHECKPOINT] - one forward
 * pass of a .nn model through nn2c's interpreter with the weights `nn2c
 * export` writes: the checkpoint's (params and running statistics), else the
 * initial ones (the train section's seed). The input is BATCH samples of raw
 * f32, the first output is written as raw f32.
 *
 * interp_forward --make-input MODEL.nn BATCH IN.f32 writes such an input
 * instead (seeded, uniform in [-1, 1), or word ids below the vocabulary for an
 * input that feeds an embedding) and prints its shape, batch first.
 *
 * export_onnx.py and export_ort.sh compare the output with the exported ONNX
 * model's, evaluated by their own means. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "interp/interp.h"

/* The smallest table an embedding reads the input into (0: none). */
static int64_t input_vocab(Graph *g) {
  int64_t vocab = 0;
  for (int i = 0; i < g->nnodes; i++) {
    Node *n = g->nodes[i];
    if (n->op == OP_EMBEDDING && n->in[0] == g->values[0] && (!vocab || n->in[1]->shape.d[0] < vocab))
      vocab = n->in[1]->shape.d[0];
  }
  return vocab;
}

static int make_input(Graph *g, int64_t batch, const char *path) {
  int64_t n = shape_numel(g->values[0]->shape, batch), vocab = input_vocab(g);
  float *x = malloc(sizeof(float) * (size_t)n + 1);
  uint64_t s = 7;
  for (int64_t i = 0; i < n; i++) {
    s = s * 6364136223846793005ull + 1442695040888963407ull; /* an LCG: the test needs no quality */
    double u = (double)(s >> 11) / 9007199254740992.0;
    x[i] = vocab ? (float)(int64_t)(u * (double)vocab) : (float)(2 * u - 1);
  }
  bool ok = write_whole_file(path, (const char *)x, sizeof(float) * (size_t)n);
  free(x);
  Shape sh = g->values[0]->shape;
  for (int i = 0; ok && i < sh.rank; i++)
    printf("%lld%s", (long long)(sh.d[i] == DIM_BATCH ? batch : sh.d[i]), i + 1 < sh.rank ? " " : "\n");
  return ok ? 0 : 1;
}

int main(int argc, char **argv) {
  bool gen = argc > 1 && !strcmp(argv[1], "--make-input");
  if (gen ? argc != 5 : argc != 5 && argc != 6) {
    fprintf(stderr, "usage: interp_forward MODEL.nn BATCH IN.f32 OUT.f32 [CHECKPOINT]\n"
                    "       interp_forward --make-input MODEL.nn BATCH IN.f32\n");
    return 2;
  }
  argv += gen;
  Model *m = model_load(argv[1]);
  PassCtx cx = {0};
  Graph *g = m ? model_compile(m, MODE_INFER, "shape", &cx) : NULL;
  if (!g) return 1;
  int64_t batch = atoll(argv[2]);
  if (gen) {
    int rc = make_input(g, batch, argv[3]);
    graph_free(g);
    model_free(m);
    return rc;
  }
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
  if (argc == 6 && !interp_load_checkpoint(m, g, argv[5], params, state)) return 1;
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
