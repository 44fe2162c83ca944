/* nchw.c - the ONNX ops whose layout differs from the IR's: Conv,
 * ConvTranspose, MaxPool, AveragePool and the global pools. ONNX is NCHW
 * with OIHW kernels; conv2d and the pools are NHWC with HWIO kernels, so the
 * handlers transpose around them (constant kernels are transposed at import
 * by folding). 1-D forms run as 2-D with height 1. 3-D ConvTranspose and the
 * pools the 2-D pool ops do not cover (3-D, dilated, with indices) are
 * written out tap by tap in ordinary IR ops. */
#include "onnx/onnx_impl.h"

#include <math.h>
#include <string.h>

static Value *transpose(Imp *I, Value *x, const int64_t *perm) {
  Node *n = imp_mk(I, OP_TRANSPOSE, 1, &x);
  node_set_ints(I->g, n, "perm", perm, x->shape.rank);
  return imp_finish(I, n) ? n->out[0] : NULL;
}

static const int64_t TO_NHWC[4] = {0, 2, 3, 1}, TO_NCHW[4] = {0, 3, 1, 2};

/* A 1-D attribute list (length 1 per spatial axis) as 2-D: height first, 1 or 0. */
static void widen(int64_t *two, const int64_t *one, int64_t h) { two[0] = h, two[1] = one[0]; }

typedef struct {
  int64_t k[2], s[2], d[2], p[4]; /* kernel, strides, dilations, pads top left bottom right */
} Window;

/* Window attributes of Conv/pools for input x (N,C,H,W after 1-D widening);
 * kernel k given by the caller. false after an error. */
static bool window_attrs(Imp *I, NodeP *np, Shape x, bool one_d, Window *w) {
  const Onnx__AttributeProto *a;
  int sp = one_d ? 1 : 2;
  int64_t s[2] = {1, 1}, d[2] = {1, 1}, p[4] = {0, 0, 0, 0};
  if ((a = imp_attr(np, "strides")) && (int)a->n_ints == sp) memcpy(s, a->ints, sizeof(int64_t) * (size_t)sp);
  if ((a = imp_attr(np, "dilations")) && (int)a->n_ints == sp) memcpy(d, a->ints, sizeof(int64_t) * (size_t)sp);
  if ((a = imp_attr(np, "pads")) && (int)a->n_ints == 2 * sp) memcpy(p, a->ints, sizeof(int64_t) * (size_t)(2 * sp));
  if (one_d) {
    widen(w->s, s, 1), widen(w->d, d, 1);
    int64_t q[4] = {0, p[0], 0, p[1]};
    memcpy(w->p, q, sizeof q);
  } else
    memcpy(w->s, s, sizeof s), memcpy(w->d, d, sizeof d), memcpy(w->p, p, sizeof p);
  for (int i = 0; i < 4; i++) {
    bool ok = w->p[i] >= 0 && w->p[i] <= LIMIT_WINDOW;
    if (i < 2)
      ok = ok && w->s[i] >= 1 && w->s[i] <= LIMIT_WINDOW && w->d[i] >= 1 && w->d[i] <= LIMIT_WINDOW && w->k[i] >= 1 &&
           w->k[i] <= LIMIT_WINDOW;
    if (!ok)
      return imp_fail(I, "kernel, strides and dilations must be in [1, %d] and pads in [0, %d]", LIMIT_WINDOW,
                      LIMIT_WINDOW);
  }
  const Onnx__AttributeProto *ap = imp_attr(np, "auto_pad");
  char mode[32] = "NOTSET";
  if (ap && ap->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING)
    snprintf(mode, sizeof mode, "%.*s", (int)ap->s.len, (const char *)ap->s.data);
  for (int i = 0; i < 2; i++) {
    int64_t in = x.d[2 + i], out = (in + w->s[i] - 1) / w->s[i];
    int64_t total = (out - 1) * w->s[i] + (w->k[i] - 1) * w->d[i] + 1 - in;
    if (total < 0) total = 0;
    if (!strcmp(mode, "VALID"))
      w->p[i] = w->p[i + 2] = 0;
    else if (!strcmp(mode, "SAME_UPPER"))
      w->p[i] = total / 2, w->p[i + 2] = total - total / 2;
    else if (!strcmp(mode, "SAME_LOWER"))
      w->p[i + 2] = total / 2, w->p[i] = total - total / 2;
    else if (strcmp(mode, "NOTSET"))
      return imp_fail(I, "unknown auto_pad '%s'", mode);
  }
  return true;
}

