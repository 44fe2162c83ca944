/* fold.c - ONNX ops whose result's shape depends on the input's values:
 * NonZero, Unique, NonMaxSuppression and MelWeightMatrix. nn2c's shapes are static, so
 * these are computed at import from inputs known at compile time (they must
 * be constants; `nn2c test-onnx` freezes the case's data) and become
 * constants. Each follows the ONNX operator's definition. */
#include "onnx/onnx_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The input's elements as doubles (freed by the caller), or NULL after asking for a constant. */
static double *values_of(Imp *I, Value *v, const char *what, int64_t *n) {
  if (!imp_is_const(v)) return imp_need_const(I, v, what), NULL;
  Tensor t = {v->dtype, v->shape, shape_numel_static(v->shape), v->data};
  double *d = xmalloc(sizeof(double) * (size_t)(t.numel + 1));
  for (int64_t i = 0; i < t.numel; i++)
    d[i] = tensor_get(&t, i);
  *n = t.numel;
  return d;
}

static Value *const_of(Imp *I, const char *name, DType t, Shape s, const double *d) {
  int64_t n = shape_numel_static(s);
  Value *v = value_new(I->g, name, VK_CONST, t, s);
  v->data = arena_alloc(&I->g->arena, (size_t)(n * dtype_size(t)) + 8);
  Tensor out = {t, s, n, v->data};
  for (int64_t i = 0; i < n; i++)
    tensor_set(&out, i, d[i]);
  return v;
}

/* NonZero: int64 [rank, count], the coordinates of the non-zero elements in order. */
bool h_nonzero(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  (void)np;
  int64_t n, cnt = 0;
  double *x = imp_need_inputs(I, in, nin, 1, 1) ? values_of(I, in[0], "NonZero's input", &n) : NULL;
  if (!x) return false;
  Shape s = in[0]->shape;
  int r = s.rank ? s.rank : 1;
  for (int64_t i = 0; i < n; i++)
    cnt += x[i] != 0;
  double *idx = xmalloc(sizeof(double) * (size_t)(r * cnt + 1));
  for (int64_t i = 0, j = 0; i < n; i++) {
    if (x[i] == 0) continue;
    for (int64_t q = i, k = s.rank - 1; k >= 0; k--)
      idx[k * cnt + j] = (double)(q % s.d[k]), q /= s.d[k];
    if (!s.rank) idx[j] = 0;
    j++;
  }
  out[0] = const_of(I, "nonzero", DT_I64, shape_make(2, (int64_t[]){r, cnt}), idx);
  free(x), free(idx);
  return true;
}

/* ---- Unique ---- */

typedef struct {
  const double *x;
  int64_t len, outer, inner, extent; /* slice k: x[o][k][i], o < outer, i < inner */
} Slices;

/* Lexicographic order of slices a and b (elements in row-major order). */
static int slice_cmp(const Slices *s, int64_t a, int64_t b) {
  for (int64_t o = 0; o < s->outer; o++)
    for (int64_t i = 0; i < s->inner; i++) {
      double u = s->x[(o * s->extent + a) * s->inner + i], v = s->x[(o * s->extent + b) * s->inner + i];
      if (u != v) return u < v ? -1 : 1;
    }
  return 0;
}

