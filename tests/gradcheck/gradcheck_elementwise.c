/* gradcheck_elementwise.c - arithmetic (ops/elementwise.c): neg, abs, sign,
 * the binary ops with every kind of broadcast, mod, and the variadic
 * max/min/sum/mean. */
#include "gradcheck.h"

/* Binary ops: div needs its divisor away from 0, pow a positive base. */
static Range range_a(OpKind op) { return op == OP_POW ? R_POS : R_ANY; }
static Range range_b(OpKind op) { return op == OP_DIV ? R_AWAY0 : R_ANY; }

static void binary(Case *c, Shape a, Shape b) {
  OpKind op = c->def->op;
  c->y = build2(c->g, op, param(c, a, range_a(op)), param(c, b, range_b(op)));
}
static void same_shape(Case *c) { binary(c, S(2, 3), S(2, 3)); }
static void row(Case *c) { binary(c, S(2, 3), S(3)); }
static void col(Case *c) { binary(c, S(2, 3), S(2, 1)); }
static void scalar(Case *c) { binary(c, S(2, 3), S0); }
static void row_left(Case *c) { binary(c, S(3), S(2, 3)); }
static void outer(Case *c) { binary(c, S(2, 1), S(1, 3)); }
/* [N,3] (input times a param, so it has a gradient) with a [3] param */
static void batch(Case *c) {
  OpKind op = c->def->op;
  Value *x = build2(c->g, OP_MUL, input(c, S(DIM_BATCH, 3), R_POS), param(c, S(3), R_POS));
  c->y = build2(c->g, op, x, param(c, S(3), range_b(op)));
}

/* one case per line */
// clang-format off
#define BINARY(nm, o) \
  {.name = nm "_same", .build = same_shape, .op = o},   \
  {.name = nm "_row", .build = row, .op = o},           \
  {.name = nm "_col", .build = col, .op = o},           \
  {.name = nm "_scalar", .build = scalar, .op = o},     \
  {.name = nm "_row_left", .build = row_left, .op = o}, \
  {.name = nm "_outer", .build = outer, .op = o},       \
  {.name = nm "_batch", .build = batch, .op = o}
// clang-format on

static const CaseDef cases[] = {
    OP_CASE("neg", OP_NEG, 1, R_ANY, 0, NULL),
    {.name = "neg_scalar", .build = op_case_scalar, .op = OP_NEG, .r = R_ANY},
    OP_CASE("abs", OP_ABS, 1, R_AWAY0, 0, ""),
    OP_CASE("sign", OP_SIGN, 1, R_AWAY0, 0, ""),
    BINARY("add", OP_ADD),
    BINARY("sub", OP_SUB),
    BINARY("mul", OP_MUL),
    BINARY("div", OP_DIV),
    BINARY("pow", OP_POW),
    OP_CASE("mod_fmod", OP_MOD, 2, R_WIDE, 0, "fmod=1"),
    OP_CASE("mod_floor", OP_MOD, 2, R_WIDE, 0, ""),
    OP_CASE("max2", OP_MAX, 2, R_ANY, 0, ""),
    OP_CASE("max3", OP_MAX, 3, R_ANY, 0, ""),
    OP_CASE("min3", OP_MIN, 3, R_ANY, 0, ""),
    OP_CASE("min1", OP_MIN, 1, R_ANY, 0, ""),
    OP_CASE("sum3", OP_SUM, 3, R_ANY, 0, ""),
    OP_CASE("mean2", OP_MEAN, 2, R_ANY, 0, ""),
    OP_CASE("mean3", OP_MEAN, 3, R_ANY, 1, ""),
};
FAMILY(elementwise, cases);
