// MCA.md sections 1-8 on the CPU, plus the equivalence of the SIMD fast path with the scalar
// policy, special values and configuration errors.
#include <doctest/doctest.h>
#include <omp.h>

#include <cmath>
#include <limits>
#include <vector>

#include "mca/batch.hpp"
#include "mca/dispatch.hpp"
#include "tests/mca/cpu_backend.hpp"
#include "tests/mca/mca_cases.hpp"

using namespace numens;
using namespace numens::mca;
using namespace numens::mca::testing;

TEST_CASE("philox4x32-10 known answers (Random123)") {
  const auto z = Philox4x32::generate({{0, 0, 0, 0}}, {0, 0});
  CHECK(z.w[0] == 0x6627e8d5u);
  CHECK(z.w[1] == 0xe169c58du);
  CHECK(z.w[2] == 0xbc57ac4cu);
  CHECK(z.w[3] == 0x9b00dbd8u);
  const auto o = Philox4x32::generate({{~0u, ~0u, ~0u, ~0u}}, {~0u, ~0u});
  CHECK(o.w[0] == 0x408f276du);
  CHECK(o.w[1] == 0x41c83b0eu);
  CHECK(o.w[2] == 0xa20bc7c6u);
  CHECK(o.w[3] == 0x6d5451fdu);
  // Random123's third vector: pi digits as counter and key.
  const auto p = Philox4x32::generate({{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}},
                                      {0xa4093822u, 0x299f31d0u});
  CHECK(p.w[0] == 0xd16cfe09u);
  CHECK(p.w[1] == 0x94fdccebu);
  CHECK(p.w[2] == 0x5001e420u);
  CHECK(p.w[3] == 0x24126ea1u);
}

TEST_CASE("stream: counter layout and the vectorised generator agree") {
  const Stream s = Stream::make(123, 45, 678, 9);
  std::vector<uint32_t> w(4 * 37);
  for (uint64_t g0 : {uint64_t(0), uint64_t(5), (uint64_t(1) << 40) + 3}) {
    philox_words32(s, g0, 17, w.data(), 37);
    for (size_t i = 0; i < w.size(); ++i) REQUIRE(w[i] == s.u32(4 * g0 + i, 17));
  }
  // Draws of different elements, draws, sites, steps, members and widths are distinct words.
  CHECK(s.u32(0, 0) != s.u32(4, 0));
  CHECK(s.u32(0, 0) != s.u32(0, 1));
  CHECK(s.u32(0, 0) != s.at(679, 9).u32(0, 0));
  CHECK(s.u32(0, 0) != s.at(678, 10).u32(0, 0));
  CHECK(s.u32(0, 0) != Stream::make(123, 46, 678, 9).u32(0, 0));
  CHECK(uint32_t(s.u64(0, 0) >> 32) != s.u32(0, 0));
}

TEST_CASE("sr: two outcomes with the right probability, unbiased (float)") {
  CpuBackend be;
  for (int t : float_ts) check_two_outcomes<float, Mode::sr>(be, t);
}
TEST_CASE("sr: two outcomes with the right probability, unbiased (double)") {
  CpuBackend be;
  for (int t : double_ts) check_two_outcomes<double, Mode::sr>(be, t);
}
TEST_CASE("sr_equal: two outcomes with probability 1/2") {
  CpuBackend be;
  for (int t : float_ts) check_two_outcomes<float, Mode::sr_equal>(be, t);
  for (int t : double_ts) check_two_outcomes<double, Mode::sr_equal>(be, t);
}
TEST_CASE("rr at t = p is sr: two outcomes") {
  CpuBackend be;
  check_two_outcomes<float, Mode::rr>(be, 24);
  check_two_outcomes<double, Mode::rr>(be, 53);
}
TEST_CASE("rr: unbiased below p") {
  CpuBackend be;
  for (int t : {4, 8, 11, 16}) check_rr_unbiased<float>(be, t);
  for (int t : {8, 24}) check_rr_unbiased<double>(be, t);
}
TEST_CASE("rr: noise size to +-0.05 bit") {
  CpuBackend be;
  for (int t : {8, 11, 16, 20}) check_rr_noise_size<float>(be, t, 1.1f, 1.3f);
  check_rr_noise_size<float>(be, 12, 1.9f, 1.01f);  // m close to 2
  for (int t : {8, 24, 40}) check_rr_noise_size<double>(be, t, 1.1, 1.3);
}
TEST_CASE("exactness: sr and rr leave exact results alone, pb and mca perturb them") {
  CpuBackend be;
  check_exactness<float>(be);
  check_exactness<double>(be);
}
TEST_CASE("verificarlo: 1.25 + 2^-k at t = 24") {
  CpuBackend be;
  check_verificarlo_cases<Mode::sr>(be);
  check_verificarlo_cases<Mode::rr>(be);
}

