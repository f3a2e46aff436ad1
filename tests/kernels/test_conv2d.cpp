// conv2d: hand-computed values, shape errors, guard regions around outputs, finite-difference
// gradient checks in binary64 at awkward sizes, and the perturbed modes (close to ieee at t = 24,
// spread growing as t falls, bitwise reproducible across thread counts, members differ).
#include <doctest/doctest.h>
#include <omp.h>

#include <cmath>
#include <limits>
#include <vector>

#include "kernels/conv2d.hpp"
#include "mca/batch.hpp"
#include "mca/dispatch.hpp"
#include "tests/kernels/test_util.hpp"

using namespace numens;
using namespace numens::kernels;
using namespace numens::testing;

namespace {

// L = sum(y * g) and its gradients through the backward operators.
struct Case {
  int64_t n, c, h, w, o, k;
};
const Case kCases[] = {{1, 1, 1, 1, 1, 1}, {2, 3, 5, 7, 4, 3}, {1, 2, 4, 3, 3, 5},
                       {3, 1, 9, 2, 2, 1}, {1, 4, 6, 6, 1, 3}, {2, 2, 3, 3, 2, 5}};

double loss(const Tensor<double>& x, const Tensor<double>& w, const Tensor<double>& b,
            const Tensor<double>& g) {
  Tensor<double> y = Tensor<double>::empty(g.shape());
  conv2d_forward(ieee(), x, w, b, y);
  double s = 0;
  for (int64_t i = 0; i < y.numel(); ++i) s += y.data()[i] * g.data()[i];
  return s;
}

}  // namespace

TEST_CASE("conv2d forward: hand-computed 3x3 box filter with zero padding") {
  Tensor<float> x = Tensor<float>::empty({1, 1, 3, 3});
  for (int i = 0; i < 9; ++i) x.data()[i] = float(i + 1);  // 1..9
  Tensor<float> w = Tensor<float>::empty({1, 1, 3, 3});
  for (int i = 0; i < 9; ++i) w.data()[i] = 1.0f;
  Tensor<float> b = Tensor<float>::empty({1, 1, 1, 1});
  b.data()[0] = 0.5f;
  Tensor<float> y = Tensor<float>::empty({1, 1, 3, 3});
  conv2d_forward(ieee(), x, w, b, y);
  const float expected[9] = {12, 21, 16, 27, 45, 33, 24, 39, 28};
  for (int i = 0; i < 9; ++i) CHECK(y.data()[i] == expected[i] + 0.5f);
}

TEST_CASE("conv2d: shape errors name the op and the shapes") {
  auto x = Tensor<float>::zeros({2, 3, 5, 5}), w = Tensor<float>::zeros({4, 2, 3, 3}),
       b = Tensor<float>::zeros({1, 4, 1, 1}), y = Tensor<float>::zeros({2, 4, 5, 5});
  CHECK_THROWS_WITH_AS(conv2d_forward(ieee(), x, w, b, y),
                       "conv2d_forward: input [2, 3, 5, 5] has 3 channels, weight [4, 2, 3, 3] "
                       "expects 2",
                       ShapeError);
  auto w2 = Tensor<float>::zeros({4, 3, 2, 2});
  CHECK_THROWS_AS(conv2d_forward(ieee(), x, w2, b, y), ShapeError);
  auto w3 = Tensor<float>::zeros({4, 3, 3, 3});
  auto y2 = Tensor<float>::zeros({2, 4, 5, 4});
  CHECK_THROWS_WITH_AS(conv2d_forward(ieee(), x, w3, b, y2),
                       "conv2d_forward: output is [2, 4, 5, 4], expected [2, 4, 5, 5]", ShapeError);
  auto db = Tensor<float>::zeros({1, 3, 1, 1});
  CHECK_THROWS_AS(conv2d_backward_bias(ieee(), y, db, GradMode::overwrite), ShapeError);
  CHECK_THROWS_AS(Tensor<float>::zeros({1, -1, 2, 2}), ShapeError);
}

