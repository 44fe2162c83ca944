/* ir_verify.c - invariants every pass must keep; the pass runner checks them after
 * every pass, always. A failure is a compiler bug, reported with the pass name. */
#include "ir.h"

static bool fail(const char *pass, const char *what, const char *name) {
  fprintf(stderr, "nn2c: internal error: IR invalid after pass '%s': %s '%s'\n", pass, what, name);
  return false;
}

bool ir_verify(Graph *g, const char *after_pass) {
  bool *defined = xcalloc((size_t)g->nvalues + 1, sizeof(bool));
  bool ok = true;
  for (int i = 0; i < g->nvalues && ok; i++) {
    Value *v = g->values[i];
    if (v->id != i)
      ok = fail(after_pass, "value id out of date", v->name);
    else if (graph_find(g, v->name) != v)
      ok = fail(after_pass, "name not unique or not in the name index", v->name);
    else if (v->kind == VK_CONST && !v->data)
      ok = fail(after_pass, "constant without data", v->name);
    else if (v->kind != VK_TEMP)
      defined[i] = true;
  }
  for (int i = 0; i < g->nnodes && ok; i++) {
    Node *n = g->nodes[i];
    for (int k = 0; k < n->nin && ok; k++)
      if (n->in[k]->id >= g->nvalues || g->values[n->in[k]->id] != n->in[k] || !defined[n->in[k]->id])
        ok = fail(after_pass, "node reads a value not defined before it", n->in[k]->name);
    for (int k = 0; k < n->nout && ok; k++) {
      if (n->out[k]->def != n)
        ok = fail(after_pass, "output's producer link is wrong", n->out[k]->name);
      else if (defined[n->out[k]->id])
        ok = fail(after_pass, "value defined twice", n->out[k]->name);
      else
        defined[n->out[k]->id] = true;
    }
  }
  for (int i = 0; i < g->nassigns && ok; i++) {
    Assign *a = &g->assigns[i];
    if (a->dst->kind != VK_PARAM && a->dst->kind != VK_STATE)
      ok = fail(after_pass, "assignment to", a->dst->name);
    else if (!shape_eq(a->dst->shape, a->src->shape))
      ok = fail(after_pass, "assignment changes the shape of", a->dst->name);
  }
  for (int i = 0; i < g->noutputs && ok; i++)
    if (!defined[g->outputs[i]->id]) ok = fail(after_pass, "output not defined", g->outputs[i]->name);
  free(defined);
  return ok;
}
