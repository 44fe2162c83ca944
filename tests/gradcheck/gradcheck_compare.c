/* gradcheck_compare.c - where and the casts (ops/compare.c); comparisons and
 * logic have no gradient. */
#include "gradcheck.h"

/* where: the condition compares an input with 0; both branches are params. */
static void where_broadcast(Case *c) {
  Value *x = input(c, S(2, 3), R_AWAY0);
  Value *cond = build2(c->g, OP_GREATER, x, build_scalar(c->g, DT_F64, 0));
  c->y = build_where(c->g, cond, param(c, S(2, 3), R_ANY), param(c, S(3), R_ANY));
}
static void cast_like_f64(Case *c) {
  c->y = build2(c->g, OP_CAST_LIKE, param(c, S(2, 3), R_ANY), input(c, S(1), R_ANY));
}

static const CaseDef cases[] = {
    {.name = "where_broadcast", .build = where_broadcast},
    {.name = "cast_like_f64", .build = cast_like_f64},
    OP_CASE("cast_f64", OP_CAST, 1, R_ANY, 0, "to=11"),
};
FAMILY(compare, cases);
