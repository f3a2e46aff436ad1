// The AVX-512 sr conv kernel (kernels/conv2d_sr512.hpp) against the scalar policy written out term
// by term, on one block of 64 outputs: every kind it takes (exact contract at t = 24, 21, 12;
// r-bit draws split and fused at r = 16 and 9; 7 rounds), partial tiles, padding terms, -0
// accumulators, data made to hit the r-bit rule's half-way patterns, and the blocks it must
// refuse (leaving acc untouched). Skipped where the CPU has no AVX-512.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/conv2d_sr512.hpp"
#include "mca/accumulate.hpp"
#include "mca/batch.hpp"
#include "mca/config.hpp"
#include "mca/dispatch.hpp"

using namespace numens;
namespace sr512 = numens::kernels::detail::sr512;

namespace {

constexpr int kL = sr512::kLanes, kT = sr512::kTerms;

struct Block {
  std::vector<float> panel = std::vector<float>(size_t(kT * kL));  // [q][l]
  std::vector<uint64_t> valid = std::vector<uint64_t>(size_t(kT));
  std::vector<float> s = std::vector<float>(size_t(kT));
  std::vector<float> acc = std::vector<float>(size_t(kL));
};

// Random operands. `tie_bits` > 0: weights with that many significant bits times binary32 values
// with odd significands, so that the exact products (and many sums) end exactly half-way in the
// r-bit field (their lowest bit t + r places below the leading one: tie_bits = t + r - 22), the
// case the fast form must hand to the exact rule. That decides a rounding only where the draw
// equals the truncated r-bit fraction (probability 2^-r), hence small r in the tie cases.
// `grid_acc`: initial accumulators on every t-bit grid (t >= 11) and none -0, the case where the
// kernel leaves the padding terms unmasked; otherwise some are -0 and some off the grid at t < 24.
Block make_block(uint32_t seed, int cnt, int tie_bits, bool grid_acc = false) {
  const bool ties = tie_bits > 0;
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> uni(-2.0f, 2.0f);
  std::uniform_int_distribution<uint32_t> bits(0, 0xFFFFFFFFu);
  Block b;
  for (int q = 0; q < kT; ++q) {
    uint64_t v = bits(gen) | (uint64_t(bits(gen)) << 32);
    v |= bits(gen) % 4 == 0 ? ~uint64_t(0) : 0;  // a quarter of the terms real for every lane
    if (q % 17 == 5) v = 0;                      // a term that is padding for every lane
    b.valid[size_t(q)] = cnt == 64 ? v : v & ((uint64_t(1) << cnt) - 1);
    if (ties) {
      const uint32_t top = uint32_t(1) << (tie_bits - 1);
      const float m = float(top | (bits(gen) & (top - 1)) | 1u);
      b.s[size_t(q)] =
          std::ldexp(m, -tie_bits - int(bits(gen) % 4)) * (bits(gen) & 1 ? 1.0f : -1.0f);
    } else {
      b.s[size_t(q)] = uni(gen) * 0.1f;
    }
    for (int l = 0; l < kL; ++l) {
      float x = uni(gen);
      if (ties) {
        uint32_t u;
        std::memcpy(&u, &x, 4);
        u |= 1u;  // odd significand
        std::memcpy(&x, &u, 4);
      }
      const bool real = (b.valid[size_t(q)] >> l) & 1;
      b.panel[size_t(q * kL + l)] = l < cnt && real ? x : 0.0f;  // padding and unused lanes: 0
    }
  }
  std::uniform_int_distribution<int> ints(-1000, 1000);
  for (int l = 0; l < kL; ++l)
    b.acc[size_t(l)] = grid_acc      ? float(ints(gen)) / 1024.0f
                       : l % 13 == 7 ? -0.0f
                                     : uni(gen) * 0.3f;
  return b;
}

// What the reference computes for lane l: terms in order, padding skipped.
float reference_lane(const mca::Sr& pol, const Block& b, uint64_t q0, uint64_t e, int l) {
  float a = b.acc[size_t(l)];
  for (int q = 0; q < kT; ++q) {
    if (!((b.valid[size_t(q)] >> l) & 1)) continue;
    const uint32_t draw = uint32_t((q0 + uint64_t(q)) * mca::Sr::kFmaDraws);
    const float w = b.s[size_t(q)], x = b.panel[size_t(q * kL + l)];
    if (pol.fused) {
      mca::Draws d = pol.draws(e, draw);
      a = pol.fma_fused(w, x, a, d);
    } else {
      mca::Draws dm = pol.draws(e, draw), da = pol.draws(e, draw + 1);
      a = pol.add(pol.mul(w, x, dm), a, da);
    }
  }
  return a;
}

// One arithmetic: t, fma, sr_bits, rounds, granularity (1 = op, k = tile:k).
struct Opt {
  int t;
  mca::FmaMode fma;
  int r, rounds, k = 1;
};
constexpr auto split = mca::FmaMode::split, fused = mca::FmaMode::fused;

mca::Sr policy(const Opt& o) {
  mca::ArithConfig cfg;
  cfg.mode = mca::Mode::sr;
  cfg.t32 = o.t;
  cfg.seed = 11;
  cfg.member = 3;
  cfg.set_cost({o.fma, o.r, o.rounds, o.k});
  return mca::make_policy<mca::Mode::sr>(cfg).at(23, 7);
}

// Selects the AVX-512 level; false (and says so) where the CPU has none.
bool use_avx512() {
  if (mca::best_simd_level() != mca::SimdLevel::avx512) {
    MESSAGE("no AVX-512 on this CPU: kernel not tested here");
    return false;
  }
  mca::set_simd_level(mca::SimdLevel::avx512);
  return true;
}

int64_t run_and_compare(const mca::Sr& pol, const Block& b, uint64_t q0, uint64_t e0, int cnt) {
  sr512::Panel p;
  sr512::prepare(pol, b.panel.data(), b.valid.data(), kT, p);
  std::vector<float> acc = b.acc;
  const bool taken = sr512::terms(pol, p, b.s.data(), q0, e0, cnt, acc.data());
  CHECK(taken);
  int64_t bad = 0;
  for (int l = 0; l < cnt; ++l) {
    const float want = reference_lane(pol, b, q0, e0 + uint64_t(l), l);
    if (std::memcmp(&want, &acc[size_t(l)], 4) != 0) ++bad;
  }
  for (int l = cnt; l < kL; ++l) bad += acc[size_t(l)] == b.acc[size_t(l)] ? 0 : 1;  // untouched
  return bad;
}

}  // namespace

