/* math.c - elementwise float functions: exp log sqrt reciprocal, rounding
 * (floor ceil round), erf, trigonometric and hyperbolic functions and their
 * inverses, softplus and softsign. f32 uses the C library's float variants
 * (expf), f64 the double ones, except e^x, which is nn2c_expf for f32 (a
 * vectorizable polynomial, templates/fast_math.c.in). Gradients are built from
 * these same ops. */
#include "op.h"

#include <math.h>

/* ---- scalar functions (interpreter, in double) ---- */

#define F1(name, expr)                                                                                                 \
  static double f_##name(const Node *n, const double *x) {                                                             \
    (void)n;                                                                                                           \
    double v = x[0];                                                                                                   \
    return expr;                                                                                                       \
  }
F1(exp, exp(v))
F1(log, log(v))
F1(sqrt, sqrt(v))
F1(reciprocal, 1 / v)
F1(floor, floor(v))
F1(ceil, ceil(v))
F1(erf, erf(v))
F1(sin, sin(v))
F1(cos, cos(v))
F1(tan, tan(v))
F1(asin, asin(v))
F1(acos, acos(v))
F1(atan, atan(v))
F1(sinh, sinh(v))
F1(cosh, cosh(v))
F1(asinh, asinh(v))
F1(acosh, acosh(v))
F1(atanh, atanh(v))
F1(softplus, v > 0 ? v + log1p(exp(-v)) : log1p(exp(v)))
F1(softsign, v / (1 + fabs(v)))

/* Halves go to the even neighbour (ONNX Round; C's nearbyint in the default rounding mode). */
static double f_round(const Node *n, const double *x) {
  (void)n;
  double f = floor(x[0]), d = x[0] - f;
  if (d > 0.5 || (d == 0.5 && fmod(f, 2) != 0)) f += 1;
  return d == d ? f : x[0];
}

/* ---- C expressions ---- */

#define X1(name, fmt)                                                                                                  \
  static void x_##name(Buf *b, Node *n, const char **a) { buf_printf(b, fmt, ew_sfx(n), a[0]); }
X1(log, "log%s(%s)")
X1(sqrt, "sqrt%s(%s)")
X1(floor, "floor%s(%s)")
X1(ceil, "ceil%s(%s)")
X1(round, "nearbyint%s(%s)")
X1(erf, "erf%s(%s)")
X1(sin, "sin%s(%s)")
X1(cos, "cos%s(%s)")
X1(tan, "tan%s(%s)")
X1(asin, "asin%s(%s)")
X1(acos, "acos%s(%s)")
X1(atan, "atan%s(%s)")
X1(sinh, "sinh%s(%s)")
X1(cosh, "cosh%s(%s)")
X1(asinh, "asinh%s(%s)")
X1(acosh, "acosh%s(%s)")
X1(atanh, "atanh%s(%s)")

static void x_exp(Buf *b, Node *n, const char **a) { buf_printf(b, "%s(%s)", ew_exp(n), a[0]); }
static void x_reciprocal(Buf *b, Node *n, const char **a) { buf_printf(b, "(%s / %s)", ew_lit(n, 1), a[0]); }
static void x_softsign(Buf *b, Node *n, const char **a) {
  buf_printf(b, "(%s / (%s + fabs%s(%s)))", a[0], ew_lit(n, 1), ew_sfx(n), a[0]);
}
/* log(1 + e^x) without overflow for large x */
static void x_softplus(Buf *b, Node *n, const char **a) {
  const char *s = ew_sfx(n);
  const char *x = ew_exp(n);
  buf_printf(b, "(%s > 0 ? %s + log1p%s(%s(-%s)) : log1p%s(%s(%s)))", a[0], a[0], s, x, a[0], s, x, a[0]);
}

/* ---- gradient rules: dx = dy * f'(x), from ordinary ops ---- */

static Value *lit(Graph *g, Value *like, double v) { return build_scalar(g, like->dtype, v); }
static Value *mul(Graph *g, Value *a, Value *b) { return build2(g, OP_MUL, a, b); }
static Value *sq(Graph *g, Value *x) { return build2(g, OP_MUL, x, x); }
#define G(name) static void name##_g(Graph *g, Node *n, Value **dy, Value **dx)
#define X (n->in[0])
#define Y (n->out[0])
#define D (dy[0])

