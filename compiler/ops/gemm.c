/* gemm.c - ONNX Gemm and Einsum.
 *
 * gemm(A, B, C?; alpha=1, beta=1, transA=0, transB=0) = alpha op(A) op(B) + beta C,
 * C broadcast to [M, N]. Float gemm is emitted as matmul's kernel (through a
 * stand-in matmul node) plus a pass for alpha and beta C; other dtypes get
 * a plain loop. The gradient is built from matmul.
 *
 * einsum(x0, x1, ...; equation) sums products over the letters missing from
 * the output ("..." stands for leading broadcast axes; without "->" the
 * output is the letters used once, in alphabetical order). It runs as one
 * naive loop nest over all letters; its gradient is an einsum per operand. */
#include "op.h"

#include <ctype.h>
#include <string.h>

/* ---- gemm ---- */

typedef struct {
  int64_t m, k, n;
  bool ta, tb;
} GemmDims;

static GemmDims gemm_dims(const Node *n, Shape a, Shape b) {
  GemmDims d = {0, 0, 0, node_int(n, "transA", 0) != 0, node_int(n, "transB", 0) != 0};
  d.m = a.d[d.ta ? 1 : 0], d.k = a.d[d.ta ? 0 : 1], d.n = b.d[d.tb ? 0 : 1];
  return d;
}

const char *gemm_infer(Graph *g, Node *n) {
  Shape a = n->in[0]->shape, b = n->in[1]->shape, out;
  if (a.rank != 2 || b.rank != 2 || n->in[1]->dtype != n->in[0]->dtype)
    return "gemm needs two 2-D operands of one dtype";
  GemmDims d = gemm_dims(n, a, b);
  if (b.d[d.tb ? 1 : 0] != d.k) return "gemm inner dimensions differ";
  Shape s = shape_make(2, (int64_t[]){d.m, d.n});
  if (n->nin > 2) {
    const char *err = infer_broadcast(g, n->in[2]->shape, s, &out);
    if (err || !shape_eq(out, s)) return "C does not broadcast to [M, N]";
  }
  n->out[0]->dtype = n->in[0]->dtype;
  n->out[0]->shape = s;
  return NULL;
}

void gemm_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx;
  GemmDims d = gemm_dims(n, in[0]->shape, in[1]->shape);
  double alpha = node_float(n, "alpha", 1), beta = node_float(n, "beta", 1);
  for (int64_t i = 0; i < d.m; i++)
    for (int64_t j = 0; j < d.n; j++) {
      double acc = 0;
      for (int64_t p = 0; p < d.k; p++)
        acc +=
            tensor_get(in[0], d.ta ? p * d.m + i : i * d.k + p) * tensor_get(in[1], d.tb ? j * d.k + p : p * d.n + j);
      acc *= alpha;
      if (n->nin > 2) acc += beta * tensor_get(in[2], broadcast_index(out[0]->shape, in[2]->shape, i * d.n + j));
      tensor_set(out[0], i * d.n + j, acc);
    }
}

static Value *mm(Graph *g, Value *a, Value *b, int ta, int tb) {
  Node *k = build_node(g, OP_MATMUL, 2, (Value *[]){a, b});
  node_set_int(g, k, "transa", ta);
  node_set_int(g, k, "transb", tb);
  return build_finish(g, k);
}

static Value *scaled(Graph *g, Value *v, double s) {
  return s == 1 ? v : build2(g, OP_MUL, v, build_scalar(g, v->dtype, s));
}

void gemm_grad(Graph *g, Node *n, Value **dy, Value **dx) {
  int ta = (int)node_int(n, "transA", 0), tb = (int)node_int(n, "transB", 0);
  Value *a = n->in[0], *b = n->in[1], *dc = scaled(g, dy[0], node_float(n, "alpha", 1));
  dx[0] = ta ? mm(g, b, dc, tb, 1) : mm(g, dc, b, 0, !tb);
  dx[1] = tb ? mm(g, dc, a, 1, ta) : mm(g, a, dc, !ta, 0);
  if (n->nin > 2) dx[2] = build_unbroadcast(g, scaled(g, dy[0], node_float(n, "beta", 1)), n->in[2]->shape);
}

/* C[i, j] with C broadcast to [M, N] (in the loops over i and j). */
static const char *gemm_c_ref(Emit *e, Node *n) {
  Shape cs = n->in[2]->shape;
  bool ci = cs.rank == 2 && cs.d[0] != 1, cj = cs.rank >= 1 && cs.d[cs.rank - 1] != 1;
  return arena_printf(&e->g->arena, "%s[%s%s%s]", emit_ref(e, n->in[2]),
                      ci ? arena_printf(&e->g->arena, "i * %lld", (long long)cs.d[cs.rank - 1]) : "",
                      ci && cj ? " + " : "",
                      cj   ? "j"
                      : ci ? ""
                           : "0");
}

