/* gather.c - indexing ops (ONNX semantics): gather, gather_elements,
 * gather_nd, scatter_elements (and the older scatter), scatter_nd, one_hot,
 * and the generators eye_like, range, constant_of_shape.
 *
 * Indices may be negative (counted from the end). An index out of range is
 * bad data: the interpreter reports it (EvalCtx.error) and emitted code
 * returns status 2 from the step function before reading anything wild. */
#include "op.h"

#include <math.h>
#include <string.h>

static int64_t prod(Shape s, int lo, int hi) {
  int64_t p = 1;
  for (int i = lo; i < hi; i++)
    p *= s.d[i];
  return p;
}

static bool is_index_type(DType t) { return !dtype_is_float(t) && t != DT_BOOL; }

/* Index i of t wrapped into [0, d), or -1 (and cx->error) when out of range. */
static int64_t index_at(EvalCtx *cx, const Tensor *t, int64_t i, int64_t d) {
  int64_t ix = (int64_t)tensor_get(t, i);
  if (ix < 0) ix += d;
  if (ix < 0 || ix >= d) {
    cx->error = "index out of range";
    return -1;
  }
  return ix;
}

/* Emits `ptrdiff_t VAR` = the index read by EXPR, wrapped and checked against D. */
static void emit_index(Emit *e, const char *var, const char *expr, const char *d) {
  emit_line(e, "ptrdiff_t %s = (ptrdiff_t)%s;", var, expr);
  emit_line(e, "if (%s < 0) %s += (ptrdiff_t)%s;", var, var, d);
  emit_line(e, "if (%s < 0 || %s >= (ptrdiff_t)%s) return 2; /* index out of range */", var, var, d);
}

static Value *zeros_shaped(Graph *g, DType t, Shape s) {
  Value *z = build_scalar(g, t, 0.0);
  Node *e = build_node(g, OP_EXPAND, 1, &z);
  node_set_ints(g, e, "shape", s.d, s.rank);
  return build_finish(g, e);
}

static Value *build3(Graph *g, OpKind op, Value *a, Value *b, Value *c, const Node *like) {
  Node *k = build_node(g, op, 3, (Value *[]){a, b, c});
  if (like) node_copy_attrs(g, k, like);
  return build_finish(g, k);
}

/* ---- gather(data, indices; axis=0): out = data[:axis] + indices.shape + data[axis+1:].
 * gather_grad(dy, indices; axis, shape=data's) adds dy into zeros there. ---- */

static int gather_axis(const Node *n, Shape data) { return normalize_axis(node_int(n, "axis", 0), data.rank); }

const char *gather_infer(Graph *g, Node *n) {
  Shape d = n->in[0]->shape, ix = n->in[1]->shape, s = {0, {0}};
  int ax = gather_axis(n, d);
  if (ax < 0 || !is_index_type(n->in[1]->dtype)) return "gather needs an axis in range and integer indices";
  if (d.rank - 1 + ix.rank > MAX_RANK) return "gather output rank above 8";
  if (d.d[ax] == DIM_BATCH) return "cannot gather along the batch dimension";
  for (int i = 0; i < ax; i++)
    s.d[s.rank++] = d.d[i];
  for (int i = 0; i < ix.rank; i++)
    s.d[s.rank++] = ix.d[i];
  for (int i = ax + 1; i < d.rank; i++)
    s.d[s.rank++] = d.d[i];
  if (shape_has_batch(d) && shape_has_batch(ix)) return "data and indices both have the batch dimension";
  n->out[0]->dtype = n->in[0]->dtype;
  n->out[0]->shape = s;
  (void)g;
  return NULL;
}

