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
 *   the largest of a sample's four weighted taps, as onnxruntime and ONNX's
 *   reference do. Batch indices out of range are bad data (status 2).
 *
 * The interpreter computes in double; the emitted code calls static helpers
 * written once per model (float data; GridSample's positions and weights in
 * double, since bicubic's 16 taps cancel). Neither op has a gradient rule
 * yet, so autodiff refuses to train through them. */
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

static const char *nchw_f32(const Value *x) {
  if (x->dtype != DT_F32) return "needs f32 inputs";
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

const char *grid_sample_infer(Graph *g, Node *n) {
  GridSpec s;
  Shape x = n->in[0]->shape, gr = n->in[1]->shape;
  const char *err = grid_spec(n, &s);
  if (!err) err = nchw_f32(n->in[0]);
  if (!err && (n->in[1]->dtype != DT_F32 || gr.rank != 4 || gr.d[3] != 2 || gr.d[0] != x.d[0]))
    err = "grid must be f32 [N,Ho,Wo,2] with X's N";
  if (err) return err;
  n->out[0]->dtype = DT_F32;
  n->out[0]->shape = shape_make(4, (int64_t[]){x.d[0], x.d[1], gr.d[1], gr.d[2]});
  (void)g;
  return NULL;
}

/* The pixel position of normalized coordinate v along an axis of `size` pixels. */
static double grid_unnormalize(double v, int64_t size, bool align) {
  return align ? (v + 1) / 2 * (double)(size - 1) : ((v + 1) * (double)size - 1) / 2;
}

/* Border clamps into [0, size-1]; reflection mirrors at the first and last
 * pixel centres (align) or outer edges, then clamps. */
static double grid_pad(const GridSpec *s, double v, int64_t size) {
  if (s->pad == 0) return v;
  if (s->pad == 2) {
    double lo = s->align ? 0 : -0.5, span = s->align ? (double)(size - 1) : (double)size;
    if (span <= 0) return 0;
    double d = fabs(v - lo), extra = fmod(d, span);
    v = fmod(floor(d / span), 2) == 0 ? lo + extra : lo + span - extra;
  }
  return fmin(fmax(v, 0), (double)(size - 1));
}

static double grid_tap(const Tensor *x, int64_t base, int64_t h, int64_t w, double y, double xx) {
  if (!(y >= 0 && y < (double)h && xx >= 0 && xx < (double)w)) return 0;
  return tensor_get(x, base + (int64_t)y * w + (int64_t)xx);
}

static double grid_cubic(double d) { /* Keys' kernel, A = -0.75 */
  double A = -0.75;
  d = fabs(d);
  return d <= 1 ? ((A + 2) * d - (A + 3)) * d * d + 1 : ((A * d - 5 * A) * d + 8 * A) * d - 4 * A;
}

static double grid_point(const GridSpec *s, const Tensor *x, int64_t base, int64_t h, int64_t w, double gx, double gy) {
  double fx = grid_unnormalize(gx, w, s->align), fy = grid_unnormalize(gy, h, s->align), acc = 0;
  if (s->mode == 2) {
    double x0 = floor(fx), y0 = floor(fy);
    for (int i = -1; i <= 2; i++)
      for (int j = -1; j <= 2; j++)
        acc += grid_cubic(fy - y0 - i) * grid_cubic(fx - x0 - j) *
               grid_tap(x, base, h, w, grid_pad(s, y0 + i, h), grid_pad(s, x0 + j, w));
    return acc;
  }
  fx = grid_pad(s, fx, w), fy = grid_pad(s, fy, h);
  if (s->mode == 1) return grid_tap(x, base, h, w, nearbyint(fy), nearbyint(fx));
  double x0 = floor(fx), y0 = floor(fy);
  for (int i = 0; i <= 1; i++)
    for (int j = 0; j <= 1; j++)
      acc += (i ? fy - y0 : 1 - (fy - y0)) * (j ? fx - x0 : 1 - (fx - x0)) * grid_tap(x, base, h, w, y0 + i, x0 + j);
  return acc;
}

void grid_sample_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  GridSpec s;
  NN2C_ASSERT(!grid_spec(n, &s));
  const int64_t *xd = in[0]->shape.d, *gd = in[1]->shape.d, hw = gd[1] * gd[2];
  (void)cx;
  for (int64_t b = 0; b < xd[0]; b++)
    for (int64_t c = 0; c < xd[1]; c++)
      for (int64_t p = 0; p < hw; p++) {
        int64_t gi = (b * hw + p) * 2, base = (b * xd[1] + c) * xd[2] * xd[3];
        double v = grid_point(&s, in[0], base, xd[2], xd[3], tensor_get(in[1], gi), tensor_get(in[1], gi + 1));
        tensor_set(out[0], (b * xd[1] + c) * hw + p, v);
      }
}

void grid_sample_grad(Graph *g, Node *n, Value **dy, Value **dx) { (void)g, (void)n, (void)dy, (void)dx; }

static const char *grid_helpers =
    "/* GridSample (ONNX opset 16, PyTorch's grid_sample): mode 0 bilinear, 1 nearest,\n"
    " * 2 bicubic; pad 0 zeros, 1 border (clamp), 2 reflection (mirror, then clamp).\n"
    " * Positions and weights in double: bicubic sums of 16 taps cancel badly in float. */\n"
    "static double grid_sample_pad(double v, int size, int pad, int align) {\n"
    "  if (pad == 0) return v;\n"
    "  if (pad == 2) {\n"
    "    double lo = align ? 0.0 : -0.5, span = align ? (double)(size - 1) : (double)size;\n"
    "    if (span <= 0.0) return 0.0;\n"
    "    double d = fabs(v - lo), extra = fmod(d, span);\n"
    "    v = fmod(floor(d / span), 2.0) == 0.0 ? lo + extra : lo + span - extra;\n"
    "  }\n"
    "  return v < 0.0 ? 0.0 : v > (double)(size - 1) ? (double)(size - 1) : v;\n"
    "}\n\n"
    "static double grid_sample_tap(const float *x, int h, int w, double y, double xx) {\n"
    "  if (!(y >= 0.0 && y < (double)h && xx >= 0.0 && xx < (double)w)) return 0.0; /* zeros outside */\n"
    "  return x[(size_t)y * (size_t)w + (size_t)xx];\n"
    "}\n\n"
    "static double grid_sample_cubic(double d) { /* Keys' kernel, A = -0.75 */\n"
    "  d = fabs(d);\n"
    "  return d <= 1.0 ? (1.25 * d - 2.25) * d * d + 1.0 : ((-0.75 * d + 3.75) * d - 6.0) * d + 3.0;\n"
    "}\n\n"
    "/* Plane x [h,w] at normalized (gx, gy) in [-1, 1]. */\n"
    "static float grid_sample_point(const float *x, int h, int w, double gx, double gy, int mode, int pad,\n"
    "                               int align) {\n"
    "  double fx = align ? (gx + 1.0) * 0.5 * (double)(w - 1) : ((gx + 1.0) * (double)w - 1.0) * 0.5;\n"
    "  double fy = align ? (gy + 1.0) * 0.5 * (double)(h - 1) : ((gy + 1.0) * (double)h - 1.0) * 0.5;\n"
    "  double acc = 0.0;\n"
    "  if (mode == 2) { /* 4x4 taps around the unpadded point, each tap padded */\n"
    "    double x0 = floor(fx), y0 = floor(fy);\n"
    "    for (int i = -1; i <= 2; i++)\n"
    "      for (int j = -1; j <= 2; j++)\n"
    "        acc += grid_sample_cubic(fy - y0 - (double)i) * grid_sample_cubic(fx - x0 - (double)j) *\n"
    "               grid_sample_tap(x, h, w, grid_sample_pad(y0 + (double)i, h, pad, align),\n"
    "                               grid_sample_pad(x0 + (double)j, w, pad, align));\n"
    "    return (float)acc;\n"
    "  }\n"
    "  fx = grid_sample_pad(fx, w, pad, align), fy = grid_sample_pad(fy, h, pad, align);\n"
    "  if (mode == 1) return (float)grid_sample_tap(x, h, w, nearbyint(fy), nearbyint(fx));\n"
    "  double x0 = floor(fx), y0 = floor(fy), tx = fx - x0, ty = fy - y0;\n"
    "  double top = (1.0 - tx) * grid_sample_tap(x, h, w, y0, x0) + tx * grid_sample_tap(x, h, w, y0, x0 + 1.0);\n"
    "  double bottom = (1.0 - tx) * grid_sample_tap(x, h, w, y0 + 1.0, x0) + tx * grid_sample_tap(x, h, w, y0 + 1.0, "
    "x0 + 1.0);\n"
    "  return (float)((1.0 - ty) * top + ty * bottom);\n"
    "}\n\n";

void grid_sample_emit(Emit *e, Node *n) {
  GridSpec s;
  NN2C_ASSERT(!grid_spec(n, &s));
  Value *x = n->in[0], *gr = n->in[1], *y = n->out[0];
  const char *X = emit_ref(e, x), *G = emit_ref(e, gr), *Y = emit_ref(e, y), *C = emit_dim(e, x, 1);
  const char *hw = emit_numel_range(e, y, 2, 4), *H = emit_dim(e, x, 2), *W = emit_dim(e, x, 3);
  helpers_once(e, grid_helpers);
  emit_open(e, "for (size_t nb = 0; nb < %s; nb++)", emit_dim(e, x, 0));
  emit_open(e, "for (size_t k = 0; k < %s; k++)", C);
  emit_open(e, "for (size_t p = 0; p < %s; p++)", hw);
  emit_line(e, "const size_t q = (nb * %s + p) * 2; /* grid point (x, y) */", hw);
  emit_line(e, "%s[(nb * %s + k) * %s + p] =", Y, C, hw);
  emit_line(e, "    grid_sample_point(%s + (nb * %s + k) * %s, %s, %s, %s[q], %s[q + 1], %d, %d, %d);", X, C,
            emit_numel_range(e, x, 2, 4), H, W, G, G, s.mode, s.pad, s.align);
  emit_close(e);
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

const char *roi_align_infer(Graph *g, Node *n) {
  RoiSpec s;
  Shape r = n->in[1]->shape, bi = n->in[2]->shape;
  const char *err = roi_spec(n, &s);
  if (!err) err = nchw_f32(n->in[0]);
  if (!err && (n->in[1]->dtype != DT_F32 || r.rank != 2 || r.d[1] != 4)) err = "rois must be f32 [R,4]";
  if (!err && (dtype_is_float(n->in[2]->dtype) || n->in[2]->dtype == DT_BOOL || bi.rank != 1 || bi.d[0] != r.d[0]))
    err = "batch_indices must be integers [R]";
  if (err) return err;
  n->out[0]->dtype = DT_F32;
  n->out[0]->shape = shape_make(4, (int64_t[]){r.d[0], n->in[0]->shape.d[1], s.oh, s.ow});
  (void)g;
  return NULL;
}

/* Samples per bin along an axis: the ratio, else ceil(bin size); at most
 * 4096 so that a huge or NaN box keeps the loop bounded. */
static int64_t roi_grid(const RoiSpec *s, double bin) {
  double v = ceil(bin);
  return s->ratio > 0 ? s->ratio : v >= 1 ? (v < 4096 ? (int64_t)v : 4096) : 0;
}

/* One bilinear sample (y, x) of a plane; max mode: the largest weighted tap. */
static double roi_point(const RoiSpec *s, const Tensor *t, int64_t base, int64_t h, int64_t w, double y, double x) {
  if (!(y >= -1 && y <= (double)h && x >= -1 && x <= (double)w)) return 0;
  y = fmax(y, 0), x = fmax(x, 0);
  int64_t y0 = (int64_t)y, x0 = (int64_t)x, y1 = y0 + 1, x1 = x0 + 1;
  if (y0 >= h - 1) y0 = y1 = h - 1, y = (double)y0;
  if (x0 >= w - 1) x0 = x1 = w - 1, x = (double)x0;
  double ly = y - (double)y0, lx = x - (double)x0;
  double v[4] = {(1 - ly) * (1 - lx) * tensor_get(t, base + y0 * w + x0),
                 (1 - ly) * lx * tensor_get(t, base + y0 * w + x1), ly * (1 - lx) * tensor_get(t, base + y1 * w + x0),
                 ly * lx * tensor_get(t, base + y1 * w + x1)};
  return s->max ? fmax(fmax(v[0], v[1]), fmax(v[2], v[3])) : v[0] + v[1] + v[2] + v[3];
}

static double roi_bin(const RoiSpec *s, const Tensor *t, int64_t base, int64_t h, int64_t w, const double *box,
                      int64_t ph, int64_t pw) {
  double x0 = box[0] * s->scale - s->offset, y0 = box[1] * s->scale - s->offset;
  double rw = box[2] * s->scale - s->offset - x0, rh = box[3] * s->scale - s->offset - y0;
  if (s->offset == 0) rw = fmax(rw, 1), rh = fmax(rh, 1);
  double bh = rh / (double)s->oh, bw = rw / (double)s->ow, acc = 0;
  int64_t gh = roi_grid(s, bh), gw = roi_grid(s, bw);
  for (int64_t iy = 0; iy < gh; iy++)
    for (int64_t ix = 0; ix < gw; ix++) {
      double v = roi_point(s, t, base, h, w, y0 + (double)ph * bh + ((double)iy + 0.5) * bh / (double)gh,
                           x0 + (double)pw * bw + ((double)ix + 0.5) * bw / (double)gw);
      acc = !s->max ? acc + v : (iy == 0 && ix == 0) || v > acc ? v : acc;
    }
  return s->max || gh * gw == 0 ? acc : acc / (double)(gh * gw);
}

void roi_align_eval(EvalCtx *cx, Node *n, Tensor **in, Tensor **out) {
  RoiSpec s;
  NN2C_ASSERT(!roi_spec(n, &s));
  const int64_t *xd = in[0]->shape.d, nr = in[1]->shape.d[0], plane = xd[2] * xd[3];
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
      for (int64_t p = 0; p < s.oh * s.ow; p++)
        tensor_set(out[0], (r * xd[1] + c) * s.oh * s.ow + p,
                   roi_bin(&s, in[0], (b * xd[1] + c) * plane, xd[2], xd[3], box, p / s.ow, p % s.ow));
  }
}

void roi_align_grad(Graph *g, Node *n, Value **dy, Value **dx) { (void)g, (void)n, (void)dy, (void)dx; }

static const char *roi_helpers =
    "/* RoiAlign: one bilinear sample (y, x) of plane x [h,w]; 0 more than a pixel outside;\n"
    " * max mode takes the largest weighted tap (as onnxruntime does). */\n"
    "static float roi_align_point(const float *x, int h, int w, float y, float xx, int max) {\n"
    "  if (!(y >= -1.0f && y <= (float)h && xx >= -1.0f && xx <= (float)w)) return 0.0f;\n"
    "  y = y > 0.0f ? y : 0.0f, xx = xx > 0.0f ? xx : 0.0f;\n"
    "  int y0 = (int)y, x0 = (int)xx, y1 = y0 + 1, x1 = x0 + 1;\n"
    "  if (y0 >= h - 1) y0 = y1 = h - 1, y = (float)y0;\n"
    "  if (x0 >= w - 1) x0 = x1 = w - 1, xx = (float)x0;\n"
    "  float ly = y - (float)y0, lx = xx - (float)x0;\n"
    "  float v0 = (1.0f - ly) * (1.0f - lx) * x[y0 * w + x0], v1 = (1.0f - ly) * lx * x[y0 * w + x1];\n"
    "  float v2 = ly * (1.0f - lx) * x[y1 * w + x0], v3 = ly * lx * x[y1 * w + x1];\n"
    "  if (!max) return v0 + v1 + v2 + v3;\n"
    "  v0 = v1 > v0 ? v1 : v0, v2 = v3 > v2 ? v3 : v2;\n"
    "  return v2 > v0 ? v2 : v0;\n"
    "}\n\n"
    "/* Samples per bin along an axis: the ratio, else ceil(bin size), at most 4096. */\n"
    "static int roi_align_grid(int ratio, float bin) {\n"
    "  float v = ceilf(bin);\n"
    "  return ratio > 0 ? ratio : v >= 1.0f ? (v < 4096.0f ? (int)v : 4096) : 0;\n"
    "}\n\n"
    "/* Bin (ph, pw) of an oh x ow split of box (x1,y1,x2,y2), scaled and shifted by -offset. */\n"
    "static float roi_align_bin(const float *x, int h, int w, const float *box, float scale, float offset, int oh,\n"
    "                           int ow, int ph, int pw, int ratio, int max) {\n"
    "  float x0 = box[0] * scale - offset, y0 = box[1] * scale - offset;\n"
    "  float rw = box[2] * scale - offset - x0, rh = box[3] * scale - offset - y0;\n"
    "  if (offset == 0.0f) rw = rw > 1.0f ? rw : 1.0f, rh = rh > 1.0f ? rh : 1.0f;\n"
    "  float bh = rh / (float)oh, bw = rw / (float)ow, acc = 0.0f;\n"
    "  int gh = roi_align_grid(ratio, bh), gw = roi_align_grid(ratio, bw);\n"
    "  for (int iy = 0; iy < gh; iy++)\n"
    "    for (int ix = 0; ix < gw; ix++) {\n"
    "      float v = roi_align_point(x, h, w, y0 + (float)ph * bh + ((float)iy + 0.5f) * bh / (float)gh,\n"
    "                                x0 + (float)pw * bw + ((float)ix + 0.5f) * bw / (float)gw, max);\n"
    "      acc = !max ? acc + v : (iy == 0 && ix == 0) || v > acc ? v : acc;\n"
    "    }\n"
    "  return max || gh * gw == 0 ? acc : acc / (float)(gh * gw);\n"
    "}\n\n";

void roi_align_emit(Emit *e, Node *n) {
  RoiSpec s;
  NN2C_ASSERT(!roi_spec(n, &s));
  Value *x = n->in[0], *rois = n->in[1], *idx = n->in[2], *y = n->out[0];
  const char *X = emit_ref(e, x), *R = emit_ref(e, rois), *I = emit_ref(e, idx), *Y = emit_ref(e, y);
  const char *C = emit_dim(e, x, 1), *plane = emit_numel_range(e, x, 2, 4);
  helpers_once(e, roi_helpers);
  emit_open(e, "for (size_t r = 0; r < %s; r++)", emit_dim(e, rois, 0));
  emit_line(e, "const ptrdiff_t nb = (ptrdiff_t)%s[r];", I);
  emit_line(e, "if (nb < 0 || nb >= (ptrdiff_t)%s) return 2; /* batch index out of range */", emit_dim(e, x, 0));
  emit_open(e, "for (size_t k = 0; k < %s; k++)", C);
  emit_open(e, "for (int p = 0; p < %lld; p++)", (long long)(s.oh * s.ow));
  emit_line(e,
            "%s[(r * %s + k) * %lld + (size_t)p] = roi_align_bin(%s + ((size_t)nb * %s + k) * %s, %s, %s, %s + r * 4,",
            Y, C, (long long)(s.oh * s.ow), X, C, plane, emit_dim(e, x, 2), emit_dim(e, x, 3), R);
  emit_line(e, "    %s, %s, %lld, %lld, p / %lld, p %% %lld, %lld, %d);", emit_float(e, s.scale),
            emit_float(e, s.offset), (long long)s.oh, (long long)s.ow, (long long)s.ow, (long long)s.ow,
            (long long)s.ratio, s.max);
  emit_close(e);
  emit_close(e);
  emit_close(e);
}
