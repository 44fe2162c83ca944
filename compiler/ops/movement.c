/* movement.c - ops that move elements without arithmetic (ONNX semantics):
 * transpose, squeeze, unsqueeze, flatten, identity, tile, depth_to_space,
 * space_to_depth, trilu, pad (+ pad_grad) and split.
 *
 * Emission lays the output over the input as a strided view where it can
 * (emit_view_copy); the interpreter kernels compute each output coordinate's
 * source directly from the op's definition. */
#include "op.h"

#include <math.h>

#include <string.h>

/* Coordinates of flat index i in shape s (concrete). */
static void unravel(Shape s, int64_t i, int64_t *c) {
  for (int k = s.rank - 1; k >= 0; k--) {
    c[k] = s.d[k] ? i % s.d[k] : 0;
    i = s.d[k] ? i / s.d[k] : 0;
  }
}

static int64_t ravel(Shape s, const int64_t *c) {
  int64_t i = 0;
  for (int k = 0; k < s.rank; k++)
    i = i * s.d[k] + c[k];
  return i;
}

static const char *set_out(Node *n, int k, DType t, Shape s) {
  n->out[k]->dtype = t;
  n->out[k]->shape = s;
  return NULL;
}

static Value *transpose_of(Graph *g, Value *x, const int64_t *perm) {
  Node *t = build_node(g, OP_TRANSPOSE, 1, &x);
  node_set_ints(g, t, "perm", perm, x->shape.rank);
  return build_finish(g, t);
}

/* ---- transpose(x; perm): out.d[i] = x.d[perm[i]]; no perm reverses the axes ---- */

static bool transpose_perm(const Node *n, int64_t *perm) {
  int r = n->in[0]->shape.rank;
  int np = attr_ints(n, "perm", perm, MAX_RANK);
  if (np < 0)
    for (int i = 0; i < r; i++)
      perm[i] = r - 1 - i;
  else if (np != r)
    return false;
  bool seen[MAX_RANK] = {0};
  for (int i = 0; i < r; i++) {
    if (perm[i] < 0 || perm[i] >= r || seen[perm[i]]) return false;
    seen[perm[i]] = true;
  }
  return true;
}

const char *transpose_infer(Graph *g, Node *n) {
  int64_t perm[MAX_RANK];
  Shape in = n->in[0]->shape, s = in;
  if (!transpose_perm(n, perm))
    return arena_printf(&g->arena, "perm is not a permutation of the %d axes of %s", in.rank, shape_str(&g->arena, in));
  for (int i = 0; i < in.rank; i++)
    s.d[i] = in.d[perm[i]];
  return set_out(n, 0, n->in[0]->dtype, s);
}

void transpose_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx;
  int64_t perm[MAX_RANK], c[MAX_RANK], src[MAX_RANK];
  NN2C_ASSERT(transpose_perm(n, perm));
  for (int64_t i = 0; i < out[0]->numel; i++) {
    unravel(out[0]->shape, i, c);
    for (int k = 0; k < out[0]->shape.rank; k++)
      src[perm[k]] = c[k];
    tensor_set(out[0], i, tensor_get(in[0], ravel(in[0]->shape, src)));
  }
}

void transpose_grad(Graph *g, Node *n, Value **dy, Value **dx) {
  int64_t perm[MAX_RANK], inv[MAX_RANK];
  NN2C_ASSERT(transpose_perm(n, perm));
  for (int i = 0; i < n->in[0]->shape.rank; i++)
    inv[perm[i]] = i;
  dx[0] = transpose_of(g, dy[0], inv);
}

void transpose_emit(Emit *e, Node *n) {
  int64_t perm[MAX_RANK];
  NN2C_ASSERT(transpose_perm(n, perm));
  Lin st[MAX_RANK];
  view_strides(n->in[0]->shape, st);
  View v = {n->out[0]->shape.rank, {0}, {{0, 0}}, {0, 0}};
  for (int i = 0; i < v.rank; i++)
    v.dim[i] = n->out[0]->shape.d[i], v.stride[i] = st[perm[i]];
  emit_view_copy(e, n->out[0], n->in[0], &v, false);
}

/* ---- squeeze, unsqueeze, flatten, identity: the same elements, a new shape ---- */

static void copy_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx, (void)n;
  for (int64_t i = 0; i < out[0]->numel; i++)
    tensor_set(out[0], i, tensor_get(in[0], i));
}