/* grad: dx += dy over the gathered rows; else out = data rows. */
static void gather_run(EvalCtx *cx, const Node *n, Tensor *data, Tensor *ix, Tensor *out, bool grad) {
  int ax = gather_axis(n, data->shape);
  int64_t outer = prod(data->shape, 0, ax), d = data->shape.d[ax], inner = prod(data->shape, ax + 1, data->shape.rank);
  if (grad)
    for (int64_t i = 0; i < data->numel; i++)
      tensor_set(data, i, 0);
  for (int64_t i = 0; i < outer; i++)
    for (int64_t j = 0; j < ix->numel; j++) {
      int64_t r = index_at(cx, ix, j, d);
      if (r < 0) return;
      for (int64_t k = 0; k < inner; k++) {
        int64_t o = (i * ix->numel + j) * inner + k, src = (i * d + r) * inner + k;
        if (grad)
          tensor_set(data, src, tensor_get(data, src) + tensor_get(out, o));
        else
          tensor_set(out, o, tensor_get(data, src));
      }
    }
}

void gather_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) { gather_run(cx, n, in[0], in[1], out[0], false); }

void gather_grad(Graph *g, Node *n, Value **dy, Value **dx) {
  Node *k = build_node(g, OP_GATHER_GRAD, 2, (Value *[]){dy[0], n->in[1]});
  node_set_int(g, k, "axis", gather_axis(n, n->in[0]->shape));
  node_set_ints(g, k, "shape", n->in[0]->shape.d, n->in[0]->shape.rank);
  dx[0] = build_finish(g, k);
}

static void gather_emit_loop(Emit *e, Value *data, Value *ix, Value *y, int ax, bool grad) {
  const char *D = emit_dim(e, data, ax), *inner = emit_numel_range(e, data, ax + 1, data->shape.rank);
  const char *K = emit_numel(e, ix), *ty = emit_ctype(data->dtype);
  const char *X = emit_ref(e, data), *Y = emit_ref(e, y);
  if (grad) emit_line(e, "memset(%s, 0, sizeof(%s) * %s);", X, ty, emit_numel(e, data));
  emit_open(e, "for (size_t i = 0; i < %s; i++)", emit_numel_range(e, data, 0, ax));
  emit_open(e, "for (size_t j = 0; j < %s; j++)", K);
  emit_index(e, "r", arena_printf(&e->g->arena, "%s[j]", emit_ref(e, ix)), D);
  emit_line(e, "size_t p = (i * %s + (size_t)r) * %s, q = (i * %s + j) * %s;", D, inner, K, inner);
  if (grad)
    emit_line(e, "for (size_t k = 0; k < %s; k++) %s[p + k] += %s[q + k];", inner, X, Y);
  else
    emit_line(e, "memcpy(%s + q, %s + p, sizeof(%s) * %s);", Y, X, ty, inner);
  emit_close(e);
  emit_close(e);
}

void gather_emit(Emit *e, Node *n) {
  gather_emit_loop(e, n->in[0], n->in[1], n->out[0], gather_axis(n, n->in[0]->shape), false);
}

static Shape shape_attr(const Node *n) {
  int64_t d[MAX_RANK];
  int r = attr_ints(n, "shape", d, MAX_RANK);
  return r < 0 ? shape_scalar() : shape_make(r, d);
}

const char *gather_grad_infer(Graph *g, Node *n) {
  (void)g;
  n->out[0]->dtype = n->in[0]->dtype;
  n->out[0]->shape = shape_attr(n);
  return node_attr(n, "shape") ? NULL : "gather_grad needs shape=[...]";
}

void gather_grad_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  gather_run(cx, n, out[0], in[1], in[0], true);
}
void gather_grad_grad(Graph *g, Node *n, Value **dy, Value **dx) { (void)g, (void)n, (void)dy, (void)dx; }

void gather_grad_emit(Emit *e, Node *n) {
  gather_emit_loop(e, n->out[0], n->in[1], n->in[0], (int)node_int(n, "axis", 0), true);
}

/* ---- gather_elements(data, indices; axis) and scatter_elements(data, indices,
 * updates; axis, reduction=none|add|mul): element (i, j, k) of indices (outer,
 * axis, inner) names data element (i, indices[i,j,k], k). ---- */

