/* conv_wino.c - Winograd convolution kernels (3x3, stride 1, no dilation, groups 1).
 *
 * ---- Winograd F(2x2, 3x3) for conv2d and conv2d_grad_input ----
 * Each 2x2 tile of outputs comes from a 4x4 window of the source d:
 *   y = A^T [ (G g G^T) .* (B^T d B) ] A,  summed over source channels,
 * 16 multiply-adds per tile and channel pair instead of 36. The transformed
 * kernel u[16][K][D] (K source, D destination channels) is made first, in
 * the scratch space; then per block of WG_T tiles: the transformed windows
 * v[16][tile][K], sixteen [WG_T x K] x [K x D] products in registers (as the
 * gather core), and the output transform, with bias and relu, to the tiles'
 * pixels that exist. conv2d uses it on x (pads as given); conv2d_grad_input
 * on dy padded by 2 - pad (the full correlation with the flipped kernel). The
 * compiler picks it when the tiles waste little (conv_plan). */
#include "conv_impl.h"

#include <string.h>

typedef struct {
  const char *src, *dst, *w, *bias;
  int64_t sh, sw, k; /* source [N,SH,SW,K] */
  int64_t oh, ow, d; /* destination [N,OH,OW,D] */
  int64_t pt, pl;    /* source pixel = destination pixel + tap - pad */
  bool flip, relu;   /* flip: w is the forward kernel [3,3,D,K], read flipped */
} Wino;

/* The loops of u = G g G^T for every (kc, dc), reading w and writing u. */
static void emit_wino_kernel_loops(Emit *e, const Wino *wg) {
  const char *S = ll(e, wg->k * wg->d);
  emit_open(e, "for (size_t kc = 0; kc < %lld; kc++)", (long long)wg->k);
  emit_open(e, "for (size_t dc = 0; dc < %lld; dc++)", (long long)wg->d);
  if (wg->flip) /* tap i of the flipped forward kernel [3,3,D,K] */
    emit_line(e, "const float *gp = w + dc * %lld + kc;", (long long)wg->k);
  else
    emit_line(e, "const float *gp = w + kc * %lld + dc;", (long long)wg->d);
  for (int i = 0; i < 9; i++)
    emit_line(e, "const float g%d = gp[%d * %s];", i, wg->flip ? 8 - i : i, S);
  for (int j = 0; j < 3; j++) /* a = G g: rows g0, (g0 + g1 + g2) / 2, (g0 - g1 + g2) / 2, g2 */
    emit_line(e,
              "const float a0%d = g%d, a1%d = 0.5f * (g%d + g%d + g%d), a2%d = 0.5f * (g%d - g%d + g%d), a3%d = g%d;",
              j, j, j, j, 3 + j, 6 + j, j, j, 3 + j, 6 + j, j, 6 + j);
  emit_line(e, "float *ur = u + kc * %lld + dc;", (long long)wg->d);
  for (int r = 0; r < 4; r++) /* u = a G^T */
    emit_line(
        e,
        "ur[%d * %s] = a%d0, ur[%d * %s] = 0.5f * (a%d0 + a%d1 + a%d2), ur[%d * %s] = 0.5f * (a%d0 - a%d1 + a%d2), "
        "ur[%d * %s] = a%d2;",
        4 * r, S, r, 4 * r + 1, S, r, r, r, 4 * r + 2, S, r, r, r, 4 * r + 3, S, r);
  emit_close(e);
  emit_close(e);
}

/* u (the scratch space) = G g G^T. Among the helpers it is a function of its
 * own, nn2c_wino_kt_KxD[_flip]: inside a kernel that also holds a parallel
 * region gcc 12 left these loops scalar (60 us of mnist_cnn's 85 at batch 1
 * on two threads); alone they vectorize. */