static void copy_emit(Emit *e, Node *n) {
  emit_line(e, "memcpy(%s, %s, sizeof(%s) * %s);", emit_ref(e, n->out[0]), emit_ref(e, n->in[0]),
            emit_ctype(n->in[0]->dtype), emit_numel(e, n->in[0]));
}

static void reshape_back(Graph *g, Node *n, Value **dy, Value **dx) {
  dx[0] = build_reshape(g, dy[0], n->in[0]->shape);
}

#define COPY_HOOKS(name)                                                                                               \
  void name##_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) { copy_eval(cx, n, in, out); }                     \
  void name##_grad(Graph *g, Node *n, Value **dy, Value **dx) { reshape_back(g, n, dy, dx); }                          \
  void name##_emit(Emit *e, Node *n) { copy_emit(e, n); }
COPY_HOOKS(squeeze)
COPY_HOOKS(unsqueeze)
COPY_HOOKS(flatten)
COPY_HOOKS(identity)

/* Marks the listed axes (normalized against rank); false on a bad or repeated axis. */
static bool axes_mark(const int64_t *axes, int na, int rank, bool *mark) {
  memset(mark, 0, sizeof(bool) * MAX_RANK);
  for (int i = 0; i < na; i++) {
    int a = normalize_axis(axes[i], rank);
    if (a < 0 || mark[a]) return false;
    mark[a] = true;
  }
  return true;
}

const char *squeeze_infer(Graph *g, Node *n) {
  Shape in = n->in[0]->shape, s = {0, {0}};
  int64_t axes[MAX_RANK];
  bool mark[MAX_RANK];
  int na = attr_ints(n, "axes", axes, MAX_RANK);
  if (na >= 0 && !axes_mark(axes, na, in.rank, mark)) return "axes out of range or repeated";
  for (int i = 0; i < in.rank; i++) {
    bool drop = na < 0 ? in.d[i] == 1 : mark[i];
    if (drop && in.d[i] != 1)
      return arena_printf(&g->arena, "cannot squeeze axis %d of %s (extent is not 1)", i, shape_str(&g->arena, in));
    if (!drop) s.d[s.rank++] = in.d[i];
  }
  return set_out(n, 0, n->in[0]->dtype, s);
}

const char *unsqueeze_infer(Graph *g, Node *n) {
  Shape in = n->in[0]->shape, s = {0, {0}};
  int64_t axes[MAX_RANK];
  bool mark[MAX_RANK];
  int na = attr_ints(n, "axes", axes, MAX_RANK);
  if (na < 0 || in.rank + na > MAX_RANK) return "unsqueeze needs axes=[...] (rank at most 8 after)";
  if (!axes_mark(axes, na, in.rank + na, mark)) return "axes out of range or repeated";
  s.rank = in.rank + na;
  for (int i = 0, k = 0; i < s.rank; i++)
    s.d[i] = mark[i] ? 1 : in.d[k++];
  (void)g;
  return set_out(n, 0, n->in[0]->dtype, s);
}

/* Product of dims [lo, hi); N stays N only when it is the group's sole non-1 extent. */
static bool group_extent(Shape s, int lo, int hi, int64_t *out) {
  int64_t p = 1;
  bool batch = false;
  for (int i = lo; i < hi; i++) {
    if (s.d[i] == DIM_BATCH)
      batch = true;
    else
      p *= s.d[i];
  }
  *out = batch ? DIM_BATCH : p;
  return !batch || p == 1;
}

const char *flatten_infer(Graph *g, Node *n) {
  Shape in = n->in[0]->shape, s = {2, {0}};
  int64_t ax = node_int(n, "axis", 1);
  if (ax < 0) ax += in.rank;
  if (ax < 0 || ax > in.rank) return arena_printf(&g->arena, "axis out of range for %s", shape_str(&g->arena, in));
  if (!group_extent(in, 0, (int)ax, &s.d[0]) || !group_extent(in, (int)ax, in.rank, &s.d[1]))
    return arena_printf(&g->arena, "cannot flatten %s at axis %d: N would be multiplied", shape_str(&g->arena, in),
                        (int)ax);
  return set_out(n, 0, n->in[0]->dtype, s);
}

const char *identity_infer(Graph *g, Node *n) {
  (void)g;
  return set_out(n, 0, n->in[0]->dtype, n->in[0]->shape);
}

/* ---- tile(x; repeats): out.d[k] = x.d[k] * repeats[k] ---- */

