/* activation.c - elementwise activations with ONNX's attributes and
 * defaults: relu sigmoid tanh leaky_relu clip elu selu celu thresholded_relu
 * shrink hard_sigmoid hard_swish prelu, and the gradient helpers relu_grad
 * sigmoid_grad tanh_grad clip_grad leaky_relu_grad. relu, clip, shrink and
 * prelu also take integers. Other gradients are built from where(): the
 * branch an input took selects the derivative. */
#include "op.h"

#include <math.h>

static double attr(const Node *n, const char *k, double dflt) { return node_float(n, k, dflt); }
#define ALPHA(d) attr(n, "alpha", d)

/* ---- scalar functions (interpreter, in double) ---- */

#define F1(name, expr)                                                                                                 \
  static double f_##name(const Node *n, const double *x) {                                                             \
    (void)n;                                                                                                           \
    double v = x[0];                                                                                                   \
    return expr;                                                                                                       \
  }
F1(relu, v > 0 ? v : 0)
F1(sigmoid, 1 / (1 + exp(-v)))
F1(tanh, tanh(v))
F1(leaky_relu, v > 0 ? v : ALPHA(0.01) * v)
F1(elu, v > 0 ? v : ALPHA(1) * (exp(v) - 1))
F1(selu, attr(n, "gamma", 1.05070102214813232421875) * (v > 0 ? v : ALPHA(1.67326319217681884765625) * (exp(v) - 1)))
F1(celu, v > 0 ? v : ALPHA(1) * (exp(v / ALPHA(1)) - 1))
F1(thresholded_relu, v > ALPHA(1) ? v : 0)
F1(shrink, v<-attr(n, "lambd", 0.5) ? v + attr(n, "bias", 0) : v> attr(n, "lambd", 0.5) ? v - attr(n, "bias", 0) : 0)
F1(hard_sigmoid, fmax(0, fmin(1, ALPHA(0.2) * v + attr(n, "beta", 0.5))))
F1(hard_swish, v *fmax(0, fmin(1, v / 6 + 0.5)))
static double f_prelu(const Node *n, const double *x) {
  (void)n;
  return x[0] < 0 ? x[1] * x[0] : x[0];
}
static double f_relu_grad(const Node *n, const double *x) {
  (void)n;
  return x[1] > 0 ? x[0] : 0;
}
static double f_sigmoid_grad(const Node *n, const double *x) {
  (void)n;
  return x[0] * x[1] * (1 - x[1]);
}
static double f_tanh_grad(const Node *n, const double *x) {
  (void)n;
  return x[0] * (1 - x[1] * x[1]);
}
static double f_leaky_relu_grad(const Node *n, const double *x) { return x[1] > 0 ? x[0] : ALPHA(0.01) * x[0]; }

static double clip_lo(const Node *n) { return attr(n, "min", -INFINITY); }
static double clip_hi(const Node *n) { return attr(n, "max", INFINITY); }
/* min > max gives max everywhere (ONNX). */
static double f_clip(const Node *n, const double *x) {
  double v = x[0] < clip_lo(n) ? clip_lo(n) : x[0];
  return v > clip_hi(n) ? clip_hi(n) : v;
}
static double f_clip_grad(const Node *n, const double *x) {
  return x[1] >= clip_lo(n) && x[1] <= clip_hi(n) ? x[0] : 0;
}

/* ---- C expressions ---- */