static void emit_wino_kernel(Emit *e, const Wino *wg) {
  emit_line(e, "float *u = (float *)scratch; /* G g G^T: [16][%lld][%lld] */", (long long)wg->k, (long long)wg->d);
  if (!e->helpers) {
    emit_scope_open(e);
    emit_line(e, "const float *w = %s;", wg->w);
    emit_wino_kernel_loops(e, wg);
    emit_close(e);
    return;
  }
  const char *name = arena_printf(&e->g->arena, "nn2c_wino_kt_%lldx%lld%s", (long long)wg->k, (long long)wg->d,
                                  wg->flip ? "_flip" : "");
  const char *decl = arena_printf(&e->g->arena, "void %s(", name);
  if (!e->helpers->data || !strstr(e->helpers->data, decl)) {
    Buf kb = {0};
    Emit k = {&kb, e->g, 1, NULL, NULL, NULL, NULL};
    emit_wino_kernel_loops(&k, wg);
    buf_printf(e->helpers, "/* Winograd F(2x2,3x3)'s kernel transform u = G g G^T, [3,3,%s] -> [16][%lld][%lld] */\n",
               wg->flip ? "D,K" : "K,D", (long long)wg->k, (long long)wg->d);
    buf_printf(e->helpers, "static NN2C_KERNEL void %s(const float *w, float *u) {\n%s}\n\n", name, kb.data);
    buf_free(&kb);
  }
  emit_line(e, "%s(%s, u);", name, wg->w);
}

/* v[.][i][.] = B^T d B for tile i's window, one source channel at a time. */
static void emit_wino_input(Emit *e, const Wino *wg, int64_t th, int64_t tw) {
  emit_open(e, "for (size_t i = 0; i < %d; i++)", WG_T);
  emit_line(e, "const size_t t = tb * %d + i < T ? tb * %d + i : T - 1;", WG_T, WG_T);
  emit_line(e, "const size_t nb = t / %lld, y0 = t / %lld %% %lld * 2, x0 = t %% %lld * 2;", (long long)(th * tw),
            (long long)tw, (long long)th, (long long)tw);
  emit_line(e, "const float *rp[16];");
  emit_open(e, "for (size_t r = 0; r < 16; r++)");
  emit_line(e, "const size_t sy = y0 + r / 4, sx = x0 + r %% 4; /* in the padded source */");
  const char *ch = conv_range_cond(e, "sy", wg->pt, wg->sh + wg->pt, true),
             *cw = conv_range_cond(e, "sx", wg->pl, wg->sw + wg->pl, true);
  emit_line(e, "rp[r] = %s && %s ? %s + ((nb * %lld + %s) * %lld + %s) * %lld : zeros;", ch, cw, wg->src,
            (long long)wg->sh, plus(e, "sy", -wg->pt), (long long)wg->sw, plus(e, "sx", -wg->pl), (long long)wg->k);
  emit_close(e);
  /* whole vectors of channels, then the rest one at a time (same arithmetic) */
  emit_line(e, "size_t c = 0;");
  for (int vec = 1; vec >= 0; vec--) {
    const char *T = vec ? "nn2c_vf" : "float";
    if (vec)
      emit_open(e, "for (; c + NN2C_VW <= %lld; c += NN2C_VW)", (long long)wg->k);
    else
      emit_open(e, "for (; c < %lld; c++)", (long long)wg->k);
    emit_line(e, "%s w[4][4];", T);
    emit_open(e, "for (size_t s = 0; s < 4; s++)");
    if (vec)
      emit_line(
          e,
          "const nn2c_vf d0 = nn2c_vload(rp[s] + c), d1 = nn2c_vload(rp[4 + s] + c), d2 = nn2c_vload(rp[8 + s] + c), "
          "d3 = nn2c_vload(rp[12 + s] + c);");
    else
      emit_line(e, "const float d0 = rp[s][c], d1 = rp[4 + s][c], d2 = rp[8 + s][c], d3 = rp[12 + s][c];");
    emit_line(e, "w[0][s] = d0 - d2, w[1][s] = d1 + d2, w[2][s] = d2 - d1, w[3][s] = d1 - d3;");
    emit_close(e);
    emit_open(e, "for (size_t r = 0; r < 4; r++)");
    if (vec) {
      emit_line(
          e, "nn2c_vstore(&v[r * 4][i][c], w[r][0] - w[r][2]), nn2c_vstore(&v[r * 4 + 1][i][c], w[r][1] + w[r][2]);");
      emit_line(
          e,
          "nn2c_vstore(&v[r * 4 + 2][i][c], w[r][2] - w[r][1]), nn2c_vstore(&v[r * 4 + 3][i][c], w[r][1] - w[r][3]);");
    } else {
      emit_line(e, "v[r * 4][i][c] = w[r][0] - w[r][2], v[r * 4 + 1][i][c] = w[r][1] + w[r][2];");
      emit_line(e, "v[r * 4 + 2][i][c] = w[r][2] - w[r][1], v[r * 4 + 3][i][c] = w[r][1] - w[r][3];");
    }
    emit_close(e);
    emit_close(e);
  }
  emit_close(e);
}

