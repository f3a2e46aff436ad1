// AVX2 stochastic rounding of exact binary64 values to binary32 at t bits, on the bit pattern:
// with drop = 53 - t low bits below the t-bit grid, the magnitude rounds up iff
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
  bool shift_left;  // drop <= 32: the draw shifts right by 32 - drop, else left by drop - 32
  __m256i mask, one;
  __m128i shift;  // |32 - drop|

  explicit SrF32(int t) : drop(53 - t), shift_left(53 - t <= 32) {
    mask = _mm256_set1_epi64x(int64_t((uint64_t(1) << drop) - 1));
    one = _mm256_set1_epi64x(int64_t(uint64_t(1) << drop));
    shift = _mm_cvtsi32_si128(shift_left ? 32 - drop : drop - 32);
  }
};

// Four 32-bit draws made comparable with the dropped bits, so the decision needs no threshold:
// for drop <= 32 (k = 32 - drop), u < low * 2^k iff (u >> k) < low; for drop > 32
// (k = drop - 32), u < ceil(low / 2^k) iff u * 2^k < low (u is an integer). Both sides stay
// below 2^52, so the signed 64-bit compare is exact.
template <bool kShiftLeft>
inline __m256i sr_draws(const SrF32& p, __m128i u) {
  if constexpr (kShiftLeft) {
    return _mm256_cvtepu32_epi64(_mm_srl_epi32(u, p.shift));
  } else {
    return _mm256_sll_epi64(_mm256_cvtepu32_epi64(u), p.shift);
  }
}

// The rounding itself, on four binary64 patterns with their prepared draws. The sign bit lies
// above the dropped bits: one grid step added to the truncated pattern moves the magnitude away
// from zero, whatever the sign. Only for inf and NaN patterns (the exponent field all ones) can
// the carry leave the exponent field; callers keep those lanes out.
inline __m128 sr_round4(const SrF32& p, __m256d s, __m256i v) {
  const __m256i bits = _mm256_castpd_si256(s);
  const __m256i up = _mm256_cmpgt_epi64(_mm256_and_si256(bits, p.mask), v);
  const __m256i res =
      _mm256_add_epi64(_mm256_andnot_si256(p.mask, bits), _mm256_and_si256(up, p.one));
  return _mm256_cvtpd_ps(_mm256_castsi256_pd(res));
}

// Rounds s (four exact values) with the 32-bit draws u. `bad` gets a 4-bit mask of the lanes
// outside the valid range; their results are unspecified.
// Lanes outside the range of the bit-pattern rounding (zero, or a binary64 exponent in binary32's
// normal range), as a 4-bit mask.
inline int sr_bad4(__m256d s) {
  const __m256i biased = _mm256_srli_epi64(
      _mm256_and_si256(_mm256_castpd_si256(s), _mm256_set1_epi64x(0x7FFFFFFFFFFFFFFFll)), 52);
  const __m256i in_range =
      _mm256_or_si256(_mm256_and_si256(_mm256_cmpgt_epi64(biased, _mm256_set1_epi64x(1023 - 127)),
                                       _mm256_cmpgt_epi64(_mm256_set1_epi64x(1023 + 128), biased)),
                      _mm256_castpd_si256(_mm256_cmp_pd(s, _mm256_setzero_pd(), _CMP_EQ_OQ)));
  return ~_mm256_movemask_pd(_mm256_castsi256_pd(in_range)) & 0xF;
}

// TwoSum's error term of s = x + y (binary64).
inline __m256d two_sum_err(__m256d x, __m256d y, __m256d s) {
  const __m256d bb = _mm256_sub_pd(s, x);
  return _mm256_add_pd(_mm256_sub_pd(x, _mm256_sub_pd(s, bb)), _mm256_sub_pd(y, bb));
}

template <bool kShiftLeft>
inline __m128 sr_f32x4(const SrF32& p, __m256d s, __m128i u, int& bad) {
  bad = sr_bad4(s);
  return sr_round4(p, s, sr_draws<kShiftLeft>(p, u));
}

