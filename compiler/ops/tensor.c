/* tensor.c - reading and writing one element of a typed buffer as a double.
 * The interpreter's kernels (every op's eval hook) read and write through
 * these, and so do the builders (scalar constants) and the emitters
 * (constant values written as literals), so they sit with the op table rather
 * than in interp/. */
#include "op.h"

#include <math.h>
#include <string.h>

/* float16 and bfloat16 are storage formats: the interpreter reads them into
 * doubles and rounds back (float16 to nearest even; bfloat16 by dropping
 * the low half of the float, as ONNX's reference does). */
static double half_get(uint16_t h) {
  int e = (h >> 10) & 31, m = h & 1023;
  double v = e == 31 ? (m ? NAN : INFINITY) : e ? ldexp(1024 + m, e - 25) : ldexp(m, -24);
  return h >> 15 ? -v : v;
}

static uint16_t half_set(double v) {
  uint16_t s = signbit(v) ? 0x8000 : 0;
  double a = fabs(v);
  if (isnan(v)) return s | 0x7e00;
  if (a >= 65520) return s | 0x7c00; /* rounds past the largest, 65504 */
  int e = -14;                       /* a in [2^e, 2^(e+1)), or below 2^-14 (subnormal) */
  while (e < 15 && a >= ldexp(1, e + 1))
    e++;
  double q = ldexp(a, 10 - e), fl = floor(q); /* in units of the last place */
  int64_t m = (int64_t)fl + (q - fl > 0.5 || (q - fl == 0.5 && fmod(fl, 2) == 1));
  return (uint16_t)(s | (((e + 14) << 10) + m)); /* a carry out of m bumps the exponent */
}

static double bf16_get(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

static uint16_t bf16_set(double v) {
  float f = (float)v;
  uint32_t u;
  memcpy(&u, &f, 4);
  return (uint16_t)(u >> 16);
}

double tensor_get(const Tensor *t, int64_t i) {
  switch (t->dtype) {
  case DT_F32:
    return ((float *)t->data)[i];
  case DT_F64:
    return ((double *)t->data)[i];
  case DT_I8:
    return ((int8_t *)t->data)[i];
  case DT_I16:
    return ((int16_t *)t->data)[i];
  case DT_I32:
    return ((int32_t *)t->data)[i];
  case DT_I64:
    return (double)((int64_t *)t->data)[i];
  case DT_U8:
    return ((uint8_t *)t->data)[i];
  case DT_U16:
    return ((uint16_t *)t->data)[i];
  case DT_U32:
    return ((uint32_t *)t->data)[i];
  case DT_U64:
    return (double)((uint64_t *)t->data)[i];
  case DT_BOOL:
    return ((uint8_t *)t->data)[i] != 0;
  case DT_F16:
    return half_get(((uint16_t *)t->data)[i]);
  case DT_BF16:
    return bf16_get(((uint16_t *)t->data)[i]);
  default:
    NN2C_ASSERT(!"dtype not supported by the interpreter");
    return 0;
  }
}

/* Doubles to integers: truncation toward zero, then modulo 2^bits like C's
 * integer arithmetic (so int8 100 + 100 wraps); NaN gives 0 and values
 * beyond 64 bits saturate, where C's own conversion would be undefined. */
static uint64_t wrap64(double v) {
  if (!(v == v)) return 0;
  if (v >= 18446744073709551616.0) return UINT64_MAX;
  if (v >= 9223372036854775808.0) return (uint64_t)v;
  if (v < -9223372036854775808.0) return (uint64_t)INT64_MIN;
  return (uint64_t)(int64_t)v;
}

void tensor_set(Tensor *t, int64_t i, double v) {
  switch (t->dtype) {
  case DT_F32:
    ((float *)t->data)[i] = (float)v;
    break;
  case DT_F64:
    ((double *)t->data)[i] = v;
    break;
  case DT_I8:
    ((int8_t *)t->data)[i] = (int8_t)wrap64(v);
    break;
  case DT_I16:
    ((int16_t *)t->data)[i] = (int16_t)wrap64(v);
    break;
  case DT_I32:
    ((int32_t *)t->data)[i] = (int32_t)wrap64(v);
    break;
  case DT_I64:
    ((int64_t *)t->data)[i] = (int64_t)wrap64(v);
    break;
  case DT_U8:
    ((uint8_t *)t->data)[i] = (uint8_t)wrap64(v);
    break;
  case DT_U16:
    ((uint16_t *)t->data)[i] = (uint16_t)wrap64(v);
    break;
  case DT_U32:
    ((uint32_t *)t->data)[i] = (uint32_t)wrap64(v);
    break;
  case DT_U64:
    ((uint64_t *)t->data)[i] = wrap64(v);
    break;
  case DT_BOOL:
    ((uint8_t *)t->data)[i] = v != 0;
    break;
  case DT_F16:
    ((uint16_t *)t->data)[i] = half_set(v);
    break;
  case DT_BF16:
    ((uint16_t *)t->data)[i] = bf16_set(v);
    break;
  default:
    NN2C_ASSERT(!"dtype not supported by the interpreter");
  }
}
