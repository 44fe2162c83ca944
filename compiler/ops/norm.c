/* norm.c - normalizations on the ONNX layout (channel axis 1 where there is
 * one; explicit axes otherwise, independent of conv2d's NHWC):
 *   layer_norm(X, W, B?; axis=-1, epsilon=1e-5) -> Y, Mean?, InvStdDev?
 *   batch_norm(X, scale, B, mean, var; epsilon=1e-5, momentum=0.9, training_mode=0)
 *     -> Y, running_mean?, running_var?
 *   instance_norm(X, scale, B; epsilon=1e-5)
 *   mvn(X; axes=[0,2,3])           (X - mean) / (std + 1e-9)
 *   lp_norm(X; axis=-1, p=2)       X / ||X||_p
 *   lrn(X; size, alpha=1e-4, beta=0.75, bias=1)
 * Statistics are population mean and variance over the normalized axes.
 * Gradients are built from ordinary ops (reduce_mean, sub, mul, div, sqrt),
 * with reductions taken one axis at a time. lrn has no gradient. */
#include "op.h"

#include <math.h>
#include <string.h>

/* Normalized (reduced) axes of each op, as a mask over X's axes. */
static void norm_mask(const Node *n, bool *red) {
  int r = n->in[0]->shape.rank;
  memset(red, 0, sizeof(bool) * MAX_RANK);
  if (n->op == OP_LAYER_NORM) {
    int ax = normalize_axis(node_int(n, "axis", -1), r);
    for (int i = ax < 0 ? r : ax; i < r; i++)
      red[i] = true;
  } else if (n->op == OP_MVN) {
    int64_t axes[MAX_RANK];
    int na = attr_ints(n, "axes", axes, MAX_RANK);
    if (na < 0) {
      for (int i = 0; i < r; i++)
        red[i] = i != 1;
      return;
    }
    for (int i = 0; i < na; i++)
      if (normalize_axis(axes[i], r) >= 0) red[normalize_axis(axes[i], r)] = true;
  } else
    for (int i = 0; i < r; i++)
      red[i] = n->op == OP_INSTANCE_NORM ? i >= 2 : i != 1;
}

static double norm_eps(const Node *n) { return n->op == OP_MVN ? 0 : node_float(n, "epsilon", 1e-5); }

/* Kept axes must be one block [lo, hi): x is [outer, mid, inner] with mid kept. */
static bool norm_block(const Node *n, int *lo, int *hi) {
  bool red[MAX_RANK];
  norm_mask(n, red);
  int r = n->in[0]->shape.rank;
  *lo = 0;
  while (*lo < r && red[*lo])
    (*lo)++;
  if (*lo == r) *lo = 0; /* nothing kept: one group of everything */
  *hi = *lo;
  while (*hi < r && !red[*hi])
    (*hi)++;
  for (int i = *hi; i < r; i++)
    if (!red[i]) return false;
  return true;
}

static const char *vec_check(Node *n, int k, int64_t len) {
  Value *v = n->in[k];
  if (v->dtype != n->in[0]->dtype || shape_numel_static(v->shape) != len || shape_has_batch(v->shape))
    return "scale, bias, mean and variance must be per-channel vectors of X's dtype";
  return NULL;
}

static const char *norm_common_infer(Graph *g, Node *n) {
  Shape x = n->in[0]->shape;
  int lo, hi;
  if (!dtype_is_float(n->in[0]->dtype)) return "normalization needs a float input";
  if (!norm_block(n, &lo, &hi)) return "the axes kept by the normalization must be consecutive";
  if (n->op != OP_LAYER_NORM && n->op != OP_MVN && n->op != OP_LP_NORM && n->op != OP_LRN) {
    if (x.rank < 2 || x.d[1] == DIM_BATCH) return "needs NC... input with the batch first";
    for (int k = 1; k < n->nin; k++)
      if (vec_check(n, k, x.d[1])) return vec_check(n, k, x.d[1]);
  }
  for (int k = 0; k < n->nout; k++)
    n->out[k]->dtype = n->in[0]->dtype;
  n->out[0]->shape = x;
  (void)g;
  return NULL;
}

/* ---- interpreter: statistics per kept position, over the reduced axes ---- */

typedef struct {
  int64_t groups, count;
  double *mean, *var;
} Stats;

