/* fuse.c - folds an activation into the convolution that feeds it.
 *
 * Requires: shapes; runs after autodiff and optimizer lowering, so no
 * gradient is asked of a fused node (conv2d_grad handles one anyway).
 * Guarantees: the same values computed by fewer nodes. The fused conv2d
 * carries activation="relu" (printed and parsed like any attribute; the
 * interpreter and the emitter both apply it), writes the relu's output value
 * directly, and its pre-activation tensor no longer exists, so it takes no
 * arena space and no pass over memory.
 *
 * 1. Count uses of every value.
 * 2. For each conv2d without an activation whose output is read only by one
 *    relu and is not handed back by the step (an output, the loss, a
 *    gradient or an assigned value): mark the conv with activation="relu",
 *    make it produce the relu's output and drop the relu.
 * 3. Compact the graph (the pre-activation value has no producer left). */
#include "pass.h"

#include <string.h>

/* Values the step hands back must stay materialized as they are. */
static bool is_root(Graph *g, Value *v) {
  for (int i = 0; i < g->noutputs; i++)
    if (g->outputs[i] == v) return true;
  for (int i = 0; i < g->nassigns; i++)
    if (g->assigns[i].src == v) return true;
  for (int i = 0; i < g->ngrads; i++)
    if (g->grads[i].grad == v) return true;
  return g->loss == v;
}

/* The only live node reading v, or NULL. */
static Node *sole_user(Graph *g, Value *v) {
  Node *user = NULL;
  for (int i = 0; i < g->nnodes; i++) {
    Node *n = g->nodes[i];
    for (int k = 0; !n->dead && k < n->nin; k++) {
      if (n->in[k] != v) continue;
      if (user && user != n) return NULL;
      user = n;
    }
  }
  return user;
}

bool pass_fuse(Graph *g, PassCtx *cx) {
  (void)cx;
  graph_recount(g);
  for (int i = 0; i < g->nnodes; i++) {
    Node *n = g->nodes[i];
    Value *z = n->out[0];
    if (n->dead || n->op != OP_CONV2D || node_attr(n, "activation") || z->nuses != 1 || is_root(g, z)) continue;
    Node *r = sole_user(g, z);
    if (!r || r->op != OP_RELU) continue;
    node_set_string(g, n, "activation", "relu");
    n->out[0] = r->out[0];
    r->out[0]->def = n;
    z->def = NULL;
    r->dead = true;
  }
  graph_compact(g);
  graph_recount(g);
  return true;
}
