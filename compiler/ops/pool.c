/* pool.c - max and average pooling (maxpool2d, avgpool2d) and their gradient
 * ops: shape inference, interpreter, gradient rules and emission. The window
 * is `kernel`, the stride defaults to it; the geometry is conv.c's (Geom).
 * See conv.c's top comment for the attributes and the ops' semantics. */
#include "conv_impl.h"

#include <string.h>

static const char *pool_infer(Graph *g, Node *n) {
  Geom G;
  const char *err = conv_is_float(n->in[0]) ? pool_geom(n, n->in[0]->shape, &G) : "needs an f32 or f64 input";
  return conv_set_out(g, n, err, n->in[0]->dtype, conv_nhwc(G.n, G.oh, G.ow, G.c));
}

const char *maxpool2d_infer(Graph *g, Node *n) { return pool_infer(g, n); }
const char *avgpool2d_infer(Graph *g, Node *n) { return pool_infer(g, n); }

/* maxpool2d_grad(dy, x) and avgpool2d_grad(dy) with input_shape: dx has x's shape. */
static const char *pool_grad_infer(Graph *g, Node *n, Shape xs) {
  Geom G;
  const char *err = pool_geom(n, xs, &G);
  if (!err && !shape_eq(n->in[0]->shape, conv_nhwc(G.n, G.oh, G.ow, G.c)))
    err = "dy does not match the pooling's output";
  return conv_set_out(g, n, err, n->in[0]->dtype, xs);
}

const char *maxpool2d_grad_infer(Graph *g, Node *n) {
  const char *act = node_string(n, "activation", NULL);
  if (act && strcmp(act, "relu")) return "maxpool2d_grad: the only fused activation is \"relu\"";
  return pool_grad_infer(g, n, n->in[1]->shape);
}

const char *avgpool2d_grad_infer(Graph *g, Node *n) {
  bool ok;
  Shape xs = conv_attr_shape4(n, "input_shape", &ok);
  if (!ok || n->in[0]->shape.rank != 4) return "avgpool2d_grad needs input_shape=[N,H,W,C]";
  xs.d[0] = n->in[0]->shape.d[0];
  return pool_grad_infer(g, n, xs);
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
                  if (pass == 0)
                    count++;
                  else
                    acc[xi] += tensor_get(dy, yi) / (double)count;
                  continue;
                }
                double v = part == POOL_AVG ? 0 : tensor_get(x, xi);
                if (best < 0 || v > bv) best = xi, bv = v;
                if (part == POOL_AVG) sum += tensor_get(x, xi), count++;
              }
          if (part == POOL_MAX)
            acc[yi] = bv;
          else if (part == POOL_MAX_GRAD)
            acc[best] += tensor_get(dy, yi);
          else if (part == POOL_AVG)
            acc[yi] = sum / (double)count;
        }
  for (int64_t i = 0; i < out->numel; i++)
    tensor_set(out, i, acc[i]);
  free(acc);
}

void maxpool2d_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx;
  pool_eval_part(n, POOL_MAX, in[0], NULL, out[0]);
}
void avgpool2d_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx;
  pool_eval_part(n, POOL_AVG, in[0], NULL, out[0]);
}
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

void maxpool2d_grad(Graph *g, Node *n, Value **dy, Value **dx) {
  Value *in[2] = {dy[0], n->in[0]};
  Node *m = build_node(g, OP_MAXPOOL2D_GRAD, 2, in);
  node_copy_attrs(g, m, n);
  dx[0] = build_finish(g, m);
}

void avgpool2d_grad(Graph *g, Node *n, Value **dy, Value **dx) {
  dx[0] = conv_grad_node(g, OP_AVGPOOL2D_GRAD, n, dy[0], NULL, "input_shape", n->in[0]->shape);
}

void maxpool2d_grad_grad(Graph *g, Node *n, Value **dy, Value **dx) { conv_no_grad(g, n, dy, dx); }
void avgpool2d_grad_grad(Graph *g, Node *n, Value **dy, Value **dx) { conv_no_grad(g, n, dy, dx); }

/* Pooling gradients scatter into dx; output pixels may run in parallel only
 * when no two windows share an input pixel. */
static bool pool_disjoint(const Geom *G) { return G->sh >= G->kh && G->sw >= G->kw; }