static int64_t group_of(Shape s, const bool *red, int64_t i) {
  int64_t gidx = 0, stride = 1;
  for (int a = s.rank - 1; a >= 0; a--) {
    int64_t c = i % s.d[a];
    i /= s.d[a];
    if (!red[a]) gidx += c * stride, stride *= s.d[a];
  }
  return gidx;
}

static Stats stats_of(const Tensor *x, const bool *red) {
  Stats s = {1, 1, NULL, NULL};
  for (int a = 0; a < x->shape.rank; a++) {
    if (red[a])
      s.count *= x->shape.d[a];
    else
      s.groups *= x->shape.d[a];
  }
  s.mean = xcalloc((size_t)s.groups + 1, sizeof(double));
  s.var = xcalloc((size_t)s.groups + 1, sizeof(double));
  for (int64_t i = 0; i < x->numel; i++)
    s.mean[group_of(x->shape, red, i)] += tensor_get(x, i) / (double)s.count;
  for (int64_t i = 0; i < x->numel; i++) {
    int64_t gi = group_of(x->shape, red, i);
    double d = tensor_get(x, i) - s.mean[gi];
    s.var[gi] += d * d / (double)s.count;
  }
  return s;
}

static int64_t channel_of(Shape s, int64_t i) {
  int64_t inner = 1;
  for (int a = 2; a < s.rank; a++)
    inner *= s.d[a];
  return i / inner % s.d[1];
}

/* y = (x - mean) * inv * scale + bias with per-op indexing of scale/bias. */
static void standardize_eval(Node *n, Tensor **in, Tensor **out, const Stats *st) {
  bool red[MAX_RANK];
  norm_mask(n, red);
  Tensor *x = in[0];
  int64_t inner = 1, nw = n->op == OP_LAYER_NORM ? in[1]->numel : 0;
  for (int a = 0; a < x->shape.rank; a++)
    inner *= red[a] && n->op == OP_LAYER_NORM ? x->shape.d[a] : 1;
  for (int64_t i = 0; i < x->numel; i++) {
    int64_t gi = group_of(x->shape, red, i);
    double inv = n->op == OP_MVN ? 1 / (sqrt(st->var[gi]) + 1e-9) : 1 / sqrt(st->var[gi] + norm_eps(n));
    double y = (tensor_get(x, i) - st->mean[gi]) * inv;
    if (n->op == OP_LAYER_NORM) {
      y *= tensor_get(in[1], i % inner % nw);
      if (n->nin > 2) y += tensor_get(in[2], i % inner % in[2]->numel);
    } else if (n->op != OP_MVN) {
      int64_t c = channel_of(x->shape, i);
      y = y * tensor_get(in[1], c) + tensor_get(in[2], c);
    }
    tensor_set(out[0], i, y);
  }
}

/* ---- emission: the block form, one group (kept position) at a time ---- */

typedef struct {
  const char *outer, *mid, *inner; /* x as [outer, mid, inner]; stats per mid */
} Block;

static Block block_of(Emit *e, Node *n) {
  int lo, hi;
  NN2C_ASSERT(norm_block(n, &lo, &hi));
  Value *x = n->in[0];
  return (Block){emit_numel_range(e, x, 0, lo), emit_numel_range(e, x, lo, hi),
                 emit_numel_range(e, x, hi, x->shape.rank)};
}

/* Opens the group loop with `av` = mean, `t` = variance and `acc` = 1 / std of group j. */
static void emit_group_stats(Emit *e, Node *n, Block b) {
  const char *X = emit_ref(e, n->in[0]);
  emit_open(e, "for (size_t j = 0; j < %s; j++)", b.mid);
  emit_line(e, "double av = 0, acc = 0;");
  emit_line(e, "const double cnt = (double)(%s) * (double)(%s);", b.outer, b.inner);
  emit_line(e, "for (size_t i = 0; i < %s; i++)", b.outer);
  emit_line(e, "  for (size_t k = 0; k < %s; k++) av += %s[(i * %s + j) * %s + k];", b.inner, X, b.mid, b.inner);
  emit_line(e, "av /= cnt;");
  emit_line(e, "for (size_t i = 0; i < %s; i++)", b.outer);
  emit_open(e, "  for (size_t k = 0; k < %s; k++)", b.inner);
  emit_line(e, "double u = %s[(i * %s + j) * %s + k] - av;", X, b.mid, b.inner);
  emit_line(e, "acc += u * u;");
  emit_close(e);
  emit_line(e, "const double t = acc / cnt; /* the variance */");
  emit_line(e, "(void)t;");
  if (n->op == OP_MVN)
    emit_line(e, "acc = 1.0 / (sqrt(t) + 1e-9);");
  else
    emit_line(e, "acc = 1.0 / sqrt(t + %.17g);", norm_eps(n));
}

