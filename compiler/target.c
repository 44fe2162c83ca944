/* target.c - nn2c compile --target: the steps between the passes and the
 * emitter for a microcontroller build. The passes ran at a fixed batch
 * (PassCtx.batch); here the params become constants (flash) and tensors of a
 * type the target's code would compute in double are refused. */
#include "target.h"

#include <stdlib.h>
#include <string.h>

#include "interp/interp.h"

int target_batch(const char *flag) {
  char *end;
  long b = flag ? strtol(flag, &end, 10) : 1;
  if (flag && (*end || b < 1 || b > 65536)) {
    error_plain("--batch must be an integer in [1, 65536], got '%s'", flag);
    return 0;
  }
  return (int)b;
}

/* f64, f16 and bf16 tensors compute (or convert) through double in the emitted C. */
static bool types_ok(Model *m, CodegenInput *in) {
  Graph *g = in->infer.g;
  for (int i = 0; i < g->nvalues; i++) {
    Value *v = g->values[i];
    if (v->dtype != DT_F64 && v->dtype != DT_F16 && v->dtype != DT_BF16) continue;
    error_plain("%s: '%s' is %s%s: --target %s computes in f32 and integers only (f64, f16 and bf16 would need "
                "double arithmetic); build it for the host",
                m->file->src.path, v->name, dtype_name(v->dtype), shape_str(&g->arena, v->shape), in->mcu->name);
    return false;
  }
  return true;
}

bool target_prepare(Model *m, CodegenInput *in) {
  Graph *g = in->infer.g;
  if (!types_ok(m, in)) return false;
  for (int i = 0; i < g->nnodes; i++) /* kernels without the host's OpenBLAS form (ops/conv.c) */
    node_set_int(g, g->nodes[i], "mcu", 1);
  /* params and state (batch_norm's running statistics) at their initial values */
  int64_t *poff = xcalloc((size_t)g->nvalues, sizeof(int64_t)), *soff = xcalloc((size_t)g->nvalues, sizeof(int64_t));
  int64_t np = graph_block_layout(g, VK_PARAM, poff), ns = graph_block_layout(g, VK_STATE, soff);
  float *params = arena_alloc(&g->arena, sizeof(float) * (size_t)(np + 1));
  float *state = arena_alloc(&g->arena, sizeof(float) * (size_t)(ns + 1));
  interp_init_params(g, params, m->train.seed);
  interp_init_state(g, state);
  for (int i = 0; i < g->nvalues; i++) {
    Value *v = g->values[i];
    if (v->kind == VK_PARAM || v->kind == VK_STATE)
      v->data = v->kind == VK_PARAM ? params + poff[i] : state + soff[i], v->kind = VK_CONST;
  }
  free(poff);
  free(soff);
  return true;
}
