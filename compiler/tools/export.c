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

#ifdef NN2C_HAVE_ONNX
static bool export_native(Model *m, const char *ckpt, const char *out, bool quiet) {
  PassCtx cx = {0};
  Graph *g = model_compile(m, MODE_INFER, "shape", &cx);
  if (!g) return false;
  float *params, *state;
  size_t bytes = 0;
  bool ok = interp_weights(m, g, ckpt, &params, &state) && onnx_write_graph(g, params, state, out, &bytes);
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
