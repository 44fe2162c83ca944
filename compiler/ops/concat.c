/* concat.c - concat(x0, x1, ...; axis) joins tensors along an axis;
 * slice(x; starts, ends, axes, steps) cuts a strided box out of one (ONNX
 * Slice; the older slice(x; axis, start, end) form is also read).
 * concat's inputs get slices of dy; a slice's input gets slice_grad(dy), dy
 * written into zeros where the slice read. Concat views tensors as
 * [outer, axis extent * inner] rows, so every copy is a memcpy of a run. */
#include "op.h"

#include <string.h>

static int concat_axis(const Node *n) { return normalize_axis(node_int(n, "axis", 0), n->in[0]->shape.rank); }

const char *concat_infer(Graph *g, Node *n) {
  Shape s = n->in[0]->shape;
  int ax = concat_axis(n);
  if (ax < 0) return arena_printf(&g->arena, "axis %lld out of range", (long long)node_int(n, "axis", 0));
  if (s.d[ax] == DIM_BATCH) return "cannot concatenate along the batch dimension";
  for (int k = 1; k < n->nin; k++) {
    Shape t = n->in[k]->shape;
    bool ok = t.rank == s.rank && n->in[k]->dtype == n->in[0]->dtype;
    for (int i = 0; i < s.rank && ok; i++)
      ok = i == ax || t.d[i] == n->in[0]->shape.d[i];
    if (!ok)
      return arena_printf(&g->arena, "input %d (%s%s) does not match input 0 (%s%s) outside axis %d", k,
                          dtype_name(n->in[k]->dtype), shape_str(&g->arena, t), dtype_name(n->in[0]->dtype),
                          shape_str(&g->arena, n->in[0]->shape), ax);
    s.d[ax] += t.d[ax];
  }
  n->out[0]->dtype = n->in[0]->dtype;
  n->out[0]->shape = s;
  return NULL;
}

/* Elements per row of the [outer, row] view: the extent along axis times the inner size. */
static int64_t row_elems(const Tensor *t, int ax) {
  int64_t r = 1;
  for (int i = ax; i < t->shape.rank; i++)
    r *= t->shape.d[i];
  return r;
}

void concat_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx;
  int ax = concat_axis(n);
  int64_t orow = row_elems(out[0], ax), outer = out[0]->numel / (orow ? orow : 1), off = 0;
  for (int k = 0; k < n->nin; k++) {
    int64_t r = row_elems(in[k], ax);
    for (int64_t o = 0; o < outer; o++)
      for (int64_t j = 0; j < r; j++)
        tensor_set(out[0], o * orow + off + j, tensor_get(in[k], o * r + j));
    off += r;
  }
}

static Value *slice_of(Graph *g, Value *x, int ax, int64_t start, int64_t end) {
  Node *s = build_node(g, OP_SLICE, 1, &x);
  node_set_int(g, s, "axis", ax);
  node_set_int(g, s, "start", start);
  node_set_int(g, s, "end", end);
  return build_finish(g, s);
}

void concat_grad(Graph *g, Node *n, Value **dy, Value **dx) {
  int ax = concat_axis(n);
  int64_t off = 0;
  for (int k = 0; k < n->nin; k++) {
    int64_t len = n->in[k]->shape.d[ax];
    dx[k] = slice_of(g, dy[0], ax, off, off + len);
    off += len;
  }
}

/* Elements of one step along the axis (product of the dims after it). */
static int64_t inner_of(Shape s, int ax) {
  int64_t r = 1;
  for (int i = ax + 1; i < s.rank; i++)
    r *= s.d[i];
  return r;
}

/* The C expression for the elements before `ax` (outer rows). */
static char *outer_count(Emit *e, Value *v, int ax) { return emit_numel_range(e, v, 0, ax); }

void concat_emit(Emit *e, Node *n) {
  Value *o = n->out[0];
  int ax = concat_axis(n);
  const char *ty = emit_ctype(o->dtype), *orow = emit_numel_range(e, o, ax, o->shape.rank);
  emit_open(e, "for (size_t i = 0; i < %s; i++)", outer_count(e, o, ax));
  int64_t off = 0;
  for (int k = 0; k < n->nin; k++) {
    Value *x = n->in[k];
    const char *r = emit_numel_range(e, x, ax, x->shape.rank);
    emit_line(e, "memcpy(%s + i * %s + %lld, %s + i * %s, sizeof(%s) * %s);", emit_ref(e, o), orow, (long long)off,
              emit_ref(e, x), r, ty, r);
    off += inner_of(x->shape, ax) * x->shape.d[ax];
  }
  emit_close(e);
}

/* ---- slice ---- */

/* Per axis of x: first element, step and count (ONNX clamping rules). */
typedef struct {
  int64_t start[MAX_RANK], step[MAX_RANK], len[MAX_RANK];
} SliceSpec;

