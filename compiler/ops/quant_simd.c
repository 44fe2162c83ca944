/* quant_simd.c - the emitted int8 kernels' fast path (docs/int8.md).
 *
 * matmul_integer and conv_integer with constant int8 weights (zero point 0,
 * one group) run as dot products: per output, the unsigned row of x (a
 * signed x is flipped to x + 128, its zero point likewise) against the
 * output channel's weights, stored transposed as a constant next to the
 * kernel with their column sums S[f]; sum (x - zx) w = dot(xu, w) - zxu S[f].
 * Padding taps read zxu, so they add nothing. nn2c_qdot is exact in int32
 * on every path, so the results equal the interpreter's bit for bit:
 *   AVX-512 VNNI  vpdpbusd (u8 x s8, 4 products per lane, no saturation)
 *   AVX-VNNI      the same on 256-bit vectors
 *   AVX2          u8 and s8 widened to int16, vpmaddwd (pairs into int32)
 *   AArch64 dot   x flipped to signed, sdot, plus 128 times the sum of w
 *   otherwise     a plain loop (also with -DNN2C_NO_SIMD).
 * The row (or patch) lives on the step's stack: at most QDOT_MAX_LEN bytes. */
#include "quant.h"

#include <string.h>

#define QDOT_MAX_LEN 4096
/* Shorter sums (a 3x3 kernel over one channel) take the portable loops, whose
 * loop over the output channels vectorizes better than dot products that end
 * in reductions. */
#define QDOT_MIN_LEN 32