/* Writes y = (x - av) * acc * SCALE + BIAS over the group (expressions in i, j, k). */
static void emit_group_apply(Emit *e, Node *n, Block b, const char *scale, const char *bias) {
  emit_line(e, "for (size_t i = 0; i < %s; i++)", b.outer);
  emit_open(e, "  for (size_t k = 0; k < %s; k++)", b.inner);
  emit_line(e, "size_t p = (i * %s + j) * %s + k;", b.mid, b.inner);
  emit_line(e, "%s[p] = (%s)((%s[p] - av) * acc%s%s);", emit_ref(e, n->out[0]), emit_ctype(n->out[0]->dtype),
            emit_ref(e, n->in[0]), scale, bias);
  emit_close(e);
}

/* ---- gradient helpers (IR) ---- */

static Value *reduce1(Graph *g, OpKind op, Value *v, int axis) {
  Node *r = build_node(g, op, 1, &v);
  node_set_ints(g, r, "axes", (int64_t[]){axis}, 1);
  node_set_int(g, r, "keepdims", 1);
  return build_finish(g, r);
}

/* Mean (or sum) over the masked axes, keeping them as extent 1. */
static Value *reduce_mask(Graph *g, OpKind op, Value *v, const bool *red) {
  for (int a = v->shape.rank - 1; a >= 0; a--)
    if (red[a] && v->shape.d[a] != 1) v = reduce1(g, op, v, a);
  return v;
}

/* d X of z = (x - mean) / std over the masked axes, given dz; also returns z. */
static Value *standardize_grad(Graph *g, Value *x, const bool *red, double eps, bool mvn, Value *dz, Value **zp) {
  DType t = x->dtype;
  Value *xc = build2(g, OP_SUB, x, reduce_mask(g, OP_REDUCE_MEAN, x, red));
  Value *var = reduce_mask(g, OP_REDUCE_MEAN, build2(g, OP_MUL, xc, xc), red);
  Value *tiny = build_scalar(g, t, mvn ? 1e-9 : eps);
  Value *sd = mvn ? build2(g, OP_ADD, build1(g, OP_SQRT, var), tiny) : build1(g, OP_SQRT, build2(g, OP_ADD, var, tiny));
  Value *z = build2(g, OP_DIV, xc, sd);
  Value *m1 = reduce_mask(g, OP_REDUCE_MEAN, dz, red);
  Value *m2 = reduce_mask(g, OP_REDUCE_MEAN, build2(g, OP_MUL, dz, z), red);
  Value *zm2 = build2(g, OP_MUL, z, m2);
  Value *num = build2(g, OP_SUB, build2(g, OP_SUB, dz, m1), zm2);
  if (zp) *zp = z;
  return build2(g, OP_DIV, num, sd);
}

/* A per-channel vector [C] as [C, 1, ...] to broadcast over x's axes 1.. */
static Value *channel_b(Graph *g, Value *v, Shape x) {
  Shape s = {x.rank - 1, {0}};
  s.d[0] = x.d[1];
  for (int i = 1; i < s.rank; i++)
    s.d[i] = 1;
  return build_reshape(g, v, s);
}

/* Sum of v over all axes but the channel, as a [C] vector. */
static Value *channel_sum(Graph *g, Value *v) {
  bool red[MAX_RANK];
  for (int i = 0; i < MAX_RANK; i++)
    red[i] = i != 1;
  Value *s = reduce_mask(g, OP_REDUCE_SUM, v, red);
  return build_reshape(g, s, shape_make(1, &v->shape.d[1]));
}

static void assert_no_stat_grads(Node *n, Value **dy) {
  for (int k = 1; k < n->nout; k++)
    NN2C_ASSERT(!dy[k] && "no gradient through normalization statistics outputs");
}

/* ---- layer_norm ---- */

