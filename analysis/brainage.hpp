// Brain-age regression with numerical-ensemble augmentation (docs/brainage.md): regional volumes
// of every (subject, ensemble member) as features, ridge or SVR as the regressor, evaluation on
// splits grouped by subject, augmentation schemes, metrics with bootstrap intervals, the MAE-vs-N
// curve and paired tests between schemes. Plain arrays in, numbers out.
//
// Every random choice (splits, member combinations, Gaussian rows, bootstrap and permutation
// draws) is a Philox draw keyed by (seed, purpose, index), and the outer splits run in parallel
// into fixed slots, so a result depends on the configuration and the seed only, never on the
// thread count.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "analysis/svr.hpp"

namespace numens::analysis {

// Regional volumes of S subjects x M members x R regions and the subjects' ages.
struct VolumeTable {
  std::size_t subjects = 0, members = 0, regions = 0;
  std::vector<double> volume;  // (S, M, R) row-major, mm^3 (or a fraction after ICV scaling)
  std::vector<double> age;     // (S) years
  std::size_t reference = 0;   // the unperturbed (ieee) member
  std::vector<std::string> subject_ids, region_names;  // for messages; may be empty
  std::vector<std::int64_t> member_ids;                // for messages and outputs; may be empty
  std::string source;                                  // file it came from, for messages

