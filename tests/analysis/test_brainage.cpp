// Brain-age evaluation: grouped splits, metrics by hand, degenerate input, schemes whose training
// sets must coincide, exactness on noiseless data, exact permutation p-values, determinism across
// thread counts.
#include <doctest/doctest.h>
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <random>
#include <set>
#include <vector>

#include "analysis/brainage.hpp"
#include "io/error.hpp"
#include "io/volume_table.hpp"
#include "mca/error.hpp"
#include "tests/analysis/summary_writer.hpp"

using namespace numens;
using analysis::Scheme;

namespace {
// S subjects aged 20-80, R regions whose volume falls or grows linearly with age, M members with
// multiplicative noise of relative std `cv` (member 0 is the reference); `subject_noise` adds
// individual variation shared by all members of a subject.
analysis::VolumeTable table(std::size_t S, std::size_t M, std::size_t R, double cv,
                            double subject_noise = 0.0, std::uint32_t seed = 7) {
  std::mt19937_64 g(seed);
  auto u = [&] { return (double(g() >> 11) + 0.5) * 0x1p-53; };
  auto normal = [&] { return std::sqrt(-2 * std::log(u())) * std::cos(6.283185307179586 * u()); };
  analysis::VolumeTable t;
  t.subjects = S, t.members = M, t.regions = R;
  for (std::size_t s = 0; s < S; ++s) t.age.push_back(20 + 60 * u());
  for (std::size_t s = 0; s < S; ++s)
    for (std::size_t m = 0; m < M; ++m)
      for (std::size_t r = 0; r < R; ++r) {
        const double slope = (r % 2 ? 1.0 : -1.0) * (0.002 + 0.001 * double(r));
        const double v = 1000.0 * (1 + double(r)) * (1 + slope * (t.age[s] - 50));
        t.volume.push_back(v * (1 + subject_noise * std::sin(double(s * 31 + r * 7))) *
                           (m == 0 && cv == 0 ? 1.0 : 1 + cv * normal()));
      }
  return t;
}
}  // namespace

TEST_CASE("brainage: metrics by hand") {
  const std::vector<double> y{1, 2, 3, 4}, p{2, 2, 2, 6};
  const auto m = analysis::metrics(y, p);
  CHECK(m.mae == doctest::Approx(1.0));              // (1 + 0 + 1 + 2) / 4
  CHECK(m.rmse == doctest::Approx(std::sqrt(1.5)));  // (1 + 0 + 1 + 4) / 4
  CHECK(m.r2 == doctest::Approx(1 - 6.0 / 5.0));     // SS_tot = 5
  // cov(y, p) = (-1.5 -1)(... ): p - mean(p) = (-1, -1, -1, 3), y - 2.5 = (-1.5, -.5, .5, 1.5)
  CHECK(m.r == doctest::Approx(6.0 / std::sqrt(5.0 * 12.0)));
  CHECK(std::isnan(analysis::metrics({3, 3}, {1, 2}).r2));  // constant truth: undefined
}

TEST_CASE("brainage: k-fold and hold-out splits are grouped, complete and seeded") {
  const auto f = analysis::kfold_splits(23, 5, 3);
  REQUIRE(f.size() == 5);
  std::multiset<std::size_t> tested;
  for (const auto& s : f) {
    CHECK((s.test.size() == 4 || s.test.size() == 5));
    CHECK(s.train.size() + s.test.size() == 23);
    for (auto i : s.test) {
      tested.insert(i);
      CHECK(!std::binary_search(s.train.begin(), s.train.end(), i));
    }
  }
  CHECK(tested.size() == 23);
  CHECK(std::set<std::size_t>(tested.begin(), tested.end()).size() == 23);  // each exactly once
  CHECK(analysis::kfold_splits(23, 5, 3)[2].test == f[2].test);
  CHECK(analysis::kfold_splits(23, 5, 4)[2].test != f[2].test);
  const auto h = analysis::holdout_splits(40, 6, 0.1, 1);
  REQUIRE(h.size() == 6);
  for (const auto& s : h) CHECK(s.test.size() == 4);
  CHECK(h[0].test != h[1].test);
  CHECK_THROWS_WITH_AS(analysis::kfold_splits(3, 5, 1),
                       doctest::Contains("needs at least 5 subjects, got 3"), ConfigError);
  CHECK_THROWS_AS(analysis::kfold_splits(10, 1, 1), ConfigError);
  CHECK_THROWS_AS(analysis::holdout_splits(2, 3, 0.1, 1), ConfigError);
}

