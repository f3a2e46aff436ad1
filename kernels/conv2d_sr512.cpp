// The AVX-512 sr conv kernel (conv2d_sr512.hpp). Compiled for AVX-512 function by function (the
// target attribute), whatever the build machine, and entered only where the CPU has it, so one
// binary runs on AVX2-only machines too.
//
// The arguments that let the kernel skip per-lane range checks, for operands within the bounds
// prepare() and terms() check (every nonzero |x|, |w| in [2^-60, 2^60], |acc| <= 2^100, all
// finite; at most 64 terms per block):
// - a product w x is exact in binary64 and, unless zero, lies in [2^-120, 2^120]: within
//   binary32's normal range, where rounding on the binary64 pattern is the policy's rounding;
// - a running sum stays below 2^100 + 64 (2^120 + ulp) < 2^127, so no overflow;
// - split: the sum of two binary32 values (the rounded product and the accumulator) is a multiple
//   of 2^-149, so below 2^-126 it is a binary32 subnormal, which the pattern rounding leaves
//   unchanged as the policy does. Under the 32-bit rule the sum must also be exact: checked per
//   vector (s - a == b and s - b == a; when a + b is inexact, s minus the larger operand is exact
//   and differs from the smaller one), a block with one inexact sum is not taken.
// - fused: a product plus the accumulator may cancel below 2^-126 without being a binary32 value:
//   the smallest nonzero |sum| of the block is tracked and such a block is not taken.
// - the r-bit rule needs TwoSum's error term only for an exact half-way pattern (probability
//   2^-(53 - t - r) per rounding): such a vector is redone with the error term.
#include "kernels/conv2d_sr512.hpp"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "mca/batch.hpp"

// GCC 12 reports the undefined pass-through operand of its own AVX-512 intrinsics as "may be used
// uninitialized" once they are inlined into target-attributed functions (a false positive of the
// header, not of this code).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#if defined(__GNUC__) && defined(__x86_64__)
#define NUMENS_SR512 1
#define NUMENS_AVX512 __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl")))
#else
#define NUMENS_SR512 0
#endif

