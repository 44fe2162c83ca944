/* gradcheck_movement.c - ops that move elements without arithmetic: expand
 * and reshape (ops/reduce.c, whose gradients they serve), concat and slice
 * (ops/concat.c), and the ONNX layout ops (ops/movement.c). */
#include "gradcheck.h"

static Value *shaped(Case *c, OpKind op, Value *x, Shape s) {
  Node *n = build_node(c->g, op, 1, &x);
  node_set_ints(c->g, n, "shape", s.d, s.rank);
  return build_finish(c->g, n);
}
static void expand_row(Case *c) { c->y = shaped(c, OP_EXPAND, param(c, S(3), R_ANY), S(2, 3)); }
static void expand_col(Case *c) { c->y = shaped(c, OP_EXPAND, param(c, S(2, 1), R_ANY), S(2, 3)); }
static void expand_scalar(Case *c) { c->y = shaped(c, OP_EXPAND, param(c, S0, R_ANY), S(2, 2)); }
static void expand_rank3(Case *c) { c->y = shaped(c, OP_EXPAND, param(c, S(2, 1), R_ANY), S(2, 2, 2)); }
static void expand_batch(Case *c) { c->y = shaped(c, OP_EXPAND, param(c, S(3), R_ANY), S(DIM_BATCH, 3)); }
static void expand_bidirectional(Case *c) { c->y = op1(c, OP_EXPAND, param(c, S(3, 1), R_ANY), "shape=[2,1,4]"); }
static void reshape_transpose_shape(Case *c) { c->y = shaped(c, OP_RESHAPE, param(c, S(2, 3), R_ANY), S(3, 2)); }
static void reshape_flat(Case *c) { c->y = shaped(c, OP_RESHAPE, param(c, S(2, 3), R_ANY), S(6)); }
static void reshape_rank3(Case *c) { c->y = shaped(c, OP_RESHAPE, param(c, S(2, 2, 2), R_ANY), S(4, 2)); }
static void reshape_batch(Case *c) { c->y = shaped(c, OP_RESHAPE, batch_x(c), S(DIM_BATCH, 3, 1)); }
static void reshape_zero_minus_one(Case *c) { c->y = op1(c, OP_RESHAPE, param(c, S(2, 3, 4), R_ANY), "shape=[0,-1]"); }

static Value *concat_of(Case *c, int n, Value **in, int axis) {
  Node *k = build_node(c->g, OP_CONCAT, n, in);
  node_set_int(c->g, k, "axis", axis);
  return build_finish(c->g, k);
}
static void concat_last_axis(Case *c) {
  Value *in[3] = {param(c, S(2, 1), R_ANY), param(c, S(2, 3), R_ANY), param(c, S(2, 2), R_ANY)};
  c->y = concat_of(c, 3, in, 1);
}
static void concat_first_axis(Case *c) {
  c->y = concat_of(c, 2, (Value *[]){param(c, S(1, 2, 2), R_ANY), param(c, S(2, 2, 2), R_ANY)}, 0);
}
static void concat_mid_axis_batch(Case *c) {
  Value *a = build2(c->g, OP_MUL, input(c, S(DIM_BATCH, 2, 2), R_ANY), param(c, S(2, 2), R_ANY));
  Value *b = build2(c->g, OP_ADD, a, param(c, S(2), R_ANY)); /* a read twice: fan-out through concat */
  c->y = concat_of(c, 2, (Value *[]){a, b}, 1);
}

static Value *slice_of(Case *c, Value *x, int axis, int64_t start, int64_t end) {
  Node *k = build_node(c->g, OP_SLICE, 1, &x);
  node_set_int(c->g, k, "axis", axis);
  node_set_int(c->g, k, "start", start);
  node_set_int(c->g, k, "end", end);
  return build_finish(c->g, k);
}
static void slice_middle(Case *c) { c->y = slice_of(c, param(c, S(2, 4), R_ANY), 1, 1, 3); }
static void slice_head(Case *c) { c->y = slice_of(c, param(c, S(3, 2), R_ANY), 0, 0, 2); }
static void slice_tail_batch(Case *c) {
  c->y = slice_of(c, build2(c->g, OP_MUL, input(c, S(DIM_BATCH, 4), R_ANY), param(c, S(4), R_ANY)), -1, 2, 4);
}
static void slice_steps(Case *c) {
  c->y = op1(c, OP_SLICE, param(c, S(4, 5), R_ANY), "starts=[1,-1] ends=[4,-9] axes=[0,1] steps=[2,-2]");
}
static void slice_axes_batch(Case *c) { c->y = op1(c, OP_SLICE, batch_x(c), "starts=[1] ends=[3] axes=[-1]"); }

