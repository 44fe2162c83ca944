/* test_mnist_real.c - the MNIST loader on the real data set (argv[1], the
 * shared mnist directory of .gz files). Exits 77 (skipped) when absent.
 * argv[2] is a scratch directory where the test split is stored gunzipped,
 * to check that plain and gzip files load the same. */
#define _POSIX_C_SOURCE 200809L
#include <sys/stat.h>

#include "check.h"
#include "nn2c_rt.h"

static char err[1024];

static void check_split(const nn2c_dataset *d, int n, int first_label) {
  int counts[10] = {0}, i;
  size_t k;
  CHECK(d->n == n && d->sample_numel == 784 && d->num_classes == 10);
  CHECK(d->yi[0] == first_label);
  for (i = 0; i < n; i++) {
    CHECK(d->yi[i] >= 0 && d->yi[i] <= 9);
    counts[d->yi[i]]++;
  }
  for (i = 0; i < 10; i++)
    CHECK(counts[i] > n / 20);
  for (k = 0; k < (size_t)n * 784; k++)
    CHECK(nn2c_dataset_value(d, k) >= 0.0f && nn2c_dataset_value(d, k) <= 1.0f);
}

/* Copies dir/base (whatever its compression) to out/base uncompressed. */
static void gunzip_to(const char *dir, const char *out, const char *base) {
  char path[4096];
  unsigned char *data;
  size_t len;
  snprintf(path, sizeof path, "%s/%s", dir, base);
  CHECK_OK(nn2c_read_file(path, &data, &len, err, sizeof err), err);
  snprintf(path, sizeof path, "%s/%s", out, base);
  write_bytes(path, data, len);
  free(data);
}

int main(int argc, char **argv) {
  nn2c_dataset train, test, plain;
  struct stat st;
  CHECK(argc == 3);
#ifndef NN2C_HAVE_ZLIB
  printf("skipped: the shared MNIST files are gzipped and the runtime has no zlib\n");
  return 77;
#endif
  if (stat(argv[1], &st) != 0) {
    printf("skipped: no MNIST data in %s\n", argv[1]);
    return 77;
  }
  CHECK_OK(nn2c_load_mnist(argv[1], 0, &train, err, sizeof err), err);
  check_split(&train, 60000, 5);
  CHECK_OK(nn2c_load_mnist(argv[1], 1, &test, err, sizeof err), err);
  check_split(&test, 10000, 7);

  mkdir(argv[2], 0777);
  gunzip_to(argv[1], argv[2], "t10k-images-idx3-ubyte");
  gunzip_to(argv[1], argv[2], "t10k-labels-idx1-ubyte");
  CHECK_OK(nn2c_load_mnist(argv[2], 1, &plain, err, sizeof err), err);
  CHECK(plain.n == test.n);
  CHECK(memcmp(plain.xb, test.xb, (size_t)784 * 10000) == 0);
  CHECK(memcmp(plain.yi, test.yi, sizeof(int32_t) * 10000) == 0);
  nn2c_dataset_free(&train);
  nn2c_dataset_free(&test);
  nn2c_dataset_free(&plain);
  printf("test_mnist_real: ok\n");
  return 0;
}