namespace numens::kernels::detail::sr512 {

namespace {

// Operand bounds of the proofs above.
constexpr float kMinMag = 0x1p-60f, kMaxMag = 0x1p60f, kMaxAcc = 0x1p100f;

bool in_bounds(float v) {
  const float a = std::fabs(v);
  return v == 0.0f || (a >= kMinMag && a <= kMaxMag);  // false for NaN and inf
}

// Draws per Philox block: 8 for 16-bit slots (9 <= r <= 16), 4 for 32-bit draws.
int slots(const mca::Sr& pol) {
  return pol.sr_bits <= 16 ? 8 : 4;
}

// Output element (offset from e0) of lane g of arithmetic vector v.
int lane_element(int S, int v, int g) {
  return S == 8 ? 8 * g + v : 32 * (v >> 2) + 4 * g + (v & 3);
}

}  // namespace

#if NUMENS_SR512

namespace {

enum class Kind { exact, r_split, r_fused };

// Eight Philox4x32 blocks, block g in 64-bit lane g of x0..x3 (only the low 32 bits of a lane
// are the word: the upper halves carry junk that vpmuludq ignores and the callers mask).
template <int R>
NUMENS_AVX512 inline void philox8(const __m512i* k0, const __m512i* k1, __m512i& x0, __m512i& x1,
                                  __m512i& x2, __m512i& x3) {
  const __m512i m0 = _mm512_set1_epi64(mca::Philox4x32::kM0);
  const __m512i m1 = _mm512_set1_epi64(mca::Philox4x32::kM1);
#pragma GCC unroll 10
  for (int r = 0; r < R; ++r) {
    const __m512i p0 = _mm512_mul_epu32(x0, m0), p1 = _mm512_mul_epu32(x2, m1);
    x0 = _mm512_ternarylogic_epi64(_mm512_srli_epi64(p1, 32), x1, k0[r], 0x96);  // a ^ b ^ c
    x2 = _mm512_ternarylogic_epi64(_mm512_srli_epi64(p0, 32), x3, k1[r], 0x96);
    x1 = p1;
    x3 = p0;
  }
}

// Four independent sets of eight blocks in one round loop: the multiply chains of one set are
// R multiplies deep, so interleaving four keeps the vector units busy.
template <int R>
NUMENS_AVX512 inline void philox8x4(const __m512i* k0, const __m512i* k1, __m512i (*x)[4]) {
  const __m512i m0 = _mm512_set1_epi64(mca::Philox4x32::kM0);
  const __m512i m1 = _mm512_set1_epi64(mca::Philox4x32::kM1);
#pragma GCC unroll 10
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
    for (int c = 0; c < 4; ++c) {
      const __m512i p0 = _mm512_mul_epu32(x[c][0], m0), p1 = _mm512_mul_epu32(x[c][2], m1);
      x[c][0] = _mm512_ternarylogic_epi64(_mm512_srli_epi64(p1, 32), x[c][1], k0[r], 0x96);
      x[c][2] = _mm512_ternarylogic_epi64(_mm512_srli_epi64(p0, 32), x[c][3], k1[r], 0x96);
      x[c][1] = p1;
      x[c][3] = p0;
    }
  }
}

// What one call needs besides the operands.
struct Setup {
  __m512i k0[10], k1[10];         // round keys
  __m512i c0[2], c1[2];           // counter words 0 and 1 of the blocks of lanes 0..31 and 32..63
  __m512i c3;                     // counter word 3 (step)
  __m512i mask, one;              // the dropped bits (drop = 53 - t) and one grid step
  __m512i half, rem_mask, rmask;  // r-bit rule: 2^(sh-1), 2^sh - 1, 2^r - 1 (sh = drop - r)
  int drop = 29, sh = 13;
};

// Counter words 0 and 1 of the 16 blocks from group0 on (lanes 0..7 and 8..15).
NUMENS_AVX512 void make_counters(const mca::Sr& pol, uint64_t group0, __m512i c0[2],
                                 __m512i c1[2]) {
  for (int h = 0; h < 2; ++h) {
    alignas(64) uint64_t w0[8], w1[8];
    for (int g = 0; g < 8; ++g) {
      const uint64_t group = group0 + uint64_t(8 * h + g);
      w0[g] = uint32_t(group);
      w1[g] = (uint32_t(group >> 32) & 0x7FFFu) | (pol.stream.site << 16);  // width bit 0
    }
    c0[h] = _mm512_load_si512(w0);
    c1[h] = _mm512_load_si512(w1);
  }
}

NUMENS_AVX512 void make_setup(const mca::Sr& pol, uint64_t group0, Setup& st) {
  mca::Philox4x32::Key k = pol.stream.key;
  for (int r = 0; r < 10; ++r) {
    st.k0[r] = _mm512_set1_epi64(int64_t(k.k0));
    st.k1[r] = _mm512_set1_epi64(int64_t(k.k1));
    k.k0 += mca::Philox4x32::kW0;
    k.k1 += mca::Philox4x32::kW1;
  }
  make_counters(pol, group0, st.c0, st.c1);
  st.c3 = _mm512_set1_epi64(int64_t(pol.stream.step));
  st.drop = 53 - pol.t32;
  st.mask = _mm512_set1_epi64(int64_t((uint64_t(1) << st.drop) - 1));
  st.one = _mm512_set1_epi64(int64_t(uint64_t(1) << st.drop));
  if (pol.sr_bits <= 16) {
    st.sh = st.drop - pol.sr_bits;
    st.half = _mm512_set1_epi64(int64_t(uint64_t(1) << (st.sh - 1)));
    st.rem_mask = _mm512_set1_epi64(int64_t((uint64_t(1) << st.sh) - 1));
    st.rmask = _mm512_set1_epi64(int64_t((uint64_t(1) << pol.sr_bits) - 1));
  }
}

// The generator's words for draw index `draw` of the blocks of lanes 32 h .. 32 h + 31 (S = 4)
// or of all 64 lanes (S = 8, h = 0), for the counters c0, c1 (default: the setup's).
template <int R>
NUMENS_AVX512 inline void gen(const Setup& st, const __m512i* c0, const __m512i* c1, int h,
                              uint32_t draw, __m512i w[4]) {
  w[0] = c0[h];
  w[1] = c1[h];
  w[2] = _mm512_set1_epi64(int64_t(draw));
  w[3] = st.c3;
  philox8<R>(st.k0, st.k1, w[0], w[1], w[2], w[3]);
}
template <int R>
NUMENS_AVX512 inline void gen(const Setup& st, int h, uint32_t draw, __m512i w[4]) {
  gen<R>(st, st.c0, st.c1, h, draw, w);
}

// Stochastic rounding on the binary64 pattern: s truncated to the t-bit grid, plus one grid step
// where `up` (the sign lies above the dropped bits, so this moves the magnitude away from zero).
NUMENS_AVX512 inline __m512d apply(const Setup& st, __m512d s, __mmask8 up) {
  const __m512i bits = _mm512_castpd_si512(s);
  const __m512i t = _mm512_andnot_si512(st.mask, bits);
  return _mm512_castsi512_pd(_mm512_mask_add_epi64(t, up, t, st.one));
}

// The 32-bit rule (mca/sr_simd.hpp): up iff the dropped bits exceed the prepared draw.
template <bool kShiftLeft>
NUMENS_AVX512 inline __m512i draw32(const Setup& st, __m512i w) {
  if constexpr (kShiftLeft) {  // u >> (32 - drop), u the low 32 bits
    return _mm512_srl_epi64(_mm512_slli_epi64(w, 32), _mm_cvtsi32_si128(64 - st.drop));
  } else {  // u << (drop - 32)
    return _mm512_sll_epi64(_mm512_and_si512(w, _mm512_set1_epi64(0xFFFFFFFFll)),
                            _mm_cvtsi32_si128(st.drop - 32));
  }
}
NUMENS_AVX512 inline __m512d round32(const Setup& st, __m512d s, __m512i v) {
  const __m512i low = _mm512_and_si512(_mm512_castpd_si512(s), st.mask);
  return apply(st, s, _mm512_cmpgt_epi64_mask(low, v));
}

// The r-bit rule: f = the r bits below the grid rounded to nearest at t + r bits, up iff f > u.
// The fast form rounds half-way patterns up; `tie` gets the lanes where that may be wrong.
NUMENS_AVX512 inline __m512d round_r(const Setup& st, __m512d s, __m512i u, __mmask8& tie) {
  const __m512i bits = _mm512_castpd_si512(s);
  const __m512i low = _mm512_and_si512(bits, st.mask);
  const __m512i lh = _mm512_add_epi64(low, st.half);
  const __m512i f = _mm512_srl_epi64(lh, _mm_cvtsi32_si128(st.sh));
  tie = _mm512_testn_epi64_mask(lh, st.rem_mask);  // rem + half = 2^sh iff rem = half
  return apply(st, s, _mm512_cmpgt_epu64_mask(f, u));
}
// The same with the exact tie rule (mca/sr_simd.hpp's sr_round4_r): a half-way pattern rounds up
// where the error term e of s has s's sign, and to even where e is zero.
NUMENS_AVX512 __m512d round_r_exact(const Setup& st, __m512d s, __m512d e, __m512i u) {
  const __m512i bits = _mm512_castpd_si512(s), ebits = _mm512_castpd_si512(e);
  const __m512i low = _mm512_and_si512(bits, st.mask);
  const __m128i shc = _mm_cvtsi32_si128(st.sh);
  const __m512i q = _mm512_srl_epi64(low, shc), rem = _mm512_and_si512(low, st.rem_mask);
  const __mmask8 gt = _mm512_cmpgt_epi64_mask(rem, st.half),
                 eq = _mm512_cmpeq_epi64_mask(rem, st.half);
  const __mmask8 e_zero = _mm512_testn_epi64_mask(ebits, _mm512_set1_epi64(0x7FFFFFFFFFFFFFFFll));
  const __mmask8 same =
      _mm512_cmpge_epi64_mask(_mm512_xor_si512(ebits, bits), _mm512_setzero_si512()) & ~e_zero;
  const __mmask8 q_odd = _mm512_test_epi64_mask(q, _mm512_set1_epi64(1));
  const __mmask8 inc = gt | (eq & (same | (e_zero & q_odd)));
  const __m512i f = _mm512_mask_add_epi64(q, inc, q, _mm512_set1_epi64(1));
  return apply(st, s, _mm512_cmpgt_epu64_mask(f, u));
}
NUMENS_AVX512 inline __m512d two_sum_err(__m512d a, __m512d b, __m512d s) {
  const __m512d bb = _mm512_sub_pd(s, a);
  return _mm512_add_pd(_mm512_sub_pd(a, _mm512_sub_pd(s, bb)), _mm512_sub_pd(b, bb));
}

// r-bit draw of vector v (S = 8): slot v of each lane's block = field v >> 2 of word v & 3.
NUMENS_AVX512 inline __m512i draw_r(const Setup& st, const __m512i* w, int v) {
  const __m512i x = v < 4 ? w[v] : _mm512_srli_epi64(w[v & 3], 16);
  return _mm512_and_si512(x, st.rmask);
}

// The new accumulator of a vector: res where the term is real; where it is padding the reference
// skips the term, which only a mask keeps exact in general (kMask). Without it, padding gives
// round(acc + (+-0)) = acc as long as acc is on the t-bit grid and not -0; terms() checks that
// of the initial values, and every rounded result is on the grid and is -0 only if acc was.
template <bool kMask>
NUMENS_AVX512 inline __m512d keep(__m512d acc, uint8_t valid, __m512d res) {
  if constexpr (kMask) {
    return _mm512_mask_mov_pd(acc, valid, res);
  } else {
    (void)acc;
    (void)valid;
    return res;
  }
}

template <Kind K, bool kShiftLeft, int R, bool kMask>
NUMENS_AVX512 bool run(const Setup& st, const Panel& p, const float* s, uint64_t q0,
                       float* acc_io) {
  constexpr int kV = 8;  // arithmetic vectors of 8 lanes
  const int S = K == Kind::exact ? 4 : 8;
  alignas(64) double a0[kLanes];
  for (int v = 0; v < kV; ++v)
    for (int g = 0; g < 8; ++g) a0[v * 8 + g] = double(acc_io[lane_element(S, v, g)]);
  __m512d acc[kV];
  for (int v = 0; v < kV; ++v) acc[v] = _mm512_load_pd(a0 + 8 * v);
  __mmask8 exact_all = 0xFF;                // exact contract: every sum exact
  __m512i min_sum = _mm512_set1_epi64(-1);  // fused: smallest nonzero |sum| - 1
  for (int q = 0; q < p.kc; ++q) {
    const uint32_t draw = uint32_t((q0 + uint64_t(q)) * mca::Sr::kFmaDraws);
    const __m512d wv = _mm512_set1_pd(double(s[q]));
    const double* xq = p.x + kLanes * q;
    if constexpr (K == Kind::exact) {
      __m512i wm[2][4], wa[2][4];
      for (int h = 0; h < 2; ++h) {
        gen<R>(st, h, draw, wm[h]);
        gen<R>(st, h, draw + 1, wa[h]);
      }
#pragma GCC unroll 8
      for (int v = 0; v < kV; ++v) {
        const __m512d pr = _mm512_mul_pd(wv, _mm512_load_pd(xq + 8 * v));  // exact
        const __m512d prod = round32(st, pr, draw32<kShiftLeft>(st, wm[v >> 2][v & 3]));
        const __m512d sum = _mm512_add_pd(prod, acc[v]);
        const __mmask8 ex = _mm512_mask_cmp_pd_mask(
            _mm512_cmp_pd_mask(_mm512_sub_pd(sum, prod), acc[v], _CMP_EQ_OQ),
            _mm512_sub_pd(sum, acc[v]), prod, _CMP_EQ_OQ);
        exact_all &= ex;
        const __m512d res = round32(st, sum, draw32<kShiftLeft>(st, wa[v >> 2][v & 3]));
        acc[v] = keep<kMask>(acc[v], p.valid[q][v], res);
      }
    } else if constexpr (K == Kind::r_split) {
      __m512i wm[4], wa[4];
      gen<R>(st, 0, draw, wm);
      gen<R>(st, 0, draw + 1, wa);
#pragma GCC unroll 8
      for (int v = 0; v < kV; ++v) {
        const __m512d pr = _mm512_mul_pd(wv, _mm512_load_pd(xq + 8 * v));  // exact
        const __m512i um = draw_r(st, wm, v), ua = draw_r(st, wa, v);
        __mmask8 tie;
        __m512d prod = round_r(st, pr, um, tie);
        if (tie) [[unlikely]]
          prod = round_r_exact(st, pr, _mm512_setzero_pd(), um);
        const __m512d sum = _mm512_add_pd(prod, acc[v]);
        __m512d res = round_r(st, sum, ua, tie);
        if (tie) [[unlikely]]
          res = round_r_exact(st, sum, two_sum_err(prod, acc[v], sum), ua);
        acc[v] = keep<kMask>(acc[v], p.valid[q][v], res);
      }
    } else {
      __m512i wf[4];
      gen<R>(st, 0, draw, wf);
#pragma GCC unroll 8
      for (int v = 0; v < kV; ++v) {
        const __m512d pr = _mm512_mul_pd(wv, _mm512_load_pd(xq + 8 * v));  // exact
        const __m512i u = draw_r(st, wf, v);
        const __m512d sum = _mm512_add_pd(pr, acc[v]);
        min_sum = _mm512_min_epu64(
            min_sum,
            _mm512_sub_epi64(_mm512_slli_epi64(_mm512_castpd_si512(sum), 1), _mm512_set1_epi64(1)));
        __mmask8 tie;
        __m512d res = round_r(st, sum, u, tie);
        if (tie) [[unlikely]]
          res = round_r_exact(st, sum, two_sum_err(pr, acc[v], sum), u);
        acc[v] = keep<kMask>(acc[v], p.valid[q][v], res);
      }
    }
  }
  if constexpr (K == Kind::exact) {
    if (exact_all != 0xFF) return false;
  }
  if constexpr (K == Kind::r_fused) {
    // |sum| >= 2^-126 (binary64 exponent field >= 1023 - 126) or sum = 0 in every lane
    const __m512i lo = _mm512_set1_epi64(int64_t((uint64_t(1023 - 126) << 53) - 1));
    if (_mm512_cmplt_epu64_mask(min_sum, lo)) return false;
  }
  for (int v = 0; v < kV; ++v) _mm512_store_pd(a0 + 8 * v, acc[v]);
  for (int v = 0; v < kV; ++v)
    for (int g = 0; g < 8; ++g) acc_io[lane_element(S, v, g)] = float(a0[v * 8 + g]);
  return true;
}

template <bool kMask>
NUMENS_AVX512 bool dispatch(const mca::Sr& pol, const Setup& st, const Panel& p, const float* s,
                            uint64_t q0, float* a) {
  const bool r7 = pol.stream.rounds == 7;
  if (pol.sr_bits == 32) {
    if (53 - pol.t32 <= 32)
      return r7 ? run<Kind::exact, true, 7, kMask>(st, p, s, q0, a)
                : run<Kind::exact, true, 10, kMask>(st, p, s, q0, a);
    return r7 ? run<Kind::exact, false, 7, kMask>(st, p, s, q0, a)
              : run<Kind::exact, false, 10, kMask>(st, p, s, q0, a);
  }
  if (pol.fused)
    return r7 ? run<Kind::r_fused, true, 7, kMask>(st, p, s, q0, a)
              : run<Kind::r_fused, true, 10, kMask>(st, p, s, q0, a);
  return r7 ? run<Kind::r_split, true, 7, kMask>(st, p, s, q0, a)
            : run<Kind::r_split, true, 10, kMask>(st, p, s, q0, a);
}

// ---- granularity tile:k: the k-term partial sums in binary32 round to nearest (as the
// reference's ConvTiles), four output rows at a time sharing each panel load, every partial sum
// added to its accumulator with one perturbed add. The lanes are in the generator's order here
// too (the panel is permuted once, the accumulators and partial sums on entry and exit), so a
// flush takes its draws straight from the generator's registers.
constexpr int kRows = 4;

// acc (the row's accumulators, generator order) = SR(acc + part), part = +0. Both are binary32
// values, so their sum below 2^-126 is exact and a binary32 subnormal, which the pattern rounding
// leaves as the policy does. Lanes redone by the scalar policy: under the 32-bit rule a sum
// binary64 may not hold (exponent fields more than 28 apart, neither operand zero: the test of
// mca/batch.cpp's lean pass), and any lane whose result is inf or NaN (overflow, or an inf or NaN
// operand). The r-bit rule takes inexact sums; its half-way patterns get the error term.
// w: the generator's words for this row and draw (w[1] only for 32-bit draws).
template <bool kR32, bool kShiftLeft>
NUMENS_AVX512 void tile_flush(const mca::Sr& pol, const Setup& st, const __m512i (*w)[4],
                              uint32_t draw, uint64_t e0, float* acc, __m512* part) {
  constexpr int S = kR32 ? 4 : 8;
  for (int i = 0; i < 4; ++i) {
    const __m512 af = _mm512_load_ps(acc + 16 * i), bf = part[i];
    __mmask16 bad = 0;
    if constexpr (kR32) {
      const __m512i exp = _mm512_set1_epi32(0x7F800000);
      const __m512i dist =
          _mm512_abs_epi32(_mm512_sub_epi32(_mm512_and_si512(_mm512_castps_si512(af), exp),
                                            _mm512_and_si512(_mm512_castps_si512(bf), exp)));
      const __mmask16 zero = _mm512_cmp_ps_mask(af, _mm512_setzero_ps(), _CMP_EQ_OQ) |
                             _mm512_cmp_ps_mask(bf, _mm512_setzero_ps(), _CMP_EQ_OQ);
      bad = _mm512_cmpgt_epi32_mask(dist, _mm512_set1_epi32(28 << 23)) & ~zero;
    }
    __m256 out[2];
    for (int hf = 0; hf < 2; ++hf) {
      const int v = 2 * i + hf;
      const __m512d a =
          _mm512_cvtps_pd(hf ? _mm512_extractf32x8_ps(af, 1) : _mm512_castps512_ps256(af));
      const __m512d b =
          _mm512_cvtps_pd(hf ? _mm512_extractf32x8_ps(bf, 1) : _mm512_castps512_ps256(bf));
      const __m512d sum = _mm512_add_pd(a, b);
      __m512d res;
      if constexpr (kR32) {
        res = round32(st, sum, draw32<kShiftLeft>(st, w[v >> 2][v & 3]));
      } else {
        const __m512i u = draw_r(st, w[0], v);
        __mmask8 tie;
        res = round_r(st, sum, u, tie);
        if (tie) [[unlikely]]
          res = round_r_exact(st, sum, two_sum_err(a, b, sum), u);
      }
      out[hf] = _mm512_cvtpd_ps(res);
    }
    __m512 r = _mm512_insertf32x8(_mm512_castps256_ps512(out[0]), out[1], 1);
    bad |= _mm512_fpclass_ps_mask(r, 0x01 | 0x08 | 0x10 | 0x80);  // NaN, +inf, -inf
    if (bad) [[unlikely]] {
      alignas(64) float av[16], pv[16], rv[16];
      _mm512_store_ps(av, af);
      _mm512_store_ps(pv, bf);
      _mm512_store_ps(rv, r);
      for (int b = 0; b < 16; ++b) {
        if (!((bad >> b) & 1)) continue;
        const int pos = 16 * i + b;
        mca::Draws d = pol.draws(e0 + uint64_t(lane_element(S, pos / 8, pos % 8)), draw);
        rv[b] = pol.add(av[b], pv[b], d);
      }
      r = _mm512_load_ps(rv);
    }
    _mm512_store_ps(acc + 16 * i, r);
    part[i] = _mm512_setzero_ps();
  }
}

// part[r] += w[r][q] * panel[q] for q in [qa, qb): a tight loop with the 16 partial-sum
// vectors in registers (no call inside, so nothing is spilled per term).
template <bool kFused>
NUMENS_AVX512 inline void tile_gemm(const Panel& p, const float* w, int qa, int qb,
                                    float (*partp)[kLanes]) {
  __m512 part[kRows][4];
  for (int r = 0; r < kRows; ++r)
    for (int i = 0; i < 4; ++i) part[r][i] = _mm512_load_ps(partp[r] + 16 * i);
  for (int q = qa; q < qb; ++q) {
    const float* xq = p.xf + kLanes * q;
    const __m512 x[4] = {_mm512_load_ps(xq), _mm512_load_ps(xq + 16), _mm512_load_ps(xq + 32),
                         _mm512_load_ps(xq + 48)};
#pragma GCC unroll 4
    for (int r = 0; r < kRows; ++r) {
      const __m512 wb = _mm512_set1_ps(w[r * kTerms + q]);
#pragma GCC unroll 4
      for (int i = 0; i < 4; ++i) {
        if constexpr (kFused) {
          part[r][i] = _mm512_fmadd_ps(wb, x[i], part[r][i]);
        } else {  // a rounded product, then a rounded add (no contraction: -ffp-contract=off)
          part[r][i] = _mm512_add_ps(part[r][i], _mm512_mul_ps(wb, x[i]));
        }
      }
    }
  }
  for (int r = 0; r < kRows; ++r)
    for (int i = 0; i < 4; ++i) _mm512_store_ps(partp[r] + 16 * i, part[r][i]);
}

// Rows [0, rows) of w (kRows x kc, row stride kTerms) against the panel; acc and part in
// generator order, e0[r] row r's first element. The terms run in segments that end where a
// tile ends, each followed by the flushes.
template <bool kFused, bool kR32, bool kShiftLeft, int R>
NUMENS_AVX512 void tile_run(const mca::Sr& pol, const Setup& st, const __m512i (*c0)[2],
                            const __m512i (*c1)[2], const Panel& p, const float* w, int rows,
                            uint64_t q0, uint64_t Q, const uint64_t* e0, float (*acc)[kLanes],
                            float (*partp)[kLanes]) {
  const uint64_t tile = uint64_t(pol.tile);
  uint64_t next = std::min<uint64_t>((q0 / tile + 1) * tile, Q);  // the end of q0's tile
  for (int q = 0; q < p.kc;) {
    const int qb = int(std::min<uint64_t>(uint64_t(p.kc), next - q0));
    tile_gemm<kFused>(p, w, q, qb, partp);
    q = qb;
    if (q0 + uint64_t(q) == next) {
      const uint32_t draw = uint32_t(((next - 1) / tile) * mca::Sr::kFmaDraws);
      // the words of four generator calls at once: two rows (32-bit draws: two calls a row) or
      // four (r-bit); rows past `rows` generate for row 0 and are not used
      constexpr int kRowsPerGen = kR32 ? 2 : 4;
      for (int r0 = 0; r0 < rows; r0 += kRowsPerGen) {
        __m512i words[4][4];
        for (int c = 0; c < 4; ++c) {
          const int r = r0 + (kR32 ? c / 2 : c), h = kR32 ? c % 2 : 0;
          const int rr = r < rows ? r : 0;
          words[c][0] = c0[rr][h];
          words[c][1] = c1[rr][h];
          words[c][2] = _mm512_set1_epi64(int64_t(draw));
          words[c][3] = st.c3;
        }
        philox8x4<R>(st.k0, st.k1, words);
        for (int k = 0; k < kRowsPerGen && r0 + k < rows; ++k) {
          const int r = r0 + k;
          __m512 part[4];
          for (int i = 0; i < 4; ++i) part[i] = _mm512_load_ps(partp[r] + 16 * i);
          tile_flush<kR32, kShiftLeft>(pol, st, words + (kR32 ? 2 * k : k), draw, e0[r], acc[r],
                                       part);
          for (int i = 0; i < 4; ++i) _mm512_store_ps(partp[r] + 16 * i, part[i]);
        }
      }
      next = std::min<uint64_t>(next + tile, Q);
    }
  }
}

// Generator order <-> lane order of 64 binary32 values, with vpermt2ps: position pos of the
// generator order holds lane lane_element(S, pos / 8, pos % 8).
struct Perm {
  alignas(64) int32_t to_gen[4][16];   // output vector i, element j: source lane
  alignas(64) int32_t to_lane[4][16];  // the inverse
  explicit Perm(int S) {
    for (int pos = 0; pos < kLanes; ++pos) {
      const int l = lane_element(S, pos / 8, pos % 8);
      to_gen[pos / 16][pos % 16] = l;
      to_lane[l / 16][l % 16] = pos;
    }
  }
};
const Perm& perm(int S) {
  static const Perm p4(4), p8(8);
  return S == 4 ? p4 : p8;
}

// dst[i][j] = src[idx[i][j]] for 64 values.
NUMENS_AVX512 void permute64(const int32_t (*idx)[16], const float* src, float* dst) {
  const __m512 s0 = _mm512_loadu_ps(src), s1 = _mm512_loadu_ps(src + 16),
               s2 = _mm512_loadu_ps(src + 32), s3 = _mm512_loadu_ps(src + 48);
  for (int i = 0; i < 4; ++i) {
    const __m512i ix = _mm512_load_si512(idx[i]);
    const __m512 lo = _mm512_permutex2var_ps(s0, ix, s1);  // index bits 0..4
    const __m512 hi = _mm512_permutex2var_ps(s2, ix, s3);
    const __mmask16 upper = _mm512_test_epi32_mask(ix, _mm512_set1_epi32(32));
    _mm512_storeu_ps(dst + 16 * i, _mm512_mask_blend_ps(upper, lo, hi));
  }
}

template <bool kFused>
NUMENS_AVX512 void tile_dispatch(const mca::Sr& pol, const Setup& st, const __m512i (*c0)[2],
                                 const __m512i (*c1)[2], const Panel& p, const float* w, int rows,
                                 uint64_t q0, uint64_t Q, const uint64_t* e0, float (*acc)[kLanes],
                                 float (*part)[kLanes]) {
  const bool r7 = pol.stream.rounds == 7;
  if (pol.sr_bits == 32) {
    if (53 - pol.t32 <= 32)
      return r7 ? tile_run<kFused, true, true, 7>(pol, st, c0, c1, p, w, rows, q0, Q, e0, acc, part)
                : tile_run<kFused, true, true, 10>(pol, st, c0, c1, p, w, rows, q0, Q, e0, acc,
                                                   part);
    return r7 ? tile_run<kFused, true, false, 7>(pol, st, c0, c1, p, w, rows, q0, Q, e0, acc, part)
              : tile_run<kFused, true, false, 10>(pol, st, c0, c1, p, w, rows, q0, Q, e0, acc,
                                                  part);
  }
  return r7 ? tile_run<kFused, false, true, 7>(pol, st, c0, c1, p, w, rows, q0, Q, e0, acc, part)
            : tile_run<kFused, false, true, 10>(pol, st, c0, c1, p, w, rows, q0, Q, e0, acc, part);
}

}  // namespace

