/* sequence.c - ONNX sequences whose length is known at compile time, held
 * at import as lists of tensor values (ImpSeq); no sequence reaches the
 * IR. Positions must be constants. SequenceEmpty/Construct/Insert/Erase
 * build lists, SequenceAt and SequenceLength read them, SplitToSequence
 * slices a tensor into one, ConcatFromSequence joins one (a new axis with
 * new_axis=1). Sequences as graph inputs or outputs are not supported. */
#include "onnx/onnx_impl.h"

#include <string.h>

ImpSeq *imp_seq_new(Imp *I, int n, DType t) {
  ImpSeq *s = arena_alloc(&I->g->arena, sizeof *s);
  s->items = arena_alloc(&I->g->arena, sizeof(Value *) * (size_t)(n + 1));
  s->n = n, s->dtype = t;
  return s;
}

/* A position input (a constant scalar) in [-n, n + past) as an index, or -1. */
static int64_t position(Imp *I, Value *v, int64_t n, int64_t past, int64_t dflt) {
  if (!v) return dflt;
  if (!imp_is_const(v)) return imp_need_const(I, v, "the position"), -1;
  Tensor t = {v->dtype, v->shape, 1, v->data};
  int64_t p = (int64_t)tensor_get(&t, 0);
  if (p < 0) p += n;
  if (p < 0 || p >= n + past)
    return imp_fail(I, "position %lld is outside the sequence of %lld", (long long)p, (long long)n), -1;
  return p;
}

static Value *drop_axis(Imp *I, Value *v, int axis) {
  Shape s = {0, {0}};
  for (int k = 0; k < v->shape.rank; k++)
    if (k != axis) s.d[s.rank++] = v->shape.d[k];
  return imp_reshape_to(I, v, s);
}

/* SplitToSequence(x, split?; axis, keepdims): pieces along axis. */
static ImpSeq *split_to_sequence(Imp *I, NodeP *np, Value *x, Value *split) {
  int axis = normalize_axis(imp_attr_i(np, "axis", 0), x->shape.rank);
  if (axis < 0 || x->shape.d[axis] == DIM_BATCH) return imp_fail(I, "bad axis"), NULL;
  int64_t len = x->shape.d[axis], sizes[4096], n = 0;
  if (split && !imp_is_const(split)) return imp_need_const(I, split, "split"), NULL;
  Tensor t = {split ? split->dtype : DT_I64, split ? split->shape : shape_scalar(),
              split ? shape_numel_static(split->shape) : 0, split ? split->data : NULL};
  if (split && split->shape.rank == 1) {
    for (int64_t i = 0; i < t.numel && n < 4096; i++)
      sizes[n++] = (int64_t)tensor_get(&t, i);
  } else {
    int64_t step = split ? (int64_t)tensor_get(&t, 0) : 1;
    if (step < 1) return imp_fail(I, "bad split"), NULL;
    for (int64_t at = 0; at < len && n < 4096; at += step)
      sizes[n++] = at + step <= len ? step : len - at;
  }
  int64_t total = 0;
  for (int64_t i = 0; i < n; i++)
    total += sizes[i] >= 0 ? sizes[i] : -1 - len;
  if (total != len) return imp_fail(I, "the split sizes do not add up to %lld", (long long)len), NULL;
  bool squeeze = !split && !imp_attr_i(np, "keepdims", 1);
  ImpSeq *s = imp_seq_new(I, (int)n, x->dtype);
  for (int64_t i = 0, at = 0; i < n; at += sizes[i++]) {
    Value *v = imp_take(I, x, axis, at, at + sizes[i], 1);
    if (v && squeeze) v = drop_axis(I, v, axis);
    if (!(s->items[i] = v)) return NULL;
  }
  return s;
}

/* ConcatFromSequence: the items joined on axis (on a new axis with new_axis=1). */
static Value *concat_from_sequence(Imp *I, NodeP *np, ImpSeq *s) {
  if (s->n < 1) return imp_unsupported(I, "ConcatFromSequence", "ConcatFromSequence of an empty sequence"), NULL;
  bool fresh = imp_attr_i(np, "new_axis", 0) != 0;
  int rank = s->items[0]->shape.rank + fresh;
  int axis = normalize_axis(imp_attr_i(np, "axis", 0), rank);
  if (axis < 0) return imp_fail(I, "bad axis"), NULL;
  Value *acc = NULL;
  for (int j = 0; j < s->n;) {
    Value *in[16];
    int cnt = 0;
    if (acc) in[cnt++] = acc;
    while (j < s->n && cnt < 16) {
      Value *v = s->items[j++];
      if (fresh) {
        Shape sh = v->shape;
        for (int k = sh.rank; k > axis; k--)
          sh.d[k] = sh.d[k - 1];
        sh.d[axis] = 1, sh.rank++;
        v = imp_reshape_to(I, v, sh);
      }
      if (!(in[cnt++] = v)) return NULL;
    }
    if (cnt == 1) {
      acc = in[0];
      continue;
    }
    Node *c = imp_mk(I, OP_CONCAT, cnt, in);
    node_set_int(I->g, c, "axis", axis);
    if (!imp_finish(I, c)) return NULL;
    acc = c->out[0];
  }
  return acc;
}