bool h_unique(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  int64_t n;
  double *x = imp_need_inputs(I, in, nin, 1, 1) ? values_of(I, in[0], "Unique's input", &n) : NULL;
  if (!x) return false;
  Shape xs = in[0]->shape;
  bool has_axis = imp_attr(np, "axis") != NULL;
  int axis = has_axis ? normalize_axis(imp_attr_i(np, "axis", 0), xs.rank) : 0;
  if (axis < 0) return free(x), imp_fail(I, "bad axis");
  Slices s = {x, 0, 1, 1, 0};
  if (!has_axis)
    s.extent = n;
  else {
    s.extent = xs.d[axis];
    for (int i = 0; i < xs.rank; i++)
      *(i < axis ? &s.outer : i > axis ? &s.inner : &s.extent) *= i == axis ? 1 : xs.d[i];
  }
  /* first occurrences in order, then (sorted=1) an insertion sort of them */
  int64_t *first = xmalloc(sizeof(int64_t) * (size_t)(s.extent + 1)), nu = 0;
  double *inv = xmalloc(sizeof(double) * (size_t)(s.extent + 1));
  for (int64_t k = 0; k < s.extent; k++) {
    int64_t u = 0;
    while (u < nu && slice_cmp(&s, first[u], k))
      u++;
    if (u == nu) first[nu++] = k;
  }
  for (int64_t i = 1; imp_attr_i(np, "sorted", 1) && i < nu; i++)
    for (int64_t j = i; j > 0 && slice_cmp(&s, first[j - 1], first[j]) > 0; j--) {
      int64_t t = first[j];
      first[j] = first[j - 1], first[j - 1] = t;
    }
  double *cnt = xcalloc((size_t)nu + 1, sizeof(double)), *fi = xmalloc(sizeof(double) * (size_t)(nu + 1));
  for (int64_t k = 0; k < s.extent; k++)
    for (int64_t u = 0; u < nu; u++)
      if (!slice_cmp(&s, first[u], k)) inv[k] = (double)u, cnt[u]++, u = nu;
  Shape ys = has_axis ? xs : shape_make(1, &nu);
  if (has_axis) ys.d[axis] = nu;
  double *y = xmalloc(sizeof(double) * (size_t)(s.outer * nu * s.inner + 1));
  for (int64_t o = 0; o < s.outer; o++)
    for (int64_t u = 0; u < nu; u++)
      for (int64_t i = 0; i < s.inner; i++)
        y[(o * nu + u) * s.inner + i] = x[(o * s.extent + first[u]) * s.inner + i];
  for (int64_t u = 0; u < nu; u++)
    fi[u] = (double)first[u];
  out[0] = const_of(I, "unique", in[0]->dtype, ys, y);
  out[1] = const_of(I, "indices", DT_I64, shape_make(1, &nu), fi);
  out[2] = const_of(I, "inverse_indices", DT_I64, shape_make(1, &s.extent), inv);
  out[3] = const_of(I, "counts", DT_I64, shape_make(1, &nu), cnt);
  free(x), free(first), free(inv), free(cnt), free(fi), free(y);
  return true;
}

/* ---- NonMaxSuppression ---- */

/* Box b as y1, x1, y2, x2 with y1 <= y2, x1 <= x2. */
static void corners(const double *bx, bool center, double *c) {
  if (center) {
    c[0] = bx[1] - bx[3] / 2, c[2] = bx[1] + bx[3] / 2, c[1] = bx[0] - bx[2] / 2, c[3] = bx[0] + bx[2] / 2;
    return;
  }
  c[0] = fmin(bx[0], bx[2]), c[2] = fmax(bx[0], bx[2]), c[1] = fmin(bx[1], bx[3]), c[3] = fmax(bx[1], bx[3]);
}

