/* conv_direct.c - the direct convolution kernels: per destination pixel, per
 * kernel tap, a source row times the tap's weight block (see conv.c's top
 * comment). conv_plan picks one of them:
 *   native   plain loops (any groups and channel counts)
 *   blocked  register-blocked gather GEMM (conv2d, input gradient) or tasks
 *            over dw's elements (weight gradient)
 *   patch    the weight gradient over few input channels
 *   scatter  the input gradient from dy rows, for small unpadded outputs */
#include "conv_impl.h"

#include <string.h>

/* acc[g*FG + co] (+)= x-row . w-block for one tap: the body of conv2d and, with
 * the roles of dy and dw, of conv2d_grad_weight. `dst` is the row updated. */
static void emit_tap_axpy(Emit *e, const Geom *G, const char *dst, const char *src, const char *blk, bool to_blk) {
  const char *F = ll(e, G->f), *FG = ll(e, G->fg), *CG = ll(e, G->cg);
  if (G->groups == 1) {
    emit_open(e, "for (size_t ci = 0; ci < %s; ci++)", CG);
    emit_line(e, "const float av = xp[ci];");
    if (to_blk)
      emit_line(e, "for (size_t co = 0; co < %s; co++) %s[ci * %s + co] += av * %s[co];", F, blk, F, src);
    else
      emit_line(e, "for (size_t co = 0; co < %s; co++) %s[co] += av * %s[ci * %s + co];", F, dst, blk, F);
    emit_close(e);
  } else if (G->cg == 1 && G->fg == 1) { /* depthwise */
    if (to_blk)
      emit_line(e, "for (size_t co = 0; co < %s; co++) %s[co] += xp[co] * %s[co];", F, blk, src);
    else
      emit_line(e, "for (size_t co = 0; co < %s; co++) %s[co] += xp[co] * %s[co];", F, dst, blk);
  } else {
    emit_open(e, "for (size_t gi = 0; gi < %lld; gi++)", (long long)G->groups);
    emit_open(e, "for (size_t ci = 0; ci < %s; ci++)", CG);
    emit_line(e, "const float av = xp[gi * %s + ci];", CG);
    if (to_blk)
      emit_line(e, "for (size_t co = 0; co < %s; co++) %s[ci * %s + gi * %s + co] += av * %s[gi * %s + co];", FG, blk,
                F, FG, src, FG);
    else
      emit_line(e, "for (size_t co = 0; co < %s; co++) %s[gi * %s + co] += av * %s[ci * %s + gi * %s + co];", FG, dst,
                FG, blk, F, FG);
    emit_close(e);
    emit_close(e);
  }
}

/* ---- blocked kernels (groups = 1, channel counts multiples of 16) ----
 * Convolution and its input gradient are both a "gather GEMM": for a block
 * of PB destination pixels, every tap names one source row per pixel (a row
 * of x for conv2d, of dy for the input gradient; a zero row where the tap
 * falls outside), and the destination rows accumulate source row times the
 * tap's weight block. PB pixels x 16 channels of accumulators stay in
 * registers; each weight row loaded serves PB pixels. The pixel loop is
 * written out by hand (a0..a7): compilers keep such accumulators in vector
 * registers more reliably than a loop over pixels. */
/* The accumulate-and-store core. Expects src[tap][i] (source rows), and writes
 * dst rows p = pb*PB + i < P. */
typedef struct {
  int64_t taps, k, d; /* taps; source channels per tap (K); destination channels (D) */
  const char *w;      /* weights: tap t, source channel k at w + t * wtap + k * wrow */
  int64_t wtap, wrow;
  const char *bias; /* NULL, or a vector of D added first */
  bool relu;        /* store relu of the sums */
  const char *dst;
  int cb;             /* destination channels per accumulator row */
  const char *zeros;  /* the zero row taps in the padding read, or NULL */
  const Geom *direct; /* NULL, or the convolution whose source rows are windows
                         of x read in place (one tap; k runs over kh, kw, ci) */
} GatherCore;

/* One strip of destination channels from c0 for the block: cb columns in
 * vectors, or (tail > 0) the last `tail` channels, past the whole strips, in
 * plain floats that the compiler vectorizes as it can. */
