/* nn.c - softmax and log_softmax over the last axis with their gradient ops,
 * and dropout. */
#include "op.h"

#include <math.h>

static const char *last_axis_infer(Graph *g, Node *n) {
  Value *x = n->in[0];
  if (x->shape.rank < 1) return "needs an input of rank >= 1";
  if (normalize_axis(node_int(n, "axis", -1), x->shape.rank) != x->shape.rank - 1)
    return arena_printf(&g->arena, "only the last axis is supported (axis=%lld)", (long long)node_int(n, "axis", -1));
  for (int i = 1; i < n->nin; i++)
    if (!shape_eq(n->in[i]->shape, x->shape)) return "gradient operands must have the same shape";
  if (x->dtype != DT_F32 && x->dtype != DT_F64) return "needs f32 or f64";
  n->out[0]->dtype = x->dtype;
  n->out[0]->shape = x->shape;
  return NULL;
}

const char *softmax_infer(Graph *g, Node *n) { return last_axis_infer(g, n); }
const char *log_softmax_infer(Graph *g, Node *n) { return last_axis_infer(g, n); }
const char *softmax_grad_infer(Graph *g, Node *n) { return last_axis_infer(g, n); }
const char *log_softmax_grad_infer(Graph *g, Node *n) { return last_axis_infer(g, n); }

static int64_t row_len(const Tensor *t) { return t->shape.d[t->shape.rank - 1]; }

static void softmax_rows(Tensor **in, Tensor **out, bool log_form) {
  int64_t c = row_len(in[0]), rows = in[0]->numel / (c ? c : 1);
  for (int64_t r = 0; r < rows; r++) {
    double mx = -INFINITY, sum = 0;
    for (int64_t j = 0; j < c; j++) mx = fmax(mx, tensor_get(in[0], r * c + j));
    for (int64_t j = 0; j < c; j++) sum += exp(tensor_get(in[0], r * c + j) - mx);
    for (int64_t j = 0; j < c; j++) {
      double z = tensor_get(in[0], r * c + j) - mx;
      tensor_set(out[0], r * c + j, log_form ? z - log(sum) : exp(z) / sum);
    }
  }
}

void softmax_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) { (void)cx, (void)n; softmax_rows(in, out, false); }
void log_softmax_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) { (void)cx, (void)n; softmax_rows(in, out, true); }

/* softmax: dx = y (dy - sum(dy y));  log_softmax: dx = dy - exp(y) sum(dy) */
static void softmax_grad_rows(Tensor **in, Tensor **out, bool log_form) {
  int64_t c = row_len(in[0]), rows = in[0]->numel / (c ? c : 1);
  for (int64_t r = 0; r < rows; r++) {
    double s = 0;
    for (int64_t j = 0; j < c; j++)
      s += tensor_get(in[0], r * c + j) * (log_form ? 1 : tensor_get(in[1], r * c + j));
    for (int64_t j = 0; j < c; j++) {
      double dy = tensor_get(in[0], r * c + j), y = tensor_get(in[1], r * c + j);
      tensor_set(out[0], r * c + j, log_form ? dy - exp(y) * s : y * (dy - s));
    }
  }
}

void softmax_grad_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx, (void)n;
  softmax_grad_rows(in, out, false);
}
void log_softmax_grad_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx, (void)n;
  softmax_grad_rows(in, out, true);
}

void softmax_grad(Graph *g, Node *n, Value **dy, Value **dx) { dx[0] = build2(g, OP_SOFTMAX_GRAD, dy[0], n->out[0]); }
void log_softmax_grad(Graph *g, Node *n, Value **dy, Value **dx) {
  dx[0] = build2(g, OP_LOG_SOFTMAX_GRAD, dy[0], n->out[0]);
}
void softmax_grad_grad(Graph *g, Node *n, Value **dy, Value **dx) {
  (void)g, (void)n, (void)dy, (void)dx;
  NN2C_ASSERT(!"no second derivatives");
}
void log_softmax_grad_grad(Graph *g, Node *n, Value **dy, Value **dx) {
  (void)g, (void)n, (void)dy, (void)dx;
  NN2C_ASSERT(!"no second derivatives");
}

/* Each row is written in three short passes: max, exp-sum, normalize. */
static void softmax_emit_common(Emit *e, Node *n, bool log_form) {
  Value *x = n->in[0], *o = n->out[0];
  const char *C = emit_dim(e, x, x->shape.rank - 1), *X = emit_ref(e, x), *O = emit_ref(e, o);
  emit_open(e, "for (size_t i = 0; i < %s; i++)", emit_numel_range(e, x, 0, x->shape.rank - 1));
  emit_line(e, "const float *p = %s + i * %s;", X, C);
  emit_line(e, "float *q = %s + i * %s;", O, C);
  emit_line(e, "float mx = p[0], sum = 0.0f;");
  emit_line(e, "for (size_t j = 1; j < %s; j++) mx = p[j] > mx ? p[j] : mx;", C);
  if (log_form) {
    emit_line(e, "for (size_t j = 0; j < %s; j++) sum += expf(p[j] - mx);", C);
    emit_line(e, "const float lse = mx + logf(sum);");
    emit_line(e, "for (size_t j = 0; j < %s; j++) q[j] = p[j] - lse;", C);
  } else {
    emit_line(e, "for (size_t j = 0; j < %s; j++) { q[j] = expf(p[j] - mx); sum += q[j]; }", C);
    emit_line(e, "for (size_t j = 0; j < %s; j++) q[j] /= sum;", C);
  }
  emit_close(e);
}

void softmax_emit(Emit *e, Node *n) { softmax_emit_common(e, n, false); }
void log_softmax_emit(Emit *e, Node *n) { softmax_emit_common(e, n, true); }

static void softmax_grad_emit_common(Emit *e, Node *n, bool log_form) {
  Value *dy = n->in[0], *y = n->in[1], *o = n->out[0];
  const char *C = emit_dim(e, y, y->shape.rank - 1);
  emit_open(e, "for (size_t i = 0; i < %s; i++)", emit_numel_range(e, y, 0, y->shape.rank - 1));
  emit_line(e, "const float *p = %s + i * %s, *q = %s + i * %s;", emit_ref(e, dy), C, emit_ref(e, y), C);
  emit_line(e, "float *r = %s + i * %s;", emit_ref(e, o), C);
  emit_line(e, "float s = 0.0f;");
  if (log_form) {
    emit_line(e, "for (size_t j = 0; j < %s; j++) s += p[j];", C);
    emit_line(e, "for (size_t j = 0; j < %s; j++) r[j] = p[j] - expf(q[j]) * s;", C);
  } else {
    emit_line(e, "for (size_t j = 0; j < %s; j++) s += p[j] * q[j];", C);
    emit_line(e, "for (size_t j = 0; j < %s; j++) r[j] = q[j] * (p[j] - s);", C);
  }
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
