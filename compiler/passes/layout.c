/* layout.c - moves transposes so that they meet and cancel.
 *
 * The ONNX importer wraps every NCHW Conv and pool in transpose(x, NHWC) ...
 * transpose(y, NCHW), since conv2d and the pools are NHWC. An imported
 * resnet or mobilenet therefore has a transpose pair between any two
 * convolutions, with the model's per-channel NCHW ops (relu, clip, the add
 * of two branches, bias adds, batch_norm) in between. This pass moves the
 * NCHW transposes down past those ops until each meets the NHWC transpose of
 * the next convolution and the two cancel.
 *
 * Requires: shapes. Guarantees: the same values (batch_norm's rewrite rounds
 * differently, see 3d); every value the step hands back (output, loss,
 * gradient, assignment) keeps its name, shape and layout; parameters are
 * never changed, only read through new nodes; nodes stay in schedule order.
 * It runs before autodiff, so training differentiates the rewritten forward
 * graph with the ordinary rules.
 *
 * Sweeps over the nodes in schedule order, until one changes nothing:
 * 1. transpose(transpose(x, p), q) reads x with the composed permutation; a
 *    transpose by the identity is dropped (readers read x); if its value is
 *    handed back, x's producer writes that value instead, when nothing else
 *    reads x.
 * 2. A transpose that moves only axes of extent 1 becomes a reshape (the
 *    elements keep their order).
 * 3. Sink: a node reading y = transpose(x, p) computes on x instead and
 *    transpose(., p) follows it. Only when it removes at least one
 *    transpose, since one is added after the node: an input transpose must
 *    not be handed back, and be read by nothing else, or only by
 *    elementwise nodes that can sink right after this one (swish,
 *    x * sigmoid(x): the sigmoid sinks first, then the mul frees x's).
 *    a. elementwise ops (unary, binary, n-ary; the largest input must be a
 *       transpose so the new transpose is not larger than the removed one):
 *       every input is a transpose by the same p, or a scalar, or is laid out
 *       again for x: a reshape when only axes of extent 1 move (a bias
 *       [C,1,1] becomes [C]), a transpose for a constant (folded later);
 *    b. reductions (reduce_*, which includes GlobalAveragePool): axes mapped
 *       through p; with keepdims=0 the transpose after permutes the kept axes;
 *    c. concat: every input a transpose by p; its axis mapped through p;
 *       likewise the one-axis ops softmax, log_softmax, hardmax (opset-13
 *       form, not legacy_2d) and lp_norm;
 *    d. batch_norm in inference mode (channel axis 1, so it cannot run on x
 *       as it is): x * k + c with k = scale / sqrt(var + eps) and
 *       c = bias - mean * k, per-channel vectors shaped for x's channel axis.
 * 4. Hoist: transpose(op(transpose(x, p)), q) with q undoing p, and the
 *    inner value read only by the outer transpose: op reads x and writes the
 *    outer value (this removes the outer transpose where sinking could not
 *    because the inner one has other readers).
 * 5. Transposes and reshapes nothing reads are dropped. */
#include "pass.h"

#include <string.h>

#define MAX_SWEEPS 64

static Node *transpose_def(Value *v) { return v->def && !v->def->dead && v->def->op == OP_TRANSPOSE ? v->def : NULL; }

static void perm_of(const Node *t, int64_t *p) {
  int r = t->in[0]->shape.rank;
  if (attr_ints(t, "perm", p, MAX_RANK) != r)
    for (int i = 0; i < r; i++)
      p[i] = r - 1 - i;
}

static bool perm_eq(const int64_t *a, const int64_t *b, int r) {
  for (int i = 0; i < r; i++)
    if (a[i] != b[i]) return false;
  return true;
}

/* v = transpose(x, p) for this p of rank r. */
static bool transposed_by(Value *v, const int64_t *p, int r) {
  int64_t pk[MAX_RANK];
  Node *d = transpose_def(v);
  if (!d || d->out[0]->shape.rank != r) return false;
  perm_of(d, pk);
  return perm_eq(pk, p, r);
}

