/* quant_simd.c - the emitted int8 kernels' fast path (docs/int8.md).
 *
 * matmul_integer and conv_integer with constant int8 weights (zero point 0,
 * one group) run as blocked matrix products: 4 rows of x (4 output pixels'
 * patches for a convolution) times up to 64 output channels per call of
 * nn2c_q8_tile<nb>, whose int32 accumulators stay in registers, so each
 * loaded activation serves 16 nb channels and each weight vector 4 rows.
 * x is made unsigned (a signed x is flipped to x + 128, its zero point
 * likewise) and sum (x - zx) w = dot(xu, w) - zxu S[f], with the weights'
 * column sums S[f]. The weights are packed at compile time as
 * [F/16][K/4][16 channels][4 terms] (zeros past F and K), the layout of one
 * vpdpbusd per 4 terms and 16 channels:
 *   AVX-512 VNNI  vpdpbusd on 512 bits (u8 x s8, 4 products per lane)
 *   AVX-VNNI      the same on 256 bits
 *   AVX2          even and odd bytes widened to int16 in place, two vpmaddwd
 *   otherwise     plain loops (AArch64 too; also with -DNN2C_NO_SIMD).
 * Every path is exact in int32, so the results equal the interpreter's bit
 * for bit. A fused requantization (conv_integer or matmul_integer with
 * mult, shift [, bias] inputs, made by qdq_fold) runs on each block of sums
 * while it is in cache and stores int8 directly. Blocks of 4 rows are
 * independent: with OpenMP they are shared out over the threads, each
 * writing its own outputs (the float kernels' rule). */
#include "quant.h"

#include <string.h>

#define QTILE_MAX_LEN 8192 /* 4 rows of x on the step's stack: at most 32 KB */

