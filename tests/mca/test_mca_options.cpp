// MCA.md v2 cost options on the CPU: Philox at 7 rounds, the r-bit draw layout and rounding rule
// (two outcomes, expectation, the bias test that rejects plain truncation, stagnation), the fused
// fma, tile granularity of reductions, reproducibility with options.
#include <doctest/doctest.h>
#include <omp.h>

#include <cmath>
#include <vector>

#include "mca/accumulate.hpp"
#include "mca/batch.hpp"
#include "mca/dispatch.hpp"
#include "tests/mca/cpu_backend.hpp"
#include "tests/mca/options_cases.hpp"

using namespace numens;
using namespace numens::mca;
using namespace numens::mca::testing;

TEST_CASE("philox4x32-7 known answers (tests/fixtures/philox_kat.py)") {
  struct Kat {
    Philox4x32::Block ctr;
    Philox4x32::Key key;
    uint32_t want[4];
  };
  const Kat kats[] = {
      {{{0, 0, 0, 0}}, {0, 0}, {0x5f6fb709u, 0x0d893f64u, 0x4f121f81u, 0x4f730a48u}},
      {{{~0u, ~0u, ~0u, ~0u}}, {~0u, ~0u}, {0x5207ddc2u, 0x45165e59u, 0x4d8ee751u, 0x8c52f662u}},
      {{{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}},
       {0xa4093822u, 0x299f31d0u},
       {0x4dfccabau, 0x190a87f0u, 0xc47362bau, 0xb6b5242au}},
  };
  for (const Kat& k : kats) {
    const auto b = Philox4x32::generate<7>(k.ctr, k.key);
    const auto r = Philox4x32::generate(k.ctr, k.key, 7);
    for (int i = 0; i < 4; ++i) {
      CHECK(b.w[i] == k.want[i]);
      CHECK(r.w[i] == k.want[i]);
    }
  }
  // The stream and the vectorised generator follow the stream's round count.
  const Stream s7 = Stream::make(3, 4, 5, 6, 7), s10 = Stream::make(3, 4, 5, 6);
  const Philox4x32::Block direct =
      Philox4x32::generate<7>({{9, 5u << 16, 2, 6}}, Philox4x32::Key{3, 4});
  CHECK(s7.u32(4 * 9 + 1, 2) == direct.w[1]);
  CHECK(s7.u32(0, 0) != s10.u32(0, 0));
  std::vector<uint32_t> w(4 * 40);
  philox_words32(s7, 11, 3, w.data(), 40);
  for (size_t i = 0; i < w.size(); ++i) REQUIRE(w[i] == s7.u32(4 * 11 + i, 3));
}

TEST_CASE("r-bit draws: the slot layout of stream.hpp") {
  const Stream s = Stream::make(123, 45, 678, 9);
  for (uint64_t e : {uint64_t(0), uint64_t(5), uint64_t(1000003)}) {
    CHECK(s.ur(e, 7, 32, 0) == s.u32(e, 7));  // w = 32 is the 32-bit layout
    for (int r : {2, 3, 5, 8, 12, 16, 31}) {
      int w = 2;
      while (w < r) w *= 2;
      const uint64_t slots = 128 / uint64_t(w);
      const uint64_t i = e % slots;
      for (uint32_t width : {0u, 1u}) {
        const Philox4x32::Block b = s.block(e / slots, width, 7);
        const uint32_t field = uint32_t(w) * uint32_t(i / 4);
        const uint32_t want = (b.w[i % 4] >> field) & uint32_t((uint64_t(1) << r) - 1);
        CAPTURE(r);
        CHECK(s.ur(e, 7, r, width) == want);
      }
    }
  }
  // All 8 slots of a block at r = 16 are distinct fields (no two elements share bits).
  const Philox4x32::Block b = s.block(2, 0, 1);
  for (uint64_t e = 16; e < 24; ++e) {
    const uint32_t word = b.w[(e - 16) % 4];
    CHECK(s.ur(e, 1, 16, 0) == ((e - 16) < 4 ? word & 0xFFFFu : word >> 16));
  }
}