static const char *elements_check(Graph *g, Node *n, Shape d, Shape ix, int *ax) {
  *ax = normalize_axis(node_int(n, "axis", 0), d.rank);
  if (*ax < 0 || ix.rank != d.rank || !is_index_type(n->in[1]->dtype))
    return "needs integer indices of the data's rank and an axis in range";
  for (int i = 0; i < d.rank; i++)
    if (i != *ax && ix.d[i] != d.d[i])
      return arena_printf(&g->arena, "indices %s and data %s differ outside axis %d", shape_str(&g->arena, ix),
                          shape_str(&g->arena, d), *ax);
  if (d.d[*ax] == DIM_BATCH || ix.d[*ax] == DIM_BATCH) return "cannot index along the batch dimension";
  return NULL;
}

const char *gather_elements_infer(Graph *g, Node *n) {
  int ax;
  n->out[0]->dtype = n->in[0]->dtype;
  n->out[0]->shape = n->in[1]->shape;
  return elements_check(g, n, n->in[0]->shape, n->in[1]->shape, &ax);
}

static int reduction_kind(const Node *n) {
  const char *r = node_string(n, "reduction", "none");
  return !strcmp(r, "add") ? 1 : !strcmp(r, "mul") ? 2 : !strcmp(r, "none") ? 0 : -1;
}

/* out (data shape) op= upd over indices; or with upd NULL, out[j] = data[...] (gather). */
static void elements_run(EvalCtx *cx, const Node *n, Tensor *data, Tensor *ix, Tensor *upd, Tensor *out) {
  int ax = normalize_axis(node_int(n, "axis", 0), data->shape.rank), red = reduction_kind(n);
  int64_t d = data->shape.d[ax], kd = ix->shape.d[ax];
  int64_t inner = prod(data->shape, ax + 1, data->shape.rank);
  if (upd)
    for (int64_t i = 0; i < data->numel; i++)
      tensor_set(out, i, tensor_get(data, i));
  for (int64_t i = 0; i < ix->numel; i++) {
    int64_t r = index_at(cx, ix, i, d), k = i % inner, o = i / inner / kd;
    if (r < 0) return;
    int64_t p = (o * d + r) * inner + k;
    if (!upd)
      tensor_set(out, i, tensor_get(data, p));
    else if (red == 0)
      tensor_set(out, p, tensor_get(upd, i));
    else if (red == 1)
      tensor_set(out, p, tensor_get(out, p) + tensor_get(upd, i));
    else
      tensor_set(out, p, tensor_get(out, p) * tensor_get(upd, i));
  }
}

void gather_elements_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  elements_run(cx, n, in[0], in[1], NULL, out[0]);
}

void gather_elements_grad(Graph *g, Node *n, Value **dy, Value **dx) {
  Value *z = zeros_shaped(g, n->in[0]->dtype, n->in[0]->shape);
  Node *k = build_node(g, OP_SCATTER_ELEMENTS, 3, (Value *[]){z, n->in[1], dy[0]});
  node_set_int(g, k, "axis", node_int(n, "axis", 0));
  node_set_string(g, k, "reduction", "add");
  dx[0] = build_finish(g, k);
}

static void elements_emit(Emit *e, Node *n, bool scatter) {
  Value *data = n->in[0], *ix = n->in[1], *y = n->out[0];
  int ax = normalize_axis(node_int(n, "axis", 0), data->shape.rank), red = reduction_kind(n);
  const char *D = emit_dim(e, data, ax), *K = emit_dim(e, ix, ax);
  const char *inner = emit_numel_range(e, data, ax + 1, data->shape.rank);
  if (scatter)
    emit_line(e, "memcpy(%s, %s, sizeof(%s) * %s);", emit_ref(e, y), emit_ref(e, data), emit_ctype(y->dtype),
              emit_numel(e, y));
  emit_open(e, "for (size_t i = 0; i < %s; i++)", emit_numel(e, ix));
  emit_index(e, "r", arena_printf(&e->g->arena, "%s[i]", emit_ref(e, ix)), D);
  emit_line(e, "size_t p = (i / %s / %s * %s + (size_t)r) * %s + i %% %s;", inner, K, D, inner, inner);
  if (!scatter)
    emit_line(e, "%s[i] = %s[p];", emit_ref(e, y), emit_ref(e, data));
  else
    emit_line(e, "%s[p] %s= %s[i];", emit_ref(e, y), red == 1 ? "+" : red == 2 ? "*" : "", emit_ref(e, n->in[2]));
  emit_close(e);
}

