/* quant.c - int8 inference (docs/int8.md): quantization to and from float,
 * integer matrix products and convolutions with int32 sums, fixed-point
 * requantization and int8 max pooling.
 *
 * Ops:
 *   quantize_linear(x, scale [, zp]) axis   ONNX QuantizeLinear: x / scale in
 *       x's float type, rounded half to even, plus zp, saturated to zp's dtype
 *       (uint8 without zp); NaN gives the lowest value. A scale with more than
 *       one element runs along `axis`.
 *   dequantize_linear(x, scale [, zp]) axis ONNX DequantizeLinear: f32
 *       ((float)x - (float)zp) * scale.
 *   matmul_integer(a, b [, a_zp, b_zp])     a [M,K] and b [K,N] of uint8/int8
 *       -> int32 sum of (a - a_zp)(b - b_zp); a_zp per tensor or per row, b_zp
 *       per tensor or per column (ONNX MatMulInteger on 2-D operands).
 *   conv_integer(x, w [, x_zp, w_zp])       conv2d's geometry (NHWC x, HWIO w,
 *       strides, pads, dilations, groups) on (x - x_zp)(w - w_zp) -> int32;
 *       taps in the padding add nothing; w_zp per tensor or per output channel.
 *   requantize(acc, mult, shift [, bias])   int32 sums [..., C] to int8/uint8:
 *       y = clamp(zero_point + round((acc + bias) mult / 2^shift), lo, hi),
 *       per tensor or per last-axis channel. Attributes: zero_point, to (the
 *       ONNX dtype code: 2 uint8, 3 int8), lo and hi (default the dtype's
 *       range; a fused ReLU sets lo = zero_point). mult in [0, 2^31) and shift
 *       in [0, 62] are constants; the product is exact in int64 and rounds half
 *       to even, like QuantizeLinear, so a multiplier made from an f32 scale
 *       (24 significant bits fit in 31) gives ONNX's QLinear results exactly.
 *   maxpool2d_int(x)                        maxpool2d on uint8/int8 (same
 *       attributes; taps in the padding are skipped).
 * The interpreter's kernels are written apart from the emitted ones (its
 * rounding uses floor division, the emitted code shifts the magnitude). */
#include "conv_impl.h"
#include "quant.h"

#include <math.h>
#include <string.h>

#define QSUM_MAX_TERMS 33025 /* 255 * 255 * 33025 < 2^31: int32 sums cannot overflow */

static bool is_q8(DType t) { return t == DT_U8 || t == DT_I8; }
static int64_t q_lo(DType t) { return t == DT_U8 ? 0 : t == DT_I8 ? -128 : INT32_MIN; }
static int64_t q_hi(DType t) { return t == DT_U8 ? 255 : t == DT_I8 ? 127 : INT32_MAX; }

static int64_t numel_or_0(const Value *v) { return shape_has_batch(v->shape) ? 0 : shape_numel_static(v->shape); }

/* A per-tensor (one element) or per-entry (len elements, rank <= 1) parameter. */
static bool param_fits(const Value *p, int64_t len) {
  int64_t k = numel_or_0(p);
  return p->shape.rank <= 1 && (k == 1 || (k == len && len > 0));
}

/* Element i's entry of a per-tensor or per-entry parameter. */
static double param_at(const Tensor *p, int64_t i) { return tensor_get(p, p->numel == 1 ? 0 : i); }
static const char *param_ix(const Value *p, const char *i) { return numel_or_0(p) == 1 ? "0" : i; }

void quant_no_grad(Graph *g, Node *n, Value **dy, Value **dx) { ew_no_grad(g, n, dy, dx); }

static const char *requant_check(Graph *g, Node *n, int first, int64_t C);
static int64_t requant_value(const Node *n, Tensor **in, int first, int64_t c, int64_t acc);

/* The sum of an integer op for channel c: as it is, or requantized when the op
 * has requantize's inputs fused (4: mult, 5: shift [, 6: bias]). */
