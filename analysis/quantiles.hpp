// Quantiles and box-plot statistics of a sample, for the report's figures (docs/report.md).
// One definition, written down so a reader can reproduce every box: numpy's default ("linear",
// Hyndman-Fan type 7): for sorted x_0..x_{n-1} and p in [0, 1], h = (n - 1) p and
// q(p) = x_floor(h) + (h - floor(h)) (x_floor(h)+1 - x_floor(h)).
#pragma once

#include <cstddef>
#include <span>
#include <vector>

namespace numens::analysis {

// q(p) of an ascending sample (type 7 above); NaN for an empty sample. p is clamped to [0, 1].
double quantile_sorted(std::span<const double> sorted, double p);

// Tukey's box: quartiles by the definition above; whiskers at the most extreme sample values
// within 1.5 IQR of the box; the values beyond them are outliers. NaNs are left out (n counts the
// finite values); with n = 0 every number is NaN.
struct BoxStats {
  std::size_t n = 0;
  double q1 = 0, median = 0, q3 = 0;
  double whisker_lo = 0, whisker_hi = 0;
  std::vector<double> outliers;  // ascending
};
BoxStats box_stats(std::span<const double> values);

}  // namespace numens::analysis
