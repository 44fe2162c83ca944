/* qdq_fold.c - QDQ patterns to int8 kernels (docs/int8.md).
 *
 * A quantized model in QDQ form computes each layer in float between
 * DequantizeLinear (dq) and QuantizeLinear (q). Where the layer has an int8
 * kernel the pass runs that kernel on the quantized values instead:
 *   q(act?(conv2d(dq(x), dq(w) [, b])))          -> requantize(conv_integer(x, w), b)
 *   q(act?(add?(matmul(dq(x), dq(w)), b)))       -> requantize(matmul_integer(x, w), b)
 *   q(maxpool2d(dq(x))), equal scales and zps    -> maxpool2d_int(x)
 * Any operand may reach the layer through the ONNX importer's NCHW<->NHWC
 * transposes, and a transpose may sit on either side of the act (layout
 * sinks transposes through elementwise ops); the int8 values take the same
 * transposes, and a transpose that undoes the one before it is skipped.
 *
 * Steps, for each quantize_linear node in order:
 *   1. its scale sy and zero point zy: per-tensor constants;
 *   2. up from its input through at most one transpose and one activation
 *      act, relu or clip (ReLU6 and the like), each used only there, to the
 *      layer; act clamps in the integer domain at q(its bounds) (q is
 *      monotone: q(clip(v, a, b)) = clamp(q(v), q(a), q(b)));
 *   3. the layer's input is dq(x) with per-tensor constant sx, zx; its
 *      weight dq(w) of a constant w, scale per tensor or per output channel;
 *   4. a bias (an f32 constant, per output channel) becomes int32
 *      round(b / (sx sw)); one outside int32 leaves the layer in float;
 *   5. the int8 nodes replace q's output (keeping its name); the float nodes
 *      lose their uses and dce removes them;
 *   6. every requantize of a conv_integer or matmul_integer on the emitted
 *      tile path (also those the ONNX importer made for QLinearConv and
 *      QLinearMatMul) is fused into it; the schedule is rebuilt.
 * Requires: shapes (runs after layout). Guarantees: a folded layer gives
 * zy + round(acc * ((float)(sx sw) / sy)) exactly (requantize's fixed point,
 * round half to even), where the float graph rounds twice; results may
 * differ from it by one unit at ties. */
#include "../ops/quant.h"
#include "pass.h"

#include <math.h>
#include <string.h>

static const int64_t TO_NHWC[4] = {0, 2, 3, 1}, TO_NCHW[4] = {0, 3, 1, 2};

typedef struct {
  double s; /* scale */
  int64_t z;
  DType t; /* the quantized dtype */
} QParams;

static Tensor tensor_of(Value *v) {
  Tensor t = {v->dtype, v->shape, shape_numel_static(v->shape), v->data};
  return t;
}

static bool is_const(Value *v) { return v->kind == VK_CONST && v->data && !shape_has_batch(v->shape); }

/* The node of op `op` computing v for this use alone, or NULL. */
static Node *only_def(Graph *g, Value *v, OpKind op) {
  return v->def && v->def->op == op && v->nuses == 1 && !graph_is_root(g, v) ? v->def : NULL;
}

static bool has_perm(Node *n, const int64_t *perm) {
  int64_t p[MAX_RANK];
  return n && n->op == OP_TRANSPOSE && attr_ints(n, "perm", p, MAX_RANK) == 4 && !memcmp(p, perm, sizeof(int64_t) * 4);
}

/* Per-tensor constant parameters of a q or dq node. */
static bool qparams(Node *n, QParams *p) {
  Value *s = n->in[1], *z = n->nin > 2 ? n->in[2] : NULL;
  if (!is_const(s) || shape_numel_static(s->shape) != 1 || (z && (!is_const(z) || shape_numel_static(z->shape) != 1)))
    return false;
  Tensor ts = tensor_of(s), tz = z ? tensor_of(z) : ts;
  p->s = tensor_get(&ts, 0), p->z = z ? (int64_t)tensor_get(&tz, 0) : 0;
  p->t = n->op == OP_QUANTIZE_LINEAR ? n->out[0]->dtype : n->in[0]->dtype;
  return p->t == DT_U8 || p->t == DT_I8;
}

