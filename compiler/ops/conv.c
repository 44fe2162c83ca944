/* conv.c - 2-D convolution and pooling, with their gradient ops.
 *
 * Layout: activations are NHWC [N,H,W,C] and kernels HWIO [KH,KW,Cin/groups,Cout],
 * Keras's layouts, so data loaders, flatten order and initializer fans
 * (shape_fans) match Keras. In NHWC a convolution is a row-major GEMM,
 *   y[N*OH*OW, Cout] = patches[N*OH*OW, KH*KW*Cin] W[KH*KW*Cin, Cout],
 * and the emitted code computes it directly, without a patch matrix or
 * scratch memory: per output pixel, per kernel tap, the input pixel's
 * channels (contiguous) times the tap's [Cin,Cout] block of W (contiguous)
 * accumulate into a row of Cout outputs. The innermost loop runs over Cout,
 * contiguous in W and y, and vectorizes like the ikj matmul.
 *
 * Attributes:
 *   strides=[sh,sw]            default [1,1]; for pooling, the window (as Keras)
 *   pads=[top,left,bottom,right] default 0; layer lowering turns valid/same into
 *                              pads (conv_same_pads: Keras puts the odd pixel at
 *                              the bottom/right)
 *   dilations=[dh,dw]          conv only, default [1,1]
 *   groups                     conv only, default 1; Cin and Cout divisible by it;
 *                              depthwise is groups = Cin
 *   kernel=[kh,kw]             pooling window
 * Output size OH = (H + top + bottom - dh (KH - 1) - 1) / sh + 1, likewise OW.
 * Taps in the padding are skipped: zeros for conv2d; the pools ignore them
 * (avgpool divides by the number of valid taps, Keras's count_include_pad=0).
 *
 * Ops:
 *   conv2d(x, w [, b])               linear, or with activation="relu" (set by
 *                                    the fuse pass) relu of it
 *   conv2d_grad_input(dy, w)         input_shape=[N,H,W,C] (-1 for N) -> dx
 *   conv2d_grad_weight(x, dy)        kernel_shape=[KH,KW,Cin/g,Cout] -> dw
 *   maxpool2d(x), maxpool2d_grad(dy, x)  dy goes to the first maximum of its
 *                                    window in (kh, kw) order, strict >; with
 *                                    activation="relu" (the fuse pass) only
 *                                    where that maximum is > 0: the gradient of
 *                                    the relu whose output x is, folded in
 *   avgpool2d(x), avgpool2d_grad(dy) input_shape=[N,H,W,C]
 * The bias gradient is reduce_sum(dy, axes=[0,1,2]); global average pooling
 * is reduce_mean(x, axes=[1,2]). Both need no op of their own. */
#include "op.h"

#include <string.h>

/* The geometry shared by all hooks. */
typedef struct {
  int64_t n, h, w, c;       /* input [N,H,W,C]; n may be DIM_BATCH in emission */
  int64_t oh, ow, f;        /* output [N,OH,OW,F] (F = C for pooling) */
  int64_t kh, kw;           /* window */
  int64_t sh, sw, dh, dw;   /* strides, dilations */
  int64_t pt, pl, pb, pr;   /* pads: top, left, bottom, right */
  int64_t groups, cg, fg;   /* groups; input and output channels per group */
} Geom;

static bool ints_attr(const Node *n, const char *key, int len, const int64_t *dflt, int64_t *out) {
  const Attr *a = node_attr(n, key);
  if (!a) {
    memcpy(out, dflt, sizeof(int64_t) * (size_t)len);
    return true;
  }
  if (a->type != AT_INTS || a->n != len) return false;
  memcpy(out, a->ints, sizeof(int64_t) * (size_t)len);
  return true;
}

/* Fills G for input shape x, window kh x kw and f output channels in groups. */
static const char *geom_make(const Node *n, Shape x, int64_t kh, int64_t kw, int64_t f, bool pool, Geom *G) {
  memset(G, 0, sizeof *G);
  if (x.rank != 4) return "needs an NHWC input [N,H,W,C]";
  int64_t st[2], pd[4], dl[2], one[2] = {1, 1}, zero[4] = {0, 0, 0, 0}, win[2] = {kh, kw};
  if (!ints_attr(n, "strides", 2, pool ? win : one, st)) return "strides must be [sh, sw]";
  if (!ints_attr(n, "pads", 4, zero, pd)) return "pads must be [top, left, bottom, right]";
  if (!ints_attr(n, "dilations", 2, one, dl)) return "dilations must be [dh, dw]";
  if (pool && node_attr(n, "dilations")) return "pooling has no dilations";
  *G = (Geom){x.d[0], x.d[1], x.d[2], x.d[3], 0, 0, f, kh, kw, st[0], st[1], dl[0], dl[1],
              pd[0], pd[1], pd[2], pd[3], pool ? 1 : node_int(n, "groups", 1), 0, 0};
  if (kh < 1 || kw < 1 || G->sh < 1 || G->sw < 1 || G->dh < 1 || G->dw < 1) return "window, strides and dilations must be positive";
  for (int i = 0; i < 4; i++)
    if (pd[i] < 0) return "pads must not be negative";
  if (pool && (G->pt >= kh || G->pb >= kh || G->pl >= kw || G->pr >= kw)) return "pooling pads must be smaller than the window";
  if (G->groups < 1 || G->c % G->groups || f % G->groups) return "groups must divide the input and output channels";
  int64_t eh = G->dh * (kh - 1) + 1, ew = G->dw * (kw - 1) + 1;
  if (G->h + G->pt + G->pb < eh || G->w + G->pl + G->pr < ew) return "the window is larger than the padded input";
  G->oh = (G->h + G->pt + G->pb - eh) / G->sh + 1;
  G->ow = (G->w + G->pl + G->pr - ew) / G->sw + 1;
  G->cg = G->c / G->groups;
  G->fg = f / G->groups;
  return NULL;
}

/* Keras's `same` padding for one axis: output ceil(in / s), the odd pixel after. */
void conv_same_pads(int64_t in, int64_t k, int64_t s, int64_t d, int64_t *lo, int64_t *hi) {
  int64_t out = (in + s - 1) / s, total = (out - 1) * s + (k - 1) * d + 1 - in;
  if (total < 0) total = 0;
  *lo = total / 2;
  *hi = total - *lo;
}

static Shape attr_shape4(const Node *n, const char *key, bool *ok) {
  const Attr *a = node_attr(n, key);
  *ok = a && a->type == AT_INTS && a->n == 4;
  return *ok ? shape_make(4, a->ints) : shape_scalar();
}

static Shape nhwc(int64_t n, int64_t h, int64_t w, int64_t c) { return shape_make(4, (int64_t[]){n, h, w, c}); }

static bool is_float(const Value *v) { return v->dtype == DT_F32 || v->dtype == DT_F64; }

static const char *set_out(Graph *g, Node *n, const char *err, DType t, Shape s) {
  if (err) return arena_printf(&g->arena, "%s: %s", op_name(n->op), err);
  n->out[0]->dtype = t;
  n->out[0]->shape = s;
  return NULL;
}

/* ---- shape inference ---- */

const char *conv2d_infer(Graph *g, Node *n) {
  Value *x = n->in[0], *w = n->in[1];
  Geom G;
  if (!is_float(x) || x->dtype != w->dtype) return "conv2d needs f32 (or f64) input and kernel";
  if (w->shape.rank != 4) return "conv2d needs an HWIO kernel [KH,KW,Cin/groups,Cout]";
  const char *err = geom_make(n, x->shape, w->shape.d[0], w->shape.d[1], w->shape.d[3], false, &G);
  if (!err && w->shape.d[2] != G.cg)
    err = arena_printf(&g->arena, "kernel %s needs Cin/groups = %lld input channels", shape_str(&g->arena, w->shape),
                       (long long)G.cg);
  const char *act = node_string(n, "activation", NULL);
  if (!err && act && strcmp(act, "relu")) err = "the only fused activation is \"relu\"";
  if (!err && n->nin == 3 && (n->in[2]->shape.rank != 1 || n->in[2]->shape.d[0] != G.f || n->in[2]->dtype != x->dtype))
    err = "the bias must be a vector of Cout elements";
  return set_out(g, n, err, x->dtype, nhwc(G.n, G.oh, G.ow, G.f));
}

const char *conv2d_grad_input_infer(Graph *g, Node *n) {
  Value *dy = n->in[0], *w = n->in[1];
  bool ok;
  Shape xs = attr_shape4(n, "input_shape", &ok);
  if (!ok || w->shape.rank != 4 || dy->shape.rank != 4) return "conv2d_grad_input needs input_shape=[N,H,W,C] and 4-D operands";
  xs.d[0] = dy->shape.d[0];
  Geom G;
  const char *err = geom_make(n, xs, w->shape.d[0], w->shape.d[1], w->shape.d[3], false, &G);
  if (!err && !shape_eq(dy->shape, nhwc(G.n, G.oh, G.ow, G.f))) err = "dy does not match the convolution's output";
  return set_out(g, n, err, dy->dtype, xs);
}

const char *conv2d_grad_weight_infer(Graph *g, Node *n) {
  Value *x = n->in[0], *dy = n->in[1];
  bool ok;
  Shape ks = attr_shape4(n, "kernel_shape", &ok);
  if (!ok) return "conv2d_grad_weight needs kernel_shape=[KH,KW,Cin/groups,Cout]";
  Geom G;
  const char *err = geom_make(n, x->shape, ks.d[0], ks.d[1], ks.d[3], false, &G);
  if (!err && (ks.d[2] != G.cg || !shape_eq(dy->shape, nhwc(G.n, G.oh, G.ow, G.f))))
    err = "kernel_shape or dy do not match the convolution";
  return set_out(g, n, err, x->dtype, ks);
}

static const char *pool_geom(const Node *n, Shape x, Geom *G) {
  int64_t k[2];
  if (!node_attr(n, "kernel") || !ints_attr(n, "kernel", 2, k, k)) return "needs kernel=[kh, kw]";
  return geom_make(n, x, k[0], k[1], x.rank == 4 ? x.d[3] : 0, true, G);
}

static const char *pool_infer(Graph *g, Node *n) {
  Geom G;
  const char *err = is_float(n->in[0]) ? pool_geom(n, n->in[0]->shape, &G) : "needs an f32 or f64 input";
  return set_out(g, n, err, n->in[0]->dtype, nhwc(G.n, G.oh, G.ow, G.c));
}

const char *maxpool2d_infer(Graph *g, Node *n) { return pool_infer(g, n); }
const char *avgpool2d_infer(Graph *g, Node *n) { return pool_infer(g, n); }

/* maxpool2d_grad(dy, x) and avgpool2d_grad(dy) with input_shape: dx has x's shape. */
static const char *pool_grad_infer(Graph *g, Node *n, Shape xs) {
  Geom G;
  const char *err = pool_geom(n, xs, &G);
  if (!err && !shape_eq(n->in[0]->shape, nhwc(G.n, G.oh, G.ow, G.c))) err = "dy does not match the pooling's output";
  return set_out(g, n, err, n->in[0]->dtype, xs);
}

const char *maxpool2d_grad_infer(Graph *g, Node *n) {
  const char *act = node_string(n, "activation", NULL);
  if (act && strcmp(act, "relu")) return "maxpool2d_grad: the only fused activation is \"relu\"";
  return pool_grad_infer(g, n, n->in[1]->shape);
}

const char *avgpool2d_grad_infer(Graph *g, Node *n) {
  bool ok;
  Shape xs = attr_shape4(n, "input_shape", &ok);
  if (!ok || n->in[0]->shape.rank != 4) return "avgpool2d_grad needs input_shape=[N,H,W,C]";
  xs.d[0] = n->in[0]->shape.d[0];
  return pool_grad_infer(g, n, xs);
}

/* ---- interpreter: the direct formula, double accumulation ---- */

typedef enum { PART_Y, PART_DX, PART_DW } ConvPart;

/* Every product of the convolution, x[n,ih,iw,g*cg+ci] w[kh,kw,ci,co] for
 * y[n,oh,ow,co], accumulated into the part asked for: y from (x, w), dx from
 * (dy, w) or dw from (x, dy). */
static void conv_eval_part(const Geom *G, ConvPart part, Tensor *a, Tensor *b, Tensor *bias, Tensor *out) {
  double *acc = xcalloc((size_t)out->numel + 1, sizeof(double));
  for (int64_t n = 0; n < G->n; n++)
    for (int64_t oh = 0; oh < G->oh; oh++)
      for (int64_t ow = 0; ow < G->ow; ow++)
        for (int64_t co = 0; co < G->f; co++) {
          int64_t yi = ((n * G->oh + oh) * G->ow + ow) * G->f + co, grp = co / G->fg;
          if (bias) acc[yi] = tensor_get(bias, co);
          for (int64_t kh = 0; kh < G->kh; kh++)
            for (int64_t kw = 0; kw < G->kw; kw++) {
              int64_t ih = oh * G->sh + kh * G->dh - G->pt, iw = ow * G->sw + kw * G->dw - G->pl;
              if (ih < 0 || ih >= G->h || iw < 0 || iw >= G->w) continue;
              for (int64_t ci = 0; ci < G->cg; ci++) {
                int64_t xi = ((n * G->h + ih) * G->w + iw) * G->c + grp * G->cg + ci;
                int64_t wi = ((kh * G->kw + kw) * G->cg + ci) * G->f + co;
                if (part == PART_Y) acc[yi] += tensor_get(a, xi) * tensor_get(b, wi);
                else if (part == PART_DX) acc[xi] += tensor_get(a, yi) * tensor_get(b, wi);
                else acc[wi] += tensor_get(a, xi) * tensor_get(b, yi);
              }
            }
        }
  for (int64_t i = 0; i < out->numel; i++) tensor_set(out, i, acc[i]);
  free(acc);
}

static bool conv_relu(const Node *n) { return !strcmp(node_string(n, "activation", ""), "relu"); }

static Geom eval_geom(const Node *n, Shape x, Shape k) {
  Geom G;
  NN2C_ASSERT(!geom_make(n, x, k.d[0], k.d[1], k.d[3], false, &G));
  return G;
}

