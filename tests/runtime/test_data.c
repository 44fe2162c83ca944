/* test_data.c - dataset specs (options, defaults, every error), the fit
 * checks, random data (deterministic per seed, in range, balanced),
 * shuffling (rows and labels move together) and label conversion. */
#include <math.h>

#include "check.h"
#include "nn2c_rt.h"

static char err[1024];

static void test_spec(void) {
  nn2c_data_spec s;
  CHECK_OK(nn2c_data_spec_parse("random", NULL, &s, err, sizeof err), err);
  CHECK(s.samples == 1000 && s.classes == 0 && s.seq == 0 && s.features == 0);
  CHECK_OK(nn2c_data_spec_fit(&s, 4, 1, 1, 0, err, sizeof err), err); /* one sigmoid: 2 */
  CHECK(s.classes == 2);
  s.classes = 0;
  CHECK_OK(nn2c_data_spec_fit(&s, 4, 10, 1, 1, err, sizeof err), err); /* 10-way softmax */
  CHECK(s.classes == 10);
  s.classes = 0;
  CHECK_OK(nn2c_data_spec_fit(&s, 4, 5, 5, 0, err, sizeof err), err); /* 5 one-hot floats */
  CHECK(s.classes == 5);
  CHECK_OK(nn2c_data_spec_parse("random", "samples=64 seq=10  features=1 classes=3", &s, err, sizeof err), err);
  CHECK(s.samples == 64 && s.classes == 3 && s.seq == 10 && s.features == 1);
  CHECK_OK(nn2c_data_spec_parse("imdb", "", &s, err, sizeof err), err);
  CHECK(s.num_words == 10000 && s.maxlen == 100);
  CHECK_OK(nn2c_data_spec_parse("speech_commands", "", &s, err, sizeof err), err);
  CHECK(s.mel.n_mels == 20 && s.mel.frames == 80 && s.mel.window == 400 && s.mel.hop == 200);
  CHECK(s.mel.n_fft == 512 && s.mel.fmin == 0 && s.mel.fmax == 8000 && s.mel.normalize == 1);
  CHECK_OK(nn2c_data_spec_parse("speech_commands", "window=1024 hop=400 frames=40", &s, err, sizeof err), err);
  CHECK(s.mel.n_fft == 1024);
  CHECK_OK(nn2c_data_spec_parse("mnist", "", &s, err, sizeof err), err);

  CHECK_ERR(nn2c_data_spec_parse("imagenet", "", &s, err, sizeof err), err,
            "unknown dataset 'imagenet' (expected mnist, cifar10, inline, random, imdb or "
            "speech_commands)");
  CHECK_ERR(nn2c_data_spec_parse("imdb", "max_len=80", &s, err, sizeof err), err,
            "dataset imdb has no option 'max_len' (options: num_words maxlen)");
  CHECK_ERR(nn2c_data_spec_parse("mnist", "size=3", &s, err, sizeof err), err,
            "dataset mnist has no option 'size' (it takes none)");
  CHECK_ERR(nn2c_data_spec_parse("imdb", "maxlen", &s, err, sizeof err), err,
            "dataset imdb: expected key=value, got 'maxlen'");
  CHECK_ERR(nn2c_data_spec_parse("imdb", "maxlen=", &s, err, sizeof err), err,
            "dataset imdb: maxlen must be an integer in [1, 100000], got ''");
  CHECK_ERR(nn2c_data_spec_parse("imdb", "maxlen=1e3", &s, err, sizeof err), err,
            "maxlen must be an integer in [1, 100000], got '1e3'");
  CHECK_ERR(nn2c_data_spec_parse("imdb", "maxlen=-5", &s, err, sizeof err), err, "got '-5'");
  CHECK_ERR(nn2c_data_spec_parse("random", "classes=1", &s, err, sizeof err), err,
            "classes must be an integer in [2, 1000000], got '1'");
  CHECK_ERR(nn2c_data_spec_parse("random", "samples=99999999999999", &s, err, sizeof err), err,
            "samples must be an integer in [1, 100000000]");
  CHECK_ERR(nn2c_data_spec_parse("speech_commands", "n_fft=500", &s, err, sizeof err), err,
            "log-mel: n_fft=500 is not a power of two");
  CHECK_ERR(nn2c_data_spec_parse("speech_commands", "n_fft=256", &s, err, sizeof err), err,
            "log-mel: window=400 must be in [2, n_fft=256]");
  CHECK_ERR(nn2c_data_spec_parse("speech_commands", "frames=100", &s, err, sizeof err), err,
            "log-mel: frames=100 with hop=200 start past the 1 s clip (16000 samples)");
  CHECK_ERR(nn2c_data_spec_parse("speech_commands", "fmin=4000 fmax=4000", &s, err, sizeof err), err,
            "log-mel: need 0 <= fmin < fmax <= 8000 Hz, got fmin=4000 fmax=4000");
  CHECK_ERR(nn2c_data_spec_parse("speech_commands", "n_mels=128", &s, err, sizeof err), err,
            "log-mel: n_mels=128 is too many for n_fft=512: mel band 0 holds no FFT bin");
}

