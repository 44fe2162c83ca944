/* lower.h - shared by model.c and layers.c (the .nn front end's internals). */
#ifndef NN2C_LOWER_H
#define NN2C_LOWER_H

#include "model.h"

/* State of lowering one graph. */
typedef struct {
  Model *m;
  Graph *g;
  GraphMode mode;
  Source *src;
  int ndense, ndropout, nbn, nconv, npool, nemb, nrnn; /* per-kind counters for layer names */
} Lower;

/* Checked conversions of parsed expressions; false after reporting an error. */
bool expr_int(Source *src, const Expr *e, int64_t lo, int64_t hi, int64_t *out);
bool expr_num(Source *src, const Expr *e, double *out);
bool expr_init(Source *src, const Expr *e, Init *init);
/* Lowers the layer list; returns the prediction, or NULL after errors. */
Value *lower_layers(Lower *L);

#endif