/* The matmul node computing op(A) op(B) into the gemm's output (attributes in a[2]). */
static Node gemm_as_matmul(const Node *n, Attr *a) {
  Node m = *n;
  a[0] = (Attr){.key = "transa", .type = AT_INT, .i = node_int(n, "transA", 0)};
  a[1] = (Attr){.key = "transb", .type = AT_INT, .i = node_int(n, "transB", 0)};
  m.op = OP_MATMUL, m.nin = 2, m.attrs = a, m.nattrs = 2;
  return m;
}

/* A float gemm runs matmul's kernel, with its scratch. */
int64_t gemm_scratch(const Node *n) {
  Attr a[2];
  Node m = gemm_as_matmul(n, a);
  return n->out[0]->dtype == DT_F32 ? matmul_scratch(&m) : 0;
}

void gemm_emit(Emit *e, Node *n) {
  GemmDims d = gemm_dims(n, n->in[0]->shape, n->in[1]->shape);
  double alpha = node_float(n, "alpha", 1), beta = n->nin > 2 ? node_float(n, "beta", 1) : 0;
  if (n->out[0]->dtype == DT_F32) { /* matmul's kernels are f32 */
    Attr at[2];
    Node m = gemm_as_matmul(n, at);
    matmul_emit(e, &m);
    if (alpha == 1 && beta == 0) return;
    Value *y = n->out[0];
    const char *Y = emit_ref(e, y);
    emit_open(e, "for (size_t i = 0; i < %s; i++)", emit_dim(e, y, 0));
    emit_open(e, "for (size_t j = 0; j < %lld; j++)", (long long)d.n);
    /* a microcontroller build (mcu=1, nn2c compile --target) scales in float */
    bool mcu = node_int(n, "mcu", 0) != 0;
    const char *al = mcu ? emit_float(e, alpha) : arena_printf(&e->g->arena, "%.17g", alpha);
    const char *be = mcu ? emit_float(e, beta) : arena_printf(&e->g->arena, "%.17g", beta);
    emit_line(e, "%s[i * %lld + j] = (%s)(%s * %s[i * %lld + j]%s);", Y, (long long)d.n, emit_ctype(y->dtype), al, Y,
              (long long)d.n, beta == 0 ? "" : arena_printf(&e->g->arena, " + %s * %s", be, gemm_c_ref(e, n)));
    emit_close(e);
    emit_close(e);
    return;
  }
  const char *A = emit_ref(e, n->in[0]), *Bv = emit_ref(e, n->in[1]), *Y = emit_ref(e, n->out[0]);
  const char *M = emit_dim(e, n->out[0], 0);
  long long K = (long long)d.k, N = (long long)d.n;
  emit_open(e, "for (size_t i = 0; i < %s; i++)", M);
  emit_open(e, "for (size_t j = 0; j < %lld; j++)", N);
  emit_line(e, "double acc = 0;");
  emit_line(e, "for (size_t k = 0; k < %lld; k++) acc += (double)%s[%s] * %s[%s];", K, A,
            d.ta ? arena_printf(&e->g->arena, "k * %s + i", M) : arena_printf(&e->g->arena, "i * %lld + k", K), Bv,
            d.tb ? arena_printf(&e->g->arena, "j * %lld + k", K) : arena_printf(&e->g->arena, "k * %lld + j", N));
  emit_line(e, "%s[i * %lld + j] = (%s)(%.17g * acc%s);", Y, N, emit_ctype(n->out[0]->dtype), alpha,
            beta == 0 ? "" : arena_printf(&e->g->arena, " + %.17g * %s", beta, gemm_c_ref(e, n)));
  emit_close(e);
  emit_close(e);
}

/* ---- einsum ---- */

typedef struct {
  int nop;
  char in[16][MAX_RANK + 1]; /* letters per operand, "..." spelled as '0'..'7' */
  char out[MAX_RANK + 1];
  char letters[MAX_RANK + 1]; /* all distinct letters: output ones first */
  int64_t ext[MAX_RANK];      /* extent of each of `letters` */
} Einsum;

static int letter_index(const Einsum *es, char c) {
  const char *p = strchr(es->letters, c);
  return p ? (int)(p - es->letters) : -1;
}

