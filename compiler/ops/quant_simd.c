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

#include <math.h>
#include <string.h>

#define QTILE_MAX_LEN 8192 /* 4 rows of x on the step's stack: at most 32 KB */

static const char q8_prelude[] =
    "#if !defined(NN2C_NO_SIMD) && defined(__AVX512VNNI__) && defined(__AVX512BW__)\n"
    "#include <immintrin.h>\n#define NN2C_Q8_512 1\n"
    "#if defined(__GNUC__) && !defined(__clang__) /* gcc 12 copies each accumulator of the intrinsic twice per step "
    "*/\n"
    "#define NN2C_DPBUSD(c, a, w) __asm__(\"vpdpbusd %2, %1, %0\" : \"+v\"(c) : \"v\"(a), \"vm\"(w))\n"
    "#else\n#define NN2C_DPBUSD(c, a, w) ((c) = _mm512_dpbusd_epi32((c), (a), (w)))\n#endif\n"
    "#elif !defined(NN2C_NO_SIMD) && defined(__AVX2__)\n"
    "#include <immintrin.h>\n#define NN2C_Q8_256 1\n"
    "#endif\n"
    "#if defined(NN2C_Q8_512) || defined(NN2C_Q8_256)\n#define NN2C_Q8_REAL double /* the vectors' exact multipliers "
    "*/\n"
    "#else\n#define NN2C_Q8_REAL float /* unused: the portable path requantizes in int64 */\n#endif\n"
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
    " * (int8 or uint8), rounded half to even. The vectors compute (acc[j] + b2[j]) m[j] in double, with\n"
    " * b2 = bias - zxu S and m = mult 2^-shift: qdq_fold fuses only where the product has at most 53\n"
    " * significant bits (quant_requant_exact), so it is exact, and so is its rounding. */\n"
    "static NN2C_MAYBE_UNUSED void nn2c_q8_requant(const int32_t *acc, size_t rows, const int32_t *S, int32_t zxu,\n"
    "                                              const int32_t *bias, const int32_t *mult, const int32_t *shift,\n"
    "                                              const int32_t *b2, const NN2C_Q8_REAL *m, int32_t zp, int32_t lo,\n"
    "                                              int32_t hi, uint8_t *y, size_t ys, size_t n) {\n"
    "  size_t j = 0, r; /* rows of acc 64 apart, of y ys apart; per channel chunk, its constants once */\n"
    "#if defined(NN2C_Q8_512)\n"
    "  const __m512d dlo = _mm512_set1_pd(lo - zp), dhi = _mm512_set1_pd(hi - zp);\n"
    "  for (; j + 16 <= n; j += 16) {\n"
    "    const __m512i bv = _mm512_loadu_si512(b2 + j);\n"
    "    const __m512d m0 = _mm512_loadu_pd(m + j), m1 = _mm512_loadu_pd(m + j + 8);\n"
    "    for (r = 0; r < rows; r++) {\n"
    "      const __m512i v = _mm512_add_epi32(_mm512_loadu_si512(acc + r * 64 + j), bv);\n"
    "      __m512d d0 = _mm512_mul_pd(_mm512_cvtepi32_pd(_mm512_castsi512_si256(v)), m0);\n"
    "      __m512d d1 = _mm512_mul_pd(_mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(v, 1)), m1);\n"
    "      d0 = _mm512_min_pd(_mm512_max_pd(d0, dlo), dhi); /* integer bounds: clamp, then round */\n"
    "      d1 = _mm512_min_pd(_mm512_max_pd(d1, dlo), dhi);\n"
    "      const __m512i q = _mm512_inserti64x4(\n"
    "          _mm512_castsi256_si512(_mm512_cvt_roundpd_epi32(d0, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)),\n"
    "          _mm512_cvt_roundpd_epi32(d1, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), 1);\n"
    "      _mm_storeu_si128((__m128i *)(y + r * ys + j), _mm512_cvtepi32_epi8(_mm512_add_epi32(q, "
    "_mm512_set1_epi32(zp))));\n"
    "    }\n"
    "  }\n"
    "#elif defined(NN2C_Q8_256)\n"
    "  const __m256d dlo = _mm256_set1_pd(lo - zp), dhi = _mm256_set1_pd(hi - zp);\n"
    "  const __m128i low_bytes = _mm_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);\n"
    "  for (; j + 4 <= n; j += 4) {\n"
    "    const __m128i bv = _mm_loadu_si128((const __m128i *)(b2 + j));\n"
    "    const __m256d mv = _mm256_loadu_pd(m + j);\n"
    "    for (r = 0; r < rows; r++) {\n"
    "      const __m128i v = _mm_add_epi32(_mm_loadu_si128((const __m128i *)(acc + r * 64 + j)), bv);\n"
    "      __m256d d = _mm256_mul_pd(_mm256_cvtepi32_pd(v), mv);\n"
    "      d = _mm256_min_pd(_mm256_max_pd(_mm256_round_pd(d, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), dlo), "
    "dhi);\n"
    "      const int32_t q = _mm_cvtsi128_si32(_mm_shuffle_epi8(_mm_add_epi32(_mm256_cvtpd_epi32(d), "
    "_mm_set1_epi32(zp)), low_bytes));\n"
    "      memcpy(y + r * ys + j, &q, 4);\n"
    "    }\n"
    "  }\n"
    "#endif\n"
    "  (void)b2, (void)m;\n"
    "  for (; j < n; j++)\n"
    "    for (r = 0; r < rows; r++) {\n"
    "      const int64_t v = nn2c_round_shift((int64_t)(acc[r * 64 + j] - zxu * S[j] + bias[j]) * mult[j], shift[j]) + "
    "zp;\n"
    "      y[r * ys + j] = (uint8_t)(v < lo ? lo : v > hi ? hi : v);\n"
    "    }\n"
    "}\n";

