/* plot.c - `nn2c plot FILE.csv|FILE.jsonl -o curves.svg`: learning curves from
 * a trainer's --metrics file as a self-contained SVG (no plotting library).
 *
 * 1. Read the rows: a CSV header names the columns (or each JSON Lines object
 *    its keys); columns are found by name, any may be missing, empty cells
 *    and JSON nulls are gaps. Only epoch rows are plotted (`kind` = epoch,
 *    or every row when there is no `kind` column).
 * 2. Two panels, loss and accuracy, each with the train, validation and test
 *    series present (x = epoch), axes with rounded ticks, and a legend.
 * 3. Write the SVG atomically. */
#include "tools/tools.h"

#include <ctype.h>
#include <math.h>
#include <string.h>

static const char *usage = "usage: nn2c plot METRICS.csv|METRICS.jsonl -o CURVES.svg [--quiet]\n";

/* The columns plotted: index 0 is the x axis. */
enum { C_EPOCH, C_TRAIN_LOSS, C_VAL_LOSS, C_TEST_LOSS, C_TRAIN_ACC, C_VAL_ACC, C_TEST_ACC, C_KIND, NCOLS };
static const char *const col_names[NCOLS][2] = {{"epoch", "epoch"},
                                                {"train_loss", "loss"},
                                                {"val_loss", "val_loss"},
                                                {"test_loss", "test_loss"},
                                                {"train_accuracy", "train_acc"},
                                                {"val_accuracy", "val_acc"},
                                                {"test_accuracy", "test_acc"},
                                                {"kind", "kind"}};
static const char *const series_label[3] = {"train", "validation", "test"};
static const char *const series_color[3] = {"#1f77b4", "#ff7f0e", "#2ca02c"};

typedef struct {
  double *v[NCOLS]; /* per plotted row; NAN where missing */
  int n, cap;
  bool has[NCOLS];
} Table;

static void table_push(Table *t, const double *row) {
  if (t->n == t->cap) {
    t->cap = t->cap ? 2 * t->cap : 64;
    for (int c = 0; c < NCOLS; c++)
      t->v[c] = xrealloc(t->v[c], sizeof(double) * (size_t)t->cap);
  }
  for (int c = 0; c < NCOLS; c++)
    t->v[c][t->n] = row[c];
  t->n++;
}

static int column_of(const char *name, size_t len) {
  for (int c = 0; c < NCOLS; c++)
    for (int k = 0; k < 2; k++)
      if (strlen(col_names[c][k]) == len && !strncmp(name, col_names[c][k], len)) return c;
  return -1;
}

/* A cell: empty or null is a gap (NAN); `kind` is 1 for epoch rows; else a number. */
static bool cell_value(const char *s, size_t len, int col, double *out) {
  while (len && isspace((unsigned char)*s))
    s++, len--;
  while (len && isspace((unsigned char)s[len - 1]))
    len--;
  if (len >= 2 && s[0] == '"' && s[len - 1] == '"') s++, len -= 2;
  if (col == C_KIND) return *out = len == 5 && !strncmp(s, "epoch", 5), true;
  if (!len || (len == 4 && !strncmp(s, "null", 4))) return *out = NAN, true;
  char buf[64], *end;
  snprintf(buf, sizeof buf, "%.*s", (int)(len < 63 ? len : 63), s);
  *out = strtod(buf, &end);
  return len < 63 && !*end && isfinite(*out);
}

/* One CSV line into row (by the header's column map); false on a bad cell. */
static bool csv_row(const char *path, int line, const char *s, const int *map, int ncells, double *row) {
  for (int k = 0; k < ncells; k++) {
    size_t len = strcspn(s, ",\n\r");
    if (map[k] >= 0 && !cell_value(s, len, map[k], &row[map[k]])) {
      error_plain("%s:%d: column %d is not a number: '%.*s'", path, line, k + 1, (int)(len < 40 ? len : 40), s);
      return false;
    }
    s += len;
    if (*s != ',' && k + 1 < ncells) {
      error_plain("%s:%d: %d cells, the header has %d", path, line, k + 1, ncells);
      return false;
    }
    if (*s == ',') s++;
  }
  if (*s && *s != '\n' && *s != '\r') {
    error_plain("%s:%d: more cells than the header's %d", path, line, ncells);
    return false;
  }
  return true;
}

static bool read_csv(const char *path, const char *text, Table *t) {
  int map[64], ncells = 0;
  const char *s = text;
  for (; ncells < 64; ncells++) {
    size_t len = strcspn(s, ",\n\r");
    map[ncells] = column_of(s, len);
    if (map[ncells] >= 0) t->has[map[ncells]] = true;
    s += len;
    if (*s != ',') break;
    s++;
  }
  ncells++;
  for (int line = 2; (s = strchr(s, '\n')) && *++s; line++) {
    if (*s == '\n' || *s == '\r') continue;
    double row[NCOLS];
    for (int c = 0; c < NCOLS; c++)
      row[c] = c == C_KIND ? 1 : NAN;
    if (!csv_row(path, line, s, map, ncells, row)) return false;
    if (row[C_KIND] == 1) table_push(t, row);
  }
  return true;
}