bool available(const mca::Sr& pol) {
  if (mca::simd_level() != mca::SimdLevel::avx512) return false;
  if (pol.stream.rounds != 10 && pol.stream.rounds != 7) return false;
  if (pol.sr_bits == 32) return pol.tile > 1 || !pol.fused;
  // r-bit draws in 16-bit slots (mca/stream.hpp): 9 <= r <= 16
  return mca::slot_bits(pol.sr_bits) == 16 && 53 - pol.t32 - pol.sr_bits >= 1;
}

void prepare(const mca::Sr& pol, const float* panel, const uint64_t* valid, int kc, Panel& out) {
  const int S = slots(pol);
  out.kc = kc;
  if (pol.tile > 1) {  // binary32 panel in generator order; no bounds needed
    const Perm& pm = perm(S);
    for (int q = 0; q < kc; ++q) permute64(pm.to_gen, panel + kLanes * q, out.xf + kLanes * q);
    out.ok = true;
    return;
  }
  bool ok = true;
  for (int q = 0; q < kc; ++q) {
    const float* src = panel + kLanes * q;
    double* dst = out.x + kLanes * q;
    for (int v = 0; v < 8; ++v) {
      unsigned bits = 0;
      for (int g = 0; g < 8; ++g) {
        const int l = lane_element(S, v, g);
        const float x = src[l];
        ok = ok && in_bounds(x);
        dst[v * 8 + g] = double(x);
        bits |= unsigned((valid[q] >> l) & 1u) << g;
      }
      out.valid[q][v] = uint8_t(bits);
    }
  }
  out.ok = ok;
}

