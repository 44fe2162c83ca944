/* matmul.c - 2-D matrix product with optional transposed operands:
 * out[M,N] = op(a) op(b), op(a) = a^T when transa=1. Transposed forms let
 * autodiff express dA = dC B^T and dB = A^T dC without transpose nodes.
 * Leading axes fold into rows (fold2): a [.., K] times b [K, N] is [.., N], and
 * a [.., M]^T times b [.., N] over the same leading axes is [M, N], so an
 * unrolled recurrent layer multiplies every step's input [N, T, F] by its input
 * kernel in one product (the batch N may be among the folded axes), and the
 * gradients of that product are such products again. */
#include "op.h"

#include <string.h>

typedef struct {
  int64_t m, k, n; /* op(a) is [m,k], op(b) is [k,n] */
  bool ta, tb;
} MatDims;

/* s as a matrix: its leading axes folded into one (DIM_BATCH if N is among them). */
static Shape fold2(Shape s) {
  int64_t rows = 1;
  for (int i = 0; i < s.rank - 1; i++)
    rows = s.d[i] == DIM_BATCH || rows == DIM_BATCH ? DIM_BATCH : rows * s.d[i];
  return shape_make(2, (int64_t[]){rows, s.d[s.rank - 1]});
}

static MatDims mat_dims(const Node *n, Shape a, Shape b) {
  MatDims d;
  a = fold2(a), b = fold2(b);
  d.ta = node_int(n, "transa", 0) != 0;
  d.tb = node_int(n, "transb", 0) != 0;
  d.m = d.ta ? a.d[1] : a.d[0];
  d.k = d.ta ? a.d[0] : a.d[1];
  d.n = d.tb ? b.d[0] : b.d[1];
  return d;
}

