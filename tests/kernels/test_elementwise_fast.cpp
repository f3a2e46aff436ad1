// The SIMD paths of the perturbed element-wise kernels (kernels/elementwise_fast.hpp) compute the
// element functors' bits: batch norm forward (train and eval) and backward, PReLU forward and
// backward, sr binary32, over the cost options the paths take, with values that send lanes to
// the scalar policy.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <utility>

#include "kernels/activation.hpp"
#include "kernels/batchnorm.hpp"
#include "kernels/elementwise.hpp"
#include "kernels/loss.hpp"
#include "kernels/optim.hpp"
#include "mca/config.hpp"
#include "mca/dispatch.hpp"
#include "mca/sr_lanes.hpp"
#include "tests/kernels/test_util.hpp"

using namespace numens;
using namespace numens::kernels;
using namespace numens::testing;

namespace {

int64_t differing_bits(const Tensor<float>& a, const Tensor<float>& b) {
  int64_t bad = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const float u = a.data()[i], v = b.data()[i];
    bad += u == v || (std::isnan(u) && std::isnan(v)) ? 0 : 1;
  }
  return bad;
}

// Lanes the SIMD rounding hands to the scalar policy: values far below the others (sums binary64
// cannot hold exactly under the exact contract), binary32 subnormals, zeros; sparsely inf and NaN.
void add_specials(Tensor<float>& x, int every, int64_t first) {
  const float sp[] = {1e-30f, 3e-41f, 1e12f, -2e-28f, 0.0f, -0.0f};
  for (int64_t i = first; i < x.numel(); i += every) x.data()[i] = sp[(i / every) % 6];
  x.data()[x.numel() / 2] = std::numeric_limits<float>::infinity();
  x.data()[x.numel() / 3] = std::numeric_limits<float>::quiet_NaN();
}

void batchnorm_fast_equals_reference(const mca::Sr& pol, bool specials) {
  // planes below, at and above a run of 256, not multiples of 4 (the functor takes the tails)
  for (Shape s : {Shape{2, 3, 5, 7}, Shape{1, 2, 16, 16}, Shape{2, 3, 17, 19}, Shape{1, 1, 1, 2}}) {
    CAPTURE(s.str());
    const Shape cs{1, s.c, 1, 1};
    auto x = filled<float>(s, 21, 2.0), dy = filled<float>(s, 22);
    if (specials) {
      add_specials(x, 13, 5);
      add_specials(dy, 11, 2);
    }
    auto gamma = filled<float>(cs, 23), beta = filled<float>(cs, 24);
    Tensor<float> out[2][12];
    for (int impl = 0; impl < 2; ++impl) {
      set_elementwise_cpu_impl(impl == 0 ? ElementwiseCpuImpl::fast
                                         : ElementwiseCpuImpl::reference);
      Tensor<float>* o = out[impl];
      o[0] = filled<float>(cs, 25);  // running mean
      o[1] = filled<float>(cs, 26);  // running var
      for (int64_t c = 0; c < s.c; ++c) o[1].data()[c] = 1.0f + std::fabs(o[1].data()[c]);
      o[2] = Tensor<float>::empty(cs);
      o[3] = Tensor<float>::empty(cs);
      o[4] = Tensor<float>::empty(s);
      BatchNormParams<float> prm;
      batchnorm2d_forward_train(pol, x, gamma, beta, o[0], o[1], o[2], o[3], o[4], prm);
      o[5] = Tensor<float>::empty(s);
      batchnorm2d_forward_eval(pol, x, gamma, beta, o[0], o[1], o[5], prm);
      o[6] = Tensor<float>::empty(s);
      o[8] = Tensor<float>::empty(cs);
      o[9] = Tensor<float>::empty(cs);
      batchnorm2d_backward(pol, dy, x, gamma, o[2], o[3], o[6], o[8], o[9], GradMode::overwrite);
      o[7] = filled<float>(s, 27);
      o[10] = filled<float>(cs, 28);
      o[11] = filled<float>(cs, 29);
      batchnorm2d_backward(pol, dy, x, gamma, o[2], o[3], o[7], o[10], o[11], GradMode::accumulate);
    }
    set_elementwise_cpu_impl(ElementwiseCpuImpl::fast);
    for (int i = 0; i < 12; ++i) {
      CAPTURE(i);
      CHECK(differing_bits(out[0][i], out[1][i]) == 0);
    }
  }
}