TEST_CASE("brainage: degenerate tables are one clear error") {
  auto t = table(12, 3, 4, 0.01);
  t.source = "summary.h5";
  t.subject_ids.clear();
  for (int s = 0; s < 12; ++s) t.subject_ids.push_back("sub-" + std::to_string(s));
  t.region_names = {"a", "b", "c", "d"};
  t.member_ids = {0, 1000, 1001};
  CHECK_NOTHROW(analysis::validate(t));
  auto n = t;
  n.volume[(5 * 3 + 2) * 4 + 1] = std::nan("");
  CHECK_THROWS_WITH_AS(analysis::validate(n),
                       doctest::Contains("summary.h5: volume of subject 'sub-5', member 1001, "
                                         "region 'b' is nan"),
                       ConfigError);
  auto one = table(1, 3, 4, 0.01);
  CHECK_THROWS_WITH_AS(analysis::validate(one), doctest::Contains("at least 2 subjects, got 1"),
                       ConfigError);
  analysis::StudyConfig cfg;
  cfg.folds = 5;
  cfg.bootstrap = 10;
  auto few = table(4, 3, 4, 0.01);
  CHECK_THROWS_WITH_AS(
      analysis::run_study(few, cfg),
      doctest::Contains("5-fold cross-validation needs at least 5 subjects, got 4"), ConfigError);
  // A grid needs inner folds: 6 subjects in 3 outer folds leave 4 training subjects for 5 inner.
  cfg.folds = 3;
  cfg.eval.inner_folds = 5;
  CHECK_THROWS_WITH_AS(analysis::run_study(table(6, 3, 4, 0.01), cfg),
                       doctest::Contains("smallest training set has 4"), ConfigError);
  cfg.eval.inner_folds = 3;
  cfg.curve_n = {3};
  CHECK_THROWS_WITH_AS(analysis::run_study(table(6, 3, 4, 0.01), cfg),
                       doctest::Contains("exceeds the 2 non-reference members"), ConfigError);
  auto single = table(10, 1, 4, 0.0);
  cfg.curve_n = {0};
  CHECK_THROWS_WITH_AS(analysis::run_study(single, cfg), doctest::Contains("only one member"),
                       ConfigError);
  cfg.schemes = {Scheme::none};
  CHECK_NOTHROW(analysis::run_study(single, cfg));
  CHECK_THROWS_AS(analysis::parse_scheme("mixup"), ConfigError);
}

TEST_CASE("brainage: a constant feature is ignored (standardised to 0), as documented") {
  // Ridge with one alpha: adding a constant column must not change a single prediction.
  auto t = table(30, 2, 3, 0.01);
  analysis::VolumeTable c = t;
  c.regions = 4;
  c.volume.clear();
  for (std::size_t s = 0; s < t.subjects; ++s)
    for (std::size_t m = 0; m < t.members; ++m) {
      c.volume.insert(c.volume.end(), t.row(s, m), t.row(s, m) + 3);
      c.volume.push_back(1234.5);
    }
  analysis::EvalConfig e;
  e.model.alphas = {1.0};
  const auto splits = analysis::kfold_splits(30, 5, 1);
  const analysis::SchemeSpec spec{Scheme::ensemble, {1}, 0};
  const auto a = analysis::evaluate(t, splits, spec, e);
  const auto b = analysis::evaluate(c, splits, spec, e);
  REQUIRE(a.pred_reference.size() == 30);
  for (std::size_t i = 0; i < 30; ++i)
    CHECK(b.pred_reference[i] == doctest::Approx(a.pred_reference[i]).epsilon(1e-12));
}

