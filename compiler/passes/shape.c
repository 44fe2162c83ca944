/* shape.c - shape inference.
 * Runs every node's infer hook in schedule order, so each node sees its
 * inputs' final types. Requires: inputs, params and constants typed. Guarantees:
 * every value has a dtype and shape; a type written in the source (annotated)
 * agrees with the inferred one. Errors name the node and its source line. */
#include "pass.h"

static void node_error(Graph *g, Node *n, const char *msg) {
  if (g->src && n->line)
    error_at(g->src, n->line, n->col, "%s: %s", op_name(n->op), msg);
  else
    error_plain("node %s = %s(...): %s", n->nout ? n->out[0]->name : "?", op_name(n->op), msg);
}

bool pass_shape(Graph *g, PassCtx *cx) {
  (void)cx;
  bool ok = true;
  for (int i = 0; i < g->nnodes; i++) {
    Node *n = g->nodes[i];
    const OpDef *d = &op_table[n->op];
    if (n->nin < d->min_in || n->nin > d->max_in || !op_nout_ok(d, n->nout)) {
      node_error(g, n,
                 arena_printf(&g->arena, "takes %d..%d inputs and %d outputs, got %d and %d", d->min_in, d->max_in,
                              d->nout, n->nin, n->nout));
      ok = false;
      continue;
    }
    Shape declared[16];
    DType declared_t[16];
    for (int k = 0; k < n->nout && k < 16; k++)
      declared[k] = n->out[k]->shape, declared_t[k] = n->out[k]->dtype;
    const char *err = d->infer(g, n);
    if (err) {
      node_error(g, n, err);
      ok = false;
      continue;
    }
    for (int k = 0; k < n->nout && k < 16; k++) {
      Value *v = n->out[k];
      if (v->annotated && (!shape_eq(declared[k], v->shape) || declared_t[k] != v->dtype)) {
        node_error(g, n,
                   arena_printf(&g->arena, "'%s' declared %s%s but inferred %s%s", v->name, dtype_name(declared_t[k]),
                                shape_str(&g->arena, declared[k]), dtype_name(v->dtype),
                                shape_str(&g->arena, v->shape)));
        ok = false;
      }
    }
  }
  if (ok && g->loss && (g->loss->shape.rank != 0 || !dtype_is_float(g->loss->dtype))) {
    error_plain("the loss '%s' must be a float scalar, got %s%s", g->loss->name, dtype_name(g->loss->dtype),
                shape_str(&g->arena, g->loss->shape));
    ok = false;
  }
  return ok;
}
