// The MCA.md v2 cost-option tests (fma, sr_bits, rounds, granularity) that run through a backend
// (CPU here, the GPU executable too), in the style of mca_cases.hpp: fixed seeds, thresholds from
// the distribution.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "tests/mca/mca_cases.hpp"

namespace numens::mca::testing {

// A policy with cost options.
template <Mode M>
Policy<M> policy_opts(int t32, int t64, uint32_t seed, int sr_bits, int rounds, bool fused = false,
                      int tile = 1) {
  ArithConfig c;
  c.mode = M;
  c.t32 = t32;
  c.t64 = t64;
  c.seed = seed;
  c.sr_bits = sr_bits;
  c.rounds = rounds;
  c.fma = fused ? FmaMode::fused : FmaMode::split;
  c.tile = tile;
  c.validate();
  return make_policy<M>(c);
}

// P(up) of the r-bit rule for a value at fraction f of the gap: RN(f 2^r) / 2^r, ties to even.
inline double quantised_probability(double f, int r) {
  return std::nearbyint(std::ldexp(f, r)) / std::ldexp(1.0, r);  // default mode: to nearest even
}

// Section 2 and 3 with r-bit draws: two outcomes, P(upper) = f quantised to r bits, the mean
// within 4 sigma / sqrt(n) of the documented expectation RN_{t+r}(x). Extra fractions that r bits
// cannot hold (3/8 at r = 2 is a tie: RN-even gives 1/2) make the quantisation visible.
template <class T, class Backend>
void check_two_outcomes_r(Backend& be, int t, int r, int rounds) {
  auto pol = policy_opts<Mode::sr>(sizeof(T) == 4 ? t : 24, sizeof(T) == 8 ? t : 53, 31 + t + r, r,
                                   rounds);
  for (const GapCase<T>& c : gap_cases<T>(t)) {
    CAPTURE(c.name);
    CAPTURE(t);
    CAPTURE(r);
    std::vector<T> a(kDraws, c.a), b(kDraws, c.b), out(kDraws);
    be.binary(pol, c.op, a, b, out);
    long ups, others;
    count_outcomes(out, c.lower, c.upper, ups, others);
    REQUIRE(others == 0);
    const double p = quantised_probability(c.f, r);
    if (p == 0.0 || p == 1.0) {
      CHECK(ups == (p == 0.0 ? 0 : kDraws));
      continue;
    }
    const double pv = binomial_two_sided(kDraws, ups, p);
    CHECK_MESSAGE(pv > kAlphaFamily / kTestsInFamily,
                  "P(upper) = " << double(ups) / kDraws << " expected " << p);
    const double sigma = std::sqrt(p * (1.0 - p));
    CHECK(std::fabs(double(ups) / kDraws - p) <= 4.0 * sigma / std::sqrt(double(kDraws)));
  }
}

// The fused fma: one rounding of the exact a * b + c (two outcomes with P(up) = f), through the
// policy's fma() when the configuration says fused; split gives a different stream of results.
template <class T, class Backend>
void check_fused_fma(Backend& be, int rounds) {
  const int t = Format<T>::p, h = (t + 1) / 2;
  // a = b = 1 + 2^-h, c = 2^-(2h+2): a b + c = 1 + 2^-(h-1) + 2^-2h + 2^-(2h+2), which lies at
  // f = 1.25 2^(t-1-2h) of the gap above lower = 1 + 2^-(h-1) (5/8 for binary32, 5/16 for
  // binary64). Fused: those two outcomes only, P(upper) = f. Split rounds the product first and
  // can also land one gap higher.
  const T a = T(1.0 + std::ldexp(1.0, -h)), c = T(std::ldexp(1.0, -(2 * h + 2)));
  const double gap = std::ldexp(1.0, -(t - 1)), lower = 1.0 + std::ldexp(1.0, -(h - 1));
  const double f = 1.25 * std::ldexp(1.0, t - 1 - 2 * h);
  auto fused = policy_opts<Mode::sr>(24, 53, 77, 32, rounds, /*fused=*/true);
  std::vector<T> va(kDraws, a), vc(kDraws, c), out(kDraws), ref(kDraws);
  be.fma(fused, /*fused=*/false, va, va, vc, out);  // the policy's fused option decides
  be.fma(fused, /*fused=*/true, va, va, vc, ref);
  CHECK(out == ref);
  long ups = 0;
  for (T r : out) {
    REQUIRE((r == T(lower) || r == T(lower + gap)));
    ups += r == T(lower + gap);
  }
  CAPTURE(f);
  CHECK(binomial_two_sided(kDraws, ups, f) > kAlphaFamily / kTestsInFamily);
  auto split = policy_opts<Mode::sr>(24, 53, 77, 32, rounds, /*fused=*/false);
  be.fma(split, /*fused=*/false, va, va, vc, out);
  long higher = 0;
  for (T r : out) higher += r == T(lower + 2 * gap);
  CHECK(higher > 0);  // P = 1/16 (binary32), 1/64 (binary64): ~625 and ~156 of 10^4
}

}  // namespace numens::mca::testing