void conv2d_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx;
  Geom G = eval_geom(n, in[0]->shape, in[1]->shape);
  conv_eval_part(&G, PART_Y, in[0], in[1], n->nin == 3 ? in[2] : NULL, out[0]);
  if (conv_relu(n))
    for (int64_t i = 0; i < out[0]->numel; i++)
      if (!(tensor_get(out[0], i) > 0)) tensor_set(out[0], i, 0);
}

void conv2d_grad_input_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx;
  Geom G = eval_geom(n, out[0]->shape, in[1]->shape);
  conv_eval_part(&G, PART_DX, in[0], in[1], NULL, out[0]);
}

void conv2d_grad_weight_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx;
  Geom G = eval_geom(n, in[0]->shape, out[0]->shape);
  conv_eval_part(&G, PART_DW, in[0], in[1], NULL, out[0]);
}

typedef enum { POOL_MAX, POOL_MAX_GRAD, POOL_AVG, POOL_AVG_GRAD } PoolPart;

/* One pass over the windows: y = max/mean of the valid taps, or dx += dy at
 * the window's first maximum / dy / count at every valid tap. */
static void pool_eval_part(const Node *n, PoolPart part, Tensor *x, Tensor *dy, Tensor *out) {
  Geom G;
  NN2C_ASSERT(!pool_geom(n, part == POOL_MAX || part == POOL_AVG ? x->shape : out->shape, &G));
  double *acc = xcalloc((size_t)out->numel + 1, sizeof(double));
  for (int64_t nb = 0; nb < G.n; nb++)
    for (int64_t oh = 0; oh < G.oh; oh++)
      for (int64_t ow = 0; ow < G.ow; ow++)
        for (int64_t c = 0; c < G.c; c++) {
          int64_t yi = ((nb * G.oh + oh) * G.ow + ow) * G.c + c, best = -1, count = 0;
          double bv = 0, sum = 0;
          for (int pass = 0; pass < (part == POOL_AVG_GRAD ? 2 : 1); pass++)
            for (int64_t kh = 0; kh < G.kh; kh++)
              for (int64_t kw = 0; kw < G.kw; kw++) {
                int64_t ih = oh * G.sh + kh - G.pt, iw = ow * G.sw + kw - G.pl;
                if (ih < 0 || ih >= G.h || iw < 0 || iw >= G.w) continue;
                int64_t xi = ((nb * G.h + ih) * G.w + iw) * G.c + c;
                if (part == POOL_AVG_GRAD) { /* pass 0 counts, pass 1 spreads */
                  if (pass == 0) count++;
                  else acc[xi] += tensor_get(dy, yi) / (double)count;
                  continue;
                }
                double v = part == POOL_AVG ? 0 : tensor_get(x, xi);
                if (best < 0 || v > bv) best = xi, bv = v;
                if (part == POOL_AVG) sum += tensor_get(x, xi), count++;
              }
          if (part == POOL_MAX) acc[yi] = bv;
          else if (part == POOL_MAX_GRAD) acc[best] += tensor_get(dy, yi);
          else if (part == POOL_AVG) acc[yi] = sum / (double)count;
        }
  for (int64_t i = 0; i < out->numel; i++) tensor_set(out, i, acc[i]);
  free(acc);
}

void maxpool2d_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) { (void)cx; pool_eval_part(n, POOL_MAX, in[0], NULL, out[0]); }
void avgpool2d_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) { (void)cx; pool_eval_part(n, POOL_AVG, in[0], NULL, out[0]); }
void maxpool2d_grad_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx;
  pool_eval_part(n, POOL_MAX_GRAD, in[1], in[0], out[0]);
  if (conv_relu(n)) /* relu_grad(dx, x) */
    for (int64_t i = 0; i < out[0]->numel; i++)
      if (!(tensor_get(in[1], i) > 0)) tensor_set(out[0], i, 0);
}
void avgpool2d_grad_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx;
  pool_eval_part(n, POOL_AVG_GRAD, NULL, in[0], out[0]);
}

/* ---- gradients ---- */

static Value *grad_node(Graph *g, OpKind op, Node *fwd, Value *a, Value *b, const char *key, Shape s) {
  Value *in[2] = {a, b};
  Node *n = build_node(g, op, b ? 2 : 1, in);
  node_copy_attrs(g, n, fwd);
  node_set_ints(g, n, key, s.d, s.rank); /* DIM_BATCH is -1, as the text form writes N */
  return build_finish(g, n);
}

void conv2d_grad(Graph *g, Node *n, Value **dy, Value **dx) {
  Value *x = n->in[0], *w = n->in[1];
  if (conv_relu(n)) dy[0] = build2(g, OP_RELU_GRAD, dy[0], n->out[0]); /* through the fused activation */
  dx[0] = grad_node(g, OP_CONV2D_GRAD_INPUT, n, dy[0], w, "input_shape", x->shape);
  dx[1] = grad_node(g, OP_CONV2D_GRAD_WEIGHT, n, x, dy[0], "kernel_shape", w->shape);
  if (n->nin == 3) dx[2] = build_unbroadcast(g, dy[0], n->in[2]->shape); /* reduce_sum over N, OH, OW */
}

void maxpool2d_grad(Graph *g, Node *n, Value **dy, Value **dx) {
  Value *in[2] = {dy[0], n->in[0]};
  Node *m = build_node(g, OP_MAXPOOL2D_GRAD, 2, in);
  node_copy_attrs(g, m, n);
  dx[0] = build_finish(g, m);
}

void avgpool2d_grad(Graph *g, Node *n, Value **dy, Value **dx) {
  dx[0] = grad_node(g, OP_AVGPOOL2D_GRAD, n, dy[0], NULL, "input_shape", n->in[0]->shape);
}

static void no_second_derivative(Graph *g, Node *n, Value **dy, Value **dx) {
  (void)g, (void)n, (void)dy, (void)dx;
  NN2C_ASSERT(!"no second derivatives");
}
void conv2d_grad_input_grad(Graph *g, Node *n, Value **dy, Value **dx) { no_second_derivative(g, n, dy, dx); }
void conv2d_grad_weight_grad(Graph *g, Node *n, Value **dy, Value **dx) { no_second_derivative(g, n, dy, dx); }
void maxpool2d_grad_grad(Graph *g, Node *n, Value **dy, Value **dx) { no_second_derivative(g, n, dy, dx); }
void avgpool2d_grad_grad(Graph *g, Node *n, Value **dy, Value **dx) { no_second_derivative(g, n, dy, dx); }

/* ---- emission ----
 * All extents are constants except the batch B. Range checks on taps are
 * written only for the sides that have padding (a valid convolution has no
 * branches), so no comparison is always true or false. */

static Geom emit_geom(const Node *n, Shape x, int64_t kh, int64_t kw, int64_t f, bool pool) {
  Geom G;
  NN2C_ASSERT(!geom_make(n, x, kh, kw, f, pool, &G));
  return G;
}

static const char *ll(Emit *e, int64_t v) { return arena_printf(&e->g->arena, "%lld", (long long)v); }

/* "v * k", "v + k" and "v - k" without the no-op cases, so the code reads as written by hand. */
static const char *mul(Emit *e, const char *v, int64_t k) {
  return k == 1 ? v : arena_printf(&e->g->arena, "%s * %lld", v, (long long)k);
}
static const char *plus(Emit *e, const char *v, int64_t k) {
  return k == 0 ? v : arena_printf(&e->g->arena, "%s %c %lld", v, k < 0 ? '-' : '+', (long long)(k < 0 ? -k : k));
}

/* for (p over output pixels) { nb, oh, ow }; `rows` is N*OH*OW as C. */
static void emit_out_pixels(Emit *e, const Geom *G, const char *rows) {
  emit_open(e, "for (size_t p = 0; p < %s; p++)", rows);
  emit_line(e, "const size_t nb = p / %lld, oh = p / %lld %% %lld, ow = p %% %lld;", (long long)(G->oh * G->ow),
            (long long)G->ow, (long long)G->oh, (long long)G->ow);
}

/* Skips a padded row/column: i < lo (when there is padding before) or i >= hi (after). */
static void emit_range_check(Emit *e, const char *i, int64_t before, int64_t after, int64_t hi) {
  if (before && after) emit_line(e, "if (%s < %lld || %s >= %lld) continue;", i, (long long)before, i, (long long)hi);
  else if (before) emit_line(e, "if (%s < %lld) continue;", i, (long long)before);
  else if (after) emit_line(e, "if (%s >= %lld) continue;", i, (long long)hi);
}

/* The kh/kw loops over an output pixel's valid taps; xo is the input
 * pixel's offset in x. Closed by two emit_close. */
static void emit_taps(Emit *e, const Geom *G) {
  emit_open(e, "for (size_t kh = 0; kh < %lld; kh++)", (long long)G->kh);
  emit_line(e, "const size_t ih = %s + %s;%s", mul(e, "oh", G->sh), mul(e, "kh", G->dh),
            G->pt || G->pb ? " /* row in the padded input */" : "");
  emit_range_check(e, "ih", G->pt, G->pb, G->h + G->pt);
  emit_open(e, "for (size_t kw = 0; kw < %lld; kw++)", (long long)G->kw);
  emit_line(e, "const size_t iw = %s + %s;", mul(e, "ow", G->sw), mul(e, "kw", G->dw));
  emit_range_check(e, "iw", G->pl, G->pr, G->w + G->pl);
  emit_line(e, "const size_t xo = ((nb * %lld + %s) * %lld + %s) * %lld;", (long long)G->h, plus(e, "ih", -G->pt),
            (long long)G->w, plus(e, "iw", -G->pl), (long long)G->c);
}


/* acc[g*FG + co] (+)= x-row . w-block for one tap: the body of conv2d and, with
 * the roles of dy and dw, of conv2d_grad_weight. `dst` is the row updated. */
static void emit_tap_axpy(Emit *e, const Geom *G, const char *dst, const char *src, const char *blk, bool to_blk) {
  const char *F = ll(e, G->f), *FG = ll(e, G->fg), *CG = ll(e, G->cg);
  if (G->groups == 1) {
    emit_open(e, "for (size_t ci = 0; ci < %s; ci++)", CG);
    emit_line(e, "const float av = xp[ci];");
    if (to_blk) emit_line(e, "for (size_t co = 0; co < %s; co++) %s[ci * %s + co] += av * %s[co];", F, blk, F, src);
    else emit_line(e, "for (size_t co = 0; co < %s; co++) %s[co] += av * %s[ci * %s + co];", F, dst, blk, F);
    emit_close(e);
  } else if (G->cg == 1 && G->fg == 1) { /* depthwise */
    if (to_blk) emit_line(e, "for (size_t co = 0; co < %s; co++) %s[co] += xp[co] * %s[co];", F, blk, src);
    else emit_line(e, "for (size_t co = 0; co < %s; co++) %s[co] += xp[co] * %s[co];", F, dst, blk);
  } else {
    emit_open(e, "for (size_t gi = 0; gi < %lld; gi++)", (long long)G->groups);
    emit_open(e, "for (size_t ci = 0; ci < %s; ci++)", CG);
    emit_line(e, "const float av = xp[gi * %s + ci];", CG);
    if (to_blk)
      emit_line(e, "for (size_t co = 0; co < %s; co++) %s[ci * %s + gi * %s + co] += av * %s[gi * %s + co];", FG, blk,
                F, FG, src, FG);
    else
      emit_line(e, "for (size_t co = 0; co < %s; co++) %s[gi * %s + co] += av * %s[ci * %s + gi * %s + co];", FG, dst,
                FG, blk, F, FG);
    emit_close(e);
    emit_close(e);
  }
}

/* Multiply-adds (taps for pooling) per sample: the pixels of the output (or
 * dy) times the taps of each. */
static int64_t conv_work(const Node *n) {
  bool conv = n->op == OP_CONV2D || n->op == OP_CONV2D_GRAD_INPUT || n->op == OP_CONV2D_GRAD_WEIGHT;
  Value *px = n->op == OP_CONV2D_GRAD_WEIGHT ? n->in[1] : n->op == OP_CONV2D || n->op == OP_MAXPOOL2D || n->op == OP_AVGPOOL2D ? n->out[0] : n->in[0];
  int64_t taps = 1;
  if (conv) {
    Shape k = n->op == OP_CONV2D_GRAD_WEIGHT ? n->out[0]->shape : n->in[1]->shape;
    taps = k.d[0] * k.d[1] * k.d[2];
  } else {
    const Attr *a = node_attr(n, "kernel");
    for (int i = 0; a && i < a->n; i++) taps *= a->ints[i];
  }
  return shape_numel(px->shape, 1) * taps;
}

/* The parallel-loop pragma, with the node's work: small work runs on the
 * calling thread (a parallel region costs more than it saves there). The
 * loop's `iters` iterations are handed out in chunks (NN2C_PARALLEL_FOR_DYN):
 * each writes its own outputs, so the result does not depend on who runs them. */
static void emit_parallel(Emit *e, Node *n, const char *iters) {
  Value *px = n->op == OP_CONV2D_GRAD_WEIGHT ? n->in[1] : n->in[0];
  if (shape_has_batch(px->shape)) emit_line(e, "NN2C_PARALLEL_FOR_DYN(B * %lldu, %s)", (long long)conv_work(n), iters);
  else emit_line(e, "NN2C_PARALLEL_FOR_DYN(%lldu, %s)", (long long)conv_work(n), iters);
}

/* ---- blocked kernels (groups = 1, channel counts multiples of 16) ----
 * Convolution and its input gradient are both a "gather GEMM": for a block
 * of PB destination pixels, every tap names one source row per pixel (a row
 * of x for conv2d, of dy for the input gradient; a zero row where the tap
 * falls outside), and the destination rows accumulate source row times the
 * tap's weight block. PB pixels x 16 channels of accumulators stay in
 * registers; each weight row loaded serves PB pixels. The pixel loop is
 * written out by hand (a0..a7): compilers keep such accumulators in vector
 * registers more reliably than a loop over pixels. */