const char *layer_norm_infer(Graph *g, Node *n) {
  Shape x = n->in[0]->shape, st = x;
  int ax = normalize_axis(node_int(n, "axis", -1), x.rank);
  if (ax < 0) return "axis out of range";
  int64_t inner = 1;
  for (int i = ax; i < x.rank; i++) {
    if (x.d[i] == DIM_BATCH) return "cannot normalize over the batch dimension";
    inner *= x.d[i], st.d[i] = 1;
  }
  for (int k = 1; k < n->nin; k++) {
    int64_t w = shape_numel_static(n->in[k]->shape);
    if (n->in[k]->dtype != n->in[0]->dtype || !w || inner % w || shape_has_batch(n->in[k]->shape))
      return "scale and bias must broadcast over the normalized axes";
  }
  const char *err = norm_common_infer(g, n);
  for (int k = 1; k < n->nout; k++)
    n->out[k]->shape = st;
  return err;
}

void layer_norm_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx;
  bool red[MAX_RANK];
  norm_mask(n, red);
  Stats st = stats_of(in[0], red);
  standardize_eval(n, in, out, &st);
  for (int64_t i = 0; i < st.groups; i++) {
    if (n->nout > 1) tensor_set(out[1], i, st.mean[i]);
    if (n->nout > 2) tensor_set(out[2], i, 1 / sqrt(st.var[i] + norm_eps(n)));
  }
  free(st.mean);
  free(st.var);
}

void layer_norm_grad(Graph *g, Node *n, Value **dy, Value **dx) {
  bool red[MAX_RANK];
  norm_mask(n, red);
  assert_no_stat_grads(n, dy);
  Value *z, *w = n->in[1];
  Value *dz = build2(g, OP_MUL, dy[0], w);
  dx[0] = standardize_grad(g, n->in[0], red, norm_eps(n), false, dz, &z);
  dx[1] = build_unbroadcast(g, build2(g, OP_MUL, dy[0], z), w->shape);
  if (n->nin > 2) dx[2] = build_unbroadcast(g, dy[0], n->in[2]->shape);
}

void layer_norm_emit(Emit *e, Node *n) {
  Block b = block_of(e, n);
  emit_group_stats(e, n, b);
  long long nw = (long long)shape_numel_static(n->in[1]->shape);
  const char *sc = arena_printf(&e->g->arena, " * %s[k %% %lld]", emit_ref(e, n->in[1]), nw);
  const char *bi = n->nin > 2 ? arena_printf(&e->g->arena, " + %s[k %% %lld]", emit_ref(e, n->in[2]),
                                             (long long)shape_numel_static(n->in[2]->shape))
                              : "";
  emit_group_apply(e, n, b, sc, bi);
  if (n->nout > 1) emit_line(e, "%s[j] = (%s)av;", emit_ref(e, n->out[1]), emit_ctype(n->out[1]->dtype));
  if (n->nout > 2) emit_line(e, "%s[j] = (%s)acc;", emit_ref(e, n->out[2]), emit_ctype(n->out[2]->dtype));
  emit_close(e);
}

/* ---- instance_norm and mvn ---- */

const char *instance_norm_infer(Graph *g, Node *n) {
  if (n->in[0]->shape.rank < 3) return "instance_norm needs N, C and spatial axes";
  return norm_common_infer(g, n);
}

const char *mvn_infer(Graph *g, Node *n) { return norm_common_infer(g, n); }

static void stats_eval(Node *n, Tensor **in, Tensor **out) {
  bool red[MAX_RANK];
  norm_mask(n, red);
  Stats st = stats_of(in[0], red);
  standardize_eval(n, in, out, &st);
  free(st.mean);
  free(st.var);
}

void instance_norm_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx;
  stats_eval(n, in, out);
}
void mvn_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx;
  stats_eval(n, in, out);
}

void instance_norm_grad(Graph *g, Node *n, Value **dy, Value **dx) {
  bool red[MAX_RANK];
  norm_mask(n, red);
  Shape xs = n->in[0]->shape;
  Value *z, *dz = build2(g, OP_MUL, dy[0], channel_b(g, n->in[1], xs));
  dx[0] = standardize_grad(g, n->in[0], red, norm_eps(n), false, dz, &z);
  dx[1] = channel_sum(g, build2(g, OP_MUL, dy[0], z));
  dx[2] = channel_sum(g, dy[0]);
}