/* Per block of cb destination channels: m[e][i][c] = sum_k v[e][i][k] u[e][k][c0 + c]
 * in registers, then y = A^T m A (+ bias, relu) to the tiles' existing pixels. */
static void emit_wino_product(Emit *e, const Wino *wg, int cbn, int64_t th, int64_t tw) {
  const char *cb = conv_cbw(e, cbn);
  emit_open(e, "for (size_t c0 = 0; c0 < %lld; c0 += %s)", (long long)wg->d, cb);
  emit_line(e, "float m[16][%d][%s];", WG_T, cb);
  emit_open(e, "for (size_t q = 0; q < 16; q++)");
  emit_line(e, "nn2c_vf acc[%d][%s / NN2C_VW];", WG_T, cb);
  emit_line(e, "memset(acc, 0, sizeof acc);");
  emit_open(e, "for (size_t k = 0; k < %lld; k++)", (long long)wg->k);
  emit_line(e, "const float *ur = u + (q * %lld + k) * %lld + c0;", (long long)wg->k, (long long)wg->d);
  conv_emit_rank1(e, WG_T, cb, "v[q][%d][k]", "ur");
  emit_close(e);
  emit_line(e, "memcpy(m[q], acc, sizeof acc);");
  emit_close(e);
  emit_open(e, "for (size_t i = 0; i < %d && tb * %d + i < T; i++)", WG_T, WG_T);
  emit_line(e, "const size_t t = tb * %d + i, nb = t / %lld, y0 = t / %lld %% %lld * 2, x0 = t %% %lld * 2;", WG_T,
            (long long)(th * tw), (long long)tw, (long long)th, (long long)tw);
  emit_open(e, "for (size_t c = 0; c < %s; c += NN2C_VW)", cb);
  emit_line(e, "nn2c_vf p[2][4], y[4];");
  emit_open(e, "for (size_t s = 0; s < 4; s++)");
  emit_line(e, "p[0][s] = nn2c_vload(&m[s][i][c]) + nn2c_vload(&m[4 + s][i][c]) + nn2c_vload(&m[8 + s][i][c]);");
  emit_line(e, "p[1][s] = nn2c_vload(&m[4 + s][i][c]) - nn2c_vload(&m[8 + s][i][c]) - nn2c_vload(&m[12 + s][i][c]);");
  emit_close(e);
  emit_open(e, "for (size_t r = 0; r < 2; r++)");
  const char *bias = wg->bias ? arena_printf(&e->g->arena, " + nn2c_vload(%s + c0 + c)", wg->bias) : "";
  emit_line(e, "y[r * 2] = p[r][0] + p[r][1] + p[r][2]%s;", bias);
  emit_line(e, "y[r * 2 + 1] = p[r][1] - p[r][2] - p[r][3]%s;", bias);
  emit_close(e);
  emit_open(e, "for (size_t o = 0; o < 4; o++)");
  emit_line(e, "const size_t oy = y0 + o / 2, ox = x0 + o %% 2;");
  if (wg->oh % 2 || wg->ow % 2)
    emit_line(e, "if (oy >= %lld || ox >= %lld) continue;", (long long)wg->oh, (long long)wg->ow);
  emit_line(e, "nn2c_vstore(%s + ((nb * %lld + oy) * %lld + ox) * %lld + c0 + c, %s);", wg->dst, (long long)wg->oh,
            (long long)wg->ow, (long long)wg->d, wg->relu ? "nn2c_vrelu(y[o])" : "y[o]");
  emit_close(e);
  emit_close(e);
  emit_close(e);
  emit_close(e);
}

