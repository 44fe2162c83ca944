/* export.c - `nn2c export`: the source ONNX model with its initializers
 * replaced by trained parameters, written to a new file. */
#include "onnx/onnx_impl.h"

#include <stdlib.h>
#include <string.h>

/* Initializer t takes the n values vals (raw little-endian f32, as x86 and
 * ARM store floats); the caller restores *saved before freeing. */
static void replace_initializer(Onnx__TensorProto *t, const float *vals, int64_t n, Onnx__TensorProto *saved) {
  *saved = *t;
  t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
  t->has_raw_data = 1;
  t->raw_data.len = (size_t)n * sizeof(float);
  t->raw_data.data = (uint8_t *)vals;
  t->n_float_data = 0;
  t->n_external_data = 0;
  t->has_data_location = 0;
  t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__DEFAULT;
}

bool onnx_export(const char *src_path, Graph *g, const float *params, const char *out_path, size_t *written) {
  size_t len;
  char *data = read_whole_file(src_path, &len);
  Onnx__ModelProto *m = data ? onnx__model_proto__unpack(NULL, len, (const uint8_t *)data) : NULL;
  free(data);
  if (!m || !m->graph) {
    error_plain("%s: cannot read the source model", src_path);
    if (m) onnx__model_proto__free_unpacked(m, NULL);
    return false;
  }
  Onnx__GraphProto *gp = m->graph;
  int64_t *off = xcalloc((size_t)g->nvalues, sizeof(int64_t));
  graph_block_layout(g, VK_PARAM, off);
  Onnx__TensorProto *saved = xcalloc(gp->n_initializer + 1, sizeof(Onnx__TensorProto));
  bool *replaced = xcalloc(gp->n_initializer + 1, sizeof(bool));
  Imp I = {.g = g};
  int nparams = 0, matched = 0;
  for (int i = 0; i < g->nvalues; i++)
    nparams += g->values[i]->kind == VK_PARAM;
  for (size_t k = 0; k < gp->n_initializer; k++) {
    Value *v = gp->initializer[k]->name ? graph_find(g, imp_name(&I, gp->initializer[k]->name)) : NULL;
    if (!v || v->kind != VK_PARAM) continue;
    replace_initializer(gp->initializer[k], params + off[v->id], shape_numel_static(v->shape), &saved[k]);
    replaced[k] = true;
    matched++;
  }
  bool ok = matched == nparams;
  if (!ok) error_plain("%s: %d of the %d trained tensors match no initializer", src_path, nparams - matched, nparams);
  size_t n = onnx__model_proto__get_packed_size(m);
  uint8_t *buf = xmalloc(n ? n : 1);
  onnx__model_proto__pack(m, buf);
  ok = ok && write_file_atomic(out_path, buf, n, "nn2c export writes a new ONNX file there");
  if (ok && written) *written = n;
  free(buf);
  for (size_t k = 0; k < gp->n_initializer; k++)
    if (replaced[k]) *gp->initializer[k] = saved[k];
  onnx__model_proto__free_unpacked(m, NULL);
  free(saved);
  free(replaced);
  free(off);
  return ok;
}
