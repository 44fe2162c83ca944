/* gradcheck_math.c - float functions (ops/math.c). Piecewise constant ones
 * (floor, ceil, round) check that their gradient is zero. */
#include "gradcheck.h"

static const CaseDef cases[] = {
    OP_CASE("exp", OP_EXP, 1, R_ANY, 0, NULL),
    {.name = "exp_scalar", .build = op_case_scalar, .op = OP_EXP, .r = R_ANY},
    OP_CASE("exp_f64_row", OP_EXP, 1, R_ANY, 1, ""),
    OP_CASE("log", OP_LOG, 1, R_POS, 0, NULL),
    {.name = "log_scalar", .build = op_case_scalar, .op = OP_LOG, .r = R_POS},
    OP_CASE("sqrt", OP_SQRT, 1, R_POS, 0, NULL),
    {.name = "sqrt_scalar", .build = op_case_scalar, .op = OP_SQRT, .r = R_POS},
    OP_CASE("reciprocal", OP_RECIPROCAL, 1, R_AWAY0, 0, ""),
    OP_CASE("floor", OP_FLOOR, 1, R_WIDE, 0, ""),
    OP_CASE("ceil", OP_CEIL, 1, R_WIDE, 0, ""),
    OP_CASE("round", OP_ROUND, 1, R_WIDE, 0, ""),
    OP_CASE("erf", OP_ERF, 1, R_ANY, 0, ""),
    OP_CASE("sin", OP_SIN, 1, R_WIDE, 0, ""),
    OP_CASE("cos", OP_COS, 1, R_WIDE, 0, ""),
    OP_CASE("tan", OP_TAN, 1, R_CLIP, 0, ""),
    OP_CASE("asin", OP_ASIN, 1, R_UNIT, 0, ""),
    OP_CASE("acos", OP_ACOS, 1, R_UNIT, 0, ""),
    OP_CASE("atan", OP_ATAN, 1, R_WIDE, 0, ""),
    OP_CASE("sinh", OP_SINH, 1, R_ANY, 0, ""),
    OP_CASE("cosh", OP_COSH, 1, R_ANY, 0, ""),
    OP_CASE("asinh", OP_ASINH, 1, R_WIDE, 0, ""),
    OP_CASE("acosh", OP_ACOSH, 1, R_GT1, 0, ""),
    OP_CASE("atanh", OP_ATANH, 1, R_UNIT, 0, ""),
    OP_CASE("softplus", OP_SOFTPLUS, 1, R_WIDE, 0, ""),
    OP_CASE("softsign", OP_SOFTSIGN, 1, R_WIDE, 0, ""),
};
FAMILY(math, cases);