void mvn_grad(Graph *g, Node *n, Value **dy, Value **dx) {
  bool red[MAX_RANK];
  norm_mask(n, red);
  dx[0] = standardize_grad(g, n->in[0], red, 0, true, dy[0], NULL);
}

void instance_norm_emit(Emit *e, Node *n) {
  Block b = block_of(e, n);
  emit_group_stats(e, n, b);
  const char *C = emit_dim(e, n->in[0], 1);
  emit_group_apply(e, n, b, arena_printf(&e->g->arena, " * %s[j %% %s]", emit_ref(e, n->in[1]), C),
                   arena_printf(&e->g->arena, " + %s[j %% %s]", emit_ref(e, n->in[2]), C));
  emit_close(e);
}

void mvn_emit(Emit *e, Node *n) {
  Block b = block_of(e, n);
  emit_group_stats(e, n, b);
  emit_group_apply(e, n, b, "", "");
  emit_close(e);
}

/* ---- batch_norm: given statistics, or (training_mode=1) the batch's, whose
 * blend with the given ones (momentum) comes out as running_mean/var ---- */

static bool bn_training(const Node *n) { return node_int(n, "training_mode", 0) != 0; }

const char *batch_norm_infer(Graph *g, Node *n) {
  const char *err = norm_common_infer(g, n);
  for (int k = 1; k < n->nout; k++)
    n->out[k]->shape = n->in[3]->shape;
  if (!err && n->nout > 1 && !bn_training(n)) err = "running_mean and running_var need training_mode=1";
  return err;
}

void batch_norm_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx;
  bool red[MAX_RANK];
  norm_mask(n, red);
  int64_t c = in[0]->shape.d[1];
  Stats st = {c, 1, xcalloc((size_t)c, sizeof(double)), xcalloc((size_t)c, sizeof(double))};
  if (bn_training(n)) {
    free(st.mean), free(st.var);
    st = stats_of(in[0], red);
  } else
    for (int64_t i = 0; i < c; i++)
      st.mean[i] = tensor_get(in[3], i), st.var[i] = tensor_get(in[4], i);
  standardize_eval(n, in, out, &st);
  double mom = node_float(n, "momentum", 0.9);
  for (int64_t i = 0; i < c; i++) {
    if (n->nout > 1) tensor_set(out[1], i, tensor_get(in[3], i) * mom + st.mean[i] * (1 - mom));
    if (n->nout > 2) tensor_set(out[2], i, tensor_get(in[4], i) * mom + st.var[i] * (1 - mom));
  }
  free(st.mean);
  free(st.var);
}

void batch_norm_grad(Graph *g, Node *n, Value **dy, Value **dx) {
  bool red[MAX_RANK];
  norm_mask(n, red);
  assert_no_stat_grads(n, dy);
  Shape xs = n->in[0]->shape;
  DType t = n->in[0]->dtype;
  Value *s = channel_b(g, n->in[1], xs), *z;
  dx[2] = channel_sum(g, dy[0]);
  if (bn_training(n)) {
    dx[0] = standardize_grad(g, n->in[0], red, norm_eps(n), false, build2(g, OP_MUL, dy[0], s), &z);
    dx[1] = channel_sum(g, build2(g, OP_MUL, dy[0], z));
    return;
  }
  /* y = (x - m) * inv * s + b, inv = (v + eps)^-1/2 */
  Value *sd = build1(g, OP_SQRT, build2(g, OP_ADD, n->in[4], build_scalar(g, t, norm_eps(n))));
  Value *inv = build2(g, OP_DIV, build_scalar(g, t, 1.0), sd);
  Value *xc = build2(g, OP_SUB, n->in[0], channel_b(g, n->in[3], xs));
  Value *dyxc = channel_sum(g, build2(g, OP_MUL, dy[0], xc));
  dx[0] = build2(g, OP_MUL, dy[0], channel_b(g, build2(g, OP_MUL, n->in[1], inv), xs));
  dx[1] = build2(g, OP_MUL, dyxc, inv);
  dx[3] = build1(g, OP_NEG, build2(g, OP_MUL, dx[2], build2(g, OP_MUL, n->in[1], inv)));
  Value *inv3 = build2(g, OP_MUL, inv, build2(g, OP_MUL, inv, inv));
  Value *half_inv3 = build2(g, OP_MUL, inv3, build_scalar(g, t, -0.5));
  dx[4] = build2(g, OP_MUL, build2(g, OP_MUL, dyxc, n->in[1]), half_inv3);
}