bool terms(const mca::Sr& pol, const Panel& p, const float* s, uint64_t q0, uint64_t e0, int cnt,
           float* acc) {
  if (!p.ok || pol.tile > 1) return false;
  const int S = slots(pol);
  if (e0 % uint64_t(S) != 0) return false;
  const uint64_t group0 = e0 / uint64_t(S);
  // the 16 groups must share the high counter word (bits 32 .. 46 of the group)
  if ((group0 >> 32) != ((group0 + 15) >> 32) || e0 + kLanes - 1 > mca::kMaxElement32) return false;
  for (int q = 0; q < p.kc; ++q)
    if (!in_bounds(s[q])) return false;
  alignas(64) float a[kLanes] = {};
  for (int l = 0; l < cnt; ++l) {
    if (!(std::fabs(acc[l]) <= kMaxAcc)) return false;
    a[l] = acc[l];
  }
  // padding terms need the mask unless every initial value is on the t-bit grid and not -0
  const uint64_t drop_mask = (uint64_t(1) << (53 - pol.t32)) - 1;
  bool mask = false;
  for (int l = 0; l < cnt; ++l) {
    const double d = double(a[l]);
    uint64_t b;
    std::memcpy(&b, &d, sizeof b);
    mask = mask || (b & drop_mask) != 0 || b == 0x8000000000000000ull;
  }
  Setup st;
  make_setup(pol, group0, st);
  const bool done =
      mask ? dispatch<true>(pol, st, p, s, q0, a) : dispatch<false>(pol, st, p, s, q0, a);
  if (done) std::memcpy(acc, a, sizeof(float) * size_t(cnt));
  return done;
}