const char *matmul_infer(Graph *g, Node *n) {
  Value *a = n->in[0], *b = n->in[1];
  int ra = a->shape.rank, rb = b->shape.rank;
  bool lead = ra == rb; /* a^T b over the same leading axes */
  for (int i = 0; i < ra - 1 && lead; i++)
    lead = a->shape.d[i] == b->shape.d[i];
  MatDims d = mat_dims(n, a->shape, b->shape);
  if (ra < 2 || rb < 2 || (d.ta && ra > 2 && (!lead || d.tb)) || (rb > 2 && (!d.ta || !lead)))
    return arena_printf(&g->arena,
                        "matmul needs 2-D operands (or a [..,K] x [K,N], a [..,M]^T x [..,N]), got %s and %s",
                        shape_str(&g->arena, a->shape), shape_str(&g->arena, b->shape));
  if ((a->dtype != DT_F32 && a->dtype != DT_F64) || a->dtype != b->dtype)
    return "matmul needs two f32 (or two f64) operands";
  int64_t kb = fold2(b->shape).d[d.tb ? 1 : 0];
  if (d.k != kb)
    return arena_printf(&g->arena, "matmul inner dimensions differ: %s%s x %s%s", shape_str(&g->arena, a->shape),
                        d.ta ? "^T" : "", shape_str(&g->arena, b->shape), d.tb ? "^T" : "");
  n->out[0]->dtype = a->dtype;
  n->out[0]->shape = d.ta ? shape_make(2, (int64_t[]){d.m, d.n}) : a->shape;
  n->out[0]->shape.d[n->out[0]->shape.rank - 1] = d.n;
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

static int64_t numel32(Shape s) {
  int64_t p = 1;
  for (int i = 0; i < s.rank; i++)
    p *= dim32(s.d[i]);
  return p;
}

/* Worth threads from 2M multiply-adds, counting the batch dimension as 32
 * (a holds M*K elements either way round): an unrolled LSTM runs hundreds of
 * [32,128]x[128,256] products a step, where a parallel region's start and
 * join eat the gain (and collapse when the cores are shared). At run time the
 * pragma's threshold (NN2C_PARALLEL_FOR_IF) checks the real work. */
static bool matmul_parallel(Value *a, Value *o) {
  int64_t m = numel32(o->shape) / dim32(o->shape.d[o->shape.rank - 1]), k = numel32(a->shape) / m;
  return numel32(o->shape) * k >= (1 << 21);
}

/* Axis `axis` of a matrix of matmul_view: `rows` where it stands for folded axes with N. */
static const char *mdim(Emit *e, Value *v, int axis, const char *rows) {
  return v->shape.d[axis] == DIM_BATCH ? rows : emit_dim(e, v, axis);
}

/* n with its operands and output as matrices (fold2); *rows gets the C extent
 * of the folded axes that hold N ("B" when nothing folds). */
static Node *matmul_view(Emit *e, Node *n, const char **rows) {
  Value *a = n->in[0];
  *rows = "B";
  if (a->shape.rank == 2 && n->out[0]->shape.rank == 2) return n;
  Node *v = arena_alloc(&e->g->arena, sizeof *v);
  *v = *n;
  v->in = arena_alloc(&e->g->arena, sizeof(Value *) * (size_t)n->nin);
  v->out = arena_alloc(&e->g->arena, sizeof(Value *));
  for (int k = 0; k <= n->nin; k++) {
    Value *c = arena_alloc(&e->g->arena, sizeof *c);
    *c = k < n->nin ? *n->in[k] : *n->out[0];
    c->shape = c->shape.rank >= 2 ? fold2(c->shape) : c->shape;
    *(k < n->nin ? &v->in[k] : &v->out[0]) = c;
  }
  *rows = emit_numel_range(e, a, 0, a->shape.rank - 1);
  return v;
}

static const char *matmul_pragma(Emit *e, Node *n, const char *rows) {
  Value *a = n->in[0], *o = n->out[0];
  bool ta = node_int(n, "transa", 0);
  return arena_printf(&e->g->arena, "NN2C_PARALLEL_FOR_IF((size_t)%s * %s * %s)", mdim(e, o, 0, rows),
                      emit_dim(e, o, 1), ta ? mdim(e, a, 0, rows) : emit_dim(e, a, 1));
}

/* The tiled kernel transposes a b^T operand into the step's scratch space,
 * which is sized at compile time: only for a b without the batch dimension. */
static bool matmul_uses_scratch(const Node *n) {
  return node_int(n, "transb", 0) != 0 && !shape_has_batch(n->in[1]->shape);
}

/* A bare block, so the node's declarations do not meet the next node's. */
static void block_open(Emit *e) {
  emit_line(e, "{");
  e->indent++;
}

#define MM_RB 8  /* output rows per tile: 8 x 32 sums fill half of AVX-512's registers */
#define MM_CB 32 /* output columns per tile (a tail tile takes the rest) */

/* One tile: `rows` rows from i0 times w columns from j0, summed over k in order
 * in registers (acc), then stored. `ta`: a is stored [K,M]. */
static void emit_mm_tile(Emit *e, int rows, const char *A, const char *Bk, const char *O, const char *M, const char *N,
                         const char *K, bool ta, const char *j0, int64_t w, const char *bias, bool relu, bool kb) {
  bool vec = w % 16 == 0; /* explicit vectors (NN2C_VW divides 16); a narrow tail tile stays scalar */
  /* A narrow tile's sums start from an initializer, not memset: gcc 12.2 -O2 -mavx512f
   * expanded memset(acc, 0, sizeof acc) of float[4][3] and float[1][20] into an aligned
   * store at a misaligned stack offset (SIGSEGV; e2e_isa's gcc -march=native builds). */
  if (vec)
    emit_line(e, "nn2c_vf acc[%d][%lld / NN2C_VW];", rows, (long long)w);
  else
    emit_line(e, "float acc[%d][%lld]%s;", rows, (long long)w, bias ? "" : " = {{0.0f}}");
  if (bias && vec)
    emit_line(e,
              "for (size_t r = 0; r < %d; r++) for (size_t v = 0; v < %lld / NN2C_VW; v++) acc[r][v] = nn2c_vload(%s + "
              "%s + v * NN2C_VW);",
              rows, (long long)w, bias, j0);
  else if (bias)
    emit_line(e, "for (size_t r = 0; r < %d; r++) for (size_t c = 0; c < %lld; c++) acc[r][c] = %s[%s + c];", rows,
              (long long)w, bias, j0);
  else if (vec)
    emit_line(e, "memset(acc, 0, sizeof acc);");
  if (kb && vec) /* a later block of k goes on from the sums the earlier ones stored */
    emit_line(e,
              "if (k0) for (size_t r = 0; r < %d; r++) for (size_t v = 0; v < %lld / NN2C_VW; v++) acc[r][v] = "
              "nn2c_vload(%s + (i0 + r) * %s + %s + v * NN2C_VW);",
              rows, (long long)w, O, N, j0);
  else if (kb)
    emit_line(e,
              "if (k0) for (size_t r = 0; r < %d; r++) for (size_t c = 0; c < %lld; c++) acc[r][c] = %s[(i0 + r) * %s "
              "+ %s + c];",
              rows, (long long)w, O, N, j0);
  emit_open(e, "for (size_t k = %s; k < %s; k++)", kb ? "k0" : "0", kb ? "k1" : K);
  emit_line(e, "const float *br = %s + k * %s + %s;", Bk, N, j0);
  Buf b = {0};
  for (int r = 0; r < rows; r++) {
    if (ta)
      buf_printf(&b, "%sa%d = %s[k * %s + i0 + %d]", r ? ", " : "", r, A, M, r);
    else
      buf_printf(&b, "%sa%d = %s[(i0 + %d) * %s + k]", r ? ", " : "", r, A, r, K);
  }
  emit_line(e, "const float %s;", b.data);
  buf_free(&b);
  if (vec) {
    emit_open(e, "for (size_t v = 0; v < %lld / NN2C_VW; v++)", (long long)w);
    emit_line(e, "const nn2c_vf bv = nn2c_vload(br + v * NN2C_VW);");
    for (int r = 0; r < rows; r++)
      emit_line(e, "acc[%d][v] += a%d * bv;", r, r);
  } else {
    emit_open(e, "for (size_t c = 0; c < %lld; c++)", (long long)w);
    for (int r = 0; r < rows; r++)
      emit_line(e, "acc[%d][c] += a%d * br[c];", r, r);
  }
  emit_close(e);
  emit_close(e);
  emit_line(e, "for (size_t r = 0; r < %d; r++)", rows);
  if (vec)
    emit_line(e,
              "  for (size_t v = 0; v < %lld / NN2C_VW; v++) nn2c_vstore(%s + (i0 + r) * %s + %s + v * NN2C_VW, %s);",
              (long long)w, O, N, j0, relu ? "nn2c_vrelu(acc[r][v])" : "acc[r][v]");
  else
    emit_line(e, "  for (size_t c = 0; c < %lld; c++) %s[(i0 + r) * %s + %s + c] = %s;", (long long)w, O, N, j0,
              relu ? "acc[r][c] > 0.0f ? acc[r][c] : 0.0f" : "acc[r][c]");
}

/* The column tiles of `rows` output rows from i0. */
static void emit_mm_rows(Emit *e, Node *n, const char *B, int rows, const char *A, const char *Bk, const char *O,
                         const char *bias, bool kb) {
  Value *a = n->in[0], *o = n->out[0];
  bool ta = node_int(n, "transa", 0), relu = !strcmp(node_string(n, "activation", ""), "relu");
  const char *M = mdim(e, o, 0, B), *N = emit_dim(e, o, 1), *K = ta ? mdim(e, a, 0, B) : emit_dim(e, a, 1);
  int64_t nn = o->shape.d[1], full = nn / MM_CB * MM_CB;
  if (full) {
    emit_open(e, "for (size_t j0 = 0; j0 < %lld; j0 += %d)", (long long)full, MM_CB);
    emit_mm_tile(e, rows, A, Bk, O, M, N, K, ta, "j0", MM_CB, bias, relu, kb);
    emit_close(e);
  }
  for (int64_t w = (nn - full) / 16 * 16; full < nn; full += w, w = nn - full) { /* vector columns, then the rest */
    if (!w) continue;
    block_open(e);
    emit_mm_tile(e, rows, A, Bk, O, M, N, K, ta, arena_printf(&e->g->arena, "%lld", (long long)full), w, bias, relu,
                 kb);
    emit_close(e);
  }
}

/* Register-tiled: each tile keeps MM_RB x MM_CB sums in registers while it
 * walks k, so every b row loaded serves MM_RB rows and every a element MM_CB
 * columns; the rows past the last whole tile go one at a time (a batch of 1
 * computes one row, not a tile). op(b) is read as rows [k][N]: a transposed b
 * is first copied into that order in the scratch space. Tiles of rows are what
 * threads share; each output element sums over k in order, whatever the
 * number of threads. n is a matmul_view; B the extent of its folded rows; kb
 * (matmul_kblock) cuts k into blocks, each summed into every tile in turn. */
static void matmul_tiled_body(Emit *e, Node *n, const char *B, bool par, int64_t kb, const char *A, const char *Bk,
                              const char *O, const char *bias) {
  Value *a = n->in[0], *o = n->out[0];
  bool ta = node_int(n, "transa", 0), tb = node_int(n, "transb", 0);
  const char *M = mdim(e, o, 0, B), *N = emit_dim(e, o, 1), *K = ta ? mdim(e, a, 0, B) : emit_dim(e, a, 1);
  bool tail = o->shape.d[0] == DIM_BATCH || o->shape.d[0] % MM_RB;
  emit_line(e, "/* tiles of %d rows x %d columns, sums in registers%s */", MM_RB, MM_CB,
            tb ? "; b^T copied to scratch as [K][N]" : "");
  block_open(e);
  if (tb) { /* in blocks of 16 rows of b, so the rows being read stay in cache */
    emit_line(e, "float *bt = (float *)scratch;");
    emit_open(e, "for (size_t j0 = 0; j0 < %s; j0 += 16)", N);
    emit_open(e, "for (size_t k = 0; k < %s; k++)", K);
    emit_line(e, "for (size_t j = j0; j < j0 + 16 && j < %s; j++) bt[k * %s + j] = %s[j * %s + k];", N, N, Bk, K);
    emit_close(e);
    emit_close(e);
    Bk = "bt";
  }
  if (kb) {
    emit_open(e, "for (size_t k0 = 0; k0 < %s; k0 += %lld)", K, (long long)kb);
    emit_line(e, "const size_t k1 = k0 + %lld < %s ? k0 + %lld : %s;", (long long)kb, K, (long long)kb, K);
  }
  if (par && kb) /* the work of one block */
    emit_line(e, "NN2C_PARALLEL_FOR_IF((size_t)%s * %s * (k1 - k0))", M, N);
  else if (par)
    emit_line(e, "%s", matmul_pragma(e, n, B));
  bool whole = o->shape.d[0] == DIM_BATCH || o->shape.d[0] >= MM_RB; /* a loop to 0 would warn */
  if (o->shape.d[0] == DIM_BATCH)
    emit_open(e, "for (size_t ib = 0; ib < %s / %d; ib++)", B, MM_RB);
  else if (whole)
    emit_open(e, "for (size_t ib = 0; ib < %lld; ib++)", (long long)(o->shape.d[0] / MM_RB));
  if (whole) {
    emit_line(e, "const size_t i0 = ib * %d;", MM_RB);
    emit_mm_rows(e, n, B, MM_RB, A, Bk, O, bias, kb);
    emit_close(e);
  }
  if (tail) {
    emit_open(e, "for (size_t i0 = (size_t)%s / %d * %d; i0 < (size_t)%s; i0++)", M, MM_RB, MM_RB, M);
    emit_mm_rows(e, n, B, 1, A, Bk, O, bias, kb);
    emit_close(e);
  }
  if (kb) emit_close(e);
  emit_close(e);
}

/* a^T b reads all of b (K x N) once per tile of output rows; when b holds more
 * than 256 KB (counting N as 32: a product over every step of a sequence) it is
 * read in blocks of k rows of 128 KB, which stay in any core's L2 cache while
 * every tile sums over them. 0: no blocks. Each sum still runs over k in order. */
static int64_t matmul_kblock(Node *n) {
  Value *b = n->in[1];
  int64_t cols = b->shape.d[b->shape.rank - 1];
  if (!node_int(n, "transa", 0) || n->op != OP_MATMUL || numel32(b->shape) * 4 <= (256 << 10)) return 0;
  return cols < 2048 ? 32768 / cols : 16;
}

/* The kernel depends only on the shapes, transposes and threading, so nodes
 * alike (an unrolled recurrent layer has hundreds) share one static function
 * among the helpers (folded rows are passed as its B); without a helpers
 * buffer it is written in place. */
static void matmul_emit_tiled(Emit *e, Node *n) {
  const char *rows;
  bool par = matmul_parallel(n->in[0], n->out[0]);
  int64_t kb = matmul_kblock(n);
  n = matmul_view(e, n, &rows);
  Value *a = n->in[0], *b = n->in[1], *o = n->out[0];
  bool ta = node_int(n, "transa", 0), tb = node_int(n, "transb", 0), bias = n->op == OP_MATMUL_BIAS;
  bool relu = !strcmp(node_string(n, "activation", ""), "relu");
  if (!e->helpers) {
    matmul_tiled_body(e, n, rows, par, kb, emit_ref(e, a), emit_ref(e, b), emit_ref(e, o),
                      bias ? emit_ref(e, n->in[2]) : NULL);
    return;
  }
  const char *M = emit_dim(e, o, 0), *N = emit_dim(e, o, 1), *K = ta ? emit_dim(e, a, 0) : emit_dim(e, a, 1);
  char *fn = arena_printf(&e->g->arena, "mm_%d%d_%sx%sx%s%s%s%s", ta, tb, M, N, K, par ? "_par" : "",
                          kb ? arena_printf(&e->g->arena, "_kb%lld", (long long)kb) : "",
                          bias ? (relu ? "_bias_relu" : "_bias") : "");
  char *def = arena_printf(&e->g->arena,
                           "static NN2C_KERNEL void %s(const float *pa, const float *pb, %sfloat *po, size_t B, "
                           "unsigned char *scratch, int nt)",
                           fn, bias ? "const float *pbias, " : "");
  if (!e->helpers->data || !strstr(e->helpers->data, def)) {
    Emit h = {e->helpers, e->g, 1, NULL, NULL, NULL, NULL};
    /* only the native build calls it: the OpenBLAS build calls cblas_sgemm instead */
    buf_printf(e->helpers, "#ifndef NN2C_USE_CBLAS\n/* matmul [%s,%s] = %sa%s %sb%s */\n%s {\n", M, N, ta ? "" : "",
               ta ? "^T" : "", "", tb ? "^T" : "", def);
    emit_line(&h, "(void)B, (void)scratch, (void)nt;");
    matmul_tiled_body(&h, n, "B", par, kb, "pa", "pb", "po", bias ? "pbias" : NULL);
    buf_puts(e->helpers, "}\n#endif\n\n");
  }
  emit_line(e, "%s(%s, %s, %s%s%s, %s, %s, nt);", fn, emit_ref(e, a), emit_ref(e, b), bias ? emit_ref(e, n->in[2]) : "",
            bias ? ", " : "", emit_ref(e, o), rows, tb ? "scratch" : "NULL");
}

/* Loop orders chosen so the innermost loop runs over contiguous memory; rows
 * of the output are independent, so they are what threads share (each output
 * element still sums over k in order). */
static void matmul_emit_native(Emit *e, Node *n) {
  bool ta = node_int(n, "transa", 0), tb = node_int(n, "transb", 0);
  if (n->out[0]->dtype == DT_F32 && (!tb || matmul_uses_scratch(n))) {
    matmul_emit_tiled(e, n);
    return;
  }
  const char *rows, *numel = emit_numel(e, n->out[0]);
  bool parallel = matmul_parallel(n->in[0], n->out[0]);
  n = matmul_view(e, n, &rows);
  Value *a = n->in[0], *b = n->in[1], *o = n->out[0];
  const char *M = mdim(e, o, 0, rows), *N = emit_dim(e, o, 1);
  const char *K = ta ? mdim(e, a, 0, rows) : emit_dim(e, a, 1);
  const char *A = emit_ref(e, a), *Bm = emit_ref(e, b), *O = emit_ref(e, o);
  const char *par = parallel ? matmul_pragma(e, n, rows) : NULL;
  const char *ct = emit_ctype(o->dtype); /* f64 products stay f64 */
  if (tb && !ta) {                       /* rows of a dot rows of b */
    if (par) emit_line(e, "%s", par);
    emit_open(e, "for (size_t i = 0; i < (size_t)%s; i++)", M);
    emit_open(e, "for (size_t j = 0; j < (size_t)%s; j++)", N);
    emit_line(e, "%s acc = 0.0f;", ct);
    emit_line(e, "for (size_t k = 0; k < (size_t)%s; k++) acc += %s[i * %s + k] * %s[j * %s + k];", K, A, K, Bm, K);
    emit_line(e, "%s[i * %s + j] = acc;", O, N);
    emit_close(e);
    emit_close(e);
    return;
  }
  emit_line(e, "memset(%s, 0, sizeof(%s) * %s);", O, ct, numel);
  const char *aik =
      ta ? arena_printf(&e->g->arena, "%s[k * %s + i]", A, M) : arena_printf(&e->g->arena, "%s[i * %s + k]", A, K);
  const char *bkj =
      tb ? arena_printf(&e->g->arena, "%s[j * %s + k]", Bm, K) : arena_printf(&e->g->arena, "%s[k * %s + j]", Bm, N);
  if (par) emit_line(e, "%s", par);
  emit_open(e, "for (size_t i = 0; i < (size_t)%s; i++)", M);
  emit_open(e, "for (size_t k = 0; k < (size_t)%s; k++)", K);
  emit_line(e, "const %s av = %s;", ct, aik);
  emit_line(e, "for (size_t j = 0; j < (size_t)%s; j++) %s[i * %s + j] += av * %s;", N, O, N, bkj);
  emit_close(e);
  emit_close(e);
}

/* Built with -DNN2C_USE_CBLAS, an f32 product is one cblas_sgemm call (the
 * emitted Makefile's BLAS=openblas); the native loops stay in the #else. */
void matmul_emit(Emit *e, Node *n) {
  if (n->out[0]->dtype != DT_F32) {
    matmul_emit_native(e, n);
    return;
  }
  const char *rows;
  Node *v = matmul_view(e, n, &rows);
  Value *a = v->in[0], *b = v->in[1], *o = v->out[0];
  bool ta = node_int(n, "transa", 0), tb = node_int(n, "transb", 0);
  emit_line(e, "#ifdef NN2C_USE_CBLAS");
  emit_line(e,
            "cblas_sgemm(CblasRowMajor, %s, %s, (int)%s, (int)%s, (int)%s, 1.0f, %s, (int)%s, %s, (int)%s, 0.0f, %s, "
            "(int)%s);",
            ta ? "CblasTrans" : "CblasNoTrans", tb ? "CblasTrans" : "CblasNoTrans", mdim(e, o, 0, rows),
            emit_dim(e, o, 1), ta ? mdim(e, a, 0, rows) : emit_dim(e, a, 1), emit_ref(e, a), emit_dim(e, a, 1),
            emit_ref(e, b), emit_dim(e, b, 1), emit_ref(e, o), emit_dim(e, o, 1));
  emit_line(e, "#else");
  matmul_emit_native(e, n);
  emit_line(e, "#endif");
}

/* The scratch hook: room for b^T when the tiled kernel transposes it. */
int64_t matmul_scratch(const Node *n) { return matmul_uses_scratch(n) ? shape_numel_static(n->in[1]->shape) * 4 : 0; }

/* matmul_bias(a[M,K], b[K,N], bias[N]) = a b + bias, or with activation="relu"
 * relu of it: a dense layer in one pass, made by the fuse pass from
 * matmul + add (+ relu). The bias starts the sums and the relu is applied as
 * they are stored. */
const char *matmul_bias_infer(Graph *g, Node *n) {
  const char *err = matmul_infer(g, n);
  if (err) return err;
  Value *bias = n->in[2];
  if (node_int(n, "transa", 0) || node_int(n, "transb", 0)) return "matmul_bias takes no transposed operands";
  if (bias->dtype != DT_F32 || bias->shape.rank != 1 || bias->shape.d[0] != n->out[0]->shape.d[1])
    return arena_printf(&g->arena, "matmul_bias needs an f32 bias of shape [%lld]", (long long)n->out[0]->shape.d[1]);
  return NULL;
}

void matmul_bias_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  bool relu = !strcmp(node_string(n, "activation", ""), "relu");
  int64_t m = out[0]->shape.d[0], c = out[0]->shape.d[1], k = in[0]->shape.d[1];
  (void)cx;
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < c; j++) {
      double acc = tensor_get(in[2], j);
      for (int64_t p = 0; p < k; p++)
        acc += tensor_get(in[0], i * k + p) * tensor_get(in[1], p * c + j);
      tensor_set(out[0], i * c + j, relu && acc < 0 ? 0.0 : acc);
    }
}