static double int_result(const Node *n, Tensor **in, int64_t c, int64_t acc) {
  return (double)(n->nin > 4 ? requant_value(n, in, 4, c, acc) : acc);
}

/* A fused integer op (made by qdq_fold) has both zero points and takes the tile path. */
static const char *fused_check(Graph *g, Node *n, int64_t len, int64_t C) {
  if (n->nin <= 4) return NULL;
  for (int i = 4; i < n->nin; i++)
    if (numel_or_0(n->in[i]) != C || n->in[i]->kind != VK_CONST || !n->in[i]->data)
      return "a fused requantization needs constant mult, shift and bias per channel";
  if (n->nin < 7 || n->in[2]->kind != VK_CONST || !n->in[2]->data)
    return "a fused requantization needs a constant x_zp";
  Tensor m = {DT_I32, n->in[4]->shape, C, n->in[4]->data}, b = {DT_I32, n->in[6]->shape, C, n->in[6]->data};
  for (int64_t c = 0; c < C; c++)
    if (!quant_requant_exact(len, (int32_t)tensor_get(&m, c), (int32_t)tensor_get(&b, c)))
      return "a fused requantization must be exact in double (quant_requant_exact)";
  if (n->nin != 7 || !quant_fast_ok(n, len))
    return "a fused requantization needs x_zp, w_zp, mult, shift and bias, constant int8 weights with zero point 0 "
           "and one group";
  return requant_check(g, n, 4, C);
}

bool quant_multiplier(double s, int32_t *mult, int32_t *shift) {
  int e;
  double f = frexp(s, &e); /* s = f 2^e, f in [0.5, 1) */
  int64_t m = llround(ldexp(f, 31));
  if (m == (int64_t)1 << 31) m /= 2, e++;
  if (31 - e < 0 || !(s > 0)) return false;
  if (31 - e > 62) /* below 2^-32: the multiplier loses digits and the result is mostly 0 */
    m = llround(ldexp(s, 62)), e = 31 - 62;
  *mult = (int32_t)m, *shift = (int32_t)(31 - e);
  return true;
}

/* ---- quantize_linear and dequantize_linear ---- */

/* The axis the scale runs along, its length (1 per tensor) and the elements after it. */
typedef struct {
  int64_t len, inner;
} Along;

static const char *along_check(Graph *g, Node *n, Along *a) {
  Value *x = n->in[0], *s = n->in[1];
  a->len = 1, a->inner = 1;
  if (!dtype_is_float(s->dtype) || s->dtype != DT_F32) return "the scale must be f32";
  if (n->nin > 2 && (n->in[2]->shape.rank > 1 || numel_or_0(n->in[2]) != numel_or_0(s)))
    return "the zero point and the scale differ in shape";
  if (numel_or_0(s) == 1 && s->shape.rank <= 1) return NULL;
  int axis = normalize_axis(node_int(n, "axis", 1), x->shape.rank);
  if (axis < 0 || x->shape.d[axis] == DIM_BATCH || !param_fits(s, x->shape.d[axis]))
    return arena_printf(&g->arena, "a scale of shape %s does not run along an axis of %s",
                        shape_str(&g->arena, s->shape), shape_str(&g->arena, x->shape));
  a->len = x->shape.d[axis];
  for (int i = axis + 1; i < x->shape.rank; i++)
    a->inner *= x->shape.d[i];
  return NULL;
}

const char *quantize_linear_infer(Graph *g, Node *n) {
  Along a;
  const char *err = along_check(g, n, &a);
  if (err) return err;
  DType t = n->nin > 2 ? n->in[2]->dtype : DT_U8;
  if (!dtype_is_float(n->in[0]->dtype) || dtype_is_half(n->in[0]->dtype)) return "quantize_linear needs f32 or f64 x";
  if (!is_q8(t)) return "the zero point must be uint8 or int8";
  n->out[0]->dtype = t;
  n->out[0]->shape = n->in[0]->shape;
  return NULL;
}