// The r-bit rule (`sr_bits = r`, rounding.hpp's fraction_r) on binary64 patterns, for
// sh = drop - r >= 1 bits below the r-bit field: f = (low >> sh) rounded to nearest, ties to even,
// where a tie is broken by the sign of the pair's error term e (TwoSum: |e| <= ulp(s) / 2, so e
// decides only an exact half-way pattern); then up iff the r-bit draw u < f. Exact for any pair
// (s, e) whose hi s lies in binary32's range as for sr_f32x4: no fallback for inexact sums.
struct SrF32R {
  int drop, sh;
  __m256i mask, one, rem_mask, half;
  __m128i shift;

  SrF32R(int t, int r) : drop(53 - t), sh(53 - t - r) {
    mask = _mm256_set1_epi64x(int64_t((uint64_t(1) << drop) - 1));
    one = _mm256_set1_epi64x(int64_t(uint64_t(1) << drop));
    rem_mask = _mm256_set1_epi64x(int64_t((uint64_t(1) << sh) - 1));
    half = _mm256_set1_epi64x(int64_t(uint64_t(1) << (sh - 1)));
    shift = _mm_cvtsi32_si128(sh);
  }
  // The SIMD rule needs at least one bit below the r-bit field.
  static bool applies(int t, int r) { return r < 32 && 53 - t - r >= 1; }
};

inline __m128 sr_round4_r(const SrF32R& p, __m256d s, __m256d e, __m128i u32) {
  const __m256i bits = _mm256_castpd_si256(s), ebits = _mm256_castpd_si256(e);
  const __m256i low = _mm256_and_si256(bits, p.mask);
  const __m256i q = _mm256_srl_epi64(low, p.shift);
  const __m256i rem = _mm256_and_si256(low, p.rem_mask);
  const __m256i gt = _mm256_cmpgt_epi64(rem, p.half), eq = _mm256_cmpeq_epi64(rem, p.half);
  const __m256i e_zero = _mm256_cmpeq_epi64(
      _mm256_and_si256(ebits, _mm256_set1_epi64x(0x7FFFFFFFFFFFFFFFll)), _mm256_setzero_si256());
  // e has the sign of s (and is not zero): the exact value lies beyond the half-way pattern
  const __m256i same = _mm256_andnot_si256(
      e_zero, _mm256_cmpgt_epi64(_mm256_xor_si256(ebits, bits), _mm256_set1_epi64x(-1)));
  const __m256i q_odd =
      _mm256_cmpeq_epi64(_mm256_and_si256(q, _mm256_set1_epi64x(1)), _mm256_set1_epi64x(1));
  const __m256i tie_up =
      _mm256_and_si256(eq, _mm256_or_si256(same, _mm256_and_si256(e_zero, q_odd)));
  const __m256i f = _mm256_sub_epi64(q, _mm256_or_si256(gt, tie_up));  // + 1 where set
  const __m256i up = _mm256_cmpgt_epi64(f, _mm256_cvtepu32_epi64(u32));
  const __m256i res =
      _mm256_add_epi64(_mm256_andnot_si256(p.mask, bits), _mm256_and_si256(up, p.one));
  return _mm256_cvtpd_ps(_mm256_castsi256_pd(res));
}

// Lanes where x + y (binary64 of binary32 inputs) is not exact: TwoSum's error term is non-zero.
inline int inexact_sum_mask(__m256d x, __m256d y, __m256d s) {
  const __m256d e = two_sum_err(x, y, s);
  return ~_mm256_movemask_pd(_mm256_cmp_pd(e, _mm256_setzero_pd(), _CMP_EQ_OQ)) & 0xF;
}

// res with the lanes set in `bad` (4 bits) replaced by lane(b), b = 0..3: where the SIMD rounding
// hands a lane to the scalar policy (with the same draws).
template <class F>
inline __m128 fix_lanes(__m128 res, int bad, F&& lane) {
  if (bad == 0) return res;
  alignas(16) float out[4];
  _mm_store_ps(out, res);
  for (int b = 0; b < 4; ++b)
    if ((bad >> b) & 1) out[b] = lane(b);
  return _mm_load_ps(out);
}

}  // namespace numens::mca::simd

#endif
