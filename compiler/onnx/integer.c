/* integer.c - ONNX's integer and quantized linear algebra on the int8 ops
 * of ops/quant.c (docs/int8.md): MatMulInteger and ConvInteger are
 * matmul_integer / conv_integer (int32 sums); QLinearMatMul and QLinearConv
 * add a requantize whose fixed-point multiplier is made from the f32 scale
 * a_scale * b_scale / y_scale, as ONNX's reference computes it, so results
 * match it exactly. QuantizeLinear and DequantizeLinear are the IR ops of
 * the same name. Scales of QLinear ops must be constants (positive and
 * finite); zero points of the inputs may be computed. MatMul stacks: a of
 * any rank times a 2-D b runs as one product of a's rows; equal 3-D stacks
 * as one product per matrix, concatenated. */
#include "onnx/onnx_impl.h"
#include "ops/quant.h"

#include <math.h>
#include <string.h>

/* A constant scale: every element positive and finite. */
static bool scale_ok(Imp *I, Value *s, const char *what) {
  if (!s || !dtype_is_float(s->dtype)) return imp_fail(I, "%s must be a float tensor", what);
  if (!imp_is_const(s)) return true;
  Tensor t = {s->dtype, s->shape, shape_numel_static(s->shape), s->data};
  for (int64_t i = 0; i < t.numel; i++) {
    double v = tensor_get(&t, i);
    if (!(v > 0) || isinf(v))
      return imp_fail(I, "%s[%lld] is %g: scales must be positive and finite", what, (long long)i, v);
  }
  return true;
}

static bool integer_input(Imp *I, Value *v) {
  return !v || v->dtype == DT_U8 || v->dtype == DT_I8 || imp_fail(I, "integer inputs must be uint8 or int8");
}

/* A zero point as a 1-D parameter of the int8 ops (a scalar or [1] stays one element). */
static Value *zero_point(Imp *I, Value *zp) {
  if (!zp || zp->shape.rank <= 1) return zp;
  return imp_reshape_to(I, zp, shape_make(1, (int64_t[]){shape_numel_static(zp->shape)}));
}

/* The int8 op's inputs: x, w and the two zero points (a zero of the
 * operand's dtype standing in for a missing first one). */
static int int_args(Imp *I, Value **args, Value *a, Value *b, Value *za, Value *zb) {
  args[0] = a, args[1] = b, args[2] = zero_point(I, za), args[3] = zero_point(I, zb);
  if (args[3] && !args[2]) args[2] = imp_scalar_like(I, a, 0);
  return args[3] ? 4 : args[2] ? 3 : 2;
}

static Value *mm_integer(Imp *I, Value *a, Value *b, Value *za, Value *zb) {
  Value *args[4];
  int n = int_args(I, args, a, b, za, zb);
  Node *m = imp_mk(I, OP_MATMUL_INTEGER, n, args);
  return m && imp_finish(I, m) ? m->out[0] : NULL;
}

/* numpy matmul of uint8/int8 a and b into int32 sums (see the top comment). */
static Value *stack_mm_integer(Imp *I, Value *a, Value *b, Value *za, Value *zb) {
  Shape as = a->shape, bs = b->shape;
  int r = as.rank;
  bool row_zp = za && shape_numel_static(za->shape) > 1;
  if (r == 2 && bs.rank == 2) return mm_integer(I, a, b, za, zb);
  if (r > 2 && bs.rank == 2 && !row_zp && as.d[r - 1] != DIM_BATCH) {
    Value *a2 = imp_reshape_to(I, a, shape_make(2, (int64_t[]){shape_numel_static(as) / as.d[r - 1], as.d[r - 1]}));
    Value *y = a2 ? mm_integer(I, a2, b, za, zb) : NULL;
    Shape ys = as;
    ys.d[r - 1] = bs.d[1];
    return y ? imp_reshape_to(I, y, ys) : NULL;
  }
  if (r == 3 && bs.rank == 3 && as.d[0] == bs.d[0] && as.d[0] > 0 && as.d[0] <= 16 && !row_zp &&
      !(zb && shape_numel_static(zb->shape) > bs.d[2])) {
    Value *parts[16];
    for (int64_t s = 0; s < as.d[0]; s++) {
      Value *ai = imp_reshape_to(I, imp_take(I, a, 0, s, s + 1, 1), shape_make(2, (int64_t[]){as.d[1], as.d[2]}));
      Value *bi = imp_reshape_to(I, imp_take(I, b, 0, s, s + 1, 1), shape_make(2, (int64_t[]){bs.d[1], bs.d[2]}));
      Value *y = ai && bi ? mm_integer(I, ai, bi, za, zb) : NULL;
      if (!(parts[s] = y ? imp_reshape_to(I, y, shape_make(3, (int64_t[]){1, as.d[1], bs.d[2]})) : NULL)) return NULL;
    }
    Node *c = imp_mk(I, OP_CONCAT, (int)as.d[0], parts);
    node_set_int(I->g, c, "axis", 0);
    return imp_finish(I, c) ? c->out[0] : NULL;
  }
  return imp_unsupported(I, I->node->op_type, "integer MatMul of %s x %s (2-D b, or equal 3-D stacks of up to 16)",
                         shape_str(&I->g->arena, as), shape_str(&I->g->arena, bs)),
         NULL;
}

