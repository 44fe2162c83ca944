/* test_text.c - the IMDB side of the runtime on small hand-made inputs: the
 * JSON word index (escapes, every malformed case with its byte offset),
 * Keras-style encoding with known ids, the loader on files written into
 * argv[1] (plain and gzip, bad label lines, a cut-off gzip stream). */
#define _POSIX_C_SOURCE 200809L
#include <sys/stat.h>

#include "check.h"
#include "nn2c_rt.h"

#ifdef NN2C_HAVE_ZLIB
#include <zlib.h>
#endif

static char err[1024];
static char work[2048];

static const char *at(const char *name) { return path_in(work, name); }

static void write_text(const char *path, const char *s) { write_bytes(path, s, strlen(s)); }

/* \u00e9 is e-acute (2 UTF-8 bytes), \ud83d\ude00 an emoji (a surrogate pair, 4 bytes). */
static const char *index_json = "{\"the\": 1, \"movie\": 2, \"it's\": 3, \"great\": 4,\n"
                                "  \"caf\\u00e9\": 5, \"rock'n'roll\": 6, \"a\": 7, \"bad\": 8,"
                                " \"\\ud83d\\ude00x\": 9, \"quote\\\"d\": 10, \"tab\\tx\": 11}";

static void test_index(void) {
  nn2c_word_index wi;
  CHECK_OK(nn2c_word_index_parse("t.json", index_json, strlen(index_json), &wi, err, sizeof err), err);
  CHECK(wi.count == 11);
  CHECK(nn2c_word_index_rank(&wi, "the", 3) == 1);
  CHECK(nn2c_word_index_rank(&wi, "rock'n'roll", 11) == 6);
  CHECK(nn2c_word_index_rank(&wi, "caf\xc3\xa9", 5) == 5);
  CHECK(nn2c_word_index_rank(&wi, "\xf0\x9f\x98\x80x", 5) == 9);
  CHECK(nn2c_word_index_rank(&wi, "quote\"d", 7) == 10);
  CHECK(nn2c_word_index_rank(&wi, "tab\tx", 5) == 11);
  CHECK(nn2c_word_index_rank(&wi, "th", 2) == 0);
  CHECK(nn2c_word_index_rank(&wi, "thee", 4) == 0);
  CHECK(nn2c_word_index_rank(&wi, "The", 3) == 0); /* the index is lowercase; encoding lowercases */
  nn2c_word_index_free(&wi);
  /* an empty object is a valid (empty) index */
  CHECK_OK(nn2c_word_index_parse("e.json", " {} \n", 5, &wi, err, sizeof err), err);
  CHECK(wi.count == 0 && nn2c_word_index_rank(&wi, "a", 1) == 0);
  nn2c_word_index_free(&wi);
}

static void bad_json(const char *json, const char *want) {
  nn2c_word_index wi;
  CHECK_ERR(nn2c_word_index_parse("bad.json", json, strlen(json), &wi, err, sizeof err), err, want);
  CHECK(wi.slots == NULL && wi.keys == NULL);
}

static void test_bad_json(void) {
  bad_json("", "bad.json: byte 0: expected '{' (a JSON object of word: rank), found the end");
  bad_json("[1]", "bad.json: byte 0: expected '{' (a JSON object of word: rank), found '['");
  bad_json("{\"a\": 1,}", "bad.json: byte 8: expected a string key in double quotes, found '}'");
  bad_json("{\"a\" 1}", "bad.json: byte 5: expected ':' after a key, found '1'");
  bad_json("{\"a\": -1}", "bad.json: byte 6: expected a positive integer rank, found '-'");
  bad_json("{\"a\": 1.5}", "bad.json: byte 6: expected a positive integer rank, found '1'");
  bad_json("{\"a\": 0}", "bad.json: byte 6: expected a positive integer rank");
  bad_json("{\"a\": 07}", "bad.json: byte 6: expected a positive integer rank");
  bad_json("{\"a\": \"1\"}", "bad.json: byte 6: expected a positive integer rank, found '\"'");
  bad_json("{\"a\": 99999999999}", "bad.json: byte 6: rank too large");
  bad_json("{\"a\": 1, \"a\": 2}", "bad.json: byte 9: duplicate key \"a\"");
  bad_json("{\"a\": 1 \"b\": 2}", "bad.json: byte 8: expected ',' or '}' after a value");
  bad_json("{\"a\": 1} x", "bad.json: byte 9: expected the end of the file after the object");
  bad_json("{\"a\": 1", "bad.json: byte 7: expected ',' or '}' after a value, found the end");
  bad_json("{\"a", "bad.json: byte 3: unterminated string, found the end of the file");
  bad_json("{\"a\\q\": 1}", "bad.json: byte 4: bad escape after '\\', found 'q'");
  bad_json("{\"\\u12g4\": 1}", "bad.json: byte 6: expected 4 hex digits after \\u, found 'g'");
  bad_json("{\"\\ud800\": 1}", "bad.json: byte 8: expected a low surrogate");
  bad_json("{\"\\ud800\\u0041\": 1}", "bad.json: byte 8: expected a low surrogate \\uDC00");
  bad_json("{\"\\udc00\": 1}", "bad.json: byte 2: unpaired low surrogate, found '\\'");
  bad_json("{\"a\nb\": 1}", "bad.json: byte 3: control character in a string");
}