#define L(v) ew_lit(n, v)
static void x_relu(Buf *b, Node *n, const char **a) { buf_printf(b, "(%s > 0 ? %s : %s)", a[0], a[0], L(0)); }
static void x_sigmoid(Buf *b, Node *n, const char **a) {
  if (ew_type(n) == DT_F32)
    buf_printf(b, "nn2c_sigmoidf(%s)", a[0]);
  else
    buf_printf(b, "(%s / (%s + exp(-%s)))", L(1), L(1), a[0]);
}
static void x_tanh(Buf *b, Node *n, const char **a) {
  buf_printf(b, "%s(%s)", ew_type(n) == DT_F32 ? "nn2c_tanhf" : "tanh", a[0]);
}
static void x_leaky_relu(Buf *b, Node *n, const char **a) {
  buf_printf(b, "(%s > 0 ? %s : %s * %s)", a[0], a[0], L(ALPHA(0.01)), a[0]);
}
static void x_leaky_relu_grad(Buf *b, Node *n, const char **a) {
  buf_printf(b, "(%s > 0 ? %s : %s * %s)", a[1], a[0], L(ALPHA(0.01)), a[0]);
}
static void x_elu(Buf *b, Node *n, const char **a) {
  buf_printf(b, "(%s > 0 ? %s : %s * (%s(%s) - %s))", a[0], a[0], L(ALPHA(1)), ew_exp(n), a[0], L(1));
}
static void x_selu(Buf *b, Node *n, const char **a) {
  double g = attr(n, "gamma", 1.05070102214813232421875), al = ALPHA(1.67326319217681884765625);
  buf_printf(b, "(%s > 0 ? %s * %s : %s * (%s(%s) - %s))", a[0], L(g), a[0], L(g * al), ew_exp(n), a[0], L(1));
}
static void x_celu(Buf *b, Node *n, const char **a) {
  buf_printf(b, "(%s > 0 ? %s : %s * (%s(%s / %s) - %s))", a[0], a[0], L(ALPHA(1)), ew_exp(n), a[0], L(ALPHA(1)), L(1));
}
static void x_thresholded_relu(Buf *b, Node *n, const char **a) {
  buf_printf(b, "(%s > %s ? %s : %s)", a[0], L(ALPHA(1)), a[0], L(0));
}
static void x_shrink(Buf *b, Node *n, const char **a) {
  double l = attr(n, "lambd", 0.5), bias = attr(n, "bias", 0);
  if (dtype_is_unsigned(ew_type(n))) /* nothing is below -lambd (and C compilers reject u < 0) */
    buf_printf(b, "(%s > %s ? %s - %s : %s)", a[0], L(l), a[0], L(bias), L(0));
  else
    buf_printf(b, "(%s < %s ? %s + %s : %s > %s ? %s - %s : %s)", a[0], L(-l), a[0], L(bias), a[0], L(l), a[0], L(bias),
               L(0));
}
static void x_hard_sigmoid(Buf *b, Node *n, const char **a) {
  const char *s = ew_sfx(n);
  buf_printf(b, "fmax%s(%s, fmin%s(%s, %s * %s + %s))", s, L(0), s, L(1), L(ALPHA(0.2)), a[0], L(attr(n, "beta", 0.5)));
}
static void x_hard_swish(Buf *b, Node *n, const char **a) {
  const char *s = ew_sfx(n);
  buf_printf(b, "(%s * fmax%s(%s, fmin%s(%s, %s / %s + %s)))", a[0], s, L(0), s, L(1), a[0], L(6), L(0.5));
}
static void x_prelu(Buf *b, Node *n, const char **a) {
  if (dtype_is_unsigned(ew_type(n)))
    buf_printf(b, "%s", a[0]);
  else
    buf_printf(b, "(%s < 0 ? %s * %s : %s)", a[0], a[1], a[0], a[0]);
}
static void x_relu_grad(Buf *b, Node *n, const char **a) { buf_printf(b, "(%s > 0 ? %s : %s)", a[1], a[0], L(0)); }
static void x_sigmoid_grad(Buf *b, Node *n, const char **a) {
  buf_printf(b, "(%s * %s * (%s - %s))", a[0], a[1], L(1), a[1]);
}
static void x_tanh_grad(Buf *b, Node *n, const char **a) {
  buf_printf(b, "(%s * (%s - %s * %s))", a[0], L(1), a[1], a[1]);
}

