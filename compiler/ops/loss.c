/* loss.c - negative log-likelihood of integer class labels:
 * nll(logp[N,C], labels[N]) = -logp[i, labels[i]] per sample. With
 * log_softmax in front and a mean after, this is sparse categorical
 * cross-entropy; its gradient op scatters -dy into the label's column.
 * A label outside [0, C) contributes 0 (the data loaders reject such files). */
#include "op.h"

#include <math.h>

static const char *labels_check(Graph *g, Value *lab, int64_t rows) {
  if (lab->dtype != DT_I32 && lab->dtype != DT_I64) return "labels must be i32 or i64";
  if (lab->shape.rank != 1 || lab->shape.d[0] != rows)
    return arena_printf(&g->arena, "labels must have shape [%s], got %s", rows == DIM_BATCH ? "N" : "rows",
                        shape_str(&g->arena, lab->shape));
  return NULL;
}

const char *nll_infer(Graph *g, Node *n) {
  Value *lp = n->in[0];
  if (lp->shape.rank != 2 || (lp->dtype != DT_F32 && lp->dtype != DT_F64))
    return arena_printf(&g->arena, "nll needs float log-probabilities [N,C], got %s", shape_str(&g->arena, lp->shape));
  const char *err = labels_check(g, n->in[1], lp->shape.d[0]);
  if (err) return err;
  n->out[0]->dtype = lp->dtype;
  n->out[0]->shape = shape_make(1, &lp->shape.d[0]);
  return NULL;
}

void nll_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx, (void)n;
  int64_t rows = in[0]->shape.d[0], c = in[0]->shape.d[1];
  for (int64_t i = 0; i < rows; i++) {
    int64_t l = (int64_t)tensor_get(in[1], i);
    tensor_set(out[0], i, l >= 0 && l < c ? -tensor_get(in[0], i * c + l) : 0.0);
  }
}

void nll_grad(Graph *g, Node *n, Value **dy, Value **dx) {
  Value *in[2] = {dy[0], n->in[1]};
  Node *k = build_node(g, OP_NLL_GRAD, 2, in);
  node_set_int(g, k, "classes", n->in[0]->shape.d[1]);
  dx[0] = build_finish(g, k);
  dx[1] = NULL;
}

void nll_emit(Emit *e, Node *n) {
  Value *lp = n->in[0];
  const char *C = emit_dim(e, lp, 1);
  emit_open(e, "for (size_t i = 0; i < %s; i++)", emit_dim(e, lp, 0));
  emit_line(e, "const int64_t l = (int64_t)%s[i];", emit_ref(e, n->in[1]));
  emit_line(e, "%s[i] = l >= 0 && l < %s ? -%s[i * %s + (size_t)l] : 0.0f;", emit_ref(e, n->out[0]), C, emit_ref(e, lp),
            C);
  emit_close(e);
}

const char *nll_grad_infer(Graph *g, Node *n) {
  Value *dy = n->in[0];
  int64_t c = node_int(n, "classes", 0);
  if (dy->shape.rank != 1 || c <= 0) return "nll_grad needs dy [N] and classes=C";
  const char *err = labels_check(g, n->in[1], dy->shape.d[0]);
  if (err) return err;
  n->out[0]->dtype = dy->dtype;
  n->out[0]->shape = shape_make(2, (int64_t[]){dy->shape.d[0], c});
  return NULL;
}

void nll_grad_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx, (void)n;
  int64_t rows = out[0]->shape.d[0], c = out[0]->shape.d[1];
  for (int64_t i = 0; i < out[0]->numel; i++)
    tensor_set(out[0], i, 0);
  for (int64_t i = 0; i < rows; i++) {
    int64_t l = (int64_t)tensor_get(in[1], i);
    if (l >= 0 && l < c) tensor_set(out[0], i * c + l, -tensor_get(in[0], i));
  }
}

void nll_grad_grad(Graph *g, Node *n, Value **dy, Value **dx) {
  (void)g, (void)n, (void)dy, (void)dx;
  NN2C_ASSERT(!"no second derivatives");
}

void nll_grad_emit(Emit *e, Node *n) {
  Value *o = n->out[0];
  const char *C = emit_dim(e, o, 1);
  emit_line(e, "memset(%s, 0, sizeof(float) * %s);", emit_ref(e, o), emit_numel(e, o));
  emit_open(e, "for (size_t i = 0; i < %s; i++)", emit_dim(e, o, 0));
  emit_line(e, "const int64_t l = (int64_t)%s[i];", emit_ref(e, n->in[1]));
  emit_line(e, "if (l >= 0 && l < %s) %s[i * %s + (size_t)l] = -%s[i];", C, emit_ref(e, o), C, emit_ref(e, n->in[0]));
  emit_close(e);
}

/* softmax_ce_grad(d[N], logp[N,C], labels[N]) = d[i] (exp(logp[i,j]) - [j = label])
 * is log_softmax_grad(nll_grad(d, labels), logp): the gradient of sparse
 * cross-entropy with respect to the logits, probabilities minus one-hot,
 * scaled by d (1/N for a mean), in one pass (the fuse pass). A row whose
 * label is out of range gets zeros, as the unfused pair gives. */
const char *softmax_ce_grad_infer(Graph *g, Node *n) {
  Value *d = n->in[0], *lp = n->in[1];
  if (lp->shape.rank != 2 || !(lp->dtype == DT_F32 || lp->dtype == DT_F64) || d->dtype != lp->dtype ||
      d->shape.rank != 1 || d->shape.d[0] != lp->shape.d[0])
    return "softmax_ce_grad needs d [N] and log-probabilities [N,C] of one float type";
  const char *err = labels_check(g, n->in[2], lp->shape.d[0]);
  if (err) return err;
  n->out[0]->dtype = lp->dtype;
  n->out[0]->shape = lp->shape;
  return NULL;
}

void softmax_ce_grad_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx, (void)n;
  int64_t rows = in[1]->shape.d[0], c = in[1]->shape.d[1];
  for (int64_t i = 0; i < rows; i++) {
    int64_t l = (int64_t)tensor_get(in[2], i);
    bool ok = l >= 0 && l < c;
    double d = tensor_get(in[0], i);
    for (int64_t j = 0; j < c; j++)
      tensor_set(out[0], i * c + j, ok ? d * (exp(tensor_get(in[1], i * c + j)) - (j == l)) : 0.0);
  }
}

void softmax_ce_grad_grad(Graph *g, Node *n, Value **dy, Value **dx) { nll_grad_grad(g, n, dy, dx); }

void softmax_ce_grad_emit(Emit *e, Node *n) {
  Value *o = n->out[0];
  const char *C = emit_dim(e, o, 1), *O = emit_ref(e, o), *LP = emit_ref(e, n->in[1]);
  emit_open(e, "for (size_t i = 0; i < %s; i++)", emit_dim(e, o, 0));
  emit_line(e, "const int64_t l = (int64_t)%s[i];", emit_ref(e, n->in[2]));
  emit_line(e, "const float d = l >= 0 && l < %s ? %s[i] : 0.0f;", C, emit_ref(e, n->in[0]));
  emit_line(e, "for (size_t j = 0; j < %s; j++) %s[i * %s + j] = d * nn2c_expf(%s[i * %s + j]);", C, O, C, LP, C);
  emit_line(e, "if (l >= 0 && l < %s) %s[i * %s + (size_t)l] -= d;", C, O, C);
  emit_close(e);
}
