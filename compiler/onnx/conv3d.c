/* conv3d.c - ONNX's 3-D Conv (NCDHW input, OIDHW kernel) on the IR's 2-D
 * convolution, so it runs on nn2c's tuned conv2d kernels and trains with
 * their gradients, and the batch N is never merged with another axis.
 *
 * 1. Auto_pad or pads, strides and dilations per spatial axis; the output
 *    depth od = (D + pads - (KD - 1) dd - 1) / sd + 1.
 * 2. x is moved to [N, D, H, W, C] and w to [KD, KH, KW, C/g, O] once.
 * 3. Output plane z is the sum over depth taps kz whose source plane
 *    z sd + kz dd - pad lies inside the input of conv2d(x plane, w tap),
 *    which takes the H and W strides, pads, dilations and the groups (the
 *    bias rides on the first term).
 * 4. The planes are joined on a new depth axis and moved back to NCDHW.
 * Costs od x KD conv2d nodes: meant for the small 3-D convolutions ONNX
 * models carry (video stems, medical volumes), correctness first. */
#include "onnx/onnx_impl.h"

#include <string.h>

enum { CONV3D_MAX_TERMS = 4096 }; /* od x KD conv2d nodes at most */

typedef struct {
  int64_t k[3], s[3], d[3], p[6]; /* kernel, strides, dilations, pads (begins, then ends) */
} Window3;

static bool window3(Imp *I, NodeP *np, Shape x, Shape w, Window3 *win) {
  const Onnx__AttributeProto *a;
  for (int i = 0; i < 3; i++)
    win->k[i] = w.d[2 + i], win->s[i] = win->d[i] = 1, win->p[i] = win->p[3 + i] = 0;
  if ((a = imp_attr(np, "strides")) && a->n_ints == 3) memcpy(win->s, a->ints, sizeof win->s);
  if ((a = imp_attr(np, "dilations")) && a->n_ints == 3) memcpy(win->d, a->ints, sizeof win->d);
  if ((a = imp_attr(np, "pads")) && a->n_ints == 6) memcpy(win->p, a->ints, sizeof win->p);
  char mode[32] = "NOTSET";
  if ((a = imp_attr(np, "auto_pad")) && a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING)
    snprintf(mode, sizeof mode, "%.*s", (int)a->s.len, (const char *)a->s.data);
  bool upper = !strcmp(mode, "SAME_UPPER"), lower = !strcmp(mode, "SAME_LOWER");
  if (!upper && !lower && strcmp(mode, "VALID") && strcmp(mode, "NOTSET"))
    return imp_fail(I, "unknown auto_pad '%s'", mode);
  for (int i = 0; i < 3; i++) {
    if (win->k[i] < 1 || win->s[i] < 1 || win->d[i] < 1 || win->p[i] < 0 || win->p[3 + i] < 0 ||
        win->s[i] > LIMIT_WINDOW || win->d[i] > LIMIT_WINDOW || win->p[i] > LIMIT_WINDOW ||
        win->p[3 + i] > LIMIT_WINDOW)
      return imp_fail(I, "kernel, strides and dilations must be at least 1 and pads at least 0");
    int64_t n = x.d[2 + i], out = (n + win->s[i] - 1) / win->s[i];
    int64_t total = (out - 1) * win->s[i] + (win->k[i] - 1) * win->d[i] + 1 - n;
    total = total < 0 ? 0 : total;
    if (!strcmp(mode, "VALID")) win->p[i] = win->p[3 + i] = 0;
    if (upper) win->p[i] = total / 2, win->p[3 + i] = total - total / 2;
    if (lower) win->p[3 + i] = total / 2, win->p[i] = total - total / 2;
  }
  return true;
}

static Value *permute(Imp *I, Value *x, const int64_t *perm) {
  Node *n = imp_mk(I, OP_TRANSPOSE, 1, &x);
  node_set_ints(I->g, n, "perm", perm, x->shape.rank);
  return imp_finish(I, n) ? n->out[0] : NULL;
}

/* t[i] along axis ax, that axis dropped. */
static Value *plane(Imp *I, Value *t, int ax, int64_t i) {
  Value *v = imp_take(I, t, ax, i, i + 1, 1);
  if (!v) return NULL;
  Shape s = {0, {0}};
  for (int k = 0; k < v->shape.rank; k++)
    if (k != ax) s.d[s.rank++] = v->shape.d[k];
  return imp_reshape_to(I, v, s);
}