TEST_CASE("brainage: noiseless linear volumes give exact ages (ridge and linear SVR)") {
  // Every region is linear in age with no noise, so age is an exact linear function of the
  // features; with a negligible penalty the held-out error is rounding only.
  const auto t = table(40, 1, 5, 0.0);
  analysis::EvalConfig e;
  e.model.alphas = {1e-9};
  const auto p = analysis::evaluate(t, analysis::kfold_splits(40, 4, 2), {}, e);
  CHECK(analysis::metrics(p.truth, p.pred_reference).mae < 1e-6);
  // Linear SVR: its fit is exact up to the tube, so the held-out error is at most epsilon plus
  // the solver tolerance (in years).
  e.model.kind = analysis::ModelKind::svr;
  e.model.kernel = analysis::Kernel::linear;
  e.model.Cs = {1000};
  e.model.epsilon = 0.05;
  const auto q = analysis::evaluate(t, analysis::kfold_splits(40, 4, 2), {}, e);
  CHECK(analysis::metrics(q.truth, q.pred_reference).mae <= 0.05 + 1e-3);
}

TEST_CASE("brainage: Gaussian rows with zero member spread equal the ensemble's duplicates") {
  // Members identical to the reference: sigma_r = 0, so gaussian(N) training rows are N copies of
  // the reference row, exactly the ensemble(N) rows. Predictions must be bitwise equal, and the
  // member mean equals the reference prediction.
  auto t = table(20, 4, 3, 0.0);
  for (std::size_t s = 0; s < t.subjects; ++s)
    for (std::size_t m = 1; m < t.members; ++m)
      for (std::size_t r = 0; r < t.regions; ++r) t.volume[(s * 4 + m) * 3 + r] = t.at(s, 0, r);
  analysis::EvalConfig e;
  e.model.alphas = {0.5};
  const auto splits = analysis::kfold_splits(20, 4, 9);
  const auto ens = analysis::evaluate(t, splits, {Scheme::ensemble, {1, 2, 3}, 0}, e);
  const auto gau = analysis::evaluate(t, splits, {Scheme::gaussian, {}, 3}, e);
  CHECK(ens.pred_reference == gau.pred_reference);
  for (std::size_t i = 0; i < ens.pred_mean.size(); ++i)
    CHECK(ens.pred_mean[i] == doctest::Approx(ens.pred_reference[i]).epsilon(1e-12));
}

TEST_CASE("brainage: paired test p-values are exact at the extremes") {
  analysis::Predictions a;
  for (std::size_t s = 0; s < 40; ++s) {
    a.subject.push_back(s);
    a.split.push_back(0);
    a.truth.push_back(double(s));
    a.pred_reference.push_back(double(s) + (s % 2 ? 1.0 : -1.0));
  }
  a.pred_mean = a.pred_reference;
  const auto same = analysis::paired_test(a, a, 999, 1);
  CHECK(same.mean_diff == 0.0);
  CHECK(same.p_value == 1.0);  // every sign flip gives 0, as extreme as observed
  auto b = a;
  for (std::size_t i = 0; i < 40; ++i)  // every error grows from 1 to 3 years
    b.pred_reference[i] += b.pred_reference[i] > b.truth[i] ? 2.0 : -2.0;
  const auto worse = analysis::paired_test(b, a, 999, 1);
  CHECK(worse.mean_diff == doctest::Approx(2.0));
  // All 40 differences are +2: a sign flip reaches |mean| = 2 only with all signs equal,
  // probability 2^-39 per draw, so (with overwhelming probability) p = 1 / (999 + 1).
  CHECK(worse.p_value == doctest::Approx(1.0 / 1000));
  CHECK(worse.lo == doctest::Approx(2.0));
  CHECK(worse.hi == doctest::Approx(2.0));
  const auto ci = analysis::bootstrap_metrics(a, false, 200, 0.95, 3);
  CHECK(ci.point.mae == doctest::Approx(1.0));
  CHECK(ci.lo.mae == doctest::Approx(1.0));  // every error is 1 in absolute value
  CHECK(ci.lo.r <= ci.point.r);
  CHECK(ci.hi.r >= ci.lo.r);
}

