// Element-wise helpers: scaling (exact for powers of two even under sr), concatenation along
// channels and its inverse split, shape errors.
#include <doctest/doctest.h>

#include "kernels/elementwise.hpp"
#include "tests/kernels/test_util.hpp"

using namespace numens;
using namespace numens::kernels;
using namespace numens::testing;

TEST_CASE("scale_inplace: values; a power of two is exact under sr, other factors perturb") {
  const auto x0 = filled<float>({2, 3, 4, 5}, 11);
  auto x = x0.clone();
  scale_inplace(ieee(), x, 3.0f);
  for (int64_t i = 0; i < x.numel(); ++i) REQUIRE(x.data()[i] == 3.0f * x0.data()[i]);
  mca::Sr sr;
  sr.stream = mca::Stream::make(1, 2);
  auto xs = x0.clone();
  scale_inplace(sr, xs, 0.5f);
  for (int64_t i = 0; i < x.numel(); ++i) REQUIRE(xs.data()[i] == 0.5f * x0.data()[i]);
  // 0.1 is inexact: SR must move some products off round-to-nearest (120 elements, each with
  // a rounding probability bounded away from 0 and 1 for random mantissas).
  auto xr = x0.clone();
  scale_inplace(sr, xr, 0.1f);
  int differ = 0;
  for (int64_t i = 0; i < x.numel(); ++i) differ += xr.data()[i] != 0.1f * x0.data()[i];
  CHECK(differ > 0);
}

TEST_CASE("add_inplace: sum, shape error") {
  const auto x = filled<double>({1, 2, 3, 4}, 3), y0 = filled<double>({1, 2, 3, 4}, 4);
  auto y = y0.clone();
  add_inplace(ieee(), y, x);
  for (int64_t i = 0; i < y.numel(); ++i) REQUIRE(y.data()[i] == y0.data()[i] + x.data()[i]);
  auto z = Tensor<double>::empty({1, 2, 3, 5});
  CHECK_THROWS_WITH_AS(add_inplace(ieee(), z, x),
                       "add_inplace: addend is [1, 2, 3, 4], expected [1, 2, 3, 5]", ShapeError);
}

TEST_CASE("concat_channels / split_channels: placement, round trip, shape errors") {
  const auto a = filled<double>({2, 3, 4, 5}, 1), b = filled<double>({2, 2, 4, 5}, 2);
  auto y = Tensor<double>::empty({2, 5, 4, 5});
  concat_channels(a, b, y);
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t c = 0; c < 5; ++c)
      for (int64_t i = 0; i < 4; ++i)
        for (int64_t j = 0; j < 5; ++j)
          REQUIRE(y.at(n, c, i, j) == (c < 3 ? a.at(n, c, i, j) : b.at(n, c - 3, i, j)));
  auto da = Tensor<double>::empty(a.shape()), db = Tensor<double>::empty(b.shape());
  split_channels(y, da, db);
  for (int64_t i = 0; i < a.numel(); ++i) REQUIRE(da.data()[i] == a.data()[i]);
  for (int64_t i = 0; i < b.numel(); ++i) REQUIRE(db.data()[i] == b.data()[i]);
  auto bad = Tensor<double>::empty({2, 4, 4, 5});
  CHECK_THROWS_WITH_AS(concat_channels(a, b, bad),
                       "concat_channels: joined tensor is [2, 4, 4, 5], expected [2, 5, 4, 5]",
                       ShapeError);
  auto b2 = Tensor<double>::empty({1, 2, 4, 5});
  CHECK_THROWS_AS(concat_channels(a, b2, y), ShapeError);
}
