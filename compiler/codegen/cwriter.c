/* cwriter.c - the C writer: an indenting line writer over a Buf (Emit) and
 * the small pieces every emitter needs: a value's C name (clear of the
 * identifiers the emitted code uses), dims and element counts with the
 * symbolic batch B, float literals, C types, and copies through a strided
 * view.
 *
 * Layering: the file lives in codegen/ beside the emitter, but it sits below
 * ops/ in the include and call graphs. It knows Graph and Value (ir.h) and no
 * op, so the ops' emit hooks (through op.h) and codegen/emit_c.c both call it
 * and it calls neither:
 *   util -> ir -> codegen/cwriter -> ops -> passes -> codegen/emit_c, interp. */
#include "cwriter.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Value names become C identifiers; these are taken by the emitted code itself. */
static const char *reserved[] = {
    "B",
    "m",
    "x",
    "y",
    "out",
    "loss",
    "i",
    "j",
    "k",
    "p",
    "q",
    "r",
    "acc",
    "av",
    "i0",
    "i1",
    "i2",
    "i3",
    "i4",
    "i5",
    "i6",
    "i7",
    "u",
    "h",
    "keep",
    "status",
    "params",
    "state",
    "arena",
    /* conv.c */
    "nb",
    "oh",
    "ow",
    "kh",
    "kw",
    "ih",
    "iw",
    "xo",
    "xp",
    "wp",
    "ci",
    "co",
    "gi",
    "dp",
    "wr",
    "dr",
    "lane",
    "l",
    "yp",
    "cnt",
    "c",
    "bi",
    "bv",
    "bt",
    "gt",
    "dq",
    "xk",
    "xs",
    "src",
    "patch",
    "zeros",
    "wt",
    "wk",
    "P",
    "pb",
    "t",
    "c0",
    "ci0",
    "s0",
    "s1",
    "s2",
    "s3",
    "s4",
    "s5",
    "s6",
    "s7",
    "a0",
    "a1",
    "a2",
    "a3",
    "a4",
    "a5",
    "a6",
    "a7",
    "first",
    "last",
    "part",
    "task",
    "n0",
    "n1",
    "nt",
    "scratch",
    "x0",
    "g",
    "to",
    "xr",
    "p1",
    /* sample.c */
    "ds",
    "ntap",
    "off",
    "gx",
    "gy",
    "dxp",
    /* select.c, reduce.c, nn.c */
    "mx",
    "sum",
    "lse",
    /* quant.c */
    "yr",
    "za",
    "g0",
    "xv",
    "f",
    "v",
    "row",
    "ar",
    "zxu",
    "dst",
    "d4",
    /* matmul.c */
    "bt",
    "br",
    "ib",
    "j0",
    "r0",
    "r1",
    "r2",
    "r3",
    "auto",
    "break",
    "case",
    "char",
    "const",
    "continue",
    "default",
    "do",
    "double",
    "else",
    "enum",
    "extern",
    "float",
    "for",
    "goto",
    "if",
    "inline",
    "int",
    "long",
    "register",
    "restrict",
    "return",
    "short",
    "signed",
    "sizeof",
    "static",
    "struct",
    "switch",
    "typedef",
    "union",
    "unsigned",
    "void",
    "volatile",
    "while",
    "main",
    "errno",
    NULL,
};

static int by_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* A binary search of the sorted names (a scan of all ~100 per reference was a tenth of
 * the time to emit a long unrolled LSTM). */
static bool is_reserved(const char *name) {
  enum { N = sizeof reserved / sizeof *reserved - 1 };
  static const char *sorted[N];
  if (!sorted[0]) {
    memcpy(sorted, reserved, sizeof sorted);
    qsort(sorted, N, sizeof *sorted, by_str);
  }
  return bsearch(&name, sorted, N, sizeof *sorted, by_str) != NULL;
}

const char *emit_ref(Emit *e, Value *v) {
  if (e->used && !e->used[v->id]) {
    e->used[v->id] = 1;
    if (e->marked) e->marked[(*e->nmarked)++] = v->id;
  }
  if (is_reserved(v->name)) return arena_printf(&e->g->arena, "%s_", v->name);
  return v->name;
}

char *emit_dim(Emit *e, Value *v, int axis) {
  int64_t d = v->shape.d[axis];
  return d == DIM_BATCH ? arena_strdup(&e->g->arena, "B") : arena_printf(&e->g->arena, "%lld", (long long)d);
}

char *emit_numel_range(Emit *e, Value *v, int from, int to) {
  int64_t c = 1;
  bool batch = false;
  for (int i = from; i < to; i++) {
    if (v->shape.d[i] == DIM_BATCH)
      batch = true;
    else
      c *= v->shape.d[i];
  }
  if (!batch) return arena_printf(&e->g->arena, "%lld", (long long)c);
  if (c == 1) return arena_strdup(&e->g->arena, "(size_t)B");
  return arena_printf(&e->g->arena, "(size_t)B * %lld", (long long)c);
}

void view_strides(Shape s, Lin *st) {
  Lin r = {1, 0};
  for (int i = s.rank - 1; i >= 0; i--) {
    st[i] = r;
    if (s.d[i] == DIM_BATCH)
      r = (Lin){0, r.c};
    else
      r = (Lin){r.c * s.d[i], r.cb * s.d[i]};
  }
}