#define CONV_PB 8  /* destination pixels per block */
#define CONV_CB 16 /* channels per accumulator row */

/* The register-blocked rank-1 update at the heart of the blocked kernels:
 * a<r> = (src_fmt with r for its %d) for r < rows, then acc[r][c] += a<r> *
 * row[c] for c < cb. Writing the rows out by hand keeps the accumulators in
 * vector registers. */
static void emit_rank1(Emit *e, int rows, const char *cb, const char *src_fmt, const char *row) {
  Buf b = {0};
  for (int r = 0; r < rows; r++) {
    buf_printf(&b, "%sa%d = ", r ? ", " : "", r);
    buf_printf(&b, src_fmt, r);
  }
  emit_line(e, "const float %s;", b.data);
  buf_free(&b);
  emit_open(e, "for (size_t v = 0; v < %s / NN2C_VW; v++)", cb);
  emit_line(e, "const nn2c_vf wv = nn2c_vload(%s + v * NN2C_VW);", row);
  for (int r = 0; r < rows; r++) emit_line(e, "acc[%d][v] += a%d * wv;", r, r);
  emit_close(e);
}

/* The C text of a channel block of cb columns as compiled: NN2C_CBW narrows it
 * where the vector registers cannot hold 8 rows of cb columns (simd.h). */
static const char *cbw(Emit *e, int cb) { return arena_printf(&e->g->arena, "NN2C_CBW(%d)", cb); }

/* acc[r][.] = src + r * stride (a vector load), for r < rows: cb columns each */
static void emit_acc_load(Emit *e, const char *rows, const char *cb, const char *src, const char *stride) {
  emit_line(e, "for (size_t r = 0; r < %s; r++)", rows);
  emit_line(e, "  for (size_t v = 0; v < %s / NN2C_VW; v++) acc[r][v] = nn2c_vload(%s + r * %s + v * NN2C_VW);", cb, src, stride);
}

/* The opposite: dst + r * stride = acc[r][.] (relu of it if asked). */
static void emit_acc_store(Emit *e, const char *rows, const char *cb, const char *dst, const char *stride, bool relu) {
  emit_line(e, "for (size_t r = 0; r < %s; r++)", rows);
  emit_line(e, "  for (size_t v = 0; v < %s / NN2C_VW; v++) nn2c_vstore(%s + r * %s + v * NN2C_VW, %s);", cb, dst, stride,
            relu ? "nn2c_vrelu(acc[r][v])" : "acc[r][v]");
}

/* A bare block, so the node's declarations do not meet the next node's. */
static bool conv_blocked(const Geom *G, int64_t dst_channels) {
  return G->groups == 1 && dst_channels % CONV_CB == 0;
}

/* The accumulate-and-store core. Expects src[tap][i] (source rows), and writes
 * dst rows p = pb*PB + i < P. */
typedef struct {
  int64_t taps, k, d;   /* taps; source channels per tap (K); destination channels (D) */
  const char *w;        /* weights: tap t, source channel k at w + t * wtap + k * wrow */
  int64_t wtap, wrow;
  const char *bias;     /* NULL, or a vector of D added first */
  bool relu;            /* store relu of the sums */
  const char *dst;
  int cb;               /* destination channels per accumulator row */
  const char *zeros;    /* the zero row taps in the padding read, or NULL */
  const Geom *direct;   /* NULL, or the convolution whose source rows are windows
                           of x read in place (one tap; k runs over kh, kw, ci) */
} GatherCore;

static void emit_gather_core(Emit *e, const GatherCore *gc) {
  const char *cb = cbw(e, gc->cb);
  emit_open(e, "for (size_t c0 = 0; c0 < %lld; c0 += %s)", (long long)gc->d, cb);
  emit_line(e, "nn2c_vf acc[%d][%s / NN2C_VW];", CONV_PB, cb);
  if (gc->bias) emit_acc_load(e, ll(e, CONV_PB), cb, arena_printf(&e->g->arena, "%s + c0", gc->bias), "0");
  else emit_line(e, "memset(acc, 0, sizeof acc);");
  emit_open(e, "for (size_t t = 0; t < %lld; t++)", (long long)gc->taps);
  Buf b = {0};
  for (int i = 0; i < CONV_PB; i++) buf_printf(&b, "%s*s%d = src[t][%d]", i ? ", " : "", i, i);
  emit_line(e, "const float %s;", b.data);
  if (gc->zeros) {
    b.len = 0;
    for (int i = 0; i < CONV_PB; i++) buf_printf(&b, "%ss%d == %s", i ? " && " : "", i, gc->zeros);
    emit_line(e, "if (%s) continue; /* the tap is in the padding for all %d pixels */", b.data, CONV_PB);
  }
  emit_line(e, "const float *wk = %s + t * %lld + c0;", gc->w, (long long)gc->wtap);
  const char *k = "k";
  const Geom *G = gc->direct;
  if (G) {
    emit_open(e, "for (size_t kh = 0; kh < %lld; kh++)", (long long)G->kh);
    emit_open(e, "for (size_t kw = 0; kw < %lld; kw++)", (long long)G->kw);
    emit_open(e, "for (size_t ci = 0; ci < %lld; ci++)", (long long)G->c);
    emit_line(e, "const float *wr = wk + ((kh * %lld + kw) * %lld + ci) * %lld;", (long long)G->kw, (long long)G->c,
              (long long)gc->wrow);
    const char *xk = arena_printf(&e->g->arena, G->c > 1 ? "(%s + %s)" : "%s + %s", mul(e, "kh", G->dh * G->w), mul(e, "kw", G->dw));
    emit_line(e, "const size_t xk = %s + ci; /* the tap's input in the window */", mul(e, xk, G->c));
    k = "xk";
  } else {
    emit_open(e, "for (size_t k = 0; k < %lld; k++)", (long long)gc->k);
    emit_line(e, "const float *wr = wk + k * %lld;", (long long)gc->wrow);
  }
  emit_rank1(e, CONV_PB, cb, arena_printf(&e->g->arena, "s%%d[%s]", k), "wr");
  emit_close(e);
  if (G) emit_close(e), emit_close(e);
  emit_close(e);
  buf_free(&b);
  emit_line(e, "const size_t rows = P - pb * %d < %d ? P - pb * %d : %d;", CONV_PB, CONV_PB, CONV_PB, CONV_PB);
  emit_acc_store(e, "rows", cb, arena_printf(&e->g->arena, "%s + pb * %d * %lld + c0", gc->dst, CONV_PB, (long long)gc->d),
                 ll(e, gc->d), gc->relu);
  emit_close(e);
}

/* Opens the parallel loop over blocks of PB destination pixels (P of them)
 * and the per-pixel loop that fills src[][i] for the pixel p (the last
 * pixel stands in for those past the end). Closes nothing. */
/* Convolutions over few input channels (the first layer) gather each
 * pixel's whole window into a patch row instead: one tap of KH*KW*Cin. */
static bool conv_patch(const Geom *G) { return G->c < 4 && G->kh * G->kw * G->c <= 16; }

static void emit_block_open(Emit *e, Node *n, const char *P, int64_t taps, int64_t patch) {
  emit_line(e, "const size_t P = %s;", P);
  emit_parallel(e, n, arena_printf(&e->g->arena, "(P + %d) / %d", CONV_PB - 1, CONV_PB));
  emit_open(e, "for (size_t pb = 0; pb < (P + %d) / %d; pb++)", CONV_PB - 1, CONV_PB);
  emit_line(e, "const float *src[%lld][%d];", (long long)taps, CONV_PB);
  if (patch) emit_line(e, "float patch[%d][%lld];", CONV_PB, (long long)patch);
  emit_open(e, "for (size_t i = 0; i < %d; i++)", CONV_PB);
  emit_line(e, "const size_t p = pb * %d + i < P ? pb * %d + i : P - 1;", CONV_PB, CONV_PB);
}

/* "lo <= v && v < hi" with only the sides that can fail, or NULL if none can. */
static const char *range_cond(Emit *e, const char *v, int64_t lo, int64_t hi, bool check_hi) {
  if (lo && check_hi) return arena_printf(&e->g->arena, "%s >= %lld && %s < %lld", v, (long long)lo, v, (long long)hi);
  if (lo) return arena_printf(&e->g->arena, "%s >= %lld", v, (long long)lo);
  if (check_hi) return arena_printf(&e->g->arena, "%s < %lld", v, (long long)hi);
  return NULL;
}

static void conv2d_emit_blocked(Emit *e, Node *n, const Geom *G, bool relu) {
  const char *X = emit_ref(e, n->in[0]), *W = emit_ref(e, n->in[1]), *Y = emit_ref(e, n->out[0]);
  int64_t taps = G->kh * G->kw;
  bool pad = G->pt || G->pb || G->pl || G->pr, direct = G->c < 4 && !pad, patch = conv_patch(G) || direct;
  int cb = G->f % (2 * CONV_CB) == 0 ? 2 * CONV_CB : CONV_CB; /* wider rows: each input element loaded serves more */
  emit_line(e, "/* %d output pixels x %d channels per step%s */", CONV_PB, cb, pad ? "; taps in the padding read zeros" : "");
  emit_scope_open(e);
  if (!patch && pad) emit_line(e, "static const float zeros[%lld] = {0.0f};", (long long)G->c);
  if (direct) emit_line(e, "/* few input channels: a pixel's window is one patch row, read in place */");
  else if (patch) emit_line(e, "/* few input channels: each pixel's %lld inputs gathered into one patch row */", (long long)(taps * G->c));
  emit_block_open(e, n, emit_numel_range(e, n->out[0], 0, 3), patch ? 1 : taps, patch && !direct ? taps * G->c : 0);
  emit_line(e, "const size_t nb = p / %lld, oh = p / %lld %% %lld, ow = p %% %lld;", (long long)(G->oh * G->ow),
            (long long)G->ow, (long long)G->oh, (long long)G->ow);
  if (direct) {
    const char *px = arena_printf(&e->g->arena, "((nb * %lld + %s) * %lld + %s)", (long long)G->h, mul(e, "oh", G->sh),
                                  (long long)G->w, mul(e, "ow", G->sw));
    emit_line(e, "src[0][i] = %s + %s;", X, mul(e, px, G->c));
  } else {
    emit_open(e, "for (size_t kh = 0; kh < %lld; kh++)", (long long)G->kh);
    emit_open(e, "for (size_t kw = 0; kw < %lld; kw++)", (long long)G->kw);
    emit_line(e, "const size_t ih = %s + %s, iw = %s + %s;%s", mul(e, "oh", G->sh), mul(e, "kh", G->dh), mul(e, "ow", G->sw),
              mul(e, "kw", G->dw), pad ? " /* in the padded input */" : "");
    const char *ch = range_cond(e, "ih", G->pt, G->h + G->pt, G->pb > 0);
    const char *cw = range_cond(e, "iw", G->pl, G->w + G->pl, G->pr > 0);
    const char *cond = ch || cw ? arena_printf(&e->g->arena, "(%s%s%s)", ch ? ch : "", ch && cw ? " && " : "", cw ? cw : "") : NULL;
    const char *row = arena_printf(&e->g->arena, "%s + ((nb * %lld + %s) * %lld + %s) * %lld", X, (long long)G->h,
                                   plus(e, "ih", -G->pt), (long long)G->w, plus(e, "iw", -G->pl), (long long)G->c);
    if (patch) {
      emit_line(e, "for (size_t ci = 0; ci < %lld; ci++) patch[i][(kh * %lld + kw) * %lld + ci] = %s(%s)[ci]%s;", (long long)G->c,
                (long long)G->kw, (long long)G->c, cond ? arena_printf(&e->g->arena, "%s ? ", cond) : "", row, cond ? " : 0.0f" : "");
    } else if (cond) emit_line(e, "src[kh * %lld + kw][i] = %s ? %s : zeros;", (long long)G->kw, cond, row);
    else emit_line(e, "src[kh * %lld + kw][i] = %s;", (long long)G->kw, row);
    emit_close(e);
    emit_close(e);
    if (patch) emit_line(e, "src[0][i] = patch[i];");
  }
  emit_close(e);
  const char *bias = n->nin == 3 ? emit_ref(e, n->in[2]) : NULL;
  GatherCore gc = {taps, G->c, G->f, W, G->c * G->f, G->f, bias, relu, Y, cb, !patch && pad ? "zeros" : NULL, NULL};
  if (patch) gc.taps = 1, gc.k = taps * G->c, gc.wtap = 0;
  if (direct) gc.direct = G;
  emit_gather_core(e, &gc);
  emit_close(e);
  emit_close(e);
}

/* ---- Winograd F(2x2, 3x3) (stride 1, no dilation, groups 1) ----
 * Each 2x2 tile of outputs comes from a 4x4 window of the source d:
 *   y = A^T [ (G g G^T) .* (B^T d B) ] A,  summed over source channels,
 * 16 multiply-adds per tile and channel pair instead of 36. The transformed
 * kernel u[16][K][D] (K source, D destination channels) is made first, in
 * the scratch space; then per block of WG_T tiles: the transformed windows
 * v[16][tile][K], sixteen [WG_T x K] x [K x D] products in registers (as the
 * gather core), and the output transform, with bias and relu, to the tiles'
 * pixels that exist. conv2d uses it on x (pads as given); conv2d_grad_input
 * on dy padded by 2 - pad (the full correlation with the flipped kernel). The
 * compiler picks it when the tiles waste little (wino_pays). */
#define WG_T 8 /* tiles per block */

typedef struct {
  const char *src, *dst, *w, *bias;
  int64_t sh, sw, k;   /* source [N,SH,SW,K] */
  int64_t oh, ow, d;   /* destination [N,OH,OW,D] */
  int64_t pt, pl;      /* source pixel = destination pixel + tap - pad */
  bool flip, relu;     /* flip: w is the forward kernel [3,3,D,K], read flipped */
} Wino;

/* Whether Winograd makes the destination oh x ow (k source, d destination
 * channels) with at least 1.3x fewer multiply-adds than the direct kernels,
 * which do 9 per pixel of the convolution's output (`pixels`; for the input
 * gradient that is dy's, so a small dy padded by 2 stays direct). */
