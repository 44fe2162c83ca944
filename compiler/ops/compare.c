/* compare.c - comparisons and logic giving bool (one byte, 0 or 1; uint8_t
 * in C): equal less greater less_or_equal greater_or_equal not and or xor
 * is_nan is_inf; where(cond, a, b); and the casts. cast's `to` is the ONNX
 * TensorProto code (1 f32, 7 i64, 9 bool, 11 f64, ...) or a dtype name
 * ("f32"); floats become integers by truncation toward zero, anything
 * becomes bool by != 0. cast_like(x, like) casts x to like's dtype. */
#include "op.h"

#include <math.h>
#include <string.h>

/* ---- scalar functions (interpreter, in double) ---- */

#define F(name, expr)                                                                                                  \
  static double f_##name(const Node *n, const double *x) {                                                             \
    (void)n;                                                                                                           \
    return expr;                                                                                                       \
  }
F(equal, x[0] == x[1])
F(less, x[0] < x[1])
F(greater, x[0] > x[1])
F(less_or_equal, x[0] <= x[1])
F(greater_or_equal, x[0] >= x[1])
F(not, !x[0])
F(and, x[0] && x[1])
F(or, x[0] || x[1])
F(xor, !x[0] != !x[1])
F(is_nan, isnan(x[0]))
F(is_inf, isinf(x[0]) && (x[0] > 0 ? node_int(n, "detect_positive", 1) : node_int(n, "detect_negative", 1)))
F(where, x[0] ? x[1] : x[2])
/* Truncation toward zero; tensor_set does it for integer outputs, and != 0 for bool. */
F(cast, x[0])

/* ---- C expressions ---- */

/* A value compared with itself is written without the comparison, which C
 * compilers reject as tautological: x == x holds unless x is NaN. */
static bool self_compare(Buf *b, Node *n, const char **a, bool reflexive) {
  if (strcmp(a[0], a[1])) return false;
  if (!reflexive)
    buf_puts(b, "0");
  else if (dtype_is_float(ew_type(n)))
    buf_printf(b, "(!isnan(%s))", a[0]);
  else
    buf_puts(b, "1");
  return true;
}

#define X2(name, op, reflexive)                                                                                        \
  static void x_##name(Buf *b, Node *n, const char **a) {                                                              \
    if (!self_compare(b, n, a, reflexive)) buf_printf(b, "(%s " op " %s)", a[0], a[1]);                                \
  }
X2(equal, "==", true)
X2(less, "<", false)
X2(greater, ">", false)
X2(less_or_equal, "<=", true)
X2(greater_or_equal, ">=", true)
static void x_and(Buf *b, Node *n, const char **a) {
  (void)n;
  buf_printf(b, "(%s && %s)", a[0], a[1]);
}
static void x_or(Buf *b, Node *n, const char **a) {
  (void)n;
  buf_printf(b, "(%s || %s)", a[0], a[1]);
}
static void x_not(Buf *b, Node *n, const char **a) {
  (void)n;
  buf_printf(b, "(!%s)", a[0]);
}
static void x_xor(Buf *b, Node *n, const char **a) {
  (void)n;
  if (!strcmp(a[0], a[1]))
    buf_puts(b, "0");
  else
    buf_printf(b, "(!%s != !%s)", a[0], a[1]);
}
static void x_is_nan(Buf *b, Node *n, const char **a) {
  (void)n;
  buf_printf(b, "(isnan(%s) != 0)", a[0]);
}
static void x_is_inf(Buf *b, Node *n, const char **a) {
  bool pos = node_int(n, "detect_positive", 1), neg = node_int(n, "detect_negative", 1);
  if (pos && neg)
    buf_printf(b, "(isinf(%s) != 0)", a[0]);
  else if (pos || neg)
    buf_printf(b, "(isinf(%s) && %s %s 0)", a[0], a[0], pos ? ">" : "<");
  else
    buf_puts(b, "0");
}
static void x_where(Buf *b, Node *n, const char **a) {
  (void)n;
  buf_printf(b, "(%s ? %s : %s)", a[0], a[1], a[2]);
}
static void x_cast(Buf *b, Node *n, const char **a) {
  DType t = n->out[0]->dtype, s = n->in[0]->dtype;
  Buf x = {0};
  if (dtype_is_half(s))
    buf_printf(&x, "%s_to_double(%s)", s == DT_F16 ? "f16" : "bf16", a[0]);
  else
    buf_puts(&x, a[0]);
  if (t == DT_BOOL)
    buf_printf(b, "(%s != 0)", x.data);
  else if (dtype_is_half(t))
    buf_printf(b, "%s_from_double((double)%s)", t == DT_F16 ? "f16" : "bf16", x.data);
  else
    buf_printf(b, "(%s)%s", emit_ctype(t), x.data);
  buf_free(&x);
}

