/* test_audio.c - the speech side of the runtime: the WAV reader on files the
 * test writes into argv[1] (good ones with extra chunks, and every bad kind
 * with its message), the FFT against a naive DFT, log-mel of pure tones
 * (energy in the band whose centre is the tone), and, when argv[2] (the
 * shared speech-commands folder) exists, the real clips and the loader. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <sys/stat.h>

#include "check.h"
#include "nn2c_rt.h"

static char err[1024];
static char work[2048];

static const char *at(const char *name) { return path_in(work, name); }

/* ---- WAV files ---- */

typedef struct {
  unsigned char b[4096];
  size_t n;
} Bytes;

static void put(Bytes *w, const void *p, size_t n) {
  CHECK(w->n + n <= sizeof w->b);
  memcpy(w->b + w->n, p, n);
  w->n += n;
}
static void put16(Bytes *w, unsigned v) {
  unsigned char b[2] = {(unsigned char)v, (unsigned char)(v >> 8)};
  put(w, b, 2);
}
static void put32(Bytes *w, unsigned long v) {
  put16(w, (unsigned)(v & 0xFFFF));
  put16(w, (unsigned)(v >> 16));
}
static void chunk(Bytes *w, const char *id, const void *p, size_t n) {
  put(w, id, 4);
  put32(w, n);
  put(w, p, n);
  if (n & 1) put(w, "", 1); /* pad byte */
}

/* A WAV with the given fmt fields and data bytes; extra chunks go before data. */
static Bytes wav(unsigned format, unsigned channels, unsigned bits, const void *data, size_t n, int extra) {
  Bytes w, fmt;
  w.n = fmt.n = 0;
  put16(&fmt, format);
  put16(&fmt, channels);
  put32(&fmt, 16000);
  put32(&fmt, 16000ul * channels * bits / 8);
  put16(&fmt, channels * bits / 8);
  put16(&fmt, bits);
  put(&w, "RIFF\0\0\0\0WAVE", 12);
  if (extra) chunk(&w, "LIST", "INFOabc", 7); /* odd size: padded */
  chunk(&w, "fmt ", fmt.b, fmt.n);
  if (extra) chunk(&w, "junk", "\1\2\3\4", 4);
  chunk(&w, "data", data, n);
  w.b[4] = (unsigned char)(w.n - 8), w.b[5] = (unsigned char)((w.n - 8) >> 8);
  return w;
}

static void bad_wav(const char *name, const Bytes *w, const char *want) {
  float *s = (float *)1;
  int n = -1, rate = -1;
  write_bytes(at(name), w->b, w->n);
  CHECK_ERR(nn2c_wav_load(at(name), &s, &n, &rate, err, sizeof err), err, want);
  CHECK(strstr(err, name) != NULL); /* the message names the file */
  CHECK(s == NULL && n == 0);
}