bool h_matmul_integer(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  (void)np;
  if (!imp_need_inputs(I, in, nin, 2, 4) || !integer_input(I, in[0]) || !integer_input(I, in[1])) return false;
  return (out[0] = stack_mm_integer(I, in[0], in[1], nin > 2 ? in[2] : NULL, nin > 3 ? in[3] : NULL)) != NULL;
}

/* Conv's NCHW handling around conv_integer; the NHWC sums, or NULL. */
static Value *conv_integer_nhwc(Imp *I, NodeP *np, Value *x, Value *w, Value *zx, Value *zw, bool *one_d) {
  Value *xw[2] = {x, w}, *args[4];
  if (x->shape.rank != 3 && x->shape.rank != 4)
    return imp_unsupported(I, np->op_type, "%s on a rank-%d input (only 1-D and 2-D)", np->op_type, x->shape.rank),
           NULL;
  int n = int_args(I, args, x, w, zx, zw);
  return nchw_conv_nhwc(I, np, OP_CONV_INTEGER, xw, args + 2, n - 2, one_d);
}

bool h_conv_integer(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  if (!imp_need_inputs(I, in, nin, 2, 4) || !integer_input(I, in[0]) || !integer_input(I, in[1])) return false;
  bool one_d;
  Value *y = conv_integer_nhwc(I, np, in[0], in[1], nin > 2 ? in[2] : NULL, nin > 3 ? in[3] : NULL, &one_d);
  return nchw_from_nhwc(I, y, one_d, out);
}

/* int32 [n] constant. */
static Value *i32_const(Imp *I, const char *name, const int32_t *v, int64_t n) {
  Value *c = value_new(I->g, name, VK_CONST, DT_I32, shape_make(1, (int64_t[]){n}));
  c->data = arena_alloc(&I->g->arena, (size_t)n * 4 + 8);
  memcpy(c->data, v, (size_t)n * 4);
  return c;
}

/* requantize(acc, mult, shift [, bias]) for the output scale
 * (float)(in_scale * w_scale[c]) / y_scale, per channel when w_scale is. */
static Value *requantized(Imp *I, Value *acc, Value *xs, Value *ws, Value *ys, Value *yzp, Value *bias) {
  int64_t nc = shape_numel_static(ws->shape);
  Tensor x = {xs->dtype, xs->shape, 1, xs->data}, w = {ws->dtype, ws->shape, nc, ws->data},
         y = {ys->dtype, ys->shape, 1, ys->data};
  int32_t *m = xcalloc((size_t)nc, 4), *sh = xcalloc((size_t)nc, 4);
  bool ok = true;
  for (int64_t c = 0; c < nc && ok; c++) {
    float s = (float)tensor_get(&x, 0) * (float)tensor_get(&w, c);
    s = s / (float)tensor_get(&y, 0);
    ok = quant_multiplier(s, &m[c], &sh[c]) || imp_fail(I, "output scale %g cannot be requantized", (double)s);
  }
  Value *args[4] = {acc, ok ? i32_const(I, "qmult", m, nc) : NULL, ok ? i32_const(I, "qshift", sh, nc) : NULL,
                    bias ? zero_point(I, bias) : NULL};
  free(m), free(sh);
  if (!ok) return NULL;
  Node *r = imp_mk(I, OP_REQUANTIZE, bias ? 4 : 3, args);
  Tensor z = {yzp ? yzp->dtype : DT_U8, shape_scalar(), 1, yzp ? yzp->data : NULL};
  node_set_int(I->g, r, "zero_point", yzp ? (int64_t)tensor_get(&z, 0) : 0);
  node_set_int(I->g, r, "to", !yzp || yzp->dtype == DT_U8 ? 2 : 3);
  return imp_finish(I, r) ? r->out[0] : NULL;
}

