/* gradcheck.h - what the gradient-check cases share (see gradcheck.c).
 *
 * A case is a function that builds the op under test into c->g, fed by
 * params (which get gradients) and inputs (fixed data), and sets c->y to the
 * output the loss weighs. Each op family's file (gradcheck_<family>.c) lists
 * its cases in one table; gradcheck.c runs them. */
#ifndef GRADCHECK_H
#define GRADCHECK_H

#include <stdint.h>

#include "interp/interp.h"

#define BATCH 3 /* value of N in cases with a batch dimension */
#define MAXP 8

/* Value ranges for generated data: away from kinks and domain edges. */
typedef enum {
  R_ANY,   /* [-1.5, 1.5] */
  R_POS,   /* [0.5, 2] */
  R_AWAY0, /* +-[0.1, 1.5]: away from 0 */
  R_CLIP,  /* +-[0.1, 0.4] or +-[0.6, 1.2]: away from 0 and +-0.5 */
  R_UNIT,  /* +-[0.1, 0.8]: inside (-1, 1) */
  R_GT1,   /* [1.2, 2.5] */
  R_WIDE   /* +-[0.1, 4] */
} Range;

typedef struct CaseDef CaseDef;

/* A case under construction. */
typedef struct {
  const CaseDef *def; /* the table entry being built */
  Graph *g;
  Value *param[MAXP];
  double *pdata[MAXP];
  int nparam;
  Feed feeds[MAXP];
  int nfeeds;
  int nforward;       /* nodes that belong to the op under test (before the loss) */
  uint64_t step;      /* EvalCtx step (seeds dropout) */
  Value *y;           /* the op's output the loss weighs */
  Value *mask;        /* dropout cases: the mask output */
  double *w;          /* the loss weights, y's shape at BATCH */
  const char *passes; /* the pipeline, when not "shape,autodiff" */
} Case;

/* One case. Builders shared by several ops read op, range and the rest from
 * c->def; op_case() builds any op from these fields alone. */
struct CaseDef {
  const char *name;
  void (*build)(Case *c);
  OpKind op;
  Range r;
  int nin;           /* op_case: inputs (params) */
  int rank3;         /* op_case: params of shape [2,2,3] instead of [2,3] */
  const char *attrs; /* op_case: attributes, as for opn() */
};

/* A family: the cases of one op family, run by `gradcheck FAMILY`. */
typedef struct {
  const char *name;
  const CaseDef *cases;
  int ncases;
} Family;
#define FAMILY(nm, table) const Family family_##nm = {#nm, table, (int)(sizeof table / sizeof table[0])}

/* ---- builders' helpers (gradcheck.c) ---- */
double urand(void); /* [0,1), deterministic */
Shape shp(int rank, const int64_t *d);
#define S(...) shp((int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__})
#define S0 shape_scalar()

Value *param(Case *c, Shape s, Range r);           /* a param with random data */
Value *distinct_param(Case *c, Shape s);           /* values 0.05 apart, shuffled: no ties */
Value *input(Case *c, Shape s, Range r);           /* an input with random data (at N = BATCH) */
void *feed(Case *c, Value *v, size_t elem);        /* zeroed data for input v */
Value *batch_x(Case *c);                           /* [N,3]: an input times a [3] param */
Value *iconst(Case *c, Shape s, const int64_t *v); /* an i64 constant */
#define IDX(s, ...) iconst(c, s, (int64_t[]){__VA_ARGS__})
/* A node with attributes from a compact spec: "key=1", "key=[1,2]", "key=0.5" (float), "key:text". */
Value *opn(Case *c, OpKind op, int nin, Value **in, const char *spec);
Value *op1(Case *c, OpKind op, Value *x, const char *spec);
Value *reduce_of(Case *c, OpKind op, Value *x, int naxes, const int64_t *axes, int keep);
void op_case(Case *c);        /* c->def's op on params: [2,3] or [2,2,3], then broadcastable ones */
void op_case_scalar(Case *c); /* c->def's op on one scalar param */
/* A table entry built by op_case(). */
#define OP_CASE(nm, op_, nin_, r_, rank3_, attrs_)                                                                     \
  { .name = nm, .build = op_case, .op = op_, .r = r_, .nin = nin_, .rank3 = rank3_, .attrs = attrs_ }

/* conv2d over NHWC with an HWIO kernel (gradcheck_conv.c; the layout family uses it too). */
typedef struct {
  int64_t strides[2], pads[4], dil[2], groups; /* 0 (pads[0] < 0): attribute left out */
} ConvAttrs;
#define NOPADS                                                                                                         \
  { -1, 0, 0, 0 }
Value *conv_of(Case *c, Value *x, Value *w, Value *b, ConvAttrs a);

extern const Family family_elementwise, family_math, family_activation, family_compare, family_matmul, family_reduce,
    family_select, family_movement, family_gather, family_norm, family_nn, family_loss, family_conv, family_pool,
    family_rnn, family_fanout, family_layout, family_sample;

#endif