/* SequenceMap: the body once per position; sequence inputs give their item
 * there, tensor inputs themselves; each output a sequence of the results. */
static bool sequence_map(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  const Onnx__AttributeProto *a = imp_attr(np, "body");
  const Onnx__GraphProto *body = a && a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH ? a->g : NULL;
  ImpSeq *seqs[16] = {NULL}, *res_seq[16];
  if (!body || nin < 1 || nin > 16 || np->n_output > 16 || (int)body->n_input != nin || body->n_output != np->n_output)
    return imp_fail(I, "the body's inputs and outputs do not fit the SequenceMap's");
  for (int i = 0; i < nin; i++)
    if (in[i] == &I->seq_mark && (seqs[i] = imp_lookup_seq(I, np->input[i]))->n != seqs[0]->n)
      return imp_fail(I, "the sequences differ in length");
  int n = seqs[0] ? seqs[0]->n : 0;
  for (size_t k = 0; k < np->n_output; k++)
    res_seq[k] = imp_seq_new(I, n, DT_F32);
  for (int e = 0; e < n; e++) {
    Value *args[16], *res[16];
    for (int i = 0; i < nin; i++)
      args[i] = seqs[i] ? seqs[i]->items[e] : in[i];
    if (!imp_body(I, body, args, NULL, nin, res, NULL)) return false;
    for (size_t k = 0; k < np->n_output; k++)
      res_seq[k]->items[e] = res[k], res_seq[k]->dtype = res[k]->dtype;
  }
  for (size_t k = 0; k < np->n_output; k++)
    out[k] = &I->seq_mark, I->seq_outs[k] = res_seq[k];
  return true;
}

bool h_sequence(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  if (!strcmp(np->op_type, "SequenceMap")) return sequence_map(I, np, in, nin, out);
  const char *op = np->op_type;
  ImpSeq *src = nin > 0 && in[0] == &I->seq_mark ? imp_lookup_seq(I, np->input[0]) : NULL, *s = NULL;
  bool takes_seq = strcmp(op, "SequenceEmpty") && strcmp(op, "SequenceConstruct") && strcmp(op, "SplitToSequence");
  if (takes_seq && !src) return imp_fail(I, "input 0 must be a sequence");
  for (int i = takes_seq; i < nin; i++)
    if (in[i] == &I->seq_mark) return imp_unsupported(I, "sequence", "a sequence where %s takes a tensor", op);
  if (!strcmp(op, "SequenceEmpty")) {
    DType t = DT_F32;
    if (imp_attr(np, "dtype") && !dtype_from_onnx((int)imp_attr_i(np, "dtype", 1), &t)) return imp_fail(I, "bad dtype");
    s = imp_seq_new(I, 0, t);
  } else if (!strcmp(op, "SequenceConstruct")) {
    if (nin < 1) return imp_fail(I, "SequenceConstruct needs an input");
    s = imp_seq_new(I, nin, in[0]->dtype);
    for (int i = 0; i < nin; i++)
      if (!(s->items[i] = in[i]) || in[i]->dtype != in[0]->dtype) return imp_fail(I, "the tensors differ in dtype");
  } else if (!strcmp(op, "SequenceInsert")) {
    int64_t p = nin > 1 && in[1] ? position(I, nin > 2 ? in[2] : NULL, src->n, 1, src->n) : -1;
    if (p < 0) return nin > 1 && in[1] ? false : imp_fail(I, "SequenceInsert needs a tensor");
    s = imp_seq_new(I, src->n + 1, src->dtype);
    for (int i = 0, j = 0; i < s->n; i++)
      s->items[i] = i == p ? in[1] : src->items[j++];
  } else if (!strcmp(op, "SequenceErase")) {
    int64_t p = position(I, nin > 1 ? in[1] : NULL, src->n, 0, src->n - 1);
    if (p < 0) return false;
    s = imp_seq_new(I, src->n - 1, src->dtype);
    for (int i = 0, j = 0; i < src->n; i++)
      if (i != p) s->items[j++] = src->items[i];
  } else if (!strcmp(op, "SequenceAt")) {
    int64_t p = nin > 1 ? position(I, in[1], src->n, 0, -1) : -1;
    return p >= 0 && (out[0] = src->items[p]) != NULL;
  } else if (!strcmp(op, "SequenceLength")) {
    Value *v = value_new(I->g, "len", VK_CONST, DT_I64, shape_scalar());
    v->data = arena_alloc(&I->g->arena, 8);
    *(int64_t *)v->data = src->n;
    return (out[0] = v) != NULL;
  } else if (!strcmp(op, "SplitToSequence")) {
    if (!imp_need_inputs(I, in, nin, 1, 2) || !(s = split_to_sequence(I, np, in[0], nin > 1 ? in[1] : NULL)))
      return false;
  } else
    return (out[0] = concat_from_sequence(I, np, src)) != NULL;
  I->seq_outs[0] = s;
  out[0] = &I->seq_mark;
  return true;
}
