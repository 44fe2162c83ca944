/* rnn.c - the ops recurrent models are unrolled into (compiler/rnn.c):
 *   embedding(ids, w)         rows of w picked by integer ids held in floats
 *   embedding_grad(ids, dy)   their gradient: dy rows scatter-added into [V,D]
 *   unstack(x; axis)          x.shape[axis] outputs, each x with that axis cut out
 *   stack(x0, x1, ...; axis)  the inverse: a new axis of extent nin
 * unstack and stack are each other's gradient, so a time step read from a
 * sequence costs one copy forward and one backward (slice would pad every
 * step's gradient to the whole sequence). */
#include "op.h"

#include <string.h>

/* ---- embedding: ids [...] (float holding integers) x w [V,D] -> [..., D] ---- */

const char *embedding_infer(Graph *g, Node *n) {
  Value *ids = n->in[0], *w = n->in[1];
  if (w->shape.rank != 2 || shape_has_batch(w->shape) || !dtype_is_float(w->dtype))
    return arena_printf(&g->arena, "embedding needs a float [V,D] weight, got %s", shape_str(&g->arena, w->shape));
  if (ids->shape.rank + 1 > MAX_RANK) return "embedding ids have too many dimensions";
  Shape s = ids->shape;
  s.d[s.rank++] = w->shape.d[1];
  n->out[0]->dtype = w->dtype;
  n->out[0]->shape = s;
  return NULL;
}

/* The row an id selects, or -1 when it is outside [0, V) (NaN included). */
static int64_t id_row(double v, int64_t vocab) { return v >= 0 && v < (double)vocab ? (int64_t)v : -1; }

void embedding_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)n;
  int64_t vocab = in[1]->shape.d[0], dim = in[1]->shape.d[1];
  for (int64_t i = 0; i < in[0]->numel; i++) {
    int64_t r = id_row(tensor_get(in[0], i), vocab);
    if (r < 0) {
      cx->error = "embedding: an id is outside [0, vocabulary size)";
      return;
    }
    for (int64_t d = 0; d < dim; d++)
      tensor_set(out[0], i * dim + d, tensor_get(in[1], r * dim + d));
  }
}

void embedding_grad(Graph *g, Node *n, Value **dy, Value **dx) {
  Value *in[2] = {n->in[0], dy[0]};
  Node *s = build_node(g, OP_EMBEDDING_GRAD, 2, in);
  node_set_int(g, s, "vocab", n->in[1]->shape.d[0]);
  node_set_int(g, s, "mask_zero", node_int(n, "mask_zero", 0));
  dx[1] = build_finish(g, s);
}

/* Out-of-range ids make the step return status 2 before anything is written
 * back (parameters change only at the end of a step). */
void embedding_emit(Emit *e, Node *n) {
  Value *ids = n->in[0], *w = n->in[1];
  long long vocab = (long long)w->shape.d[0], dim = (long long)w->shape.d[1];
  emit_open(e, "for (size_t i = 0; i < %s; i++)", emit_numel(e, ids));
  emit_line(e, "const %s v = %s[i];", emit_ctype(ids->dtype), emit_ref(e, ids));
  emit_line(e, "if (!(v >= 0 && v < %lld)) return 2; /* id outside the vocabulary */", vocab);
  emit_line(e, "memcpy(%s + i * %lld, %s + (size_t)v * %lld, sizeof(%s) * %lld);", emit_ref(e, n->out[0]), dim,
            emit_ref(e, w), dim, emit_ctype(w->dtype), dim);
  emit_close(e);
}

/* ---- embedding_grad(ids, dy; vocab, mask_zero) -> [vocab, D] ---- */

const char *embedding_grad_infer(Graph *g, Node *n) {
  Value *ids = n->in[0], *dy = n->in[1];
  int64_t vocab = node_int(n, "vocab", 0);
  if (vocab < 1) return "embedding_grad needs vocab >= 1";
  if (dy->shape.rank != ids->shape.rank + 1)
    return arena_printf(&g->arena, "embedding_grad: dy %s does not match ids %s", shape_str(&g->arena, dy->shape),
                        shape_str(&g->arena, ids->shape));
  n->out[0]->dtype = dy->dtype;
  n->out[0]->shape = shape_make(2, (int64_t[]){vocab, dy->shape.d[dy->shape.rank - 1]});
  return NULL;
}

