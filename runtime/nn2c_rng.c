/* nn2c_rng.c - the runtime's random numbers: xoshiro256** seeded through
 * splitmix64, unbiased draws below n, uniform doubles and Fisher-Yates
 * shuffles. The same seed gives the same stream on every platform.
 *
 * Plain C99.
 */
#include "nn2c_rt.h"

/* splitmix64 spreads any seed (even 0 or 1) over the whole state, which is
 * what xoshiro's authors recommend for seeding. */
static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void nn2c_rng_seed(nn2c_rng *r, uint64_t seed) {
  int i;
  for (i = 0; i < 4; i++)
    r->s[i] = splitmix64(&seed);
}

uint64_t nn2c_rng_u64(nn2c_rng *r) {
  uint64_t *s = r->s;
  uint64_t out = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return out;
}

/* The high bits of xoshiro256** are its best ones. */
uint32_t nn2c_rng_u32(nn2c_rng *r) { return (uint32_t)(nn2c_rng_u64(r) >> 32); }

/* Rejection sampling: drop the top partial copy of [0,n) so every value is
 * equally likely (a plain modulo favours small values). */
uint32_t nn2c_rng_below(nn2c_rng *r, uint32_t n) {
  uint32_t limit = UINT32_MAX - UINT32_MAX % n; /* a multiple of n: [0,limit) maps evenly */
  uint32_t v;
  do {
    v = nn2c_rng_u32(r);
  } while (v >= limit);
  return v % n;
}

double nn2c_rng_uniform(nn2c_rng *r) {
  return (double)(nn2c_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0); /* 2^-53 */
}

void nn2c_shuffle(int32_t *idx, int n, nn2c_rng *r) {
  int i;
  for (i = n - 1; i > 0; i--) {
    int j = (int)nn2c_rng_below(r, (uint32_t)i + 1);
    int32_t t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
  }
}
