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
  int64_t *off = xcalloc((size_t)g->nvalues, sizeof(int64_t));
  int64_t n = graph_block_layout(g, VK_PARAM, off);
  float *block = arena_alloc(&g->arena, sizeof(float) * (size_t)(n + 1));
  interp_init_params(g, block, m->train.seed);
  for (int i = 0; i < g->nnodes; i++) /* kernels without the host's OpenBLAS form (ops/conv.c) */
    node_set_int(g, g->nodes[i], "mcu", 1);
  for (int i = 0; i < g->nvalues; i++) {
    Value *v = g->values[i];
    if (v->kind != VK_PARAM) continue;
    v->kind = VK_CONST;
    v->data = block + off[i];
  }
  free(off);
  return true;
}