/* v with perm applied, skipping a transpose that undoes it. */
static Value *transposed(Graph *g, Value *v, const int64_t *perm, const int64_t *undo) {
  if (v->def && has_perm(v->def, undo)) return v->def->in[0];
  Node *t = build_node(g, OP_TRANSPOSE, 1, &v);
  node_set_ints(g, t, "perm", perm, 4);
  build_finish(g, t);
  return is_const(v) && !constfold_node(g, t) ? NULL : t->out[0];
}

/* x moved as node m (a transpose or reshape) moves its input: a transpose
 * that undoes x's own, or a reshape of a reshape, goes back to the source. */
static Value *moved_like(Graph *g, Value *x, Node *m) {
  int64_t p[MAX_RANK], q[MAX_RANK];
  int r = m->op == OP_TRANSPOSE ? attr_ints(m, "perm", p, MAX_RANK) : -1;
  bool undo = r > 0 && x->def && x->def->op == OP_TRANSPOSE && attr_ints(x->def, "perm", q, MAX_RANK) == r;
  for (int i = 0; undo && i < r; i++)
    undo = q[p[i]] == i;
  if (undo) return x->def->in[0];
  if (m->op == OP_RESHAPE && x->def && x->def->op == OP_RESHAPE) x = x->def->in[0];
  if (m->op == OP_RESHAPE && shape_eq(x->shape, m->out[0]->shape)) return x;
  Node *c = build_node(g, m->op, 1, &x);
  node_copy_attrs(g, c, m);
  return build_finish(g, c);
}

#define MAX_CHAIN 8

/* The transposes and reshapes (each used once) between v and what they move; their number. */
static int movements(Value **v, Node **chain) {
  int n = 0;
  for (;
       n < MAX_CHAIN && (*v)->def && ((*v)->def->op == OP_TRANSPOSE || (*v)->def->op == OP_RESHAPE) && (*v)->nuses == 1;
       n++)
    chain[n] = (*v)->def, *v = (*v)->def->in[0];
  return n;
}

/* The layer's activation input: dq(x) through transposes and reshapes (the
 * importer's NCHW <-> NHWC, a flatten); x moved the same way, or NULL. */
static Value *int8_input(Graph *g, Value *in, QParams *p) {
  Node *chain[MAX_CHAIN];
  int n = movements(&in, chain);
  Node *dq = only_def(g, in, OP_DEQUANTIZE_LINEAR);
  if (!dq || !qparams(dq, p)) return NULL;
  Value *x = dq->in[0];
  for (int i = n - 1; i >= 0; i--)
    x = moved_like(g, x, chain[i]);
  return x;
}

/* A layer's weights: dq(w) of a constant w, reached through transposes and
 * reshapes (the importer's OIHW -> HWIO, which the layout pass may have
 * turned into reshapes). The int8 weights are w through the same movements;
 * a per-channel scale must end up along the last axis, which the same
 * movements of a tensor of channel numbers tell. */
typedef struct {
  Value *w, *zp; /* int8 weights as the layer reads them, their zero point (or NULL) */
  Value *scale;  /* f32 [F] or one value */
} QWeights;

/* src through the chain of movement nodes (chain[n-1] first), folded. */
static Value *moved(Graph *g, Value *src, Node **chain, int n) {
  for (int i = n - 1; i >= 0 && src; i--) {
    Node *m = build_node(g, chain[i]->op, 1, &src);
    node_copy_attrs(g, m, chain[i]);
    build_finish(g, m);
    src = constfold_node(g, m) && m->out[0]->kind == VK_CONST ? m->out[0] : NULL;
  }
  return src;
}

/* Whether the channel numbers along `axis` of shape s end up along the last
 * axis after the chain (along the first with `first`: matmul's transb). */
static bool channel_moves(Graph *g, Shape s, int axis, Node **chain, int n, bool first) {
  Value *idx = value_new(g, "qchannel", VK_CONST, DT_F32, s);
  int64_t total = shape_numel_static(s), inner = 1;
  for (int i = axis + 1; i < s.rank; i++)
    inner *= s.d[i];
  float *d = idx->data = arena_alloc(&g->arena, sizeof(float) * (size_t)total + 8);
  for (int64_t i = 0; i < total; i++)
    d[i] = (float)(i / inner % s.d[axis]);
  Value *r = moved(g, idx, chain, n);
  if (!r) return false;
  const float *o = r->data;
  int64_t F = r->shape.d[first ? 0 : r->shape.rank - 1], rest = total / F;
  for (int64_t i = 0; i < total; i++)
    if (o[i] != (float)(first ? i / rest : i % F)) return false;
  return F == s.d[axis];
}