TEST_CASE("brainage: study results do not depend on the thread count") {
  const auto t = table(30, 5, 6, 0.03, 0.05);
  analysis::StudyConfig cfg;
  cfg.folds = 3;
  cfg.curve_n = {0, 2, 4};
  cfg.combinations = 3;
  cfg.bootstrap = 50;
  const int before = omp_get_max_threads();
  omp_set_num_threads(1);
  const auto one = analysis::run_study(t, cfg);
  omp_set_num_threads(3);
  const auto three = analysis::run_study(t, cfg);
  omp_set_num_threads(before);
  REQUIRE(one.curve.size() == 3);
  CHECK(one.curve[0].combos.size() == 1);
  CHECK(one.curve[1].combos.size() == 3);  // C(4, 2) = 6 subsets exist, 3 drawn, distinct
  CHECK(std::set(one.curve[1].combos.begin(), one.curve[1].combos.end()).size() == 3);
  CHECK(one.curve[2].combos.size() == 1);  // C(4, 4) = 1
  for (const auto& c : one.curve[1].combos) {
    CHECK(c.size() == 2);
    CHECK(std::find(c.begin(), c.end(), std::size_t(0)) == c.end());  // never the reference
  }
  for (std::size_t k = 0; k < one.curve.size(); ++k)
    CHECK(one.curve[k].mae_reference == three.curve[k].mae_reference);
  REQUIRE(one.schemes.size() == 4);
  for (std::size_t k = 0; k < 4; ++k) {
    CHECK(one.schemes[k].pred.pred_reference == three.schemes[k].pred.pred_reference);
    CHECK(one.schemes[k].reference.lo.mae == three.schemes[k].reference.lo.mae);
    CHECK(one.schemes[k].vs_first.p_value == three.schemes[k].vs_first.p_value);
  }
  // N = 0 of the curve is the "none" scheme.
  CHECK(one.curve[0].mae_reference[0] == one.schemes[0].reference.point.mae);
  cfg.no_curve = true;
  cfg.schemes = {Scheme::none};
  const auto bare = analysis::run_study(t, cfg);
  CHECK(bare.curve.empty());
  CHECK(bare.schemes[0].pred.pred_reference == one.schemes[0].pred.pred_reference);
}

TEST_CASE("brainage: a summary file is read as the schema says, bad ones name the problem") {
  const auto dir =
      std::filesystem::temp_directory_path() / ("numens_brainage_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  testing::SummarySpec spec;
  spec.subjects = 7;
  spec.seed_members = 2;
  testing::write_summary(dir / "good.h5", spec);
  const auto v = io::read_summary_volumes(dir / "good.h5");
  CHECK(v.subjects == 7);
  CHECK(v.members == 3);
  CHECK(v.regions == 6);
  CHECK(v.reference == 0);
  CHECK(v.member_ids == std::vector<std::int64_t>{0, 1000, 1001});
  CHECK(v.member_arms == std::vector<std::string>{"ieee", "seed", "seed"});
  CHECK(v.region_names[1] == "Left-Hippocampus");
  CHECK(v.subject_ids[6] == "s07");
  REQUIRE(v.volume_mm3.size() == 7 * 3 * 6);
  spec.nan_volume = true;
  testing::write_summary(dir / "nan.h5", spec);
  auto n = io::read_summary_volumes(dir / "nan.h5");  // values are the regression's to judge
  analysis::VolumeTable t;
  t.subjects = n.subjects, t.members = n.members, t.regions = n.regions;
  t.volume = n.volume_mm3, t.age = n.ages, t.reference = n.reference;
  t.subject_ids = n.subject_ids, t.region_names = n.region_names, t.member_ids = n.member_ids;
  t.source = (dir / "nan.h5").string();
  CHECK_THROWS_WITH_AS(analysis::validate(t),
                       doctest::Contains("nan.h5: volume of subject 's02', member 1001, region "
                                         "'Left-Hippocampus' is nan"),
                       ConfigError);
  spec.nan_volume = false;
  spec.with_ieee = false;
  testing::write_summary(dir / "noieee.h5", spec);
  CHECK_THROWS_WITH_AS(io::read_summary_volumes(dir / "noieee.h5"),
                       doctest::Contains("no member belongs to an arm of kind 'ieee'"),
                       io::IoError);
  CHECK_THROWS_WITH_AS(io::read_summary_volumes(dir / "nowhere.h5"),
                       doctest::Contains("nowhere.h5: file not found"), io::IoError);
  std::filesystem::remove_all(dir);
}
