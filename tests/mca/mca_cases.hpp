// The MCA.md statistical tests (sections 2-8), written once against a "backend" that runs batched
// element-wise operations, so the CPU test executable and the GPU test executable run the same
// cases. A backend provides
//   template <class P, class T> void binary(const P&, BinaryOp, const std::vector<T>& a,
//                                           const std::vector<T>& b, std::vector<T>& out);
//   template <class P, class T> void fma(const P&, bool fused, a, b, c, out);
// with element i of the vectors drawing as stream element i.
//
// Every test uses a fixed seed, so it is deterministic; its threshold comes from the distribution
// (binomial p-values with a Bonferroni-corrected alpha, 4-sigma bounds), not from observed values.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "mca/batch.hpp"
#include "mca/dispatch.hpp"

namespace numens::mca::testing {

// Two-sided exact binomial p-value: 2 min(P(X <= k), P(X >= k)), capped at 1.
inline double binomial_two_sided(long n, long k, double p) {
  if (p <= 0.0) return k == 0 ? 1.0 : 0.0;
  if (p >= 1.0) return k == n ? 1.0 : 0.0;
  auto log_pmf = [&](long i) {
    return std::lgamma(n + 1.0) - std::lgamma(i + 1.0) - std::lgamma(n - i + 1.0) +
           i * std::log(p) + (n - i) * std::log1p(-p);
  };
  double lo = 0.0, hi = 0.0;
  for (long i = 0; i <= k; ++i) lo += std::exp(log_pmf(i));
  for (long i = k; i <= n; ++i) hi += std::exp(log_pmf(i));
  return std::min(1.0, 2.0 * std::min(lo, hi));
}

template <class T>
std::string hexs(T x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%a", double(x));
  return buf;
}

// How many results are the upper neighbour, and how many are neither neighbour.
template <class T>
void count_outcomes(const std::vector<T>& out, T lower, T upper, long& ups, long& others) {
  ups = others = 0;
  for (T r : out) {
    if (r == upper) {
      ++ups;
    } else if (r != lower) {
      ++others;
    }
  }
}

template <Mode M>
Policy<M> policy(int t32, int t64, uint32_t seed = 2024, uint32_t member = 0) {
  ArithConfig c;
  c.mode = M;
  c.t32 = t32;
  c.t64 = t64;
  c.seed = seed;
  c.member = member;
  return make_policy<M>(c);
}

// A binary operation whose exact result sits at fraction f of the gap above the t-bit grid point
// L: x = L + f (U - L). Built as L + f gap when f gap is representable, else as (N + f) * gap.
template <class T>
struct GapCase {
  std::string name;
  T a, b;
  BinaryOp op;
  T lower, upper;  // the two t-bit neighbours (upper may be +-inf)
  double f;        // fraction of the gap; P(upper) = f under SR
};

template <class T>
std::vector<GapCase<T>> gap_cases(int t) {
  constexpr int p = Format<T>::p, emin_sub = Format<T>::emin_sub;
  constexpr int emin = emin_sub + p - 1;  // smallest normal exponent
  constexpr int emax = sizeof(T) == 4 ? 127 : 1023;
  const double fracs[] = {0.125, 0.25, 0.5, 0.75, 0.875};
  struct Place {
    const char* name;
    int e;           // binade of the lower neighbour
    double lower_m;  // lower neighbour as a multiple of 2^e, before snapping to the grid
    bool top;        // lower = largest finite t-bit value; upper overflows to infinity
  };
  const Place places[] = {
      {"mid-binade", 3, 1.5, false},        {"mid-binade-small", -60, 1.7, false},
      {"above-pow2", 7, 1.0, false},        {"below-pow2", 11, 2.0, false},
      {"subnormal", emin - 10, 1.5, false}, {"near-overflow", emax, 1.5, false},
      {"overflow-edge", emax, 2.0, true},
  };
  std::vector<GapCase<T>> out;
  for (const Place& pl : places) {
    for (double f : fracs) {
      for (int sgn : {1, -1}) {
        int e = pl.e;
        double gap = std::ldexp(1.0, std::max(e - t + 1, emin_sub));
        double lower;
        if (pl.top || pl.lower_m == 2.0) {
          // the largest t-bit value of binade e, just below 2^(e+1) (written so that 2^1024 is
          // never formed)
          lower = std::ldexp(2.0 - std::ldexp(gap, -e), e);
        } else {
          lower = std::floor(std::ldexp(pl.lower_m, e) / gap) * gap;
        }
        const double upper = lower + gap;  // may be 2^(emax+1): +inf in T
        GapCase<T> c;
        c.name = std::string(pl.name) + " f=" + std::to_string(f) + (sgn < 0 ? " neg" : " pos");
        c.f = f;
        c.lower = T(sgn * lower);
        c.upper = (upper >= std::ldexp(1.0, emax + 1)) ? T(sgn * std::numeric_limits<T>::infinity())
                                                       : T(sgn * upper);
        if (gap >= std::ldexp(1.0, emin_sub + 3)) {  // f gap is representable (f = j/8)
          c.a = T(sgn * lower);
          c.b = T(sgn * f * gap);
          c.op = BinaryOp::add;
        } else {
          const double n_units = lower / gap;  // small integer in the subnormal range
          c.a = T(sgn * (n_units + f));
          c.b = T(gap);
          c.op = BinaryOp::mul;
        }
        out.push_back(c);
      }
    }
  }
  return out;
}

inline int float_ts[] = {4, 8, 11, 16, 24};
inline int double_ts[] = {8, 24, 53};
constexpr long kDraws = 10000;
// alpha = 1e-6 over every binomial test this file runs (Bonferroni): 2 modes x (5 x 70 + 3 x 70).
constexpr double kAlphaFamily = 1e-6;
constexpr double kTestsInFamily = 2 * (5 * 70 + 3 * 70) + 8;

// Sections 2 and 3: exactly two outcomes (the t-bit neighbours) with P(upper) = f for sr and 1/2
// for sr_equal, and the mean within 4 sigma / sqrt(n) of x.
template <class T, Mode M, class Backend>
void check_two_outcomes(Backend& be, int t) {
  auto pol = policy<M>(sizeof(T) == 4 ? t : 24, sizeof(T) == 8 ? t : 53, 7 + t);
  for (const GapCase<T>& c : gap_cases<T>(t)) {
    CAPTURE(c.name);
    CAPTURE(t);
    std::vector<T> a(kDraws, c.a), b(kDraws, c.b), out(kDraws);
    be.binary(pol, c.op, a, b, out);
    long ups, others;
    count_outcomes(out, c.lower, c.upper, ups, others);
    REQUIRE_MESSAGE(others == 0, "outcome outside {" << hexs(c.lower) << ", " << hexs(c.upper)
                                                     << "} for a=" << hexs(c.a)
                                                     << " b=" << hexs(c.b));
    const double p = (M == Mode::sr_equal) ? 0.5 : c.f;
    const double pv = binomial_two_sided(kDraws, ups, p);
    CHECK_MESSAGE(pv > kAlphaFamily / kTestsInFamily, "P(upper) = " << double(ups) / kDraws
                                                                    << " expected " << p
                                                                    << " (p-value " << pv << ")");
    if (M == Mode::sr && std::isfinite(double(c.upper))) {
      // Unbiasedness, in units of the gap: mean of (r - lower)/gap is ups/n, expected f.
      const double sigma = std::sqrt(c.f * (1.0 - c.f));
      CHECK(std::fabs(double(ups) / kDraws - c.f) <= 4.0 * sigma / std::sqrt(double(kDraws)));
    }
  }
}

// Section 3 for rr: the mean of RN_p(x + ulp_t (xi - 1/2)) is x within 4 sigma / sqrt(n),
// sigma^2 = ulp^2 / 12 (t < p; at t = p rr is sr and the two-outcome test covers it).
template <class T, class Backend>
void check_rr_unbiased(Backend& be, int t) {
  auto pol = policy<Mode::rr>(sizeof(T) == 4 ? t : 24, sizeof(T) == 8 ? t : 53, 11 + t);
  for (const GapCase<T>& c : gap_cases<T>(t)) {
    if (!std::isfinite(double(c.upper)) || c.name.rfind("subnormal", 0) == 0) continue;
    CAPTURE(c.name);
    CAPTURE(t);
    std::vector<T> a(kDraws, c.a), b(kDraws, c.b), out(kDraws);
    be.binary(pol, c.op, a, b, out);
    const double gap = std::fabs(double(c.upper) - double(c.lower));
    const double x = double(c.lower) + (double(c.upper) - double(c.lower)) * c.f;
    double sum = 0.0;
    for (T r : out) sum += (double(r) - x) / gap;
    const double mean = sum / kDraws;
    CHECK(std::fabs(mean) <= 4.0 * std::sqrt(1.0 / 12.0) / std::sqrt(double(kDraws)));
  }
}

// Section 4: -log2(relative std) of rr = t - 1 + log2(sqrt 12) + log2(m), to +-0.05 bit.
template <class T, class Backend>
void check_rr_noise_size(Backend& be, int t, T a, T b) {
  constexpr long n = 1000000;
  auto pol = policy<Mode::rr>(sizeof(T) == 4 ? t : 24, sizeof(T) == 8 ? t : 53, 99);
  std::vector<T> va(n, a), vb(n, b), out(n);
  be.binary(pol, BinaryOp::mul, va, vb, out);
  const Exact x = exact_mul(double(a), double(b));
  const double xv = x.hi + x.lo;
  double s1 = 0.0, s2 = 0.0;
  for (T r : out) {
    const double d = double(r) / xv - 1.0;
    s1 += d;
    s2 += d * d;
  }
  const double var = s2 / n - (s1 / n) * (s1 / n);
  int e;
  const double m2 = std::frexp(std::fabs(xv), &e) * 2.0;  // m = |x| / 2^e(x) in [1, 2)
  const double expected = t - 1 + std::log2(std::sqrt(12.0)) + std::log2(m2);
  const double measured = -std::log2(std::sqrt(var));
  CAPTURE(t);
  CHECK(std::fabs(measured - expected) <= 0.05);
}

// Section 5: results exact at t are untouched by sr and rr (100 runs = 100 elements, 2 members);
// pb and mca perturb exact inputs.
template <class T, class Backend>
void check_exactness(Backend& be) {
  const bool is_f = sizeof(T) == 4;
  const T a = is_f ? T(std::ldexp(1.0, 30)) : T(std::ldexp(1.0, 19));
  const T b = is_f ? T(std::ldexp(1.0, 34)) : T(std::ldexp(1.0, 46));
  const T pairs[][2] = {{a, b}, {T(1), T(0)}};
  for (const auto& pr : pairs) {
    std::vector<T> va(100, pr[0]), vb(100, pr[1]), out(100);
    const T exact = pr[0] + pr[1];
    for (uint32_t member : {0u, 1u}) {
      auto sr = policy<Mode::sr>(24, 53, 5, member);
      be.binary(sr, BinaryOp::add, va, vb, out);
      for (T r : out) REQUIRE(r == exact);
      // rr below p, at precisions where the value is still exact (it needs 5 / 28 bits).
      for (int k = 0; k < 2; ++k) {
        auto rr = policy<Mode::rr>(k ? 16 : 8, k ? 40 : 28, 5, member);
        be.binary(rr, BinaryOp::add, va, vb, out);
        for (T r : out) REQUIRE(r == exact);
      }
    }
  }
  std::vector<T> va(100, a), vb(100, b), out(100);
  for (int which = 0; which < 2; ++which) {
    if (which == 0)
      be.binary(policy<Mode::pb>(24, 53, 5), BinaryOp::add, va, vb, out);
    else
      be.binary(policy<Mode::mca>(24, 53, 5), BinaryOp::add, va, vb, out);
    long changed = 0;
    for (T r : out) changed += (r != a + b);
    CAPTURE(which);
    CHECK(changed > 0);
  }
}

// Section 6: Verificarlo's float cases 1.25 + 2^-k at t = 24: P(result = 1.25) = 0, 1/2, 3/4, 7/8.
template <Mode M, class Backend>
void check_verificarlo_cases(Backend& be) {
  const double expected[] = {0.0, 0.5, 0.75, 0.875};
  for (int k = 23; k <= 26; ++k) {
    std::vector<float> va(kDraws, 1.25f), vb(kDraws, float(std::ldexp(1.0, -k))), out(kDraws);
    be.binary(policy<M>(24, 53, 3 + k), BinaryOp::add, va, vb, out);
    long same = 0;
    for (float r : out) same += (r == 1.25f);
    CAPTURE(k);
    CHECK(binomial_two_sided(kDraws, same, expected[k - 23]) > kAlphaFamily / kTestsInFamily);
  }
}

// Section 8: same (seed, member) gives the same bits through the backend; another member differs.
template <class P, class T, class Backend>
void check_member_differs(Backend& be, const P& pol) {
  const size_t n = 4099;  // not a multiple of anything
  std::vector<T> a(n), b(n), o1(n), o2(n);
  for (size_t i = 0; i < n; ++i) {
    a[i] = T(1.0 + 0.37 * std::sin(double(i)));
    b[i] = T(0.5 + 0.11 * std::cos(3.0 * double(i)));
  }
  be.binary(pol, BinaryOp::mul, a, b, o1);
  be.binary(pol, BinaryOp::mul, a, b, o2);
  REQUIRE(o1 == o2);
  P other = pol;
  other.stream.key.k1 += 1;
  be.binary(other, BinaryOp::mul, a, b, o2);
  long diff = 0;
  for (size_t i = 0; i < n; ++i) diff += (o1[i] != o2[i]);
  CHECK(diff > long(n / 10));
}

}  // namespace numens::mca::testing
