/* matmul.c - 2-D matrix product with optional transposed operands:
 * out[M,N] = op(a) op(b), op(a) = a^T when transa=1. Transposed forms let
 * autodiff express dA = dC B^T and dB = A^T dC without transpose nodes. */
#include "op.h"

typedef struct {
  int64_t m, k, n;   /* op(a) is [m,k], op(b) is [k,n] */
  bool ta, tb;
} MatDims;

static MatDims mat_dims(const Node *n, Shape a, Shape b) {
  MatDims d;
  d.ta = node_int(n, "transa", 0) != 0;
  d.tb = node_int(n, "transb", 0) != 0;
  d.m = d.ta ? a.d[1] : a.d[0];
  d.k = d.ta ? a.d[0] : a.d[1];
  d.n = d.tb ? b.d[0] : b.d[1];
  return d;
}

const char *matmul_infer(Graph *g, Node *n) {
  Value *a = n->in[0], *b = n->in[1];
  if (a->shape.rank != 2 || b->shape.rank != 2)
    return arena_printf(&g->arena, "matmul needs 2-D operands, got %s and %s", shape_str(&g->arena, a->shape),
                        shape_str(&g->arena, b->shape));
  if ((a->dtype != DT_F32 && a->dtype != DT_F64) || a->dtype != b->dtype) return "matmul needs two f32 (or two f64) operands";
  MatDims d = mat_dims(n, a->shape, b->shape);
  int64_t kb = d.tb ? b->shape.d[1] : b->shape.d[0];
  if (d.k != kb)
    return arena_printf(&g->arena, "matmul inner dimensions differ: %s%s x %s%s", shape_str(&g->arena, a->shape),
                        d.ta ? "^T" : "", shape_str(&g->arena, b->shape), d.tb ? "^T" : "");
  n->out[0]->dtype = a->dtype;
  n->out[0]->shape = shape_make(2, (int64_t[]){d.m, d.n});
  return NULL;
}

void matmul_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx;
  MatDims d = mat_dims(n, in[0]->shape, in[1]->shape);
  for (int64_t i = 0; i < d.m; i++)
    for (int64_t j = 0; j < d.n; j++) {
      double acc = 0;
      for (int64_t p = 0; p < d.k; p++) {
        double a = tensor_get(in[0], d.ta ? p * d.m + i : i * d.k + p);
        double b = tensor_get(in[1], d.tb ? j * d.k + p : p * d.n + j);
        acc += a * b;
      }
      tensor_set(out[0], i * d.n + j, acc);
    }
}

static Value *mm(Graph *g, Value *a, Value *b, int ta, int tb) {
  Value *in[2] = {a, b};
  Node *n = build_node(g, OP_MATMUL, 2, in);
  node_set_int(g, n, "transa", ta);
  node_set_int(g, n, "transb", tb);
  return build_finish(g, n);
}

/* C = op(A) op(B): d op(A) = dC op(B)^T and d op(B) = op(A)^T dC, then undo op. */
void matmul_grad(Graph *g, Node *n, Value **dy, Value **dx) {
  Value *a = n->in[0], *b = n->in[1], *dc = dy[0];
  int ta = (int)node_int(n, "transa", 0), tb = (int)node_int(n, "transb", 0);
  dx[0] = ta ? mm(g, b, dc, tb, 1) : mm(g, dc, b, 0, !tb);
  dx[1] = tb ? mm(g, dc, a, 1, ta) : mm(g, a, dc, !ta, 0);
}

static int64_t dim32(int64_t d) { return d == DIM_BATCH ? 32 : d; }

/* Worth threads from 64K multiply-adds, counting the batch dimension as 32
 * (a holds M*K elements either way round). */
static bool matmul_parallel(Value *a, Value *o) {
  int64_t m = dim32(o->shape.d[0]), k = dim32(a->shape.d[0]) * dim32(a->shape.d[1]) / m;
  return m * dim32(o->shape.d[1]) * k >= 65536;
}

/* Loop orders chosen so the innermost loop runs over contiguous memory; rows
 * of the output are independent, so they are what threads share (each output
 * element still sums over k in order). */
void matmul_emit(Emit *e, Node *n) {
  Value *a = n->in[0], *b = n->in[1], *o = n->out[0];
  bool ta = node_int(n, "transa", 0), tb = node_int(n, "transb", 0);
  const char *M = emit_dim(e, o, 0), *N = emit_dim(e, o, 1);
  const char *K = ta ? emit_dim(e, a, 0) : emit_dim(e, a, 1);
  const char *A = emit_ref(e, a), *Bm = emit_ref(e, b), *O = emit_ref(e, o);
  const char *par = matmul_parallel(a, o) ? "NN2C_PARALLEL_FOR" : NULL;
  if (tb && !ta) { /* rows of a dot rows of b */
    if (par) emit_line(e, "%s", par);
    emit_open(e, "for (size_t i = 0; i < (size_t)%s; i++)", M);
    emit_open(e, "for (size_t j = 0; j < (size_t)%s; j++)", N);
    emit_line(e, "float acc = 0.0f;");
    emit_line(e, "for (size_t k = 0; k < (size_t)%s; k++) acc += %s[i * %s + k] * %s[j * %s + k];", K, A, K, Bm, K);
    emit_line(e, "%s[i * %s + j] = acc;", O, N);
    emit_close(e);
    emit_close(e);
    return;
  }
  emit_line(e, "memset(%s, 0, sizeof(float) * %s);", O, emit_numel(e, o));
  const char *aik = ta ? arena_printf(&e->g->arena, "%s[k * %s + i]", A, M) : arena_printf(&e->g->arena, "%s[i * %s + k]", A, K);
  const char *bkj = tb ? arena_printf(&e->g->arena, "%s[j * %s + k]", Bm, K) : arena_printf(&e->g->arena, "%s[k * %s + j]", Bm, N);
  if (par) emit_line(e, "%s", par);
  emit_open(e, "for (size_t i = 0; i < (size_t)%s; i++)", M);
  emit_open(e, "for (size_t k = 0; k < (size_t)%s; k++)", K);
  emit_line(e, "const float av = %s;", aik);
  emit_line(e, "for (size_t j = 0; j < (size_t)%s; j++) %s[i * %s + j] += av * %s;", N, O, N, bkj);
  emit_close(e);
  emit_close(e);
}
