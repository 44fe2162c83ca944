/* select.c - ops along one axis: arg_max, arg_min (int64 indices), top_k
 * (values and int64 indices, k an attribute) with its gradient op
 * top_k_grad, and cum_sum (axis an attribute). A tensor is seen as
 * [outer, len, inner] around the axis; every row (outer, inner) is
 * processed on its own. */
#include "op.h"

#include <math.h>

typedef struct {
  int axis;
  int64_t outer, len, inner;
} Rows;

/* Rows of a concrete (interpreter) shape. */
static Rows rows_of(Shape s, int axis) {
  Rows r = {axis, 1, s.d[axis], 1};
  for (int i = 0; i < s.rank; i++) {
    if (i < axis) r.outer *= s.d[i];
    if (i > axis) r.inner *= s.d[i];
  }
  return r;
}

static int64_t at(Rows r, int64_t o, int64_t k, int64_t i) { return (o * r.len + k) * r.inner + i; }

/* Emitted loops over the rows: i over outer, j over inner; declares P (and Q, R) row pointers. */
static void open_rows(Emit *e, Value *x, int axis) {
  emit_open(e, "for (size_t i = 0; i < %s; i++)", emit_numel_range(e, x, 0, axis));
  emit_open(e, "for (size_t j = 0; j < %s; j++)", emit_numel_range(e, x, axis + 1, x->shape.rank));
}

static const char *acc_ctype(DType t) {
  return dtype_is_float(t) ? "double" : dtype_is_unsigned(t) ? "uint64_t" : "int64_t";
}

static const char *axis_infer(Graph *g, Node *n, int64_t dflt, int *axis) {
  Value *x = n->in[0];
  int64_t a = node_int(n, "axis", dflt);
  *axis = normalize_axis(a, x->shape.rank);
  if (*axis < 0) return arena_printf(&g->arena, "axis %lld out of range for rank %d", (long long)a, x->shape.rank);
  if (x->dtype == DT_F16 || x->dtype == DT_BF16)
    return arena_printf(&g->arena, "%s is not supported", dtype_name(x->dtype));
  return NULL;
}

/* ---- arg_max / arg_min(x, axis=0, keepdims=1, select_last_index=0) -> i64 ---- */

static const char *arg_infer(Graph *g, Node *n) {
  int axis;
  const char *err = axis_infer(g, n, 0, &axis);
  if (err) return err;
  Shape s = n->in[0]->shape;
  if (s.d[axis] == 0) return "arg_max/arg_min of an empty axis";
  if (node_int(n, "keepdims", 1))
    s.d[axis] = 1;
  else {
    for (int i = axis; i + 1 < s.rank; i++)
      s.d[i] = s.d[i + 1];
    s.rank--;
  }
  n->out[0]->dtype = DT_I64;
  n->out[0]->shape = s;
  return NULL;
}
const char *arg_max_infer(Graph *g, Node *n) { return arg_infer(g, n); }
const char *arg_min_infer(Graph *g, Node *n) { return arg_infer(g, n); }

static void arg_eval(Node *n, Tensor **in, Tensor **out, double sign) {
  Rows r = rows_of(in[0]->shape, normalize_axis(node_int(n, "axis", 0), in[0]->shape.rank));
  bool last = node_int(n, "select_last_index", 0) != 0;
  for (int64_t o = 0; o < r.outer; o++)
    for (int64_t i = 0; i < r.inner; i++) {
      int64_t best = 0;
      double bv = sign * tensor_get(in[0], at(r, o, 0, i));
      for (int64_t k = 1; k < r.len; k++) {
        double v = sign * tensor_get(in[0], at(r, o, k, i));
        if (v > bv || (last && v == bv)) best = k, bv = v;
      }
      tensor_set(out[0], o * r.inner + i, (double)best);
    }
}
void arg_max_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx;
  arg_eval(n, in, out, 1);
}
void arg_min_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx;
  arg_eval(n, in, out, -1);
}

