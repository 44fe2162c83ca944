/* reduce.c - reductions over a set of axes (ONNX's ReduceSum ReduceMean
 * ReduceMax ReduceMin ReduceProd ReduceL1 ReduceL2 ReduceLogSum
 * ReduceLogSumExp ReduceSumSquare: attributes axes, keepdims=1,
 * noop_with_empty_axes=0), and the shape movements their gradients need:
 * expand (broadcast to a shape) and reshape. */
#include "op.h"

#include <math.h>
#include <string.h>

typedef enum { R_SUM, R_MEAN, R_MAX, R_MIN, R_PROD, R_L1, R_L2, R_LOG_SUM, R_LOG_SUM_EXP, R_SUM_SQUARE } RedKind;

/* Which axes a reduction covers: no `axes` (or an empty list) means all of
 * them, or none with noop_with_empty_axes=1. */
static bool reduced_axes(Graph *g, const Node *n, int rank, bool red[MAX_RANK], const char **err) {
  const Attr *a = node_attr(n, "axes");
  memset(red, 0, sizeof(bool) * MAX_RANK);
  if (a && a->type != AT_INTS && a->type != AT_INT) {
    *err = "axes must be a list of integers";
    return false;
  }
  int cnt = !a ? 0 : a->type == AT_INT ? 1 : a->n;
  if (!cnt) {
    bool noop = node_int(n, "noop_with_empty_axes", 0) != 0;
    for (int i = 0; i < rank; i++)
      red[i] = !noop;
    return true;
  }
  for (int i = 0; i < cnt; i++) {
    int64_t ax = a->type == AT_INT ? a->i : a->ints[i];
    int k = normalize_axis(ax, rank);
    if (k < 0) {
      *err =
          g ? arena_printf(&g->arena, "axis %lld out of range for rank %d", (long long)ax, rank) : "axis out of range";
      return false;
    }
    red[k] = true;
  }
  return true;
}

static bool axes_of(const Node *n, int rank, bool red[MAX_RANK]) {
  const char *err = NULL;
  return reduced_axes(NULL, n, rank, red, &err);
}

/* The output shape with keepdims=1 (reduced axes become 1). */
static Shape kept_shape(const Node *n) {
  Shape s = n->in[0]->shape;
  bool red[MAX_RANK];
  NN2C_ASSERT(axes_of(n, s.rank, red));
  for (int i = 0; i < s.rank; i++)
    if (red[i]) s.d[i] = 1;
  return s;
}

static const char *reduce_infer(Graph *g, Node *n) {
  Shape in = n->in[0]->shape, out = {0, {0}};
  bool red[MAX_RANK];
  const char *err = NULL;
  if (!reduced_axes(g, n, in.rank, red, &err)) return err;
  bool keep = node_int(n, "keepdims", 1) != 0;
  for (int i = 0; i < in.rank; i++) {
    if (!red[i])
      out.d[out.rank++] = in.d[i];
    else if (keep)
      out.d[out.rank++] = 1;
  }
  DType t = n->in[0]->dtype;
  if (t == DT_BOOL || t == DT_F16 || t == DT_BF16)
    return arena_printf(&g->arena, "%s does not take %s", op_name(n->op), dtype_name(t));
  n->out[0]->dtype = t;
  n->out[0]->shape = out;
  return NULL;
}

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

static double red_init(RedKind k) { return k == R_MAX ? -INFINITY : k == R_MIN ? INFINITY : k == R_PROD ? 1 : 0; }

static double red_step(RedKind k, double acc, double v) {
  switch (k) {
  case R_MAX:
    return fmax(acc, v);
  case R_MIN:
    return fmin(acc, v);
  case R_PROD:
    return acc * v;
  case R_L1:
    return acc + fabs(v);
  case R_L2:
  case R_SUM_SQUARE:
    return acc + v * v;
  case R_LOG_SUM_EXP:
    return acc + exp(v);
  default:
    return acc + v;
  }
}

static double red_final(RedKind k, double acc, double count) {
  switch (k) {
  case R_MEAN:
    return acc / count;
  case R_L2:
    return sqrt(acc);
  case R_LOG_SUM:
  case R_LOG_SUM_EXP:
    return log(acc);
  default:
    return acc;
  }
}

