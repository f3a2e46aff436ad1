// batchnorm2d: statistics and running averages against direct formulas, eval mode, gradients by
// finite differences in binary64, shape errors.
#include <doctest/doctest.h>

#include <cmath>

#include "kernels/batchnorm.hpp"
#include "tests/kernels/test_util.hpp"

using namespace numens;
using namespace numens::kernels;
using namespace numens::testing;

TEST_CASE("batchnorm2d: training statistics, running averages, eval, gradients") {
  for (Shape s : {Shape{2, 3, 4, 5}, Shape{1, 2, 1, 3}, Shape{3, 1, 7, 2}}) {
    CAPTURE(s.str());
    const Shape cs{1, s.c, 1, 1};
    auto x = filled<double>(s, 1, 2.0), g = filled<double>(s, 2);
    auto gamma = filled<double>(cs, 3), beta = filled<double>(cs, 4);
    auto rm = filled<double>(cs, 5), rv = filled<double>(cs, 6);
    for (int64_t c = 0; c < s.c; ++c) rv.data()[c] = 1.0 + std::fabs(rv.data()[c]);
    const auto rm0 = rm.clone(), rv0 = rv.clone();
    auto mean = Tensor<double>::empty(cs), invstd = Tensor<double>::empty(cs);
    auto y = Tensor<double>::empty(s);
    BatchNormParams<double> prm;
    batchnorm2d_forward_train(ieee(), x, gamma, beta, rm, rv, mean, invstd, y, prm);
    const double m = double(s.n * s.h * s.w);
    for (int64_t c = 0; c < s.c; ++c) {
      double s1 = 0, s2 = 0;
      for (int64_t n = 0; n < s.n; ++n)
        for (int64_t i = 0; i < s.h; ++i)
          for (int64_t j = 0; j < s.w; ++j) s1 += x.at(n, c, i, j);
      const double mu = s1 / m;
      for (int64_t n = 0; n < s.n; ++n)
        for (int64_t i = 0; i < s.h; ++i)
          for (int64_t j = 0; j < s.w; ++j) s2 += (x.at(n, c, i, j) - mu) * (x.at(n, c, i, j) - mu);
      const double var = s2 / m;
      CHECK(mean.data()[c] == doctest::Approx(mu).epsilon(1e-12));
      CHECK(invstd.data()[c] == doctest::Approx(1 / std::sqrt(var + prm.eps)).epsilon(1e-12));
      CHECK(rm.data()[c] == doctest::Approx(0.9 * rm0.data()[c] + 0.1 * mu).epsilon(1e-12));
      CHECK(rv.data()[c] ==
            doctest::Approx(0.9 * rv0.data()[c] + 0.1 * var * m / (m - 1)).epsilon(1e-12));
      const double yv = (x.at(0, c, 0, 0) - mu) / std::sqrt(var + prm.eps) * gamma.data()[c] +
                        beta.data()[c];
      CHECK(y.at(0, c, 0, 0) == doctest::Approx(yv).epsilon(1e-12));
    }
    // eval uses the running statistics
    auto ye = Tensor<double>::empty(s);
    batchnorm2d_forward_eval(ieee(), x, gamma, beta, rm, rv, ye, prm);
    CHECK(ye.at(0, 0, 0, 0) == doctest::Approx((x.at(0, 0, 0, 0) - rm.data()[0]) /
                                                   std::sqrt(rv.data()[0] + prm.eps) *
                                                   gamma.data()[0] +
                                               beta.data()[0]));
    // gradients
    auto loss = [&] {
      auto rm2 = rm.clone(), rv2 = rv.clone(), mu2 = mean.clone(), is2 = invstd.clone();
      batchnorm2d_forward_train(ieee(), x, gamma, beta, rm2, rv2, mu2, is2, y, prm);
      double l = 0;
      for (int64_t i = 0; i < y.numel(); ++i) l += y.data()[i] * g.data()[i];
      return l;
    };
    loss();
    batchnorm2d_forward_train(ieee(), x, gamma, beta, rm, rv, mean, invstd, y, prm);
    auto dx = Tensor<double>::empty(s), dgamma = Tensor<double>::empty(cs),
         dbeta = Tensor<double>::empty(cs);
    batchnorm2d_backward(ieee(), g, x, gamma, mean, invstd, dx, dgamma, dbeta,
                         GradMode::overwrite);
    for (int64_t i = 0; i < x.numel(); ++i)
      CHECK(dx.data()[i] ==
            doctest::Approx(central_difference(&x.data()[i], 1e-5, loss)).epsilon(1e-6));
    for (int64_t c = 0; c < s.c; ++c) {
      CHECK(dgamma.data()[c] ==
            doctest::Approx(central_difference(&gamma.data()[c], 1e-6, loss)).epsilon(1e-8));
      CHECK(dbeta.data()[c] ==
            doctest::Approx(central_difference(&beta.data()[c], 1e-6, loss)).epsilon(1e-8));
    }
  }
  auto x1 = Tensor<float>::zeros({1, 2, 1, 1});
  auto c1 = Tensor<float>::zeros({1, 2, 1, 1});
  auto y1 = Tensor<float>::zeros({1, 2, 1, 1});
  CHECK_THROWS_WITH_AS(
      batchnorm2d_forward_train(ieee(), x1, c1, c1, c1, c1, c1, c1, y1),
      "batchnorm2d_forward_train: input [1, 2, 1, 1] has fewer than 2 values per channel; batch "
      "statistics are undefined",
      ShapeError);
  auto c3 = Tensor<float>::zeros({1, 3, 1, 1});
  auto x2 = Tensor<float>::zeros({2, 2, 2, 2}), y2 = Tensor<float>::zeros({2, 2, 2, 2});
  CHECK_THROWS_WITH_AS(batchnorm2d_forward_train(ieee(), x2, c3, c1, c1, c1, c1, c1, y2),
                       "batchnorm2d_forward_train: gamma is [1, 3, 1, 1], expected [1, 2, 1, 1]",
                       ShapeError);
}