static void emit_wino(Emit *e, Node *n, const Wino *wg, int cb) {
  int64_t th = (wg->oh + 1) / 2, tw = (wg->ow + 1) / 2;
  emit_line(e, "/* Winograd F(2x2,3x3): %lld x %lld tiles of 2x2 outputs, %d tiles x %d channels per step */",
            (long long)th, (long long)tw, WG_T, cb);
  emit_scope_open(e);
  emit_line(e, "static const float zeros[%lld] = {0.0f};", (long long)wg->k);
  emit_wino_kernel(e, wg);
  emit_line(e, "const size_t T = %s;",
            arena_printf(&e->g->arena, "%s * %lld", emit_dim(e, n->out[0], 0), (long long)(th * tw)));
  conv_emit_parallel(e, n, arena_printf(&e->g->arena, "(T + %d) / %d", WG_T - 1, WG_T));
  emit_open(e, "for (size_t tb = 0; tb < (T + %d) / %d; tb++)", WG_T - 1, WG_T);
  emit_line(e, "float v[16][%d][%lld];", WG_T, (long long)wg->k);
  emit_wino_input(e, wg, th, tw);
  emit_wino_product(e, wg, cb, th, tw);
  emit_close(e);
  emit_close(e);
}

void conv2d_emit_wino(Emit *e, Node *n, const ConvPlan *p) {
  const Geom *G = &p->G;
  Wino wg = {emit_ref(e, n->in[0]),
             emit_ref(e, n->out[0]),
             emit_ref(e, n->in[1]),
             n->nin == 3 ? emit_ref(e, n->in[2]) : NULL,
             G->h,
             G->w,
             G->c,
             G->oh,
             G->ow,
             G->f,
             G->pt,
             G->pl,
             false,
             conv_relu(n)};
  emit_wino(e, n, &wg, p->cb);
}

/* dx = the full correlation of dy (padded by 2 - pad) with the flipped kernel. */
void conv2d_grad_input_emit_wino(Emit *e, Node *n, const ConvPlan *p) {
  const Geom *G = &p->G;
  Wino wg = {emit_ref(e, n->in[0]),
             emit_ref(e, n->out[0]),
             emit_ref(e, n->in[1]),
             NULL,
             G->oh,
             G->ow,
             G->f,
             G->h,
             G->w,
             G->c,
             2 - G->pt,
             2 - G->pl,
             true,
             false};
  emit_wino(e, n, &wg, p->cb);
}

/* ---- Winograd F(3x3, 2x2) for the weight gradient ----
 * dw[u][v] = sum over 2x2 tiles of dy of x's 4x4 window correlated with the
 * tile: dw = G^T [ (A dy A^T) .* (B^T d B) ] G, the transpose of the forward
 * identity, so 16 multiply-adds per tile and channel pair instead of 36. The
 * tiles are cut into WG_SLICES fixed slices of whole blocks; each slice sums
 * m[16][K][D] in the scratch space, and the slices are added in order: the
 * same sums whatever the number of threads. */