/* Parses one term against a rank (rank < 0: the output, ellipsis of width ew). */
static bool parse_term(const char *s, size_t len, int rank, int *ew, char *dst) {
  int named = 0, k = 0;
  bool ell = false;
  for (size_t i = 0; i < len; i++)
    named += isalpha((unsigned char)s[i]) != 0;
  int w = rank < 0 ? *ew : rank - named;
  for (size_t i = 0; i < len; i++) {
    if (!strncmp(s + i, "...", 3)) {
      if (ell || w < 0) return false;
      ell = true;
      for (int j = 0; j < w; j++)
        dst[k++] = (char)('0' + (MAX_RANK - w + j));
      i += 2;
    } else if (isalpha((unsigned char)s[i])) {
      if (k >= MAX_RANK) return false;
      dst[k++] = s[i];
    } else if (s[i] != ' ')
      return false;
  }
  dst[k] = 0;
  if (rank >= 0 && ell && w > *ew) *ew = w;
  return rank < 0 || k == rank;
}

static const char *einsum_parse(const Node *n, Einsum *es) {
  const char *eq = node_string(n, "equation", NULL), *arrow;
  if (!eq) return "einsum needs equation=\"...\"";
  memset(es, 0, sizeof *es);
  es->nop = n->nin;
  arrow = strstr(eq, "->");
  const char *p = eq, *end = arrow ? arrow : eq + strlen(eq);
  int ew = 0;
  for (int k = 0; k < n->nin; k++) {
    const char *c = memchr(p, ',', (size_t)(end - p));
    const char *stop = c ? c : end;
    if ((k < n->nin - 1) != (c != NULL)) return "equation has a term per input";
    if (!parse_term(p, (size_t)(stop - p), n->in[k]->shape.rank, &ew, es->in[k]))
      return "equation does not fit the inputs' ranks";
    p = stop + 1;
  }
  if (arrow) {
    if (!parse_term(arrow + 2, strlen(arrow + 2), -1, &ew, es->out)) return "bad output term";
  } else { /* ellipsis axes, then letters used once, alphabetically */
    int k = 0;
    for (int j = 0; j < ew; j++)
      es->out[k++] = (char)('0' + MAX_RANK - ew + j);
    for (char c = 'A'; c <= 'z'; c++) {
      int uses = 0;
      for (int t = 0; t < n->nin; t++)
        for (const char *q = es->in[t]; *q; q++)
          uses += *q == c;
      if (uses == 1 && k < MAX_RANK) es->out[k++] = c;
    }
  }
  strcpy(es->letters, es->out);
  for (int t = 0; t < n->nin; t++)
    for (int j = 0; es->in[t][j]; j++) {
      char c = es->in[t][j];
      int li = letter_index(es, c);
      int64_t d = n->in[t]->shape.d[j];
      if (li < 0) {
        if (strlen(es->letters) >= MAX_RANK) return "einsum uses more than 8 letters";
        li = (int)strlen(es->letters);
        es->letters[li] = c;
        es->ext[li] = d;
      } else if (es->ext[li] == 0 || es->ext[li] == 1)
        es->ext[li] = d;
      else if (d != es->ext[li] && d != 1)
        return "an einsum letter has two extents";
    }
  for (int j = 0; es->out[j]; j++)
    for (int k = j + 1; es->out[k]; k++)
      if (es->out[j] == es->out[k]) return "a letter repeats in the output";
  for (int j = 0; es->out[j]; j++) {
    bool used = false;
    for (int t = 0; t < n->nin; t++)
      used = used || strchr(es->in[t], es->out[j]);
    if (!used) return "an output letter is in no input";
  }
  return NULL;
}

const char *einsum_infer(Graph *g, Node *n) {
  Einsum es;
  const char *err = einsum_parse(n, &es);
  if (err) return err;
  for (int k = 1; k < n->nin; k++)
    if (n->in[k]->dtype != n->in[0]->dtype) return "einsum inputs differ in dtype";
  Shape s = {(int)strlen(es.out), {0}};
  for (int j = 0; j < s.rank; j++)
    s.d[j] = es.ext[j];
  n->out[0]->dtype = n->in[0]->dtype;
  n->out[0]->shape = s;
  (void)g;
  return NULL;
}

/* Flat index of operand t for letter values v (broadcast extents of 1 read index 0). */
static int64_t operand_index(const Einsum *es, const Tensor *x, int t, const int64_t *v) {
  int64_t idx = 0;
  for (int j = 0; es->in[t][j]; j++)
    idx = idx * x->shape.d[j] + (x->shape.d[j] == 1 ? 0 : v[letter_index(es, es->in[t][j])]);
  return idx;
}