static void set_window(Imp *I, Node *n, const Window *w, bool conv) {
  node_set_ints(I->g, n, "strides", w->s, 2);
  node_set_ints(I->g, n, "pads", w->p, 4);
  if (conv) node_set_ints(I->g, n, "dilations", w->d, 2);
}

/* x as NCHW (a 1-D NCL input gets height 1), or NULL. */
static Value *as_2d(Imp *I, Value *x, bool *one_d) {
  *one_d = x->shape.rank == 3;
  if (x->shape.rank != 3 && x->shape.rank != 4)
    return imp_unsupported(I, I->node->op_type, "%s on rank %d input (only 1-D and 2-D)", I->node->op_type,
                           x->shape.rank),
           NULL;
  if (!*one_d) return x;
  Shape s = x->shape;
  return imp_reshape_to(I, x, shape_make(4, (int64_t[]){s.d[0], s.d[1], 1, s.d[2]}));
}

/* The NHWC result back to NCHW (and to NCL for 1-D). */
static bool from_nhwc(Imp *I, Value *y, bool one_d, Value **out) {
  Value *t = transpose(I, y, TO_NCHW);
  if (!t) return false;
  if (one_d) t = imp_reshape_to(I, t, shape_make(3, (int64_t[]){t->shape.d[0], t->shape.d[1], t->shape.d[3]}));
  return (*out = t) != NULL;
}

/* Conv and ConvTranspose: x and w (2-D forms) and the kernel size of w. */
static bool conv_operands(Imp *I, Value **in, int nin, Value **x, Value **w, Window *win, bool *one_d) {
  if (!imp_need_inputs(I, in, nin, 2, 3)) return false;
  *x = as_2d(I, in[0], one_d);
  *w = *x ? as_2d(I, in[1], one_d) : NULL;
  if (!*w) return false;
  win->k[0] = (*w)->shape.d[2], win->k[1] = (*w)->shape.d[3];
  return true;
}

Value *nchw_conv_nhwc(Imp *I, NodeP *np, OpKind op, Value **in, Value **extra, int nextra, bool *one_d) {
  Value *x, *w;
  Window win;
  if (!conv_operands(I, in, 2, &x, &w, &win, one_d) || !window_attrs(I, np, x->shape, *one_d, &win)) return NULL;
  Value *xt = transpose(I, x, TO_NHWC), *wt = xt ? transpose(I, w, (const int64_t[]){2, 3, 1, 0}) : NULL;
  if (!wt) return NULL;
  Value *args[2 + MAX_RANK] = {xt, wt};
  for (int i = 0; i < nextra && i < MAX_RANK; i++)
    args[2 + i] = extra[i];
  Node *n = imp_mk(I, op, 2 + nextra, args);
  set_window(I, n, &win, true);
  node_set_int(I->g, n, "groups", imp_attr_i(np, "group", 1));
  return imp_finish(I, n) ? n->out[0] : NULL;
}

bool nchw_from_nhwc(Imp *I, Value *y, bool one_d, Value **out) { return y && from_nhwc(I, y, one_d, out); }

bool nchw_conv(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  if (nin >= 2 && in[0] && in[0]->shape.rank == 5) return nchw_conv3d(I, np, in, nin, out);
  bool one_d;
  if (!imp_need_inputs(I, in, nin, 2, 3)) return false;
  Value *y = nchw_conv_nhwc(I, np, OP_CONV2D, in, in + 2, nin == 3 && in[2] ? 1 : 0, &one_d);
  return nchw_from_nhwc(I, y, one_d, out);
}