static void emit_gather_strip(Emit *e, const GatherCore *gc, int tail) {
  const char *cb = conv_cbw(e, gc->cb);
  if (tail) {
    emit_open(e, "for (size_t c0 = %lld; c0 < %lld; c0 += %d)", (long long)(gc->d - tail), (long long)gc->d, tail);
    emit_line(e, "float acc[%d][%d];", CONV_PB, tail);
    if (gc->bias)
      emit_line(e, "for (size_t r = 0; r < %d; r++) memcpy(acc[r], %s + c0, sizeof acc[r]);", CONV_PB, gc->bias);
  } else {
    emit_open(e, "for (size_t c0 = c0s; c0 < c0e; c0 += %s)", cb);
    emit_line(e, "nn2c_vf acc[%d][%s / NN2C_VW];", CONV_PB, cb);
    if (gc->bias) conv_emit_acc_load(e, ll(e, CONV_PB), cb, arena_printf(&e->g->arena, "%s + c0", gc->bias), "0");
  }
  if (!gc->bias) emit_line(e, "memset(acc, 0, sizeof acc);");
  emit_open(e, "for (size_t t = 0; t < %lld; t++)", (long long)gc->taps);
  Buf b = {0};
  for (int i = 0; i < CONV_PB; i++)
    buf_printf(&b, "%s*s%d = src[t][%d]", i ? ", " : "", i, i);
  emit_line(e, "const float %s;", b.data);
  if (gc->zeros) {
    b.len = 0;
    for (int i = 0; i < CONV_PB; i++)
      buf_printf(&b, "%ss%d == %s", i ? " && " : "", i, gc->zeros);
    emit_line(e, "if (%s) continue; /* the tap is in the padding for all %d pixels */", b.data, CONV_PB);
  }
  emit_line(e, "const float *wk = %s + t * %lld + c0;", gc->w, (long long)gc->wtap);
  const char *k = "k";
  const Geom *G = gc->direct;
  if (G) {
    emit_open(e, "for (size_t kh = 0; kh < %lld; kh++)", (long long)G->kh);
    emit_open(e, "for (size_t kw = 0; kw < %lld; kw++)", (long long)G->kw);
    emit_open(e, "for (size_t ci = 0; ci < %lld; ci++)", (long long)G->c);
    emit_line(e, "const float *wr = wk + ((kh * %lld + kw) * %lld + ci) * %lld;", (long long)G->kw, (long long)G->c,
              (long long)gc->wrow);
    const char *xk =
        arena_printf(&e->g->arena, G->c > 1 ? "(%s + %s)" : "%s + %s", mul(e, "kh", G->dh * G->w), mul(e, "kw", G->dw));
    emit_line(e, "const size_t xk = %s + ci; /* the tap's input in the window */", mul(e, xk, G->c));
    k = "xk";
  } else {
    emit_open(e, "for (size_t k = 0; k < %lld; k++)", (long long)gc->k);
    emit_line(e, "const float *wr = wk + k * %lld;", (long long)gc->wrow);
  }
  const char *src = arena_printf(&e->g->arena, "s%%d[%s]", k);
  if (tail) {
    b.len = 0;
    for (int r = 0; r < CONV_PB; r++) {
      buf_printf(&b, "%sa%d = ", r ? ", " : "", r);
      buf_printf(&b, src, r);
    }
    emit_line(e, "const float %s;", b.data);
    emit_open(e, "for (size_t c = 0; c < %d; c++)", tail);
    for (int r = 0; r < CONV_PB; r++)
      emit_line(e, "acc[%d][c] += a%d * wr[c];", r, r);
    emit_close(e);
  } else
    conv_emit_rank1(e, CONV_PB, cb, src, "wr");
  emit_close(e);
  if (G) emit_close(e), emit_close(e);
  emit_close(e);
  buf_free(&b);
  emit_line(e, "const size_t rows = P - pb * %d < %d ? P - pb * %d : %d;", CONV_PB, CONV_PB, CONV_PB, CONV_PB);
  const char *dst = arena_printf(&e->g->arena, "%s + pb * %d * %lld + c0", gc->dst, CONV_PB, (long long)gc->d);
  if (tail)
    emit_line(e, "for (size_t r = 0; r < rows; r++) for (size_t c = 0; c < %d; c++) (%s)[r * %lld + c] = %s;", tail,
              dst, (long long)gc->d, gc->relu ? "acc[r][c] > 0.0f ? acc[r][c] : 0.0f" : "acc[r][c]");
  else
    conv_emit_acc_store(e, "rows", cb, dst, ll(e, gc->d), gc->relu);
  emit_close(e); /* the strip */
}

/* The block's strips, then the channels past the last whole strip (if any);
 * closes the block and task loops emit_block_open opened. */
static void emit_gather_core(Emit *e, const GatherCore *gc) {
  emit_gather_strip(e, gc, 0);
  if (gc->d % gc->cb) emit_gather_strip(e, gc, (int)(gc->d % gc->cb));
  emit_close(e); /* the block */
  emit_close(e); /* the task */
}

/* Opens the parallel loop over tasks, the loop over a task's blocks of PB
 * destination pixels (P of them) and the per-pixel loop that fills src[][i]
 * for the pixel p (the last pixel stands in for those past the end).
 * Weights of up to half the L2 cache (NN2C_L2_BYTES, simd.h) stay there while
 * each block runs every strip of cb destination channels: a task is a block.
 * Larger weights would be read from further out once per block; then a task
 * is one strip over a group of blocks whose source rows (about `block_bytes`
 * a block) fit in half the L2, and the weights are read once per group.
 * A patch (gathered per block) always runs every strip. Closes nothing
 * (emit_gather_core does). Convolutions over few input channels (the first
 * layer) gather each pixel's whole window into a patch row: one tap of KH*KW*Cin. */
static void emit_block_open(Emit *e, Node *n, const char *P, int64_t taps, int64_t patch, int64_t d, int cb,
                            int64_t block_bytes, int64_t w_bytes) {
  emit_line(e, "const size_t P = %s, nblk = (P + %d) / %d;", P, CONV_PB - 1, CONV_PB);
  if (patch || d % cb)
    emit_line(e, "const size_t ncs = 1, gb = 1;");
  else {
    emit_line(e, "const size_t ncs = %lld > NN2C_L2_BYTES / 2 ? %lld / %s : 1; /* strips a task */", (long long)w_bytes,
              (long long)d, conv_cbw(e, cb));
    emit_line(e, "const size_t gb = ncs > 1 ? NN2C_L2_BYTES / 2 / %lld + 1 : 1; /* blocks a task */",
              (long long)block_bytes);
  }
  conv_emit_parallel(e, n, "(nblk + gb - 1) / gb * ncs");
  emit_open(e, "for (size_t task = 0; task < (nblk + gb - 1) / gb * ncs; task++)");
  emit_line(e, "const size_t pb0 = task / ncs * gb, pb1 = pb0 + gb < nblk ? pb0 + gb : nblk;");
  emit_line(e, "const size_t c0s = task %% ncs * (%lld / ncs), c0e = c0s + %lld / ncs;", (long long)(d - d % cb),
            (long long)(d - d % cb));
  emit_open(e, "for (size_t pb = pb0; pb < pb1; pb++)");
  emit_line(e, "const float *src[%lld][%d];", (long long)taps, CONV_PB);
  if (patch) emit_line(e, "float patch[%d][%lld];", CONV_PB, (long long)patch);
  emit_open(e, "for (size_t i = 0; i < %d; i++)", CONV_PB);
  emit_line(e, "const size_t p = pb * %d + i < P ? pb * %d + i : P - 1;", CONV_PB, CONV_PB);
}

