/* elementwise.c - unary and binary elementwise ops with numpy broadcasting,
 * and the elementwise gradient helpers (relu_grad, sigmoid_grad, ...).
 * All ops here share one inference rule, one interpreter loop and one
 * emitter; what differs per op is its scalar function (for the interpreter,
 * in double) and its C expression (for emission and fusion). */
#include "op.h"

#include <math.h>
#include <string.h>

/* ---- shape inference: broadcast all inputs, dtype of the first ---- */

static const char *ew_infer(Graph *g, Node *n) {
  Shape s = n->in[0]->shape;
  for (int i = 1; i < n->nin; i++) {
    if (n->in[i]->dtype != n->in[0]->dtype)
      return arena_printf(&g->arena, "input %d is %s but input 0 is %s", i, dtype_name(n->in[i]->dtype),
                          dtype_name(n->in[0]->dtype));
    const char *err = infer_broadcast(g, s, n->in[i]->shape, &s);
    if (err) return err;
  }
  if (!dtype_is_float(n->in[0]->dtype))
    return arena_printf(&g->arena, "%s needs a float input, got %s", op_name(n->op), dtype_name(n->in[0]->dtype));
  n->out[0]->dtype = n->in[0]->dtype;
  n->out[0]->shape = s;
  return NULL;
}

/* ---- interpreter ---- */

int64_t broadcast_index(Shape out, Shape in, int64_t i) {
  int64_t idx = 0, stride = 1;
  for (int a = out.rank - 1, b = in.rank - 1; a >= 0; a--, b--) {
    int64_t coord = i % out.d[a];
    i /= out.d[a];
    if (b < 0) continue;
    if (in.d[b] != 1) idx += coord * stride;
    stride *= in.d[b];
  }
  return idx;
}

typedef double (*ScalarFn)(const Node *n, const double *x);

static void ew_eval(Node *n, Tensor **in, Tensor **out, ScalarFn f) {
  Tensor *o = out[0];
  double x[4];
  for (int64_t i = 0; i < o->numel; i++) {
    for (int k = 0; k < n->nin; k++) x[k] = tensor_get(in[k], broadcast_index(o->shape, in[k]->shape, i));
    tensor_set(o, i, f(n, x));
  }
}

static double f_neg(const Node *n, const double *x) { (void)n; return -x[0]; }
static double f_exp(const Node *n, const double *x) { (void)n; return exp(x[0]); }
static double f_log(const Node *n, const double *x) { (void)n; return log(x[0]); }
static double f_sqrt(const Node *n, const double *x) { (void)n; return sqrt(x[0]); }
static double f_relu(const Node *n, const double *x) { (void)n; return x[0] > 0 ? x[0] : 0; }
static double f_sigmoid(const Node *n, const double *x) { (void)n; return 1 / (1 + exp(-x[0])); }
static double f_tanh(const Node *n, const double *x) { (void)n; return tanh(x[0]); }
static double f_add(const Node *n, const double *x) { (void)n; return x[0] + x[1]; }
static double f_sub(const Node *n, const double *x) { (void)n; return x[0] - x[1]; }
static double f_mul(const Node *n, const double *x) { (void)n; return x[0] * x[1]; }
static double f_div(const Node *n, const double *x) { (void)n; return x[0] / x[1]; }
static double f_pow(const Node *n, const double *x) { (void)n; return pow(x[0], x[1]); }
static double f_relu_grad(const Node *n, const double *x) { (void)n; return x[1] > 0 ? x[0] : 0; }
static double f_sigmoid_grad(const Node *n, const double *x) { (void)n; return x[0] * x[1] * (1 - x[1]); }
static double f_tanh_grad(const Node *n, const double *x) { (void)n; return x[0] * (1 - x[1] * x[1]); }

/* Keras's LeakyReLU default slope is 0.3. */
static double slope(const Node *n) { return node_float(n, "alpha", 0.3); }
static double f_leaky_relu(const Node *n, const double *x) { return x[0] > 0 ? x[0] : slope(n) * x[0]; }
static double f_leaky_relu_grad(const Node *n, const double *x) { return x[1] > 0 ? x[0] : slope(n) * x[0]; }

static double clip_lo(const Node *n) { return node_float(n, "min", -INFINITY); }
static double clip_hi(const Node *n) { return node_float(n, "max", INFINITY); }