void gather_elements_emit(Emit *e, Node *n) { elements_emit(e, n, false); }

static const char *scatter_infer_common(Graph *g, Node *n) {
  int ax;
  const char *err = elements_check(g, n, n->in[0]->shape, n->in[1]->shape, &ax);
  if (!err && !shape_eq(n->in[1]->shape, n->in[2]->shape)) err = "updates and indices differ in shape";
  if (!err && n->in[2]->dtype != n->in[0]->dtype) err = "updates and data differ in dtype";
  if (!err && reduction_kind(n) < 0) err = "reduction must be none, add or mul";
  n->out[0]->dtype = n->in[0]->dtype;
  n->out[0]->shape = n->in[0]->shape;
  return err;
}

/* d data: dy where no update landed (reduction none) or all of dy (add);
 * d updates: dy gathered at the indices. */
static void scatter_grad_common(Graph *g, Node *n, Value **dy, Value **dx, OpKind scatter, OpKind gather) {
  int red = reduction_kind(n);
  NN2C_ASSERT(red != 2 && "no gradient rule for reduction=mul");
  Value *z = zeros_shaped(g, n->in[2]->dtype, n->in[2]->shape);
  dx[0] = red == 1 ? dy[0] : build3(g, scatter, dy[0], n->in[1], z, n);
  Node *k = build_node(g, gather, 2, (Value *[]){dy[0], n->in[1]});
  if (node_attr(n, "axis")) node_set_int(g, k, "axis", node_int(n, "axis", 0));
  dx[2] = build_finish(g, k);
}

const char *scatter_elements_infer(Graph *g, Node *n) { return scatter_infer_common(g, n); }
void scatter_elements_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  elements_run(cx, n, in[0], in[1], in[2], out[0]);
}
void scatter_elements_grad(Graph *g, Node *n, Value **dy, Value **dx) {
  scatter_grad_common(g, n, dy, dx, OP_SCATTER_ELEMENTS, OP_GATHER_ELEMENTS);
}
void scatter_elements_emit(Emit *e, Node *n) { elements_emit(e, n, true); }

/* scatter: ONNX Scatter (opset 9-10), scatter_elements without reduction. */
const char *scatter_infer(Graph *g, Node *n) { return scatter_infer_common(g, n); }
void scatter_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) { elements_run(cx, n, in[0], in[1], in[2], out[0]); }
void scatter_grad(Graph *g, Node *n, Value **dy, Value **dx) {
  scatter_grad_common(g, n, dy, dx, OP_SCATTER_ELEMENTS, OP_GATHER_ELEMENTS);
}
void scatter_emit(Emit *e, Node *n) { elements_emit(e, n, true); }

/* ---- gather_nd(data, indices; batch_dims=b) and scatter_nd(data, indices,
 * updates; reduction): the last axis of indices (length k) holds coordinates
 * into data axes b..b+k-1; each names a slab of the remaining data axes. ---- */

typedef struct {
  int b, k;
  int64_t nb, nt, slab, per_batch; /* batches, tuples per batch, slab elements, data elements per batch */
} NdSpec;