TEST_CASE("sr_bits: two outcomes with probabilities quantised to r bits (float, double)") {
  CpuBackend be;
  for (int r : {2, 4, 8, 16}) {
    for (int t : {8, 24}) check_two_outcomes_r<float>(be, t, r, 10);
    check_two_outcomes_r<double>(be, 53, r, 10);
  }
  check_two_outcomes_r<float>(be, 11, 16, 7);  // with 7 Philox rounds
  check_two_outcomes_r<double>(be, 24, 8, 7);
}

namespace {
// A binary64 value x in the gap above 1.5 (binary32, t = 24: gap 2^-23), at fraction u of the gap
// with 29 random bits below the grid: every double in the gap is equally likely.
double value_in_gap(const Stream& s, uint64_t i) {
  return 1.5 + double(s.u32(i, 0) >> 3) * 0x1p-52;
}
// Mean of (result - x) / gap over n values, each rounded with `up(g, draw)` deciding the rounding.
template <class Up>
double mean_error_ulps(long n, int r, Up up) {
  const Stream xs = Stream::make(0xb1a5u, 1), ds = Stream::make(0xb1a5u, 2);
  double sum = 0.0;
  for (long i = 0; i < n; ++i) {
    const double x = value_in_gap(xs, uint64_t(i));
    const GridPos g = grid_pos<float>(Exact{x, 0.0, 0}, 24);
    const float res = grid_value<float>(g, up(g, ds.ur(uint64_t(i), 0, r, 0)));
    sum += (double(res) - x) * 0x1p23;
  }
  return sum / double(n);
}
}  // namespace

TEST_CASE("sr_bits: no systematic bias (n = 10^7, r = 8); plain truncation is rejected") {
  constexpr long n = 10000000;
  constexpr int r = 8;
  // Error per value in ulps: Bernoulli(f_r) - frac with frac uniform on [0, 1): variance
  // E[f (1 - f)] + Var(f_r - frac) = 1/6 + 2^-2r / 12 (the rounding of frac to r bits).
  const double sigma = std::sqrt(1.0 / 6.0 + std::ldexp(1.0, -2 * r) / 12.0);
  const double bound = 4.0 * sigma / std::sqrt(double(n));
  const double rn = mean_error_ulps(n, r, [&](const GridPos& g, uint32_t u) {
    return g.frac != 0.0 && double(u) < fraction_r(g, r);
  });
  const double trunc = mean_error_ulps(n, r, [&](const GridPos& g, uint32_t u) {
    return g.frac != 0.0 && double(u) < truncated_fraction_r(g, r);
  });
  MESSAGE("mean error in ulps at r = 8: RN_{t+r} rule "
          << rn << ", plain truncation " << trunc << ", 4-sigma bound " << bound
          << ", expected truncation bias " << -std::ldexp(1.0, -(r + 1)));
  CHECK(std::fabs(rn) <= bound);
  // The same test must reject the plain truncation...
  CHECK_FALSE(std::fabs(trunc) <= bound);
  // ...whose mean is the documented -2^-(r+1) ulp.
  CHECK(std::fabs(trunc + std::ldexp(1.0, -(r + 1))) <= bound);
  // And the policy uses the unbiased rule: to_float at r = 8 over the same values.
  auto pol = policy_opts<Mode::sr>(24, 53, 0xb1a5u, r, 10);
  pol.stream = Stream::make(0xb1a5u, 2);
  const Stream xs = Stream::make(0xb1a5u, 1);
  double sum = 0.0;
  const long m = n / 10;
  for (long i = 0; i < m; ++i) {
    const double x = value_in_gap(xs, uint64_t(i));
    Draws d = pol.draws(uint64_t(i));
    sum += (double(pol.to_float(x, d)) - x) * 0x1p23;
  }
  CHECK(std::fabs(sum / double(m)) <= 4.0 * sigma / std::sqrt(double(m)));
}

