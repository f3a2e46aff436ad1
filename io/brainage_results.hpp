// Reading brain-age result files (docs/hdf5-schema.md, "Brain-age results"), written by
// `numens brainage`: what `numens report` shows of them (the MAE-vs-N curve and the schemes'
// metrics). Validated on open; a file of another kind or with inconsistent shapes throws IoError
// naming it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace numens::io {

struct BrainageResults {
  std::string model;  // "ridge" | "svr-rbf" | "svr-linear"
  std::string cv;     // "kfold" | "holdout"
  std::size_t subjects = 0, members = 0;
  // /curve (absent with --no-curve: all empty): P points, C subsets per point.
  std::vector<std::int64_t> curve_n;        // (P)
  std::vector<double> curve_mae_reference;  // (P, C), NaN where a point has fewer subsets
  std::size_t curve_subsets = 0;            // C
  // /schemes: Q schemes.
  std::vector<std::string> scheme_names;  // (Q)
  std::vector<double> metrics;            // (Q, 2, 3, 4): [test on][point, lo, hi][MAE..r]
  std::vector<double> paired_vs_first;    // (Q, 4): mean diff, CI lo, hi, p-value
  double level = 0.95;
  // metrics[q][test][stat][metric]: test 0 reference, 1 member mean; stat 0 point, 1 lo, 2 hi;
  // metric 0 MAE, 1 RMSE, 2 R^2, 3 r.
  double metric(std::size_t q, int test, int stat, int metric) const {
    return metrics[((q * 2 + std::size_t(test)) * 3 + std::size_t(stat)) * 4 + std::size_t(metric)];
  }
};

BrainageResults read_brainage_results(const std::filesystem::path& path);

}  // namespace numens::io