static void test_wav(void) {
  static const short pcm[5] = {0, 1, -1, 32767, -32768};
  Bytes w;
  float *s;
  int n, rate, i;
  for (i = 0; i < 2; i++) {
    w = wav(1, 1, 16, pcm, sizeof pcm, i);
    write_bytes(at("good.wav"), w.b, w.n);
    CHECK_OK(nn2c_wav_load(at("good.wav"), &s, &n, &rate, err, sizeof err), err);
    CHECK(n == 5 && rate == 16000);
    CHECK(s[0] == 0.0f && s[1] == 1.0f / 32768 && s[2] == -1.0f / 32768);
    CHECK(s[3] == 32767.0f / 32768 && s[4] == -1.0f);
    free(s);
  }
  w = wav(1, 2, 16, pcm, 4, 0);
  bad_wav("stereo.wav", &w, "stereo.wav: 2 channels; only mono (1 channel) is supported");
  w = wav(1, 1, 8, pcm, 4, 0);
  bad_wav("u8.wav", &w, "u8.wav: 8-bit samples; only 16-bit PCM is supported");
  w = wav(3, 1, 32, pcm, 8, 0);
  bad_wav("float.wav", &w, "float.wav: audio format 3 is not PCM (1)");
  w = wav(0xFFFE, 1, 16, pcm, 4, 0);
  bad_wav("ext.wav", &w, "ext.wav: audio format 65534 (extensible) is not PCM (1)");
  w = wav(1, 1, 16, pcm, 9, 0);
  bad_wav("odd.wav", &w, "odd.wav: 'data' chunk of 9 bytes is not a whole number of 16-bit samples");
  w = wav(1, 1, 16, pcm, sizeof pcm, 1);
  w.n -= 3;
  bad_wav("cut.wav", &w, "cut.wav: truncated: the RIFF header says 74 bytes follow it, the file has 71");
  w = wav(1, 1, 16, pcm, sizeof pcm, 0);
  w.b[40] = 200; /* the data chunk's size: 200 bytes, 10 there */
  bad_wav("size.wav", &w, "size.wav: chunk 'data' at byte 36 claims 200 bytes but only 10 remain");
  w = wav(1, 1, 16, pcm, sizeof pcm, 0);
  w.b[16] = 14; /* a fmt chunk of 14 bytes: drop its last field */
  w.b[4] -= 2, w.n -= 2;
  memmove(w.b + 34, w.b + 36, w.n - 34);
  bad_wav("fmt14.wav", &w, "fmt14.wav: 'fmt ' chunk of 14 bytes, expected at least 16");
  w = wav(1, 1, 16, pcm, sizeof pcm, 0);
  memcpy(w.b + 36, "dat4", 4);
  bad_wav("nodata.wav", &w, "nodata.wav: no 'data' chunk");
  w = wav(1, 1, 16, pcm, sizeof pcm, 0);
  memcpy(w.b + 8, "AVI ", 4);
  bad_wav("avi.wav", &w, "avi.wav: not a RIFF/WAVE file");
  w.n = 5;
  bad_wav("tiny.wav", &w, "tiny.wav: not a RIFF/WAVE file");
  w = wav(1, 1, 16, pcm, sizeof pcm, 0);
  w.b[4] = (unsigned char)(w.b[4] + 3); /* 3 stray bytes: a chunk header cut short */
  put(&w, "xyz", 3);
  bad_wav("stray.wav", &w, "stray.wav: truncated chunk header at byte 54");
  CHECK_ERR(nn2c_wav_load(at("missing.wav"), &s, &n, &rate, err, sizeof err), err, "missing.wav: cannot open");
}

/* ---- FFT ---- */

static void test_fft(void) {
  static double re[1024], im[1024], want_re[1024], want_im[1024];
  nn2c_rng rng;
  int n, j, k;
  nn2c_rng_seed(&rng, 5);
  for (n = 2; n <= 1024; n *= 2) {
    double worst = 0;
    for (j = 0; j < n; j++) {
      re[j] = nn2c_rng_uniform(&rng) * 2 - 1;
      im[j] = nn2c_rng_uniform(&rng) * 2 - 1;
    }
    for (k = 0; k < n; k++) { /* naive DFT in long double */
      long double sr = 0, si = 0;
      for (j = 0; j < n; j++) {
        long double a = -2 * 3.14159265358979323846264338L * (long double)((long)j * k % n) / n;
        sr += re[j] * cosl(a) - im[j] * sinl(a);
        si += re[j] * sinl(a) + im[j] * cosl(a);
      }
      want_re[k] = (double)sr, want_im[k] = (double)si;
    }
    nn2c_fft(re, im, n);
    for (k = 0; k < n; k++) {
      double d = fabs(re[k] - want_re[k]) + fabs(im[k] - want_im[k]);
      worst = d > worst ? d : worst;
    }
    if (worst > 1e-12 * n) {
      fprintf(stderr, "FFT n=%d differs from the DFT by %g\n", n, worst);
      exit(1);
    }
  }
}

