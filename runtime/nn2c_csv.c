/* nn2c_csv.c - a data set from a CSV file of numbers: one sample per line,
 * comma-separated, one column the label and the others the sample's values
 * in column order. The first line is a header when any of its fields is not
 * a number (fields may be in double quotes there). Empty lines and a '\r'
 * before each newline are ignored; every other line must have the header's
 * column count and finite numbers only. Plain or gzip (nn2c_read_file).
 */
#include "nn2c_rt.h"

#include <ctype.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  const char *path;
  char *text;
  size_t len;
  int cols, label, header; /* header: the first line names the columns */
  size_t rows;             /* read */
  double *labels;
} Csv;

/* The next line of [*p, end) without its '\r\n'; NULL at the end. */
static char *next_line(char **p, char *end) {
  char *s = *p, *nl;
  if (s >= end) return NULL;
  nl = memchr(s, '\n', (size_t)(end - s));
  if (!nl) nl = end;
  *nl = '\0';
  if (nl > s && nl[-1] == '\r') nl[-1] = '\0';
  *p = nl + 1;
  return s;
}

/* A whole field as a number finite in float, the type it is stored as. */
static int field_number(const char *f, size_t n, double *v) {
  char buf[64], *end;
  while (n && isspace((unsigned char)*f))
    f++, n--;
  while (n && isspace((unsigned char)f[n - 1]))
    n--;
  if (!n || n >= sizeof buf) return -1;
  memcpy(buf, f, n);
  buf[n] = '\0';
  *v = strtod(buf, &end);
  return *end == '\0' && isfinite(*v) && fabs(*v) <= FLT_MAX ? 0 : -1;
}

static int count_fields(const char *line) {
  int n = 1;
  for (; *line; line++)
    n += *line == ',';
  return n;
}

static int line_is_numbers(const char *line) {
  const char *f = line;
  double v;
  for (;;) {
    const char *c = strchr(f, ',');
    size_t n = c ? (size_t)(c - f) : strlen(f);
    if (field_number(f, n, &v)) return 0;
    if (!c) return 1;
    f = c + 1;
  }
}

/* COL: a column number from 0, or a header name; NULL: the last column. */
static int find_label(Csv *c, const char *first, const char *col, char *err, size_t errlen) {
  const char *f = first, *p;
  int i;
  if (!col) return c->label = c->cols - 1, 0;
  for (p = col; isdigit((unsigned char)*p); p++)
    ;
  if (*col && !*p) {
    c->label = atoi(col);
    if (strlen(col) > 6 || c->label >= c->cols)
      return nn2c_fail(err, errlen, "%s: --label-column %s: the file has columns 0..%d", c->path, col, c->cols - 1);
    return 0;
  }
  for (i = 0; c->header && i < c->cols; i++) {
    const char *comma = strchr(f, ',');
    size_t n = comma ? (size_t)(comma - f) : strlen(f);
    if (n >= 2 && f[0] == '"' && f[n - 1] == '"') f++, n -= 2;
    if (n == strlen(col) && !strncmp(f, col, n)) return c->label = i, 0;
    f = comma ? comma + 1 : f + n;
  }
  return nn2c_fail(err, errlen, "%s: --label-column %s: %s", c->path, col,
                   c->header ? "no column has that name in the header" : "the file has no header line to name it");
}

/* Reads the values: x gets every column but the label, c->labels the label. */
static int read_rows(Csv *c, char *p, char *end, float *x, char *err, size_t errlen) {
  size_t row = 0, lineno = 1 + (size_t)c->header;
  char *line;
  for (; (line = next_line(&p, end)) != NULL; lineno++) {
    const char *f = line;
    int i;
    if (!*line) continue;
    if (count_fields(line) != c->cols)
      return nn2c_fail(err, errlen, "%s:%lu: %d columns, but the first line has %d", c->path, (unsigned long)lineno,
                       count_fields(line), c->cols);
    for (i = 0; i < c->cols; i++) {
      const char *comma = strchr(f, ',');
      size_t n = comma ? (size_t)(comma - f) : strlen(f);
      double v;
      if (field_number(f, n, &v))
        return nn2c_fail(err, errlen, "%s:%lu: column %d: '%.*s' is not a finite float", c->path, (unsigned long)lineno,
                         i, (int)(n > 40 ? 40 : n), f);
      if (i == c->label)
        c->labels[row] = v;
      else
        *x++ = (float)v;
      f = comma ? comma + 1 : f + n;
    }
    row++;
  }
  c->rows = row;
  return 0;
}

static double label_get(const void *src, size_t i) { return ((const double *)src)[i]; }

/* The first line, copied without its line end. */
static char *first_line(const Csv *c) {
  const char *nl = memchr(c->text, '\n', c->len);
  size_t n = nl ? (size_t)(nl - c->text) : c->len;
  char *s = malloc(n + 1);
  if (!s) return NULL;
  memcpy(s, c->text, n);
  s[n] = '\0';
  if (n && s[n - 1] == '\r') s[n - 1] = '\0';
  return s;
}

static int load_text(Csv *c, const char *first, const char *col, const nn2c_model_io *io, nn2c_dataset *out, char *err,
                     size_t errlen) {
  char *end = c->text + c->len, *body = c->text, *p;
  size_t lines = 0;
  if (!*first) return nn2c_fail(err, errlen, "%s: empty CSV file (or an empty first line)", c->path);
  c->cols = count_fields(first);
  c->header = !line_is_numbers(first);
  if (c->cols < 2)
    return nn2c_fail(err, errlen, "%s: a CSV data file needs a label column and a value column", c->path);
  if (find_label(c, first, col, err, errlen)) return -1;
  if (c->cols - 1 != io->in_numel)
    return nn2c_fail(err, errlen, "%s: %d value columns (and the label), but model %s takes %d inputs", c->path,
                     c->cols - 1, io->name, io->in_numel);
  if (c->header) body = (p = memchr(c->text, '\n', c->len)) ? p + 1 : end;
  for (p = body; p < end; p++)
    lines += *p == '\n';
  lines += end > body && end[-1] != '\n';
  if (lines > INT32_MAX) return nn2c_fail(err, errlen, "%s: too many lines", c->path);
  out->x = malloc(lines * (size_t)io->in_numel * sizeof(float) + 1);
  c->labels = malloc(lines * sizeof(double) + 1);
  if (!out->x || !c->labels) return nn2c_fail(err, errlen, "%s: out of memory", c->path);
  if (read_rows(c, body, end, out->x, err, errlen)) return -1;
  if (!c->rows)
    return nn2c_fail(err, errlen, "%s: no samples (only %s)", c->path, c->header ? "a header" : "empty lines");
  out->n = (int)c->rows, out->sample_numel = io->in_numel;
  return nn2c_labels_from(out, c->path, label_get, c->labels, 1, io, err, errlen);
}

int nn2c_load_csv(const char *path, const char *label_col, const nn2c_model_io *io, nn2c_dataset *out, char *err,
                  size_t errlen) {
  Csv c;
  unsigned char *text;
  char *first;
  int rc;
  memset(&c, 0, sizeof c);
  memset(out, 0, sizeof *out);
  c.path = path;
  if (nn2c_read_file(path, &text, &c.len, err, errlen) || nn2c_text_terminate(&text, c.len, err, errlen)) return -1;
  c.text = (char *)text;
  first = first_line(&c);
  rc =
      first ? load_text(&c, first, label_col, io, out, err, errlen) : nn2c_fail(err, errlen, "%s: out of memory", path);
  free(first);
  free(c.text);
  free(c.labels);
  if (rc) nn2c_dataset_free(out);
  return rc;
}