TEST_CASE("stagnation: 1 + 2^-25, a million times") {
  constexpr long kAdds = 1000000;
  constexpr int kRuns = 16;
  const float inc = float(std::ldexp(1.0, -25));
  {
    Ieee rn;
    Draws d = rn.draws(0);
    float v = 1.0f;
    for (long i = 0; i < kAdds; ++i) v = rn.add(v, inc, d);
    CHECK(v == 1.0f);
  }
  // Under sr each add moves up one ulp (2^-23) with probability 1/4, so the final value is
  // 1 + 2^-23 Binomial(10^6, 1/4): mean 1 + 10^6 2^-25, std 2^-23 sqrt(10^6 3/16) per run.
  auto sr = policy<Mode::sr>(24, 53, 77);
  double sum = 0.0;
  for (int r = 0; r < kRuns; ++r) {
    Draws d = sr.draws(uint64_t(r));
    float v = 1.0f;
    for (long i = 0; i < kAdds; ++i) v = sr.add(v, inc, d);
    sum += v;
  }
  const double mean = sum / kRuns;
  const double expected = 1.0 + kAdds * std::ldexp(1.0, -25);
  const double sigma = std::ldexp(1.0, -23) * std::sqrt(kAdds * 3.0 / 16.0);
  CAPTURE(mean);
  CHECK(std::fabs(mean - expected) <= 4.0 * sigma / std::sqrt(double(kRuns)));
  CHECK(mean == doctest::Approx(1.0298).epsilon(1e-4));
}

namespace {
// Runs every batched op of every mode with `threads` OpenMP threads; returns all outputs.
template <class T>
std::vector<T> all_ops(int threads) {
  omp_set_num_threads(threads);
  const size_t n = 100003;
  std::vector<T> a(n), b(n), c(n), out;
  for (size_t i = 0; i < n; ++i) {
    a[i] = T(1.0 + std::sin(0.1 * double(i)));
    b[i] = T(0.75 + 0.5 * std::cos(0.37 * double(i)));
    c[i] = T(std::ldexp(std::sin(double(i)), -3));
  }
  std::vector<T> o(n);
  for (const char* m : {"ieee", "sr", "rr", "pb", "mca", "sr_equal"}) {
    ArithConfig cfg;
    cfg.mode = parse_mode(m);
    cfg.t32 = 16;
    cfg.t64 = 40;
    cfg.seed = 31;
    cfg.member = 4;
    with_policy(cfg, [&](auto pol) {
      for (BinaryOp op : {BinaryOp::add, BinaryOp::sub, BinaryOp::mul, BinaryOp::div}) {
        binary_n(pol, op, a.data(), b.data(), o.data(), n, 1000);
        out.insert(out.end(), o.begin(), o.end());
      }
      for (UnaryOp op : {UnaryOp::sqrt, UnaryOp::exp, UnaryOp::log}) {
        unary_n(pol, op, a.data(), o.data(), n);
        out.insert(out.end(), o.begin(), o.end());
      }
      for (bool fused : {false, true}) {
        fma_n(pol, fused, a.data(), b.data(), c.data(), o.data(), n);
        out.insert(out.end(), o.begin(), o.end());
      }
    });
  }
  return out;
}
}  // namespace

TEST_CASE("reproducibility: bitwise identical at 1 and 2 OpenMP threads") {
  const int saved = omp_get_max_threads();
  const auto f1 = all_ops<float>(1), f2 = all_ops<float>(2), f3 = all_ops<float>(3);
  const auto d1 = all_ops<double>(1), d2 = all_ops<double>(2);
  omp_set_num_threads(saved);
  CHECK(f1 == f2);
  CHECK(f1 == f3);
  CHECK(d1 == d2);
}