TEST_CASE("conv2d: outputs written exactly in bounds (guard samples around the output)") {
  for (const Case& k : kCases) {
    auto x = filled<float>({k.n, k.c, k.h, k.w}, 1), w = filled<float>({k.o, k.c, k.k, k.k}, 2),
         b = filled<float>({1, k.o, 1, 1}, 3), dy = filled<float>({k.n, k.o, k.h, k.w}, 4);
    const float guard = std::numeric_limits<float>::quiet_NaN();
    auto check_guarded = [&](Shape s, auto&& run) {
      // The output is samples [1, 1 + N) of a tensor with one guard sample on each side.
      Tensor<float> big = Tensor<float>::empty({s.n + 2, s.c, s.h, s.w});
      for (int64_t i = 0; i < big.numel(); ++i) big.data()[i] = guard;
      Tensor<float> out = big.batch_view(1, s.n);
      run(out);
      const int64_t per = s.c * s.h * s.w;
      for (int64_t i = 0; i < per; ++i) {
        REQUIRE(std::isnan(big.data()[i]));
        REQUIRE(std::isnan(big.data()[(s.n + 1) * per + i]));
      }
      for (int64_t i = 0; i < out.numel(); ++i) REQUIRE(!std::isnan(out.data()[i]));
    };
    check_guarded({k.n, k.o, k.h, k.w},
                  [&](Tensor<float>& y) { conv2d_forward(ieee(), x, w, b, y); });
    check_guarded({k.n, k.c, k.h, k.w}, [&](Tensor<float>& dx) {
      conv2d_backward_data(ieee(), dy, w, dx, GradMode::overwrite);
    });
    check_guarded({k.o, k.c, k.k, k.k}, [&](Tensor<float>& dw) {
      conv2d_backward_weight(ieee(), dy, x, dw, GradMode::overwrite);
    });
  }
}

TEST_CASE("conv2d: gradients match central finite differences in binary64") {
  for (const Case& k : kCases) {
    CAPTURE(k.n);
    CAPTURE(k.c);
    CAPTURE(k.h);
    CAPTURE(k.w);
    CAPTURE(k.o);
    CAPTURE(k.k);
    auto x = filled<double>({k.n, k.c, k.h, k.w}, 11), w = filled<double>({k.o, k.c, k.k, k.k}, 12),
         b = filled<double>({1, k.o, 1, 1}, 13), g = filled<double>({k.n, k.o, k.h, k.w}, 14);
    auto dx = Tensor<double>::zeros(x.shape()), dw = Tensor<double>::zeros(w.shape()),
         db = Tensor<double>::zeros(b.shape());
    conv2d_backward_data(ieee(), g, w, dx, GradMode::overwrite);
    conv2d_backward_weight(ieee(), g, x, dw, GradMode::overwrite);
    conv2d_backward_bias(ieee(), g, db, GradMode::overwrite);
    // L is linear in each argument, so the central difference is exact up to rounding.
    const double eps = 1e-3;
    auto fd = [&](Tensor<double>& t, int64_t i) {
      const double keep = t.data()[i];
      t.data()[i] = keep + eps;
      const double lp = loss(x, w, b, g);
      t.data()[i] = keep - eps;
      const double lm = loss(x, w, b, g);
      t.data()[i] = keep;
      return (lp - lm) / (2 * eps);
    };
    for (int64_t i = 0; i < x.numel(); ++i)
      CHECK(dx.data()[i] == doctest::Approx(fd(x, i)).epsilon(1e-9));
    for (int64_t i = 0; i < w.numel(); ++i)
      CHECK(dw.data()[i] == doctest::Approx(fd(w, i)).epsilon(1e-9));
    for (int64_t i = 0; i < b.numel(); ++i)
      CHECK(db.data()[i] == doctest::Approx(fd(b, i)).epsilon(1e-9));
    // Accumulate adds to what is there.
    auto dx2 = dx.clone();
    conv2d_backward_data(ieee(), g, w, dx2, GradMode::accumulate);
    for (int64_t i = 0; i < x.numel(); ++i)
      CHECK(dx2.data()[i] == doctest::Approx(2 * dx.data()[i]));
  }
}