  double at(std::size_t s, std::size_t m, std::size_t r) const {
    return volume[(s * members + m) * regions + r];
  }
  const double* row(std::size_t s, std::size_t m) const {
    return volume.data() + (s * members + m) * regions;
  }
};

// Throws ConfigError naming the source and the offending entry: sizes that disagree, fewer than
// two subjects, no regions, reference out of range, an age that is not finite and positive, a
// volume that is NaN, infinite or negative.
void validate(const VolumeTable& t);

// Intracranial-volume normalisation: each (subject, member) row divided by its sum over regions
// (the labelled volume, which stands in for ICV). Throws when a row sums to zero.
VolumeTable normalise_by_total(const VolumeTable& t);

// An ensemble simulated from one set of volumes (the cohort's ground truth, member 0 of `truth`):
// member m of subject s has v * exp(cv z - cv^2 / 2), z standard normal keyed by (seed, subject,
// member, region), so each volume has median v exp(-cv^2/2), mean v and relative std about cv.
// Member 0 is the reference and is perturbed like the others: an unperturbed model's
// segmentation is one more draw, not the truth. Throws ConfigError for members < 1 or cv < 0.
VolumeTable simulate_members(const VolumeTable& truth, std::size_t members, double cv,
                             std::uint32_t seed);

enum class Scheme { none, ensemble, gaussian, ensemble_gaussian };
const char* scheme_name(Scheme s);  // "none", "ensemble", "gaussian", "ensemble+gaussian"
Scheme parse_scheme(std::string_view name);

enum class ModelKind { ridge, svr };
enum class CvKind { kfold, holdout };

// The hyper-parameter grid searched by inner cross-validation (a grid of one skips the search).
struct ModelGrid {
  ModelKind kind = ModelKind::ridge;
  std::vector<double> alphas{0.01, 0.1, 1.0, 10.0, 100.0};  // ridge
  Kernel kernel = Kernel::rbf;                              // svr
  std::vector<double> Cs{1.0, 10.0, 100.0};
  std::vector<double> gammas;  // empty: 1 / R (scikit-learn's "scale" on standardised features)
  double epsilon = 0.1, tol = 1e-3;
  std::size_t size(std::size_t regions) const;
};

// A split of subject indices (never of rows: all members of a subject are on one side).
struct Split {
  std::vector<std::size_t> train, test;  // ascending
};
// k-fold over a seeded permutation of the subjects; folds differ in size by at most one.
// Throws when k < 2 or k > subjects.
std::vector<Split> kfold_splits(std::size_t subjects, std::size_t k, std::uint32_t seed);
// `repeats` random hold-outs of round(test_fraction * S) subjects (at least 1, at most S - 2).
std::vector<Split> holdout_splits(std::size_t subjects, std::size_t repeats, double test_fraction,
                                  std::uint32_t seed);

// Training rows of one subject under a scheme: the reference member always, plus
//   ensemble:          the members listed in `members` (indices into the table, not reference)
//   gaussian:          `gaussian_rows` copies of the reference row plus N(0, sigma_r) noise
//   ensemble+gaussian: both
struct SchemeSpec {
  Scheme scheme = Scheme::none;
  std::vector<std::size_t> members;
  std::size_t gaussian_rows = 0;
};

// Test-time predictions, pooled over the splits (a subject appears once per split testing it).
struct Predictions {
  std::vector<std::size_t> subject;  // index into the table
  std::vector<std::size_t> split;    // which split tested it
  std::vector<double> truth;
  std::vector<double> pred_reference;  // from the reference member's volumes
  std::vector<double> pred_mean;       // mean of the predictions from every member's volumes
  std::vector<double> chosen;          // hyper-parameter picked per split (alpha or C)
  std::vector<double> chosen_gamma;    // per split (svr rbf), else 0
};

struct EvalConfig {
  ModelGrid model;
  std::size_t inner_folds = 3;
  std::uint32_t seed = 1;
};

// Fits and tests the model on every split (inner-CV grid search on the training subjects only;
// features standardised with the training rows' mean and std, a constant feature scaled by 1 so
// it becomes 0, as scikit-learn's StandardScaler does). The Gaussian scheme's sigma_r is the
// pooled within-subject std across all members of the training subjects.
Predictions evaluate(const VolumeTable& t, const std::vector<Split>& splits, const SchemeSpec& spec,
                     const EvalConfig& cfg);

struct Metrics {
  double mae = 0, rmse = 0, r2 = 0, r = 0;
};
Metrics metrics(const std::vector<double>& truth, const std::vector<double>& pred);

struct MetricsCI {
  Metrics point, lo, hi;  // percentile interval of a bootstrap over subjects
};
// Resamples subjects with replacement (all of a resampled subject's predictions go together).
MetricsCI bootstrap_metrics(const Predictions& p, bool use_mean, std::size_t resamples,
                            double level, std::uint32_t seed);

// Paired comparison of A and B on the same subjects: d_s = mean |error_A| - mean |error_B| of
// subject s; mean d with a bootstrap interval and a two-sided sign-flip permutation p-value.
struct PairedTest {
  double mean_diff = 0, lo = 0, hi = 0, p_value = 1;
  std::size_t subjects = 0;
};
PairedTest paired_test(const Predictions& a, const Predictions& b, std::size_t resamples,
                       std::uint32_t seed);

// ---- the whole study --------------------------------------------------------------------------
struct StudyConfig {
  EvalConfig eval;
  CvKind cv = CvKind::kfold;
  std::size_t folds = 5;
  std::size_t repeats = 20;  // hold-out repeats
  double test_fraction = 0.1;
  std::vector<Scheme> schemes{Scheme::none, Scheme::ensemble, Scheme::gaussian,
                              Scheme::ensemble_gaussian};
  std::vector<std::size_t> curve_n;  // empty: 0, 1, ..., M - 1
  bool no_curve = false;             // no curve at all, whatever curve_n says
  std::size_t combinations = 5;      // member subsets drawn per N (fewer when fewer exist)
  std::size_t gaussian_rows = 0;     // 0: M - 1, as many rows as the full ensemble gives
  std::size_t bootstrap = 1000;
  double level = 0.95;
  std::uint32_t seed = 1;
};

struct CurvePoint {
  std::size_t n = 0;
  std::vector<std::vector<std::size_t>> combos;  // member indices of each subset
  std::vector<double> mae_reference, mae_mean;   // per subset
};
struct SchemeResult {
  Scheme scheme = Scheme::none;
  SchemeSpec spec;
  Predictions pred;
  MetricsCI reference, mean;  // metrics of the reference-member and member-mean predictions
  PairedTest vs_first;        // against the first scheme listed (reference predictions)
};
struct StudyResult {
  std::vector<Split> splits;
  std::vector<CurvePoint> curve;
  std::vector<SchemeResult> schemes;
};

// Validates the configuration against the table (folds <= subjects, inner folds <= training
// subjects, curve N <= M - 1, ...) before any work, throwing ConfigError with the problem.
StudyResult run_study(const VolumeTable& t, const StudyConfig& cfg);

}  // namespace numens::analysis
