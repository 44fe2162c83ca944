/* ckpt_compare.c - compares two nn2c checkpoints element by element.
 *
 *   ckpt_compare A B [--rtol X] [--atol Y] [--trainer]
 *
 * Reads both files with its own reader of the format in runtime/nn2c_rt.h
 * ("NN2CCKPT", u32 version, u32 nsections, per section u32 name length, name,
 * u64 count, count f32; u64 FNV-1a 64 of every byte before it), checks the
 * checksums, and requires the same sections with the same counts. Elements of
 * "params" and "state" must satisfy |a - b| <= atol + rtol * |b| (NaN never
 * does); the "step" section must be identical, and with --trainer the
 * "trainer" one too (the callbacks' state, integers and the bits of doubles:
 * two runs of one trainer, not a trainer and `nn2c run`, agree on it).
 * Prints the worst element of each section. Exit 0 if equal within
 * tolerance, 1 if not, 2 on bad input. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXSEC 16

typedef struct {
  char name[64];
  uint64_t count;
  float *data;
} Section;

typedef struct {
  int n;
  Section s[MAXSEC];
} Ckpt;

static uint32_t rd32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const unsigned char *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

static int bad(const char *path, const char *what) {
  fprintf(stderr, "ckpt_compare: %s: %s\n", path, what);
  return 2;
}

static int load(const char *path, Ckpt *c) {
  FILE *f = fopen(path, "rb");
  if (!f) return bad(path, "cannot open");
  unsigned char *buf = NULL;
  size_t len = 0, cap = 0, got;
  do {
    if (len + 65536 > cap) {
      cap = (len + 65536) * 2;
      buf = realloc(buf, cap);
      if (!buf) return bad(path, "out of memory");
    }
    got = fread(buf + len, 1, cap - len, f);
    len += got;
  } while (got > 0);
  fclose(f);
  if (len < 24 || memcmp(buf, "NN2CCKPT", 8)) return bad(path, "not an nn2c checkpoint");
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < len - 8; i++)
    h = (h ^ buf[i]) * 0x100000001b3ULL;
  if (h != rd64(buf + len - 8)) return bad(path, "checksum mismatch");
  if (rd32(buf + 8) != 1) return bad(path, "unknown version");
  uint32_t ns = rd32(buf + 12);
  if (ns > MAXSEC) return bad(path, "too many sections");
  size_t p = 16;
  c->n = (int)ns;
  for (uint32_t i = 0; i < ns; i++) {
    Section *s = &c->s[i];
    if (p + 4 > len - 8) return bad(path, "truncated");
    uint32_t nl = rd32(buf + p);
    p += 4;
    if (nl >= sizeof s->name || p + nl + 8 > len - 8) return bad(path, "bad section name");
    memcpy(s->name, buf + p, nl);
    s->name[nl] = 0;
    p += nl;
    s->count = rd64(buf + p);
    p += 8;
    if (s->count > (len - 8 - p) / 4) return bad(path, "section longer than the file");
    s->data = malloc(s->count * 4 + 4);
    for (uint64_t k = 0; k < s->count; k++) {
      uint32_t u = rd32(buf + p + k * 4);
      memcpy(&s->data[k], &u, 4);
    }
    p += s->count * 4;
  }
  if (p != len - 8) return bad(path, "trailing bytes");
  free(buf);
  return 0;
}

int main(int argc, char **argv) {
  const char *pa = NULL, *pb = NULL;
  double rtol = 1e-5, atol = 1e-6;
  bool trainer = false;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--trainer"))
      trainer = true;
    else if (!strcmp(argv[i], "--rtol") && i + 1 < argc)
      rtol = atof(argv[++i]);
    else if (!strcmp(argv[i], "--atol") && i + 1 < argc)
      atol = atof(argv[++i]);
    else if (!pa)
      pa = argv[i];
    else if (!pb)
      pb = argv[i];
    else
      return fprintf(stderr, "usage: ckpt_compare A B [--rtol X] [--atol Y] [--trainer]\n"), 2;
  }
  if (!pb) return fprintf(stderr, "usage: ckpt_compare A B [--rtol X] [--atol Y] [--trainer]\n"), 2;
  Ckpt a, b;
  int rc = load(pa, &a);
  if (rc || (rc = load(pb, &b))) return rc;
  if (a.n != b.n) return fprintf(stderr, "ckpt_compare: %d sections vs %d\n", a.n, b.n), 1;
  int fails = 0;
  for (int i = 0; i < a.n; i++) {
    Section *x = &a.s[i], *y = &b.s[i];
    if (strcmp(x->name, y->name) || x->count != y->count) {
      printf("section %d: '%s' (%llu floats) vs '%s' (%llu floats)\n", i, x->name, (unsigned long long)x->count,
             y->name, (unsigned long long)y->count);
      fails++;
      continue;
    }
    if (!strcmp(x->name, "trainer") && !trainer) {
      printf("%-6s %8llu floats: not compared (--trainer compares it)\n", x->name, (unsigned long long)x->count);
      continue;
    }
    bool exact = !strcmp(x->name, "step") || !strcmp(x->name, "trainer");
    double worst = -1, wa = 0, wb = 0, werr = 0;
    long long wi = -1, nbad = 0;
    for (uint64_t k = 0; k < x->count; k++) {
      double u = x->data[k], v = y->data[k], err = fabs(u - v);
      double tol = exact ? 0 : atol + rtol * fabs(v);
      double ratio = err <= tol ? (tol > 0 ? err / tol : 0) : (tol > 0 ? err / tol : INFINITY);
      if (isnan(err)) ratio = INFINITY;
      if (!(err <= tol)) nbad++;
      if (ratio > worst) worst = ratio, wi = (long long)k, wa = u, wb = v, werr = err;
    }
    printf("%-6s %8llu floats: %s", x->name, (unsigned long long)x->count, nbad ? "DIFFER" : "ok");
    if (wi >= 0) printf("; worst [%lld] %.9g vs %.9g (abs err %.3g, %.3g of tolerance)", wi, wa, wb, werr, worst);
    if (nbad) printf("; %lld elements out of tolerance", nbad);
    printf("\n");
    fails += nbad != 0;
  }
  for (int i = 0; i < a.n; i++)
    free(a.s[i].data), free(b.s[i].data);
  printf("%s (rtol %g, atol %g)\n", fails ? "checkpoints differ" : "checkpoints match", rtol, atol);
  return fails ? 1 : 0;
}