namespace {
// Forward + the three gradients at a block-like shape, in one mode. With `abs_values` the inputs
// are replaced by their absolute values and the run is done in binary64: the outputs are then the
// sums of |terms| S that bound every partial sum of the reduction.
template <class T>
std::vector<double> run_all(const mca::ArithConfig& cfg, bool abs_values = false) {
  auto x = filled<T>({2, 8, 11, 13}, 21), w = filled<T>({6, 8, 5, 5}, 22, 0.2),
       b = filled<T>({1, 6, 1, 1}, 23), dy = filled<T>({2, 6, 11, 13}, 24);
  if (abs_values)
    for (auto* t : {&x, &w, &b, &dy})
      for (int64_t i = 0; i < t->numel(); ++i) t->data()[i] = std::fabs(t->data()[i]);
  auto y = Tensor<T>::empty({2, 6, 11, 13}), dx = Tensor<T>::empty(x.shape()),
       dw = Tensor<T>::empty(w.shape()), db = Tensor<T>::empty(b.shape());
  mca::with_policy(cfg, [&](auto pol) {
    conv2d_forward(pol.at(1, 0), x, w, b, y);
    conv2d_backward_data(pol.at(2, 0), dy, w, dx, GradMode::overwrite);
    conv2d_backward_weight(pol.at(3, 0), dy, x, dw, GradMode::overwrite);
    conv2d_backward_bias(pol.at(4, 0), dy, db, GradMode::overwrite);
  });
  std::vector<double> out;
  for (auto* t : {&y, &dx, &dw, &db}) out.insert(out.end(), t->data(), t->data() + t->numel());
  return out;
}
mca::ArithConfig config(mca::Mode m, int t, uint32_t member = 0) {
  mca::ArithConfig c;
  c.mode = m;
  c.t32 = t;
  c.seed = 5;
  c.member = member;
  return c;
}
// max over elements of |a - ref| / S: the error in units of the element's sum of |terms|.
double max_scaled_diff(const std::vector<double>& a, const std::vector<double>& ref,
                       const std::vector<double>& s) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - ref[i]) / s[i]);
  return m;
}
}  // namespace

TEST_CASE("conv2d perturbed: close to ieee at t = 24, spread grows as t falls, reproducible") {
  const auto ref = run_all<float>(config(mca::Mode::ieee, 24));
  const auto sums = run_all<double>(config(mca::Mode::ieee, 24), /*abs_values=*/true);
  // A-priori bound at t = 24: each of the K <= 2 * 11 * 13 = 286 multiply-adds of a reduction
  // perturbs its product and its sum by at most one ulp (2^-23 relative) of values bounded by S,
  // mca also each operand (two more), and the ieee reference has its own K roundings of half an
  // ulp: |a - ref| <= (4 + 1) K 2^-23 S.
  const double bound24 = 5.0 * 286 * std::ldexp(1.0, -23);
  const int saved = omp_get_max_threads();
  for (mca::Mode m :
       {mca::Mode::sr, mca::Mode::rr, mca::Mode::pb, mca::Mode::mca, mca::Mode::sr_equal}) {
    CAPTURE(mca::to_string(m));
    omp_set_num_threads(1);
    const auto a1 = run_all<float>(config(m, 24));
    omp_set_num_threads(2);
    const auto a2 = run_all<float>(config(m, 24));
    CHECK(a1 == a2);                                // bitwise, whatever the thread count
    CHECK(a1 != run_all<float>(config(m, 24, 1)));  // another member is another sample
    const double d24 = max_scaled_diff(a1, ref, sums);
    const double d12 = max_scaled_diff(run_all<float>(config(m, 12)), ref, sums);
    const double d8 = max_scaled_diff(run_all<float>(config(m, 8)), ref, sums);
    CAPTURE(d24);
    CAPTURE(d12);
    CAPTURE(d8);
    CHECK(d24 > 0.0);
    CHECK(d24 <= bound24);
    // The perturbation scales as 2^-t: 4096x from t = 24 to 12, 16x from 12 to 8. Checked
    // loosely (a max over elements of random errors), but growth must be clear.
    CHECK(d12 > 64 * d24);
    CHECK(d8 > 4 * d12);
  }
  omp_set_num_threads(saved);
}

