/* schedule.c - topological schedule.
 * Requires: nothing. Guarantees: Graph.nodes lists every node after the
 * producers of its inputs; among ready nodes the earlier one in the current
 * order goes first, so an already valid order is kept unchanged. A cycle is
 * reported as an error naming a node on it. */
#include "pass.h"

bool pass_schedule(Graph *g, PassCtx *cx) {
  (void)cx;
  int n = g->nnodes;
  bool *done = xcalloc((size_t)(n ? n : 1), sizeof(bool));
  Node **order = xmalloc(sizeof(Node *) * (size_t)(n ? n : 1));
  for (int i = 0; i < n; i++)
    g->nodes[i]->id = i;
  int count = 0;
  /* Repeated scans keep the original order among ready nodes; graphs are small. */
  bool progress = true;
  while (count < n && progress) {
    progress = false;
    for (int i = 0; i < n; i++) {
      Node *nd = g->nodes[i];
      if (done[i]) continue;
      bool ready = true;
      for (int k = 0; k < nd->nin && ready; k++) {
        Node *p = nd->in[k]->def;
        ready = !p || done[p->id];
      }
      if (!ready) continue;
      done[i] = true;
      order[count++] = nd;
      progress = true;
    }
  }
  bool ok = count == n;
  if (!ok)
    for (int i = 0; i < n; i++)
      if (!done[i]) {
        error_plain("the graph has a cycle through '%s' (%s)", g->nodes[i]->out[0]->name, op_name(g->nodes[i]->op));
        break;
      }
  if (ok)
    for (int i = 0; i < n; i++) {
      g->nodes[i] = order[i];
      order[i]->id = i;
    }
  free(done);
  free(order);
  return ok;
}
