/* reduce.c - reduce_sum / reduce_mean over a set of axes, and the shape
 * movements their gradients need: expand (broadcast to a shape) and reshape. */
#include "op.h"

#include <string.h>

/* Which axes a reduction covers; no `axes` attribute means all of them. */
static bool reduced_axes(Graph *g, const Node *n, int rank, bool red[MAX_RANK], const char **err) {
  const Attr *a = node_attr(n, "axes");
  memset(red, 0, sizeof(bool) * MAX_RANK);
  if (!a) {
    for (int i = 0; i < rank; i++) red[i] = true;
    return true;
  }
  if (a->type != AT_INTS && a->type != AT_INT) {
    *err = "axes must be a list of integers";
    return false;
  }
  int cnt = a->type == AT_INT ? 1 : a->n;
  for (int i = 0; i < cnt; i++) {
    int64_t ax = a->type == AT_INT ? a->i : a->ints[i];
    int k = normalize_axis(ax, rank);
    if (k < 0) {
      *err = arena_printf(&g->arena, "axis %lld out of range for rank %d", (long long)ax, rank);
      return false;
    }
    red[k] = true;
  }
  return true;
}

static const char *reduce_infer(Graph *g, Node *n) {
  Shape in = n->in[0]->shape, out = {0, {0}};
  bool red[MAX_RANK];
  const char *err = NULL;
  if (!reduced_axes(g, n, in.rank, red, &err)) return err;
  bool keep = node_int(n, "keepdims", 1) != 0;
  for (int i = 0; i < in.rank; i++) {
    if (!red[i]) out.d[out.rank++] = in.d[i];
    else if (keep) out.d[out.rank++] = 1;
  }
  if (!dtype_is_float(n->in[0]->dtype)) return "reduction needs a float input";
  n->out[0]->dtype = n->in[0]->dtype;
  n->out[0]->shape = out;
  return NULL;
}

const char *reduce_sum_infer(Graph *g, Node *n) { return reduce_infer(g, n); }
const char *reduce_mean_infer(Graph *g, Node *n) { return reduce_infer(g, n); }

/* Output flat index for input flat index i (reduced axes dropped). */
static int64_t reduce_out_index(Shape in, const bool *red, int64_t i) {
  int64_t idx = 0, stride = 1;
  for (int a = in.rank - 1; a >= 0; a--) {
    int64_t c = i % in.d[a];
    i /= in.d[a];
    if (red[a]) continue;
    idx += c * stride;
    stride *= in.d[a];
  }
  return idx;
}

static void reduce_eval(Node *n, Tensor **in, Tensor **out, bool mean) {
  bool red[MAX_RANK];
  const char *err = NULL;
  NN2C_ASSERT(reduced_axes(NULL, n, in[0]->shape.rank, red, &err));
  double *acc = xcalloc((size_t)out[0]->numel, sizeof(double));
  for (int64_t i = 0; i < in[0]->numel; i++) acc[reduce_out_index(in[0]->shape, red, i)] += tensor_get(in[0], i);
  double count = out[0]->numel ? (double)in[0]->numel / (double)out[0]->numel : 1;
  for (int64_t i = 0; i < out[0]->numel; i++) tensor_set(out[0], i, mean ? acc[i] / count : acc[i]);
  free(acc);
}

void reduce_sum_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) { (void)cx; reduce_eval(n, in, out, false); }
void reduce_mean_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) { (void)cx; reduce_eval(n, in, out, true); }

/* The gradient broadcasts dy back over the reduced axes. */
static Value *expand_to(Graph *g, Value *v, Shape s) {
  Node *e = build_node(g, OP_EXPAND, 1, &v);
  node_set_ints(g, e, "shape", s.d, s.rank);
  return build_finish(g, e);
}

static Value *reduce_grad_common(Graph *g, Node *n, Value *dy) {
  Shape in = n->in[0]->shape, kept = in;
  bool red[MAX_RANK];
  const char *err = NULL;
  NN2C_ASSERT(reduced_axes(g, n, in.rank, red, &err));
  for (int i = 0; i < in.rank; i++)
    if (red[i]) kept.d[i] = 1;
  return expand_to(g, build_reshape(g, dy, kept), in);
}

void reduce_sum_grad(Graph *g, Node *n, Value **dy, Value **dx) { dx[0] = reduce_grad_common(g, n, dy[0]); }

/* mean = sum / count; count involves N when a batch axis is reduced, so it is
 * taken at run time by dividing with a reduce_mean-shaped scale: we express it
 * as expand(dy) followed by a mean-scaling reduce via the `scale_by_count` attr. */
