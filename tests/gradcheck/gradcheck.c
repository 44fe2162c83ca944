/* gradcheck.c - checks every op's gradient rule against central differences.
 *
 * Each case builds a tiny f64 graph with the op under test, fed by params
 * (whose gradients autodiff computes) and inputs (fixed data), and the loss
 *   loss = reduce_sum(mul(y, W), keepdims=0)
 * with W fixed random weights, so d loss / d y = W exercises every output
 * element with a different weight. The pipeline "shape,autodiff" adds the
 * backward graph; the interpreter evaluates loss and gradients; each gradient
 * element is compared with (loss(p + h) - loss(p - h)) / 2h.
 *
 *   gradcheck FAMILY     runs the cases of one family (see `families` below)
 *   gradcheck coverage   fails if an op with a gradient rule has no case
 *   gradcheck            runs everything
 *
 * Inputs are drawn away from kinks (relu at 0, clip at its bounds) and from
 * the edges of domains (log, sqrt, pow's base, div's divisor). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "interp/interp.h"
#include "rnn.h"

#define H 1e-6
#define RTOL 1e-6
#define ATOL 1e-8
#define BATCH 3 /* value of N in cases with a batch dimension */
#define MAXP 8

/* ---- deterministic random numbers ---- */

static uint64_t rng_state = 0x2545F4914F6CDD1DULL;

static double urand(void) { /* [0,1) */
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (double)(rng_state >> 11) / 9007199254740992.0;
}

/* Value ranges for generated data. */
typedef enum {
  R_ANY,     /* [-1.5, 1.5] */
  R_POS,     /* [0.5, 2] */
  R_AWAY0,   /* +-[0.1, 1.5]: away from 0 */
  R_CLIP,    /* +-[0.1, 0.4] or +-[0.6, 1.2]: away from 0 and +-0.5 */
  R_UNIT,    /* +-[0.1, 0.8]: inside (-1, 1) */
  R_GT1,     /* [1.2, 2.5] */
  R_WIDE     /* +-[0.1, 4] */
} Range;

static double draw(Range r) {
  double s = urand() < 0.5 ? -1 : 1;
  switch (r) {
  case R_ANY: return -1.5 + 3 * urand();
  case R_POS: return 0.5 + 1.5 * urand();
  case R_AWAY0: return s * (0.1 + 1.4 * urand());
  case R_CLIP: return s * (urand() < 0.5 ? 0.1 + 0.3 * urand() : 0.6 + 0.6 * urand());
  case R_UNIT: return s * (0.1 + 0.7 * urand());
  case R_GT1: return 1.2 + 1.3 * urand();
  case R_WIDE: return s * (0.1 + 3.9 * urand());
  }
  return 0;
}

/* ---- a case under construction ---- */

typedef struct {
  Graph *g;
  Value *param[MAXP];
  double *pdata[MAXP];
  int nparam;
  Feed feeds[MAXP];
  int nfeeds;
  int nforward;   /* nodes that belong to the op under test (before the loss) */
  uint64_t step;  /* EvalCtx step (seeds dropout) */
  Value *y;       /* the op's output the loss weighs */
  Value *mask;    /* dropout cases: the mask output */
  double *w;      /* the loss weights, y's shape at BATCH */
  const char *passes; /* the pipeline, when not "shape,autodiff" */
} Case;

static Shape shp(int rank, const int64_t *d) { return shape_make(rank, d); }
#define S(...) shp((int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__})
#define S0 shape_scalar()

static Value *param(Case *c, Shape s, Range r) {
  NN2C_ASSERT(c->nparam < MAXP);
  Value *v = value_new(c->g, "p", VK_PARAM, DT_F64, s);
  int64_t n = shape_numel_static(s);
  double *d = xcalloc((size_t)n, sizeof(double));
  for (int64_t i = 0; i < n; i++) d[i] = draw(r);
  c->param[c->nparam] = v;
  c->pdata[c->nparam++] = d;
  return v;
}

static void *feed(Case *c, Value *v, size_t elem) {
  NN2C_ASSERT(c->nfeeds < MAXP);
  void *d = xcalloc((size_t)shape_numel(v->shape, BATCH) + 1, elem);
  c->feeds[c->nfeeds++] = (Feed){v->name, d};
  return d;
}

static Value *input(Case *c, Shape s, Range r) {
  Value *v = value_new(c->g, "x", VK_INPUT, DT_F64, s);
  double *d = feed(c, v, sizeof(double));
  for (int64_t i = 0; i < shape_numel(s, BATCH); i++) d[i] = draw(r);
  return v;
}

static Value *with_attrs(Case *c, OpKind op, int nin, Value **in, const char *key, int64_t v1, const char *key2,
                         int64_t v2) {
  Node *n = build_node(c->g, op, nin, in);
  if (key) node_set_int(c->g, n, key, v1);
  if (key2) node_set_int(c->g, n, key2, v2);
  return build_finish(c->g, n);
}

static Value *reduce(Case *c, OpKind op, Value *x, int naxes, const int64_t *axes, int keep) {
  Node *n = build_node(c->g, op, 1, &x);
  if (naxes) node_set_ints(c->g, n, "axes", axes, naxes);
  if (keep >= 0) node_set_int(c->g, n, "keepdims", keep);
  return build_finish(c->g, n);
}

static Value *shape_op(Case *c, OpKind op, Value *x, Shape s) {
  Node *n = build_node(c->g, op, 1, &x);
  node_set_ints(c->g, n, "shape", s.d, s.rank);
  return build_finish(c->g, n);
}

/* ---- the cases ---- */

typedef void (*BuildFn)(Case *c);
typedef struct {
  const char *family, *name;
  BuildFn build;
} CaseDef;

static const OpKind unary_ops[] = {OP_NEG, OP_EXP, OP_LOG, OP_SQRT, OP_RELU, OP_SIGMOID, OP_TANH};
static const Range unary_range[] = {R_ANY, R_ANY, R_POS, R_POS, R_AWAY0, R_ANY, R_ANY};
static int cur_op; /* index used by the table-driven builders below */

static void b_unary(Case *c) { c->y = build1(c->g, unary_ops[cur_op], param(c, S(2, 3), unary_range[cur_op])); }
static void b_unary_scalar(Case *c) { c->y = build1(c->g, unary_ops[cur_op], param(c, S0, unary_range[cur_op])); }

static void b_clip_both(Case *c) {
  Value *x = param(c, S(2, 4), R_CLIP);
  Node *n = build_node(c->g, OP_CLIP, 1, &x);
  node_set_float(c->g, n, "min", -0.5);
  node_set_float(c->g, n, "max", 0.5);
  c->y = build_finish(c->g, n);
}
static void b_clip_min(Case *c) {
  Value *x = param(c, S(2, 4), R_CLIP);
  Node *n = build_node(c->g, OP_CLIP, 1, &x);
  node_set_float(c->g, n, "min", 0.5);
  c->y = build_finish(c->g, n);
}

static const OpKind binary_ops[] = {OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_POW};
/* a's and b's ranges per op: div needs b away from 0, pow a positive base */
static const Range bin_ra[] = {R_ANY, R_ANY, R_ANY, R_ANY, R_POS};
static const Range bin_rb[] = {R_ANY, R_ANY, R_ANY, R_AWAY0, R_ANY};
static int cur_bin;

static void bin(Case *c, Shape a, Shape b) {
  c->y = build2(c->g, binary_ops[cur_bin], param(c, a, bin_ra[cur_bin]), param(c, b, bin_rb[cur_bin]));
}
static void b_same(Case *c) { bin(c, S(2, 3), S(2, 3)); }
static void b_row(Case *c) { bin(c, S(2, 3), S(3)); }
static void b_col(Case *c) { bin(c, S(2, 3), S(2, 1)); }
static void b_scalar(Case *c) { bin(c, S(2, 3), S0); }
static void b_row_left(Case *c) { bin(c, S(3), S(2, 3)); }
static void b_outer(Case *c) { bin(c, S(2, 1), S(1, 3)); }
/* [N,3] (input times a param, so it has a gradient) with a [3] param */
static void b_batch(Case *c) {
  Value *x = build2(c->g, OP_MUL, input(c, S(DIM_BATCH, 3), R_POS), param(c, S(3), R_POS));
  Value *b = param(c, S(3), bin_rb[cur_bin]);
  c->y = build2(c->g, binary_ops[cur_bin], x, b);
}

static void mm(Case *c, int ta, int tb) {
  int64_t m = 2, k = 3, n = 2;
  Value *a = param(c, ta ? S(k, m) : S(m, k), R_ANY), *b = param(c, tb ? S(n, k) : S(k, n), R_ANY);
  c->y = with_attrs(c, OP_MATMUL, 2, (Value *[]){a, b}, "transa", ta, "transb", tb);
}
static void b_mm00(Case *c) { mm(c, 0, 0); }
static void b_mm01(Case *c) { mm(c, 0, 1); }
static void b_mm10(Case *c) { mm(c, 1, 0); }
static void b_mm11(Case *c) { mm(c, 1, 1); }
static void b_mm_noattr(Case *c) { c->y = build2(c->g, OP_MATMUL, param(c, S(1, 4), R_ANY), param(c, S(4, 2), R_ANY)); }
/* [N,3] x [3,2]: the weight gradient sums over the batch */
static void b_mm_batch(Case *c) {
  Value *x = build2(c->g, OP_MUL, input(c, S(DIM_BATCH, 3), R_ANY), param(c, S(3), R_ANY));
  c->y = build2(c->g, OP_MATMUL, x, param(c, S(3, 2), R_ANY));
}