const char *dequantize_linear_infer(Graph *g, Node *n) {
  Along a;
  const char *err = along_check(g, n, &a);
  if (err) return err;
  DType t = n->in[0]->dtype;
  if (!is_q8(t) && t != DT_I32) return "dequantize_linear needs uint8, int8 or int32 x";
  if (n->nin > 2 && n->in[2]->dtype != t) return "the zero point's dtype differs from x's";
  n->out[0]->dtype = DT_F32;
  n->out[0]->shape = n->in[0]->shape;
  return NULL;
}

/* d rounded to the nearest integer, ties to the even one. */
static double round_half_even(double d) {
  double f = floor(d), r = d - f;
  return r > 0.5 || (r == 0.5 && fmod(f, 2) != 0) ? f + 1 : f;
}

void quantize_linear_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx;
  Along a;
  along_check(NULL, n, &a); /* checked by quantize_linear_infer: no message needed */
  DType t = out[0]->dtype;
  for (int64_t i = 0; i < out[0]->numel; i++) {
    int64_t c = (i / a.inner) % a.len;
    double x = tensor_get(in[0], i), s = param_at(in[1], c);
    double d = in[0]->dtype == DT_F32 ? (double)((float)x / (float)s) : x / s;
    double v = round_half_even(d) + (n->nin > 2 ? param_at(in[2], c) : 0);
    tensor_set(out[0], i, v >= (double)q_lo(t) ? (v <= (double)q_hi(t) ? v : (double)q_hi(t)) : (double)q_lo(t));
  }
}

void dequantize_linear_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx;
  Along a;
  along_check(NULL, n, &a);
  for (int64_t i = 0; i < out[0]->numel; i++) {
    int64_t c = (i / a.inner) % a.len;
    float x = (float)tensor_get(in[0], i), z = n->nin > 2 ? (float)param_at(in[2], c) : 0.0f;
    tensor_set(out[0], i, (float)(x - z) * (float)param_at(in[1], c));
  }
}

/* The loop over x's elements with c, the scale's entry of element i. */
static void emit_along_loop(Emit *e, Node *n) {
  Along a;
  along_check(e->g, n, &a);
  emit_open(e, "for (size_t i = 0; i < %s; i++)", emit_numel(e, n->in[0]));
  emit_line(e, "const size_t c = %s;",
            a.len == 1 ? "0" : arena_printf(&e->g->arena, "i / %lld %% %lld", (long long)a.inner, (long long)a.len));
}

void quantize_linear_emit(Emit *e, Node *n) {
  DType t = n->out[0]->dtype;
  bool f32 = n->in[0]->dtype == DT_F32;
  emit_along_loop(e, n);
  emit_line(e, "const %s v = %s(%s[i] / %s[c])%s;", f32 ? "float" : "double", f32 ? "rintf" : "rint",
            emit_ref(e, n->in[0]), emit_ref(e, n->in[1]),
            n->nin > 2 ? arena_printf(&e->g->arena, " + %s[c]", emit_ref(e, n->in[2])) : "");
  emit_line(e, "%s[i] = (%s)(v >= %lld ? (v <= %lld ? v : %lld) : %lld); /* NaN: the lowest */", emit_ref(e, n->out[0]),
            emit_ctype(t), (long long)q_lo(t), (long long)q_hi(t), (long long)q_hi(t), (long long)q_lo(t));
  emit_close(e);
}

void dequantize_linear_emit(Emit *e, Node *n) {
  emit_along_loop(e, n);
  emit_line(e, "%s[i] = ((float)%s[i] - %s) * %s[c];", emit_ref(e, n->out[0]), emit_ref(e, n->in[0]),
            n->nin > 2 ? arena_printf(&e->g->arena, "(float)%s[c]", emit_ref(e, n->in[2])) : "0.0f",
            emit_ref(e, n->in[1]));
  emit_close(e);
}

void quantize_linear_grad(Graph *g, Node *n, Value **dy, Value **dx) { quant_no_grad(g, n, dy, dx); }
void dequantize_linear_grad(Graph *g, Node *n, Value **dy, Value **dx) { quant_no_grad(g, n, dy, dx); }

