// AVX2 stochastic rounding of four exact binary64 values to binary32 at t bits, on the bit
// pattern: with drop = 53 - t low bits below the t-bit grid, the magnitude rounds up iff
// u < ceil(low / 2^drop * 2^32), the decision rule of rounding.hpp (the scalar policy's). Shared
// by the batched operations (mca/batch.cpp) and the SIMD kernels that round their own exact
// products and sums (kernels/conv2d_fast.cpp); equal to Policy<Mode::sr> bit for bit on the
// lanes it accepts.
//
// Valid while the value is zero or its binary64 exponent lies in binary32's normal range (a carry
// into the exponent is the correct next grid value; beyond 2^128 the conversion to float gives
// inf, as SR does). Lanes outside are reported so the caller can hand them to the scalar policy.
#pragma once

#if defined(__AVX2__)
#include <immintrin.h>

#include <cstdint>

namespace numens::mca::simd {

struct SrF32 {
  int drop;         // 53 - t, 29 .. 52
  bool shift_left;  // drop <= 32: the threshold is low << (32 - drop)
  __m256i mask, one, bias;
  __m128i shift;

  explicit SrF32(int t) : drop(53 - t), shift_left(53 - t <= 32) {
    mask = _mm256_set1_epi64x(int64_t((uint64_t(1) << drop) - 1));
    one = _mm256_set1_epi64x(int64_t(uint64_t(1) << drop));
    bias = shift_left ? _mm256_setzero_si256()
                      : _mm256_set1_epi64x(int64_t((uint64_t(1) << (drop - 32)) - 1));
    shift = _mm_cvtsi32_si128(shift_left ? 32 - drop : drop - 32);
  }
};

// Rounds s (four exact values) with the 32-bit draws u. `bad` gets a 4-bit mask of the lanes
// outside the valid range; their results are unspecified.
template <bool kShiftLeft>
inline __m128 sr_f32x4(const SrF32& p, __m256d s, __m128i u, int& bad) {
  const __m256i bits = _mm256_castpd_si256(s);
  const __m256i sign = _mm256_and_si256(bits, _mm256_set1_epi64x(int64_t(0x8000000000000000ull)));
  const __m256i mag = _mm256_xor_si256(bits, sign);
  const __m256i biased = _mm256_srli_epi64(mag, 52);
  const __m256i in_range =
      _mm256_or_si256(_mm256_and_si256(_mm256_cmpgt_epi64(biased, _mm256_set1_epi64x(1023 - 127)),
                                       _mm256_cmpgt_epi64(_mm256_set1_epi64x(1023 + 128), biased)),
                      _mm256_cmpeq_epi64(mag, _mm256_setzero_si256()));
  const __m256i low = _mm256_and_si256(mag, p.mask);
  __m256i thr;
  if constexpr (kShiftLeft) {
    thr = _mm256_sll_epi64(low, p.shift);
  } else {
    thr = _mm256_srl_epi64(_mm256_add_epi64(low, p.bias), p.shift);
  }
  const __m256i uu = _mm256_cvtepu32_epi64(u);
  const __m256i up = _mm256_cmpgt_epi64(thr, uu);  // both < 2^33: the signed compare is exact
  const __m256i res = _mm256_or_si256(
      _mm256_add_epi64(_mm256_andnot_si256(p.mask, mag), _mm256_and_si256(up, p.one)), sign);
  bad = ~_mm256_movemask_pd(_mm256_castsi256_pd(in_range)) & 0xF;
  return _mm256_cvtpd_ps(_mm256_castsi256_pd(res));
}

// Lanes where x + y (binary64 of binary32 inputs) is not exact: TwoSum's error term is non-zero.
inline int inexact_sum_mask(__m256d x, __m256d y, __m256d s) {
  const __m256d bb = _mm256_sub_pd(s, x);
  const __m256d e = _mm256_add_pd(_mm256_sub_pd(x, _mm256_sub_pd(s, bb)), _mm256_sub_pd(y, bb));
  return ~_mm256_movemask_pd(_mm256_cmp_pd(e, _mm256_setzero_pd(), _CMP_EQ_OQ)) & 0xF;
}

}  // namespace numens::mca::simd

#endif
