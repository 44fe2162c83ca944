/* simplify.c - local algebraic rewrites.
 * Requires: shapes inferred. Guarantees: the same values computed, by
 * cheaper or numerically safer nodes. Rewrites (each removes the old node
 * only if nothing else reads it; dce cleans up the rest):
 * 1. log(softmax(x))           -> log_softmax(x)
 * 2. log(clip(softmax(x)))     -> log_softmax(x)   (the clip only guards log(0))
 * 3. reshape to the input's own shape, reshape(reshape(x)) -> one reshape
 * 4. neg(neg(x))               -> x */
#include "pass.h"

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

bool pass_simplify(Graph *g, PassCtx *cx) {
  (void)cx;
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