G(exp) { dx[0] = mul(g, D, Y); }
G(log) { dx[0] = build2(g, OP_DIV, D, X); }
G(sqrt) { dx[0] = build2(g, OP_DIV, mul(g, D, lit(g, D, 0.5)), Y); }
G(reciprocal) { dx[0] = build1(g, OP_NEG, mul(g, D, sq(g, Y))); }
G(sin) { dx[0] = mul(g, D, build1(g, OP_COS, X)); }
G(cos) { dx[0] = build1(g, OP_NEG, mul(g, D, build1(g, OP_SIN, X))); }
/* 1 + v^2 and 1 - v^2, each builder in its own statement (see tests/unit/build_order.py) */
static Value *one_plus_sq(Graph *g, Value *v) {
  Value *v2 = sq(g, v);
  return build2(g, OP_ADD, lit(g, v, 1), v2);
}
static Value *one_minus_sq(Graph *g, Value *v) {
  Value *v2 = sq(g, v);
  return build2(g, OP_SUB, lit(g, v, 1), v2);
}
/* v^2 + 1 and v^2 - 1 */
static Value *sq_plus(Graph *g, Value *v, OpKind op) {
  Value *one = lit(g, v, 1);
  return build2(g, op, sq(g, v), one);
}
G(tan) { dx[0] = mul(g, D, one_plus_sq(g, Y)); }
G(asin) { dx[0] = build2(g, OP_DIV, D, build1(g, OP_SQRT, one_minus_sq(g, X))); }
G(acos) { dx[0] = build1(g, OP_NEG, build2(g, OP_DIV, D, build1(g, OP_SQRT, one_minus_sq(g, X)))); }
G(atan) { dx[0] = build2(g, OP_DIV, D, one_plus_sq(g, X)); }
G(sinh) { dx[0] = mul(g, D, build1(g, OP_COSH, X)); }
G(cosh) { dx[0] = mul(g, D, build1(g, OP_SINH, X)); }
G(asinh) { dx[0] = build2(g, OP_DIV, D, build1(g, OP_SQRT, sq_plus(g, X, OP_ADD))); }
G(acosh) { dx[0] = build2(g, OP_DIV, D, build1(g, OP_SQRT, sq_plus(g, X, OP_SUB))); }
G(atanh) { dx[0] = build2(g, OP_DIV, D, one_minus_sq(g, X)); }
/* erf'(x) = 2/sqrt(pi) e^(-x^2) */
G(erf) {
  Value *gauss = build1(g, OP_EXP, build1(g, OP_NEG, sq(g, X)));
  dx[0] = mul(g, D, mul(g, lit(g, D, 1.1283791670955126), gauss));
}
G(softplus) { dx[0] = mul(g, D, build1(g, OP_SIGMOID, X)); }
/* softsign'(x) = 1 / (1 + |x|)^2 */
G(softsign) {
  Value *abs = build1(g, OP_ABS, X);
  dx[0] = build2(g, OP_DIV, D, sq(g, build2(g, OP_ADD, lit(g, D, 1), abs)));
}

/* ---- the hooks named in ops.def ---- */

EW_HOOKS(exp, TY_FLOAT, f_exp, x_exp, exp_g)
EW_HOOKS(log, TY_FLOAT, f_log, x_log, log_g)
EW_HOOKS(sqrt, TY_FLOAT, f_sqrt, x_sqrt, sqrt_g)
EW_HOOKS(reciprocal, TY_FLOAT, f_reciprocal, x_reciprocal, reciprocal_g)
EW_HOOKS(floor, TY_FLOAT, f_floor, x_floor, ew_no_grad)
EW_HOOKS(ceil, TY_FLOAT, f_ceil, x_ceil, ew_no_grad)
EW_HOOKS(round, TY_FLOAT, f_round, x_round, ew_no_grad)
EW_HOOKS(erf, TY_FLOAT, f_erf, x_erf, erf_g)
EW_HOOKS(sin, TY_FLOAT, f_sin, x_sin, sin_g)
EW_HOOKS(cos, TY_FLOAT, f_cos, x_cos, cos_g)
EW_HOOKS(tan, TY_FLOAT, f_tan, x_tan, tan_g)
EW_HOOKS(asin, TY_FLOAT, f_asin, x_asin, asin_g)
EW_HOOKS(acos, TY_FLOAT, f_acos, x_acos, acos_g)
EW_HOOKS(atan, TY_FLOAT, f_atan, x_atan, atan_g)
EW_HOOKS(sinh, TY_FLOAT, f_sinh, x_sinh, sinh_g)
EW_HOOKS(cosh, TY_FLOAT, f_cosh, x_cosh, cosh_g)
EW_HOOKS(asinh, TY_FLOAT, f_asinh, x_asinh, asinh_g)
EW_HOOKS(acosh, TY_FLOAT, f_acosh, x_acosh, acosh_g)
EW_HOOKS(atanh, TY_FLOAT, f_atanh, x_atanh, atanh_g)
EW_HOOKS(softplus, TY_FLOAT, f_softplus, x_softplus, softplus_g)
EW_HOOKS(softsign, TY_FLOAT, f_softsign, x_softsign, softsign_g)