const char *tile_infer(Graph *g, Node *n) {
  Shape s = n->in[0]->shape;
  int64_t rep[MAX_RANK];
  int extra = 0;
  if (attr_ints(n, "repeats", rep, MAX_RANK) != s.rank) return "tile needs repeats=[...], one per axis";
  for (int i = 0; i < s.rank; i++) {
    if (rep[i] < 0) return "repeats must not be negative";
    if (rep[i] != 1 && s.d[i] == DIM_BATCH) return "cannot tile along the batch dimension";
    if (rep[i] != 1) s.d[i] *= rep[i], extra++;
  }
  if (s.rank + extra > MAX_RANK)
    return arena_printf(&g->arena, "tile repeats %d axes of a rank-%d tensor (at most 8 in all)", extra, s.rank);
  return set_out(n, 0, n->in[0]->dtype, s);
}

void tile_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx, (void)n;
  int64_t c[MAX_RANK];
  for (int64_t i = 0; i < out[0]->numel; i++) {
    unravel(out[0]->shape, i, c);
    for (int k = 0; k < in[0]->shape.rank; k++)
      c[k] %= in[0]->shape.d[k];
    tensor_set(out[0], i, tensor_get(in[0], ravel(in[0]->shape, c)));
  }
}

/* The output seen as [r0, d0, r1, d1, ...] (an axis with repeat 1 stays one
 * dimension): the repeat axes have stride 0 in the input. */
static Shape tile_split(const Node *n, View *v) {
  Shape in = n->in[0]->shape, s = {0, {0}};
  int64_t rep[MAX_RANK];
  Lin st[MAX_RANK];
  attr_ints(n, "repeats", rep, MAX_RANK);
  view_strides(in, st);
  *v = (View){0, {0}, {{0, 0}}, {0, 0}};
  for (int k = 0; k < in.rank; k++) {
    if (rep[k] != 1) v->dim[v->rank] = s.d[s.rank++] = rep[k], v->stride[v->rank++] = (Lin){0, 0};
    v->dim[v->rank] = s.d[s.rank++] = in.d[k], v->stride[v->rank++] = st[k];
  }
  return s;
}

void tile_grad(Graph *g, Node *n, Value **dy, Value **dx) {
  View v;
  Shape split = tile_split(n, &v);
  Value *r = build_reshape(g, dy[0], split);
  for (int k = v.rank - 1; k >= 0; k--) {
    if (v.stride[k].c || v.stride[k].cb) continue; /* a repeat axis */
    Node *s = build_node(g, OP_REDUCE_SUM, 1, &r);
    node_set_ints(g, s, "axes", (int64_t[]){k}, 1);
    node_set_int(g, s, "keepdims", 0);
    r = build_finish(g, s);
  }
  dx[0] = build_reshape(g, r, n->in[0]->shape);
}

void tile_emit(Emit *e, Node *n) {
  View v;
  tile_split(n, &v);
  emit_view_copy(e, n->out[0], n->in[0], &v, false);
}

/* ---- depth_to_space(x; blocksize, mode=DCR|CRD) and space_to_depth(x; blocksize):
 * NCHW. With b the block, C' = C / b^2 and (i, j) the offset in a block,
 *   DCR: deep channel (i * b + j) * C' + c      CRD: deep channel c * b^2 + i * b + j
 * of the deep [N, C, H, W] tensor holds shallow pixel [n, c, h * b + i, w * b + j].
 * space_to_depth is the inverse of DCR (it also takes mode=CRD, for gradients). ---- */

static bool d2s_crd(const Node *n) { return !strcmp(node_string(n, "mode", "DCR"), "CRD"); }

static const char *block_infer(Graph *g, Node *n, bool to_space) {
  Shape s = n->in[0]->shape;
  int64_t b = node_int(n, "blocksize", 0);
  if (s.rank != 4 || b < 1) return "needs a rank-4 NCHW input and blocksize >= 1";
  if (s.d[1] == DIM_BATCH || s.d[2] == DIM_BATCH || s.d[3] == DIM_BATCH) return "N must be the first axis";
  if (to_space ? s.d[1] % (b * b) : (s.d[2] % b || s.d[3] % b))
    return arena_printf(&g->arena, "%s is not divisible by the block %lld", shape_str(&g->arena, s), (long long)b);
  if (to_space)
    s.d[1] /= b * b, s.d[2] *= b, s.d[3] *= b;
  else
    s.d[1] *= b * b, s.d[2] /= b, s.d[3] /= b;
  return set_out(n, 0, n->in[0]->dtype, s);
}

