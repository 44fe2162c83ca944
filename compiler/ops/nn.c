/* nn.c - softmax, log_softmax and hardmax along an axis, the softmax
 * gradient ops, and dropout.
 *
 * Geometry: opset 13 (default): softmax over axis `axis` (default -1), the
 * tensor seen as [outer, C, inner] around it. legacy_2d=1 (ONNX opset < 13,
 * the importer sets it): the input is coerced to 2-D at `axis` (default 1),
 * i.e. softmax over all the axes from `axis` on: [outer, C, 1]. The
 * gradient ops carry the forward node's attributes. */
#include "op.h"

#include <math.h>

typedef struct {
  int axis;    /* first axis of the softmax */
  bool legacy; /* C spans axes [axis, rank) */
} Geo;

static Geo geo_of(const Node *n, int rank) {
  bool legacy = node_int(n, "legacy_2d", 0) != 0;
  Geo g = {normalize_axis(node_int(n, "axis", legacy ? 1 : -1), rank), legacy};
  return g;
}

static int c_end(Geo g, int rank) { return g.legacy ? rank : g.axis + 1; }

static const char *axis_op_infer(Graph *g, Node *n) {
  Value *x = n->in[0];
  if (x->shape.rank < 1) return "needs an input of rank >= 1";
  if (geo_of(n, x->shape.rank).axis < 0)
    return arena_printf(&g->arena, "axis %lld out of range for rank %d", (long long)node_int(n, "axis", -1),
                        x->shape.rank);
  for (int i = 1; i < n->nin; i++)
    if (!shape_eq(n->in[i]->shape, x->shape)) return "gradient operands must have the same shape";
  if (x->dtype != DT_F32 && x->dtype != DT_F64) return "needs f32 or f64";
  n->out[0]->dtype = x->dtype;
  n->out[0]->shape = x->shape;
  return NULL;
}

const char *softmax_infer(Graph *g, Node *n) { return axis_op_infer(g, n); }
const char *log_softmax_infer(Graph *g, Node *n) { return axis_op_infer(g, n); }
const char *hardmax_infer(Graph *g, Node *n) { return axis_op_infer(g, n); }
const char *softmax_grad_infer(Graph *g, Node *n) { return axis_op_infer(g, n); }
const char *log_softmax_grad_infer(Graph *g, Node *n) { return axis_op_infer(g, n); }

/* ---- interpreter: each row (o, i) is C elements apart by `inner` ---- */

typedef struct {
  int64_t outer, c, inner;
} Rows;

static Rows rows_of(const Node *n, const Tensor *t) {
  Geo g = geo_of(n, t->shape.rank);
  Rows r = {1, 1, 1};
  for (int a = 0; a < t->shape.rank; a++) {
    if (a < g.axis)
      r.outer *= t->shape.d[a];
    else if (a < c_end(g, t->shape.rank))
      r.c *= t->shape.d[a];
    else
      r.inner *= t->shape.d[a];
  }
  return r;
}

typedef enum { K_SOFTMAX, K_LOG_SOFTMAX, K_HARDMAX } AxisKind;

static void axis_rows(const Node *n, Tensor **in, Tensor **out, AxisKind kind) {
  Rows r = rows_of(n, in[0]);
  for (int64_t o = 0; o < r.outer; o++)
    for (int64_t i = 0; i < r.inner; i++) {
      int64_t base = o * r.c * r.inner + i, best = 0;
      double mx = -INFINITY, sum = 0;
      for (int64_t j = 0; j < r.c; j++) {
        double v = tensor_get(in[0], base + j * r.inner);
        if (v > mx) mx = v, best = j;
      }
      for (int64_t j = 0; j < r.c; j++)
        sum += exp(tensor_get(in[0], base + j * r.inner) - mx);
      for (int64_t j = 0; j < r.c; j++) {
        double z = tensor_get(in[0], base + j * r.inner) - mx;
        double y = kind == K_HARDMAX ? j == best : kind == K_LOG_SOFTMAX ? z - log(sum) : exp(z) / sum;
        tensor_set(out[0], base + j * r.inner, y);
      }
    }
}

void softmax_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx;
  axis_rows(n, in, out, K_SOFTMAX);
}
void log_softmax_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx;
  axis_rows(n, in, out, K_LOG_SOFTMAX);
}
void hardmax_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx;
  axis_rows(n, in, out, K_HARDMAX);
}