/* Encodes text and compares with want[0..nwant). */
static void encode_is(const nn2c_word_index *wi, const char *text, int num_words, int maxlen, const int32_t *want,
                      int want_count) {
  int32_t ids[64];
  int i, count = nn2c_imdb_encode(wi, text, strlen(text), num_words, maxlen, ids);
  CHECK(count == want_count);
  for (i = 0; i < maxlen; i++)
    if (ids[i] != want[i]) {
      fprintf(stderr, "encode(maxlen %d, num_words %d): id %d is %d, expected %d\n", maxlen, num_words, i, ids[i],
              want[i]);
      exit(1);
    }
}

static void test_encode(void) {
  /* tokens: the movie it's great br a bad bad movie rock'n'roll caf 42
   * ("caf\xc3\xa9": the UTF-8 bytes end the token; '' is an empty token) */
  const char *text = "The MOVIE -- it's 'great'!<br />A bad, BAD movie... rock'n'roll caf\xc3\xa9 42 ''";
  static const int32_t all[13] = {1, 4, 5, 6, 7, 2, 10, 11, 11, 5, 9, 2, 2};
  static const int32_t padded[16] = {0, 0, 0, 1, 4, 5, 6, 7, 2, 10, 11, 11, 5, 9, 2, 2};
  static const int32_t last5[5] = {11, 5, 9, 2, 2};
  static const int32_t last12[12] = {4, 5, 6, 7, 2, 10, 11, 11, 5, 9, 2, 2};
  /* num_words 8 keeps ranks r with r + 3 < 8: the movie it's great */
  static const int32_t few[13] = {1, 4, 5, 6, 7, 2, 2, 2, 2, 5, 2, 2, 2};
  static const int32_t empty[3] = {0, 0, 1};
  static const int32_t one[1] = {1};
  nn2c_word_index wi;
  CHECK_OK(nn2c_word_index_parse("t.json", index_json, strlen(index_json), &wi, err, sizeof err), err);
  encode_is(&wi, text, 1000, 13, all, 13);
  encode_is(&wi, text, 1000, 16, padded, 13);
  encode_is(&wi, text, 1000, 5, last5, 13);
  encode_is(&wi, text, 1000, 12, last12, 13);
  encode_is(&wi, text, 8, 13, few, 13);
  encode_is(&wi, "", 1000, 3, empty, 1);
  encode_is(&wi, "' '' !!", 1000, 1, one, 1);
  nn2c_word_index_free(&wi);
}

#ifdef NN2C_HAVE_ZLIB
static void write_gz(const char *path, const char *s) {
  gzFile g = gzopen(path, "wb");
  CHECK(g != NULL);
  CHECK(gzwrite(g, s, (unsigned)strlen(s)) == (int)strlen(s));
  CHECK(gzclose(g) == Z_OK);
}
#endif

static const char *reviews = "0 The bad movie.\n1 A great movie, it's great!\n1 \n0 bad";