template <class P>
void fast_equals_reference(const P& pol, bool specials) {
  // Sizes around the fast path's blocking: rows of 16 pixels, 6 x 16 tiles, 256-term blocks
  // (C k^2 = 7 * 25 = 175, 12 * 25 = 300 > 256), widths that are and are not multiples of 16.
  // The sr tiles are 64 outputs by 64 terms: {1, 12, 3, 70, 5, 5} crosses both (the large
  // case is left to ieee, whose reference is fast enough to compare against).
  const Case cases[] = {{1, 1, 1, 1, 1, 1},   {2, 3, 5, 7, 4, 3},   {1, 7, 16, 16, 13, 5},
                        {1, 12, 3, 70, 5, 5}, {1, 64, 8, 8, 64, 1}, {3, 5, 17, 1, 7, 3},
                        {1, 2, 1, 40, 17, 5}, {2, 12, 9, 33, 79, 5}};
  const int ncases = P::perturbed ? 7 : 8;
  auto same_bits = [](const Tensor<float>& a, const Tensor<float>& b) {
    int64_t bad = 0;
    for (int64_t i = 0; i < a.numel(); ++i) {
      const float u = a.data()[i], v = b.data()[i];
      bad += u == v || (std::isnan(u) && std::isnan(v)) ? 0 : 1;
    }
    return bad;
  };
  for (int ci = 0; ci < ncases; ++ci) {
    const Case& k = cases[ci];
    INFO("n c h w o k = ", k.n, " ", k.c, " ", k.h, " ", k.w, " ", k.o, " ", k.k);
    auto x = filled<float>({k.n, k.c, k.h, k.w}, 11), w = filled<float>({k.o, k.c, k.k, k.k}, 12),
         b = filled<float>({1, k.o, 1, 1}, 13), dy = filled<float>({k.n, k.o, k.h, k.w}, 14);
    if (specials) {
      // Lanes the SIMD rounding hands to the scalar policy: binary32 subnormal products, sums
      // binary64 cannot hold exactly (operands 2^40 apart); and, sparsely, inf and NaN.
      const float sp[] = {1e-30f, 3e-25f, 1e12f, -2e-28f};
      for (int64_t i = 0; i < x.numel(); i += 7) x.data()[i] = sp[(i / 7) % 4];
      for (int64_t i = 3; i < dy.numel(); i += 11) dy.data()[i] = sp[(i / 11) % 4];
      x.data()[x.numel() / 2] = std::numeric_limits<float>::infinity();
      dy.data()[dy.numel() / 3] = std::numeric_limits<float>::quiet_NaN();
    }
    Tensor<float> out[2][5];
    for (int impl = 0; impl < 2; ++impl) {
      set_conv2d_cpu_impl(impl == 0 ? ConvCpuImpl::fast : ConvCpuImpl::reference);
      Tensor<float>* o = out[impl];
      o[0] = Tensor<float>::empty({k.n, k.o, k.h, k.w});
      conv2d_forward(pol, x, w, b, o[0]);
      o[1] = Tensor<float>::empty(x.shape());
      conv2d_backward_data(pol, dy, w, o[1], GradMode::overwrite);
      o[2] = filled<float>(x.shape(), 15);
      conv2d_backward_data(pol, dy, w, o[2], GradMode::accumulate);
      o[3] = Tensor<float>::empty(w.shape());
      conv2d_backward_weight(pol, dy, x, o[3], GradMode::overwrite);
      o[4] = filled<float>(w.shape(), 16);
      conv2d_backward_weight(pol, dy, x, o[4], GradMode::accumulate);
    }
    set_conv2d_cpu_impl(ConvCpuImpl::fast);
    for (int i = 0; i < 5; ++i) {
      CAPTURE(i);
      CHECK(same_bits(out[0][i], out[1][i]) == 0);
    }
  }
}