/* Output plane z: the sum of the 2-D convolutions of its depth taps. */
static Value *output_plane(Imp *I, NodeP *np, Value *xt, Value *wt, Value *bias, const Window3 *w, int64_t z) {
  Value *acc = NULL;
  for (int64_t kz = 0; kz < w->k[0]; kz++) {
    int64_t src = z * w->s[0] + kz * w->d[0] - w->p[0];
    if (src < 0 || src >= xt->shape.d[1]) continue; /* a padding plane: zeros */
    Value *xp = plane(I, xt, 1, src), *wp = xp ? plane(I, wt, 0, kz) : NULL;
    if (!wp) return NULL;
    Value *args[3] = {xp, wp, acc ? NULL : bias};
    Node *n = imp_mk(I, OP_CONV2D, args[2] ? 3 : 2, args);
    node_set_ints(I->g, n, "strides", w->s + 1, 2);
    node_set_ints(I->g, n, "dilations", w->d + 1, 2);
    node_set_ints(I->g, n, "pads", (int64_t[]){w->p[1], w->p[2], w->p[4], w->p[5]}, 4);
    node_set_int(I->g, n, "groups", imp_attr_i(np, "group", 1));
    if (!imp_finish(I, n)) return NULL;
    acc = acc ? imp_mk2(I, OP_ADD, acc, n->out[0]) : n->out[0];
    if (!acc) return NULL;
  }
  if (!acc) imp_unsupported(I, "Conv", "3-D Conv whose output plane %lld sees only padding", (long long)z);
  return acc;
}

/* Planes [N, oh, ow, O] stacked on a new axis 1, 16 at a time (concat's limit). */
static Value *stack_planes(Imp *I, Value **planes, int64_t n) {
  Value *acc = NULL;
  int64_t j = 0;
  while (j < n) {
    Value *parts[16];
    int cnt = 0;
    if (acc) parts[cnt++] = acc;
    while (j < n && cnt < 16) {
      Shape s = planes[j]->shape;
      for (int k = s.rank; k > 1; k--)
        s.d[k] = s.d[k - 1];
      s.d[1] = 1, s.rank++;
      if (!(parts[cnt++] = imp_reshape_to(I, planes[j++], s))) return NULL;
    }
    if (cnt == 1) {
      acc = parts[0];
      continue;
    }
    Node *c = imp_mk(I, OP_CONCAT, cnt, parts);
    node_set_int(I->g, c, "axis", 1);
    if (!imp_finish(I, c)) return NULL;
    acc = c->out[0];
  }
  return acc;
}

bool nchw_conv3d(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  if (!imp_need_inputs(I, in, nin, 2, 3)) return false;
  Value *x = in[0], *w = in[1], *b = nin > 2 ? in[2] : NULL;
  Window3 win;
  if (w->shape.rank != 5) return imp_fail(I, "the kernel of a 3-D Conv must have rank 5");
  if (!window3(I, np, x->shape, w->shape, &win)) return false;
  int64_t od = (x->shape.d[2] + win.p[0] + win.p[3] - (win.k[0] - 1) * win.d[0] - 1) / win.s[0] + 1;
  if (od < 1) return imp_fail(I, "the kernel is larger than the padded input");
  if (od * win.k[0] > CONV3D_MAX_TERMS)
    return imp_unsupported(I, "Conv", "3-D Conv of more than %d depth terms", CONV3D_MAX_TERMS);
  Value *xt = permute(I, x, (const int64_t[]){0, 2, 3, 4, 1});
  Value *wt = xt ? permute(I, w, (const int64_t[]){2, 3, 4, 1, 0}) : NULL;
  if (!wt) return false;
  Value **planes = xcalloc((size_t)od, sizeof(Value *));
  bool ok = true;
  for (int64_t z = 0; z < od && ok; z++)
    ok = (planes[z] = output_plane(I, np, xt, wt, b, &win, z)) != NULL;
  Value *y = ok ? stack_planes(I, planes, od) : NULL;
  free(planes);
  return y && (out[0] = permute(I, y, (const int64_t[]){0, 4, 1, 2, 3})) != NULL;
}