TEST_CASE("conv2d sr AVX-512 kernel computes the scalar policy's bits") {
  if (!use_avx512()) return;
  const Opt opts[] = {{24, split, 32, 10}, {21, split, 32, 10}, {12, split, 32, 10},
                      {24, split, 32, 7},  {24, split, 16, 10}, {24, fused, 16, 10},
                      {12, fused, 16, 10}, {12, split, 16, 7},  {24, fused, 9, 10},
                      {20, split, 9, 10},  {24, split, 9, 10},  {16, fused, 9, 7}};
  for (const Opt& o : opts) {
    const mca::Sr pol = policy(o);
    CAPTURE(o.t);
    CAPTURE(o.r);
    CAPTURE(int(o.fma));
    CAPTURE(o.rounds);
    REQUIRE(sr512::available(pol));
    for (int cnt : {64, 40, 8}) {
      for (bool ties : {false, true}) {
        if (ties && o.r == 32) continue;  // no half-way rule under the 32-bit rule
        CAPTURE(cnt);
        CAPTURE(ties);
        const int tie_bits = ties ? o.t + o.r - 22 : 0;
        for (int rep = 0; rep < (ties ? 6 : 2); ++rep) {
          const Block b =
              make_block(uint32_t(cnt * 7 + o.t + 1000 * rep), cnt, tie_bits, rep % 2 == 1);
          // e0 a multiple of 64; q0 past the first block; a group number above 2^32
          CHECK(run_and_compare(pol, b, 128, 64 * 37, cnt) == 0);
          CHECK(run_and_compare(pol, b, 64 * 5, (uint64_t(1) << 36) + 64, cnt) == 0);
        }
      }
    }
  }
  mca::set_simd_level(mca::best_simd_level());
}

TEST_CASE("conv2d sr AVX-512 kernel refuses the blocks it cannot take, acc untouched") {
  if (!use_avx512()) return;
  const mca::Sr exact = policy({24, split, 32, 10});
  const mca::Sr fused_r16 = policy({24, fused, 16, 10});
  auto refused = [](const mca::Sr& pol, const Block& b, uint64_t e0) {
    sr512::Panel p;
    sr512::prepare(pol, b.panel.data(), b.valid.data(), kT, p);
    std::vector<float> acc = b.acc;
    const bool taken = sr512::terms(pol, p, b.s.data(), 0, e0, kL, acc.data());
    return !taken && std::memcmp(acc.data(), b.acc.data(), sizeof(float) * kL) == 0;
  };
  const Block base = make_block(5, kL, 0);
  CHECK(!refused(exact, base, 0));     // the base block is taken
  CHECK(refused(exact, base, 2));      // e0 not a multiple of the block's draws (4)
  CHECK(refused(fused_r16, base, 4));  // ... of 8
  Block tiny = base;
  tiny.panel[100] = 1e-30f;  // a product below binary32's normal range
  tiny.valid[100 / kL] |= uint64_t(1) << (100 % kL);
  CHECK(refused(exact, tiny, 0));
  Block nan = base;
  nan.s[3] = std::nanf("");
  CHECK(refused(exact, nan, 0));
  Block big = base;
  big.acc[9] = 1e35f;  // beyond the accumulator bound
  CHECK(refused(exact, big, 0));
  // the exact contract needs exact binary64 sums: 2^40 next to a product of ~0.1
  Block inexact = base;
  inexact.acc[17] = 0x1p40f;
  CHECK(refused(exact, inexact, 0));
  // ... which the r-bit rule handles through the error term
  CHECK(!refused(fused_r16, inexact, 0));
  // fused: w x + acc cancelling to 2^-140, below binary32's normal range, where the policy's grid
  // is the subnormal one and the pattern rounding would not be
  Block cancel = base;
  cancel.s[0] = 0x1p-60f * (1.0f + 0x1p-20f);
  cancel.panel[0] = 0x1p-60f;
  cancel.valid[0] |= 1;
  cancel.acc[0] = -0x1p-120f;
  CHECK(refused(fused_r16, cancel, 0));
  mca::set_simd_level(mca::best_simd_level());
}

