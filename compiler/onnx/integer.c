/* integer.c - ONNX's integer and quantized linear algebra composed of float
 * ops: MatMulInteger (in f64, exact), ConvInteger (in f32, exact while a
 * sum stays below 2^24), QLinearMatMul and QLinearConv (dequantize,
 * compute in f32, quantize with round-half-even and saturation).
 * Zero points and scales are scalars or per row of A / per output channel
 * of the kernel. */
#include "onnx/onnx_impl.h"

#include <string.h>

/* p ([n] with n > 1) shaped to run along axis `axis` of a rank-`rank` tensor. */
static Value *along(Imp *I, Value *p, int axis, int rank) {
  if (!p || p->shape.rank != 1 || p->shape.d[0] == 1) return p;
  Shape s = {rank, {0}};
  for (int i = 0; i < rank; i++)
    s.d[i] = i == axis ? p->shape.d[0] : 1;
  return imp_reshape_to(I, p, s);
}

/* (x - zero_point) in dtype t; the zero point per `axis` entry when a vector. */
static Value *centered(Imp *I, Value *x, Value *zp, DType t, int axis) {
  Value *xf = imp_cast_to(I, x, t);
  if (!zp || !xf) return xf;
  Value *z = along(I, imp_cast_to(I, zp, t), axis, x->shape.rank);
  return z ? imp_mk2(I, OP_SUB, xf, z) : NULL;
}

/* (x - zero_point) scale in f32. */
static Value *dequantized(Imp *I, Value *x, Value *scale, Value *zp, int axis) {
  Value *c = centered(I, x, zp, DT_F32, axis), *s = along(I, scale, axis, x->shape.rank);
  return c && s ? imp_mk2(I, OP_MUL, c, s) : NULL;
}

/* round(y / scale) + zero_point, saturated to the zero point's dtype. */
static Value *quantized(Imp *I, Value *y, Value *scale, Value *zp) {
  DType t = zp ? zp->dtype : DT_U8;
  if (t != DT_U8 && t != DT_I8) return imp_unsupported(I, "quantized", "quantized results of %s", dtype_name(t)), NULL;
  Value *d = imp_mk2(I, OP_DIV, y, scale);
  Node *r = d ? imp_mk(I, OP_ROUND, 1, &d) : NULL;
  Value *q = r && imp_finish(I, r) ? r->out[0] : NULL;
  if (q && zp) q = imp_mk2(I, OP_ADD, q, imp_cast_to(I, zp, DT_F32));
  Node *c = q ? imp_mk(I, OP_CLIP, 1, &q) : NULL;
  if (!c) return NULL;
  node_set_float(I->g, c, "min", t == DT_U8 ? 0 : -128);
  node_set_float(I->g, c, "max", t == DT_U8 ? 255 : 127);
  return imp_finish(I, c) ? imp_cast_to(I, c->out[0], t) : NULL;
}

static bool integer_input(Imp *I, Value *v) {
  return !v || v->dtype == DT_U8 || v->dtype == DT_I8 || imp_fail(I, "integer inputs must be uint8 or int8");
}

bool h_matmul_integer(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  if (!imp_need_inputs(I, in, nin, 2, 4) || !integer_input(I, in[0]) || !integer_input(I, in[1])) return false;
  Value *a = centered(I, in[0], nin > 2 ? in[2] : NULL, DT_F64, in[0]->shape.rank - 2);
  Value *b = centered(I, in[1], nin > 3 ? in[3] : NULL, DT_F64, in[1]->shape.rank - 1);
  Value *ab[2] = {a, b}, *y = NULL;
  if (!a || !b || !imp_matmul(I, np, ab, 2, &y)) return false;
  return (out[0] = imp_cast_to(I, y, DT_I32)) != NULL;
}

bool h_conv_integer(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  if (!imp_need_inputs(I, in, nin, 2, 4) || !integer_input(I, in[0]) || !integer_input(I, in[1])) return false;
  Value *xw[2] = {centered(I, in[0], nin > 2 ? in[2] : NULL, DT_F32, 1),
                  centered(I, in[1], nin > 3 ? in[3] : NULL, DT_F32, 0)};
  Value *y = NULL;
  if (!xw[0] || !xw[1] || !nchw_conv(I, np, xw, 2, &y)) return false;
  return (out[0] = imp_cast_to(I, y, DT_I32)) != NULL;
}

/* QLinearMatMul(a, as, azp, b, bs, bzp, ys, yzp) and QLinearConv(x, xs, xzp,
 * w, ws, wzp, ys, yzp[, bias int32 scaled by xs ws]). */
bool h_qlinear(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  bool conv = !strcmp(np->op_type, "QLinearConv");
  if (!imp_need_inputs(I, in, nin, 8, conv ? 9 : 8) || !integer_input(I, in[0]) || !integer_input(I, in[3]))
    return false;
  Value *a = dequantized(I, in[0], in[1], in[2], conv ? 1 : in[0]->shape.rank - 2);
  Value *b = dequantized(I, in[3], in[4], in[5], conv ? 0 : in[3]->shape.rank - 1);
  Value *ab[3] = {a, b, NULL}, *y = NULL;
  if (conv && nin > 8 && in[8]) { /* the int32 bias is in units of x_scale w_scale */
    Value *ws = in[4]->shape.rank == 1 && in[4]->shape.d[0] > 1 ? in[4] : imp_reshape_to(I, in[4], shape_scalar());
    Value *s = ws ? imp_mk2(I, OP_MUL, imp_reshape_to(I, in[1], shape_scalar()), ws) : NULL;
    ab[2] = s ? imp_mk2(I, OP_MUL, imp_cast_to(I, in[8], DT_F32), s) : NULL;
    if (!ab[2]) return false;
  }
  if (!a || !b || !(conv ? nchw_conv(I, np, ab, ab[2] ? 3 : 2, &y) : imp_matmul(I, np, ab, 2, &y))) return false;
  return (out[0] = quantized(I, y, in[6], in[7])) != NULL;
}