/* ---- matmul_integer ---- */

static const char *zero_point_check(const Node *n, int i, DType t, int64_t len) {
  if (n->nin <= i) return NULL;
  if (n->in[i]->dtype != t) return "a zero point's dtype differs from its operand's";
  return param_fits(n->in[i], len) ? NULL : "a zero point must have one element or one per row / column / channel";
}

const char *matmul_integer_infer(Graph *g, Node *n) {
  Value *a = n->in[0], *b = n->in[1];
  if (a->shape.rank != 2 || b->shape.rank != 2 || !is_q8(a->dtype) || !is_q8(b->dtype))
    return "matmul_integer needs 2-D uint8/int8 operands";
  if (a->shape.d[1] != b->shape.d[0] || a->shape.d[1] == DIM_BATCH || b->shape.d[1] == DIM_BATCH)
    return arena_printf(&g->arena, "matmul_integer: %s x %s", shape_str(&g->arena, a->shape),
                        shape_str(&g->arena, b->shape));
  if (a->shape.d[1] > QSUM_MAX_TERMS) return "matmul_integer: K above 33025 could overflow the int32 sums";
  const char *err = zero_point_check(n, 2, a->dtype, a->shape.d[0]);
  if (!err) err = zero_point_check(n, 3, b->dtype, b->shape.d[1]);
  if (err) return err;
  n->out[0]->dtype = DT_I32;
  n->out[0]->shape = shape_make(2, (int64_t[]){a->shape.d[0], b->shape.d[1]});
  return fused_check(g, n, a->shape.d[1], b->shape.d[1]);
}

static int64_t zp_at(Node *n, Tensor **in, int i, int64_t at) { return n->nin > i ? (int64_t)param_at(in[i], at) : 0; }

void matmul_integer_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx;
  int64_t M = in[0]->shape.d[0], K = in[0]->shape.d[1], N = in[1]->shape.d[1];
  for (int64_t i = 0; i < M; i++)
    for (int64_t j = 0; j < N; j++) {
      int64_t acc = 0;
      for (int64_t p = 0; p < K; p++)
        acc += ((int64_t)tensor_get(in[0], i * K + p) - zp_at(n, in, 2, i)) *
               ((int64_t)tensor_get(in[1], p * N + j) - zp_at(n, in, 3, j));
      tensor_set(out[0], i * N + j, int_result(n, in, j, acc));
    }
}

/* "(int32_t)v[i]" or "0" for an absent zero point. */
static const char *zp_ref(Emit *e, Node *n, int i, const char *ix) {
  if (n->nin <= i) return "0";
  return arena_printf(&e->g->arena, "(int32_t)%s[%s]", emit_ref(e, n->in[i]), param_ix(n->in[i], ix));
}

void matmul_integer_emit(Emit *e, Node *n) {
  Value *a = n->in[0], *b = n->in[1], *y = n->out[0];
  if (n->nin > 4 || quant_fast_ok(n, a->shape.d[1])) {
    matmul_integer_emit_fast(e, n);
    return;
  }
  const char *K = emit_dim(e, a, 1), *N = emit_dim(e, b, 1);
  emit_line(e, "memset(%s, 0, sizeof(int32_t) * %s);", emit_ref(e, y), emit_numel(e, y));
  emit_open(e, "for (size_t i = 0; i < %s; i++)", emit_dim(e, a, 0));
  emit_line(e, "int32_t *yr = %s + i * %s;", emit_ref(e, y), N);
  emit_line(e, "const int32_t za = %s;", zp_ref(e, n, 2, "i"));
  emit_open(e, "for (size_t p = 0; p < %s; p++)", K);
  emit_line(e, "const int32_t av = (int32_t)%s[i * %s + p] - za;", emit_ref(e, a), K);
  emit_line(e, "const %s *br = %s + p * %s;", emit_ctype(b->dtype), emit_ref(e, b), N);
  emit_line(e, "for (size_t j = 0; j < %s; j++) yr[j] += av * ((int32_t)br[j] - %s);", N, zp_ref(e, n, 3, "j"));
  emit_close(e);
  emit_close(e);
}

