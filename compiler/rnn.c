/* rnn.c - recurrent layers (rnn.h) unrolled into ordinary IR ops, shared by
 * the .nn front end (layers.c) and the ONNX importer.
 *
 * Unrolling: the input kernel multiplies every step's input at once (one
 * matmul over [N, T, F], whose gradients are single products over all steps
 * too), cut into steps by one unstack node; each step adds the recurrent
 * product and the bias, cuts the gate blocks apart by reshape + unstack, and
 * runs elementwise chains the fuse pass makes one loop each. Inputs narrower
 * than 16 features are cut into steps first and multiplied step by step: their
 * products cost less than copying [N, G*H] per step out of a joint one (and
 * its gradient back in). The backward pass (BPTT) is what autodiff derives from that;
 * the memory planner keeps each step's gate values until its backward step. */
#include "rnn.h"

#include <string.h>

int rnn_gates(RnnCell cell) { return cell == RNN_LSTM ? 4 : cell == RNN_GRU ? 3 : 1; }

/* Storage position of canonical gate k (LSTM i f c o, GRU z r h). */
static int gate_pos(const RnnSpec *s, int k) {
  static const int onnx_lstm[4] = {0, 2, 3, 1}; /* ONNX stores i o f c */
  return s->cell == RNN_LSTM && s->order == RNN_ONNX ? onnx_lstm[k] : k;
}

static Value *name_step(Graph *g, Value *v, const char *prefix, const char *what, int t) {
  value_set_unique_name(g, v, arena_printf(&g->arena, "%s_%s%d", prefix, what, t));
  return v;
}

static Value *mm(Graph *g, Value *a, Value *b, bool tb) {
  Value *in[2] = {a, b};
  Node *n = build_node(g, OP_MATMUL, 2, in);
  if (tb) node_set_int(g, n, "transb", 1);
  return build_finish(g, n);
}

static Value **unstack(Graph *g, Value *x, int axis) {
  Node *n = node_new(g, OP_UNSTACK, 1, &x, (int)x->shape.d[axis]);
  node_set_int(g, n, "axis", axis);
  build_finish(g, n);
  return n->out;
}

/* [N, G*H] -> G values [N, H] in storage order. */
static Value **split_gates(Graph *g, Value *z, int gates) {
  int64_t h = z->shape.d[1] / gates;
  return unstack(g, build_reshape(g, z, shape_make(3, (int64_t[]){z->shape.d[0], gates, h})), 1);
}

static Value *add(Graph *g, Value *a, Value *b) { return !a ? b : !b ? a : build2(g, OP_ADD, a, b); }

/* Columns (rows when transposed) [from, to) of a kernel, as their own matrix. */
static Value *kernel_block(Graph *g, const RnnSpec *s, Value *k, int64_t from, int64_t to) {
  Node *n = build_node(g, OP_SLICE, 1, &k);
  node_set_int(g, n, "axis", s->transposed ? 0 : 1);
  node_set_int(g, n, "start", from);
  node_set_int(g, n, "end", to);
  return build_finish(g, n);
}

static int64_t rnn_hidden(const RnnSpec *s) { return s->u->shape.d[s->transposed ? 1 : 0]; }

const char *rnn_check(Graph *g, const RnnSpec *s, Value *x) {
  Arena *a = &g->arena;
  int64_t gates = rnn_gates(s->cell), h = rnn_hidden(s);
  int batch_axis = 1 - s->time_axis;
  if (x->shape.rank != 3 || s->time_axis < 0 || s->time_axis > 1 || x->shape.d[s->time_axis] == DIM_BATCH)
    return arena_printf(a, "a recurrent layer needs a sequence input [N,steps,features] (input is %s)",
                        shape_str(a, x->shape));
  (void)batch_axis;
  if (x->shape.d[s->time_axis] == 0) /* nothing to unroll: no h, no stacked output */
    return arena_printf(a, "a recurrent layer needs at least one step (input %s has 0)", shape_str(a, x->shape));
  int64_t f = x->shape.d[2];
  Shape ws = s->transposed ? shape_make(2, (int64_t[]){gates * h, f}) : shape_make(2, (int64_t[]){f, gates * h});
  Shape us = s->transposed ? shape_make(2, (int64_t[]){gates * h, h}) : shape_make(2, (int64_t[]){h, gates * h});
  Shape bs = shape_make(1, (int64_t[]){gates * h});
  if (!shape_eq(s->w->shape, ws) || !shape_eq(s->u->shape, us))
    return arena_printf(a, "recurrent kernels %s and %s do not fit input %s and %lld units", shape_str(a, s->w->shape),
                        shape_str(a, s->u->shape), shape_str(a, x->shape), (long long)h);
  if ((s->b && !shape_eq(s->b->shape, bs)) || (s->rb && !shape_eq(s->rb->shape, bs)))
    return arena_printf(a, "recurrent biases must be %s", shape_str(a, bs));
  return NULL;
}

/* The recurrent state of one layer while unrolling. */
typedef struct {
  Graph *g;
  const RnnSpec *s;
  int64_t h;
  Value *bias;       /* added to x_t W: b (+ rb where it is not kept apart) */
  Value *u_zr, *u_h; /* GRU without reset_after: the recurrent kernel's blocks */
  Value *hs, *cs;    /* state, NULL while zero */
} Unroll;