static bool int8_weights(Graph *g, Value *in, bool first, QWeights *q) {
  Node *chain[MAX_CHAIN];
  int n = movements(&in, chain);
  Node *dq = only_def(g, in, OP_DEQUANTIZE_LINEAR);
  if (!dq || !is_const(dq->in[0]) || !is_const(dq->in[1]) || (dq->nin > 2 && !is_const(dq->in[2]))) return false;
  Shape ws = dq->in[0]->shape;
  int axis = normalize_axis(node_int(dq, "axis", 1), ws.rank);
  if (shape_numel_static(dq->in[1]->shape) > 1 && (axis < 0 || !channel_moves(g, ws, axis, chain, n, first)))
    return false;
  q->w = moved(g, dq->in[0], chain, n);
  q->zp = dq->nin > 2 ? dq->in[2] : NULL, q->scale = dq->in[1];
  return q->w != NULL;
}

/* int32 [n] constant. */
static Value *i32_const(Graph *g, const char *name, const int32_t *v, int64_t n) {
  Value *c = value_new(g, name, VK_CONST, DT_I32, shape_make(1, (int64_t[]){n}));
  c->data = arena_alloc(&g->arena, (size_t)n * 4 + 8);
  memcpy(c->data, v, (size_t)n * 4);
  return c;
}

/* requantize(acc, mult, shift [, bias]) for output channel scales (float)(sx sw[f]) / sy;
 * NULL when a scale or the bias cannot be represented. */
typedef struct {
  double lo, hi; /* the activation's bounds: relu [0, inf), clip [min, max]; none: (-inf, inf) */
} Act;

/* q(v) as QuantizeLinear computes it (v / s in f32, rounded half to even, plus z), saturated. */
static int64_t q_of(const QParams *y, double v) {
  double lo = y->t == DT_U8 ? 0 : -128, hi = lo + 255, q = rint((float)v / (float)y->s) + (double)y->z;
  return (int64_t)(q < lo ? lo : q > hi ? hi : q);
}

static Value *requantized(Graph *g, Value *acc, double sx, Value *sw, Value *bias, const QParams *y, const Act *act) {
  int64_t F = acc->shape.d[acc->shape.rank - 1], nw = shape_numel_static(sw->shape);
  Tensor ts = tensor_of(sw), tb = bias ? tensor_of(bias) : ts;
  int32_t *m = xcalloc((size_t)F, 4), *sh = xcalloc((size_t)F, 4), *bi = xcalloc((size_t)F, 4);
  bool ok = !bias || tb.numel == F || tb.numel == 1;
  for (int64_t f = 0; f < F && ok; f++) {
    float sxw = (float)sx * (float)tensor_get(&ts, nw > 1 ? f : 0), s = sxw / (float)y->s;
    double b = bias ? rint(tensor_get(&tb, tb.numel > 1 ? f : 0) / (double)sxw) : 0;
    ok = quant_multiplier(s, &m[f], &sh[f]) && fabs(b) < 2147483647.0;
    bi[f] = (int32_t)b;
  }
  Value *args[4] = {acc, i32_const(g, "qmult", m, F), i32_const(g, "qshift", sh, F),
                    bias ? i32_const(g, "qbias", bi, F) : NULL};
  free(m), free(sh), free(bi);
  if (!ok) return NULL;
  Node *r = build_node(g, OP_REQUANTIZE, bias ? 4 : 3, args);
  node_set_int(g, r, "zero_point", y->z);
  node_set_int(g, r, "to", y->t == DT_U8 ? 2 : 3);
  if (isfinite(act->lo)) node_set_int(g, r, "lo", q_of(y, act->lo));
  if (isfinite(act->hi)) node_set_int(g, r, "hi", q_of(y, act->hi));
  return build_finish(g, r);
}