static bool wino_pays(const Geom *G, int64_t oh, int64_t ow, int64_t k, int64_t d, int64_t pixels) {
  if (G->kh != 3 || G->kw != 3 || G->sh != 1 || G->sw != 1 || G->dh != 1 || G->dw != 1 || G->groups != 1) return false;
  if (k < 16 || d % CONV_CB || G->pt > 2 || G->pl > 2 || G->pb > 2 || G->pr > 2) return false;
  int64_t tiles = ((oh + 1) / 2) * ((ow + 1) / 2);
  return 10 * 9 * pixels >= 13 * 16 * tiles;
}

static int64_t wino_scratch(const Geom *G) { return 16 * G->c * G->f * 4; }

static void emit_wino_kernel(Emit *e, const Wino *wg) {
  emit_line(e, "float *u = (float *)scratch; /* G g G^T: [16][%lld][%lld] */", (long long)wg->k, (long long)wg->d);
  emit_open(e, "for (size_t kc = 0; kc < %lld; kc++)", (long long)wg->k);
  emit_open(e, "for (size_t dc = 0; dc < %lld; dc++)", (long long)wg->d);
  emit_line(e, "float g[3][3], a[4][3];");
  if (wg->flip)
    emit_line(e, "for (size_t i = 0; i < 9; i++) g[i / 3][i %% 3] = %s[(8 - i) * %lld + dc * %lld + kc];", wg->w,
              (long long)(wg->k * wg->d), (long long)wg->k);
  else
    emit_line(e, "for (size_t i = 0; i < 9; i++) g[i / 3][i %% 3] = %s[i * %lld + kc * %lld + dc];", wg->w,
              (long long)(wg->k * wg->d), (long long)wg->d);
  emit_open(e, "for (size_t j = 0; j < 3; j++)");
  emit_line(e, "a[0][j] = g[0][j];");
  emit_line(e, "a[1][j] = 0.5f * (g[0][j] + g[1][j] + g[2][j]);");
  emit_line(e, "a[2][j] = 0.5f * (g[0][j] - g[1][j] + g[2][j]);");
  emit_line(e, "a[3][j] = g[2][j];");
  emit_close(e);
  emit_open(e, "for (size_t r = 0; r < 4; r++)");
  emit_line(e, "float *ur = u + r * 4 * %lld + kc * %lld + dc;", (long long)(wg->k * wg->d), (long long)wg->d);
  const char *S = ll(e, wg->k * wg->d);
  emit_line(e, "ur[0] = a[r][0];");
  emit_line(e, "ur[%s] = 0.5f * (a[r][0] + a[r][1] + a[r][2]);", S);
  emit_line(e, "ur[2 * %s] = 0.5f * (a[r][0] - a[r][1] + a[r][2]);", S);
  emit_line(e, "ur[3 * %s] = a[r][2];", S);
  emit_close(e);
  emit_close(e);
  emit_close(e);
}

/* v[.][i][.] = B^T d B for tile i's window, one source channel at a time. */
static void emit_wino_input(Emit *e, const Wino *wg, int64_t th, int64_t tw) {
  emit_open(e, "for (size_t i = 0; i < %d; i++)", WG_T);
  emit_line(e, "const size_t t = tb * %d + i < T ? tb * %d + i : T - 1;", WG_T, WG_T);
  emit_line(e, "const size_t nb = t / %lld, y0 = t / %lld %% %lld * 2, x0 = t %% %lld * 2;", (long long)(th * tw),
            (long long)tw, (long long)th, (long long)tw);
  emit_line(e, "const float *rp[16];");
  emit_open(e, "for (size_t r = 0; r < 16; r++)");
  emit_line(e, "const size_t sy = y0 + r / 4, sx = x0 + r %% 4; /* in the padded source */");
  const char *ch = range_cond(e, "sy", wg->pt, wg->sh + wg->pt, true), *cw = range_cond(e, "sx", wg->pl, wg->sw + wg->pl, true);
  emit_line(e, "rp[r] = %s && %s ? %s + ((nb * %lld + %s) * %lld + %s) * %lld : zeros;", ch, cw, wg->src, (long long)wg->sh,
            plus(e, "sy", -wg->pt), (long long)wg->sw, plus(e, "sx", -wg->pl), (long long)wg->k);
  emit_close(e);
  emit_open(e, "for (size_t c = 0; c < %lld; c++)", (long long)wg->k);
  emit_line(e, "float w[4][4];");
  emit_open(e, "for (size_t s = 0; s < 4; s++)");
  emit_line(e, "const float d0 = rp[s][c], d1 = rp[4 + s][c], d2 = rp[8 + s][c], d3 = rp[12 + s][c];");
  emit_line(e, "w[0][s] = d0 - d2, w[1][s] = d1 + d2, w[2][s] = d2 - d1, w[3][s] = d1 - d3;");
  emit_close(e);
  emit_open(e, "for (size_t r = 0; r < 4; r++)");
  emit_line(e, "v[r * 4][i][c] = w[r][0] - w[r][2], v[r * 4 + 1][i][c] = w[r][1] + w[r][2];");
  emit_line(e, "v[r * 4 + 2][i][c] = w[r][2] - w[r][1], v[r * 4 + 3][i][c] = w[r][1] - w[r][3];");
  emit_close(e);
  emit_close(e);
  emit_close(e);
}

/* Per block of cb destination channels: m[e][i][c] = sum_k v[e][i][k] u[e][k][c0 + c]
 * in registers, then y = A^T m A (+ bias, relu) to the tiles' existing pixels. */
static void emit_wino_product(Emit *e, const Wino *wg, int cbn, int64_t th, int64_t tw) {
  const char *cb = cbw(e, cbn);
  emit_open(e, "for (size_t c0 = 0; c0 < %lld; c0 += %s)", (long long)wg->d, cb);
  emit_line(e, "float m[16][%d][%s];", WG_T, cb);
  emit_open(e, "for (size_t q = 0; q < 16; q++)");
  emit_line(e, "nn2c_vf acc[%d][%s / NN2C_VW];", WG_T, cb);
  emit_line(e, "memset(acc, 0, sizeof acc);");
  emit_open(e, "for (size_t k = 0; k < %lld; k++)", (long long)wg->k);
  emit_line(e, "const float *ur = u + (q * %lld + k) * %lld + c0;", (long long)wg->k, (long long)wg->d);
  emit_rank1(e, WG_T, cb, "v[q][%d][k]", "ur");
  emit_close(e);
  emit_line(e, "memcpy(m[q], acc, sizeof acc);");
  emit_close(e);
  emit_open(e, "for (size_t i = 0; i < %d && tb * %d + i < T; i++)", WG_T, WG_T);
  emit_line(e, "const size_t t = tb * %d + i, nb = t / %lld, y0 = t / %lld %% %lld * 2, x0 = t %% %lld * 2;", WG_T,
            (long long)(th * tw), (long long)tw, (long long)th, (long long)tw);
  emit_open(e, "for (size_t c = 0; c < %s; c++)", cb);
  emit_line(e, "float p[2][4], y[4];");
  emit_open(e, "for (size_t s = 0; s < 4; s++)");
  emit_line(e, "p[0][s] = m[s][i][c] + m[4 + s][i][c] + m[8 + s][i][c];");
  emit_line(e, "p[1][s] = m[4 + s][i][c] - m[8 + s][i][c] - m[12 + s][i][c];");
  emit_close(e);
  emit_open(e, "for (size_t r = 0; r < 2; r++)");
  const char *bias = wg->bias ? arena_printf(&e->g->arena, " + %s[c0 + c]", wg->bias) : "";
  emit_line(e, "y[r * 2] = p[r][0] + p[r][1] + p[r][2]%s;", bias);
  emit_line(e, "y[r * 2 + 1] = p[r][1] - p[r][2] - p[r][3]%s;", bias);
  emit_close(e);
  emit_open(e, "for (size_t o = 0; o < 4; o++)");
  emit_line(e, "const size_t oy = y0 + o / 2, ox = x0 + o %% 2;");
  if (wg->oh % 2 || wg->ow % 2) emit_line(e, "if (oy >= %lld || ox >= %lld) continue;", (long long)wg->oh, (long long)wg->ow);
  emit_line(e, "%s[((nb * %lld + oy) * %lld + ox) * %lld + c0 + c] = %s;", wg->dst, (long long)wg->oh, (long long)wg->ow,
            (long long)wg->d, wg->relu ? "y[o] > 0.0f ? y[o] : 0.0f" : "y[o]");
  emit_close(e);
  emit_close(e);
  emit_close(e);
  emit_close(e);
}

static void emit_wino(Emit *e, Node *n, const Wino *wg) {
  int64_t th = (wg->oh + 1) / 2, tw = (wg->ow + 1) / 2;
  int cb = wg->d % (2 * CONV_CB) == 0 ? 2 * CONV_CB : CONV_CB;
  emit_line(e, "/* Winograd F(2x2,3x3): %lld x %lld tiles of 2x2 outputs, %d tiles x %d channels per step */", (long long)th,
            (long long)tw, WG_T, cb);
  emit_scope_open(e);
  emit_line(e, "static const float zeros[%lld] = {0.0f};", (long long)wg->k);
  emit_wino_kernel(e, wg);
  emit_line(e, "const size_t T = %s;", arena_printf(&e->g->arena, "%s * %lld", emit_dim(e, n->out[0], 0), (long long)(th * tw)));
  emit_parallel(e, n, arena_printf(&e->g->arena, "(T + %d) / %d", WG_T - 1, WG_T));
  emit_open(e, "for (size_t tb = 0; tb < (T + %d) / %d; tb++)", WG_T - 1, WG_T);
  emit_line(e, "float v[16][%d][%lld];", WG_T, (long long)wg->k);
  emit_wino_input(e, wg, th, tw);
  emit_wino_product(e, wg, cb, th, tw);
  emit_close(e);
  emit_close(e);
}

static void conv2d_emit_wino(Emit *e, Node *n, const Geom *G) {
  Wino wg = {emit_ref(e, n->in[0]), emit_ref(e, n->out[0]), emit_ref(e, n->in[1]), n->nin == 3 ? emit_ref(e, n->in[2]) : NULL,
             G->h, G->w, G->c, G->oh, G->ow, G->f, G->pt, G->pl, false, conv_relu(n)};
  emit_wino(e, n, &wg);
}

/* dx = the full correlation of dy (padded by 2 - pad) with the flipped kernel. */
static void conv2d_grad_input_emit_wino(Emit *e, Node *n, const Geom *G) {
  Wino wg = {emit_ref(e, n->in[0]), emit_ref(e, n->out[0]), emit_ref(e, n->in[1]), NULL,
             G->oh, G->ow, G->f, G->h, G->w, G->c, 2 - G->pt, 2 - G->pl, true, false};
  emit_wino(e, n, &wg);
}

/* ---- Winograd F(3x3, 2x2) for the weight gradient ----
 * dw[u][v] = sum over 2x2 tiles of dy of x's 4x4 window correlated with the
 * tile: dw = G^T [ (A dy A^T) .* (B^T d B) ] G, the transpose of the forward
 * identity, so 16 multiply-adds per tile and channel pair instead of 36. The
 * tiles are cut into WG_SLICES fixed slices of whole blocks; each slice sums
 * m[16][K][D] in the scratch space, and the slices are added in order: the
 * same sums whatever the number of threads. */
#define WG_SLICES 8

static int64_t wino_grad_weight_scratch(const Geom *G) { return WG_SLICES * 16 * G->c * G->f * 4; }

/* du[.][i][.] = A dy A^T for tile i (zero for the block's tiles past T). */
static void emit_wino_dy(Emit *e, const Wino *wg, const char *DY, int64_t th, int64_t tw) {
  emit_open(e, "for (size_t i = 0; i < %d; i++)", WG_T);
  emit_line(e, "const size_t t = tb * %d + i, nb = t / %lld, y0 = t / %lld %% %lld * 2, x0 = t %% %lld * 2;", WG_T,
            (long long)(th * tw), (long long)tw, (long long)th, (long long)tw);
  emit_line(e, "const float *dp[4];");
  emit_open(e, "for (size_t o = 0; o < 4; o++)");
  emit_line(e, "const size_t oy = y0 + o / 2, ox = x0 + o %% 2;");
  emit_line(e, "dp[o] = t < T && oy < %lld && ox < %lld ? %s + ((nb * %lld + oy) * %lld + ox) * %lld : dzeros;",
            (long long)wg->oh, (long long)wg->ow, DY, (long long)wg->oh, (long long)wg->ow, (long long)wg->d);
  emit_close(e);
  emit_open(e, "for (size_t c = 0; c < %lld; c++)", (long long)wg->d);
  emit_line(e, "const float a0 = dp[0][c], a1 = dp[1][c], b0 = dp[2][c], b1 = dp[3][c];");
  emit_line(e, "const float r[4][2] = {{a0, a1}, {a0 + b0, a1 + b1}, {a0 - b0, a1 - b1}, {-b0, -b1}};");
  emit_open(e, "for (size_t q = 0; q < 4; q++)");
  emit_line(e, "du[q * 4][i][c] = r[q][0], du[q * 4 + 1][i][c] = r[q][0] + r[q][1];");
  emit_line(e, "du[q * 4 + 2][i][c] = r[q][0] - r[q][1], du[q * 4 + 3][i][c] = -r[q][1];");
  emit_close(e);
  emit_close(e);
  emit_close(e);
}

