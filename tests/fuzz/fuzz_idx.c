/* fuzz_idx.c - libFuzzer target for the MNIST IDX loader (nn2c_load_mnist).
 * The input holds both files of the test split: a 2-byte little-endian
 * length n, then n bytes of t10k-labels-idx1-ubyte, then the rest as
 * t10k-images-idx3-ubyte (either may be gzip). Any pair must load or be
 * refused with a message. */
#include "fuzz_files.h"
#include "nn2c_rt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  size_t n = (size_t)data[0] | (size_t)data[1] << 8;
  if (n > size - 2) n = size - 2;
  fuzz_file("t10k-labels-idx1-ubyte", data + 2, n);
  fuzz_file("t10k-images-idx3-ubyte", data + 2 + n, size - 2 - n);
  nn2c_dataset ds;
  char err[512];
  if (nn2c_load_mnist(fuzz_dir(), 1, &ds, err, sizeof err) == 0) {
    float x[64];
    if (ds.n > 0 && ds.sample_numel <= 64) nn2c_dataset_get(&ds, (size_t)ds.n - 1, x);
    nn2c_dataset_free(&ds);
  }
  return 0;
}
