// Four binary32 lanes of Policy<Mode::sr> arithmetic (AVX2), for the SIMD paths of element-wise
// kernels: each lane is one output element computing the same sequence of perturbed operations as
// the kernel's scalar element functor, with the same draws, so a kernel can run four elements at
// once and still produce the functor's bits.
//
// The draws are the caller's: for the op with draw index k of elements e .. e + 3 it passes
// u[l] = stream.ur(e + l, k, r, 0) (mca::draws_r32 fills a run of them with the vector
// generator). Each operation computes its exact result in binary64 (a binary32 product always
// fits; a sum comes with TwoSum's error term) and rounds it with the bit-pattern rules of
// sr_simd.hpp. A lane those rules cannot take (a result outside binary32's normal range, NaN, inf,
// and under the exact contract (sr_bits = 32) a sum binary64 did not hold exactly) is recomputed by
// the scalar policy with the same draw, so every lane equals pol.op(a, b, pol.draws(e + l, k)).
//
// AVX2 with FMA (the remainder terms of div and sqrt are fused multiply-adds, as in exact_div);
// without them the kernels keep their functors. Applies (applies()) at t32 <= 24 and, for r-bit
// draws, where the r-bit rule has a bit below its field (t + r <= 52); fused multiply-adds only
// with r-bit draws (binary64 seldom holds a * b + c exactly, so under the exact contract nearly
// every lane would fall back).
#pragma once

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

#include <cmath>
#include <cstdint>

#include "mca/policy.hpp"
#include "mca/sr_simd.hpp"

namespace numens::mca::simd {

class SrLanes {
  // Lane l is element e + l at draw index k: the cursors of adjacent outputs at one op.
  struct Adjacent {
    const Sr* pol;
    uint64_t e;
    uint32_t k;
    Draws operator()(int l) const { return pol->draws(e + uint64_t(l), k); }
  };

 public:
  explicit SrLanes(const Sr& pol)
      : pol_(pol),
        sp_(pol.t32),
        spr_(pol.t32, pol.sr_bits < 32 ? pol.sr_bits : 52 - pol.t32),
        r_(pol.sr_bits) {}

  static bool applies(const Sr& pol) {
    if (pol.t32 < 1 || pol.t32 > 24) return false;
    if (pol.sr_bits < 32) return SrF32R::applies(pol.t32, pol.sr_bits);
    return !pol.fused;
  }

  const Sr& policy() const {
    return pol_;
  }

  // a + b, a - b, a * b of elements e .. e + 3 with draw index k; u: their four draws.
  __m128 add(__m128 a, __m128 b, const uint32_t* u, uint64_t e, uint32_t k) const {
    return op<0>(a, b, load(u), Adjacent{&pol_, e, k});
  }
  __m128 sub(__m128 a, __m128 b, const uint32_t* u, uint64_t e, uint32_t k) const {
    return op<1>(a, b, load(u), Adjacent{&pol_, e, k});
  }
  __m128 mul(__m128 a, __m128 b, const uint32_t* u, uint64_t e, uint32_t k) const {
    return op<2>(a, b, load(u), Adjacent{&pol_, e, k});
  }

  // The general form, for lanes whose (element, draw index) pairs are not e + l and one k: a
  // functor whose earlier operations depend on the data (so the draw index differs per lane), or
  // the successive terms of one element's sequential reduction. Op: 0 add, 1 sub, 2 mul; u: the
  // lanes' draws; cursor(l): the policy's cursor for lane l, positioned at that draw.
  template <int Op, class Cursor>
  __m128 op(__m128 a, __m128 b, __m128i u, const Cursor& cursor) const {
    const __m256d x = _mm256_cvtps_pd(a), y = _mm256_cvtps_pd(b);
    __m256d s, err;
    if constexpr (Op == 0) {
      s = _mm256_add_pd(x, y);
      err = two_sum_err(x, y, s);
    } else if constexpr (Op == 1) {
      // x - y is x + (-y) bit for bit (signed zeros included); negation is exact.
      const __m256d ny = _mm256_xor_pd(y, _mm256_set1_pd(-0.0));
      s = _mm256_add_pd(x, ny);
      err = two_sum_err(x, ny, s);
    } else {
      s = _mm256_mul_pd(x, y);  // exact
      err = _mm256_setzero_pd();
    }
    int bad;
    const __m128 res = round(s, err, u, bad);
    return fix_lanes(res, bad, [&](int l) {
      Draws d = cursor(l);
      const float al = lane(a, l), bl = lane(b, l);
      if constexpr (Op == 0) return pol_.add(al, bl, d);
      if constexpr (Op == 1) return pol_.sub(al, bl, d);
      return pol_.mul(al, bl, d);
    });
  }

