/* test_cifar.c - nn2c_load_cifar10 on files of the binary layout that the
 * test writes itself into argv[1]: one good test split whose bytes encode
 * their position (to check the NHWC order), and broken train splits. A CIFAR
 * file always holds 10000 records, so the train splits share one good file
 * through symbolic links and differ in the one file a case breaks. */
#define _POSIX_C_SOURCE 200809L
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "nn2c_rt.h"

#ifdef NN2C_HAVE_ZLIB
#include <zlib.h>
#endif

#define REC 3073
#define NREC 10000

static char work[2048];
static char err[1024];
static unsigned char *good; /* NREC records */

/* work/NAME, with the directory created if asked. */
static const char *at(const char *name, int make_dir) {
  static char buf[4][4096];
  static int k;
  char *p = buf[k++ % 4];
  snprintf(p, 4096, "%s/%s", work, name);
  if (make_dir) mkdir(p, 0777);
  return p;
}

/* Byte of record r, channel c, plane offset p: differs between neighbours in
 * every index, so a mix-up of any two shows. */
static unsigned char pixel(size_t r, int c, size_t p) {
  return (unsigned char)(r * 7 + (size_t)c * 85 + p * 3 + p / 32);
}

static void make_good(void) {
  size_t r, p;
  int c;
  CHECK((good = malloc((size_t)NREC * REC)) != NULL);
  for (r = 0; r < NREC; r++) {
    good[r * REC] = (unsigned char)(r % 10);
    for (c = 0; c < 3; c++)
      for (p = 0; p < 1024; p++)
        good[r * REC + 1 + (size_t)c * 1024 + p] = pixel(r, c, p);
  }
  write_bytes(at("good.bin", 0), good, (size_t)NREC * REC);
}

static void test_good(void) {
  const char *dir = at("test", 1);
  nn2c_dataset d;
  size_t r;
  int y, x, c;
  CHECK(symlink("../good.bin", at("test/test_batch.bin", 0)) == 0);
  CHECK_OK(nn2c_load_cifar10(dir, 1, &d, err, sizeof err), err);
  CHECK(d.n == NREC && d.sample_numel == 3072 && d.label_numel == 1 && d.num_classes == 10);
  CHECK(d.yi && !d.yf);
  for (r = 0; r < NREC; r++) {
    CHECK(d.yi[r] == (int32_t)(r % 10));
    for (y = 0; y < 32; y++)
      for (x = 0; x < 32; x++)
        for (c = 0; c < 3; c++)
          CHECK(nn2c_dataset_value(&d, r * 3072 + (size_t)(y * 32 + x) * 3 + (size_t)c) ==
                (float)pixel(r, c, (size_t)(y * 32 + x)) / 255.0f);
  }
  CHECK(nn2c_dataset_value(&d, 0) == 0.0f && nn2c_dataset_value(&d, 1) == 85 / 255.0f &&
        nn2c_dataset_value(&d, 2) == 170 / 255.0f);
  nn2c_dataset_free(&d);
  /* the train split is other files */
  CHECK_ERR(nn2c_load_cifar10(dir, 0, &d, err, sizeof err), err,
            "test/data_batch_1.bin: cannot open: No such file or directory (also tried ");
  CHECK(strstr(err, "test/data_batch_1.bin.gz)"));
  CHECK(d.x == NULL && d.xb == NULL && d.yi == NULL && d.n == 0);
  CHECK_ERR(nn2c_load_cifar10(dir, 2, &d, err, sizeof err), err, "test: bad CIFAR-10 split 2 (0 = train, 1 = test)");
}

/* A train split in work/NAME: good files except number `bad`, which gets
 * `len` bytes of data (or is left out for data NULL). */
static void make_train(const char *name, int bad, const unsigned char *data, size_t len) {
  int i;
  at(name, 1);
  for (i = 1; i <= 5; i++) {
    char base[256];
    snprintf(base, sizeof base, "%s/data_batch_%d.bin", name, i);
    if (i != bad)
      CHECK(symlink("../good.bin", at(base, 0)) == 0);
    else if (data)
      write_bytes(at(base, 0), data, len);
  }
}