static void conv2d_emit_blocked(Emit *e, Node *n, const ConvPlan *p, bool relu) {
  const Geom *G = &p->G;
  const char *X = emit_ref(e, n->in[0]), *W = emit_ref(e, n->in[1]), *Y = emit_ref(e, n->out[0]);
  int64_t taps = G->kh * G->kw;
  bool pad = G->pt || G->pb || G->pl || G->pr, direct = p->in_place, patch = p->patch;
  int cb = p->cb;
  emit_line(e, "/* %d output pixels x %d channels per step%s */", CONV_PB, cb,
            pad ? "; taps in the padding read zeros" : "");
  emit_scope_open(e);
  if (!patch && pad) emit_line(e, "static const float zeros[%lld] = {0.0f};", (long long)G->c);
  if (direct)
    emit_line(e, "/* few input channels: a pixel's window is one patch row, read in place */");
  else if (patch)
    emit_line(e, "/* few input channels: each pixel's %lld inputs gathered into one patch row */",
              (long long)(taps * G->c));
  emit_block_open(e, n, emit_numel_range(e, n->out[0], 0, 3), patch ? 1 : taps, patch && !direct ? taps * G->c : 0,
                  G->f, cb, CONV_PB * G->sh * G->sw * G->c * 4, taps * G->c * G->f * 4);
  emit_line(e, "const size_t nb = p / %lld, oh = p / %lld %% %lld, ow = p %% %lld;", (long long)(G->oh * G->ow),
            (long long)G->ow, (long long)G->oh, (long long)G->ow);
  if (direct) {
    const char *px = arena_printf(&e->g->arena, "((nb * %lld + %s) * %lld + %s)", (long long)G->h, mul(e, "oh", G->sh),
                                  (long long)G->w, mul(e, "ow", G->sw));
    emit_line(e, "src[0][i] = %s + %s;", X, mul(e, px, G->c));
  } else {
    emit_open(e, "for (size_t kh = 0; kh < %lld; kh++)", (long long)G->kh);
    emit_open(e, "for (size_t kw = 0; kw < %lld; kw++)", (long long)G->kw);
    emit_line(e, "const size_t ih = %s + %s, iw = %s + %s;%s", mul(e, "oh", G->sh), mul(e, "kh", G->dh),
              mul(e, "ow", G->sw), mul(e, "kw", G->dw), pad ? " /* in the padded input */" : "");
    const char *ch = conv_range_cond(e, "ih", G->pt, G->h + G->pt, G->pb > 0);
    const char *cw = conv_range_cond(e, "iw", G->pl, G->w + G->pl, G->pr > 0);
    const char *cond =
        ch || cw ? arena_printf(&e->g->arena, "(%s%s%s)", ch ? ch : "", ch && cw ? " && " : "", cw ? cw : "") : NULL;
    const char *row = arena_printf(&e->g->arena, "%s + ((nb * %lld + %s) * %lld + %s) * %lld", X, (long long)G->h,
                                   plus(e, "ih", -G->pt), (long long)G->w, plus(e, "iw", -G->pl), (long long)G->c);
    if (patch) {
      emit_line(e, "for (size_t ci = 0; ci < %lld; ci++) patch[i][(kh * %lld + kw) * %lld + ci] = %s(%s)[ci]%s;",
                (long long)G->c, (long long)G->kw, (long long)G->c,
                cond ? arena_printf(&e->g->arena, "%s ? ", cond) : "", row, cond ? " : 0.0f" : "");
    } else if (cond)
      emit_line(e, "src[kh * %lld + kw][i] = %s ? %s : zeros;", (long long)G->kw, cond, row);
    else
      emit_line(e, "src[kh * %lld + kw][i] = %s;", (long long)G->kw, row);
    emit_close(e);
    emit_close(e);
    if (patch) emit_line(e, "src[0][i] = patch[i];");
  }
  emit_close(e);
  const char *bias = n->nin == 3 ? emit_ref(e, n->in[2]) : NULL;
  GatherCore gc = {taps, G->c, G->f, W, G->c * G->f, G->f, bias, relu, Y, cb, !patch && pad ? "zeros" : NULL, NULL};
  if (patch) gc.taps = 1, gc.k = taps * G->c, gc.wtap = 0;
  if (direct) gc.direct = G;
  emit_gather_core(e, &gc);
  emit_close(e);
}

/* Depthwise (one input and one output channel a group): per output row, per
 * vector of channels, the taps' weight vectors stay in registers while the
 * row's pixels each sum their taps (bias first, then (kh, kw) order) in one
 * accumulator; the channels past the last whole vector by plain loops. */
