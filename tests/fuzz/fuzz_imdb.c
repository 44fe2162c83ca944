/* fuzz_imdb.c - libFuzzer target for the IMDB review loader (nn2c_load_imdb,
 * test split): the input is test.txt.gz (lines "<0|1> <text>", plain or
 * gzip), read with a fixed small word index. Any file must load or be
 * refused with a message. */
#include "fuzz_files.h"
#include "nn2c_rt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char word_index[] = "{\"the\": 1, \"and\": 2, \"a\": 3, \"movie\": 17, \"it's\": 42, \"bad\": 75}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_file("imdb_word_index.json", (const uint8_t *)word_index, sizeof word_index - 1);
  fuzz_file("test.txt.gz", data, size);
  nn2c_dataset ds;
  char err[512];
  if (nn2c_load_imdb(fuzz_dir(), 1, 20, 8, &ds, err, sizeof err) == 0) nn2c_dataset_free(&ds);
  return 0;
}
