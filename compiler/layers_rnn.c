/* layers_rnn.c - recurrent layers (rnn.h) unrolled into ordinary IR ops, and
 * the .nn layers built on them: embedding, simple_rnn, lstm, gru,
 * bidirectional, conv1d, maxpool1d, global_max_pool1d.
 *
 * Unrolling: the sequence is cut into steps by one unstack node; each step
 * is two matmuls (input and recurrent kernel), a bias add, the gate blocks
 * cut apart by reshape + unstack, and elementwise chains the fuse pass runs
 * as one loop. The backward pass (BPTT) is what autodiff derives from that;
 * the memory planner keeps each step's gate values until its backward step. */
#include "rnn.h"

#include <string.h>

#include "lower.h"

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
    return arena_printf(a, "a recurrent layer needs a sequence input [N,steps,features] (input is %s)", shape_str(a, x->shape));
  (void)batch_axis;
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
  return build2(g, OP_MUL, build1(g, OP_SIGMOID, zo), build1(g, OP_TANH, R->cs));
}

static Value *zero_state(Graph *g, Value *like_x, int64_t h, int batch_axis) {
  Value *z = build_scalar(g, like_x->dtype, 0.0);
  Node *e = build_node(g, OP_EXPAND, 1, &z);
  node_set_ints(g, e, "shape", (int64_t[]){like_x->shape.d[batch_axis], h}, 2);
  return build_finish(g, e);
}