/* m[q][k][c] += sum over the block's tiles of v[q][i][k] du[q][i][c]: rb x cb accumulators in registers. */
static void emit_wino_outer(Emit *e, const Wino *wg, int64_t rb, int cbn) {
  const char *cb = cbw(e, cbn);
  emit_open(e, "for (size_t q = 0; q < 16; q++)");
  emit_open(e, "for (size_t k0 = 0; k0 < %lld; k0 += %lld)", (long long)wg->k, (long long)rb);
  emit_open(e, "for (size_t c0 = 0; c0 < %lld; c0 += %s)", (long long)wg->d, cb);
  emit_line(e, "float *mr = m + (q * %lld + k0) * %lld + c0;", (long long)wg->k, (long long)wg->d);
  emit_line(e, "nn2c_vf acc[%lld][%s / NN2C_VW];", (long long)rb, cb);
  emit_acc_load(e, ll(e, rb), cb, "mr", ll(e, wg->d));
  emit_open(e, "for (size_t i = 0; i < %d; i++)", WG_T);
  emit_line(e, "const float *ur = du[q][i] + c0, *vr = v[q][i] + k0;");
  emit_rank1(e, (int)rb, cb, "vr[%d]", "ur");
  emit_close(e);
  emit_acc_store(e, ll(e, rb), cb, "mr", ll(e, wg->d), false);
  emit_close(e);
  emit_close(e);
  emit_close(e);
}

/* The slices' m added in slice order into the first; then dw = G^T m G per
 * channel pair, j innermost so the loops vectorize. Both run over chunks of
 * WG_CHUNK channel pairs on the threads; each element's sum keeps its order. */
#define WG_CHUNK 256
static void emit_wino_weight_out(Emit *e, const Wino *wg, const char *DW) {
  int64_t kd = wg->k * wg->d, nchunks = (kd + WG_CHUNK - 1) / WG_CHUNK;
  emit_line(e, "NN2C_PARALLEL_FOR_IF(%lldu)", (long long)(16 * kd * WG_SLICES));
  emit_open(e, "for (size_t ch = 0; ch < %lld; ch++)", (long long)nchunks);
  emit_line(e, "const size_t j0 = ch * %d, j1 = j0 + %d < %lld ? j0 + %d : %lld;", WG_CHUNK, WG_CHUNK, (long long)kd,
            WG_CHUNK, (long long)kd);
  emit_line(e, "for (size_t sl = 1; sl < %d; sl++)", WG_SLICES);
  emit_line(e, "  for (size_t q = 0; q < 16; q++)");
  emit_line(e, "    for (size_t j = q * %lld + j0; j < q * %lld + j1; j++) mp[j] += mp[sl * %lld + j];", (long long)kd,
            (long long)kd, (long long)(16 * kd));
  emit_open(e, "for (size_t j = j0; j < j1; j++)");
  Buf b = {0};
  for (int q = 0; q < 16; q++) buf_printf(&b, "%ss%d = mp[%lld + j]", q ? ", " : "", q, (long long)(q * kd));
  emit_line(e, "const float %s;", b.data);
  buf_free(&b);
  for (int c = 0; c < 4; c++)
    emit_line(e, "const float h0%d = s%d + 0.5f * (s%d + s%d), h1%d = 0.5f * (s%d - s%d), h2%d = 0.5f * (s%d + s%d) + s%d;", c,
              c, 4 + c, 8 + c, c, 4 + c, 8 + c, c, 4 + c, 8 + c, 12 + c);
  for (int r = 0; r < 3; r++) {
    emit_line(e, "%s[%lld + j] = h%d0 + 0.5f * (h%d1 + h%d2);", DW, (long long)(r * 3 * kd), r, r, r);
    emit_line(e, "%s[%lld + j] = 0.5f * (h%d1 - h%d2);", DW, (long long)((r * 3 + 1) * kd), r, r);
    emit_line(e, "%s[%lld + j] = 0.5f * (h%d1 + h%d2) + h%d3;", DW, (long long)((r * 3 + 2) * kd), r, r, r);
  }
  emit_close(e);
  emit_close(e);
}

static void conv2d_grad_weight_emit_wino(Emit *e, Node *n, const Geom *G) {
  Wino wg = {emit_ref(e, n->in[0]), NULL, NULL, NULL, G->h, G->w, G->c, G->oh, G->ow, G->f, G->pt, G->pl, false, false};
  int64_t th = (G->oh + 1) / 2, tw = (G->ow + 1) / 2;
  int64_t rb = G->c % 8 == 0 ? 8 : G->c % 4 == 0 ? 4 : G->c % 2 == 0 ? 2 : 1;
  int cb = G->f % (2 * CONV_CB) == 0 ? 2 * CONV_CB : CONV_CB;
  emit_line(e, "/* Winograd F(3x3,2x2) weight gradient: %lld x %lld tiles of dy per image, %d slices of %d-tile blocks */",
            (long long)th, (long long)tw, WG_SLICES, WG_T);
  emit_scope_open(e);
  emit_line(e, "static const float zeros[%lld] = {0.0f}, dzeros[%lld] = {0.0f};", (long long)G->c, (long long)G->f);
  emit_line(e, "float *mp = (float *)scratch; /* [%d slices][16][%lld][%lld] */", WG_SLICES, (long long)G->c, (long long)G->f);
  emit_line(e, "const size_t T = %s, NB = (T + %d) / %d;",
            arena_printf(&e->g->arena, "%s * %lld", emit_dim(e, n->in[0], 0), (long long)(th * tw)), WG_T - 1, WG_T);
  emit_parallel(e, n, ll(e, WG_SLICES));
  emit_open(e, "for (size_t sl = 0; sl < %d; sl++)", WG_SLICES);
  emit_line(e, "float *m = mp + sl * %lld;", (long long)(16 * G->c * G->f));
  emit_line(e, "memset(m, 0, sizeof(float) * %lld);", (long long)(16 * G->c * G->f));
  emit_open(e, "for (size_t tb = NB * sl / %d; tb < NB * (sl + 1) / %d; tb++)", WG_SLICES, WG_SLICES);
  emit_line(e, "float v[16][%d][%lld], du[16][%d][%lld];", WG_T, (long long)G->c, WG_T, (long long)G->f);
  emit_wino_input(e, &wg, th, tw);
  emit_wino_dy(e, &wg, emit_ref(e, n->in[1]), th, tw);
  emit_wino_outer(e, &wg, rb, cb);
  emit_close(e);
  emit_close(e);
  emit_wino_weight_out(e, &wg, emit_ref(e, n->out[0]));
  emit_close(e);
}

/* y row = bias; then per valid tap: y row += x row (Cin) times the tap's [Cin,Cout] block. */
static void conv2d_emit_native(Emit *e, Node *n) {
  Value *x = n->in[0], *w = n->in[1], *y = n->out[0];
  Geom G = emit_geom(n, x->shape, w->shape.d[0], w->shape.d[1], w->shape.d[3], false);
  bool relu = conv_relu(n);
  if (conv_blocked(&G, G.f)) {
    conv2d_emit_blocked(e, n, &G, relu);
    return;
  }
  const char *X = emit_ref(e, x), *W = emit_ref(e, w), *Y = emit_ref(e, y);
  emit_parallel(e, n, emit_numel_range(e, y, 0, 3));
  emit_out_pixels(e, &G, emit_numel_range(e, y, 0, 3));
  emit_line(e, "float acc[%lld];", (long long)G.f);
  if (n->nin == 3) emit_line(e, "memcpy(acc, %s, sizeof acc);", emit_ref(e, n->in[2]));
  else emit_line(e, "memset(acc, 0, sizeof acc);");
  emit_taps(e, &G);
  emit_line(e, "const float *xp = %s + xo, *wp = %s + (kh * %lld + kw) * %lld;", X, W, (long long)G.kw,
            (long long)(G.cg * G.f));
  emit_tap_axpy(e, &G, "acc", NULL, "wp", false);
  emit_close(e);
  emit_close(e);
  if (relu) emit_line(e, "for (size_t co = 0; co < %lld; co++) acc[co] = acc[co] > 0.0f ? acc[co] : 0.0f;", (long long)G.f);
  emit_line(e, "memcpy(%s + p * %lld, acc, sizeof acc);", Y, (long long)G.f);
  emit_close(e);
}

/* The blocked weight gradient, split over dw's elements rather than the
 * pixels it sums over: a task owns RB input channels x 16 output channels of
 * one tap and keeps them in registers while it walks the pixels. The tasks
 * fall into parts (one per thread, CONV_PARTS per thread when there are
 * several, so a thread slowed by others takes fewer); a part walks the pixels
 * in chunks of whole images, running all its tasks over a chunk while it is
 * in cache. Each element sums its pixels in the same order whatever the
 * number of threads. */
#define CONV_PARTS 4
/* Few input channels: a task owns 16 or 32 output channels of every patch
 * row (tap x input channel), or of one kernel row's when the patch is long,
 * over one of CONV_SLICES slices of the images, gathering each pixel's patch.
 * Slices write partial sums to the scratch space, added in slice order
 * afterwards: the same sums whatever the number of threads. */
#define CONV_SLICES 8

static int64_t patch_grad_numel(const Node *n) { return shape_numel_static(n->out[0]->shape); }
static bool grad_weight_patch(const Geom *G) { return conv_blocked(G, G->f) && G->c < 4 && G->kw * G->c <= 16; }

static void conv2d_grad_weight_emit_patch(Emit *e, Node *n, const Geom *G) {
  const char *X = emit_ref(e, n->in[0]), *DY = emit_ref(e, n->in[1]), *DW = emit_ref(e, n->out[0]);
  const char *N = emit_dim(e, n->in[0], 0);
  bool split = G->kh * G->kw * G->c > 16; /* a task per kernel row */
  int cb = G->f % (2 * CONV_CB) == 0 ? 2 * CONV_CB : CONV_CB;
  int64_t kk = split ? G->kw * G->c : G->kh * G->kw * G->c, cob = G->f / cb, ntask = (split ? G->kh : 1) * cob;
  long long numel = (long long)patch_grad_numel(n);
  emit_line(e, "/* tasks of %d output channels x %lld patch rows%s over a slice of the images (few input channels) */", cb,
            (long long)kk, split ? " of one kernel row" : "");
  emit_scope_open(e);
  emit_line(e, "float *dwp = (float *)scratch; /* [%d slices][%lld] */", CONV_SLICES, numel);
  emit_parallel(e, n, ll(e, ntask * CONV_SLICES));
  emit_open(e, "for (size_t task = 0; task < %lld; task++)", (long long)(ntask * CONV_SLICES));
  emit_line(e, "const size_t s = task / %lld, c0 = task %% %lld * %d%s;", (long long)ntask, (long long)cob, cb,
            split ? arena_printf(&e->g->arena, ", kh = task %% %lld / %lld", (long long)ntask, (long long)cob) : "");
  emit_line(e, "const size_t n0 = (size_t)%s * s / %d, n1 = (size_t)%s * (s + 1) / %d;", N, CONV_SLICES, N, CONV_SLICES);
  emit_line(e, "nn2c_vf acc[%lld][%d / NN2C_VW];", (long long)kk, cb);
  emit_line(e, "memset(acc, 0, sizeof acc);");
  emit_open(e, "for (size_t nb = n0; nb < n1; nb++)");
  emit_open(e, "for (size_t oh = 0; oh < %lld; oh++)", (long long)G->oh);
  emit_open(e, "for (size_t ow = 0; ow < %lld; ow++)", (long long)G->ow);
  emit_line(e, "float a[%lld];", (long long)kk);
  if (!split) emit_open(e, "for (size_t kh = 0; kh < %lld; kh++)", (long long)G->kh);
  emit_open(e, "for (size_t kw = 0; kw < %lld; kw++)", (long long)G->kw);
  emit_line(e, "const size_t ih = %s + %s, iw = %s + %s;", mul(e, "oh", G->sh), mul(e, "kh", G->dh), mul(e, "ow", G->sw),
            mul(e, "kw", G->dw));
  const char *ch = range_cond(e, "ih", G->pt, G->h + G->pt, G->pb > 0);
  const char *cw = range_cond(e, "iw", G->pl, G->w + G->pl, G->pr > 0);
  const char *row = arena_printf(&e->g->arena, "%s[((nb * %lld + %s) * %lld + %s) * %lld + ci]", X, (long long)G->h,
                                 plus(e, "ih", -G->pt), (long long)G->w, plus(e, "iw", -G->pl), (long long)G->c);
  if (ch || cw)
    row = arena_printf(&e->g->arena, "(%s%s%s) ? %s : 0.0f", ch ? ch : "", ch && cw ? " && " : "", cw ? cw : "", row);
  emit_line(e, "for (size_t ci = 0; ci < %lld; ci++) a[%s] = %s;", (long long)G->c,
            split ? arena_printf(&e->g->arena, "kw * %lld + ci", (long long)G->c)
                  : arena_printf(&e->g->arena, "(kh * %lld + kw) * %lld + ci", (long long)G->kw, (long long)G->c), row);
  emit_close(e);
  if (!split) emit_close(e);
  emit_line(e, "const float *dr = %s + ((nb * %lld + oh) * %lld + ow) * %lld + c0;", DY, (long long)G->oh, (long long)G->ow,
            (long long)G->f);
  emit_open(e, "for (size_t v = 0; v < %d / NN2C_VW; v++)", cb);
  emit_line(e, "const nn2c_vf dv = nn2c_vload(dr + v * NN2C_VW);");
  for (int64_t r = 0; r < kk; r++) emit_line(e, "acc[%lld][v] += a[%lld] * dv;", (long long)r, (long long)r);
  emit_close(e);
  emit_close(e);
  emit_close(e);
  emit_close(e);
  emit_acc_store(e, ll(e, kk), ll(e, cb), arena_printf(&e->g->arena, "dwp + s * %lld + %sc0", numel,
                 split ? arena_printf(&e->g->arena, "kh * %lld + ", (long long)(kk * G->f)) : ""), ll(e, G->f), false);
  emit_close(e);
  emit_open(e, "for (size_t i = 0; i < %lld; i++)", numel);
  emit_line(e, "float dws = dwp[i];");
  emit_line(e, "for (size_t s = 1; s < %d; s++) dws += dwp[s * %lld + i];", CONV_SLICES, numel);
  emit_line(e, "%s[i] = dws;", DW);
  emit_close(e);
  emit_close(e);
}

