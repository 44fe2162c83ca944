/* tensor.c - ONNX TensorProtos as constant values: dtypes, shapes with
 * overflow checks, and the elements from whichever field holds them (raw_data,
 * the typed lists, or an external data file in the model's folder). Also
 * onnx_read_tensor, which reads a serialized TensorProto file (a test case's
 * input_K.pb). */
#include "onnx/onnx_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- dtypes and tensors ---- */

int dtype_to_onnx(DType d) {
  static const int map[DT_COUNT] = {
      [DT_F32] = 1, [DT_F64] = 11, [DT_F16] = 10, [DT_BF16] = 16, [DT_I8] = 3,   [DT_I16] = 5, [DT_I32] = 6,
      [DT_I64] = 7, [DT_U8] = 2,   [DT_U16] = 4,  [DT_U32] = 12,  [DT_U64] = 13, [DT_BOOL] = 9};
  return map[d];
}

const char *onnx_type_name(int32_t t) {
  static const char *n[17] = {"undefined", "float",  "uint8",     "int8",       "uint16",  "int16",
                              "int32",     "int64",  "string",    "bool",       "float16", "double",
                              "uint32",    "uint64", "complex64", "complex128", "bfloat16"};
  return t >= 0 && t <= 16 ? n[t] : "unknown";
}

/* Dimensions from a list, with overflow checks; false after an error. */
bool imp_make_shape(Imp *I, const char *what, size_t rank, const int64_t *d, Shape *s) {
  if (rank > MAX_RANK)
    return imp_unsupported(I, "rank", "%s has rank %zu (nn2c supports up to %d)", what, rank, MAX_RANK);
  int64_t n = 1;
  for (size_t i = 0; i < rank; i++) {
    if (d[i] < 0 || d[i] > MAX_NUMEL || (d[i] && n > MAX_NUMEL / d[i]))
      return imp_fail(I, "%s: dimension %zu (%lld) is negative or the element count overflows", what, i,
                      (long long)d[i]);
    n *= d[i];
  }
  *s = shape_make((int)rank, d);
  return true;
}

static bool is_external(const Onnx__TensorProto *t) {
  return t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
}

/* An external_data offset or length: a decimal number, all of s, that fits. */
static bool parse_size(const char *s, long long *v) {
  char *end;
  errno = 0;
  *v = *s >= '0' && *s <= '9' ? strtoll(s, &end, 10) : -1;
  return *v >= 0 && !*end && errno == 0;
}

/* Opens the external data file loc of the model at I->path. Its real path
 * (symlinks resolved) must lie inside the model's folder and be a regular
 * file: a FIFO or a device would hang or feed endless bytes. -1 after an error. */
static int open_external(Imp *I, const char *tn, const char *loc, size_t bytes, char **file, int64_t *size) {
  const char *slash = strrchr(I->path, '/');
  char *dir = arena_printf(&I->g->arena, "%.*s", slash ? (int)(slash - I->path + 1) : 1, slash ? I->path : ".");
  *file = arena_printf(&I->g->arena, "%s%s%s", dir, slash ? "" : "/", loc);
  char *rdir = realpath(dir, NULL), *rfile = rdir ? realpath(*file, NULL) : NULL;
  size_t n = rdir ? strlen(rdir) : 0;
  bool inside = rfile && !strncmp(rfile, rdir, n) && (rfile[n] == '/' || (n == 1 && rdir[0] == '/'));
  int fd = inside ? open(rfile, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC) : -1;
  int err = errno;
  struct stat st;
  if (!rfile)
    imp_fail(I, "initializer '%s': cannot read %zu bytes of external data '%s': %s", tn, bytes, *file, strerror(err));
  else if (!inside)
    imp_fail(I, "initializer '%s': external data '%s' resolves to '%s', outside the model's folder", tn, *file, rfile);
  else if (fd < 0)
    imp_fail(I, "initializer '%s': cannot open external data '%s': %s", tn, *file, strerror(err));
  else if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    imp_fail(I, "initializer '%s': external data '%s' is not a regular file", tn, *file);
    close(fd), fd = -1;
  } else
    *size = (int64_t)st.st_size;
  free(rdir);
  free(rfile);
  return fd;
}

/* Reads `bytes` bytes of an initializer's external data into dst, or (dst
 * NULL) only checks that the file holds them. */