static void conv2d_emit_depthwise(Emit *e, Node *n, const ConvPlan *p, bool relu) {
  const Geom *G = &p->G;
  const char *X = emit_ref(e, n->in[0]), *W = emit_ref(e, n->in[1]), *Y = emit_ref(e, n->out[0]);
  const char *bias = n->nin == 3 ? emit_ref(e, n->in[2]) : NULL;
  int64_t taps = G->kh * G->kw, C = G->c;
  emit_line(e, "/* depthwise: %lld tap weights a vector of channels kept in registers along each output row */",
            (long long)taps);
  conv_emit_parallel(e, n, emit_numel_range(e, n->out[0], 0, 2));
  emit_open(e, "for (size_t r = 0; r < %s; r++)", emit_numel_range(e, n->out[0], 0, 2));
  emit_line(e, "const size_t nb = r / %lld, oh = r %% %lld;", (long long)G->oh, (long long)G->oh);
  for (int vec = 1; vec >= 0; vec--) { /* whole vectors, then the rest one channel at a time */
    const char *T = vec ? "nn2c_vf" : "float", *ld = vec ? "nn2c_vload(" : "*(";
    if (vec)
      emit_open(e, "for (size_t c = 0; c + NN2C_VW <= %lld; c += NN2C_VW)", (long long)C);
    else
      emit_open(e, "for (size_t c = %lld / NN2C_VW * NN2C_VW; c < %lld; c++)", (long long)C, (long long)C);
    emit_line(e, "%s wv[%lld];", T, (long long)taps);
    emit_line(e, "for (size_t t = 0; t < %lld; t++) wv[t] = %s%s + t * %lld + c);", (long long)taps, ld, W,
              (long long)C);
    emit_open(e, "for (size_t ow = 0; ow < %lld; ow++)", (long long)G->ow);
    emit_line(e, "%s acc = %s;", T,
              bias  ? arena_printf(&e->g->arena, "%s%s + c)", ld, bias)
              : vec ? "nn2c_vset1(0.0f)"
                    : "0.0f");
    conv_emit_taps(e, G);
    emit_line(e, "acc += %s%s + xo + c) * wv[kh * %lld + kw];", ld, X, (long long)G->kw);
    emit_close(e);
    emit_close(e);
    const char *out = relu ? (vec ? "nn2c_vrelu(acc)" : "acc > 0.0f ? acc : 0.0f") : "acc";
    const char *dst = arena_printf(&e->g->arena, "%s + ((nb * %lld + oh) * %lld + ow) * %lld + c", Y, (long long)G->oh,
                                   (long long)G->ow, (long long)C);
    if (vec)
      emit_line(e, "nn2c_vstore(%s, %s);", dst, out);
    else
      emit_line(e, "*(%s) = %s;", dst, out);
    emit_close(e);
    emit_close(e);
  }
  emit_close(e);
}

void conv2d_emit_direct(Emit *e, Node *n, const ConvPlan *p) {
  Value *x = n->in[0], *w = n->in[1], *y = n->out[0];
  Geom G = p->G;
  bool relu = conv_relu(n);
  if (p->direct == CK_BLOCKED) {
    conv2d_emit_blocked(e, n, p, relu);
    return;
  }
  if (p->direct == CK_DEPTHWISE) {
    conv2d_emit_depthwise(e, n, p, relu);
    return;
  }
  const char *X = emit_ref(e, x), *W = emit_ref(e, w), *Y = emit_ref(e, y);
  conv_emit_parallel(e, n, emit_numel_range(e, y, 0, 3));
  conv_emit_pixels(e, &G, emit_numel_range(e, y, 0, 3));
  emit_line(e, "float acc[%lld];", (long long)G.f);
  if (n->nin == 3)
    emit_line(e, "memcpy(acc, %s, sizeof acc);", emit_ref(e, n->in[2]));
  else
    emit_line(e, "memset(acc, 0, sizeof acc);");
  conv_emit_taps(e, &G);
  emit_line(e, "const float *xp = %s + xo, *wp = %s + (kh * %lld + kw) * %lld;", X, W, (long long)G.kw,
            (long long)(G.cg * G.f));
  emit_tap_axpy(e, &G, "acc", NULL, "wp", false);
  emit_close(e);
  emit_close(e);
  if (relu)
    emit_line(e, "for (size_t co = 0; co < %lld; co++) acc[co] = acc[co] > 0.0f ? acc[co] : 0.0f;", (long long)G.f);
  emit_line(e, "memcpy(%s + p * %lld, acc, sizeof acc);", Y, (long long)G.f);
  emit_close(e);
}

/* The blocked weight gradient, split over dw's elements rather than the
 * pixels it sums over: a task owns RB input channels x 16 output channels of
 * one tap and keeps them in registers while it walks the pixels. The tasks
 * fall into parts (one per thread, CONV_PARTS per thread when there are
 * several, so a thread slowed by others takes fewer); a part walks the pixels
 * in chunks of whole images, running all its tasks over a chunk while it is
 * in cache. Each element sums its pixels in the same order whatever the
 * number of threads. */
/* Few input channels: a task owns 16 or 32 output channels of every patch
 * row (tap x input channel), or of one kernel row's when the patch is long,
 * over one of CONV_SLICES slices of the images, gathering each pixel's patch.
 * Slices write partial sums to the scratch space, added in slice order
 * afterwards: the same sums whatever the number of threads. */
