// Dice per region by hand: present regions only, background left out, NaN for two empty volumes.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "analysis/overlap.hpp"
#include "mca/error.hpp"

using namespace numens;

TEST_CASE("analysis overlap: Dice per region and its mean, background left out") {
  //                        a: 0 0 3 3 3 -7 -7 5
  //                        b: 0 3 3 3 0 -7 9  9
  const std::vector<int16_t> a{0, 0, 3, 3, 3, -7, -7, 5};
  const std::vector<int16_t> b{0, 3, 3, 3, 0, -7, 9, 9};
  const auto r = analysis::dice_per_region(a, b);
  REQUIRE(r.size() == 4);  // -7, 3, 5, 9 ascending; 0 not listed
  CHECK(r[0].value == -7);
  CHECK(r[0].dice == doctest::Approx(2.0 * 1 / 3));
  CHECK(r[1].value == 3);
  CHECK(r[1].a == 3);
  CHECK(r[1].b == 3);
  CHECK(r[1].both == 2);
  CHECK(r[1].dice == doctest::Approx(2.0 / 3));
  CHECK(r[2].value == 5);
  CHECK(r[2].dice == 0.0);
  CHECK(r[3].value == 9);
  CHECK(r[3].dice == 0.0);
  CHECK(analysis::mean_dice(a, b) == doctest::Approx((2.0 / 3 + 2.0 / 3) / 4));
  CHECK(analysis::mean_dice(a, a) == 1.0);
  const std::vector<int16_t> zeros(5, 0);
  CHECK(std::isnan(analysis::mean_dice(zeros, zeros)));
  CHECK_THROWS_AS(analysis::dice_per_region(a, zeros), ConfigError);
}