static bool read_external(Imp *I, const Onnx__TensorProto *t, void *dst, size_t bytes) {
  const char *loc = NULL, *tn = t->name ? t->name : "";
  long long off = 0, len = -1;
  for (size_t i = 0; i < t->n_external_data; i++) {
    const char *k = t->external_data[i]->key, *v = t->external_data[i]->value;
    if (!k || !v) continue;
    if (!strcmp(k, "location"))
      loc = v;
    else if ((!strcmp(k, "offset") && !parse_size(v, &off)) || (!strcmp(k, "length") && !parse_size(v, &len)))
      return imp_fail(I, "initializer '%s': external data %s '%s' is not a byte count", tn, k, v);
  }
  if (!loc || !*loc || loc[0] == '/' || strstr(loc, ".."))
    return imp_fail(I, "initializer '%s': external data needs a relative location inside the model's folder", tn);
  if (len >= 0 && (unsigned long long)len != bytes)
    return imp_fail(I, "initializer '%s': external data length %lld, its shape needs %zu bytes", tn, len, bytes);
  char *file;
  int64_t size = 0;
  int fd = open_external(I, tn, loc, bytes, &file, &size);
  if (fd < 0) return false;
  bool ok = off <= size && (int64_t)bytes <= size - off; /* no overflow: both sides are at most size */
  if (ok && dst && lseek(fd, (off_t)off, SEEK_SET) != (off_t)off) ok = false;
  for (size_t got = 0; ok && dst && got < bytes;) {
    ssize_t r = read(fd, (char *)dst + got, bytes - got);
    if (r <= 0 && !(r < 0 && errno == EINTR))
      ok = false;
    else if (r > 0)
      got += (size_t)r;
  }
  close(fd);
  return ok || imp_fail(I, "initializer '%s': cannot read %zu bytes at offset %lld of '%s' (it has %lld bytes)", tn,
                        bytes, off, file, (long long)size);
}

/* Checks that a tensor holds n elements of d, before anything is allocated. */
static bool tensor_size_ok(Imp *I, const Onnx__TensorProto *t, DType d, int64_t n) {
  size_t bytes = (size_t)n * (size_t)dtype_size(d);
  if (is_external(t)) return read_external(I, t, NULL, bytes);
  if (t->has_raw_data)
    return t->raw_data.len == bytes || imp_fail(I, "tensor '%s': raw_data has %zu bytes, its shape needs %zu",
                                                t->name ? t->name : "", t->raw_data.len, bytes);
  size_t have = d == DT_F32                  ? t->n_float_data
                : d == DT_F64                ? t->n_double_data
                : d == DT_I64                ? t->n_int64_data
                : d == DT_U32 || d == DT_U64 ? t->n_uint64_data
                                             : t->n_int32_data;
  return (int64_t)have == n ||
         imp_fail(I, "tensor '%s' has %zu values, its shape needs %lld", t->name ? t->name : "", have, (long long)n);
}

/* Copies a tensor's elements (whichever field holds them) into dst. */
static bool tensor_data(Imp *I, const Onnx__TensorProto *t, DType d, int64_t n, void *dst) {
  size_t bytes = (size_t)n * (size_t)dtype_size(d);
  Tensor out = {d, shape_scalar(), n, dst};
  if (is_external(t)) return read_external(I, t, dst, bytes);
  if (t->has_raw_data) {
    if (bytes) memcpy(dst, t->raw_data.data, bytes);
    return true;
  }
  for (int64_t i = 0; i < n; i++) {
    switch (d) {
    case DT_F32:
      ((float *)dst)[i] = t->float_data[i];
      break;
    case DT_F64:
      ((double *)dst)[i] = t->double_data[i];
      break;
    case DT_I64:
      ((int64_t *)dst)[i] = t->int64_data[i];
      break;
    case DT_U64:
      ((uint64_t *)dst)[i] = t->uint64_data[i];
      break;
    case DT_U32:
      ((uint32_t *)dst)[i] = (uint32_t)t->uint64_data[i];
      break;
    case DT_F16:
    case DT_BF16:
      ((uint16_t *)dst)[i] = (uint16_t)t->int32_data[i];
      break;
    default:
      tensor_set(&out, i, t->int32_data[i]);
      break;
    }
  }
  return true;
}