/* v = transpose(x, p) with transpose(v, q) giving x back, v of shape s. */
static bool undone_by(Value *v, const int64_t *q, Shape s) {
  int64_t p[MAX_RANK];
  Node *d = transpose_def(v);
  if (!d || !shape_eq(v->shape, s)) return false;
  perm_of(d, p);
  for (int i = 0; i < s.rank; i++)
    if (p[q[i]] != i) return false;
  return true;
}

static bool perm_is_identity(const int64_t *p, int r) {
  for (int i = 0; i < r; i++)
    if (p[i] != i) return false;
  return true;
}

static void reinfer(Graph *g, Node *n) {
  const char *err = op_table[n->op].infer(g, n);
  NN2C_ASSERT(!err);
}

/* Moves the nodes appended since `from` to index pos (before the node there). */
static void move_tail(Graph *g, int from, int pos) {
  int k = g->nnodes - from;
  if (k <= 0 || pos >= from) return;
  Node **tmp = xmalloc(sizeof(Node *) * (size_t)k);
  memcpy(tmp, g->nodes + from, sizeof(Node *) * (size_t)k);
  memmove(g->nodes + pos + k, g->nodes + pos, sizeof(Node *) * (size_t)(from - pos));
  memcpy(g->nodes + pos, tmp, sizeof(Node *) * (size_t)k);
  free(tmp);
  for (int i = pos; i < g->nnodes; i++)
    g->nodes[i]->id = i;
}

/* transpose(v, p) written into the existing value out, placed right after node `after`. */
static void transpose_into(Graph *g, Value *v, const int64_t *p, Value *out, Node *after) {
  Node *t = node_new(g, OP_TRANSPOSE, 1, &v, 1);
  t->out[0]->def = NULL; /* the fresh value is dropped by graph_compact */
  t->out[0] = out;
  out->def = t;
  node_set_ints(g, t, "perm", p, v->shape.rank);
  Shape want = out->shape;
  reinfer(g, t);
  NN2C_ASSERT(shape_eq(want, out->shape));
  move_tail(g, g->nnodes - 1, after->id + 1);
}

/* Gives n a new output value in place of y (which the caller re-defines) and,
 * unless y is handed back, y's name. */
static Value *new_output(Graph *g, Node *n, int k) {
  Value *y = n->out[k], *y2 = value_new(g, NULL, VK_TEMP, y->dtype, y->shape);
  if (!graph_is_root(g, y)) {
    const char *nm = y->name;
    y->name = y2->name, y2->name = nm;
  }
  n->out[k] = y2;
  y2->def = n;
  return y2;
}

static Shape strip_ones(Shape s) {
  Shape t = {0, {0}};
  int i = 0;
  while (i < s.rank && s.d[i] == 1)
    i++;
  for (; i < s.rank; i++)
    t.d[t.rank++] = s.d[i];
  return t;
}

/* v (broadcast against rank r) laid out again: axis j of the result is axis
 * perm[j] of v padded to rank r with leading ones. Returns v when
 * broadcasting already gives that, NULL when it would take a transpose of a
 * non-constant. Builds the nodes (at the end of the list) when `build`. */
static Value *relayout(Graph *g, Value *v, int r, const int64_t *perm, bool build) {
  if (v->shape.rank == 0) return v;
  if (v->shape.rank > r) return NULL;
  Shape s = {r, {0}}, t = {r, {0}};
  for (int j = 0; j < r; j++)
    s.d[j] = j < r - v->shape.rank ? 1 : v->shape.d[j - (r - v->shape.rank)];
  for (int j = 0; j < r; j++)
    t.d[j] = s.d[perm[j]];
  if (shape_eq(strip_ones(t), strip_ones(v->shape))) return v;
  bool in_order = true;
  for (int j = 0, last = -1; j < r; j++)
    if (t.d[j] != 1) in_order = in_order && perm[j] > last, last = (int)perm[j];
  if (!in_order && v->kind != VK_CONST) return NULL;
  if (!build) return v;
  if (in_order) return build_reshape(g, v, strip_ones(t));
  Value *w = build_reshape(g, v, s);
  Node *tn = build_node(g, OP_TRANSPOSE, 1, &w);
  node_set_ints(g, tn, "perm", perm, r);
  return build_finish(g, tn);
}