void reduce_mean_grad(Graph *g, Node *n, Value **dy, Value **dx) {
  Value *full = reduce_grad_common(g, n, dy[0]);
  Node *e = full->def;
  node_set_int(g, e, "divide_by_count", 1);
  node_set_ints(g, e, "count_of", n->in[0]->shape.d, n->in[0]->shape.rank);
  dx[0] = full;
}

/* Emission: reduced axes must form one contiguous run [lo, hi) for the fast
 * form out[o][i] = sum_r in[o][r][i]; others fall back to index arithmetic. */
static void reduce_emit(Emit *e, Node *n, bool mean) {
  Value *x = n->in[0], *o = n->out[0];
  int rank = x->shape.rank, lo = -1, hi = -1;
  bool red[MAX_RANK];
  const char *err = NULL;
  NN2C_ASSERT(reduced_axes(e->g, n, rank, red, &err));
  for (int i = 0; i < rank; i++)
    if (red[i]) {
      if (lo < 0) lo = i;
      hi = i + 1;
    }
  const char *X = emit_ref(e, x), *O = emit_ref(e, o);
  bool contiguous = true;
  for (int i = lo; i < hi && lo >= 0; i++) contiguous = contiguous && red[i];
  if (lo < 0) {
    emit_line(e, "memcpy(%s, %s, sizeof(float) * %s);", O, X, emit_numel(e, x));
    return;
  }
  NN2C_ASSERT(contiguous); /* TODO(issue 4): general axis sets need transposition */
  const char *outer = emit_numel_range(e, x, 0, lo), *r = emit_numel_range(e, x, lo, hi);
  const char *inner = emit_numel_range(e, x, hi, rank);
  int64_t ninner = 1; /* -1: the kept trailing dims include the batch */
  for (int i = hi; i < rank; i++) ninner = x->shape.d[i] == DIM_BATCH || ninner < 0 ? -1 : ninner * x->shape.d[i];
  if (ninner >= 1 && ninner <= 1024) {
    /* sums in a local row, so they can stay in registers */
    emit_open(e, "for (size_t i = 0; i < %s; i++)", outer);
    emit_line(e, "float acc[%s];", inner);
    emit_line(e, "memset(acc, 0, sizeof acc);");
    emit_open(e, "for (size_t k = 0; k < %s; k++)", r);
    emit_line(e, "for (size_t j = 0; j < %s; j++) acc[j] += %s[(i * %s + k) * %s + j];", inner, X, r, inner);
    emit_close(e);
    emit_line(e, "for (size_t j = 0; j < %s; j++) %s[i * %s + j] = acc[j]%s;", inner, O, inner,
              mean ? arena_printf(&e->g->arena, " / (float)(%s)", r) : "");
    emit_close(e);
    return;
  }
  emit_line(e, "memset(%s, 0, sizeof(float) * %s);", O, emit_numel(e, o));
  emit_open(e, "for (size_t i = 0; i < %s; i++)", outer);
  emit_open(e, "for (size_t k = 0; k < %s; k++)", r);
  emit_line(e, "for (size_t j = 0; j < %s; j++) %s[i * %s + j] += %s[(i * %s + k) * %s + j];", inner, O, inner, X, r,
            inner);
  emit_close(e);
  emit_close(e);
  if (mean) {
    emit_line(e, "for (size_t i = 0; i < %s; i++) %s[i] /= (float)(%s);", emit_numel(e, o), O, r);
  }
}

void reduce_sum_emit(Emit *e, Node *n) { reduce_emit(e, n, false); }
void reduce_mean_emit(Emit *e, Node *n) { reduce_emit(e, n, true); }

/* ---- expand: broadcast to `shape`; with divide_by_count it also divides by
 * the number of elements of `count_of` over the output's elements before
 * broadcast (the gradient of reduce_mean). ---- */

static Shape attr_shape(const Node *n, const char *key) {
  const Attr *a = node_attr(n, key);
  Shape s = {0, {0}};
  if (a && a->type == AT_INTS && a->n <= MAX_RANK) s = shape_make(a->n, a->ints);
  return s;
}

/* ONNX Expand: the output is the broadcast of the input's shape and `shape`. */
const char *expand_infer(Graph *g, Node *n) {
  const Attr *a = node_attr(n, "shape");
  if (!a || a->type != AT_INTS || a->n > MAX_RANK) return "expand needs a shape=[...] attribute";
  Shape target = attr_shape(n, "shape"), out;
  const char *err = infer_broadcast(g, n->in[0]->shape, target, &out);
  if (err) return err;
  n->out[0]->dtype = n->in[0]->dtype;
  n->out[0]->shape = out;
  return NULL;
}

static double expand_divisor_eval(const Node *n, const Tensor *in, int64_t batch) {
  if (!node_int(n, "divide_by_count", 0)) return 1;
  Shape c = attr_shape(n, "count_of");
  return (double)shape_numel(c, batch) / (double)in->numel;
}

