/* quant.h - what the int8 ops (quant.c) offer the front end and the passes. */
#ifndef NN2C_QUANT_H
#define NN2C_QUANT_H

#include "conv_impl.h"

/* A positive finite scale s as mult 2^-shift with mult in [2^30, 2^31) (exact
 * for an f32 s) and shift in [0, 62]; scales below 2^-32 get shift 62 and a
 * smaller multiplier. False for s >= 2^31 or not positive. */
bool quant_multiplier(double s, int32_t *mult, int32_t *shift);

/* The emitted kernels' dot-product path (quant_simd.c): whether node n (matmul_integer
 * or conv_integer, sums of len terms) takes it, and its emitters. */
bool quant_fast_ok(const Node *n, int64_t len);
void matmul_integer_emit_fast(Emit *e, Node *n);
void conv_integer_emit_fast(Emit *e, Node *n, const Geom *G);
/* Whether a fused requantization of sums of L terms (x - zx) w, |x - zx| <= 255, |w| <= 128, with this
 * multiplier and bias is exact in the emitted vector epilogue: the sum plus the bias (and the bias
 * minus zx's correction) fit int32, and (sum + bias) mult has at most 53 significant bits. */
bool quant_requant_exact(int64_t L, int32_t mult, int32_t bias);
/* Bytes of constants the emitted code of g holds (tables in the code, not params): the int8
 * kernels' packed weights and their sums, biases, scales; for the header's report. 0 for a
 * graph without an int8 kernel on the tile path. */
int64_t quant_code_bytes(Graph *g);
/* The emitted helpers every int8 kernel may use (once per file): nn2c_round_shift. */
void quant_emit_prelude(Emit *e);
/* dst = the requantization of int32 acc for channel c, n's inputs first.. (mult, shift [, bias]). */
void quant_emit_requant(Emit *e, Node *n, int first, const char *acc, const char *c, const char *dst);

#endif
