/* sample.c - reading an NCHW image at fractional positions: ONNX GridSample
 * (opset 16) and RoiAlign (opsets 10 and 16).
 *
 * grid_sample(X [N,C,H,W], grid [N,Ho,Wo,2]; mode=bilinear|nearest|bicubic,
 *             padding_mode=zeros|border|reflection, align_corners=0) -> [N,C,Ho,Wo]
 *   grid holds (x, y) in [-1, 1] across the image: -1 is the centre of the
 *   first pixel with align_corners=1, its outer edge otherwise (PyTorch's
 *   grid_sample, which ONNX follows). Bilinear and nearest first pad the
 *   position (border: clamp it into the image, reflection: mirror it at the
 *   edges, then clamp), then read 2x2 taps or the nearest pixel (ties to
 *   even); bicubic reads 4x4 taps (A = -0.75) around the unpadded position
 *   and pads each tap. A tap outside the image reads 0.
 * roi_align(X [N,C,H,W], rois [R,4] (x1,y1,x2,y2), batch_indices [R];
 *           mode=avg|max, output_height=1, output_width=1, sampling_ratio=0,
 *           spatial_scale=1, coordinate_transformation_mode) -> [R,C,oh,ow]
 *   Each output bin averages (or takes the max of) bilinear samples on a
 *   regular grid inside it, sampling_ratio per axis (0: ceil(bin size)).
 *   half_pixel (opset 16's default) shifts the scaled box by -0.5;
 *   output_half_pixel (opset 10's only form) does not and widens boxes to at
 *   least 1 pixel. A sample more than a pixel outside reads 0; max mode takes
 *   the largest of a sample's four weighted taps, as onnxruntime does.
 *   Batch indices out of range are bad data (status 2).
 *
 * GridSample's gradient op grid_sample_grad(dy, x, grid) gives dx (dy spread
 * over the taps by their weights) and dgrid (the weights' derivatives; zero
 * for nearest, and where border or reflection clamps). roi_align_grad(dy, x,
 * rois, batch_indices) gives dx: each sample's taps get dy * weight / count
 * (avg), or the largest weighted tap of the bin gets dy * weight (max); the
 * boxes get no gradient.
 *
 * The interpreter computes in double; the emitted code calls static helpers
 * written once per model; f32 or f64 data, positions and weights in double
 * (bicubic's 16 taps cancel in float). */
#include "op.h"

#include <math.h>
#include <string.h>

static int name_in(const char *const *names, const char *s) {
  for (int i = 0; names[i]; i++)
    if (!strcmp(names[i], s)) return i;
  return -1;
}

static void helpers_once(Emit *e, const char *text) {
  if (e->helpers && (!e->helpers->data || !strstr(e->helpers->data, text))) buf_puts(e->helpers, text);
}

static const char *nchw_float(const Value *x) {
  if (x->dtype != DT_F32 && x->dtype != DT_F64) return "needs f32 or f64 inputs";
  return x->shape.rank == 4 && x->shape.d[2] > 0 && x->shape.d[3] > 0 ? NULL : "needs an [N,C,H,W] input";
}

/* ---- GridSample ---- */

typedef struct {
  int mode; /* 0 bilinear, 1 nearest, 2 bicubic */
  int pad;  /* 0 zeros, 1 border, 2 reflection */
  bool align;
} GridSpec;

static const char *grid_spec(const Node *n, GridSpec *s) {
  static const char *const modes[] = {"bilinear", "nearest", "bicubic", NULL};
  static const char *const pads[] = {"zeros", "border", "reflection", NULL};
  s->mode = name_in(modes, node_string(n, "mode", "bilinear"));
  s->pad = name_in(pads, node_string(n, "padding_mode", "zeros"));
  s->align = node_int(n, "align_corners", 0) != 0;
  return s->mode < 0 || s->pad < 0 ? "unknown mode or padding_mode" : NULL;
}

/* grid_sample(x, grid) -> y; grid_sample_grad(dy, x, grid) -> (dx, dgrid). */
const char *grid_sample_infer(Graph *g, Node *n) {
  GridSpec s;
  bool grad = n->op == OP_GRID_SAMPLE_GRAD;
  Value *x = n->in[grad], *gv = n->in[grad + 1];
  Shape gr = gv->shape;
  const char *err = grid_spec(n, &s);
  if (!err) err = nchw_float(x);
  if (!err && (gv->dtype != x->dtype || gr.rank != 4 || gr.d[3] != 2 || gr.d[0] != x->shape.d[0]))
    err = "grid must be [N,Ho,Wo,2] with X's N and dtype";
  Shape ys = shape_make(4, (int64_t[]){x->shape.d[0], x->shape.d[1], gr.d[1], gr.d[2]});
  if (!err && grad && !shape_eq(n->in[0]->shape, ys)) err = "dy does not match the output";
  if (err) return err;
  for (int k = 0; k < n->nout; k++)
    n->out[k]->dtype = x->dtype, n->out[k]->shape = grad ? n->in[k + 1]->shape : ys;
  (void)g;
  return NULL;
}
const char *grid_sample_grad_infer(Graph *g, Node *n) { return grid_sample_infer(g, n); }