void matmul_integer_grad(Graph *g, Node *n, Value **dy, Value **dx) { quant_no_grad(g, n, dy, dx); }

/* ---- conv_integer ---- */

static const char *conv_integer_geom(const Node *n, Geom *G) {
  Value *x = n->in[0], *w = n->in[1];
  if (!is_q8(x->dtype) || !is_q8(w->dtype)) return "needs uint8/int8 x and w";
  if (w->shape.rank != 4) return "needs an HWIO kernel [KH,KW,Cin/groups,Cout]";
  const char *err = conv_geom_make(n, x->shape, w->shape.d[0], w->shape.d[1], w->shape.d[3], false, G);
  if (err) return err;
  if (w->shape.d[2] != G->cg) return "the kernel's input channels differ from x's per group";
  if (G->kh * G->kw * G->cg > QSUM_MAX_TERMS) return "more than 33025 terms per sum could overflow int32";
  if (n->nin > 2 && (n->in[2]->dtype != x->dtype || !param_fits(n->in[2], 1))) return "x_zp must be one x-typed value";
  return zero_point_check(n, 3, w->dtype, G->f);
}

const char *conv_integer_infer(Graph *g, Node *n) {
  Geom G = {0};
  const char *err = conv_integer_geom(n, &G);
  err = conv_set_out(g, n, err, DT_I32, conv_nhwc(G.n, G.oh, G.ow, G.f));
  return err ? err : fused_check(g, n, G.kh * G.kw * G.c, G.f);
}

void conv_integer_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx;
  Geom G;
  NN2C_ASSERT(!conv_integer_geom(n, &G));
  int64_t nb = in[0]->shape.d[0];
  for (int64_t b = 0; b < nb; b++)
    for (int64_t oh = 0; oh < G.oh; oh++)
      for (int64_t ow = 0; ow < G.ow; ow++)
        for (int64_t f = 0; f < G.f; f++) {
          int64_t acc = 0, grp = f / G.fg;
          for (int64_t kh = 0; kh < G.kh; kh++)
            for (int64_t kw = 0; kw < G.kw; kw++) {
              int64_t ih = oh * G.sh + kh * G.dh - G.pt, iw = ow * G.sw + kw * G.dw - G.pl;
              if (ih < 0 || ih >= G.h || iw < 0 || iw >= G.w) continue;
              for (int64_t c = 0; c < G.cg; c++) {
                int64_t xv = (int64_t)tensor_get(in[0], ((b * G.h + ih) * G.w + iw) * G.c + grp * G.cg + c);
                int64_t wv = (int64_t)tensor_get(in[1], ((kh * G.kw + kw) * G.cg + c) * G.f + f);
                acc += (xv - zp_at(n, in, 2, 0)) * (wv - zp_at(n, in, 3, f));
              }
            }
          tensor_set(out[0], ((b * G.oh + oh) * G.ow + ow) * G.f + f, int_result(n, in, f, acc));
        }
}

/* Per output pixel p: its row of F sums starts at zero; per valid tap, per
 * group, each input channel's (x - x_zp) times the tap's weight row. */
