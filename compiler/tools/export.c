/* export.c - `nn2c export MODEL.nn [CHECKPOINT] -o OUT.onnx`: a native model
 * as ONNX, so Netron, ONNX Runtime and other tools open it. The forward
 * graph after shape inference goes to onnx/write.c with the trained weights
 * (the checkpoint's params, and its state for values such as running means),
 * or without a checkpoint the initial weights the trainer would start from
 * (the train section's seed). An ONNX model's export (trained weights back
 * into the source file) is main.c's cmd_export. */
#include "tools/tools.h"

#include <string.h>

#include "interp/interp.h"
#include "nn2c_rt.h"
#ifdef NN2C_HAVE_ONNX
#include "onnx.h"
#endif

static const char *usage = "usage: nn2c export MODEL.nn [CHECKPOINT] -o OUT.onnx [--quiet]\n";

bool export_is_native(int argc, char **argv) {
  for (int i = 2; i < argc; i++) {
    size_t n = strlen(argv[i]);
    if (n > 3 && !strcmp(argv[i] + n - 3, ".nn")) return true;
  }
  return false;
}

/* The checkpoint's params into params (g's layout: the training graph's, as
 * both build their params in the same order) and the state values g reads
 * from the training graph's state block, found by name. */
bool export_load_weights(Model *m, Graph *g, const char *ckpt, float *params, float *state) {
  PassCtx cx = {0};
  Graph *tg = model_compile(m, MODE_TRAIN, NULL, &cx);
  if (!tg) return false;
  int64_t np = graph_block_layout(tg, VK_PARAM, NULL);
  int64_t *soff = xcalloc((size_t)tg->nvalues, sizeof(int64_t)), *goff = xcalloc((size_t)g->nvalues, sizeof(int64_t));
  int64_t ns = graph_block_layout(tg, VK_STATE, soff);
  graph_block_layout(g, VK_STATE, goff);
  float *tstate = xcalloc((size_t)ns + 1, sizeof(float)), step[4];
  nn2c_ckpt_section s[3] = {{"params", params, (uint64_t)np}, {"state", tstate, (uint64_t)ns}, {"step", step, 4}};
  char err[512];
  bool ok = np == graph_block_layout(g, VK_PARAM, NULL) && !nn2c_ckpt_load(ckpt, s, 3, err, sizeof err);
  if (!ok && np != graph_block_layout(g, VK_PARAM, NULL)) error_plain("%s: the params do not line up", ckpt);
  if (!ok && np == graph_block_layout(g, VK_PARAM, NULL)) error_plain("%s", err); /* it names the file */
  for (int i = 0; ok && i < g->nvalues; i++) {
    Value *v = g->values[i], *t = v->kind == VK_STATE ? graph_find(tg, v->name) : NULL;
    if (t && t->kind == VK_STATE)
      memcpy(state + goff[v->id], tstate + soff[t->id], sizeof(float) * (size_t)shape_numel_static(v->shape));
  }
  free(tstate);
  free(soff);
  free(goff);
  graph_free(tg);
  return ok;
}

#ifdef NN2C_HAVE_ONNX
static bool export_native(Model *m, const char *ckpt, const char *out, bool quiet) {
  PassCtx cx = {0};
  Graph *g = model_compile(m, MODE_INFER, "shape", &cx);
  if (!g) return false;
  int64_t np = graph_block_layout(g, VK_PARAM, NULL), ns = graph_block_layout(g, VK_STATE, NULL);
  float *params = xcalloc((size_t)np + 1, sizeof(float)), *state = xcalloc((size_t)ns + 1, sizeof(float));
  interp_init_params(g, params, m->train.present ? m->train.seed : 1);
  interp_init_state(g, state);
  size_t bytes = 0;
  bool ok =
      (!ckpt || export_load_weights(m, g, ckpt, params, state)) && onnx_write_graph(g, params, state, out, &bytes);
  long long count = 0;
  for (int i = 0; i < g->nvalues; i++)
    if (g->values[i]->kind == VK_PARAM) count += shape_numel_static(g->values[i]->shape);
  if (ok && !quiet)
    fprintf(stderr, "nn2c: wrote %s (%zu bytes, %lld parameters, %s)\n", out, bytes, count,
            ckpt ? "trained weights" : "initial weights");
  free(params);
  free(state);
  graph_free(g);
  return ok;
}
#endif

int export_native_main(int argc, char **argv) {
  const char *model = NULL, *ckpt = NULL, *out = NULL;
  bool quiet = false, ok = true;
  for (int i = 2; i < argc && ok; i++) {
    if (!strcmp(argv[i], "--quiet"))
      quiet = true;
    else if (!strcmp(argv[i], "-o") && i + 1 < argc && argv[i + 1][0])
      out = argv[++i];
    else if (argv[i][0] == '-' || (model && ckpt))
      ok = false;
    else if (!model)
      model = argv[i];
    else
      ckpt = argv[i];
  }
  if (!ok || !model || !out) {
    error_plain("export: %s", usage);
    return 1;
  }
#ifdef NN2C_HAVE_ONNX
  Model *m = model_load(model);
  ok = m && export_native(m, ckpt, out, quiet);
  model_free(m);
  return ok ? 0 : 1;
#else
  (void)quiet;
  error_plain("%s: exporting needs an nn2c built with ONNX support (configure with -DNN2C_ONNX=ON)", model);
  return 1;
#endif
}