/* Border clamps into [0, size-1]; reflection mirrors at the first and last
 * pixel centres (align) or outer edges, then clamps. *slope: d result / d v. */
static double grid_pad(const GridSpec *s, double v, int64_t size, double *slope) {
  *slope = 1;
  if (s->pad == 0) return v;
  if (s->pad == 2) {
    double lo = s->align ? 0 : -0.5, span = s->align ? (double)(size - 1) : (double)size;
    if (span <= 0) return *slope = 0, 0;
    double d = fabs(v - lo), extra = fmod(d, span);
    bool even = fmod(floor(d / span), 2) == 0;
    *slope = (v < lo ? -1 : 1) * (even ? 1 : -1);
    v = even ? lo + extra : lo + span - extra;
  }
  if (v <= 0 || v >= (double)(size - 1)) *slope = 0;
  return fmin(fmax(v, 0), (double)(size - 1));
}

static double grid_cubic(double u, double *slope) { /* Keys' kernel at u, A = -0.75 */
  double A = -0.75, d = fabs(u), sg = u < 0 ? -1 : 1;
  if (d <= 1) return *slope = sg * (3 * (A + 2) * d - 2 * (A + 3)) * d, ((A + 2) * d - (A + 3)) * d * d + 1;
  *slope = sg * ((3 * A * d - 10 * A) * d + 8 * A);
  return ((A * d - 5 * A) * d + 8 * A) * d - 4 * A;
}

/* The taps of grid point (gx, gy): pixel (y, x), weight w, its derivatives
 * along the unnormalized position (wx, wy); sx, sy: d position / d grid. */
typedef struct {
  double y, x, w, wx, wy;
} GridTap;

static int grid_taps(const GridSpec *s, int64_t h, int64_t w, double gx, double gy, GridTap *t, double *sx,
                     double *sy) {
  double fx = s->align ? (gx + 1) / 2 * (double)(w - 1) : ((gx + 1) * (double)w - 1) / 2;
  double fy = s->align ? (gy + 1) / 2 * (double)(h - 1) : ((gy + 1) * (double)h - 1) / 2, px, py, cx[4], cy[4], dx[4],
         dy[4];
  *sx = s->align ? (double)(w - 1) / 2 : (double)w / 2, *sy = s->align ? (double)(h - 1) / 2 : (double)h / 2;
  if (s->mode == 2) { /* 4x4 taps around the unpadded point, each tap padded */
    double x0 = floor(fx), y0 = floor(fy);
    for (int i = 0; i < 4; i++)
      cy[i] = grid_cubic(fy - y0 - (i - 1), &dy[i]), cx[i] = grid_cubic(fx - x0 - (i - 1), &dx[i]);
    for (int k = 0; k < 16; k++) {
      int i = k / 4, j = k % 4;
      t[k] = (GridTap){grid_pad(s, y0 + i - 1, h, &py), grid_pad(s, x0 + j - 1, w, &px), cy[i] * cx[j], cy[i] * dx[j],
                       dy[i] * cx[j]};
    }
    return 16;
  }
  fx = grid_pad(s, fx, w, &px), fy = grid_pad(s, fy, h, &py);
  *sx *= px, *sy *= py;
  if (s->mode == 1) return t[0] = (GridTap){nearbyint(fy), nearbyint(fx), 1, 0, 0}, 1;
  double x0 = floor(fx), y0 = floor(fy), tx = fx - x0, ty = fy - y0;
  for (int k = 0; k < 4; k++) {
    int i = k / 2, j = k % 2;
    double wy = i ? ty : 1 - ty, wx = j ? tx : 1 - tx;
    t[k] = (GridTap){y0 + i, x0 + j, wy * wx, wy * (j ? 1 : -1), wx * (i ? 1 : -1)};
  }
  return 4;
}

static bool grid_inside(const GridTap *t, int64_t h, int64_t w) {
  return t->y >= 0 && t->y < (double)h && t->x >= 0 && t->x < (double)w;
}

/* Forward: y = sum of w * x over the taps inside. Backward: dx += dy * w at
 * each tap, dgrid = sum over channels of dy * (sum of dw * x) * d position. */
