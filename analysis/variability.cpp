#include "analysis/variability.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>
#include <utility>

#include "mca/error.hpp"

namespace numens::analysis {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

void check_sizes(std::span<const LabelSpan> members, const char* what) {
  for (const auto& m : members)
    if (m.size() != members[0].size())
      throw ConfigError(std::string(what) + ": member label volumes of " +
                        std::to_string(members[0].size()) + " and " + std::to_string(m.size()) +
                        " voxels");
}

}  // namespace

PairwiseDice pairwise_dice(std::span<const LabelSpan> members, const RegionIndex& index) {
  check_sizes(members, "pairwise dice");
  const std::size_t M = members.size(), R = index.size();
  std::vector<std::pair<std::size_t, std::size_t>> pairs;
  for (std::size_t i = 0; i < M; ++i)
    for (std::size_t j = i + 1; j < M; ++j) pairs.emplace_back(i, j);
  // One row of Dice per pair, filled in parallel; min and mean are then taken in pair order, so
  // the float sums do not depend on which thread did what.
  std::vector<std::vector<double>> d(pairs.size());
#pragma omp parallel for schedule(dynamic, 1)
  for (std::int64_t p = 0; p < std::int64_t(pairs.size()); ++p)
    d[std::size_t(p)] = dice_for_regions(members[pairs[std::size_t(p)].first],
                                         members[pairs[std::size_t(p)].second], index);
  PairwiseDice out{std::vector<double>(R, kNaN), std::vector<double>(R, kNaN)};
  for (std::size_t r = 0; r < R; ++r) {
    double lo = std::numeric_limits<double>::infinity(), sum = 0;
    std::size_t n = 0;
    for (const auto& row : d)
      if (!std::isnan(row[r])) lo = std::min(lo, row[r]), sum += row[r], ++n;
    if (n > 0) out.min[r] = lo, out.mean[r] = sum / double(n);
  }
  return out;
}

VoxelMaps voxel_maps(std::span<const LabelSpan> members) {
  const std::size_t M = members.size();
  if (M < 1 || M > 255)
    throw ConfigError("voxel maps: " + std::to_string(M) + " members, need 1..255");
  check_sizes(members, "voxel maps");
  const std::size_t V = members[0].size();
  // H = ln M - (1/M) sum_l c_l ln c_l with integer counts c_l: a table of c ln c, and the terms
  // added in ascending label order, so H is one fixed function of the voxel's counts.
  std::vector<double> clnc(M + 1, 0.0);
  for (std::size_t c = 2; c <= M; ++c) clnc[c] = double(c) * std::log(double(c));
  const double lnM = std::log(double(M));
  VoxelMaps out{std::vector<std::int16_t>(V), std::vector<std::uint8_t>(V),
                std::vector<std::uint8_t>(V)};
#pragma omp parallel
  {
    std::vector<std::int16_t> v(M);
#pragma omp for schedule(static)
    for (std::int64_t i = 0; i < std::int64_t(V); ++i) {
      for (std::size_t m = 0; m < M; ++m) v[m] = members[m][std::size_t(i)];
      std::sort(v.begin(), v.end());
      std::int16_t best = v[0];
      std::size_t best_n = 0;
      double sum = 0;
      for (std::size_t a = 0; a < M;) {
        std::size_t b = a + 1;
        while (b < M && v[b] == v[a]) ++b;
        // strict >: an equal count later in ascending order does not win (lowest label on ties)
        if (b - a > best_n) best = v[a], best_n = b - a;
        sum += clnc[b - a];
        a = b;
      }
      out.majority[std::size_t(i)] = best;
      out.disagreement[std::size_t(i)] = std::uint8_t(M - best_n);
      const double h = M > 1 ? (lnM - sum / double(M)) / lnM : 0.0;
      out.entropy[std::size_t(i)] = std::uint8_t(std::clamp(std::lround(255 * h), 0L, 255L));
    }
  }
  return out;
}

Spread spread(std::span<const double> values) {
  if (values.empty()) return {kNaN, kNaN, kNaN};
  double m = 0;
  for (double x : values) m += x;
  m /= double(values.size());
  double ss = 0;
  for (double x : values) ss += (x - m) * (x - m);
  const double sd = std::sqrt(ss / double(values.size()));
  return {m, sd, m != 0 ? sd / m : kNaN};
}

Moments finite_moments(std::span<const double> values) {
  std::vector<double> f;
  for (double x : values)
    if (std::isfinite(x)) f.push_back(x);
  if (f.empty()) return {kNaN, kNaN, 0};
  const Spread s = spread(f);
  return {s.mean, s.std, f.size()};
}

std::vector<double> average_ranks(std::span<const double> values) {
  std::vector<std::size_t> order(values.size());
  std::iota(order.begin(), order.end(), std::size_t(0));
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return values[a] < values[b]; });
  std::vector<double> rank(values.size());
  for (std::size_t a = 0; a < order.size();) {
    std::size_t b = a + 1;
    while (b < order.size() && values[order[b]] == values[order[a]]) ++b;
    const double r = (double(a + 1) + double(b)) / 2;  // mean of ranks a+1 .. b
    for (std::size_t k = a; k < b; ++k) rank[order[k]] = r;
    a = b;
  }
  return rank;
}

namespace {

double pearson(const std::vector<double>& x, const std::vector<double>& y) {
  const double n = double(x.size());
  double mx = 0, my = 0;
  for (std::size_t i = 0; i < x.size(); ++i) mx += x[i], my += y[i];
  mx /= n, my /= n;
  double sxy = 0, sxx = 0, syy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  if (sxx == 0 || syy == 0) return kNaN;
  return sxy / std::sqrt(sxx * syy);
}

}  // namespace

Correlation correlate(std::span<const double> x, std::span<const double> y) {
  if (x.size() != y.size())
    throw ConfigError("correlate: " + std::to_string(x.size()) + " and " +
                      std::to_string(y.size()) + " values");
  std::vector<double> fx, fy;
  for (std::size_t i = 0; i < x.size(); ++i)
    if (std::isfinite(x[i]) && std::isfinite(y[i])) fx.push_back(x[i]), fy.push_back(y[i]);
  Correlation c{kNaN, kNaN, fx.size()};
  if (fx.size() < 3) return c;
  c.pearson = pearson(fx, fy);
  c.spearman = pearson(average_ranks(fx), average_ranks(fy));
  return c;
}

bool is_cortical(std::int16_t value) {
  return value == 3 || value == 42 || (value >= 1000 && value <= 2999);
}

}  // namespace numens::analysis
