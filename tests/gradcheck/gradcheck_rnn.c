/* gradcheck_rnn.c - embedding, unstack/stack (ops/rnn.c), and whole unrolled
 * recurrent layers (compiler/rnn.h's lowering into ordinary ops). */
#include "gradcheck.h"
#include "rnn.h"

/* ids [N,4] with repeats and id 0, into a [5,3] table */
static void embedding(Case *c) {
  Value *ids = value_new(c->g, "ids", VK_INPUT, DT_F64, S(DIM_BATCH, 4));
  double *d = feed(c, ids, sizeof(double));
  for (int i = 0; i < BATCH * 4; i++)
    d[i] = (double)((i * 3) % 5 == 4 ? 0 : (i * 3) % 5);
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
static void unstack_stack_batch(Case *c) {
  Value *x = build2(c->g, OP_MUL, input(c, S(DIM_BATCH, 3, 2), R_ANY), param(c, S(2), R_ANY));
  Value **p = unstack_of(c, x, 1);
  c->y = stack_of(c, 3, (Value *[]){p[2], p[0], p[2]}, 2);
}
static void unstack_stack_first_axis(Case *c) {
  Value **p = unstack_of(c, param(c, S(3, 2), R_ANY), 0);
  c->y = stack_of(c, 2, (Value *[]){p[1], p[0]}, 0);
}

/* A tiny unrolled layer: x [N,3,f] (or [3,N,f] for ONNX's layout), 2 units; from
 * f = 16 features the input kernel multiplies all steps in one matmul. */
static void layer_f(Case *c, RnnCell cell, bool onnx, bool reverse, bool seqs, bool reset_after, int64_t f) {
  int64_t gh = rnn_gates(cell) * 2;
  RnnSpec s = {.cell = cell,
               .order = onnx ? RNN_ONNX : RNN_KERAS,
               .transposed = onnx,
               .reverse = reverse,
               .return_sequences = seqs,
               .reset_after = reset_after,
               .time_axis = onnx ? 0 : 1};
  Shape xs = onnx ? S(3, DIM_BATCH, f) : S(DIM_BATCH, 3, f);
  Value *x = build2(c->g, OP_MUL, input(c, xs, R_ANY), param(c, S(f), R_ANY));
  s.w = param(c, onnx ? S(gh, f) : S(f, gh), R_ANY);
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
static void layer(Case *c, RnnCell cell, bool onnx, bool reverse, bool seqs, bool reset_after) {
  layer_f(c, cell, onnx, reverse, seqs, reset_after, 2);
}
static void lstm_keras(Case *c) { layer(c, RNN_LSTM, false, false, false, false); }
static void lstm_backwards_sequences(Case *c) { layer(c, RNN_LSTM, false, true, true, false); }
static void lstm_onnx_state(Case *c) { layer(c, RNN_LSTM, true, false, false, false); }
static void gru_reset_after(Case *c) { layer(c, RNN_GRU, false, false, true, true); }
static void gru_reset_before_backwards(Case *c) { layer(c, RNN_GRU, false, true, false, false); }
static void gru_onnx_state(Case *c) { layer(c, RNN_GRU, true, false, true, false); }
static void simple_rnn(Case *c) { layer(c, RNN_SIMPLE, false, false, true, false); }
static void simple_rnn_onnx(Case *c) { layer(c, RNN_SIMPLE, true, true, false, false); }
static void lstm_keras_wide(Case *c) { layer_f(c, RNN_LSTM, false, true, true, false, 16); }
static void gru_onnx_wide(Case *c) { layer_f(c, RNN_GRU, true, false, false, false, 16); }

static const CaseDef cases[] = {
    {.name = "embedding", .build = embedding},
    {.name = "unstack_stack_batch", .build = unstack_stack_batch},
    {.name = "unstack_stack_first_axis", .build = unstack_stack_first_axis},
    {.name = "lstm_keras", .build = lstm_keras},
    {.name = "lstm_backwards_sequences", .build = lstm_backwards_sequences},
    {.name = "lstm_onnx_state", .build = lstm_onnx_state},
    {.name = "gru_reset_after", .build = gru_reset_after},
    {.name = "gru_reset_before_backwards", .build = gru_reset_before_backwards},
    {.name = "gru_onnx_state", .build = gru_onnx_state},
    {.name = "simple_rnn", .build = simple_rnn},
    {.name = "simple_rnn_onnx", .build = simple_rnn_onnx},
    {.name = "lstm_keras_wide", .build = lstm_keras_wide},
    {.name = "gru_onnx_wide", .build = gru_onnx_wide},
};
FAMILY(rnn, cases);