static void grid_eval(const Node *n, Tensor *dy, Tensor *x, Tensor *gr, Tensor **out) {
  GridSpec s;
  NN2C_ASSERT(!grid_spec(n, &s));
  const int64_t *xd = x->shape.d, hw = gr->shape.d[1] * gr->shape.d[2], plane = xd[2] * xd[3];
  GridTap t[16];
  double sx, sy;
  for (int64_t i = 0; dy && i < out[0]->numel + out[1]->numel; i++)
    tensor_set(i < out[0]->numel ? out[0] : out[1], i < out[0]->numel ? i : i - out[0]->numel, 0);
  for (int64_t b = 0; b < xd[0]; b++)
    for (int64_t p = 0; p < hw; p++) {
      int64_t gi = (b * hw + p) * 2,
              nt = grid_taps(&s, xd[2], xd[3], tensor_get(gr, gi), tensor_get(gr, gi + 1), t, &sx, &sy);
      double dgx = 0, dgy = 0;
      for (int64_t c = 0; c < xd[1]; c++) {
        int64_t yi = (b * xd[1] + c) * hw + p, base = (b * xd[1] + c) * plane;
        double acc = 0, g = dy ? tensor_get(dy, yi) : 0;
        for (int k = 0; k < nt; k++) {
          if (!grid_inside(&t[k], xd[2], xd[3])) continue;
          int64_t xi = base + (int64_t)t[k].y * xd[3] + (int64_t)t[k].x;
          double v = tensor_get(x, xi);
          acc += t[k].w * v, dgx += g * t[k].wx * v * sx, dgy += g * t[k].wy * v * sy;
          if (dy) tensor_set(out[0], xi, tensor_get(out[0], xi) + g * t[k].w);
        }
        if (!dy) tensor_set(out[0], yi, acc);
      }
      if (dy) tensor_set(out[1], gi, dgx), tensor_set(out[1], gi + 1, dgy);
    }
}

void grid_sample_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx;
  grid_eval(n, NULL, in[0], in[1], out);
}
void grid_sample_grad_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  (void)cx;
  grid_eval(n, in[0], in[1], in[2], out);
}

void grid_sample_grad(Graph *g, Node *n, Value **dy, Value **dx) {
  Value *in[3] = {dy[0], n->in[0], n->in[1]};
  Node *m = node_new(g, OP_GRID_SAMPLE_GRAD, 3, in, 2);
  node_copy_attrs(g, m, n);
  build_finish(g, m);
  dx[0] = m->out[0], dx[1] = m->out[1];
}
void grid_sample_grad_grad(Graph *g, Node *n, Value **dy, Value **dx) { (void)g, (void)n, (void)dy, (void)dx; }