static const char qdot_helper[] =
    "/* nn2c_qdot: sum of a[p] b[p], p < n, a unsigned and b signed bytes; exact in int32 */\n"
    "#if !defined(NN2C_NO_SIMD) && defined(__AVX512VNNI__) && defined(__AVX512BW__)\n"
    "#include <immintrin.h>\n"
    "static NN2C_MAYBE_UNUSED int32_t nn2c_qdot(const uint8_t *a, const int8_t *b, size_t n) {\n"
    "  __m512i acc = _mm512_setzero_si512();\n"
    "  size_t p = 0;\n"
    "  for (; p + 64 <= n; p += 64)\n"
    "    acc = _mm512_dpbusd_epi32(acc, _mm512_loadu_si512(a + p), _mm512_loadu_si512(b + p));\n"
    "  if (p < n) {\n"
    "    const __mmask64 m = ~(__mmask64)0 >> (64 - (n - p));\n"
    "    acc = _mm512_dpbusd_epi32(acc, _mm512_maskz_loadu_epi8(m, a + p), _mm512_maskz_loadu_epi8(m, b + p));\n"
    "  }\n"
    "  return _mm512_reduce_add_epi32(acc);\n"
    "}\n"
    "/* nn2c_qdot4: the same for four rows of b, n apart, into out[0..3] (loads of a shared) */\n"
    "static NN2C_MAYBE_UNUSED void nn2c_qdot4(const uint8_t *a, const int8_t *b, size_t n, int32_t *out) {\n"
    "  __m512i c0 = _mm512_setzero_si512(), c1 = c0, c2 = c0, c3 = c0;\n"
    "  size_t p = 0;\n"
    "  for (; p + 64 <= n; p += 64) {\n"
    "    const __m512i av = _mm512_loadu_si512(a + p);\n"
    "    c0 = _mm512_dpbusd_epi32(c0, av, _mm512_loadu_si512(b + p));\n"
    "    c1 = _mm512_dpbusd_epi32(c1, av, _mm512_loadu_si512(b + n + p));\n"
    "    c2 = _mm512_dpbusd_epi32(c2, av, _mm512_loadu_si512(b + 2 * n + p));\n"
    "    c3 = _mm512_dpbusd_epi32(c3, av, _mm512_loadu_si512(b + 3 * n + p));\n"
    "  }\n"
    "  if (p < n) {\n"
    "    const __mmask64 m = ~(__mmask64)0 >> (64 - (n - p));\n"
    "    const __m512i av = _mm512_maskz_loadu_epi8(m, a + p);\n"
    "    c0 = _mm512_dpbusd_epi32(c0, av, _mm512_maskz_loadu_epi8(m, b + p));\n"
    "    c1 = _mm512_dpbusd_epi32(c1, av, _mm512_maskz_loadu_epi8(m, b + n + p));\n"
    "    c2 = _mm512_dpbusd_epi32(c2, av, _mm512_maskz_loadu_epi8(m, b + 2 * n + p));\n"
    "    c3 = _mm512_dpbusd_epi32(c3, av, _mm512_maskz_loadu_epi8(m, b + 3 * n + p));\n"
    "  }\n"
    "  out[0] = _mm512_reduce_add_epi32(c0), out[1] = _mm512_reduce_add_epi32(c1);\n"
    "  out[2] = _mm512_reduce_add_epi32(c2), out[3] = _mm512_reduce_add_epi32(c3);\n"
    "}\n"
    "#elif !defined(NN2C_NO_SIMD) && (defined(__AVXVNNI__) || defined(__AVX2__))\n"
    "#include <immintrin.h>\n"
    "static NN2C_MAYBE_UNUSED int32_t nn2c_qdot(const uint8_t *a, const int8_t *b, size_t n) {\n"
    "  __m256i acc = _mm256_setzero_si256();\n"
    "  size_t p = 0;\n"
    "#ifdef __AVXVNNI__\n"
    "  for (; p + 32 <= n; p += 32)\n"
    "    acc = _mm256_dpbusd_avx_epi32(acc, _mm256_loadu_si256((const __m256i *)(a + p)),\n"
    "                                  _mm256_loadu_si256((const __m256i *)(b + p)));\n"
    "#endif\n"
    "  for (; p + 16 <= n; p += 16) {\n"
    "    const __m256i a16 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(a + p)));\n"
    "    const __m256i b16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b + p)));\n"
    "    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(a16, b16));\n"
    "  }\n"
    "  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));\n"
    "  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));\n"
    "  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));\n"
    "  int32_t r = _mm_cvtsi128_si32(s);\n"
    "  for (; p < n; p++) r += (int32_t)a[p] * b[p];\n"
    "  return r;\n"
    "}\n"
    "static int32_t nn2c_hsum8(__m256i v) {\n"
    "  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));\n"
    "  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));\n"
    "  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));\n"
    "  return _mm_cvtsi128_si32(s);\n"
    "}\n"
    "static NN2C_MAYBE_UNUSED void nn2c_qdot4(const uint8_t *a, const int8_t *b, size_t n, int32_t *out) {\n"
    "  __m256i c[4];\n"
    "  size_t p = 0, k;\n"
    "  for (k = 0; k < 4; k++) c[k] = _mm256_setzero_si256();\n"
    "#ifdef __AVXVNNI__\n"
    "  for (; p + 32 <= n; p += 32) {\n"
    "    const __m256i av = _mm256_loadu_si256((const __m256i *)(a + p));\n"
    "    for (k = 0; k < 4; k++)\n"
    "      c[k] = _mm256_dpbusd_avx_epi32(c[k], av, _mm256_loadu_si256((const __m256i *)(b + k * n + p)));\n"
    "  }\n"
    "#endif\n"
    "  for (; p + 16 <= n; p += 16) {\n"
    "    const __m256i a16 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(a + p)));\n"
    "    for (k = 0; k < 4; k++)\n"
    "      c[k] = _mm256_add_epi32(c[k], _mm256_madd_epi16(a16, _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i "
    "*)(b + k * n + p)))));\n"
    "  }\n"
    "  for (k = 0; k < 4; k++) {\n"
    "    size_t q;\n"
    "    out[k] = nn2c_hsum8(c[k]);\n"
    "    for (q = p; q < n; q++) out[k] += (int32_t)a[q] * b[k * n + q];\n"
    "  }\n"
    "}\n"
    "#elif !defined(NN2C_NO_SIMD) && defined(__aarch64__) && defined(__ARM_FEATURE_DOTPROD)\n"
    "#include <arm_neon.h>\n"
    "static NN2C_MAYBE_UNUSED int32_t nn2c_qdot(const uint8_t *a, const int8_t *b, size_t n) {\n"
    "  int32x4_t acc = vdupq_n_s32(0), wsum = vdupq_n_s32(0);\n"
    "  const int8x16_t ones = vdupq_n_s8(1);\n"
    "  size_t p = 0;\n"
    "  for (; p + 16 <= n; p += 16) {\n"
    "    const int8x16_t av = vreinterpretq_s8_u8(veorq_u8(vld1q_u8(a + p), vdupq_n_u8(0x80))), bv = vld1q_s8(b + p);\n"
    "    acc = vdotq_s32(acc, av, bv);\n"
    "    wsum = vdotq_s32(wsum, ones, bv);\n"
    "  }\n"
    "  int32_t r = vaddvq_s32(acc) + 128 * vaddvq_s32(wsum);\n"
    "  for (; p < n; p++) r += (int32_t)a[p] * b[p];\n"
    "  return r;\n"
    "}\n"
    "#define NN2C_QDOT4_BY_ROWS /* four nn2c_qdot calls, below */\n"
    "#else\n"
    "static NN2C_MAYBE_UNUSED int32_t nn2c_qdot(const uint8_t *a, const int8_t *b, size_t n) {\n"
    "  int32_t r = 0;\n"
    "  size_t p;\n"
    "  for (p = 0; p < n; p++) r += (int32_t)a[p] * b[p];\n"
    "  return r;\n"
    "}\n"
    "#define NN2C_QDOT4_BY_ROWS\n"
    "#endif\n"
    "#ifdef NN2C_QDOT4_BY_ROWS\n"
    "static NN2C_MAYBE_UNUSED void nn2c_qdot4(const uint8_t *a, const int8_t *b, size_t n, int32_t *out) {\n"
    "  size_t k;\n"
    "  for (k = 0; k < 4; k++) out[k] = nn2c_qdot(a, b + k * n, n);\n"
    "}\n"
    "#endif\n";

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
         len >= QDOT_MIN_LEN && len <= QDOT_MAX_LEN && node_int(n, "groups", 1) == 1;
}