/* JSON Lines of flat objects: "key": value pairs, keys found by name. */
static bool read_jsonl(const char *path, const char *text, Table *t) {
  int line = 1;
  for (const char *s = text; *s; line++) {
    size_t end = strcspn(s, "\n");
    double row[NCOLS];
    for (int c = 0; c < NCOLS; c++)
      row[c] = c == C_KIND ? 1 : NAN;
    for (const char *p = s; p < s + end && (p = memchr(p, '"', (size_t)(s + end - p)));) {
      const char *key = p + 1, *q = memchr(key, '"', (size_t)(s + end - key));
      if (!q || q[1] != ':') break;
      int c = column_of(key, (size_t)(q - key));
      const char *v = q + 2;
      size_t len =
          v[strspn(v, " ")] == '"' ? strcspn(strchr(v, '"') + 1, "\"") + 2 + strspn(v, " ") : strcspn(v, ",}\n");
      if (c >= 0 && !cell_value(v, len, c, &row[c])) {
        error_plain("%s:%d: \"%.*s\" is not a number", path, line, (int)(q - key), key);
        return false;
      }
      if (c >= 0) t->has[c] = true;
      p = v + len;
    }
    if (end && row[C_KIND] == 1) table_push(t, row);
    s += end + (s[end] == '\n');
  }
  return true;
}

/* ---- drawing ---- */

typedef struct {
  double lo, hi, step; /* axis range and tick spacing, rounded to 1, 2 or 5 x 10^k */
} Axis;

static Axis nice_axis(double lo, double hi, bool integer) {
  if (!(hi > lo)) lo -= 0.5, hi += 0.5;
  double raw = (hi - lo) / 5, mag = pow(10, floor(log10(raw))), f = raw / mag;
  double step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
  if (integer && step < 1) step = 1;
  return (Axis){floor(lo / step) * step, ceil(hi / step) * step, step};
}

typedef struct {
  double x0, y0, w, h; /* plot area in SVG pixels */
  Axis ax, ay;
} Panel;

static double px(const Panel *p, double x) { return p->x0 + (x - p->ax.lo) / (p->ax.hi - p->ax.lo) * p->w; }
static double py(const Panel *p, double y) { return p->y0 + p->h - (y - p->ay.lo) / (p->ay.hi - p->ay.lo) * p->h; }

static void draw_axes(Buf *b, const Panel *p, const char *title) {
  buf_printf(b, "<rect x='%.1f' y='%.1f' width='%.1f' height='%.1f' fill='white' stroke='#444'/>\n", p->x0, p->y0, p->w,
             p->h);
  buf_printf(b, "<text x='%.1f' y='%.1f' text-anchor='middle' font-size='16'>%s</text>\n", p->x0 + p->w / 2, p->y0 - 12,
             title);
  buf_printf(b, "<text x='%.1f' y='%.1f' text-anchor='middle'>epoch</text>\n", p->x0 + p->w / 2, p->y0 + p->h + 36);
  for (double x = p->ax.lo; x <= p->ax.hi + p->ax.step / 2; x += p->ax.step)
    buf_printf(b,
               "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#444'/>"
               "<text x='%.1f' y='%.1f' text-anchor='middle'>%g</text>\n",
               px(p, x), p->y0 + p->h, px(p, x), p->y0 + p->h + 5, px(p, x), p->y0 + p->h + 18, x);
  for (double y = p->ay.lo; y <= p->ay.hi + p->ay.step / 2; y += p->ay.step)
    buf_printf(b,
               "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#ddd'/>"
               "<text x='%.1f' y='%.1f' text-anchor='end'>%g</text>\n",
               p->x0, py(p, y), p->x0 + p->w, py(p, y), p->x0 - 6, py(p, y) + 4, fabs(y) < 1e-12 ? 0 : y);
}

/* One series: a polyline through its points (gaps skipped) and a dot per point. */
static void draw_series(Buf *b, const Panel *p, const Table *t, int col, const char *color) {
  buf_printf(b, "<polyline fill='none' stroke='%s' stroke-width='2.5' points='", color);
  for (int i = 0; i < t->n; i++)
    if (isfinite(t->v[col][i]) && isfinite(t->v[C_EPOCH][i]))
      buf_printf(b, "%.1f,%.1f ", px(p, t->v[C_EPOCH][i]), py(p, t->v[col][i]));
  buf_puts(b, "'/>\n");
  for (int i = 0; i < t->n; i++)
    if (isfinite(t->v[col][i]) && isfinite(t->v[C_EPOCH][i]))
      buf_printf(b, "<circle cx='%.1f' cy='%.1f' r='3.5' fill='%s'/>\n", px(p, t->v[C_EPOCH][i]), py(p, t->v[col][i]),
                 color);
}

