/* nn2c_npy.c - NumPy .npy files (format versions 1, 2 and 3) and the
 * trainer's data sets made of them; the label rules shared with CSV files.
 *
 * A .npy file is the magic "\x93NUMPY", a major and a minor version byte,
 * the header's length (2 bytes little-endian in version 1, 4 bytes in 2 and
 * 3), the header (a Python dict literal such as
 * {'descr': '<f4', 'fortran_order': False, 'shape': (60000, 28, 28), }
 * padded with spaces and ended by a newline), then the elements in C order.
 * Accepted: bool, signed and unsigned integers of 1-8 bytes and floats of 2,
 * 4 and 8 bytes, either byte order. Refused with the reason: Fortran order,
 * structured or other dtypes, a header that does not parse, data of another
 * size than the shape says.
 */
#include "nn2c_rt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- The header --------------------------------------------------------- */

typedef struct {
  const char *p, *end;
} Cursor;

static void skip_space(Cursor *c) {
  while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
    c->p++;
}

static int eat(Cursor *c, char ch) {
  skip_space(c);
  if (c->p < c->end && *c->p == ch) return c->p++, 1;
  return 0;
}

/* A quoted string ('...' or "..."), at most cap-1 bytes, no escapes. */
static int read_string(Cursor *c, char *out, size_t cap) {
  char q;
  size_t n = 0;
  skip_space(c);
  if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return -1;
  q = *c->p++;
  while (c->p < c->end && *c->p != q) {
    if (*c->p == '\\' || n + 1 >= cap) return -1;
    out[n++] = *c->p++;
  }
  if (c->p >= c->end) return -1;
  c->p++;
  out[n] = '\0';
  return 0;
}

static int read_shape(Cursor *c, nn2c_npy *a) {
  if (!eat(c, '(')) return -1;
  for (a->ndim = 0;;) {
    unsigned long long v = 0;
    int digits = 0;
    if (eat(c, ')')) return 0;
    if (a->ndim == NN2C_NPY_MAX_DIMS) return -1;
    skip_space(c);
    for (; c->p < c->end && *c->p >= '0' && *c->p <= '9'; c->p++, digits++)
      if ((v = v * 10 + (unsigned long long)(*c->p - '0')) > (1ull << 40)) return -1;
    if (!digits) return -1;
    eat(c, 'L'); /* Python 2's long suffix */
    a->dims[a->ndim++] = (int64_t)v;
    if (!eat(c, ',') && !(skip_space(c), c->p < c->end && *c->p == ')')) return -1;
  }
}

/* descr: byte order ('<', '>', '|', '='), kind (b, i, u, f) and size. */
static int read_descr(const char *name, const char *s, nn2c_npy *a, char *err, size_t errlen) {
  static const char sizes[] = {'b', 1, 'i', 1, 'i', 2, 'i', 4, 'i', 8, 'u', 1,
                               'u', 2, 'u', 4, 'u', 8, 'f', 2, 'f', 4, 'f', 8};
  char *end;
  long size;
  size_t i;
  if (!s[0] || !strchr("<>|=", s[0]) || !s[1])
    return nn2c_fail(err, errlen, "%s: dtype '%s' is not supported", name, s);
  size = strtol(s + 2, &end, 10);
  for (i = 0; i < sizeof sizes; i += 2)
    if (s[1] == sizes[i] && size == sizes[i + 1] && *end == '\0' && end != s + 2) break;
  if (i == sizeof sizes)
    return nn2c_fail(err, errlen,
                     "%s: dtype '%s' is not supported (bool, int8-64, uint8-64, float16/32/64 are; convert it "
                     "with .astype('float32'))",
                     name, s);
  a->kind = s[1], a->size = (int)size, a->big_endian = s[0] == '>';
  return 0;
}

/* The dict: its three keys in any order, each once. */
static int read_header(const char *name, Cursor *c, nn2c_npy *a, char *err, size_t errlen) {
  char key[32], descr[32];
  int seen = 0;
  if (!eat(c, '{')) return nn2c_fail(err, errlen, "%s: bad .npy header: it is not a dict", name);
  while (!eat(c, '}')) {
    if (read_string(c, key, sizeof key) || !eat(c, ':'))
      return nn2c_fail(err, errlen, "%s: bad .npy header: expected 'key': value", name);
    if (!strcmp(key, "descr") && !(seen & 1)) {
      skip_space(c);
      if (c->p < c->end && *c->p == '[')
        return nn2c_fail(err, errlen, "%s: structured dtypes are not supported (save a plain numeric array)", name);
      if (read_string(c, descr, sizeof descr)) return nn2c_fail(err, errlen, "%s: bad .npy header: descr", name);
      if (read_descr(name, descr, a, err, errlen)) return -1;
      seen |= 1;
    } else if (!strcmp(key, "fortran_order") && !(seen & 2)) {
      skip_space(c);
      if ((size_t)(c->end - c->p) >= 4 && !strncmp(c->p, "True", 4))
        return nn2c_fail(err, errlen, "%s: the array is in Fortran order; save it in C order (numpy.ascontiguousarray)",
                         name);
      if ((size_t)(c->end - c->p) < 5 || strncmp(c->p, "False", 5))
        return nn2c_fail(err, errlen, "%s: bad .npy header: fortran_order", name);
      c->p += 5, seen |= 2;
    } else if (!strcmp(key, "shape") && !(seen & 4)) {
      if (read_shape(c, a)) return nn2c_fail(err, errlen, "%s: bad .npy header: shape", name);
      seen |= 4;
    } else {
      return nn2c_fail(err, errlen, "%s: bad .npy header: unexpected key '%s'", name, key);
    }
    if (!eat(c, ',') && !(skip_space(c), c->p < c->end && *c->p == '}'))
      return nn2c_fail(err, errlen, "%s: bad .npy header: expected ',' or '}'", name);
  }
  if (seen != 7) return nn2c_fail(err, errlen, "%s: bad .npy header: descr, fortran_order or shape missing", name);
  return 0;
}