static const char *nd_spec(Shape d, Shape ix, int64_t b, NdSpec *sp) {
  if (ix.rank < 1 || b < 0 || b >= ix.rank || b > d.rank) return "bad indices rank or batch_dims";
  int k = (int)ix.d[ix.rank - 1];
  if (k < 1 || b + k > d.rank) return "the last axis of indices is longer than the data's rank";
  for (int i = 0; i < b; i++)
    if (ix.d[i] != d.d[i]) return "data and indices differ in the batch_dims axes";
  for (int i = b; i < b + k; i++)
    if (d.d[i] == DIM_BATCH) return "cannot index along the batch dimension";
  *sp = (NdSpec){(int)b,
                 k,
                 prod(d, 0, (int)b),
                 prod(ix, (int)b, ix.rank - 1),
                 prod(d, (int)b + k, d.rank),
                 prod(d, (int)b, d.rank)};
  return NULL;
}

const char *gather_nd_infer(Graph *g, Node *n) {
  Shape d = n->in[0]->shape, ix = n->in[1]->shape, s = {0, {0}};
  NdSpec sp;
  const char *err =
      is_index_type(n->in[1]->dtype) ? nd_spec(d, ix, node_int(n, "batch_dims", 0), &sp) : "integer indices";
  if (err) return err;
  for (int i = 0; i < ix.rank - 1; i++)
    s.d[s.rank++] = ix.d[i];
  for (int i = sp.b + sp.k; i < d.rank && s.rank < MAX_RANK; i++)
    s.d[s.rank++] = d.d[i];
  n->out[0]->dtype = n->in[0]->dtype;
  n->out[0]->shape = s;
  (void)g;
  return NULL;
}

/* Data offset of tuple t of batch bi, or -1 (cx->error) when out of range. */
static int64_t nd_offset(EvalCtx *cx, const NdSpec *sp, Shape d, const Tensor *ix, int64_t bi, int64_t t) {
  int64_t p = 0;
  for (int m = 0; m < sp->k; m++) {
    int64_t c = index_at(cx, ix, (bi * sp->nt + t) * sp->k + m, d.d[sp->b + m]);
    if (c < 0) return -1;
    p = p * d.d[sp->b + m] + c;
  }
  return bi * sp->per_batch + p * sp->slab;
}

static void nd_run(EvalCtx *cx, const Node *n, Tensor *data, Tensor *ix, Tensor *upd, Tensor *out) {
  NdSpec sp;
  int red = reduction_kind(n);
  NN2C_ASSERT(!nd_spec(data->shape, ix->shape, node_int(n, "batch_dims", 0), &sp));
  if (upd)
    for (int64_t i = 0; i < data->numel; i++)
      tensor_set(out, i, tensor_get(data, i));
  for (int64_t bi = 0; bi < sp.nb; bi++)
    for (int64_t t = 0; t < sp.nt; t++) {
      int64_t p = nd_offset(cx, &sp, data->shape, ix, bi, t), q = (bi * sp.nt + t) * sp.slab;
      if (p < 0) return;
      for (int64_t s = 0; s < sp.slab; s++) {
        double v = upd ? tensor_get(upd, q + s) : tensor_get(data, p + s);
        if (!upd)
          tensor_set(out, q + s, v);
        else if (red == 1)
          tensor_set(out, p + s, tensor_get(out, p + s) + v);
        else if (red == 2)
          tensor_set(out, p + s, tensor_get(out, p + s) * v);
        else
          tensor_set(out, p + s, v);
      }
    }
}

void gather_nd_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) { nd_run(cx, n, in[0], in[1], NULL, out[0]); }

void gather_nd_grad(Graph *g, Node *n, Value **dy, Value **dx) {
  NN2C_ASSERT(node_int(n, "batch_dims", 0) == 0 && "gather_nd gradient needs batch_dims=0");
  Node *k =
      build_node(g, OP_SCATTER_ND, 3, (Value *[]){zeros_shaped(g, n->in[0]->dtype, n->in[0]->shape), n->in[1], dy[0]});
  node_set_string(g, k, "reduction", "add");
  dx[0] = build_finish(g, k);
}

