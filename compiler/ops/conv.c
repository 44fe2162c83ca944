/* conv.c - 2-D convolution and pooling, with their gradient ops: the
 * geometry, the convolutions' hooks, their plan (conv_plan: which kernel, its
 * parameters, its scratch space) and the dispatch to the kernels, which live
 * in conv_direct.c, conv_wino.c and conv_blas.c; pooling is in pool.c.
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
#include "conv_impl.h"

#include <string.h>

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
const char *conv_geom_make(const Node *n, Shape x, int64_t kh, int64_t kw, int64_t f, bool pool, Geom *G) {
  memset(G, 0, sizeof *G);
  if (x.rank != 4) return "needs an NHWC input [N,H,W,C]";
  int64_t st[2], pd[4], dl[2], one[2] = {1, 1}, zero[4] = {0, 0, 0, 0}, win[2] = {kh, kw};
  if (!ints_attr(n, "strides", 2, pool ? win : one, st)) return "strides must be [sh, sw]";
  if (!ints_attr(n, "pads", 4, zero, pd)) return "pads must be [top, left, bottom, right]";
  if (!ints_attr(n, "dilations", 2, one, dl)) return "dilations must be [dh, dw]";
  if (pool && node_attr(n, "dilations")) return "pooling has no dilations";
  *G = (Geom){x.d[0], x.d[1], x.d[2], x.d[3], 0,     0,     f,     kh,    kw,
              st[0],  st[1],  dl[0],  dl[1],  pd[0], pd[1], pd[2], pd[3], pool ? 1 : node_int(n, "groups", 1),
              0,      0};
  if (kh < 1 || kw < 1 || G->sh < 1 || G->sw < 1 || G->dh < 1 || G->dw < 1)
    return "window, strides and dilations must be positive";
  for (int i = 0; i < 4; i++)
    if (pd[i] < 0) return "pads must not be negative";
  if (pool && (G->pt >= kh || G->pb >= kh || G->pl >= kw || G->pr >= kw))
    return "pooling pads must be smaller than the window";
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

const char *pool_geom(const Node *n, Shape x, Geom *G) {
  int64_t k[2];
  if (!node_attr(n, "kernel") || !ints_attr(n, "kernel", 2, k, k)) return "needs kernel=[kh, kw]";
  return conv_geom_make(n, x, k[0], k[1], x.rank == 4 ? x.d[3] : 0, true, G);
}

Shape conv_attr_shape4(const Node *n, const char *key, bool *ok) {
  const Attr *a = node_attr(n, key);
  *ok = a && a->type == AT_INTS && a->n == 4;
  return *ok ? shape_make(4, a->ints) : shape_scalar();
}

const char *conv_set_out(Graph *g, Node *n, const char *err, DType t, Shape s) {
  if (err) return arena_printf(&g->arena, "%s: %s", op_name(n->op), err);
  n->out[0]->dtype = t;
  n->out[0]->shape = s;
  return NULL;
}

/* ---- shape inference ---- */

const char *conv2d_infer(Graph *g, Node *n) {
  Value *x = n->in[0], *w = n->in[1];
  Geom G;
  if (!conv_is_float(x) || x->dtype != w->dtype) return "conv2d needs f32 (or f64) input and kernel";
  if (w->shape.rank != 4) return "conv2d needs an HWIO kernel [KH,KW,Cin/groups,Cout]";
  const char *err = conv_geom_make(n, x->shape, w->shape.d[0], w->shape.d[1], w->shape.d[3], false, &G);
  if (!err && w->shape.d[2] != G.cg)
    err = arena_printf(&g->arena, "kernel %s needs Cin/groups = %lld input channels", shape_str(&g->arena, w->shape),
                       (long long)G.cg);
  const char *act = node_string(n, "activation", NULL);
  if (!err && act && strcmp(act, "relu")) err = "the only fused activation is \"relu\"";
  if (!err && n->nin == 3 && (n->in[2]->shape.rank != 1 || n->in[2]->shape.d[0] != G.f || n->in[2]->dtype != x->dtype))
    err = "the bias must be a vector of Cout elements";
  return conv_set_out(g, n, err, x->dtype, conv_nhwc(G.n, G.oh, G.ow, G.f));
}