static void reduce_eval(Node *n, Tensor **in, Tensor **out, RedKind k) {
  bool red[MAX_RANK];
  NN2C_ASSERT(axes_of(n, in[0]->shape.rank, red));
  double *acc = xcalloc((size_t)out[0]->numel + 1, sizeof(double));
  for (int64_t i = 0; i < out[0]->numel; i++)
    acc[i] = red_init(k);
  for (int64_t i = 0; i < in[0]->numel; i++) {
    int64_t o = reduce_out_index(in[0]->shape, red, i);
    acc[o] = red_step(k, acc[o], tensor_get(in[0], i));
  }
  double count = out[0]->numel ? (double)in[0]->numel / (double)out[0]->numel : 1;
  for (int64_t i = 0; i < out[0]->numel; i++)
    tensor_set(out[0], i, red_final(k, acc[i], count));
  free(acc);
}

/* ---- gradients, from ordinary ops: dy and y reshaped to keepdims form
 * broadcast against x ---- */

static Value *expand_to(Graph *g, Value *v, Shape s) {
  Node *e = build_node(g, OP_EXPAND, 1, &v);
  node_set_ints(g, e, "shape", s.d, s.rank);
  return build_finish(g, e);
}

static Value *reduce_grad_common(Graph *g, Node *n, Value *dy) {
  return expand_to(g, build_reshape(g, dy, kept_shape(n)), n->in[0]->shape);
}

/* mean = sum / count; count involves N when a batch axis is reduced, so the
 * expand divides by it at run time (divide_by_count, count_of). */
static void mean_grad(Graph *g, Node *n, Value **dy, Value **dx) {
  Value *full = reduce_grad_common(g, n, dy[0]);
  Node *e = full->def;
  node_set_int(g, e, "divide_by_count", 1);
  node_set_ints(g, e, "count_of", n->in[0]->shape.d, n->in[0]->shape.rank);
  dx[0] = full;
}

static void reduce_grad(Graph *g, Node *n, Value **dy, Value **dx, RedKind k) {
  if (k == R_SUM) {
    dx[0] = reduce_grad_common(g, n, dy[0]);
    return;
  }
  if (k == R_MEAN) {
    mean_grad(g, n, dy, dx);
    return;
  }
  Value *x = n->in[0], *d = build_reshape(g, dy[0], kept_shape(n)), *y = build_reshape(g, n->out[0], kept_shape(n));
  Value *two = build_scalar(g, x->dtype, 2), *zero = build_scalar(g, x->dtype, 0), *r = NULL;
  switch (k) {
  case R_MAX:
  case R_MIN:
    r = build_where(g, build2(g, OP_EQUAL, x, y), d, zero);
    break; /* all maxima on ties */
  case R_PROD:
    r = build2(g, OP_DIV, build2(g, OP_MUL, d, y), x);
    break;
  case R_L1:
    r = build2(g, OP_MUL, d, build1(g, OP_SIGN, x));
    break;
  case R_L2:
    r = build2(g, OP_DIV, build2(g, OP_MUL, d, x), y);
    break;
  case R_LOG_SUM:
    r = build2(g, OP_DIV, d, build1(g, OP_EXP, y));
    break;
  case R_LOG_SUM_EXP:
    r = build2(g, OP_MUL, d, build1(g, OP_EXP, build2(g, OP_SUB, x, y)));
    break;
  case R_SUM_SQUARE:
    r = build2(g, OP_MUL, d, build2(g, OP_MUL, x, two));
    break;
  default:
    NN2C_ASSERT(!"reduction kind");
  }
  dx[0] = shape_eq(r->shape, x->shape) ? r : expand_to(g, r, x->shape);
}

/* ---- emission ---- */

/* The batch's rows summed into one row (training's bias gradients): RED_SLICES
 * fixed slices of the rows, each summed on its own (on the threads), then the
 * slices added in order, so the result does not depend on the thread count. */
#define RED_SLICES 8
static void reduce_emit_sliced(Emit *e, const char *X, const char *O, const char *r, const char *inner, bool mean) {
  emit_scope_open(e);
  emit_line(e, "float part[%d][%s];", RED_SLICES, inner);
  emit_line(e, "const size_t R = %s;", r);
  emit_line(e, "NN2C_PARALLEL_FOR_IF(R * %s)", inner);
  emit_open(e, "for (size_t sl = 0; sl < %d; sl++)", RED_SLICES);
  emit_line(e, "float acc[%s];", inner);
  emit_line(e, "memset(acc, 0, sizeof acc);");
  emit_line(e, "for (size_t k = R * sl / %d; k < R * (sl + 1) / %d; k++)", RED_SLICES, RED_SLICES);
  emit_line(e, "  for (size_t j = 0; j < %s; j++) acc[j] += %s[k * %s + j];", inner, X, inner);
  emit_line(e, "memcpy(part[sl], acc, sizeof acc);");
  emit_close(e);
  emit_open(e, "for (size_t j = 0; j < %s; j++)", inner);
  emit_line(e, "float s = part[0][j];");
  emit_line(e, "for (size_t sl = 1; sl < %d; sl++) s += part[sl][j];", RED_SLICES);
  emit_line(e, "%s[j] = s%s;", O, mean ? " / (float)(R)" : "");
  emit_close(e);
  emit_close(e);
}