static const char q8_prelude[] =
    "#if !defined(NN2C_NO_SIMD) && defined(__AVX512VNNI__) && defined(__AVX512BW__)\n"
    "#include <immintrin.h>\n#define NN2C_Q8_512 1\n"
    "#elif !defined(NN2C_NO_SIMD) && defined(__AVX2__)\n"
    "#include <immintrin.h>\n#define NN2C_Q8_256 1\n"
    "#endif\n"
    "/* p / 2^s rounded to nearest, ties to even (as QuantizeLinear), on the magnitude\n"
    " * (C99 leaves shifts of negative numbers to the implementation); no branches, so\n"
    " * the channel loops vectorize. */\n"
    "static NN2C_MAYBE_UNUSED int64_t nn2c_round_shift(int64_t p, int s) {\n"
    "  const uint64_t a = p < 0 ? (uint64_t)0 - (uint64_t)p : (uint64_t)p;\n"
    "  const uint64_t half = ((uint64_t)1 << s) >> 1, q = a >> s, rest = a - (q << s);\n"
    "  const int64_t m = (int64_t)(q + ((rest > half) | ((rest == half) & (half != 0) & q)));\n"
    "  return p < 0 ? -m : m;\n"
    "}\n"
    "/* y[j] = clamp(zp + round((acc[j] - zxu S[j] + bias[j]) mult[j] / 2^shift[j]), lo, hi), j < n, as bytes\n"
    " * (int8 or uint8). The sum with the bias fits int32 and 1 <= shift (qdq_fold checks), so the product\n"
    " * is exact in int64 and below 2^62: the vectors round u = p + 2^63 (unsigned: logical shifts) as\n"
    " * (u + 2^(s-1) - 1 + (u >> s & 1)) >> s, which is round half to even, minus 2^(63-s). */\n"
    "static NN2C_MAYBE_UNUSED void nn2c_q8_requant(const int32_t *acc, const int32_t *S, int32_t zxu, const int32_t "
    "*bias,\n"
    "                                              const int32_t *mult, const int32_t *shift, int64_t zp, int64_t lo,\n"
    "                                              int64_t hi, uint8_t *y, size_t n) {\n"
    "  size_t j = 0;\n"
    "#if defined(NN2C_Q8_512)\n"
    "  const __m512i one = _mm512_set1_epi64(1), top = _mm512_set1_epi64(INT64_MIN);\n"
    "  for (; j + 8 <= n; j += 8) {\n"
    "    const __m256i v = _mm256_sub_epi32(\n"
    "        _mm256_add_epi32(_mm256_loadu_si256((const __m256i *)(acc + j)), _mm256_loadu_si256((const __m256i "
    "*)(bias + j))),\n"
    "        _mm256_mullo_epi32(_mm256_set1_epi32(zxu), _mm256_loadu_si256((const __m256i *)(S + j))));\n"
    "    const __m512i s = _mm512_cvtepi32_epi64(_mm256_loadu_si256((const __m256i *)(shift + j)));\n"
    "    const __m512i u = _mm512_xor_si512(top, _mm512_mul_epi32(_mm512_cvtepi32_epi64(v),\n"
    "                                       _mm512_cvtepi32_epi64(_mm256_loadu_si256((const __m256i *)(mult + j)))));\n"
    "    const __m512i h = _mm512_sub_epi64(_mm512_srli_epi64(_mm512_sllv_epi64(one, s), 1), one);\n"
    "    const __m512i q = _mm512_srlv_epi64(_mm512_add_epi64(_mm512_add_epi64(u, h), "
    "_mm512_and_si512(_mm512_srlv_epi64(u, s), one)), s);\n"
    "    __m512i r = _mm512_add_epi64(_mm512_sub_epi64(q, _mm512_srlv_epi64(top, s)), _mm512_set1_epi64(zp));\n"
    "    r = _mm512_min_epi64(_mm512_max_epi64(r, _mm512_set1_epi64(lo)), _mm512_set1_epi64(hi));\n"
    "    _mm_storel_epi64((__m128i *)(y + j), _mm512_cvtepi64_epi8(r));\n"
    "  }\n"
    "#elif defined(NN2C_Q8_256)\n"
    "  const __m256i one = _mm256_set1_epi64x(1), top = _mm256_set1_epi64x(INT64_MIN), lov = _mm256_set1_epi64x(lo),\n"
    "                hiv = _mm256_set1_epi64x(hi), low_bytes = _mm256_setr_epi8(0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, "
    "0, 0, 0,\n"
    "                                                                           0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, "
    "0, 0, 0);\n"
    "  for (; j + 4 <= n; j += 4) {\n"
    "    const __m128i v = _mm_sub_epi32(\n"
    "        _mm_add_epi32(_mm_loadu_si128((const __m128i *)(acc + j)), _mm_loadu_si128((const __m128i *)(bias + "
    "j))),\n"
    "        _mm_mullo_epi32(_mm_set1_epi32(zxu), _mm_loadu_si128((const __m128i *)(S + j))));\n"
    "    const __m256i s = _mm256_cvtepi32_epi64(_mm_loadu_si128((const __m128i *)(shift + j)));\n"
    "    const __m256i u = _mm256_xor_si256(top, _mm256_mul_epi32(_mm256_cvtepi32_epi64(v),\n"
    "                                       _mm256_cvtepi32_epi64(_mm_loadu_si128((const __m128i *)(mult + j)))));\n"
    "    const __m256i h = _mm256_sub_epi64(_mm256_srli_epi64(_mm256_sllv_epi64(one, s), 1), one);\n"
    "    const __m256i q = _mm256_srlv_epi64(_mm256_add_epi64(_mm256_add_epi64(u, h), "
    "_mm256_and_si256(_mm256_srlv_epi64(u, s), one)), s);\n"
    "    __m256i r = _mm256_add_epi64(_mm256_sub_epi64(q, _mm256_srlv_epi64(top, s)), _mm256_set1_epi64x(zp));\n"
    "    r = _mm256_blendv_epi8(r, lov, _mm256_cmpgt_epi64(lov, r));\n"
    "    r = _mm256_blendv_epi8(r, hiv, _mm256_cmpgt_epi64(r, hiv));\n"
    "    r = _mm256_shuffle_epi8(r, low_bytes); /* bytes 0 and 1 of each half: lanes 0, 1 and 2, 3 */\n"
    "    y[j] = (uint8_t)_mm256_extract_epi8(r, 0), y[j + 1] = (uint8_t)_mm256_extract_epi8(r, 1);\n"
    "    y[j + 2] = (uint8_t)_mm256_extract_epi8(r, 16), y[j + 3] = (uint8_t)_mm256_extract_epi8(r, 17);\n"
    "  }\n"
    "#endif\n"
    "  for (; j < n; j++) {\n"
    "    const int64_t v = nn2c_round_shift((int64_t)(acc[j] - zxu * S[j] + bias[j]) * mult[j], shift[j]) + zp;\n"
    "    y[j] = (uint8_t)(v < lo ? lo : v > hi ? hi : v);\n"
    "  }\n"
    "}\n";