/* softmax: dx = y (dy - sum(dy y));  log_softmax: dx = dy - exp(y) sum(dy) */
static void softmax_grad_rows(const Node *n, Tensor **in, Tensor **out, bool log_form) {
  Rows r = rows_of(n, in[0]);
  for (int64_t o = 0; o < r.outer; o++)
    for (int64_t i = 0; i < r.inner; i++) {
      int64_t base = o * r.c * r.inner + i;
      double s = 0;
      for (int64_t j = 0; j < r.c; j++)
        s += tensor_get(in[0], base + j * r.inner) * (log_form ? 1 : tensor_get(in[1], base + j * r.inner));
      for (int64_t j = 0; j < r.c; j++) {
        double dy = tensor_get(in[0], base + j * r.inner), y = tensor_get(in[1], base + j * r.inner);
        tensor_set(out[0], base + j * r.inner, log_form ? dy - exp(y) * s : y * (dy - s));
      }
    }
}

void softmax_grad_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx;
  softmax_grad_rows(n, in, out, false);
}
void log_softmax_grad_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx;
  softmax_grad_rows(n, in, out, true);
}

static Value *grad_op(Graph *g, Node *n, OpKind op, Value *dy) {
  Value *in[2] = {dy, n->out[0]};
  Node *k = build_node(g, op, 2, in);
  node_copy_attrs(g, k, n);
  return build_finish(g, k);
}
void softmax_grad(Graph *g, Node *n, Value **dy, Value **dx) { dx[0] = grad_op(g, n, OP_SOFTMAX_GRAD, dy[0]); }
void log_softmax_grad(Graph *g, Node *n, Value **dy, Value **dx) { dx[0] = grad_op(g, n, OP_LOG_SOFTMAX_GRAD, dy[0]); }
void hardmax_grad(Graph *g, Node *n, Value **dy, Value **dx) { ew_no_grad(g, n, dy, dx); } /* piecewise constant */
void softmax_grad_grad(Graph *g, Node *n, Value **dy, Value **dx) {
  (void)g, (void)n, (void)dy, (void)dx;
  NN2C_ASSERT(!"no second derivatives");
}
void log_softmax_grad_grad(Graph *g, Node *n, Value **dy, Value **dx) {
  (void)g, (void)n, (void)dy, (void)dx;
  NN2C_ASSERT(!"no second derivatives");
}

/* ---- emission: loops over (i outer, j inner); element c of a row is
 * p[c * inner], written P(c) below. Each row takes three short passes. ---- */

typedef struct {
  const char *c, *inner, *ty, *sfx, *exp; /* exp: nn2c_expf for f32 (templates/fast_math.c.in) */
} RowCode;

static RowCode open_rows(Emit *e, Node *n, Value *x) {
  Geo g = geo_of(n, x->shape.rank);
  int end = c_end(g, x->shape.rank);
  RowCode rc = {emit_numel_range(e, x, g.axis, end), emit_numel_range(e, x, end, x->shape.rank), emit_ctype(x->dtype),
                x->dtype == DT_F32 ? "f" : "", x->dtype == DT_F32 ? "nn2c_expf" : "exp"};
  emit_open(e, "for (size_t i = 0; i < %s; i++)", emit_numel_range(e, x, 0, g.axis));
  emit_open(e, "for (size_t j = 0; j < %s; j++)", rc.inner);
  return rc;
}

#define AT(v) arena_printf(&e->g->arena, "%s[k * %s]", v, rc.inner)

static void axis_emit(Emit *e, Node *n, AxisKind kind) {
  Value *x = n->in[0], *o = n->out[0];
  RowCode rc = open_rows(e, n, x);
  const char *P = AT("p"), *Q = AT("q");
  emit_line(e, "const %s *p = %s + i * %s * %s + j;", rc.ty, emit_ref(e, x), rc.c, rc.inner);
  emit_line(e, "%s *q = %s + i * %s * %s + j;", rc.ty, emit_ref(e, o), rc.c, rc.inner);
  emit_line(e, "%s mx = p[0], sum = 0;", rc.ty);
  emit_line(e, "size_t bi = 0;");
  emit_line(e, "for (size_t k = 1; k < %s; k++) if (%s > mx) { mx = %s; bi = k; }", rc.c, P, P);
  emit_line(e, "(void)bi, (void)sum;");
  if (kind == K_HARDMAX) {
    emit_line(e, "for (size_t k = 0; k < %s; k++) %s = k == bi;", rc.c, Q);
  } else if (kind == K_LOG_SOFTMAX) {
    emit_line(e, "for (size_t k = 0; k < %s; k++) sum += %s(%s - mx);", rc.c, rc.exp, P);
    emit_line(e, "const %s lse = mx + log%s(sum);", rc.ty, rc.sfx);
    emit_line(e, "for (size_t k = 0; k < %s; k++) %s = %s - lse;", rc.c, Q, P);
  } else {
    emit_line(e, "for (size_t k = 0; k < %s; k++) { %s = %s(%s - mx); sum += %s; }", rc.c, Q, rc.exp, P, Q);
    emit_line(e, "for (size_t k = 0; k < %s; k++) %s /= sum;", rc.c, Q);
  }
  emit_close(e);
  emit_close(e);
}

