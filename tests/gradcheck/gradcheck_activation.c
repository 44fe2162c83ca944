/* gradcheck_activation.c - activations (ops/activation.c), with inputs away
 * from their kinks (relu at 0, clip at its bounds). */
#include "gradcheck.h"

static Value *clip(Case *c, double min, double max, bool has_max) {
  Value *x = param(c, S(2, 4), R_CLIP);
  Node *n = build_node(c->g, OP_CLIP, 1, &x);
  node_set_float(c->g, n, "min", min);
  if (has_max) node_set_float(c->g, n, "max", max);
  return build_finish(c->g, n);
}
static void clip_min_max(Case *c) { c->y = clip(c, -0.5, 0.5, true); }
static void clip_min(Case *c) { c->y = clip(c, 0.5, 0, false); }

static Value *leaky(Case *c, Value *x, double alpha) {
  Node *n = build_node(c->g, OP_LEAKY_RELU, 1, &x);
  if (alpha >= 0) node_set_float(c->g, n, "alpha", alpha);
  return build_finish(c->g, n);
}
static void leaky_relu(Case *c) { c->y = leaky(c, param(c, S(2, 3), R_AWAY0), -1); }
static void leaky_relu_alpha_batch(Case *c) {
  c->y = leaky(c, build2(c->g, OP_MUL, input(c, S(DIM_BATCH, 2), R_AWAY0), param(c, S(2), R_POS)), 0.1);
}

static const CaseDef cases[] = {
    OP_CASE("relu", OP_RELU, 1, R_AWAY0, 0, NULL),
    {.name = "relu_scalar", .build = op_case_scalar, .op = OP_RELU, .r = R_AWAY0},
    OP_CASE("relu_f64", OP_RELU, 1, R_AWAY0, 1, ""),
    OP_CASE("sigmoid", OP_SIGMOID, 1, R_ANY, 0, NULL),
    {.name = "sigmoid_scalar", .build = op_case_scalar, .op = OP_SIGMOID, .r = R_ANY},
    OP_CASE("tanh", OP_TANH, 1, R_ANY, 0, NULL),
    {.name = "tanh_scalar", .build = op_case_scalar, .op = OP_TANH, .r = R_ANY},
    {.name = "clip_min_max", .build = clip_min_max},
    {.name = "clip_min", .build = clip_min},
    {.name = "leaky_relu", .build = leaky_relu},
    {.name = "leaky_relu_alpha_batch", .build = leaky_relu_alpha_batch},
    OP_CASE("leaky_relu_onnx", OP_LEAKY_RELU, 1, R_AWAY0, 0, ""),
    OP_CASE("elu", OP_ELU, 1, R_AWAY0, 0, ""),
    OP_CASE("elu_alpha", OP_ELU, 1, R_AWAY0, 0, "alpha=0.5"),
    OP_CASE("selu", OP_SELU, 1, R_AWAY0, 0, ""),
    OP_CASE("selu_attrs", OP_SELU, 1, R_AWAY0, 0, "alpha=2.0 gamma=3.0"),
    OP_CASE("celu", OP_CELU, 1, R_AWAY0, 0, "alpha=2.0"),
    OP_CASE("thresholded_relu", OP_THRESHOLDED_RELU, 1, R_WIDE, 0, ""),
    OP_CASE("shrink", OP_SHRINK, 1, R_CLIP, 0, "bias=0.2"),
    OP_CASE("hard_sigmoid", OP_HARD_SIGMOID, 1, R_WIDE, 0, "alpha=0.3 beta=0.4"),
    OP_CASE("hard_swish", OP_HARD_SWISH, 1, R_WIDE, 0, ""),
    OP_CASE("prelu", OP_PRELU, 2, R_AWAY0, 0, ""),
};
FAMILY(activation, cases);