// The SIMD levels this CPU has down to AVX2: the AVX-512 kernel takes the blocks it can, the AVX2
// paths the rest; forcing avx2 tests the AVX2 paths alone on an AVX-512 machine.
std::vector<mca::SimdLevel> vector_levels() {
  std::vector<mca::SimdLevel> v{mca::best_simd_level()};
  if (v[0] == mca::SimdLevel::avx512) v.push_back(mca::SimdLevel::avx2);
  return v;
}

TEST_CASE(
    "conv2d binary32 CPU fast paths compute the reference's bits: ieee, sr at t = 24, 21, 12") {
  fast_equals_reference(ieee(), false);
  for (mca::SimdLevel level : vector_levels()) {
    mca::set_simd_level(level);
    INFO("simd ", mca::simd_level_name(level));
    for (int t : {24, 21, 12}) {
      INFO("sr t = ", t);
      mca::Sr sr;
      sr.t32 = t;
      sr.stream = mca::Stream::make(5, 2, 17, 3);
      fast_equals_reference(sr, false);
      fast_equals_reference(sr, true);
    }
  }
  mca::set_simd_level(mca::best_simd_level());
}

TEST_CASE("conv2d sr fast paths with the cost options compute the reference's bits") {
  constexpr auto split = mca::FmaMode::split, fused = mca::FmaMode::fused;
  // op with r-bit draws (split, fused), tile:k with 32- and r-bit draws (k = 16 divides the
  // 64-term blocks, 7 and 100 do not), 7 Philox rounds.
  const mca::CostOptions opts[] = {{split, 16, 10, 1},  {fused, 16, 10, 1},  {fused, 8, 7, 1},
                                   {split, 32, 10, 16}, {fused, 16, 10, 16}, {split, 16, 7, 7},
                                   {fused, 32, 10, 100}};
  for (mca::SimdLevel level : vector_levels()) {
    mca::set_simd_level(level);
    INFO("simd ", mca::simd_level_name(level));
    for (const mca::CostOptions& o : opts) {
      for (int t : {24, 12}) {
        mca::ArithConfig cfg = config(mca::Mode::sr, t, 2);
        cfg.set_cost(o);
        INFO(cfg.describe());
        const mca::Sr sr = mca::make_policy<mca::Mode::sr>(cfg).at(17, 3);
        fast_equals_reference(sr, false);
        fast_equals_reference(sr, true);
      }
    }
  }
  mca::set_simd_level(mca::best_simd_level());
}