/* u sinks right after n does: an elementwise node of v's rank reading only
 * v, n's output (which will carry the same transpose) and operands that can
 * be laid out again (x * sigmoid(x) reads x twice, once through sigmoid). */
static bool follows(Graph *g, Node *u, Node *n, Value *v, const int64_t *inv) {
  int r = v->shape.rank;
  if (!(op_table[u->op].flags & OPF_ELEMENTWISE) || u->nout != 1 || !shape_eq(u->out[0]->shape, v->shape)) return false;
  bool same = shape_eq(n->out[0]->shape, v->shape);
  for (int k = 0; k < u->nin; k++)
    if (u->in[k] != v && !(same && u->in[k] == n->out[0]) && !relayout(g, u->in[k], r, inv, false)) return false;
  return true;
}

/* How many transposes by p go away when n and the nodes that follow it stop
 * reading them (and their values are not handed back). */
static int freed(Graph *g, Node *n, const int64_t *p, int r) {
  int64_t inv[MAX_RANK];
  for (int i = 0; i < r; i++)
    inv[p[i]] = i;
  int c = 0;
  for (int k = 0; k < n->nin; k++) {
    Value *v = n->in[k];
    bool first = true, all = transposed_by(v, p, r) && !graph_is_root(g, v);
    for (int j = 0; j < k; j++)
      first = first && n->in[j] != v;
    for (int i = 0; i < g->nnodes && all && first; i++) {
      Node *u = g->nodes[i];
      bool reads = false;
      for (int j = 0; j < u->nin && !u->dead; j++)
        reads = reads || u->in[j] == v;
      all = !reads || u == n || follows(g, u, n, v, inv);
    }
    c += all && first;
  }
  return c;
}

/* 1. and 2.: a transpose reading a transpose, an identity, a unit-axes move. */
static bool fold_transpose(Graph *g, Node *n) {
  int64_t p[MAX_RANK], q[MAX_RANK], c[MAX_RANK];
  int r = n->in[0]->shape.rank;
  perm_of(n, q);
  Node *t = transpose_def(n->in[0]);
  if (t) {
    perm_of(t, p);
    for (int i = 0; i < r; i++)
      c[i] = p[q[i]];
    n->in[0] = t->in[0];
    node_set_ints(g, n, "perm", c, r);
    memcpy(q, c, sizeof c);
  }
  Value *x = n->in[0];
  if (perm_is_identity(q, r) && !graph_is_root(g, n->out[0])) {
    value_replace_uses(g, n->out[0], x);
    n->dead = true;
    return true;
  }
  if (!t && perm_is_identity(q, r) && x->kind == VK_TEMP && x->def->nout == 1 && x->nuses == 1 &&
      !graph_is_root(g, x)) {
    x->def->out[0] = n->out[0]; /* a handed-back copy: the producer writes it */
    n->out[0]->def = x->def;
    x->def = NULL;
    n->dead = true;
    return true;
  }
  bool in_order = true;
  for (int i = 0, last = -1; i < r; i++)
    if (n->in[0]->shape.d[q[i]] != 1) in_order = in_order && q[i] > last, last = (int)q[i];
  if (in_order && !perm_is_identity(q, r)) {
    n->op = OP_RESHAPE;
    n->nattrs = 0;
    node_set_reshape(g, n, n->out[0]->shape);
    return true;
  }
  return t != NULL;
}