static OpKind red_op;
static void b_red_all(Case *c) { c->y = reduce(c, red_op, param(c, S(2, 3), R_ANY), 0, NULL, 0); }
static void b_red_all_keep(Case *c) { c->y = reduce(c, red_op, param(c, S(2, 3), R_ANY), 0, NULL, 1); }
static void b_red_ax1(Case *c) { c->y = reduce(c, red_op, param(c, S(2, 3), R_ANY), 1, (int64_t[]){1}, 0); }
static void b_red_ax0_keep(Case *c) { c->y = reduce(c, red_op, param(c, S(2, 3), R_ANY), 1, (int64_t[]){0}, 1); }
static void b_red_neg(Case *c) { c->y = reduce(c, red_op, param(c, S(2, 2, 2), R_ANY), 1, (int64_t[]){-1}, -1); }
static void b_red_02(Case *c) { c->y = reduce(c, red_op, param(c, S(2, 2, 2), R_ANY), 2, (int64_t[]){0, 2}, 0); }
static void b_red_12_keep(Case *c) { c->y = reduce(c, red_op, param(c, S(2, 2, 2), R_ANY), 2, (int64_t[]){1, 2}, 1); }
/* the batch axis: the count of reduce_mean depends on N */
static Value *batch_x(Case *c) { return build2(c->g, OP_MUL, input(c, S(DIM_BATCH, 3), R_ANY), param(c, S(3), R_ANY)); }
static void b_red_batch(Case *c) { c->y = reduce(c, red_op, batch_x(c), 1, (int64_t[]){0}, 0); }
static void b_red_batch_keep(Case *c) { c->y = reduce(c, red_op, batch_x(c), 1, (int64_t[]){0}, 1); }
static void b_red_batch_all(Case *c) { c->y = reduce(c, red_op, batch_x(c), 0, NULL, 0); }
static void b_red_batch_ax1(Case *c) { c->y = reduce(c, red_op, batch_x(c), 1, (int64_t[]){1}, 1); }

static void b_expand_row(Case *c) { c->y = shape_op(c, OP_EXPAND, param(c, S(3), R_ANY), S(2, 3)); }
static void b_expand_col(Case *c) { c->y = shape_op(c, OP_EXPAND, param(c, S(2, 1), R_ANY), S(2, 3)); }
static void b_expand_scalar(Case *c) { c->y = shape_op(c, OP_EXPAND, param(c, S0, R_ANY), S(2, 2)); }
static void b_expand_rank3(Case *c) { c->y = shape_op(c, OP_EXPAND, param(c, S(2, 1), R_ANY), S(2, 2, 2)); }
static void b_expand_batch(Case *c) { c->y = shape_op(c, OP_EXPAND, param(c, S(3), R_ANY), S(DIM_BATCH, 3)); }
static void b_reshape_t(Case *c) { c->y = shape_op(c, OP_RESHAPE, param(c, S(2, 3), R_ANY), S(3, 2)); }
static void b_reshape_flat(Case *c) { c->y = shape_op(c, OP_RESHAPE, param(c, S(2, 3), R_ANY), S(6)); }
static void b_reshape_3(Case *c) { c->y = shape_op(c, OP_RESHAPE, param(c, S(2, 2, 2), R_ANY), S(4, 2)); }
static void b_reshape_batch(Case *c) { c->y = shape_op(c, OP_RESHAPE, batch_x(c), S(DIM_BATCH, 3, 1)); }

static void b_softmax(Case *c) { c->y = build1(c->g, OP_SOFTMAX, param(c, S(2, 4), R_ANY)); }
static void b_softmax3(Case *c) { c->y = build1(c->g, OP_SOFTMAX, param(c, S(2, 1, 3), R_ANY)); }
static void b_log_softmax(Case *c) { c->y = build1(c->g, OP_LOG_SOFTMAX, param(c, S(2, 4), R_ANY)); }
static void b_log_softmax_batch(Case *c) {
  Value *x = build2(c->g, OP_MUL, input(c, S(DIM_BATCH, 3), R_ANY), param(c, S(3), R_ANY));
  c->y = with_attrs(c, OP_LOG_SOFTMAX, 1, &x, "axis", 1, NULL, 0);
}

static void dropout(Case *c, double rate, uint64_t step) {
  Value *x = param(c, S(2, 4), R_ANY);
  Node *n = build_node(c->g, OP_DROPOUT, 1, &x);
  node_set_float(c->g, n, "rate", rate);
  node_set_int(c->g, n, "seed", 7);
  c->y = build_finish(c->g, n);
  c->mask = n->out[1];
  c->step = step;
}
static void b_dropout(Case *c) { dropout(c, 0.5, 3); }
static void b_dropout_other_step(Case *c) { dropout(c, 0.25, 15); }

static void nll(Case *c, Value *lp) {
  Value *lab = value_new(c->g, "labels", VK_INPUT, DT_I32, S(lp->shape.d[0]));
  int32_t *l = feed(c, lab, sizeof(int32_t));
  int64_t rows = lp->shape.d[0] == DIM_BATCH ? BATCH : lp->shape.d[0];
  for (int64_t i = 0; i < rows; i++) l[i] = (int32_t)((i * 3 + 1) % lp->shape.d[1]);
  c->y = build2(c->g, OP_NLL, lp, lab);
}
static void b_nll(Case *c) { nll(c, param(c, S(2, 4), R_ANY)); }
static void b_nll_log_softmax(Case *c) {
  Value *x = build2(c->g, OP_MUL, input(c, S(DIM_BATCH, 3), R_ANY), param(c, S(3), R_ANY));
  nll(c, build1(c->g, OP_LOG_SOFTMAX, x));
}

/* Fan-out: values read by several nodes get the sum of their gradients. */
static void b_fanout_param(Case *c) {
  Value *p = param(c, S(2, 3), R_POS);
  c->y = build2(c->g, OP_ADD, build2(c->g, OP_MUL, p, p), build1(c->g, OP_LOG, p));
}
static void b_fanout_temp(Case *c) {
  Value *t = build1(c->g, OP_TANH, param(c, S(2, 3), R_ANY));
  Value *b = param(c, S(3), R_ANY);
  c->y = build2(c->g, OP_SUB, build2(c->g, OP_MUL, t, build1(c->g, OP_SIGMOID, t)), build2(c->g, OP_ADD, t, b));
}
/* a two-layer net: matmul, add with broadcast bias, relu, softmax */
static void b_fanout_mlp(Case *c) {
  Value *x = input(c, S(DIM_BATCH, 2), R_ANY);
  Value *h = build2(c->g, OP_ADD, build2(c->g, OP_MATMUL, x, param(c, S(2, 3), R_ANY)), param(c, S(3), R_ANY));
  h = build1(c->g, OP_TANH, h);
  Value *z1 = build2(c->g, OP_MATMUL, h, param(c, S(3, 2), R_ANY));
  Value *z2 = build2(c->g, OP_MATMUL, h, param(c, S(3, 2), R_ANY));
  c->y = build1(c->g, OP_SOFTMAX, build2(c->g, OP_ADD, z1, z2));
}

static Value *leaky(Case *c, Value *x, double alpha) {
  Node *n = build_node(c->g, OP_LEAKY_RELU, 1, &x);
  if (alpha >= 0) node_set_float(c->g, n, "alpha", alpha);
  return build_finish(c->g, n);
}
static void b_leaky_default(Case *c) { c->y = leaky(c, param(c, S(2, 3), R_AWAY0), -1); }
static void b_leaky_alpha(Case *c) {
  c->y = leaky(c, build2(c->g, OP_MUL, input(c, S(DIM_BATCH, 2), R_AWAY0), param(c, S(2), R_POS)), 0.1);
}

static Value *concat_axis(Case *c, int n, Value **in, int axis) {
  Node *k = build_node(c->g, OP_CONCAT, n, in);
  node_set_int(c->g, k, "axis", axis);
  return build_finish(c->g, k);
}
static void b_concat_last(Case *c) {
  c->y = concat_axis(c, 3, (Value *[]){param(c, S(2, 1), R_ANY), param(c, S(2, 3), R_ANY), param(c, S(2, 2), R_ANY)}, 1);
}
static void b_concat_first(Case *c) {
  c->y = concat_axis(c, 2, (Value *[]){param(c, S(1, 2, 2), R_ANY), param(c, S(2, 2, 2), R_ANY)}, 0);
}
static void b_concat_mid_batch(Case *c) {
  Value *a = build2(c->g, OP_MUL, input(c, S(DIM_BATCH, 2, 2), R_ANY), param(c, S(2, 2), R_ANY));
  Value *b = build2(c->g, OP_ADD, a, param(c, S(2), R_ANY)); /* a read twice: fan-out through concat */
  c->y = concat_axis(c, 2, (Value *[]){a, b}, 1);
}
static Value *slice_of(Case *c, Value *x, int axis, int64_t start, int64_t end) {
  Node *k = build_node(c->g, OP_SLICE, 1, &x);
  node_set_int(c->g, k, "axis", axis);
  node_set_int(c->g, k, "start", start);
  node_set_int(c->g, k, "end", end);
  return build_finish(c->g, k);
}
static void b_slice_middle(Case *c) { c->y = slice_of(c, param(c, S(2, 4), R_ANY), 1, 1, 3); }
static void b_slice_head(Case *c) { c->y = slice_of(c, param(c, S(3, 2), R_ANY), 0, 0, 2); }
static void b_slice_tail_batch(Case *c) {
  c->y = slice_of(c, build2(c->g, OP_MUL, input(c, S(DIM_BATCH, 4), R_ANY), param(c, S(4), R_ANY)), -1, 2, 4);
}

