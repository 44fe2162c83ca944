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

/* Little-endian integer of n bytes. */
static uint64_t le(const unsigned char *p, int n) {
  uint64_t v = 0;
  while (n-- > 0)
    v = v << 8 | p[n];
  return v;
}

/* The checkpoint's sections (format in runtime/nn2c_rt.h), checksum first; the
 * "params" one must hold exactly n floats. */
static const char *find_params(const unsigned char *d, size_t len, uint64_t n, const unsigned char **at) {
  if (len < 24 || memcmp(d, "NN2CCKPT", 8)) return "not an nn2c checkpoint";
  uint64_t h = 14695981039346656037ULL;
  for (size_t i = 0; i < len - 8; i++)
    h = (h ^ d[i]) * 1099511628211ULL;
  if (h != le(d + len - 8, 8)) return "checksum mismatch (corrupt or truncated)";
  size_t pos = 16, end = len - 8;
  for (uint64_t s = 0, nsec = le(d + 12, 4); s < nsec; s++) {
    if (end - pos < 4 || le(d + pos, 4) > end - pos - 4 || end - pos - 4 - le(d + pos, 4) < 8) return "truncated";
    size_t nl = (size_t)le(d + pos, 4);
    uint64_t count = le(d + pos + 4 + nl, 8);
    bool params = nl == 6 && !memcmp(d + pos + 4, "params", 6);
    pos += 4 + nl + 8;
    if (count > (end - pos) / 4) return "truncated";
    if (params && count != n) return "its params section does not fit this model";
    if (params) return *at = d + pos, NULL;
    pos += (size_t)count * 4;
  }
  return "no params section";
}

bool target_read_params(const char *path, float *params, int64_t n) {
  size_t len;
  unsigned char *d = (unsigned char *)read_whole_file(path, &len);
  const unsigned char *at = NULL;
  const char *why = d ? find_params(d, len, (uint64_t)n, &at) : "cannot read it";
  for (int64_t i = 0; !why && i < n; i++) { /* little-endian floats, on any host */
    uint32_t u = (uint32_t)le(at + 4 * i, 4);
    memcpy(params + i, &u, 4);
  }
  if (why) error_plain("--weights %s: %s", path, why);
  free(d);
  return !why;
}

bool target_prepare(Model *m, CodegenInput *in, const char *weights) {
  Graph *g = in->infer.g;
  if (!types_ok(m, in)) return false;
  Value *x = g->values[0];
  if (in->batch > 1 && (x->shape.rank == 0 || x->shape.d[0] != in->batch)) {
    error_plain("%s: --batch %d: the input '%s' %s has no batch dimension to fix (N, or an ONNX model's symbolic first "
                "dimension)",
                m->file->src.path, in->batch, x->name, shape_str(&g->arena, x->shape));
    return false;
  }
  for (int i = 0; i < g->nnodes; i++) /* kernels without the host's OpenBLAS form (ops/conv.c) */
    node_set_int(g, g->nodes[i], "mcu", 1);
  /* params and state (batch_norm's running statistics) at their initial values */
  int64_t *poff = xcalloc((size_t)g->nvalues, sizeof(int64_t)), *soff = xcalloc((size_t)g->nvalues, sizeof(int64_t));
  int64_t np = graph_block_layout(g, VK_PARAM, poff), ns = graph_block_layout(g, VK_STATE, soff);
  float *params = arena_alloc(&g->arena, sizeof(float) * (size_t)(np + 1));
  float *state = arena_alloc(&g->arena, sizeof(float) * (size_t)(ns + 1));
  if (weights && !target_read_params(weights, params, np)) {
    free(poff);
    free(soff);
    return false;
  }
  if (!weights) interp_init_params(g, params, m->train.seed);
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