static void test_fit(void) {
  nn2c_data_spec s;
  CHECK_OK(nn2c_data_spec_parse("random", "seq=10 features=1", &s, err, sizeof err), err);
  CHECK_OK(nn2c_data_spec_fit(&s, 10, 1, 1, 0, err, sizeof err), err); /* sigmoid, 0/1 floats */
  CHECK_OK(nn2c_data_spec_fit(&s, 10, 2, 1, 1, err, sizeof err), err); /* softmax, int labels */
  CHECK_OK(nn2c_data_spec_fit(&s, 10, 2, 2, 0, err, sizeof err), err); /* one-hot */
  CHECK_ERR(nn2c_data_spec_fit(&s, 20, 1, 1, 0, err, sizeof err), err,
            "dataset random gives 10 numbers per sample (seq x features) but the model input "
            "takes 20");
  CHECK_OK(nn2c_data_spec_parse("random", "classes=3", &s, err, sizeof err), err);
  CHECK_ERR(nn2c_data_spec_fit(&s, 10, 1, 1, 0, err, sizeof err), err,
            "3 classes do not fit a model with 1 outputs and 1 float label");
  CHECK_ERR(nn2c_data_spec_fit(&s, 10, 4, 1, 1, err, sizeof err), err,
            "3 classes do not fit a model with 4 outputs and 1 int label");
  CHECK_OK(nn2c_data_spec_parse("random", "seq=10", &s, err, sizeof err), err);
  CHECK_ERR(nn2c_data_spec_fit(&s, 10, 1, 1, 0, err, sizeof err), err, "give both seq and features, or neither");
  CHECK_OK(nn2c_data_spec_parse("imdb", "maxlen=80", &s, err, sizeof err), err);
  CHECK_ERR(nn2c_data_spec_fit(&s, 100, 1, 1, 0, err, sizeof err), err,
            "dataset imdb gives 80 numbers per sample (maxlen token ids) but the model input "
            "takes 100");
  CHECK_OK(nn2c_data_spec_parse("speech_commands", "", &s, err, sizeof err), err);
  CHECK_OK(nn2c_data_spec_fit(&s, 1600, 30, 1, 1, err, sizeof err), err);
  CHECK_ERR(nn2c_data_spec_fit(&s, 1601, 30, 1, 1, err, sizeof err), err,
            "gives 1600 numbers per sample (n_mels x frames log-mel values)");
}

static int same(const nn2c_dataset *a, const nn2c_dataset *b) {
  size_t nx = (size_t)a->n * (size_t)a->sample_numel;
  return a->n == b->n && !memcmp(a->x, b->x, nx * sizeof(float)) &&
         !memcmp(a->yi, b->yi, (size_t)a->n * sizeof(int32_t));
}