/* conv.c: NHWC activations, HWIO kernels. x is a param so dx is checked too. */
typedef struct {
  int64_t strides[2], pads[4], dil[2], groups;
} ConvAttrs;

static Value *conv(Case *c, Value *x, Value *w, Value *b, ConvAttrs a) {
  Node *n = build_node(c->g, OP_CONV2D, b ? 3 : 2, (Value *[]){x, w, b});
  if (a.strides[0]) node_set_ints(c->g, n, "strides", a.strides, 2);
  if (a.pads[0] >= 0) node_set_ints(c->g, n, "pads", a.pads, 4);
  if (a.dil[0]) node_set_ints(c->g, n, "dilations", a.dil, 2);
  if (a.groups) node_set_int(c->g, n, "groups", a.groups);
  return build_finish(c->g, n);
}
#define NOPADS {-1, 0, 0, 0}
static void b_conv_valid(Case *c) {
  c->y = conv(c, param(c, S(2, 5, 5, 3), R_ANY), param(c, S(3, 3, 3, 2), R_ANY), NULL, (ConvAttrs){{0}, NOPADS, {0}, 0});
}
static void b_conv_stride2_bias(Case *c) {
  c->y = conv(c, param(c, S(1, 6, 5, 2), R_ANY), param(c, S(3, 2, 2, 3), R_ANY), param(c, S(3), R_ANY),
              (ConvAttrs){{2, 2}, NOPADS, {0}, 0});
}
static void b_conv_same(Case *c) {
  c->y = conv(c, param(c, S(1, 4, 5, 2), R_ANY), param(c, S(3, 3, 2, 2), R_ANY), param(c, S(2), R_ANY),
              (ConvAttrs){{1, 1}, {1, 1, 1, 1}, {1, 1}, 1});
}
/* Keras `same` with stride 2 on even sizes: the odd pixel goes bottom/right */
static void b_conv_same_stride2_asym(Case *c) {
  int64_t p[4];
  conv_same_pads(6, 3, 2, 1, &p[0], &p[2]);
  conv_same_pads(4, 2, 2, 1, &p[1], &p[3]);
  NN2C_ASSERT(p[0] == 0 && p[2] == 1 && p[1] == 0 && p[3] == 0);
  p[1] = 2, p[3] = 1; /* and an explicit uneven pair */
  c->y = conv(c, param(c, S(1, 6, 4, 2), R_ANY), param(c, S(3, 2, 2, 2), R_ANY), NULL, (ConvAttrs){{2, 2}, {p[0], p[1], p[2], p[3]}, {0}, 0});
}
static void b_conv_dilation2(Case *c) {
  c->y = conv(c, param(c, S(1, 6, 5, 2), R_ANY), param(c, S(2, 2, 2, 2), R_ANY), NULL,
              (ConvAttrs){{1, 1}, {1, 0, 1, 1}, {2, 2}, 0});
}
static void b_conv_stride3(Case *c) { /* stride larger than the kernel skips pixels */
  c->y = conv(c, param(c, S(1, 7, 7, 1), R_ANY), param(c, S(2, 2, 1, 2), R_ANY), NULL, (ConvAttrs){{3, 3}, {1, 1, 0, 0}, {0}, 0});
}
static void b_conv_groups2(Case *c) {
  c->y = conv(c, param(c, S(1, 4, 4, 4), R_ANY), param(c, S(2, 2, 2, 4), R_ANY), param(c, S(4), R_ANY),
              (ConvAttrs){{0}, NOPADS, {0}, 2});
}
static void b_conv_depthwise(Case *c) {
  c->y = conv(c, param(c, S(1, 4, 4, 3), R_ANY), param(c, S(3, 3, 1, 3), R_ANY), param(c, S(3), R_ANY),
              (ConvAttrs){{1, 1}, {1, 1, 1, 1}, {0}, 3});
}
static void b_conv_depthwise_mult2(Case *c) {
  c->y = conv(c, param(c, S(1, 4, 3, 2), R_ANY), param(c, S(2, 2, 1, 4), R_ANY), NULL, (ConvAttrs){{1, 2}, {0, 1, 1, 0}, {0}, 2});
}
/* [N,4,4,2] data: the weight and bias gradients sum over the batch */
static void b_conv_batch(Case *c) {
  Value *x = build2(c->g, OP_MUL, input(c, S(DIM_BATCH, 4, 4, 2), R_ANY), param(c, S(2), R_ANY));
  c->y = conv(c, x, param(c, S(2, 2, 2, 3), R_ANY), param(c, S(3), R_ANY), (ConvAttrs){{1, 2}, {0, 1, 1, 0}, {0}, 0});
}

/* Pooling inputs: distinct values at least 0.05 apart, so no window has a tie. */
static Value *distinct_param(Case *c, Shape s) {
  Value *v = param(c, s, R_ANY);
  double *d = c->pdata[c->nparam - 1];
  int64_t n = shape_numel_static(s);
  for (int64_t i = 0; i < n; i++) d[i] = 0.05 * (double)i - 0.025 * (double)n;
  for (int64_t i = n - 1; i > 0; i--) { /* shuffle */
    int64_t j = (int64_t)(urand() * (double)(i + 1));
    double t = d[i];
    d[i] = d[j], d[j] = t;
  }
  return v;
}

static Value *pool(Case *c, OpKind op, Value *x, int64_t kh, int64_t kw, const int64_t *strides, const int64_t *pads) {
  Node *n = build_node(c->g, op, 1, &x);
  node_set_ints(c->g, n, "kernel", (int64_t[]){kh, kw}, 2);
  if (strides) node_set_ints(c->g, n, "strides", strides, 2);
  if (pads) node_set_ints(c->g, n, "pads", pads, 4);
  return build_finish(c->g, n);
}
static OpKind pool_op;
static void b_pool_2x2(Case *c) { c->y = pool(c, pool_op, distinct_param(c, S(2, 4, 4, 2)), 2, 2, NULL, NULL); }
static void b_pool_odd(Case *c) { c->y = pool(c, pool_op, distinct_param(c, S(1, 5, 5, 2)), 2, 2, NULL, NULL); }
static void b_pool_overlap_same(Case *c) {
  c->y = pool(c, pool_op, distinct_param(c, S(1, 4, 5, 2)), 3, 3, (int64_t[]){1, 1}, (int64_t[]){1, 1, 1, 1});
}
static void b_pool_asym(Case *c) {
  c->y = pool(c, pool_op, distinct_param(c, S(1, 5, 4, 3)), 2, 3, (int64_t[]){2, 2}, (int64_t[]){1, 0, 0, 2});
}
static void b_pool_batch(Case *c) {
  Value *x = build2(c->g, OP_MUL, input(c, S(DIM_BATCH, 4, 4, 2), R_ANY), param(c, S(2), R_POS));
  c->y = pool(c, pool_op, x, 2, 2, (int64_t[]){2, 1}, (int64_t[]){0, 0, 0, 1});
}

/* ---- ONNX layout, indexing, gemm/einsum and normalization ops ---- */

/* A node with attributes from a compact spec: "key=1", "key=[1,2]", "key=0.5" (float), "key:text". */
static Value *opn(Case *c, OpKind op, int nin, Value **in, const char *spec) {
  Node *n = node_new(c->g, op, nin, in, op_table[op].flags & OPF_VAR_OUT ? 1 : op_table[op].nout);
  char buf[256];
  snprintf(buf, sizeof buf, "%s", spec ? spec : "");
  for (char *kv = strtok(buf, " "); kv; kv = strtok(NULL, " ")) {
    char *eq = strpbrk(kv, "=:");
    NN2C_ASSERT(eq);
    char sep = *eq;
    *eq = 0;
    const char *v = eq + 1;
    if (sep == ':') node_set_string(c->g, n, kv, v);
    else if (*v == '[') {
      int64_t xs[16];
      int k = 0;
      for (const char *p = v + 1; *p && *p != ']'; k++) {
        xs[k] = strtoll(p, (char **)&p, 10);
        if (*p == ',') p++;
      }
      node_set_ints(c->g, n, kv, xs, k);
    } else if (strchr(v, '.')) node_set_float(c->g, n, kv, atof(v));
    else node_set_int(c->g, n, kv, atoll(v));
  }
  return build_finish(c->g, n);
}
static Value *op1(Case *c, OpKind op, Value *x, const char *spec) { return opn(c, op, 1, &x, spec); }