void embedding_grad_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  int64_t vocab = out[0]->shape.d[0], dim = out[0]->shape.d[1];
  bool mask = node_int(n, "mask_zero", 0) != 0;
  double *acc = xcalloc((size_t)(vocab * dim) + 1, sizeof(double));
  for (int64_t i = 0; i < in[0]->numel; i++) {
    int64_t r = id_row(tensor_get(in[0], i), vocab);
    if (r < 0) cx->error = "embedding_grad: an id is outside [0, vocabulary size)";
    if (r < 0 || (mask && r == 0)) continue;
    for (int64_t d = 0; d < dim; d++)
      acc[r * dim + d] += tensor_get(in[1], i * dim + d);
  }
  for (int64_t j = 0; j < vocab * dim; j++)
    tensor_set(out[0], j, acc[j]);
  free(acc);
}

void embedding_grad_grad(Graph *g, Node *n, Value **dy, Value **dx) {
  (void)g, (void)n, (void)dy, (void)dx;
  NN2C_ASSERT(!"embedding_grad has no gradient");
}

void embedding_grad_emit(Emit *e, Node *n) {
  Value *ids = n->in[0], *dy = n->in[1], *o = n->out[0];
  long long vocab = (long long)o->shape.d[0], dim = (long long)o->shape.d[1];
  const char *ty = emit_ctype(o->dtype);
  emit_line(e, "memset(%s, 0, sizeof(%s) * %lld);", emit_ref(e, o), ty, vocab * dim);
  emit_open(e, "for (size_t i = 0; i < %s; i++)", emit_numel(e, ids));
  emit_line(e, "const %s v = %s[i];", emit_ctype(ids->dtype), emit_ref(e, ids));
  emit_line(e, "if (!(v >= %d && v < %lld)) continue; /* %s */", node_int(n, "mask_zero", 0) ? 1 : 0, vocab,
            node_int(n, "mask_zero", 0) ? "id 0 is padding: no gradient" : "checked by the forward pass");
  emit_line(e, "%s *dst = %s + (size_t)v * %lld;", ty, emit_ref(e, o), dim);
  emit_line(e, "const %s *src = %s + i * %lld;", ty, emit_ref(e, dy), dim);
  emit_line(e, "for (size_t k = 0; k < %lld; k++) dst[k] += src[k];", dim);
  emit_close(e);
}

/* ---- unstack / stack: both views are [outer, extent, inner] ---- */

static int64_t span(Shape s, int from, int to) { /* product of static dims; N counts 1 */
  int64_t r = 1;
  for (int i = from; i < to; i++)
    r *= s.d[i] == DIM_BATCH ? 1 : s.d[i];
  return r;
}

static int stack_axis(const Node *n, int rank) { return normalize_axis(node_int(n, "axis", 0), rank); }

const char *unstack_infer(Graph *g, Node *n) {
  Shape s = n->in[0]->shape;
  int ax = stack_axis(n, s.rank);
  if (ax < 0) return arena_printf(&g->arena, "axis %lld out of range", (long long)node_int(n, "axis", 0));
  if (s.d[ax] != n->nout)
    return arena_printf(&g->arena, "unstack of extent %lld has %d outputs", (long long)s.d[ax], n->nout);
  Shape o = s;
  o.rank--;
  for (int i = ax; i < o.rank; i++)
    o.d[i] = s.d[i + 1];
  for (int k = 0; k < n->nout; k++) {
    n->out[k]->dtype = n->in[0]->dtype;
    n->out[k]->shape = o;
  }
  return NULL;
}

/* Copies part k of every outer row between the whole (x) and the part. */
static void move_parts(Tensor *whole, Tensor **parts, int np, int ax, bool to_parts) {
  int64_t inner = span(whole->shape, ax + 1, whole->shape.rank);
  int64_t outer = whole->numel / (inner * np);
  for (int64_t o = 0; o < outer; o++)
    for (int k = 0; k < np; k++)
      for (int64_t j = 0; j < inner; j++) {
        int64_t wi = (o * np + k) * inner + j, pi = o * inner + j;
        if (to_parts)
          tensor_set(parts[k], pi, tensor_get(whole, wi));
        else
          tensor_set(whole, wi, tensor_get(parts[k], pi));
      }
}