int nn2c_npy_parse(const char *name, const unsigned char *p, size_t len, nn2c_npy *a, char *err, size_t errlen) {
  size_t hlen, start, count = 1;
  Cursor c;
  int i;
  memset(a, 0, sizeof *a);
  if (len < 10 || memcmp(p, "\x93NUMPY", 6))
    return nn2c_fail(err, errlen, "%s: not a .npy file (no \\x93NUMPY magic)", name);
  if (p[6] < 1 || p[6] > 3) return nn2c_fail(err, errlen, "%s: .npy format version %d is not supported", name, p[6]);
  if (p[6] == 1)
    hlen = (size_t)p[8] | (size_t)p[9] << 8, start = 10;
  else if (len < 12)
    return nn2c_fail(err, errlen, "%s: truncated .npy header", name);
  else
    hlen = (size_t)p[8] | (size_t)p[9] << 8 | (size_t)p[10] << 16 | (size_t)p[11] << 24, start = 12;
  if (hlen > len - start) return nn2c_fail(err, errlen, "%s: truncated .npy header", name);
  c.p = (const char *)p + start, c.end = c.p + hlen;
  if (read_header(name, &c, a, err, errlen)) return -1;
  for (i = 0; i < a->ndim; i++) {
    if (a->dims[i] && count > ((size_t)1 << 40) / (size_t)a->dims[i])
      return nn2c_fail(err, errlen, "%s: the shape holds too many elements", name);
    count *= (size_t)a->dims[i];
  }
  a->count = count;
  a->data = p + start + hlen;
  if (len - start - hlen != count * (size_t)a->size)
    return nn2c_fail(err, errlen, "%s: the shape says %lu bytes of data but the file holds %lu", name,
                     (unsigned long)(count * (size_t)a->size), (unsigned long)(len - start - hlen));
  return 0;
}

