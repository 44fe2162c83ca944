/* nn2c_images.c - the image data sets: MNIST's IDX files and CIFAR-10's
 * binary version, each file plain or gzip (read through nn2c_read_file_as).
 * Pixels stay bytes (nn2c_dataset.xb), scaled to [0,1] when read.
 *
 * Plain C99.
 */
#include "nn2c_rt.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- MNIST IDX files ---------------------------------------------------- */

/* realloc to a smaller size; keeps the old block if the system declines. */
static void *shrink(void *p, size_t bytes) {
  void *q = p && bytes ? realloc(p, bytes) : NULL;
  return q ? q : p;
}

static uint32_t be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* One parsed IDX file of unsigned bytes: dims[0..rank) and the payload. */
typedef struct {
  char path[4096];
  unsigned char *raw;
  size_t rawlen;
  uint32_t dims[3];
  const unsigned char *data;
  size_t count; /* product of dims */
} IdxFile;

/* Checks the header (magic 0x000008<rank>, i.e. unsigned bytes) and the sizes. */
static int idx_check(IdxFile *f, int rank, const char *kind, const char *what, char *err, size_t errlen) {
  size_t header = 4 + 4 * (size_t)rank, got;
  uint32_t magic = 0x800u + (uint32_t)rank;
  uint64_t count = 1;
  int i;
  if (f->rawlen == 0) return nn2c_fail(err, errlen, "%s: empty file", f->path);
  if (f->rawlen < header)
    return nn2c_fail(err, errlen, "%s: truncated: expected a %u-byte IDX header, got %lu bytes", f->path,
                     (unsigned)header, (unsigned long)f->rawlen);
  if (be32(f->raw) != magic)
    return nn2c_fail(err, errlen, "%s: bad magic 0x%08lx (expected 0x%08lx for an IDX %s file)", f->path,
                     (unsigned long)be32(f->raw), (unsigned long)magic, kind);
  for (i = 0; i < rank; i++) {
    f->dims[i] = be32(f->raw + 4 + 4 * i);
    if (f->dims[i] == 0) return nn2c_fail(err, errlen, "%s: dimension %d is 0", f->path, i);
    count *= f->dims[i];
    /* INT_MAX keeps n, sample sizes and float counts in int/size_t range. */
    if (count > INT_MAX) return nn2c_fail(err, errlen, "%s: too large: more than %d elements", f->path, INT_MAX);
  }
  got = f->rawlen - header;
  if (got < count)
    return nn2c_fail(err, errlen, "%s: truncated: expected %lu bytes of %s, got %lu", f->path, (unsigned long)count,
                     what, (unsigned long)got);
  if (got > count)
    return nn2c_fail(err, errlen, "%s: %lu unexpected bytes after the %s", f->path, (unsigned long)(got - count), what);
  f->data = f->raw + header;
  f->count = (size_t)count;
  return 0;
}

static int idx_read(IdxFile *f, const char *dir, const char *base, int rank, const char *kind, const char *what,
                    char *err, size_t errlen) {
  char path[4096];
  if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, base) >= sizeof path)
    return nn2c_fail(err, errlen, "%s: path too long", dir);
  if (nn2c_read_file_as(path, &f->raw, &f->rawlen, f->path, sizeof f->path, err, errlen)) return -1;
  return idx_check(f, rank, kind, what, err, errlen);
}

/* Converts checked image and label files into *out. */
/* The pixels stay in the file's buffer (moved over the header), so loading
 * needs no second copy of the images: the trainer's peak memory is one copy. */
static int mnist_fill(IdxFile *im, const IdxFile *lb, nn2c_dataset *out, char *err, size_t errlen) {
  size_t i, n = im->dims[0], numel = (size_t)im->dims[1] * im->dims[2];
  for (i = 0; i < n; i++)
    if (lb->data[i] > 9)
      return nn2c_fail(err, errlen, "%s: label %u at index %lu is out of range 0..9", lb->path, (unsigned)lb->data[i],
                       (unsigned long)i);
  out->yi = malloc(n * sizeof(int32_t));
  if (!out->yi) return nn2c_fail(err, errlen, "%s: out of memory", im->path);
  memmove(im->raw, im->data, n * numel);
  out->xb = shrink(im->raw, n * numel);
  im->raw = NULL; /* now owned by out */
  for (i = 0; i < n; i++)
    out->yi[i] = lb->data[i];
  out->n = (int)n;
  out->sample_numel = (int)numel;
  out->label_numel = 1;
  out->num_classes = 10;
  return 0;
}

int nn2c_load_mnist(const char *dir, int split, nn2c_dataset *out, char *err, size_t errlen) {
  return nn2c_load_mnist_sized(dir, split, 0, 0, out, err, errlen);
}