static void arg_emit(Emit *e, Node *n, const char *cmp) {
  Value *x = n->in[0];
  int axis = normalize_axis(node_int(n, "axis", 0), x->shape.rank);
  const char *len = emit_dim(e, x, axis), *inner = emit_numel_range(e, x, axis + 1, x->shape.rank);
  const char *ty = emit_ctype(x->dtype), *eq = node_int(n, "select_last_index", 0) ? "=" : "";
  open_rows(e, x, axis);
  emit_line(e, "const %s *p = %s + i * %s * %s + j;", ty, emit_ref(e, x), len, inner);
  emit_line(e, "size_t bi = 0;");
  emit_line(e, "for (size_t k = 1; k < %s; k++) if (p[k * %s] %s%s p[bi * %s]) bi = k;", len, inner, cmp, eq, inner);
  emit_line(e, "%s[i * %s + j] = (int64_t)bi;", emit_ref(e, n->out[0]), inner);
  emit_close(e);
  emit_close(e);
}
void arg_max_emit(Emit *e, Node *n) { arg_emit(e, n, ">"); }
void arg_min_emit(Emit *e, Node *n) { arg_emit(e, n, "<"); }
void arg_max_grad(Graph *g, Node *n, Value **dy, Value **dx) { ew_no_grad(g, n, dy, dx); }
void arg_min_grad(Graph *g, Node *n, Value **dy, Value **dx) { ew_no_grad(g, n, dy, dx); }

/* ---- top_k(x, k, axis=-1, largest=1, sorted=1) -> values, i64 indices.
 * Always sorted; equal values keep their order (the lower index first). ---- */

const char *top_k_infer(Graph *g, Node *n) {
  int axis;
  const char *err = axis_infer(g, n, -1, &axis);
  if (err) return err;
  Shape s = n->in[0]->shape;
  int64_t k = node_int(n, "k", -1);
  if (!node_attr(n, "k") || k < 0 || s.d[axis] == DIM_BATCH || k > s.d[axis])
    return arena_printf(&g->arena, "top_k needs k=<0..%lld> along a fixed axis", (long long)s.d[axis]);
  if (n->in[0]->dtype == DT_BOOL) return "top_k of bool";
  s.d[axis] = k;
  n->out[0]->dtype = n->in[0]->dtype;
  n->out[1]->dtype = DT_I64;
  n->out[0]->shape = n->out[1]->shape = s;
  return NULL;
}

void top_k_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx;
  Rows r = rows_of(in[0]->shape, normalize_axis(node_int(n, "axis", -1), in[0]->shape.rank));
  int64_t k = node_int(n, "k", 0), *idx = xcalloc((size_t)r.len + 1, sizeof(int64_t));
  double sign = node_int(n, "largest", 1) ? 1 : -1;
  for (int64_t o = 0; o < r.outer; o++)
    for (int64_t i = 0; i < r.inner; i++) {
      for (int64_t a = 0; a < r.len; a++) { /* insertion sort of the row's indices, stable */
        double v = sign * tensor_get(in[0], at(r, o, a, i));
        int64_t b = a;
        for (; b > 0 && v > sign * tensor_get(in[0], at(r, o, idx[b - 1], i)); b--)
          idx[b] = idx[b - 1];
        idx[b] = a;
      }
      for (int64_t a = 0; a < k; a++) {
        int64_t dst = (o * k + a) * r.inner + i;
        tensor_set(out[0], dst, tensor_get(in[0], at(r, o, idx[a], i)));
        tensor_set(out[1], dst, (double)idx[a]);
      }
    }
  free(idx);
}

/* Each row keeps its best k so far in the output, sorted; a new element moves
 * in after those it does not beat. */
