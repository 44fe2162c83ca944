/* gradcheck_reduce.c - reductions (ops/reduce.c). reduce_sum and reduce_mean
 * run over every axes/keepdims pattern, including the batch axis (whose
 * count, for the mean, depends on N); the others over a few. */
#include "gradcheck.h"

static Value *x23(Case *c) { return param(c, S(2, 3), R_ANY); }
static Value *x222(Case *c) { return param(c, S(2, 2, 2), R_ANY); }
#define OP c->def->op
static void all(Case *c) { c->y = reduce_of(c, OP, x23(c), 0, NULL, 0); }
static void all_keep(Case *c) { c->y = reduce_of(c, OP, x23(c), 0, NULL, 1); }
static void ax1(Case *c) { c->y = reduce_of(c, OP, x23(c), 1, (int64_t[]){1}, 0); }
static void ax0_keep(Case *c) { c->y = reduce_of(c, OP, x23(c), 1, (int64_t[]){0}, 1); }
static void axneg1(Case *c) { c->y = reduce_of(c, OP, x222(c), 1, (int64_t[]){-1}, -1); }
static void ax02(Case *c) { c->y = reduce_of(c, OP, x222(c), 2, (int64_t[]){0, 2}, 0); }
static void ax12_keep(Case *c) { c->y = reduce_of(c, OP, x222(c), 2, (int64_t[]){1, 2}, 1); }
static void batch(Case *c) { c->y = reduce_of(c, OP, batch_x(c), 1, (int64_t[]){0}, 0); }
static void batch_keep(Case *c) { c->y = reduce_of(c, OP, batch_x(c), 1, (int64_t[]){0}, 1); }
static void batch_all(Case *c) { c->y = reduce_of(c, OP, batch_x(c), 0, NULL, 0); }
static void batch_ax1(Case *c) { c->y = reduce_of(c, OP, batch_x(c), 1, (int64_t[]){1}, 1); }
#undef OP

/* one case per line */
// clang-format off
#define AXES_CASES(nm, o) \
  {.name = nm "_all", .build = all, .op = o},               \
  {.name = nm "_all_keep", .build = all_keep, .op = o},     \
  {.name = nm "_ax1", .build = ax1, .op = o},               \
  {.name = nm "_ax0_keep", .build = ax0_keep, .op = o},     \
  {.name = nm "_axneg1", .build = axneg1, .op = o},         \
  {.name = nm "_ax02", .build = ax02, .op = o},             \
  {.name = nm "_ax12_keep", .build = ax12_keep, .op = o},   \
  {.name = nm "_batch", .build = batch, .op = o},           \
  {.name = nm "_batch_keep", .build = batch_keep, .op = o}, \
  {.name = nm "_batch_all", .build = batch_all, .op = o},   \
  {.name = nm "_batch_ax1", .build = batch_ax1, .op = o}
// clang-format on

static const CaseDef cases[] = {
    AXES_CASES("reduce_sum", OP_REDUCE_SUM),
    AXES_CASES("reduce_mean", OP_REDUCE_MEAN),
    OP_CASE("reduce_sum_noop", OP_REDUCE_SUM, 1, R_ANY, 0, "noop_with_empty_axes=1"),
    OP_CASE("reduce_mean_ax02", OP_REDUCE_MEAN, 1, R_ANY, 1, "axes=[2,0] keepdims=0"),
    OP_CASE("reduce_max_ax1", OP_REDUCE_MAX, 1, R_ANY, 0, "axes=[1] keepdims=0"),
    OP_CASE("reduce_max_all", OP_REDUCE_MAX, 1, R_ANY, 1, ""),
    OP_CASE("reduce_min_ax02", OP_REDUCE_MIN, 1, R_ANY, 1, "axes=[0,2]"),
    OP_CASE("reduce_prod_ax0", OP_REDUCE_PROD, 1, R_AWAY0, 0, "axes=[0]"),
    OP_CASE("reduce_prod_ax12", OP_REDUCE_PROD, 1, R_AWAY0, 1, "axes=[1,2] keepdims=0"),
    OP_CASE("reduce_l1_ax1", OP_REDUCE_L1, 1, R_AWAY0, 1, "axes=[-1]"),
    OP_CASE("reduce_l2_ax02", OP_REDUCE_L2, 1, R_ANY, 1, "axes=[0,2] keepdims=0"),
    OP_CASE("reduce_log_sum", OP_REDUCE_LOG_SUM, 1, R_POS, 1, "axes=[1]"),
    OP_CASE("reduce_log_sum_exp", OP_REDUCE_LOG_SUM_EXP, 1, R_ANY, 1, "axes=[0,2]"),
    OP_CASE("reduce_sum_square", OP_REDUCE_SUM_SQUARE, 1, R_ANY, 1, "keepdims=0"),
};
FAMILY(reduce, cases);