/* Per output pixel: y row = max (first tap copies) or mean over the valid taps. */
static void emit_pool(Emit *e, Node *n, bool max) {
  Value *x = n->in[0], *y = n->out[0];
  Geom G;
  NN2C_ASSERT(!pool_geom(n, x->shape, &G));
  const char *X = emit_ref(e, x), *Y = emit_ref(e, y), *C = ll(e, G.c);
  conv_emit_parallel(e, n, emit_numel_range(e, y, 0, 3));
  conv_emit_pixels(e, &G, emit_numel_range(e, y, 0, 3));
  if (!G.pt && !G.pl && !G.pb && !G.pr) { /* every tap valid: the window at fixed offsets, reduced in a local row */
    emit_line(e, "const float *x0 = %s + ((nb * %lld + %s) * %lld + %s) * %s;", X, (long long)G.h, mul(e, "oh", G.sh),
              (long long)G.w, mul(e, "ow", G.sw), C);
    emit_line(e, "float r[%s];", C);
    emit_line(e, "for (size_t c = 0; c < %s; c++) r[c] = x0[c];", C);
    emit_open(e, "for (int t = 1; t < %lld; t++)", (long long)(G.kh * G.kw));
    emit_line(e, "const float *xp = x0 + (size_t)(t / %lld) * %lld + (size_t)(t %% %lld) * %s;", (long long)G.kw,
              (long long)(G.w * G.c), (long long)G.kw, C);
    if (max)
      emit_line(e, "for (size_t c = 0; c < %s; c++) r[c] = xp[c] > r[c] ? xp[c] : r[c];", C);
    else
      emit_line(e, "for (size_t c = 0; c < %s; c++) r[c] += xp[c];", C);
    emit_close(e);
    if (!max) emit_line(e, "for (size_t c = 0; c < %s; c++) r[c] /= (float)%lld;", C, (long long)(G.kh * G.kw));
    emit_line(e, "memcpy(%s + p * %s, r, sizeof r);", Y, C);
    emit_close(e);
    return;
  }
  emit_line(e, "float *yp = %s + p * %s;", Y, C);
  emit_line(e, "size_t cnt = 0;");
  conv_emit_taps(e, &G);
  emit_line(e, "const float *xp = %s + xo;", X);
  if (max)
    emit_line(e, "for (size_t c = 0; c < %s; c++) yp[c] = (cnt == 0 || xp[c] > yp[c]) ? xp[c] : yp[c];", C);
  else
    emit_line(e, "for (size_t c = 0; c < %s; c++) yp[c] = cnt == 0 ? xp[c] : yp[c] + xp[c];", C);
  emit_line(e, "cnt++;");
  emit_close(e);
  emit_close(e);
  if (!max) emit_line(e, "for (size_t c = 0; c < %s; c++) yp[c] /= (float)cnt;", C);
  emit_close(e);
}

static void maxpool2d_body(Emit *e, Node *n) { emit_pool(e, n, true); }
static void avgpool2d_body(Emit *e, Node *n) { emit_pool(e, n, false); }
void maxpool2d_emit(Emit *e, Node *n) { conv_emit_function(e, n, maxpool2d_body); }
void avgpool2d_emit(Emit *e, Node *n) { conv_emit_function(e, n, avgpool2d_body); }

/* Windows that tile the input (stride = window, no padding): each dx element
 * is written once, dy at its window's first maximum and zero elsewhere, and
 * the rows and columns past the last window are zeroed. No memset, no
 * scatter, and the fused relu gradient costs one comparison. */