void top_k_emit(Emit *e, Node *n) {
  Value *x = n->in[0];
  int axis = normalize_axis(node_int(n, "axis", -1), x->shape.rank);
  int64_t k = node_int(n, "k", 0);
  if (k == 0) return;
  const char *len = emit_dim(e, x, axis), *inner = emit_numel_range(e, x, axis + 1, x->shape.rank);
  const char *ty = emit_ctype(x->dtype), *cmp = node_int(n, "largest", 1) ? ">" : "<";
  open_rows(e, x, axis);
  emit_line(e, "const %s *p = %s + i * %s * %s + j;", ty, emit_ref(e, x), len, inner);
  emit_line(e, "%s *q = %s + i * %lld * %s + j;", ty, emit_ref(e, n->out[0]), (long long)k, inner);
  emit_line(e, "int64_t *r = %s + i * %lld * %s + j;", emit_ref(e, n->out[1]), (long long)k, inner);
  emit_line(e, "size_t cnt = 0;");
  emit_open(e, "for (size_t k = 0; k < %s; k++)", len);
  emit_line(e, "const %s bv = p[k * %s];", ty, inner);
  emit_line(e, "size_t t = cnt;");
  emit_line(e, "while (t > 0 && bv %s q[(t - 1) * %s]) t--;", cmp, inner);
  emit_line(e, "if (t >= %lld) continue;", (long long)k);
  emit_line(e,
            "for (size_t u = cnt < %lld ? cnt : %lld; u > t; u--) { q[u * %s] = q[(u - 1) * %s]; r[u * %s] = r[(u - 1) "
            "* %s]; }",
            (long long)k, (long long)k - 1, inner, inner, inner, inner);
  emit_line(e, "q[t * %s] = bv;", inner);
  emit_line(e, "r[t * %s] = (int64_t)k;", inner);
  emit_line(e, "if (cnt < %lld) cnt++;", (long long)k);
  emit_close(e);
  emit_close(e);
  emit_close(e);
}

/* dx: dy scattered back to the selected positions, zeros elsewhere. */
void top_k_grad(Graph *g, Node *n, Value **dy, Value **dx) {
  if (!dy[0]) return;
  Value *in[2] = {dy[0], n->out[1]};
  Node *t = build_node(g, OP_TOP_K_GRAD, 2, in);
  node_set_int(g, t, "axis", normalize_axis(node_int(n, "axis", -1), n->in[0]->shape.rank));
  node_set_ints(g, t, "shape", n->in[0]->shape.d, n->in[0]->shape.rank);
  dx[0] = build_finish(g, t);
}

const char *top_k_grad_infer(Graph *g, Node *n) {
  (void)g;
  const Attr *a = node_attr(n, "shape");
  if (!a || a->type != AT_INTS || a->n != n->in[0]->shape.rank) return "top_k_grad needs shape=[...] of dy's rank";
  n->out[0]->dtype = n->in[0]->dtype;
  n->out[0]->shape = shape_make(a->n, a->ints);
  return NULL;
}

void top_k_grad_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx;
  int axis = (int)node_int(n, "axis", 0);
  Rows r = rows_of(out[0]->shape, axis), rk = rows_of(in[0]->shape, axis);
  for (int64_t i = 0; i < out[0]->numel; i++)
    tensor_set(out[0], i, 0);
  for (int64_t o = 0; o < rk.outer; o++)
    for (int64_t k = 0; k < rk.len; k++)
      for (int64_t i = 0; i < rk.inner; i++) {
        int64_t src = at(rk, o, k, i), dst = at(r, o, (int64_t)tensor_get(in[1], src), i);
        tensor_set(out[0], dst, tensor_get(out[0], dst) + tensor_get(in[0], src));
      }
}