static const char *grid_helpers =
    "/* GridSample (ONNX opset 16, PyTorch's grid_sample): mode 0 bilinear, 1 nearest,\n"
    " * 2 bicubic; pad 0 zeros, 1 border (clamp), 2 reflection (mirror, then clamp).\n"
    " * In double: bicubic's 16 taps cancel badly in float. *slope: d result / d v. */\n"
    "static double grid_sample_pad(double v, int size, int pad, int align, double *slope) {\n"
    "  *slope = 1.0;\n"
    "  if (pad == 0) return v;\n"
    "  if (pad == 2) {\n"
    "    double lo = align ? 0.0 : -0.5, span = align ? (double)(size - 1) : (double)size;\n"
    "    if (span <= 0.0) return *slope = 0.0, 0.0;\n"
    "    double d = fabs(v - lo), extra = fmod(d, span);\n"
    "    int even = fmod(floor(d / span), 2.0) == 0.0;\n"
    "    *slope = (v < lo ? -1.0 : 1.0) * (even ? 1.0 : -1.0);\n"
    "    v = even ? lo + extra : lo + span - extra;\n"
    "  }\n"
    "  if (v <= 0.0 || v >= (double)(size - 1)) *slope = 0.0;\n"
    "  return v < 0.0 ? 0.0 : v > (double)(size - 1) ? (double)(size - 1) : v;\n"
    "}\n\n"
    "static double grid_sample_cubic(double u, double *slope) { /* Keys' kernel, A = -0.75 */\n"
    "  double d = fabs(u), sg = u < 0.0 ? -1.0 : 1.0;\n"
    "  if (d <= 1.0) return *slope = sg * (3.75 * d - 4.5) * d, (1.25 * d - 2.25) * d * d + 1.0;\n"
    "  *slope = sg * ((-2.25 * d + 7.5) * d - 6.0);\n"
    "  return ((-0.75 * d + 3.75) * d - 6.0) * d + 3.0;\n"
    "}\n\n"
    "/* The taps of grid point (gx, gy) on an h x w plane: t[k] = {y, x, weight, d weight / d x,\n"
    " * d weight / d y} (positions unnormalized); s: d position / d (gx, gy). Returns the count. */\n"
    "static int grid_sample_taps(int h, int w, double gx, double gy, int mode, int pad, int align, double t[16][5],\n"
    "                            double s[2]) {\n"
    "  double fx = align ? (gx + 1.0) * 0.5 * (double)(w - 1) : ((gx + 1.0) * (double)w - 1.0) * 0.5;\n"
    "  double fy = align ? (gy + 1.0) * 0.5 * (double)(h - 1) : ((gy + 1.0) * (double)h - 1.0) * 0.5;\n"
    "  double px, py, cx[4], cy[4], dx[4], dy[4];\n"
    "  s[0] = align ? 0.5 * (double)(w - 1) : 0.5 * (double)w, s[1] = align ? 0.5 * (double)(h - 1) : 0.5 * "
    "(double)h;\n"
    "  if (mode == 2) { /* 4x4 taps around the unpadded point, each tap padded */\n"
    "    double x0 = floor(fx), y0 = floor(fy);\n"
    "    for (int i = 0; i < 4; i++)\n"
    "      cy[i] = grid_sample_cubic(fy - y0 - (double)(i - 1), &dy[i]),\n"
    "      cx[i] = grid_sample_cubic(fx - x0 - (double)(i - 1), &dx[i]);\n"
    "    for (int k = 0; k < 16; k++) {\n"
    "      t[k][0] = grid_sample_pad(y0 + (double)(k / 4 - 1), h, pad, align, &py);\n"
    "      t[k][1] = grid_sample_pad(x0 + (double)(k % 4 - 1), w, pad, align, &px);\n"
    "      t[k][2] = cy[k / 4] * cx[k % 4], t[k][3] = cy[k / 4] * dx[k % 4], t[k][4] = dy[k / 4] * cx[k % 4];\n"
    "    }\n"
    "    return 16;\n"
    "  }\n"
    "  fx = grid_sample_pad(fx, w, pad, align, &px), fy = grid_sample_pad(fy, h, pad, align, &py);\n"
    "  s[0] *= px, s[1] *= py;\n"
    "  if (mode == 1) {\n"
    "    t[0][0] = nearbyint(fy), t[0][1] = nearbyint(fx), t[0][2] = 1.0, t[0][3] = t[0][4] = 0.0;\n"
    "    return 1;\n"
    "  }\n"
    "  double x0 = floor(fx), y0 = floor(fy), tx = fx - x0, ty = fy - y0;\n"
    "  for (int k = 0; k < 4; k++) {\n"
    "    double wy = k / 2 ? ty : 1.0 - ty, wx = k % 2 ? tx : 1.0 - tx;\n"
    "    t[k][0] = y0 + (double)(k / 2), t[k][1] = x0 + (double)(k % 2);\n"
    "    t[k][2] = wy * wx, t[k][3] = k % 2 ? wy : -wy, t[k][4] = k / 2 ? wx : -wx;\n"
    "  }\n"
    "  return 4;\n"
    "}\n\n"
    "/* The offset of tap t in the plane, or -1 outside (zeros there). */\n"
    "static ptrdiff_t grid_sample_at(const double t[5], int h, int w) {\n"
    "  if (!(t[0] >= 0.0 && t[0] < (double)h && t[1] >= 0.0 && t[1] < (double)w)) return -1;\n"
    "  return (ptrdiff_t)t[0] * w + (ptrdiff_t)t[1];\n"
    "}\n\n";

/* Per grid point, its taps once, then each channel's plane. */
static void grid_emit_loops(Emit *e, Value *x, Value *gr, const char *hw, const GridSpec *s) {
  emit_open(e, "for (size_t nb = 0; nb < %s; nb++)", emit_dim(e, x, 0));
  emit_open(e, "for (size_t p = 0; p < %s; p++)", hw);
  emit_line(e, "const size_t q = (nb * %s + p) * 2; /* grid point (x, y) */", hw);
  emit_line(e, "double t[16][5], ds[2];");
  emit_line(e, "const int ntap = grid_sample_taps(%s, %s, %s[q], %s[q + 1], %d, %d, %d, t, ds);", emit_dim(e, x, 2),
            emit_dim(e, x, 3), emit_ref(e, gr), emit_ref(e, gr), s->mode, s->pad, s->align);
}

