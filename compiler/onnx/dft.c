/* dft.c - ONNX's DFT and STFT as matrix products with constant cosine and
 * sine tables, so they run on runtime signals and differentiate.
 *
 * DFT: the last axis holds 1 (real) or 2 (real, imaginary) numbers; the
 * transformed axis is moved last, the signal cut or zero-padded to
 * dft_length N, and with a = Re, b = Im, C[n][k] = cos(2 pi k n / N),
 * S[n][k] = sin(2 pi k n / N), s = 1 forward and -1 inverse:
 *   Re y = a C + s b S,  Im y = b C - s a S   (inverse: both / N)
 * for k < N (k <= N / 2 with onesided). STFT: frames of frame_length every
 * frame_step samples, times the window, each transformed (onesided by
 * default), stacked as [batch, frames, bins, 2]. */
#include "onnx/onnx_impl.h"

#include <math.h>
#include <string.h>

static Value *table(Imp *I, int64_t n, int64_t k, bool sine) {
  Value *v = value_new(I->g, sine ? "dft_sin" : "dft_cos", VK_CONST, DT_F32, shape_make(2, (int64_t[]){n, k}));
  float *d = v->data = arena_alloc(&I->g->arena, sizeof(float) * (size_t)(n * k) + 8);
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < k; j++) {
      double th = 6.283185307179586 * (double)((i * j) % n) / (double)n;
      d[i * k + j] = (float)(sine ? sin(th) : cos(th));
    }
  return v;
}

static Value *permute(Imp *I, Value *x, const int64_t *perm) {
  Node *n = imp_mk(I, OP_TRANSPOSE, 1, &x);
  node_set_ints(I->g, n, "perm", perm, x->shape.rank);
  return imp_finish(I, n) ? n->out[0] : NULL;
}

static Value *product(Imp *I, Value *a, Value *b) {
  Value *ab[2] = {a, b}, *y = NULL;
  return imp_matmul(I, I->node, ab, 2, &y) ? y : NULL;
}

/* a (and b when not NULL) [.., N] transformed: *re, *im [.., K]. */
static bool transform(Imp *I, Value *a, Value *b, bool inverse, bool onesided, Value **re, Value **im) {
  int64_t n = a->shape.d[a->shape.rank - 1], k = onesided ? n / 2 + 1 : n;
  Value *C = table(I, n, k, false), *S = table(I, n, k, true);
  double s = inverse ? -1 : 1;
  Value *ac = product(I, a, C), *as = product(I, a, S);
  *re = ac, *im = as ? imp_mk2(I, OP_MUL, as, imp_scalar_like(I, as, -s)) : NULL;
  if (b) {
    Value *bc = product(I, b, C), *bs = product(I, b, S);
    Value *sbs = bs ? imp_mk2(I, OP_MUL, bs, imp_scalar_like(I, bs, s)) : NULL;
    *re = *re && sbs ? imp_mk2(I, OP_ADD, *re, sbs) : NULL;
    *im = *im && bc ? imp_mk2(I, OP_ADD, bc, *im) : NULL;
  }
  if (inverse && *re && *im) {
    *re = imp_mk2(I, OP_MUL, *re, imp_scalar_like(I, *re, 1.0 / (double)n));
    *im = imp_mk2(I, OP_MUL, *im, imp_scalar_like(I, *im, 1.0 / (double)n));
  }
  return *re && *im;
}