/* A test split in work/NAME whose one file holds data[len]. */
static void make_test(const char *name, const unsigned char *data, size_t len) {
  char base[256];
  at(name, 1);
  snprintf(base, sizeof base, "%s/test_batch.bin", name);
  write_bytes(at(base, 0), data, len);
}

static void expect_error(const char *name, int split, const char *want) {
  nn2c_dataset d;
  CHECK_ERR(nn2c_load_cifar10(at(name, 0), split, &d, err, sizeof err), err, want);
  CHECK(d.x == NULL && d.xb == NULL && d.yi == NULL && d.n == 0);
}

/* Most cases break the one-file test split, which fails fastest. */
static void test_errors(void) {
  make_train("short", 3, good, (size_t)NREC * REC - 1); /* the files before it are fine */
  expect_error("short", 0, "short/data_batch_3.bin: 30729999 bytes is not 10000 records of 3073 bytes");

  make_train("missing", 2, NULL, 0);
  expect_error("missing", 0, "missing/data_batch_2.bin: cannot open: No such file or directory (also tried ");
  expect_error("no-such-dir", 1, "no-such-dir/test_batch.bin: cannot open");

  make_test("long", good, (size_t)NREC * REC); /* then one byte more */
  {
    FILE *f = fopen(at("long/test_batch.bin", 0), "ab");
    CHECK(f && fputc(0, f) == 0 && fclose(f) == 0);
  }
  expect_error("long", 1, "long/test_batch.bin: 30730001 bytes is not 10000 records of 3073 bytes");

  make_test("few", good, 5 * REC); /* whole records, but too few */
  expect_error("few", 1, "few/test_batch.bin: 15365 bytes is not 10000 records of 3073 bytes");

  make_test("empty", good, 0);
  expect_error("empty", 1, "empty/test_batch.bin: 0 bytes is not 10000 records of 3073 bytes");

  good[1234 * REC] = 10;
  make_test("label", good, (size_t)NREC * REC);
  good[1234 * REC] = 4;
  expect_error("label", 1, "label/test_batch.bin: label 10 at record 1234 is out of range 0..9");

  good[9999 * REC] = 255;
  make_test("label-last", good, (size_t)NREC * REC);
  good[9999 * REC] = 9;
  expect_error("label-last", 1, "label-last/test_batch.bin: label 255 at record 9999 is out of range 0..9");
}

#ifdef NN2C_HAVE_ZLIB
/* test_batch.bin.gz is read when the plain file is absent, to the same data. */
static void test_gzip(void) {
  nn2c_dataset plain, gz;
  gzFile g;
  at("gz", 1);
  CHECK((g = gzopen(at("gz/test_batch.bin.gz", 0), "wb1")) != NULL);
  CHECK(gzwrite(g, good, (unsigned)NREC * REC) == NREC * REC);
  CHECK(gzclose(g) == Z_OK);
  CHECK_OK(nn2c_load_cifar10(at("gz", 0), 1, &gz, err, sizeof err), err);
  CHECK_OK(nn2c_load_cifar10(at("test", 0), 1, &plain, err, sizeof err), err);
  CHECK(gz.n == NREC);
  CHECK(memcmp(gz.xb, plain.xb, (size_t)NREC * 3072) == 0);
  CHECK(memcmp(gz.yi, plain.yi, sizeof(int32_t) * NREC) == 0);
  nn2c_dataset_free(&gz);
  nn2c_dataset_free(&plain);
}
#else
static void test_gzip(void) {}
#endif

int main(int argc, char **argv) {
  CHECK(argc == 2);
  snprintf(work, sizeof work, "%s", argv[1]);
  mkdir(work, 0777);
  /* start clean: the symbolic links of an earlier run would be in the way */
  {
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'/*", work);
    CHECK(system(cmd) == 0);
  }
  make_good();
  test_good();
  test_errors();
  test_gzip();
  free(good);
  printf("test_cifar: ok\n");
  return 0;
}
