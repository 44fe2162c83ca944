/* test_half.c - the interpreter's float16 and bfloat16 conversions (tensor_get,
 * tensor_set) on edge cases with known bit patterns: round to nearest even at
 * ties, subnormals, overflow to infinity, NaN; bfloat16 truncates. The emitted
 * helpers are checked against these by e2e.e2e_onnx_int. */
#include <math.h>
#include <stdlib.h>

#include "ops/op.h"

static int failures;

static void check(DType t, double v, unsigned want) {
  uint16_t bits = 0;
  Tensor x = {t, shape_scalar(), 1, &bits};
  tensor_set(&x, 0, v);
  if (bits != want) fprintf(stderr, "%s(%.17g) = 0x%04x, want 0x%04x\n", dtype_name(t), v, bits, want), failures++;
  double back = tensor_get(&x, 0); /* decoding and re-encoding gives the same bits */
  tensor_set(&x, 0, back);
  if (bits != want) fprintf(stderr, "%s: 0x%04x does not round-trip\n", dtype_name(t), want), failures++;
}

int main(void) {
  check(DT_F16, 1.0, 0x3c00);
  check(DT_F16, -2.0, 0xc000);
  check(DT_F16, 1 + ldexp(1, -11), 0x3c00);     /* tie: to even (down) */
  check(DT_F16, 1 + 3 * ldexp(1, -11), 0x3c02); /* tie: to even (up) */
  check(DT_F16, 1 + ldexp(1, -11) + ldexp(1, -20), 0x3c01);
  check(DT_F16, 65504, 0x7bff);
  check(DT_F16, 65519.99, 0x7bff);
  check(DT_F16, 65520, 0x7c00); /* rounds past the largest */
  check(DT_F16, -INFINITY, 0xfc00);
  check(DT_F16, ldexp(1, -24), 0x0001);      /* smallest subnormal */
  check(DT_F16, ldexp(1, -25), 0x0000);      /* tie with 0: even */
  check(DT_F16, 3 * ldexp(1, -25), 0x0002);  /* tie between 1 and 2 units: even */
  check(DT_F16, ldexp(1023.5, -24), 0x0400); /* largest subnormal rounds up to the smallest normal */
  check(DT_F16, -0.0, 0x8000);
  check(DT_F16, NAN, 0x7e00);
  check(DT_BF16, 1.0, 0x3f80);
  check(DT_BF16, 1.00390625 + ldexp(1, -9), 0x3f80); /* truncated, not rounded */
  check(DT_BF16, -3.0e38, 0xff61);
  uint16_t h = 0x3555; /* 0.333251953125 */
  Tensor x = {DT_F16, shape_scalar(), 1, &h};
  if (tensor_get(&x, 0) != 0.333251953125)
    fprintf(stderr, "f16 0x3555 decodes to %.17g\n", tensor_get(&x, 0)), failures++;
  return failures != 0;
}