/* x (channels last) with s - 1 zeros after each element of `axis` but the last. */
static Value *zero_insert(Imp *I, Value *x, int axis, int64_t s) {
  Shape a = x->shape, b;
  for (int i = a.rank; i > axis + 1; i--)
    a.d[i] = a.d[i - 1];
  a.d[axis + 1] = 1, a.rank++, b = a, b.d[axis + 1] = s - 1;
  Value *z = value_new(I->g, "zeros", VK_CONST, x->dtype, b), *in[2] = {imp_reshape_to(I, x, a), z};
  z->data = arena_alloc(&I->g->arena, (size_t)(shape_numel_static(b) * dtype_size(x->dtype)) + 8);
  memset(z->data, 0, (size_t)(shape_numel_static(b) * dtype_size(x->dtype)));
  Node *n = in[0] ? imp_mk(I, OP_CONCAT, 2, in) : NULL;
  if (!n) return NULL;
  node_set_int(I->g, n, "axis", axis + 1);
  Shape c = x->shape;
  c.d[axis] *= s;
  return imp_finish(I, n) ? imp_take(I, imp_reshape_to(I, n->out[0], c), axis, 0, (x->shape.d[axis] - 1) * s + 1, 1)
                          : NULL;
}

/* 3-D ConvTranspose (one group): per kernel tap, the channels-last input
 * (zeros inserted for strides) times that tap's [Ci, Co] matrix, shifted into
 * place by a pad (negative pads crop) and summed. */
static bool conv_transpose_taps(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  Value *x = in[0], *w = in[1];
  int S = 3;
  int64_t st[3] = {1, 1, 1}, dl[3] = {1, 1, 1}, p[6] = {0}, op[3] = {0}, taps = 1;
  const Onnx__AttributeProto *a;
  if (w->shape.rank != 5 || w->shape.d[0] != x->shape.d[1] || imp_attr_i(np, "group", 1) != 1 ||
      imp_attr(np, "output_shape") ||
      (imp_attr(np, "auto_pad") && strncmp((const char *)imp_attr(np, "auto_pad")->s.data, "NOTSET", 6)))
    return imp_unsupported(I, "ConvTranspose", "3-D ConvTranspose with groups, output_shape or auto_pad");
  if ((a = imp_attr(np, "strides")) && a->n_ints == 3) memcpy(st, a->ints, sizeof st);
  if ((a = imp_attr(np, "dilations")) && a->n_ints == 3) memcpy(dl, a->ints, sizeof dl);
  if ((a = imp_attr(np, "pads")) && a->n_ints == 6) memcpy(p, a->ints, sizeof p);
  if ((a = imp_attr(np, "output_padding")) && a->n_ints == 3) memcpy(op, a->ints, sizeof op);
  for (int i = 0; i < S; i++) {
    if (st[i] < 1 || st[i] > 64 || dl[i] < 1 || p[i] < 0 || p[S + i] < 0)
      return imp_fail(I, "bad strides, dilations or pads");
    taps *= w->shape.d[2 + i];
  }
  if (taps > 512) return imp_unsupported(I, "ConvTranspose", "3-D ConvTranspose with more than 512 kernel taps");
  int64_t ci = x->shape.d[1], co = w->shape.d[1];
  Value *xt = transpose(I, x, (const int64_t[]){0, 2, 3, 4, 1}), *acc = NULL;
  for (int i = 0; i < S && xt; i++)
    if (st[i] > 1) xt = zero_insert(I, xt, 1 + i, st[i]);
  if (!xt) return false;
  Shape zs = xt->shape;
  zs.d[4] = co;
  Value *x2 = imp_reshape_to(I, xt, shape_make(2, (int64_t[]){shape_numel_static(xt->shape) / ci, ci}));
  for (int64_t t = 0; t < taps && x2; t++) {
    int64_t o[3], q = t, pads[10] = {0};
    for (int i = S - 1; i >= 0; i--)
      o[i] = q % w->shape.d[2 + i], q /= w->shape.d[2 + i];
    Value *wt = w;
    for (int i = 0; i < S && wt; i++)
      wt = imp_take(I, wt, 2 + i, o[i], o[i] + 1, 1);
    Value *z = wt ? imp_mk2(I, OP_MATMUL, x2, imp_reshape_to(I, wt, shape_make(2, (int64_t[]){ci, co}))) : NULL;
    if (!z || !(z = imp_reshape_to(I, z, zs))) return false;
    for (int i = 0; i < S; i++)
      pads[1 + i] = o[i] * dl[i] - p[i], pads[6 + i] = (w->shape.d[2 + i] - 1 - o[i]) * dl[i] - p[S + i] + op[i];
    Node *n = imp_mk(I, OP_PAD, 1, &z);
    node_set_ints(I->g, n, "pads", pads, 10);
    if (!imp_finish(I, n)) return false;
    acc = acc ? imp_mk2(I, OP_ADD, acc, n->out[0]) : n->out[0];
  }
  Value *y = acc ? transpose(I, acc, (const int64_t[]){0, 4, 1, 2, 3}) : NULL;
  if (y && nin > 2 && in[2])
    y = imp_mk2(I, OP_ADD, y, imp_reshape_to(I, in[2], shape_make(5, (int64_t[]){1, co, 1, 1, 1})));
  return (out[0] = y) != NULL;
}