TEST_CASE("sr_bits: for a fixed x the mean is RN_{t+r}(x), not x") {
  // x = 1 + 0.3 gap (binary32, t = 24), r = 4: RN(0.3 x 16 = 4.8) = 5, so P(up) = 5/16.
  constexpr long n = 100000;
  const double x = 1.0 + 0.3 * 0x1p-23;
  auto pol = policy_opts<Mode::sr>(24, 53, 4, 4, 10);
  long ups = 0;
  for (long i = 0; i < n; ++i) {
    Draws d = pol.draws(uint64_t(i));
    ups += pol.to_float(x, d) != 1.0f;
  }
  const double p = 5.0 / 16.0, sigma = std::sqrt(p * (1 - p));
  CHECK(std::fabs(double(ups) / n - p) <= 4.0 * sigma / std::sqrt(double(n)));
  CHECK(std::fabs(double(ups) / n - 0.3) > 4.0 * sigma / std::sqrt(double(n)));
}

TEST_CASE("sr_bits: increments below 2^-(r+1) ulp stagnate (documented)") {
  // 1 + 2^-27 (1/16 ulp at t = 24): at r = 2, RN(1/16 x 4) = 0, so the sum never moves; at r = 8
  // (P = 16/256) and r = 32 it grows by 2^-27 per add on average.
  const float inc = float(std::ldexp(1.0, -27));
  for (int r : {2, 8, 32}) {
    auto pol = policy_opts<Mode::sr>(24, 53, 8, r, 10);
    float acc = 1.0f;
    for (uint32_t i = 0; i < 20000; ++i) {
      Draws d = pol.draws(0, i);
      acc = pol.add(acc, inc, d);
    }
    CAPTURE(r);
    if (r == 2) {
      CHECK(acc == 1.0f);
    } else {
      // expected 1 + 20000 x 2^-27 = 1.000149; the sum's std is ~ sqrt(20000 p) ulp, p = 1/16
      CHECK(std::fabs(double(acc) - (1.0 + 20000 * std::ldexp(1.0, -27))) < 200 * 0x1p-23);
    }
  }
}

TEST_CASE("fma = fused: one rounding of the exact a * b + c (float, double, 10 and 7 rounds)") {
  CpuBackend be;
  for (int rounds : {10, 7}) {
    check_fused_fma<float>(be, rounds);
    check_fused_fma<double>(be, rounds);
  }
}

TEST_CASE("granularity tile:k: k terms rounded to nearest, one perturbed add per tile") {
  const int n = 1000;
  std::vector<float> a(n), b(n);
  for (int i = 0; i < n; ++i) {
    a[i] = float(std::sin(0.3 * i) * 3.0);
    b[i] = float(std::cos(0.7 * i) + 0.25);
  }
  for (int k : {1, 7, 16, 1000, 5000}) {
    for (bool fused : {false, true}) {
      auto pol = policy_opts<Mode::sr>(16, 53, 21, 32, 10, fused, k);
      Draws d = pol.draws(5);
      Accumulator<Sr, float> acc(0.5f);
      for (int i = 0; i < n; ++i) acc.fma(pol, a[i], b[i], d);
      const float got = acc.result(pol, d);
      // The definition, written out.
      Draws e = pol.draws(5);
      float want = 0.5f;
      if (k == 1) {
        for (int i = 0; i < n; ++i) want = pol.fma(a[i], b[i], want, e);
      } else {
        float part = 0.0f;
        for (int i = 0; i < n; ++i) {
          part = fused ? std::fmaf(a[i], b[i], part) : part + a[i] * b[i];
          if ((i + 1) % k == 0 || i + 1 == n) {
            want = pol.add(want, part, e);
            part = 0.0f;
          }
        }
      }
      CAPTURE(k);
      CAPTURE(fused);
      CHECK(got == want);
      CHECK(d.next == e.next);
      // Draws consumed: one per tile (k > 1), two per term (split) or one (fused) at k = 1.
      const uint32_t tiles = uint32_t((n + k - 1) / k);
      CHECK(d.next == (k == 1 ? uint32_t(n) * (fused ? 1u : 2u) : tiles));
    }
  }
  // t = 16 keeps a 1000-term sum visibly perturbed at tile:16: another member differs.
  auto p1 = policy_opts<Mode::sr>(16, 53, 21, 32, 10, false, 16);
  auto p2 = p1;
  p2.stream.key.k1 += 1;
  Draws d1 = p1.draws(0), d2 = p2.draws(0);
  Accumulator<Sr, float> s1(0.0f), s2(0.0f);
  for (int i = 0; i < n; ++i) {
    s1.add(p1, a[i], d1);
    s2.add(p2, a[i], d2);
  }
  CHECK(s1.result(p1, d1) != s2.result(p2, d2));
}