TEST_CASE("reproducibility: another member gives other results") {
  CpuBackend be;
  check_member_differs<Sr, float>(be, policy<Mode::sr>(24, 53, 9));
  check_member_differs<Sr, double>(be, policy<Mode::sr>(24, 53, 9));
  check_member_differs<Mca, float>(be, policy<Mode::mca>(24, 53, 9));
  check_member_differs<Rr, double>(be, policy<Mode::rr>(24, 40, 9));
}

TEST_CASE("sr fast path equals the scalar policy bit for bit") {
  // Values that exercise the fast path and each of its fall-backs: binary32 subnormal results,
  // sums whose exponents are far apart, overflow, zeros of both signs, infinities and NaN.
  const float specials[] = {0.0f,
                            -0.0f,
                            1e-45f,
                            -3e-44f,
                            1e-38f,
                            1.17e-38f,
                            3.0e38f,
                            -3.3e38f,
                            1.0f,
                            -1.0f,
                            1e-30f,
                            7.0f,
                            std::numeric_limits<float>::infinity(),
                            std::numeric_limits<float>::quiet_NaN()};
  std::vector<float> a, b;
  for (float x : specials)
    for (float y : specials) {
      a.push_back(x);
      b.push_back(y);
    }
  for (int i = 0; i < 5000; ++i) {
    a.push_back(float(std::ldexp(1.0 + std::sin(double(i)), (i % 61) - 30)));
    b.push_back(float(std::ldexp(std::cos(1.7 * double(i)), ((i * 7) % 81) - 40)));
  }
  const size_t n = a.size();
  std::vector<float> fast(n);
  for (int t : {1, 5, 11, 20, 21, 22, 23, 24}) {
    auto pol = policy<Mode::sr>(t, 53, 1234);
    for (BinaryOp op : {BinaryOp::add, BinaryOp::mul}) {
      for (uint64_t e0 : {uint64_t(0), uint64_t(3)}) {
        binary_n(pol, op, a.data(), b.data(), fast.data(), n, e0);
        for (size_t i = 0; i < n; ++i) {
          Draws d = pol.draws(e0 + i);
          const float ref = op == BinaryOp::add ? pol.add(a[i], b[i], d) : pol.mul(a[i], b[i], d);
          CAPTURE(t);
          CAPTURE(hexs(a[i]));
          CAPTURE(hexs(b[i]));
          REQUIRE(bits_of(fast[i]) == bits_of(ref));
        }
      }
    }
  }
}

TEST_CASE("sr fast path: one awkward pair among benign values is still handled exactly") {
  // The fast path checks a whole run of elements at once and redoes the run element by element
  // when anything in it is out of its reach: each awkward pair here sits alone among benign
  // values (inside the vectorised runs, and in the tails) so a check that misses it shows.
  const float inf = std::numeric_limits<float>::infinity();
  const float specials[] = {
      0.0f, -0.0f, 1e-45f, -3e-44f, 0x1p-126f, -0x1.000002p-126f, 0x1.fffffcp-127f, 0x1.8p-64f,
      0x1.4cccccp-63f, 0x1.fffffep-64f, 0x1p-63f, 0x1p-29f, 0x1p-28f, 0x1.000002p-30f, 1.0f, -1.0f,
      0x1.fffffep127f, 0x1.000002p0f, 3.0e38f, inf, -inf, std::numeric_limits<float>::quiet_NaN(),
      // NaNs whose payload reaches the dropped bits at t < 24: rounding
      // their pattern up must not carry out of the exponent field
      float_from_bits(0x7FFFFFFFu), float_from_bits(0xFFC00007u)};
  const size_t n = 2048 + 13;  // last chunk: an 8-lane run, a 4-lane group, one more
  std::vector<float> a(n), b(n), fast(n);
  for (size_t i = 0; i < n; ++i) {
    a[i] = float(1.0 + 0.25 * std::sin(double(i)));
    b[i] = float(0.5 + 0.125 * std::cos(double(i)));
  }
  for (int t : {20, 21, 24}) {
    auto pol = policy<Mode::sr>(t, 53, 99);
    for (BinaryOp op : {BinaryOp::add, BinaryOp::mul}) {
      for (float x : specials) {
        for (float y : specials) {
          for (size_t at : {size_t(1024 + 13), size_t(2048 + 9), size_t(2048 + 12)}) {
            std::vector<float> aa = a, bb = b;
            aa[at] = x;
            bb[at] = y;
            binary_n(pol, op, aa.data(), bb.data(), fast.data(), n, 0);
            for (size_t i = at & ~size_t(1023); i < n; ++i) {
              Draws d = pol.draws(i);
              const float ref =
                  op == BinaryOp::add ? pol.add(aa[i], bb[i], d) : pol.mul(aa[i], bb[i], d);
              CAPTURE(t);
              CAPTURE(i);
              CAPTURE(hexs(x));
              CAPTURE(hexs(y));
              // Which of two NaN operands comes out is left open by IEEE 754 (the compiler may
              // commute the add): any NaN will do there, every other result matches bit for bit.
              if (std::isnan(x) && std::isnan(y) && std::isnan(ref)) {
                REQUIRE(std::isnan(fast[i]));
              } else {
                REQUIRE(bits_of(fast[i]) == bits_of(ref));
              }
            }
          }
        }
      }
    }
  }
}

