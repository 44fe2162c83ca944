/* build.c - the IR builders used by frontends, autodiff and optimizer
 * lowering: each creates a node, runs its op's shape inference (a failure is
 * an internal error: builders make well-typed nodes) and returns out[0]. */
#include "op.h"

Node *build_node(Graph *g, OpKind op, int nin, Value **in) { return node_new(g, op, nin, in, op_table[op].nout); }

Value *build_finish(Graph *g, Node *n) {
  const char *err = op_table[n->op].infer(g, n);
  if (err) {
    fprintf(stderr, "nn2c: internal error: building %s: %s\n", op_name(n->op), err);
    NN2C_ASSERT(!"builder produced an ill-typed node");
  }
  return n->out[0];
}

Value *build1(Graph *g, OpKind op, Value *a) { return build_finish(g, build_node(g, op, 1, &a)); }

Value *build2(Graph *g, OpKind op, Value *a, Value *b) {
  Value *in[2] = {a, b};
  return build_finish(g, build_node(g, op, 2, in));
}

Value *build_scalar(Graph *g, DType t, double v) {
  NN2C_ASSERT(t == DT_F32 || t == DT_F64);
  Value *c = value_new(g, "c", VK_CONST, t, shape_scalar());
  c->data = arena_alloc(&g->arena, 8);
  Tensor tt = {t, c->shape, 1, c->data};
  tensor_set(&tt, 0, v);
  return c;
}

/* shape=s in the ONNX form: N is written -1 (inferred), zero extents need allowzero. */
void node_set_reshape(Graph *g, Node *n, Shape s) {
  node_set_ints(g, n, "shape", s.d, s.rank);
  for (int i = 0; i < s.rank; i++)
    if (s.d[i] == 0) node_set_int(g, n, "allowzero", 1);
}

Value *build_reshape(Graph *g, Value *x, Shape s) {
  if (shape_eq(x->shape, s)) return x;
  Node *n = build_node(g, OP_RESHAPE, 1, &x);
  node_set_reshape(g, n, s);
  return build_finish(g, n);
}

/* Sums `grad` over the axes where `shape` was broadcast, then reshapes to it. */
Value *build_unbroadcast(Graph *g, Value *grad, Shape shape) {
  if (shape_eq(grad->shape, shape)) return grad;
  Shape gs = grad->shape;
  int off = gs.rank - shape.rank;
  int64_t axes[MAX_RANK];
  int naxes = 0;
  for (int i = 0; i < gs.rank; i++) {
    int j = i - off;
    if (j < 0 || (shape.d[j] == 1 && gs.d[i] != 1)) axes[naxes++] = i;
  }
  Value *r = grad;
  if (naxes) {
    Node *n = build_node(g, OP_REDUCE_SUM, 1, &grad);
    node_set_ints(g, n, "axes", axes, naxes);
    node_set_int(g, n, "keepdims", 0);
    r = build_finish(g, n);
  }
  return build_reshape(g, r, shape);
}