/* 3d. batch_norm(transpose(x, p), ...) in inference mode. */
static bool sink_batch_norm(Graph *g, Node *n, Node *t, const int64_t *p) {
  int r = t->in[0]->shape.rank;
  if (node_int(n, "training_mode", 0) || n->nout != 1 || r < 2 || n->in[0] != t->out[0] || freed(g, n, p, r) < 1)
    return false;
  for (int k = 1; k < 5; k++)
    if (n->in[k]->shape.rank != 1) return false;
  Value *x = t->in[0], *y = n->out[0];
  int mark = g->nnodes;
  Value *eps = build_scalar(g, x->dtype, node_float(n, "epsilon", 1e-5));
  Value *k = build2(g, OP_DIV, n->in[1], build1(g, OP_SQRT, build2(g, OP_ADD, n->in[4], eps)));
  Value *c = build2(g, OP_SUB, n->in[2], build2(g, OP_MUL, n->in[3], k));
  Shape cs = {r - (int)p[1], {0}}; /* the channel at x's axis p[1], right-aligned */
  for (int i = 0; i < cs.rank; i++)
    cs.d[i] = i ? 1 : k->shape.d[0];
  Value *shift = build_reshape(g, c, cs);
  Value *z = build2(g, OP_ADD, build2(g, OP_MUL, x, build_reshape(g, k, cs)), shift);
  move_tail(g, mark, n->id);
  n->dead = true;
  if (!graph_is_root(g, y)) {
    const char *nm = y->name;
    y->name = z->name, z->name = nm;
  }
  transpose_into(g, z, p, y, z->def);
  return true;
}

static bool is_reduce(OpKind op) { return op >= OP_REDUCE_SUM && op <= OP_REDUCE_SUM_SQUARE; }

/* Ops whose only layout dependence is one `axis` attribute (default -1, or 0 for concat). */
static bool is_axis_op(const Node *n) {
  bool soft = n->op == OP_SOFTMAX || n->op == OP_LOG_SOFTMAX || n->op == OP_HARDMAX;
  return n->op == OP_CONCAT || n->op == OP_LP_NORM || (soft && !node_int(n, "legacy_2d", 0));
}

/* 3b. The reduction's axes for x; the permutation of its output (q). */
static bool map_reduce(Graph *g, Node *n, const int64_t *p, int r, int64_t *q) {
  int64_t ax[MAX_RANK], newax[MAX_RANK];
  int na = attr_ints(n, "axes", ax, MAX_RANK);
  bool red[MAX_RANK] = {0}, redx[MAX_RANK] = {0};
  if (na <= 0) return false; /* all axes or none: leave it */
  for (int i = 0; i < na; i++) {
    int a = normalize_axis(ax[i], r);
    if (a < 0) return false;
    red[a] = true;
  }
  for (int i = 0; i < r; i++)
    redx[p[i]] = red[i];
  int nn = 0, rank_of[MAX_RANK], kept = 0;
  for (int i = 0; i < r; i++) {
    if (redx[i])
      newax[nn++] = i;
    else
      rank_of[i] = kept++;
  }
  if (node_int(n, "keepdims", 1))
    memcpy(q, p, sizeof(int64_t) * (size_t)r);
  else
    for (int i = 0, o = 0; i < r; i++)
      if (!red[i]) q[o++] = rank_of[p[i]];
  node_set_ints(g, n, "axes", newax, nn);
  return true;
}