static Value *iconst(Case *c, Shape s, const int64_t *v) {
  Value *k = value_new(c->g, "idx", VK_CONST, DT_I64, s);
  int64_t n = shape_numel_static(s);
  k->data = arena_alloc(&c->g->arena, sizeof(int64_t) * (size_t)(n ? n : 1));
  memcpy(k->data, v, sizeof(int64_t) * (size_t)n);
  return k;
}
#define IDX(s, ...) iconst(c, s, (int64_t[]){__VA_ARGS__})

static void b_transpose(Case *c) { c->y = op1(c, OP_TRANSPOSE, param(c, S(2, 3, 4), R_ANY), "perm=[2,0,1]"); }
static void b_transpose_default(Case *c) { c->y = op1(c, OP_TRANSPOSE, batch_x(c), NULL); }
static void b_squeeze(Case *c) { c->y = op1(c, OP_SQUEEZE, param(c, S(2, 1, 3), R_ANY), "axes=[1]"); }
static void b_unsqueeze(Case *c) { c->y = op1(c, OP_UNSQUEEZE, param(c, S(2, 3), R_ANY), "axes=[0,3]"); }
static void b_flatten(Case *c) { c->y = op1(c, OP_FLATTEN, param(c, S(2, 3, 2), R_ANY), "axis=2"); }
static void b_identity(Case *c) { c->y = op1(c, OP_IDENTITY, param(c, S(3), R_ANY), NULL); }
static void b_reshape_onnx(Case *c) { c->y = op1(c, OP_RESHAPE, param(c, S(2, 3, 4), R_ANY), "shape=[0,-1]"); }
static void b_expand_both(Case *c) { c->y = op1(c, OP_EXPAND, param(c, S(3, 1), R_ANY), "shape=[2,1,4]"); }
static void b_tile(Case *c) { c->y = op1(c, OP_TILE, param(c, S(2, 3), R_ANY), "repeats=[2,3]"); }
static void b_tile_batch(Case *c) { c->y = op1(c, OP_TILE, batch_x(c), "repeats=[1,2]"); }
static void b_d2s(Case *c) { c->y = op1(c, OP_DEPTH_TO_SPACE, param(c, S(1, 8, 2, 3), R_ANY), "blocksize=2"); }
static void b_d2s_crd(Case *c) { c->y = op1(c, OP_DEPTH_TO_SPACE, param(c, S(2, 8, 1, 2), R_ANY), "blocksize=2 mode:CRD"); }
static void b_s2d(Case *c) { c->y = op1(c, OP_SPACE_TO_DEPTH, param(c, S(1, 2, 4, 6), R_ANY), "blocksize=2"); }
static void b_triu(Case *c) { c->y = op1(c, OP_TRILU, param(c, S(2, 3, 4), R_ANY), "k=1"); }
static void b_tril(Case *c) { c->y = op1(c, OP_TRILU, param(c, S(4, 3), R_ANY), "upper=0 k=-1"); }
static void b_pad_const(Case *c) { c->y = op1(c, OP_PAD, param(c, S(2, 3), R_ANY), "pads=[1,0,0,2] constant_value=0.5"); }
static void b_pad_crop(Case *c) { c->y = op1(c, OP_PAD, param(c, S(3, 4), R_ANY), "pads=[-1,1,0,-2]"); }
static void b_pad_reflect(Case *c) { c->y = op1(c, OP_PAD, param(c, S(3, 4), R_ANY), "pads=[1,2,2,3] mode:reflect"); }
static void b_pad_edge(Case *c) { c->y = op1(c, OP_PAD, param(c, S(2, 3), R_ANY), "pads=[2,1] axes=[1] mode:edge"); }
static void b_split(Case *c) {
  Value *x = param(c, S(4, 3), R_ANY);
  Node *n = node_new(c->g, OP_SPLIT, 1, &x, 2);
  node_set_ints(c->g, n, "split", (int64_t[]){1, 3}, 2);
  build_finish(c->g, n);
  c->y = n->out[1]; /* output 0 unused: its gradient is zeros */
}
static void b_split_equal(Case *c) {
  Value *x = param(c, S(2, 6), R_ANY);
  Node *n = node_new(c->g, OP_SPLIT, 1, &x, 3);
  node_set_int(c->g, n, "axis", -1);
  build_finish(c->g, n);
  c->y = build2(c->g, OP_MUL, n->out[0], build2(c->g, OP_ADD, n->out[1], n->out[2]));
}
static void b_slice_steps(Case *c) {
  c->y = op1(c, OP_SLICE, param(c, S(4, 5), R_ANY), "starts=[1,-1] ends=[4,-9] axes=[0,1] steps=[2,-2]");
}
static void b_slice_batch(Case *c) { c->y = op1(c, OP_SLICE, batch_x(c), "starts=[1] ends=[3] axes=[-1]"); }
static void b_gather(Case *c) {
  Value *in[2] = {param(c, S(5, 3), R_ANY), IDX(S(2, 2), 0, -1, 2, 0)};
  c->y = opn(c, OP_GATHER, 2, in, NULL);
}
static void b_gather_axis1(Case *c) {
  Value *in[2] = {param(c, S(2, 4, 2), R_ANY), IDX(S(3), 3, 1, 3)};
  c->y = opn(c, OP_GATHER, 2, in, "axis=1");
}
static void b_gather_batch_indices(Case *c) {
  Value *in[2] = {param(c, S(4, 2), R_ANY), NULL};
  Value *ix = value_new(c->g, "ids", VK_INPUT, DT_I64, S(DIM_BATCH, 2));
  int64_t *d = feed(c, ix, sizeof(int64_t));
  for (int i = 0; i < BATCH * 2; i++) d[i] = (i * 3) % 4;
  in[1] = ix;
  c->y = opn(c, OP_GATHER, 2, in, NULL);
}
static void b_gather_elements(Case *c) {
  Value *in[2] = {param(c, S(3, 4), R_ANY), IDX(S(3, 2), 0, 3, 1, 1, -1, 2)};
  c->y = opn(c, OP_GATHER_ELEMENTS, 2, in, "axis=1");
}
static void b_gather_nd(Case *c) {
  Value *in[2] = {param(c, S(3, 2, 2), R_ANY), IDX(S(2, 2), 2, 1, 0, 1)};
  c->y = opn(c, OP_GATHER_ND, 2, in, NULL);
}
static void b_scatter_elements(Case *c) {
  Value *in[3] = {param(c, S(3, 4), R_ANY), IDX(S(3, 2), 1, 3, 0, 2, 2, 1), param(c, S(3, 2), R_ANY)};
  c->y = opn(c, OP_SCATTER_ELEMENTS, 3, in, "axis=1");
}
static void b_scatter_add(Case *c) {
  Value *in[3] = {param(c, S(4, 2), R_ANY), IDX(S(2, 2), 1, 3, 1, 0), param(c, S(2, 2), R_ANY)};
  c->y = opn(c, OP_SCATTER_ELEMENTS, 3, in, "reduction:add");
}
static void b_scatter(Case *c) {
  Value *in[3] = {param(c, S(2, 3), R_ANY), IDX(S(2, 1), 2, 0), param(c, S(2, 1), R_ANY)};
  c->y = opn(c, OP_SCATTER, 3, in, "axis=1");
}
static void b_scatter_nd(Case *c) {
  Value *in[3] = {param(c, S(4, 3), R_ANY), IDX(S(2, 1), 3, 1), param(c, S(2, 3), R_ANY)};
  c->y = opn(c, OP_SCATTER_ND, 3, in, NULL);
}
static void b_scatter_nd_add(Case *c) {
  Value *in[3] = {param(c, S(2, 3), R_ANY), IDX(S(3, 2), 0, 1, 1, 2, 0, 1), param(c, S(3), R_ANY)};
  c->y = opn(c, OP_SCATTER_ND, 3, in, "reduction:add");
}
static void b_gemm(Case *c) {
  Value *in[3] = {param(c, S(3, 2), R_ANY), param(c, S(4, 3), R_ANY), param(c, S(4), R_ANY)};
  c->y = opn(c, OP_GEMM, 3, in, "transA=1 transB=1 alpha=0.5 beta=2.0");
}
static void b_gemm_batch(Case *c) {
  Value *in[3] = {batch_x(c), param(c, S(3, 2), R_ANY), param(c, S(1, 1), R_ANY)};
  c->y = opn(c, OP_GEMM, 3, in, NULL);
}
static Value *einsum2(Case *c, Value *a, Value *b, const char *eq) {
  Value *in[2] = {a, b};
  Node *n = build_node(c->g, OP_EINSUM, b ? 2 : 1, in);
  node_set_string(c->g, n, "equation", eq);
  return build_finish(c->g, n);
}
static void b_einsum_mm(Case *c) { c->y = einsum2(c, param(c, S(2, 3), R_ANY), param(c, S(3, 4), R_ANY), "ij,jk->ik"); }
static void b_einsum_bmm(Case *c) {
  c->y = einsum2(c, param(c, S(2, 2, 3), R_ANY), param(c, S(2, 3, 2), R_ANY), "bij, bjk -> bik");
}
static void b_einsum_sum(Case *c) { c->y = einsum2(c, param(c, S(3, 4), R_ANY), NULL, "ij->i"); }
static void b_einsum_inner(Case *c) { c->y = einsum2(c, param(c, S(4), R_ANY), param(c, S(4), R_ANY), "i,i"); }
static void b_einsum_ellipsis(Case *c) { c->y = einsum2(c, param(c, S(2, 3, 4), R_ANY), NULL, "...ij->...ji"); }
static void b_layer_norm(Case *c) {
  Value *in[3] = {param(c, S(2, 5), R_ANY), param(c, S(5), R_ANY), param(c, S(5), R_ANY)};
  c->y = opn(c, OP_LAYER_NORM, 3, in, NULL);
}
static void b_layer_norm_axis1(Case *c) {
  Value *in[2] = {build2(c->g, OP_MUL, input(c, S(DIM_BATCH, 3, 2), R_ANY), param(c, S(3, 2), R_ANY)),
                  param(c, S(2), R_ANY)};
  c->y = opn(c, OP_LAYER_NORM, 2, in, "axis=1 epsilon=0.01");
}
static Value *bn(Case *c, const char *spec) {
  Value *in[5] = {param(c, S(2, 3, 2, 2), R_ANY), param(c, S(3), R_ANY), param(c, S(3), R_ANY), param(c, S(3), R_ANY),
                  param(c, S(3), R_POS)};
  return opn(c, OP_BATCH_NORM, 5, in, spec);
}
static void b_batch_norm(Case *c) { c->y = bn(c, "epsilon=0.01"); }
static void b_batch_norm_train(Case *c) { c->y = bn(c, "training_mode=1"); }
static void b_instance_norm(Case *c) {
  Value *in[3] = {param(c, S(2, 3, 4), R_ANY), param(c, S(3), R_ANY), param(c, S(3), R_ANY)};
  c->y = opn(c, OP_INSTANCE_NORM, 3, in, NULL);
}
static void b_mvn(Case *c) { c->y = op1(c, OP_MVN, param(c, S(2, 3, 2, 2), R_ANY), NULL); }
static void b_lp_norm2(Case *c) { c->y = op1(c, OP_LP_NORM, param(c, S(2, 3), R_ANY), "axis=0"); }
static void b_lp_norm1(Case *c) { c->y = op1(c, OP_LP_NORM, param(c, S(2, 3), R_AWAY0), "p=1"); }