namespace {

// The reference's tile:k semantics (kernels/conv2d_impl.hpp's ConvTiles) for lane l: real terms
// into the partial sum in round to nearest, a perturbed add of the partial at every tile end
// (positional tiles over the whole reduction of Q terms) and after term Q - 1.
void reference_tile_lane(const mca::Sr& pol, const Block& b, const float* w, uint64_t q0,
                         uint64_t Q, uint64_t e, int l, float& acc, float& part) {
  const uint64_t k = uint64_t(pol.tile);
  for (int q = 0; q < kT; ++q) {
    if ((b.valid[size_t(q)] >> l) & 1)
      part = mca::tile_fma(pol.fused, w[q], b.panel[size_t(q * kL + l)], part);
    const uint64_t pos = q0 + uint64_t(q);
    if ((pos + 1) % k == 0 || pos + 1 == Q) {
      mca::Draws d = pol.draws(e, uint32_t((pos / k) * mca::Sr::kFmaDraws));
      acc = pol.add(acc, part, d);
      part = 0.0f;
    }
  }
}

}  // namespace

TEST_CASE("conv2d sr AVX-512 tile:k kernel computes the reference's bits") {
  if (!use_avx512()) return;
  // tile sizes that divide the 64-term block (16) and that do not (7, 5, 100)
  const Opt opts[] = {{24, split, 32, 10, 16}, {24, fused, 32, 10, 7},  {12, split, 32, 7, 16},
                      {21, fused, 16, 10, 16}, {24, split, 9, 10, 100}, {16, fused, 16, 7, 5}};
  for (const Opt& o : opts) {
    const mca::Sr pol = policy(o);
    CAPTURE(o.t);
    CAPTURE(o.r);
    CAPTURE(int(o.fma));
    CAPTURE(o.k);
    REQUIRE(sr512::available(pol));
    for (int rows : {4, 3, 1}) {
      for (int cnt : {64, 24}) {
        CAPTURE(rows);
        CAPTURE(cnt);
        const Block b = make_block(uint32_t(rows * 100 + cnt + o.k), cnt, 0);
        const int64_t e_stride = 64 * 9;
        // the reduction ends with this block, or 26 terms after it
        const uint64_t q0 = 64 * 3, Q = q0 + (cnt == 64 ? 64 : 90), e0 = 64 * 11;
        // per row: its own weights, accumulators and carried partial sums; lane 5 of row 0 holds
        // 2^30 with tiny products, so its sums are inexact in binary64 (the 32-bit rule hands
        // them to the scalar policy, visibly: a negative partial rounds 2^30 down to 2^30 - 64)
        std::vector<float> w(size_t(rows * kT)), acc(size_t(rows * 70)), part(size_t(rows * kL));
        for (int r = 0; r < rows; ++r)
          for (int q = 0; q < kT; ++q) w[size_t(r * kT + q)] = b.s[size_t(q)] * float(r + 1);
        for (size_t i = 0; i < acc.size(); ++i) acc[i] = b.acc[i % kL] + float(i % 3);
        for (size_t i = 0; i < part.size(); ++i) part[i] = b.acc[(i * 7) % kL] * 0.01f;
        Block bb = b;
        if (cnt > 5) {
          acc[5] = 0x1p30f;
          for (int q = 0; q < kT; ++q) bb.panel[size_t(q * kL + 5)] *= 0x1p-40f;
        }
        sr512::Panel p;
        sr512::prepare(pol, bb.panel.data(), bb.valid.data(), kT, p);
        std::vector<float> got_acc = acc, got_part = part;
        REQUIRE(sr512::tile_terms(pol, p, rows, w.data(), kT, q0, Q, e0, uint64_t(e_stride), cnt,
                                  got_acc.data(), 70, got_part.data()));
        int64_t bad = 0;
        for (int r = 0; r < rows; ++r)
          for (int l = 0; l < kL; ++l) {
            float a = acc[size_t(r * 70 + l)], pt = part[size_t(r * kL + l)];
            reference_tile_lane(pol, bb, w.data() + r * kT, q0, Q, e0 + uint64_t(r * e_stride + l),
                                l, a, pt);
            if (l < cnt && std::memcmp(&a, &got_acc[size_t(r * 70 + l)], 4) != 0) ++bad;
            if (l >= cnt && acc[size_t(r * 70 + l)] != got_acc[size_t(r * 70 + l)]) ++bad;
            if (l < cnt && std::memcmp(&pt, &got_part[size_t(r * kL + l)], 4) != 0) ++bad;
          }
        CHECK(bad == 0);
      }
    }
  }
  mca::set_simd_level(mca::best_simd_level());
}
