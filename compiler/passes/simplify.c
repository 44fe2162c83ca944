/* simplify.c - local algebraic rewrites.
 * Requires: shapes inferred. Guarantees: the same values computed, by
 * cheaper or numerically safer nodes. Rewrites (each removes the old node
 * only if nothing else reads it; dce cleans up the rest):
 * 1. log(softmax(x))           -> log_softmax(x)
 * 2. log(clip(softmax(x)))     -> log_softmax(x)   (the clip only guards log(0))
 * 3. reshape to the input's own shape, reshape(reshape(x)) -> one reshape
 * 4. neg(neg(x))               -> x
 * 5. b without the batch N read as b^T by several matmuls (an unrolled
 *    recurrent layer's kernel in every backward step) -> one transpose node
 *    they read untransposed, instead of each matmul transposing b again. */
#include "pass.h"

#include <string.h>

static Value *producer_input(Value *v, OpKind op) {
  return v->def && !v->def->dead && v->def->op == op ? v->def->in[0] : NULL;
}

/* Turns node n into `op(x)` in place, keeping its output value. */
static void rewrite_unary(Graph *g, Node *n, OpKind op, Value *x) {
  n->op = op;
  n->in[0] = x;
  n->nin = 1;
  n->nattrs = 0;
  (void)g;
}

static bool simplify_log(Graph *g, Node *n) {
  Value *x = n->in[0];
  Value *c = producer_input(x, OP_CLIP);
  if (c) x = c;
  Value *logits = producer_input(x, OP_SOFTMAX);
  if (!logits) return false;
  rewrite_unary(g, n, OP_LOG_SOFTMAX, logits);
  node_copy_attrs(g, n, x->def); /* axis, legacy_2d */
  return true;
}

static bool simplify_reshape(Graph *g, Node *n) {
  Value *x = n->in[0];
  if (shape_eq(x->shape, n->out[0]->shape)) {
    value_replace_uses(g, n->out[0], x);
    n->dead = true;
    return true;
  }
  Value *inner = producer_input(x, OP_RESHAPE);
  if (!inner) return false;
  n->in[0] = inner;
  node_set_reshape(g, n, n->out[0]->shape); /* 0 and -1 referred to the middle shape */
  return true;
}

static bool simplify_neg(Graph *g, Node *n) {
  Value *x = producer_input(n->in[0], OP_NEG);
  if (!x) return false;
  value_replace_uses(g, n->out[0], x);
  n->dead = true;
  return true;
}

static bool reads_bt(const Node *n) {
  return !n->dead && n->op == OP_MATMUL && node_int(n, "transb", 0) && n->in[1]->shape.rank == 2 &&
         !shape_has_batch(n->in[1]->shape);
}

static void simplify_shared_bt(Graph *g) {
  int *uses = xcalloc((size_t)g->nvalues, sizeof(int)), nnodes = g->nnodes, nv = g->nvalues, k = 0;
  Value **bt = xcalloc((size_t)g->nvalues, sizeof(Value *));
  for (int i = 0; i < nnodes; i++)
    if (reads_bt(g->nodes[i])) uses[g->nodes[i]->in[1]->id]++;
  for (int i = 0; i < nnodes; i++) {
    Node *n = g->nodes[i];
    if (!reads_bt(n) || uses[n->in[1]->id] < 2) continue;
    Value *b = n->in[1];
    if (!bt[b->id]) {
      Node *t = build_node(g, OP_TRANSPOSE, 1, &b);
      node_set_ints(g, t, "perm", (int64_t[]){1, 0}, 2);
      bt[b->id] = build_finish(g, t);
    }
    n->in[1] = bt[b->id];
    node_set_int(g, n, "transb", 0);
  }
  if (g->nnodes == nnodes) { /* no shared kernel (nor, maybe, any node: g->nodes may be NULL) */
    free(uses);
    free(bt);
    return;
  }
  /* the transposes were appended: each moves to just after its b is made */
  Node **order = xmalloc(sizeof(Node *) * (size_t)g->nnodes);
  for (int i = nnodes; i < g->nnodes; i++)
    if (!g->nodes[i]->in[0]->def) order[k++] = g->nodes[i];
  for (int i = 0; i < nnodes; i++) {
    order[k++] = g->nodes[i];
    for (int j = 0; j < g->nodes[i]->nout; j++) {
      Value *o = g->nodes[i]->out[j];
      if (o->id < nv && bt[o->id]) order[k++] = bt[o->id]->def;
    }
  }
  memcpy(g->nodes, order, sizeof(Node *) * (size_t)k);
  free(order);
  free(uses);
  free(bt);
}

bool pass_simplify(Graph *g, PassCtx *cx) {
  (void)cx;
  simplify_shared_bt(g);
  for (int i = 0; i < g->nnodes; i++) {
    Node *n = g->nodes[i];
    if (n->dead) continue;
    switch (n->op) {
    case OP_LOG:
      simplify_log(g, n);
      break;
    case OP_RESHAPE:
      simplify_reshape(g, n);
      break;
    case OP_NEG:
      simplify_neg(g, n);
      break;
    default:
      break;
    }
  }
  graph_compact(g);
  return true;
}