/* Fast form for f32 sum/mean over one contiguous run of axes [lo, hi):
 * out[o][i] = sum_r in[o][r][i], float accumulation (training's bias
 * gradients and losses go through here). */
static void reduce_emit_contiguous(Emit *e, Node *n, bool mean, int lo, int hi) {
  Value *x = n->in[0], *o = n->out[0];
  int rank = x->shape.rank;
  const char *X = emit_ref(e, x), *O = emit_ref(e, o);
  const char *outer = emit_numel_range(e, x, 0, lo), *r = emit_numel_range(e, x, lo, hi);
  const char *inner = emit_numel_range(e, x, hi, rank);
  int64_t ninner = 1; /* -1: the kept trailing dims include the batch */
  for (int i = hi; i < rank; i++)
    ninner = x->shape.d[i] == DIM_BATCH || ninner < 0 ? -1 : ninner * x->shape.d[i];
  int64_t per_sample = ninner; /* elements summed per sample of the batch */
  for (int i = 1; i < hi; i++)
    per_sample *= x->shape.d[i] == DIM_BATCH ? 1 : x->shape.d[i];
  if (ninner >= 1 && ninner <= 1024 && lo == 0 && x->shape.d[0] == DIM_BATCH && per_sample >= 2048) {
    reduce_emit_sliced(e, X, O, r, inner, mean);
    return;
  }
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
  if (mean) emit_line(e, "for (size_t i = 0; i < %s; i++) %s[i] /= (float)(%s);", emit_numel(e, o), O, r);
}

/* General form: loops over the kept axes in order (so the output is written
 * sequentially), then over the reduced ones, accumulating in double (int64
 * for integers). max/min start from the row's first element. */
static void reduce_emit_general(Emit *e, Node *n, RedKind k, const bool *red) {
  Value *x = n->in[0], *o = n->out[0];
  int rank = x->shape.rank;
  DType t = x->dtype;
  const char *ty = emit_ctype(t), *acc = dtype_is_float(t) ? "double" : dtype_is_unsigned(t) ? "uint64_t" : "int64_t";
  Buf idx = {0}, first = {0}, count = {0};
  buf_puts(&idx, "0");
  buf_puts(&first, "0");
  buf_puts(&count, "1");
  for (int d = 0; d < rank; d++) {
    buf_printf(&idx, " + a%d * %s", d, emit_numel_range(e, x, d + 1, rank));
    if (!red[d])
      buf_printf(&first, " + a%d * %s", d, emit_numel_range(e, x, d + 1, rank));
    else
      buf_printf(&count, " * %s", emit_dim(e, x, d));
  }
  emit_open(e, "");
  emit_line(e, "size_t q = 0;");
  for (int d = 0; d < rank; d++)
    if (!red[d]) emit_open(e, "for (size_t a%d = 0; a%d < (size_t)%s; a%d++)", d, d, emit_dim(e, x, d), d);
  const char *X = emit_ref(e, x);
  if (k == R_MAX || k == R_MIN)
    emit_line(e, "%s r = %s[%s];", acc, X, first.data);
  else
    emit_line(e, "%s r = %s;", acc, k == R_PROD ? "1" : "0");
  for (int d = 0; d < rank; d++)
    if (red[d]) emit_open(e, "for (size_t a%d = 0; a%d < (size_t)%s; a%d++)", d, d, emit_dim(e, x, d), d);
  emit_line(e, "const %s p = %s[%s];", ty, X, idx.data);
  bool neg_ok = !dtype_is_unsigned(t);
  switch (k) {
  case R_MAX:
    emit_line(e, "if (p > r) r = p;");
    break;
  case R_MIN:
    emit_line(e, "if (p < r) r = p;");
    break;
  case R_PROD:
    emit_line(e, "r *= p;");
    break;
  case R_L1:
    emit_line(e, neg_ok ? "r += p < 0 ? -p : p;" : "r += p;");
    break;
  case R_L2:
  case R_SUM_SQUARE:
    emit_line(e, "r += (%s)p * p;", acc);
    break;
  case R_LOG_SUM_EXP:
    emit_line(e, "r += exp((double)p);");
    break;
  default:
    emit_line(e, "r += p;");
    break;
  }
  for (int d = 0; d < rank; d++)
    if (red[d]) emit_close(e);
  const char *fin = k == R_MEAN                            ? arena_printf(&e->g->arena, "r / (%s)(%s)", acc, count.data)
                    : k == R_L2                            ? "sqrt((double)r)"
                    : k == R_LOG_SUM || k == R_LOG_SUM_EXP ? "log((double)r)"
                                                           : "r";
  emit_line(e, "%s[q++] = (%s)(%s);", emit_ref(e, o), emit_ctype(o->dtype), fin);
  for (int d = 0; d < rank; d++)
    if (!red[d]) emit_close(e);
  emit_close(e);
  buf_free(&idx);
  buf_free(&first);
  buf_free(&count);
}

