/* init.c - parameter initializers, the interpreter's implementation of the
 * spec in docs/initializers.md (emitted code has its own, in codegen).
 *
 * Element i of the k-th param (0-based, graph order) draws from the counter
 * based generator u(j) = (mix64(seed * A + (k + 1) * B + j) >> 11) / 2^53,
 * so every element is a pure function of (seed, k, i). */
#include "interp.h"

#include <math.h>
#include <string.h>

#define GOLDEN 0x9E3779B97F4A7C15ULL
#define SALT 0xD1B54A32D192ED03ULL
#define TRUNC_STDDEV 0.87962566103423978 /* stddev of a unit normal truncated to [-2, 2] */

static uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

static double uniform01(uint64_t seed, int k, uint64_t j) {
  return (double)(mix64(seed * GOLDEN + (uint64_t)(k + 1) * SALT + j) >> 11) / 9007199254740992.0;
}

/* Box-Muller on counters 2j and 2j+1. */
static double normal01(uint64_t seed, int k, uint64_t j) {
  double u1 = uniform01(seed, k, 2 * j), u2 = uniform01(seed, k, 2 * j + 1);
  return sqrt(-2.0 * log(1.0 - u1)) * cos(6.283185307179586 * u2);
}

/* Redraw (counter j + attempt * numel) until |z| <= 2, as Keras's truncated normal. */
static double truncated01(uint64_t seed, int k, uint64_t j, uint64_t numel) {
  for (uint64_t a = 0;; a++) {
    double z = normal01(seed, k, j + a * numel);
    if (fabs(z) <= 2.0) return z;
  }
}

static double init_value(Init in, Shape s, uint64_t seed, int k, uint64_t i, uint64_t numel) {
  double fi, fo;
  shape_fans(s, &fi, &fo);
  switch (in.kind) {
  case INIT_ZEROS:
    return 0;
  case INIT_ONES:
    return 1;
  case INIT_CONSTANT:
    return in.a;
  case INIT_UNIFORM:
    return in.a + (in.b - in.a) * uniform01(seed, k, i);
  case INIT_NORMAL:
    return in.a + in.b * normal01(seed, k, i);
  case INIT_GLOROT_UNIFORM:
    return sqrt(6.0 / (fi + fo)) * (2 * uniform01(seed, k, i) - 1);
  case INIT_HE_UNIFORM:
    return sqrt(6.0 / fi) * (2 * uniform01(seed, k, i) - 1);
  case INIT_LECUN_UNIFORM:
    return sqrt(3.0 / fi) * (2 * uniform01(seed, k, i) - 1);
  case INIT_GLOROT_NORMAL:
    return sqrt(2.0 / (fi + fo)) / TRUNC_STDDEV * truncated01(seed, k, i, numel);
  case INIT_HE_NORMAL:
    return sqrt(2.0 / fi) / TRUNC_STDDEV * truncated01(seed, k, i, numel);
  case INIT_LECUN_NORMAL:
    return sqrt(1.0 / fi) / TRUNC_STDDEV * truncated01(seed, k, i, numel);
  case INIT_UNIT_FORGET_BIAS:
    return i >= numel / 4 && i < numel / 2 ? 1 : 0;
  default:
    NN2C_ASSERT(!"unknown initializer");
    return 0;
  }
}

/* Orthogonal (Keras Orthogonal, gain 1): rows = product of all dims but the
 * last, cols = the last; n = min(rows, cols) vectors of length m = max(rows,
 * cols), component b of vector a drawn as n(b * n + a), orthonormalized in
 * order by modified Gram-Schmidt in double. Vector a is column a of the
 * [rows, cols] param when rows >= cols, else row a. */
static void orthogonal_fill(float *dst, Shape s, uint64_t seed, int k) {
  int64_t cols = s.d[s.rank - 1], rows = shape_numel_static(s) / cols;
  int64_t m = rows > cols ? rows : cols, n = rows > cols ? cols : rows;
  double *q = xmalloc(sizeof(double) * (size_t)(m * n));
  for (int64_t a = 0; a < n; a++)
    for (int64_t b = 0; b < m; b++)
      q[a * m + b] = normal01(seed, k, (uint64_t)(b * n + a));
  for (int64_t a = 0; a < n; a++) {
    double *v = q + a * m, norm = 0;
    for (int64_t c = 0; c < a; c++) {
      double dot = 0;
      for (int64_t b = 0; b < m; b++)
        dot += q[c * m + b] * v[b];
      for (int64_t b = 0; b < m; b++)
        v[b] -= dot * q[c * m + b];
    }
    for (int64_t b = 0; b < m; b++)
      norm += v[b] * v[b];
    norm = sqrt(norm);
    for (int64_t b = 0; b < m; b++)
      v[b] /= norm;
  }
  for (int64_t a = 0; a < n; a++)
    for (int64_t b = 0; b < m; b++)
      dst[rows >= cols ? b * n + a : a * m + b] = (float)q[a * m + b];
  free(q);
}

void interp_init_params(Graph *g, float *params, uint64_t seed) {
  int64_t *off = xcalloc((size_t)g->nvalues, sizeof(int64_t));
  graph_block_layout(g, VK_PARAM, off);
  int k = 0;
  for (int i = 0; i < g->nvalues; i++) {
    Value *v = g->values[i];
    if (v->kind != VK_PARAM) continue;
    uint64_t numel = (uint64_t)shape_numel_static(v->shape);
    if (v->init.kind == INIT_DATA)
      memcpy(params + off[i], v->data, sizeof(float) * numel);
    else if (v->init.kind == INIT_ORTHOGONAL)
      orthogonal_fill(params + off[i], v->shape, seed, k);
    else
      for (uint64_t j = 0; j < numel; j++)
        params[off[i] + (int64_t)j] = (float)init_value(v->init, v->shape, seed, k, j, numel);
    k++;
  }
  free(off);
}

void interp_init_state(Graph *g, float *state) {
  int64_t *off = xcalloc((size_t)g->nvalues, sizeof(int64_t));
  int64_t total = graph_block_layout(g, VK_STATE, off);
  for (int64_t i = 0; i < total; i++)
    state[i] = 0;
  for (int i = 0; i < g->nvalues; i++) {
    Value *v = g->values[i];
    if (v->kind != VK_STATE) continue;
    double fill = v->init.kind == INIT_ONES ? 1 : v->init.kind == INIT_CONSTANT ? v->init.a : 0;
    for (int64_t j = 0; j < shape_numel_static(v->shape); j++)
      state[off[i] + j] = (float)fill;
  }
  free(off);
}