/* A panel of the columns first..first+2 (train, validation, test). */
static void draw_panel(Buf *b, const Table *t, double x0, const char *title, int first, bool legend_low) {
  double lo = INFINITY, hi = -INFINITY, xlo = INFINITY, xhi = -INFINITY;
  for (int i = 0; i < t->n; i++)
    for (int c = first; c < first + 3; c++)
      if (isfinite(t->v[c][i]) && isfinite(t->v[C_EPOCH][i])) {
        lo = fmin(lo, t->v[c][i]), hi = fmax(hi, t->v[c][i]);
        xlo = fmin(xlo, t->v[C_EPOCH][i]), xhi = fmax(xhi, t->v[C_EPOCH][i]);
      }
  Panel p = {x0, 50, 400, 300, {0, 1, 1}, {0, 1, 1}};
  if (lo > hi) { /* nothing to draw */
    draw_axes(b, &p, title);
    buf_printf(b, "<text x='%.1f' y='%.1f' text-anchor='middle' fill='#888'>no %s data</text>\n", x0 + 200, 200.0,
               title);
    return;
  }
  p.ax = nice_axis(xlo, xhi, true), p.ay = nice_axis(lo, hi, false);
  draw_axes(b, &p, title);
  bool any[3] = {false, false, false};
  int nshown = 0, shown = 0;
  for (int k = 0; k < 3; k++) {
    for (int i = 0; i < t->n; i++)
      any[k] = any[k] || isfinite(t->v[first + k][i]);
    nshown += any[k];
    if (any[k]) draw_series(b, &p, t, first + k, series_color[k]);
  }
  /* the legend goes where the curves usually are not: top right for a falling loss,
   * bottom right for a rising accuracy, on white so a curve under it stays readable */
  double top = legend_low ? p.y0 + p.h - 12 - 20 * nshown : p.y0 + 6;
  buf_printf(b, "<rect x='%.1f' y='%.1f' width='116' height='%d' fill='white' fill-opacity='0.85' stroke='#ccc'/>\n",
             p.x0 + p.w - 126, top, 20 * nshown + 4);
  for (int k = 0; k < 3; k++) {
    if (!any[k]) continue;
    double ly = top + 12 + 20 * shown++;
    buf_printf(b,
               "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='%s' stroke-width='2.5'/>"
               "<text x='%.1f' y='%.1f'>%s</text>\n",
               p.x0 + p.w - 120, ly, p.x0 + p.w - 96, ly, series_color[k], p.x0 + p.w - 90, ly + 4, series_label[k]);
  }
}

static void plot_svg(Buf *b, const Table *t) {
  buf_puts(b, "<?xml version='1.0' encoding='UTF-8'?>\n<svg xmlns='http://www.w3.org/2000/svg' width='960' "
              "height='410' viewBox='0 0 960 410' font-family='Helvetica, Arial, sans-serif' font-size='12'>\n"
              "<rect width='960' height='410' fill='white'/>\n");
  draw_panel(b, t, 60, "loss", C_TRAIN_LOSS, false);
  draw_panel(b, t, 540, "accuracy", C_TRAIN_ACC, true);
  buf_puts(b, "</svg>\n");
}

int plot_main(int argc, char **argv) {
  ToolArgs a = {0};
  if (!tool_args(argc, argv, "-o --quiet", usage, &a)) return 1;
  size_t len;
  char *text = read_whole_file(a.model, &len);
  if (!text) {
    error_plain("%s: cannot read it", a.model);
    return 1;
  }
  Table t = {0};
  size_t n = strlen(a.model);
  bool jsonl = n > 6 && !strcmp(a.model + n - 6, ".jsonl");
  bool ok = strlen(text) == len;
  if (!ok) error_plain("%s: holds a NUL byte (not a metrics file)", a.model);
  ok = ok && (jsonl ? read_jsonl(a.model, text, &t) : read_csv(a.model, text, &t));
  if (ok && (!t.has[C_EPOCH] || !(t.has[C_TRAIN_LOSS] || t.has[C_TRAIN_ACC] || t.has[C_VAL_LOSS] ||
                                  t.has[C_TEST_LOSS] || t.has[C_VAL_ACC] || t.has[C_TEST_ACC]))) {
    error_plain("%s: needs an epoch column and loss or accuracy columns (train_loss, val_loss, test_loss, "
                "train_accuracy, ...; a trainer's --metrics file)",
                a.model);
    ok = false;
  }
  Buf b = {0};
  if (ok) plot_svg(&b, &t);
  ok = ok && tool_write(&a, b.data, b.len, "nn2c plot writes a new file there");
  buf_free(&b);
  for (int c = 0; c < NCOLS; c++)
    free(t.v[c]);
  free(text);
  return ok ? 0 : 1;
}
