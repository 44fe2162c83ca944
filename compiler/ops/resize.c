/* resize.c - ONNX Resize (opset 13) and Upsample (opset 9), on any axes.
 *
 * resize(X; mode=nearest|linear|cubic, coordinate_transformation_mode=half_pixel,
 *        nearest_mode=round_prefer_floor, cubic_coeff_a=-0.75, exclude_outside=0,
 *        extrapolation_value=0, roi=[...], scales=[...] | sizes=[...])
 * upsample(X; mode=nearest|linear, scales): resize with asymmetric coordinates
 * and floor rounding.
 *
 * Interpolation is separable: output coordinate x of an axis maps back to a
 * position in the input (the coordinate mode); it reads 2 taps (nearest,
 * linear) or 4 (cubic) around it, clamped to the edge, weighted by the mode's
 * coefficients; an output element sums the products of its axes' weights.
 * The taps depend only on shapes and attributes, so the emitted code reads
 * them from tables computed here (the interpreter recomputes them per element). */
#include "op.h"

#include <math.h>
#include <string.h>

typedef struct {
  int rank;
  int64_t in[MAX_RANK], out[MAX_RANK];
  double scale[MAX_RANK], width[MAX_RANK]; /* scale, and scale * in as the ONNX reference has it */
  double roi[2 * MAX_RANK];
  int mode;  /* 0 nearest, 1 linear, 2 cubic */
  int coord; /* index in coord_names */
  int round; /* index in round_names */
  double a, extrapolation;
  bool exclude;
} ResizeSpec;

static const char *const mode_names[] = {"nearest", "linear", "cubic", NULL};
static const char *const coord_names[] = {
    "half_pixel",         "asymmetric", "align_corners", "pytorch_half_pixel", "tf_half_pixel_for_nn",
    "tf_crop_and_resize", NULL};