/* A bound is left out where it cannot bind: absent, or beyond an integer dtype's range. */
static bool bound_binds(const Node *n, const char *key, double v) {
  if (!node_attr(n, key)) return false;
  DType t = ew_type(n);
  if (dtype_is_float(t)) return true;
  int bits = 8 * dtype_size(t);
  double lo = dtype_is_unsigned(t) ? 0 : -ldexp(1, bits - 1),
         hi = dtype_is_unsigned(t) ? ldexp(1, bits) - 1 : ldexp(1, bits - 1) - 1;
  return v > lo && v < hi;
}

static void x_clip(Buf *b, Node *n, const char **a) {
  bool lo = bound_binds(n, "min", clip_lo(n)), hi = bound_binds(n, "max", clip_hi(n));
  Buf v = {0};
  if (lo)
    buf_printf(&v, "(%s < %s ? %s : %s)", a[0], L(clip_lo(n)), L(clip_lo(n)), a[0]);
  else
    buf_printf(&v, "%s", a[0]);
  if (hi)
    buf_printf(b, "(%s > %s ? %s : %s)", v.data, L(clip_hi(n)), L(clip_hi(n)), v.data);
  else
    buf_puts(b, v.data);
  buf_free(&v);
}

static void x_clip_grad(Buf *b, Node *n, const char **a) {
  buf_printf(b, "(%s >= %s && %s <= %s ? %s : %s)", a[1], L(node_attr(n, "min") ? clip_lo(n) : -3.4e38), a[1],
             L(node_attr(n, "max") ? clip_hi(n) : 3.4e38), a[0], L(0));
}

/* ---- gradient rules ---- */

static Value *lit(Graph *g, Value *like, double v) { return build_scalar(g, like->dtype, v); }
static Value *mul(Graph *g, Value *a, Value *b) { return build2(g, OP_MUL, a, b); }
static Value *above(Graph *g, Value *x, double t) { return build2(g, OP_GREATER, x, lit(g, x, t)); }
#define G(name) static void name##_g(Graph *g, Node *n, Value **dy, Value **dx)
#define X (n->in[0])
#define Y (n->out[0])
#define D (dy[0])

G(relu) { dx[0] = build2(g, OP_RELU_GRAD, D, Y); }
G(sigmoid) { dx[0] = build2(g, OP_SIGMOID_GRAD, D, Y); }
G(tanh) { dx[0] = build2(g, OP_TANH_GRAD, D, Y); }
/* leaky_relu(x) > 0 exactly when x > 0 (alpha > 0), so the output can stand in for x. */
G(leaky_relu) {
  Value *in[2] = {D, ALPHA(0.01) > 0 ? Y : X};
  Node *k = build_node(g, OP_LEAKY_RELU_GRAD, 2, in);
  node_copy_attrs(g, k, n);
  dx[0] = build_finish(g, k);
}
G(clip) {
  Value *in[2] = {D, X};
  Node *c = build_node(g, OP_CLIP_GRAD, 2, in);
  node_copy_attrs(g, c, n);
  dx[0] = build_finish(g, c);
}
/* x <= 0: y = a(e^x - 1), y' = y + a */
G(elu) {
  Value *slope = mul(g, D, build2(g, OP_ADD, Y, lit(g, D, ALPHA(1))));
  dx[0] = build_where(g, above(g, X, 0), D, slope);
}
G(selu) {
  double gm = attr(n, "gamma", 1.05070102214813232421875), al = ALPHA(1.67326319217681884765625);
  Value *neg = mul(g, D, build2(g, OP_ADD, Y, lit(g, D, gm * al)));
  Value *pos = mul(g, D, lit(g, D, gm));
  dx[0] = build_where(g, above(g, X, 0), pos, neg);
}
/* x <= 0: y = a(e^(x/a) - 1), y' = y/a + 1 */
G(celu) {
  Value *one = lit(g, D, 1);
  Value *d = build2(g, OP_ADD, build2(g, OP_DIV, Y, lit(g, D, ALPHA(1))), one);
  Value *slope = mul(g, D, d);
  dx[0] = build_where(g, above(g, X, 0), D, slope);
}
G(thresholded_relu) {
  Value *zero = lit(g, D, 0);
  dx[0] = build_where(g, above(g, X, ALPHA(1)), D, zero);
}
G(shrink) {
  Value *zero = lit(g, D, 0);
  dx[0] = build_where(g, above(g, build1(g, OP_ABS, X), attr(n, "lambd", 0.5)), D, zero);
}
/* slope alpha where 0 < alpha x + beta < 1 */
G(hard_sigmoid) {
  Value *beta = lit(g, X, attr(n, "beta", 0.5));
  Value *t = build2(g, OP_ADD, mul(g, X, lit(g, X, ALPHA(0.2))), beta);
  Value *below_one = build2(g, OP_LESS, t, lit(g, t, 1));
  Value *inside = build2(g, OP_AND, above(g, t, 0), below_one);
  Value *zero = lit(g, D, 0);
  Value *slope = mul(g, D, lit(g, D, ALPHA(0.2)));
  dx[0] = build_where(g, inside, slope, zero);
}
/* 0 below -3, 1 above 3, x/3 + 1/2 between */
G(hard_swish) {
  Value *half = lit(g, X, 0.5);
  Value *mid = mul(g, D, build2(g, OP_ADD, build2(g, OP_DIV, X, lit(g, X, 3)), half));
  Value *upper = build_where(g, above(g, X, 3), D, mid);
  Value *zero = lit(g, D, 0);
  dx[0] = build_where(g, build2(g, OP_LESS, X, lit(g, X, -3)), zero, upper);
}
G(prelu) {
  Value *neg = build2(g, OP_LESS, X, lit(g, X, 0));
  dx[0] = build_unb(g, build_where(g, neg, mul(g, D, n->in[1]), D), X);
  Value *zero = lit(g, D, 0);
  dx[1] = build_unb(g, build_where(g, neg, mul(g, D, X), zero), n->in[1]);
}
static void no_g(Graph *g, Node *n, Value **dy, Value **dx) {
  (void)g, (void)n, (void)dy, (void)dx;
  NN2C_ASSERT(!"gradient of a gradient op requested");
}