TEST_CASE("special values pass through every mode unperturbed, signed zero kept") {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  auto run = [&](auto pol) {
    Draws d = pol.draws(0);
    CHECK(std::isnan(pol.add(nan, 1.0f, d)));
    CHECK(pol.add(inf, 1.0f, d) == inf);
    CHECK(std::isnan(pol.sub(inf, inf, d)));
    CHECK(pol.mul(-inf, 2.0f, d) == -inf);
    CHECK(pol.div(1.0f, 0.0f, d) == inf);
    CHECK(std::isnan(pol.sqrt(-1.0f, d)));
    const float nz = pol.mul(-0.0f, 3.0f, d);
    CHECK((nz == 0.0f && std::signbit(nz)));
    const float pz = pol.add(-0.0f, 0.0f, d);
    CHECK((pz == 0.0f && !std::signbit(pz)));
    const double dz = pol.add(-0.0, -0.0, d);
    CHECK((dz == 0.0 && std::signbit(dz)));
    CHECK(pol.to_float(1e300, d) == inf);
  };
  run(policy<Mode::ieee>(24, 53));
  run(policy<Mode::sr>(24, 53));
  run(policy<Mode::rr>(12, 30));
  run(policy<Mode::pb>(24, 53));
  run(policy<Mode::mca>(24, 53));
  run(policy<Mode::sr_equal>(24, 53));
}

TEST_CASE("division, sqrt, fused fma and casts round to the two t-bit neighbours") {
  auto sr = policy<Mode::sr>(24, 53, 5);
  long up_div = 0, up_sqrt = 0, up_fma = 0, up_cast = 0;
  const double third = 1.0 / 3.0;
  const float lo3 = float(third) < third ? float(third) : std::nextafter(float(third), 0.0f);
  const float hi3 = std::nextafter(lo3, 1.0f);
  const float s2lo =
      std::sqrt(2.0f) < std::sqrt(2.0) ? std::sqrt(2.0f) : std::nextafter(std::sqrt(2.0f), 0.0f);
  for (uint64_t e = 0; e < uint64_t(kDraws); ++e) {
    Draws d = sr.draws(e);
    const float q = sr.div(1.0f, 3.0f, d);
    REQUIRE((q == lo3 || q == hi3));
    up_div += (q == hi3);
    const float s = sr.sqrt(2.0f, d);
    REQUIRE((s == s2lo || s == std::nextafter(s2lo, 2.0f)));
    up_sqrt += (s != s2lo);
    // 1 + 2^-30 * (1 + 2^-20) = 1 + 2^-30 + 2^-50, exact only in a fused operation
    const float f =
        sr.fma_fused(float(std::ldexp(1.0, -30)), 1.0f + float(std::ldexp(1.0, -20)), 1.0f, d);
    REQUIRE((f == 1.0f || f == 1.0f + float(std::ldexp(1.0, -23))));
    up_fma += (f != 1.0f);
    const float c = sr.to_float(1.0 + std::ldexp(1.0, -25), d);  // a quarter of the gap above 1
    up_cast += (c != 1.0f);
  }
  const double f_div = (third - lo3) / (double(hi3) - lo3);
  const double f_sqrt = (std::sqrt(2.0) - s2lo) / std::ldexp(1.0, -23);
  const double f_fma = (std::ldexp(1.0, -30) + std::ldexp(1.0, -50)) / std::ldexp(1.0, -23);
  const double alpha = kAlphaFamily / kTestsInFamily;
  CHECK(binomial_two_sided(kDraws, up_div, f_div) > alpha);
  CHECK(binomial_two_sided(kDraws, up_sqrt, f_sqrt) > alpha);
  CHECK(binomial_two_sided(kDraws, up_fma, f_fma) > alpha);
  CHECK(binomial_two_sided(kDraws, up_cast, 0.25) > alpha);
}

