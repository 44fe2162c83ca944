/* gradcheck_select.c - ops along one axis (ops/select.c): top_k and cum_sum.
 * arg_max and arg_min have no gradient. */
#include "gradcheck.h"

static const CaseDef cases[] = {
    OP_CASE("top_k_ax1", OP_TOP_K, 1, R_ANY, 0, "k=2"),
    OP_CASE("top_k_ax0_smallest", OP_TOP_K, 1, R_ANY, 1, "k=1 axis=0 largest=0"),
    OP_CASE("cum_sum_ax1", OP_CUM_SUM, 1, R_ANY, 0, "axis=1"),
    OP_CASE("cum_sum_excl_rev", OP_CUM_SUM, 1, R_ANY, 1, "axis=1 exclusive=1 reverse=1"),
};
FAMILY(select, cases);