/* ---- layout family: autodiff after the layout pass ----
 * An imported CNN's shape: NHWC convs wrapped in transposes to NCHW and
 * back, with a [C,1,1] bias add, inference batch_norm (its statistics are
 * params here, so they get gradients too), tanh, a residual add and a
 * global average pool in between. The pass leaves no transpose (checked in
 * run_case), so this checks the gradient of the rewritten graph. */
static Value *perm4(Case *c, Value *x, bool to_nchw) {
  return op1(c, OP_TRANSPOSE, x, to_nchw ? "perm=[0,3,1,2]" : "perm=[0,2,3,1]");
}
static void b_layout_block(Case *c) {
  c->passes = "shape,layout,autodiff";
  Value *x = input(c, S(DIM_BATCH, 3, 3, 2), R_ANY);
  ConvAttrs same = {{0}, {1, 1, 1, 1}, {0}, 0};
  Value *t = perm4(c, conv(c, x, param(c, S(3, 3, 2, 3), R_ANY), NULL, same), true);
  Value *cb = build2(c->g, OP_ADD, t, param(c, S(3, 1, 1), R_ANY));
  Value *in[5] = {cb, param(c, S(3), R_ANY), param(c, S(3), R_ANY), param(c, S(3), R_ANY), param(c, S(3), R_POS)};
  Value *r = build1(c->g, OP_TANH, opn(c, OP_BATCH_NORM, 5, in, "epsilon=0.01"));
  Value *c2 = conv(c, perm4(c, r, false), param(c, S(3, 3, 3, 3), R_ANY), NULL, same);
  Value *s = build2(c->g, OP_ADD, perm4(c, c2, true), r);
  c->y = reduce(c, OP_REDUCE_MEAN, s, 2, (int64_t[]){2, 3}, 0);
}
/* ---- rnn family: embedding, unstack/stack, and whole unrolled layers ---- */

/* ids [N,4] with repeats and id 0, into a [5,3] table */
static void b_embedding(Case *c) {
  Value *ids = value_new(c->g, "ids", VK_INPUT, DT_F64, S(DIM_BATCH, 4));
  double *d = feed(c, ids, sizeof(double));
  for (int i = 0; i < BATCH * 4; i++) d[i] = (double)((i * 3) % 5 == 4 ? 0 : (i * 3) % 5);
  c->y = build2(c->g, OP_EMBEDDING, ids, param(c, S(5, 3), R_ANY));
}

static Value *stack_of(Case *c, int n, Value **in, int axis) {
  Node *s = build_node(c->g, OP_STACK, n, in);
  node_set_int(c->g, s, "axis", axis);
  return build_finish(c->g, s);
}

static Value **unstack_of(Case *c, Value *x, int axis) {
  Node *n = node_new(c->g, OP_UNSTACK, 1, &x, (int)x->shape.d[axis]);
  node_set_int(c->g, n, "axis", axis);
  build_finish(c->g, n);
  return n->out;
}

/* part 1 unused (its gradient is zeros), part 2 read twice */
static void b_unstack_batch(Case *c) {
  Value *x = build2(c->g, OP_MUL, input(c, S(DIM_BATCH, 3, 2), R_ANY), param(c, S(2), R_ANY));
  Value **p = unstack_of(c, x, 1);
  c->y = stack_of(c, 3, (Value *[]){p[2], p[0], p[2]}, 2);
}
static void b_unstack_first(Case *c) {
  Value **p = unstack_of(c, param(c, S(3, 2), R_ANY), 0);
  c->y = stack_of(c, 2, (Value *[]){p[1], p[0]}, 0);
}

/* A tiny unrolled layer: x [N,3,2] (or [3,N,2] for ONNX's layout), 2 units. */
static void rnn_case(Case *c, RnnCell cell, bool onnx, bool reverse, bool seqs, bool reset_after) {
  int64_t gh = rnn_gates(cell) * 2;
  RnnSpec s = {.cell = cell, .order = onnx ? RNN_ONNX : RNN_KERAS, .transposed = onnx, .reverse = reverse,
               .return_sequences = seqs, .reset_after = reset_after, .time_axis = onnx ? 0 : 1};
  Shape xs = onnx ? S(3, DIM_BATCH, 2) : S(DIM_BATCH, 3, 2);
  Value *x = build2(c->g, OP_MUL, input(c, xs, R_ANY), param(c, S(2), R_ANY));
  s.w = param(c, onnx ? S(gh, 2) : S(2, gh), R_ANY);
  s.u = param(c, onnx ? S(gh, 2) : S(2, gh), R_ANY);
  s.b = param(c, S(gh), R_ANY);
  if (onnx || cell == RNN_GRU) s.rb = param(c, S(gh), R_ANY);
  if (onnx) {
    s.h0 = build2(c->g, OP_MUL, input(c, S(DIM_BATCH, 2), R_ANY), param(c, S(2), R_ANY));
    if (cell == RNN_LSTM) s.c0 = param(c, S(1, 2), R_ANY), s.c0 = build2(c->g, OP_MUL, s.c0, s.h0);
  }
  s.prefix = "r";
  NN2C_ASSERT(!rnn_check(c->g, &s, x));
  Value *hl, *cl;
  Value *y = rnn_lower(c->g, &s, x, &hl, &cl);
  c->y = cell == RNN_LSTM && !seqs ? build2(c->g, OP_ADD, y, cl) : y;
}
static void b_lstm(Case *c) { rnn_case(c, RNN_LSTM, false, false, false, false); }
static void b_lstm_back_seq(Case *c) { rnn_case(c, RNN_LSTM, false, true, true, false); }
static void b_lstm_onnx(Case *c) { rnn_case(c, RNN_LSTM, true, false, false, false); }
static void b_gru(Case *c) { rnn_case(c, RNN_GRU, false, false, true, true); }
static void b_gru_before(Case *c) { rnn_case(c, RNN_GRU, false, true, false, false); }
static void b_gru_onnx(Case *c) { rnn_case(c, RNN_GRU, true, false, true, false); }
static void b_simple(Case *c) { rnn_case(c, RNN_SIMPLE, false, false, true, false); }
static void b_simple_onnx(Case *c) { rnn_case(c, RNN_SIMPLE, true, true, false, false); }

/* Binary and unary cases are generated from the tables; these wrap the index. */
#define UNARY(i) static void b_u##i(Case *c) { cur_op = i; b_unary(c); } \
                 static void b_us##i(Case *c) { cur_op = i; b_unary_scalar(c); }