TEST_CASE("configuration errors are clear") {
  ArithConfig c;
  CHECK_THROWS_WITH_AS(parse_mode("fast"),
                       "unknown arithmetic mode 'fast' (expected one of: ieee, sr, rr, pb, mca, "
                       "sr_equal)",
                       ConfigError);
  c.mode = Mode::sr;
  c.t32 = 25;
  CHECK_THROWS_WITH_AS(c.validate(),
                       "t32 = 25 is out of range 1..24 (binary32 has 24 significand bits)",
                       ConfigError);
  c.t32 = 0;
  CHECK_THROWS_AS(c.validate(), ConfigError);
  c.t32 = 24;
  c.t64 = 54;
  CHECK_THROWS_WITH_AS(c.validate(),
                       "t64 = 54 is out of range 1..53 (binary64 has 53 significand bits)",
                       ConfigError);
  c.t64 = 53;
  CHECK_NOTHROW(c.validate());
  CHECK_THROWS_WITH_AS(parse_precision("12x", "--t", 24), "--t: '12x' is not an integer",
                       ConfigError);
  CHECK_THROWS_AS(parse_precision("30", "--t", 24), ConfigError);
  CHECK(parse_precision("7", "--t", 24) == 7);
  CHECK(c.describe() ==
        "sr t32=24 t64=53 seed=0 member=0 fma=split sr_bits=32 rounds=10 "
        "granularity=op");
  c.tile = parse_granularity("tile:16");
  c.fma = parse_fma("fused");
  c.sr_bits = 16;
  c.rounds = 7;
  CHECK_NOTHROW(c.validate());
  CHECK(c.describe() ==
        "sr t32=24 t64=53 seed=0 member=0 fma=fused sr_bits=16 rounds=7 "
        "granularity=tile:16");
  CHECK(parse_granularity("op") == 1);
  CHECK(parse_granularity("tile:1") == 1);
  CHECK_THROWS_WITH_AS(parse_granularity("tile:0"),
                       "granularity 'tile:0': k must be an integer in 1..1048576", ConfigError);
  CHECK_THROWS_AS(parse_granularity("tile:"), ConfigError);
  CHECK_THROWS_AS(parse_granularity("tile:16x"), ConfigError);
  CHECK_THROWS_WITH_AS(parse_granularity("tensor"),
                       "unknown perturbation granularity 'tensor' (expected 'op' or 'tile:k', "
                       "e.g. 'tile:16')",
                       ConfigError);
  CHECK_THROWS_WITH_AS(parse_fma("contract"),
                       "unknown fma mode 'contract' (expected one of: split, fused)", ConfigError);
  c.sr_bits = 1;
  CHECK_THROWS_WITH_AS(c.validate(),
                       "sr_bits = 1 is out of range 2..32 (random bits per rounding decision)",
                       ConfigError);
  c.sr_bits = 33;
  CHECK_THROWS_AS(c.validate(), ConfigError);
  c.sr_bits = 16;
  c.rounds = 8;
  CHECK_THROWS_WITH_AS(c.validate(),
                       "rounds = 8 is not a Philox4x32 round count numens offers (10 or 7)",
                       ConfigError);
  c.rounds = 7;
  c.mode = Mode::rr;
  CHECK_THROWS_WITH_AS(c.validate(),
                       "sr_bits = 16 applies to modes 'sr' and 'sr_equal' only; mode 'rr' needs a "
                       "full-width uniform draw (use sr_bits = 32)",
                       ConfigError);
  c.sr_bits = 32;
  CHECK_NOTHROW(c.validate());  // rr with fused, 7 rounds, tile:16
  c.mode = Mode::ieee;
  CHECK_THROWS_WITH_AS(c.validate(),
                       "cost options (fma=fused sr_bits=32 rounds=7 granularity=tile:16) apply to "
                       "perturbed modes only; mode 'ieee' takes the defaults (fma=split "
                       "sr_bits=32 rounds=10 granularity=op)",
                       ConfigError);
}