static Value *gru_step(Unroll *R, Value *xw, Value *x_t, int t) {
  Graph *g = R->g;
  const RnnSpec *s = R->s;
  if (!R->hs) R->hs = zero_state(g, x_t, R->h, 0);
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
  Value **xs = unstack(g, x, s->time_axis);
  Value **outs = arena_alloc(&g->arena, sizeof(Value *) * (size_t)steps);
  for (int t = 0; t < steps; t++) {
    Value *x_t = xs[s->reverse ? steps - 1 - t : t], *xw = mm(g, x_t, s->w, s->transposed), *h;
    if (s->cell == RNN_GRU) h = gru_step(&R, xw, x_t, t);
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

/* ---- .nn layers ---- */

static void err_line(Lower *L, const Line *l, const char *fmt, const char *arg) {
  error_at(L->src, l->line, l->col, fmt, arg);
}

static bool kw_flag(Lower *L, const Line *l, const char *key, bool *out) {
  const KwArg *k = line_kw(l, key);
  int64_t v = *out;
  if (k && !expr_int(L->src, k->val, 0, 1, &v)) return false;
  *out = v != 0;
  return true;
}

static Value *param(Lower *L, const char *name, Shape s, InitKind init) {
  Value *v = value_new(L->g, graph_unique_name(L->g, name), VK_PARAM, DT_F32, s);
  v->init = (Init){init, 0, 0};
  return v;
}

static bool kw_init_of(Lower *L, const Line *l, const char *key, Value *v) {
  const KwArg *k = line_kw(l, key);
  return !k || expr_init(L->src, k->val, &v->init);
}

/* `embedding V D [mask_zero=1] [embeddings_initializer=...]`: ids [N,T] -> [N,T,D].
 * With mask_zero, id 0 is padding and its row gets no gradient (Keras also
 * masks later layers' steps; nn2c does not, see docs/nn-format.md). */
Value *lower_embedding(Lower *L, const Line *l, Value *x) {
  int64_t vocab, dim;
  bool mask = false;
  if (l->nargs < 2) {
    err_line(L, l, "embedding needs a vocabulary size and a width, e.g. `embedding 10000 128`%s", "");
    return NULL;
  }
  if (!expr_int(L->src, l->args[0], 1, 1 << 24, &vocab) || !expr_int(L->src, l->args[1], 1, 1 << 20, &dim) ||
      !kw_flag(L, l, "mask_zero", &mask))
    return NULL;
  Graph *g = L->g;
  Value *w = param(L, arena_printf(&g->arena, "emb%d_w", ++L->nemb), shape_make(2, (int64_t[]){vocab, dim}), INIT_UNIFORM);
  w->init = (Init){INIT_UNIFORM, -0.05, 0.05};
  if (!kw_init_of(L, l, "embeddings_initializer", w)) return NULL;
  Value *in[2] = {x, w};
  Node *n = node_new(g, OP_EMBEDDING, 2, in, 1);
  if (mask) node_set_int(g, n, "mask_zero", 1);
  const char *err = op_table[OP_EMBEDDING].infer(g, n);
  if (err) err_line(L, l, "%s", err);
  return err ? NULL : n->out[0];
}

static bool cell_from_name(const char *k, RnnCell *c) {
  if (!strcmp(k, "lstm")) *c = RNN_LSTM;
  else if (!strcmp(k, "gru")) *c = RNN_GRU;
  else if (!strcmp(k, "simple_rnn")) *c = RNN_SIMPLE;
  else return false;
  return true;
}

/* One direction's params (Keras defaults) and its unrolled graph. */
static Value *recurrent_dir(Lower *L, const Line *l, RnnSpec *s, Value *x, int64_t units, const char *prefix) {
  Graph *g = L->g;
  int64_t gh = rnn_gates(s->cell) * units, f = x->shape.d[2];
  s->prefix = prefix;
  s->w = param(L, arena_printf(&g->arena, "%s_w", prefix), shape_make(2, (int64_t[]){f, gh}), INIT_GLOROT_UNIFORM);
  s->u = param(L, arena_printf(&g->arena, "%s_u", prefix), shape_make(2, (int64_t[]){units, gh}), INIT_ORTHOGONAL);
  s->b = param(L, arena_printf(&g->arena, "%s_b", prefix), shape_make(1, &gh), INIT_ZEROS);
  bool forget = s->cell == RNN_LSTM;
  if (!kw_flag(L, l, "unit_forget_bias", &forget) || !kw_init_of(L, l, "kernel_initializer", s->w) ||
      !kw_init_of(L, l, "recurrent_initializer", s->u) || !kw_init_of(L, l, "bias_initializer", s->b))
    return NULL;
  if (forget && s->cell == RNN_LSTM) s->b->init.kind = INIT_UNIT_FORGET_BIAS;
  if (s->cell == RNN_GRU && s->reset_after) /* Keras keeps the recurrent bias apart */
    s->rb = param(L, arena_printf(&g->arena, "%s_rb", prefix), shape_make(1, &gh), INIT_ZEROS);
  const char *err = rnn_check(g, s, x);
  if (err) {
    err_line(L, l, "%s", err);
    return NULL;
  }
  return rnn_lower(g, s, x, NULL, NULL);
}

/* Reverses a [N,T,H] sequence along time (unstack + stack in reverse). */
static Value *reverse_time(Graph *g, Value *y) {
  int steps = (int)y->shape.d[1];
  Value **p = unstack(g, y, 1), **r = arena_alloc(&g->arena, sizeof(Value *) * (size_t)steps);
  for (int t = 0; t < steps; t++) r[t] = p[steps - 1 - t];
  Node *n = build_node(g, OP_STACK, steps, r);
  node_set_int(g, n, "axis", 1);
  return build_finish(g, n);
}

/* `lstm|gru|simple_rnn UNITS [return_sequences=1] [go_backwards=1] [reset_after=0]`,
 * or with `bidirectional` in front (args shifted by one) and merge=concat|sum|mul|ave. */
Value *lower_recurrent(Lower *L, const Line *l, Value *x, bool bidir) {
  int a0 = bidir ? 1 : 0;
  RnnSpec s = {0};
  int64_t units;
  if (bidir && (l->nargs < 1 || l->args[0]->kind != EX_IDENT || !cell_from_name(l->args[0]->ident, &s.cell))) {
    err_line(L, l, "bidirectional wraps lstm, gru or simple_rnn%s", "");
    return NULL;
  }
  if (!bidir) cell_from_name(l->kind, &s.cell);
  s.reset_after = true;
  s.time_axis = 1;
  if (l->nargs <= a0 || !expr_int(L->src, l->args[a0], 1, 1 << 16, &units) ||
      !kw_flag(L, l, "return_sequences", &s.return_sequences) || !kw_flag(L, l, "go_backwards", &s.reverse) ||
      !kw_flag(L, l, "reset_after", &s.reset_after)) {
    if (l->nargs <= a0) err_line(L, l, "%s needs the number of units, e.g. `lstm 64`", l->kind);
    return NULL;
  }
  if (x->shape.rank != 3) {
    err_line(L, l, "a recurrent layer needs a sequence input [N,steps,features] (input is %s)", shape_str(&L->g->arena, x->shape));
    return NULL;
  }
  const char *kind = bidir ? l->args[0]->ident : l->kind;
  const char *prefix = graph_unique_name(L->g, arena_printf(&L->g->arena, "%s%d", kind, ++L->nrnn));
  Value *fwd = recurrent_dir(L, l, &s, x, units, prefix);
  if (!bidir || !fwd) return fwd;
  RnnSpec sb = s;
  sb.reverse = !s.reverse;
  Value *bwd = recurrent_dir(L, l, &sb, x, units, arena_printf(&L->g->arena, "%s_back", prefix));
  if (!bwd) return NULL;
  if (s.return_sequences) bwd = reverse_time(L->g, bwd);
  const KwArg *mk = line_kw(l, "merge");
  const char *merge = mk && mk->val->kind == EX_IDENT ? mk->val->ident : mk ? "" : "concat";
  if (!strcmp(merge, "concat")) {
    Node *n = build_node(L->g, OP_CONCAT, 2, (Value *[]){fwd, bwd});
    node_set_int(L->g, n, "axis", -1);
    return build_finish(L->g, n);
  }
  if (!strcmp(merge, "sum")) return build2(L->g, OP_ADD, fwd, bwd);
  if (!strcmp(merge, "mul")) return build2(L->g, OP_MUL, fwd, bwd);
  if (!strcmp(merge, "ave")) return build2(L->g, OP_MUL, build2(L->g, OP_ADD, fwd, bwd), build_scalar(L->g, DT_F32, 0.5));
  error_at(L->src, mk->line, mk->col, "merge must be concat, sum, mul or ave");
  return NULL;
}