static double f_clip(const Node *n, const double *x) {
  double v = x[0] < clip_lo(n) ? clip_lo(n) : x[0];
  return v > clip_hi(n) ? clip_hi(n) : v;
}

static double f_clip_grad(const Node *n, const double *x) {
  return x[1] >= clip_lo(n) && x[1] <= clip_hi(n) ? x[0] : 0;
}

/* ---- C expressions: args are element expressions of the inputs ---- */

static void x_neg(Buf *b, Node *n, const char **a) { (void)n; buf_printf(b, "(-%s)", a[0]); }
static void x_exp(Buf *b, Node *n, const char **a) { (void)n; buf_printf(b, "expf(%s)", a[0]); }
static void x_log(Buf *b, Node *n, const char **a) { (void)n; buf_printf(b, "logf(%s)", a[0]); }
static void x_sqrt(Buf *b, Node *n, const char **a) { (void)n; buf_printf(b, "sqrtf(%s)", a[0]); }
static void x_relu(Buf *b, Node *n, const char **a) { (void)n; buf_printf(b, "(%s > 0.0f ? %s : 0.0f)", a[0], a[0]); }
static void x_sigmoid(Buf *b, Node *n, const char **a) { (void)n; buf_printf(b, "(1.0f / (1.0f + expf(-%s)))", a[0]); }
static void x_tanh(Buf *b, Node *n, const char **a) { (void)n; buf_printf(b, "tanhf(%s)", a[0]); }
static void x_leaky_relu(Buf *b, Node *n, const char **a) {
  buf_printf(b, "(%s > 0.0f ? %s : %.9gf * %s)", a[0], a[0], slope(n), a[0]);
}
static void x_leaky_relu_grad(Buf *b, Node *n, const char **a) {
  buf_printf(b, "(%s > 0.0f ? %s : %.9gf * %s)", a[1], a[0], slope(n), a[0]);
}
static void x_add(Buf *b, Node *n, const char **a) { (void)n; buf_printf(b, "(%s + %s)", a[0], a[1]); }
static void x_sub(Buf *b, Node *n, const char **a) { (void)n; buf_printf(b, "(%s - %s)", a[0], a[1]); }
static void x_mul(Buf *b, Node *n, const char **a) { (void)n; buf_printf(b, "(%s * %s)", a[0], a[1]); }
static void x_div(Buf *b, Node *n, const char **a) { (void)n; buf_printf(b, "(%s / %s)", a[0], a[1]); }
static void x_pow(Buf *b, Node *n, const char **a) { (void)n; buf_printf(b, "powf(%s, %s)", a[0], a[1]); }
static void x_relu_grad(Buf *b, Node *n, const char **a) {
  (void)n;
  buf_printf(b, "(%s > 0.0f ? %s : 0.0f)", a[1], a[0]);
}
static void x_sigmoid_grad(Buf *b, Node *n, const char **a) {
  (void)n;
  buf_printf(b, "(%s * %s * (1.0f - %s))", a[0], a[1], a[1]);
}
static void x_tanh_grad(Buf *b, Node *n, const char **a) {
  (void)n;
  buf_printf(b, "(%s * (1.0f - %s * %s))", a[0], a[1], a[1]);
}

/* Clip bounds as C literals; an absent bound is left out of the expression. */
static void x_clip(Buf *b, Node *n, const char **a) {
  char lo[64] = "", hi[64] = "";
  if (node_attr(n, "min")) snprintf(lo, sizeof lo, "%.9g", clip_lo(n));
  if (node_attr(n, "max")) snprintf(hi, sizeof hi, "%.9g", clip_hi(n));
  if (*lo && *hi) buf_printf(b, "fminf(fmaxf(%s, (float)%s), (float)%s)", a[0], lo, hi);
  else if (*lo) buf_printf(b, "fmaxf(%s, (float)%s)", a[0], lo);
  else if (*hi) buf_printf(b, "fminf(%s, (float)%s)", a[0], hi);
  else buf_printf(b, "%s", a[0]);
}

static void x_clip_grad(Buf *b, Node *n, const char **a) {
  buf_printf(b, "(%s >= (float)%.9g && %s <= (float)%.9g ? %s : 0.0f)", a[1],
             node_attr(n, "min") ? clip_lo(n) : -3.4e38, a[1], node_attr(n, "max") ? clip_hi(n) : 3.4e38, a[0]);
}