/* ConvTranspose is the input gradient of the convolution that maps its
 * output back to its input: conv2d_grad_input with that convolution's
 * geometry. Output size per axis: (in - 1) s + (k - 1) d + 1 - pads + output_padding. */
bool nchw_conv_transpose(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  bool one_d;
  Value *x, *w;
  Window win;
  if (nin >= 2 && in[0] && in[1] && in[0]->shape.rank == 5) return conv_transpose_taps(I, np, in, nin, out);
  if (!conv_operands(I, in, nin, &x, &w, &win, &one_d)) return false;
  int64_t g = imp_attr_i(np, "group", 1), op[2] = {0, 0}, size[2];
  const Onnx__AttributeProto *opa = imp_attr(np, "output_padding"), *osa = imp_attr(np, "output_shape");
  if (!window_attrs(I, np, x->shape, one_d, &win) || g < 1) return false;
  if (opa && (int)opa->n_ints == (one_d ? 1 : 2)) memcpy(op + one_d, opa->ints, sizeof(int64_t) * opa->n_ints);
  for (int i = 0; i < 2; i++) {
    int64_t full = (x->shape.d[2 + i] - 1) * win.s[i] + (win.k[i] - 1) * win.d[i] + 1 + op[i];
    int64_t want = osa && (int)osa->n_ints == (one_d ? 1 : 2) ? (i < one_d ? 1 : osa->ints[i - one_d]) : -1;
    bool same = imp_attr(np, "auto_pad") && !strncmp((const char *)imp_attr(np, "auto_pad")->s.data, "SAME", 4);
    if (same && want < 0) want = x->shape.d[2 + i] * win.s[i];
    if (want >= 0) { /* pads from the requested size, the odd one at the end (SAME_UPPER) */
      int64_t total = full - want > 0 ? full - want : 0; /* a larger output gets zero rows at the end */
      if (want - full >= win.s[i]) return imp_fail(I, "output_shape is larger than the transposed convolution gives");
      bool lower = same && !strncmp((const char *)imp_attr(np, "auto_pad")->s.data, "SAME_LOWER", 10);
      win.p[i] = lower ? total - total / 2 : total / 2, win.p[i + 2] = total - win.p[i];
    }
    size[i] = want >= 0 ? want : full - win.p[i] - win.p[i + 2]; /* output_padding rows stay zero */
    if (size[i] < 1) return imp_fail(I, "the output would be empty");
  }
  Value *xt = transpose(I, x, TO_NHWC), *wt = xt ? transpose(I, w, (const int64_t[]){2, 3, 1, 0}) : NULL;
  if (!wt) return false;
  Value *args[2] = {xt, wt};
  Node *n = imp_mk(I, OP_CONV2D_GRAD_INPUT, 2, args);
  set_window(I, n, &win, true);
  node_set_int(I->g, n, "groups", g);
  node_set_ints(I->g, n, "input_shape", (int64_t[]){x->shape.d[0], size[0], size[1], wt->shape.d[2] * g}, 4);
  if (!imp_finish(I, n) || !from_nhwc(I, n->out[0], one_d, out)) return false;
  if (nin < 3 || !in[2]) return true;
  Shape bs = {out[0]->shape.rank, {1}};
  for (int i = 0; i < bs.rank; i++)
    bs.d[i] = i == 1 ? in[2]->shape.d[0] : 1;
  Value *b = imp_reshape_to(I, in[2], bs);
  return b && (out[0] = imp_mk2(I, OP_ADD, out[0], b)) != NULL;
}

