/* fuse.c - folds a relu, or a relu's gradient, into the node that feeds it;
 * a dense layer's matmul, bias and relu into one node; softmax cross-entropy's
 * gradient pair into one node; elementwise chains into one loop.
 *
 * Requires: shapes; runs after autodiff and optimizer lowering, so no
 * gradient is asked of a fused node (conv2d_grad handles one anyway).
 * Guarantees: the same values computed by fewer nodes. A fused node carries
 * activation="relu" (printed and parsed like any attribute; the interpreter
 * and the emitter both apply it) and writes the relu's (or relu_grad's)
 * output value directly; the intermediate tensor no longer exists, so it
 * takes no arena space and no pass over memory.
 *
 * 1. Count uses of every value.
 * 2. For each node whose output is read only by one node and is not handed
 *    back by the step (an output, the loss, a gradient or an assigned value):
 *    a. conv2d without an activation, read by relu: the conv computes
 *       relu(conv) (activation="relu");
 *    b. maxpool2d_grad(dy, y) read by relu_grad(., y), the same y (the output
 *       of the relu before the pooling): the pooling gradient lets dy through
 *       only where the window's maximum is positive (activation="relu").
 *    The node takes over the reader's output value and the reader is dropped.
 *    c. matmul(a, w) (no transposes, f32) read by add with a bias vector [N]
 *       (either operand order), and that sum read only by relu: one
 *       matmul_bias(a, w, bias) node (activation="relu" when the relu is
 *       folded) replaces the last node of the chain (so every input is
 *       computed before it) and the others are dropped;
 *    d. nll_grad(d, labels) read by log_softmax_grad(., logp): one
 *       softmax_ce_grad(d, logp, labels), probabilities minus one-hot scaled
 *       by d, replaces the log_softmax_grad.
 * 3. Compact the graph (the intermediate value has no producer left).
 * 4. Elementwise chains: an elementwise node whose output (f32, not handed
 *    back) is read only by one elementwise node of the same output shape is
 *    marked inline=1: it is computed inside its reader's loop, as a local
 *    variable, so a chain such as the Adam update of a parameter (about ten
 *    nodes) is one pass over memory. The graph keeps every node: the
 *    interpreter evaluates inline nodes like any other (the mark changes no
 *    value), memplan gives their outputs no storage and counts their reads as
 *    their reader's, and the emitter writes them in the reader's loop
 *    (elementwise.c). A tree of inline nodes reads at most EW_LEAVES distinct
 *    tensors. */
#include "pass.h"

#include <string.h>

/* Who reads each value, computed once (a scan per question made the pass quadratic:
 * minutes for a long unrolled LSTM). reader[id] is the only live node reading the
 * value, or NULL when none or several do; rewrites keep it up to date. */
typedef struct {
  Graph *g;
  Node **reader;
  bool *root; /* graph_is_root per value (a scan of the assignments per question was quadratic) */
} Readers;

static void readers_compute(Readers *R, Graph *g, Arena *scratch) {
  static Node several; /* marks a value read by more than one node */
  R->g = g;
  R->reader = arena_alloc(scratch, sizeof(Node *) * (size_t)(g->nvalues + 1));
  for (int i = 0; i < g->nnodes; i++) {
    Node *n = g->nodes[i];
    for (int k = 0; !n->dead && k < n->nin; k++) {
      Node **r = &R->reader[n->in[k]->id];
      *r = !*r || *r == n ? n : &several;
    }
  }
  for (int i = 0; i < g->nvalues; i++)
    if (R->reader[i] == &several) R->reader[i] = NULL;
  R->root = arena_alloc(scratch, sizeof(bool) * (size_t)(g->nvalues + 1));
  graph_mark_roots(g, R->root);
}

/* The only live node reading v, or NULL. */
static Node *sole_user(Readers *R, Value *v) { return R->reader[v->id]; }

/* n, rewritten, now reads its inputs in place of the dropped nodes. */
static void readers_take(Readers *R, Node *n) {
  for (int k = 0; k < n->nin; k++)
    if (n->in[k]->nuses == 1) R->reader[n->in[k]->id] = n;
}

#define EW_LEAVES 8 /* elementwise.c's EW_MAX_LEAVES */

static bool is_ew(const Node *n) { return (op_table[n->op].flags & OPF_ELEMENTWISE) && n->out[0]->dtype == DT_F32; }