/* nn2c_q8_tile<nb>: out[r * 64 + j] = sum_k a[r * ka + k] w(k, j) for 4 rows r
 * and 16 nb channels j, the weights packed (blocks of 16 channels wb bytes
 * apart). Loops of constant counts, unrolled by the compiler: registers. */
static void emit_tile(Buf *h, int nb) {
  buf_printf(h,
             "/* out[r][j] = sum of a[r ka + k] w(k, j), k < 4 k4, r < 4, j < %d: a unsigned, w signed (packed) */\n"
             "static void nn2c_q8_tile%d(const uint8_t *a, size_t ka, const int8_t *w, size_t k4, size_t wb, "
             "int32_t *out) {\n  size_t k;\n  int r, b;\n",
             16 * nb, nb);
  buf_printf(h,
             "#if defined(NN2C_Q8_512)\n  __m512i c[4][%d];\n"
             "  for (r = 0; r < 4; r++)\n    for (b = 0; b < %d; b++) c[r][b] = _mm512_setzero_si512();\n"
             "  for (k = 0; k < k4; k++) {\n    __m512i wv[%d];\n"
             "    for (b = 0; b < %d; b++) wv[b] = _mm512_loadu_si512(w + b * wb + k * 64);\n"
             "    for (r = 0; r < 4; r++) {\n      int32_t a4;\n      memcpy(&a4, a + r * ka + k * 4, 4);\n"
             "      for (b = 0; b < %d; b++) c[r][b] = _mm512_dpbusd_epi32(c[r][b], _mm512_set1_epi32(a4), wv[b]);\n"
             "    }\n  }\n  for (r = 0; r < 4; r++)\n"
             "    for (b = 0; b < %d; b++) _mm512_storeu_si512(out + r * 64 + b * 16, c[r][b]);\n",
             nb, nb, nb, nb, nb, nb);
  buf_printf(h,
             "#elif defined(NN2C_Q8_256) /* 16 ymm registers: one block of 16 channels at a time */\n"
             "  for (b = 0; b < %d; b++) {\n    __m256i c[4][2];\n    int h;\n"
             "    for (r = 0; r < 4; r++) c[r][0] = c[r][1] = _mm256_setzero_si256();\n"
             "    for (k = 0; k < k4; k++) {\n      __m256i wv[2];\n"
             "      for (h = 0; h < 2; h++) wv[h] = _mm256_loadu_si256((const __m256i *)(w + b * wb + k * 64 + h * "
             "32));\n"
             "#if defined(__AVXVNNI__)\n"
             "      for (r = 0; r < 4; r++) {\n        int32_t a4;\n        memcpy(&a4, a + r * ka + k * 4, 4);\n"
             "        for (h = 0; h < 2; h++) c[r][h] = _mm256_dpbusd_avx_epi32(c[r][h], _mm256_set1_epi32(a4), "
             "wv[h]);\n      }\n"
             "#else /* bytes 0, 2 and 1, 3 of each lane as int16: two exact vpmaddwd */\n"
             "      __m256i we[2], wo[2];\n"
             "      for (h = 0; h < 2; h++) we[h] = _mm256_srai_epi16(_mm256_slli_epi16(wv[h], 8), 8), wo[h] = "
             "_mm256_srai_epi16(wv[h], 8);\n"
             "      for (r = 0; r < 4; r++) {\n        int32_t a4;\n        memcpy(&a4, a + r * ka + k * 4, 4);\n"
             "        const __m256i av = _mm256_set1_epi32(a4), ae = _mm256_and_si256(av, _mm256_set1_epi16(0xff)),\n"
             "                      ao = _mm256_srli_epi16(av, 8);\n"
             "        for (h = 0; h < 2; h++)\n"
             "          c[r][h] = _mm256_add_epi32(c[r][h], _mm256_add_epi32(_mm256_madd_epi16(ae, we[h]), "
             "_mm256_madd_epi16(ao, wo[h])));\n      }\n"
             "#endif\n    }\n    for (r = 0; r < 4; r++)\n"
             "      for (h = 0; h < 2; h++) _mm256_storeu_si256((__m256i *)(out + r * 64 + b * 16 + h * 8), "
             "c[r][h]);\n  }\n",
             nb);
  buf_printf(h,
             "#else\n  int j, q;\n  for (r = 0; r < 4; r++)\n    for (j = 0; j < %d; j++) out[r * 64 + j] = 0;\n"
             "  for (k = 0; k < k4; k++)\n    for (r = 0; r < 4; r++)\n      for (q = 0; q < 4; q++) {\n"
             "        const int32_t av = a[r * ka + k * 4 + q];\n        for (b = 0; b < %d; b++)\n"
             "          for (j = 0; j < 16; j++) out[r * 64 + b * 16 + j] += av * w[b * wb + k * 64 + j * 4 + q];\n"
             "      }\n#endif\n}\n",
             16 * nb, nb);
}

