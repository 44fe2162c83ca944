/* gradcheck_matmul.c - matrix products: matmul (ops/matmul.c) with every
 * transpose, and Gemm and Einsum (ops/gemm.c). */
#include "gradcheck.h"

static Value *matmul_of(Case *c, int ta, int tb) {
  int64_t m = 2, k = 3, n = 2;
  Value *a = param(c, ta ? S(k, m) : S(m, k), R_ANY), *b = param(c, tb ? S(n, k) : S(k, n), R_ANY);
  Node *nd = build_node(c->g, OP_MATMUL, 2, (Value *[]){a, b});
  node_set_int(c->g, nd, "transa", ta);
  node_set_int(c->g, nd, "transb", tb);
  return build_finish(c->g, nd);
}
static void matmul_nn(Case *c) { c->y = matmul_of(c, 0, 0); }
static void matmul_nt(Case *c) { c->y = matmul_of(c, 0, 1); }
static void matmul_tn(Case *c) { c->y = matmul_of(c, 1, 0); }
static void matmul_tt(Case *c) { c->y = matmul_of(c, 1, 1); }
static void matmul_default_attrs(Case *c) {
  c->y = build2(c->g, OP_MATMUL, param(c, S(1, 4), R_ANY), param(c, S(4, 2), R_ANY));
}
/* [N,3] x [3,2]: the weight gradient sums over the batch */
static void matmul_batch(Case *c) { c->y = build2(c->g, OP_MATMUL, batch_x(c), param(c, S(3, 2), R_ANY)); }

static void gemm_trans_alpha_beta(Case *c) {
  Value *in[3] = {param(c, S(3, 2), R_ANY), param(c, S(4, 3), R_ANY), param(c, S(4), R_ANY)};
  c->y = opn(c, OP_GEMM, 3, in, "transA=1 transB=1 alpha=0.5 beta=2.0");
}
static void gemm_batch(Case *c) {
  Value *in[3] = {batch_x(c), param(c, S(3, 2), R_ANY), param(c, S(1, 1), R_ANY)};
  c->y = opn(c, OP_GEMM, 3, in, NULL);
}

static Value *einsum_of(Case *c, Value *a, Value *b, const char *eq) {
  Value *in[2] = {a, b};
  Node *n = build_node(c->g, OP_EINSUM, b ? 2 : 1, in);
  node_set_string(c->g, n, "equation", eq);
  return build_finish(c->g, n);
}
static void einsum_matmul(Case *c) {
  c->y = einsum_of(c, param(c, S(2, 3), R_ANY), param(c, S(3, 4), R_ANY), "ij,jk->ik");
}
static void einsum_batch_matmul(Case *c) {
  c->y = einsum_of(c, param(c, S(2, 2, 3), R_ANY), param(c, S(2, 3, 2), R_ANY), "bij, bjk -> bik");
}
static void einsum_sum(Case *c) { c->y = einsum_of(c, param(c, S(3, 4), R_ANY), NULL, "ij->i"); }
static void einsum_inner(Case *c) { c->y = einsum_of(c, param(c, S(4), R_ANY), param(c, S(4), R_ANY), "i,i"); }
static void einsum_ellipsis_transpose(Case *c) {
  c->y = einsum_of(c, param(c, S(2, 3, 4), R_ANY), NULL, "...ij->...ji");
}

static const CaseDef cases[] = {
    {.name = "matmul_nn", .build = matmul_nn},
    {.name = "matmul_nt", .build = matmul_nt},
    {.name = "matmul_tn", .build = matmul_tn},
    {.name = "matmul_tt", .build = matmul_tt},
    {.name = "matmul_default_attrs", .build = matmul_default_attrs},
    {.name = "matmul_batch", .build = matmul_batch},
    {.name = "gemm_trans_alpha_beta", .build = gemm_trans_alpha_beta},
    {.name = "gemm_batch", .build = gemm_batch},
    {.name = "einsum_matmul", .build = einsum_matmul},
    {.name = "einsum_batch_matmul", .build = einsum_batch_matmul},
    {.name = "einsum_sum", .build = einsum_sum},
    {.name = "einsum_inner", .build = einsum_inner},
    {.name = "einsum_ellipsis_transpose", .build = einsum_ellipsis_transpose},
};
FAMILY(matmul, cases);