void conv_integer_emit(Emit *e, Node *n) {
  Geom G;
  NN2C_ASSERT(!conv_integer_geom(n, &G));
  if (n->nin > 4 || quant_fast_ok(n, G.kh * G.kw * G.c)) {
    conv_integer_emit_fast(e, n, &G);
    return;
  }
  Value *x = n->in[0], *w = n->in[1], *y = n->out[0];
  const char *F = ll(e, G.f);
  emit_open(e, "for (size_t p = 0; p < %s * %lld; p++)", emit_dim(e, x, 0), (long long)(G.oh * G.ow));
  emit_line(e, "const size_t nb = p / %lld, oh = p / %lld %% %lld, ow = p %% %lld;", (long long)(G.oh * G.ow),
            (long long)G.ow, (long long)G.oh, (long long)G.ow);
  emit_line(e, "int32_t *yr = %s + p * %s;", emit_ref(e, y), F);
  emit_line(e, "memset(yr, 0, sizeof(int32_t) * %s);", F);
  emit_open(e, "for (size_t kh = 0; kh < %lld; kh++)", (long long)G.kh);
  emit_line(e, "const long ih = (long)(oh * %lld + kh * %lld) - %lld;", (long long)G.sh, (long long)G.dh,
            (long long)G.pt);
  emit_line(e, "if (ih < 0 || ih >= %lld) continue;", (long long)G.h);
  emit_open(e, "for (size_t kw = 0; kw < %lld; kw++)", (long long)G.kw);
  emit_line(e, "const long iw = (long)(ow * %lld + kw * %lld) - %lld;", (long long)G.sw, (long long)G.dw,
            (long long)G.pl);
  emit_line(e, "if (iw < 0 || iw >= %lld) continue;", (long long)G.w);
  emit_line(e, "const %s *xp = %s + ((nb * %lld + (size_t)ih) * %lld + (size_t)iw) * %lld;", emit_ctype(x->dtype),
            emit_ref(e, x), (long long)G.h, (long long)G.w, (long long)G.c);
  emit_line(e, "const %s *wt = %s + (kh * %lld + kw) * %lld;", emit_ctype(w->dtype), emit_ref(e, w), (long long)G.kw,
            (long long)(G.cg * G.f));
  emit_open(e, "for (size_t c = 0; c < %lld; c++)", (long long)G.c);
  emit_line(e, "const size_t g0 = c / %lld * %lld;", (long long)G.cg, (long long)G.fg);
  emit_line(e, "const int32_t xv = (int32_t)xp[c] - %s;", zp_ref(e, n, 2, "0"));
  emit_line(e, "const %s *wr = wt + c %% %lld * %s + g0;", emit_ctype(w->dtype), (long long)G.cg, F);
  emit_line(e, "for (size_t f = 0; f < %lld; f++) yr[g0 + f] += xv * ((int32_t)wr[f] - %s);", (long long)G.fg,
            zp_ref(e, n, 3, "g0 + f"));
  emit_close(e);
  emit_close(e);
  emit_close(e);
  emit_close(e);
}

void conv_integer_grad(Graph *g, Node *n, Value **dy, Value **dx) { quant_no_grad(g, n, dy, dx); }

/* ---- requantize ---- */

static DType requant_type(const Node *n) {
  DType t;
  return dtype_from_onnx(node_int(n, "to", 3), &t) ? t : DT_COUNT;
}

static const char *requant_check_consts(Value *mult, Value *shift) {
  if (mult->kind != VK_CONST || shift->kind != VK_CONST || !mult->data || !shift->data)
    return "requantize: the multiplier and shift must be constants";
  Tensor m = {mult->dtype, mult->shape, numel_or_0(mult), mult->data},
         s = {shift->dtype, shift->shape, numel_or_0(shift), shift->data};
  for (int64_t i = 0; i < m.numel; i++)
    if (tensor_get(&m, i) < 0) return "requantize: multipliers must be in [0, 2^31)";
  for (int64_t i = 0; i < s.numel; i++)
    if (tensor_get(&s, i) < 0 || tensor_get(&s, i) > 62) return "requantize: shifts must be in [0, 62]";
  return NULL;
}

/* Inputs first.. (mult, shift [, bias]) and the attributes of a requantization
 * to C channels; sets n's output dtype. */
static const char *requant_check(Graph *g, Node *n, int first, int64_t C) {
  DType t = requant_type(n);
  int64_t zp = node_int(n, "zero_point", 0), lo = node_int(n, "lo", q_lo(t)), hi = node_int(n, "hi", q_hi(t));
  if (!is_q8(t)) return "requantize: to must be 2 (uint8) or 3 (int8)";
  if (zp < q_lo(t) || zp > q_hi(t) || lo < q_lo(t) || hi > q_hi(t) || lo > hi)
    return arena_printf(&g->arena, "requantize: zero_point, lo and hi must lie in %s's range, lo <= hi", dtype_name(t));
  for (int i = first; i < n->nin; i++)
    if (n->in[i]->dtype != DT_I32 || !param_fits(n->in[i], C))
      return "requantize: multiplier, shift and bias are int32, one value or one per channel";
  const char *err = requant_check_consts(n->in[first], n->in[first + 1]);
  if (err) return err;
  n->out[0]->dtype = t;
  return NULL;
}