void grid_sample_emit(Emit *e, Node *n) {
  GridSpec s;
  NN2C_ASSERT(!grid_spec(n, &s));
  Value *x = n->in[0], *y = n->out[0];
  const char *C = emit_dim(e, x, 1), *hw = emit_numel_range(e, y, 2, 4), *plane = emit_numel_range(e, x, 2, 4);
  helpers_once(e, grid_helpers);
  grid_emit_loops(e, x, n->in[1], hw, &s);
  emit_open(e, "for (size_t k = 0; k < %s; k++)", C);
  emit_line(e, "const %s *xp = %s + (nb * %s + k) * %s;", emit_ctype(x->dtype), emit_ref(e, x), C, plane);
  emit_line(e, "double acc = 0.0;");
  emit_open(e, "for (int i = 0; i < ntap; i++)");
  emit_line(e, "const ptrdiff_t off = grid_sample_at(t[i], %s, %s);", emit_dim(e, x, 2), emit_dim(e, x, 3));
  emit_line(e, "if (off >= 0) acc += t[i][2] * xp[off];");
  emit_close(e);
  emit_line(e, "%s[(nb * %s + k) * %s + p] = (%s)acc;", emit_ref(e, y), C, hw, emit_ctype(y->dtype));
  for (int k = 0; k < 3; k++)
    emit_close(e);
}

/* dx = 0; per grid point: dx += dy * weight at each tap; dgrid = the channels'
 * dy * (d weight * x) summed, times d position / d grid. */
void grid_sample_grad_emit(Emit *e, Node *n) {
  GridSpec s;
  NN2C_ASSERT(!grid_spec(n, &s));
  Value *dy = n->in[0], *x = n->in[1], *dx = n->out[0], *dg = n->out[1];
  const char *C = emit_dim(e, x, 1), *hw = emit_numel_range(e, dy, 2, 4), *plane = emit_numel_range(e, x, 2, 4);
  helpers_once(e, grid_helpers);
  emit_line(e, "memset(%s, 0, sizeof(float) * %s);", emit_ref(e, dx), emit_numel(e, dx));
  grid_emit_loops(e, x, n->in[2], hw, &s);
  emit_line(e, "double gx = 0.0, gy = 0.0;");
  emit_open(e, "for (size_t k = 0; k < %s; k++)", C);
  const char *ty = emit_ctype(x->dtype);
  emit_line(e, "const %s *xp = %s + (nb * %s + k) * %s;", ty, emit_ref(e, x), C, plane);
  emit_line(e, "%s *dxp = %s + (nb * %s + k) * %s;", ty, emit_ref(e, dx), C, plane);
  emit_line(e, "const double g = %s[(nb * %s + k) * %s + p];", emit_ref(e, dy), C, hw);
  emit_open(e, "for (int i = 0; i < ntap; i++)");
  emit_line(e, "const ptrdiff_t off = grid_sample_at(t[i], %s, %s);", emit_dim(e, x, 2), emit_dim(e, x, 3));
  emit_line(e, "if (off < 0) continue;");
  emit_line(e, "dxp[off] += (%s)(g * t[i][2]);", ty);
  emit_line(e, "gx += g * t[i][3] * xp[off], gy += g * t[i][4] * xp[off];");
  emit_close(e);
  emit_close(e);
  emit_line(e, "%s[q] = (%s)(gx * ds[0]), %s[q + 1] = (%s)(gy * ds[1]);", emit_ref(e, dg), emit_ctype(dg->dtype),
            emit_ref(e, dg), emit_ctype(dg->dtype));
  emit_close(e);
  emit_close(e);
}

/* ---- RoiAlign ---- */

typedef struct {
  int64_t oh, ow, ratio;
  double scale, offset; /* offset 0.5: half_pixel */
  bool max;
} RoiSpec;

static const char *roi_spec(const Node *n, RoiSpec *s) {
  static const char *const modes[] = {"avg", "max", NULL}, *const coords[] = {"output_half_pixel", "half_pixel", NULL};
  int mode = name_in(modes, node_string(n, "mode", "avg"));
  int coord = name_in(coords, node_string(n, "coordinate_transformation_mode",
                                          node_int(n, "opset", 16) < 16 ? "output_half_pixel" : "half_pixel"));
  s->oh = node_int(n, "output_height", 1), s->ow = node_int(n, "output_width", 1);
  s->ratio = node_int(n, "sampling_ratio", 0);
  s->scale = node_float(n, "spatial_scale", 1), s->offset = coord == 1 ? 0.5 : 0;
  s->max = mode == 1;
  if (mode < 0 || coord < 0) return "unknown mode or coordinate_transformation_mode";
  return s->oh < 1 || s->ow < 1 || s->ratio < 0 ? "needs output_height, output_width >= 1, sampling_ratio >= 0" : NULL;
}