static void conv2d_grad_weight_emit_blocked(Emit *e, Node *n, const Geom *G) {
  const char *X = emit_ref(e, n->in[0]), *DY = emit_ref(e, n->in[1]), *DW = emit_ref(e, n->out[0]);
  /* RB x CB accumulators: 8 x 32 where the channel counts allow */
  int64_t rb = G->c % 8 == 0 ? 8 : G->c % 4 == 0 ? 4 : G->c % 2 == 0 ? 2 : 1, cb = G->f % (2 * CONV_CB) ? CONV_CB : 2 * CONV_CB;
  int64_t cib = G->c / rb, cob = G->f / cb;
  int64_t per = G->oh * G->ow, nbc = per >= 512 ? 1 : 512 / per;
  emit_line(e, "/* tasks of %lld input x %d output channels of one tap; pixels in chunks of %lld image%s */", (long long)rb,
            (int)cb, (long long)nbc, nbc > 1 ? "s" : "");
  emit_line(e, "memset(%s, 0, sizeof(float) * %s);", DW, emit_numel(e, n->out[0]));
  const char *N = emit_dim(e, n->in[0], 0);
  long long ntask = (long long)(G->kh * G->kw * cib * cob);
  emit_scope_open(e);
  emit_line(e, "const size_t np = nt > 1 && %lld >= %d * nt ? %d * (size_t)nt : (size_t)nt;", ntask, CONV_PARTS, CONV_PARTS);
  emit_parallel(e, n, "np");
  emit_open(e, "for (size_t part = 0; part < np; part++)");
  emit_line(e, "const size_t first = %lld * part / np, last = %lld * (part + 1) / np;", ntask, ntask);
  emit_open(e, "for (size_t n0 = 0; n0 < (size_t)%s; n0 += %lld)", N, (long long)nbc);
  emit_line(e, "const size_t n1 = n0 + %lld < (size_t)%s ? n0 + %lld : (size_t)%s;", (long long)nbc, N, (long long)nbc, N);
  emit_open(e, "for (size_t task = first; task < last; task++)");
  emit_line(e, "const size_t t = task / %lld, ci0 = task / %lld %% %lld * %lld, c0 = task %% %lld * %d;",
            (long long)(cib * cob), (long long)cob, (long long)cib, (long long)rb, (long long)cob, (int)cb);
  emit_line(e, "const size_t kh = t / %lld, kw = t %% %lld;", (long long)G->kw, (long long)G->kw);
  emit_line(e, "float *wr = %s + (t * %lld + ci0) * %lld + c0;", DW, (long long)G->c, (long long)G->f);
  emit_line(e, "nn2c_vf acc[%lld][%d / NN2C_VW];", (long long)rb, (int)cb);
  emit_acc_load(e, ll(e, rb), ll(e, cb), "wr", ll(e, G->f));
  emit_open(e, "for (size_t nb = n0; nb < n1; nb++)");
  emit_open(e, "for (size_t oh = 0; oh < %lld; oh++)", (long long)G->oh);
  emit_line(e, "const size_t ih = %s + %s;", mul(e, "oh", G->sh), mul(e, "kh", G->dh));
  emit_range_check(e, "ih", G->pt, G->pb, G->h + G->pt);
  emit_open(e, "for (size_t ow = 0; ow < %lld; ow++)", (long long)G->ow);
  emit_line(e, "const size_t iw = %s + %s;", mul(e, "ow", G->sw), mul(e, "kw", G->dw));
  emit_range_check(e, "iw", G->pl, G->pr, G->w + G->pl);
  emit_line(e, "const float *xs = %s + ((nb * %lld + %s) * %lld + %s) * %lld + ci0;", X, (long long)G->h, plus(e, "ih", -G->pt),
            (long long)G->w, plus(e, "iw", -G->pl), (long long)G->c);
  emit_line(e, "const float *dr = %s + ((nb * %lld + oh) * %lld + ow) * %lld + c0;", DY, (long long)G->oh, (long long)G->ow,
            (long long)G->f);
  emit_rank1(e, (int)rb, ll(e, cb), "xs[%d]", "dr");
  emit_close(e);
  emit_close(e);
  emit_close(e);
  emit_acc_store(e, ll(e, rb), ll(e, cb), "wr", ll(e, G->f), false);
  emit_close(e);
  emit_close(e);
  emit_close(e);
  emit_close(e);
}

/* dw = 0; per output pixel and valid tap: dw block += x row (Cin) outer dy row (Cout). */
static void conv2d_grad_weight_emit_native(Emit *e, Node *n) {
  Value *x = n->in[0], *dy = n->in[1], *dw = n->out[0];
  Shape k = dw->shape;
  Geom G = emit_geom(n, x->shape, k.d[0], k.d[1], k.d[3], false);
  if (grad_weight_patch(&G)) {
    conv2d_grad_weight_emit_patch(e, n, &G);
    return;
  }
  if (conv_blocked(&G, G.f)) {
    conv2d_grad_weight_emit_blocked(e, n, &G);
    return;
  }
  const char *X = emit_ref(e, x), *DY = emit_ref(e, dy), *DW = emit_ref(e, dw);
  emit_line(e, "memset(%s, 0, sizeof(float) * %s);", DW, emit_numel(e, dw));
  emit_out_pixels(e, &G, emit_numel_range(e, dy, 0, 3));
  emit_line(e, "float dr[%lld]; /* a local copy: the compiler sees it cannot alias dw */", (long long)G.f);
  emit_line(e, "memcpy(dr, %s + p * %lld, sizeof dr);", DY, (long long)G.f);
  emit_taps(e, &G);
  emit_line(e, "const float *xp = %s + xo;", X);
  emit_line(e, "float *wp = %s + (kh * %lld + kw) * %lld;", DW, (long long)G.kw, (long long)(G.cg * G.f));
  emit_tap_axpy(e, &G, NULL, "dr", "wp", true);
  emit_close(e);
  emit_close(e);
  emit_close(e);
}

/* sum over co < len of a[co] * b[co], in 8 independent lanes (so the loop
 * vectorizes without -ffast-math), added to `dst`. Declares `lane` in the
 * current block. */
static void emit_dot(Emit *e, const char *dst, const char *a, const char *b, int64_t len) {
  int64_t full = len / 8 * 8;
  if (full == 0) {
    emit_line(e, "for (size_t co = 0; co < %lld; co++) %s += %s[co] * %s[co];", (long long)len, dst, a, b);
    return;
  }
  emit_line(e, "float lane[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};");
  emit_open(e, "for (size_t co = 0; co < %lld; co += 8)", (long long)full);
  emit_line(e, "for (size_t l = 0; l < 8; l++) lane[l] += %s[co + l] * %s[co + l];", a, b);
  emit_close(e);
  emit_line(e, "%s += ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));", dst);
  if (full < len)
    emit_line(e, "for (size_t co = %lld; co < %lld; co++) %s += %s[co] * %s[co];", (long long)full, (long long)len, dst,
              a, b);
}

/* W transposed into the scratch space: wt[tap][co][ci], so rows run over Cin. */
static void emit_weight_transpose(Emit *e, const Geom *G, const char *W) {
  emit_line(e, "float *wt = (float *)scratch; /* [%lld taps][%lld co][%lld ci] */", (long long)(G->kh * G->kw),
            (long long)G->f, (long long)G->c);
  emit_open(e, "for (size_t t = 0; t < %lld; t++)", (long long)(G->kh * G->kw));
  emit_open(e, "for (size_t ci = 0; ci < %lld; ci++)", (long long)G->c);
  emit_line(e, "for (size_t co = 0; co < %lld; co++) wt[(t * %lld + co) * %lld + ci] = %s[(t * %lld + ci) * %lld + co];",
            (long long)G->f, (long long)G->f, (long long)G->c, W, (long long)G->c, (long long)G->f);
  emit_close(e);
  emit_close(e);
}

/* The blocked input gradient: W is transposed once into the step's scratch
 * space (wt[tap][co][ci], so the inner loop runs over contiguous Cin), then
 * each block of input pixels gathers, per tap, the dy row of the output
 * pixel that tap connects it to (a zero row if there is none). */
static void conv2d_grad_input_emit_blocked(Emit *e, Node *n, const Geom *G) {
  const char *DY = emit_ref(e, n->in[0]), *W = emit_ref(e, n->in[1]), *DX = emit_ref(e, n->out[0]);
  int64_t taps = G->kh * G->kw;
  int cb = G->c % (2 * CONV_CB) ? CONV_CB : 2 * CONV_CB;
  emit_line(e, "/* %d input pixels x %d channels per step, W transposed in the scratch space */", CONV_PB, cb);
  emit_scope_open(e);
  emit_line(e, "static const float zeros[%lld] = {0.0f};", (long long)G->f);
  emit_weight_transpose(e, G, W);
  emit_block_open(e, n, emit_numel_range(e, n->out[0], 0, 3), taps, 0);
  emit_line(e, "const size_t nb = p / %lld, ih = %s, iw = %s;%s", (long long)(G->h * G->w),
            plus(e, arena_printf(&e->g->arena, "p / %lld %% %lld", (long long)G->w, (long long)G->h), G->pt),
            plus(e, arena_printf(&e->g->arena, "p %% %lld", (long long)G->w), G->pl),
            G->pt || G->pl ? " /* in the padded input */" : "");
  emit_open(e, "for (size_t kh = 0; kh < %lld; kh++)", (long long)G->kh);
  emit_open(e, "for (size_t kw = 0; kw < %lld; kw++)", (long long)G->kw);
  const char *kh = mul(e, "kh", G->dh), *kw = mul(e, "kw", G->dw);
  emit_line(e, "const float *r = zeros;");
  emit_open(e, "if (ih >= %s && iw >= %s)", kh, kw);
  emit_line(e, "const size_t oh = %s, ow = %s;",
            G->sh > 1 ? arena_printf(&e->g->arena, "(ih - %s) / %lld", kh, (long long)G->sh) : arena_printf(&e->g->arena, "ih - %s", kh),
            G->sw > 1 ? arena_printf(&e->g->arena, "(iw - %s) / %lld", kw, (long long)G->sw) : arena_printf(&e->g->arena, "iw - %s", kw));
  Buf c = {0};
  if (G->sh > 1) buf_printf(&c, "(ih - %s) %% %lld == 0 && ", kh, (long long)G->sh);
  if (G->sw > 1) buf_printf(&c, "(iw - %s) %% %lld == 0 && ", kw, (long long)G->sw);
  buf_printf(&c, "oh < %lld && ow < %lld", (long long)G->oh, (long long)G->ow);
  emit_line(e, "if (%s) r = %s + ((nb * %lld + oh) * %lld + ow) * %lld;", c.data, DY, (long long)G->oh, (long long)G->ow,
            (long long)G->f);
  buf_free(&c);
  emit_close(e);
  emit_line(e, "src[kh * %lld + kw][i] = r;", (long long)G->kw);
  emit_close(e);
  emit_close(e);
  emit_close(e);
  GatherCore gc = {taps, G->f, G->c, "wt", G->f * G->c, G->c, NULL, false, DX, cb, "zeros", NULL};
  emit_gather_core(e, &gc);
  emit_close(e);
  emit_close(e);
}

/* Without padding every tap of every output pixel lands in dx, so the input
 * gradient can scatter instead of gathering: a block of PB output pixels (dy
 * rows) times each tap's W^T block gives PB dx rows, added where the tap
 * puts them. No work on the taps that fall outside (the gather form's zero
 * rows); used where those would be most of the work (small images: 5x5 from
 * 3x3 is two thirds), as the additions into dx cost more otherwise. Threads
 * share chunks of PB images, and blocks sit at fixed places in a chunk, so
 * each dx element gets its terms in the same order whatever the threads. */
static void conv2d_grad_input_emit_scatter(Emit *e, Node *n, const Geom *G) {
  const char *DY = emit_ref(e, n->in[0]), *W = emit_ref(e, n->in[1]), *DX = emit_ref(e, n->out[0]);
  int cb = G->c % (2 * CONV_CB) ? CONV_CB : 2 * CONV_CB;
  long long per = (long long)(G->oh * G->ow), taps = (long long)(G->kh * G->kw), F = (long long)G->f, C = (long long)G->c;
  emit_line(e, "/* %d output pixels x %d input channels per step, scattered to dx; W transposed in the scratch space */",
            CONV_PB, cb);
  emit_scope_open(e);
  emit_weight_transpose(e, G, W);
  emit_line(e, "memset(%s, 0, sizeof(float) * %s);", DX, emit_numel(e, n->out[0]));
  emit_parallel(e, n, arena_printf(&e->g->arena, "(B + %d) / %d", CONV_PB - 1, CONV_PB));
  emit_open(e, "for (size_t g = 0; g < (B + %d) / %d; g++)", CONV_PB - 1, CONV_PB);
  emit_line(e, "const size_t p1 = (g * %d + %d < B ? g * %d + %d : B) * %lld;", CONV_PB, CONV_PB, CONV_PB, CONV_PB, per);
  emit_open(e, "for (size_t pb = g * %d * %lld; pb < p1; pb += %d)", CONV_PB, per, CONV_PB);
  emit_line(e, "const float *src[%d];", CONV_PB);
  emit_line(e, "size_t xo[%d]; /* where each pixel's tap (0, 0) lands in dx */", CONV_PB);
  emit_open(e, "for (size_t i = 0; i < %d; i++)", CONV_PB);
  emit_line(e, "const size_t p = pb + i < p1 ? pb + i : p1 - 1;");
  emit_line(e, "const size_t nb = p / %lld, oh = p / %lld %% %lld, ow = p %% %lld;", per, (long long)G->ow, (long long)G->oh,
            (long long)G->ow);
  emit_line(e, "src[i] = %s + p * %lld;", DY, F);
  emit_line(e, "xo[i] = ((nb * %lld + %s) * %lld + %s) * %lld;", (long long)G->h, mul(e, "oh", G->sh), (long long)G->w,
            mul(e, "ow", G->sw), C);
  emit_close(e);
  Buf b = {0};
  for (int i = 0; i < CONV_PB; i++) buf_printf(&b, "%s*s%d = src[%d]", i ? ", " : "", i, i);
  emit_line(e, "const float %s;", b.data);
  emit_open(e, "for (size_t t = 0; t < %lld; t++)", taps);
  emit_line(e, "const size_t to = (%s + %s) * %lld; /* the tap's offset in dx */",
            mul(e, arena_printf(&e->g->arena, "t / %lld", (long long)G->kw), G->dh * G->w),
            mul(e, arena_printf(&e->g->arena, "t %% %lld", (long long)G->kw), G->dw), C);
  const char *cbt = cbw(e, cb);
  emit_open(e, "for (size_t c0 = 0; c0 < %lld; c0 += %s)", C, cbt);
  emit_line(e, "nn2c_vf acc[%d][%s / NN2C_VW];", CONV_PB, cbt);
  emit_line(e, "memset(acc, 0, sizeof acc);");
  emit_line(e, "const float *wk = wt + t * %lld + c0;", F * C);
  emit_open(e, "for (size_t k = 0; k < %lld; k++)", F);
  emit_line(e, "const float *wr = wk + k * %lld;", C);
  buf_free(&b);
  emit_rank1(e, CONV_PB, cbt, "s%d[k]", "wr");
  emit_close(e);
  emit_open(e, "for (size_t i = 0; i < %d && pb + i < p1; i++)", CONV_PB);
  emit_line(e, "float *xr = %s + xo[i] + to + c0;", DX);
  emit_line(e, "for (size_t v = 0; v < %s / NN2C_VW; v++) nn2c_vstore(xr + v * NN2C_VW, nn2c_vload(xr + v * NN2C_VW) + acc[i][v]);", cbt);
  emit_close(e);
  emit_close(e);
  emit_close(e);
  emit_close(e);
  emit_close(e);
  emit_close(e);
}