const char *depth_to_space_infer(Graph *g, Node *n) { return block_infer(g, n, true); }
const char *space_to_depth_infer(Graph *g, Node *n) { return block_infer(g, n, false); }

/* Flat index in the deep tensor `d` of the shallow pixel (nn, c, y, x). */
static int64_t deep_index(Shape d, int64_t b, bool crd, int64_t nn, int64_t c, int64_t y, int64_t x) {
  int64_t cs = d.d[1] / (b * b), i = y % b, j = x % b;
  int64_t ch = crd ? c * b * b + i * b + j : (i * b + j) * cs + c;
  return ((nn * d.d[1] + ch) * d.d[2] + y / b) * d.d[3] + x / b;
}

static void block_eval(Node *n, Tensor *deep, Tensor *shallow, bool to_space) {
  int64_t b = node_int(n, "blocksize", 1), c[4];
  for (int64_t i = 0; i < shallow->numel; i++) {
    unravel(shallow->shape, i, c);
    int64_t k = deep_index(deep->shape, b, d2s_crd(n), c[0], c[1], c[2], c[3]);
    if (to_space)
      tensor_set(shallow, i, tensor_get(deep, k));
    else
      tensor_set(deep, k, tensor_get(shallow, i));
  }
}

void depth_to_space_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx;
  block_eval(n, in[0], out[0], true);
}
void space_to_depth_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx;
  block_eval(n, out[0], in[0], false);
}

static Value *block_op(Graph *g, OpKind op, Value *x, const Node *like) {
  Node *k = build_node(g, op, 1, &x);
  node_copy_attrs(g, k, like);
  return build_finish(g, k);
}

void depth_to_space_grad(Graph *g, Node *n, Value **dy, Value **dx) {
  dx[0] = block_op(g, OP_SPACE_TO_DEPTH, dy[0], n);
}
void space_to_depth_grad(Graph *g, Node *n, Value **dy, Value **dx) {
  dx[0] = block_op(g, OP_DEPTH_TO_SPACE, dy[0], n);
}

/* The shallow tensor as [N, C', H, b, W, b] over the deep one. */
static void block_emit(Emit *e, Node *n, Value *deep, Value *shallow, bool to_space) {
  int64_t b = node_int(n, "blocksize", 1);
  Shape d = deep->shape;
  Lin st[4];
  view_strides(d, st);
  int64_t cs = d.d[1] / (b * b), hw = d.d[2] * d.d[3];
  bool crd = d2s_crd(n);
  View v = {6,
            {d.d[0], cs, d.d[2], b, d.d[3], b},
            {st[0],
             {crd ? b * b * hw : hw, 0},
             {d.d[3], 0},
             {crd ? b * hw : b * cs * hw, 0},
             {1, 0},
             {crd ? hw : cs * hw, 0}},
            {0, 0}};
  emit_view_copy(e, shallow, deep, &v, !to_space);
}

void depth_to_space_emit(Emit *e, Node *n) { block_emit(e, n, n->in[0], n->out[0], true); }
void space_to_depth_emit(Emit *e, Node *n) { block_emit(e, n, n->out[0], n->in[0], false); }

/* ---- trilu(x; upper=1, k=0): keeps the upper (j - i >= k) or lower (j - i <= k)
 * triangle of each matrix in the last two axes, zeroes the rest ---- */

const char *trilu_infer(Graph *g, Node *n) {
  (void)g;
  if (n->in[0]->shape.rank < 2) return "trilu needs a tensor of rank 2 or more";
  return set_out(n, 0, n->in[0]->dtype, n->in[0]->shape);
}

void trilu_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx;
  int r = in[0]->shape.rank;
  int64_t rows = in[0]->shape.d[r - 2], cols = in[0]->shape.d[r - 1], k = node_int(n, "k", 0);
  bool upper = node_int(n, "upper", 1) != 0;
  for (int64_t i = 0; i < out[0]->numel; i++) {
    int64_t col = i % cols, row = cols ? i / cols % rows : 0;
    bool keep = upper ? col - row >= k : col - row <= k;
    tensor_set(out[0], i, keep ? tensor_get(in[0], i) : 0);
  }
}