/* roi_align(x, rois, batch_indices) -> y; roi_align_grad(dy, x, rois, batch_indices) -> dx. */
const char *roi_align_infer(Graph *g, Node *n) {
  RoiSpec s;
  bool grad = n->op == OP_ROI_ALIGN_GRAD;
  Value *x = n->in[grad], *rv = n->in[grad + 1], *iv = n->in[grad + 2];
  Shape r = rv->shape, bi = iv->shape, ys = shape_make(4, (int64_t[]){r.d[0], x->shape.d[1], 0, 0});
  const char *err = roi_spec(n, &s);
  if (!err) err = nchw_float(x);
  if (!err && (rv->dtype != x->dtype || r.rank != 2 || r.d[1] != 4)) err = "rois must be [R,4] of X's dtype";
  if (!err && (dtype_is_float(iv->dtype) || iv->dtype == DT_BOOL || bi.rank != 1 || bi.d[0] != r.d[0]))
    err = "batch_indices must be integers [R]";
  ys.d[2] = s.oh, ys.d[3] = s.ow;
  if (!err && grad && !shape_eq(n->in[0]->shape, ys)) err = "dy does not match the output";
  if (err) return err;
  n->out[0]->dtype = x->dtype;
  n->out[0]->shape = grad ? x->shape : ys;
  (void)g;
  return NULL;
}
const char *roi_align_grad_infer(Graph *g, Node *n) { return roi_align_infer(g, n); }

/* Samples per bin along an axis: the ratio, else ceil(bin size); at most
 * 4096 so that a huge or NaN box keeps the loop bounded. */
static int64_t roi_grid(const RoiSpec *s, double bin) {
  double v = ceil(bin);
  return s->ratio > 0 ? s->ratio : v >= 1 ? (v < 4096 ? (int64_t)v : 4096) : 0;
}

/* The taps of bilinear sample (y, x): 4 plane offsets and weights, or none
 * (returns 0) more than a pixel outside. */
static int roi_taps(int64_t h, int64_t w, double y, double x, int64_t *off, double *wt) {
  if (!(y >= -1 && y <= (double)h && x >= -1 && x <= (double)w)) return 0;
  y = fmax(y, 0), x = fmax(x, 0);
  int64_t y0 = (int64_t)y, x0 = (int64_t)x, y1 = y0 + 1, x1 = x0 + 1;
  if (y0 >= h - 1) y0 = y1 = h - 1, y = (double)y0;
  if (x0 >= w - 1) x0 = x1 = w - 1, x = (double)x0;
  double ly = y - (double)y0, lx = x - (double)x0;
  int64_t o[4] = {y0 * w + x0, y0 * w + x1, y1 * w + x0, y1 * w + x1};
  double q[4] = {(1 - ly) * (1 - lx), (1 - ly) * lx, ly * (1 - lx), ly * lx};
  memcpy(off, o, sizeof o), memcpy(wt, q, sizeof q);
  return 4;
}

/* Bin (ph, pw) of the plane at base: the mean of its samples, or (max) the
 * largest weighted tap of any. With dx, also adds dy's share to the taps read. */
static double roi_bin(const RoiSpec *s, const Tensor *t, Tensor *dx, double dy, int64_t base, int64_t h, int64_t w,
                      const double *box, int64_t ph, int64_t pw) {
  double x0 = box[0] * s->scale - s->offset, y0 = box[1] * s->scale - s->offset;
  double rw = box[2] * s->scale - s->offset - x0, rh = box[3] * s->scale - s->offset - y0;
  if (s->offset == 0) rw = fmax(rw, 1), rh = fmax(rh, 1);
  double bh = rh / (double)s->oh, bw = rw / (double)s->ow, acc = 0, bestw = 0, wt[4];
  int64_t gh = roi_grid(s, bh), gw = roi_grid(s, bw), off[4], best = -1;
  for (int64_t iy = 0; iy < gh; iy++)
    for (int64_t ix = 0; ix < gw; ix++) {
      int nt = roi_taps(h, w, y0 + (double)ph * bh + ((double)iy + 0.5) * bh / (double)gh,
                        x0 + (double)pw * bw + ((double)ix + 0.5) * bw / (double)gw, off, wt);
      double v = 0, aw = 0;
      int64_t arg = -1;
      for (int k = 0; k < nt; k++) {
        double q = wt[k] * tensor_get(t, base + off[k]);
        if (!s->max) v += q;
        if (!s->max && dx)
          tensor_set(dx, base + off[k], tensor_get(dx, base + off[k]) + dy * wt[k] / (double)(gh * gw));
        if (s->max && (k == 0 || q > v)) v = q, arg = off[k], aw = wt[k];
      }
      if (!s->max)
        acc += v;
      else if ((iy == 0 && ix == 0) || v > acc)
        acc = v, best = arg, bestw = aw;
    }
  if (dx && best >= 0) tensor_set(dx, base + best, tensor_get(dx, base + best) + dy * bestw);
  return s->max || gh * gw == 0 ? acc : acc / (double)(gh * gw);
}

