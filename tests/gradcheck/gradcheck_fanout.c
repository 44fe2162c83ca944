/* gradcheck_fanout.c - autodiff itself: values read by several nodes get the
 * sum of their gradients. */
#include "gradcheck.h"

static void param_read_twice(Case *c) {
  Value *p = param(c, S(2, 3), R_POS);
  c->y = build2(c->g, OP_ADD, build2(c->g, OP_MUL, p, p), build1(c->g, OP_LOG, p));
}
static void temp_read_three_times(Case *c) {
  Value *t = build1(c->g, OP_TANH, param(c, S(2, 3), R_ANY));
  Value *b = param(c, S(3), R_ANY);
  c->y = build2(c->g, OP_SUB, build2(c->g, OP_MUL, t, build1(c->g, OP_SIGMOID, t)), build2(c->g, OP_ADD, t, b));
}
/* a two-layer net: matmul, add with broadcast bias, tanh, two heads, softmax */
static void mlp(Case *c) {
  Value *x = input(c, S(DIM_BATCH, 2), R_ANY);
  Value *h = build2(c->g, OP_ADD, build2(c->g, OP_MATMUL, x, param(c, S(2, 3), R_ANY)), param(c, S(3), R_ANY));
  h = build1(c->g, OP_TANH, h);
  Value *z1 = build2(c->g, OP_MATMUL, h, param(c, S(3, 2), R_ANY));
  Value *z2 = build2(c->g, OP_MATMUL, h, param(c, S(3, 2), R_ANY));
  c->y = build1(c->g, OP_SOFTMAX, build2(c->g, OP_ADD, z1, z2));
}

static const CaseDef cases[] = {
    {.name = "param_read_twice", .build = param_read_twice},
    {.name = "temp_read_three_times", .build = temp_read_three_times},
    {.name = "mlp", .build = mlp},
};
FAMILY(fanout, cases);
