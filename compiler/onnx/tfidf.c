/* tfidf.c - ONNX's TfIdfVectorizer on integer token ids, composed of
 * ordinary ops so it runs on runtime inputs: for an n-gram g1..gn and a
 * skip s, the windows starting at i hold it when x[i] == g1,
 * x[i + (s + 1)] == g2, ... (one strided slice per token, Equal, And); their
 * count is a reduce_sum over the sequence axis. Counts add up over skips
 * 0..max_skip_count (unigrams: once). Mode TF keeps counts, IDF gives
 * weight where the count is positive, TFIDF count x weight. Each n-gram's
 * value lands at its ngram_indexes position of the [.., size] result
 * (size = the largest index + 1; others stay 0). String pools are not
 * supported. */
#include "onnx/onnx_impl.h"

#include <string.h>

enum { TFIDF_MAX_TERMS = 4096 }; /* n-grams x skips */

static Value *int_scalar(Imp *I, DType t, int64_t v) {
  Value *c = value_new(I->g, "token", VK_CONST, t, shape_scalar());
  c->data = arena_alloc(&I->g->arena, 8);
  Tensor ct = {t, c->shape, 1, c->data};
  tensor_set(&ct, 0, (double)v);
  return c;
}

/* How often the n tokens g occur s apart in x (along its last axis), f32. */
static Value *ngram_count(Imp *I, Value *x, const int64_t *g, int n, int64_t s) {
  int ax = x->shape.rank - 1;
  int64_t L = x->shape.d[ax], starts = L - (n - 1) * (s + 1);
  if (starts < 1) return NULL; /* does not fit: no occurrence */
  Value *hit = NULL;
  for (int k = 0; k < n; k++) {
    Value *tok = imp_take(I, x, ax, k * (s + 1), k * (s + 1) + starts, 1);
    Value *eq = tok ? imp_mk2(I, OP_EQUAL, tok, int_scalar(I, x->dtype, g[k])) : NULL;
    hit = hit && eq ? imp_mk2(I, OP_AND, hit, eq) : eq;
    if (!hit) return NULL;
  }
  Value *f = imp_cast_to(I, hit, DT_F32);
  int64_t axis = ax;
  Node *r = f ? imp_mk(I, OP_REDUCE_SUM, 1, &f) : NULL;
  if (!r) return NULL;
  node_set_ints(I->g, r, "axes", &axis, 1);
  node_set_int(I->g, r, "keepdims", 1);
  return imp_finish(I, r) ? r->out[0] : NULL;
}

static const char *string_attr(NodeP *np, const char *name, char *buf, size_t n) {
  const Onnx__AttributeProto *a = imp_attr(np, name);
  snprintf(buf, n, "%.*s", a ? (int)a->s.len : 0, a ? (const char *)a->s.data : "");
  return buf;
}

bool h_tfidf(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  if (!imp_need_inputs(I, in, nin, 1, 1)) return false;
  Value *x = in[0];
  const Onnx__AttributeProto *pool = imp_attr(np, "pool_int64s"), *cnt = imp_attr(np, "ngram_counts"),
                             *idx = imp_attr(np, "ngram_indexes"), *w = imp_attr(np, "weights");
  if (imp_attr(np, "pool_strings")) return imp_unsupported(I, "string", "TfIdfVectorizer over strings");
  if ((x->dtype != DT_I32 && x->dtype != DT_I64) || x->shape.rank < 1 || x->shape.rank > 2 || !pool || !cnt || !idx)
    return imp_fail(I,
                    "TfIdfVectorizer needs int32/int64 [L] or [B, L] ids, pool_int64s, ngram_counts and ngram_indexes");
  char mode[16];
  string_attr(np, "mode", mode, sizeof mode);
  int64_t lo = imp_attr_i(np, "min_gram_length", 1), hi = imp_attr_i(np, "max_gram_length", 1),
          skips = imp_attr_i(np, "max_skip_count", 0), size = 0;
  for (size_t i = 0; i < idx->n_ints; i++)
    size = idx->ints[i] + 1 > size ? idx->ints[i] + 1 : size;
  if (lo < 1 || hi < lo || hi > 16 || skips < 0 || (int64_t)idx->n_ints > TFIDF_MAX_TERMS ||
      (int64_t)idx->n_ints * (skips + 1) > TFIDF_MAX_TERMS || (w && w->n_floats != idx->n_ints))
    return imp_fail(I, "bad gram lengths, skips, indexes or weights");
  Value **col = xcalloc((size_t)size + 1, sizeof(Value *));
  bool ok = true;
  size_t g = 0; /* n-grams in pool order: n = 1, 2, ...; ngram_counts[n-1] is where the n-grams start */
  for (size_t n = 1; n <= cnt->n_ints && ok; n++) {
    size_t start = (size_t)cnt->ints[n - 1], end = n < cnt->n_ints ? (size_t)cnt->ints[n] : pool->n_ints;
    for (size_t p = start; p + n <= end && ok; p += n, g++) {
      if (g >= idx->n_ints || idx->ints[g] < 0) {
        ok = imp_fail(I, "ngram_indexes has fewer entries than the pool's n-grams");
        break;
      }
      if ((int64_t)n < lo || (int64_t)n > hi) continue;
      Value *sum = NULL;
      for (int64_t s = 0; s <= (n == 1 ? 0 : skips) && ok; s++) {
        Value *c = ngram_count(I, x, pool->ints + p, (int)n, s);
        if (c) sum = sum ? imp_mk2(I, OP_ADD, sum, c) : c;
        ok = !c || sum;
      }
      if (!sum || !ok) continue;
      double wt = w ? w->floats[g] : 1;
      if (!strcmp(mode, "IDF")) { /* one built value per statement: the IR must not depend on argument order */
        Value *seen = imp_mk2(I, OP_GREATER, sum, imp_scalar_like(I, sum, 0));
        Value *weight = imp_scalar_like(I, sum, wt);
        sum = imp_mk2(I, OP_MUL, imp_cast_to(I, seen, DT_F32), weight);
      } else if (!strcmp(mode, "TFIDF"))
        sum = imp_mk2(I, OP_MUL, sum, imp_scalar_like(I, sum, wt));
      else if (strcmp(mode, "TF"))
        ok = imp_fail(I, "unknown mode '%s'", mode);
      col[idx->ints[g]] = sum;
      ok = ok && sum;
    }
  }
  Shape zs = x->shape; /* [.., 1]: one column */
  zs.d[zs.rank - 1] = 1;
  for (int64_t j = 0; j < size && ok; j++)
    if (!col[j]) { /* an index no counted n-gram maps to */
      Value *z = value_new(I->g, "zeros", VK_CONST, DT_F32, zs);
      z->data = arena_alloc(&I->g->arena, (size_t)(shape_numel_static(zs) * 4) + 8);
      memset(z->data, 0, (size_t)(shape_numel_static(zs) * 4));
      col[j] = z;
    }
  Value *y = NULL;
  for (int64_t j = 0; j < size && ok;) { /* columns joined 15 at a time onto the result */
    Value *parts[16];
    int c = 0;
    if (y) parts[c++] = y;
    while (j < size && c < 16)
      parts[c++] = col[j++];
    Node *cn = imp_mk(I, OP_CONCAT, c, parts);
    node_set_int(I->g, cn, "axis", x->shape.rank - 1);
    ok = imp_finish(I, cn);
    y = ok ? cn->out[0] : NULL;
  }
  free(col);
  return ok && y && (out[0] = y) != NULL;
}