/* in: (x, rois, idx) with dy NULL (forward), or after dy (gradient: out = dx). */
static void roi_eval(EvalCtx *cx, const Node *n, Tensor *dy, Tensor **in, Tensor *out) {
  RoiSpec s;
  NN2C_ASSERT(!roi_spec(n, &s));
  const int64_t *xd = in[0]->shape.d, nr = in[1]->shape.d[0], plane = xd[2] * xd[3], bins = s.oh * s.ow;
  for (int64_t i = 0; dy && i < out->numel; i++)
    tensor_set(out, i, 0);
  for (int64_t r = 0; r < nr; r++) {
    int64_t b = (int64_t)tensor_get(in[2], r);
    double box[4];
    if (b < 0 || b >= xd[0]) {
      cx->error = "RoiAlign: batch index out of range";
      return;
    }
    for (int k = 0; k < 4; k++)
      box[k] = tensor_get(in[1], r * 4 + k);
    for (int64_t c = 0; c < xd[1]; c++)
      for (int64_t p = 0; p < bins; p++) {
        int64_t yi = (r * xd[1] + c) * bins + p, base = (b * xd[1] + c) * plane;
        double v = roi_bin(&s, in[0], dy ? out : NULL, dy ? tensor_get(dy, yi) : 0, base, xd[2], xd[3], box, p / s.ow,
                           p % s.ow);
        if (!dy) tensor_set(out, yi, v);
      }
  }
}

void roi_align_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) { roi_eval(cx, n, NULL, in, out[0]); }
void roi_align_grad_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) { roi_eval(cx, n, in[0], in + 1, out[0]); }

void roi_align_grad(Graph *g, Node *n, Value **dy, Value **dx) {
  Value *in[4] = {dy[0], n->in[0], n->in[1], n->in[2]};
  Node *m = build_node(g, OP_ROI_ALIGN_GRAD, 4, in);
  node_copy_attrs(g, m, n);
  dx[0] = build_finish(g, m);
}
void roi_align_grad_grad(Graph *g, Node *n, Value **dy, Value **dx) { (void)g, (void)n, (void)dy, (void)dx; }

static const char *roi_helpers =
    "/* RoiAlign: the taps of bilinear sample (y, x) of an h x w plane: 4 offsets and weights,\n"
    " * or none (returns 0) more than a pixel outside. */\n"
    "static int roi_align_taps(int h, int w, double y, double x, ptrdiff_t o[4], double t[4]) {\n"
    "  if (!(y >= -1.0 && y <= (double)h && x >= -1.0 && x <= (double)w)) return 0;\n"
    "  y = y > 0.0 ? y : 0.0, x = x > 0.0 ? x : 0.0;\n"
    "  int y0 = (int)y, x0 = (int)x, y1 = y0 + 1, x1 = x0 + 1;\n"
    "  if (y0 >= h - 1) y0 = y1 = h - 1, y = (double)y0;\n"
    "  if (x0 >= w - 1) x0 = x1 = w - 1, x = (double)x0;\n"
    "  double ly = y - (double)y0, lx = x - (double)x0;\n"
    "  o[0] = (ptrdiff_t)y0 * w + x0, o[1] = (ptrdiff_t)y0 * w + x1;\n"
    "  o[2] = (ptrdiff_t)y1 * w + x0, o[3] = (ptrdiff_t)y1 * w + x1;\n"
    "  t[0] = (1.0 - ly) * (1.0 - lx), t[1] = (1.0 - ly) * lx, t[2] = ly * (1.0 - lx), t[3] = ly * lx;\n"
    "  return 4;\n"
    "}\n\n"
    "/* Samples per bin along an axis: the ratio, else ceil(bin size), at most 4096. */\n"
    "static int roi_align_grid(int ratio, double bin) {\n"
    "  double v = ceil(bin);\n"
    "  return ratio > 0 ? ratio : v >= 1.0 ? (v < 4096.0 ? (int)v : 4096) : 0;\n"
    "}\n\n";

