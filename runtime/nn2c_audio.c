/* nn2c_audio.c - Speech Commands clips as log-mel spectrograms.
 *
 * 1. WAV: RIFF chunks walked one by one (unknown ones skipped); only 16-bit
 *    PCM mono is accepted, every other format gets a message saying why.
 * 2. FFT: iterative radix-2 (bit-reversal permutation, then log2(n) passes
 *    of butterflies) over a table of twiddles exp(-2 pi i k/n).
 * 3. Log-mel: framing, periodic Hann window, power spectrum, HTK-scale
 *    triangular mel filters, log(power + 1e-6); see nn2c_logmel_opts.
 * 4. The loader: a manifest of "path<TAB>label<TAB>split" lines.
 */
#include "nn2c_rt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLIP_RATE 16000
#define CLIP_SAMPLES 16000 /* 1 s */
#define LOG_EPS 1e-6
#define PI 3.14159265358979323846

/* ---- 1. WAV ------------------------------------------------------------- */

static uint32_t le32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static unsigned le16(const unsigned char *p) { return (unsigned)p[0] | (unsigned)p[1] << 8; }

typedef struct {
  const unsigned char *fmt, *data; /* chunk bodies, NULL until seen */
  size_t fmt_size, data_size;
} WavChunks;

/* Finds the fmt and data chunks between byte 12 and end. */
static int wav_chunks(const char *path, const unsigned char *p, size_t end, WavChunks *c, char *err, size_t errlen) {
  size_t pos = 12;
  memset(c, 0, sizeof *c);
  while (pos < end) {
    size_t size;
    if (end - pos < 8)
      return nn2c_fail(err, errlen, "%s: truncated chunk header at byte %lu", path, (unsigned long)pos);
    size = le32(p + pos + 4);
    if (size > end - pos - 8)
      return nn2c_fail(err, errlen,
                       "%s: chunk '%.4s' at byte %lu claims %lu bytes but only %lu remain "
                       "(truncated file or wrong chunk size)",
                       path, (const char *)p + pos, (unsigned long)pos, (unsigned long)size,
                       (unsigned long)(end - pos - 8));
    if (!memcmp(p + pos, "fmt ", 4) && !c->fmt)
      c->fmt = p + pos + 8, c->fmt_size = size;
    else if (!memcmp(p + pos, "data", 4) && !c->data)
      c->data = p + pos + 8, c->data_size = size;
    pos += 8 + size + (size & 1); /* chunks are padded to even sizes */
  }
  if (!c->fmt) return nn2c_fail(err, errlen, "%s: no 'fmt ' chunk", path);
  if (!c->data) return nn2c_fail(err, errlen, "%s: no 'data' chunk", path);
  return 0;
}

static int wav_check_format(const char *path, const WavChunks *c, char *err, size_t errlen) {
  unsigned format, channels, align, bits;
  if (c->fmt_size < 16)
    return nn2c_fail(err, errlen, "%s: 'fmt ' chunk of %lu bytes, expected at least 16", path,
                     (unsigned long)c->fmt_size);
  format = le16(c->fmt), channels = le16(c->fmt + 2), align = le16(c->fmt + 12);
  bits = le16(c->fmt + 14);
  if (format != 1)
    return nn2c_fail(err, errlen,
                     "%s: audio format %u%s is not PCM (1); only 16-bit PCM mono is "
                     "supported",
                     path, format, format == 0xFFFE ? " (extensible)" : "");
  if (channels != 1)
    return nn2c_fail(err, errlen, "%s: %u channels; only mono (1 channel) is supported", path, channels);
  if (bits != 16) return nn2c_fail(err, errlen, "%s: %u-bit samples; only 16-bit PCM is supported", path, bits);
  if (align != 2) return nn2c_fail(err, errlen, "%s: block align %u, expected 2 for 16-bit mono", path, align);
  if (c->data_size % 2)
    return nn2c_fail(err, errlen,
                     "%s: 'data' chunk of %lu bytes is not a whole number of 16-bit "
                     "samples",
                     path, (unsigned long)c->data_size);
  return 0;
}

