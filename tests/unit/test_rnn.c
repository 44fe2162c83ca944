/* test_rnn.c - the shared recurrent lowering (compiler/rnn.c) refuses a
 * sequence of 0 steps in rnn_check, as the ONNX importer and the .nn front end
 * call it before rnn_lower (issue 16 #3: an ONNX GRU with sequence length 0
 * built a stack node with no inputs), and still lowers one of 2 steps. */
#include <string.h>

#include "rnn.h"

static int failures;

/* A GRU spec over x [T,N,F] (ONNX layout, transposed weights) or [N,T,F] (Keras). */
static const char *check_gru(Graph *g, int64_t steps, bool onnx, Value **x_out, RnnSpec *s) {
  int64_t n = 2, f = 4, h = 3;
  Shape xs = onnx ? shape_make(3, (int64_t[]){steps, n, f}) : shape_make(3, (int64_t[]){DIM_BATCH, steps, f});
  Value *x = value_new(g, "x", VK_INPUT, DT_F32, xs);
  memset(s, 0, sizeof *s);
  s->cell = RNN_GRU;
  s->order = onnx ? RNN_ONNX : RNN_KERAS;
  s->transposed = onnx;
  s->return_sequences = true;
  s->reset_after = true;
  s->time_axis = onnx ? 0 : 1;
  s->prefix = "gru";
  Shape ws = onnx ? shape_make(2, (int64_t[]){3 * h, f}) : shape_make(2, (int64_t[]){f, 3 * h});
  Shape us = onnx ? shape_make(2, (int64_t[]){3 * h, h}) : shape_make(2, (int64_t[]){h, 3 * h});
  s->w = value_new(g, "w", VK_PARAM, DT_F32, ws);
  s->u = value_new(g, "u", VK_PARAM, DT_F32, us);
  *x_out = x;
  return rnn_check(g, s, x);
}

static void expect_refused(bool onnx) {
  Graph *g = graph_new("t");
  Value *x;
  RnnSpec s;
  const char *err = check_gru(g, 0, onnx, &x, &s);
  if (!err || !strstr(err, "at least one step")) {
    fprintf(stderr, "FAIL: 0 steps (%s layout): rnn_check said %s\n", onnx ? "ONNX" : "Keras", err ? err : "NULL");
    failures++;
  }
  graph_free(g);
}

static void expect_lowered(bool onnx) {
  Graph *g = graph_new("t");
  Value *x;
  RnnSpec s;
  const char *err = check_gru(g, 2, onnx, &x, &s);
  if (err) {
    fprintf(stderr, "FAIL: 2 steps (%s layout): rnn_check said %s\n", onnx ? "ONNX" : "Keras", err);
    failures++;
  } else {
    Value *y = rnn_lower(g, &s, x, NULL, NULL);
    if (!y || y->shape.rank != 3 || y->shape.d[s.time_axis] != 2 || y->shape.d[2] != 3) {
      fprintf(stderr, "FAIL: 2 steps (%s layout): output %s\n", onnx ? "ONNX" : "Keras",
              y ? shape_str(&g->arena, y->shape) : "NULL");
      failures++;
    }
  }
  graph_free(g);
}

int main(void) {
  expect_refused(true);
  expect_refused(false);
  expect_lowered(true);
  expect_lowered(false);
  if (!failures) printf("rnn: 4 checks passed\n");
  return failures ? 1 : 0;
}
