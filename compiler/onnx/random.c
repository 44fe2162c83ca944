/* random.c - ONNX's random ops with a seed, drawn once at import.
 *
 * The generator is numpy's legacy one, what np.random.RandomState(seed) gives
 * (ONNX's reference implementation reseeds it on every call): MT19937 set up
 * by init_genrand(seed); a uniform double in [0, 1) from 53 bits of two
 * words; normals by the polar method, each accepted pair giving two
 * (RandomState.randn). The values become constants, so the compiled model
 * uses the same ones on every call, as the reference does:
 *   RandomUniform(Like)  low + (high - low) * u, element i from the i-th draw
 *   RandomNormal(Like)   mean + scale * z
 *   Bernoulli            1 where u < x (probability x), cast to dtype
 *   Dropout (training)   keep where u >= ratio (import.c's h_dropout)
 * Without a seed every call draws anew: reported unsupported, naming the
 * node. The seed must be an integer in [0, 2^32). */
#include "onnx_impl.h"

#include <math.h>
#include <string.h>

void imp_rng_seed(ImpRng *r, uint32_t seed) {
  r->mt[0] = seed;
  for (int i = 1; i < 624; i++)
    r->mt[i] = 1812433253u * (r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) + (uint32_t)i;
  r->pos = 624, r->has_gauss = false;
}

static uint32_t rng_word(ImpRng *r) {
  if (r->pos == 624) { /* regenerate the whole state */
    for (int k = 0; k < 624; k++) {
      uint32_t y = (r->mt[k] & 0x80000000u) | (r->mt[(k + 1) % 624] & 0x7fffffffu);
      r->mt[k] = r->mt[(k + 397) % 624] ^ (y >> 1) ^ (y & 1 ? 0x9908b0dfu : 0);
    }
    r->pos = 0;
  }
  uint32_t y = r->mt[r->pos++];
  y ^= y >> 11, y ^= (y << 7) & 0x9d2c5680u, y ^= (y << 15) & 0xefc60000u, y ^= y >> 18;
  return y;
}

double imp_rng_uniform(ImpRng *r) {
  uint32_t a = rng_word(r) >> 5, b = rng_word(r) >> 6;
  return (a * 67108864.0 + b) / 9007199254740992.0;
}

static double rng_normal(ImpRng *r) {
  if (r->has_gauss) return r->has_gauss = false, r->gauss;
  double x1, x2, r2;
  do {
    x1 = 2 * imp_rng_uniform(r) - 1, x2 = 2 * imp_rng_uniform(r) - 1;
    r2 = x1 * x1 + x2 * x2;
  } while (r2 >= 1 || r2 == 0);
  double f = sqrt(-2 * log(r2) / r2);
  r->gauss = f * x1, r->has_gauss = true;
  return f * x2;
}

static double attr_float(NodeP *np, const char *name, double dflt) {
  const Onnx__AttributeProto *a = imp_attr(np, name);
  return !a ? dflt : a->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT ? (double)a->i : a->f;
}

bool imp_rng_from_seed(Imp *I, NodeP *np, ImpRng *r) {
  if (!imp_attr(np, "seed"))
    return imp_unsupported(I, np->op_type, "%s without a seed attribute (new values on every call) is not supported",
                           np->op_type);
  double s = attr_float(np, "seed", 0);
  if (!(s >= 0 && s < 4294967296.0 && s == floor(s)))
    return imp_unsupported(I, np->op_type, "%s: the seed must be an integer in [0, 2^32)", np->op_type);
  imp_rng_seed(r, (uint32_t)s);
  return true;
}

/* RandomUniform, RandomNormal and their Like forms; Bernoulli. */
bool h_random(Imp *I, NodeP *np, Value **in, int nin, Value **out) {
  const char *op = np->op_type;
  bool bern = !strcmp(op, "Bernoulli"), like = bern || strstr(op, "Like"), normal = strstr(op, "Normal") != NULL;
  if (!imp_need_inputs(I, in, nin, like, like)) return false;
  Shape s = like ? in[0]->shape : shape_scalar();
  const Onnx__AttributeProto *sa = like ? NULL : imp_attr(np, "shape");
  if (!like && (!sa || sa->n_ints > MAX_RANK)) return imp_fail(I, "needs a shape of at most %d dimensions", MAX_RANK);
  if (!like && !imp_make_shape(I, "shape", sa->n_ints, sa->ints, &s)) return false;
  DType t = like ? in[0]->dtype : DT_F32; /* the output's */
  if (imp_attr(np, "dtype") && !dtype_from_onnx(imp_attr_i(np, "dtype", 1), &t)) return imp_fail(I, "bad dtype");
  DType u = bern ? in[0]->dtype : t; /* the drawn values' */
  if (u != DT_F32 && u != DT_F64) return imp_unsupported(I, op, "%s needs f32 or f64 values", op);
  int64_t n = shape_numel_static(s);
  if (shape_has_batch(s) || n > FOLD_BYTES / 8) return imp_unsupported(I, op, "%s on a large or batched tensor", op);
  ImpRng r;
  if (!imp_rng_from_seed(I, np, &r)) return false;
  Value *v = value_new(I->g, "random", VK_CONST, u, s);
  v->data = arena_alloc(&I->g->arena, (size_t)(n * 8 + 8));
  Tensor vt = {u, s, n, v->data};
  double lo = attr_float(np, normal ? "mean" : "low", 0), hi = attr_float(np, normal ? "scale" : "high", 1);
  for (int64_t i = 0; i < n; i++)
    tensor_set(&vt, i, normal ? lo + hi * rng_normal(&r) : lo + (hi - lo) * imp_rng_uniform(&r));
  Value *hit = bern ? imp_mk2(I, OP_LESS, v, in[0]) : NULL;
  out[0] = !bern ? v : hit ? imp_cast_to(I, hit, t) : NULL;
  return out[0] != NULL;
}
