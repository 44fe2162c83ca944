/* dce.c - dead-code elimination.
 * Requires: nothing. Guarantees: every remaining node contributes to an
 * output, the loss, a gradient link or an assignment; unreferenced constants
 * are dropped. Walks the schedule backwards marking what is needed. */
#include "pass.h"

bool pass_dce(Graph *g, PassCtx *cx) {
  (void)cx;
  bool *needed = xcalloc((size_t)g->nvalues, sizeof(bool));
  graph_mark_roots(g, needed); /* outputs, assignments' sources, gradients, the loss */
  for (int i = g->nnodes - 1; i >= 0; i--) {
    Node *n = g->nodes[i];
    bool live = false;
    for (int k = 0; k < n->nout; k++)
      live = live || needed[n->out[k]->id];
    n->dead = !live;
    if (live)
      for (int k = 0; k < n->nin; k++)
        needed[n->in[k]->id] = true;
  }
  free(needed);
  graph_compact(g);
  return true;
}
