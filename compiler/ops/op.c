/* op.c - the op table built from ops.def, its lookups, and the helpers the
 * infer hooks share (broadcasting, axes, attribute lists). The IR builders are
 * in build.c, interpreter tensor access in tensor.c, the C writer the emit
 * hooks use in codegen/cwriter.c. */
#include "op.h"

#include <string.h>

#define OP(ID, name, onnx, min_in, max_in, nout, flags)                                                                \
  const char *name##_infer(Graph *g, Node *n);                                                                         \
  void name##_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out);                                                   \
  void name##_grad(Graph *g, Node *n, Value **dy, Value **dx);                                                         \
  void name##_emit(Emit *e, Node *n);
#define SCRATCH_OP(ID, name, onnx, min_in, max_in, nout, flags)                                                        \
  OP(ID, name, onnx, min_in, max_in, nout, flags)                                                                      \
  int64_t name##_scratch(const Node *n);
#define EWN(ID, name, onnx, min_in, max_in, flags)                                                                     \
  OP(ID, name, onnx, min_in, max_in, 1, flags)                                                                         \
  void name##_expr(Buf *b, Node *n, const char **args);
#define EW(ID, name, onnx, nin, flags) EWN(ID, name, onnx, nin, nin, flags)
#include "ops.def"
#undef OP
#undef SCRATCH_OP
#undef EW
#undef EWN

const OpDef op_table[OP_COUNT] = {
#define OP(ID, name, onnx, min_in, max_in, nout, flags)                                                                \
  [OP_##ID] = {#name,        onnx,        min_in,      max_in,      nout, flags,                                       \
               name##_infer, name##_eval, name##_grad, name##_emit, NULL, NULL},
#define SCRATCH_OP(ID, name, onnx, min_in, max_in, nout, flags)                                                        \
  [OP_##ID] = {#name,        onnx,        min_in,      max_in,      nout, flags,                                       \
               name##_infer, name##_eval, name##_grad, name##_emit, NULL, name##_scratch},
#define EWN(ID, name, onnx, min_in, max_in, flags)                                                                     \
  [OP_##ID] = {#name,        onnx,        min_in,      max_in,      1,           (flags) | OPF_ELEMENTWISE,            \
               name##_infer, name##_eval, name##_grad, name##_emit, name##_expr, NULL},
#define EW(ID, name, onnx, nin, flags) EWN(ID, name, onnx, nin, nin, flags)
#include "ops.def"
#undef OP
#undef SCRATCH_OP
#undef EW
#undef EWN
};

/* Bytes of the step's scratch space node n uses (0 for none); the space is
 * shared by all nodes, which use it one at a time. */
int64_t node_scratch_bytes(const Node *n) { return op_table[n->op].scratch ? op_table[n->op].scratch(n) : 0; }

bool op_nout_ok(const OpDef *d, int nout) {
  if (d->nout == 0) return nout >= 1;
  return nout == d->nout || ((d->flags & OPF_VAR_OUT) && nout >= 1 && nout <= d->nout);
}

bool op_from_name(const char *name, OpKind *k) {
  for (int i = 0; i < OP_COUNT; i++)
    if (!strcmp(op_table[i].name, name)) {
      *k = (OpKind)i;
      return true;
    }
  return false;
}

const char *op_name(OpKind k) { return op_table[k].name; }

/* ---- inference helpers ---- */

const char *infer_broadcast(Graph *g, Shape a, Shape b, Shape *out) {
  int r = a.rank > b.rank ? a.rank : b.rank;
  out->rank = r;
  for (int i = 0; i < r; i++) {
    int64_t da = i - (r - a.rank) >= 0 ? a.d[i - (r - a.rank)] : 1;
    int64_t db = i - (r - b.rank) >= 0 ? b.d[i - (r - b.rank)] : 1;
    if (da == db || db == 1)
      out->d[i] = da;
    else if (da == 1)
      out->d[i] = db;
    else
      return arena_printf(&g->arena, "shapes %s and %s do not broadcast", shape_str(&g->arena, a),
                          shape_str(&g->arena, b));
  }
  return NULL;
}

int normalize_axis(int64_t axis, int rank) {
  if (axis < 0) axis += rank;
  return axis >= 0 && axis < rank ? (int)axis : -1;
}

int attr_ints(const Node *n, const char *key, int64_t *out, int max) {
  const Attr *a = node_attr(n, key);
  if (!a) return -1;
  if (a->type == AT_INT || a->type == AT_FLOAT) {
    out[0] = a->type == AT_INT ? a->i : (int64_t)a->f;
    return max >= 1 ? 1 : -1;
  }
  if ((a->type != AT_INTS && a->type != AT_FLOATS) || a->n > max) return -1;
  for (int i = 0; i < a->n; i++)
    out[i] = a->type == AT_INTS ? a->ints[i] : (int64_t)a->floats[i];
  return a->n;
}

int attr_floats(const Node *n, const char *key, double *out, int max) {
  const Attr *a = node_attr(n, key);
  if (!a) return -1;
  if (a->type == AT_INT || a->type == AT_FLOAT) {
    out[0] = a->type == AT_INT ? (double)a->i : a->f;
    return max >= 1 ? 1 : -1;
  }
  if ((a->type != AT_INTS && a->type != AT_FLOATS) || a->n > max) return -1;
  for (int i = 0; i < a->n; i++)
    out[i] = a->type == AT_FLOATS ? a->floats[i] : (double)a->ints[i];
  return a->n;
}

bool dtype_from_onnx(int64_t code, DType *t) {
  static const int map[17] = {-1,      DT_F32, DT_U8,  DT_I8,  DT_U16, DT_I16, DT_I32, DT_I64, -1,
                              DT_BOOL, DT_F16, DT_F64, DT_U32, DT_U64, -1,     -1,     DT_BF16};
  if (code < 0 || code > 16 || map[code] < 0) return false;
  *t = (DType)map[code];
  return true;
}

void shape_strides(Shape s, int64_t *st) {
  int64_t r = 1;
  for (int i = s.rank - 1; i >= 0; i--) {
    st[i] = r;
    r *= s.d[i];
  }
}