/* ---- gradient rules ---- */

static void where_g(Graph *g, Node *n, Value **dy, Value **dx) {
  Value *zero = build_scalar(g, dy[0]->dtype, 0);
  dx[1] = build_unb(g, build_where(g, n->in[0], dy[0], zero), n->in[1]);
  dx[2] = build_unb(g, build_where(g, n->in[0], zero, dy[0]), n->in[2]);
}

/* Between floats the gradient is cast back; an integer or bool result has none. */
static Value *cast_back(Graph *g, Value *d, DType t) {
  Node *c = build_node(g, OP_CAST, 1, &d);
  node_set_string(g, c, "to", dtype_name(t));
  return build_finish(g, c);
}
static void cast_g(Graph *g, Node *n, Value **dy, Value **dx) {
  if (dtype_is_float(n->out[0]->dtype)) dx[0] = cast_back(g, dy[0], n->in[0]->dtype);
}

/* ---- the hooks named in ops.def ---- */

EW_HOOKS(equal, TY_CMP, f_equal, x_equal, ew_no_grad)
EW_HOOKS(less, TY_CMP, f_less, x_less, ew_no_grad)
EW_HOOKS(greater, TY_CMP, f_greater, x_greater, ew_no_grad)
EW_HOOKS(less_or_equal, TY_CMP, f_less_or_equal, x_less_or_equal, ew_no_grad)
EW_HOOKS(greater_or_equal, TY_CMP, f_greater_or_equal, x_greater_or_equal, ew_no_grad)
EW_HOOKS(not, TY_LOGIC, f_not, x_not, ew_no_grad)
EW_HOOKS(and, TY_LOGIC, f_and, x_and, ew_no_grad)
EW_HOOKS(or, TY_LOGIC, f_or, x_or, ew_no_grad)
EW_HOOKS(xor, TY_LOGIC, f_xor, x_xor, ew_no_grad)
EW_HOOKS(is_nan, TY_ISX, f_is_nan, x_is_nan, ew_no_grad)
EW_HOOKS(is_inf, TY_ISX, f_is_inf, x_is_inf, ew_no_grad)
EW_HOOKS(where, TY_WHERE, f_where, x_where, where_g)
EW_HOOKS(cast, TY_CAST, f_cast, x_cast, cast_g)

/* ---- cast_like(x, like): x in like's dtype; like's shape does not matter ---- */

const char *cast_like_infer(Graph *g, Node *n) {
  (void)g;
  n->out[0]->dtype = n->in[1]->dtype;
  n->out[0]->shape = n->in[0]->shape;
  return NULL;
}

void cast_like_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx, (void)n;
  for (int64_t i = 0; i < out[0]->numel; i++)
    tensor_set(out[0], i, tensor_get(in[0], i));
}

void cast_like_grad(Graph *g, Node *n, Value **dy, Value **dx) {
  if (dtype_is_float(n->out[0]->dtype)) dx[0] = cast_back(g, dy[0], n->in[0]->dtype);
}

void cast_like_emit(Emit *e, Node *n) {
  const char *o = emit_ref(e, n->out[0]), *x = emit_ref(e, n->in[0]);
  const char *arg = arena_printf(&e->g->arena, "%s[i]", x);
  Buf ex = {0};
  cast_half_helpers(e, n);
  x_cast(&ex, n, &arg);
  emit_line(e, "for (size_t i = 0; i < %s; i++) %s[i] = %s;", emit_numel(e, n->out[0]), o, ex.data);
  buf_free(&ex);
}
