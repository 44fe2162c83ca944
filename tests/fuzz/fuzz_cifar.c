/* fuzz_cifar.c - libFuzzer target for the CIFAR-10 binary loader
 * (nn2c_load_cifar10_max, test split): the input is test_batch.bin, plain or
 * gzip. A valid file is 10000 records of 3073 bytes, so the seed is a gzip
 * of one (tests/fuzz/make_corpus.sh); anything must load or be refused. */
#include "fuzz_files.h"
#include "nn2c_rt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_file("test_batch.bin", data, size);
  nn2c_dataset ds;
  char err[512];
  if (nn2c_load_cifar10_max(fuzz_dir(), 1, 1, &ds, err, sizeof err) == 0) nn2c_dataset_free(&ds);
  return 0;
}