/* ---- emission: one loop nest over the output, inputs indexed by broadcast ---- */

/* A node the fuse pass marked inline=1 is computed inside its sole reader's
 * loop, as a local variable, and has no storage of its own. A loop nest
 * therefore reads the leaves of a tree of nodes: the inputs that are not
 * computed inline. */
#define EW_MAX_LEAVES 8

static bool is_inline(const Value *v) { return v->def && node_int(v->def, "inline", 0); }

typedef struct {
  Node *chain[32];            /* inline producers in order, then the node itself */
  int nchain;
  Value *leaf[EW_MAX_LEAVES]; /* distinct inputs read from memory */
  int nleaf;
} EwTree;

static void tree_collect(Node *n, EwTree *t) {
  for (int k = 0; k < n->nin; k++) {
    Value *v = n->in[k];
    if (is_inline(v)) {
      tree_collect(v->def, t);
      continue;
    }
    bool seen = false;
    for (int i = 0; i < t->nleaf; i++) seen = seen || t->leaf[i] == v;
    if (seen) continue;
    NN2C_ASSERT(t->nleaf < EW_MAX_LEAVES);
    t->leaf[t->nleaf++] = v;
  }
  NN2C_ASSERT(t->nchain < 32);
  t->chain[t->nchain++] = n;
}

/* Output dims grouped so adjacent dims that every leaf broadcasts the same
 * way become one loop: [N,128] + [128] is two loops, [N,128] + [N,128] one.
 * Index nleaf in bc stands for the output. */
typedef struct {
  int n;                                    /* number of loops */
  const char *size[MAX_RANK];               /* C expression for each loop's extent */
  bool bc[EW_MAX_LEAVES + 1][MAX_RANK];     /* [leaf][loop]: leaf is broadcast along it */
} LoopNest;

static void loop_nest_build(Emit *e, Value *o, Value **leaf, int nleaf, LoopNest *ln) {
  int r = o->shape.rank;
  memset(ln, 0, sizeof *ln);
  bool prev[EW_MAX_LEAVES + 1] = {0};
  for (int d = 0; d < r; d++) {
    bool cur[EW_MAX_LEAVES + 1] = {0};
    for (int k = 0; k < nleaf; k++) {
      Shape s = leaf[k]->shape;
      int j = d - (r - s.rank);
      cur[k] = j < 0 || (s.d[j] == 1 && o->shape.d[d] != 1);
    }
    bool same = ln->n > 0 && !memcmp(cur, prev, sizeof cur);
    if (same) {
      ln->size[ln->n - 1] = arena_printf(&e->g->arena, "%s * %s", ln->size[ln->n - 1], emit_dim(e, o, d));
    } else {
      ln->size[ln->n] = emit_dim(e, o, d);
      for (int k = 0; k < nleaf; k++) ln->bc[k][ln->n] = cur[k];
      ln->n++;
    }
    memcpy(prev, cur, sizeof cur);
  }
  if (ln->n == 0) { /* scalar output: one trip */
    ln->size[0] = "1";
    for (int k = 0; k <= nleaf; k++) ln->bc[k][0] = true;
    ln->n = 1;
  }
}

/* Flat index of a tensor indexed by the loops it is not broadcast along. */
static char *loop_index(Emit *e, LoopNest *ln, int k) {
  Buf idx = {0};
  for (int a = 0; a < ln->n; a++) {
    if (ln->bc[k][a]) continue;
    if (idx.len) buf_puts(&idx, " + ");
    buf_printf(&idx, "i%d", a);
    for (int b = a + 1; b < ln->n; b++)
      if (!ln->bc[k][b]) buf_printf(&idx, " * %s", ln->size[b]);
  }
  char *r = arena_strdup(&e->g->arena, idx.len ? idx.data : "0");
  buf_free(&idx);
  return r;
}

/* Element expression of leaf k: a literal for scalar constants. */
static const char *leaf_arg(Emit *e, Value *v, LoopNest *ln, int k) {
  if (v->kind == VK_CONST && shape_numel_static(v->shape) == 1 && !shape_has_batch(v->shape))
    return emit_float(e, ((float *)v->data)[0]);
  return arena_printf(&e->g->arena, "%s[%s]", emit_ref(e, v), loop_index(e, ln, k));
}

/* The local variable holding an inline value (not a pointer, so not "used"). */
static const char *local_name(Emit *e, Value *v) {
  unsigned char *used = e->used;
  e->used = NULL;
  const char *s = emit_ref(e, v);
  e->used = used;
  return s;
}

