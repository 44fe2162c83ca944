/* test_ckpt.c - checkpoint save/load: roundtrip, byte layout, every kind of
 * damage the loader must name, and atomic replacement. argv[1] is a scratch
 * directory. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "nn2c_rt.h"

static char work[2048], err[1024];
static float a[5] = {1.5f, -0.0f, 3.25e-30f, 1e30f, -7.0f}, b[1], c[3] = {0.25f, 0.5f, 0.75f};
static nn2c_ckpt_section secs[3] = {{"params", a, 5}, {"empty", b, 0}, {"step", c, 3}};

static const char *at(const char *name) { return path_in(work, name); }

static size_t read_all(const char *path, unsigned char *buf, size_t cap) {
  FILE *f = fopen(path, "rb");
  size_t n;
  CHECK(f != NULL);
  n = fread(buf, 1, cap, f);
  fclose(f);
  return n;
}

static void test_roundtrip(void) {
  float a2[5] = {0}, c2[3] = {0};
  nn2c_ckpt_section in[3] = {{"params", a2, 5}, {"empty", NULL, 0}, {"step", c2, 3}};
  unsigned char buf[256];
  size_t n;
  a[4] = NAN; /* bits, not values, must survive */
  CHECK_OK(nn2c_ckpt_save(at("ok.ckpt"), secs, 3, err, sizeof err), err);
  CHECK_OK(nn2c_ckpt_load(at("ok.ckpt"), in, 3, err, sizeof err), err);
  CHECK(memcmp(a, a2, sizeof a) == 0 && memcmp(c, c2, sizeof c) == 0);
  CHECK(signbit(a2[1]) && isnan(a2[4]));
  /* the documented layout: magic, u32 version, u32 nsections, little-endian */
  n = read_all(at("ok.ckpt"), buf, sizeof buf);
  CHECK(n == 16 + (4 + 6 + 8 + 20) + (4 + 5 + 8) + (4 + 4 + 8 + 12) + 8);
  CHECK(memcmp(buf, "NN2CCKPT\1\0\0\0\3\0\0\0\6\0\0\0params\5\0\0\0\0\0\0\0", 34) == 0);
  CHECK(buf[34] == 0 && buf[35] == 0 && buf[36] == 0xc0 && buf[37] == 0x3f); /* 1.5f */
  /* overwriting an existing checkpoint works too */
  CHECK_OK(nn2c_ckpt_save(at("ok.ckpt"), secs, 3, err, sizeof err), err);
}

/* Writes the good checkpoint with bytes [off, off+n) replaced or the file cut. */
static void write_damaged(const char *name, size_t cut, size_t off, const void *p, size_t n) {
  unsigned char buf[256];
  size_t len = read_all(at("ok.ckpt"), buf, sizeof buf);
  if (n) memcpy(buf + off, p, n);
  write_bytes(at(name), buf, cut < len ? cut : len);
}

static void expect_load_error(const char *name, const nn2c_ckpt_section *s, int n, const char *want) {
  float a2[5] = {9, 9, 9, 9, 9}, c2[3] = {9, 9, 9};
  nn2c_ckpt_section in[3] = {{"params", a2, 5}, {"empty", NULL, 0}, {"step", c2, 3}};
  char full[4200];
  snprintf(full, sizeof full, "%s: %s", at(name), want);
  CHECK_ERR(nn2c_ckpt_load(at(name), s ? s : in, s ? n : 3, err, sizeof err), err, full);
  CHECK(a2[0] == 9 && c2[0] == 9); /* a failed load leaves the buffers alone */
}