static const char *const round_names[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil", NULL};

static int name_index(const char *const *names, const char *s) {
  for (int i = 0; names[i]; i++)
    if (!strcmp(names[i], s)) return i;
  return -1;
}

static const char *resize_spec(const Node *n, ResizeSpec *rs) {
  Shape x = n->in[0]->shape;
  bool up = n->op == OP_UPSAMPLE;
  memset(rs, 0, sizeof *rs);
  rs->rank = x.rank;
  rs->mode = name_index(mode_names, node_string(n, "mode", "nearest"));
  rs->coord = up ? 1 : name_index(coord_names, node_string(n, "coordinate_transformation_mode", "half_pixel"));
  rs->round = up ? 2 : name_index(round_names, node_string(n, "nearest_mode", "round_prefer_floor"));
  rs->a = node_float(n, "cubic_coeff_a", -0.75);
  rs->exclude = node_int(n, "exclude_outside", 0) != 0;
  rs->extrapolation = node_float(n, "extrapolation_value", 0);
  if (rs->mode < 0 || rs->coord < 0 || rs->round < 0 || (up && rs->mode == 2))
    return "unknown mode, coordinate mode or nearest mode";
  double scales[MAX_RANK];
  int64_t sizes[MAX_RANK];
  int ns = attr_floats(n, "scales", scales, MAX_RANK), nz = up ? -1 : attr_ints(n, "sizes", sizes, MAX_RANK);
  if ((ns >= 0) == (nz >= 0) && !(ns == 0 && nz == x.rank)) return "give either scales or sizes, one per axis";
  if (nz < 0 && ns != x.rank) return "scales needs one entry per axis";
  int nr = attr_floats(n, "roi", rs->roi, 2 * MAX_RANK);
  if (rs->coord == 5 && nr != 2 * x.rank) return "tf_crop_and_resize needs roi=[starts..., ends...]";
  for (int i = 0; i < x.rank; i++) {
    int64_t d = x.d[i];
    if (d == DIM_BATCH) {
      if (nz >= 0 ? sizes[i] != 1 && sizes[i] != DIM_BATCH : scales[i] != 1) return "cannot resize the batch dimension";
      rs->in[i] = rs->out[i] = DIM_BATCH, rs->scale[i] = rs->width[i] = 1;
      continue;
    }
    rs->in[i] = d;
    if (nz >= 0) {
      rs->out[i] = sizes[i];
      rs->scale[i] = d ? (double)sizes[i] / (double)d : 1;
      rs->width[i] = rs->scale[i] * (double)d;
    } else {
      if (!(scales[i] > 0)) return "scales must be positive";
      rs->scale[i] = scales[i];
      rs->width[i] = (double)(float)(scales[i] * (double)d); /* the reference multiplies in float32 */
      rs->out[i] = (int64_t)floor(scales[i] * (double)d);
    }
    if (rs->out[i] < 0) return "negative output size";
  }
  return NULL;
}

/* Taps of output coordinate x along axis a: indices (clamped) and weights;
 * returns their count, or 0 when the position is outside the roi (tf_crop_and_resize). */
static int resize_taps(const ResizeSpec *rs, int a, int64_t x, int64_t *idx, double *w) {
  double s = rs->scale[a], ow = rs->width[a], d = (double)rs->in[a], xo;
  switch (rs->coord) {
  case 1:
    xo = (double)x / s;
    break;
  case 2:
    xo = ow == 1 ? 0 : (double)x * (d - 1) / (ow - 1);
    break;
  case 3:
    xo = ow == 1 ? -0.5 : ((double)x + 0.5) / s - 0.5;
    break;
  case 4:
    xo = ((double)x + 0.5) / s;
    break;
  case 5: {
    double r0 = rs->roi[a], r1 = rs->roi[rs->rank + a];
    xo = (ow == 1 ? (r1 - r0) * (d - 1) / 2 : (double)x * (r1 - r0) * (d - 1) / (ow - 1)) + r0 * (d - 1);
    if (xo < 0 || xo > d - 1) return 0;
    break;
  }
  default:
    xo = ((double)x + 0.5) / s - 0.5;
  }
  double base = floor(xo), r = xo - base;
  if (r == 0) base -= 1, r = 1; /* the reference prefers the pixel on the left */
  int nt = rs->mode == 2 ? 4 : 2;
  if (rs->mode == 0) {
    bool right = r == 1 || (rs->round == 0 ? r > 0.5 : rs->round == 1 ? r >= 0.5 : rs->round == 3);
    w[0] = !right, w[1] = right;
  } else if (rs->mode == 1) {
    w[0] = 1 - r, w[1] = r;
  } else {
    double A = rs->a, t = 1 - r;
    w[0] = ((A * (r + 1) - 5 * A) * (r + 1) + 8 * A) * (r + 1) - 4 * A;
    w[1] = ((A + 2) * r - (A + 3)) * r * r + 1;
    w[2] = ((A + 2) * t - (A + 3)) * t * t + 1;
    w[3] = ((A * (t + 1) - 5 * A) * (t + 1) + 8 * A) * (t + 1) - 4 * A;
  }
  double sum = 0;
  for (int k = 0; k < nt; k++) {
    int64_t i = (int64_t)base - (nt / 2 - 1) + k;
    if (rs->exclude && (i < 0 || i >= rs->in[a])) w[k] = 0;
    sum += w[k];
    idx[k] = i < 0 ? 0 : i >= rs->in[a] ? rs->in[a] - 1 : i;
  }
  if (rs->exclude && sum != 0)
    for (int k = 0; k < nt; k++)
      w[k] /= sum;
  return nt;
}

static const char *resize_common_infer(Graph *g, Node *n) {
  ResizeSpec rs;
  const char *err = resize_spec(n, &rs);
  if (err) return err;
  if (rs.mode && !dtype_is_float(n->in[0]->dtype)) return "linear and cubic modes need a float input";
  n->out[0]->dtype = n->in[0]->dtype;
  n->out[0]->shape = shape_make(rs.rank, rs.out);
  (void)g;
  return NULL;
}

static void resize_common_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  ResizeSpec rs;
  NN2C_ASSERT(!resize_spec(n, &rs));
  int r = rs.rank;
  for (int a = 0; a < r; a++)
    if (rs.in[a] == DIM_BATCH) rs.in[a] = rs.out[a] = cx->batch;
  int64_t idx[MAX_RANK][4], c[MAX_RANK], nt[MAX_RANK];
  double w[MAX_RANK][4];
  for (int64_t i = 0; i < out[0]->numel; i++) {
    int64_t rem = i, combos = 1;
    bool outside = false;
    for (int a = r - 1; a >= 0; a--)
      c[a] = rem % rs.out[a], rem /= rs.out[a];
    for (int a = 0; a < r; a++) {
      bool copied = n->in[0]->shape.d[a] == DIM_BATCH;
      nt[a] = copied ? 1 : resize_taps(&rs, a, c[a], idx[a], w[a]);
      if (copied) idx[a][0] = c[a], w[a][0] = 1;
      outside = outside || nt[a] == 0;
      combos *= nt[a] ? nt[a] : 1;
    }
    double acc = 0;
    for (int64_t t = 0; t < combos && !outside; t++) {
      int64_t tr = t, src = 0, stride = 1;
      double wt = 1;
      for (int a = r - 1; a >= 0; a--) {
        int k = (int)(tr % nt[a]);
        tr /= nt[a];
        src += idx[a][k] * stride, wt *= w[a][k];
        stride *= rs.in[a];
      }
      if (wt != 0) acc += wt * tensor_get(in[0], src);
    }
    tensor_set(out[0], i, outside ? rs.extrapolation : acc);
  }
}

/* ---- emission: per axis a table of taps; identity axes read directly ---- */

typedef struct {
  int nt;   /* taps kept per coordinate; 0: identity axis */
  bool roi; /* some coordinates are outside (tf_crop_and_resize) */
} AxisTable;