void quant_emit_prelude(Emit *e) {
  if (e->helpers && (!e->helpers->data || !strstr(e->helpers->data, "define NN2C_Q8_512")))
    buf_puts(e->helpers, q8_prelude);
}

static bool const_zero(const Value *v) {
  if (!v) return true;
  if (v->kind != VK_CONST || !v->data) return false;
  Tensor t = {v->dtype, v->shape, shape_numel_static(v->shape), v->data};
  for (int64_t i = 0; i < t.numel; i++)
    if (tensor_get(&t, i) != 0) return false;
  return true;
}

bool quant_fast_ok(const Node *n, int64_t len) {
  Value *w = n->in[1];
  bool one_zx = n->nin <= 2 || shape_numel_static(n->in[2]->shape) == 1;
  return w->kind == VK_CONST && w->data && w->dtype == DT_I8 && const_zero(n->nin > 3 ? n->in[3] : NULL) && one_zx &&
         len <= QTILE_MAX_LEN && node_int(n, "groups", 1) == 1;
}

static int64_t up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

/* The weights packed (w is [L, F] row-major) and their column sums, as static
 * constants among the helpers, with the tile functions the node needs. */
static void emit_packed(Emit *e, Node *n, int64_t L, int64_t F, const char **wn, const char **sn) {
  Value *w = n->in[1];
  Tensor t = {w->dtype, w->shape, L * F, w->data};
  int64_t Lp = up(L, 4), Fp = up(F, 16);
  *wn = arena_printf(&e->g->arena, "nn2c_q8w_%s", n->out[0]->name);
  *sn = arena_printf(&e->g->arena, "nn2c_q8s_%s", n->out[0]->name);
  if (!e->helpers || (e->helpers->data && strstr(e->helpers->data, *wn))) return;
  quant_emit_prelude(e);
  for (int nb = 1; nb <= 4; nb *= 2)
    if (!strstr(e->helpers->data, arena_printf(&e->g->arena, "nn2c_q8_tile%d(", nb))) emit_tile(e->helpers, nb);
  buf_printf(e->helpers, "static const int8_t %s[%lld] = {", *wn, (long long)(Lp * Fp));
  for (int64_t i = 0; i < Lp * Fp; i++) { /* i = ((fb * Lp/4 + k4) * 16 + j) * 4 + q */
    int64_t q = i % 4, j = i / 4 % 16, k = i / 64 % (Lp / 4) * 4 + q, f = i / (Lp * 16) * 16 + j;
    int v = k < L && f < F ? (int)tensor_get(&t, k * F + f) : 0;
    buf_printf(e->helpers, "%s%d", i ? (i % 32 ? ", " : ",\n  ") : "\n  ", v);
  }
  buf_printf(e->helpers, "};\nstatic const int32_t %s[%lld] = {", *sn, (long long)F);
  for (int64_t f = 0; f < F; f++) {
    int64_t s = 0;
    for (int64_t l = 0; l < L; l++)
      s += (int64_t)tensor_get(&t, l * F + f);
    buf_printf(e->helpers, "%s%lld", f ? ", " : "", (long long)s);
  }
  buf_puts(e->helpers, "};\n");
}