void batch_norm_emit(Emit *e, Node *n) {
  Block b = block_of(e, n);
  const char *S = emit_ref(e, n->in[1]), *Bi = emit_ref(e, n->in[2]), *M = emit_ref(e, n->in[3]);
  const char *V = emit_ref(e, n->in[4]);
  if (bn_training(n))
    emit_group_stats(e, n, b);
  else {
    emit_open(e, "for (size_t j = 0; j < %s; j++)", b.mid);
    if (node_int(n, "mcu", 0)) /* a microcontroller build (nn2c compile --target) computes in float */
      emit_line(e, "const float av = %s[j], t = %s[j], acc = 1.0f / sqrtf(t + %s);", M, V, emit_float(e, norm_eps(n)));
    else
      emit_line(e, "const double av = %s[j], t = %s[j], acc = 1.0 / sqrt(t + %.17g);", M, V, norm_eps(n));
  }
  emit_group_apply(e, n, b, arena_printf(&e->g->arena, " * %s[j]", S), arena_printf(&e->g->arena, " + %s[j]", Bi));
  double mom = node_float(n, "momentum", 0.9);
  const char *ty = emit_ctype(n->out[0]->dtype);
  if (n->nout > 1)
    emit_line(e, "%s[j] = (%s)(%s[j] * %.17g + av * %.17g);", emit_ref(e, n->out[1]), ty, M, mom, 1 - mom);
  if (n->nout > 2)
    emit_line(e, "%s[j] = (%s)(%s[j] * %.17g + t * %.17g);", emit_ref(e, n->out[2]), ty, V, mom, 1 - mom);
  emit_close(e);
}

/* ---- lp_norm(X; axis=-1, p=2) ---- */

static int lp_axis(const Node *n) { return normalize_axis(node_int(n, "axis", -1), n->in[0]->shape.rank); }

const char *lp_norm_infer(Graph *g, Node *n) {
  int64_t p = node_int(n, "p", 2);
  int ax = lp_axis(n);
  if (ax < 0 || (p != 1 && p != 2)) return "lp_norm needs p 1 or 2 and an axis in range";
  if (n->in[0]->shape.d[ax] == DIM_BATCH) return "cannot normalize over the batch dimension";
  return norm_common_infer(g, n);
}

void lp_norm_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx;
  int ax = lp_axis(n);
  Shape s = in[0]->shape;
  int64_t d = s.d[ax], inner = 1, p = node_int(n, "p", 2);
  for (int i = ax + 1; i < s.rank; i++)
    inner *= s.d[i];
  for (int64_t i = 0; i < in[0]->numel; i++) {
    int64_t base = i / (d * inner) * d * inner + i % inner;
    double acc = 0;
    for (int64_t k = 0; k < d; k++) {
      double v = tensor_get(in[0], base + k * inner);
      acc += p == 1 ? fabs(v) : v * v;
    }
    tensor_set(out[0], i, tensor_get(in[0], i) / (p == 1 ? acc : sqrt(acc)));
  }
}

/* y = x / r with r = sum |x| (p=1) or sqrt(sum x^2) (p=2) along the axis:
 * dx = dy / r - r' * sum(dy x) / r^2, r' = sign(x) or x / r. */
void lp_norm_grad(Graph *g, Node *n, Value **dy, Value **dx) {
  Value *x = n->in[0];
  int ax = lp_axis(n);
  bool l1 = node_int(n, "p", 2) == 1;
  Value *r = l1 ? reduce1(g, OP_REDUCE_SUM, build1(g, OP_ABS, x), ax)
                : build1(g, OP_SQRT, reduce1(g, OP_REDUCE_SUM, build2(g, OP_MUL, x, x), ax));
  Value *s = reduce1(g, OP_REDUCE_SUM, build2(g, OP_MUL, dy[0], x), ax);
  Value *dr = l1 ? build1(g, OP_SIGN, x) : build2(g, OP_DIV, x, r);
  Value *r2 = build2(g, OP_MUL, r, r);
  Value *t = build2(g, OP_DIV, build2(g, OP_MUL, dr, s), r2);
  dx[0] = build2(g, OP_SUB, build2(g, OP_DIV, dy[0], r), t);
}

