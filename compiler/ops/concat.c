/* concat.c - concat(x0, x1, ...; axis) joins tensors along an axis;
 * slice(x; axis, start, end) cuts [start, end) out of one. Each is the
 * other's gradient: concat's inputs get slices of dy, a slice's input gets
 * dy padded with zeros by a concat. All tensors are viewed as
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
    for (int i = 0; i < s.rank && ok; i++) ok = i == ax || t.d[i] == n->in[0]->shape.d[i];
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
  for (int i = ax; i < t->shape.rank; i++) r *= t->shape.d[i];
  return r;
}

void concat_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx;
  int ax = concat_axis(n);
  int64_t orow = row_elems(out[0], ax), outer = out[0]->numel / (orow ? orow : 1), off = 0;
  for (int k = 0; k < n->nin; k++) {
    int64_t r = row_elems(in[k], ax);
    for (int64_t o = 0; o < outer; o++)
      for (int64_t j = 0; j < r; j++) tensor_set(out[0], o * orow + off + j, tensor_get(in[k], o * r + j));
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
  for (int i = ax + 1; i < s.rank; i++) r *= s.d[i];
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

static int slice_axis(const Node *n) { return normalize_axis(node_int(n, "axis", 0), n->in[0]->shape.rank); }

const char *slice_infer(Graph *g, Node *n) {
  Shape s = n->in[0]->shape;
  int ax = slice_axis(n);
  int64_t start = node_int(n, "start", 0), end = node_int(n, "end", -1);
  if (ax < 0) return arena_printf(&g->arena, "axis %lld out of range", (long long)node_int(n, "axis", 0));
  if (s.d[ax] == DIM_BATCH) return "cannot slice along the batch dimension";
  if (!(0 <= start && start < end && end <= s.d[ax]))
    return arena_printf(&g->arena, "slice [%lld, %lld) out of range for extent %lld", (long long)start,
                        (long long)end, (long long)s.d[ax]);
  s.d[ax] = end - start;
  n->out[0]->dtype = n->in[0]->dtype;
  n->out[0]->shape = s;
  return NULL;
}


void slice_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx;
  int ax = slice_axis(n);
  int64_t inner = inner_of(in[0]->shape, ax), irow = row_elems(in[0], ax), orow = row_elems(out[0], ax);
  int64_t outer = out[0]->numel / (orow ? orow : 1), skip = node_int(n, "start", 0) * inner;
  for (int64_t o = 0; o < outer; o++)
    for (int64_t j = 0; j < orow; j++) tensor_set(out[0], o * orow + j, tensor_get(in[0], o * irow + skip + j));
}

/* dx = concat(zeros before, dy, zeros after) along the axis. */
void slice_grad(Graph *g, Node *n, Value **dy, Value **dx) {
  Value *x = n->in[0], *parts[3];
  int ax = slice_axis(n), np = 0;
  int64_t start = node_int(n, "start", 0), end = node_int(n, "end", -1);
  int64_t lens[3] = {start, 0, x->shape.d[ax] - end};
  for (int k = 0; k < 3; k++) {
    if (k == 1) {
      parts[np++] = dy[0];
      continue;
    }
    if (lens[k] == 0) continue;
    Shape s = x->shape;
    s.d[ax] = lens[k];
    Value *z = build_scalar(g, x->dtype, 0.0);
    Node *e = build_node(g, OP_EXPAND, 1, &z);
    node_set_ints(g, e, "shape", s.d, s.rank);
    parts[np++] = build_finish(g, e);
  }
  if (np == 1) {
    dx[0] = dy[0];
    return;
  }
  Node *c = build_node(g, OP_CONCAT, np, parts);
  node_set_int(g, c, "axis", ax);
  dx[0] = build_finish(g, c);
}

void slice_emit(Emit *e, Node *n) {
  Value *x = n->in[0], *o = n->out[0];
  int ax = slice_axis(n);
  const char *ty = emit_ctype(o->dtype);
  const char *irow = emit_numel_range(e, x, ax, x->shape.rank), *orow = emit_numel_range(e, o, ax, o->shape.rank);
  long long skip = (long long)(node_int(n, "start", 0) * inner_of(x->shape, ax));
  emit_open(e, "for (size_t i = 0; i < %s; i++)", outer_count(e, o, ax));
  emit_line(e, "memcpy(%s + i * %s, %s + i * %s + %lld, sizeof(%s) * %s);", emit_ref(e, o), orow, emit_ref(e, x), irow,
            skip, ty, orow);
  emit_close(e);
}