void emit_elementwise(Emit *e, Node *n, void (*expr)(Buf *, Node *, const char **)) {
  NN2C_ASSERT(n->out[0]->dtype == DT_F32);
  EwTree t = {0};
  tree_collect(n, &t);
  LoopNest ln;
  loop_nest_build(e, n->out[0], t.leaf, t.nleaf, &ln);
  int64_t big = 1; /* elements, counting the batch as 32: threads pay off from 64K */
  for (int a = 0; a < n->out[0]->shape.rank; a++) big *= n->out[0]->shape.d[a] == DIM_BATCH ? 32 : n->out[0]->shape.d[a];
  if (big >= 65536) emit_line(e, "NN2C_PARALLEL_FOR");
  for (int a = 0; a < ln.n; a++) emit_open(e, "for (size_t i%d = 0; i%d < (size_t)%s; i%d++)", a, a, ln.size[a], a);
  const char *leafx[EW_MAX_LEAVES];
  for (int k = 0; k < t.nleaf; k++) leafx[k] = leaf_arg(e, t.leaf[k], &ln, k);
  for (int c = 0; c < t.nchain; c++) {
    Node *m = t.chain[c];
    const char *args[4];
    for (int k = 0; k < m->nin; k++) {
      if (is_inline(m->in[k])) {
        args[k] = local_name(e, m->in[k]);
        continue;
      }
      for (int i = 0; i < t.nleaf; i++)
        if (t.leaf[i] == m->in[k]) args[k] = leafx[i];
    }
    Buf ex = {0};
    (m == n ? expr : op_table[m->op].expr)(&ex, m, args);
    if (m == n) emit_line(e, "%s[%s] = %s;", emit_ref(e, n->out[0]), loop_index(e, &ln, t.nleaf), ex.data);
    else emit_line(e, "const float %s = %s; /* node %d */", local_name(e, m->out[0]), ex.data, m->id);
    buf_free(&ex);
  }
  for (int a = 0; a < ln.n; a++) emit_close(e);
}

/* ---- gradient rules ---- */

static Value *unb(Graph *g, Value *grad, Value *x) { return build_unbroadcast(g, grad, x->shape); }