/* "pre" + the statement fmt once per (r, b), r < 4, b < nb: fmt takes up to four pairs r, b. */
static void tile_each(Buf *h, const char *pre, int nb, const char *fmt) {
  for (int r = 0; r < 4; r++)
    for (int b = 0; b < nb; b++) {
      buf_puts(h, pre);
      buf_printf(h, fmt, r, b, r, b, r, b, r, b);
    }
}

/* nn2c_q8_tile<nb>: out[r * 64 + j] = sum_k a[r * ka + k] w(k, j) for 4 rows r
 * and 16 nb channels j, the weights packed (blocks of 16 channels wb bytes
 * apart). The accumulators are named variables, written out per row and
 * block, so they stay in registers (arrays of vectors made gcc 12 copy all
 * of them every iteration). */
static void emit_tile(Buf *h, int nb) {
  buf_printf(h,
             "/* out[r][j] = sum of a[r ka + k] w(k, j), k < 4 k4, r < 4, j < %d: a unsigned, w signed (packed) */\n"
             "static void nn2c_q8_tile%d(const uint8_t *a, size_t ka, const int8_t *w, size_t k4, size_t wb, "
             "int32_t *out) {\n  size_t k;\n#if defined(NN2C_Q8_512)\n",
             16 * nb, nb);
  tile_each(h, "  ", nb, "__m512i c%d_%d = _mm512_setzero_si512();\n");
  buf_puts(h, "  for (k = 0; k < k4; k++) {\n    int32_t a4[4];\n");
  for (int b = 0; b < nb; b++)
    buf_printf(h, "    const __m512i w%d = _mm512_loadu_si512(w + %d * wb + k * 64);\n", b, b);
  for (int r = 0; r < 4; r++)
    buf_printf(h, "    memcpy(&a4[%d], a + %d * ka + k * 4, 4);\n", r, r);
  buf_puts(h, "    const __m512i av0 = _mm512_set1_epi32(a4[0]), av1 = _mm512_set1_epi32(a4[1]),\n"
              "                  av2 = _mm512_set1_epi32(a4[2]), av3 = _mm512_set1_epi32(a4[3]);\n");
  for (int r = 0; r < 4; r++)
    for (int b = 0; b < nb; b++)
      buf_printf(h, "    NN2C_DPBUSD(c%d_%d, av%d, w%d);\n", r, b, r, b);
  buf_puts(h, "  }\n");
  tile_each(h, "  ", nb, "_mm512_storeu_si512(out + %d * 64 + %d * 16, c%d_%d);\n");
  buf_printf(h,
             "#elif defined(NN2C_Q8_256) /* 16 ymm registers: one block of 16 channels at a time */\n"
             "  int b;\n  for (b = 0; b < %d; b++) {\n",
             nb);
  tile_each(h, "    ", 2, "__m256i c%d_%d = _mm256_setzero_si256();\n");
  buf_puts(h, "    for (k = 0; k < k4; k++) {\n      int32_t a4[4];\n"
              "      const __m256i w0 = _mm256_loadu_si256((const __m256i *)(w + b * wb + k * 64)),\n"
              "                    w1 = _mm256_loadu_si256((const __m256i *)(w + b * wb + k * 64 + 32));\n");
  for (int r = 0; r < 4; r++)
    buf_printf(h, "      memcpy(&a4[%d], a + %d * ka + k * 4, 4);\n", r, r);
  buf_puts(h, "#if defined(__AVXVNNI__)\n");
  tile_each(h, "      ", 2, "c%d_%d = _mm256_dpbusd_avx_epi32(c%d_%d, _mm256_set1_epi32(a4[%d]), w%d);\n");
  buf_puts(h,
           "#else /* bytes 0, 2 and 1, 3 of each lane as int16: two exact vpmaddwd */\n"
           "      const __m256i e0 = _mm256_srai_epi16(_mm256_slli_epi16(w0, 8), 8), o0 = _mm256_srai_epi16(w0, 8),\n"
           "                    e1 = _mm256_srai_epi16(_mm256_slli_epi16(w1, 8), 8), o1 = _mm256_srai_epi16(w1, 8);\n");
  for (int r = 0; r < 4; r++)
    buf_printf(h,
               "      const __m256i a%d = _mm256_set1_epi32(a4[%d]), ae%d = _mm256_and_si256(a%d, "
               "_mm256_set1_epi16(0xff)), ao%d = _mm256_srli_epi16(a%d, 8);\n",
               r, r, r, r, r, r);
  tile_each(h, "      ", 2,
            "c%d_%d = _mm256_add_epi32(c%d_%d, _mm256_add_epi32(_mm256_madd_epi16(ae%d, e%d), "
            "_mm256_madd_epi16(ao%d, o%d)));\n");
  buf_puts(h, "#endif\n    }\n");
  tile_each(h, "    ", 2, "_mm256_storeu_si256((__m256i *)(out + %d * 64 + b * 16 + %d * 8), c%d_%d);\n");
  buf_printf(
      h, "  }\n#else\n  int r, b, j;\n  for (r = 0; r < 4; r++)\n    for (j = 0; j < %d; j++) out[r * 64 + j] = 0;\n",
      16 * nb);
  /* Cortex-M's DSP extension (CMSIS-NN's way): SMLAD adds two exact 16-bit products, so the four
   * bytes of a packed word go as bytes 0, 2 and 1, 3, widened by UXTB16 / SXTB16 */
  buf_printf(
      h,
      "#if defined(__ARM_FEATURE_DSP) && defined(__ARM_FEATURE_SIMD32) && defined(__GNUC__) && "
      "!defined(NN2C_NO_DSP)\n"
      "  uint32_t ae[4], ao[4];\n  for (k = 0; k < k4; k++) {\n    for (r = 0; r < 4; r++) {\n"
      "      uint32_t a4;\n      memcpy(&a4, a + r * ka + k * 4, 4);\n"
      "      ae[r] = __builtin_arm_uxtb16(a4), ao[r] = __builtin_arm_uxtb16(a4 >> 8);\n    }\n"
      "    for (b = 0; b < %d; b++)\n      for (j = 0; j < 16; j++) {\n        uint32_t w4;\n"
      "        memcpy(&w4, w + b * wb + k * 64 + j * 4, 4);\n"
      "        const int32_t we = __builtin_arm_sxtb16((int32_t)w4), wo = __builtin_arm_sxtb16((int32_t)(w4 >> 8));\n"
      "        int32_t *o = out + b * 16 + j;\n        for (r = 0; r < 4; r++)\n"
      "          o[r * 64] = __builtin_arm_smlad((int32_t)ao[r], wo, __builtin_arm_smlad((int32_t)ae[r], we, "
      "o[r * 64]));\n"
      "      }\n  }\n#else\n  int q;\n"
      "  for (k = 0; k < k4; k++)\n    for (r = 0; r < 4; r++)\n      for (q = 0; q < 4; q++) {\n"
      "        const int32_t av = a[r * ka + k * 4 + q];\n        for (b = 0; b < %d; b++)\n"
      "          for (j = 0; j < 16; j++) out[r * 64 + b * 16 + j] += av * w[b * wb + k * 64 + j * 4 + q];\n"
      "      }\n#endif\n#endif\n}\n",
      nb, nb);
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

bool quant_requant_exact(int64_t L, int32_t mult, int32_t bias) {
  double vmax = 255.0 * 128.0 * (double)L + fabs((double)bias); /* |sum of (x - zx) w| + |bias| */
  int bits = 0, tz = 0;
  while (bits < 40 && ldexp(1.0, bits) <= vmax)
    bits++;
  while (tz < 31 && mult && !(mult >> tz & 1))
    tz++;
  return mult > 0 && vmax + 255.0 * 128.0 * (double)L < 2147483647.0 && bits + (31 - tz) <= 53;
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

static double const_at(Value *v, int64_t i) {
  Tensor t = {v->dtype, v->shape, shape_numel_static(v->shape), v->data};
  return tensor_get(&t, t.numel > 1 ? i : 0);
}

/* A fused node's vector epilogue constants among the helpers, and the arguments that read them (from
 * channel f0): b2[f] = bias[f] - zxu S[f] (int32) and m[f] = mult[f] 2^-shift[f] (double, exact: "%a"). */
static void emit_requant_consts(Emit *e, Node *n, int64_t L, int64_t F, const char **b2, const char **m) {
  Value *w = n->in[1];
  if (node_int(n, "mcu", 0)) { /* a microcontroller has only the portable path, which reads neither */
    *b2 = *m = "NULL";
    return;
  }
  const char *b2name = arena_printf(&e->g->arena, "nn2c_q8b_%s", n->out[0]->name);
  const char *mname = arena_printf(&e->g->arena, "nn2c_q8m_%s", n->out[0]->name);
  *b2 = arena_printf(&e->g->arena, "%s + f0", b2name), *m = arena_printf(&e->g->arena, "%s + f0", mname);
  if (!e->helpers || strstr(e->helpers->data, b2name)) return;
  int64_t zxu = (int64_t)const_at(n->in[2], 0) + (n->in[0]->dtype == DT_I8 ? 128 : 0);
  buf_printf(e->helpers, "static const int32_t %s[%lld] = {", b2name, (long long)F);
  for (int64_t f = 0; f < F; f++) {
    int64_t S = 0;
    for (int64_t l = 0; l < L; l++)
      S += (int64_t)const_at(w, l * F + f);
    buf_printf(e->helpers, "%s%lld", f ? ", " : "", (long long)((int64_t)const_at(n->in[6], f) - zxu * S));
  }
  buf_printf(e->helpers, "};\nstatic const NN2C_Q8_REAL %s[%lld] = {", mname, (long long)F);
  for (int64_t f = 0; f < F; f++)
    buf_printf(e->helpers, "%s%a", f ? ", " : "", ldexp(const_at(n->in[4], f), -(int)const_at(n->in[5], f)));
  buf_puts(e->helpers, "};\n");
}

typedef struct {
  const char *M, *W, *S, *B2, *M2; /* rows (an expression), packed weights, sums, fused constants */
  int64_t K, F, work;
  void (*gather)(Emit *e, Node *n, const void *ctx);
  const void *ctx;
} Blocked;

/* The loop over blocks of 4 rows; par: under NN2C_PARALLEL_FOR_DYN. */
static void emit_block_loop(Emit *e, Node *n, const Blocked *k, bool par) {
  Value *y = n->out[0];
  int64_t Kp = up(k->K, 4), F16 = up(k->F, 16) / 16, F = k->F;
  if (par)
    emit_line(e, "NN2C_PARALLEL_FOR_DYN(%s%lldu, (%s + 3) / 4)", shape_has_batch(n->in[0]->shape) ? "B * " : "",
              (long long)k->work, k->M);
  emit_open(e, "for (long ib = 0; ib < (long)((%s + 3) / 4); ib++)", k->M);
  emit_line(e, "uint8_t xb[4][%lld];", (long long)Kp);
  emit_line(e, "int32_t acc[4][64];");
  emit_line(e, "const size_t i0 = (size_t)ib * 4, m = %s - i0 < 4 ? %s - i0 : 4;", k->M, k->M);
  if (Kp > k->K) emit_line(e, "memset(xb, 0, sizeof xb);");
  k->gather(e, n, k->ctx);
  emit_open(e, "for (size_t fb = 0; fb < %lld;)", (long long)F16);
  emit_line(e, "const size_t nb = %lld - fb >= 4 ? 4 : %lld - fb >= 2 ? 2 : 1, f0 = fb * 16;", (long long)F16,
            (long long)F16);
  emit_line(e, "const int8_t *wb = %s + fb * %lld;", k->W, (long long)(16 * Kp));
  for (int nb = 4; nb >= 1; nb /= 2)
    emit_line(e, "%s%s nn2c_q8_tile%d(xb[0], %lld, wb, %lld, %lld, acc[0]);", nb < 4 ? "else" : "",
              nb > 1 ? arena_printf(&e->g->arena, "%sif (nb == %d)", nb < 4 ? " " : "", nb) : "", nb, (long long)Kp,
              (long long)(Kp / 4), (long long)(16 * Kp));
  emit_line(e, "const size_t fn = %lld - f0 < 16 * nb ? %lld - f0 : 16 * nb;", (long long)F, (long long)F);
  emit_line(e, "%s *yr = %s + i0 * %lld + f0;", emit_ctype(y->dtype), emit_ref(e, y), (long long)F);
  if (n->nin > 4)
    emit_line(e,
              "nn2c_q8_requant(acc[0], m, %s + f0, zxu, %s + f0, %s + f0, %s + f0, %s, %s, %lld, %lld, "
              "%lld, (uint8_t *)yr, %lld, fn);",
              k->S, emit_ref(e, n->in[6]), emit_ref(e, n->in[4]), emit_ref(e, n->in[5]), k->B2, k->M2,
              (long long)node_int(n, "zero_point", 0), (long long)node_int(n, "lo", y->dtype == DT_U8 ? 0 : -128),
              (long long)node_int(n, "hi", y->dtype == DT_U8 ? 255 : 127), (long long)F);
  else {
    emit_open(e, "for (size_t r = 0; r < m; r++)");
    emit_line(e, "for (size_t j = 0; j < fn; j++) yr[r * %lld + j] = acc[r][j] - zxu * %s[f0 + j];", (long long)F,
              k->S);
    emit_close(e);
  }
  emit_line(e, "fb += nb;");
  emit_close(e);
  emit_close(e);
}

/* The blocked product over M rows (an expression), K terms and F channels;
 * `gather` fills xb[r] (Kp bytes, r < 4) with the unsigned row of row
 * index i0 + r (a row past M repeats row M - 1: emit_rows). With OpenMP the
 * loop is written twice, the parallel one taken for nt > 1 only: entering a
 * parallel region costs about a microsecond even when its if() is false,
 * 11% of mnist_cnn's int8 time at batch 1 (the float kernels' _1t copies). */
static void emit_blocked(Emit *e, Node *n, const char *M, int64_t K, int64_t F, int64_t work,
                         void (*gather)(Emit *e, Node *n, const void *ctx), const void *ctx) {
  Blocked k = {M, NULL, NULL, NULL, NULL, K, F, work, gather, ctx};
  emit_packed(e, n, K, F, &k.W, &k.S);
  if (n->nin > 4) emit_requant_consts(e, n, K, F, &k.B2, &k.M2);
  emit_scope_open(e);
  const char *z = n->nin > 2 ? arena_printf(&e->g->arena, "(int32_t)%s[0]", emit_ref(e, n->in[2])) : "0";
  emit_line(e, "const int32_t zxu = %s%s;", z, n->in[0]->dtype == DT_I8 ? " + 128" : "");
  emit_line(e, "#if defined(_OPENMP)");
  emit_open(e, "if (nt > 1)");
  emit_block_loop(e, n, &k, true);
  emit_close(e);
  emit_line(e, "else");
  emit_line(e, "#endif");
  emit_block_loop(e, n, &k, false);
  emit_close(e);
}

/* The loop over the block's rows r < 4, with i the row's index. */
static void emit_rows(Emit *e) {
  emit_open(e, "for (size_t r = 0; r < 4; r++)");
  emit_line(e, "const size_t i = r < m ? i0 + r : i0 + m - 1;");
}

static void gather_row(Emit *e, Node *n, const void *ctx) {
  Value *a = n->in[0];
  int64_t K = *(const int64_t *)ctx;
  emit_rows(e);
  emit_line(e, "const %s *ar = %s + i * %lld;", emit_ctype(a->dtype), emit_ref(e, a), (long long)K);
  emit_line(e, "for (size_t p = 0; p < %lld; p++) xb[r][p] = %s;", (long long)K, as_u8(e, a->dtype, "ar[p]"));
  emit_close(e);
}

void matmul_integer_emit_fast(Emit *e, Node *n) {
  Value *a = n->in[0];
  int64_t K = a->shape.d[1], N = n->in[1]->shape.d[1];
  emit_blocked(e, n, emit_dim(e, a, 0), K, N, K * N, gather_row, &K);
}

/* Four pixels side by side in one output row, none of their taps left or
 * right of x (dilation 1): the block's index arithmetic once, then per kernel
 * row one check and four contiguous runs of KW*C bytes. */
static void gather_block(Emit *e, Node *n, const Geom *G) {
  Value *x = n->in[0];
  long long KC = G->kw * G->c;
  emit_line(e, "const size_t nb0 = i0 / %lld, oh0 = i0 / %lld %% %lld, ow0 = i0 %% %lld;", (long long)(G->oh * G->ow),
            (long long)G->ow, (long long)G->oh, (long long)G->ow);
  emit_open(e, "if (m == 4 && ow0 + 3 < %lld && (long)(ow0 * %lld) >= %lld && (ow0 + 3) * %lld + %lld <= %lld)",
            (long long)G->ow, (long long)G->sw, (long long)G->pl, (long long)G->sw, (long long)(G->kw - G->pl),
            (long long)G->w);
  emit_open(e, "for (size_t kh = 0; kh < %lld; kh++)", (long long)G->kh);
  emit_line(e, "const long ih = (long)(oh0 * %lld + kh * %lld) - %lld;", (long long)G->sh, (long long)G->dh,
            (long long)G->pt);
  emit_open(e, "for (size_t r = 0; r < 4; r++)");
  emit_line(e, "uint8_t *dst = xb[r] + kh * %lld;", KC);
  emit_open(e, "if (ih < 0 || ih >= %lld)", (long long)G->h);
  emit_line(e, "memset(dst, zxu, %lld);", KC);
  emit_line(e, "continue;");
  emit_close(e);
  emit_line(e, "const %s *xp = %s + ((nb0 * %lld + (size_t)ih) * %lld + (ow0 + r) * %lld - %lld) * %lld;",
            emit_ctype(x->dtype), emit_ref(e, x), (long long)G->h, (long long)G->w, (long long)G->sw, (long long)G->pl,
            (long long)G->c);
  emit_line(e, "for (size_t p = 0; p < %lld; p++) dst[p] = %s;", KC, as_u8(e, x->dtype, "xp[p]"));
  emit_close(e);
  emit_close(e);
  emit_close(e);
  emit_line(e, "else");
}

/* Row i is output pixel i's patch of KH*KW*C unsigned bytes, zxu in the padding:
 * per kernel row, its KW*C bytes are contiguous in x (dilation 1) unless the
 * patch crosses the left or right edge, where each tap is checked. */
static void gather_patch(Emit *e, Node *n, const void *ctx) {
  const Geom *G = ctx;
  Value *x = n->in[0];
  long long KC = G->kw * G->c, C = G->c;
  if (G->dw == 1) gather_block(e, n, G);
  emit_rows(e);
  emit_line(e, "const size_t nb = i / %lld, oh = i / %lld %% %lld, ow = i %% %lld;", (long long)(G->oh * G->ow),
            (long long)G->ow, (long long)G->oh, (long long)G->ow);
  emit_line(e, "const long iw0 = (long)(ow * %lld) - %lld;", (long long)G->sw, (long long)G->pl);
  emit_open(e, "for (size_t kh = 0; kh < %lld; kh++)", (long long)G->kh);
  emit_line(e, "const long ih = (long)(oh * %lld + kh * %lld) - %lld;", (long long)G->sh, (long long)G->dh,
            (long long)G->pt);
  emit_line(e, "uint8_t *dst = xb[r] + kh * %lld;", KC);
  emit_open(e, "if (ih < 0 || ih >= %lld)", (long long)G->h);
  emit_line(e, "memset(dst, zxu, %lld);", KC);
  emit_line(e, "continue;");
  emit_close(e);
  emit_line(e, "const %s *xr = %s + (nb * %lld + (size_t)ih) * %lld;", emit_ctype(x->dtype), emit_ref(e, x),
            (long long)G->h, (long long)(G->w * G->c));
  if (G->dw == 1) {
    emit_open(e, "if (iw0 >= 0 && iw0 + %lld <= %lld)", (long long)G->kw, (long long)G->w);
    emit_line(e, "const %s *xp = xr + (size_t)iw0 * %lld;", emit_ctype(x->dtype), C);
    emit_line(e, "for (size_t p = 0; p < %lld; p++) dst[p] = %s;", KC, as_u8(e, x->dtype, "xp[p]"));
    emit_line(e, "continue;");
    emit_close(e);
  }
  emit_open(e, "for (size_t kw = 0; kw < %lld; kw++)", (long long)G->kw);
  emit_line(e, "const long iw = iw0 + (long)(kw * %lld);", (long long)G->dw);
  emit_line(e, "if (iw < 0 || iw >= %lld) memset(dst + kw * %lld, zxu, %lld);", (long long)G->w, C, C);
  emit_line(e, "else for (size_t c = 0; c < %lld; c++) dst[kw * %lld + c] = %s;", C, C,
            as_u8(e, x->dtype, arena_printf(&e->g->arena, "xr[(size_t)iw * %lld + c]", C)));
  emit_close(e);
  emit_close(e);
  emit_close(e);
}

void conv_integer_emit_fast(Emit *e, Node *n, const Geom *G) {
  int64_t L = G->kh * G->kw * G->c;
  const char *M = arena_printf(&e->g->arena, "%s * %lld", emit_dim(e, n->in[0], 0), (long long)(G->oh * G->ow));
  emit_blocked(e, n, M, L, G->f, G->oh * G->ow * L * G->f, gather_patch, G);
}

/* The weights the tile path packs: sums of L terms into F channels, or false. */
static bool tile_geometry(const Node *n, int64_t *L, int64_t *F) {
  if (n->op != OP_CONV_INTEGER && n->op != OP_MATMUL_INTEGER) return false;
  Shape ws = n->in[1]->shape;
  *L = n->op == OP_CONV_INTEGER ? ws.d[0] * ws.d[1] * ws.d[2] : ws.d[0], *F = ws.d[ws.rank - 1];
  return n->nin > 4 || quant_fast_ok(n, *L);
}

int64_t quant_code_bytes(Graph *g) {
  unsigned char *seen = xcalloc((size_t)g->nvalues, 1);
  int64_t bytes = 0, L, F;
  bool any = false;
  for (int i = 0; i < g->nnodes; i++) {
    Node *n = g->nodes[i];
    bool tile = tile_geometry(n, &L, &F);
    any = any || tile;
    if (tile) /* packed weights, column sums; fused: b2 and m */
      bytes += up(L, 4) * up(F, 16) + 4 * F + (n->nin > 4 ? 12 * F : 0);
    for (int k = 0; k < n->nin; k++) {
      Value *v = n->in[k];
      if (v->kind != VK_CONST || seen[v->id] || (tile && (k == 1 || k == 3))) continue;
      seen[v->id] = 1;
      bytes += shape_numel_static(v->shape) * dtype_size(v->dtype);
    }
  }
  free(seen);
  return any ? bytes : 0;
}