static char *lin_str(Emit *e, Lin l) {
  if (!l.cb) return arena_printf(&e->g->arena, "%lld", (long long)l.c);
  if (!l.c) return arena_printf(&e->g->arena, "(ptrdiff_t)B * %lld", (long long)l.cb);
  return arena_printf(&e->g->arena, "(%lld + (ptrdiff_t)B * %lld)", (long long)l.c, (long long)l.cb);
}

/* Drops extent-1 dimensions and merges neighbours that are contiguous in the input. */
static View view_simplify(const View *v) {
  View s = *v;
  s.rank = 0;
  for (int k = 0; k < v->rank; k++) {
    if (v->dim[k] == 1) continue;
    int t = s.rank - 1;
    bool merge = t >= 0 && v->dim[k] != DIM_BATCH && s.dim[t] != DIM_BATCH && !v->stride[k].cb && !s.stride[t].cb &&
                 s.stride[t].c == v->stride[k].c * v->dim[k];
    if (merge) {
      s.dim[t] *= v->dim[k];
      s.stride[t] = v->stride[k];
    } else {
      s.dim[++t] = v->dim[k];
      s.stride[t] = v->stride[k];
      s.rank++;
    }
  }
  return s;
}

void emit_view_copy(Emit *e, Value *out, Value *in, const View *view, bool scatter) {
  View v = view_simplify(view);
  for (int k = 0; k < v.rank; k++)
    if (v.dim[k] == 0) return; /* nothing to copy (a loop to 0 would warn) */
  const char *O = emit_ref(e, out), *I = emit_ref(e, in), *ty = emit_ctype(out->dtype);
  bool run = v.rank > 0 && v.stride[v.rank - 1].c == 1 && !v.stride[v.rank - 1].cb; /* innermost contiguous */
  int loops = run ? v.rank - 1 : v.rank;
  Buf idx = {0};
  buf_printf(&idx, "(ptrdiff_t)%s", lin_str(e, v.offset));
  for (int k = 0; k < loops; k++)
    buf_printf(&idx, " + (ptrdiff_t)i%d * %s", k, lin_str(e, v.stride[k]));
  emit_open(e, "");
  emit_line(e, "size_t q = 0;");
  for (int k = 0; k < loops; k++) {
    const char *d = v.dim[k] == DIM_BATCH ? "B" : arena_printf(&e->g->arena, "%lld", (long long)v.dim[k]);
    emit_open(e, "for (size_t i%d = 0; i%d < (size_t)%s; i%d++)", k, k, d, k);
  }
  if (run) {
    const char *d =
        v.dim[v.rank - 1] == DIM_BATCH ? "B" : arena_printf(&e->g->arena, "%lld", (long long)v.dim[v.rank - 1]);
    if (scatter)
      emit_line(e, "memcpy(%s + %s, %s + q, sizeof(%s) * (size_t)%s);", I, idx.data, O, ty, d);
    else
      emit_line(e, "memcpy(%s + q, %s + %s, sizeof(%s) * (size_t)%s);", O, I, idx.data, ty, d);
    emit_line(e, "q += (size_t)%s;", d);
  } else if (scatter)
    emit_line(e, "%s[%s] = %s[q++];", I, idx.data, O);
  else
    emit_line(e, "%s[q++] = %s[%s];", O, I, idx.data);
  for (int k = 0; k < loops; k++)
    emit_close(e);
  emit_line(e, "(void)q;");
  emit_close(e);
  buf_free(&idx);
}

char *emit_numel(Emit *e, Value *v) { return emit_numel_range(e, v, 0, v->shape.rank); }

static void emit_indent(Emit *e) {
  for (int i = 0; i < e->indent; i++)
    buf_puts(e->b, "  ");
}

void emit_line(Emit *e, const char *fmt, ...) {
  va_list ap;
  emit_indent(e);
  va_start(ap, fmt);
  buf_vprintf(e->b, fmt, ap);
  va_end(ap);
  buf_puts(e->b, "\n");
}

void emit_open(Emit *e, const char *fmt, ...) {
  va_list ap;
  emit_indent(e);
  va_start(ap, fmt);
  buf_vprintf(e->b, fmt, ap);
  va_end(ap);
  buf_puts(e->b, " {\n");
  e->indent++;
}

void emit_scope_open(Emit *e) {
  emit_line(e, "{");
  e->indent++;
}

void emit_close(Emit *e) {
  e->indent--;
  emit_line(e, "}");
}

char *emit_float(Emit *e, double v) {
  NN2C_ASSERT(isfinite(v));
  char tmp[64];
  snprintf(tmp, sizeof tmp, "%.9g", v);
  if (!strpbrk(tmp, ".e")) strcat(tmp, ".0");
  return arena_printf(&e->g->arena, "%sf", tmp);
}

const char *emit_ctype(DType t) {
  switch (t) {
  case DT_F32:
    return "float";
  case DT_F64:
    return "double";
  case DT_I8:
    return "int8_t";
  case DT_I16:
    return "int16_t";
  case DT_I32:
    return "int32_t";
  case DT_I64:
    return "int64_t";
  case DT_U8:
    return "uint8_t";
  case DT_U16:
  case DT_F16:
  case DT_BF16:
    return "uint16_t"; /* storage; casts convert (cast_half_helpers) */
  case DT_U32:
    return "uint32_t";
  case DT_U64:
    return "uint64_t";
  case DT_BOOL:
    return "uint8_t";
  default:
    NN2C_ASSERT(!"dtype has no C type");
    return "void";
  }
}
