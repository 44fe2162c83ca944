/* constfold.c - constant folding.
 * Requires: shapes inferred. Guarantees: a deterministic node whose inputs
 * are all constants (and whose shapes have no batch dimension) is replaced by
 * a constant holding its result, computed with the op's interpreter kernel. */
#include "pass.h"

#include <string.h>

static Tensor const_tensor(Value *v) {
  Tensor t = {v->dtype, v->shape, shape_numel_static(v->shape), v->data};
  return t;
}

/* sources: also nodes without inputs (ConstantOfShape, Range with constant
 * parameters), which the importer folds but the pass leaves alone. */
static bool foldable(Node *n, bool sources) {
  if (op_table[n->op].flags & OPF_RANDOM) return false;
  for (int k = 0; k < n->nin; k++)
    if (n->in[k]->kind != VK_CONST || shape_has_batch(n->in[k]->shape)) return false;
  for (int k = 0; k < n->nout; k++)
    if (shape_has_batch(n->out[k]->shape) || n->out[k]->dtype == DT_F16 || n->out[k]->dtype == DT_BF16) return false;
  return (n->nin > 0 || sources) && n->nin <= 8 && n->nout <= 8; /* fold's arrays */
}

/* False (and a message) when the kernel rejects the constant data. */
static bool fold(Graph *g, Node *n) {
  Tensor in[16], out[16], *pin[16], *pout[16];
  for (int k = 0; k < n->nin; k++)
    in[k] = const_tensor(n->in[k]), pin[k] = &in[k];
  for (int k = 0; k < n->nout; k++) {
    Value *v = n->out[k];
    v->data = arena_alloc(&g->arena, (size_t)(shape_numel_static(v->shape) * dtype_size(v->dtype)));
    out[k] = const_tensor(v);
    pout[k] = &out[k];
  }
  EvalCtx cx = {1, 0, NULL};
  op_table[n->op].eval(&cx, n, pin, pout);
  if (cx.error) {
    error_plain("node %s = %s(...): %s", n->out[0]->name, op_name(n->op), cx.error);
    return false;
  }
  for (int k = 0; k < n->nout; k++) {
    n->out[k]->kind = VK_CONST;
    n->out[k]->def = NULL;
  }
  n->dead = true;
  return true;
}

/* Folds n when all its inputs are constant. False only when the kernel
 * rejects the constant data (the message is printed). */
bool constfold_node(Graph *g, Node *n) {
  if (n->dead || !foldable(n, true)) return true;
  return fold(g, n);
}

bool pass_constfold(Graph *g, PassCtx *cx) {
  (void)cx;
  bool ok = true;
  for (int i = 0; i < g->nnodes && ok; i++)
    ok = g->nodes[i]->dead || !foldable(g->nodes[i], false) || fold(g, g->nodes[i]);
  graph_compact(g);
  return ok;
}
