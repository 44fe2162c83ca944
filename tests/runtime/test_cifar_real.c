/* test_cifar_real.c - the CIFAR-10 loader on the real data set (argv[1], the
 * shared cifar-10 directory of plain .bin files). Exits 77 (skipped) when
 * absent. Every loaded float is compared with the byte the binary layout puts
 * it at, read straight from the files. With zlib, argv[2] is a scratch
 * directory where the test split is stored gzipped, to check that plain and
 * gzip files load the same. */
#define _POSIX_C_SOURCE 200809L
#include <sys/stat.h>

#include "check.h"
#include "nn2c_rt.h"

#ifdef NN2C_HAVE_ZLIB
#include <zlib.h>
#endif

static char err[1024];

static unsigned char *read_all(const char *dir, const char *base, size_t *len) {
  char path[4096];
  unsigned char *data;
  snprintf(path, sizeof path, "%s/%s", dir, base);
  CHECK_OK(nn2c_read_file(path, &data, len, err, sizeof err), err);
  return data;
}

/* Samples first..first+9999 of d against file base: the label at byte 0 of a
 * record, pixel (row y, column x) channel c at byte 1 + c*1024 + y*32 + x,
 * sample float [y][x][c] (NHWC). */
static void check_file(const nn2c_dataset *d, const char *dir, const char *base, int first) {
  size_t len, r;
  unsigned char *raw = read_all(dir, base, &len);
  int y, x, c;
  CHECK(len == 10000 * 3073);
  for (r = 0; r < 10000; r++) {
    const unsigned char *rec = raw + r * 3073;
    size_t s = ((size_t)first + r) * 3072;
    CHECK(d->yi[(size_t)first + r] == rec[0]);
    for (y = 0; y < 32; y++)
      for (x = 0; x < 32; x++)
        for (c = 0; c < 3; c++)
          CHECK(nn2c_dataset_value(d, s + (size_t)((y * 32 + x) * 3 + c)) ==
                (float)rec[1 + c * 1024 + y * 32 + x] / 255.0f);
  }
  free(raw);
}

static void check_counts(const nn2c_dataset *d, int n) {
  int counts[10] = {0}, i;
  CHECK(d->n == n && d->sample_numel == 3072 && d->label_numel == 1 && d->num_classes == 10);
  CHECK(d->yi && !d->yf);
  for (i = 0; i < n; i++) {
    CHECK(d->yi[i] >= 0 && d->yi[i] <= 9);
    counts[d->yi[i]]++;
  }
  for (i = 0; i < 10; i++)
    CHECK(counts[i] == n / 10); /* CIFAR-10 is balanced: 5000 / 1000 per class */
}

#ifdef NN2C_HAVE_ZLIB
static void check_gzip(const char *dir, const char *scratch, const nn2c_dataset *test) {
  char path[4096];
  size_t len;
  unsigned char *raw = read_all(dir, "test_batch.bin", &len);
  nn2c_dataset gz;
  gzFile g;
  mkdir(scratch, 0777);
  snprintf(path, sizeof path, "%s/test_batch.bin.gz", scratch);
  CHECK((g = gzopen(path, "wb1")) != NULL);
  CHECK(gzwrite(g, raw, (unsigned)len) == (int)len);
  CHECK(gzclose(g) == Z_OK);
  free(raw);
  CHECK_OK(nn2c_load_cifar10(scratch, 1, &gz, err, sizeof err), err);
  CHECK(gz.n == 10000);
  CHECK(memcmp(gz.xb, test->xb, (size_t)3072 * 10000) == 0);
  CHECK(memcmp(gz.yi, test->yi, sizeof(int32_t) * 10000) == 0);
  nn2c_dataset_free(&gz);
}
#endif

int main(int argc, char **argv) {
  static const char *const batches[5] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin",
                                         "data_batch_5.bin"};
  nn2c_dataset train, test;
  struct stat st;
  int i;
  CHECK(argc == 3);
  if (stat(argv[1], &st) != 0) {
    printf("skipped: no CIFAR-10 data in %s\n", argv[1]);
    return 77;
  }
  CHECK_OK(nn2c_load_cifar10(argv[1], 0, &train, err, sizeof err), err);
  check_counts(&train, 50000);
  /* known values (od -An -tu1 -N3073 data_batch_1.bin): a frog whose top-left
   * pixel is (59,62,63); the last train image is an automobile */
  CHECK(train.yi[0] == 6 && train.yi[49999] == 1);
  CHECK(nn2c_dataset_value(&train, 0) == 59 / 255.0f && nn2c_dataset_value(&train, 1) == 62 / 255.0f &&
        nn2c_dataset_value(&train, 2) == 63 / 255.0f);
  for (i = 0; i < 5; i++)
    check_file(&train, argv[1], batches[i], i * 10000);

  CHECK_OK(nn2c_load_cifar10(argv[1], 1, &test, err, sizeof err), err);
  check_counts(&test, 10000);
  CHECK(test.yi[0] == 3); /* a cat, top-left pixel (158,112,49) */
  CHECK(nn2c_dataset_value(&test, 0) == 158 / 255.0f && nn2c_dataset_value(&test, 1) == 112 / 255.0f &&
        nn2c_dataset_value(&test, 2) == 49 / 255.0f);
  check_file(&test, argv[1], "test_batch.bin", 0);
#ifdef NN2C_HAVE_ZLIB
  check_gzip(argv[1], argv[2], &test);
#endif
  {
    /* Loading with a sample limit reads only the files it needs, same data. */
    nn2c_dataset part;
    CHECK_OK(nn2c_load_cifar10_max(argv[1], 0, 12345, &part, err, sizeof err), err);
    CHECK(part.n == 20000 && memcmp(part.xb, train.xb, (size_t)20000 * 3072) == 0);
    nn2c_dataset_truncate(&part, 100);
    CHECK(part.n == 100 && part.yi[99] == train.yi[99] && part.xb[100 * 3072 - 1] == train.xb[100 * 3072 - 1]);
    nn2c_dataset_free(&part);
  }
  nn2c_dataset_free(&train);
  nn2c_dataset_free(&test);
  printf("test_cifar_real: ok\n");
  return 0;
}
