// Rounding an exact value x = (hi + lo) * 2^sc to a virtual precision t of binary32 or binary64
// (MCA.md, "Definitions"). Everything is computed in binary64 with exact power-of-two scalings and
// floor, so the decision is exact: no noise is ever built by writing an exponent bit field, and no
// integer noise is added to a bit pattern.
//
// Decision rule (shared by every code path, scalar, SIMD and CUDA, so that they agree bitwise):
// with |x| = (fl + frac) * 2^k, frac in [0, 1), and u the draw's uniform integer of R bits
// (R = 32 for binary32, 64 for binary64), round up in magnitude iff u < ceil(frac * 2^R).
// The probability of rounding up is ceil(frac * 2^R) / 2^R: exact for frac on R bits, otherwise
// high by less than 2^-R of the gap.
#pragma once

#include <cmath>

#include "mca/exact.hpp"

namespace numens::mca {

template <class T>
struct Format;
template <>
struct Format<float> {
  static constexpr int p = 24;           // significand bits
  static constexpr int emin_sub = -149;  // exponent of the smallest subnormal
  static constexpr int rbits = 32;       // random bits per draw
};
template <>
struct Format<double> {
  static constexpr int p = 53;
  static constexpr int emin_sub = -1074;
  static constexpr int rbits = 64;
};

// Where |x| sits on the t-bit grid: |x| = (fl + frac) * 2^k with fl an integer, frac in [0, 1).
// a + b is frac exactly (a exact, b the pair's scaled low part): the r-bit rule needs it.
struct GridPos {
  double fl;
  double frac;
  int k;
  bool neg;
  double a, b;
};

namespace detail {

// floor(log2 |x|) for finite nonzero x, from the bit pattern (subnormals included).
NUMENS_HD NUMENS_INLINE int exponent_of(double x) {
  const uint64_t mag = bits_of(x) & 0x7FFFFFFFFFFFFFFFull;
  const int biased = int(mag >> 52);
  if (biased != 0) return biased - 1023;
#if defined(__CUDA_ARCH__)
  return 63 - __clzll((long long)mag) - 1074;
#else
  return 63 - __builtin_clzll(mag) - 1074;
#endif
}

// 2^n for -1074 <= n <= 1023, built from bits.
NUMENS_HD NUMENS_INLINE double pow2(int n) {
  return n >= -1022 ? double_from_bits(uint64_t(n + 1023) << 52)
                    : double_from_bits(uint64_t(1) << (n + 1074));
}

// x * 2^n, exact whenever the result is representable: two steps so that no intermediate
// overflows or underflows (faster than a libm ldexp call, and the same on host and device).
NUMENS_HD NUMENS_INLINE double scale2(double x, int n) {
  const int h = n / 2;
  return (x * pow2(h)) * pow2(n - h);
}

}  // namespace detail

// Requires x finite and nonzero (hi != 0).
template <class T>
NUMENS_HD inline GridPos grid_pos(Exact x, int t) {
  const bool neg = x.hi < 0.0;
  const double ah = neg ? -x.hi : x.hi;
  const double al = neg ? -x.lo : x.lo;
  int e = detail::exponent_of(ah) + x.sc;  // e(x) = floor(log2 |x|)
  // hi a power of two with x just below it: x belongs to the binade below.
  if (al < 0.0 && ah == detail::pow2(e - x.sc)) e -= 1;
  int k = e - t + 1;
  if (k < Format<T>::emin_sub) k = Format<T>::emin_sub;  // subnormal grid: fixed spacing
  const double y = detail::scale2(ah, x.sc - k);
  const double yl = detail::scale2(al, x.sc - k);
  double fl = ::floor(y);
  double a = y - fl;     // exact
  double frac = a + yl;  // |yl| < ulp(y) / 2
  if (frac < 0.0) {      // only when y is an integer: a = 0 becomes 1, exactly
    fl -= 1.0;
    frac += 1.0;
    a += 1.0;
  } else if (frac >= 1.0) {  // only when the remainder sits within 2^-53 of the upper neighbour
    fl += 1.0;
    frac = 0.0;
    a -= 1.0;  // exact: a is within 2^-52 of 1
  }
  return {fl, frac, k, neg, a, yl};
}

template <class T>
NUMENS_HD NUMENS_INLINE T grid_value(const GridPos& g, bool up) {
  // exact; beyond the format's range the conversion gives inf (k + 53 <= 1024 + 53 never
  // overflows binary64 before the final conversion for binary32, and gives inf for binary64)
  const double mag = detail::scale2(g.fl + (up ? 1.0 : 0.0), g.k);
  return T(g.neg ? -mag : mag);
}

// ceil(frac * 2^32) and ceil(frac * 2^64) as integers, for the decision rule above.
NUMENS_HD NUMENS_INLINE bool round_up(double frac, uint32_t u) {
  return double(u) < ::ceil(frac * 0x1p32);
}
NUMENS_HD NUMENS_INLINE bool round_up(double frac, uint64_t u) {
  const double thr = ::ceil(frac * 0x1p64);  // <= 2^64 - 2^11 since frac <= 1 - 2^-53
  return u < uint64_t(thr);
}

// Round to nearest (ties to even) of the pair into T. hi is already RN(x) in binary64; rounding it
// again to a coarser grid could round a tie the wrong way, so the pair is first folded into a
// round-to-odd binary64 value (the last bit records "something below"), which rounds correctly to
// any format at least two bits narrower.
template <class T>
NUMENS_HD inline T round_nearest(Exact x) {
  if (sizeof(T) == sizeof(double) && x.sc == 0) return T(x.hi);
  double h = x.hi;
  if (x.lo != 0.0) {
    uint64_t b = bits_of(h);
    if ((b & 1) == 0) b += ((x.lo > 0.0) == (x.hi > 0.0)) ? 1 : uint64_t(-1);
    h = double_from_bits(b);
  }
  return T(x.sc == 0 ? h : ::ldexp(h, x.sc));
}

// Uniform random draw of the width that matches T.
template <class T>
struct DrawWord;
template <>
struct DrawWord<float> {
  using type = uint32_t;
};
template <>
struct DrawWord<double> {
  using type = uint64_t;
};

// xi - 1/2 with xi uniform on [0, 1), exactly, from the draw's bits (53 of them for binary64).
NUMENS_HD NUMENS_INLINE double centered_uniform(uint32_t u) {
  return (double(u) - 0x1p31) * 0x1p-32;
}
NUMENS_HD NUMENS_INLINE double centered_uniform(uint64_t u) {
  return (double(u >> 11) - 0x1p52) * 0x1p-53;
}

namespace detail {

// Fast binary32 paths of the two SR rules on the binary64 bit pattern of x.hi, for the common case:
// x.sc == 0 and x.hi in binary32's normal range, and not (x on a t-bit grid point with a low part
// pointing below it: there the reference's grid moves to the next lower neighbour). Bit for bit
// the reference's result (grid_pos + round_up / fraction_r): the 32-bit rule computes the
// reference's frac = (y - fl) + yl from the same two binary64 operands with the same one rounding;
// the r-bit rule is exact on both sides. Return false where the reference must run.
NUMENS_HD NUMENS_INLINE bool sr_f32_pattern(const Exact& x, int t, int r, uint32_t u, float& out) {
  const uint64_t bits = bits_of(x.hi), sign = bits & 0x8000000000000000ull, mag = bits ^ sign;
  const int biased = int(mag >> 52);
  if (x.sc != 0 || biased < 1023 - 126 || biased > 1023 + 127) return false;
  const int drop = 53 - t;
  const uint64_t mask = (uint64_t(1) << drop) - 1, low = mag & mask;
  const double l = sign ? -x.lo : x.lo;  // the low part, oriented like the magnitude
  if (low == 0 && !(l > 0.0)) {
    if (l != 0.0) return false;
    out = float(x.hi);  // on the grid, exact
    return true;
  }
  bool up;
  if (r >= 32) {
    // frac = (y - fl) + yl: y - fl = low 2^-drop, yl = l 2^(t - 1 - e) (exact scalings).
    const double frac = double(low) * pow2(-drop) + l * pow2(t - 1 - (biased - 1023));
    up = frac >= 1.0 || double(u) < ::ceil(frac * 0x1p32);  // frac >= 1: the reference's fl + 1
  } else {
    const int sh = drop - r;
    if (sh < 1) return false;
    const uint64_t q = low >> sh, rem = low & ((uint64_t(1) << sh) - 1),
                   half = uint64_t(1) << (sh - 1);
    const bool inc = rem > half || (rem == half && (l > 0.0 || (l == 0.0 && (q & 1))));
    up = uint64_t(u) < q + (inc ? 1 : 0);
  }
  out = float(double_from_bits(((mag & ~mask) + (up ? mask + 1 : 0)) | sign));
  return true;
}

}  // namespace detail

// SR_t(x): the upper t-bit neighbour with probability frac, else the lower.
template <class T, class U>
NUMENS_HD inline T stochastic_round(Exact x, int t, U u) {
  if constexpr (sizeof(T) == sizeof(float) && sizeof(U) == sizeof(uint32_t)) {
    float r;
    if (detail::sr_f32_pattern(x, t, 32, u, r)) return r;
  }
  if (x.hi == 0.0 || !detail::finite(x.hi)) return T(x.hi);
  const GridPos g = grid_pos<T>(x, t);
  return grid_value<T>(g, g.frac != 0.0 && round_up(g.frac, u));
}

// The same without the fast path: the reference the fast path is tested against.
template <class T, class U>
NUMENS_HD inline T stochastic_round_reference(Exact x, int t, U u) {
  if (x.hi == 0.0 || !detail::finite(x.hi)) return T(x.hi);
  const GridPos g = grid_pos<T>(x, t);
  return grid_value<T>(g, g.frac != 0.0 && round_up(g.frac, u));
}

// The r-bit rule (`sr_bits = r < 32`, MCA.md v2): the dropped part is first rounded to nearest
// (ties to even) on r bits, f = RN(frac 2^r) in 0 .. 2^r, i.e. x is rounded to nearest at t + r
// bits; then the magnitude rounds up iff the r-bit draw u < f. So P(up) = f / 2^r and
// E[result] = RN_{t+r}(x), off x by at most 2^-(r+1) ulp either way, with no systematic sign (the
// plain "add r random bits, truncate" keeps floor(frac 2^r) and is biased by -2^-(r+1) ulp).
// f is computed exactly from the pair: frac 2^r = A + B with A = a 2^r, B = b 2^r exact scalings
// (GridPos), summed by TwoSum; frac 2^r < 2^32 keeps the error term below 2^-21, so the sign of
// (s - floor(s) - 1/2) + e is the sign of the exact distance to the half-way point.
NUMENS_HD inline double fraction_r(const GridPos& g, int r) {
  const double A = detail::scale2(g.a, r), B = detail::scale2(g.b, r);
  const Exact se = detail::two_sum(A, B);
  const double n = ::floor(se.hi);
  const double d = ((se.hi - n) - 0.5) + se.lo;
  const bool up = d > 0.0 || (d == 0.0 && ::fmod(n, 2.0) != 0.0);
  return n + (up ? 1.0 : 0.0);
}

// The biased rule MCA.md v2 warns about ("add r random bits, then truncate": f = floor(frac 2^r)).
// Not used by any mode: the bias test must show that it fails where fraction_r passes.
NUMENS_HD inline double truncated_fraction_r(const GridPos& g, int r) {
  return ::floor(detail::scale2(g.frac, r));
}

// SR_t with r-bit draws: see fraction_r.
template <class T>
NUMENS_HD inline T stochastic_round_r_reference(Exact x, int t, int r, uint32_t u) {
  if (x.hi == 0.0 || !detail::finite(x.hi)) return T(x.hi);
  const GridPos g = grid_pos<T>(x, t);
  return grid_value<T>(g, g.frac != 0.0 && double(u) < fraction_r(g, r));
}
template <class T>
NUMENS_HD inline T stochastic_round_r(Exact x, int t, int r, uint32_t u) {
  if constexpr (sizeof(T) == sizeof(float)) {
    float f;
    if (detail::sr_f32_pattern(x, t, r, u, f)) return f;
  }
  if (x.hi == 0.0 || !detail::finite(x.hi)) return T(x.hi);
  const GridPos g = grid_pos<T>(x, t);
  return grid_value<T>(g, g.frac != 0.0 && double(u) < fraction_r(g, r));
}

// Up or down with probability 1/2 when x is not on the t-bit grid (Verrou's "random").
template <class T, class U>
NUMENS_HD inline T equal_round(Exact x, int t, U u) {
  if (x.hi == 0.0 || !detail::finite(x.hi)) return T(x.hi);
  const GridPos g = grid_pos<T>(x, t);
  const U half = U(1) << (sizeof(U) * 8 - 1);
  return grid_value<T>(g, g.frac != 0.0 && u < half);
}

// sr_equal with r-bit draws: up iff the draw's top bit (bit r - 1) is 0.
template <class T>
NUMENS_HD inline T equal_round_r(Exact x, int t, int r, uint32_t u) {
  if (x.hi == 0.0 || !detail::finite(x.hi)) return T(x.hi);
  const GridPos g = grid_pos<T>(x, t);
  return grid_value<T>(g, g.frac != 0.0 && u < (uint32_t(1) << (r - 1)));
}

// RN(x + 2^k (xi - 1/2)), k the exponent of ulp_t(x): "inexact" of MCA. With skip_exact (rr mode)
// values on the t-bit grid are returned unperturbed.
template <class T, class U>
NUMENS_HD inline T inexact_round(Exact x, int t, U u, bool skip_exact) {
  if (x.hi == 0.0 || !detail::finite(x.hi)) return T(x.hi);
  const GridPos g = grid_pos<T>(x, t);
  if (skip_exact && g.frac == 0.0) return grid_value<T>(g, false);
  const double noise = detail::scale2(centered_uniform(u), g.k - x.sc);
  const Exact s = detail::two_sum(x.hi, noise);
  Exact r = detail::two_sum(s.hi, s.lo + x.lo);
  r.sc = x.sc;
  return round_nearest<T>(r);
}

// Input perturbation of pb and mca: a + ulp_t(a) (xi - 1/2), kept in binary64 for the operation.
// Zero and special values are not perturbed.
template <class T, class U>
NUMENS_HD inline double inexact_input(T a, int t, U u) {
  const double x = double(a);
  if (x == 0.0 || !detail::finite(x)) return x;
  int k = detail::exponent_of(x) - t + 1;
  if (k < Format<T>::emin_sub) k = Format<T>::emin_sub;
  return x + detail::scale2(centered_uniform(u), k);
}

}  // namespace numens::mca