// granularity tile:k with k = the whole reduction (MCA.md v2): one tile, so each output is the
// round-to-nearest sum of its terms from +0 (what the ieee reference computes with a zero initial
// value, in the same order, padding skipped) plus one perturbed add with tile 0's draws. Checked
// against ieee convs and single policy adds, not against the tiled code itself.
template <class T>
void one_tile_equals_rn_sum_plus_one_add() {
  const int64_t n = 2, c = 3, h = 7, w = 6, o = 4, k = 3;
  auto x = filled<T>({n, c, h, w}, 11), wt = filled<T>({o, c, k, k}, 12),
       b = filled<T>({1, o, 1, 1}, 13), dy = filled<T>({n, o, h, w}, 14);
  mca::ArithConfig cfg = config(mca::Mode::sr, 12);
  cfg.t64 = 30;        // binary64 perturbed visibly too
  cfg.tile = 1 << 20;  // at least every reduction here
  const mca::Sr pol = mca::make_policy<mca::Mode::sr>(cfg);
  auto add_one = [&](T acc, T part, uint64_t element) {
    mca::Draws d = pol.draws(element, 0);
    return pol.add(acc, part, d);
  };
  {  // forward: y = SR(b + RN-sum)
    auto y = Tensor<T>::empty({n, o, h, w}), y0 = Tensor<T>::empty({n, o, h, w});
    conv2d_forward(pol, x, wt, b, y);
    conv2d_forward(ieee(), x, wt, Tensor<T>::zeros(b.shape()), y0);
    for (int64_t i = 0; i < y.numel(); ++i)
      REQUIRE(y.data()[i] == add_one(b.data()[(i / (h * w)) % o], y0.data()[i], uint64_t(i)));
  }
  {  // dgrad, accumulate: dx = SR(dx + RN-sum)
    auto dx = filled<T>(x.shape(), 15), dx0 = Tensor<T>::empty(x.shape());
    const auto init = dx.to(Device::cpu);
    conv2d_backward_data(pol, dy, wt, dx, GradMode::accumulate);
    conv2d_backward_data(ieee(), dy, wt, dx0, GradMode::overwrite);
    for (int64_t i = 0; i < dx.numel(); ++i)
      REQUIRE(dx.data()[i] == add_one(init.data()[i], dx0.data()[i], uint64_t(i)));
  }
  {  // wgrad, overwrite: dw = SR(0 + RN-sum)
    auto dw = Tensor<T>::empty(wt.shape()), dw0 = Tensor<T>::empty(wt.shape());
    conv2d_backward_weight(pol, dy, x, dw, GradMode::overwrite);
    conv2d_backward_weight(ieee(), dy, x, dw0, GradMode::overwrite);
    for (int64_t i = 0; i < dw.numel(); ++i)
      REQUIRE(dw.data()[i] == add_one(T(0), dw0.data()[i], uint64_t(i)));
  }
  {  // bgrad: the Accumulator, one tile
    auto db = Tensor<T>::empty(b.shape()), db0 = Tensor<T>::empty(b.shape());
    conv2d_backward_bias(pol, dy, db, GradMode::overwrite);
    conv2d_backward_bias(ieee(), dy, db0, GradMode::overwrite);
    for (int64_t i = 0; i < db.numel(); ++i)
      REQUIRE(db.data()[i] == add_one(T(0), db0.data()[i], uint64_t(i)));
  }
}

TEST_CASE("conv2d tile:k: one tile = RN sum + one perturbed add (fwd, dgrad, wgrad, bgrad)") {
  one_tile_equals_rn_sum_plus_one_add<float>();
  one_tile_equals_rn_sum_plus_one_add<double>();
}

TEST_CASE("conv2d cost options: reproducible at 1 and 2 threads, each option changes results") {
  std::vector<mca::ArithConfig> cfgs(5, config(mca::Mode::sr, 20));
  cfgs[1].fma = mca::FmaMode::fused;
  cfgs[2].sr_bits = 16;
  cfgs[3].rounds = 7;
  cfgs[4].tile = 16;
  std::vector<std::vector<double>> outs;
  for (const auto& cfg : cfgs) {
    CAPTURE(cfg.describe_options());
    omp_set_num_threads(1);
    const auto one = run_all<float>(cfg);
    omp_set_num_threads(2);
    const auto two = run_all<float>(cfg);
    REQUIRE(one == two);
    outs.push_back(two);
  }
  for (size_t i = 1; i < outs.size(); ++i) {
    long diff = 0;
    for (size_t j = 0; j < outs[0].size(); ++j) diff += outs[i][j] != outs[0][j];
    CAPTURE(i);
    CHECK(diff > long(outs[0].size() / 10));
  }
}