static AxisTable emit_axis_table(Emit *e, Node *n, const ResizeSpec *rs, int a) {
  AxisTable t = {0, false};
  if (rs->in[a] == DIM_BATCH) return t;
  int64_t o = rs->out[a], idx[4], kept_i[4];
  double w[4], kept_w[4];
  bool identity = rs->in[a] == o;
  for (int64_t x = 0; x < o; x++) {
    int nt = resize_taps(rs, a, x, idx, w), k = 0;
    for (int j = 0; j < nt; j++)
      k += w[j] != 0;
    identity = identity && nt && k == 1;
    for (int j = 0; j < nt && identity; j++)
      identity = w[j] == 0 || (w[j] == 1 && idx[j] == x);
    if (k > t.nt) t.nt = k;
    t.roi = t.roi || nt == 0;
  }
  if (identity) return (AxisTable){0, false};
  if (t.nt == 0) t.nt = 1;
  Buf bi = {0}, bw = {0}, bo = {0};
  for (int64_t x = 0; x < o; x++) {
    int nt = resize_taps(rs, a, x, idx, w), k = 0;
    for (int j = 0; j < nt; j++)
      if (w[j] != 0) kept_i[k] = idx[j], kept_w[k++] = w[j];
    for (; k < t.nt; k++)
      kept_i[k] = 0, kept_w[k] = 0;
    for (int j = 0; j < t.nt; j++) {
      buf_printf(&bi, "%s%lld", bi.len ? ", " : "", (long long)kept_i[j]);
      buf_printf(&bw, "%s%.17g", bw.len ? ", " : "", kept_w[j]);
    }
    buf_printf(&bo, "%s%d", bo.len ? ", " : "", nt == 0);
  }
  emit_line(e, "static const ptrdiff_t rz%d_i%d[] = {%s};", n->id, a, bi.len ? bi.data : "0");
  if (rs->mode) emit_line(e, "static const double rz%d_w%d[] = {%s};", n->id, a, bw.len ? bw.data : "0");
  if (t.roi) emit_line(e, "static const unsigned char rz%d_o%d[] = {%s};", n->id, a, bo.data);
  buf_free(&bi), buf_free(&bw), buf_free(&bo);
  return t;
}

static void resize_common_emit(Emit *e, Node *n) {
  ResizeSpec rs;
  NN2C_ASSERT(!resize_spec(n, &rs));
  Value *x = n->in[0], *y = n->out[0];
  int r = rs.rank;
  AxisTable t[MAX_RANK];
  emit_open(e, "");
  bool weighted = false, roi = false;
  for (int a = 0; a < r; a++) {
    t[a] = emit_axis_table(e, n, &rs, a);
    weighted = weighted || (t[a].nt && rs.mode != 0);
    roi = roi || t[a].roi;
  }
  emit_line(e, "size_t q = 0;");
  Buf src = {0}, wt = {0}, cond = {0};
  for (int a = 0; a < r; a++) {
    emit_open(e, "for (size_t i%d = 0; i%d < %s; i%d++)", a, a, emit_dim(e, y, a), a);
    const char *stride = emit_numel_range(e, x, a + 1, r);
    if (!t[a].nt)
      buf_printf(&src, " + i%d * %s", a, stride);
    else
      buf_printf(&src, " + (size_t)rz%d_i%d[i%d * %d + s%d] * %s", n->id, a, a, t[a].nt, a, stride);
    if (t[a].nt && rs.mode) buf_printf(&wt, " * rz%d_w%d[i%d * %d + s%d]", n->id, a, a, t[a].nt, a);
    if (t[a].roi) buf_printf(&cond, "%srz%d_o%d[i%d]", cond.len ? " || " : "", n->id, a, a);
  }
  const char *ty = emit_ctype(y->dtype), *Y = emit_ref(e, y), *X = emit_ref(e, x);
  if (roi) emit_line(e, "if (%s) { %s[q++] = (%s)%.17g; continue; }", cond.data, Y, ty, rs.extrapolation);
  emit_line(e, "double acc = 0;");
  int open = 0;
  for (int a = 0; a < r; a++)
    if (t[a].nt) emit_open(e, "for (size_t s%d = 0; s%d < %d; s%d++)", a, a, t[a].nt, a), open++;
  if (weighted)
    emit_line(e, "acc += 1.0%s * %s[0%s];", wt.len ? wt.data : "", X, src.data);
  else
    emit_line(e, "acc = %s[0%s];", X, src.data);
  for (int k = 0; k < open; k++)
    emit_close(e);
  emit_line(e, "%s[q++] = (%s)acc;", Y, ty);
  for (int a = 0; a < r; a++)
    emit_close(e);
  emit_line(e, "(void)q;");
  emit_close(e);
  buf_free(&src), buf_free(&wt), buf_free(&cond);
}

const char *resize_infer(Graph *g, Node *n) { return resize_common_infer(g, n); }
void resize_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) { resize_common_eval(cx, n, in, out); }
void resize_grad(Graph *g, Node *n, Value **dy, Value **dx) { (void)g, (void)n, (void)dy, (void)dx; }
void resize_emit(Emit *e, Node *n) { resize_common_emit(e, n); }
const char *upsample_infer(Graph *g, Node *n) { return resize_common_infer(g, n); }
void upsample_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) { resize_common_eval(cx, n, in, out); }
void upsample_grad(Graph *g, Node *n, Value **dy, Value **dx) { (void)g, (void)n, (void)dy, (void)dx; }
void upsample_emit(Emit *e, Node *n) { resize_common_emit(e, n); }