static void nd_emit(Emit *e, Node *n, bool scatter) {
  Value *data = n->in[0], *ix = n->in[1], *y = n->out[0];
  NdSpec sp;
  NN2C_ASSERT(!nd_spec(data->shape, ix->shape, node_int(n, "batch_dims", 0), &sp));
  int red = reduction_kind(n);
  const char *ty = emit_ctype(y->dtype), *Y = emit_ref(e, y), *X = emit_ref(e, data);
  const char *nb = emit_numel_range(e, data, 0, sp.b), *per = emit_numel_range(e, data, sp.b, data->shape.rank);
  const char *slab = emit_numel_range(e, data, sp.b + sp.k, data->shape.rank);
  if (scatter) emit_line(e, "memcpy(%s, %s, sizeof(%s) * %s);", Y, X, ty, emit_numel(e, y));
  emit_open(e, "for (size_t i = 0; i < %s; i++)", nb);
  emit_open(e, "for (size_t j = 0; j < %lld; j++)", (long long)sp.nt);
  emit_line(e, "size_t p = 0, q = (i * %lld + j) * %s;", (long long)sp.nt, slab);
  for (int m = 0; m < sp.k; m++) {
    const char *d = emit_dim(e, data, sp.b + m);
    emit_index(e, arena_printf(&e->g->arena, "a%d", m), /* a0..a7: names no value takes */
               arena_printf(&e->g->arena, "%s[(i * %lld + j) * %d + %d]", emit_ref(e, ix), (long long)sp.nt, sp.k, m),
               d);
    emit_line(e, "p = p * %s + (size_t)a%d;", d, m);
  }
  emit_line(e, "p = i * %s + p * %s;", per, slab);
  if (!scatter)
    emit_line(e, "memcpy(%s + q, %s + p, sizeof(%s) * %s);", Y, X, ty, slab);
  else
    emit_line(e, "for (size_t k = 0; k < %s; k++) %s[p + k] %s= %s[q + k];", slab, Y,
              red == 1   ? "+"
              : red == 2 ? "*"
                         : "",
              emit_ref(e, n->in[2]));
  emit_close(e);
  emit_close(e);
}

void gather_nd_emit(Emit *e, Node *n) { nd_emit(e, n, false); }

const char *scatter_nd_infer(Graph *g, Node *n) {
  NdSpec sp;
  Shape d = n->in[0]->shape, ix = n->in[1]->shape, u = n->in[2]->shape;
  const char *err = is_index_type(n->in[1]->dtype) ? nd_spec(d, ix, 0, &sp) : "integer indices";
  n->out[0]->dtype = n->in[0]->dtype;
  n->out[0]->shape = d;
  if (err) return err;
  bool ok = u.rank == ix.rank - 1 + d.rank - sp.k && n->in[2]->dtype == n->in[0]->dtype;
  for (int i = 0; ok && i < u.rank; i++)
    ok = u.d[i] == (i < ix.rank - 1 ? ix.d[i] : d.d[i - (ix.rank - 1) + sp.k]);
  if (!ok)
    return arena_printf(&g->arena, "updates %s do not fit indices %s and data %s", shape_str(&g->arena, u),
                        shape_str(&g->arena, ix), shape_str(&g->arena, d));
  return reduction_kind(n) < 0 ? "reduction must be none, add or mul" : NULL;
}

void scatter_nd_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) { nd_run(cx, n, in[0], in[1], in[2], out[0]); }
void scatter_nd_grad(Graph *g, Node *n, Value **dy, Value **dx) {
  scatter_grad_common(g, n, dy, dx, OP_SCATTER_ND, OP_GATHER_ND);
}
void scatter_nd_emit(Emit *e, Node *n) { nd_emit(e, n, true); }

/* ---- one_hot(indices; depth, values=[off, on], axis=-1, dtype): a new axis of
 * extent depth; on where it equals the index (negative ones count from depth). ---- */

static DType dtype_attr(const Node *n, DType dflt) {
  DType t = dflt;
  const Attr *a = node_attr(n, "dtype");
  if (a && !dtype_from_onnx(node_int(n, "dtype", 1), &t)) return DT_COUNT;
  return t;
}

static int onehot_axis(const Node *n) { return normalize_axis(node_int(n, "axis", -1), n->in[0]->shape.rank + 1); }