void trilu_grad(Graph *g, Node *n, Value **dy, Value **dx) { dx[0] = block_op(g, OP_TRILU, dy[0], n); }

void trilu_emit(Emit *e, Node *n) {
  Value *x = n->in[0], *y = n->out[0];
  int r = x->shape.rank;
  long long k = (long long)node_int(n, "k", 0);
  emit_open(e, "for (size_t i = 0; i < %s; i++)", emit_numel_range(e, x, 0, r - 2));
  emit_open(e, "for (ptrdiff_t p = 0; p < %s; p++)", emit_dim(e, x, r - 2));
  emit_open(e, "for (ptrdiff_t q = 0; q < %s; q++)", emit_dim(e, x, r - 1));
  emit_line(e, "size_t j = (i * %s + (size_t)p) * %s + (size_t)q;", emit_dim(e, x, r - 2), emit_dim(e, x, r - 1));
  emit_line(e, "%s[j] = q - p %s %lld ? %s[j] : 0;", emit_ref(e, y), node_int(n, "upper", 1) ? ">=" : "<=", k,
            emit_ref(e, x));
  emit_close(e);
  emit_close(e);
  emit_close(e);
}

/* ---- pad(x; pads, mode=constant|reflect|edge, constant_value=0, axes):
 * pads = [begin of each axis..., end of each axis...] over `axes` (default
 * all); negative pads crop. pad_grad(dy; the same attributes, shape=x's)
 * adds each dy element into the x element it was read from. ---- */

typedef struct {
  int rank;
  int64_t lo[MAX_RANK], hi[MAX_RANK], dim[MAX_RANK]; /* dim: x's extents */
  int mode;                                          /* 0 constant, 1 reflect, 2 edge */
  double value;
} PadSpec;

static const char *pad_spec(Graph *g, const Node *n, Shape x, PadSpec *p) {
  int64_t pads[2 * MAX_RANK], axes[MAX_RANK];
  int na = attr_ints(n, "axes", axes, MAX_RANK);
  if (na < 0)
    for (na = 0; na < x.rank; na++)
      axes[na] = na;
  int np = attr_ints(n, "pads", pads, 2 * MAX_RANK);
  const char *m = node_string(n, "mode", "constant");
  *p = (PadSpec){x.rank, {0}, {0},
                 {0},    0,   node_float(n, "constant_value", node_float(n, "value", 0))}; /* value: opset < 11 */
  p->mode = !strcmp(m, "constant") ? 0 : !strcmp(m, "reflect") ? 1 : !strcmp(m, "edge") ? 2 : -1;
  if (p->mode < 0) return arena_printf(&g->arena, "unknown pad mode '%s'", m);
  if (np != 2 * na) return "pads needs two entries (begin, end) per padded axis";
  for (int i = 0; i < x.rank; i++)
    p->dim[i] = x.d[i];
  for (int i = 0; i < na; i++) {
    int a = normalize_axis(axes[i], x.rank);
    if (a < 0) return "pad axis out of range";
    p->lo[a] = pads[i], p->hi[a] = pads[na + i];
    int64_t d = x.d[a], o = d + p->lo[a] + p->hi[a];
    if ((p->lo[a] || p->hi[a]) && d == DIM_BATCH) return "cannot pad along the batch dimension";
    if (d != DIM_BATCH && o < 0) return "pads crop more than the extent";
    if (p->mode && (p->lo[a] > 0 || p->hi[a] > 0) && (d == 0 || (p->mode == 1 && (p->lo[a] >= d || p->hi[a] >= d))))
      return arena_printf(&g->arena, "%s padding of axis %d (extent %lld) by %lld, %lld", m, a, (long long)d,
                          (long long)p->lo[a], (long long)p->hi[a]);
  }
  return NULL;
}

const char *pad_infer(Graph *g, Node *n) {
  PadSpec p;
  Shape s = n->in[0]->shape;
  const char *err = pad_spec(g, n, s, &p);
  if (err) return err;
  for (int i = 0; i < s.rank; i++)
    if (s.d[i] != DIM_BATCH) s.d[i] += p.lo[i] + p.hi[i];
  return set_out(n, 0, n->in[0]->dtype, s);
}

/* Source coordinate of output coordinate c along axis a, or -1 for the constant. */
static int64_t pad_source(const PadSpec *p, int a, int64_t c, int64_t dim) {
  int64_t x = c - p->lo[a];
  if (x >= 0 && x < dim) return x;
  if (p->mode == 0) return -1;
  if (p->mode == 2) return x < 0 ? 0 : dim - 1;
  return x < 0 ? -x : 2 * (dim - 1) - x;
}