const char *conv2d_grad_input_infer(Graph *g, Node *n) {
  Value *dy = n->in[0], *w = n->in[1];
  bool ok;
  Shape xs = conv_attr_shape4(n, "input_shape", &ok);
  if (!ok || w->shape.rank != 4 || dy->shape.rank != 4)
    return "conv2d_grad_input needs input_shape=[N,H,W,C] and 4-D operands";
  xs.d[0] = dy->shape.d[0];
  Geom G;
  const char *err = conv_geom_make(n, xs, w->shape.d[0], w->shape.d[1], w->shape.d[3], false, &G);
  if (!err && !shape_eq(dy->shape, conv_nhwc(G.n, G.oh, G.ow, G.f))) err = "dy does not match the convolution's output";
  return conv_set_out(g, n, err, dy->dtype, xs);
}

const char *conv2d_grad_weight_infer(Graph *g, Node *n) {
  Value *x = n->in[0], *dy = n->in[1];
  bool ok;
  Shape ks = conv_attr_shape4(n, "kernel_shape", &ok);
  if (!ok) return "conv2d_grad_weight needs kernel_shape=[KH,KW,Cin/groups,Cout]";
  Geom G;
  const char *err = conv_geom_make(n, x->shape, ks.d[0], ks.d[1], ks.d[3], false, &G);
  if (!err && (ks.d[2] != G.cg || !shape_eq(dy->shape, conv_nhwc(G.n, G.oh, G.ow, G.f))))
    err = "kernel_shape or dy do not match the convolution";
  return conv_set_out(g, n, err, x->dtype, ks);
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
                if (part == PART_Y)
                  acc[yi] += tensor_get(a, xi) * tensor_get(b, wi);
                else if (part == PART_DX)
                  acc[xi] += tensor_get(a, yi) * tensor_get(b, wi);
                else
                  acc[wi] += tensor_get(a, xi) * tensor_get(b, yi);
              }
            }
        }
  for (int64_t i = 0; i < out->numel; i++)
    tensor_set(out, i, acc[i]);
  free(acc);
}

bool conv_relu(const Node *n) { return !strcmp(node_string(n, "activation", ""), "relu"); }