/* 3a-c. n reads transpose t (perm p); computes on t's input instead. */
static bool sink(Graph *g, Node *n) {
  Node *t = NULL;
  for (int k = 0; k < n->nin && !t; k++)
    t = transpose_def(n->in[k]);
  if (!t) return false;
  int64_t p[MAX_RANK], inv[MAX_RANK], q[MAX_RANK];
  int r = t->in[0]->shape.rank;
  perm_of(t, p);
  for (int i = 0; i < r; i++)
    inv[p[i]] = i;
  if (n->op == OP_BATCH_NORM) return sink_batch_norm(g, n, t, p);
  bool ew = op_table[n->op].flags & OPF_ELEMENTWISE;
  if (n->nout != 1 || !(ew || is_axis_op(n) || is_reduce(n->op))) return false;
  if (!ew && n->in[0] != t->out[0]) return false;
  if (ew && n->out[0]->shape.rank != r) return false;
  bool full = !ew;
  for (int k = 0; k < n->nin; k++) {
    if (transposed_by(n->in[k], p, r)) {
      full = full || shape_eq(n->in[k]->shape, n->out[0]->shape);
      continue;
    }
    if (!ew || !relayout(g, n->in[k], r, inv, false)) return false;
  }
  if (!full || freed(g, n, p, r) < 1) return false;
  memcpy(q, p, sizeof q);
  if (is_reduce(n->op) && !map_reduce(g, n, p, r, q)) return false;
  if (is_axis_op(n)) node_set_int(g, n, "axis", p[normalize_axis(node_int(n, "axis", n->op == OP_CONCAT ? 0 : -1), r)]);
  int mark = g->nnodes;
  for (int k = 0; k < n->nin; k++)
    n->in[k] = transposed_by(n->in[k], p, r) ? n->in[k]->def->in[0] : relayout(g, n->in[k], r, inv, true);
  move_tail(g, mark, n->id);
  Value *y = n->out[0], *y2 = new_output(g, n, 0);
  reinfer(g, n);
  transpose_into(g, y2, q, y, n);
  return true;
}

/* 4. n = transpose(v, q), v = op(..., transpose(x, p), ...) with q undoing p. */
static bool hoist(Graph *g, Node *n) {
  Value *v = n->in[0];
  Node *m = v->def;
  int r = v->shape.rank;
  if (!m || m->dead || !(op_table[m->op].flags & OPF_ELEMENTWISE) || m->nout != 1 || v->nuses != 1 ||
      graph_is_root(g, v))
    return false;
  int64_t q[MAX_RANK];
  perm_of(n, q);
  int ncancel = 0;
  for (int k = 0; k < m->nin; k++) {
    if (undone_by(m->in[k], q, v->shape))
      ncancel++;
    else if (!relayout(g, m->in[k], r, q, false))
      return false;
  }
  if (!ncancel) return false;
  int mark = g->nnodes;
  for (int k = 0; k < m->nin; k++)
    m->in[k] = undone_by(m->in[k], q, v->shape) ? m->in[k]->def->in[0] : relayout(g, m->in[k], r, q, true);
  move_tail(g, mark, m->id);
  Value *z = n->out[0];
  v->def = NULL;
  m->out[0] = z;
  z->def = m;
  n->dead = true;
  Shape want = z->shape;
  reinfer(g, m);
  NN2C_ASSERT(shape_eq(want, z->shape));
  return true;
}

/* 5. Drops transposes and reshapes nothing reads (last first, so chains go). */
static void drop_unused(Graph *g) {
  graph_recount(g);
  for (int i = g->nnodes - 1; i >= 0; i--) {
    Node *n = g->nodes[i];
    if (n->dead || (n->op != OP_TRANSPOSE && n->op != OP_RESHAPE) || n->out[0]->nuses || graph_is_root(g, n->out[0]))
      continue;
    n->dead = true;
    n->in[0]->nuses--;
  }
}

bool pass_layout(Graph *g, PassCtx *cx) {
  (void)cx;
  bool changed = true;
  for (int sweep = 0; sweep < MAX_SWEEPS && changed; sweep++) {
    changed = false;
    graph_recount(g);
    for (int i = 0; i < g->nnodes; i++) {
      Node *n = g->nodes[i];
      if (n->dead) continue;
      bool did = n->op == OP_TRANSPOSE ? fold_transpose(g, n) || hoist(g, n) : sink(g, n);
      if (did) {
        graph_recount(g);
        changed = true;
        i = n->id; /* nodes may have been placed before n */
      }
    }
    drop_unused(g);
  }
  graph_compact(g);
  return true;
}