static Value *lstm_step(Unroll *R, Value *xw, Value *hu, int t) {
  Graph *g = R->g;
  Value **z = split_gates(g, add(g, add(g, xw, hu), R->bias), 4), *const *p = R->s->peep;
  Value *zi = z[gate_pos(R->s, 0)], *zf = z[gate_pos(R->s, 1)], *zo = z[gate_pos(R->s, 3)];
  if (p[0] && R->cs) zi = build2(g, OP_ADD, zi, build2(g, OP_MUL, p[0], R->cs));
  if (p[2] && R->cs) zf = build2(g, OP_ADD, zf, build2(g, OP_MUL, p[2], R->cs));
  Value *i = build1(g, OP_SIGMOID, zi), *f = build1(g, OP_SIGMOID, zf), *cc = build1(g, OP_TANH, z[gate_pos(R->s, 2)]);
  Value *c = build2(g, OP_MUL, i, cc);
  if (R->cs) c = build2(g, OP_ADD, build2(g, OP_MUL, f, R->cs), c);
  R->cs = name_step(g, c, R->s->prefix, "c", t);
  if (p[1]) zo = build2(g, OP_ADD, zo, build2(g, OP_MUL, p[1], R->cs));
  Value *cell = build1(g, OP_TANH, R->cs);
  return build2(g, OP_MUL, build1(g, OP_SIGMOID, zo), cell);
}

static Value *zero_state(Graph *g, Value *like_x, int64_t h, int batch_axis) {
  Value *z = build_scalar(g, like_x->dtype, 0.0);
  Node *e = build_node(g, OP_EXPAND, 1, &z);
  node_set_ints(g, e, "shape", (int64_t[]){like_x->shape.d[batch_axis], h}, 2);
  return build_finish(g, e);
}

static Value *gru_step(Unroll *R, Value *xw, int t) {
  Graph *g = R->g;
  const RnnSpec *s = R->s;
  if (!R->hs) R->hs = zero_state(g, xw, R->h, 0);
  Value **xg = split_gates(g, add(g, xw, R->bias), 3), *z, *r, *hh;
  if (s->reset_after) {
    Value **hg = split_gates(g, add(g, mm(g, R->hs, s->u, s->transposed), s->rb), 3);
    z = build1(g, OP_SIGMOID, build2(g, OP_ADD, xg[0], hg[0]));
    r = build1(g, OP_SIGMOID, build2(g, OP_ADD, xg[1], hg[1]));
    hh = build1(g, OP_TANH, build2(g, OP_ADD, xg[2], build2(g, OP_MUL, r, hg[2])));
  } else {
    Value **hg = split_gates(g, mm(g, R->hs, R->u_zr, s->transposed), 2);
    z = build1(g, OP_SIGMOID, build2(g, OP_ADD, xg[0], hg[0]));
    r = build1(g, OP_SIGMOID, build2(g, OP_ADD, xg[1], hg[1]));
    hh = build1(g, OP_TANH, build2(g, OP_ADD, xg[2], mm(g, build2(g, OP_MUL, r, R->hs), R->u_h, s->transposed)));
  }
  (void)t;
  return build2(g, OP_ADD, hh, build2(g, OP_MUL, z, build2(g, OP_SUB, R->hs, hh))); /* z h + (1 - z) h~ */
}

static void unroll_setup(Unroll *R, Graph *g, const RnnSpec *s) {
  memset(R, 0, sizeof *R);
  R->g = g, R->s = s, R->h = rnn_hidden(s), R->hs = s->h0, R->cs = s->c0;
  bool rb_apart = s->cell == RNN_GRU && s->reset_after;
  R->bias = rb_apart ? s->b : add(g, s->b, s->rb);
  if (s->cell == RNN_GRU && !s->reset_after) {
    R->u_zr = kernel_block(g, s, s->u, 0, 2 * R->h);
    R->u_h = kernel_block(g, s, s->u, 2 * R->h, 3 * R->h);
  }
}

Value *rnn_lower(Graph *g, const RnnSpec *s, Value *x, Value **h_last, Value **c_last) {
  Unroll R;
  unroll_setup(&R, g, s);
  int steps = (int)x->shape.d[s->time_axis];
  NN2C_ASSERT(steps > 0); /* rnn_check refuses empty sequences */
  bool joint = x->shape.d[2] >= 16;
  Value **xs = unstack(g, joint ? mm(g, x, s->w, s->transposed) : x, s->time_axis);
  Value **outs = arena_alloc(&g->arena, sizeof(Value *) * (size_t)steps);
  for (int t = 0; t < steps; t++) {
    Value *x_t = xs[s->reverse ? steps - 1 - t : t], *xw = joint ? x_t : mm(g, x_t, s->w, s->transposed), *h;
    if (s->cell == RNN_GRU)
      h = gru_step(&R, xw, t);
    else {
      Value *hu = R.hs ? mm(g, R.hs, s->u, s->transposed) : NULL;
      h = s->cell == RNN_LSTM ? lstm_step(&R, xw, hu, t) : build1(g, OP_TANH, add(g, add(g, xw, hu), R.bias));
    }
    R.hs = outs[t] = name_step(g, h, s->prefix, "h", t);
  }
  if (h_last) *h_last = R.hs;
  if (c_last) *c_last = R.cs;
  if (!s->return_sequences) return R.hs;
  Node *n = build_node(g, OP_STACK, steps, outs);
  node_set_int(g, n, "axis", s->time_axis);
  return build_finish(g, n);
}

Value *rnn_reverse_time(Graph *g, Value *y, int time_axis) {
  int steps = (int)y->shape.d[time_axis];
  NN2C_ASSERT(steps > 0);
  Value **p = unstack(g, y, time_axis), **r = arena_alloc(&g->arena, sizeof(Value *) * (size_t)steps);
  for (int t = 0; t < steps; t++)
    r[t] = p[steps - 1 - t];
  Node *n = build_node(g, OP_STACK, steps, r);
  node_set_int(g, n, "axis", time_axis);
  return build_finish(g, n);
}