void prelu_fast_equals_reference(const mca::Sr& pol, bool specials) {
  for (Shape s : {Shape{1, 1, 1, 3}, Shape{2, 3, 5, 7}, Shape{1, 4, 16, 17}}) {
    CAPTURE(s.str());
    auto x = filled<float>(s, 31), dy = filled<float>(s, 32);
    if (specials) {
      add_specials(x, 7, 1);
      add_specials(dy, 5, 3);
    }
    for (int i = 0; i < 12 && i < x.numel(); ++i)
      x.data()[i] = 0.5f + float(i);  // all-positive quads
    Tensor<float> out[2][3];
    float ds[2][2];
    for (int impl = 0; impl < 2; ++impl) {
      set_elementwise_cpu_impl(impl == 0 ? ElementwiseCpuImpl::fast
                                         : ElementwiseCpuImpl::reference);
      Tensor<float>* o = out[impl];
      o[0] = Tensor<float>::empty(s);
      prelu_forward(pol, x, 0.25f, o[0]);
      o[1] = Tensor<float>::empty(s);
      ds[impl][0] = 0.0f;
      prelu_backward(pol, dy, x, 0.3f, o[1], ds[impl][0], GradMode::overwrite);
      o[2] = filled<float>(s, 33);
      ds[impl][1] = 0.125f;
      prelu_backward(pol, dy, x, 0.3f, o[2], ds[impl][1], GradMode::accumulate);
    }
    set_elementwise_cpu_impl(ElementwiseCpuImpl::fast);
    for (int i = 0; i < 3; ++i) {
      CAPTURE(i);
      CHECK(differing_bits(out[0][i], out[1][i]) == 0);
    }
    for (int i = 0; i < 2; ++i)
      CHECK((ds[0][i] == ds[1][i] || (std::isnan(ds[0][i]) && std::isnan(ds[1][i]))));
  }
}

void loss_fast_equals_reference(const mca::Sr& pol, bool specials) {
  // classes below and above a tile of 16 (a last, shorter tile), planes with a tail of pixels and
  // planes longer than a 64-pixel run
  for (Shape s : {Shape{2, 3, 5, 7}, Shape{1, 35, 9, 10}, Shape{2, 17, 13, 11}}) {
    CAPTURE(s.str());
    auto logits = filled<float>(s, 41, 4.0);
    if (specials) add_specials(logits, 17, 4);
    auto labels = Tensor<int32_t>::empty({s.n, 1, s.h, s.w});
    auto weights = filled<float>({s.n, 1, s.h, s.w}, 42);
    for (int64_t i = 0; i < labels.numel(); ++i) {
      labels.data()[i] = int32_t((i * 7 + i / 3) % s.c);
      weights.data()[i] = 0.5f + std::fabs(weights.data()[i]);
    }
    Tensor<float> out[2][3];
    LossValue<float> lv[2];
    for (int impl = 0; impl < 2; ++impl) {
      set_elementwise_cpu_impl(impl == 0 ? ElementwiseCpuImpl::fast
                                         : ElementwiseCpuImpl::reference);
      Tensor<float>* o = out[impl];
      o[0] = Tensor<float>::empty(s);
      softmax_forward(pol, logits, o[0]);
      o[1] = Tensor<float>::empty(s);
      o[2] = Tensor<float>::empty(s);
      lv[impl] = ce_dice_loss(pol, logits, labels, weights, o[1], o[2]);
    }
    set_elementwise_cpu_impl(ElementwiseCpuImpl::fast);
    for (int i = 0; i < 3; ++i) {
      CAPTURE(i);
      CHECK(differing_bits(out[0][i], out[1][i]) == 0);
    }
    auto same = [](float a, float b) { return a == b || (std::isnan(a) && std::isnan(b)); };
    CHECK(same(lv[0].ce, lv[1].ce));
    CHECK(same(lv[0].dice, lv[1].dice));
    CHECK(same(lv[0].total, lv[1].total));
  }
}