void einsum_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx;
  Einsum es;
  NN2C_ASSERT(!einsum_parse(n, &es));
  int nl = (int)strlen(es.letters), no = (int)strlen(es.out);
  int64_t ext[MAX_RANK], v[MAX_RANK] = {0}, total = 1;
  for (int j = 0; j < nl; j++)
    ext[j] = es.ext[j] == DIM_BATCH ? cx->batch : es.ext[j], total *= ext[j];
  for (int64_t i = 0; i < out[0]->numel; i++)
    tensor_set(out[0], i, 0);
  for (int64_t i = 0; i < total; i++) {
    int64_t r = i, o = 0;
    for (int j = nl - 1; j >= 0; j--)
      v[j] = r % ext[j], r /= ext[j];
    for (int j = 0; j < no; j++)
      o = o * ext[j] + v[j];
    double p = 1;
    for (int t = 0; t < n->nin; t++)
      p *= tensor_get(in[t], operand_index(&es, in[t], t, v));
    tensor_set(out[0], o, tensor_get(out[0], o) + p);
  }
}

static char *term_text(Arena *a, const char *t) {
  char *s = arena_strdup(a, t);
  for (char *p = s; *p; p++)
    if (isdigit((unsigned char)*p)) *p = (char)('A' + (*p - '0')); /* ellipsis axes as capital letters */
  return s;
}

/* d operand k = einsum(dy, the other operands -> operand k's letters); letters
 * of operand k found nowhere else are broadcast back afterwards. */
void einsum_grad(Graph *g, Node *n, Value **dy, Value **dx) {
  Einsum es;
  NN2C_ASSERT(!einsum_parse(n, &es));
  for (int k = 0; k < n->nin; k++) {
    Value *ops[16] = {dy[0]};
    Buf eq = {0};
    buf_puts(&eq, term_text(&g->arena, es.out));
    int nop = 1;
    for (int t = 0; t < n->nin; t++)
      if (t != k) ops[nop++] = n->in[t], buf_printf(&eq, ",%s", term_text(&g->arena, es.in[t]));
    char keep[MAX_RANK + 1] = {0}, *mine = term_text(&g->arena, es.in[k]);
    Shape ks = {0, {0}};
    for (int j = 0; mine[j]; j++) {
      bool found = strchr(eq.data, mine[j]) && !strchr(keep, mine[j]);
      NN2C_ASSERT((found || !strchr(mine + j + 1, mine[j])) && "einsum gradient with a repeated letter");
      if (found) keep[strlen(keep)] = mine[j];
      ks.d[ks.rank++] = found ? n->in[k]->shape.d[j] : 1;
    }
    buf_printf(&eq, "->%s", keep);
    Node *e = build_node(g, OP_EINSUM, nop, ops);
    node_set_string(g, e, "equation", eq.data);
    buf_free(&eq);
    Value *d = build_reshape(g, build_finish(g, e), ks);
    if (!shape_eq(d->shape, n->in[k]->shape)) {
      Node *x = build_node(g, OP_EXPAND, 1, &d);
      node_set_ints(g, x, "shape", n->in[k]->shape.d, n->in[k]->shape.rank);
      d = build_finish(g, x);
    }
    dx[k] = d;
  }
}

void einsum_emit(Emit *e, Node *n) {
  Einsum es;
  NN2C_ASSERT(!einsum_parse(n, &es));
  int nl = (int)strlen(es.letters), no = (int)strlen(es.out);
  Value *y = n->out[0];
  const char *ext[MAX_RANK];
  for (int j = 0; j < nl; j++)
    ext[j] = es.ext[j] == DIM_BATCH ? "B" : arena_printf(&e->g->arena, "%lld", (long long)es.ext[j]);
  emit_open(e, "");
  emit_line(e, "size_t q = 0;");
  for (int j = 0; j < no; j++)
    emit_open(e, "for (size_t i%d = 0; i%d < %s; i%d++)", j, j, ext[j], j);
  emit_line(e, "double acc = 0;");
  for (int j = no; j < nl; j++)
    emit_open(e, "for (size_t i%d = 0; i%d < %s; i%d++)", j, j, ext[j], j);
  Buf p = {0};
  for (int t = 0; t < n->nin; t++) {
    Value *x = n->in[t];
    buf_printf(&p, "%s(double)%s[0", t ? " * " : "", emit_ref(e, x));
    for (int j = 0; es.in[t][j]; j++) {
      if (x->shape.d[j] == 1) continue;
      buf_printf(&p, " + i%d * %s", letter_index(&es, es.in[t][j]), emit_numel_range(e, x, j + 1, x->shape.rank));
    }
    buf_puts(&p, "]");
  }
  emit_line(e, "acc += %s;", p.data);
  buf_free(&p);
  for (int j = no; j < nl; j++)
    emit_close(e);
  emit_line(e, "%s[q++] = (%s)acc;", emit_ref(e, y), emit_ctype(y->dtype));
  for (int j = 0; j < no; j++)
    emit_close(e);
  emit_line(e, "(void)q;");
  emit_close(e);
}
