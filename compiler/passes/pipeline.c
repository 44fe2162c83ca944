/* pipeline.c - the pass registry and runner. */
#include "pass.h"

#include <string.h>

static const struct {
  const char *name;
  PassFn fn;
} passes[] = {
    {"shape", pass_shape}, {"autodiff", pass_autodiff},   {"optimizer", pass_optimizer},   {"simplify", pass_simplify},
    {"dce", pass_dce},     {"constfold", pass_constfold}, {"schedule", pass_schedule},     {"memplan", pass_memplan},
    {"fuse", pass_fuse},   {"layout", pass_layout},       {"gradinputs", pass_gradinputs}, {"qdq_fold", pass_qdq_fold},
};

PassFn pass_lookup(const char *name) {
  for (size_t i = 0; i < sizeof passes / sizeof passes[0]; i++)
    if (!strcmp(passes[i].name, name)) return passes[i].fn;
  return NULL;
}

bool pass_run_pipeline(Graph *g, PassCtx *cx, const char *pipeline) {
  char *list = xstrdup(pipeline);
  bool ok = true;
  for (char *save = NULL, *name = strtok_r(list, ",", &save); name && ok; name = strtok_r(NULL, ",", &save)) {
    PassFn fn = pass_lookup(name);
    if (!fn) {
      error_plain("unknown pass '%s' in --passes", name);
      ok = false;
      break;
    }
    ok = fn(g, cx);
    arena_free(&cx->scratch);
    if (ok && cx->verify) ok = ir_verify(g, name);
    if (ok && cx->dump && cx->dump_after && (!strcmp(cx->dump_after, name) || !strcmp(cx->dump_after, "all"))) {
      buf_printf(cx->dump, "# after %s\n", name);
      ir_print(cx->dump, g);
    }
  }
  free(list);
  return ok;
}