/* "v" as an unsigned byte: a signed x is flipped to x + 128. */
static const char *as_u8(Emit *e, DType t, const char *v) {
  return t == DT_I8 ? arena_printf(&e->g->arena, "(uint8_t)((uint8_t)%s ^ 0x80u)", v) : v;
}

/* The blocked product over M rows (an expression), K terms and F channels;
 * `gather` fills xb[r] (Kp bytes, r < 4) with the unsigned row of row
 * index i = i0 + r (a row past M repeats row M - 1). */
static void emit_blocked(Emit *e, Node *n, const char *M, int64_t K, int64_t F, int64_t work,
                         void (*gather)(Emit *e, Node *n, const void *ctx), const void *ctx) {
  Value *y = n->out[0];
  int64_t Kp = up(K, 4), F16 = up(F, 16) / 16;
  const char *W, *S;
  emit_packed(e, n, K, F, &W, &S);
  emit_scope_open(e);
  const char *z = n->nin > 2 ? arena_printf(&e->g->arena, "(int32_t)%s[0]", emit_ref(e, n->in[2])) : "0";
  emit_line(e, "const int32_t zxu = %s%s;", z, n->in[0]->dtype == DT_I8 ? " + 128" : "");
  if (shape_has_batch(n->in[0]->shape))
    emit_line(e, "NN2C_PARALLEL_FOR_DYN(B * %lldu, (%s + 3) / 4)", (long long)work, M);
  else
    emit_line(e, "NN2C_PARALLEL_FOR_DYN(%lldu, (%s + 3) / 4)", (long long)work, M);
  emit_open(e, "for (long ib = 0; ib < (long)((%s + 3) / 4); ib++)", M);
  emit_line(e, "uint8_t xb[4][%lld];", (long long)Kp);
  emit_line(e, "int32_t acc[4][64];");
  emit_line(e, "const size_t i0 = (size_t)ib * 4, m = %s - i0 < 4 ? %s - i0 : 4;", M, M);
  if (Kp > K) emit_line(e, "memset(xb, 0, sizeof xb);");
  emit_open(e, "for (size_t r = 0; r < 4; r++)");
  emit_line(e, "const size_t i = r < m ? i0 + r : i0 + m - 1;");
  gather(e, n, ctx);
  emit_close(e);
  emit_open(e, "for (size_t fb = 0; fb < %lld;)", (long long)F16);
  emit_line(e, "const size_t nb = %lld - fb >= 4 ? 4 : %lld - fb >= 2 ? 2 : 1, f0 = fb * 16;", (long long)F16,
            (long long)F16);
  emit_line(e, "const int8_t *wb = %s + fb * %lld;", W, (long long)(16 * Kp));
  emit_line(e, "if (nb == 4) nn2c_q8_tile4(xb[0], %lld, wb, %lld, %lld, acc[0]);", (long long)Kp, (long long)(Kp / 4),
            (long long)(16 * Kp));
  emit_line(e, "else if (nb == 2) nn2c_q8_tile2(xb[0], %lld, wb, %lld, %lld, acc[0]);", (long long)Kp,
            (long long)(Kp / 4), (long long)(16 * Kp));
  emit_line(e, "else nn2c_q8_tile1(xb[0], %lld, wb, %lld, %lld, acc[0]);", (long long)Kp, (long long)(Kp / 4),
            (long long)(16 * Kp));
  emit_line(e, "const size_t fn = %lld - f0 < 16 * nb ? %lld - f0 : 16 * nb;", (long long)F, (long long)F);
  emit_open(e, "for (size_t r = 0; r < m; r++)");
  emit_line(e, "%s *yr = %s + (i0 + r) * %lld + f0;", emit_ctype(y->dtype), emit_ref(e, y), (long long)F);
  if (n->nin > 4)
    emit_line(e,
              "nn2c_q8_requant(acc[r], %s + f0, zxu, %s + f0, %s + f0, %s + f0, %lld, %lld, %lld, (uint8_t *)yr, fn);",
              S, emit_ref(e, n->in[6]), emit_ref(e, n->in[4]), emit_ref(e, n->in[5]),
              (long long)node_int(n, "zero_point", 0), (long long)node_int(n, "lo", y->dtype == DT_U8 ? 0 : -128),
              (long long)node_int(n, "hi", y->dtype == DT_U8 ? 255 : 127));
  else
    emit_line(e, "for (size_t j = 0; j < fn; j++) yr[j] = acc[r][j] - zxu * %s[f0 + j];", S);
  emit_close(e);
  emit_line(e, "fb += nb;");
  emit_close(e);
  emit_close(e);
  emit_close(e);
}