const char *one_hot_infer(Graph *g, Node *n) {
  Shape ix = n->in[0]->shape, s = {0, {0}};
  const Attr *v = node_attr(n, "values");
  double vals[2];
  int64_t depth = node_int(n, "depth", 0);
  int ax = onehot_axis(n);
  if (ax < 0 || depth < 1 || attr_floats(n, "values", vals, 2) != 2 || ix.rank >= MAX_RANK)
    return "one_hot needs depth >= 1, values=[off, on] and an axis in range";
  DType t = dtype_attr(n, v->type == AT_INTS ? DT_I64 : DT_F32);
  if (t == DT_COUNT) return "unknown dtype code";
  for (int i = 0, k = 0; i <= ix.rank; i++)
    s.d[i] = i == ax ? depth : ix.d[k++];
  s.rank = ix.rank + 1;
  n->out[0]->dtype = t;
  n->out[0]->shape = s;
  (void)g;
  return NULL;
}

void one_hot_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx;
  double vals[2];
  attr_floats(n, "values", vals, 2);
  int ax = onehot_axis(n);
  int64_t depth = node_int(n, "depth", 0), inner = prod(in[0]->shape, ax, in[0]->shape.rank);
  for (int64_t i = 0; i < out[0]->numel; i++) {
    int64_t k = i % inner, d = i / inner % depth, o = i / inner / depth;
    int64_t ix = (int64_t)tensor_get(in[0], o * inner + k);
    if (ix < 0) ix += depth;
    tensor_set(out[0], i, ix == d ? vals[1] : vals[0]);
  }
}

void one_hot_grad(Graph *g, Node *n, Value **dy, Value **dx) { (void)g, (void)n, (void)dy, (void)dx; }

void one_hot_emit(Emit *e, Node *n) {
  Value *ix = n->in[0], *y = n->out[0];
  double vals[2];
  attr_floats(n, "values", vals, 2);
  int ax = onehot_axis(n);
  long long depth = (long long)node_int(n, "depth", 0);
  const char *inner = emit_numel_range(e, ix, ax, ix->shape.rank), *ty = emit_ctype(y->dtype);
  emit_open(e, "for (size_t i = 0; i < %s; i++)", emit_numel_range(e, ix, 0, ax));
  emit_open(e, "for (size_t k = 0; k < %s; k++)", inner);
  emit_line(e, "ptrdiff_t r = (ptrdiff_t)%s[i * %s + k];", emit_ref(e, ix), inner);
  emit_line(e, "if (r < 0) r += %lld;", depth);
  emit_line(e,
            "for (ptrdiff_t j = 0; j < %lld; j++) %s[(i * %lld + (size_t)j) * %s + k] = (%s)(r == j ? %.17g : %.17g);",
            depth, emit_ref(e, y), depth, inner, ty, vals[1], vals[0]);
  emit_close(e);
  emit_close(e);
}

/* ---- eye_like(x; dtype=x's, k=0): ones where column - row = k ---- */

const char *eye_like_infer(Graph *g, Node *n) {
  (void)g;
  DType t = dtype_attr(n, n->in[0]->dtype);
  if (n->in[0]->shape.rank != 2 || t == DT_COUNT) return "eye_like needs a 2-D input (and a known dtype code)";
  n->out[0]->dtype = t;
  n->out[0]->shape = n->in[0]->shape;
  return NULL;
}

void eye_like_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx, (void)in;
  int64_t cols = out[0]->shape.d[1], k = node_int(n, "k", 0);
  for (int64_t i = 0; i < out[0]->numel; i++)
    tensor_set(out[0], i, i % cols - i / cols == k);
}

void eye_like_grad(Graph *g, Node *n, Value **dy, Value **dx) { (void)g, (void)n, (void)dy, (void)dx; }