static int wav_parse(const char *path, const unsigned char *p, size_t len, float **samples, int *n, int *rate,
                     char *err, size_t errlen) {
  WavChunks c;
  size_t riff, i, count;
  if (len < 12 || memcmp(p, "RIFF", 4) || memcmp(p + 8, "WAVE", 4))
    return nn2c_fail(err, errlen, "%s: not a RIFF/WAVE file", path);
  riff = le32(p + 4);
  if (riff < 4 || riff > len - 8)
    return nn2c_fail(err, errlen,
                     "%s: truncated: the RIFF header says %lu bytes follow it, the "
                     "file has %lu",
                     path, (unsigned long)riff, (unsigned long)(len - 8));
  if (wav_chunks(path, p, riff + 8, &c, err, errlen) || wav_check_format(path, &c, err, errlen)) return -1;
  count = c.data_size / 2;
  if (count > (size_t)INT32_MAX) return nn2c_fail(err, errlen, "%s: too many samples", path);
  *samples = malloc(count * sizeof(float) + 1);
  if (!*samples) return nn2c_fail(err, errlen, "%s: out of memory for %lu samples", path, (unsigned long)count);
  for (i = 0; i < count; i++)
    (*samples)[i] = (float)(int16_t)le16(c.data + 2 * i) / 32768.0f;
  *n = (int)count;
  *rate = (int)le32(c.fmt + 4);
  return 0;
}

int nn2c_wav_load(const char *path, float **samples, int *n, int *rate, char *err, size_t errlen) {
  unsigned char *data;
  size_t len;
  char used[4096];
  int rc;
  *samples = NULL, *n = 0, *rate = 0;
  if (nn2c_read_file_as(path, &data, &len, used, sizeof used, err, errlen)) return -1;
  rc = wav_parse(used, data, len, samples, n, rate, err, errlen);
  free(data);
  return rc;
}

/* ---- 2. FFT ------------------------------------------------------------- */

/* cs[k] + i sn[k] = exp(-2 pi i k / n) for k < n/2. */
static void twiddles(double *cs, double *sn, int n) {
  int k;
  for (k = 0; k < n / 2; k++) {
    cs[k] = cos(2 * PI * k / n);
    sn[k] = -sin(2 * PI * k / n);
  }
}

static void fft_with(double *re, double *im, int n, const double *cs, const double *sn) {
  int i, j, len, k;
  for (i = 1, j = 0; i < n; i++) { /* j = bit-reversed i */
    int bit = n >> 1;
    for (; j & bit; bit >>= 1)
      j ^= bit;
    j |= bit;
    if (i < j) {
      double t = re[i];
      re[i] = re[j], re[j] = t;
      t = im[i], im[i] = im[j], im[j] = t;
    }
  }
  for (len = 2; len <= n; len *= 2) {
    int step = n / len;
    for (i = 0; i < n; i += len)
      for (k = 0; k < len / 2; k++) {
        double wr = cs[k * step], wi = sn[k * step];
        int a = i + k, b = i + k + len / 2;
        double xr = re[b] * wr - im[b] * wi, xi = re[b] * wi + im[b] * wr;
        re[b] = re[a] - xr, im[b] = im[a] - xi;
        re[a] += xr, im[a] += xi;
      }
  }
}

void nn2c_fft(double *re, double *im, int n) {
  double *cs = malloc(sizeof(double) * (size_t)(n / 2 + 1)), *sn = malloc(sizeof(double) * (size_t)(n / 2 + 1));
  if (cs && sn && n >= 2) {
    twiddles(cs, sn, n);
    fft_with(re, im, n, cs, sn);
  }
  free(cs);
  free(sn);
}

/* ---- 3. Log-mel --------------------------------------------------------- */

static double hz_to_mel(double f) { return 2595.0 * log10(1.0 + f / 700.0); }
static double mel_to_hz(double m) { return 700.0 * (pow(10.0, m / 2595.0) - 1.0); }

/* The n_mels + 2 band edges in Hz, equally spaced in mel from fmin to fmax. */
static void mel_edges(const nn2c_logmel_opts *o, double *hz) {
  double lo = hz_to_mel(o->fmin), hi = hz_to_mel(o->fmax);
  int m;
  for (m = 0; m < o->n_mels + 2; m++)
    hz[m] = mel_to_hz(lo + (hi - lo) * m / (o->n_mels + 1));
}

/* Weight of frequency f in band m: a triangle rising from hz[m] to 1 at
 * hz[m+1] and falling to 0 at hz[m+2]. */
static double mel_weight(const double *hz, int m, double f) {
  double up = (f - hz[m]) / (hz[m + 1] - hz[m]), down = (hz[m + 2] - f) / (hz[m + 2] - hz[m + 1]);
  double w = up < down ? up : down;
  return w > 0 ? w : 0;
}