/* ---- log-mel ---- */

static double mel(double f) { return 2595 * log10(1 + f / 700); }

/* A tone at the centre of band `band` puts the most energy in that band in every frame. */
static void tone_in_band(const nn2c_logmel_opts *o, int band) {
  double centre_mel = mel(o->fmax) * (band + 1) / (o->n_mels + 1);
  double f = 700 * (pow(10, centre_mel / 2595) - 1);
  static float x[16000], out[128 * 200];
  int i, t, m;
  for (i = 0; i < 16000; i++)
    x[i] = (float)(0.5 * sin(2 * 3.14159265358979 * f * i / 16000));
  CHECK_OK(nn2c_logmel(x, 16000, o, out, err, sizeof err), err);
  for (t = 0; t * o->hop + o->window <= 16000; t++) { /* frames inside the clip */
    int best = 0;
    for (m = 1; m < o->n_mels; m++)
      if (out[m * o->frames + t] > out[best * o->frames + t]) best = m;
    if (best != band) {
      fprintf(stderr, "tone %.1f Hz, frame %d: band %d is loudest, expected %d\n", f, t, best, band);
      exit(1);
    }
    /* the tone's band holds about (0.5 * window/4)^2 of power: far above the others' leakage */
    CHECK(out[band * o->frames + t] > 2 * log(0.25 * 0.5 * o->window) - 1);
  }
}

static void test_logmel(void) {
  nn2c_logmel_opts o = {20, 80, 400, 200, 512, 0, 8000, 0};
  static float silent[16000], out[20 * 80];
  int i, band;
  for (band = 0; band < 20; band += 3)
    tone_in_band(&o, band);
  o.n_mels = 40, o.window = 1024, o.n_fft = 1024, o.hop = 160, o.frames = 94;
  for (band = 5; band < 40; band += 7)
    tone_in_band(&o, band);
  /* silence is log(eps) everywhere, and 0 once normalized */
  o = (nn2c_logmel_opts){20, 80, 400, 200, 512, 0, 8000, 0};
  CHECK_OK(nn2c_logmel(silent, 16000, &o, out, err, sizeof err), err);
  for (i = 0; i < 20 * 80; i++)
    CHECK(fabs(out[i] - log(1e-6)) < 1e-5);
  o.normalize = 1;
  CHECK_OK(nn2c_logmel(silent, 16000, &o, out, err, sizeof err), err);
  for (i = 0; i < 20 * 80; i++)
    CHECK(out[i] == 0.0f);
}

/* ---- the real clips ---- */

static void test_real(const char *dir) {
  char path[4096];
  float *s;
  int n, rate, i, nonzero = 0, split;
  static const int counts[3] = {205, 51, 44};
  nn2c_data_spec spec;
  nn2c_dataset d;
  snprintf(path, sizeof path, "%s/speech_commands_v0.01/bed/62581901_nohash_0.wav", dir);
  CHECK_OK(nn2c_wav_load(path, &s, &n, &rate, err, sizeof err), err);
  CHECK(rate == 16000 && n >= 12288 && n <= 16000);
  for (i = 0; i < n; i++) {
    CHECK(s[i] >= -1.0f && s[i] < 1.0f);
    nonzero += s[i] != 0.0f;
  }
  CHECK(nonzero > n / 2);
  free(s);
  CHECK_OK(nn2c_data_spec_parse("speech_commands", "", &spec, err, sizeof err), err);
  for (split = 0; split < 3; split++) {
    double mean = 0, var = 0;
    CHECK_OK(nn2c_load_speech_commands(dir, split, &spec.mel, &d, err, sizeof err), err);
    CHECK(d.n == counts[split] && d.sample_numel == 1600 && d.num_classes == 30 && d.x);
    for (i = 0; i < d.n; i++)
      CHECK(d.yi[i] >= 0 && d.yi[i] < 30);
    for (i = 0; i < 1600; i++)
      mean += d.x[i];
    for (i = 0; i < 1600; i++)
      var += (d.x[i] - mean / 1600) * (d.x[i] - mean / 1600);
    CHECK(fabs(mean / 1600) < 1e-4 && fabs(var / 1600 - 1) < 1e-3); /* normalize=1 */
    if (split == 0) CHECK(d.yi[0] == 0); /* bed/62581901_nohash_0.wav, train: "bed" sorts first */
    nn2c_dataset_free(&d);
  }
}

