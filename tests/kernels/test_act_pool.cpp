// prelu, maxout, max-pool and max-unpool: values, tie rules, shape errors, gradients by finite
// differences (binary64), round trips, and accumulate mode.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "kernels/activation.hpp"
#include "kernels/pool.hpp"
#include "tests/kernels/test_util.hpp"

using namespace numens;
using namespace numens::kernels;
using namespace numens::testing;

TEST_CASE("prelu: forward values and gradients (finite differences, slope included)") {
  for (Shape s : {Shape{1, 1, 1, 1}, Shape{2, 3, 5, 7}, Shape{1, 1, 91, 97}}) {
    auto x = filled<double>(s, 1), g = filled<double>(s, 2);
    double slope = 0.25;
    auto y = Tensor<double>::empty(s);
    prelu_forward(ieee(), x, slope, y);
    for (int64_t i = 0; i < x.numel(); ++i)
      REQUIRE(y.data()[i] == (x.data()[i] > 0 ? x.data()[i] : 0.25 * x.data()[i]));
    auto loss = [&] {
      prelu_forward(ieee(), x, slope, y);
      double l = 0;
      for (int64_t i = 0; i < y.numel(); ++i) l += y.data()[i] * g.data()[i];
      return l;
    };
    auto dx = Tensor<double>::empty(s);
    double dslope = 0;
    prelu_backward(ieee(), g, x, slope, dx, dslope, GradMode::overwrite);
    for (int64_t i = 0; i < std::min<int64_t>(x.numel(), 50); ++i)
      CHECK(dx.data()[i] == doctest::Approx(central_difference(&x.data()[i], 1e-6, loss)));
    CHECK(dslope == doctest::Approx(central_difference(&slope, 1e-6, loss)).epsilon(1e-8));
    double dslope2 = dslope;
    auto dx2 = dx.clone();
    prelu_backward(ieee(), g, x, slope, dx2, dslope2, GradMode::accumulate);
    CHECK(dslope2 == doctest::Approx(2 * dslope));
    CHECK(dx2.data()[0] == doctest::Approx(2 * dx.data()[0]));
  }
  auto x = Tensor<float>::zeros({1, 1, 2, 2}), y = Tensor<float>::zeros({1, 1, 2, 3});
  CHECK_THROWS_WITH_AS(prelu_forward(ieee(), x, 0.25f, y),
                       "prelu_forward: output is [1, 1, 2, 3], expected [1, 1, 2, 2]", ShapeError);
}

TEST_CASE("maxout: first input wins ties and takes the whole gradient; NaN propagates") {
  auto a = Tensor<float>::empty({1, 1, 1, 5}), b = Tensor<float>::empty({1, 1, 1, 5});
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float av[5] = {1, 2, 3, nan, 0}, bv[5] = {0, 2, 4, 1, nan};
  for (int i = 0; i < 5; ++i) {
    a.data()[i] = av[i];
    b.data()[i] = bv[i];
  }
  auto y = Tensor<float>::empty(a.shape());
  auto w = Tensor<uint8_t>::empty(a.shape());
  maxout_forward(a, b, y, w);
  CHECK(y.data()[0] == 1);
  CHECK(w.data()[0] == 0);
  CHECK(y.data()[1] == 2);
  CHECK(w.data()[1] == 0);  // tie: a
  CHECK(y.data()[2] == 4);
  CHECK(w.data()[2] == 1);
  CHECK(std::isnan(y.data()[3]));
  CHECK(std::isnan(y.data()[4]));
  auto dy = Tensor<float>::empty(a.shape());
  for (int i = 0; i < 5; ++i) dy.data()[i] = float(10 + i);
  auto da = Tensor<float>::empty(a.shape()), db = Tensor<float>::empty(a.shape());
  maxout_backward(ieee(), dy, w, da, db, GradMode::overwrite);
  for (int i = 0; i < 5; ++i) {
    CHECK(da.data()[i] == (w.data()[i] == 0 ? dy.data()[i] : 0.0f));
    CHECK(db.data()[i] == (w.data()[i] == 1 ? dy.data()[i] : 0.0f));
    CHECK(da.data()[i] + db.data()[i] == dy.data()[i]);
  }
  maxout_backward(ieee(), dy, w, da, db, GradMode::accumulate);
  CHECK(da.data()[1] == 22.0f);
  auto bad = Tensor<float>::empty({1, 1, 1, 4});
  CHECK_THROWS_AS(maxout_forward(a, bad, y, w), ShapeError);
}