void flat_fast_equals_reference(const mca::Sr& pol, bool specials) {
  for (Shape s : {Shape{1, 1, 1, 3}, Shape{2, 3, 5, 7}, Shape{1, 4, 16, 17}}) {
    CAPTURE(s.str());
    auto x = filled<float>(s, 51), y0 = filled<float>(s, 52), dy = filled<float>(s, 53);
    auto m0 = filled<float>(s, 54, 0.1), v0 = filled<float>(s, 55, 0.01);
    for (int64_t i = 0; i < v0.numel(); ++i) v0.data()[i] = std::fabs(v0.data()[i]);
    if (specials) {
      add_specials(x, 7, 1);
      add_specials(dy, 5, 3);
    }
    auto winner = Tensor<uint8_t>::empty(s);
    for (int64_t i = 0; i < winner.numel(); ++i) winner.data()[i] = uint8_t((i * 5 / 3) & 1);
    constexpr int kOut = 13;
    Tensor<float> out[2][kOut];
    for (int impl = 0; impl < 2; ++impl) {
      set_elementwise_cpu_impl(impl == 0 ? ElementwiseCpuImpl::fast
                                         : ElementwiseCpuImpl::reference);
      Tensor<float>* o = out[impl];
      o[0] = y0.clone();
      add_inplace(pol, o[0], x);
      o[1] = x.clone();
      scale_inplace(pol, o[1], 0.3f);
      o[2] = Tensor<float>::empty(s);
      o[3] = Tensor<float>::empty(s);
      maxout_backward(pol, dy, winner, o[2], o[3], GradMode::overwrite);
      o[4] = y0.clone();
      o[5] = x.clone();
      maxout_backward(pol, dy, winner, o[4], o[5], GradMode::accumulate);
      // AdamW, Adam with L2 decay, Adam without decay: parameters, moments
      for (int a = 0; a < 2; ++a) {
        AdamParams prm;
        prm.lr = 0.01;
        prm.weight_decay = a == 0 ? 0.01 : 0.001;
        prm.decoupled = a == 0;
        Tensor<float>* q = o + 6 + 3 * a;
        q[0] = y0.clone();
        q[1] = m0.clone();
        q[2] = v0.clone();
        adam_step(pol, q[0].data(), x.data(), q[1].data(), q[2].data(), s.numel(), 3 + a, prm);
      }
      AdamParams plain;
      plain.weight_decay = 0.0;
      plain.decoupled = false;
      o[12] = y0.clone();
      auto mm = m0.clone(), vv = v0.clone();
      adam_step(pol, o[12].data(), x.data(), mm.data(), vv.data(), s.numel(), 7, plain);
    }
    set_elementwise_cpu_impl(ElementwiseCpuImpl::fast);
    for (int i = 0; i < kOut; ++i) {
      CAPTURE(i);
      CHECK(differing_bits(out[0][i], out[1][i]) == 0);
    }
  }
}

}  // namespace

TEST_CASE("element-wise sr binary32 SIMD paths compute the functors' bits, every cost option") {
  constexpr auto split = mca::FmaMode::split, fused = mca::FmaMode::fused;
  // t = 24 and 21 round with the draw shifted right, 12 and 8 shifted left; 32-, 16- and 8-bit
  // draws, split and fused (fused only with r-bit draws), 7 rounds, tile:16 (BN statistics).
  const std::pair<int, mca::CostOptions> opts[] = {
      {24, {split, 32, 10, 1}}, {21, {split, 32, 10, 1}},  {12, {split, 32, 10, 1}},
      {24, {split, 16, 10, 1}}, {24, {fused, 16, 10, 16}}, {8, {fused, 8, 7, 1}},
      {12, {split, 16, 7, 16}}, {24, {fused, 16, 10, 1}}};
  for (const auto& [t, o] : opts) {
    mca::ArithConfig cfg;
    cfg.mode = mca::Mode::sr;
    cfg.t32 = t;
    cfg.seed = 9;
    cfg.member = 4;
    cfg.set_cost(o);
    INFO(cfg.describe());
    const mca::Sr sr = mca::make_policy<mca::Mode::sr>(cfg).at(31, 5);
#if defined(__AVX2__) && defined(__FMA__)
    REQUIRE(mca::simd::SrLanes::applies(sr));  // else this would compare the functor with itself
#endif
    batchnorm_fast_equals_reference(sr, false);
    batchnorm_fast_equals_reference(sr, true);
    prelu_fast_equals_reference(sr, false);
    prelu_fast_equals_reference(sr, true);
    loss_fast_equals_reference(sr, false);
    loss_fast_equals_reference(sr, true);
    flat_fast_equals_reference(sr, false);
    flat_fast_equals_reference(sr, true);
  }
}

#if defined(__AVX2__) && defined(__FMA__)
TEST_CASE("SrLanes: where the SIMD rules do not apply, the kernels keep the functors") {
  mca::Sr sr;
  sr.t32 = 24;
  CHECK(mca::simd::SrLanes::applies(sr));
  sr.fused = true;  // fused under the exact contract: binary64 seldom holds a * b + c
  CHECK_FALSE(mca::simd::SrLanes::applies(sr));
  sr.sr_bits = 30;  // t + r = 54: no bit below the r-bit field
  CHECK_FALSE(mca::simd::SrLanes::applies(sr));
  sr.sr_bits = 28;
  CHECK(mca::simd::SrLanes::applies(sr));
}
#endif
