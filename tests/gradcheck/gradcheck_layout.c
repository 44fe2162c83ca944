/* gradcheck_layout.c - autodiff after the layout pass.
 *
 * An imported CNN's shape: NHWC convs wrapped in transposes to NCHW and
 * back, with a [C,1,1] bias add, inference batch_norm (its statistics are
 * params here, so they get gradients too), tanh, a residual add and a
 * global average pool in between. The pass leaves no transpose (checked by
 * the runner when c->passes is set), so this checks the gradient of the
 * rewritten graph. */
#include "gradcheck.h"

static Value *perm4(Case *c, Value *x, bool to_nchw) {
  return op1(c, OP_TRANSPOSE, x, to_nchw ? "perm=[0,3,1,2]" : "perm=[0,2,3,1]");
}
static void layout_resnet_block(Case *c) {
  c->passes = "shape,layout,autodiff";
  Value *x = input(c, S(DIM_BATCH, 3, 3, 2), R_ANY);
  ConvAttrs same = {{0}, {1, 1, 1, 1}, {0}, 0};
  Value *t = perm4(c, conv_of(c, x, param(c, S(3, 3, 2, 3), R_ANY), NULL, same), true);
  Value *cb = build2(c->g, OP_ADD, t, param(c, S(3, 1, 1), R_ANY));
  Value *in[5] = {cb, param(c, S(3), R_ANY), param(c, S(3), R_ANY), param(c, S(3), R_ANY), param(c, S(3), R_POS)};
  Value *r = build1(c->g, OP_TANH, opn(c, OP_BATCH_NORM, 5, in, "epsilon=0.01"));
  Value *c2 = conv_of(c, perm4(c, r, false), param(c, S(3, 3, 3, 3), R_ANY), NULL, same);
  Value *s = build2(c->g, OP_ADD, perm4(c, c2, true), r);
  c->y = reduce_of(c, OP_REDUCE_MEAN, s, 2, (int64_t[]){2, 3}, 0);
}

static const CaseDef cases[] = {
    {.name = "layout_resnet_block", .build = layout_resnet_block},
};
FAMILY(layout, cases);