static void reduce_emit(Emit *e, Node *n, RedKind k) {
  Value *x = n->in[0];
  int rank = x->shape.rank, lo = -1, hi = -1;
  bool red[MAX_RANK], contiguous = true;
  NN2C_ASSERT(axes_of(n, rank, red));
  for (int i = 0; i < rank; i++)
    if (red[i]) {
      if (lo < 0) lo = i;
      hi = i + 1;
    }
  for (int i = lo; i < hi && lo >= 0; i++)
    contiguous = contiguous && red[i];
  if (lo < 0) {
    emit_line(e, "memcpy(%s, %s, sizeof(%s) * %s);", emit_ref(e, n->out[0]), emit_ref(e, x), emit_ctype(x->dtype),
              emit_numel(e, x));
    return;
  }
  if (contiguous && x->dtype == DT_F32 && (k == R_SUM || k == R_MEAN))
    reduce_emit_contiguous(e, n, k == R_MEAN, lo, hi);
  else
    reduce_emit_general(e, n, k, red);
}

#define REDUCE_HOOKS(name, kind)                                                                                       \
  const char *name##_infer(Graph *g, Node *n) { return reduce_infer(g, n); }                                           \
  void name##_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {                                                  \
    (void)cx;                                                                                                          \
    reduce_eval(n, in, out, kind);                                                                                     \
  }                                                                                                                    \
  void name##_grad(Graph *g, Node *n, Value **dy, Value **dx) { reduce_grad(g, n, dy, dx, kind); }                     \
  void name##_emit(Emit *e, Node *n) { reduce_emit(e, n, kind); }

REDUCE_HOOKS(reduce_sum, R_SUM)
REDUCE_HOOKS(reduce_mean, R_MEAN)
REDUCE_HOOKS(reduce_max, R_MAX)
REDUCE_HOOKS(reduce_min, R_MIN)
REDUCE_HOOKS(reduce_prod, R_PROD)
REDUCE_HOOKS(reduce_l1, R_L1)
REDUCE_HOOKS(reduce_l2, R_L2)
REDUCE_HOOKS(reduce_log_sum, R_LOG_SUM)
REDUCE_HOOKS(reduce_log_sum_exp, R_LOG_SUM_EXP)
REDUCE_HOOKS(reduce_sum_square, R_SUM_SQUARE)

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
    } else if (s.d[i] < 0)
      return "reshape: negative extent in shape";
    if (s.d[i] == DIM_BATCH)
      batch = true;
    else
      known *= s.d[i];
  }
  int64_t total = shape_numel_static(in);
  if (infer >= 0) {
    if (shape_has_batch(in) && !batch)
      s.d[infer] = known == total ? DIM_BATCH : -2;
    else
      s.d[infer] = known && total % known == 0 ? total / known : -2;
  }
  if ((infer >= 0 && s.d[infer] == -2) || shape_has_batch(s) != shape_has_batch(in) || shape_numel_static(s) != total)
    return arena_printf(&g->arena, "cannot reshape %s to %s", shape_str(&g->arena, in),
                        shape_str(&g->arena, attr_shape(n, "shape")));
  n->out[0]->dtype = n->in[0]->dtype;
  n->out[0]->shape = s;
  return NULL;
}

void reshape_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx, (void)n;
  for (int64_t i = 0; i < out[0]->numel; i++)
    tensor_set(out[0], i, tensor_get(in[0], i));
}

void reshape_grad(Graph *g, Node *n, Value **dy, Value **dx) { dx[0] = build_reshape(g, dy[0], n->in[0]->shape); }

void reshape_emit(Emit *e, Node *n) {
  emit_line(e, "memcpy(%s, %s, sizeof(%s) * %s);", emit_ref(e, n->out[0]), emit_ref(e, n->in[0]),
            emit_ctype(n->in[0]->dtype), emit_numel(e, n->in[0]));
}