int nn2c_logmel_check(const nn2c_logmel_opts *o, char *err, size_t errlen) {
  double *hz;
  int m, k, empty = -1;
  if (o->n_fft < 2 || o->n_fft > 65536 || (o->n_fft & (o->n_fft - 1)))
    return nn2c_fail(err, errlen, "log-mel: n_fft=%d is not a power of two in [2, 65536]", o->n_fft);
  if (o->window < 2 || o->window > o->n_fft)
    return nn2c_fail(err, errlen, "log-mel: window=%d must be in [2, n_fft=%d]", o->window, o->n_fft);
  if (o->hop < 1 || o->frames < 1 || (long)(o->frames - 1) * o->hop >= CLIP_SAMPLES)
    return nn2c_fail(err, errlen,
                     "log-mel: frames=%d with hop=%d start past the 1 s clip (%d "
                     "samples)",
                     o->frames, o->hop, CLIP_SAMPLES);
  if (o->fmin < 0 || o->fmin >= o->fmax || o->fmax > CLIP_RATE / 2)
    return nn2c_fail(err, errlen, "log-mel: need 0 <= fmin < fmax <= %d Hz, got fmin=%d fmax=%d", CLIP_RATE / 2,
                     o->fmin, o->fmax);
  if (o->n_mels < 1 || !(hz = malloc(sizeof(double) * (size_t)(o->n_mels + 2))))
    return nn2c_fail(err, errlen, "log-mel: bad n_mels=%d", o->n_mels);
  mel_edges(o, hz);
  for (m = 0; m < o->n_mels && empty < 0; m++) {
    for (k = 0; k <= o->n_fft / 2; k++)
      if (mel_weight(hz, m, (double)k * CLIP_RATE / o->n_fft) > 0) break;
    if (k > o->n_fft / 2) empty = m;
  }
  free(hz);
  if (empty >= 0)
    return nn2c_fail(err, errlen,
                     "log-mel: n_mels=%d is too many for n_fft=%d: mel band %d "
                     "holds no FFT bin (use fewer mels or a larger n_fft)",
                     o->n_mels, o->n_fft, empty);
  return 0;
}

/* Scales v[0..n) to mean 0 and standard deviation 1 (a constant v becomes 0). */
static void standardize(float *v, size_t n) {
  double mean = 0, var = 0, sd;
  size_t i;
  for (i = 0; i < n; i++)
    mean += v[i];
  mean /= (double)n;
  for (i = 0; i < n; i++)
    var += (v[i] - mean) * (v[i] - mean);
  sd = sqrt(var / (double)n);
  for (i = 0; i < n; i++)
    v[i] = (float)((v[i] - mean) / (sd > 0 ? sd : 1.0));
}

typedef struct {
  double *win, *fb, *re, *im, *cs, *sn, *hz;
} MelWork;

static void mel_work_free(MelWork *w) {
  free(w->win), free(w->fb), free(w->re), free(w->im), free(w->cs), free(w->sn), free(w->hz);
}

/* Window, filter bank [n_mels][n_fft/2+1] and twiddles for one call. */
static int mel_work_init(MelWork *w, const nn2c_logmel_opts *o) {
  size_t nb = (size_t)o->n_fft / 2 + 1, m, k, i;
  w->win = malloc(sizeof(double) * (size_t)o->window);
  w->fb = malloc(sizeof(double) * nb * (size_t)o->n_mels);
  w->re = malloc(sizeof(double) * (size_t)o->n_fft);
  w->im = malloc(sizeof(double) * (size_t)o->n_fft);
  w->cs = malloc(sizeof(double) * nb);
  w->sn = malloc(sizeof(double) * nb);
  w->hz = malloc(sizeof(double) * (size_t)(o->n_mels + 2));
  if (!w->win || !w->fb || !w->re || !w->im || !w->cs || !w->sn || !w->hz) return -1;
  for (i = 0; i < (size_t)o->window; i++) /* periodic Hann: the DFT-even form */
    w->win[i] = 0.5 - 0.5 * cos(2 * PI * (double)i / o->window);
  mel_edges(o, w->hz);
  for (m = 0; m < (size_t)o->n_mels; m++)
    for (k = 0; k < nb; k++)
      w->fb[m * nb + k] = mel_weight(w->hz, (int)m, (double)k * CLIP_RATE / o->n_fft);
  twiddles(w->cs, w->sn, o->n_fft);
  return 0;
}

