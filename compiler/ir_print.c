/* ir_print.c - the IR text form: prints a Graph as the `graph NAME { ... }` section that
 * parse.c reads back. print(parse(print(g))) == print(g) byte for byte, so:
 *   - every value's type is written, so reparsed values carry the same types;
 *   - numbers are printed in the shortest form that reads back to the same bits;
 *   - float attributes always contain '.', 'e' or "inf"/"nan" so they read back as floats.
 * Order: inputs, params, state, consts (each in Value order), live nodes, then output,
 * loss, grad and assign lines. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"
#include "ops/op.h"

/* Shortest "%.Ng" text of v that reads back exactly: as a float when `as_float`, else
 * as a double. Non-finite values print as inf, -inf and nan. */
static void fmt_num(char *s, size_t n, double v, bool as_float) {
  if (isnan(v)) {
    snprintf(s, n, "nan");
    return;
  }
  for (int prec = as_float ? 6 : 15; prec <= 17; prec++) {
    snprintf(s, n, "%.*g", prec, v);
    double r = strtod(s, NULL);
    if (as_float ? (float)r == (float)v : r == v) return;
  }
}

/* A float attribute: like fmt_num, plus ".0" so the parser sees a float, not an int. */
static void put_float_attr(Buf *b, double v) {
  NN2C_ASSERT(isfinite(v)); /* the text form has no non-finite attributes */
  char s[64];
  fmt_num(s, sizeof s, v, false);
  buf_puts(b, s);
  if (!strpbrk(s, ".en")) buf_puts(b, ".0");
}

static void put_shape(Buf *b, Shape s) {
  buf_puts(b, "[");
  for (int i = 0; i < s.rank; i++) {
    if (i) buf_puts(b, ",");
    if (s.d[i] == DIM_BATCH)
      buf_puts(b, "N");
    else
      buf_printf(b, "%" PRId64, s.d[i]);
  }
  buf_puts(b, "]");
}

static void put_typed(Buf *b, const Value *v) {
  buf_printf(b, "%s: %s", v->name, dtype_name(v->dtype));
  put_shape(b, v->shape);
}