/* Gathered per input pixel, so each dx row is written once: for every tap
 * (kh, kw) whose output pixel (oh, ow) exists, dx row[ci] += dy row . w[kh,kw,ci,:]. */
static void conv2d_grad_input_emit_native(Emit *e, Node *n) {
  Value *dy = n->in[0], *w = n->in[1], *dx = n->out[0];
  Geom G = emit_geom(n, dx->shape, w->shape.d[0], w->shape.d[1], w->shape.d[3], false);
  bool scatter = !G.pt && !G.pl && !G.pb && !G.pr && 2 * G.oh * G.ow < G.h * G.w; /* most gathered rows would be zeros */
  if (conv_blocked(&G, G.c) && scatter) {
    conv2d_grad_input_emit_scatter(e, n, &G);
    return;
  }
  if (conv_blocked(&G, G.c)) {
    conv2d_grad_input_emit_blocked(e, n, &G);
    return;
  }
  const char *DY = emit_ref(e, dy), *W = emit_ref(e, w), *DX = emit_ref(e, dx);
  emit_parallel(e, n, emit_numel_range(e, dx, 0, 3));
  emit_open(e, "for (size_t p = 0; p < %s; p++)", emit_numel_range(e, dx, 0, 3));
  emit_line(e, "const size_t nb = p / %lld, ih = %s, iw = %s;%s", (long long)(G.h * G.w),
            plus(e, arena_printf(&e->g->arena, "p / %lld %% %lld", (long long)G.w, (long long)G.h), G.pt),
            plus(e, arena_printf(&e->g->arena, "p %% %lld", (long long)G.w), G.pl),
            G.pt || G.pl ? " /* in the padded input */" : "");
  emit_line(e, "float acc[%lld];", (long long)G.c);
  emit_line(e, "memset(acc, 0, sizeof acc);");
  const int64_t ext[2][4] = {{G.kh, G.dh, G.sh, G.oh}, {G.kw, G.dw, G.sw, G.ow}};
  const char *nm[2][3] = {{"kh", "ih", "oh"}, {"kw", "iw", "ow"}};
  for (int a = 0; a < 2; a++) { /* o * stride = i - k * dilation, for an o in range */
    emit_open(e, "for (size_t %s = 0; %s < %lld; %s++)", nm[a][0], nm[a][0], (long long)ext[a][0], nm[a][0]);
    const char *k = mul(e, nm[a][0], ext[a][1]);
    emit_line(e, "if (%s < %s) break;", nm[a][1], k);
    if (ext[a][2] > 1) emit_line(e, "if ((%s - %s) %% %lld) continue;", nm[a][1], k, (long long)ext[a][2]);
    if (ext[a][2] > 1)
      emit_line(e, "const size_t %s = (%s - %s) / %lld;", nm[a][2], nm[a][1], k, (long long)ext[a][2]);
    else emit_line(e, "const size_t %s = %s - %s;", nm[a][2], nm[a][1], k);
    emit_line(e, "if (%s >= %lld) continue;", nm[a][2], (long long)ext[a][3]);
  }
  emit_line(e, "const float *dp = %s + ((nb * %lld + oh) * %lld + ow) * %lld;", DY, (long long)G.oh, (long long)G.ow,
            (long long)G.f);
  emit_line(e, "const float *wp = %s + (kh * %lld + kw) * %lld;", W, (long long)G.kw, (long long)(G.cg * G.f));
  if (G.cg == 1 && G.fg == 1) {
    emit_line(e, "for (size_t ci = 0; ci < %lld; ci++) acc[ci] += dp[ci] * wp[ci];", (long long)G.c);
  } else if (G.groups == 1) {
    emit_open(e, "for (size_t ci = 0; ci < %lld; ci++)", (long long)G.c);
    emit_line(e, "const float *wr = wp + ci * %lld;", (long long)G.f);
    emit_dot(e, "acc[ci]", "dp", "wr", G.f);
    emit_close(e);
  } else {
    emit_open(e, "for (size_t gi = 0; gi < %lld; gi++)", (long long)G.groups);
    emit_open(e, "for (size_t ci = 0; ci < %lld; ci++)", (long long)G.cg);
    emit_line(e, "const float *wr = wp + ci * %lld + gi * %lld, *dr = dp + gi * %lld;", (long long)G.f,
              (long long)G.fg, (long long)G.fg);
    emit_dot(e, arena_printf(&e->g->arena, "acc[gi * %lld + ci]", (long long)G.cg), "dr", "wr", G.fg);
    emit_close(e);
    emit_close(e);
  }
  emit_close(e);
  emit_close(e);
  emit_line(e, "memcpy(%s + p * %lld, acc, sizeof acc);", DX, (long long)G.c);
  emit_close(e);
}

/* ---- the OpenBLAS backend (built with -DNN2C_USE_CBLAS) ----
 * A convolution with groups = 1 is a GEMM over patch rows (see the top of
 * this file). The patches of CBLAS_ROWS output pixels at a time are copied
 * into the scratch space (im2col), then cblas_sgemm multiplies them:
 *   conv2d       y rows   = col W              (then bias, relu)
 *   grad_weight  dw      += col^T dy rows      (beta 0 on the first chunk)
 *   grad_input   col      = dy rows W^T        (then added back into dx: col2im)
 * A 1x1 stride-1 unpadded convolution uses x's rows as they are. The code is
 * written inside #ifdef NN2C_USE_CBLAS, the native kernels in its #else. */
typedef enum { CB_FWD, CB_GRAD_WEIGHT, CB_GRAD_INPUT } CblasKind;

static int64_t cblas_rows(const Geom *G) {
  int64_t k = G->kh * G->kw * G->c, r = 65536 / k;
  return r < 64 ? 64 : r;
}

static bool conv_cblas_geom(const Node *n, Geom *G) {
  Value *x = n->op == OP_CONV2D_GRAD_INPUT ? n->out[0] : n->in[0];
  Value *k = n->op == OP_CONV2D_GRAD_WEIGHT ? n->out[0] : n->in[1];
  if (x->dtype != DT_F32 || geom_make(n, x->shape, k->shape.d[0], k->shape.d[1], k->shape.d[3], false, G)) return false;
  return G->groups == 1;
}

static bool conv_cblas_direct(const Geom *G) {
  return G->kh == 1 && G->kw == 1 && G->sh == 1 && G->sw == 1 && !G->pt && !G->pl && !G->pb && !G->pr;
}

int64_t conv_scratch_bytes(const Node *n) {
  Geom G;
  int64_t own = n->op == OP_CONV2D_GRAD_INPUT ? shape_numel_static(n->in[1]->shape) * 4 : 0;
  Shape k = n->out[0]->shape;
  if (n->op == OP_CONV2D_GRAD_WEIGHT && !geom_make(n, n->in[0]->shape, k.d[0], k.d[1], k.d[3], false, &G) && grad_weight_patch(&G))
    own = CONV_SLICES * patch_grad_numel(n) * 4;
  bool wino = (n->op == OP_CONV2D || n->op == OP_CONV2D_GRAD_INPUT) && conv_cblas_geom(n, &G) && (n->op == OP_CONV2D ? wino_pays(&G, G.oh, G.ow, G.c, G.f, G.oh * G.ow)
                                          : n->op == OP_CONV2D_GRAD_INPUT && wino_pays(&G, G.h, G.w, G.f, G.c, G.oh * G.ow));
  if (wino && wino_scratch(&G) > own) own = wino_scratch(&G);
  if (n->op == OP_CONV2D_GRAD_WEIGHT && conv_cblas_geom(n, &G) && wino_pays(&G, G.oh, G.ow, G.c, G.f, G.oh * G.ow) &&
      wino_grad_weight_scratch(&G) > own)
    own = wino_grad_weight_scratch(&G);
  bool conv = n->op == OP_CONV2D || n->op == OP_CONV2D_GRAD_WEIGHT || n->op == OP_CONV2D_GRAD_INPUT;
  if (!conv || !conv_cblas_geom(n, &G) || conv_cblas_direct(&G)) return own;
  int64_t cols = cblas_rows(&G) * G.kh * G.kw * G.c * 4;
  return cols > own ? cols : own;
}

/* Patch rows r < rows of pixels p0 + r: gathered from x into col (zeros in
 * the padding), or (scatter) added from col back into x. */
static void emit_cols(Emit *e, const Geom *G, const char *X, bool scatter) {
  int64_t kkc = G->kh * G->kw * G->c;
  emit_open(e, "for (size_t r = 0; r < rows; r++)");
  emit_line(e, "const size_t p = p0 + r, nb = p / %lld, oh = p / %lld %% %lld, ow = p %% %lld;", (long long)(G->oh * G->ow),
            (long long)G->ow, (long long)G->oh, (long long)G->ow);
  emit_open(e, "for (size_t kh = 0; kh < %lld; kh++)", (long long)G->kh);
  emit_open(e, "for (size_t kw = 0; kw < %lld; kw++)", (long long)G->kw);
  emit_line(e, "const size_t ih = %s + %s, iw = %s + %s;", mul(e, "oh", G->sh), mul(e, "kh", G->dh), mul(e, "ow", G->sw),
            mul(e, "kw", G->dw));
  const char *ch = range_cond(e, "ih", G->pt, G->h + G->pt, G->pb > 0);
  const char *cw = range_cond(e, "iw", G->pl, G->w + G->pl, G->pr > 0);
  const char *cond = ch || cw ? arena_printf(&e->g->arena, "%s%s%s", ch ? ch : "", ch && cw ? " && " : "", cw ? cw : "") : NULL;
  emit_line(e, "float *cr = col + r * %lld + (kh * %lld + kw) * %lld;", (long long)kkc, (long long)G->kw, (long long)G->c);
  const char *row = arena_printf(&e->g->arena, "%s + ((nb * %lld + %s) * %lld + %s) * %lld", X, (long long)G->h,
                                 plus(e, "ih", -G->pt), (long long)G->w, plus(e, "iw", -G->pl), (long long)G->c);
  if (scatter) {
    if (cond) emit_line(e, "if (!(%s)) continue;", cond);
    emit_line(e, "float *xr = %s;", row);
    emit_line(e, "for (size_t c = 0; c < %lld; c++) xr[c] += cr[c];", (long long)G->c);
  } else if (cond) {
    emit_line(e, "if (%s) memcpy(cr, %s, sizeof(float) * %lld);", cond, row, (long long)G->c);
    emit_line(e, "else memset(cr, 0, sizeof(float) * %lld);", (long long)G->c);
  } else emit_line(e, "memcpy(cr, %s, sizeof(float) * %lld);", row, (long long)G->c);
  emit_close(e);
  emit_close(e);
  emit_close(e);
}

/* Writes "#ifdef NN2C_USE_CBLAS", the GEMM version of n and "#else", and
 * returns true; false (nothing written) when n has no GEMM form. */
static bool conv_cblas_open(Emit *e, Node *n, CblasKind kind) {
  Geom G;
  if (!conv_cblas_geom(n, &G)) return false;
  bool direct = conv_cblas_direct(&G);
  int64_t kkc = G.kh * G.kw * G.c;
  const char *F = ll(e, G.f), *KKC = ll(e, kkc);
  Value *pix = kind == CB_GRAD_WEIGHT ? n->in[1] : kind == CB_GRAD_INPUT ? n->in[0] : n->out[0];
  emit_line(e, "#ifdef NN2C_USE_CBLAS");
  emit_scope_open(e);
  emit_line(e, "/* GEMM over patch rows, %lld pixels at a time%s */", (long long)cblas_rows(&G), direct ? " (1x1: x's rows)" : " (im2col in the scratch space)");
  emit_line(e, "const size_t P = %s;", emit_numel_range(e, pix, 0, 3));
  const char *X = kind == CB_GRAD_INPUT ? emit_ref(e, n->out[0]) : emit_ref(e, n->in[0]);
  if (kind == CB_GRAD_INPUT && !direct) emit_line(e, "memset(%s, 0, sizeof(float) * %s);", X, emit_numel(e, n->out[0]));
  if (!direct) emit_line(e, "float *col = (float *)scratch;");
  emit_open(e, "for (size_t p0 = 0; p0 < P; p0 += %lld)", (long long)cblas_rows(&G));
  emit_line(e, "const size_t rows = P - p0 < %lld ? P - p0 : %lld;", (long long)cblas_rows(&G), (long long)cblas_rows(&G));
  if (direct) emit_line(e, "%sfloat *col = (float *)%s + p0 * %s;", kind == CB_GRAD_INPUT ? "" : "const ", X, KKC);
  else if (kind != CB_GRAD_INPUT) emit_cols(e, &G, X, false);
  if (kind == CB_FWD)
    emit_line(e, "cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, %s, %s, 1.0f, col, %s, %s, %s, 0.0f, %s + p0 * %s, %s);",
              F, KKC, KKC, emit_ref(e, n->in[1]), F, emit_ref(e, n->out[0]), F, F);
  else if (kind == CB_GRAD_WEIGHT)
    emit_line(e, "cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, %s, %s, (int)rows, 1.0f, col, %s, %s + p0 * %s, %s, p0 ? 1.0f : 0.0f, %s, %s);",
              KKC, F, KKC, emit_ref(e, n->in[1]), F, F, emit_ref(e, n->out[0]), F);
  else {
    emit_line(e, "cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, %s, %s, 1.0f, %s + p0 * %s, %s, %s, %s, 0.0f, col, %s);",
              KKC, F, emit_ref(e, n->in[0]), F, F, emit_ref(e, n->in[1]), F, KKC);
    if (!direct) emit_cols(e, &G, X, true);
  }
  emit_close(e);
  if (kind == CB_FWD && (n->nin == 3 || conv_relu(n))) {
    const char *Y = emit_ref(e, n->out[0]);
    emit_open(e, "for (size_t p = 0; p < P; p++)");
    emit_open(e, "for (size_t co = 0; co < %s; co++)", F);
    if (n->nin == 3) emit_line(e, "%s[p * %s + co] += %s[co];", Y, F, emit_ref(e, n->in[2]));
    if (conv_relu(n)) emit_line(e, "if (%s[p * %s + co] < 0.0f) %s[p * %s + co] = 0.0f;", Y, F, Y, F);
    emit_close(e);
    emit_close(e);
  }
  emit_close(e);
  emit_line(e, "#else");
  return true;
}