static const char *slice_spec(Graph *g, const Node *n, Shape x, SliceSpec *sp) {
  int64_t st[MAX_RANK], en[MAX_RANK], ax[MAX_RANK], steps[MAX_RANK];
  int ns = attr_ints(n, "starts", st, MAX_RANK), ne = attr_ints(n, "ends", en, MAX_RANK), na, nt;
  if (ns < 0) { /* the single-axis form */
    ns = ne = na = 1;
    st[0] = node_int(n, "start", 0), en[0] = node_int(n, "end", INT64_MAX), ax[0] = node_int(n, "axis", 0);
  } else if ((na = attr_ints(n, "axes", ax, MAX_RANK)) < 0)
    for (na = 0; na < ns; na++)
      ax[na] = na;
  if ((nt = attr_ints(n, "steps", steps, MAX_RANK)) < 0)
    for (nt = 0; nt < ns; nt++)
      steps[nt] = 1;
  if (ns != ne || ns != na || ns != nt) return "starts, ends, axes and steps differ in length";
  for (int i = 0; i < x.rank; i++)
    sp->start[i] = 0, sp->step[i] = 1, sp->len[i] = x.d[i];
  bool seen[MAX_RANK] = {0};
  for (int i = 0; i < ns; i++) {
    int a = normalize_axis(ax[i], x.rank);
    if (a < 0 || seen[a]) return "slice axis out of range or repeated";
    seen[a] = true;
    int64_t d = x.d[a], s = st[i], e = en[i], t = steps[i];
    if (t == 0) return "slice step 0";
    if (d == DIM_BATCH) {
      if (s == 0 && e >= INT64_MAX / 2 && t == 1) continue;
      return "cannot slice along the batch dimension";
    }
    if (s < 0) s += d;
    if (e < 0) e += d;
    int64_t lo = t > 0 ? 0 : -1, hi = t > 0 ? d : d - 1;
    s = s > hi ? hi : s < 0 ? 0 : s;
    e = e < lo ? lo : e > hi ? hi : e;
    int64_t len = t > 0 ? (e - s + t - 1) / t : (s - e - t - 1) / -t;
    sp->start[a] = s, sp->step[a] = t, sp->len[a] = len > 0 ? len : 0;
  }
  (void)g;
  return NULL;
}

static const char *slice_shape(Graph *g, const Node *n, Shape x, Shape *out, SliceSpec *sp) {
  const char *err = slice_spec(g, n, x, sp);
  *out = x;
  for (int i = 0; !err && i < x.rank; i++)
    out->d[i] = sp->len[i];
  return err;
}

const char *slice_infer(Graph *g, Node *n) {
  SliceSpec sp;
  const char *err = slice_shape(g, n, n->in[0]->shape, &n->out[0]->shape, &sp);
  n->out[0]->dtype = n->in[0]->dtype;
  return err;
}

/* Copies between x and the slice y (into y, or with `back` into x). */
static void slice_run(const Node *n, Tensor *x, Tensor *y, bool back) {
  SliceSpec sp;
  Shape s;
  NN2C_ASSERT(!slice_shape(NULL, n, x->shape, &s, &sp));
  for (int64_t i = 0; i < y->numel; i++) {
    int64_t r = i, k = 0, stride = 1;
    for (int a = y->shape.rank - 1; a >= 0; a--) {
      int64_t c = r % y->shape.d[a];
      r /= y->shape.d[a];
      k += (sp.start[a] + c * sp.step[a]) * stride;
      stride *= x->shape.d[a];
    }
    if (back)
      tensor_set(x, k, tensor_get(y, i));
    else
      tensor_set(y, i, tensor_get(x, k));
  }
}

void slice_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx;
  slice_run(n, in[0], out[0], false);
}

void slice_grad(Graph *g, Node *n, Value **dy, Value **dx) {
  Node *k = build_node(g, OP_SLICE_GRAD, 1, dy);
  node_copy_attrs(g, k, n);
  node_set_ints(g, k, "shape", n->in[0]->shape.d, n->in[0]->shape.rank);
  dx[0] = build_finish(g, k);
}

static void slice_view(Shape x, const SliceSpec *sp, Shape y, View *v) {
  Lin st[MAX_RANK];
  view_strides(x, st);
  *v = (View){y.rank, {0}, {{0, 0}}, {0, 0}};
  for (int i = 0; i < y.rank; i++) {
    v->dim[i] = y.d[i];
    v->stride[i] = (Lin){st[i].c * sp->step[i], st[i].cb * sp->step[i]};
    v->offset.c += sp->start[i] * st[i].c, v->offset.cb += sp->start[i] * st[i].cb;
  }
}

void slice_emit(Emit *e, Node *n) {
  SliceSpec sp;
  Shape s;
  View v;
  NN2C_ASSERT(!slice_shape(e->g, n, n->in[0]->shape, &s, &sp));
  slice_view(n->in[0]->shape, &sp, s, &v);
  emit_view_copy(e, n->out[0], n->in[0], &v, false);
}

/* ---- slice_grad(dy; the slice's attributes, shape=x's shape) ---- */

static Shape grad_shape(const Node *n) {
  int64_t d[MAX_RANK];
  int r = attr_ints(n, "shape", d, MAX_RANK);
  return r < 0 ? shape_scalar() : shape_make(r, d);
}

const char *slice_grad_infer(Graph *g, Node *n) {
  SliceSpec sp;
  Shape x = grad_shape(n), y;
  const char *err = slice_shape(g, n, x, &y, &sp);
  if (!err && !shape_eq(y, n->in[0]->shape)) err = "slice_grad: dy does not match the slice of shape";
  n->out[0]->dtype = n->in[0]->dtype;
  n->out[0]->shape = x;
  return err;
}

void slice_grad_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx;
  for (int64_t i = 0; i < out[0]->numel; i++)
    tensor_set(out[0], i, 0);
  slice_run(n, out[0], in[0], true);
}

void slice_grad_grad(Graph *g, Node *n, Value **dy, Value **dx) { (void)g, (void)n, (void)dy, (void)dx; }

void slice_grad_emit(Emit *e, Node *n) {
  SliceSpec sp;
  Shape s;
  View v;
  Value *x = n->out[0];
  NN2C_ASSERT(!slice_shape(e->g, n, x->shape, &s, &sp));
  slice_view(x->shape, &sp, s, &v);
  emit_line(e, "memset(%s, 0, sizeof(%s) * %s);", emit_ref(e, x), emit_ctype(x->dtype), emit_numel(e, x));
  emit_view_copy(e, n->in[0], x, &v, true);
}