const char *requantize_infer(Graph *g, Node *n) {
  Value *acc = n->in[0];
  int64_t C = acc->shape.rank ? acc->shape.d[acc->shape.rank - 1] : 1;
  if (acc->dtype != DT_I32 || C == DIM_BATCH) return "requantize needs int32 sums with a fixed last axis";
  n->out[0]->shape = acc->shape;
  return requant_check(g, n, 1, C);
}

/* p / 2^s rounded to nearest, ties to even: floor division and its remainder. */
static int64_t div_pow2_half_even(int64_t p, int s) {
  if (s == 0) return p;
  int64_t d = (int64_t)1 << s, q = p / d, r = p % d;
  if (r < 0) q--, r += d; /* floor */
  int64_t half = d / 2;
  return r > half || (r == half && (q % 2 != 0)) ? q + 1 : q;
}

static int64_t requant_value(const Node *n, Tensor **in, int first, int64_t c, int64_t acc) {
  DType t = requant_type(n);
  int64_t zp = node_int(n, "zero_point", 0), lo = node_int(n, "lo", q_lo(t)), hi = node_int(n, "hi", q_hi(t));
  int64_t bias = n->nin > first + 2 ? (int64_t)param_at(in[first + 2], c) : 0;
  int64_t v = div_pow2_half_even((acc + bias) * (int64_t)param_at(in[first], c), (int)param_at(in[first + 1], c)) + zp;
  return v < lo ? lo : v > hi ? hi : v;
}

void requantize_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx;
  int64_t C = in[0]->shape.rank ? in[0]->shape.d[in[0]->shape.rank - 1] : 1;
  for (int64_t i = 0; i < out[0]->numel; i++)
    tensor_set(out[0], i, (double)requant_value(n, in, 1, i % C, (int64_t)tensor_get(in[0], i)));
}

void quant_emit_requant(Emit *e, Node *n, int first, const char *acc, const char *c, const char *dst) {
  DType t = n->out[0]->dtype;
  int64_t zp = node_int(n, "zero_point", 0), lo = node_int(n, "lo", q_lo(t)), hi = node_int(n, "hi", q_hi(t));
  const char *b = n->nin > first + 2 ? arena_printf(&e->g->arena, " + %s[%s]", emit_ref(e, n->in[first + 2]),
                                                    param_ix(n->in[first + 2], c))
                                     : "";
  emit_line(e, "const int64_t v = nn2c_round_shift(((int64_t)%s%s) * %s[%s], (int)%s[%s]) + %lld;", acc, b,
            emit_ref(e, n->in[first]), param_ix(n->in[first], c), emit_ref(e, n->in[first + 1]),
            param_ix(n->in[first + 1], c), (long long)zp);
  emit_line(e, "%s = (%s)(v < %lld ? %lld : v > %lld ? %lld : v);", dst, emit_ctype(t), (long long)lo, (long long)lo,
            (long long)hi, (long long)hi);
}

/* Per row of C channels: the channel's multiplier, shift and bias are array
 * reads in the inner loop (no i % C), which compilers vectorize. */
void requantize_emit(Emit *e, Node *n) {
  Value *acc = n->in[0], *y = n->out[0];
  int64_t C = acc->shape.rank ? acc->shape.d[acc->shape.rank - 1] : 1;
  quant_emit_prelude(e);
  emit_open(e, "for (size_t r = 0; r < %s / %lld; r++)", emit_numel(e, acc), (long long)C);
  emit_line(e, "const int32_t *ar = %s + r * %lld;", emit_ref(e, acc), (long long)C);
  emit_line(e, "%s *yr = %s + r * %lld;", emit_ctype(y->dtype), emit_ref(e, y), (long long)C);
  emit_open(e, "for (size_t c = 0; c < %lld; c++)", (long long)C);
  quant_emit_requant(e, n, 1, "ar[c]", "c", "yr[c]");
  emit_close(e);
  emit_close(e);
}