static void conv2d_grad_weight_emit_patch(Emit *e, Node *n, const ConvPlan *p) {
  const Geom *G = &p->G;
  const char *X = emit_ref(e, n->in[0]), *DY = emit_ref(e, n->in[1]), *DW = emit_ref(e, n->out[0]);
  const char *N = emit_dim(e, n->in[0], 0);
  bool split = G->kh * G->kw * G->c > 16; /* a task per kernel row */
  int cb = p->cb;
  int64_t kk = split ? G->kw * G->c : G->kh * G->kw * G->c, cob = G->f / cb, ntask = (split ? G->kh : 1) * cob;
  long long numel = (long long)shape_numel_static(n->out[0]->shape);
  emit_line(e, "/* tasks of %d output channels x %lld patch rows%s over a slice of the images (few input channels) */",
            cb, (long long)kk, split ? " of one kernel row" : "");
  emit_scope_open(e);
  emit_line(e, "float *dwp = (float *)scratch; /* [%d slices][%lld] */", CONV_SLICES, numel);
  conv_emit_parallel(e, n, ll(e, ntask * CONV_SLICES));
  emit_open(e, "for (size_t task = 0; task < %lld; task++)", (long long)(ntask * CONV_SLICES));
  emit_line(e, "const size_t s = task / %lld, c0 = task %% %lld * %d%s;", (long long)ntask, (long long)cob, cb,
            split ? arena_printf(&e->g->arena, ", kh = task %% %lld / %lld", (long long)ntask, (long long)cob) : "");
  emit_line(e, "const size_t n0 = (size_t)%s * s / %d, n1 = (size_t)%s * (s + 1) / %d;", N, CONV_SLICES, N,
            CONV_SLICES);
  emit_line(e, "nn2c_vf acc[%lld][%d / NN2C_VW];", (long long)kk, cb);
  emit_line(e, "memset(acc, 0, sizeof acc);");
  emit_open(e, "for (size_t nb = n0; nb < n1; nb++)");
  emit_open(e, "for (size_t oh = 0; oh < %lld; oh++)", (long long)G->oh);
  emit_open(e, "for (size_t ow = 0; ow < %lld; ow++)", (long long)G->ow);
  emit_line(e, "float a[%lld];", (long long)kk);
  if (!split) emit_open(e, "for (size_t kh = 0; kh < %lld; kh++)", (long long)G->kh);
  emit_open(e, "for (size_t kw = 0; kw < %lld; kw++)", (long long)G->kw);
  emit_line(e, "const size_t ih = %s + %s, iw = %s + %s;", mul(e, "oh", G->sh), mul(e, "kh", G->dh),
            mul(e, "ow", G->sw), mul(e, "kw", G->dw));
  const char *ch = conv_range_cond(e, "ih", G->pt, G->h + G->pt, G->pb > 0);
  const char *cw = conv_range_cond(e, "iw", G->pl, G->w + G->pl, G->pr > 0);
  const char *row = arena_printf(&e->g->arena, "%s[((nb * %lld + %s) * %lld + %s) * %lld + ci]", X, (long long)G->h,
                                 plus(e, "ih", -G->pt), (long long)G->w, plus(e, "iw", -G->pl), (long long)G->c);
  if (ch || cw)
    row = arena_printf(&e->g->arena, "(%s%s%s) ? %s : 0.0f", ch ? ch : "", ch && cw ? " && " : "", cw ? cw : "", row);
  emit_line(e, "for (size_t ci = 0; ci < %lld; ci++) a[%s] = %s;", (long long)G->c,
            split ? arena_printf(&e->g->arena, "kw * %lld + ci", (long long)G->c)
                  : arena_printf(&e->g->arena, "(kh * %lld + kw) * %lld + ci", (long long)G->kw, (long long)G->c),
            row);
  emit_close(e);
  if (!split) emit_close(e);
  emit_line(e, "const float *dr = %s + ((nb * %lld + oh) * %lld + ow) * %lld + c0;", DY, (long long)G->oh,
            (long long)G->ow, (long long)G->f);
  emit_open(e, "for (size_t v = 0; v < %d / NN2C_VW; v++)", cb);
  emit_line(e, "const nn2c_vf dv = nn2c_vload(dr + v * NN2C_VW);");
  for (int64_t r = 0; r < kk; r++)
    emit_line(e, "acc[%lld][v] += a[%lld] * dv;", (long long)r, (long long)r);
  emit_close(e);
  emit_close(e);
  emit_close(e);
  emit_close(e);
  conv_emit_acc_store(e, ll(e, kk), ll(e, cb),
                      arena_printf(&e->g->arena, "dwp + s * %lld + %sc0", numel,
                                   split ? arena_printf(&e->g->arena, "kh * %lld + ", (long long)(kk * G->f)) : ""),
                      ll(e, G->f), false);
  emit_close(e);
  emit_open(e, "for (size_t i = 0; i < %lld; i++)", numel);
  emit_line(e, "float dws = dwp[i];");
  emit_line(e, "for (size_t s = 1; s < %d; s++) dws += dwp[s * %lld + i];", CONV_SLICES, numel);
  emit_line(e, "%s[i] = dws;", DW);
  emit_close(e);
  emit_close(e);
}

static void conv2d_grad_weight_emit_blocked(Emit *e, Node *n, const ConvPlan *p) {
  const Geom *G = &p->G;
  const char *X = emit_ref(e, n->in[0]), *DY = emit_ref(e, n->in[1]), *DW = emit_ref(e, n->out[0]);
  /* RB x CB accumulators: 8 x 32 where the channel counts allow */
  int64_t rb = p->rb, cb = p->cb;
  int64_t cib = G->c / rb, cob = G->f / cb;
  int64_t per = G->oh * G->ow, nbc = per >= 512 ? 1 : 512 / per;
  emit_line(e, "/* tasks of %lld input x %d output channels of one tap; pixels in chunks of %lld image%s */",
            (long long)rb, (int)cb, (long long)nbc, nbc > 1 ? "s" : "");
  emit_line(e, "memset(%s, 0, sizeof(float) * %s);", DW, emit_numel(e, n->out[0]));
  const char *N = emit_dim(e, n->in[0], 0);
  long long ntask = (long long)(G->kh * G->kw * cib * cob);
  emit_scope_open(e);
  emit_line(e, "const size_t np = nt > 1 && %lld >= %d * nt ? %d * (size_t)nt : (size_t)nt;", ntask, CONV_PARTS,
            CONV_PARTS);
  conv_emit_parallel(e, n, "np");
  emit_open(e, "for (size_t part = 0; part < np; part++)");
  emit_line(e, "const size_t first = %lld * part / np, last = %lld * (part + 1) / np;", ntask, ntask);
  emit_open(e, "for (size_t n0 = 0; n0 < (size_t)%s; n0 += %lld)", N, (long long)nbc);
  emit_line(e, "const size_t n1 = n0 + %lld < (size_t)%s ? n0 + %lld : (size_t)%s;", (long long)nbc, N, (long long)nbc,
            N);
  emit_open(e, "for (size_t task = first; task < last; task++)");
  emit_line(e, "const size_t t = task / %lld, ci0 = task / %lld %% %lld * %lld, c0 = task %% %lld * %d;",
            (long long)(cib * cob), (long long)cob, (long long)cib, (long long)rb, (long long)cob, (int)cb);
  emit_line(e, "const size_t kh = t / %lld, kw = t %% %lld;", (long long)G->kw, (long long)G->kw);
  emit_line(e, "float *wr = %s + (t * %lld + ci0) * %lld + c0;", DW, (long long)G->c, (long long)G->f);
  emit_line(e, "nn2c_vf acc[%lld][%d / NN2C_VW];", (long long)rb, (int)cb);
  conv_emit_acc_load(e, ll(e, rb), ll(e, cb), "wr", ll(e, G->f));
  emit_open(e, "for (size_t nb = n0; nb < n1; nb++)");
  emit_open(e, "for (size_t oh = 0; oh < %lld; oh++)", (long long)G->oh);
  emit_line(e, "const size_t ih = %s + %s;", mul(e, "oh", G->sh), mul(e, "kh", G->dh));
  conv_emit_range_check(e, "ih", G->pt, G->pb, G->h + G->pt);
  emit_open(e, "for (size_t ow = 0; ow < %lld; ow++)", (long long)G->ow);
  emit_line(e, "const size_t iw = %s + %s;", mul(e, "ow", G->sw), mul(e, "kw", G->dw));
  conv_emit_range_check(e, "iw", G->pl, G->pr, G->w + G->pl);
  emit_line(e, "const float *xs = %s + ((nb * %lld + %s) * %lld + %s) * %lld + ci0;", X, (long long)G->h,
            plus(e, "ih", -G->pt), (long long)G->w, plus(e, "iw", -G->pl), (long long)G->c);
  emit_line(e, "const float *dr = %s + ((nb * %lld + oh) * %lld + ow) * %lld + c0;", DY, (long long)G->oh,
            (long long)G->ow, (long long)G->f);
  conv_emit_rank1(e, (int)rb, ll(e, cb), "xs[%d]", "dr");
  emit_close(e);
  emit_close(e);
  emit_close(e);
  conv_emit_acc_store(e, ll(e, rb), ll(e, cb), "wr", ll(e, G->f), false);
  emit_close(e);
  emit_close(e);
  emit_close(e);
  emit_close(e);
}

