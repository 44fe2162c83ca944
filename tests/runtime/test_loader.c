/* test_loader.c - nn2c_read_file and nn2c_load_mnist on small IDX files that
 * the test writes itself (good ones and broken ones) into argv[1]. */
#define _POSIX_C_SOURCE 200809L
#include <sys/stat.h>

#include "check.h"
#include "nn2c_rt.h"

#ifdef NN2C_HAVE_ZLIB
#include <zlib.h>
#endif

static char work[2048];
static char err[1024];

/* work/NAME, with the directory created if asked. */
static const char *at(const char *name, int make_dir) {
  static char buf[4][4096];
  static int k;
  char *p = buf[k++ % 4];
  snprintf(p, 4096, "%s/%s", work, name);
  if (make_dir) mkdir(p, 0777);
  return p;
}

static size_t put_be32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16);
  p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
  return 4;
}

/* Writes an IDX file: magic, dims, then `have` payload bytes (value i*7 % 256,
 * or i % 10 for labels). */
static void write_idx(const char *dir, const char *base, uint32_t magic, const uint32_t *dims, int rank, size_t have,
                      int labels) {
  static unsigned char buf[1 << 16];
  char path[4096];
  size_t n = put_be32(buf, magic), i;
  int d;
  for (d = 0; d < rank; d++)
    n += put_be32(buf + n, dims[d]);
  CHECK(n + have <= sizeof buf);
  for (i = 0; i < have; i++)
    buf[n + i] = (unsigned char)(labels ? i % 10 : i * 7 % 256);
  snprintf(path, sizeof path, "%s/%s", dir, base);
  write_bytes(path, buf, n + have);
}

/* A good train split: 5 images of 2x3 and 5 labels. */
static void write_good(const char *dir) {
  uint32_t im[3] = {5, 2, 3}, lb[1] = {5};
  write_idx(dir, "train-images-idx3-ubyte", 0x803, im, 3, 30, 0);
  write_idx(dir, "train-labels-idx1-ubyte", 0x801, lb, 1, 5, 1);
}

static void test_good(void) {
  const char *dir = at("good", 1);
  nn2c_dataset d;
  int i;
  write_good(dir);
  CHECK_OK(nn2c_load_mnist(dir, 0, &d, err, sizeof err), err);
  CHECK(d.n == 5 && d.sample_numel == 6 && d.label_numel == 1 && d.num_classes == 10);
  CHECK(d.yi && !d.yf);
  for (i = 0; i < 30; i++)
    CHECK(nn2c_dataset_value(&d, i) == (float)(i * 7 % 256) / 255.0f);
  for (i = 0; i < 5; i++)
    CHECK(d.yi[i] == i);
  nn2c_dataset_free(&d);
  CHECK(d.x == NULL && d.xb == NULL && d.n == 0);
  nn2c_dataset_free(&d); /* twice is harmless */
  /* the test split lives in other files */
  CHECK_ERR(nn2c_load_mnist(dir, 1, &d, err, sizeof err), err,
            "good/t10k-images-idx3-ubyte: cannot open: No such file or directory (also tried");
  CHECK(d.x == NULL && d.xb == NULL);
}

/* Each broken directory gets the good files, then one of them replaced. */
static void expect_mnist_error(const char *name, const char *want) {
  nn2c_dataset d;
  CHECK_ERR(nn2c_load_mnist(at(name, 0), 0, &d, err, sizeof err), err, want);
  CHECK(d.x == NULL && d.xb == NULL && d.yi == NULL && d.n == 0);
}