static void test_damage(void) {
  float x[6], y[3];
  nn2c_ckpt_section renamed[3] = {{"params", x, 5}, {"state", NULL, 0}, {"step", y, 3}};
  nn2c_ckpt_section recount[3] = {{"params", x, 6}, {"empty", NULL, 0}, {"step", y, 3}};
  nn2c_ckpt_section two[2] = {{"params", x, 5}, {"empty", NULL, 0}};
  size_t cut;
  write_damaged("magic.ckpt", 999, 0, "XN2C", 4);
  expect_load_error("magic.ckpt", NULL, 0, "bad magic, not an nn2c checkpoint");
  write_damaged("version.ckpt", 999, 8, "\7", 1);
  expect_load_error("version.ckpt", NULL, 0, "unsupported checkpoint version 7 (this runtime reads 1)");
  write_damaged("cut.ckpt", 40, 0, "", 0);
  expect_load_error("cut.ckpt", NULL, 0, "truncated: 40 bytes, expected at least 54");
  write_damaged("cut12.ckpt", 12, 0, "", 0);
  expect_load_error("cut12.ckpt", NULL, 0, "truncated: 12 bytes, the header alone needs 16");
  write_damaged("cutsum.ckpt", 100, 0, "", 0);
  expect_load_error("cutsum.ckpt", NULL, 0, "truncated: 100 bytes, expected at least 107");
  /* every shorter prefix fails, whatever it cuts through */
  for (cut = 0; cut < 107; cut++) {
    float a2[5], c2[3];
    nn2c_ckpt_section in[3] = {{"params", a2, 5}, {"empty", NULL, 0}, {"step", c2, 3}};
    write_damaged("prefix.ckpt", cut, 0, "", 0);
    CHECK(nn2c_ckpt_load(at("prefix.ckpt"), in, 3, err, sizeof err) != 0);
    CHECK(strstr(err, cut == 0 ? "empty file" : "truncated"));
  }
  write_damaged("flip.ckpt", 999, 40, "\x55", 1);
  expect_load_error("flip.ckpt", NULL, 0, "checksum mismatch: the file is corrupted");
  write_damaged("sum.ckpt", 999, 100, "\x55", 1);
  expect_load_error("sum.ckpt", NULL, 0, "checksum mismatch: the file is corrupted");
  expect_load_error("ok.ckpt", renamed, 3, "section 1 is named 'empty' but 'state' was expected");
  expect_load_error("ok.ckpt", recount, 3, "section 'params' holds 5 floats but 6 were expected");
  expect_load_error("ok.ckpt", two, 2, "has 3 sections but 2 were expected");
  expect_load_error("missing.ckpt", NULL, 0, "cannot open: No such file or directory");
  write_bytes(at("empty.ckpt"), "", 0);
  expect_load_error("empty.ckpt", NULL, 0, "empty file, not an nn2c checkpoint");
  {
    unsigned char buf[256];
    size_t len = read_all(at("ok.ckpt"), buf, sizeof buf);
    buf[len] = 0;
    write_bytes(at("long.ckpt"), buf, len + 1);
    expect_load_error("long.ckpt", NULL, 0, "1 unexpected bytes after the checksum");
  }
}

/* Files in the scratch folder whose names start with prefix. */
static int count_temps(const char *prefix) {
  DIR *d = opendir(at("."));
  struct dirent *e;
  int n = 0;
  CHECK(d != NULL);
  while ((e = readdir(d)) != NULL)
    n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
  closedir(d);
  return n;
}

/* A save that fails must leave the old checkpoint intact and no temp file. */
static void test_atomic(void) {
  float old[5] = {0}, c2[3];
  nn2c_ckpt_section in[3] = {{"params", old, 5}, {"empty", NULL, 0}, {"step", c2, 3}};
  float other[5] = {42, 42, 42, 42, 42};
  nn2c_ckpt_section next[3] = {{"params", other, 5}, {"empty", NULL, 0}, {"step", c2, 3}};
  char tmp[4200];
  struct stat st;

  CHECK_OK(nn2c_ckpt_save(at("keep.ckpt"), secs, 3, err, sizeof err), err);
  /* the old predictable temp name is taken (by a directory): the temp file is
   * made by mkstemp under another name, so the save goes through */
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", at("keep.ckpt"), (long)getpid());
  CHECK(mkdir(tmp, 0777) == 0 || errno == EEXIST);
  CHECK_OK(nn2c_ckpt_save(at("keep.ckpt"), secs, 3, err, sizeof err), err);
  CHECK(rmdir(tmp) == 0);
  CHECK_OK(nn2c_ckpt_load(at("keep.ckpt"), in, 3, err, sizeof err), err);
  CHECK(memcmp(old, a, sizeof a) == 0);

  /* the target is a directory: refused, no temp file is left */
  CHECK(mkdir(at("dir.ckpt"), 0777) == 0 || errno == EEXIST); /* EEXIST: a rerun */
  write_bytes(at("dir.ckpt/x"), "x", 1);
  CHECK_ERR(nn2c_ckpt_save(at("dir.ckpt"), next, 3, err, sizeof err), err,
            "dir.ckpt: not a regular file (a device, FIFO or directory); refusing to replace it");
  CHECK(count_temps("dir.ckpt.tmp.") == 0);

  /* the directory is missing: nothing is created */
  CHECK_ERR(nn2c_ckpt_save(at("nodir/x.ckpt"), next, 3, err, sizeof err), err, "nodir/x.ckpt: the folder ");
  CHECK(stat(at("nodir"), &st) != 0);
}

