/* conv_blas.c - the OpenBLAS form of the convolutions (built with -DNN2C_USE_CBLAS).
 * A convolution with groups = 1 is a GEMM over patch rows (see the top of
 * conv.c). The patches of blas_rows output pixels at a time are copied
 * into the scratch space (im2col), then cblas_sgemm multiplies them:
 *   conv2d       y rows   = col W              (then bias, relu)
 *   grad_weight  dw      += col^T dy rows      (beta 0 on the first chunk)
 *   grad_input   col      = dy rows W^T        (then added back into dx: col2im)
 * A 1x1 stride-1 unpadded convolution uses x's rows as they are. The code is
 * written inside #ifdef NN2C_USE_CBLAS, the native kernels in its #else. */
#include "conv_impl.h"

typedef enum { CB_FWD, CB_GRAD_WEIGHT, CB_GRAD_INPUT } CblasKind;

/* Patch rows r < rows of pixels p0 + r: gathered from x into col (zeros in
 * the padding), or (scatter) added from col back into x. */
static void emit_cols(Emit *e, const Geom *G, const char *X, bool scatter) {
  int64_t kkc = G->kh * G->kw * G->c;
  emit_open(e, "for (size_t r = 0; r < rows; r++)");
  emit_line(e, "const size_t p = p0 + r, nb = p / %lld, oh = p / %lld %% %lld, ow = p %% %lld;",
            (long long)(G->oh * G->ow), (long long)G->ow, (long long)G->oh, (long long)G->ow);
  emit_open(e, "for (size_t kh = 0; kh < %lld; kh++)", (long long)G->kh);
  emit_open(e, "for (size_t kw = 0; kw < %lld; kw++)", (long long)G->kw);
  emit_line(e, "const size_t ih = %s + %s, iw = %s + %s;", mul(e, "oh", G->sh), mul(e, "kh", G->dh),
            mul(e, "ow", G->sw), mul(e, "kw", G->dw));
  const char *ch = conv_range_cond(e, "ih", G->pt, G->h + G->pt, G->pb > 0);
  const char *cw = conv_range_cond(e, "iw", G->pl, G->w + G->pl, G->pr > 0);
  const char *cond =
      ch || cw ? arena_printf(&e->g->arena, "%s%s%s", ch ? ch : "", ch && cw ? " && " : "", cw ? cw : "") : NULL;
  emit_line(e, "float *cr = col + r * %lld + (kh * %lld + kw) * %lld;", (long long)kkc, (long long)G->kw,
            (long long)G->c);
  const char *row = arena_printf(&e->g->arena, "%s + ((nb * %lld + %s) * %lld + %s) * %lld", X, (long long)G->h,
                                 plus(e, "ih", -G->pt), (long long)G->w, plus(e, "iw", -G->pl), (long long)G->c);
  if (scatter) {
    if (cond) emit_line(e, "if (!(%s)) continue;", cond);
    emit_line(e, "float *xr = %s;", row);
    emit_line(e, "for (size_t c = 0; c < %lld; c++) xr[c] += cr[c];", (long long)G->c);
  } else if (cond) {
    emit_line(e, "if (%s) memcpy(cr, %s, sizeof(float) * %lld);", cond, row, (long long)G->c);
    emit_line(e, "else memset(cr, 0, sizeof(float) * %lld);", (long long)G->c);
  } else
    emit_line(e, "memcpy(cr, %s, sizeof(float) * %lld);", row, (long long)G->c);
  emit_close(e);
  emit_close(e);
  emit_close(e);
}

/* Writes "#ifdef NN2C_USE_CBLAS", the GEMM version of n and "#else" (for a
 * plan with p->blas). */
void conv_emit_blas(Emit *e, Node *n, const ConvPlan *p) {
  Geom G = p->G;
  CblasKind kind = n->op == OP_CONV2D_GRAD_WEIGHT  ? CB_GRAD_WEIGHT
                   : n->op == OP_CONV2D_GRAD_INPUT ? CB_GRAD_INPUT
                                                   : CB_FWD;
  bool direct = p->blas_rows_x;
  int64_t kkc = G.kh * G.kw * G.c;
  const char *F = ll(e, G.f), *KKC = ll(e, kkc);
  Value *pix = kind == CB_GRAD_WEIGHT ? n->in[1] : kind == CB_GRAD_INPUT ? n->in[0] : n->out[0];
  emit_line(e, "#ifdef NN2C_USE_CBLAS");
  emit_scope_open(e);
  emit_line(e, "/* GEMM over patch rows, %lld pixels at a time%s */", (long long)p->blas_rows,
            direct ? " (1x1: x's rows)" : " (im2col in the scratch space)");
  emit_line(e, "const size_t P = %s;", emit_numel_range(e, pix, 0, 3));
  const char *X = kind == CB_GRAD_INPUT ? emit_ref(e, n->out[0]) : emit_ref(e, n->in[0]);
  if (kind == CB_GRAD_INPUT && !direct) emit_line(e, "memset(%s, 0, sizeof(float) * %s);", X, emit_numel(e, n->out[0]));
  if (!direct) emit_line(e, "float *col = (float *)scratch;");
  emit_open(e, "for (size_t p0 = 0; p0 < P; p0 += %lld)", (long long)p->blas_rows);
  emit_line(e, "const size_t rows = P - p0 < %lld ? P - p0 : %lld;", (long long)p->blas_rows, (long long)p->blas_rows);
  if (direct)
    emit_line(e, "%sfloat *col = (float *)%s + p0 * %s;", kind == CB_GRAD_INPUT ? "" : "const ", X, KKC);
  else if (kind != CB_GRAD_INPUT)
    emit_cols(e, &G, X, false);
  if (kind == CB_FWD)
    emit_line(e,
              "cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, %s, %s, 1.0f, col, %s, %s, %s, 0.0f, "
              "%s + p0 * %s, %s);",
              F, KKC, KKC, emit_ref(e, n->in[1]), F, emit_ref(e, n->out[0]), F, F);
  else if (kind == CB_GRAD_WEIGHT)
    emit_line(e,
              "cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, %s, %s, (int)rows, 1.0f, col, %s, %s + p0 * %s, "
              "%s, p0 ? 1.0f : 0.0f, %s, %s);",
              KKC, F, KKC, emit_ref(e, n->in[1]), F, F, emit_ref(e, n->out[0]), F);
  else {
    emit_line(e,
              "cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, %s, %s, 1.0f, %s + p0 * %s, %s, %s, %s, "
              "0.0f, col, %s);",
              KKC, F, emit_ref(e, n->in[0]), F, F, emit_ref(e, n->in[1]), F, KKC);
    if (!direct) emit_cols(e, &G, X, true);
  }
  emit_close(e);
  if (kind == CB_FWD && (n->nin == 3 || conv_relu(n))) {
    const char *Y = emit_ref(e, n->out[0]);
    emit_open(e, "for (size_t p = 0; p < P; p++)");
    emit_open(e, "for (size_t co = 0; co < %s; co++)", F);
    if (n->nin == 3) emit_line(e, "%s[p * %s + co] += %s[co];", Y, F, emit_ref(e, n->in[2]));
    if (conv_relu(n)) emit_line(e, "if (%s[p * %s + co] < 0.0f) %s[p * %s + co] = 0.0f;", Y, F, Y, F);
    emit_close(e);
    emit_close(e);
  }
  emit_close(e);
  emit_line(e, "#else");
}
