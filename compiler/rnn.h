/* rnn.h - recurrent layers unrolled into ordinary IR ops (rnn.c), for
 * the .nn front end and the ONNX importer. Autodiff then derives BPTT.
 *
 * Gate blocks inside the weights (each H wide), per docs/recurrent.md:
 *   LSTM  Keras i f c o      ONNX i o f c
 *   GRU   Keras z r h        ONNX z r h
 *   RNN   one block
 * One step, with x_t the input, h and c the state (zero before the first step
 * unless h0/c0 are given), W the input kernel, U the recurrent one:
 *   LSTM  i,f,o = sigmoid(.), c~ = tanh(.) of x_t W + h U + b + rb;
 *         c = f c + i c~;  h = o tanh(c)
 *   GRU   z,r = sigmoid(x_t W + b + h U + rb) (their blocks);
 *         reset_after: h~ = tanh(x_t W_h + b_h + r (h U_h + rb_h))   (Keras default, ONNX linear_before_reset=1)
 *         else:        h~ = tanh(x_t W_h + b_h + rb_h + (r h) U_h)
 *         h = z h + (1 - z) h~
 *   RNN   h = tanh(x_t W + h U + b + rb) */
#ifndef NN2C_RNN_H
#define NN2C_RNN_H

#include "ops/op.h"

typedef enum { RNN_SIMPLE, RNN_LSTM, RNN_GRU } RnnCell;
typedef enum { RNN_KERAS, RNN_ONNX } RnnGateOrder;

typedef struct {
  RnnCell cell;
  RnnGateOrder order;    /* order of the gate blocks in w, u, b, rb */
  bool transposed;       /* weights stored [G*H, F] and [G*H, H] (ONNX W, R); else [F, G*H], [H, G*H] (Keras) */
  bool reverse;          /* read the sequence from the last step (Keras go_backwards, ONNX reverse) */
  bool return_sequences; /* output every step's h stacked along time_axis, in processing order; else the last h */
  bool reset_after;      /* GRU only, see above */
  int time_axis;         /* of x: 1 for [N,T,F] (Keras), 0 for [T,N,F] (ONNX layout 0) */
  Value *w, *u;          /* kernels (required) */
  Value *b, *rb;         /* input and recurrent biases [G*H], each may be NULL */
  Value *h0, *c0;        /* initial state [N,H], may be NULL (zeros); c0 LSTM only */
  const char *prefix;    /* names of the values made ("lstm1" -> lstm1_h3) */
  Value *peep[3];        /* LSTM peepholes [H] for i, o, f (ONNX P), or NULL: i and f read c_{t-1}, o reads c_t */
} RnnSpec;

/* Unrolls the layer over x; returns the output and, if asked, the last h and c
 * (LSTM). Shapes are checked by the caller (see rnn_check). */
Value *rnn_lower(Graph *g, const RnnSpec *s, Value *x, Value **h_last, Value **c_last);
/* NULL, or why s and x do not fit together (a message in g's arena): also
 * refuses a sequence of 0 steps. Front ends call it before rnn_lower. */
const char *rnn_check(Graph *g, const RnnSpec *s, Value *x);
int rnn_gates(RnnCell cell); /* gate blocks: 4, 3 or 1 */
/* y with its steps along time_axis in reverse order (unstack + stack). */
Value *rnn_reverse_time(Graph *g, Value *y, int time_axis);

#endif