TEST_CASE("cost options: reproducible at 1 and 2 threads, each option changes the stream") {
  const size_t n = 50001;
  std::vector<float> a(n), b(n);
  for (size_t i = 0; i < n; ++i) {
    a[i] = float(1.0 + 0.37 * std::sin(double(i)));
    b[i] = float(0.5 + 0.11 * std::cos(3.0 * double(i)));
  }
  auto run = [&](const Sr& pol, int threads) {
    std::vector<float> out(n);
    omp_set_num_threads(threads);
    binary_n(pol, BinaryOp::mul, a.data(), b.data(), out.data(), n);
    omp_set_num_threads(2);
    return out;
  };
  const Sr base = policy_opts<Mode::sr>(20, 53, 9, 32, 10);
  const Sr r16 = policy_opts<Mode::sr>(20, 53, 9, 16, 10);
  const Sr r7 = policy_opts<Mode::sr>(20, 53, 9, 32, 7);
  const Sr both = policy_opts<Mode::sr>(20, 53, 9, 16, 7);
  const auto o_base = run(base, 2);
  for (const Sr* p : {&r16, &r7, &both}) {
    const auto o1 = run(*p, 1), o2 = run(*p, 2);
    REQUIRE(o1 == o2);
    long diff = 0;
    for (size_t i = 0; i < n; ++i) diff += o1[i] != o_base[i];
    CHECK(diff > long(n / 10));
  }
}

TEST_CASE("draws_r32: the vectorised r-bit draws equal Stream::ur") {
  for (int rounds : {10, 7}) {
    const Stream s = Stream::make(31, 41, 59, 26, rounds);
    for (int r : {2, 5, 8, 16, 24, 32}) {
      for (uint64_t e0 : {uint64_t(0), uint64_t(3), uint64_t(77), (uint64_t(1) << 33) - 5,
                          (uint64_t(1) << 34) - 7}) {  // the last: the counter word wraps
        for (size_t n : {size_t(1), size_t(64), size_t(67), size_t(5000)}) {
          std::vector<uint32_t> out(n);
          draws_r32(s, r, e0, 9, out.data(), n);
          CAPTURE(r);
          CAPTURE(e0);
          CAPTURE(n);
          for (size_t i = 0; i < n; ++i) REQUIRE(out[i] == s.ur(e0 + i, 9, r, 0));
        }
      }
    }
  }
}

#if defined(__AVX2__)
#include "mca/sr_simd.hpp"