/* x [.., c] (c = 1 or 2) transformed along `axis` to [.., K, 2] at that axis. */
static Value *dft_along(Imp *I, Value *x, int axis, int64_t len, bool inverse, bool onesided) {
  int r = x->shape.rank, c = (int)x->shape.d[r - 1];
  if (r < 2 || (c != 1 && c != 2) || axis < 0 || axis >= r - 1 || x->shape.d[axis] == DIM_BATCH ||
      (onesided && (c == 2 || inverse)))
    return imp_fail(I, "the last axis must hold 1 or 2 numbers, the axis another one (onesided: real, forward)"), NULL;
  int64_t perm[MAX_RANK], back[MAX_RANK];
  for (int i = 0, j = 0; i < r; i++) /* the axis moves to r - 1, the complex pair to r - 2 */
    if (i != axis && i != r - 1) perm[j++] = i;
  perm[r - 2] = r - 1, perm[r - 1] = axis;
  for (int i = 0; i < r; i++)
    back[perm[i]] = i;
  Value *t = permute(I, x, perm), *parts[2] = {NULL, NULL};
  for (int p = 0; p < c && t; p++) {
    Value *v = imp_take(I, t, r - 2, p, p + 1, 1);
    Shape s = v ? v->shape : shape_scalar();
    if (v) s.d[r - 2] = s.d[r - 1], s.rank--;
    v = v ? imp_reshape_to(I, v, s) : NULL;
    int64_t n = v ? v->shape.d[v->shape.rank - 1] : 0;
    if (v && len < n) v = imp_take(I, v, v->shape.rank - 1, 0, len, 1);
    if (v && len > n) {
      int64_t pads[2 * MAX_RANK] = {0};
      pads[2 * v->shape.rank - 1] = len - n;
      Node *pn = imp_mk(I, OP_PAD, 1, &v);
      node_set_ints(I->g, pn, "pads", pads, 2 * v->shape.rank);
      v = imp_finish(I, pn) ? pn->out[0] : NULL;
    }
    if (!(parts[p] = v)) return NULL;
  }
  Value *re, *im;
  if (!t || !transform(I, parts[0], parts[1], inverse, onesided, &re, &im)) return NULL;
  Value *pair[2];
  for (int p = 0; p < 2; p++) { /* [.., K] -> [.., 1, K]: the pair axis back at r - 2 */
    Value *v = p ? im : re;
    Shape s = v->shape;
    s.d[s.rank] = s.d[s.rank - 1], s.d[s.rank - 1] = 1, s.rank++;
    if (!(pair[p] = imp_reshape_to(I, v, s))) return NULL;
  }
  Node *cn = imp_mk(I, OP_CONCAT, 2, pair);
  node_set_int(I->g, cn, "axis", r - 2);
  return imp_finish(I, cn) ? permute(I, cn->out[0], back) : NULL;
}

static bool const_int(Imp *I, Value *v, const char *what, int64_t *out) {
  if (!imp_is_const(v)) return imp_need_const(I, v, what);
  Tensor t = {v->dtype, v->shape, 1, v->data};
  *out = (int64_t)tensor_get(&t, 0);
  return true;
}

bool h_dft(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  if (!imp_need_inputs(I, in, nin, 1, 2)) return false;
  Value *x = in[0];
  int axis = normalize_axis(imp_attr_i(np, "axis", 1), x->shape.rank);
  int64_t len = axis >= 0 ? x->shape.d[axis] : 0;
  if (nin > 1 && in[1] && !const_int(I, in[1], "dft_length", &len)) return false;
  if (len < 1 || len > 1 << 14) return imp_fail(I, "bad dft_length or axis");
  return (out[0] = dft_along(I, x, axis, len, imp_attr_i(np, "inverse", 0) != 0, imp_attr_i(np, "onesided", 0) != 0)) !=
         NULL;
}

bool h_stft(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  if (!imp_need_inputs(I, in, nin, 2, 4)) return false;
  Value *x = in[0], *win = nin > 2 ? in[2] : NULL;
  int64_t step = 0, len = win ? win->shape.d[0] : -1;
  if (!const_int(I, in[1], "frame_step", &step)) return false;
  if (nin > 3 && in[3] && !const_int(I, in[3], "frame_length", &len)) return false;
  if (x->shape.rank != 3 || step < 1 || len < 1 || len > x->shape.d[1] || (win && win->shape.d[0] != len))
    return imp_fail(I, "STFT needs a [batch, length, 1 or 2] signal, frame_step and a frame length");
  int64_t frames = (x->shape.d[1] - len) / step + 1;
  if (frames > 4096) return imp_unsupported(I, "STFT", "STFT of more than 4096 frames");
  Value *w = win ? imp_reshape_to(I, win, shape_make(3, (int64_t[]){1, len, 1})) : NULL;
  Value **fr = xcalloc((size_t)frames + 1, sizeof(Value *));
  bool ok = true, onesided = imp_attr_i(np, "onesided", 1) != 0;
  for (int64_t f = 0; f < frames && ok; f++) {
    Value *v = imp_take(I, x, 1, f * step, f * step + len, 1);
    if (v && w) v = imp_mk2(I, OP_MUL, v, w);
    v = v ? dft_along(I, v, 1, len, false, onesided) : NULL; /* [batch, K, 2] */
    Shape s = v ? v->shape : shape_scalar();
    for (int k = s.rank; v && k > 1; k--)
      s.d[k] = s.d[k - 1];
    s.d[1] = 1, s.rank++;
    ok = v && (fr[f] = imp_reshape_to(I, v, s)) != NULL;
  }
  Value *y = NULL;
  for (int64_t j = 0; j < frames && ok;) { /* frames joined 15 at a time onto the result */
    Value *parts[16];
    int c = 0;
    if (y) parts[c++] = y;
    while (j < frames && c < 16)
      parts[c++] = fr[j++];
    Node *cn = imp_mk(I, OP_CONCAT, c, parts);
    node_set_int(I->g, cn, "axis", 1);
    ok = imp_finish(I, cn);
    y = ok ? cn->out[0] : NULL;
  }
  free(fr);
  return ok && (out[0] = y) != NULL;
}
