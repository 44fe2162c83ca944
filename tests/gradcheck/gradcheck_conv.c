/* gradcheck_conv.c - conv2d (ops/conv.c): NHWC activations, HWIO kernels.
 * x is a param so dx is checked too. */
#include "gradcheck.h"

Value *conv_of(Case *c, Value *x, Value *w, Value *b, ConvAttrs a) {
  Node *n = build_node(c->g, OP_CONV2D, b ? 3 : 2, (Value *[]){x, w, b});
  if (a.strides[0]) node_set_ints(c->g, n, "strides", a.strides, 2);
  if (a.pads[0] >= 0) node_set_ints(c->g, n, "pads", a.pads, 4);
  if (a.dil[0]) node_set_ints(c->g, n, "dilations", a.dil, 2);
  if (a.groups) node_set_int(c->g, n, "groups", a.groups);
  return build_finish(c->g, n);
}

static void conv2d_valid(Case *c) {
  c->y = conv_of(c, param(c, S(2, 5, 5, 3), R_ANY), param(c, S(3, 3, 3, 2), R_ANY), NULL,
                 (ConvAttrs){{0}, NOPADS, {0}, 0});
}
static void conv2d_stride2_bias(Case *c) {
  c->y = conv_of(c, param(c, S(1, 6, 5, 2), R_ANY), param(c, S(3, 2, 2, 3), R_ANY), param(c, S(3), R_ANY),
                 (ConvAttrs){{2, 2}, NOPADS, {0}, 0});
}
static void conv2d_same(Case *c) {
  c->y = conv_of(c, param(c, S(1, 4, 5, 2), R_ANY), param(c, S(3, 3, 2, 2), R_ANY), param(c, S(2), R_ANY),
                 (ConvAttrs){{1, 1}, {1, 1, 1, 1}, {1, 1}, 1});
}
/* Keras `same` with stride 2 on even sizes: the odd pixel goes bottom/right */
static void conv2d_same_stride2_asym(Case *c) {
  int64_t p[4];
  conv_same_pads(6, 3, 2, 1, &p[0], &p[2]);
  conv_same_pads(4, 2, 2, 1, &p[1], &p[3]);
  NN2C_ASSERT(p[0] == 0 && p[2] == 1 && p[1] == 0 && p[3] == 0);
  p[1] = 2, p[3] = 1; /* and an explicit uneven pair */
  c->y = conv_of(c, param(c, S(1, 6, 4, 2), R_ANY), param(c, S(3, 2, 2, 2), R_ANY), NULL,
                 (ConvAttrs){{2, 2}, {p[0], p[1], p[2], p[3]}, {0}, 0});
}
static void conv2d_dilation2(Case *c) {
  c->y = conv_of(c, param(c, S(1, 6, 5, 2), R_ANY), param(c, S(2, 2, 2, 2), R_ANY), NULL,
                 (ConvAttrs){{1, 1}, {1, 0, 1, 1}, {2, 2}, 0});
}
static void conv2d_stride3(Case *c) { /* stride larger than the kernel skips pixels */
  c->y = conv_of(c, param(c, S(1, 7, 7, 1), R_ANY), param(c, S(2, 2, 1, 2), R_ANY), NULL,
                 (ConvAttrs){{3, 3}, {1, 1, 0, 0}, {0}, 0});
}
static void conv2d_groups2(Case *c) {
  c->y = conv_of(c, param(c, S(1, 4, 4, 4), R_ANY), param(c, S(2, 2, 2, 4), R_ANY), param(c, S(4), R_ANY),
                 (ConvAttrs){{0}, NOPADS, {0}, 2});
}
static void conv2d_depthwise(Case *c) {
  c->y = conv_of(c, param(c, S(1, 4, 4, 3), R_ANY), param(c, S(3, 3, 1, 3), R_ANY), param(c, S(3), R_ANY),
                 (ConvAttrs){{1, 1}, {1, 1, 1, 1}, {0}, 3});
}
static void conv2d_depthwise_mult2(Case *c) {
  c->y = conv_of(c, param(c, S(1, 4, 3, 2), R_ANY), param(c, S(2, 2, 1, 4), R_ANY), NULL,
                 (ConvAttrs){{1, 2}, {0, 1, 1, 0}, {0}, 2});
}
/* [N,4,4,2] data: the weight and bias gradients sum over the batch */
static void conv2d_batch(Case *c) {
  Value *x = build2(c->g, OP_MUL, input(c, S(DIM_BATCH, 4, 4, 2), R_ANY), param(c, S(2), R_ANY));
  c->y =
      conv_of(c, x, param(c, S(2, 2, 2, 3), R_ANY), param(c, S(3), R_ANY), (ConvAttrs){{1, 2}, {0, 1, 1, 0}, {0}, 0});
}

static const CaseDef cases[] = {
    {.name = "conv2d_valid", .build = conv2d_valid},
    {.name = "conv2d_stride2_bias", .build = conv2d_stride2_bias},
    {.name = "conv2d_same", .build = conv2d_same},
    {.name = "conv2d_same_stride2_asym", .build = conv2d_same_stride2_asym},
    {.name = "conv2d_dilation2", .build = conv2d_dilation2},
    {.name = "conv2d_stride3", .build = conv2d_stride3},
    {.name = "conv2d_groups2", .build = conv2d_groups2},
    {.name = "conv2d_depthwise", .build = conv2d_depthwise},
    {.name = "conv2d_depthwise_mult2", .build = conv2d_depthwise_mult2},
    {.name = "conv2d_batch", .build = conv2d_batch},
};
FAMILY(conv, cases);
