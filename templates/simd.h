/* The kernel layer's vectors, chosen when this file is compiled from the compiler's
 * predefined ISA macros, so a kernel's width never depends on the compiler's tuning
 * (gcc and clang prefer 256-bit vectors for Intel server cores even where 512 exist):
 *   AVX-512F 16 floats, 32 registers   AVX/AVX2 8 floats, 16 registers
 *   SSE2      4 floats, 16 registers   AArch64/ARM NEON 4 floats, 32 registers
 * -DNN2C_NO_SIMD, or a compiler without GNU vector extensions, selects the portable
 * C99 path: nn2c_vf is a float and every kernel is a plain loop.
 * A build for AVX2+FMA without AVX-512 (such as -march=x86-64-v3, the baseline for
 * binaries that ship to other x86-64 machines) on glibc dispatches at run time: the
 * vectors are 16 floats, each kernel (NN2C_KERNEL) is compiled twice by
 * target_clones, once for AVX-512F (one zmm register a vector) and once for the
 * build's own flags (two ymm registers a vector), and the dynamic loader picks the
 * one this CPU runs. -DNN2C_NO_DISPATCH keeps such a build on AVX2 alone.
 * NN2C_CBW(cb): the columns a register block of 8 rows keeps in accumulators when the
 * kernel asks for cb (at most NN2C_ACCV vectors per row). AVX2 and SSE2 keep the full
 * 32 columns: narrower blocks (8 rows x 1 vector) fit their 16 registers but trained
 * mnist_cnn 30% slower on an AMD EPYC (Zen 5) with -march=x86-64-v3, loop overhead
 * outweighing the spills. NEON narrows to 2 vectors per row: 16 accumulators of its 32. */
#if !defined(NN2C_NO_SIMD) && !defined(NN2C_NO_DISPATCH) && (defined(__GNUC__) || defined(__clang__)) && \
    defined(__x86_64__) && defined(__GLIBC__) && defined(__AVX2__) && defined(__FMA__) && !defined(__AVX512F__)
#define NN2C_DISPATCH 1
#endif
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13 && (defined(__AVX512F__) || defined(NN2C_DISPATCH)) && \
    defined(__OPTIMIZE__) && !defined(__OPTIMIZE_SIZE__)
/* gcc 12 at -O2 with AVX-512 places some small local arrays of leaf functions at red-zone
 * offsets 8 bytes off 16-byte alignment and stores to them with aligned instructions
 * (SIGSEGV; seen with float[4][3], float[1][20], float[6]). Its -O3 lays them out right.
 * "O3" resets the other optimize options, so the prelude's no-trapping-math is repeated. */
#pragma GCC optimize("O3", "no-trapping-math")
#endif
#if !defined(NN2C_NO_SIMD) && (defined(__GNUC__) || defined(__clang__))
#if defined(NN2C_DISPATCH)
#define NN2C_VW 16
#define NN2C_ISA (__builtin_cpu_supports("avx512f") ? "avx512 (dispatched)" : "avx2 (dispatched)")
#define NN2C_ACCV 2
/* clang 14 refuses target_clones together with noinline; clones are never inlined */
#define NN2C_KERNEL __attribute__((target_clones("avx512f", "default")))
#elif defined(__AVX512F__)
#define NN2C_VW 16
#define NN2C_ISA "avx512"
#define NN2C_ACCV 2
#elif defined(__AVX__)
#define NN2C_VW 8
#define NN2C_ISA "avx2"
#define NN2C_ACCV 4
#elif defined(__SSE2__) || defined(_M_X64)
#define NN2C_VW 4
#define NN2C_ISA "sse2"
#define NN2C_ACCV 8
#elif defined(__ARM_NEON) || defined(__aarch64__)
#define NN2C_VW 4
#define NN2C_ISA "neon"
#define NN2C_ACCV 2
#endif
#endif

#define NN2C_CBW(cb) ((cb) < NN2C_VW * NN2C_ACCV ? (cb) : NN2C_VW * NN2C_ACCV)

/* The L2 cache a core of the target has at least, for the kernels' cache blocking:
 * the x86-64 cores with AVX-512 have 512 KB (Ice Lake client) or more (1-2 MB on
 * Skylake-SP and later servers, Zen 4 and 5); other targets are taken to have 256 KB
 * (Haswell-Skylake clients; most ARM cores have more). -DNN2C_L2_BYTES=N overrides. */
#ifndef NN2C_L2_BYTES
#if defined(__AVX512F__)
#define NN2C_L2_BYTES 524288
#else
#define NN2C_L2_BYTES 262144
#endif
#endif

#ifndef NN2C_KERNEL
#define NN2C_KERNEL NN2C_NOINLINE /* a kernel: one static function, never inlined */
#endif

#ifdef NN2C_VW
/* Macros rather than functions: a function passing a 64-byte vector would have a
 * different ABI in each clone of a dispatching build. nn2c_vfu loads and stores at
 * any alignment (4 bytes) and may alias the floats it reads. */
typedef float nn2c_vf __attribute__((vector_size(NN2C_VW * 4)));
typedef int32_t nn2c_vi __attribute__((vector_size(NN2C_VW * 4)));
typedef float nn2c_vfu __attribute__((vector_size(NN2C_VW * 4), aligned(4), may_alias));
#define nn2c_vload(p) (*(const nn2c_vfu *)(const void *)(p))
#define nn2c_vstore(p, v) ((void)(*(nn2c_vfu *)(void *)(p) = (v)))
#define nn2c_vset1(x) ((nn2c_vf){0} + (x))
#define nn2c_vrelu(v) ((nn2c_vf)((nn2c_vi)(v) & ((v) > (nn2c_vf){0}))) /* v: no side effects */
#else
#define NN2C_VW 1
#define NN2C_ISA "portable"
#define NN2C_ACCV 32 /* plain loops of up to 32 columns, vectorized by the compiler */
typedef float nn2c_vf;
static NN2C_MAYBE_UNUSED inline nn2c_vf nn2c_vload(const float *p) { return *p; }
static NN2C_MAYBE_UNUSED inline void nn2c_vstore(float *p, nn2c_vf v) { *p = v; }
static NN2C_MAYBE_UNUSED inline nn2c_vf nn2c_vset1(float x) { return x; }
static NN2C_MAYBE_UNUSED inline nn2c_vf nn2c_vrelu(nn2c_vf v) { return v > 0.0f ? v : 0.0f; }
#endif
