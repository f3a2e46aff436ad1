// Batched element-wise operations under a policy: out[i] = a[i] op b[i] for i in [0, n).
//
// Element i of a call draws its random numbers as element (first_element + i) of the policy's
// stream, so a result is a pure function of (policy, inputs, first_element): OpenMP threads split
// the range however they like and the output is bitwise the same. These are the building blocks
// that bench/mca_ops times and that element-wise kernels reuse.
//
// Sr on binary32 add/mul has a SIMD fast path (random words generated four elements per Philox
// block, stochastic rounding on the binary64 bit pattern); it applies the same decision rule as the
// scalar policy (rounding.hpp), and elements it cannot handle exactly (binary32 subnormal results,
// sums whose binary64 value is itself rounded) are recomputed by the scalar policy.
#pragma once

#include <cstddef>

#include "mca/policy.hpp"

namespace numens::mca {

enum class BinaryOp : uint8_t { add, sub, mul, div };
enum class UnaryOp : uint8_t { sqrt, exp, log };

template <class P, class T>
void binary_n(const P& pol, BinaryOp op, const T* a, const T* b, T* out, size_t n,
              uint64_t first_element = 0);

template <class P, class T>
void unary_n(const P& pol, UnaryOp op, const T* a, T* out, size_t n, uint64_t first_element = 0);

// out[i] = a[i] * b[i] + c[i], split (two perturbed operations) or fused (one).
template <class P, class T>
void fma_n(const P& pol, bool fused, const T* a, const T* b, const T* c, T* out, size_t n,
           uint64_t first_element = 0);

// The vector code the perturbed paths run: the best this build and this CPU have (checked at run
// time with cpuid), or a narrower one forced for tests and benchmarks (set_simd_level never goes
// above best_simd_level()). Every level gives the same bits. avx2: the generator and the AVX2
// kernels; avx512 adds the AVX-512 conv kernel (kernels/conv2d_sr512.hpp), compiled for it by
// function attribute whatever the build machine.
enum class SimdLevel : uint8_t { scalar, avx2, avx512 };
SimdLevel best_simd_level();
void set_simd_level(SimdLevel level);
SimdLevel simd_level();
const char* simd_level_name(SimdLevel level);

// Fills words[0, 4 * groups) with the 32-bit draws of elements 4*group0 ... for one draw index:
// words[i] == stream.u32(4 * group0 + i, draw). SIMD-friendly; used by the fast paths.
void philox_words32(const Stream& s, uint64_t group0, uint32_t draw, uint32_t* words,
                    size_t groups);

// Fills out[0, n) with the binary32 draws of elements e0 .. e0 + n - 1 for one draw index:
// out[i] == stream.ur(e0 + i, draw, r, 0), i.e. 32-bit words at r = 32 and r-bit slots below
// (stream.hpp's layout). Vectorised through philox_words32; what the SIMD kernels read.
void draws_r32(const Stream& s, int r, uint64_t e0, uint32_t draw, uint32_t* out, size_t n);

// Fills out[0, n) with one element's binary32 draws for draw indices d0 .. d0 + n - 1:
// out[i] == stream.ur(e, d0 + i, r, 0). One Philox block per draw (the other words and slots of
// the block belong to other elements): what a sequential reduction's cursor consumes, generated
// sixteen blocks per vector call.
void draw_run_r32(const Stream& s, int r, uint64_t e, uint32_t d0, uint32_t* out, size_t n);

}  // namespace numens::mca