TEST_CASE("r-bit SIMD rounding equals stochastic_round_r on pairs, ties with a low part included") {
  // hi: binary64 values in binary32's range whose bits below the r-bit field are random, exactly
  // half-way, or zero; lo: 0 or a value below half an ulp of hi, of either sign. The SIMD rule
  // must break a half-way pattern by lo's sign exactly as the scalar rule does.
  const Stream s = Stream::make(77, 1);
  long ties_with_lo = 0;
  for (int t : {24, 20, 12, 3}) {
    for (int r : {2, 8, 16, 28}) {
      if (!simd::SrF32R::applies(t, r)) continue;
      const simd::SrF32R p(t, r);
      const int drop = 53 - t, sh = drop - r;
      for (uint64_t i = 0; i < 4000; i += 4) {
        alignas(32) double hi[4], lo[4];
        alignas(16) uint32_t u[4];
        for (int l = 0; l < 4; ++l) {
          const uint64_t e = i + uint64_t(l);
          const uint64_t rnd = s.u64(e, uint32_t(t * 64 + r));
          uint64_t bits =
              (uint64_t(1023 - 20 + (rnd % 41)) << 52) | (rnd >> 12 & ((uint64_t(1) << 52) - 1));
          const int kind = int(e % 3);
          if (kind > 0) {  // exactly half-way below the r-bit field, or on the (t + r)-grid
            bits &= ~((uint64_t(1) << sh) - 1);
            if (kind == 1) bits |= uint64_t(1) << (sh - 1);
          }
          if (rnd & 1) bits |= uint64_t(1) << 63;
          hi[l] = double_from_bits(bits);
          const int lo_kind = int((rnd >> 1) % 4);
          const double half_ulp = std::ldexp(std::fabs(hi[l]), -54);
          lo[l] =
              lo_kind == 0 ? 0.0 : (lo_kind == 1 ? 1 : -1) * half_ulp * (lo_kind == 3 ? 0.5 : 1.0);
          if (lo_kind == 3 && (rnd & 2)) lo[l] = -lo[l];
          u[l] = s.ur(e, 5, r, 0);
          ties_with_lo += kind == 1 && lo[l] != 0.0;
        }
        alignas(16) float got[4];
        _mm_store_ps(got, simd::sr_round4_r(p, _mm256_load_pd(hi), _mm256_load_pd(lo),
                                            _mm_load_si128(reinterpret_cast<const __m128i*>(u))));
        for (int l = 0; l < 4; ++l) {
          const float want = stochastic_round_r<float>(Exact{hi[l], lo[l], 0}, t, r, u[l]);
          CAPTURE(t);
          CAPTURE(r);
          CAPTURE(hi[l]);
          CAPTURE(lo[l]);
          REQUIRE(bits_of(got[l]) == bits_of(want));
        }
      }
    }
  }
  CHECK(ties_with_lo > 1000);
}
#endif