void top_k_grad_emit(Emit *e, Node *n) {
  Value *o = n->out[0];
  int axis = (int)node_int(n, "axis", 0);
  const char *len = emit_dim(e, o, axis), *inner = emit_numel_range(e, o, axis + 1, o->shape.rank);
  const char *k = emit_dim(e, n->in[0], axis), *ty = emit_ctype(o->dtype);
  emit_line(e, "memset(%s, 0, sizeof(%s) * %s);", emit_ref(e, o), ty, emit_numel(e, o));
  open_rows(e, o, axis);
  emit_line(e, "const %s *p = %s + i * %s * %s + j;", ty, emit_ref(e, n->in[0]), k, inner);
  emit_line(e, "const int64_t *r = %s + i * %s * %s + j;", emit_ref(e, n->in[1]), k, inner);
  emit_line(e, "%s *q = %s + i * %s * %s + j;", ty, emit_ref(e, o), len, inner);
  emit_line(e, "for (size_t k = 0; k < %s; k++) q[(size_t)r[k * %s] * %s] += p[k * %s];", k, inner, inner, inner);
  emit_close(e);
  emit_close(e);
}

void top_k_grad_grad(Graph *g, Node *n, Value **dy, Value **dx) {
  (void)g, (void)n, (void)dy, (void)dx;
  NN2C_ASSERT(!"no second derivatives");
}

/* ---- cum_sum(x, axis=0, exclusive=0, reverse=0) ---- */

const char *cum_sum_infer(Graph *g, Node *n) {
  int axis;
  const char *err = axis_infer(g, n, 0, &axis);
  if (err) return err;
  if (n->in[0]->dtype == DT_BOOL) return "cum_sum of bool";
  n->out[0]->dtype = n->in[0]->dtype;
  n->out[0]->shape = n->in[0]->shape;
  return NULL;
}

void cum_sum_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx;
  Rows r = rows_of(in[0]->shape, normalize_axis(node_int(n, "axis", 0), in[0]->shape.rank));
  bool excl = node_int(n, "exclusive", 0), rev = node_int(n, "reverse", 0);
  for (int64_t o = 0; o < r.outer; o++)
    for (int64_t i = 0; i < r.inner; i++) {
      double acc = 0;
      for (int64_t s = 0; s < r.len; s++) {
        int64_t k = rev ? r.len - 1 - s : s;
        double v = tensor_get(in[0], at(r, o, k, i));
        tensor_set(out[0], at(r, o, k, i), excl ? acc : acc + v);
        acc += v;
      }
    }
}

void cum_sum_emit(Emit *e, Node *n) {
  Value *x = n->in[0];
  int axis = normalize_axis(node_int(n, "axis", 0), x->shape.rank);
  const char *len = emit_dim(e, x, axis), *inner = emit_numel_range(e, x, axis + 1, x->shape.rank);
  const char *ty = emit_ctype(x->dtype);
  bool excl = node_int(n, "exclusive", 0), rev = node_int(n, "reverse", 0);
  open_rows(e, x, axis);
  emit_line(e, "const %s *p = %s + i * %s * %s + j;", ty, emit_ref(e, x), len, inner);
  emit_line(e, "%s *q = %s + i * %s * %s + j;", ty, emit_ref(e, n->out[0]), len, inner);
  emit_line(e, "%s acc = 0;", acc_ctype(x->dtype));
  emit_open(e, "for (size_t u = 0; u < %s; u++)", len);
  emit_line(e, "const size_t k = %s;", rev ? arena_printf(&e->g->arena, "%s - 1 - u", len) : "u");
  if (excl) emit_line(e, "q[k * %s] = (%s)acc;", inner, ty);
  emit_line(e, "acc += p[k * %s];", inner);
  if (!excl) emit_line(e, "q[k * %s] = (%s)acc;", inner, ty);
  emit_close(e);
  emit_close(e);
  emit_close(e);
}

/* The gradient of a running sum is the running sum the other way. */
void cum_sum_grad(Graph *g, Node *n, Value **dy, Value **dx) {
  Node *c = build_node(g, OP_CUM_SUM, 1, dy);
  node_copy_attrs(g, c, n);
  node_set_int(g, c, "reverse", !node_int(n, "reverse", 0));
  dx[0] = build_finish(g, c);
}