/* The constants QLinear ops need: the three scales and the output zero point. */
static bool qlinear_consts(Imp *I, Value **in, int nin) {
  const int idx[4] = {1, 4, 6, 7};
  const char *what[4] = {"the input scale", "the weight scale", "the output scale", "the output zero point"};
  for (int k = 0; k < 4; k++)
    if (idx[k] < nin && in[idx[k]] && !imp_is_const(in[idx[k]])) return imp_need_const(I, in[idx[k]], what[k]);
  if (shape_numel_static(in[1]->shape) != 1 || shape_numel_static(in[6]->shape) != 1 ||
      (in[7] && shape_numel_static(in[7]->shape) != 1))
    return imp_unsupported(I, I->node->op_type, "per-row input or per-element output scales");
  if (in[7] && in[7]->dtype != DT_U8 && in[7]->dtype != DT_I8)
    return imp_fail(I, "the output zero point must be uint8 or int8");
  return scale_ok(I, in[1], "the input scale") && scale_ok(I, in[4], "the weight scale") &&
         scale_ok(I, in[6], "the output scale");
}

/* QLinearMatMul(a, as, azp, b, bs, bzp, ys, yzp) and QLinearConv(x, xs, xzp,
 * w, ws, wzp, ys, yzp[, bias int32 in units of xs ws]). */
bool h_qlinear(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  bool conv = !strcmp(np->op_type, "QLinearConv"), one_d = false;
  if (!imp_need_inputs(I, in, nin, 8, conv ? 9 : 8) || !integer_input(I, in[0]) || !integer_input(I, in[3]))
    return false;
  if (!qlinear_consts(I, in, nin)) return false;
  Value *acc = conv ? conv_integer_nhwc(I, np, in[0], in[3], in[2], in[5], &one_d)
                    : stack_mm_integer(I, in[0], in[3], in[2], in[5]);
  if (!acc) return false;
  Value *y = requantized(I, acc, in[1], in[4], in[6], in[7], conv && nin > 8 ? in[8] : NULL);
  return conv ? nchw_from_nhwc(I, y, one_d, out) : (out[0] = y) != NULL;
}

/* QuantizeLinear / DequantizeLinear: the IR ops; a constant scale must be
 * positive and finite. DequantizeLinear of constant 8-bit weights is not
 * folded here (the constfold pass folds what qdq_fold leaves). */
bool h_quantize(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  if (!imp_need_inputs(I, in, nin, 2, 3) || !scale_ok(I, in[1], "the scale")) return false;
  bool deq = !strcmp(np->op_type, "DequantizeLinear");
  Value *args[3] = {in[0], in[1], nin > 2 ? in[2] : NULL};
  if (args[2] && args[2]->dtype != DT_U8 && args[2]->dtype != DT_I8 && !(deq && args[2]->dtype == DT_I32))
    return imp_unsupported(I, np->op_type, "%s with a %s zero point", np->op_type, dtype_name(args[2]->dtype));
  Node *n = imp_mk(I, deq ? OP_DEQUANTIZE_LINEAR : OP_QUANTIZE_LINEAR, args[2] ? 3 : 2, args);
  node_set_int(I->g, n, "axis", imp_attr_i(np, "axis", 1));
  if (deq && imp_is_const(in[0]) && in[0]->dtype != DT_I32) { /* int8 weights stay int8 for passes/qdq_fold.c */
    const char *err = op_table[n->op].infer(I->g, n);
    return err ? imp_fail(I, "%s", err) : (out[0] = n->out[0]) != NULL;
  }
  return imp_finish(I, n) && (out[0] = n->out[0]) != NULL;
}