/* v (N, C, spatial...) padded by p (begins, then ends of the spatial axes) with value. */
static Value *pad_spatial(Imp *I, Value *v, const int64_t *p, double value) {
  int S = v->shape.rank - 2;
  int64_t pads[2 * MAX_RANK] = {0}, any = 0;
  for (int i = 0; i < S; i++)
    pads[2 + i] = p[i], pads[v->shape.rank + 2 + i] = p[S + i], any |= p[i] | p[S + i];
  if (!any) return v;
  Node *n = imp_mk(I, OP_PAD, 1, &v);
  node_set_ints(I->g, n, "pads", pads, 2 * v->shape.rank);
  node_set_float(I->g, n, "constant_value", value);
  return imp_finish(I, n) ? n->out[0] : NULL;
}

/* auto_pad SAME_UPPER / SAME_LOWER / VALID: the pads of one axis of n
 * elements (NOTSET keeps *lo, *hi). */
static bool auto_pads(Imp *I, NodeP *np, int64_t n, int64_t k, int64_t s, int64_t d, int64_t *lo, int64_t *hi) {
  const Onnx__AttributeProto *a = imp_attr(np, "auto_pad");
  char mode[32] = "NOTSET";
  if (a && a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING)
    snprintf(mode, sizeof mode, "%.*s", (int)a->s.len, (const char *)a->s.data);
  int64_t out = (n + s - 1) / s, total = (out - 1) * s + (k - 1) * d + 1 - n;
  total = total < 0 ? 0 : total;
  if (!strcmp(mode, "VALID"))
    *lo = *hi = 0;
  else if (!strcmp(mode, "SAME_UPPER"))
    *lo = total / 2, *hi = total - total / 2;
  else if (!strcmp(mode, "SAME_LOWER"))
    *hi = total / 2, *lo = total - total / 2;
  else if (strcmp(mode, "NOTSET"))
    return imp_fail(I, "unknown auto_pad '%s'", mode);
  return true;
}

/* The general pool (any spatial rank up to 3, dilations, MaxPool's indices):
 * one strided slice of the padded input per kernel tap, combined by max (the
 * first largest tap wins the index) or summed and divided by the number of
 * taps inside the input (or all of them with count_include_pad). Indices
 * count into the flattened input, row-major (storage_order 1: column-major). */