void expand_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  double div = expand_divisor_eval(n, in[0], cx->batch);
  for (int64_t i = 0; i < out[0]->numel; i++)
    tensor_set(out[0], i, tensor_get(in[0], broadcast_index(out[0]->shape, in[0]->shape, i)) / div);
}

void expand_grad(Graph *g, Node *n, Value **dy, Value **dx) {
  NN2C_ASSERT(!node_int(n, "divide_by_count", 0));
  dx[0] = build_unbroadcast(g, dy[0], n->in[0]->shape);
}

static void expand_expr(Buf *b, Node *n, const char **a) {
  (void)n;
  buf_printf(b, "%s", a[0]);
}

static void expand_div_expr(Buf *b, Node *n, const char **a) {
  (void)n;
  buf_printf(b, "%s * inv_count", a[0]);
}

void expand_emit(Emit *e, Node *n) {
  Value *x = n->in[0], *y = n->out[0];
  if (!node_int(n, "divide_by_count", 0) && y->dtype != DT_F32) { /* a view with stride 0 on broadcast axes */
    Lin st[MAX_RANK];
    view_strides(x->shape, st);
    View v = {y->shape.rank, {0}, {{0, 0}}, {0, 0}};
    for (int i = 0, k = x->shape.rank - y->shape.rank; i < v.rank; i++, k++) {
      v.dim[i] = y->shape.d[i];
      v.stride[i] = k < 0 || x->shape.d[k] == 1 ? (Lin){0, 0} : st[k];
    }
    emit_view_copy(e, y, x, &v, false);
    return;
  }
  if (!node_int(n, "divide_by_count", 0)) {
    emit_elementwise(e, n, expand_expr);
    return;
  }
  /* count = numel(count_of) / numel(input) as a C expression in B */
  Shape c = attr_shape(n, "count_of");
  Value tmp = {0};
  tmp.shape = c;
  emit_open(e, "");
  emit_line(e, "const float inv_count = (float)((double)(%s) / (double)(%s));", emit_numel(e, n->in[0]),
            emit_numel(e, &tmp));
  emit_elementwise(e, n, expand_div_expr);
  emit_close(e);
}

/* ---- reshape(x; shape, allowzero=0): ONNX Reshape. In `shape`, 0 copies the
 * input's extent at that index (unless allowzero) and one -1 is inferred; an
 * inferred extent equal to the batch is N, so shape=[-1, 3] reads as [N, 3]. ---- */

const char *reshape_infer(Graph *g, Node *n) {
  const Attr *a = node_attr(n, "shape");
  if (!a || a->type != AT_INTS || a->n > MAX_RANK) return "reshape needs a shape=[...] attribute";
  Shape s = attr_shape(n, "shape"), in = n->in[0]->shape;
  int infer = -1;
  int64_t known = 1;
  bool allowzero = node_int(n, "allowzero", 0) != 0, batch = false;
  for (int i = 0; i < s.rank; i++) {
    if (s.d[i] == 0 && !allowzero) {
      if (i >= in.rank) return "reshape: 0 copies an axis the input does not have";
      s.d[i] = in.d[i];
    } else if (s.d[i] == -1) {
      if (infer >= 0) return "reshape: more than one -1 in shape";
      infer = i;
      continue;
    } else if (s.d[i] < 0) return "reshape: negative extent in shape";
    if (s.d[i] == DIM_BATCH) batch = true;
    else known *= s.d[i];
  }
  int64_t total = shape_numel_static(in);
  if (infer >= 0) {
    if (shape_has_batch(in) && !batch) s.d[infer] = known == total ? DIM_BATCH : -2;
    else s.d[infer] = known && total % known == 0 ? total / known : -2;
  }
  if ((infer >= 0 && s.d[infer] == -2) || shape_has_batch(s) != shape_has_batch(in) ||
      shape_numel_static(s) != total)
    return arena_printf(&g->arena, "cannot reshape %s to %s", shape_str(&g->arena, in),
                        shape_str(&g->arena, attr_shape(n, "shape")));
  n->out[0]->dtype = n->in[0]->dtype;
  n->out[0]->shape = s;
  return NULL;
}

void reshape_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx, (void)n;
  for (int64_t i = 0; i < out[0]->numel; i++) tensor_set(out[0], i, tensor_get(in[0], i));
}

void reshape_grad(Graph *g, Node *n, Value **dy, Value **dx) { dx[0] = build_reshape(g, dy[0], n->in[0]->shape); }

void reshape_emit(Emit *e, Node *n) {
  emit_line(e, "memcpy(%s, %s, sizeof(%s) * %s);", emit_ref(e, n->out[0]), emit_ref(e, n->in[0]),
            emit_ctype(n->in[0]->dtype), emit_numel(e, n->in[0]));
}
