// Ensemble variability measures on label volumes worked by hand: per-region counts and Dice with
// absent regions, pairwise min/mean Dice, majority vote with ties, entropy and disagreement,
// mean/std/CV, ranks and correlations; and independence from the thread count.
#include <doctest/doctest.h>
#include <omp.h>

#include <cmath>
#include <vector>

#include "analysis/variability.hpp"
#include "mca/error.hpp"

using namespace numens;
using namespace numens::analysis;

TEST_CASE("region counts and Dice per listed region, NaN where absent from both") {
  const std::vector<int16_t> regions{3, 5, 9};
  const RegionIndex idx(regions);
  CHECK(idx(3) == 0);
  CHECK(idx(9) == 2);
  CHECK(idx(0) == -1);
  CHECK(idx(-7) == -1);
  const std::vector<int16_t> a{0, 3, 3, 3, 5, 7};
  const std::vector<int16_t> b{0, 3, 3, 0, 0, 7};
  CHECK(region_counts(a, idx) == std::vector<int64_t>{3, 1, 0});
  const auto d = dice_for_regions(a, b, idx);
  CHECK(d[0] == doctest::Approx(2.0 * 2 / 5));
  CHECK(d[1] == 0.0);
  CHECK(std::isnan(d[2]));
  CHECK_THROWS_AS(RegionIndex(std::vector<int16_t>{3, 3}), ConfigError);
  CHECK_THROWS_AS(dice_for_regions(a, std::vector<int16_t>{0}, idx), ConfigError);
}

TEST_CASE("pairwise Dice: minimum and mean over member pairs") {
  // three members, region 1 and region 2 over 4 voxels
  const std::vector<int16_t> m0{1, 1, 2, 2}, m1{1, 1, 2, 0}, m2{1, 0, 0, 0};
  const std::vector<LabelSpan> ms{m0, m1, m2};
  const std::vector<int16_t> regions{1, 2, 4};
  const auto p = pairwise_dice(ms, RegionIndex(regions));
  // region 1: (0,1) 1, (0,2) 2/3, (1,2) 2/3; region 2: (0,1) 2/3, (0,2) 0 (absent in m2 only
  // counts), (1,2) 0; region 4 absent everywhere.
  CHECK(p.min[0] == doctest::Approx(2.0 / 3));
  CHECK(p.mean[0] == doctest::Approx((1 + 2.0 / 3 + 2.0 / 3) / 3));
  CHECK(p.min[1] == 0.0);
  CHECK(p.mean[1] == doctest::Approx(2.0 / 9));
  CHECK(std::isnan(p.min[2]));
  CHECK(std::isnan(p.mean[2]));
  // one member: no pairs
  const std::vector<LabelSpan> one{m0};
  CHECK(std::isnan(pairwise_dice(one, RegionIndex(regions)).min[0]));
}

TEST_CASE("voxel maps: majority (lowest label on ties), disagreement, entropy") {
  // voxels:        0  1  2  3
  const std::vector<int16_t> a{4, 4, 7, 5}, b{4, 7, 7, 6}, c{4, 7, 5, 7}, d{4, 4, 5, 8};
  const std::vector<LabelSpan> ms{a, b, c, d};
  const VoxelMaps v = voxel_maps(ms);
  CHECK(v.majority == std::vector<int16_t>{4, 4, 5, 5});  // voxels 1, 2: 2-2 ties -> lowest
  CHECK(v.disagreement == std::vector<uint8_t>{0, 2, 2, 3});
  // entropy / ln 4: 0 for one label; two halves: ln 2 / ln 4 = 1/2 -> 127.5, 127 or 128 by the
  // last bit of the logs; all four different: 1 -> 255
  CHECK(v.entropy[0] == 0);
  CHECK(std::abs(v.entropy[1] - 127.5) == 0.5);
  CHECK(v.entropy[2] == v.entropy[1]);
  CHECK(v.entropy[3] == 255);
  // three members, counts (2, 1): H = ln 3 - (2 ln 2) / 3
  const std::vector<LabelSpan> three{a, b, c};
  const VoxelMaps t = voxel_maps(three);
  const double h = (std::log(3.0) - 2 * std::log(2.0) / 3) / std::log(3.0);
  CHECK(t.entropy[1] == uint8_t(std::lround(255 * h)));
  CHECK(t.majority[1] == 7);
  CHECK(t.majority[3] == 5);  // 5, 6, 7 each once -> lowest
  const std::vector<LabelSpan> single{a};
  CHECK(voxel_maps(single).entropy == std::vector<uint8_t>(4, 0));
  CHECK_THROWS_AS(voxel_maps(std::vector<LabelSpan>{}), ConfigError);
}

