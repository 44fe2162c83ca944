/* fuzz_npy_csv.c - libFuzzer target for the readers of your own data: an
 * input starting with "\x93NUMPY" goes to the .npy parser (nn2c_npy_parse,
 * every element read) and through nn2c_load_npy as both samples and labels;
 * any other input is a CSV file for nn2c_load_csv, with the label column
 * chosen by the first byte. Each must load or be refused with a message. */
#include <math.h>
#include <string.h>

#include "fuzz_files.h"
#include "nn2c_rt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_loaded(const nn2c_dataset *d, const nn2c_model_io *io) {
  if (d->n < 1 || d->sample_numel != io->in_numel || !d->x || !(d->yi || d->yf)) abort();
  for (size_t i = 0; i < (size_t)d->n * (size_t)d->sample_numel; i++)
    if (!isfinite(d->x[i])) abort();
  for (int i = 0; d->yi && i < d->n; i++)
    if (d->yi[i] < 0 || d->yi[i] >= d->num_classes) abort();
}

static void fuzz_npy(const uint8_t *data, size_t size) {
  nn2c_npy a;
  char err[512];
  double sum = 0;
  if (nn2c_npy_parse("fuzz.npy", data, size, &a, err, sizeof err) == 0)
    for (size_t i = 0; i < a.count; i++) /* every element lies inside the input (ASan checks) */
      sum += nn2c_npy_value(&a, i);
  if (sum == 12345.678) fuzz_file("sum", data, 0); /* keeps the reads */
  const char *path = fuzz_file("a.npy", data, size);
  nn2c_model_io io = {"fuzz", "2", 2, 3, 1, 1};
  nn2c_dataset d;
  if (nn2c_load_npy(path, path, &io, &d, err, sizeof err) == 0) {
    check_loaded(&d, &io);
    nn2c_dataset_free(&d);
  }
}

static void fuzz_csv(const uint8_t *data, size_t size) {
  static const char *const cols[] = {NULL, "0", "1", "2", "label", "a"};
  const char *col = size ? cols[data[0] % 6] : NULL;
  const char *path = fuzz_file("a.csv", data + (size > 0), size - (size > 0));
  nn2c_model_io io = {"fuzz", NULL, 2, 3, 1, (size > 1 && (data[1] & 1))};
  nn2c_dataset d;
  char err[512];
  if (!io.label_is_int) io.out_numel = 1; /* float targets: one value a sample */
  if (nn2c_load_csv(path, col, &io, &d, err, sizeof err) == 0) {
    check_loaded(&d, &io);
    nn2c_dataset_free(&d);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size >= 6 && memcmp(data, "\x93NUMPY", 6) == 0)
    fuzz_npy(data, size);
  else
    fuzz_csv(data, size);
  return 0;
}