void softmax_emit(Emit *e, Node *n) { axis_emit(e, n, K_SOFTMAX); }
void log_softmax_emit(Emit *e, Node *n) { axis_emit(e, n, K_LOG_SOFTMAX); }
void hardmax_emit(Emit *e, Node *n) { axis_emit(e, n, K_HARDMAX); }

static void softmax_grad_emit_common(Emit *e, Node *n, bool log_form) {
  Value *dy = n->in[0], *y = n->in[1], *o = n->out[0];
  RowCode rc = open_rows(e, n, y);
  const char *P = AT("p"), *Q = AT("q"), *R = AT("r");
  emit_line(e, "const %s *p = %s + i * %s * %s + j, *q = %s + i * %s * %s + j;", rc.ty, emit_ref(e, dy), rc.c, rc.inner,
            emit_ref(e, y), rc.c, rc.inner);
  emit_line(e, "%s *r = %s + i * %s * %s + j;", rc.ty, emit_ref(e, o), rc.c, rc.inner);
  emit_line(e, "%s s = 0;", rc.ty);
  if (log_form) {
    emit_line(e, "for (size_t k = 0; k < %s; k++) s += %s;", rc.c, P);
    emit_line(e, "for (size_t k = 0; k < %s; k++) %s = %s - %s(%s) * s;", rc.c, R, P, rc.exp, Q);
  } else {
    emit_line(e, "for (size_t k = 0; k < %s; k++) s += %s * %s;", rc.c, P, Q);
    emit_line(e, "for (size_t k = 0; k < %s; k++) %s = %s * (%s - s);", rc.c, R, Q, P);
  }
  emit_close(e);
  emit_close(e);
}

void softmax_grad_emit(Emit *e, Node *n) { softmax_grad_emit_common(e, n, false); }
void log_softmax_grad_emit(Emit *e, Node *n) { softmax_grad_emit_common(e, n, true); }

/* ---- dropout: y = x * mask, mask = keep / (1 - rate). The keep decision
 * for element i at step t is a pure function of (seed, t, i), so the
 * interpreter and emitted code draw the same masks without sharing state:
 *   z = splitmix64_finalize(i + 0x9E3779B97F4A7C15 (t + 1) + 0xD1B54A32D192ED03 (seed + 1))
 *   keep = (z >> 40) * 2^-24 >= rate ---- */

const char *dropout_infer(Graph *g, Node *n) {
  double rate = node_float(n, "rate", 0.5);
  if (!(rate >= 0 && rate < 1)) return arena_printf(&g->arena, "dropout rate must be in [0, 1), got %g", rate);
  if (n->in[0]->dtype != DT_F32 && n->in[0]->dtype != DT_F64) return "dropout needs f32 or f64";
  for (int i = 0; i < 2; i++) {
    n->out[i]->dtype = n->in[0]->dtype;
    n->out[i]->shape = n->in[0]->shape;
  }
  return NULL;
}

static uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

void dropout_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  double rate = node_float(n, "rate", 0.5);
  uint64_t seed = (uint64_t)node_int(n, "seed", 0);
  for (int64_t i = 0; i < in[0]->numel; i++) {
    uint64_t z = mix64((uint64_t)i + 0x9E3779B97F4A7C15ULL * (cx->step + 1) + 0xD1B54A32D192ED03ULL * (seed + 1));
    double u = (double)(z >> 40) / 16777216.0;
    double m = u >= rate ? 1.0 / (1.0 - rate) : 0.0;
    tensor_set(out[1], i, m);
    tensor_set(out[0], i, tensor_get(in[0], i) * m);
  }
}

void dropout_grad(Graph *g, Node *n, Value **dy, Value **dx) {
  if (dy[0]) dx[0] = build2(g, OP_MUL, dy[0], n->out[1]);
}

/* The mask function is emitted once per model file as nn2c_keep() (codegen). */
void dropout_emit(Emit *e, Node *n) {
  double rate = node_float(n, "rate", 0.5);
  const char *X = emit_ref(e, n->in[0]), *Y = emit_ref(e, n->out[0]), *M = emit_ref(e, n->out[1]);
  emit_open(e, "for (size_t i = 0; i < %s; i++)", emit_numel(e, n->in[0]));
  emit_line(e, "%s[i] = dropout_keep(i, m->step, %lluu, %.9g) ? %s : 0.0f;", M,
            (unsigned long long)node_int(n, "seed", 0), rate, emit_float(e, 1.0 / (1.0 - rate)));
  emit_line(e, "%s[i] = %s[i] * %s[i];", Y, X, M);
  emit_close(e);
}