void matmul_bias_grad(Graph *g, Node *n, Value **dy, Value **dx) {
  (void)g, (void)n, (void)dy, (void)dx;
  NN2C_ASSERT(!"matmul_bias is made after autodiff");
}

void matmul_bias_emit(Emit *e, Node *n) {
  Value *o = n->out[0];
  emit_line(e, "#ifdef NN2C_USE_CBLAS");
  emit_line(e,
            "cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)%s, (int)%s, (int)%s, 1.0f, %s, (int)%s, %s, "
            "(int)%s, 0.0f, %s, (int)%s);",
            emit_dim(e, o, 0), emit_dim(e, o, 1), emit_dim(e, n->in[0], 1), emit_ref(e, n->in[0]),
            emit_dim(e, n->in[0], 1), emit_ref(e, n->in[1]), emit_dim(e, o, 1), emit_ref(e, o), emit_dim(e, o, 1));
  emit_open(e, "for (size_t i = 0; i < (size_t)%s; i++)", emit_dim(e, o, 0));
  emit_open(e, "for (size_t j = 0; j < %s; j++)", emit_dim(e, o, 1));
  emit_line(e, "const float v = %s[i * %s + j] + %s[j];", emit_ref(e, o), emit_dim(e, o, 1), emit_ref(e, n->in[2]));
  emit_line(e, "%s[i * %s + j] = %s;", emit_ref(e, o), emit_dim(e, o, 1),
            strcmp(node_string(n, "activation", ""), "relu") ? "v" : "v > 0.0f ? v : 0.0f");
  emit_close(e);
  emit_close(e);
  emit_line(e, "#else");
  matmul_emit_tiled(e, n);
  emit_line(e, "#endif");
}