TEST_CASE("binary32 SR fast scalar path equals the reference rule bit for bit (32-bit and r-bit)") {
  // Pairs (hi, lo) of every shape the exact operations produce: lo = 0, tiny, half an ulp of hi,
  // either sign; hi on a t-bit grid point, half-way, a power of two, at the ends of binary32's
  // range; draws at 0, at the maximum and at random.
  const Stream s = Stream::make(2718, 28);
  long fast = 0, total = 0;
  for (int t : {24, 21, 20, 12, 4, 1}) {
    for (uint64_t i = 0; i < 40000; ++i) {
      const uint64_t a = s.u64(i, uint32_t(t)), b = s.u64(i, uint32_t(t + 100));
      const int e = int(a % 256) - 128 < -126 ? -126 : int(a % 256) - 128;  // -126 .. 127
      uint64_t mant = (a >> 8) & ((uint64_t(1) << 52) - 1);
      switch (b % 6) {
        case 0:
          mant &= ~((uint64_t(1) << (53 - t)) - 1);
          break;  // on the t-bit grid
        case 1:
          mant = 0;
          break;  // a power of two
        case 2:
          mant |= (uint64_t(1) << (53 - t)) - 1;
          break;  // just below a grid point
        default:
          break;
      }
      const double hi =
          std::ldexp(1.0 + std::ldexp(double(mant), -52), e) * ((b >> 3) & 1 ? -1 : 1);
      const double ulp = std::ldexp(1.0, e - 52);
      double lo = 0.0;
      switch ((b >> 4) % 5) {
        case 1:
          lo = ulp * 0.5;
          break;
        case 2:
          lo = -ulp * 0.5;
          break;
        case 3:
          lo = ulp * std::ldexp(double((b >> 8) & 0xFFFF) + 1, -40);
          break;
        case 4:
          lo = -ulp * std::ldexp(double((b >> 8) & 0xFFFFF) + 1, -21);
          break;
        default:
          break;
      }
      const Exact x{hi, lo, 0};
      const uint32_t draws[] = {0u, ~0u, uint32_t(b >> 32), uint32_t(b >> 16)};
      for (uint32_t u : draws) {
        REQUIRE(bits_of(stochastic_round<float>(x, t, u)) ==
                bits_of(stochastic_round_reference<float>(x, t, u)));
        for (int r : {2, 8, 16, 28, 31}) {
          const uint32_t ur = u & (r >= 32 ? ~0u : (1u << r) - 1u);
          CAPTURE(t);
          CAPTURE(r);
          CAPTURE(hi);
          CAPTURE(lo);
          REQUIRE(bits_of(stochastic_round_r<float>(x, t, r, ur)) ==
                  bits_of(stochastic_round_r_reference<float>(x, t, r, ur)));
        }
        float f;
        fast += detail::sr_f32_pattern(x, t, 32, u, f);
        ++total;
      }
    }
  }
  CHECK(fast > total * 3 / 4);  // the fast path takes most cases
}

TEST_CASE("draw_run_r32: one element's successive draws, every SIMD level, r and rounds") {
  const SimdLevel best = best_simd_level();
  for (int lv = 0; lv <= int(best); ++lv) {
    set_simd_level(SimdLevel(lv));
    for (int rounds : {10, 7}) {
      const Stream s = Stream::make(77, 3, 41, 2, rounds);
      for (int r : {32, 16, 8, 5}) {
        // runs shorter and longer than the 16 blocks of one vector call; a draw counter that
        // reaches 2^32 inside a call (the scalar code takes those)
        for (uint32_t d0 : {0u, 13u, 0xFFFFFFFFu - 20u}) {
          for (uint64_t e : {uint64_t(0), uint64_t(11), (uint64_t(1) << 40) + 7}) {
            std::vector<uint32_t> out(37);
            draw_run_r32(s, r, e, d0, out.data(), out.size());
            CAPTURE(lv);
            CAPTURE(r);
            CAPTURE(d0);
            CAPTURE(e);
            for (size_t i = 0; i < out.size(); ++i)
              REQUIRE(out[i] == s.ur(e, d0 + uint32_t(i), r, 0));
          }
        }
      }
    }
  }
  set_simd_level(best);
}

TEST_CASE("philox_words32: every SIMD level this machine has gives the reference words") {
  const SimdLevel best = best_simd_level();
  MESSAGE("best SIMD level here: " << std::string(simd_level_name(best)));
  for (int lv = 0; lv <= int(best); ++lv) {
    set_simd_level(SimdLevel(lv));
    CHECK(simd_level() == SimdLevel(lv));
    for (int rounds : {10, 7}) {
      const Stream s = Stream::make(123, 45, 678, 9, rounds);
      for (size_t groups : {size_t(3), size_t(5), size_t(16), size_t(37), size_t(100)}) {
        for (uint64_t g0 :
             {uint64_t(0), uint64_t(5), (uint64_t(1) << 40) + 3, (uint64_t(1) << 32) - 20}) {
          std::vector<uint32_t> w(4 * groups);
          philox_words32(s, g0, 17, w.data(), groups);
          CAPTURE(lv);
          CAPTURE(groups);
          for (size_t i = 0; i < w.size(); ++i) REQUIRE(w[i] == s.u32(4 * g0 + i, 17));
        }
      }
    }
  }
  set_simd_level(best);
  CHECK(simd_level() == best);
}