/* The integer op of a conv2d or matmul layer on x (already int8); NULL if its weights do not fit. */
static Value *int8_layer(Graph *g, Node *core, Value *x, const QParams *px, QWeights *qw) {
  bool conv = core->op == OP_CONV2D, tb = node_int(core, "transb", 0) != 0;
  if (node_int(core, "transa", 0) || !int8_weights(g, core->in[1], tb, qw)) return NULL;
  if (!conv && tb) { /* w [N,K] stored: the int8 copy is [K,N] */
    Node *t = build_node(g, OP_TRANSPOSE, 1, &qw->w);
    node_set_ints(g, t, "perm", (const int64_t[]){1, 0}, 2);
    build_finish(g, t);
    if (!constfold_node(g, t)) return NULL;
    qw->w = t->out[0];
  }
  if (qw->w->dtype != DT_U8 && qw->w->dtype != DT_I8) return NULL;
  Value *zx = NULL;
  if (px->z || qw->zp) {
    zx = value_new(g, "qzx", VK_CONST, x->dtype, shape_scalar());
    zx->data = arena_alloc(&g->arena, 8);
    Tensor tz = tensor_of(zx);
    tensor_set(&tz, 0, (double)px->z);
  }
  Value *args[4] = {x, qw->w, zx, qw->zp};
  Node *n = build_node(g, conv ? OP_CONV_INTEGER : OP_MATMUL_INTEGER, qw->zp ? 4 : zx ? 3 : 2, args);
  if (conv) node_copy_attrs(g, n, core);
  return op_table[n->op].infer(g, n) ? NULL : n->out[0];
}

/* Step 2: up from q's input through a transpose and an activation; the layer's value. */
static Value *layer_output(Graph *g, Value *v, Act *act, bool *nchw) {
  bool seen = false;
  *nchw = false, act->lo = -INFINITY, act->hi = INFINITY;
  for (int step = 0; step < 2; step++) {
    Node *t = only_def(g, v, OP_TRANSPOSE), *r = only_def(g, v, OP_RELU), *c = only_def(g, v, OP_CLIP);
    if (t && has_perm(t, TO_NCHW) && !*nchw)
      *nchw = true, v = t->in[0];
    else if ((r || c) && !seen) {
      seen = true, act->lo = r ? 0 : node_float(c, "min", -INFINITY), v = (r ? r : c)->in[0];
      act->hi = r ? INFINITY : node_float(c, "max", INFINITY);
    }
  }
  return v;
}

/* One q node: the int8 value replacing its output, or NULL to leave it. */
static Value *fold_one(Graph *g, Node *q) {
  QParams py, px;
  Act act;
  bool nchw;
  if (!qparams(q, &py)) return NULL;
  Value *y = layer_output(g, q->in[0], &act, &nchw), *bias = NULL, *acc = NULL;
  Node *core = y->def;
  if (core && core->op == OP_ADD && is_const(core->in[1]) && only_def(g, core->in[0], OP_MATMUL))
    bias = core->in[1], y = core->in[0], core = y->def;
  if (!core || y->nuses != 1 || graph_is_root(g, y)) return NULL;
  if (core->op == OP_MAXPOOL2D && isinf(act.lo) && isinf(act.hi)) {
    Value *x = int8_input(g, core->in[0], &px);
    if (!x || px.s != py.s || px.z != py.z || px.t != py.t) return NULL;
    Node *m = build_node(g, OP_MAXPOOL2D_INT, 1, &x);
    node_copy_attrs(g, m, core);
    acc = build_finish(g, m);
  } else if (core->op == OP_CONV2D || (core->op == OP_MATMUL && core->in[0]->shape.rank == 2)) {
    QWeights qw;
    Value *x = int8_input(g, core->in[0], &px);
    if (core->op == OP_CONV2D && core->nin > 2) bias = core->in[2];
    if (!x || (bias && !is_const(bias)) || !(acc = int8_layer(g, core, x, &px, &qw))) return NULL;
    acc = requantized(g, acc, px.s, qw.scale, bias, &py, &act);
  }
  return acc && nchw ? transposed(g, acc, TO_NCHW, TO_NHWC) : acc;
}

