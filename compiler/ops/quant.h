/* quant.h - what the int8 ops (quant.c) offer the front end and the passes. */
#ifndef NN2C_QUANT_H
#define NN2C_QUANT_H

#include "op.h"

/* A positive finite scale s as mult 2^-shift with mult in [2^30, 2^31) (exact
 * for an f32 s) and shift in [0, 62]; scales below 2^-32 get shift 62 and a
 * smaller multiplier. False for s >= 2^31 or not positive. */
bool quant_multiplier(double s, int32_t *mult, int32_t *shift);

#endif