/* Written once per data type ("real" becomes float or double). */
static const char *roi_bin_helper =
    "/* Bin (ph, pw) of an oh x ow split of box (x1,y1,x2,y2), scaled and shifted by -offset: the\n"
    " * mean of its samples, or (max) the largest weighted tap (as onnxruntime does). With dx, it\n"
    " * also adds dy's share to each tap read. */\n"
    "static real roi_align_bin_real(const real *x, real *dx, double dy, int h, int w, const real *box,\n"
    "                               double scale, double offset, int oh, int ow, int ph, int pw, int ratio, int max) "
    "{\n"
    "  double x0 = box[0] * scale - offset, y0 = box[1] * scale - offset;\n"
    "  double rw = box[2] * scale - offset - x0, rh = box[3] * scale - offset - y0;\n"
    "  if (offset == 0.0) rw = rw > 1.0 ? rw : 1.0, rh = rh > 1.0 ? rh : 1.0;\n"
    "  double bh = rh / (double)oh, bw = rw / (double)ow, acc = 0.0, bestw = 0.0, t[4];\n"
    "  int gh = roi_align_grid(ratio, bh), gw = roi_align_grid(ratio, bw);\n"
    "  ptrdiff_t o[4], best = -1;\n"
    "  for (int iy = 0; iy < gh; iy++)\n"
    "    for (int ix = 0; ix < gw; ix++) {\n"
    "      int nt = roi_align_taps(h, w, y0 + (double)ph * bh + ((double)iy + 0.5) * bh / (double)gh,\n"
    "                              x0 + (double)pw * bw + ((double)ix + 0.5) * bw / (double)gw, o, t);\n"
    "      double v = 0.0, aw = 0.0;\n"
    "      ptrdiff_t arg = -1;\n"
    "      for (int k = 0; k < nt; k++) {\n"
    "        double q = t[k] * x[o[k]];\n"
    "        if (!max) v += q;\n"
    "        if (!max && dx) dx[o[k]] += (real)(dy * t[k] / (double)(gh * gw));\n"
    "        if (max && (k == 0 || q > v)) v = q, arg = o[k], aw = t[k];\n"
    "      }\n"
    "      if (!max)\n"
    "        acc += v;\n"
    "      else if ((iy == 0 && ix == 0) || v > acc)\n"
    "        acc = v, best = arg, bestw = aw;\n"
    "    }\n"
    "  if (dx && best >= 0) dx[best] += (real)(dy * bestw);\n"
    "  return (real)(max || gh * gw == 0 ? acc : acc / (double)(gh * gw));\n"
    "}\n\n";

/* Per roi, channel and bin: y = the bin (forward), or dx += dy's share (after zeroing dx). */
static void roi_emit(Emit *e, Node *n, bool grad) {
  RoiSpec s;
  NN2C_ASSERT(!roi_spec(n, &s));
  Value *x = n->in[grad], *rois = n->in[grad + 1], *y = n->out[0];
  const char *ty = emit_ctype(x->dtype), *C = emit_dim(e, x, 1), *plane = emit_numel_range(e, x, 2, 4);
  Buf hb = {0};
  for (const char *p = roi_bin_helper; *p; p++)
    if (!strncmp(p, "real", 4))
      buf_puts(&hb, ty), p += 3;
    else
      buf_printf(&hb, "%c", *p);
  helpers_once(e, roi_helpers);
  helpers_once(e, hb.data);
  buf_free(&hb);
  if (grad) emit_line(e, "memset(%s, 0, sizeof(%s) * %s);", emit_ref(e, y), ty, emit_numel(e, y));
  emit_open(e, "for (size_t r = 0; r < %s; r++)", emit_dim(e, rois, 0));
  emit_line(e, "const ptrdiff_t nb = (ptrdiff_t)%s[r];", emit_ref(e, n->in[grad + 2]));
  emit_line(e, "if (nb < 0 || nb >= (ptrdiff_t)%s) return 2; /* batch index out of range */", emit_dim(e, x, 0));
  emit_open(e, "for (size_t k = 0; k < %s; k++)", C);
  emit_open(e, "for (int p = 0; p < %lld; p++)", (long long)(s.oh * s.ow));
  const char *at = arena_printf(&e->g->arena, "((size_t)nb * %s + k) * %s", C, plane);
  const char *yi = arena_printf(&e->g->arena, "(r * %s + k) * %lld + (size_t)p", C, (long long)(s.oh * s.ow));
  if (grad)
    emit_line(e, "(void)roi_align_bin_%s(%s + %s, %s + %s, %s[%s], %s, %s, %s + r * 4,", ty, emit_ref(e, x), at,
              emit_ref(e, y), at, emit_ref(e, n->in[0]), yi, emit_dim(e, x, 2), emit_dim(e, x, 3), emit_ref(e, rois));
  else
    emit_line(e, "%s[%s] = roi_align_bin_%s(%s + %s, NULL, 0.0, %s, %s, %s + r * 4,", emit_ref(e, y), yi, ty,
              emit_ref(e, x), at, emit_dim(e, x, 2), emit_dim(e, x, 3), emit_ref(e, rois));
  emit_line(e, "    %.17g, %.17g, %lld, %lld, p / %lld, p %% %lld, %lld, %d);", s.scale, s.offset, (long long)s.oh,
            (long long)s.ow, (long long)s.ow, (long long)s.ow, (long long)s.ratio, s.max);
  emit_close(e);
  emit_close(e);
  emit_close(e);
}

void roi_align_emit(Emit *e, Node *n) { roi_emit(e, n, false); }
void roi_align_grad_emit(Emit *e, Node *n) { roi_emit(e, n, true); }
