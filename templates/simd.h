/* The kernel layer's vectors, chosen when this file is compiled from the compiler's
 * predefined ISA macros, so a kernel's width never depends on the compiler's tuning
 * (gcc and clang prefer 256-bit vectors for Intel server cores even where 512 exist):
 *   AVX-512F 16 floats, 32 registers   AVX/AVX2 8 floats, 16 registers
 *   SSE2      4 floats, 16 registers   AArch64/ARM NEON 4 floats, 32 registers
 * -DNN2C_NO_SIMD, or a compiler without GNU vector extensions, selects the portable
 * C99 path: nn2c_vf is a float and every kernel is a plain loop.
 * NN2C_ROWS16 / NN2C_ROWS32: rows of a register block whose accumulators span 16 / 32
 * columns, so that the block fits the register file (measured on each width). */
#if !defined(NN2C_NO_SIMD) && (defined(__GNUC__) || defined(__clang__))
#if defined(__AVX512F__)
#define NN2C_VW 16
#define NN2C_ISA "avx512"
#define NN2C_ROWS16 8
#define NN2C_ROWS32 8
#elif defined(__AVX__)
#define NN2C_VW 8
#define NN2C_ISA "avx2"
#define NN2C_ROWS16 4
#define NN2C_ROWS32 3
#elif defined(__SSE2__) || defined(_M_X64)
#define NN2C_VW 4
#define NN2C_ISA "sse2"
#define NN2C_ROWS16 2
#define NN2C_ROWS32 2
#elif defined(__ARM_NEON) || defined(__aarch64__)
#define NN2C_VW 4
#define NN2C_ISA "neon"
#define NN2C_ROWS16 6
#define NN2C_ROWS32 4
#endif
#endif

#ifdef NN2C_VW
typedef float nn2c_vf __attribute__((vector_size(NN2C_VW * 4)));
typedef int32_t nn2c_vi __attribute__((vector_size(NN2C_VW * 4)));
/* memcpy: any alignment; compilers make it one unaligned vector load or store */
static NN2C_MAYBE_UNUSED inline nn2c_vf nn2c_vload(const float *p) {
  nn2c_vf v;
  memcpy(&v, p, sizeof v);
  return v;
}
static NN2C_MAYBE_UNUSED inline void nn2c_vstore(float *p, nn2c_vf v) { memcpy(p, &v, sizeof v); }
static NN2C_MAYBE_UNUSED inline nn2c_vf nn2c_vset1(float x) {
  nn2c_vf v = {0};
  return v + x;
}
static NN2C_MAYBE_UNUSED inline nn2c_vf nn2c_vrelu(nn2c_vf v) {
  nn2c_vf z = {0};
  return (nn2c_vf)((nn2c_vi)v & (v > z));
}
#else
#define NN2C_VW 1
#define NN2C_ISA "portable"
#define NN2C_ROWS16 4
#define NN2C_ROWS32 4
typedef float nn2c_vf;
static NN2C_MAYBE_UNUSED inline nn2c_vf nn2c_vload(const float *p) { return *p; }
static NN2C_MAYBE_UNUSED inline void nn2c_vstore(float *p, nn2c_vf v) { *p = v; }
static NN2C_MAYBE_UNUSED inline nn2c_vf nn2c_vset1(float x) { return x; }
static NN2C_MAYBE_UNUSED inline nn2c_vf nn2c_vrelu(nn2c_vf v) { return v > 0.0f ? v : 0.0f; }
#endif