static bool pool_taps(Imp *I, NodeP *np, Value *x, bool avg, Value **y, Value **idx) {
  Shape xs = x->shape;
  int S = xs.rank - 2;
  int64_t k[3], st[3] = {1, 1, 1}, dl[3] = {1, 1, 1}, p[6] = {0}, o[3], taps = 1;
  const Onnx__AttributeProto *a = imp_attr(np, "kernel_shape");
  if (S < 1 || S > 3 || !a || (int)a->n_ints != S)
    return imp_unsupported(I, np->op_type, "%s needs rank 3..5 and kernel_shape", np->op_type);
  memcpy(k, a->ints, sizeof(int64_t) * (size_t)S);
  if ((a = imp_attr(np, "strides")) && (int)a->n_ints == S) memcpy(st, a->ints, sizeof(int64_t) * (size_t)S);
  if ((a = imp_attr(np, "dilations")) && (int)a->n_ints == S) memcpy(dl, a->ints, sizeof(int64_t) * (size_t)S);
  if ((a = imp_attr(np, "pads")) && (int)a->n_ints == 2 * S) memcpy(p, a->ints, sizeof(int64_t) * (size_t)(2 * S));
  bool ceil = imp_attr_i(np, "ceil_mode", 0) != 0;
  if (ceil && avg && imp_attr_i(np, "count_include_pad", 0))
    return imp_unsupported(I, "AveragePool", "count_include_pad=1 with ceil_mode=1 is not supported");
  for (int i = 0; i < S; i++) {
    if (k[i] < 1 || st[i] < 1 || dl[i] < 1 || p[i] < 0 || p[S + i] < 0 || k[i] > 64)
      return imp_fail(I, "bad kernel, strides, dilations or pads");
    if (!auto_pads(I, np, xs.d[2 + i], k[i], st[i], dl[i], &p[i], &p[S + i])) return false;
    int64_t span = xs.d[2 + i] + p[i] + p[S + i] - (k[i] - 1) * dl[i] - 1;
    o[i] = (ceil && span >= 0 ? (span + st[i] - 1) / st[i] : span / st[i]) + 1;
    if (ceil && (o[i] - 1) * st[i] >= xs.d[2 + i] + p[i]) o[i]--; /* the last window starts inside */
    if (span < 0 || o[i] < 1) return imp_fail(I, "the kernel is larger than the padded input");
    int64_t over = (o[i] - 1) * st[i] + (k[i] - 1) * dl[i] + 1 - (xs.d[2 + i] + p[i] + p[S + i]);
    if (over > 0) p[S + i] += over; /* ceil_mode's partial last window: padding that never wins or counts */
    taps *= k[i];
  }
  if (taps > 256) return imp_unsupported(I, np->op_type, "%s with more than 256 kernel taps in this form", np->op_type);
  Value *srcs[3] = {pad_spatial(I, x, p, avg ? 0 : -INFINITY), NULL, NULL}; /* values, indices or counts */
  bool padded = false;
  for (int i = 0; i < 2 * S; i++)
    padded = padded || p[i];
  if (idx || (avg && padded && !imp_attr_i(np, "count_include_pad", 0))) {
    Value *c = value_new(I->g, "taps", VK_CONST, idx ? DT_I64 : x->dtype, xs);
    Tensor t = {c->dtype, xs, shape_numel_static(xs), NULL};
    c->data = t.data = arena_alloc(&I->g->arena, (size_t)(t.numel * 8 + 8));
    int64_t sp = 1, co[MAX_RANK];
    for (int i = 0; i < S; i++)
      sp *= xs.d[2 + i];
    for (int64_t e = 0; e < t.numel; e++) { /* the flat index, or 1 for counting */
      int64_t q = e, off = 0, mul = 1;
      for (int i = xs.rank - 1; i >= 0; i--)
        co[i] = q % xs.d[i], q /= xs.d[i];
      for (int i = 0; i < S; i++) { /* column-major: the first spatial axis varies fastest */
        int ax = imp_attr_i(np, "storage_order", 0) ? 2 + i : xs.rank - 1 - i;
        off += co[ax] * mul, mul *= xs.d[ax];
      }
      tensor_set(&t, e, idx ? (double)(e / sp * sp + off) : 1);
    }
    srcs[idx ? 1 : 2] = pad_spatial(I, c, p, 0);
  }
  Value *acc[3] = {NULL, NULL, NULL};
  for (int64_t tp = 0; tp < taps; tp++) {
    int64_t lo[3], hi[3], axes[3], q = tp;
    for (int i = S - 1; i >= 0; i--)
      lo[i] = q % k[i] * dl[i], q /= k[i];
    for (int i = 0; i < S; i++)
      hi[i] = lo[i] + (o[i] - 1) * st[i] + 1, axes[i] = 2 + i;
    Value *v[3] = {NULL, NULL, NULL};
    for (int j = 0; j < 3; j++) {
      if (!srcs[j]) continue;
      Node *n = imp_mk(I, OP_SLICE, 1, &srcs[j]);
      node_set_ints(I->g, n, "starts", lo, S), node_set_ints(I->g, n, "ends", hi, S);
      node_set_ints(I->g, n, "axes", axes, S), node_set_ints(I->g, n, "steps", st, S);
      if (!imp_finish(I, n)) return false;
      v[j] = n->out[0];
    }
    if (!tp) {
      memcpy(acc, v, sizeof acc);
      continue;
    }
    if (avg) {
      acc[0] = imp_mk2(I, OP_ADD, acc[0], v[0]);
      if (v[2]) acc[2] = imp_mk2(I, OP_ADD, acc[2], v[2]);
    } else if (idx) {
      Value *gt = imp_mk2(I, OP_GREATER, v[0], acc[0]);
      Value *w0[3] = {gt, v[0], acc[0]}, *w1[3] = {gt, v[1], acc[1]};
      Node *n0 = gt ? imp_mk(I, OP_WHERE, 3, w0) : NULL, *n1 = gt ? imp_mk(I, OP_WHERE, 3, w1) : NULL;
      if (!n0 || !imp_finish(I, n0) || !imp_finish(I, n1)) return false;
      acc[0] = n0->out[0], acc[1] = n1->out[0];
    } else
      acc[0] = imp_mk2(I, OP_MAX, acc[0], v[0]);
    if (!acc[0]) return false;
  }
  if (avg) acc[0] = imp_mk2(I, OP_DIV, acc[0], acc[2] ? acc[2] : imp_scalar_like(I, acc[0], (double)taps));
  if (idx) *idx = acc[1];
  return (*y = acc[0]) != NULL;
}