TEST_CASE("maxpool2x2 / maxunpool2x2: values, indices, tie rule, odd sizes, gradients") {
  // Odd sizes drop the last row/column; ties keep the first in row-major order.
  auto x = Tensor<double>::empty({1, 1, 3, 5});
  const double xv[15] = {1, 5, 2, 2, 9, 5, 3, 2, 2, 9, 7, 7, 7, 7, 7};
  for (int i = 0; i < 15; ++i) x.data()[i] = xv[i];
  auto y = Tensor<double>::empty({1, 1, 1, 2});
  auto idx = Tensor<int32_t>::empty({1, 1, 1, 2});
  maxpool2x2_forward(x, y, idx);
  CHECK(y.data()[0] == 5);
  CHECK(idx.data()[0] == 1);  // 5 at (0,1) before the 5 at (1,0)
  CHECK(y.data()[1] == 2);
  CHECK(idx.data()[1] == 2);
  // Unpool puts values back where they came from, zeros elsewhere.
  auto up = Tensor<double>::empty(x.shape());
  maxunpool2x2_forward(y, idx, up);
  for (int i = 0; i < 15; ++i) CHECK(up.data()[i] == (i == 1 ? 5 : (i == 2 ? 2 : 0)));

  for (Shape s : {Shape{2, 3, 6, 8}, Shape{1, 2, 7, 5}, Shape{1, 1, 2, 2}}) {
    auto xin = filled<double>(s, 7);
    const Shape ps{s.n, s.c, s.h / 2, s.w / 2};
    auto yp = Tensor<double>::empty(ps);
    auto ip = Tensor<int32_t>::empty(ps);
    auto g = filled<double>(ps, 8);
    auto loss = [&] {
      maxpool2x2_forward(xin, yp, ip);
      double l = 0;
      for (int64_t i = 0; i < yp.numel(); ++i) l += yp.data()[i] * g.data()[i];
      return l;
    };
    loss();
    auto dx = Tensor<double>::empty(s);
    maxpool2x2_backward(ieee(), g, ip, dx, GradMode::overwrite);
    for (int64_t i = 0; i < xin.numel(); ++i)
      CHECK(dx.data()[i] == doctest::Approx(central_difference(&xin.data()[i], 1e-7, loss)));
    // unpool backward is the gather of the scatter: <unpool(v), w> = <v, unpool_backward(w)>
    auto v = filled<double>(ps, 9);
    auto u = Tensor<double>::empty(s);
    maxunpool2x2_forward(v, ip, u);
    auto wt = filled<double>(s, 10);
    auto gv = Tensor<double>::empty(ps);
    maxunpool2x2_backward(ieee(), wt, ip, gv, GradMode::overwrite);
    double lhs = 0, rhs = 0;
    for (int64_t i = 0; i < u.numel(); ++i) lhs += u.data()[i] * wt.data()[i];
    for (int64_t i = 0; i < v.numel(); ++i) rhs += v.data()[i] * gv.data()[i];
    CHECK(lhs == doctest::Approx(rhs));
  }
  auto ybad = Tensor<double>::empty({1, 1, 2, 2});
  auto ibad = Tensor<int32_t>::empty({1, 1, 2, 2});
  CHECK_THROWS_WITH_AS(maxpool2x2_forward(x, ybad, ibad),
                       "maxpool2x2_forward: pooled tensor is [1, 1, 2, 2], expected [1, 1, 1, 2] "
                       "for input [1, 1, 3, 5]",
                       ShapeError);
  idx.data()[0] = 15;
  CHECK_THROWS_WITH_AS(maxunpool2x2_forward(y, idx, up),
                       "maxunpool2x2_forward: index 15 outside a plane of 3 x 5", ShapeError);
  // In the plane but in another element's window: two pooled elements could then scatter to
  // the same position.
  idx.data()[0] = 3;  // (0, 3) belongs to pooled element (0, 1)
  CHECK_THROWS_WITH_AS(maxunpool2x2_forward(y, idx, up),
                       "maxunpool2x2_forward: index 3 of pooled element (0, 0) is outside its 2x2 "
                       "window",
                       ShapeError);
}