void eye_like_emit(Emit *e, Node *n) {
  Value *y = n->out[0];
  emit_line(e, "(void)%s; /* only its shape matters */", emit_ref(e, n->in[0]));
  emit_open(e, "for (size_t i = 0; i < %s; i++)", emit_dim(e, y, 0));
  emit_line(e, "for (size_t j = 0; j < %s; j++) %s[i * %s + j] = (%s)((ptrdiff_t)j - (ptrdiff_t)i == %lld);",
            emit_dim(e, y, 1), emit_ref(e, y), emit_dim(e, y, 1), emit_ctype(y->dtype), (long long)node_int(n, "k", 0));
  emit_close(e);
}

/* ---- range(; start, limit, delta, dtype): start + i * delta while short of limit ---- */

static int64_t range_count(const Node *n) {
  double s = node_float(n, "start", 0), l = node_float(n, "limit", 0), d = node_float(n, "delta", 1);
  double c = ceil((l - s) / d);
  return c > 0 ? (int64_t)c : 0;
}

const char *range_infer(Graph *g, Node *n) {
  (void)g;
  const Attr *s = node_attr(n, "start"), *l = node_attr(n, "limit"), *d = node_attr(n, "delta");
  if (!s || !l || !d || node_float(n, "delta", 0) == 0) return "range needs start, limit and a nonzero delta";
  bool f = s->type == AT_FLOAT || l->type == AT_FLOAT || d->type == AT_FLOAT;
  n->out[0]->dtype = dtype_attr(n, f ? DT_F32 : DT_I64);
  n->out[0]->shape = shape_make(1, (int64_t[]){range_count(n)});
  return n->out[0]->dtype == DT_COUNT ? "unknown dtype code" : NULL;
}

void range_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx, (void)in;
  double s = node_float(n, "start", 0), d = node_float(n, "delta", 1);
  for (int64_t i = 0; i < out[0]->numel; i++)
    tensor_set(out[0], i, s + (double)i * d);
}

void range_grad(Graph *g, Node *n, Value **dy, Value **dx) { (void)g, (void)n, (void)dy, (void)dx; }

void range_emit(Emit *e, Node *n) {
  Value *y = n->out[0];
  emit_line(e, "for (size_t i = 0; i < %lld; i++) %s[i] = (%s)(%.17g + (double)i * %.17g);", (long long)range_count(n),
            emit_ref(e, y), emit_ctype(y->dtype), node_float(n, "start", 0), node_float(n, "delta", 1));
}

/* ---- constant_of_shape(; input=[dims] (or shape=), value=0, dtype) ---- */

const char *constant_of_shape_infer(Graph *g, Node *n) {
  (void)g;
  int64_t d[MAX_RANK];
  int r = attr_ints(n, node_attr(n, "input") ? "input" : "shape", d, MAX_RANK);
  const Attr *v = node_attr(n, "value");
  DType t = dtype_attr(n, v && (v->type == AT_INT || v->type == AT_INTS) ? DT_I64 : DT_F32);
  if (r < 0 || t == DT_COUNT) return "constant_of_shape needs input=[dims] (and a known dtype code)";
  for (int i = 0; i < r; i++)
    if (d[i] < 0 && d[i] != DIM_BATCH) return "negative extent";
  n->out[0]->dtype = t;
  n->out[0]->shape = shape_make(r, d);
  return NULL;
}

static double fill_value(const Node *n) {
  double v = 0;
  attr_floats(n, "value", &v, 1);
  return v;
}

void constant_of_shape_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx, (void)in;
  for (int64_t i = 0; i < out[0]->numel; i++)
    tensor_set(out[0], i, fill_value(n));
}

void constant_of_shape_grad(Graph *g, Node *n, Value **dy, Value **dx) { (void)g, (void)n, (void)dy, (void)dx; }

void constant_of_shape_emit(Emit *e, Node *n) {
  Value *y = n->out[0];
  emit_line(e, "for (size_t i = 0; i < %s; i++) %s[i] = (%s)%.17g;", emit_numel(e, y), emit_ref(e, y),
            emit_ctype(y->dtype), fill_value(n));
}