namespace {
NUMENS_AVX512 bool tile_terms_avx512(const mca::Sr& pol, const Panel& p, int rows, const float* s,
                                     int64_t s_stride, uint64_t q0, uint64_t Q, uint64_t e0,
                                     uint64_t e_stride, int cnt, float* acc, int64_t acc_stride,
                                     float* part) {
  if (!p.ok || pol.tile <= 1 || rows < 1 || rows > kRows) return false;
  const int S = slots(pol);
  uint64_t e[kRows] = {};
  for (int r = 0; r < rows; ++r) {
    e[r] = e0 + uint64_t(r) * e_stride;
    const uint64_t group0 = e[r] / uint64_t(S);
    if (e[r] % uint64_t(S) != 0 || (group0 >> 32) != ((group0 + 15) >> 32) ||
        e[r] + kLanes - 1 > mca::kMaxElement32)
      return false;
  }
  // weights, zero rows past `rows`; a non-finite weight meeting padding would give NaN where the
  // reference skips the term: the AVX2 path masks those
  alignas(64) float w[kRows * kTerms] = {};
  __mmask16 nonfinite = 0;
  for (int r = 0; r < rows; ++r)
    for (int q = 0; q < p.kc; q += 16) {
      const __mmask16 m = __mmask16(p.kc - q >= 16 ? 0xFFFF : (1u << (p.kc - q)) - 1);
      const __m512 v = _mm512_maskz_loadu_ps(m, s + r * s_stride + q);
      nonfinite |= _mm512_fpclass_ps_mask(v, 0x01 | 0x08 | 0x10 | 0x80);  // NaN, +inf, -inf
      _mm512_mask_storeu_ps(w + r * kTerms + q, m, v);
    }
  if (nonfinite) return false;
  const Perm& pm = perm(S);
  alignas(64) float a[kRows][kLanes] = {}, pt[kRows][kLanes] = {}, lane[kLanes];
  for (int r = 0; r < rows; ++r) {
    std::memcpy(lane, acc + r * acc_stride, sizeof(float) * size_t(cnt));
    std::fill(lane + cnt, lane + kLanes, 0.0f);
    permute64(pm.to_gen, lane, a[r]);
    permute64(pm.to_gen, part + r * kLanes, pt[r]);
  }
  Setup st;
  make_setup(pol, e[0] / uint64_t(S), st);
  __m512i c0[kRows][2], c1[kRows][2];
  for (int r = 0; r < rows; ++r) make_counters(pol, e[r] / uint64_t(S), c0[r], c1[r]);
  if (pol.fused)
    tile_dispatch<true>(pol, st, c0, c1, p, w, rows, q0, Q, e, a, pt);
  else
    tile_dispatch<false>(pol, st, c0, c1, p, w, rows, q0, Q, e, a, pt);
  for (int r = 0; r < rows; ++r) {
    permute64(pm.to_lane, a[r], lane);
    std::memcpy(acc + r * acc_stride, lane, sizeof(float) * size_t(cnt));
    permute64(pm.to_lane, pt[r], part + r * kLanes);
  }
  return true;
}
}  // namespace

bool tile_terms(const mca::Sr& pol, const Panel& p, int rows, const float* s, int64_t s_stride,
                uint64_t q0, uint64_t Q, uint64_t e0, uint64_t e_stride, int cnt, float* acc,
                int64_t acc_stride, float* part) {
  return tile_terms_avx512(pol, p, rows, s, s_stride, q0, Q, e0, e_stride, cnt, acc, acc_stride,
                           part);
}

#else  // no AVX-512 code on this compiler or architecture

bool available(const mca::Sr&) {
  return false;
}
void prepare(const mca::Sr&, const float*, const uint64_t*, int, Panel&) {}
bool terms(const mca::Sr&, const Panel&, const float*, uint64_t, uint64_t, int, float*) {
  return false;
}
bool tile_terms(const mca::Sr&, const Panel&, int, const float*, int64_t, uint64_t, uint64_t,
                uint64_t, uint64_t, int, float*, int64_t, float*) {
  return false;
}

#endif

}  // namespace numens::kernels::detail::sr512