/* dw = 0; per output pixel and valid tap: dw block += x row (Cin) outer dy row (Cout). */
void conv2d_grad_weight_emit_direct(Emit *e, Node *n, const ConvPlan *p) {
  Value *x = n->in[0], *dy = n->in[1], *dw = n->out[0];
  Geom G = p->G;
  if (p->direct == CK_PATCH) {
    conv2d_grad_weight_emit_patch(e, n, p);
    return;
  }
  if (p->direct == CK_BLOCKED) {
    conv2d_grad_weight_emit_blocked(e, n, p);
    return;
  }
  const char *X = emit_ref(e, x), *DY = emit_ref(e, dy), *DW = emit_ref(e, dw);
  emit_line(e, "memset(%s, 0, sizeof(float) * %s);", DW, emit_numel(e, dw));
  conv_emit_pixels(e, &G, emit_numel_range(e, dy, 0, 3));
  emit_line(e, "float dr[%lld]; /* a local copy: the compiler sees it cannot alias dw */", (long long)G.f);
  emit_line(e, "memcpy(dr, %s + p * %lld, sizeof dr);", DY, (long long)G.f);
  conv_emit_taps(e, &G);
  emit_line(e, "const float *xp = %s + xo;", X);
  emit_line(e, "float *wp = %s + (kh * %lld + kw) * %lld;", DW, (long long)G.kw, (long long)(G.cg * G.f));
  emit_tap_axpy(e, &G, NULL, "dr", "wp", true);
  emit_close(e);
  emit_close(e);
  emit_close(e);
}

/* sum over co < len of a[co] * b[co], in 8 independent lanes (so the loop
 * vectorizes without -ffast-math), added to `dst`. Declares `lane` in the
 * current block. */
static void emit_dot(Emit *e, const char *dst, const char *a, const char *b, int64_t len) {
  int64_t full = len / 8 * 8;
  if (full == 0) {
    emit_line(e, "for (size_t co = 0; co < %lld; co++) %s += %s[co] * %s[co];", (long long)len, dst, a, b);
    return;
  }
  emit_line(e, "float lane[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};");
  emit_open(e, "for (size_t co = 0; co < %lld; co += 8)", (long long)full);
  emit_line(e, "for (size_t l = 0; l < 8; l++) lane[l] += %s[co + l] * %s[co + l];", a, b);
  emit_close(e);
  emit_line(e, "%s += ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));", dst);
  if (full < len)
    emit_line(e, "for (size_t co = %lld; co < %lld; co++) %s += %s[co] * %s[co];", (long long)full, (long long)len, dst,
              a, b);
}

/* W transposed into the scratch space: wt[tap][co][ci], so rows run over Cin. */
static void emit_weight_transpose(Emit *e, const Geom *G, const char *W) {
  emit_line(e, "float *wt = (float *)scratch; /* [%lld taps][%lld co][%lld ci] */", (long long)(G->kh * G->kw),
            (long long)G->f, (long long)G->c);
  emit_open(e, "for (size_t t = 0; t < %lld; t++)", (long long)(G->kh * G->kw));
  emit_open(e, "for (size_t ci = 0; ci < %lld; ci++)", (long long)G->c);
  emit_line(e,
            "for (size_t co = 0; co < %lld; co++) wt[(t * %lld + co) * %lld + ci] = %s[(t * %lld + ci) * %lld + co];",
            (long long)G->f, (long long)G->f, (long long)G->c, W, (long long)G->c, (long long)G->f);
  emit_close(e);
  emit_close(e);
}

/* The blocked input gradient: W is transposed once into the step's scratch
 * space (wt[tap][co][ci], so the inner loop runs over contiguous Cin), then
 * each block of input pixels gathers, per tap, the dy row of the output
 * pixel that tap connects it to (a zero row if there is none). */