/* ---- the hooks named in ops.def ---- */

EW_HOOKS(relu, TY_NUM, f_relu, x_relu, relu_g)
EW_HOOKS(sigmoid, TY_FLOAT, f_sigmoid, x_sigmoid, sigmoid_g)
EW_HOOKS(tanh, TY_FLOAT, f_tanh, x_tanh, tanh_g)
EW_HOOKS(leaky_relu, TY_FLOAT, f_leaky_relu, x_leaky_relu, leaky_relu_g)
EW_HOOKS(clip, TY_NUM, f_clip, x_clip, clip_g)
EW_HOOKS(elu, TY_FLOAT, f_elu, x_elu, elu_g)
EW_HOOKS(selu, TY_FLOAT, f_selu, x_selu, selu_g)
EW_HOOKS(celu, TY_FLOAT, f_celu, x_celu, celu_g)
EW_HOOKS(thresholded_relu, TY_FLOAT, f_thresholded_relu, x_thresholded_relu, thresholded_relu_g)
EW_HOOKS(shrink, TY_NUM, f_shrink, x_shrink, shrink_g)
EW_HOOKS(hard_sigmoid, TY_FLOAT, f_hard_sigmoid, x_hard_sigmoid, hard_sigmoid_g)
EW_HOOKS(hard_swish, TY_FLOAT, f_hard_swish, x_hard_swish, hard_swish_g)
EW_HOOKS(prelu, TY_NUM, f_prelu, x_prelu, prelu_g)
EW_HOOKS(relu_grad, TY_FLOAT, f_relu_grad, x_relu_grad, no_g)
EW_HOOKS(sigmoid_grad, TY_FLOAT, f_sigmoid_grad, x_sigmoid_grad, no_g)
EW_HOOKS(tanh_grad, TY_FLOAT, f_tanh_grad, x_tanh_grad, no_g)
EW_HOOKS(clip_grad, TY_FLOAT, f_clip_grad, x_clip_grad, no_g)
EW_HOOKS(leaky_relu_grad, TY_FLOAT, f_leaky_relu_grad, x_leaky_relu_grad, no_g)