/* MaxPool and AveragePool. Integer MaxPool runs in floating point (f64 for
 * wide integers, so it stays exact); count_include_pad pads with zeros
 * before pooling. */
bool nchw_pool(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  bool one_d, avg = !strcmp(np->op_type, "AveragePool");
  if (!imp_need_inputs(I, in, nin, 1, 1)) return false;
  const Onnx__AttributeProto *ks = imp_attr(np, "kernel_shape"), *dl = imp_attr(np, "dilations");
  DType t = in[0]->dtype, ct = dtype_is_float(t) ? t : dtype_size(t) <= 2 ? DT_F32 : DT_F64;
  Value *x = ct == t ? in[0] : imp_cast_to(I, in[0], ct);
  bool general = x && (x->shape.rank == 5 || (np->n_output > 1 && *np->output[1]));
  for (size_t i = 0; dl && i < dl->n_ints; i++)
    general = general || dl->ints[i] != 1;
  if (general) {
    if (!pool_taps(I, np, x, avg, &out[0], np->n_output > 1 && *np->output[1] ? &out[1] : NULL)) return false;
    return ct == t || (out[0] = imp_cast_to(I, out[0], t)) != NULL;
  }
  if (!(x = x ? as_2d(I, x, &one_d) : NULL)) return false;
  if (!ks || (int)ks->n_ints != (one_d ? 1 : 2)) return imp_fail(I, "kernel_shape must list one size per spatial axis");
  Window win;
  if (one_d)
    widen(win.k, ks->ints, 1);
  else
    memcpy(win.k, ks->ints, sizeof win.k);
  if (!window_attrs(I, np, x->shape, one_d, &win)) return false;
  if (avg && imp_attr_i(np, "count_include_pad", 0)) {
    if (imp_attr_i(np, "ceil_mode", 0))
      return imp_unsupported(I, "AveragePool", "count_include_pad=1 with ceil_mode=1 is not supported");
    if (!(x = pad_spatial(I, x, win.p, 0))) return false;
    memset(win.p, 0, sizeof win.p);
  }
  for (int i = 0; i < 2 && imp_attr_i(np, "ceil_mode", 0); i++) { /* ceil: pad the end so the last window fits */
    int64_t span = x->shape.d[2 + i] + win.p[i] + win.p[i + 2] - win.k[i];
    int64_t o = (span + win.s[i] - 1) / win.s[i] + 1;
    if ((o - 1) * win.s[i] >= x->shape.d[2 + i] + win.p[i]) o--; /* the last window must start inside */
    win.p[i + 2] += (o - 1) * win.s[i] + win.k[i] - (x->shape.d[2 + i] + win.p[i] + win.p[i + 2]);
  }
  Value *xt = transpose(I, x, TO_NHWC);
  if (!xt) return false;
  Node *n = imp_mk(I, avg ? OP_AVGPOOL2D : OP_MAXPOOL2D, 1, &xt);
  node_set_ints(I->g, n, "kernel", win.k, 2);
  set_window(I, n, &win, false);
  if (!imp_finish(I, n) || !from_nhwc(I, n->out[0], one_d, out)) return false;
  return ct == t || (out[0] = imp_cast_to(I, out[0], t)) != NULL;
}

/* GlobalAveragePool / GlobalMaxPool: a reduction over the spatial axes. */
bool nchw_global_pool(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  if (!imp_need_inputs(I, in, nin, 1, 1)) return false;
  OpKind op = !strcmp(np->op_type, "GlobalAveragePool") ? OP_REDUCE_MEAN : OP_REDUCE_MAX;
  int64_t axes[MAX_RANK];
  int r = in[0]->shape.rank;
  for (int i = 2; i < r; i++)
    axes[i - 2] = i;
  Node *n = imp_mk(I, op, 1, in);
  node_set_ints(I->g, n, "axes", axes, r - 2);
  node_set_int(I->g, n, "keepdims", 1);
  if (!imp_finish(I, n)) return false;
  out[0] = n->out[0];
  return true;
}