  // a / b of elements e .. e + 3 with draw index k: the quotient and its remainder term as the
  // scalar exact_div forms them (binary64 q = a / b, lo = fma(-q, b, a) / b); lanes outside the
  // range where that pair is formed that way (tiny or non-finite operands and quotients) go to
  // the scalar policy, and under the exact contract so does every inexact quotient.
  template <class Cursor>
  __m128 div(__m128 a, __m128 b, __m128i u, const Cursor& cursor) const {
    const __m256d x = _mm256_cvtps_pd(a), y = _mm256_cvtps_pd(b);
    const __m256d q = _mm256_div_pd(x, y);
    const __m256d abs = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7FFFFFFFFFFFFFFFll));
    const __m256d tiny = _mm256_set1_pd(0x1p-968), big = _mm256_set1_pd(0x1p1023);
    const __m256d aq = _mm256_and_pd(q, abs), ax = _mm256_and_pd(x, abs);
    // |q| in [tiny, 2^1023] (finite) and |x| >= tiny; NaN compares false and is refused
    const __m256d ok = _mm256_and_pd(
        _mm256_and_pd(_mm256_cmp_pd(aq, tiny, _CMP_GE_OQ), _mm256_cmp_pd(aq, big, _CMP_LE_OQ)),
        _mm256_cmp_pd(ax, tiny, _CMP_GE_OQ));
    const __m256d lo = _mm256_div_pd(_mm256_fnmadd_pd(q, y, x), y);
    int bad;
    const __m128 res = round(q, lo, u, bad);
    bad |= ~_mm256_movemask_pd(ok) & 0xF;
    return fix_lanes(res, bad, [&](int l) {
      Draws d = cursor(l);
      return pol_.div(lane(a, l), lane(b, l), d);
    });
  }
  __m128 div(__m128 a, __m128 b, const uint32_t* u, uint64_t e, uint32_t k) const {
    return div(a, b, load(u), Adjacent{&pol_, e, k});
  }

  // sqrt(a) with exact_sqrt's root and remainder term (s = sqrt(a), lo = fma(-s, s, a) / 2s);
  // zero, negative, non-finite and tiny operands go to the scalar policy.
  __m128 sqrt(__m128 a, const uint32_t* u, uint64_t e, uint32_t k) const {
    const __m256d x = _mm256_cvtps_pd(a);
    const __m256d s = _mm256_sqrt_pd(x);
    const __m256d ok = _mm256_and_pd(_mm256_cmp_pd(x, _mm256_set1_pd(0x1p-968), _CMP_GE_OQ),
                                     _mm256_cmp_pd(x, _mm256_set1_pd(0x1p1023), _CMP_LE_OQ));
    const __m256d lo = _mm256_div_pd(_mm256_fnmadd_pd(s, s, x), _mm256_add_pd(s, s));
    int bad;
    const __m128 res = round(s, lo, load(u), bad);
    bad |= ~_mm256_movemask_pd(ok) & 0xF;
    return fix_lanes(res, bad, [&](int l) {
      Draws d = pol_.draws(e + uint64_t(l), k);
      return pol_.sqrt(lane(a, l), d);
    });
  }

  // exp(a): binary64 exp of each lane (the scalar policy's libm call), rounded once.
  __m128 exp(__m128 a, const uint32_t* u, uint64_t e, uint32_t k) const {
    alignas(32) double v[4];
    _mm256_store_pd(v, _mm256_cvtps_pd(a));
    for (double& x : v) x = ::exp(x);
    int bad;
    const __m128 res = round(_mm256_load_pd(v), _mm256_setzero_pd(), load(u), bad);
    return fix_lanes(res, bad, [&](int l) {
      Draws d = pol_.draws(e + uint64_t(l), k);
      return pol_.exp(lane(a, l), d);
    });
  }

  // pol.fma(a, b, c): split, a multiply with draw k (draws u0) then an add with draw k + 1 (u1);
  // fused, one rounding of the exact a * b + c with draw k (u0; u1 unused).
  __m128 fma(__m128 a, __m128 b, __m128 c, const uint32_t* u0, const uint32_t* u1, uint64_t e,
             uint32_t k) const {
    if (!pol_.fused) return add(mul(a, b, u0, e, k), c, u1, e, k + 1);
    return fma_fused(a, b, c, load(u0), Adjacent{&pol_, e, k});
  }

  // One rounding of the exact a * b + c (fma = fused; applies() admits it with r-bit draws).
  template <class Cursor>
  __m128 fma_fused(__m128 a, __m128 b, __m128 c, __m128i u, const Cursor& cursor) const {
    const __m256d p = _mm256_mul_pd(_mm256_cvtps_pd(a), _mm256_cvtps_pd(b));  // exact
    const __m256d z = _mm256_cvtps_pd(c);
    const __m256d s = _mm256_add_pd(p, z);
    int bad;
    const __m128 res = round(s, two_sum_err(p, z, s), u, bad);
    return fix_lanes(res, bad, [&](int l) {
      Draws d = cursor(l);
      return pol_.fma_fused(lane(a, l), lane(b, l), lane(c, l), d);
    });
  }

 private:
  static __m128i load(const uint32_t* u) {
    return _mm_loadu_si128(reinterpret_cast<const __m128i*>(u));
  }
  static float lane(__m128 v, int l) {
    alignas(16) float f[4];
    _mm_store_ps(f, v);
    return f[l];
  }

  // SR of the exact values s + err; `bad` gets the lanes left to the scalar policy.
  __m128 round(__m256d s, __m256d err, __m128i uv, int& bad) const {
    bad = sr_bad4(s);
    if (r_ < 32) return sr_round4_r(spr_, s, err, uv);
    bad |= ~_mm256_movemask_pd(_mm256_cmp_pd(err, _mm256_setzero_pd(), _CMP_EQ_OQ)) & 0xF;
    return sp_.shift_left ? sr_round4(sp_, s, sr_draws<true>(sp_, uv))
                          : sr_round4(sp_, s, sr_draws<false>(sp_, uv));
  }

  const Sr& pol_;
  SrF32 sp_;
  SrF32R spr_;
  int r_;
};

}  // namespace numens::mca::simd

#endif