static void transpose_perm(Case *c) { c->y = op1(c, OP_TRANSPOSE, param(c, S(2, 3, 4), R_ANY), "perm=[2,0,1]"); }
static void transpose_default_batch(Case *c) { c->y = op1(c, OP_TRANSPOSE, batch_x(c), NULL); }
static void squeeze(Case *c) { c->y = op1(c, OP_SQUEEZE, param(c, S(2, 1, 3), R_ANY), "axes=[1]"); }
static void unsqueeze(Case *c) { c->y = op1(c, OP_UNSQUEEZE, param(c, S(2, 3), R_ANY), "axes=[0,3]"); }
static void flatten(Case *c) { c->y = op1(c, OP_FLATTEN, param(c, S(2, 3, 2), R_ANY), "axis=2"); }
static void identity(Case *c) { c->y = op1(c, OP_IDENTITY, param(c, S(3), R_ANY), NULL); }
static void tile(Case *c) { c->y = op1(c, OP_TILE, param(c, S(2, 3), R_ANY), "repeats=[2,3]"); }
static void tile_batch(Case *c) { c->y = op1(c, OP_TILE, batch_x(c), "repeats=[1,2]"); }
static void depth_to_space(Case *c) { c->y = op1(c, OP_DEPTH_TO_SPACE, param(c, S(1, 8, 2, 3), R_ANY), "blocksize=2"); }
static void depth_to_space_crd(Case *c) {
  c->y = op1(c, OP_DEPTH_TO_SPACE, param(c, S(2, 8, 1, 2), R_ANY), "blocksize=2 mode:CRD");
}
static void space_to_depth(Case *c) { c->y = op1(c, OP_SPACE_TO_DEPTH, param(c, S(1, 2, 4, 6), R_ANY), "blocksize=2"); }
static void triu_k1(Case *c) { c->y = op1(c, OP_TRILU, param(c, S(2, 3, 4), R_ANY), "k=1"); }
static void tril_k_neg(Case *c) { c->y = op1(c, OP_TRILU, param(c, S(4, 3), R_ANY), "upper=0 k=-1"); }
static void pad_constant(Case *c) {
  c->y = op1(c, OP_PAD, param(c, S(2, 3), R_ANY), "pads=[1,0,0,2] constant_value=0.5");
}
static void pad_crop(Case *c) { c->y = op1(c, OP_PAD, param(c, S(3, 4), R_ANY), "pads=[-1,1,0,-2]"); }
static void pad_reflect(Case *c) { c->y = op1(c, OP_PAD, param(c, S(3, 4), R_ANY), "pads=[1,2,2,3] mode:reflect"); }
static void pad_edge_axes(Case *c) { c->y = op1(c, OP_PAD, param(c, S(2, 3), R_ANY), "pads=[2,1] axes=[1] mode:edge"); }
static void split_unused_output(Case *c) {
  Value *x = param(c, S(4, 3), R_ANY);
  Node *n = node_new(c->g, OP_SPLIT, 1, &x, 2);
  node_set_ints(c->g, n, "split", (int64_t[]){1, 3}, 2);
  build_finish(c->g, n);
  c->y = n->out[1]; /* output 0 unused: its gradient is zeros */
}
static void split_equal(Case *c) {
  Value *x = param(c, S(2, 6), R_ANY);
  Node *n = node_new(c->g, OP_SPLIT, 1, &x, 3);
  node_set_int(c->g, n, "axis", -1);
  build_finish(c->g, n);
  c->y = build2(c->g, OP_MUL, n->out[0], build2(c->g, OP_ADD, n->out[1], n->out[2]));
}

static const CaseDef cases[] = {
    {.name = "expand_row", .build = expand_row},
    {.name = "expand_col", .build = expand_col},
    {.name = "expand_scalar", .build = expand_scalar},
    {.name = "expand_rank3", .build = expand_rank3},
    {.name = "expand_batch", .build = expand_batch},
    {.name = "expand_bidirectional", .build = expand_bidirectional},
    {.name = "reshape_transpose_shape", .build = reshape_transpose_shape},
    {.name = "reshape_flat", .build = reshape_flat},
    {.name = "reshape_rank3", .build = reshape_rank3},
    {.name = "reshape_batch", .build = reshape_batch},
    {.name = "reshape_zero_minus_one", .build = reshape_zero_minus_one},
    {.name = "concat_last_axis", .build = concat_last_axis},
    {.name = "concat_first_axis", .build = concat_first_axis},
    {.name = "concat_mid_axis_batch", .build = concat_mid_axis_batch},
    {.name = "slice_middle", .build = slice_middle},
    {.name = "slice_head", .build = slice_head},
    {.name = "slice_tail_batch", .build = slice_tail_batch},
    {.name = "slice_steps", .build = slice_steps},
    {.name = "slice_axes_batch", .build = slice_axes_batch},
    {.name = "transpose_perm", .build = transpose_perm},
    {.name = "transpose_default_batch", .build = transpose_default_batch},
    {.name = "squeeze", .build = squeeze},
    {.name = "unsqueeze", .build = unsqueeze},
    {.name = "flatten", .build = flatten},
    {.name = "identity", .build = identity},
    {.name = "tile", .build = tile},
    {.name = "tile_batch", .build = tile_batch},
    {.name = "depth_to_space", .build = depth_to_space},
    {.name = "depth_to_space_crd", .build = depth_to_space_crd},
    {.name = "space_to_depth", .build = space_to_depth},
    {.name = "triu_k1", .build = triu_k1},
    {.name = "tril_k_neg", .build = tril_k_neg},
    {.name = "pad_constant", .build = pad_constant},
    {.name = "pad_crop", .build = pad_crop},
    {.name = "pad_reflect", .build = pad_reflect},
    {.name = "pad_edge_axes", .build = pad_edge_axes},
    {.name = "split_unused_output", .build = split_unused_output},
    {.name = "split_equal", .build = split_equal},
};
FAMILY(movement, cases);