/* du[.][i][.] = A dy A^T for tile i (zero for the block's tiles past T). */
static void emit_wino_dy(Emit *e, const Wino *wg, const char *DY, int64_t th, int64_t tw) {
  emit_open(e, "for (size_t i = 0; i < %d; i++)", WG_T);
  emit_line(e, "const size_t t = tb * %d + i, nb = t / %lld, y0 = t / %lld %% %lld * 2, x0 = t %% %lld * 2;", WG_T,
            (long long)(th * tw), (long long)tw, (long long)th, (long long)tw);
  emit_line(e, "const float *dp[4];");
  emit_open(e, "for (size_t o = 0; o < 4; o++)");
  emit_line(e, "const size_t oy = y0 + o / 2, ox = x0 + o %% 2;");
  emit_line(e, "dp[o] = t < T && oy < %lld && ox < %lld ? %s + ((nb * %lld + oy) * %lld + ox) * %lld : dzeros;",
            (long long)wg->oh, (long long)wg->ow, DY, (long long)wg->oh, (long long)wg->ow, (long long)wg->d);
  emit_close(e);
  emit_open(e, "for (size_t c = 0; c < %lld; c++)", (long long)wg->d);
  emit_line(e, "const float a0 = dp[0][c], a1 = dp[1][c], b0 = dp[2][c], b1 = dp[3][c];");
  emit_line(e, "const float r[4][2] = {{a0, a1}, {a0 + b0, a1 + b1}, {a0 - b0, a1 - b1}, {-b0, -b1}};");
  emit_open(e, "for (size_t q = 0; q < 4; q++)");
  emit_line(e, "du[q * 4][i][c] = r[q][0], du[q * 4 + 1][i][c] = r[q][0] + r[q][1];");
  emit_line(e, "du[q * 4 + 2][i][c] = r[q][0] - r[q][1], du[q * 4 + 3][i][c] = -r[q][1];");
  emit_close(e);
  emit_close(e);
  emit_close(e);
}

/* m[q][k][c] += sum over the block's tiles of v[q][i][k] du[q][i][c]: rb x cb accumulators in registers. */
static void emit_wino_outer(Emit *e, const Wino *wg, int64_t rb, int cbn) {
  const char *cb = conv_cbw(e, cbn);
  emit_open(e, "for (size_t q = 0; q < 16; q++)");
  emit_open(e, "for (size_t k0 = 0; k0 < %lld; k0 += %lld)", (long long)wg->k, (long long)rb);
  emit_open(e, "for (size_t c0 = 0; c0 < %lld; c0 += %s)", (long long)wg->d, cb);
  emit_line(e, "float *mr = m + (q * %lld + k0) * %lld + c0;", (long long)wg->k, (long long)wg->d);
  emit_line(e, "nn2c_vf acc[%lld][%s / NN2C_VW];", (long long)rb, cb);
  conv_emit_acc_load(e, ll(e, rb), cb, "mr", ll(e, wg->d));
  emit_open(e, "for (size_t i = 0; i < %d; i++)", WG_T);
  emit_line(e, "const float *ur = du[q][i] + c0, *vr = v[q][i] + k0;");
  conv_emit_rank1(e, (int)rb, cb, "vr[%d]", "ur");
  emit_close(e);
  conv_emit_acc_store(e, ll(e, rb), cb, "mr", ll(e, wg->d), false);
  emit_close(e);
  emit_close(e);
  emit_close(e);
}

/* The slices' m added in slice order into the first; then dw = G^T m G per
 * channel pair, j innermost so the loops vectorize. Both run over chunks of
 * WG_CHUNK channel pairs on the threads; each element's sum keeps its order. */
