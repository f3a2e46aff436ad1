#include "analysis/quantiles.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace numens::analysis {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
}

double quantile_sorted(std::span<const double> sorted, double p) {
  if (sorted.empty()) return kNaN;
  p = std::clamp(p, 0.0, 1.0);
  const double h = double(sorted.size() - 1) * p;
  const auto lo = std::size_t(std::floor(h));
  if (lo + 1 >= sorted.size()) return sorted.back();
  // a + t (b - a) rather than (1 - t) a + t b: equal neighbours give exactly that value.
  return sorted[lo] + (h - double(lo)) * (sorted[lo + 1] - sorted[lo]);
}

BoxStats box_stats(std::span<const double> values) {
  std::vector<double> x;
  for (double v : values)
    if (std::isfinite(v)) x.push_back(v);
  std::sort(x.begin(), x.end());
  BoxStats b;
  b.n = x.size();
  if (x.empty()) {
    b.q1 = b.median = b.q3 = b.whisker_lo = b.whisker_hi = kNaN;
    return b;
  }
  b.q1 = quantile_sorted(x, 0.25);
  b.median = quantile_sorted(x, 0.5);
  b.q3 = quantile_sorted(x, 0.75);
  const double iqr = b.q3 - b.q1, lo = b.q1 - 1.5 * iqr, hi = b.q3 + 1.5 * iqr;
  b.whisker_lo = b.q1;  // the box's edge when no sample lies between the fence and the box
  b.whisker_hi = b.q3;
  for (double v : x) {
    if (v < lo || v > hi) {
      b.outliers.push_back(v);
      continue;
    }
    b.whisker_lo = std::min(b.whisker_lo, v);
    b.whisker_hi = std::max(b.whisker_hi, v);
  }
  return b;
}

}  // namespace numens::analysis