/* Tensors read from memory by n's loop, counting those of its inline producers (with repeats). */
static int ew_leaves(const Node *n) {
  int c = 0;
  for (int k = 0; k < n->nin; k++) {
    Value *v = n->in[k];
    c += v->def && node_int(v->def, "inline", 0) ? ew_leaves(v->def) : 1;
  }
  return c;
}

/* Turns node n into op(in[0..nin)) with no attributes, keeping its output. */
static void rewrite_node(Graph *g, Node *n, OpKind op, int nin, Value **in) {
  n->op = op;
  n->in = arena_alloc(&g->arena, sizeof(Value *) * (size_t)nin);
  memcpy(n->in, in, sizeof(Value *) * (size_t)nin);
  n->nin = nin;
  n->nattrs = 0;
}

/* Rule c: n is a matmul; returns whether it was fused. */
static bool fuse_dense(Readers *R, Node *n) {
  Graph *g = R->g;
  Value *z = n->out[0];
  Node *add = sole_user(R, z);
  if (z->dtype != DT_F32 || z->shape.rank != 2 || node_int(n, "transa", 0) || node_int(n, "transb", 0) || !add ||
      add->op != OP_ADD)
    return false;
  Value *bias = add->in[0] == z ? add->in[1] : add->in[0];
  if (bias == z || bias->dtype != DT_F32 || bias->shape.rank != 1 || bias->shape.d[0] != z->shape.d[1]) return false;
  Node *last = add, *relu = NULL;
  Value *sum = add->out[0];
  if (sum->nuses == 1 && !R->root[sum->id] && (relu = sole_user(R, sum)) && relu->op == OP_RELU) last = relu;
  Value *in[3] = {n->in[0], n->in[1], bias};
  rewrite_node(g, last, OP_MATMUL_BIAS, 3, in);
  readers_take(R, last);
  if (last == relu) node_set_string(g, last, "activation", "relu"), add->dead = true;
  n->dead = true;
  return true;
}

/* Rule d: n is an nll_grad; returns whether it was fused. */
static bool fuse_softmax_ce(Readers *R, Node *n) {
  Node *r = sole_user(R, n->out[0]);
  if (!r || r->op != OP_LOG_SOFTMAX_GRAD || r->in[0] != n->out[0]) return false;
  Value *in[3] = {n->in[0], r->in[1], n->in[1]};
  rewrite_node(R->g, r, OP_SOFTMAX_CE_GRAD, 3, in);
  readers_take(R, r);
  n->dead = true;
  return true;
}

static void fuse_chains(Graph *g, Arena *scratch) {
  Readers R;
  readers_compute(&R, g, scratch);
  for (int i = 0; i < g->nnodes; i++) { /* producers come before their readers */
    Node *n = g->nodes[i];
    Value *z = n->out[0];
    if (!is_ew(n) || z->nuses != 1 || R.root[z->id]) continue;
    Node *r = sole_user(&R, z);
    if (!r || !is_ew(r) || !shape_eq(r->out[0]->shape, z->shape)) continue;
    if (ew_leaves(r) - 1 + ew_leaves(n) > EW_LEAVES) continue;
    node_set_int(g, n, "inline", 1);
  }
}

bool pass_fuse(Graph *g, PassCtx *cx) {
  graph_recount(g);
  Readers R;
  readers_compute(&R, g, &cx->scratch);
  for (int i = 0; i < g->nnodes; i++) {
    Node *n = g->nodes[i];
    Value *z = n->out[0];
    if (n->dead || node_attr(n, "activation") || z->nuses != 1 || R.root[z->id]) continue;
    if (n->op == OP_MATMUL && fuse_dense(&R, n)) continue;
    if (n->op == OP_NLL_GRAD && fuse_softmax_ce(&R, n)) continue;
    if (n->op != OP_CONV2D && n->op != OP_MAXPOOL2D_GRAD) continue;
    Node *r = sole_user(&R, z);
    bool conv_relu = n->op == OP_CONV2D && r && r->op == OP_RELU;
    bool pool_relu = n->op == OP_MAXPOOL2D_GRAD && r && r->op == OP_RELU_GRAD && r->in[0] == z && r->in[1] == n->in[1];
    if (!conv_relu && !pool_relu) continue;
    node_set_string(g, n, "activation", "relu");
    n->out[0] = r->out[0];
    r->out[0]->def = n;
    z->def = NULL;
    r->dead = true;
  }
  graph_compact(g);
  graph_recount(g);
  fuse_chains(g, &cx->scratch);
  return true;
}