#define WG_CHUNK 256
static void emit_wino_weight_out(Emit *e, const Wino *wg, const char *DW) {
  int64_t kd = wg->k * wg->d, nchunks = (kd + WG_CHUNK - 1) / WG_CHUNK;
  emit_line(e, "NN2C_PARALLEL_FOR_IF(%lldu)", (long long)(16 * kd * WG_SLICES));
  emit_open(e, "for (size_t ch = 0; ch < %lld; ch++)", (long long)nchunks);
  emit_line(e, "const size_t j0 = ch * %d, j1 = j0 + %d < %lld ? j0 + %d : %lld;", WG_CHUNK, WG_CHUNK, (long long)kd,
            WG_CHUNK, (long long)kd);
  emit_line(e, "for (size_t sl = 1; sl < %d; sl++)", WG_SLICES);
  emit_line(e, "  for (size_t q = 0; q < 16; q++)");
  emit_line(e, "    for (size_t j = q * %lld + j0; j < q * %lld + j1; j++) mp[j] += mp[sl * %lld + j];", (long long)kd,
            (long long)kd, (long long)(16 * kd));
  emit_open(e, "for (size_t j = j0; j < j1; j++)");
  Buf b = {0};
  for (int q = 0; q < 16; q++)
    buf_printf(&b, "%ss%d = mp[%lld + j]", q ? ", " : "", q, (long long)(q * kd));
  emit_line(e, "const float %s;", b.data);
  buf_free(&b);
  for (int c = 0; c < 4; c++)
    emit_line(
        e, "const float h0%d = s%d + 0.5f * (s%d + s%d), h1%d = 0.5f * (s%d - s%d), h2%d = 0.5f * (s%d + s%d) + s%d;",
        c, c, 4 + c, 8 + c, c, 4 + c, 8 + c, c, 4 + c, 8 + c, 12 + c);
  for (int r = 0; r < 3; r++) {
    emit_line(e, "%s[%lld + j] = h%d0 + 0.5f * (h%d1 + h%d2);", DW, (long long)(r * 3 * kd), r, r, r);
    emit_line(e, "%s[%lld + j] = 0.5f * (h%d1 - h%d2);", DW, (long long)((r * 3 + 1) * kd), r, r);
    emit_line(e, "%s[%lld + j] = 0.5f * (h%d1 + h%d2) + h%d3;", DW, (long long)((r * 3 + 2) * kd), r, r, r);
  }
  emit_close(e);
  emit_close(e);
}

void conv2d_grad_weight_emit_wino(Emit *e, Node *n, const ConvPlan *p) {
  const Geom *G = &p->G;
  Wino wg = {emit_ref(e, n->in[0]), NULL, NULL, NULL, G->h, G->w, G->c, G->oh, G->ow, G->f, G->pt, G->pl, false, false};
  int64_t th = (G->oh + 1) / 2, tw = (G->ow + 1) / 2;
  int64_t rb = p->rb;
  int cb = p->cb;
  emit_line(e,
            "/* Winograd F(3x3,2x2) weight gradient: %lld x %lld tiles of dy per image, %d slices of %d-tile blocks */",
            (long long)th, (long long)tw, WG_SLICES, WG_T);
  emit_scope_open(e);
  emit_line(e, "static const float zeros[%lld] = {0.0f}, dzeros[%lld] = {0.0f};", (long long)G->c, (long long)G->f);
  emit_line(e, "float *mp = (float *)scratch; /* [%d slices][16][%lld][%lld] */", WG_SLICES, (long long)G->c,
            (long long)G->f);
  emit_line(e, "const size_t T = %s, NB = (T + %d) / %d;",
            arena_printf(&e->g->arena, "%s * %lld", emit_dim(e, n->in[0], 0), (long long)(th * tw)), WG_T - 1, WG_T);
  conv_emit_parallel(e, n, ll(e, WG_SLICES));
  emit_open(e, "for (size_t sl = 0; sl < %d; sl++)", WG_SLICES);
  emit_line(e, "float *m = mp + sl * %lld;", (long long)(16 * G->c * G->f));
  emit_line(e, "memset(m, 0, sizeof(float) * %lld);", (long long)(16 * G->c * G->f));
  emit_open(e, "for (size_t tb = NB * sl / %d; tb < NB * (sl + 1) / %d; tb++)", WG_SLICES, WG_SLICES);
  emit_line(e, "float v[16][%d][%lld], du[16][%d][%lld];", WG_T, (long long)G->c, WG_T, (long long)G->f);
  emit_wino_input(e, &wg, th, tw);
  emit_wino_dy(e, &wg, emit_ref(e, n->in[1]), th, tw);
  emit_wino_outer(e, &wg, rb, cb);
  emit_close(e);
  emit_close(e);
  emit_wino_weight_out(e, &wg, emit_ref(e, n->out[0]));
  emit_close(e);
}