static void test_errors(void) {
  uint32_t im[3] = {5, 2, 3}, lb4[1] = {4}, zero[3] = {5, 0, 3}, huge[3] = {70000, 70000, 70000};
  const char *dir;
  unsigned char bad_label[9] = {0, 0, 8, 1, 0, 0, 0, 1, 12};

  write_good(dir = at("magic", 1));
  write_idx(dir, "train-images-idx3-ubyte", 0x804, im, 3, 30, 0);
  expect_mnist_error("magic", "magic/train-images-idx3-ubyte: bad magic 0x00000804 "
                              "(expected 0x00000803 for an IDX image file)");

  write_good(dir = at("truncated", 1));
  write_idx(dir, "train-images-idx3-ubyte", 0x803, im, 3, 10, 0);
  expect_mnist_error("truncated", "truncated/train-images-idx3-ubyte: truncated: expected 30 bytes of pixels, got 10");

  write_good(dir = at("header", 1));
  write_idx(dir, "train-images-idx3-ubyte", 0x803, im, 1, 0, 0);
  expect_mnist_error("header", "header/train-images-idx3-ubyte: truncated: expected a 16-byte IDX "
                               "header, got 8 bytes");

  write_good(dir = at("mismatch", 1));
  write_idx(dir, "train-labels-idx1-ubyte", 0x801, lb4, 1, 4, 1);
  expect_mnist_error("mismatch", "mismatch/train-labels-idx1-ubyte: images and labels disagree: 5 vs 4");

  write_good(dir = at("empty", 1));
  write_bytes(at("empty/train-labels-idx1-ubyte", 0), "", 0);
  expect_mnist_error("empty", "empty/train-labels-idx1-ubyte: empty file");

  write_good(dir = at("missing", 1));
  remove(at("missing/train-labels-idx1-ubyte", 0));
  expect_mnist_error("missing", "missing/train-labels-idx1-ubyte: cannot open: No such file or "
                                "directory (also tried ");
  expect_mnist_error("no-such-dir", "no-such-dir/train-images-idx3-ubyte: cannot open");

  write_good(dir = at("zero", 1));
  write_idx(dir, "train-images-idx3-ubyte", 0x803, zero, 3, 0, 0);
  expect_mnist_error("zero", "zero/train-images-idx3-ubyte: dimension 1 is 0");

  write_good(dir = at("huge", 1));
  write_idx(dir, "train-images-idx3-ubyte", 0x803, huge, 3, 0, 0);
  expect_mnist_error("huge", "huge/train-images-idx3-ubyte: too large: more than 2147483647");

  write_good(dir = at("trailing", 1));
  write_idx(dir, "train-images-idx3-ubyte", 0x803, im, 3, 33, 0);
  expect_mnist_error("trailing", "trailing/train-images-idx3-ubyte: 3 unexpected bytes after the pixels");

  write_good(dir = at("label-range", 1));
  write_idx(dir, "train-images-idx3-ubyte", 0x803, (uint32_t[]){1, 2, 3}, 3, 6, 0);
  write_bytes(at("label-range/train-labels-idx1-ubyte", 0), bad_label, sizeof bad_label);
  expect_mnist_error("label-range", "label-range/train-labels-idx1-ubyte: label 12 at index 0 is out of range 0..9");

  write_good(dir = at("label-magic", 1));
  write_idx(dir, "train-labels-idx1-ubyte", 0x803, im, 1, 5, 1);
  expect_mnist_error("label-magic", "label-magic/train-labels-idx1-ubyte: bad magic 0x00000803 "
                                    "(expected 0x00000801 for an IDX label file)");
}

#ifdef NN2C_HAVE_ZLIB
/* Reads a whole file and compares it with want[n]. */
static void expect_bytes(const char *path, const unsigned char *want, size_t n) {
  unsigned char *data;
  size_t len;
  CHECK_OK(nn2c_read_file(path, &data, &len, err, sizeof err), err);
  CHECK(len == n && memcmp(data, want, n) == 0);
  free(data);
}

static void write_gz(const char *path, const void *p, size_t n) {
  gzFile g = gzopen(path, "wb9");
  CHECK(g != NULL);
  CHECK(gzwrite(g, p, (unsigned)n) == (int)n);
  CHECK(gzclose(g) == Z_OK);
}