static void gather_row(Emit *e, Node *n, const void *ctx) {
  Value *a = n->in[0];
  int64_t K = *(const int64_t *)ctx;
  emit_line(e, "const %s *ar = %s + i * %lld;", emit_ctype(a->dtype), emit_ref(e, a), (long long)K);
  emit_line(e, "for (size_t p = 0; p < %lld; p++) xb[r][p] = %s;", (long long)K, as_u8(e, a->dtype, "ar[p]"));
}

void matmul_integer_emit_fast(Emit *e, Node *n) {
  Value *a = n->in[0];
  int64_t K = a->shape.d[1], N = n->in[1]->shape.d[1];
  emit_blocked(e, n, emit_dim(e, a, 0), K, N, K * N, gather_row, &K);
}

/* Row i is output pixel i's patch of KH*KW*C unsigned bytes, zxu in the padding. */
static void gather_patch(Emit *e, Node *n, const void *ctx) {
  const Geom *G = ctx;
  Value *x = n->in[0];
  emit_line(e, "const size_t nb = i / %lld, oh = i / %lld %% %lld, ow = i %% %lld;", (long long)(G->oh * G->ow),
            (long long)G->ow, (long long)G->oh, (long long)G->ow);
  emit_open(e, "for (size_t t = 0; t < %lld; t++)", (long long)(G->kh * G->kw));
  emit_line(
      e,
      "const long ih = (long)(oh * %lld + t / %lld * %lld) - %lld, iw = (long)(ow * %lld + t %% %lld * %lld) - %lld;",
      (long long)G->sh, (long long)G->kw, (long long)G->dh, (long long)G->pt, (long long)G->sw, (long long)G->kw,
      (long long)G->dw, (long long)G->pl);
  emit_line(e, "uint8_t *dst = xb[r] + t * %lld;", (long long)G->c);
  emit_open(e, "if (ih < 0 || ih >= %lld || iw < 0 || iw >= %lld)", (long long)G->h, (long long)G->w);
  emit_line(e, "memset(dst, zxu, %lld);", (long long)G->c);
  emit_line(e, "continue;");
  emit_close(e);
  emit_line(e, "const %s *xp = %s + ((nb * %lld + (size_t)ih) * %lld + (size_t)iw) * %lld;", emit_ctype(x->dtype),
            emit_ref(e, x), (long long)G->h, (long long)G->w, (long long)G->c);
  emit_line(e, "for (size_t c = 0; c < %lld; c++) dst[c] = %s;", (long long)G->c, as_u8(e, x->dtype, "xp[c]"));
  emit_close(e);
}

void conv_integer_emit_fast(Emit *e, Node *n, const Geom *G) {
  int64_t L = G->kh * G->kw * G->c;
  const char *M = arena_printf(&e->g->arena, "%s * %lld", emit_dim(e, n->in[0], 0), (long long)(G->oh * G->ow));
  emit_blocked(e, n, M, L, G->f, G->oh * G->ow * L * G->f, gather_patch, G);
}