static Geom eval_geom(const Node *n, Shape x, Shape k) {
  Geom G;
  NN2C_ASSERT(!conv_geom_make(n, x, k.d[0], k.d[1], k.d[3], false, &G));
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

/* ---- gradients ---- */

Value *conv_grad_node(Graph *g, OpKind op, Node *fwd, Value *a, Value *b, const char *key, Shape s) {
  Value *in[2] = {a, b};
  Node *n = build_node(g, op, b ? 2 : 1, in);
  node_copy_attrs(g, n, fwd);
  node_set_ints(g, n, key, s.d, s.rank); /* DIM_BATCH is -1, as the text form writes N */
  return build_finish(g, n);
}

void conv2d_grad(Graph *g, Node *n, Value **dy, Value **dx) {
  Value *x = n->in[0], *w = n->in[1];
  if (conv_relu(n)) dy[0] = build2(g, OP_RELU_GRAD, dy[0], n->out[0]); /* through the fused activation */
  dx[0] = conv_grad_node(g, OP_CONV2D_GRAD_INPUT, n, dy[0], w, "input_shape", x->shape);
  dx[1] = conv_grad_node(g, OP_CONV2D_GRAD_WEIGHT, n, x, dy[0], "kernel_shape", w->shape);
  if (n->nin == 3) dx[2] = build_unbroadcast(g, dy[0], n->in[2]->shape); /* reduce_sum over N, OH, OW */
}

void conv_no_grad(Graph *g, Node *n, Value **dy, Value **dx) {
  (void)g, (void)n, (void)dy, (void)dx;
  NN2C_ASSERT(!"no second derivatives");
}
void conv2d_grad_input_grad(Graph *g, Node *n, Value **dy, Value **dx) { conv_no_grad(g, n, dy, dx); }
void conv2d_grad_weight_grad(Graph *g, Node *n, Value **dy, Value **dx) { conv_no_grad(g, n, dy, dx); }

/* ---- emission ----
 * All extents are constants except the batch B. Range checks on taps are
 * written only for the sides that have padding (a valid convolution has no
 * branches), so no comparison is always true or false. */

Geom conv_geom_emit(const Node *n, Shape x, int64_t kh, int64_t kw, int64_t f, bool pool) {
  Geom G;
  NN2C_ASSERT(!conv_geom_make(n, x, kh, kw, f, pool, &G));
  return G;
}

/* for (p over output pixels) { nb, oh, ow }; `rows` is N*OH*OW as C. */
void conv_emit_pixels(Emit *e, const Geom *G, const char *rows) {
  emit_open(e, "for (size_t p = 0; p < %s; p++)", rows);
  emit_line(e, "const size_t nb = p / %lld, oh = p / %lld %% %lld, ow = p %% %lld;", (long long)(G->oh * G->ow),
            (long long)G->ow, (long long)G->oh, (long long)G->ow);
}

/* Skips a padded row/column: i < lo (when there is padding before) or i >= hi (after). */
void conv_emit_range_check(Emit *e, const char *i, int64_t before, int64_t after, int64_t hi) {
  if (before && after)
    emit_line(e, "if (%s < %lld || %s >= %lld) continue;", i, (long long)before, i, (long long)hi);
  else if (before)
    emit_line(e, "if (%s < %lld) continue;", i, (long long)before);
  else if (after)
    emit_line(e, "if (%s >= %lld) continue;", i, (long long)hi);
}

/* The kh/kw loops over an output pixel's valid taps; xo is the input
 * pixel's offset in x. Closed by two emit_close. */
void conv_emit_taps(Emit *e, const Geom *G) {
  emit_open(e, "for (size_t kh = 0; kh < %lld; kh++)", (long long)G->kh);
  emit_line(e, "const size_t ih = %s + %s;%s", mul(e, "oh", G->sh), mul(e, "kh", G->dh),
            G->pt || G->pb ? " /* row in the padded input */" : "");
  conv_emit_range_check(e, "ih", G->pt, G->pb, G->h + G->pt);
  emit_open(e, "for (size_t kw = 0; kw < %lld; kw++)", (long long)G->kw);
  emit_line(e, "const size_t iw = %s + %s;", mul(e, "ow", G->sw), mul(e, "kw", G->dw));
  conv_emit_range_check(e, "iw", G->pl, G->pr, G->w + G->pl);
  emit_line(e, "const size_t xo = ((nb * %lld + %s) * %lld + %s) * %lld;", (long long)G->h, plus(e, "ih", -G->pt),
            (long long)G->w, plus(e, "iw", -G->pl), (long long)G->c);
}

/* acc[g*FG + co] (+)= x-row . w-block for one tap: the body of conv2d and, with
 * the roles of dy and dw, of conv2d_grad_weight. `dst` is the row updated. */
static int64_t conv_work(const Node *n) {
  bool conv = n->op == OP_CONV2D || n->op == OP_CONV2D_GRAD_INPUT || n->op == OP_CONV2D_GRAD_WEIGHT;
  Value *px = n->op == OP_CONV2D_GRAD_WEIGHT                                         ? n->in[1]
              : n->op == OP_CONV2D || n->op == OP_MAXPOOL2D || n->op == OP_AVGPOOL2D ? n->out[0]
                                                                                     : n->in[0];
  int64_t taps = 1;
  if (conv) {
    Shape k = n->op == OP_CONV2D_GRAD_WEIGHT ? n->out[0]->shape : n->in[1]->shape;
    taps = k.d[0] * k.d[1] * k.d[2];
  } else {
    const Attr *a = node_attr(n, "kernel");
    for (int i = 0; a && i < a->n; i++)
      taps *= a->ints[i];
  }
  return shape_numel(px->shape, 1) * taps;
}

/* The parallel-loop pragma, with the node's work: small work runs on the
 * calling thread (a parallel region costs more than it saves there). The
 * loop's `iters` iterations are handed out in chunks (NN2C_PARALLEL_FOR_DYN):
 * each writes its own outputs, so the result does not depend on who runs them. */
void conv_emit_parallel(Emit *e, Node *n, const char *iters) {
  Value *px = n->op == OP_CONV2D_GRAD_WEIGHT ? n->in[1] : n->in[0];
  if (shape_has_batch(px->shape))
    emit_line(e, "NN2C_PARALLEL_FOR_DYN(B * %lldu, %s)", (long long)conv_work(n), iters);
  else
    emit_line(e, "NN2C_PARALLEL_FOR_DYN(%lldu, %s)", (long long)conv_work(n), iters);
}

/* "lo <= v && v < hi" with only the sides that can fail, or NULL if none can. */
const char *conv_range_cond(Emit *e, const char *v, int64_t lo, int64_t hi, bool check_hi) {
  if (lo && check_hi) return arena_printf(&e->g->arena, "%s >= %lld && %s < %lld", v, (long long)lo, v, (long long)hi);
  if (lo) return arena_printf(&e->g->arena, "%s >= %lld", v, (long long)lo);
  if (check_hi) return arena_printf(&e->g->arena, "%s < %lld", v, (long long)hi);
  return NULL;
}

/* The register-blocked rank-1 update at the heart of the blocked kernels:
 * a<r> = (src_fmt with r for its %d) for r < rows, then acc[r][c] += a<r> *
 * row[c] for c < cb. Writing the rows out by hand keeps the accumulators in
 * vector registers. */
void conv_emit_rank1(Emit *e, int rows, const char *cb, const char *src_fmt, const char *row) {
  Buf b = {0};
  for (int r = 0; r < rows; r++) {
    buf_printf(&b, "%sa%d = ", r ? ", " : "", r);
    buf_printf(&b, src_fmt, r);
  }
  emit_line(e, "const float %s;", b.data);
  buf_free(&b);
  emit_open(e, "for (size_t v = 0; v < %s / NN2C_VW; v++)", cb);
  emit_line(e, "const nn2c_vf wv = nn2c_vload(%s + v * NN2C_VW);", row);
  for (int r = 0; r < rows; r++)
    emit_line(e, "acc[%d][v] += a%d * wv;", r, r);
  emit_close(e);
}

/* The C text of a channel block of cb columns as compiled: NN2C_CBW narrows it
 * where the vector registers cannot hold 8 rows of cb columns (simd.h). */
const char *conv_cbw(Emit *e, int cb) { return arena_printf(&e->g->arena, "NN2C_CBW(%d)", cb); }

/* acc[r][.] = src + r * stride (a vector load), for r < rows: cb columns each */
void conv_emit_acc_load(Emit *e, const char *rows, const char *cb, const char *src, const char *stride) {
  emit_line(e, "for (size_t r = 0; r < %s; r++)", rows);
  emit_line(e, "  for (size_t v = 0; v < %s / NN2C_VW; v++) acc[r][v] = nn2c_vload(%s + r * %s + v * NN2C_VW);", cb,
            src, stride);
}

/* The opposite: dst + r * stride = acc[r][.] (relu of it if asked). */
void conv_emit_acc_store(Emit *e, const char *rows, const char *cb, const char *dst, const char *stride, bool relu) {
  emit_line(e, "for (size_t r = 0; r < %s; r++)", rows);
  emit_line(e, "  for (size_t v = 0; v < %s / NN2C_VW; v++) nn2c_vstore(%s + r * %s + v * NN2C_VW, %s);", cb, dst,
            stride, relu ? "nn2c_vrelu(acc[r][v])" : "acc[r][v]");
}

/* ---- the plan: which kernel computes a convolution node ---- */

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

/* The smallest batch from which Winograd's forward convolution pays for its
 * kernel transform, made at every call: the transform costs about WG_KT
 * multiply-adds per transformed weight (16 per input x output channel pair,
 * written to and read back from the scratch space), and each sample saves
 * 9 x pixels - 16 x tiles multiply-adds per pair. Large images pay at batch 1,
 * deep layers over a few pixels (7x7x512) from a batch of 2 or more. At most
 * WG_MIN_BATCH, the threshold of the gradients. */
static int64_t wino_min_batch(const Geom *G) {
  int64_t saved = 9 * G->oh * G->ow - 16 * ((G->oh + 1) / 2) * ((G->ow + 1) / 2);
  int64_t b = saved > 0 ? (16 * WG_KT + saved - 1) / saved : WG_MIN_BATCH;
  return b < 1 ? 1 : b > WG_MIN_BATCH ? WG_MIN_BATCH : b;
}

/* The kernel of conv2d, conv2d_grad_input or conv2d_grad_weight node n, its
 * parameters, and the scratch space it needs (the largest of the native and
 * the OpenBLAS builds' needs, as the arena is the same for both). */
ConvPlan conv_plan(const Node *n) {
  bool gi = n->op == OP_CONV2D_GRAD_INPUT, gw = n->op == OP_CONV2D_GRAD_WEIGHT;
  NN2C_ASSERT(n->op == OP_CONV2D || gi || gw);
  Value *x = gi ? n->out[0] : n->in[0], *k = gw ? n->out[0] : n->in[1];
  ConvPlan p;
  memset(&p, 0, sizeof p);
  p.G = conv_geom_emit(n, x->shape, k->shape.d[0], k->shape.d[1], k->shape.d[3], false);
  const Geom *G = &p.G;
  int64_t dst = gi ? G->c : G->f; /* channels of the rows the kernels write */
  bool pad = G->pt || G->pl || G->pb || G->pr, blocked = G->groups == 1 && dst % CONV_CB == 0;
  /* conv2d over 8k > 16 channels: whole strips of 16, the last 8 in plain floats (emit_gather_strip) */
  if (!gi && !gw && G->groups == 1 && dst > CONV_CB && dst % 8 == 0 && G->c >= 4 && x->dtype == DT_F32) blocked = true;
  /* 1. the direct kernel */
  p.direct = blocked ? CK_BLOCKED : CK_NATIVE;
  if (!gi && !gw && G->groups > 1 && G->cg == 1 && G->fg == 1 && x->dtype == DT_F32) p.direct = CK_DEPTHWISE;
  if (gw && blocked && G->c < 4 && G->kw * G->c <= 16) p.direct = CK_PATCH;
  if (gi && blocked && !pad && 2 * G->oh * G->ow < G->h * G->w)
    p.direct = CK_SCATTER; /* most gathered rows would be zeros */
  p.in_place = !gi && !gw && G->c < 4 && !pad;
  p.patch = !gi && !gw && ((G->c < 4 && G->kh * G->kw * G->c <= 16) || p.in_place);
  p.cb = dst % (2 * CONV_CB) == 0 ? 2 * CONV_CB : CONV_CB; /* wider rows: each source element loaded serves more */
  p.rb = G->c % 8 == 0 ? 8 : G->c % 4 == 0 ? 4 : G->c % 2 == 0 ? 2 : 1;
  /* 2. Winograd instead, where it pays and the batch is large enough */
  bool f32 = x->dtype == DT_F32;
  bool pays = f32 && (gi ? wino_pays(G, G->h, G->w, G->f, G->c, G->oh * G->ow)
                         : wino_pays(G, G->oh, G->ow, G->c, G->f, G->oh * G->ow));
  int64_t nb = n->in[0]->shape.d[0]; /* x, or dy: the batch */
  p.wino_batch = gi || gw ? WG_MIN_BATCH : wino_min_batch(G);
  p.wino = !pays                ? WINO_NO
           : nb == DIM_BATCH    ? (p.wino_batch > 1 ? WINO_IF_BATCH : WINO_YES)
           : nb >= p.wino_batch ? WINO_YES
                                : WINO_NO;
  /* 3. the OpenBLAS build's GEMM; a microcontroller build (nn2c compile --target marks
        its nodes mcu=1) has none, and Winograd's scratch only where it was chosen */
  bool mcu = node_int(n, "mcu", 0) != 0;
  p.blas = f32 && G->groups == 1 && !mcu;
  p.blas_rows_x = G->kh == 1 && G->kw == 1 && G->sh == 1 && G->sw == 1 && !pad;
  int64_t kkc = G->kh * G->kw * G->c;
  p.blas_rows = 65536 / kkc < 64 ? 64 : 65536 / kkc;
  /* 4. scratch: W transposed (input gradient), the patch slices' sums, Winograd's u or m, im2col patches */
  int64_t s = gi ? shape_numel_static(n->in[1]->shape) * 4 : 0;
  if (p.direct == CK_PATCH) s = CONV_SLICES * shape_numel_static(n->out[0]->shape) * 4;
  int64_t ws = (gw ? WG_SLICES : 1) * 16 * G->c * G->f * 4;
  if (pays && ws > s && (!mcu || p.wino != WINO_NO)) s = ws;
  if (p.blas && !p.blas_rows_x && p.blas_rows * kkc * 4 > s) s = p.blas_rows * kkc * 4;
  p.scratch = s;
  return p;
}

/* The scratch hooks: what the node's plan chose (im2col patches, Winograd tiles, ...). */
int64_t conv2d_scratch(const Node *n) { return conv_plan(n).scratch; }
int64_t conv2d_grad_input_scratch(const Node *n) { return conv_plan(n).scratch; }
int64_t conv2d_grad_weight_scratch(const Node *n) { return conv_plan(n).scratch; }

/* ---- emission: the plan's kernels ----
 * The OpenBLAS form (if any) under #ifdef NN2C_USE_CBLAS, then the native
 * build's: Winograd, the direct kernel, or both under "if (B >= ...)" (the
 * kernel transform is made at every call, and below p.wino_batch samples it
 * costs more than it saves). */
typedef void (*ConvKernelFn)(Emit *e, Node *n, const ConvPlan *p);

static void conv_emit(Emit *e, Node *n, ConvKernelFn direct, ConvKernelFn wino) {
  ConvPlan p = conv_plan(n);
  if (p.blas) conv_emit_blas(e, n, &p);
  if (p.wino == WINO_IF_BATCH) emit_open(e, "if (B >= %lld)", (long long)p.wino_batch);
  if (p.wino != WINO_NO) wino(e, n, &p);
  if (p.wino == WINO_IF_BATCH) {
    emit_close(e);
    emit_open(e, "else");
  }
  if (p.wino != WINO_YES) direct(e, n, &p);
  if (p.wino == WINO_IF_BATCH) emit_close(e);
  if (p.blas) emit_line(e, "#endif");
}

static void conv2d_body(Emit *e, Node *n) { conv_emit(e, n, conv2d_emit_direct, conv2d_emit_wino); }
static void conv2d_grad_weight_body(Emit *e, Node *n) {
  conv_emit(e, n, conv2d_grad_weight_emit_direct, conv2d_grad_weight_emit_wino);
}
static void conv2d_grad_input_body(Emit *e, Node *n) {
  conv_emit(e, n, conv2d_grad_input_emit_direct, conv2d_grad_input_emit_wino);
}

/* The function's name: op and geometry, e.g. conv2d_3x3s1_28x28x1_f32_relu
 * (input H x W x C, F output channels; _p when padded, _d2 dilated, _g4
 * grouped, _wino for Winograd, _bias, _relu). */
static const char *conv_function_name(Emit *e, Node *n) {
  bool pool = n->op != OP_CONV2D && n->op != OP_CONV2D_GRAD_INPUT && n->op != OP_CONV2D_GRAD_WEIGHT;
  Geom G;
  bool wino = false;
  if (pool)
    NN2C_ASSERT(!pool_geom(n,
                           n->op == OP_AVGPOOL2D_GRAD   ? n->out[0]->shape
                           : n->op == OP_MAXPOOL2D_GRAD ? n->in[1]->shape
                                                        : n->in[0]->shape,
                           &G));
  else {
    ConvPlan p = conv_plan(n);
    G = p.G, wino = p.wino != WINO_NO;
  }
  Buf b = {0};
  buf_printf(&b, "%s_%lldx%llds%lld", op_name(n->op), (long long)G.kh, (long long)G.kw, (long long)G.sh);
  if (G.sw != G.sh) buf_printf(&b, "x%lld", (long long)G.sw);
  buf_printf(&b, "_%lldx%lldx%lld", (long long)G.h, (long long)G.w, (long long)G.c);
  if (!pool) buf_printf(&b, "_f%lld", (long long)G.f);
  if (G.pt || G.pl || G.pb || G.pr) buf_puts(&b, "_p");
  if (G.dh > 1 || G.dw > 1) buf_printf(&b, "_d%lld", (long long)(G.dh > G.dw ? G.dh : G.dw));
  if (G.groups > 1) buf_printf(&b, "_g%lld", (long long)G.groups);
  if (wino) buf_puts(&b, "_wino");
  if (n->op == OP_CONV2D && n->nin == 3) buf_puts(&b, "_bias");
  if (conv_relu(n)) buf_puts(&b, "_relu");
  const char *name = arena_strdup(&e->g->arena, b.data);
  buf_free(&b);
  return name;
}

/* The parameter names of the kernel functions, by op: inputs, then the output. */
static const char *const *conv_param_names(OpKind op) {
  static const char *const fwd[] = {"input", "weight", "bias", "output"}, *gi[] = {"dy", "weight", "dx"},
                           *gw[] = {"input", "dy", "dw"}, *pool[] = {"input", "output"}, *mg[] = {"dy", "input", "dx"},
                           *ag[] = {"dy", "dx"};
  return op == OP_CONV2D               ? fwd
         : op == OP_CONV2D_GRAD_INPUT  ? gi
         : op == OP_CONV2D_GRAD_WEIGHT ? gw
         : op == OP_MAXPOOL2D_GRAD     ? mg
         : op == OP_AVGPOOL2D_GRAD     ? ag
                                       : pool;
}

/* With OpenMP, the kernel `name` again as name_1t with its parallel loops
 * compiled as plain loops, for calls on one thread: entering a parallel
 * region whose if() clause is false still costs about a microsecond, which is
 * much of a small layer's time at batch 1. */
static void emit_serial_copy(Buf *out, const char *name, const char *text) {
  const char *open = strchr(text, '(');
  buf_puts(out, "#if defined(_OPENMP) /* one thread: the same loops without a parallel region */\n"
                "#undef NN2C_PRAGMA\n#define NN2C_PRAGMA(x)\n");
  buf_printf(out, "static NN2C_KERNEL void %s_1t%s", name, open);
  buf_puts(out, "#undef NN2C_PRAGMA\n#define NN2C_PRAGMA(x) _Pragma(#x)\n#endif\n\n");
}

/* Each kernel is a static function among e's helpers, named by op and
 * geometry (conv_function_name), written once per distinct body and called
 * from the step functions: (inputs, output, B, scratch, nt). Without a
 * helpers buffer the kernel is written in place. */
void conv_emit_function(Emit *e, Node *n, void (*body)(Emit *e, Node *n)) {
  if (!e->helpers) {
    body(e, n);
    return;
  }
  /* the node as the function sees it: its values renamed to the parameters */
  const char *const *names = conv_param_names(n->op);
  Value vals[4], *ins[3], *outs[1];
  Node c = *n;
  for (int i = 0; i <= n->nin; i++) {
    vals[i] = i < n->nin ? *n->in[i] : *n->out[0];
    const char *nm = n->op == OP_CONV2D && i == n->nin ? names[3] : names[i];
    vals[i].name = nm;
    if (i < n->nin)
      ins[i] = &vals[i];
    else
      outs[0] = &vals[i];
  }
  c.in = ins, c.out = outs;
  Buf text = {0}, fb = {0};
  Emit h = {&fb, e->g, 1, NULL, e->helpers, NULL, NULL}; /* a body may add helpers of its own (conv_wino.c) */
  body(&h, &c);
  int64_t scratch =
      n->op == OP_CONV2D || n->op == OP_CONV2D_GRAD_INPUT || n->op == OP_CONV2D_GRAD_WEIGHT ? conv_plan(n).scratch : 0;
  const char *base = conv_function_name(e, n), *name = base;
  for (int k = 2;; k++) {
    buf_free(&text);
    buf_printf(&text, "static NN2C_KERNEL void %s(", name);
    for (int i = 0; i < n->nin; i++)
      buf_printf(&text, "const float *%s, ", vals[i].name);
    buf_printf(&text, "float *%s, size_t B, unsigned char *scratch, int nt) {\n", vals[n->nin].name);
    buf_printf(&text, "  (void)B, (void)scratch, (void)nt;\n%s}\n", fb.data ? fb.data : "");
    if (e->helpers->data && strstr(e->helpers->data, text.data)) break; /* the same kernel: call it */
    const char *decl = arena_printf(&e->g->arena, "void %s(", name);
    if (!e->helpers->data || !strstr(e->helpers->data, decl)) { /* a new one */
      buf_printf(e->helpers, "/* %s:", op_name(n->op));
      for (int i = 0; i < n->nin; i++)
        buf_printf(e->helpers, "%s %s", i ? "," : "", shape_str(&e->g->arena, n->in[i]->shape));
      buf_printf(e->helpers, " -> %s */\n%s\n", shape_str(&e->g->arena, n->out[0]->shape), text.data);
      emit_serial_copy(e->helpers, name, text.data);
      break;
    }
    name = arena_printf(&e->g->arena, "%s_%d", base, k); /* the name is taken by another body */
  }
  Buf args = {0};
  for (int i = 0; i < n->nin; i++)
    buf_printf(&args, "%s, ", emit_ref(e, n->in[i]));
  buf_printf(&args, "%s, B, %s, nt", emit_ref(e, n->out[0]), scratch ? "scratch" : "NULL");
  emit_line(e, "#if defined(_OPENMP)");
  emit_line(e, "if (nt > 1) %s(%s);", name, args.data);
  emit_line(e, "else %s_1t(%s);", name, args.data);
  emit_line(e, "#else");
  emit_line(e, "%s(%s);", name, args.data);
  emit_line(e, "#endif");
  buf_free(&args);
  buf_free(&text);
  buf_free(&fb);
}

void conv2d_emit(Emit *e, Node *n) { conv_emit_function(e, n, conv2d_body); }
void conv2d_grad_weight_emit(Emit *e, Node *n) { conv_emit_function(e, n, conv2d_grad_weight_body); }
void conv2d_grad_input_emit(Emit *e, Node *n) { conv_emit_function(e, n, conv2d_grad_input_body); }