/* The weights as W[f][l] = w[l * F + f] (w is [L, F] row-major) and their
 * column sums, as static constants among the helpers; their names. */
static void emit_packed(Emit *e, Node *n, int64_t L, int64_t F, const char **wn, const char **sn) {
  Value *w = n->in[1];
  Tensor t = {w->dtype, w->shape, L * F, w->data};
  *wn = arena_printf(&e->g->arena, "nn2c_q8w_%s", n->out[0]->name);
  *sn = arena_printf(&e->g->arena, "nn2c_q8s_%s", n->out[0]->name);
  if (!e->helpers || (e->helpers->data && strstr(e->helpers->data, *wn))) return;
  if (!e->helpers->data || !strstr(e->helpers->data, "nn2c_qdot(const")) buf_puts(e->helpers, qdot_helper);
  buf_printf(e->helpers, "static const int8_t %s[%lld] = {", *wn, (long long)(L * F));
  for (int64_t f = 0; f < F; f++)
    for (int64_t l = 0; l < L; l++)
      buf_printf(e->helpers, "%s%d", f || l ? (l % 32 ? ", " : ",\n  ") : "\n  ", (int)tensor_get(&t, l * F + f));
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

/* zxu: x's zero point as an unsigned byte (the flipped one for signed x). */
static void emit_zxu(Emit *e, Node *n) {
  DType t = n->in[0]->dtype;
  const char *z = n->nin > 2 ? arena_printf(&e->g->arena, "(int32_t)%s[0]", emit_ref(e, n->in[2])) : "0";
  emit_line(e, "const int32_t zxu = %s%s;", z, t == DT_I8 ? " + 128" : "");
}

/* yr[j] = dot(src, W[j]) - zxu S[j] for j < F: four channels per pass over src, then the rest. */
static void emit_channels(Emit *e, const char *src, const char *yr, const char *W, const char *S, int64_t L,
                          int64_t F) {
  if (F >= 4) {
    emit_open(e, "for (size_t j = 0; j < %lld; j += 4)", (long long)(F / 4 * 4));
    emit_line(e, "int32_t d4[4];");
    emit_line(e, "nn2c_qdot4(%s, %s + j * %lld, %lld, d4);", src, W, (long long)L, (long long)L);
    emit_line(e, "for (size_t k = 0; k < 4; k++) %s[j + k] = d4[k] - zxu * %s[j + k];", yr, S);
    emit_close(e);
  }
  if (F % 4)
    emit_line(e, "for (size_t j = %lld; j < %lld; j++) %s[j] = nn2c_qdot(%s, %s + j * %lld, %lld) - zxu * %s[j];",
              (long long)(F / 4 * 4), (long long)F, yr, src, W, (long long)L, (long long)L, S);
}

void matmul_integer_emit_fast(Emit *e, Node *n) {
  Value *a = n->in[0], *y = n->out[0];
  int64_t K = a->shape.d[1], N = n->in[1]->shape.d[1];
  const char *W, *S;
  emit_packed(e, n, K, N, &W, &S);
  emit_scope_open(e);
  emit_line(e, "uint8_t row[%lld];", (long long)K);
  emit_zxu(e, n);
  emit_open(e, "for (size_t i = 0; i < %s; i++)", emit_dim(e, a, 0));
  emit_line(e, "const %s *ar = %s + i * %lld;", emit_ctype(a->dtype), emit_ref(e, a), (long long)K);
  emit_line(e, "for (size_t p = 0; p < %lld; p++) row[p] = %s;", (long long)K, as_u8(e, a->dtype, "ar[p]"));
  emit_line(e, "int32_t *yr = %s + i * %lld;", emit_ref(e, y), (long long)N);
  emit_channels(e, "row", "yr", W, S, K, N);
  emit_close(e);
  emit_close(e);
}

/* Per output pixel: the patch of KH*KW*C unsigned bytes (zxu in the padding),
 * then one dot product per output channel. */
void conv_integer_emit_fast(Emit *e, Node *n, const Geom *G) {
  Value *x = n->in[0], *y = n->out[0];
  int64_t L = G->kh * G->kw * G->c;
  const char *W, *S;
  emit_packed(e, n, L, G->f, &W, &S);
  emit_scope_open(e);
  emit_line(e, "uint8_t patch[%lld];", (long long)L);
  emit_zxu(e, n);
  emit_open(e, "for (size_t p = 0; p < %s * %lld; p++)", emit_dim(e, x, 0), (long long)(G->oh * G->ow));
  emit_line(e, "const size_t nb = p / %lld, oh = p / %lld %% %lld, ow = p %% %lld;", (long long)(G->oh * G->ow),
            (long long)G->ow, (long long)G->oh, (long long)G->ow);
  emit_open(e, "for (size_t t = 0; t < %lld; t++)", (long long)(G->kh * G->kw));
  emit_line(
      e,
      "const long ih = (long)(oh * %lld + t / %lld * %lld) - %lld, iw = (long)(ow * %lld + t %% %lld * %lld) - %lld;",
      (long long)G->sh, (long long)G->kw, (long long)G->dh, (long long)G->pt, (long long)G->sw, (long long)G->kw,
      (long long)G->dw, (long long)G->pl);
  emit_line(e, "uint8_t *dst = patch + t * %lld;", (long long)G->c);
  emit_open(e, "if (ih < 0 || ih >= %lld || iw < 0 || iw >= %lld)", (long long)G->h, (long long)G->w);
  emit_line(e, "memset(dst, zxu, %lld);", (long long)G->c);
  emit_line(e, "continue;");
  emit_close(e);
  emit_line(e, "const %s *xp = %s + ((nb * %lld + (size_t)ih) * %lld + (size_t)iw) * %lld;", emit_ctype(x->dtype),
            emit_ref(e, x), (long long)G->h, (long long)G->w, (long long)G->c);
  emit_line(e, "for (size_t c = 0; c < %lld; c++) dst[c] = %s;", (long long)G->c, as_u8(e, x->dtype, "xp[c]"));
  emit_close(e);
  emit_line(e, "int32_t *yr = %s + p * %lld;", emit_ref(e, y), (long long)G->f);
  emit_channels(e, "patch", "yr", W, S, L, G->f);
  emit_close(e);
  emit_close(e);
}