UNARY(0) UNARY(1) UNARY(2) UNARY(3) UNARY(4) UNARY(5) UNARY(6)
#define BIN(i, f) static void b_##f##i(Case *c) { cur_bin = i; b_##f(c); }
#define BINS(i) BIN(i, same) BIN(i, row) BIN(i, col) BIN(i, scalar) BIN(i, row_left) BIN(i, outer) BIN(i, batch)
BINS(0) BINS(1) BINS(2) BINS(3) BINS(4)
#define RED(k, f) static void b_##f##_##k(Case *c) { red_op = k ? OP_REDUCE_MEAN : OP_REDUCE_SUM; b_##f(c); }
#define REDS(k) RED(k, red_all) RED(k, red_all_keep) RED(k, red_ax1) RED(k, red_ax0_keep) RED(k, red_neg) \
  RED(k, red_02) RED(k, red_12_keep) RED(k, red_batch) RED(k, red_batch_keep) RED(k, red_batch_all) RED(k, red_batch_ax1)
REDS(0) REDS(1)
#define POOL(k, f) static void b_##f##_##k(Case *c) { pool_op = k ? OP_AVGPOOL2D : OP_MAXPOOL2D; b_##f(c); }
#define POOLS(k) POOL(k, pool_2x2) POOL(k, pool_odd) POOL(k, pool_overlap_same) POOL(k, pool_asym) POOL(k, pool_batch)
POOLS(0) POOLS(1)