static void test_random(void) {
  nn2c_dataset a, b, c;
  size_t i, nx;
  int count[3] = {0, 0, 0};
  double sum = 0;
  CHECK_OK(nn2c_load_random(3000, 10, 3, 42, &a, err, sizeof err), err);
  CHECK_OK(nn2c_load_random(3000, 10, 3, 42, &b, err, sizeof err), err);
  CHECK_OK(nn2c_load_random(3000, 10, 3, 43, &c, err, sizeof err), err);
  CHECK(a.n == 3000 && a.sample_numel == 10 && a.num_classes == 3 && a.label_numel == 1);
  CHECK(same(&a, &b));
  CHECK(!same(&a, &c));
  nx = (size_t)a.n * 10;
  for (i = 0; i < nx; i++) {
    CHECK(a.x[i] >= 0.0f && a.x[i] < 1.0f);
    sum += a.x[i];
  }
  CHECK(fabs(sum / (double)nx - 0.5) < 0.01); /* 30000 uniforms: sd of the mean 0.0017 */
  for (i = 0; i < (size_t)a.n; i++) {
    CHECK(a.yi[i] >= 0 && a.yi[i] < 3);
    count[a.yi[i]]++;
  }
  for (i = 0; i < 3; i++)
    CHECK(count[i] > 900 && count[i] < 1100); /* 1000 expected, sd 26 */
  nn2c_dataset_free(&a);
  nn2c_dataset_free(&b);
  nn2c_dataset_free(&c);
  CHECK_ERR(nn2c_load_random(0, 10, 3, 1, &a, err, sizeof err), err, "random data: bad size");
}

/* Row i holds the value i everywhere and label i % 7: a shuffle must move them together. */
static void test_shuffle(void) {
  nn2c_dataset d, e;
  int i, j, moved = 0;
  long long seen = 0;
  memset(&d, 0, sizeof d);
  d.n = 500, d.sample_numel = 3, d.label_numel = 1, d.num_classes = 7;
  d.xi = malloc(500 * 3 * sizeof(int32_t));
  d.yi = malloc(500 * sizeof(int32_t));
  CHECK(d.xi && d.yi);
  for (i = 0; i < 500; i++) {
    for (j = 0; j < 3; j++)
      d.xi[i * 3 + j] = i;
    d.yi[i] = i % 7;
  }
  e = d;
  e.xi = malloc(500 * 3 * sizeof(int32_t));
  e.yi = malloc(500 * sizeof(int32_t));
  CHECK(e.xi && e.yi);
  memcpy(e.xi, d.xi, 500 * 3 * sizeof(int32_t));
  memcpy(e.yi, d.yi, 500 * sizeof(int32_t));
  CHECK_OK(nn2c_dataset_shuffle(&d, 113, err, sizeof err), err);
  CHECK_OK(nn2c_dataset_shuffle(&e, 113, err, sizeof err), err);
  for (i = 0; i < 500; i++) {
    int v = d.xi[i * 3];
    CHECK(d.xi[i * 3 + 1] == v && d.xi[i * 3 + 2] == v && d.yi[i] == v % 7);
    CHECK(e.xi[i * 3] == v); /* same seed, same order */
    moved += v != i;
    seen += v;
  }
  CHECK(seen == 499LL * 500 / 2 && moved > 400);
  nn2c_dataset_free(&d);
  nn2c_dataset_free(&e);
}

static void test_labels(void) {
  nn2c_dataset d;
  CHECK_OK(nn2c_load_random(4, 1, 3, 7, &d, err, sizeof err), err);
  {
    int32_t y[4];
    int i, k;
    memcpy(y, d.yi, sizeof y);
    CHECK_OK(nn2c_dataset_labels_as(&d, 1, 1, err, sizeof err), err); /* int: unchanged */
    CHECK(d.yi && !d.yf && !memcmp(d.yi, y, sizeof y));
    CHECK_OK(nn2c_dataset_labels_as(&d, 3, 0, err, sizeof err), err); /* one-hot */
    CHECK(!d.yi && d.yf && d.label_numel == 3);
    for (i = 0; i < 4; i++)
      for (k = 0; k < 3; k++)
        CHECK(d.yf[i * 3 + k] == (k == y[i] ? 1.0f : 0.0f));
    nn2c_dataset_free(&d);
    CHECK_OK(nn2c_load_random(4, 1, 2, 7, &d, err, sizeof err), err);
    memcpy(y, d.yi, sizeof y);
    CHECK_OK(nn2c_dataset_labels_as(&d, 1, 0, err, sizeof err), err); /* 0/1 targets */
    for (i = 0; i < 4; i++)
      CHECK(d.yf[i] == (float)y[i]);
    nn2c_dataset_free(&d);
  }
}

int main(void) {
  test_spec();
  test_fit();
  test_random();
  test_shuffle();
  test_labels();
  puts("test_data: ok");
  return 0;
}