static void conv2d_grad_input_emit_blocked(Emit *e, Node *n, const ConvPlan *p) {
  const Geom *G = &p->G;
  const char *DY = emit_ref(e, n->in[0]), *W = emit_ref(e, n->in[1]), *DX = emit_ref(e, n->out[0]);
  int64_t taps = G->kh * G->kw;
  int cb = p->cb;
  emit_line(e, "/* %d input pixels x %d channels per step, W transposed in the scratch space */", CONV_PB, cb);
  emit_scope_open(e);
  emit_line(e, "static const float zeros[%lld] = {0.0f};", (long long)G->f);
  emit_weight_transpose(e, G, W);
  emit_block_open(e, n, emit_numel_range(e, n->out[0], 0, 3), taps, 0, G->c, cb, CONV_PB * G->f * 4,
                  taps * G->c * G->f * 4);
  emit_line(e, "const size_t nb = p / %lld, ih = %s, iw = %s;%s", (long long)(G->h * G->w),
            plus(e, arena_printf(&e->g->arena, "p / %lld %% %lld", (long long)G->w, (long long)G->h), G->pt),
            plus(e, arena_printf(&e->g->arena, "p %% %lld", (long long)G->w), G->pl),
            G->pt || G->pl ? " /* in the padded input */" : "");
  emit_open(e, "for (size_t kh = 0; kh < %lld; kh++)", (long long)G->kh);
  emit_open(e, "for (size_t kw = 0; kw < %lld; kw++)", (long long)G->kw);
  const char *kh = mul(e, "kh", G->dh), *kw = mul(e, "kw", G->dw);
  emit_line(e, "const float *r = zeros;");
  emit_open(e, "if (ih >= %s && iw >= %s)", kh, kw);
  emit_line(e, "const size_t oh = %s, ow = %s;",
            G->sh > 1 ? arena_printf(&e->g->arena, "(ih - %s) / %lld", kh, (long long)G->sh)
                      : arena_printf(&e->g->arena, "ih - %s", kh),
            G->sw > 1 ? arena_printf(&e->g->arena, "(iw - %s) / %lld", kw, (long long)G->sw)
                      : arena_printf(&e->g->arena, "iw - %s", kw));
  Buf c = {0};
  if (G->sh > 1) buf_printf(&c, "(ih - %s) %% %lld == 0 && ", kh, (long long)G->sh);
  if (G->sw > 1) buf_printf(&c, "(iw - %s) %% %lld == 0 && ", kw, (long long)G->sw);
  buf_printf(&c, "oh < %lld && ow < %lld", (long long)G->oh, (long long)G->ow);
  emit_line(e, "if (%s) r = %s + ((nb * %lld + oh) * %lld + ow) * %lld;", c.data, DY, (long long)G->oh,
            (long long)G->ow, (long long)G->f);
  buf_free(&c);
  emit_close(e);
  emit_line(e, "src[kh * %lld + kw][i] = r;", (long long)G->kw);
  emit_close(e);
  emit_close(e);
  emit_close(e);
  GatherCore gc = {taps, G->f, G->c, "wt", G->f * G->c, G->c, NULL, false, DX, cb, "zeros", NULL};
  emit_gather_core(e, &gc);
  emit_close(e);
}

/* Without padding every tap of every output pixel lands in dx, so the input
 * gradient can scatter instead of gathering: a block of PB output pixels (dy
 * rows) times each tap's W^T block gives PB dx rows, added where the tap
 * puts them. No work on the taps that fall outside (the gather form's zero
 * rows); used where those would be most of the work (small images: 5x5 from
 * 3x3 is two thirds), as the additions into dx cost more otherwise. Threads
 * share chunks of PB images, and blocks sit at fixed places in a chunk, so
 * each dx element gets its terms in the same order whatever the threads. */
static void conv2d_grad_input_emit_scatter(Emit *e, Node *n, const ConvPlan *p) {
  const Geom *G = &p->G;
  const char *DY = emit_ref(e, n->in[0]), *W = emit_ref(e, n->in[1]), *DX = emit_ref(e, n->out[0]);
  int cb = p->cb;
  long long per = (long long)(G->oh * G->ow), taps = (long long)(G->kh * G->kw), F = (long long)G->f,
            C = (long long)G->c;
  emit_line(e,
            "/* %d output pixels x %d input channels per step, scattered to dx; W transposed in the scratch space */",
            CONV_PB, cb);
  emit_scope_open(e);
  emit_weight_transpose(e, G, W);
  emit_line(e, "memset(%s, 0, sizeof(float) * %s);", DX, emit_numel(e, n->out[0]));
  conv_emit_parallel(e, n, arena_printf(&e->g->arena, "(B + %d) / %d", CONV_PB - 1, CONV_PB));
  emit_open(e, "for (size_t g = 0; g < (B + %d) / %d; g++)", CONV_PB - 1, CONV_PB);
  emit_line(e, "const size_t p1 = (g * %d + %d < B ? g * %d + %d : B) * %lld;", CONV_PB, CONV_PB, CONV_PB, CONV_PB,
            per);
  emit_open(e, "for (size_t pb = g * %d * %lld; pb < p1; pb += %d)", CONV_PB, per, CONV_PB);
  emit_line(e, "const float *src[%d];", CONV_PB);
  emit_line(e, "size_t xo[%d]; /* where each pixel's tap (0, 0) lands in dx */", CONV_PB);
  emit_open(e, "for (size_t i = 0; i < %d; i++)", CONV_PB);
  emit_line(e, "const size_t p = pb + i < p1 ? pb + i : p1 - 1;");
  emit_line(e, "const size_t nb = p / %lld, oh = p / %lld %% %lld, ow = p %% %lld;", per, (long long)G->ow,
            (long long)G->oh, (long long)G->ow);
  emit_line(e, "src[i] = %s + p * %lld;", DY, F);
  emit_line(e, "xo[i] = ((nb * %lld + %s) * %lld + %s) * %lld;", (long long)G->h, mul(e, "oh", G->sh), (long long)G->w,
            mul(e, "ow", G->sw), C);
  emit_close(e);
  Buf b = {0};
  for (int i = 0; i < CONV_PB; i++)
    buf_printf(&b, "%s*s%d = src[%d]", i ? ", " : "", i, i);
  emit_line(e, "const float %s;", b.data);
  emit_open(e, "for (size_t t = 0; t < %lld; t++)", taps);
  emit_line(e, "const size_t to = (%s + %s) * %lld; /* the tap's offset in dx */",
            mul(e, arena_printf(&e->g->arena, "t / %lld", (long long)G->kw), G->dh * G->w),
            mul(e, arena_printf(&e->g->arena, "t %% %lld", (long long)G->kw), G->dw), C);
  const char *cbt = conv_cbw(e, cb);
  emit_open(e, "for (size_t c0 = 0; c0 < %lld; c0 += %s)", C, cbt);
  emit_line(e, "nn2c_vf acc[%d][%s / NN2C_VW];", CONV_PB, cbt);
  emit_line(e, "memset(acc, 0, sizeof acc);");
  emit_line(e, "const float *wk = wt + t * %lld + c0;", F * C);
  emit_open(e, "for (size_t k = 0; k < %lld; k++)", F);
  emit_line(e, "const float *wr = wk + k * %lld;", C);
  buf_free(&b);
  conv_emit_rank1(e, CONV_PB, cbt, "s%d[k]", "wr");
  emit_close(e);
  emit_open(e, "for (size_t i = 0; i < %d && pb + i < p1; i++)", CONV_PB);
  emit_line(e, "float *xr = %s + xo[i] + to + c0;", DX);
  emit_line(e,
            "for (size_t v = 0; v < %s / NN2C_VW; v++) nn2c_vstore(xr + v * NN2C_VW, nn2c_vload(xr + v * NN2C_VW) + "
            "acc[i][v]);",
            cbt);
  emit_close(e);
  emit_close(e);
  emit_close(e);
  emit_close(e);
  emit_close(e);
  emit_close(e);
}

