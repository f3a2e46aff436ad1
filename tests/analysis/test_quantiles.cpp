// Quantiles and box-plot statistics of the report against values worked by hand with the
// documented definition (numpy's default "linear": h = (n - 1) p, interpolate x_floor(h) and the
// next), so a change of definition (e.g. to "midpoint" or type 6) fails here.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "analysis/quantiles.hpp"

using namespace numens::analysis;

TEST_CASE("quantile_sorted: linear interpolation between order statistics (numpy default)") {
  const std::vector<double> four{1, 2, 3, 4};
  CHECK(quantile_sorted(four, 0.25) == doctest::Approx(1.75).epsilon(1e-15));  // h = 0.75
  CHECK(quantile_sorted(four, 0.5) == doctest::Approx(2.5).epsilon(1e-15));    // h = 1.5
  CHECK(quantile_sorted(four, 0.75) == doctest::Approx(3.25).epsilon(1e-15));  // h = 2.25
  const std::vector<double> five{1, 3, 7, 9, 15};
  CHECK(quantile_sorted(five, 0.25) == 3);  // h = 1 exactly: an order statistic
  CHECK(quantile_sorted(five, 0.5) == 7);
  CHECK(quantile_sorted(five, 0.1) == doctest::Approx(1.8).epsilon(1e-15));  // 1 + 0.4 * 2
  CHECK(quantile_sorted(five, 0.0) == 1);
  CHECK(quantile_sorted(five, 1.0) == 15);
  CHECK(quantile_sorted(std::vector<double>{4.5}, 0.3) == 4.5);
  CHECK(std::isnan(quantile_sorted(std::vector<double>{}, 0.5)));
}

TEST_CASE("box_stats: quartiles, whiskers at 1.5 IQR, outliers, NaN left out") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  // 1..9 and 100: q1 = 3.25 (h = 2.25), median 5.5, q3 = 7.75 (h = 6.75), IQR 4.5,
  // fences -3.5 and 14.5: 100 is the one outlier, whiskers end at 1 and 9.
  const std::vector<double> x{9, 1, 100, 2, 3, nan, 4, 5, 6, 7, 8};
  const BoxStats b = box_stats(x);
  CHECK(b.n == 10);
  CHECK(b.q1 == doctest::Approx(3.25).epsilon(1e-15));
  CHECK(b.median == doctest::Approx(5.5).epsilon(1e-15));
  CHECK(b.q3 == doctest::Approx(7.75).epsilon(1e-15));
  CHECK(b.whisker_lo == 1);
  CHECK(b.whisker_hi == 9);
  REQUIRE(b.outliers.size() == 1);
  CHECK(b.outliers[0] == 100);

  // No outlier: whiskers are the extremes.
  const BoxStats c = box_stats(std::vector<double>{0.9, 0.8, 0.95});
  CHECK(c.outliers.empty());
  CHECK(c.whisker_lo == 0.8);
  CHECK(c.whisker_hi == 0.95);
  CHECK(c.median == 0.9);

  // Nothing finite (a one-member arm): every statistic NaN.
  const BoxStats e = box_stats(std::vector<double>{nan, nan});
  CHECK(e.n == 0);
  CHECK(std::isnan(e.q1));
  CHECK(std::isnan(e.median));
  CHECK(std::isnan(e.whisker_hi));
}