/* A TensorProto as a constant value (named after it, or `name`). */
Value *imp_tensor_const(Imp *I, const Onnx__TensorProto *t, const char *name) {
  DType d;
  Shape s;
  const char *tn = name ? name : t->name ? t->name : "const";
  if (!t->has_data_type || !dtype_from_onnx(t->data_type, &d)) {
    const char *ty = onnx_type_name(t->has_data_type ? t->data_type : 0);
    imp_unsupported(I, ty, "tensor '%s' has dtype %s, which nn2c does not support", tn, ty);
    return NULL;
  }
  if (!imp_make_shape(I, arena_printf(&I->g->arena, "tensor '%s'", tn), t->n_dims, t->dims, &s)) return NULL;
  int64_t n = shape_numel_static(s);
  if (n * dtype_size(d) > MAX_BYTES) {
    imp_fail(I, "tensor '%s' is too large (%lld elements)", tn, (long long)n);
    return NULL;
  }
  if (!tensor_size_ok(I, t, d, n)) return NULL;
  Value *v = value_new(I->g, imp_name(I, tn), VK_CONST, d, s);
  v->data = arena_alloc(&I->g->arena, (size_t)(n ? n : 1) * (size_t)dtype_size(d));
  return tensor_data(I, t, d, n, v->data) ? v : NULL;
}

/* A serialized TensorProto as a buffer of its dtype, or NULL. */
static void *tensor_from_bytes(const char *path, const uint8_t *data, size_t len, DType *t, Shape *s) {
  Onnx__TensorProto *tp = onnx__tensor_proto__unpack(NULL, len, data);
  if (!tp) {
    error_plain("%s: not a valid TensorProto", path);
    return NULL;
  }
  Graph *g = graph_new(NULL);
  static const OnnxOptions none = {0};
  Imp I = {.g = g, .opt = &none, .path = path};
  Value *v = imp_tensor_const(&I, tp, "t");
  void *r = NULL;
  if (v) {
    size_t bytes = (size_t)shape_numel_static(v->shape) * (size_t)dtype_size(v->dtype);
    r = memcpy(xmalloc(bytes ? bytes : 1), v->data, bytes);
    *t = v->dtype;
    *s = v->shape;
  }
  onnx__tensor_proto__free_unpacked(tp, NULL);
  graph_free(g);
  return r;
}

void *onnx_read_tensor(const char *path, DType *t, Shape *s) {
  size_t len;
  char *data = read_whole_file(path, &len);
  if (!data) {
    error_plain("cannot read '%s'", path);
    return NULL;
  }
  void *r = tensor_from_bytes(path, (const uint8_t *)data, len, t, s);
  free(data);
  return r;
}

/* A protobuf varint at *p (below end); false when truncated or too long. */
static bool read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
  *v = 0;
  for (int shift = 0; *p < end && shift < 64; shift += 7) {
    uint8_t b = *(*p)++;
    *v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) return true;
  }
  return false;
}

/* SequenceProto lives in onnx-data.proto, which the system's onnx.proto does
 * not include: its fields are walked here, the tensors (field 3) unpacked as
 * TensorProtos; other fields are skipped by wire type. */
int onnx_read_sequence(const char *path, int max, void **data, DType *t, Shape *s) {
  size_t len;
  char *bytes = read_whole_file(path, &len);
  if (!bytes) return error_plain("cannot read '%s'", path), -1;
  const uint8_t *p = (const uint8_t *)bytes, *end = p + len;
  int n = 0;
  bool ok = true;
  while (ok && p < end) {
    uint64_t key, v = 0;
    ok = read_varint(&p, end, &key);
    int wire = (int)(key & 7);
    if (ok && wire == 0) ok = read_varint(&p, end, &v);
    if (ok && (wire == 1 || wire == 5)) ok = (size_t)(end - p) >= (wire == 1 ? 8u : 4u), p += wire == 1 ? 8 : 4;
    if (ok && wire == 2) {
      ok = read_varint(&p, end, &v) && v <= (uint64_t)(end - p);
      if (ok && key >> 3 == 3) {
        ok = n < max && (data[n] = tensor_from_bytes(path, p, (size_t)v, &t[n], &s[n])) != NULL;
        n += ok;
      }
      p += ok ? v : 0;
    }
    ok = ok && wire != 3 && wire != 4 && wire <= 5;
  }
  free(bytes);
  if (!ok) {
    for (int i = 0; i < n; i++)
      free(data[i]);
    return error_plain("%s: not a valid SequenceProto of at most %d tensors", path, max), -1;
  }
  return n;
}
