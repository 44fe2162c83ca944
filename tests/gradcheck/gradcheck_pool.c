/* gradcheck_pool.c - maxpool2d and avgpool2d (ops/conv.c), NHWC, on the same
 * windows. Inputs have distinct values 0.05 apart, so no max window has a tie. */
#include "gradcheck.h"

static Value *pool_of(Case *c, Value *x, int64_t kh, int64_t kw, const int64_t *strides, const int64_t *pads) {
  Node *n = build_node(c->g, c->def->op, 1, &x);
  node_set_ints(c->g, n, "kernel", (int64_t[]){kh, kw}, 2);
  if (strides) node_set_ints(c->g, n, "strides", strides, 2);
  if (pads) node_set_ints(c->g, n, "pads", pads, 4);
  return build_finish(c->g, n);
}
static void window_2x2(Case *c) { c->y = pool_of(c, distinct_param(c, S(2, 4, 4, 2)), 2, 2, NULL, NULL); }
static void odd(Case *c) { c->y = pool_of(c, distinct_param(c, S(1, 5, 5, 2)), 2, 2, NULL, NULL); }
static void overlap_same(Case *c) {
  c->y = pool_of(c, distinct_param(c, S(1, 4, 5, 2)), 3, 3, (int64_t[]){1, 1}, (int64_t[]){1, 1, 1, 1});
}
static void asym(Case *c) {
  c->y = pool_of(c, distinct_param(c, S(1, 5, 4, 3)), 2, 3, (int64_t[]){2, 2}, (int64_t[]){1, 0, 0, 2});
}
static void batch(Case *c) {
  Value *x = build2(c->g, OP_MUL, input(c, S(DIM_BATCH, 4, 4, 2), R_ANY), param(c, S(2), R_POS));
  c->y = pool_of(c, x, 2, 2, (int64_t[]){2, 1}, (int64_t[]){0, 0, 0, 1});
}

/* one case per line */
// clang-format off
#define POOL_CASES(nm, o) \
  {.name = nm "_2x2", .build = window_2x2, .op = o},            \
  {.name = nm "_odd", .build = odd, .op = o},                   \
  {.name = nm "_overlap_same", .build = overlap_same, .op = o}, \
  {.name = nm "_asym", .build = asym, .op = o},                 \
  {.name = nm "_batch", .build = batch, .op = o}
// clang-format on

static const CaseDef cases[] = {
    POOL_CASES("maxpool2d", OP_MAXPOOL2D),
    POOL_CASES("avgpool2d", OP_AVGPOOL2D),
};
FAMILY(pool, cases);
