/* test_imdb_real.c - the real IMDB files (argv[1], normally
 * ../shared/data/imdb; exit 77 = skipped when absent): counts, label
 * balance, id ranges and padding, load time, and token statistics against
 * the figures a Python reference of the same rules gives (re.findall of
 * [a-z0-9']+ on ASCII-lowercased text, quotes stripped, json word index):
 * train 5942739 tokens of which 2648 are not in the index, test 5809056 and
 * 59193 (SOURCE.md: 11.75 M tokens, 0.5 % unknown); the first training
 * review starts "Story of a man who has unnatural feelings for a pig.
 * Starts", ranks 62 4 3 129 34 44 7667 1414 15 3 4269 514. */
#define _POSIX_C_SOURCE 200809L
#include <sys/stat.h>

#include <time.h>

#include "check.h"
#include "nn2c_rt.h"

static char err[1024];

static void check_split(const nn2c_dataset *d) {
  int i, j, ones = 0;
  CHECK(d->n == 25000 && d->sample_numel == 100 && d->num_classes == 2);
  for (i = 0; i < d->n; i++) {
    const int32_t *x = d->xi + (size_t)i * 100;
    CHECK(d->yi[i] == (i >= 12500)); /* 12500 negative, then 12500 positive */
    ones += d->yi[i];
    for (j = 0; j < 100 && x[j] == 0; j++) /* padding only in front, then the start id */
      ;
    CHECK(j == 0 || x[j] == 1);
    for (; j < 100; j++)
      CHECK(x[j] >= 1 && x[j] < 10000 && (x[j] != 1 || j == 0 || x[j - 1] == 0));
  }
  CHECK(ones == 12500);
}

/* Encodes every line of a split with the whole vocabulary; counts tokens and unknown words. */
static void token_stats(const char *dir, const char *file, const nn2c_word_index *wi, long long *tokens,
                        long long *unknown, int32_t *first) {
  static int32_t ids[20000];
  char path[4096];
  unsigned char *text;
  size_t len, pos = 0;
  int line = 0;
  snprintf(path, sizeof path, "%s/%s", dir, file);
  CHECK_OK(nn2c_read_file(path, &text, &len, err, sizeof err), err);
  *tokens = *unknown = 0;
  while (pos < len) {
    const char *s = (const char *)text + pos, *nl = memchr(s, '\n', len - pos);
    size_t l = nl ? (size_t)(nl - s) : len - pos;
    int count = nn2c_imdb_encode(wi, s + 2, l - 2, 88588, 20000, ids), k;
    CHECK(count < 20000);
    for (k = 20000 - count + 1; k < 20000; k++)
      *unknown += ids[k] == 2;
    *tokens += count - 1;
    if (line++ == 0) memcpy(first, ids + 20000 - count, 13 * sizeof(int32_t));
    pos += l + 1;
  }
  free(text);
}

int main(int argc, char **argv) {
  static const int32_t want_first[13] = {1, 65, 7, 6, 132, 37, 47, 7670, 1417, 18, 6, 4272, 517};
  nn2c_dataset train, test;
  nn2c_word_index wi;
  char path[4096];
  long long tok, unk;
  int32_t first[13];
  double t0;
  clock_t c0;
  struct stat st;
  CHECK(argc == 2);
  if (stat(argv[1], &st) != 0) {
    printf("skipped: %s is missing\n", argv[1]);
    return 77;
  }
  t0 = nn2c_now();
  c0 = clock();
  CHECK_OK(nn2c_load_imdb(argv[1], 0, 10000, 100, &train, err, sizeof err), err);
  CHECK_OK(nn2c_load_imdb(argv[1], 1, 10000, 100, &test, err, sizeof err), err);
  printf("IMDB train + test (num_words 10000, maxlen 100) loaded in %.2f s (%.2f s CPU)\n", nn2c_now() - t0,
         (double)(clock() - c0) / CLOCKS_PER_SEC);
  check_split(&train);
  check_split(&test);
  nn2c_dataset_free(&train);
  nn2c_dataset_free(&test);

  snprintf(path, sizeof path, "%s/imdb_word_index.json", argv[1]);
  CHECK_OK(nn2c_word_index_load(path, &wi, err, sizeof err), err);
  CHECK(wi.count == 88584);
  token_stats(argv[1], "train.txt.gz", &wi, &tok, &unk, first);
  printf("train: %lld tokens, %lld not in the index\n", tok, unk);
  CHECK(tok == 5942739 && unk == 2648);
  CHECK(!memcmp(first, want_first, sizeof first));
  token_stats(argv[1], "test.txt.gz", &wi, &tok, &unk, first);
  printf("test: %lld tokens, %lld not in the index\n", tok, unk);
  CHECK(tok == 5809056 && unk == 59193);
  nn2c_word_index_free(&wi);
  puts("test_imdb_real: ok");
  return 0;
}
