/* fuzz_word_index.c - libFuzzer target for the IMDB word-index JSON parser
 * (nn2c_word_index_parse, from memory): any text must parse or be refused
 * with a message; a parsed index then answers lookups and encodes a review. */
#include <string.h>

#include "nn2c_rt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  nn2c_word_index wi;
  char err[512];
  if (nn2c_word_index_parse("fuzz.json", (const char *)data, size, &wi, err, sizeof err)) return 0;
  static const char review[] = "The movie's 'plot' -- it's BAD, and the end... 10/10 \xc3\xa9t\xc3\xa9";
  int32_t ids[16];
  nn2c_word_index_rank(&wi, "the", 3);
  nn2c_word_index_rank(&wi, "", 0);
  nn2c_imdb_encode(&wi, review, sizeof review - 1, 1000, 16, ids);
  nn2c_word_index_free(&wi);
  return 0;
}