TEST_CASE("variability maps and pairwise Dice do not depend on the thread count") {
  const int M = 5;
  const std::size_t V = 40000;
  std::vector<std::vector<int16_t>> vols(M, std::vector<int16_t>(V));
  uint32_t s = 12345;
  for (auto& v : vols)
    for (auto& x : v) {
      s = s * 1664525u + 1013904223u;
      x = int16_t((s >> 24) % 6);
    }
  std::vector<LabelSpan> ms(vols.begin(), vols.end());
  const std::vector<int16_t> regions{1, 2, 3, 4, 5};
  const int before = omp_get_max_threads();
  omp_set_num_threads(1);
  const VoxelMaps v1 = voxel_maps(ms);
  const PairwiseDice p1 = pairwise_dice(ms, RegionIndex(regions));
  omp_set_num_threads(3);
  const VoxelMaps v3 = voxel_maps(ms);
  const PairwiseDice p3 = pairwise_dice(ms, RegionIndex(regions));
  omp_set_num_threads(before);
  CHECK(v1.majority == v3.majority);
  CHECK(v1.entropy == v3.entropy);
  CHECK(v1.disagreement == v3.disagreement);
  CHECK(p1.min == p3.min);
  CHECK(p1.mean == p3.mean);
}

TEST_CASE("spread, moments, ranks and correlations") {
  const Spread s = spread(std::vector<double>{2, 4, 4, 4, 5, 5, 7, 9});
  CHECK(s.mean == 5.0);
  CHECK(s.std == 2.0);
  CHECK(s.cv == 0.4);
  CHECK(std::isnan(spread(std::vector<double>{0, 0}).cv));
  const Moments m = finite_moments(std::vector<double>{1, NAN, 3, INFINITY});
  CHECK(m.n == 2);
  CHECK(m.mean == 2.0);
  CHECK(m.std == 1.0);
  CHECK(average_ranks(std::vector<double>{10, 30, 20, 30}) == std::vector<double>{1, 3.5, 2, 3.5});
  // y = x^3: Spearman 1, Pearson below 1; NaN pairs are dropped
  const std::vector<double> x{1, 2, 3, 4, NAN}, y{1, 8, 27, 64, 5};
  const Correlation c = correlate(x, y);
  CHECK(c.n == 4);
  CHECK(c.spearman == doctest::Approx(1.0));
  // Pearson of (1,2,3,4) with (1,8,27,64), by hand: sxy = 104, sxx = 5, syy = 2390
  CHECK(c.pearson == doctest::Approx(104 / std::sqrt(5.0 * 2390)));
  const Correlation anti = correlate(std::vector<double>{1, 2, 3}, std::vector<double>{3, 2, 1});
  CHECK(anti.pearson == doctest::Approx(-1.0));
  CHECK(std::isnan(correlate(std::vector<double>{1, 2}, std::vector<double>{1, 2}).pearson));
  CHECK(std::isnan(correlate(std::vector<double>{1, 1, 1}, std::vector<double>{1, 2, 3}).pearson));
  CHECK_THROWS_AS(correlate(std::vector<double>{1}, std::vector<double>{1, 2}), ConfigError);
  CHECK(is_cortical(3));
  CHECK(is_cortical(42));
  CHECK(is_cortical(1035));
  CHECK(is_cortical(2999));
  CHECK(!is_cortical(17));
  CHECK(!is_cortical(3000));
}