int nn2c_logmel(const float *x, int n, const nn2c_logmel_opts *o, float *out, char *err, size_t errlen) {
  MelWork w = {NULL, NULL, NULL, NULL, NULL, NULL, NULL};
  size_t nb = (size_t)o->n_fft / 2 + 1, t, i, m;
  if (mel_work_init(&w, o)) {
    mel_work_free(&w);
    return nn2c_fail(err, errlen, "log-mel: out of memory");
  }
  for (t = 0; t < (size_t)o->frames; t++) {
    size_t start = t * (size_t)o->hop;
    for (i = 0; i < (size_t)o->n_fft; i++) {
      w.re[i] = i < (size_t)o->window && start + i < (size_t)n ? x[start + i] * w.win[i] : 0.0;
      w.im[i] = 0.0;
    }
    fft_with(w.re, w.im, o->n_fft, w.cs, w.sn);
    for (i = 0; i < nb; i++)
      w.re[i] = w.re[i] * w.re[i] + w.im[i] * w.im[i];
    for (m = 0; m < (size_t)o->n_mels; m++) {
      double s = 0;
      for (i = 0; i < nb; i++)
        s += w.fb[m * nb + i] * w.re[i];
      out[m * (size_t)o->frames + t] = (float)log(s + LOG_EPS);
    }
  }
  if (o->normalize) standardize(out, (size_t)o->n_mels * (size_t)o->frames);
  mel_work_free(&w);
  return 0;
}

/* ---- 4. The manifest and the loader ------------------------------------- */

typedef struct {
  char *path, *label;
  int split; /* 0 train, 1 test, 2 validation */
} Clip;

typedef struct {
  char file[4096], dir[4096]; /* the manifest and the folder its paths start from */
  unsigned char *text;        /* its bytes, cut into fields in place */
  Clip *clips;
  int nclips;
  char **labels; /* distinct, sorted */
  int nlabels;
} Manifest;

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* 1 if path is absolute or has a ".." component: it could name a file outside the data folder. */
static int path_leaves(const char *path) {
  const char *p = path;
  if (*p == '/') return 1;
  while (*p) {
    size_t n = strcspn(p, "/");
    if (n == 2 && p[0] == '.' && p[1] == '.') return 1;
    p += n + (p[n] == '/');
  }
  return 0;
}