static void test_bad_args(void) {
  nn2c_ckpt_section noname[1] = {{NULL, a, 5}}, nodata[1] = {{"p", NULL, 5}};
  nn2c_ckpt_section any[1] = {{"p", NULL, NN2C_CKPT_ANY_COUNT}};
  CHECK_ERR(nn2c_ckpt_save(at("bad.ckpt"), noname, 1, err, sizeof err), err, "section 0 has no name");
  CHECK_ERR(nn2c_ckpt_save(at("bad.ckpt"), nodata, 1, err, sizeof err), err, "section 'p' has no data");
  CHECK_ERR(nn2c_ckpt_save(at("bad.ckpt"), any, 1, err, sizeof err), err, "section 'p' has no data");
}

/* Optional trailing sections (nn2c_ckpt_load_opt): a file may end before them,
 * has no more than the caller lists, and NN2C_CKPT_ANY_COUNT skips a section. */
static void test_optional(void) {
  float a2[5] = {0}, c2[3] = {0}, d2[2] = {9, 9}, d[2] = {4, 5};
  nn2c_ckpt_section more[4] = {{"params", a, 5}, {"empty", b, 0}, {"step", c, 3}, {"extra", d, 2}};
  nn2c_ckpt_section in[4] = {{"params", a2, 5}, {"empty", NULL, 0}, {"step", c2, 3}, {"extra", d2, 2}};
  nn2c_ckpt_section skip[4] = {
      {"params", a2, 5}, {"empty", NULL, 0}, {"step", c2, 3}, {"extra", NULL, NN2C_CKPT_ANY_COUNT}};
  int found = -1;
  CHECK_OK(nn2c_ckpt_load_opt(at("ok.ckpt"), in, 4, 3, &found, err, sizeof err), err); /* 3 sections */
  CHECK(found == 3 && d2[0] == 9 && memcmp(c, c2, sizeof c) == 0);
  CHECK_OK(nn2c_ckpt_save(at("more.ckpt"), more, 4, err, sizeof err), err);
  CHECK_OK(nn2c_ckpt_load_opt(at("more.ckpt"), in, 4, 3, &found, err, sizeof err), err);
  CHECK(found == 4 && d2[0] == 4 && d2[1] == 5);
  CHECK_OK(nn2c_ckpt_load_opt(at("more.ckpt"), skip, 4, 3, &found, err, sizeof err), err);
  CHECK(found == 4);
  CHECK_ERR(nn2c_ckpt_load_opt(at("more.ckpt"), in, 3, 2, &found, err, sizeof err), err,
            "more.ckpt: has 4 sections but 2 to 3 were expected");
  CHECK_ERR(nn2c_ckpt_load(at("more.ckpt"), in, 3, err, sizeof err), err,
            "more.ckpt: has 4 sections but 3 were expected");
  in[3].count = 3;
  CHECK_ERR(nn2c_ckpt_load_opt(at("more.ckpt"), in, 4, 3, &found, err, sizeof err), err,
            "section 'extra' holds 2 floats but 3 were expected");
}

int main(int argc, char **argv) {
  CHECK(argc == 2);
  snprintf(work, sizeof work, "%s", argv[1]);
  mkdir(work, 0777);
  test_roundtrip();
  test_damage();
  test_atomic();
  test_bad_args();
  test_optional();
  printf("test_ckpt: ok\n");
  return 0;
}