void unstack_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx;
  move_parts(in[0], out, n->nout, stack_axis(n, in[0]->shape.rank), true);
}

static Value *zeros_of(Graph *g, Value *like) {
  Value *z = build_scalar(g, like->dtype, 0.0);
  Node *e = build_node(g, OP_EXPAND, 1, &z);
  node_set_ints(g, e, "shape", like->shape.d, like->shape.rank);
  return build_finish(g, e);
}

void unstack_grad(Graph *g, Node *n, Value **dy, Value **dx) {
  Value **parts = arena_alloc(&g->arena, sizeof(Value *) * (size_t)n->nout);
  for (int k = 0; k < n->nout; k++)
    parts[k] = dy[k] ? dy[k] : zeros_of(g, n->out[k]);
  Node *s = build_node(g, OP_STACK, n->nout, parts);
  node_set_int(g, s, "axis", stack_axis(n, n->in[0]->shape.rank));
  dx[0] = build_finish(g, s);
}

/* One memcpy per outer row and part; a batch axis before `axis` is a loop over B. */
static void emit_parts(Emit *e, Value *whole, Value **parts, int np, int ax, bool to_parts) {
  const char *outer = emit_numel_range(e, whole, 0, ax), *ty = emit_ctype(whole->dtype);
  const char *inner = emit_numel_range(e, whole, ax + 1, whole->shape.rank); /* N may be inside: [T,N,C] */
  emit_open(e, "for (size_t i = 0; i < %s; i++)", outer);
  for (int k = 0; k < np; k++) {
    const char *w = arena_printf(&e->g->arena, "%s + (i * %d + %d) * %s", emit_ref(e, whole), np, k, inner);
    const char *p = arena_printf(&e->g->arena, "%s + i * %s", emit_ref(e, parts[k]), inner);
    emit_line(e, "memcpy(%s, %s, sizeof(%s) * %s);", to_parts ? p : w, to_parts ? w : p, ty, inner);
  }
  emit_close(e);
}

void unstack_emit(Emit *e, Node *n) {
  emit_parts(e, n->in[0], n->out, n->nout, stack_axis(n, n->in[0]->shape.rank), true);
}

const char *stack_infer(Graph *g, Node *n) {
  Shape s = n->in[0]->shape;
  int ax = stack_axis(n, s.rank + 1);
  if (ax < 0 || s.rank + 1 > MAX_RANK)
    return arena_printf(&g->arena, "axis %lld out of range", (long long)node_int(n, "axis", 0));
  for (int k = 1; k < n->nin; k++)
    if (!shape_eq(n->in[k]->shape, s) || n->in[k]->dtype != n->in[0]->dtype)
      return arena_printf(&g->arena, "stack input %d is %s, input 0 is %s", k, shape_str(&g->arena, n->in[k]->shape),
                          shape_str(&g->arena, s));
  Shape o = s;
  o.rank++;
  for (int i = o.rank - 1; i > ax; i--)
    o.d[i] = s.d[i - 1];
  o.d[ax] = n->nin;
  n->out[0]->dtype = n->in[0]->dtype;
  n->out[0]->shape = o;
  return NULL;
}

void stack_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx;
  move_parts(out[0], in, n->nin, stack_axis(n, out[0]->shape.rank), false);
}

void stack_grad(Graph *g, Node *n, Value **dy, Value **dx) {
  Node *u = node_new(g, OP_UNSTACK, 1, dy, n->nin);
  node_set_int(g, u, "axis", stack_axis(n, n->out[0]->shape.rank));
  build_finish(g, u);
  for (int k = 0; k < n->nin; k++)
    dx[k] = u->out[k];
}

void stack_emit(Emit *e, Node *n) {
  emit_parts(e, n->out[0], n->in, n->nin, stack_axis(n, n->out[0]->shape.rank), false);
}
