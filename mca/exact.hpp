// Exact results of + - * / sqrt fma as an unevaluated pair: x = (hi + lo) * 2^sc.
//
// MCA and stochastic rounding need the exact result of an operation before rounding it to the
// virtual precision. Both binary32 and binary64 operands are handled in binary64 with error-free
// transformations (TwoSum, TwoProd through fma, residuals of / and sqrt); binary32 values are exact
// in binary64, so a binary32 product is exact outright. The pair is "hi = RN(x), lo = x - hi"
// except where a residual itself had to be rounded (division, sqrt, fused fma), where lo carries
// the sign and the size of the remainder to about 2^-53 of itself: enough for the rounding
// decision, and lo == 0 still means exactly "no remainder".
//
// Binary64 residuals are exact only while they stay normal, so results below 2^-968 are computed
// on frexp-normalised operands with the binary exponent kept aside in `sc`. Special values come out
// of the plain IEEE operation in hi with lo = 0 and are never perturbed.
//
// This file must be compiled without contraction of a*b+c into fma (-ffp-contract=off, nvcc
// -fmad=false): TwoSum and the residuals are only exact with separately rounded operations.
#pragma once

#include <cmath>

#include "mca/hd.hpp"

namespace numens::mca {

struct Exact {
  double hi;
  double lo;
  int sc;  // binary scale: the value is (hi + lo) * 2^sc
};

namespace detail {

// Below this, a binary64 residual (fma(a, b, -p), a - q b, a - s^2) may be subnormal and inexact.
inline constexpr double kTinyResidual = 0x1p-968;

NUMENS_HD NUMENS_INLINE bool finite(double x) {
  return (bits_of(x) & 0x7FF0000000000000ull) != 0x7FF0000000000000ull;
}

// Knuth's TwoSum: s = RN(a + b), e = a + b - s exactly (six operations, no branch).
NUMENS_HD inline Exact two_sum(double a, double b) {
  const double s = a + b;
  if (!finite(s)) {
    // A finite sum just past DBL_MAX is still finite at half scale; SR may round it down.
    if (!finite(a) || !finite(b)) return {s, 0.0, 0};
    const double ha = 0.5 * a, hb = 0.5 * b, hs = ha + hb, hbb = hs - ha;
    return {hs, (ha - (hs - hbb)) + (hb - hbb), 1};
  }
  const double bb = s - a;
  const double e = (a - (s - bb)) + (b - bb);
  return {s, e, 0};
}

}  // namespace detail

NUMENS_HD NUMENS_INLINE Exact exact_add(double a, double b) {
  return detail::two_sum(a, b);
}
NUMENS_HD NUMENS_INLINE Exact exact_sub(double a, double b) {
  return detail::two_sum(a, -b);
}

NUMENS_HD inline Exact exact_mul(double a, double b) {
  const double p = a * b;
  if (detail::finite(p) && ::fabs(p) >= detail::kTinyResidual) return {p, ::fma(a, b, -p), 0};
  if (a == 0.0 || b == 0.0 || !detail::finite(a) || !detail::finite(b)) return {p, 0.0, 0};
  // Tiny or overflowing product of finite operands: multiply the normalised significands.
  int ea, eb;
  const double ma = ::frexp(a, &ea), mb = ::frexp(b, &eb);
  const double q = ma * mb;
  return {q, ::fma(ma, mb, -q), ea + eb};
}

NUMENS_HD inline Exact exact_div(double a, double b) {
  const double q = a / b;
  if (detail::finite(q) && ::fabs(q) >= detail::kTinyResidual &&
      ::fabs(a) >= detail::kTinyResidual) {
    const double r = ::fma(-q, b, a);  // exact remainder of a correctly rounded quotient
    return {q, r / b, 0};
  }
  if (a == 0.0 || b == 0.0 || !detail::finite(a) || !detail::finite(b)) return {q, 0.0, 0};
  // Tiny or overflowing quotient of finite operands: divide the normalised significands.
  int ea, eb;
  const double ma = ::frexp(a, &ea), mb = ::frexp(b, &eb);
  const double qs = ma / mb;
  const double r = ::fma(-qs, mb, ma);
  return {qs, r / mb, ea - eb};
}

NUMENS_HD inline Exact exact_sqrt(double a) {
  const double s = ::sqrt(a);
  if (!detail::finite(s) || !(a > 0.0)) return {s, 0.0, 0};
  if (a >= detail::kTinyResidual) {
    const double r = ::fma(-s, s, a);  // exact for a correctly rounded square root
    return {s, r / (2.0 * s), 0};
  }
  int ea;
  double ma = ::frexp(a, &ea);
  if (ea & 1) {  // make the exponent even so that sqrt(2^ea) is a power of two
    ma *= 2.0;
    ea -= 1;
  }
  const double ss = ::sqrt(ma);
  const double r = ::fma(-ss, ss, ma);
  return {ss, r / (2.0 * ss), ea / 2};
}

// a * b + c with one rounding. Exact for binary32 operands (the product is exact in binary64);
// for binary64 the low part is the rounded sum of the two error terms, renormalised.
NUMENS_HD inline Exact exact_fma(double a, double b, double c) {
  const double p = a * b;
  if (!detail::finite(p) || !detail::finite(c)) return {::fma(a, b, c), 0.0, 0};
  const double pe = ::fma(a, b, -p);
  const Exact s = detail::two_sum(p, c);
  if (s.sc != 0) return s;  // sum past DBL_MAX: the product's error term is dropped
  const Exact r = detail::two_sum(s.hi, s.lo + pe);
  return {r.hi, r.lo, 0};
}

}  // namespace numens::mca