#define U(i, nm) {"unary", nm, b_u##i}, {"unary", nm "_scalar", b_us##i}
#define B(i, nm) {"binary", nm "_same", b_same##i}, {"binary", nm "_row", b_row##i}, {"binary", nm "_col", b_col##i}, \
  {"binary", nm "_scalar", b_scalar##i}, {"binary", nm "_row_left", b_row_left##i}, {"binary", nm "_outer", b_outer##i}, \
  {"binary", nm "_batch", b_batch##i}
#define R(k, nm) {"reduce", nm "_all", b_red_all_##k}, {"reduce", nm "_all_keep", b_red_all_keep_##k}, \
  {"reduce", nm "_ax1", b_red_ax1_##k}, {"reduce", nm "_ax0_keep", b_red_ax0_keep_##k}, \
  {"reduce", nm "_axneg1", b_red_neg_##k}, {"reduce", nm "_ax02", b_red_02_##k}, \
  {"reduce", nm "_ax12_keep", b_red_12_keep_##k}, {"reduce", nm "_batch", b_red_batch_##k}, \
  {"reduce", nm "_batch_keep", b_red_batch_keep_##k}, {"reduce", nm "_batch_all", b_red_batch_all_##k}, \
  {"reduce", nm "_batch_ax1", b_red_batch_ax1_##k}


/* ---- table-driven cases for the ONNX op families: an op applied to params
 * of a small shape, with attributes "key=value ..." (a value with '.' is a
 * float, one with ',' an int list). Piecewise constant ops (floor, sign,
 * hardmax, ...) check that their gradient is zero. ---- */

typedef struct {
  const char *family, *name;
  OpKind op;
  int nin;
  Range r;
  int rank3;         /* params of shape [2,2,3] instead of [2,3] */
  const char *attrs;
} OpCase;

static const OpCase op_cases[] = {
  {"math", "abs", OP_ABS, 1, R_AWAY0, 0, ""}, {"math", "sign", OP_SIGN, 1, R_AWAY0, 0, ""},
  {"math", "reciprocal", OP_RECIPROCAL, 1, R_AWAY0, 0, ""}, {"math", "floor", OP_FLOOR, 1, R_WIDE, 0, ""},
  {"math", "ceil", OP_CEIL, 1, R_WIDE, 0, ""}, {"math", "round", OP_ROUND, 1, R_WIDE, 0, ""},
  {"math", "erf", OP_ERF, 1, R_ANY, 0, ""}, {"math", "sin", OP_SIN, 1, R_WIDE, 0, ""},
  {"math", "cos", OP_COS, 1, R_WIDE, 0, ""}, {"math", "tan", OP_TAN, 1, R_CLIP, 0, ""},
  {"math", "asin", OP_ASIN, 1, R_UNIT, 0, ""}, {"math", "acos", OP_ACOS, 1, R_UNIT, 0, ""},
  {"math", "atan", OP_ATAN, 1, R_WIDE, 0, ""}, {"math", "sinh", OP_SINH, 1, R_ANY, 0, ""},
  {"math", "cosh", OP_COSH, 1, R_ANY, 0, ""}, {"math", "asinh", OP_ASINH, 1, R_WIDE, 0, ""},
  {"math", "acosh", OP_ACOSH, 1, R_GT1, 0, ""}, {"math", "atanh", OP_ATANH, 1, R_UNIT, 0, ""},
  {"math", "softplus", OP_SOFTPLUS, 1, R_WIDE, 0, ""}, {"math", "softsign", OP_SOFTSIGN, 1, R_WIDE, 0, ""},
  {"math", "exp_f64_row", OP_EXP, 1, R_ANY, 1, ""},
  {"math", "mod_fmod", OP_MOD, 2, R_WIDE, 0, "fmod=1"}, {"math", "mod_floor", OP_MOD, 2, R_WIDE, 0, ""},
  {"math", "max2", OP_MAX, 2, R_ANY, 0, ""}, {"math", "max3", OP_MAX, 3, R_ANY, 0, ""},
  {"math", "min3", OP_MIN, 3, R_ANY, 0, ""}, {"math", "min1", OP_MIN, 1, R_ANY, 0, ""},
  {"math", "sum3", OP_SUM, 3, R_ANY, 0, ""}, {"math", "mean2", OP_MEAN, 2, R_ANY, 0, ""},
  {"math", "mean3", OP_MEAN, 3, R_ANY, 1, ""},
  {"activation", "elu", OP_ELU, 1, R_AWAY0, 0, ""}, {"activation", "elu_alpha", OP_ELU, 1, R_AWAY0, 0, "alpha=0.5"},
  {"activation", "selu", OP_SELU, 1, R_AWAY0, 0, ""},
  {"activation", "selu_attrs", OP_SELU, 1, R_AWAY0, 0, "alpha=2.0 gamma=3.0"},
  {"activation", "celu", OP_CELU, 1, R_AWAY0, 0, "alpha=2.0"},
  {"activation", "thresholded_relu", OP_THRESHOLDED_RELU, 1, R_WIDE, 0, ""},
  {"activation", "shrink", OP_SHRINK, 1, R_CLIP, 0, "bias=0.2"},
  {"activation", "hard_sigmoid", OP_HARD_SIGMOID, 1, R_WIDE, 0, "alpha=0.3 beta=0.4"},
  {"activation", "hard_swish", OP_HARD_SWISH, 1, R_WIDE, 0, ""},
  {"activation", "prelu", OP_PRELU, 2, R_AWAY0, 0, ""}, {"activation", "leaky_relu_onnx", OP_LEAKY_RELU, 1, R_AWAY0, 0, ""},
  {"activation", "relu_f64", OP_RELU, 1, R_AWAY0, 1, ""},
  {"compare", "cast_f64", OP_CAST, 1, R_ANY, 0, "to=11"},
  {"reduce", "reduce_max_ax1", OP_REDUCE_MAX, 1, R_ANY, 0, "axes=1 keepdims=0"},
  {"reduce", "reduce_max_all", OP_REDUCE_MAX, 1, R_ANY, 1, ""},
  {"reduce", "reduce_min_ax02", OP_REDUCE_MIN, 1, R_ANY, 1, "axes=0,2"},
  {"reduce", "reduce_prod_ax0", OP_REDUCE_PROD, 1, R_AWAY0, 0, "axes=0"},
  {"reduce", "reduce_prod_ax12", OP_REDUCE_PROD, 1, R_AWAY0, 1, "axes=1,2 keepdims=0"},
  {"reduce", "reduce_l1_ax1", OP_REDUCE_L1, 1, R_AWAY0, 1, "axes=-1"},
  {"reduce", "reduce_l2_ax02", OP_REDUCE_L2, 1, R_ANY, 1, "axes=0,2 keepdims=0"},
  {"reduce", "reduce_log_sum", OP_REDUCE_LOG_SUM, 1, R_POS, 1, "axes=1"},
  {"reduce", "reduce_log_sum_exp", OP_REDUCE_LOG_SUM_EXP, 1, R_ANY, 1, "axes=0,2"},
  {"reduce", "reduce_sum_square", OP_REDUCE_SUM_SQUARE, 1, R_ANY, 1, "keepdims=0"},
  {"reduce", "reduce_sum_noop", OP_REDUCE_SUM, 1, R_ANY, 0, "noop_with_empty_axes=1"},
  {"reduce", "reduce_mean_ax02", OP_REDUCE_MEAN, 1, R_ANY, 1, "axes=2,0 keepdims=0"},
  {"select", "top_k_ax1", OP_TOP_K, 1, R_ANY, 0, "k=2"},
  {"select", "top_k_ax0_smallest", OP_TOP_K, 1, R_ANY, 1, "k=1 axis=0 largest=0"},
  {"select", "cum_sum_ax1", OP_CUM_SUM, 1, R_ANY, 0, "axis=1"},
  {"select", "cum_sum_excl_rev", OP_CUM_SUM, 1, R_ANY, 1, "axis=1 exclusive=1 reverse=1"},
  {"nn", "softmax_axis0", OP_SOFTMAX, 1, R_ANY, 1, "axis=0"},
  {"nn", "softmax_legacy_2d", OP_SOFTMAX, 1, R_ANY, 1, "axis=1 legacy_2d=1"},
  {"nn", "log_softmax_axis1", OP_LOG_SOFTMAX, 1, R_ANY, 1, "axis=1"},
  {"nn", "log_softmax_legacy_2d", OP_LOG_SOFTMAX, 1, R_ANY, 1, "legacy_2d=1"},
  {"nn", "hardmax", OP_HARDMAX, 1, R_ANY, 1, "axis=1"},
};
#define NOP_CASES ((int)(sizeof op_cases / sizeof op_cases[0]))
static int cur_case;

static void set_attrs(Graph *g, Node *n, const char *spec) {
  char buf[256];
  snprintf(buf, sizeof buf, "%s", spec);
  for (char *kv = strtok(buf, " "); kv; kv = strtok(NULL, " ")) {
    char *v = strchr(kv, '=');
    NN2C_ASSERT(v);
    *v++ = 0;
    if (strchr(v, '.')) {
      node_set_float(g, n, kv, atof(v));
    } else if (strchr(v, ',')) {
      int64_t l[MAX_RANK];
      int k = 0;
      for (char *p = v; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) l[k++] = atoll(p);
      node_set_ints(g, n, kv, l, k);
    } else if (!strcmp(kv, "axes")) {
      int64_t a = atoll(v);
      node_set_ints(g, n, kv, &a, 1);
    } else {
      node_set_int(g, n, kv, atoll(v));
    }
  }
}

/* Inputs: [2,3] or [2,2,3], then [3] and [2,1] (or [2,1,3] and [1]) broadcast against it. */
static void b_op_case(Case *c) {
  const OpCase *o = &op_cases[cur_case];
  Shape full = o->rank3 ? S(2, 2, 3) : S(2, 3), more[2] = {o->rank3 ? S(2, 1, 3) : S(3), o->rank3 ? S(1) : S(2, 1)};
  if (o->op == OP_PRELU) more[0] = o->rank3 ? S(2, 1, 1) : S(3);
  Value *in[3];
  for (int k = 0; k < o->nin; k++) in[k] = param(c, k ? more[k - 1] : full, o->r);
  Node *n = build_node(c->g, o->op, o->nin, in);
  set_attrs(c->g, n, o->attrs);
  c->y = build_finish(c->g, n);
}

/* where: the condition compares an input with 0; both branches are params. */
static void b_where(Case *c) {
  Value *x = input(c, S(2, 3), R_AWAY0);
  Value *cond = build2(c->g, OP_GREATER, x, build_scalar(c->g, DT_F64, 0));
  c->y = build_where(c->g, cond, param(c, S(2, 3), R_ANY), param(c, S(3), R_ANY));
}
static void b_cast_like(Case *c) {
  c->y = build2(c->g, OP_CAST_LIKE, param(c, S(2, 3), R_ANY), input(c, S(1), R_ANY));
}

static const CaseDef cases[] = {
  {"compare", "where_broadcast", b_where}, {"compare", "cast_like_f64", b_cast_like},
  U(0, "neg"), U(1, "exp"), U(2, "log"), U(3, "sqrt"), U(4, "relu"), U(5, "sigmoid"), U(6, "tanh"),
  {"unary", "clip_min_max", b_clip_both}, {"unary", "clip_min", b_clip_min},
  B(0, "add"), B(1, "sub"), B(2, "mul"), B(3, "div"), B(4, "pow"),
  {"matmul", "matmul_nn", b_mm00}, {"matmul", "matmul_nt", b_mm01}, {"matmul", "matmul_tn", b_mm10},
  {"matmul", "matmul_tt", b_mm11}, {"matmul", "matmul_default_attrs", b_mm_noattr}, {"matmul", "matmul_batch", b_mm_batch},
  R(0, "reduce_sum"), R(1, "reduce_mean"),
  {"movement", "expand_row", b_expand_row}, {"movement", "expand_col", b_expand_col},
  {"movement", "expand_scalar", b_expand_scalar}, {"movement", "expand_rank3", b_expand_rank3},
  {"movement", "expand_batch", b_expand_batch}, {"movement", "reshape_transpose_shape", b_reshape_t},
  {"movement", "reshape_flat", b_reshape_flat}, {"movement", "reshape_rank3", b_reshape_3},
  {"movement", "reshape_batch", b_reshape_batch},
  {"nn", "softmax", b_softmax}, {"nn", "softmax_rank3", b_softmax3}, {"nn", "log_softmax", b_log_softmax},
  {"nn", "log_softmax_batch", b_log_softmax_batch}, {"nn", "dropout", b_dropout},
  {"nn", "dropout_rate_quarter", b_dropout_other_step},
  {"loss", "nll", b_nll}, {"loss", "nll_log_softmax_batch", b_nll_log_softmax},
  {"fanout", "param_read_twice", b_fanout_param}, {"fanout", "temp_read_three_times", b_fanout_temp},
  {"fanout", "mlp", b_fanout_mlp},
  {"unary", "leaky_relu", b_leaky_default}, {"unary", "leaky_relu_alpha_batch", b_leaky_alpha},
  {"movement", "concat_last_axis", b_concat_last}, {"movement", "concat_first_axis", b_concat_first},
  {"movement", "concat_mid_axis_batch", b_concat_mid_batch}, {"movement", "slice_middle", b_slice_middle},
  {"movement", "slice_head", b_slice_head}, {"movement", "slice_tail_batch", b_slice_tail_batch},
  {"conv", "conv2d_valid", b_conv_valid}, {"conv", "conv2d_stride2_bias", b_conv_stride2_bias},
  {"conv", "conv2d_same", b_conv_same}, {"conv", "conv2d_same_stride2_asym", b_conv_same_stride2_asym},
  {"conv", "conv2d_dilation2", b_conv_dilation2}, {"conv", "conv2d_stride3", b_conv_stride3},
  {"conv", "conv2d_groups2", b_conv_groups2}, {"conv", "conv2d_depthwise", b_conv_depthwise},
  {"conv", "conv2d_depthwise_mult2", b_conv_depthwise_mult2}, {"conv", "conv2d_batch", b_conv_batch},
  {"conv", "maxpool2d_2x2", b_pool_2x2_0}, {"conv", "maxpool2d_odd", b_pool_odd_0},
  {"conv", "maxpool2d_overlap_same", b_pool_overlap_same_0}, {"conv", "maxpool2d_asym", b_pool_asym_0},
  {"conv", "maxpool2d_batch", b_pool_batch_0},
  {"conv", "avgpool2d_2x2", b_pool_2x2_1}, {"conv", "avgpool2d_odd", b_pool_odd_1},
  {"conv", "avgpool2d_overlap_same", b_pool_overlap_same_1}, {"conv", "avgpool2d_asym", b_pool_asym_1},
  {"conv", "avgpool2d_batch", b_pool_batch_1},
  {"movement", "transpose_perm", b_transpose}, {"movement", "transpose_default_batch", b_transpose_default},
  {"movement", "squeeze", b_squeeze}, {"movement", "unsqueeze", b_unsqueeze}, {"movement", "flatten", b_flatten},
  {"movement", "identity", b_identity}, {"movement", "reshape_zero_minus_one", b_reshape_onnx},
  {"movement", "expand_bidirectional", b_expand_both}, {"movement", "tile", b_tile},
  {"movement", "tile_batch", b_tile_batch}, {"movement", "depth_to_space", b_d2s},
  {"movement", "depth_to_space_crd", b_d2s_crd}, {"movement", "space_to_depth", b_s2d},
  {"movement", "triu_k1", b_triu}, {"movement", "tril_k_neg", b_tril}, {"movement", "pad_constant", b_pad_const},
  {"movement", "pad_crop", b_pad_crop}, {"movement", "pad_reflect", b_pad_reflect}, {"movement", "pad_edge_axes", b_pad_edge},
  {"movement", "split_unused_output", b_split}, {"movement", "split_equal", b_split_equal},
  {"movement", "slice_steps", b_slice_steps}, {"movement", "slice_axes_batch", b_slice_batch},
  {"movement", "gather", b_gather}, {"movement", "gather_axis1", b_gather_axis1},
  {"movement", "gather_batch_indices", b_gather_batch_indices}, {"movement", "gather_elements", b_gather_elements},
  {"movement", "gather_nd", b_gather_nd}, {"movement", "scatter_elements", b_scatter_elements},
  {"movement", "scatter_elements_add", b_scatter_add}, {"movement", "scatter", b_scatter},
  {"movement", "scatter_nd", b_scatter_nd}, {"movement", "scatter_nd_add", b_scatter_nd_add},
  {"matmul", "gemm_trans_alpha_beta", b_gemm}, {"matmul", "gemm_batch", b_gemm_batch},
  {"matmul", "einsum_matmul", b_einsum_mm}, {"matmul", "einsum_batch_matmul", b_einsum_bmm},
  {"matmul", "einsum_sum", b_einsum_sum}, {"matmul", "einsum_inner", b_einsum_inner},
  {"matmul", "einsum_ellipsis_transpose", b_einsum_ellipsis},
  {"nn", "layer_norm", b_layer_norm}, {"nn", "layer_norm_axis1_batch", b_layer_norm_axis1},
  {"nn", "batch_norm", b_batch_norm}, {"nn", "batch_norm_training", b_batch_norm_train},
  {"nn", "instance_norm", b_instance_norm}, {"nn", "mvn", b_mvn}, {"nn", "lp_norm_p2_axis0", b_lp_norm2},
  {"nn", "lp_norm_p1", b_lp_norm1}, {"layout", "layout_resnet_block", b_layout_block},
  {"rnn", "embedding", b_embedding}, {"rnn", "unstack_stack_batch", b_unstack_batch},
  {"rnn", "unstack_stack_first_axis", b_unstack_first}, {"rnn", "lstm_keras", b_lstm},
  {"rnn", "lstm_backwards_sequences", b_lstm_back_seq}, {"rnn", "lstm_onnx_state", b_lstm_onnx},
  {"rnn", "gru_reset_after", b_gru}, {"rnn", "gru_reset_before_backwards", b_gru_before},
  {"rnn", "gru_onnx_state", b_gru_onnx}, {"rnn", "simple_rnn", b_simple}, {"rnn", "simple_rnn_onnx", b_simple_onnx},
};
#define NBASE ((int)(sizeof cases / sizeof cases[0]))
#define NCASES (NBASE + NOP_CASES)

/* Case i of both tables (the op-case table follows the hand-written cases). */
static CaseDef case_at(int i) {
  if (i < NBASE) return cases[i];
  CaseDef d = {op_cases[i - NBASE].family, op_cases[i - NBASE].name, b_op_case};
  cur_case = i - NBASE;
  return d;
}

/* ---- running a case ---- */

static void case_free(Case *c) {
  for (int i = 0; i < c->nparam; i++) free(c->pdata[i]);
  for (int i = 0; i < c->nfeeds; i++) free((void *)c->feeds[i].data);
  graph_free(c->g);
}

/* Builds the case's graph and the weighted-sum loss. */
static void case_build(const CaseDef *d, Case *c) {
  memset(c, 0, sizeof *c);
  c->g = graph_new(d->name);
  d->build(c);
  NN2C_ASSERT(c->y && c->y->dtype == DT_F64);
  c->nforward = c->g->nnodes;
  Value *w = input(c, c->y->shape, R_ANY);
  c->w = (double *)c->feeds[c->nfeeds - 1].data;
  Node *r = build_node(c->g, OP_REDUCE_SUM, 1, (Value *[]){build2(c->g, OP_MUL, c->y, w)});
  node_set_int(c->g, r, "keepdims", 0);
  c->g->loss = build_finish(c->g, r);
  graph_add_output(c->g, c->y);
}

/* The params block: each f64 param's doubles at its float offset. The block
 * layout counts 4-byte words, so a double param takes two per element. */
static float *params_block(Case *c, int64_t *off) {
  int64_t nf = graph_block_layout(c->g, VK_PARAM, off);
  float *blk = xcalloc((size_t)nf * 2 + 16, sizeof(float));
  for (int i = 0; i < c->nparam; i++) {
    Value *v = c->param[i];
    int64_t n = shape_numel_static(v->shape);
    memcpy(blk + off[v->id], c->pdata[i], sizeof(double) * (size_t)n);
  }
  return blk;
}

static bool eval_loss(Case *c, float *blk, double *loss, InterpRun *keep) {
  InterpRun r = {0};
  float state[16] = {0};
  bool ok = interp_run(c->g, blk, state, c->feeds, c->nfeeds, BATCH, c->step, &r);
  if (ok) *loss = tensor_get(&r.vals[c->g->loss->id], 0);
  if (keep) *keep = r;
  else interp_run_free(&r);
  return ok;
}

static int check_dropout(Case *c, InterpRun *r, Value *grad) {
  Tensor *m = &r->vals[c->mask->id], *gt = &r->vals[grad->id];
  int zeros = 0, kept = 0, bad = 0;
  for (int64_t i = 0; i < m->numel; i++) {
    double mv = tensor_get(m, i);
    if (mv == 0) zeros++;
    else kept++;
    if (fabs(tensor_get(gt, i) - mv * c->w[i]) > 1e-12) bad++;
  }
  if (!zeros || !kept) {
    printf("FAIL %s: dropout mask is all %s; the case checks nothing\n", c->g->name, zeros ? "zeros" : "ones");
    return 1;
  }
  if (bad) printf("FAIL %s: %d gradient elements differ from mask * dloss/dy\n", c->g->name, bad);
  return bad != 0;
}

static int run_case(const CaseDef *d) {
  Case c;
  case_build(d, &c);
  PassCtx cx = {0};
  cx.verify = true;
  if (!pass_run_pipeline(c.g, &cx, c.passes ? c.passes : "shape,autodiff")) {
    printf("FAIL %s: pipeline failed\n", d->name);
    case_free(&c);
    return 1;
  }
  for (int i = 0; i < c.g->nnodes && c.passes; i++)
    if (c.g->nodes[i]->op == OP_TRANSPOSE) {
      printf("FAIL %s: a transpose is left after %s\n", d->name, c.passes);
      case_free(&c);
      return 1;
    }
  int64_t *off = xcalloc((size_t)c.g->nvalues, sizeof(int64_t));
  float *blk = params_block(&c, off);
  double loss0;
  InterpRun r;
  int fails = 0;
  if (!eval_loss(&c, blk, &loss0, &r) || !isfinite(loss0)) {
    printf("FAIL %s: interpreter failed or loss not finite\n", d->name);
    fails = 1;
  }
  double worst = 0;
  for (int gi = 0; gi < c.g->ngrads && !fails; gi++) {
    Value *p = c.g->grads[gi].param, *gv = c.g->grads[gi].grad;
    Tensor *gt = &r.vals[gv->id];
    if (!shape_eq(gv->shape, p->shape) || gt->dtype != DT_F64) {
      printf("FAIL %s: gradient of %s has type %s%s\n", d->name, p->name, dtype_name(gv->dtype),
             shape_str(&c.g->arena, gv->shape));
      fails++;
      continue;
    }
    double *pd = (double *)(blk + off[p->id]);
    for (int64_t i = 0; i < gt->numel; i++) {
      double save = pd[i], lp = 0, lm = 0;
      pd[i] = save + H;
      eval_loss(&c, blk, &lp, NULL);
      pd[i] = save - H;
      eval_loss(&c, blk, &lm, NULL);
      pd[i] = save;
      double fd = (lp - lm) / (2 * H), an = tensor_get(gt, i);
      double err = fabs(fd - an), tol = RTOL * fmax(fabs(fd), fabs(an)) + ATOL;
      if (err / tol > worst) worst = err / tol;
      if (!(err <= tol)) {
        printf("FAIL %s: d loss / d %s[%lld]: autodiff %.12g, central difference %.12g\n", d->name, p->name,
               (long long)i, an, fd);
        fails++;
      }
    }
    if (c.mask) fails += check_dropout(&c, &r, gv);
  }
  if (c.g->ngrads != c.nparam) {
    printf("FAIL %s: %d params but %d gradients\n", d->name, c.nparam, c.g->ngrads);
    fails++;
  }
  if (!fails) printf("ok   %-32s params %d, worst error %.3f of tolerance\n", d->name, c.nparam, worst);
  interp_run_free(&r);
  free(blk);
  free(off);
  case_free(&c);
  return fails != 0;
}

/* Every op with a gradient rule must appear in some case's forward part. */
static int check_coverage(void) {
  bool seen[OP_COUNT] = {0};
  for (int i = 0; i < NCASES; i++) {
    Case c;
    CaseDef d = case_at(i);
    case_build(&d, &c);
    for (int k = 0; k < c.nforward; k++) seen[c.g->nodes[k]->op] = true;
    case_free(&c);
  }
  int missing = 0, covered = 0;
  for (int op = 0; op < OP_COUNT; op++) {
    if (op_table[op].flags & OPF_NO_GRAD) continue;
    if (seen[op]) covered++;
    else {
      printf("FAIL coverage: op '%s' has a gradient rule but no gradcheck case\n", op_name((OpKind)op));
      missing++;
    }
  }
  printf("%s: %d ops with gradient rules covered, %d missing, %d cases\n", missing ? "FAIL" : "ok", covered, missing,
         NCASES);
  return missing != 0;
}

int main(int argc, char **argv) {
  const char *family = argc > 1 ? argv[1] : NULL;
  if (family && !strcmp(family, "coverage")) return check_coverage();
  int fails = 0, ran = 0;
  for (int i = 0; i < NCASES; i++) {
    CaseDef d = case_at(i);
    if (family && strcmp(family, d.family)) continue;
    fails += run_case(&d);
    ran++;
  }
  if (!family) fails += check_coverage();
  if (!ran) {
    printf("FAIL: no cases in family '%s'\n", family ? family : "");
    return 1;
  }
  printf("%d cases, %d failed\n", ran, fails);
  return fails ? 1 : 0;
}
