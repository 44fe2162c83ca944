/* conv_impl.h - what the convolution and pooling files share (not for other
 * ops): the geometry, the plan that picks a convolution's kernel, and the
 * emission helpers.
 *   conv.c         the op hooks (shape inference, interpreter, gradients), the
 *                  plan, the scratch size and the dispatch to the kernels
 *   conv_direct.c  the direct kernels: native loops, blocked (gather), patch,
 *                  scatter
 *   conv_wino.c    Winograd: forward, input gradient, weight gradient
 *   conv_blas.c    the NN2C_USE_CBLAS form: im2col and cblas_sgemm
 *   pool.c         max and average pooling and their gradients */
#ifndef NN2C_CONV_IMPL_H
#define NN2C_CONV_IMPL_H

#include "op.h"

/* The geometry shared by all hooks. */
typedef struct {
  int64_t n, h, w, c;     /* input [N,H,W,C]; n may be DIM_BATCH in emission */
  int64_t oh, ow, f;      /* output [N,OH,OW,F] (F = C for pooling) */
  int64_t kh, kw;         /* window */
  int64_t sh, sw, dh, dw; /* strides, dilations */
  int64_t pt, pl, pb, pr; /* pads: top, left, bottom, right */
  int64_t groups, cg, fg; /* groups; input and output channels per group */
} Geom;

/* Fills G for input shape x, window kh x kw and f output channels; an error message or NULL. */
const char *conv_geom_make(const Node *n, Shape x, int64_t kh, int64_t kw, int64_t f, bool pool, Geom *G);
Geom conv_geom_emit(const Node *n, Shape x, int64_t kh, int64_t kw, int64_t f, bool pool); /* asserts it is valid */
const char *pool_geom(const Node *n, Shape x, Geom *G);
bool conv_relu(const Node *n); /* activation="relu" */
Shape conv_attr_shape4(const Node *n, const char *key, bool *ok);
const char *conv_set_out(Graph *g, Node *n, const char *err, DType t, Shape s);
Value *conv_grad_node(Graph *g, OpKind op, Node *fwd, Value *a, Value *b, const char *key, Shape s);
void conv_no_grad(Graph *g, Node *n, Value **dy, Value **dx);
static inline Shape conv_nhwc(int64_t n, int64_t h, int64_t w, int64_t c) {
  return shape_make(4, (int64_t[]){n, h, w, c});
}
static inline bool conv_is_float(const Value *v) { return v->dtype == DT_F32 || v->dtype == DT_F64; }

/* ---- the plan ----
 * One function decides how a convolution node (conv2d, conv2d_grad_input,
 * conv2d_grad_weight) is computed; the scratch size and the emitters both
 * read its answer. */
#define CONV_PB 8      /* destination pixels per block (blocked kernels) */
#define CONV_CB 16     /* channels per accumulator row (twice that where they divide) */
#define CONV_PARTS 4   /* blocked weight gradient: parts per thread */
#define CONV_SLICES 8  /* patch weight gradient: slices of the images */
#define WG_T 8         /* Winograd: tiles per block */
#define WG_SLICES 8    /* Winograd weight gradient: slices of the tiles */
#define WG_MIN_BATCH 8 /* Winograd gradients: smallest batch that pays for the kernel transform */
#define WG_KT 12       /* Winograd: multiply-adds a transformed weight costs (conv.c, wino_min_batch) */

typedef enum {
  CK_NATIVE,   /* plain loops: any groups, any channel counts */
  CK_BLOCKED,  /* register-blocked gather GEMM (groups 1, destination channels a multiple of 16) */
  CK_PATCH,    /* the weight gradient over few input channels: patch rows, slices of the images */
  CK_SCATTER,  /* the input gradient scattered from dy rows (no padding, small outputs) */
  CK_DEPTHWISE /* conv2d with one input and one output channel a group (f32) */
} ConvKernel;

typedef enum {
  WINO_NO,
  WINO_YES,     /* always (a fixed batch of at least WG_MIN_BATCH) */
  WINO_IF_BATCH /* when B >= wino_batch; the direct kernel otherwise */
} ConvWino;

typedef struct {
  Geom G;
  ConvKernel direct;  /* the direct kernel of the native build */
  ConvWino wino;      /* Winograd F(2x2,3x3) (F(3x3,2x2) for the weight gradient) instead */
  int64_t wino_batch; /* ... from this batch on */
  bool patch;         /* conv2d blocked: few input channels, one patch row per pixel */
  bool in_place;      /* ... read in place from x (no padding) */
  int cb;             /* destination channels per accumulator row: 16 or 32 */
  int64_t rb;         /* weight gradients: input channels per register block */
  bool blas;          /* an #ifdef NN2C_USE_CBLAS form (f32, groups 1) */
  bool blas_rows_x;   /* ... over x's rows as they are (1x1, stride 1, no padding) */
  int64_t blas_rows;  /* ... pixels per GEMM */
  int64_t scratch;    /* bytes of the step's scratch space the node needs */
} ConvPlan;

ConvPlan conv_plan(const Node *n);

/* The kernels (conv_direct.c, conv_wino.c, conv_blas.c). */
void conv2d_emit_direct(Emit *e, Node *n, const ConvPlan *p);
void conv2d_grad_weight_emit_direct(Emit *e, Node *n, const ConvPlan *p);
void conv2d_grad_input_emit_direct(Emit *e, Node *n, const ConvPlan *p);
void conv2d_emit_wino(Emit *e, Node *n, const ConvPlan *p);
void conv2d_grad_input_emit_wino(Emit *e, Node *n, const ConvPlan *p);
void conv2d_grad_weight_emit_wino(Emit *e, Node *n, const ConvPlan *p);
void conv_emit_blas(Emit *e, Node *n, const ConvPlan *p);

/* ---- emission helpers (conv.c) ---- */
/* body(e, n) as a static function among e's helpers, and a call to it. */
void conv_emit_function(Emit *e, Node *n, void (*body)(Emit *e, Node *n));
static inline const char *ll(Emit *e, int64_t v) { return arena_printf(&e->g->arena, "%lld", (long long)v); }
/* "v * k", "v + k" and "v - k" without the no-op cases, so the code reads as written by hand. */
static inline const char *mul(Emit *e, const char *v, int64_t k) {
  return k == 1 ? v : arena_printf(&e->g->arena, "%s * %lld", v, (long long)k);
}
static inline const char *plus(Emit *e, const char *v, int64_t k) {
  return k == 0 ? v : arena_printf(&e->g->arena, "%s %c %lld", v, k < 0 ? '-' : '+', (long long)(k < 0 ? -k : k));
}
void conv_emit_pixels(Emit *e, const Geom *G, const char *rows);
void conv_emit_range_check(Emit *e, const char *i, int64_t before, int64_t after, int64_t hi);
void conv_emit_taps(Emit *e, const Geom *G);
void conv_emit_parallel(Emit *e, Node *n, const char *iters);
const char *conv_range_cond(Emit *e, const char *v, int64_t lo, int64_t hi, bool check_hi);
const char *conv_cbw(Emit *e, int cb);
void conv_emit_rank1(Emit *e, int rows, const char *cb, const char *src_fmt, const char *row);
void conv_emit_acc_load(Emit *e, const char *rows, const char *cb, const char *src, const char *stride);
void conv_emit_acc_store(Emit *e, const char *rows, const char *cb, const char *dst, const char *stride, bool relu);

#endif