static double iou(const double *a, const double *b, bool center) {
  double p[4], q[4];
  corners(a, center, p), corners(b, center, q);
  double h = fmin(p[2], q[2]) - fmax(p[0], q[0]), w = fmin(p[3], q[3]) - fmax(p[1], q[1]);
  if (h <= 0 || w <= 0) return 0;
  double inter = h * w, uni = (p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - inter;
  return uni > 0 ? inter / uni : 0;
}

/* Per batch and class: boxes by falling score (ties by index) above
 * score_threshold, each kept unless it overlaps a kept one by IoU >
 * iou_threshold, up to max_output_boxes_per_class. */
bool h_nms(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  if (!imp_need_inputs(I, in, nin, 2, 5)) return false;
  Shape bs = in[0]->shape, ss = in[1]->shape;
  if (bs.rank != 3 || bs.d[2] != 4 || ss.rank != 3 || ss.d[0] != bs.d[0] || ss.d[2] != bs.d[1])
    return imp_fail(I, "boxes must be [B, S, 4] and scores [B, C, S]");
  int64_t nb, ns, nm = 0, ni = 0, nt = 0;
  double *box = values_of(I, in[0], "boxes", &nb), *sc = box ? values_of(I, in[1], "scores", &ns) : NULL;
  double *mx = sc && nin > 2 && in[2] ? values_of(I, in[2], "max_output_boxes_per_class", &nm) : NULL;
  double *it = sc && nin > 3 && in[3] ? values_of(I, in[3], "iou_threshold", &ni) : NULL;
  double *st = sc && nin > 4 && in[4] ? values_of(I, in[4], "score_threshold", &nt) : NULL;
  bool ok = sc && (nin <= 2 || !in[2] || mx) && (nin <= 3 || !in[3] || it) && (nin <= 4 || !in[4] || st);
  int64_t B = bs.d[0], S = bs.d[1], C = ss.d[1], limit = mx && nm ? (int64_t)mx[0] : 0, cnt = 0;
  bool center = imp_attr_i(np, "center_point_box", 0) != 0;
  int64_t *order = ok ? xmalloc(sizeof(int64_t) * (size_t)(S + 1)) : NULL,
          *kept = ok ? xmalloc(sizeof(int64_t) * (size_t)(S + 1)) : NULL;
  double *sel = ok ? xmalloc(sizeof(double) * (size_t)(3 * B * C * S + 3)) : NULL;
  for (int64_t b = 0; ok && b < B; b++)
    for (int64_t c = 0; c < C; c++) {
      const double *s = sc + (b * C + c) * S;
      int64_t n = 0, nk = 0;
      for (int64_t i = 0; i < S; i++)
        if (!st || !nt || s[i] > st[0]) order[n++] = i;
      for (int64_t i = 1; i < n; i++) /* stable: equal scores keep index order */
        for (int64_t j = i; j > 0 && s[order[j - 1]] < s[order[j]]; j--) {
          int64_t t = order[j];
          order[j] = order[j - 1], order[j - 1] = t;
        }
      for (int64_t i = 0; i < n && nk < limit; i++) {
        bool keep = true;
        for (int64_t k = 0; k < nk && keep; k++)
          keep = iou(box + (b * S + order[i]) * 4, box + (b * S + kept[k]) * 4, center) <= (it && ni ? it[0] : 0);
        if (!keep) continue;
        kept[nk++] = order[i];
        sel[3 * cnt] = (double)b, sel[3 * cnt + 1] = (double)c, sel[3 * cnt + 2] = (double)order[i], cnt++;
      }
    }
  if (ok) out[0] = const_of(I, "selected_indices", DT_I64, shape_make(2, (int64_t[]){cnt, 3}), sel);
  free(box), free(sc), free(mx), free(it), free(st), free(order), free(kept), free(sel);
  return ok;
}

/* MelWeightMatrix: [dft_length / 2 + 1, num_mel_bins] triangular filters
 * whose edges are num_mel_bins + 2 points evenly spaced on the mel scale
 * (2595 log10(1 + f / 700)) between the edge frequencies, mapped to
 * spectrogram bins floor((dft_length + 1) f / sample_rate). */
bool h_mel(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  const char *what[5] = {"num_mel_bins", "dft_length", "sample_rate", "lower_edge_hertz", "upper_edge_hertz"};
  double a[5];
  if (!imp_need_inputs(I, in, nin, 5, 5)) return false;
  for (int i = 0; i < 5; i++) {
    int64_t n;
    double *v = values_of(I, in[i], what[i], &n);
    if (!v) return false;
    a[i] = n ? v[0] : 0;
    free(v);
  }
  int64_t mels = (int64_t)a[0], bins = (int64_t)a[1] / 2 + 1;
  DType t;
  if (mels < 1 || mels > 4096 || a[1] < 1 || a[1] > 1 << 16 || a[2] <= 0 ||
      !dtype_from_onnx((int)imp_attr_i(np, "output_datatype", 1), &t))
    return imp_fail(I, "bad num_mel_bins, dft_length, sample_rate or output_datatype");
  double lo = 2595 * log10(1 + a[3] / 700), hi = 2595 * log10(1 + a[4] / 700), step = (hi - lo) / (double)(mels + 2);
  int64_t *edge = xmalloc(sizeof(int64_t) * (size_t)(mels + 2));
  for (int64_t i = 0; i < mels + 2; i++) {
    double f = 700 * (pow(10, ((double)i * step + lo) / 2595) - 1);
    edge[i] = (int64_t)floor((a[1] + 1) * f / a[2]);
  }
  double *w = xcalloc((size_t)(bins * mels) + 1, sizeof(double));
  bool ok = true;
  for (int64_t i = 0; i < mels && ok; i++) {
    int64_t l = edge[i], c = edge[i + 1], r = edge[i + 2];
    ok = l >= 0 && c >= l && r >= c && r < bins + 1 && c < bins;
    for (int64_t j = l; ok && j <= c; j++)
      w[j * mels + i] = c == l ? 1 : (double)(j - l) / (double)(c - l);
    for (int64_t j = c; ok && j < r; j++)
      w[j * mels + i] = (double)(r - j) / (double)(r - c);
  }
  if (ok) out[0] = const_of(I, "mel_weights", t, shape_make(2, (int64_t[]){bins, mels}), w);
  free(edge), free(w);
  return ok || imp_fail(I, "the mel filters fall outside the spectrogram's bins");
}