static void bad_manifest(const char *text, const char *want) {
  nn2c_data_spec spec;
  nn2c_dataset d;
  CHECK_OK(nn2c_data_spec_parse("speech_commands", "", &spec, err, sizeof err), err);
  write_bytes(at("sc/subset_manifest.tsv"), text, strlen(text));
  CHECK_ERR(nn2c_load_speech_commands(at("sc"), 0, &spec.mel, &d, err, sizeof err), err, want);
}

static void test_manifest(void) {
  static short pcm[8000];
  Bytes w = wav(1, 1, 16, pcm, 2000, 0);
  mkdir(at("sc"), 0777);
  write_bytes(at("sc/a.wav"), w.b, w.n);
  bad_manifest("path\tlabel\n", "sc/subset_manifest.tsv:1: expected the header path<TAB>label<TAB>split");
  bad_manifest("path\tlabel\tsplit\na.wav\tyes\n", "subset_manifest.tsv:2: expected path<TAB>label<TAB>split");
  bad_manifest("path\tlabel\tsplit\na.wav\tyes\ttrain\tx\n", "subset_manifest.tsv:2: expected path");
  bad_manifest("path\tlabel\tsplit\na.wav\tyes\ttrain\nb.wav\tno\tdev\n",
               "subset_manifest.tsv:3: split 'dev' is not train, validation or test");
  bad_manifest("path\tlabel\tsplit\na.wav\tyes\ttest\n", "subset_manifest.tsv: no clips in split 'train'");
  bad_manifest("path\tlabel\tsplit\nb.wav\tyes\ttrain\n", "sc/b.wav: cannot open");
  w = wav(1, 2, 16, pcm, 2000, 0);
  write_bytes(at("sc/s.wav"), w.b, w.n);
  bad_manifest("path\tlabel\tsplit\ns.wav\tyes\ttrain\n", "sc/s.wav: 2 channels");
  {
    nn2c_dataset d;
    nn2c_logmel_opts o = {20, 80, 400, 200, 512, 0, 8000, 1};
    const char *m = "path\tlabel\tsplit\r\na.wav\tyes\ttrain\r\na.wav\tno\ttest\na.wav\tup\ttrain";
    write_bytes(at("sc/subset_manifest.tsv"), m, strlen(m));
    CHECK_OK(nn2c_load_speech_commands(at("sc"), 0, &o, &d, err, sizeof err), err);
    CHECK(d.n == 2 && d.num_classes == 3 && d.yi[0] == 2 && d.yi[1] == 1); /* no up yes */
    nn2c_dataset_free(&d);
    CHECK_ERR(nn2c_load_speech_commands(at("nowhere"), 0, &o, &d, err, sizeof err), err,
              "nowhere/subset_manifest.tsv: cannot open: No such file or directory");
    CHECK(strstr(err, "nor in ") && strstr(err, "nowhere/speech_commands_v0.01"));
  }
}

int main(int argc, char **argv) {
  struct stat st;
  CHECK(argc == 3);
  snprintf(work, sizeof work, "%s", argv[1]);
  mkdir(work, 0777);
  test_wav();
  test_fft();
  test_logmel();
  test_manifest();
  if (stat(argv[2], &st) == 0)
    test_real(argv[2]);
  else
    printf("note: %s is missing; the real clips were not checked\n", argv[2]);
  puts("test_audio: ok");
  return 0;
}