static void neg_g(Graph *g, Node *n, Value **dy, Value **dx) { dx[0] = build1(g, OP_NEG, dy[0]); (void)n; }
static void exp_g(Graph *g, Node *n, Value **dy, Value **dx) { dx[0] = build2(g, OP_MUL, dy[0], n->out[0]); }
static void log_g(Graph *g, Node *n, Value **dy, Value **dx) { dx[0] = build2(g, OP_DIV, dy[0], n->in[0]); }
static void sqrt_g(Graph *g, Node *n, Value **dy, Value **dx) {
  dx[0] = build2(g, OP_DIV, build2(g, OP_MUL, dy[0], build_scalar(g, dy[0]->dtype, 0.5)), n->out[0]);
}
static void relu_g(Graph *g, Node *n, Value **dy, Value **dx) { dx[0] = build2(g, OP_RELU_GRAD, dy[0], n->out[0]); }
/* leaky_relu(x) > 0 exactly when x > 0 (alpha > 0), so the output can stand in for x. */
static void leaky_relu_g(Graph *g, Node *n, Value **dy, Value **dx) {
  Value *in[2] = {dy[0], node_float(n, "alpha", 0.3) > 0 ? n->out[0] : n->in[0]};
  Node *k = build_node(g, OP_LEAKY_RELU_GRAD, 2, in);
  node_copy_attrs(g, k, n);
  dx[0] = build_finish(g, k);
}
static void sigmoid_g(Graph *g, Node *n, Value **dy, Value **dx) {
  dx[0] = build2(g, OP_SIGMOID_GRAD, dy[0], n->out[0]);
}
static void tanh_g(Graph *g, Node *n, Value **dy, Value **dx) { dx[0] = build2(g, OP_TANH_GRAD, dy[0], n->out[0]); }
static void clip_g(Graph *g, Node *n, Value **dy, Value **dx) {
  Value *in[2] = {dy[0], n->in[0]};
  Node *c = build_node(g, OP_CLIP_GRAD, 2, in);
  node_copy_attrs(g, c, n);
  dx[0] = build_finish(g, c);
}
static void add_g(Graph *g, Node *n, Value **dy, Value **dx) {
  dx[0] = unb(g, dy[0], n->in[0]);
  dx[1] = unb(g, dy[0], n->in[1]);
}
static void sub_g(Graph *g, Node *n, Value **dy, Value **dx) {
  dx[0] = unb(g, dy[0], n->in[0]);
  dx[1] = unb(g, build1(g, OP_NEG, dy[0]), n->in[1]);
}
static void mul_g(Graph *g, Node *n, Value **dy, Value **dx) {
  dx[0] = unb(g, build2(g, OP_MUL, dy[0], n->in[1]), n->in[0]);
  dx[1] = unb(g, build2(g, OP_MUL, dy[0], n->in[0]), n->in[1]);
}
/* d(a/b)/da = 1/b, d(a/b)/db = -(a/b)/b */
static void div_g(Graph *g, Node *n, Value **dy, Value **dx) {
  dx[0] = unb(g, build2(g, OP_DIV, dy[0], n->in[1]), n->in[0]);
  Value *t = build2(g, OP_DIV, build2(g, OP_MUL, dy[0], n->out[0]), n->in[1]);
  dx[1] = unb(g, build1(g, OP_NEG, t), n->in[1]);
}
/* d(a^b)/da = b a^(b-1), d(a^b)/db = a^b ln a */
static void pow_g(Graph *g, Node *n, Value **dy, Value **dx) {
  Value *a = n->in[0], *b = n->in[1];
  Value *bm1 = build2(g, OP_SUB, b, build_scalar(g, b->dtype, 1));
  Value *da = build2(g, OP_MUL, b, build2(g, OP_POW, a, bm1));
  dx[0] = unb(g, build2(g, OP_MUL, dy[0], da), a);
  Value *db = build2(g, OP_MUL, n->out[0], build1(g, OP_LOG, a));
  dx[1] = unb(g, build2(g, OP_MUL, dy[0], db), b);
}
static void no_g(Graph *g, Node *n, Value **dy, Value **dx) {
  (void)g, (void)dy, (void)dx;
  NN2C_ASSERT(!"gradient of a gradient op requested");
  (void)n;
}

/* ---- the hooks named in ops.def ---- */

#define EW_HOOKS(name, fn, xfn, gfn)                                                                 \
  const char *name##_infer(Graph *g, Node *n) { return ew_infer(g, n); }                            \
  void name##_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) { (void)cx; ew_eval(n, in, out, fn); } \
  void name##_grad(Graph *g, Node *n, Value **dy, Value **dx) { gfn(g, n, dy, dx); }                 \
  void name##_emit(Emit *e, Node *n) { emit_elementwise(e, n, xfn); }                                              \
  void name##_expr(Buf *b, Node *n, const char **args) { xfn(b, n, args); }

EW_HOOKS(neg, f_neg, x_neg, neg_g)
EW_HOOKS(exp, f_exp, x_exp, exp_g)
EW_HOOKS(log, f_log, x_log, log_g)
EW_HOOKS(sqrt, f_sqrt, x_sqrt, sqrt_g)
EW_HOOKS(relu, f_relu, x_relu, relu_g)
EW_HOOKS(sigmoid, f_sigmoid, x_sigmoid, sigmoid_g)
EW_HOOKS(tanh, f_tanh, x_tanh, tanh_g)
EW_HOOKS(clip, f_clip, x_clip, clip_g)
EW_HOOKS(leaky_relu, f_leaky_relu, x_leaky_relu, leaky_relu_g)
EW_HOOKS(leaky_relu_grad, f_leaky_relu_grad, x_leaky_relu_grad, no_g)
EW_HOOKS(add, f_add, x_add, add_g)
EW_HOOKS(sub, f_sub, x_sub, sub_g)
EW_HOOKS(mul, f_mul, x_mul, mul_g)
EW_HOOKS(div, f_div, x_div, div_g)
EW_HOOKS(pow, f_pow, x_pow, pow_g)
EW_HOOKS(relu_grad, f_relu_grad, x_relu_grad, no_g)
EW_HOOKS(sigmoid_grad, f_sigmoid_grad, x_sigmoid_grad, no_g)
EW_HOOKS(tanh_grad, f_tanh_grad, x_tanh_grad, no_g)
EW_HOOKS(clip_grad, f_clip_grad, x_clip_grad, no_g)
