// softmax and the CE + Dice loss: values against direct formulas in binary64, gradients by
// finite differences, label and shape errors.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "kernels/loss.hpp"
#include "tests/kernels/test_util.hpp"

using namespace numens;
using namespace numens::kernels;
using namespace numens::testing;

TEST_CASE("softmax: sums to one, matches exp/sum, backward by finite differences") {
  const Shape s{2, 5, 3, 4};
  auto z = filled<double>(s, 1, 4.0), g = filled<double>(s, 2);
  auto p = Tensor<double>::empty(s);
  softmax_forward(ieee(), z, p);
  for (int64_t n = 0; n < s.n; ++n)
    for (int64_t i = 0; i < s.h; ++i)
      for (int64_t j = 0; j < s.w; ++j) {
        double sum = 0, ez = 0;
        for (int64_t c = 0; c < s.c; ++c) ez += std::exp(z.at(n, c, i, j));
        for (int64_t c = 0; c < s.c; ++c) {
          sum += p.at(n, c, i, j);
          CHECK(p.at(n, c, i, j) == doctest::Approx(std::exp(z.at(n, c, i, j)) / ez).epsilon(1e-13));
        }
        CHECK(sum == doctest::Approx(1.0).epsilon(1e-14));
      }
  auto loss = [&] {
    softmax_forward(ieee(), z, p);
    double l = 0;
    for (int64_t i = 0; i < p.numel(); ++i) l += p.data()[i] * g.data()[i];
    return l;
  };
  loss();
  auto dz = Tensor<double>::empty(s);
  softmax_backward(ieee(), p, g, dz);
  for (int64_t i = 0; i < z.numel(); ++i)
    CHECK(dz.data()[i] == doctest::Approx(central_difference(&z.data()[i], 1e-6, loss)).epsilon(1e-7));
}

TEST_CASE("ce + dice loss: value against the formula, gradient by finite differences") {
  for (Shape s : {Shape{2, 4, 3, 5}, Shape{1, 1, 2, 2}, Shape{1, 7, 1, 9}}) {
    CAPTURE(s.str());
    const Shape ls{s.n, 1, s.h, s.w};
    auto z = filled<double>(s, 3, 3.0);
    auto w = filled<double>(ls, 4);
    for (int64_t i = 0; i < w.numel(); ++i) w.data()[i] = 1.0 + 2.0 * std::fabs(w.data()[i]);
    auto lab = Tensor<int32_t>::empty(ls);
    for (int64_t i = 0; i < lab.numel(); ++i) lab.data()[i] = int32_t((i * 7 + 3) % s.c);
    auto p = Tensor<double>::empty(s), dz = Tensor<double>::empty(s);
    const auto v = ce_dice_loss(ieee(), z, lab, w, p, dz);
    // direct formula
    const int64_t m = s.n * s.h * s.w;
    double ce = 0;
    std::vector<double> inter(size_t(s.c), 0.0), uni(size_t(s.c), 0.0);
    for (int64_t n = 0; n < s.n; ++n)
      for (int64_t i = 0; i < s.h; ++i)
        for (int64_t j = 0; j < s.w; ++j) {
          const int32_t l = lab.at(n, 0, i, j);
          ce += w.at(n, 0, i, j) * -std::log(p.at(n, l, i, j));
          for (int64_t c = 0; c < s.c; ++c) {
            inter[size_t(c)] += (c == l) ? p.at(n, c, i, j) : 0.0;
            uni[size_t(c)] += p.at(n, c, i, j) + (c == l ? 1.0 : 0.0);
          }
        }
    double dice = 0;
    for (int64_t c = 0; c < s.c; ++c) dice += 1 - 2 * inter[size_t(c)] / (uni[size_t(c)] + 0.001);
    CHECK(v.ce == doctest::Approx(ce / double(m)).epsilon(1e-12));
    CHECK(v.dice == doctest::Approx(dice / double(s.c)).epsilon(1e-12));
    CHECK(v.total == doctest::Approx(v.ce + v.dice).epsilon(1e-14));
    auto p2 = Tensor<double>::empty(s), dz2 = Tensor<double>::empty(s);
    auto loss = [&] { return double(ce_dice_loss(ieee(), z, lab, w, p2, dz2).total); };
    for (int64_t i = 0; i < z.numel(); ++i)
      CHECK(dz.data()[i] == doctest::Approx(central_difference(&z.data()[i], 1e-6, loss)).epsilon(1e-7));
  }
}

TEST_CASE("ce + dice loss: labels outside the classes and shape errors") {
  auto z = Tensor<float>::zeros({1, 3, 2, 2}), p = Tensor<float>::zeros({1, 3, 2, 2}),
       dz = Tensor<float>::zeros({1, 3, 2, 2}), w = Tensor<float>::zeros({1, 1, 2, 2});
  auto lab = Tensor<int32_t>::zeros({1, 1, 2, 2});
  lab.data()[3] = 3;
  CHECK_THROWS_WITH_AS(ce_dice_loss(ieee(), z, lab, w, p, dz),
                       "ce_dice_loss: label 3 at pixel 3 is outside [0, 3)", ShapeError);
  lab.data()[3] = -1;
  CHECK_THROWS_AS(ce_dice_loss(ieee(), z, lab, w, p, dz), ShapeError);
  auto lab2 = Tensor<int32_t>::zeros({1, 1, 2, 3});
  CHECK_THROWS_WITH_AS(ce_dice_loss(ieee(), z, lab2, w, p, dz),
                       "ce_dice_loss: labels is [1, 1, 2, 3], expected [1, 1, 2, 2]", ShapeError);
}

TEST_CASE("ce + dice loss: a label logit far below the maximum keeps the loss finite (log-sum-exp)") {
  // Pixel 0's label logit is 200 below the others: its probability underflows to 0 in binary32,
  // so -log p would be inf; the log-sum-exp form gives lse - z = log(2 + e^-200) + 200.
  auto z = Tensor<float>::zeros({1, 3, 1, 2}), p = Tensor<float>::zeros({1, 3, 1, 2}),
       dz = Tensor<float>::zeros({1, 3, 1, 2}), w = Tensor<float>::zeros({1, 1, 1, 2});
  auto lab = Tensor<int32_t>::zeros({1, 1, 1, 2});
  z.data()[0] = -200.0f;  // class 0, pixel 0
  w.data()[0] = 1.0f;
  w.data()[1] = 1.0f;
  lab.data()[1] = 1;  // pixel 1: uniform logits, label 1
  const double ce0 = std::log(2.0) + 200.0, ce1 = std::log(3.0);
  const double want = (ce0 + ce1) / 2;  // (1/M) sum w (lse - z)
  const auto v = ce_dice_loss(ieee(), z, lab, w, p, dz);
  CHECK(std::isfinite(v.ce));
  CHECK(double(v.ce) == doctest::Approx(want).epsilon(1e-6));
  CHECK(p.data()[0] == 0.0f);  // the underflow the old form took the log of
  for (int64_t i = 0; i < dz.numel(); ++i) CHECK(std::isfinite(dz.data()[i]));
  mca::Sr sr;
  sr.stream = mca::Stream::make(3, 1, 9, 0);
  const auto vs = ce_dice_loss(sr, z, lab, w, p, dz);
  CHECK(std::isfinite(vs.ce));
  CHECK(double(vs.ce) == doctest::Approx(want).epsilon(1e-5));
}