void lp_norm_emit(Emit *e, Node *n) {
  Value *x = n->in[0];
  int ax = lp_axis(n);
  const char *d = emit_dim(e, x, ax), *inner = emit_numel_range(e, x, ax + 1, x->shape.rank);
  const char *X = emit_ref(e, x), *Y = emit_ref(e, n->out[0]);
  bool l1 = node_int(n, "p", 2) == 1;
  emit_open(e, "for (size_t i = 0; i < %s; i++)", emit_numel_range(e, x, 0, ax));
  emit_open(e, "for (size_t j = 0; j < %s; j++)", inner);
  emit_line(e, "double acc = 0;");
  emit_line(e, "for (size_t k = 0; k < %s; k++) acc += %s;", d,
            arena_printf(&e->g->arena,
                         l1 ? "fabs((double)%s[(i * %s + k) * %s + j])"
                            : "(double)%s[(i * %s + k) * %s + j] * %s[(i * %s + k) * %s + j]",
                         X, d, inner, X, d, inner));
  if (!l1) emit_line(e, "acc = sqrt(acc);");
  emit_line(e, "for (size_t k = 0; k < %s; k++) %s[(i * %s + k) * %s + j] = (%s)(%s[(i * %s + k) * %s + j] / acc);", d,
            Y, d, inner, emit_ctype(n->out[0]->dtype), X, d, inner);
  emit_close(e);
  emit_close(e);
}

/* ---- lrn: y = x / (bias + alpha / size * sum of x^2 over channels
 * [c - (size-1)/2, c + ceil((size-1)/2)])^beta, NC... layout ---- */

const char *lrn_infer(Graph *g, Node *n) {
  if (n->in[0]->shape.rank < 3 || node_int(n, "size", 0) < 1) return "lrn needs an NC... input and size >= 1";
  return norm_common_infer(g, n);
}

void lrn_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx;
  Shape s = in[0]->shape;
  int64_t c = s.d[1], inner = in[0]->numel / (s.d[0] * c), size = node_int(n, "size", 1);
  double alpha = node_float(n, "alpha", 1e-4), beta = node_float(n, "beta", 0.75), bias = node_float(n, "bias", 1);
  for (int64_t i = 0; i < in[0]->numel; i++) {
    int64_t ch = i / inner % c, base = i - ch * inner;
    double acc = 0;
    for (int64_t k = ch - (size - 1) / 2; k <= ch + size / 2; k++) {
      if (k < 0 || k >= c) continue;
      double v = tensor_get(in[0], base + k * inner);
      acc += v * v;
    }
    tensor_set(out[0], i, tensor_get(in[0], i) / pow(bias + alpha / (double)size * acc, beta));
  }
}

void lrn_grad(Graph *g, Node *n, Value **dy, Value **dx) { (void)g, (void)n, (void)dy, (void)dx; }

void lrn_emit(Emit *e, Node *n) {
  Value *x = n->in[0];
  long long size = (long long)node_int(n, "size", 1);
  const char *C = emit_dim(e, x, 1), *inner = emit_numel_range(e, x, 2, x->shape.rank);
  const char *X = emit_ref(e, x);
  emit_open(e, "for (size_t i = 0; i < %s; i++)", emit_dim(e, x, 0));
  emit_open(e, "for (ptrdiff_t c = 0; c < (ptrdiff_t)%s; c++)", C);
  emit_open(e, "for (size_t j = 0; j < %s; j++)", inner);
  emit_line(e, "double acc = 0;");
  emit_line(e, "for (ptrdiff_t k = c - %lld; k <= c + %lld; k++)", (size - 1) / 2, size / 2);
  emit_line(e,
            "  if (k >= 0 && k < (ptrdiff_t)%s) acc += (double)%s[(i * %s + (size_t)k) * %s + j] * %s[(i * %s + "
            "(size_t)k) * %s + j];",
            C, X, C, inner, X, C, inner);
  emit_line(e, "size_t p = (i * %s + (size_t)c) * %s + j;", C, inner);
  emit_line(e, "%s[p] = (%s)(%s[p] / pow(%.17g + %.17g * acc, %.17g));", emit_ref(e, n->out[0]),
            emit_ctype(n->out[0]->dtype), X, node_float(n, "bias", 1), node_float(n, "alpha", 1e-4) / (double)size,
            node_float(n, "beta", 0.75));
  emit_close(e);
  emit_close(e);
  emit_close(e);
}