int nn2c_load_mnist_sized(const char *dir, int split, int rows, int cols, nn2c_dataset *out, char *err, size_t errlen) {
  static const char *const names[2][2] = {
      {"train-images-idx3-ubyte", "train-labels-idx1-ubyte"},
      {"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"},
  };
  IdxFile *im = calloc(1, sizeof *im), *lb = calloc(1, sizeof *lb);
  int rc = -1;
  memset(out, 0, sizeof *out);
  if (split != 0 && split != 1)
    nn2c_fail(err, errlen, "%s: bad MNIST split %d (0 = train, 1 = test)", dir, split);
  else if (!im || !lb)
    nn2c_fail(err, errlen, "%s: out of memory", dir);
  else if (idx_read(im, dir, names[split][0], 3, "image", "pixels", err, errlen) == 0 &&
           idx_read(lb, dir, names[split][1], 1, "label", "labels", err, errlen) == 0) {
    if (rows > 0 && (im->dims[1] != (uint32_t)rows || im->dims[2] != (uint32_t)cols))
      nn2c_fail(err, errlen, "%s: images are %lux%lu (%lu values each), but the model takes %dx%d (%d)", im->path,
                (unsigned long)im->dims[1], (unsigned long)im->dims[2], (unsigned long)im->dims[1] * im->dims[2], rows,
                cols, rows * cols);
    else if (im->dims[0] != lb->dims[0])
      nn2c_fail(err, errlen, "%s: images and labels disagree: %lu vs %lu", lb->path, (unsigned long)im->dims[0],
                (unsigned long)lb->dims[0]);
    else
      rc = mnist_fill(im, lb, out, err, errlen);
  }
  if (rc) nn2c_dataset_free(out);
  if (im) free(im->raw);
  if (lb) free(lb->raw);
  free(im);
  free(lb);
  return rc;
}

/* ---- CIFAR-10 binary version -------------------------------------------- */

#define CIFAR_RECORDS 10000 /* per file */
#define CIFAR_PLANE 1024    /* 32x32 bytes per colour plane */
#define CIFAR_RECORD (1 + 3 * CIFAR_PLANE)

/* Checks one file's size and labels, then writes its records as samples
 * first.. of out: planar RGB bytes become NHWC floats. */
static int cifar_fill(const char *path, const unsigned char *raw, size_t len, int first, nn2c_dataset *out, char *err,
                      size_t errlen) {
  size_t r, p;
  int c;
  if (len != (size_t)CIFAR_RECORDS * CIFAR_RECORD)
    return nn2c_fail(err, errlen, "%s: %lu bytes is not %d records of %d bytes (a label and a 32x32x3 image)", path,
                     (unsigned long)len, CIFAR_RECORDS, CIFAR_RECORD);
  for (r = 0; r < CIFAR_RECORDS; r++)
    if (raw[r * CIFAR_RECORD] > 9)
      return nn2c_fail(err, errlen, "%s: label %u at record %lu is out of range 0..9", path,
                       (unsigned)raw[r * CIFAR_RECORD], (unsigned long)r);
  for (r = 0; r < CIFAR_RECORDS; r++) {
    const unsigned char *rec = raw + r * CIFAR_RECORD;
    unsigned char *x = out->xb + ((size_t)first + r) * 3 * CIFAR_PLANE;
    out->yi[(size_t)first + r] = rec[0];
    for (p = 0; p < CIFAR_PLANE; p++) /* p = row * 32 + column */
      for (c = 0; c < 3; c++)
        x[3 * p + (size_t)c] = rec[1 + (size_t)c * CIFAR_PLANE + p];
  }
  return 0;
}

int nn2c_load_cifar10(const char *dir, int split, nn2c_dataset *out, char *err, size_t errlen) {
  return nn2c_load_cifar10_max(dir, split, 0, out, err, errlen);
}

int nn2c_load_cifar10_max(const char *dir, int split, int max, nn2c_dataset *out, char *err, size_t errlen) {
  static const char *const train[] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin",
                                      "data_batch_5.bin"};
  static const char *const test[] = {"test_batch.bin"};
  const char *const *names = split == 0 ? train : test;
  int nfiles = split == 0 ? 5 : 1, i, rc = 0;
  size_t n;
  if (max > 0 && (max + CIFAR_RECORDS - 1) / CIFAR_RECORDS < nfiles) /* only the files needed */
    nfiles = (max + CIFAR_RECORDS - 1) / CIFAR_RECORDS;
  n = (size_t)nfiles * CIFAR_RECORDS;
  memset(out, 0, sizeof *out);
  if (split != 0 && split != 1)
    return nn2c_fail(err, errlen, "%s: bad CIFAR-10 split %d (0 = train, 1 = test)", dir, split);
  for (i = 0; i < nfiles && rc == 0; i++) {
    char path[4096], used[4096];
    unsigned char *raw = NULL;
    size_t len = 0;
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, names[i]) >= sizeof path)
      rc = nn2c_fail(err, errlen, "%s: path too long", dir);
    else
      rc = nn2c_read_file_as(path, &raw, &len, used, sizeof used, err, errlen);
    /* allocate only once the first file has been read, so a wrong DIR fails fast */
    if (rc == 0 && !out->xb) {
      out->xb = malloc(n * 3 * CIFAR_PLANE);
      out->yi = malloc(n * sizeof(int32_t));
      if (!out->xb || !out->yi)
        rc = nn2c_fail(err, errlen, "%s: out of memory for %lu CIFAR-10 images", used, (unsigned long)n);
    }
    if (rc == 0) rc = cifar_fill(used, raw, len, i * CIFAR_RECORDS, out, err, errlen);
    free(raw);
  }
  if (rc) {
    nn2c_dataset_free(out);
    return -1;
  }
  out->n = (int)n;
  out->sample_numel = 3 * CIFAR_PLANE;
  out->label_numel = 1;
  out->num_classes = 10;
  return 0;
}