static void test_loader(void) {
  static const int32_t want[4][4] = {{1, 4, 11, 5}, {7, 5, 6, 7}, {0, 0, 0, 1}, {0, 0, 1, 11}};
  nn2c_dataset d;
  int i, j, split;
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", at("imdb"));
  mkdir(dir, 0777);
  write_text(at("imdb/imdb_word_index.json"), index_json);
  write_text(at("imdb/train.txt"), reviews); /* found as the plain twin of train.txt.gz */
#ifdef NN2C_HAVE_ZLIB
  write_gz(at("imdb/test.txt.gz"), reviews);
#else
  write_text(at("imdb/test.txt"), reviews);
#endif
  for (split = 0; split < 2; split++) {
    CHECK_OK(nn2c_load_imdb(dir, split, 1000, 4, &d, err, sizeof err), err);
    CHECK(d.n == 4 && d.sample_numel == 4 && d.num_classes == 2 && d.xi && !d.x && d.yi);
    CHECK(d.yi[0] == 0 && d.yi[1] == 1 && d.yi[2] == 1 && d.yi[3] == 0);
    for (i = 0; i < 4; i++)
      for (j = 0; j < 4; j++)
        CHECK(d.xi[i * 4 + j] == want[i][j]);
    CHECK(nn2c_dataset_value(&d, 7) == 7.0f); /* token ids reach the model as floats */
    nn2c_dataset_free(&d);
  }
}

/* Lines longer than the reader's 1 MB chunks, and lines across chunk ends. */
static void test_long_lines(void) {
  size_t n = 3u << 20, i;
  char *text = malloc(n + 64);
  nn2c_dataset d;
  CHECK(text != NULL);
  memcpy(text, "1 ", 2);
  for (i = 2; i + 4 <= n; i += 4)
    memcpy(text + i, "the ", 4);
  strcpy(text + i, "bad\n0 great movie\n");
  write_text(at("imdb/train.txt"), text);
  free(text);
  CHECK_OK(nn2c_load_imdb(at("imdb"), 0, 1000, 4, &d, err, sizeof err), err);
  CHECK(d.n == 2 && d.yi[0] == 1 && d.yi[1] == 0);
  CHECK(d.xi[0] == 4 && d.xi[1] == 4 && d.xi[2] == 4 && d.xi[3] == 11);
  CHECK(d.xi[4] == 0 && d.xi[5] == 1 && d.xi[6] == 7 && d.xi[7] == 5);
  nn2c_dataset_free(&d);
}

static void bad_reviews(const char *text, const char *want) {
  nn2c_dataset d;
  write_text(at("imdb/train.txt"), text);
  CHECK_ERR(nn2c_load_imdb(at("imdb"), 0, 1000, 4, &d, err, sizeof err), err, want);
  CHECK(d.n == 0 && d.xi == NULL && d.yi == NULL);
}

static void test_bad_files(void) {
  nn2c_dataset d;
  bad_reviews("0 ok\n2 bad label\n", "imdb/train.txt:2: expected a label 0 or 1 and a space at the start");
  bad_reviews("1ok\n", "imdb/train.txt:1: expected a label 0 or 1 and a space");
  bad_reviews("0 a\n\n1 b\n", "imdb/train.txt:2: expected a label 0 or 1");
  bad_reviews("", "imdb/train.txt: no reviews in the file");
  write_text(at("imdb/train.txt"), reviews);
  write_text(at("imdb/imdb_word_index.json"), "{\"the\": 1,, }");
  CHECK_ERR(nn2c_load_imdb(at("imdb"), 0, 1000, 4, &d, err, sizeof err), err,
            "imdb/imdb_word_index.json: byte 10: expected a string key in double quotes, found ','");
  write_text(at("imdb/imdb_word_index.json"), index_json);
  CHECK_ERR(nn2c_load_imdb(at("nowhere"), 0, 1000, 4, &d, err, sizeof err), err,
            "nowhere/imdb_word_index.json: cannot open: No such file or directory");
#ifdef NN2C_HAVE_ZLIB
  { /* a gzip stream cut in half */
    FILE *f = fopen(at("imdb/test.txt.gz"), "rb");
    unsigned char buf[4096];
    size_t n;
    CHECK(f != NULL);
    n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    write_bytes(at("imdb/test.txt.gz"), buf, n / 2);
    CHECK_ERR(nn2c_load_imdb(at("imdb"), 1, 1000, 4, &d, err, sizeof err), err,
              "imdb/test.txt.gz: gzip error: truncated");
  }
#endif
}

int main(int argc, char **argv) {
  CHECK(argc == 2);
  snprintf(work, sizeof work, "%s", argv[1]);
  mkdir(work, 0777);
  test_index();
  test_bad_json();
  test_encode();
  test_loader();
  test_long_lines();
  test_bad_files();
  puts("test_text: ok");
  return 0;
}