static void pad_run(Node *n, Tensor *x, Tensor *y, bool grad) {
  PadSpec p;
  NN2C_ASSERT(!pad_spec(NULL, n, x->shape, &p));
  int64_t c[MAX_RANK];
  if (grad)
    for (int64_t i = 0; i < x->numel; i++)
      tensor_set(x, i, 0);
  for (int64_t i = 0; i < y->numel; i++) {
    unravel(y->shape, i, c);
    bool inside = true;
    for (int a = 0; a < y->shape.rank && inside; a++)
      inside = (c[a] = pad_source(&p, a, c[a], x->shape.d[a])) >= 0;
    int64_t k = inside ? ravel(x->shape, c) : 0;
    if (!grad)
      tensor_set(y, i, inside ? tensor_get(x, k) : p.value);
    else if (inside)
      tensor_set(x, k, tensor_get(x, k) + tensor_get(y, i));
  }
}

void pad_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx;
  pad_run(n, in[0], out[0], false);
}

void pad_grad(Graph *g, Node *n, Value **dy, Value **dx) {
  PadSpec p;
  Shape x = n->in[0]->shape;
  NN2C_ASSERT(!pad_spec(g, n, x, &p));
  if (p.mode == 0) { /* cropping by the same pads undoes a constant pad */
    int64_t neg[2 * MAX_RANK];
    for (int i = 0; i < x.rank; i++)
      neg[i] = -p.lo[i], neg[x.rank + i] = -p.hi[i];
    Node *k = build_node(g, OP_PAD, 1, dy);
    node_set_ints(g, k, "pads", neg, 2 * x.rank);
    dx[0] = build_finish(g, k);
    return;
  }
  Node *k = build_node(g, OP_PAD_GRAD, 1, dy);
  node_copy_attrs(g, k, n);
  node_set_ints(g, k, "shape", x.d, x.rank);
  dx[0] = build_finish(g, k);
}

/* for each output element q: its source p in x, or keep = 0 for the constant */
static void pad_emit_loop(Emit *e, Node *n, Value *x, Value *y, bool grad) {
  PadSpec p;
  NN2C_ASSERT(!pad_spec(e->g, n, x->shape, &p));
  const char *X = emit_ref(e, x), *Y = emit_ref(e, y);
  Lin st[MAX_RANK];
  view_strides(x->shape, st);
  emit_open(e, "for (size_t q = 0; q < %s; q++)", emit_numel(e, y));
  emit_line(e, "size_t r = q;");
  emit_line(e, "ptrdiff_t p = 0, c;");
  emit_line(e, "int keep = 1;");
  for (int a = x->shape.rank - 1; a >= 0; a--) {
    const char *yd = emit_dim(e, y, a), *xd = emit_dim(e, x, a);
    emit_line(e, "c = (ptrdiff_t)(r %% %s) - %lld;", yd, (long long)p.lo[a]);
    emit_line(e, "r /= %s;", yd);
    if (p.mode == 0)
      emit_line(e, "if (c < 0 || c >= (ptrdiff_t)%s) keep = 0;", xd);
    else if (p.mode == 2)
      emit_line(e, "c = c < 0 ? 0 : c >= (ptrdiff_t)%s ? (ptrdiff_t)%s - 1 : c;", xd, xd);
    else
      emit_line(e, "c = c < 0 ? -c : c >= (ptrdiff_t)%s ? 2 * ((ptrdiff_t)%s - 1) - c : c;", xd, xd);
    Lin s = st[a];
    emit_line(e, "p += c * (%lld + (ptrdiff_t)B * %lld);", (long long)s.c, (long long)s.cb);
  }
  if (grad)
    emit_line(e, "if (keep) %s[p] += %s[q];", X, Y);
  else if (isinf(p.value))
    emit_line(e, "%s[q] = keep ? %s[p] : (%s)%sINFINITY;", Y, X, emit_ctype(y->dtype), p.value < 0 ? "-" : "");
  else
    emit_line(e, "%s[q] = keep ? %s[p] : (%s)%.17g;", Y, X, emit_ctype(y->dtype), p.value);
  emit_close(e);
}

void pad_emit(Emit *e, Node *n) { pad_emit_loop(e, n, n->in[0], n->out[0], false); }