/* Winograd's kernel transform is made at every call: below WG_MIN_BATCH
 * samples it costs more than it saves, and the direct kernels run. Returns 0
 * (not used), 1 (emitted) or 2 (emitted under "if (B >= ...)", and an else
 * block is left open for the direct kernels). */
#define WG_MIN_BATCH 8
static int conv_wino_open(Emit *e, Node *n) {
  Geom G;
  if (!conv_cblas_geom(n, &G)) return 0;
  bool fwd = n->op == OP_CONV2D, wgrad = n->op == OP_CONV2D_GRAD_WEIGHT;
  bool pays = fwd || wgrad ? wino_pays(&G, G.oh, G.ow, G.c, G.f, G.oh * G.ow)
                           : n->op == OP_CONV2D_GRAD_INPUT && wino_pays(&G, G.h, G.w, G.f, G.c, G.oh * G.ow);
  int64_t nb = n->in[0]->shape.d[0]; /* x, or dy: the batch */
  if (!pays || (nb != DIM_BATCH && nb < WG_MIN_BATCH)) return 0;
  if (nb == DIM_BATCH) emit_open(e, "if (B >= %d)", WG_MIN_BATCH);
  if (fwd) conv2d_emit_wino(e, n, &G);
  else if (wgrad) conv2d_grad_weight_emit_wino(e, n, &G);
  else conv2d_grad_input_emit_wino(e, n, &G);
  if (nb != DIM_BATCH) return 1;
  emit_close(e);
  emit_open(e, "else");
  return 2;
}

void conv2d_emit(Emit *e, Node *n) {
  bool blas = conv_cblas_open(e, n, CB_FWD);
  int wino = conv_wino_open(e, n);
  if (wino != 1) conv2d_emit_native(e, n);
  if (wino == 2) emit_close(e);
  if (blas) emit_line(e, "#endif");
}

void conv2d_grad_weight_emit(Emit *e, Node *n) {
  bool blas = conv_cblas_open(e, n, CB_GRAD_WEIGHT);
  int wino = conv_wino_open(e, n);
  if (wino != 1) conv2d_grad_weight_emit_native(e, n);
  if (wino == 2) emit_close(e);
  if (blas) emit_line(e, "#endif");
}

void conv2d_grad_input_emit(Emit *e, Node *n) {
  bool blas = conv_cblas_open(e, n, CB_GRAD_INPUT);
  int wino = conv_wino_open(e, n);
  if (wino != 1) conv2d_grad_input_emit_native(e, n);
  if (wino == 2) emit_close(e);
  if (blas) emit_line(e, "#endif");
}

/* Pooling gradients scatter into dx; output pixels may run in parallel only
 * when no two windows share an input pixel. */
static bool pool_disjoint(const Geom *G) { return G->sh >= G->kh && G->sw >= G->kw; }

/* Per output pixel: y row = max (first tap copies) or mean over the valid taps. */
static void emit_pool(Emit *e, Node *n, bool max) {
  Value *x = n->in[0], *y = n->out[0];
  Geom G;
  NN2C_ASSERT(!pool_geom(n, x->shape, &G));
  const char *X = emit_ref(e, x), *Y = emit_ref(e, y), *C = ll(e, G.c);
  emit_parallel(e, n, emit_numel_range(e, y, 0, 3));
  emit_out_pixels(e, &G, emit_numel_range(e, y, 0, 3));
  if (!G.pt && !G.pl && !G.pb && !G.pr) { /* every tap valid: the window at fixed offsets, reduced in a local row */
    emit_line(e, "const float *x0 = %s + ((nb * %lld + %s) * %lld + %s) * %s;", X, (long long)G.h, mul(e, "oh", G.sh),
              (long long)G.w, mul(e, "ow", G.sw), C);
    emit_line(e, "float r[%s];", C);
    emit_line(e, "for (size_t c = 0; c < %s; c++) r[c] = x0[c];", C);
    emit_open(e, "for (int t = 1; t < %lld; t++)", (long long)(G.kh * G.kw));
    emit_line(e, "const float *xp = x0 + (size_t)(t / %lld) * %lld + (size_t)(t %% %lld) * %s;", (long long)G.kw,
              (long long)(G.w * G.c), (long long)G.kw, C);
    if (max) emit_line(e, "for (size_t c = 0; c < %s; c++) r[c] = xp[c] > r[c] ? xp[c] : r[c];", C);
    else emit_line(e, "for (size_t c = 0; c < %s; c++) r[c] += xp[c];", C);
    emit_close(e);
    if (!max) emit_line(e, "for (size_t c = 0; c < %s; c++) r[c] /= (float)%lld;", C, (long long)(G.kh * G.kw));
    emit_line(e, "memcpy(%s + p * %s, r, sizeof r);", Y, C);
    emit_close(e);
    return;
  }
  emit_line(e, "float *yp = %s + p * %s;", Y, C);
  emit_line(e, "size_t cnt = 0;");
  emit_taps(e, &G);
  emit_line(e, "const float *xp = %s + xo;", X);
  if (max) emit_line(e, "for (size_t c = 0; c < %s; c++) yp[c] = (cnt == 0 || xp[c] > yp[c]) ? xp[c] : yp[c];", C);
  else emit_line(e, "for (size_t c = 0; c < %s; c++) yp[c] = cnt == 0 ? xp[c] : yp[c] + xp[c];", C);
  emit_line(e, "cnt++;");
  emit_close(e);
  emit_close(e);
  if (!max) emit_line(e, "for (size_t c = 0; c < %s; c++) yp[c] /= (float)cnt;", C);
  emit_close(e);
}

void maxpool2d_emit(Emit *e, Node *n) { emit_pool(e, n, true); }
void avgpool2d_emit(Emit *e, Node *n) { emit_pool(e, n, false); }

/* Windows that tile the input (stride = window, no padding): each dx element
 * is written once, dy at its window's first maximum and zero elsewhere, and
 * the rows and columns past the last window are zeroed. No memset, no
 * scatter, and the fused relu gradient costs one comparison. */
static void maxpool2d_grad_emit_tiled(Emit *e, Node *n, const Geom *G, bool relu) {
  const char *X = emit_ref(e, n->in[1]), *DY = emit_ref(e, n->in[0]), *DX = emit_ref(e, n->out[0]), *C = ll(e, G->c);
  int64_t taps = G->kh * G->kw, row = G->w * G->c;
  emit_line(e, "/* the windows tile the input: every dx element is written once */");
  emit_parallel(e, n, emit_numel_range(e, n->in[0], 0, 3));
  emit_out_pixels(e, G, emit_numel_range(e, n->in[0], 0, 3));
  emit_line(e, "const size_t xo = ((nb * %lld + oh * %lld) * %lld + ow * %lld) * %s;", (long long)G->h, (long long)G->kh,
            (long long)G->w, (long long)G->kw, C);
  emit_line(e, "const float *dp = %s + p * %s;", DY, C);
  emit_line(e, "float bv[%s];", C);
  emit_line(e, "int bt[%s]; /* the tap of the first maximum */", C);
  emit_line(e, "for (size_t c = 0; c < %s; c++) bv[c] = %s[xo + c], bt[c] = 0;", C, X);
  emit_open(e, "for (int t = 1; t < %lld; t++)", (long long)taps);
  emit_line(e, "const float *xp = %s + xo + (size_t)(t / %lld) * %lld + (size_t)(t %% %lld) * %s;", X, (long long)G->kw,
            (long long)row, (long long)G->kw, C);
  emit_open(e, "for (size_t c = 0; c < %s; c++)", C);
  emit_line(e, "const int gt = xp[c] > bv[c];");
  emit_line(e, "bt[c] = gt ? t : bt[c];");
  emit_line(e, "bv[c] = gt ? xp[c] : bv[c];");
  emit_close(e);
  emit_close(e);
  emit_open(e, "for (int t = 0; t < %lld; t++)", (long long)taps);
  emit_line(e, "float *dq = %s + xo + (size_t)(t / %lld) * %lld + (size_t)(t %% %lld) * %s;", DX, (long long)G->kw,
            (long long)row, (long long)G->kw, C);
  emit_line(e, "for (size_t c = 0; c < %s; c++) dq[c] = bt[c] == t%s ? dp[c] : 0.0f;", C, relu ? " && bv[c] > 0.0f" : "");
  emit_close(e);
  emit_close(e);
  int64_t hc = G->oh * G->kh, wc = G->ow * G->kw;
  if (hc == G->h && wc == G->w) return;
  emit_line(e, "/* rows and columns no window covers */");
  emit_open(e, "for (size_t r = 0; r < %s; r++)", emit_numel_range(e, n->out[0], 0, 2));
  if (hc < G->h)
    emit_line(e, "if (r %% %lld >= %lld) memset(%s + r * %lld, 0, sizeof(float) * %lld);", (long long)G->h, (long long)hc, DX,
              (long long)row, (long long)row);
  if (wc < G->w)
    emit_line(e, "%smemset(%s + r * %lld + %lld, 0, sizeof(float) * %lld);", hc < G->h ? "else " : "", DX, (long long)row,
              (long long)(wc * G->c), (long long)((G->w - wc) * G->c));
  emit_close(e);
}

/* dx = 0; per output pixel: find each channel's first maximum (index bi), then dx[bi] += dy. */
void maxpool2d_grad_emit(Emit *e, Node *n) {
  Value *dy = n->in[0], *x = n->in[1], *dx = n->out[0];
  Geom G;
  NN2C_ASSERT(!pool_geom(n, x->shape, &G));
  bool relu = conv_relu(n);
  if (G.sh == G.kh && G.sw == G.kw && !G.pt && !G.pl && !G.pb && !G.pr) {
    maxpool2d_grad_emit_tiled(e, n, &G, relu);
    return;
  }
  const char *X = emit_ref(e, x), *DY = emit_ref(e, dy), *DX = emit_ref(e, dx), *C = ll(e, G.c);
  emit_line(e, "memset(%s, 0, sizeof(float) * %s);", DX, emit_numel(e, dx));
  if (pool_disjoint(&G)) emit_parallel(e, n, emit_numel_range(e, dy, 0, 3)); /* windows do not overlap */
  emit_out_pixels(e, &G, emit_numel_range(e, dy, 0, 3));
  emit_line(e, "size_t bi[%s] = {0}, cnt = 0;", C);
  emit_line(e, "float bv[%s] = {0.0f};", C);
  emit_taps(e, &G);
  emit_line(e, "const float *xp = %s + xo;", X);
  emit_open(e, "for (size_t c = 0; c < %s; c++)", C);
  emit_line(e, "if (cnt == 0 || xp[c] > bv[c]) bv[c] = xp[c], bi[c] = xo + c;");
  emit_close(e);
  emit_line(e, "cnt++;");
  emit_close(e);
  emit_close(e);
  if (relu) emit_line(e, "for (size_t c = 0; c < %s; c++) %s[bi[c]] += bv[c] > 0.0f ? %s[p * %s + c] : 0.0f;", C, DX, DY, C);
  else emit_line(e, "for (size_t c = 0; c < %s; c++) %s[bi[c]] += %s[p * %s + c];", C, DX, DY, C);
  emit_close(e);
}

/* dx = 0; per output pixel: count its valid taps, then dx row += dy row / count at each. */
void avgpool2d_grad_emit(Emit *e, Node *n) {
  Value *dy = n->in[0], *dx = n->out[0];
  Geom G;
  NN2C_ASSERT(!pool_geom(n, dx->shape, &G));
  const char *DY = emit_ref(e, dy), *DX = emit_ref(e, dx), *C = ll(e, G.c);
  emit_line(e, "memset(%s, 0, sizeof(float) * %s);", DX, emit_numel(e, dx));
  if (pool_disjoint(&G)) emit_parallel(e, n, emit_numel_range(e, dy, 0, 3)); /* windows do not overlap */
  emit_out_pixels(e, &G, emit_numel_range(e, dy, 0, 3));
  emit_line(e, "const float *dp = %s + p * %s;", DY, C);
  emit_line(e, "size_t cnt = 0;");
  for (int pass = 0; pass < 2; pass++) {
    emit_taps(e, &G);
    if (pass == 0) emit_line(e, "(void)xo;");
    if (pass == 0) emit_line(e, "cnt++;");
    else emit_line(e, "for (size_t c = 0; c < %s; c++) %s[xo + c] += dp[c] / (float)cnt;", C, DX);
    emit_close(e);
    emit_close(e);
  }
  emit_close(e);
}