static bool is_ident(const char *s) {
  if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_')) return false;
  for (s++; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_')) return false;
  return true;
}

/* A string attribute: bare when it is an identifier, else quoted with \" \\ \n \t escapes. */
static void put_string(Buf *b, const char *s) {
  if (is_ident(s)) {
    buf_puts(b, s);
    return;
  }
  buf_puts(b, "\"");
  for (; *s; s++) {
    if (*s == '"' || *s == '\\')
      buf_printf(b, "\\%c", *s);
    else if (*s == '\n')
      buf_puts(b, "\\n");
    else if (*s == '\t')
      buf_puts(b, "\\t");
    else
      buf_printf(b, "%c", *s);
  }
  buf_puts(b, "\"");
}

static void put_attr(Buf *b, const Attr *a) {
  buf_printf(b, "%s=", a->key);
  switch (a->type) {
  case AT_INT:
    buf_printf(b, "%" PRId64, a->i);
    break;
  case AT_FLOAT:
    put_float_attr(b, a->f);
    break;
  case AT_STRING:
    put_string(b, a->s);
    break;
  case AT_INTS:
  case AT_FLOATS:
    buf_puts(b, "[");
    for (int i = 0; i < a->n; i++) {
      if (i) buf_puts(b, ", ");
      if (a->type == AT_INTS)
        buf_printf(b, "%" PRId64, a->ints[i]);
      else
        put_float_attr(b, a->floats[i]);
    }
    buf_puts(b, "]");
    break;
  }
}

static void put_init(Buf *b, Init in) {
  char x[64], y[64];
  fmt_num(x, sizeof x, in.a, false);
  fmt_num(y, sizeof y, in.b, false);
  buf_puts(b, init_name(in.kind));
  if (in.kind == INIT_CONSTANT) buf_printf(b, "(%s)", x);
  if (in.kind == INIT_UNIFORM || in.kind == INIT_NORMAL) buf_printf(b, "(%s, %s)", x, y);
}

/* One const element in the shortest text that reads back to the same stored value. */
static void put_elem(Buf *b, DType t, const void *data, int64_t i) {
  char s[64];
  switch (t) {
  case DT_F32:
    fmt_num(s, sizeof s, ((const float *)data)[i], true);
    buf_puts(b, s);
    return;
  case DT_F64:
    fmt_num(s, sizeof s, ((const double *)data)[i], false);
    buf_puts(b, s);
    return;
  case DT_I8:
    buf_printf(b, "%d", ((const int8_t *)data)[i]);
    return;
  case DT_I16:
    buf_printf(b, "%d", ((const int16_t *)data)[i]);
    return;
  case DT_I32:
    buf_printf(b, "%" PRId32, ((const int32_t *)data)[i]);
    return;
  case DT_I64:
    buf_printf(b, "%" PRId64, ((const int64_t *)data)[i]);
    return;
  case DT_U8:
  case DT_BOOL:
    buf_printf(b, "%u", ((const uint8_t *)data)[i]);
    return;
  case DT_U16:
    buf_printf(b, "%u", ((const uint16_t *)data)[i]);
    return;
  case DT_U32:
    buf_printf(b, "%" PRIu32, ((const uint32_t *)data)[i]);
    return;
  case DT_U64:
    buf_printf(b, "%" PRIu64, ((const uint64_t *)data)[i]);
    return;
  default:
    NN2C_ASSERT(!"const of a dtype the text form cannot hold (f16, bf16)");
  }
}

/* A scalar prints bare; anything else as a flat list, 16 elements per line. */
static void put_const_data(Buf *b, const Value *v) {
  int64_t n = shape_numel_static(v->shape);
  NN2C_ASSERT(v->data || n == 0);
  if (v->shape.rank == 0) {
    put_elem(b, v->dtype, v->data, 0);
    return;
  }
  buf_puts(b, "[");
  for (int64_t i = 0; i < n; i++) {
    if (i) buf_puts(b, i % 16 ? ", " : ",\n    ");
    put_elem(b, v->dtype, v->data, i);
  }
  buf_puts(b, "]");
}

static void put_value_decl(Buf *b, const Value *v) {
  static const char *const kw[] = {
      [VK_INPUT] = "input", [VK_PARAM] = "param", [VK_STATE] = "state", [VK_CONST] = "const"};
  buf_printf(b, "  %s ", kw[v->kind]);
  put_typed(b, v);
  if (v->kind == VK_PARAM || v->kind == VK_STATE) {
    buf_puts(b, " = ");
    put_init(b, v->init);
    if (v->frozen) buf_puts(b, " frozen");
  } else if (v->kind == VK_CONST) {
    buf_puts(b, " = ");
    put_const_data(b, v);
  }
  buf_puts(b, "\n");
}

static void put_node(Buf *b, const Node *n) {
  buf_puts(b, "  ");
  for (int i = 0; i < n->nout; i++) {
    if (i) buf_puts(b, ", ");
    put_typed(b, n->out[i]);
  }
  buf_printf(b, " = %s(", op_name(n->op));
  for (int i = 0; i < n->nin; i++)
    buf_printf(b, "%s%s", i ? ", " : "", n->in[i]->name);
  for (int i = 0; i < n->nattrs; i++) {
    if (i || n->nin) buf_puts(b, ", ");
    put_attr(b, &n->attrs[i]);
  }
  buf_puts(b, ")\n");
}

void ir_print(Buf *b, Graph *g) {
  static const ValueKind order[] = {VK_INPUT, VK_PARAM, VK_STATE, VK_CONST};
  buf_printf(b, "graph %s {\n", g->name);
  for (int k = 0; k < 4; k++)
    for (int i = 0; i < g->nvalues; i++)
      if (g->values[i]->kind == order[k]) put_value_decl(b, g->values[i]);
  for (int i = 0; i < g->nnodes; i++)
    if (!g->nodes[i]->dead) put_node(b, g->nodes[i]);
  for (int i = 0; i < g->noutputs; i++)
    buf_printf(b, "  output %s\n", g->outputs[i]->name);
  if (g->loss) buf_printf(b, "  loss %s\n", g->loss->name);
  for (int i = 0; i < g->ngrads; i++)
    buf_printf(b, "  grad %s = %s\n", g->grads[i].param->name, g->grads[i].grad->name);
  for (int i = 0; i < g->nassigns; i++)
    buf_printf(b, "  assign %s <- %s\n", g->assigns[i].dst->name, g->assigns[i].src->name);
  buf_puts(b, "}\n");
}
