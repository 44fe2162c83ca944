/* gradcheck_norm.c - normalizations on the ONNX (NC...) layout (ops/norm.c).
 * batch_norm's statistics are params here, so they get gradients too. */
#include "gradcheck.h"

static void layer_norm(Case *c) {
  Value *in[3] = {param(c, S(2, 5), R_ANY), param(c, S(5), R_ANY), param(c, S(5), R_ANY)};
  c->y = opn(c, OP_LAYER_NORM, 3, in, NULL);
}
static void layer_norm_axis1_batch(Case *c) {
  Value *in[2] = {build2(c->g, OP_MUL, input(c, S(DIM_BATCH, 3, 2), R_ANY), param(c, S(3, 2), R_ANY)),
                  param(c, S(2), R_ANY)};
  c->y = opn(c, OP_LAYER_NORM, 2, in, "axis=1 epsilon=0.01");
}
static Value *batch_norm_of(Case *c, const char *spec) {
  Value *in[5] = {param(c, S(2, 3, 2, 2), R_ANY), param(c, S(3), R_ANY), param(c, S(3), R_ANY), param(c, S(3), R_ANY),
                  param(c, S(3), R_POS)};
  return opn(c, OP_BATCH_NORM, 5, in, spec);
}
static void batch_norm(Case *c) { c->y = batch_norm_of(c, "epsilon=0.01"); }
static void batch_norm_training(Case *c) { c->y = batch_norm_of(c, "training_mode=1"); }
static void instance_norm(Case *c) {
  Value *in[3] = {param(c, S(2, 3, 4), R_ANY), param(c, S(3), R_ANY), param(c, S(3), R_ANY)};
  c->y = opn(c, OP_INSTANCE_NORM, 3, in, NULL);
}
static void mvn(Case *c) { c->y = op1(c, OP_MVN, param(c, S(2, 3, 2, 2), R_ANY), NULL); }
static void lp_norm_p2_axis0(Case *c) { c->y = op1(c, OP_LP_NORM, param(c, S(2, 3), R_ANY), "axis=0"); }
static void lp_norm_p1(Case *c) { c->y = op1(c, OP_LP_NORM, param(c, S(2, 3), R_AWAY0), "p=1"); }

static const CaseDef cases[] = {
    {.name = "layer_norm", .build = layer_norm},
    {.name = "layer_norm_axis1_batch", .build = layer_norm_axis1_batch},
    {.name = "batch_norm", .build = batch_norm},
    {.name = "batch_norm_training", .build = batch_norm_training},
    {.name = "instance_norm", .build = instance_norm},
    {.name = "mvn", .build = mvn},
    {.name = "lp_norm_p2_axis0", .build = lp_norm_p2_axis0},
    {.name = "lp_norm_p1", .build = lp_norm_p1},
};
FAMILY(norm, cases);