/* The same IDX files, gzipped, load to the same dataset; foo <-> foo.gz fallback. */
static void test_gzip(void) {
  static unsigned char payload[100000];
  const char *names[2] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte"};
  nn2c_dataset plain, gz;
  unsigned char *data;
  size_t len, i;
  int k;
  const char *dir = at("gz", 1);
  for (k = 0; k < 2; k++) {
    char src[4096], dst[4096];
    snprintf(src, sizeof src, "%s/good/%s", work, names[k]);
    CHECK_OK(nn2c_read_file(src, &data, &len, err, sizeof err), err);
    snprintf(dst, sizeof dst, "%s/%s.gz", dir, names[k]);
    write_gz(dst, data, len);
    free(data);
  }
  CHECK_OK(nn2c_load_mnist(at("good", 0), 0, &plain, err, sizeof err), err);
  CHECK_OK(nn2c_load_mnist(dir, 0, &gz, err, sizeof err), err);
  CHECK(plain.n == gz.n && memcmp(plain.xb, gz.xb, 30) == 0);
  CHECK(memcmp(plain.yi, gz.yi, sizeof(int32_t) * 5) == 0);
  nn2c_dataset_free(&plain);
  nn2c_dataset_free(&gz);

  /* bigger than one read chunk, through both spellings of the name */
  for (i = 0; i < sizeof payload; i++)
    payload[i] = (unsigned char)(i * 31 + i / 977);
  write_bytes(at("big", 0), payload, sizeof payload);
  write_gz(at("big2.gz", 0), payload, sizeof payload);
  expect_bytes(at("big", 0), payload, sizeof payload);
  expect_bytes(at("big.gz", 0), payload, sizeof payload); /* foo.gz missing -> foo */
  expect_bytes(at("big2", 0), payload, sizeof payload);   /* foo missing -> foo.gz */
  expect_bytes(at("big2.gz", 0), payload, sizeof payload);

  /* a cut gzip stream is an error, not a short read */
  CHECK_OK(nn2c_read_file(at("big2.gz", 0), &data, &len, err, sizeof err), err);
  free(data);
  {
    FILE *f = fopen(at("big2.gz", 0), "rb");
    static unsigned char z[200000];
    size_t zn;
    CHECK(f);
    zn = fread(z, 1, sizeof z, f);
    fclose(f);
    write_bytes(at("cut.gz", 0), z, zn / 2);
  }
  CHECK_ERR(nn2c_read_file(at("cut.gz", 0), &data, &len, err, sizeof err), err, "cut.gz: gzip error: ");
}
#else
static void test_gzip(void) {
  const unsigned char gz[] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
  unsigned char *data;
  size_t len;
  write_bytes(at("nozlib.gz", 0), gz, sizeof gz);
  CHECK_ERR(nn2c_read_file(at("nozlib.gz", 0), &data, &len, err, sizeof err), err,
            "nozlib.gz: gzip file but nn2c runtime built without zlib; gunzip it first");
  CHECK_ERR(nn2c_read_file(at("nozlib", 0), &data, &len, err, sizeof err), err,
            "nozlib.gz: gzip file but nn2c runtime built without zlib; gunzip it first");
}
#endif

static void test_read_file(void) {
  unsigned char *data;
  size_t len;
  write_bytes(at("zero-bytes", 0), "", 0);
  CHECK_OK(nn2c_read_file(at("zero-bytes", 0), &data, &len, err, sizeof err), err);
  CHECK(data != NULL && len == 0);
  free(data);
  CHECK_ERR(nn2c_read_file(at("nope", 0), &data, &len, err, sizeof err), err,
            "/nope: cannot open: No such file or directory (also tried ");
  CHECK(strstr(err, "/nope.gz)"));
  CHECK(data == NULL && len == 0);
  CHECK_ERR(nn2c_read_file(at("good", 0), &data, &len, err, sizeof err), err,
            "/good: not a regular file (a directory)");
}

int main(int argc, char **argv) {
  CHECK(argc == 2);
  snprintf(work, sizeof work, "%s", argv[1]);
  mkdir(work, 0777);
  test_good();
  test_errors();
  test_read_file();
  test_gzip();
  printf("test_loader: ok\n");
  return 0;
}
