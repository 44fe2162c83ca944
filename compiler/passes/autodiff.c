/* autodiff.c - reverse-mode automatic differentiation, building ordinary IR.
 *
 * Requires: shapes inferred; g->loss set to an f32 scalar.
 * Guarantees: g->grads links every param that is not frozen to a value holding d loss / d param.
 *
 * 1. Mark the nodes that lie on a path from some param to the loss.
 * 2. Seed d loss = 1.
 * 3. Walk those nodes in reverse schedule order; each node's grad hook turns
 *    its output gradients into input gradients (new nodes appended to the
 *    graph). A value read by several nodes gets the sum of their
 *    contributions (fan-out accumulation); hooks sum broadcast dimensions
 *    back down themselves (build_unbroadcast).
 * 4. Record a gradient per param; a param the loss does not depend on gets
 *    zeros (and a warning). Frozen params (trainable=false, --freeze) are
 *    treated as constants: no gradient, so the optimizer gives them no update
 *    and no state. */
#include "pass.h"

#include <string.h>

/* Which values depend on a param (forward) and which the loss depends on (backward). */
static void mark_relevant(Graph *g, bool *from_param, bool *to_loss) {
  for (int i = 0; i < g->nvalues; i++)
    from_param[g->values[i]->id] = g->values[i]->kind == VK_PARAM && !g->values[i]->frozen;
  for (int i = 0; i < g->nnodes; i++) {
    Node *n = g->nodes[i];
    bool any = false;
    for (int k = 0; k < n->nin; k++)
      any = any || from_param[n->in[k]->id];
    for (int k = 0; k < n->nout; k++)
      from_param[n->out[k]->id] = any;
  }
  to_loss[g->loss->id] = true;
  for (int i = g->nnodes - 1; i >= 0; i--) {
    Node *n = g->nodes[i];
    bool any = false;
    for (int k = 0; k < n->nout; k++)
      any = any || to_loss[n->out[k]->id];
    if (any)
      for (int k = 0; k < n->nin; k++)
        to_loss[n->in[k]->id] = true;
  }
}

/* Auto-named temporaries ("t12") are renamed "d_<value>" for readable IR and C. */
static bool auto_named(const Value *v) {
  if (v->name[0] != 't' || !v->name[1]) return false;
  for (const char *p = v->name + 1; *p; p++)
    if (*p < '0' || *p > '9') return false;
  return true;
}

static void accumulate(Graph *g, Value **grad, Value *v, Value *d) {
  NN2C_ASSERT(shape_eq(d->shape, v->shape));
  grad[v->id] = grad[v->id] ? build2(g, OP_ADD, grad[v->id], d) : d;
  if (grad[v->id]->kind == VK_TEMP && auto_named(grad[v->id]))
    value_set_unique_name(g, grad[v->id], arena_printf(&g->arena, "d_%s", v->name));
}

static Value *zeros_like(Graph *g, Value *v) {
  Value *z = build_scalar(g, v->dtype, 0.0);
  Node *e = build_node(g, OP_EXPAND, 1, &z);
  node_set_ints(g, e, "shape", v->shape.d, v->shape.rank);
  return build_finish(g, e);
}

bool pass_autodiff(Graph *g, PassCtx *cx) {
  (void)cx;
  if (!g->loss) {
    error_plain("autodiff: the graph has no loss");
    return false;
  }
  int nv = g->nvalues, nforward = g->nnodes;
  bool *from_param = xcalloc((size_t)nv, sizeof(bool)), *to_loss = xcalloc((size_t)nv, sizeof(bool));
  mark_relevant(g, from_param, to_loss);
  /* grad grows as nodes are added; index only by ids < nv (forward values). */
  Value **grad = xcalloc((size_t)nv, sizeof(Value *));
  grad[g->loss->id] = build_scalar(g, g->loss->dtype, 1.0);
  bool ok = true;
  for (int i = nforward - 1; i >= 0 && ok; i--) {
    Node *n = g->nodes[i];
    Value **dy = arena_alloc(&g->arena, sizeof(Value *) * (size_t)(n->nin + n->nout + 1)), **dx = dy + n->nout;
    memset(dy, 0, sizeof(Value *) * (size_t)(n->nin + n->nout + 1));
    bool need = false, any_dy = false;
    for (int k = 0; k < n->nin; k++)
      need = need || (from_param[n->in[k]->id] && dtype_is_float(n->in[k]->dtype));
    for (int k = 0; k < n->nout; k++) {
      dy[k] = n->out[k]->id < nv ? grad[n->out[k]->id] : NULL;
      any_dy = any_dy || dy[k];
    }
    if (!need || !any_dy) continue;
    if (op_table[n->op].flags & OPF_NO_GRAD) {
      error_plain("autodiff: op %s (producing '%s') has no gradient rule", op_name(n->op), n->out[0]->name);
      ok = false;
      break;
    }
    for (int k = 0; k < n->nout; k++)
      if (!dy[k] && k == 0) dy[k] = zeros_like(g, n->out[k]);
    op_table[n->op].grad(g, n, dy, dx);
    for (int k = 0; k < n->nin; k++)
      if (dx[k] && from_param[n->in[k]->id] && to_loss[n->in[k]->id]) accumulate(g, grad, n->in[k], dx[k]);
  }
  for (int i = 0; i < nv && ok; i++) {
    Value *v = g->values[i];
    if (v->kind != VK_PARAM || v->frozen) continue;
    if (!grad[i]) {
      fprintf(stderr, "nn2c: warning: the loss does not depend on parameter '%s'; its gradient is zero\n", v->name);
      grad[i] = zeros_like(g, v);
    }
    graph_add_grad(g, v, grad[i]);
  }
  free(from_param);
  free(to_loss);
  free(grad);
  return ok;
}