/* Gathered per input pixel, so each dx row is written once: for every tap
 * (kh, kw) whose output pixel (oh, ow) exists, dx row[ci] += dy row . w[kh,kw,ci,:]. */
void conv2d_grad_input_emit_direct(Emit *e, Node *n, const ConvPlan *p) {
  Value *dy = n->in[0], *w = n->in[1], *dx = n->out[0];
  Geom G = p->G;
  if (p->direct == CK_SCATTER) {
    conv2d_grad_input_emit_scatter(e, n, p);
    return;
  }
  if (p->direct == CK_BLOCKED) {
    conv2d_grad_input_emit_blocked(e, n, p);
    return;
  }
  const char *DY = emit_ref(e, dy), *W = emit_ref(e, w), *DX = emit_ref(e, dx);
  conv_emit_parallel(e, n, emit_numel_range(e, dx, 0, 3));
  emit_open(e, "for (size_t p = 0; p < %s; p++)", emit_numel_range(e, dx, 0, 3));
  emit_line(e, "const size_t nb = p / %lld, ih = %s, iw = %s;%s", (long long)(G.h * G.w),
            plus(e, arena_printf(&e->g->arena, "p / %lld %% %lld", (long long)G.w, (long long)G.h), G.pt),
            plus(e, arena_printf(&e->g->arena, "p %% %lld", (long long)G.w), G.pl),
            G.pt || G.pl ? " /* in the padded input */" : "");
  emit_line(e, "float acc[%lld];", (long long)G.c);
  emit_line(e, "memset(acc, 0, sizeof acc);");
  const int64_t ext[2][4] = {{G.kh, G.dh, G.sh, G.oh}, {G.kw, G.dw, G.sw, G.ow}};
  const char *nm[2][3] = {{"kh", "ih", "oh"}, {"kw", "iw", "ow"}};
  for (int a = 0; a < 2; a++) { /* o * stride = i - k * dilation, for an o in range */
    emit_open(e, "for (size_t %s = 0; %s < %lld; %s++)", nm[a][0], nm[a][0], (long long)ext[a][0], nm[a][0]);
    const char *k = mul(e, nm[a][0], ext[a][1]);
    emit_line(e, "if (%s < %s) break;", nm[a][1], k);
    if (ext[a][2] > 1) emit_line(e, "if ((%s - %s) %% %lld) continue;", nm[a][1], k, (long long)ext[a][2]);
    if (ext[a][2] > 1)
      emit_line(e, "const size_t %s = (%s - %s) / %lld;", nm[a][2], nm[a][1], k, (long long)ext[a][2]);
    else
      emit_line(e, "const size_t %s = %s - %s;", nm[a][2], nm[a][1], k);
    emit_line(e, "if (%s >= %lld) continue;", nm[a][2], (long long)ext[a][3]);
  }
  emit_line(e, "const float *dp = %s + ((nb * %lld + oh) * %lld + ow) * %lld;", DY, (long long)G.oh, (long long)G.ow,
            (long long)G.f);
  emit_line(e, "const float *wp = %s + (kh * %lld + kw) * %lld;", W, (long long)G.kw, (long long)(G.cg * G.f));
  if (G.cg == 1 && G.fg == 1) {
    emit_line(e, "for (size_t ci = 0; ci < %lld; ci++) acc[ci] += dp[ci] * wp[ci];", (long long)G.c);
  } else if (G.groups == 1) {
    emit_open(e, "for (size_t ci = 0; ci < %lld; ci++)", (long long)G.c);
    emit_line(e, "const float *wr = wp + ci * %lld;", (long long)G.f);
    emit_dot(e, "acc[ci]", "dp", "wr", G.f);
    emit_close(e);
  } else {
    emit_open(e, "for (size_t gi = 0; gi < %lld; gi++)", (long long)G.groups);
    emit_open(e, "for (size_t ci = 0; ci < %lld; ci++)", (long long)G.cg);
    emit_line(e, "const float *wr = wp + ci * %lld + gi * %lld, *dr = dp + gi * %lld;", (long long)G.f, (long long)G.fg,
              (long long)G.fg);
    emit_dot(e, arena_printf(&e->g->arena, "acc[gi * %lld + ci]", (long long)G.cg), "dr", "wr", G.fg);
    emit_close(e);
    emit_close(e);
  }
  emit_close(e);
  emit_close(e);
  emit_line(e, "memcpy(%s + p * %lld, acc, sizeof acc);", DX, (long long)G.c);
  emit_close(e);
}