/* IEEE half to double. */
static double half_value(unsigned h) {
  unsigned e = h >> 10 & 31, m = h & 1023;
  double v = e == 0 ? ldexp((double)m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp((double)(m | 1024), (int)e - 25);
  return h & 0x8000 ? -v : v;
}

double nn2c_npy_value(const nn2c_npy *a, size_t i) {
  const unsigned char *q = a->data + i * (size_t)a->size;
  uint64_t u = 0;
  int k;
  for (k = 0; k < a->size; k++) /* assembled by value: independent of the machine's byte order */
    u |= (uint64_t)q[a->big_endian ? a->size - 1 - k : k] << (8 * k);
  if (a->kind == 'f' && a->size == 2) return half_value((unsigned)u);
  if (a->kind == 'f' && a->size == 4) {
    uint32_t b = (uint32_t)u;
    float f;
    memcpy(&f, &b, 4);
    return f;
  }
  if (a->kind == 'f') {
    double d;
    memcpy(&d, &u, 8);
    return d;
  }
  if (a->kind == 'i' && a->size < 8 && (u >> (8 * a->size - 1) & 1)) /* sign-extend */
    u |= ~(uint64_t)0 << (8 * a->size);
  return a->kind == 'i' ? (double)(int64_t)u : (double)u;
}

/* ---- Labels from per-sample values (.npy and CSV) ---------------------- */

static int bad_class(const char *name, size_t row, double v, int classes, char *err, size_t errlen) {
  return nn2c_fail(err, errlen, "%s: the label of sample %lu is %g, not a class 0..%d", name, (unsigned long)row, v,
                   classes - 1);
}

int nn2c_labels_from(nn2c_dataset *d, const char *name, double (*get)(const void *src, size_t i), const void *src,
                     int k, const nn2c_model_io *io, char *err, size_t errlen) {
  size_t n = (size_t)d->n, i;
  int ids = io->label_is_int || (k == 1 && io->label_numel > 1); /* class ids, one-hot later if need be */
  int classes =
      io->label_is_int ? (io->out_numel > 1 ? io->out_numel : 2) : (io->label_numel > 1 ? io->label_numel : 2);
  if (!ids && k != io->label_numel)
    return nn2c_fail(err, errlen, "%s: %d label values per sample, but model %s takes %d", name, k, io->name,
                     io->label_numel);
  if (ids && k != 1)
    return nn2c_fail(err, errlen, "%s: %d label values per sample, but model %s takes one class id per sample", name, k,
                     io->name);
  d->label_numel = ids ? 1 : k;
  if (!ids) {
    if (!(d->yf = malloc(n * (size_t)k * sizeof(float) + 1))) return nn2c_fail(err, errlen, "%s: out of memory", name);
    for (i = 0; i < n * (size_t)k; i++)
      if (!isfinite(d->yf[i] = (float)get(src, i)))
        return nn2c_fail(err, errlen, "%s: the label of sample %lu is not a finite number", name,
                         (unsigned long)(i / (size_t)k));
    return 0;
  }
  if (!(d->yi = malloc(n * sizeof(int32_t) + 1))) return nn2c_fail(err, errlen, "%s: out of memory", name);
  for (i = 0; i < n; i++) {
    double v = get(src, i);
    if (!(v >= 0 && v < classes) || v != floor(v)) return bad_class(name, i, v, classes, err, errlen);
    d->yi[i] = (int32_t)v;
  }
  d->num_classes = classes;
  return 0;
}

/* ---- A data set of two .npy files --------------------------------------- */

static double npy_get(const void *a, size_t i) { return nn2c_npy_value((const nn2c_npy *)a, i); }

static int read_npy(const char *path, unsigned char **buf, nn2c_npy *a, char *err, size_t errlen) {
  size_t len;
  if (nn2c_read_file_plain(path, buf, &len, err, errlen)) return -1;
  return nn2c_npy_parse(path, *buf, len, a, err, errlen);
}

static void shape_text(const nn2c_npy *a, int from, char *s, size_t cap) {
  size_t n = 0;
  int i;
  s[0] = '\0';
  for (i = from; i < a->ndim && n + 24 < cap; i++)
    n += (size_t)snprintf(s + n, cap - n, "%s%lld", i > from ? ", " : "", (long long)a->dims[i]);
}

static int fill_samples(const char *xpath, const nn2c_npy *x, const nn2c_model_io *io, nn2c_dataset *d, char *err,
                        size_t errlen) {
  size_t per = x->ndim ? x->count / (x->dims[0] ? (size_t)x->dims[0] : 1) : 0, i;
  char shape[256];
  shape_text(x, 1, shape, sizeof shape);
  if (x->ndim < 1 || x->dims[0] < 1 || x->dims[0] > INT32_MAX)
    return nn2c_fail(err, errlen, "%s: expected an array of samples (shape (n, ...) with n from 1 to 2^31-1)", xpath);
  if (per != (size_t)io->in_numel)
    return nn2c_fail(err, errlen, "%s: samples of shape (%s) hold %lu values, but model %s takes %d%s%s%s", xpath,
                     shape, (unsigned long)per, io->name, io->in_numel, io->in_shape ? " (input " : "",
                     io->in_shape ? io->in_shape : "", io->in_shape ? ")" : "");
  d->n = (int)x->dims[0], d->sample_numel = io->in_numel;
  if (!(d->x = malloc(x->count * sizeof(float) + 1))) return nn2c_fail(err, errlen, "%s: out of memory", xpath);
  for (i = 0; i < x->count; i++)
    if (!isfinite(d->x[i] = (float)nn2c_npy_value(x, i)))
      return nn2c_fail(err, errlen, "%s: sample %lu holds a value that is not a finite float (%g)", xpath,
                       (unsigned long)(i / per), nn2c_npy_value(x, i));
  return 0;
}

int nn2c_load_npy(const char *xpath, const char *ypath, const nn2c_model_io *io, nn2c_dataset *out, char *err,
                  size_t errlen) {
  unsigned char *xb = NULL, *yb = NULL;
  nn2c_npy x, y;
  int rc;
  memset(out, 0, sizeof *out);
  rc = read_npy(xpath, &xb, &x, err, errlen) || read_npy(ypath, &yb, &y, err, errlen) ||
       fill_samples(xpath, &x, io, out, err, errlen);
  if (!rc && (y.ndim < 1 || y.dims[0] != x.dims[0]))
    rc = nn2c_fail(err, errlen, "%s: %lld labels for the %lld samples of %s", ypath, y.ndim ? (long long)y.dims[0] : 0,
                   (long long)x.dims[0], xpath);
  if (!rc) rc = nn2c_labels_from(out, ypath, npy_get, &y, (int)(y.count / (size_t)y.dims[0]), io, err, errlen);
  free(xb);
  free(yb);
  if (rc) nn2c_dataset_free(out);
  return rc ? -1 : 0;
}