/* A scalar zero of dtype t. */
static Value *zero_const(Graph *g, DType t) {
  Value *z = value_new(g, "qzero", VK_CONST, t, shape_scalar());
  z->data = arena_alloc(&g->arena, 8);
  memset(z->data, 0, 8);
  return z;
}

/* requantize r's mult, shift and bias per channel (F of them, terms of
 * (x - zx) w per sum: L), if the fused kernel's arithmetic is exact for them. */
static bool fused_params(Graph *g, Node *r, int64_t F, int64_t L, Value **out) {
  int32_t *p = xcalloc((size_t)(3 * F), 4);
  bool ok = true;
  for (int k = 0; k < 3; k++) {
    Tensor t = r->nin > k + 1 ? tensor_of(r->in[k + 1]) : (Tensor){0};
    for (int64_t f = 0; f < F; f++)
      p[k * F + f] = t.data ? (int32_t)tensor_get(&t, t.numel > 1 ? f : 0) : 0;
  }
  for (int64_t f = 0; f < F; f++)
    ok = ok && quant_requant_exact(L, p[f], p[2 * F + f]);
  for (int k = 0; k < 3 && ok; k++) /* the requantize's own constant where it has one per channel */
    out[k] = r->nin > k + 1 && shape_numel_static(r->in[k + 1]->shape) == F
                 ? r->in[k + 1]
                 : i32_const(g, (const char *[]){"qmult", "qshift", "qbias"}[k], p + k * F, F);
  free(p);
  return ok;
}

/* Step 6: requantize(k) of an integer op k on the tile path (quant_fast_ok)
 * becomes k with requantize's inputs and attributes: the kernel requantizes
 * each block of sums while it is in cache and never stores them as int32. */
static int fuse_requantize(Graph *g) {
  int fused = 0;
  for (int i = 0; i < g->nnodes; i++) {
    Node *r = g->nodes[i], *k = r->op == OP_REQUANTIZE && !r->dead ? r->in[0]->def : NULL;
    if (!k || (k->op != OP_CONV_INTEGER && k->op != OP_MATMUL_INTEGER) || k->nin > 4 || r->in[0]->nuses != 1 ||
        graph_is_root(g, r->in[0]))
      continue;
    Shape ws = k->in[1]->shape;
    int64_t L = k->op == OP_CONV_INTEGER ? ws.d[0] * ws.d[1] * ws.d[2] : ws.d[0], F = ws.d[ws.rank - 1];
    Value *args[7] = {k->in[0], k->in[1], k->nin > 2 ? k->in[2] : zero_const(g, k->in[0]->dtype),
                      k->nin > 3 ? k->in[3] : zero_const(g, k->in[1]->dtype)};
    if (!is_const(args[2]) || !quant_fast_ok(k, L) || !fused_params(g, r, F, L, args + 4)) continue;
    Node *f = build_node(g, k->op, 7, args);
    node_copy_attrs(g, f, k);
    node_copy_attrs(g, f, r);
    build_finish(g, f);
    const char *name = r->out[0]->name;
    value_replace_uses(g, r->out[0], f->out[0]);
    value_set_unique_name(g, r->out[0], "unfused");
    value_rename(g, f->out[0], name);
    r->dead = k->dead = true, fused++;
    graph_recount(g);
  }
  if (fused) graph_compact(g);
  return fused;
}

bool pass_qdq_fold(Graph *g, PassCtx *cx) {
  graph_recount(g);
  int folded = 0, n0 = g->nnodes;
  for (int i = 0; i < n0; i++) {
    Node *q = g->nodes[i];
    Value *r = q->op == OP_QUANTIZE_LINEAR && !q->dead ? fold_one(g, q) : NULL;
    if (!r) continue;
    const char *name = q->out[0]->name;
    value_replace_uses(g, q->out[0], r);
    value_set_unique_name(g, q->out[0], "unquantized");
    value_rename(g, r, name);
    q->dead = true, folded++;
    graph_recount(g);
  }
  if (g->nnodes != n0) graph_compact(g); /* drops nodes folded on the way (weights moved as int8) */
  folded += fuse_requantize(g);
  if (!folded) return true;
  return pass_schedule(g, cx) &&
         pass_dce(g, cx); /* the new nodes were appended: order them before dce's backward walk */
}