static void maxpool2d_grad_emit_tiled(Emit *e, Node *n, const Geom *G, bool relu) {
  const char *X = emit_ref(e, n->in[1]), *DY = emit_ref(e, n->in[0]), *DX = emit_ref(e, n->out[0]), *C = ll(e, G->c);
  int64_t taps = G->kh * G->kw, row = G->w * G->c;
  emit_line(e, "/* the windows tile the input: every dx element is written once */");
  conv_emit_parallel(e, n, emit_numel_range(e, n->in[0], 0, 3));
  conv_emit_pixels(e, G, emit_numel_range(e, n->in[0], 0, 3));
  emit_line(e, "const size_t xo = ((nb * %lld + oh * %lld) * %lld + ow * %lld) * %s;", (long long)G->h,
            (long long)G->kh, (long long)G->w, (long long)G->kw, C);
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
  emit_line(e, "for (size_t c = 0; c < %s; c++) dq[c] = bt[c] == t%s ? dp[c] : 0.0f;", C,
            relu ? " && bv[c] > 0.0f" : "");
  emit_close(e);
  emit_close(e);
  int64_t hc = G->oh * G->kh, wc = G->ow * G->kw;
  if (hc == G->h && wc == G->w) return;
  emit_line(e, "/* rows and columns no window covers */");
  emit_open(e, "for (size_t r = 0; r < %s; r++)", emit_numel_range(e, n->out[0], 0, 2));
  if (hc < G->h)
    emit_line(e, "if (r %% %lld >= %lld) memset(%s + r * %lld, 0, sizeof(float) * %lld);", (long long)G->h,
              (long long)hc, DX, (long long)row, (long long)row);
  if (wc < G->w)
    emit_line(e, "%smemset(%s + r * %lld + %lld, 0, sizeof(float) * %lld);", hc < G->h ? "else " : "", DX,
              (long long)row, (long long)(wc * G->c), (long long)((G->w - wc) * G->c));
  emit_close(e);
}

/* dx = 0; per output pixel: find each channel's first maximum (index bi), then dx[bi] += dy. */
static void maxpool2d_grad_body(Emit *e, Node *n) {
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
  if (pool_disjoint(&G)) conv_emit_parallel(e, n, emit_numel_range(e, dy, 0, 3)); /* windows do not overlap */
  conv_emit_pixels(e, &G, emit_numel_range(e, dy, 0, 3));
  emit_line(e, "size_t bi[%s] = {0}, cnt = 0;", C);
  emit_line(e, "float bv[%s] = {0.0f};", C);
  conv_emit_taps(e, &G);
  emit_line(e, "const float *xp = %s + xo;", X);
  emit_open(e, "for (size_t c = 0; c < %s; c++)", C);
  emit_line(e, "if (cnt == 0 || xp[c] > bv[c]) bv[c] = xp[c], bi[c] = xo + c;");
  emit_close(e);
  emit_line(e, "cnt++;");
  emit_close(e);
  emit_close(e);
  if (relu)
    emit_line(e, "for (size_t c = 0; c < %s; c++) %s[bi[c]] += bv[c] > 0.0f ? %s[p * %s + c] : 0.0f;", C, DX, DY, C);
  else
    emit_line(e, "for (size_t c = 0; c < %s; c++) %s[bi[c]] += %s[p * %s + c];", C, DX, DY, C);
  emit_close(e);
}

/* dx = 0; per output pixel: count its valid taps, then dx row += dy row / count at each. */
static void avgpool2d_grad_body(Emit *e, Node *n) {
  Value *dy = n->in[0], *dx = n->out[0];
  Geom G;
  NN2C_ASSERT(!pool_geom(n, dx->shape, &G));
  const char *DY = emit_ref(e, dy), *DX = emit_ref(e, dx), *C = ll(e, G.c);
  emit_line(e, "memset(%s, 0, sizeof(float) * %s);", DX, emit_numel(e, dx));
  if (pool_disjoint(&G)) conv_emit_parallel(e, n, emit_numel_range(e, dy, 0, 3)); /* windows do not overlap */
  conv_emit_pixels(e, &G, emit_numel_range(e, dy, 0, 3));
  emit_line(e, "const float *dp = %s + p * %s;", DY, C);
  emit_line(e, "size_t cnt = 0;");
  for (int pass = 0; pass < 2; pass++) {
    conv_emit_taps(e, &G);
    if (pass == 0) emit_line(e, "(void)xo;");
    if (pass == 0)
      emit_line(e, "cnt++;");
    else
      emit_line(e, "for (size_t c = 0; c < %s; c++) %s[xo + c] += dp[c] / (float)cnt;", C, DX);
    emit_close(e);
    emit_close(e);
  }
  emit_close(e);
}

void maxpool2d_grad_emit(Emit *e, Node *n) { conv_emit_function(e, n, maxpool2d_grad_body); }
void avgpool2d_grad_emit(Emit *e, Node *n) { conv_emit_function(e, n, avgpool2d_grad_body); }