/* Splits one line (NUL-terminated, no '\n') into its three fields. */
static int manifest_line(Manifest *mf, char *s, int lineno, Clip *c, char *err, size_t errlen) {
  static const char *const splits[] = {"train", "test", "validation"};
  char *t1 = strchr(s, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
  size_t n = strlen(s);
  if (n && s[n - 1] == '\r') s[n - 1] = '\0';
  if (!t2 || strchr(t2 + 1, '\t') || t1 == s || t2 == t1 + 1 || !t2[1])
    return nn2c_fail(err, errlen, "%s:%d: expected path<TAB>label<TAB>split", mf->file, lineno);
  *t1 = *t2 = '\0';
  c->path = s, c->label = t1 + 1;
  if (path_leaves(s))
    return nn2c_fail(err, errlen,
                     "%s:%d: clip path '%s' leaves the data folder (expected a relative path without '..')", mf->file,
                     lineno, s);
  for (c->split = 0; c->split < 3; c->split++)
    if (!strcmp(t2 + 1, splits[c->split])) return 0;
  return nn2c_fail(err, errlen, "%s:%d: split '%s' is not train, validation or test", mf->file, lineno, t2 + 1);
}

static int manifest_parse(Manifest *mf, size_t len, char *err, size_t errlen) {
  char *s = (char *)mf->text, *end = s + len;
  int lineno = 1, i, k;
  size_t nl = 0;
  for (i = 0; (size_t)i < len; i++)
    nl += s[i] == '\n';
  mf->clips = malloc((nl + 1) * sizeof(Clip));
  mf->labels = malloc((nl + 1) * sizeof(char *));
  if (!mf->clips || !mf->labels) return nn2c_fail(err, errlen, "%s: out of memory", mf->file);
  for (; s < end; lineno++) {
    char *e = memchr(s, '\n', (size_t)(end - s));
    if (!e) e = end; /* the buffer has a spare byte past end */
    *e = '\0';
    if (lineno == 1 && strcmp(s, "path\tlabel\tsplit") && strcmp(s, "path\tlabel\tsplit\r"))
      return nn2c_fail(err, errlen, "%s:1: expected the header path<TAB>label<TAB>split", mf->file);
    if (lineno > 1 && *s) {
      if (manifest_line(mf, s, lineno, &mf->clips[mf->nclips], err, errlen)) return -1;
      mf->labels[mf->nclips] = mf->clips[mf->nclips].label;
      mf->nclips++;
    }
    s = e + 1;
  }
  qsort(mf->labels, (size_t)mf->nclips, sizeof(char *), cmp_str);
  for (i = 0, k = 0; i < mf->nclips; i++)
    if (k == 0 || strcmp(mf->labels[k - 1], mf->labels[i])) mf->labels[k++] = mf->labels[i];
  mf->nlabels = k;
  return 0;
}

static int manifest_load(Manifest *mf, const char *dir, char *err, size_t errlen) {
  static const char *const where[] = {"", "/speech_commands_v0.01"};
  unsigned char *raw = NULL;
  size_t len = 0;
  int i;
  char first[1024] = "";
  for (i = 0; i < 2; i++) {
    char path[4200];
    snprintf(mf->dir, sizeof mf->dir, "%s%s", dir, where[i]);
    snprintf(path, sizeof path, "%s/subset_manifest.tsv", mf->dir);
    if (nn2c_read_file_as(path, &raw, &len, mf->file, sizeof mf->file, err, errlen) == 0) break;
    if (i == 0) snprintf(first, sizeof first, "%s", err);
  }
  if (i == 2) return nn2c_fail(err, errlen, "%s (nor in %s)", first, mf->dir);
  mf->text = realloc(raw, len + 1); /* room for a NUL after an unterminated last line */
  if (!mf->text) {
    free(raw);
    return nn2c_fail(err, errlen, "%s: out of memory", mf->file);
  }
  mf->text[len] = '\0';
  return manifest_parse(mf, len, err, errlen);
}

static int label_index(const Manifest *mf, const char *label) {
  char **p = bsearch(&label, mf->labels, (size_t)mf->nlabels, sizeof(char *), cmp_str);
  return (int)(p - mf->labels);
}

/* Reads clip c, pads or cuts it to 1 s, and writes its features to out. */
static int clip_features(const Manifest *mf, const Clip *c, const nn2c_logmel_opts *o, float *pcm, float *out,
                         char *err, size_t errlen) {
  char path[8192];
  float *s;
  int n, rate, rc;
  snprintf(path, sizeof path, "%s/%s", mf->dir, c->path);
  if (nn2c_wav_load(path, &s, &n, &rate, err, errlen)) return -1;
  if (rate != CLIP_RATE) {
    free(s);
    return nn2c_fail(err, errlen, "%s: sample rate %d Hz; speech_commands needs %d Hz", path, rate, CLIP_RATE);
  }
  memset(pcm, 0, CLIP_SAMPLES * sizeof(float));
  memcpy(pcm, s, (size_t)(n < CLIP_SAMPLES ? n : CLIP_SAMPLES) * sizeof(float));
  free(s);
  rc = nn2c_logmel(pcm, CLIP_SAMPLES, o, out, err, errlen);
  return rc;
}

static int speech_fill(const Manifest *mf, int split, const nn2c_logmel_opts *o, nn2c_dataset *out, char *err,
                       size_t errlen) {
  static const char *const names[] = {"train", "test", "validation"};
  size_t numel = (size_t)o->n_mels * (size_t)o->frames;
  float *pcm;
  int i, n = 0;
  for (i = 0; i < mf->nclips; i++)
    n += mf->clips[i].split == split;
  if (n == 0) return nn2c_fail(err, errlen, "%s: no clips in split '%s'", mf->file, names[split]);
  out->x = malloc((size_t)n * numel * sizeof(float));
  out->yi = malloc((size_t)n * sizeof(int32_t));
  pcm = malloc(CLIP_SAMPLES * sizeof(float));
  if (!out->x || !out->yi || !pcm) {
    free(pcm);
    return nn2c_fail(err, errlen, "%s: out of memory for %d clips", mf->file, n);
  }
  for (i = 0, n = 0; i < mf->nclips; i++) {
    const Clip *c = &mf->clips[i];
    if (c->split != split) continue;
    if (clip_features(mf, c, o, pcm, out->x + (size_t)n * numel, err, errlen)) {
      free(pcm);
      return -1;
    }
    out->yi[n++] = label_index(mf, c->label);
  }
  free(pcm);
  out->n = n;
  out->sample_numel = (int)numel;
  out->label_numel = 1;
  out->num_classes = mf->nlabels;
  return 0;
}

int nn2c_load_speech_commands(const char *dir, int split, const nn2c_logmel_opts *o, nn2c_dataset *out, char *err,
                              size_t errlen) {
  Manifest mf;
  int rc;
  memset(out, 0, sizeof *out);
  memset(&mf, 0, sizeof mf);
  if (split < 0 || split > 2)
    return nn2c_fail(err, errlen, "%s: bad split %d (0 train, 1 test, 2 validation)", dir, split);
  rc = nn2c_logmel_check(o, err, errlen);
  if (rc == 0) rc = manifest_load(&mf, dir, err, errlen);
  if (rc == 0) rc = speech_fill(&mf, split, o, out, err, errlen);
  free(mf.text);
  free(mf.clips);
  free(mf.labels);
  if (rc) nn2c_dataset_free(out);
  return rc;
}