const char *pad_grad_infer(Graph *g, Node *n) {
  int64_t d[MAX_RANK];
  int r = attr_ints(n, "shape", d, MAX_RANK);
  if (r < 0) return "pad_grad needs shape=[...]";
  (void)g;
  return set_out(n, 0, n->in[0]->dtype, shape_make(r, d));
}

void pad_grad_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx;
  pad_run(n, out[0], in[0], true);
}
void pad_grad_grad(Graph *g, Node *n, Value **dy, Value **dx) { (void)g, (void)n, (void)dy, (void)dx; }

void pad_grad_emit(Emit *e, Node *n) {
  emit_line(e, "memset(%s, 0, sizeof(%s) * %s);", emit_ref(e, n->out[0]), emit_ctype(n->out[0]->dtype),
            emit_numel(e, n->out[0]));
  pad_emit_loop(e, n, n->out[0], n->in[0], true);
}

/* ---- split(x; axis=0, split=[...] or num_outputs): consecutive parts along
 * the axis, one per output; without `split` the parts are equal (the last
 * one smaller when the extent does not divide) ---- */

static int split_axis(const Node *n) { return normalize_axis(node_int(n, "axis", 0), n->in[0]->shape.rank); }

static const char *split_sizes(Graph *g, const Node *n, int64_t *len) {
  int ax = split_axis(n);
  if (ax < 0) return "axis out of range";
  int64_t d = n->in[0]->shape.d[ax], sum = 0;
  if (d == DIM_BATCH) return "cannot split along the batch dimension";
  int ns = attr_ints(n, "split", len, 16);
  if (ns < 0) {
    int64_t part = (d + n->nout - 1) / n->nout;
    for (int k = 0; k < n->nout; k++)
      len[k] = d - sum < part ? d - sum : part, sum += len[k];
    ns = n->nout;
  }
  sum = 0;
  for (int k = 0; k < ns; k++)
    sum += len[k] < 0 ? d + 1 : len[k];
  if (ns != n->nout || sum != d)
    return g ? arena_printf(&g->arena, "split sizes do not add up to extent %lld in %d parts", (long long)d, n->nout)
             : "";
  return NULL;
}

const char *split_infer(Graph *g, Node *n) {
  int64_t len[16];
  const char *err = split_sizes(g, n, len);
  if (err) return err;
  for (int k = 0; k < n->nout; k++) {
    Shape s = n->in[0]->shape;
    s.d[split_axis(n)] = len[k];
    set_out(n, k, n->in[0]->dtype, s);
  }
  return NULL;
}

void split_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx;
  int ax = split_axis(n);
  int64_t len[16], off = 0, c[MAX_RANK];
  NN2C_ASSERT(!split_sizes(NULL, n, len));
  for (int k = 0; k < n->nout; k++) {
    for (int64_t i = 0; i < out[k]->numel; i++) {
      unravel(out[k]->shape, i, c);
      c[ax] += off;
      tensor_set(out[k], i, tensor_get(in[0], ravel(in[0]->shape, c)));
    }
    off += len[k];
  }
}

void split_grad(Graph *g, Node *n, Value **dy, Value **dx) {
  Value *parts[16];
  for (int k = 0; k < n->nout; k++) {
    parts[k] = dy[k];
    if (parts[k]) continue;
    Value *z = build_scalar(g, n->in[0]->dtype, 0.0);
    Node *e = build_node(g, OP_EXPAND, 1, &z);
    node_set_ints(g, e, "shape", n->out[k]->shape.d, n->out[k]->shape.rank);
    parts[k] = build_finish(g, e);
  }
  Node *c = build_node(g, OP_CONCAT, n->nout, parts);
  node_set_int(g, c, "axis", split_axis(n));
  dx[0] = build_finish(g, c);
}

void split_emit(Emit *e, Node *n) {
  Value *x = n->in[0];
  int ax = split_axis(n);
  Lin st[MAX_RANK];
  view_strides(x->shape, st);
  int64_t off = 0;
  for (int k = 0; k < n->nout; k++) {
    Value *y = n->out[k];
    View v = {y->shape.rank, {0}, {{0, 0}}, {off * st[ax].c, off * st[ax].cb}};
    for (int i = 0; i < v.rank; i++)
      v.dim[i] = y->shape.d[i], v.stride[i] = st[i];
    emit_view_copy(e, y, x, &v, false);
    off += y->shape.d[ax];
  }
}