void requantize_grad(Graph *g, Node *n, Value **dy, Value **dx) { quant_no_grad(g, n, dy, dx); }

/* ---- maxpool2d_int ---- */

const char *maxpool2d_int_infer(Graph *g, Node *n) {
  Geom G = {0};
  const char *err = is_q8(n->in[0]->dtype) ? pool_geom(n, n->in[0]->shape, &G) : "needs a uint8 or int8 input";
  return conv_set_out(g, n, err, n->in[0]->dtype, conv_nhwc(G.n, G.oh, G.ow, G.c));
}

void maxpool2d_int_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx;
  Geom G;
  NN2C_ASSERT(!pool_geom(n, in[0]->shape, &G));
  int64_t nb = in[0]->shape.d[0];
  for (int64_t b = 0; b < nb; b++)
    for (int64_t oh = 0; oh < G.oh; oh++)
      for (int64_t ow = 0; ow < G.ow; ow++)
        for (int64_t c = 0; c < G.c; c++) {
          double best = -1e9;
          for (int64_t kh = 0; kh < G.kh; kh++)
            for (int64_t kw = 0; kw < G.kw; kw++) {
              int64_t ih = oh * G.sh + kh - G.pt, iw = ow * G.sw + kw - G.pl;
              if (ih >= 0 && ih < G.h && iw >= 0 && iw < G.w)
                best = fmax(best, tensor_get(in[0], ((b * G.h + ih) * G.w + iw) * G.c + c));
            }
          tensor_set(out[0], ((b * G.oh + oh) * G.ow + ow) * G.c + c, best);
        }
}

void maxpool2d_int_emit(Emit *e, Node *n) {
  Geom G;
  NN2C_ASSERT(!pool_geom(n, n->in[0]->shape, &G));
  Value *x = n->in[0];
  const char *T = emit_ctype(x->dtype), *C = ll(e, G.c);
  emit_open(e, "for (size_t p = 0; p < %s * %lld; p++)", emit_dim(e, x, 0), (long long)(G.oh * G.ow));
  emit_line(e, "const size_t nb = p / %lld, oh = p / %lld %% %lld, ow = p %% %lld;", (long long)(G.oh * G.ow),
            (long long)G.ow, (long long)G.oh, (long long)G.ow);
  emit_line(e, "%s *yr = %s + p * %s;", T, emit_ref(e, n->out[0]), C);
  emit_line(e, "for (size_t c = 0; c < %s; c++) yr[c] = %lld;", C, (long long)q_lo(x->dtype));
  emit_open(e, "for (size_t t = 0; t < %lld; t++)", (long long)(G.kh * G.kw));
  emit_line(e, "const long ih = (long)(oh * %lld + t / %lld) - %lld, iw = (long)(ow * %lld + t %% %lld) - %lld;",
            (long long)G.sh, (long long)G.kw, (long long)G.pt, (long long)G.sw, (long long)G.kw, (long long)G.pl);
  emit_line(e, "if (ih < 0 || ih >= %lld || iw < 0 || iw >= %lld) continue;", (long long)G.h, (long long)G.w);
  emit_line(e, "const %s *xp = %s + ((nb * %lld + (size_t)ih) * %lld + (size_t)iw) * %s;", T, emit_ref(e, x),
            (long long)G.h, (long long)G.w, C);
  emit_line(e, "for (size_t c = 0; c < %s; c++) yr[c] = xp[c] > yr[c] ? xp[c] : yr[c];", C);
  emit_close(e);
  emit_close(e);
}

void maxpool2d_int_grad(Graph *g, Node *n, Value **dy, Value **dx) { quant_no_grad(g, n, dy, dx); }
