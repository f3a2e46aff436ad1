// numens brainage: brain-age regression on regional volumes with numerical-ensemble augmentation
// (docs/brainage.md). Reads a variability summary (or a cohort's ground truth with a simulated
// ensemble), runs analysis::run_study, writes brainage.h5 (docs/hdf5-schema.md) and two CSV
// tables next to it, and prints the tables. Wiring only: the statistics live in analysis/.
#include <omp.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "analysis/brainage.hpp"
#include "drivers/commands.hpp"
#include "drivers/timing.hpp"
#include "io/atomic_file.hpp"
#include "io/error.hpp"
#include "io/h5.hpp"
#include "io/volume_table.hpp"
#include "mca/error.hpp"
#include "numens/version.hpp"

namespace fs = std::filesystem;

namespace numens::drivers {

namespace {

struct Flags {
  std::string summary, cohort, out;
  std::size_t simulate_members = 0;
  double noise_cv = 0.03;
  std::uint32_t noise_seed = 1;
  bool icv = false;
  std::string model = "ridge", kernel = "rbf", cv = "kfold";
  std::vector<double> alphas{0.01, 0.1, 1.0, 10.0, 100.0}, Cs{1.0, 10.0, 100.0}, gammas;
  double epsilon = 0.1, tol = 1e-3;
  std::size_t folds = 5, repeats = 20, inner_folds = 3, combinations = 5, gaussian_rows = 0;
  std::size_t bootstrap = 1000;
  double test_fraction = 0.1;
  std::vector<std::string> schemes{"none", "ensemble", "gaussian", "ensemble+gaussian"};
  std::vector<std::size_t> curve;
  bool no_curve = false;
  std::uint32_t seed = 1;
  int threads = 0;
};

std::string list(const std::vector<double>& v) {
  std::ostringstream o;
  o.precision(17);
  o << "[";
  for (std::size_t i = 0; i < v.size(); ++i) o << (i ? ", " : "") << v[i];
  return o.str() + "]";
}

// The flags as TOML: the provenance `config` of brainage.h5.
std::string describe(const Flags& f) {
  std::ostringstream o;
  o.precision(17);
  o << "[brainage]\n";
  if (!f.summary.empty()) o << "summary = \"" << f.summary << "\"\n";
  if (!f.cohort.empty())
    o << "cohort = \"" << f.cohort << "\"\nsimulate_members = " << f.simulate_members
      << "\nnoise_cv = " << f.noise_cv << "\nnoise_seed = " << f.noise_seed << "\n";
  o << "icv = " << (f.icv ? "true" : "false") << "\nmodel = \"" << f.model << "\"\n";
  if (f.model == "ridge")
    o << "alphas = " << list(f.alphas) << "\n";
  else
    o << "kernel = \"" << f.kernel << "\"\nC = " << list(f.Cs) << "\ngamma = " << list(f.gammas)
      << "\nepsilon = " << f.epsilon << "\ntol = " << f.tol << "\n";
  o << "cv = \"" << f.cv << "\"\nfolds = " << f.folds << "\nrepeats = " << f.repeats
    << "\ntest_fraction = " << f.test_fraction << "\ninner_folds = " << f.inner_folds
    << "\nschemes = [";
  for (std::size_t i = 0; i < f.schemes.size(); ++i)
    o << (i ? ", " : "") << "\"" << f.schemes[i] << "\"";
  o << "]\ncurve = [";
  for (std::size_t i = 0; i < f.curve.size(); ++i) o << (i ? ", " : "") << f.curve[i];
  o << "]\nno_curve = " << (f.no_curve ? "true" : "false") << "\ncombinations = " << f.combinations
    << "\ngaussian_rows = " << f.gaussian_rows << "\nbootstrap = " << f.bootstrap
    << "\nseed = " << f.seed << "\n";
  return o.str();
}

analysis::VolumeTable to_table(io::RegionalVolumes v, const std::string& source) {
  analysis::VolumeTable t;
  t.subjects = v.subjects;
  t.members = v.members;
  t.regions = v.regions;
  t.volume = std::move(v.volume_mm3);
  t.age = std::move(v.ages);
  t.reference = v.reference;
  t.subject_ids = std::move(v.subject_ids);
  t.region_names = std::move(v.region_names);
  t.member_ids = std::move(v.member_ids);
  t.source = source;
  return t;
}

// <dir>/<stem>_<what>.csv beside the HDF5 output.
fs::path sibling(const fs::path& out, const std::string& what) {
  return out.parent_path() / (out.stem().string() + "_" + what + ".csv");
}

struct CurveStats {
  double mean = 0, sd = 0, lo = 0, hi = 0;
};
CurveStats stats(const std::vector<double>& v) {
  CurveStats s;
  s.lo = s.hi = v.front();
  for (double x : v) s.mean += x, s.lo = std::min(s.lo, x), s.hi = std::max(s.hi, x);
  s.mean /= double(v.size());
  for (double x : v) s.sd += (x - s.mean) * (x - s.mean);
  s.sd = v.size() > 1 ? std::sqrt(s.sd / double(v.size() - 1)) : 0.0;
  return s;
}

void write_text(io::AtomicFile& out, const std::string& text) {
  io::write_bytes(out.temp_path(), text, out.target());
}

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

// /curve: the MAE of each combination of N members added to the reference.
void write_curve(io::Group& root, const analysis::StudyResult& r, std::size_t M) {
  io::Group g = root.create_group("curve");
  std::size_t C = 0;
  for (const auto& p : r.curve) C = std::max(C, p.combos.size());
  const std::size_t P = r.curve.size(), pool = M - 1;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<std::int64_t> n, members(P * C * std::max<std::size_t>(pool, 1), -1);
  std::vector<double> mae_ref(P * C, nan), mae_mean(P * C, nan);
  for (std::size_t i = 0; i < P; ++i) {
    n.push_back(std::int64_t(r.curve[i].n));
    for (std::size_t c = 0; c < r.curve[i].combos.size(); ++c) {
      mae_ref[i * C + c] = r.curve[i].mae_reference[c];
      mae_mean[i * C + c] = r.curve[i].mae_mean[c];
      for (std::size_t j = 0; j < r.curve[i].combos[c].size(); ++j)
        members[(i * C + c) * std::max<std::size_t>(pool, 1) + j] =
            std::int64_t(r.curve[i].combos[c][j]);
    }
  }
  g.write<std::int64_t>("n", n, {P});
  g.write<double>("mae_reference", mae_ref, {P, C});
  g.write<double>("mae_mean", mae_mean, {P, C});
  g.write<std::int64_t>("members", members, {P, C, std::max<std::size_t>(pool, 1)});
}

// /schemes: each scheme's metrics with bootstrap CIs, the paired test against the first, the
// out-of-fold predictions and the hyper-parameters chosen per split.
void write_schemes(io::Group& root, const analysis::StudyResult& r, const Flags& f) {
  io::Group g = root.create_group("schemes");
  const std::size_t K = r.splits.size();
  const std::size_t Q = r.schemes.size(), N = r.schemes.front().pred.truth.size();
  std::vector<std::string> names;
  std::vector<std::int64_t> ens_rows, gau_rows, subj, split;
  std::vector<double> metrics, paired, pred, chosen;
  for (const auto& s : r.schemes) {
    names.push_back(analysis::scheme_name(s.scheme));
    ens_rows.push_back(std::int64_t(s.spec.members.size()));
    gau_rows.push_back(std::int64_t(s.spec.gaussian_rows));
    for (const auto* ci : {&s.reference, &s.mean})
      for (const auto* m : {&ci->point, &ci->lo, &ci->hi})
        metrics.insert(metrics.end(), {m->mae, m->rmse, m->r2, m->r});
    paired.insert(paired.end(),
                  {s.vs_first.mean_diff, s.vs_first.lo, s.vs_first.hi, s.vs_first.p_value});
    for (std::size_t i = 0; i < N; ++i)
      pred.insert(pred.end(), {s.pred.pred_reference[i], s.pred.pred_mean[i]});
    for (std::size_t k = 0; k < K; ++k)
      chosen.insert(chosen.end(), {s.pred.chosen[k], s.pred.chosen_gamma[k]});
  }
  for (std::size_t i = 0; i < N; ++i) {
    subj.push_back(std::int64_t(r.schemes.front().pred.subject[i]));
    split.push_back(std::int64_t(r.schemes.front().pred.split[i]));
  }
  g.write_strings("names", names);
  g.write<std::int64_t>("ensemble_rows", ens_rows, {Q});
  g.write<std::int64_t>("gaussian_rows", gau_rows, {Q});
  io::Dataset md = g.write<double>("metrics", metrics, {Q, 2, 3, 4});
  md.set_attr("axes",
              "scheme, test_on (reference, member_mean), (point, lo, hi), "
              "(mae, rmse, r2, r)");
  md.set_attr("level", 0.95);
  md.set_attr("bootstrap", std::int64_t(f.bootstrap));
  io::Dataset pd = g.write<double>("paired_vs_first", paired, {Q, 4});
  pd.set_attr("axes", "scheme, (mean_diff, lo, hi, p_value)");
  g.write<std::int64_t>("pred_subject", subj, {N});
  g.write<std::int64_t>("pred_split", split, {N});
  g.write<double>("predictions", pred, {Q, N, 2});
  g.write<double>("chosen", chosen, {Q, K, 2});
}

void write_h5(const fs::path& temp, const Flags& f, const analysis::VolumeTable& t,
              const analysis::StudyResult& r, const std::string& source_kind) {
  io::File file = io::File::create(temp);
  io::Group root = file.root();
  io::write_provenance(root, kVersion, kGitCommit, describe(f));
  root.set_attr("format", "numens-brainage");
  root.set_attr("format_version", std::int64_t(1));
  root.set_attr("seeds", f.cohort.empty() ? "{brainage = " + std::to_string(f.seed) + "}"
                                          : "{brainage = " + std::to_string(f.seed) +
                                                ", noise = " + std::to_string(f.noise_seed) + "}");
  root.set_attr("source", f.summary.empty() ? f.cohort : f.summary);
  root.set_attr("source_kind", source_kind);
  root.set_attr("model", f.model == "ridge" ? std::string("ridge") : "svr-" + f.kernel);
  root.set_attr("cv", f.cv);
  root.set_attr("reference_member", std::int64_t(t.reference));
  const std::size_t S = t.subjects, M = t.members, K = r.splits.size();
  root.write_strings("subject_ids", t.subject_ids);
  root.write<double>("ages", t.age, {S});
  std::vector<std::int64_t> mids(t.member_ids.begin(), t.member_ids.end());
  root.write<std::int64_t>("member_ids", mids, {M});
  root.create_group("regions").write_strings("names", t.region_names);
  std::vector<std::uint8_t> in_test(K * S, 0);
  for (std::size_t k = 0; k < K; ++k)
    for (std::size_t s : r.splits[k].test) in_test[k * S + s] = 1;
  root.write<std::uint8_t>("splits_test", in_test, {K, S});

  if (!r.curve.empty()) write_curve(root, r, M);
  write_schemes(root, r, f);
  file.close();
}

// The flags that select the input, checked against each other.
void check_inputs(const Flags& f) {
  if (f.summary.empty() == f.cohort.empty())
    throw ConfigError(
        "numens brainage needs exactly one of --summary summary.h5 and --cohort "
        "cohort.h5");
  if (!f.cohort.empty() && f.simulate_members < 2)
    throw ConfigError(
        "--cohort needs --simulate-members N with N >= 2 (the reference and at "
        "least one perturbed member)");
  if (!f.summary.empty() && f.simulate_members > 0)
    throw ConfigError("--simulate-members goes with --cohort, not with --summary");
  if (f.threads < 0) throw ConfigError("--threads must be >= 0");
}

// The model, its grid, the cross-validation and the study's schemes, from the flags.
analysis::StudyConfig study_config(const Flags& f) {
  analysis::StudyConfig cfg;
  auto& mg = cfg.eval.model;
  if (f.model == "ridge")
    mg.kind = analysis::ModelKind::ridge;
  else if (f.model == "svr")
    mg.kind = analysis::ModelKind::svr;
  else
    throw ConfigError("--model must be ridge or svr, got '" + f.model + "'");
  if (f.kernel == "rbf")
    mg.kernel = analysis::Kernel::rbf;
  else if (f.kernel == "linear")
    mg.kernel = analysis::Kernel::linear;
  else
    throw ConfigError("--kernel must be rbf or linear, got '" + f.kernel + "'");
  mg.alphas = f.alphas;
  mg.Cs = f.Cs;
  mg.gammas = f.gammas;
  mg.epsilon = f.epsilon;
  mg.tol = f.tol;
  if (mg.kind == analysis::ModelKind::ridge ? mg.alphas.empty() : mg.Cs.empty())
    throw ConfigError("empty hyper-parameter grid");
  for (double a : mg.alphas)
    if (!(a >= 0)) throw ConfigError("--alphas must be >= 0");
  for (double c : mg.Cs)
    if (!(c > 0)) throw ConfigError("--C values must be > 0");
  for (double gm : mg.gammas)
    if (!(gm > 0)) throw ConfigError("--gamma values must be > 0");
  if (f.cv == "kfold")
    cfg.cv = analysis::CvKind::kfold;
  else if (f.cv == "holdout")
    cfg.cv = analysis::CvKind::holdout;
  else
    throw ConfigError("--cv must be kfold or holdout, got '" + f.cv + "'");
  cfg.folds = f.folds;
  cfg.repeats = f.repeats;
  cfg.test_fraction = f.test_fraction;
  cfg.eval.inner_folds = f.inner_folds;
  cfg.eval.seed = f.seed;
  cfg.schemes.clear();
  for (const auto& s : f.schemes) cfg.schemes.push_back(analysis::parse_scheme(s));
  cfg.curve_n = f.curve;
  cfg.no_curve = f.no_curve;
  cfg.combinations = f.combinations;
  cfg.gaussian_rows = f.gaussian_rows;
  cfg.bootstrap = f.bootstrap;
  cfg.seed = f.seed;
  return cfg;
}

// The volumes: a variability summary's, or a cohort's truth with simulated members. `kind` says
// which, for the results file.
analysis::VolumeTable volume_table(const Flags& f, std::string& kind) {
  analysis::VolumeTable t;
  if (!f.summary.empty()) {
    t = to_table(io::read_summary_volumes(f.summary), f.summary);
    kind = "summary";
  } else {
    analysis::VolumeTable truth = to_table(io::read_cohort_volumes(f.cohort), f.cohort);
    // Regions absent from every subject (LUT entries the cohort does not use) carry nothing.
    analysis::validate(truth);
    t = analysis::simulate_members(truth, f.simulate_members, f.noise_cv, f.noise_seed);
    kind = "cohort+simulated";
  }
  analysis::validate(t);
  if (f.icv) t = analysis::normalise_by_total(t);
  return t;
}

// The MAE-vs-members curve printed, and as CSV text.
std::string curve_table(const analysis::StudyResult& r) {
  std::string csv =
      "n,combinations,mae_reference_mean,mae_reference_sd,mae_reference_min,"
      "mae_reference_max,mae_member_mean_mean\n";
  if (!r.curve.empty()) std::printf("\nMAE (years) vs N members added to the reference\n");
  if (!r.curve.empty())
    std::printf("%4s %6s %10s %8s %8s %8s %12s\n", "N", "combos", "MAE ref", "sd", "min", "max",
                "MAE mean-of-m");
  for (const auto& p : r.curve) {
    const CurveStats a = stats(p.mae_reference), b = stats(p.mae_mean);
    std::printf("%4zu %6zu %10.3f %8.3f %8.3f %8.3f %12.3f\n", p.n, p.combos.size(), a.mean, a.sd,
                a.lo, a.hi, b.mean);
    csv += std::to_string(p.n) + "," + std::to_string(p.combos.size()) + "," + fmt("%.6f", a.mean) +
           "," + fmt("%.6f", a.sd) + "," + fmt("%.6f", a.lo) + "," + fmt("%.6f", a.hi) + "," +
           fmt("%.6f", b.mean) + "\n";
  }
  return csv;
}

// The schemes (with bootstrap CIs and the paired difference to the first) printed, and as CSV.
std::string scheme_table(const analysis::StudyResult& r) {
  std::string scsv =
      "scheme,ensemble_rows,gaussian_rows,test_on,mae,mae_lo,mae_hi,rmse,rmse_lo,rmse_hi,r2,r2_lo,"
      "r2_hi,r,r_lo,r_hi,mae_diff_vs_first,diff_lo,diff_hi,p_value\n";
  std::printf("\nSchemes (95%% bootstrap CI over subjects; diff = MAE minus %s's, paired)\n",
              analysis::scheme_name(r.schemes.front().scheme));
  std::printf("%-18s %-8s %22s %8s %7s %7s %24s %8s\n", "scheme", "test on", "MAE [CI]", "RMSE",
              "R^2", "r", "diff [CI]", "p");
  for (const auto& s : r.schemes)
    for (int which = 0; which < 2; ++which) {
      const auto& ci = which == 0 ? s.reference : s.mean;
      const char* on = which == 0 ? "ref" : "mean";
      std::printf("%-18s %-8s %6.3f [%6.3f, %6.3f] %8.3f %7.3f %7.3f",
                  analysis::scheme_name(s.scheme), on, ci.point.mae, ci.lo.mae, ci.hi.mae,
                  ci.point.rmse, ci.point.r2, ci.point.r);
      if (which == 0)
        std::printf(" %+7.3f [%+6.3f, %+6.3f] %8.4f", s.vs_first.mean_diff, s.vs_first.lo,
                    s.vs_first.hi, s.vs_first.p_value);
      std::printf("\n");
      scsv += std::string(analysis::scheme_name(s.scheme)) + "," +
              std::to_string(s.spec.members.size()) + "," + std::to_string(s.spec.gaussian_rows) +
              "," + (which == 0 ? "reference" : "member_mean");
      const double cols[12] = {ci.point.mae, ci.lo.mae,  ci.hi.mae,   ci.point.rmse,
                               ci.lo.rmse,   ci.hi.rmse, ci.point.r2, ci.lo.r2,
                               ci.hi.r2,     ci.point.r, ci.lo.r,     ci.hi.r};
      for (double c : cols) scsv += "," + fmt("%.6f", c);
      if (which == 0)
        scsv += "," + fmt("%.6f", s.vs_first.mean_diff) + "," + fmt("%.6f", s.vs_first.lo) + "," +
                fmt("%.6f", s.vs_first.hi) + "," + fmt("%.6g", s.vs_first.p_value) + "\n";
      else
        scsv += ",,,,\n";
    }
  return scsv;
}

int run(const Flags& f) {
  check_inputs(f);
  if (f.threads > 0) omp_set_num_threads(f.threads);
  const fs::path out(f.out);
  if (out.extension() != ".h5") throw ConfigError(f.out + ": --out must end in .h5");
  // Reserve every output first: a missing directory fails before any work.
  io::AtomicFile h5(out), curve_csv(sibling(out, "curve")), scheme_csv(sibling(out, "schemes"));
  const analysis::StudyConfig cfg = study_config(f);
  std::string kind;
  const analysis::VolumeTable t = volume_table(f, kind);

  std::printf("numens brainage: %s: %zu subjects, %zu members (reference %lld), %zu regions%s\n",
              t.source.c_str(), t.subjects, t.members,
              t.member_ids.empty() ? 0LL : (long long)t.member_ids[t.reference], t.regions,
              f.icv ? ", ICV-normalised" : "");
  std::printf(
      "model %s, %s, seed %u\n", f.model == "ridge" ? "ridge" : ("svr " + f.kernel).c_str(),
      f.cv == "kfold"
          ? (std::to_string(f.folds) + "-fold CV").c_str()
          : (std::to_string(f.repeats) + " x hold-out " + fmt("%.2f", f.test_fraction)).c_str(),
      f.seed);
  const auto t0 = std::chrono::steady_clock::now();
  const analysis::StudyResult r = analysis::run_study(t, cfg);
  const double secs = seconds_since(t0);
  const std::string csv = curve_table(r), scsv = scheme_table(r);

  write_h5(h5.temp_path(), f, t, r, kind);
  if (!r.curve.empty()) write_text(curve_csv, csv);
  write_text(scheme_csv, scsv);
  h5.commit();
  if (!r.curve.empty()) curve_csv.commit();
  scheme_csv.commit();
  std::printf("\n%.1f s; wrote %s, %s%s\n", secs, out.string().c_str(),
              r.curve.empty() ? "" : (sibling(out, "curve").string() + ", ").c_str(),
              sibling(out, "schemes").string().c_str());
  return 0;
}

}  // namespace

Runner add_brainage(CLI::App& app) {
  auto f = std::make_shared<Flags>();
  CLI::App* sub = app.add_subcommand(
      "brainage", "Brain-age regression on regional volumes with ensemble augmentation");
  sub->add_option("--summary", f->summary, "variability summary (numens-summary HDF5)");
  sub->add_option(
      "--cohort", f->cohort,
      "cohort file: ground-truth volumes with a simulated ensemble (--simulate-members)");
  sub->add_option("--simulate-members", f->simulate_members,
                  "members to simulate from the cohort's volumes (member 0 is the reference)");
  sub->add_option("--noise-cv", f->noise_cv, "relative std of the simulated member noise")
      ->capture_default_str();
  sub->add_option("--noise-seed", f->noise_seed, "seed of the simulated member noise")
      ->capture_default_str();
  sub->add_flag("--icv", f->icv, "divide volumes by the total labelled volume (ICV proxy)");
  sub->add_option("--model", f->model, "ridge | svr")->capture_default_str();
  sub->add_option("--kernel", f->kernel, "svr kernel: rbf | linear")->capture_default_str();
  sub->add_option("--alphas", f->alphas, "ridge penalties searched by inner CV")
      ->delimiter(',')
      ->capture_default_str();
  sub->add_option("--C", f->Cs, "svr C values searched by inner CV")
      ->delimiter(',')
      ->capture_default_str();
  sub->add_option("--gamma", f->gammas, "svr rbf gamma values (default 1/regions)")->delimiter(',');
  sub->add_option("--epsilon", f->epsilon, "svr tube half-width, years")->capture_default_str();
  sub->add_option("--tol", f->tol, "svr stopping tolerance")->capture_default_str();
  sub->add_option("--cv", f->cv, "kfold | holdout (repeated, grouped by subject)")
      ->capture_default_str();
  sub->add_option("--folds", f->folds, "k of k-fold CV")->capture_default_str();
  sub->add_option("--repeats", f->repeats, "hold-out repeats")->capture_default_str();
  sub->add_option("--test-fraction", f->test_fraction, "hold-out test fraction")
      ->capture_default_str();
  sub->add_option("--inner-folds", f->inner_folds, "folds of the inner grid-search CV")
      ->capture_default_str();
  sub->add_option("--scheme", f->schemes,
                  "schemes, comma-separated: none, ensemble, gaussian, ensemble+gaussian")
      ->delimiter(',')
      ->capture_default_str();
  sub->add_option("--curve", f->curve, "N values of the MAE-vs-N curve (default 0..M-1)")
      ->delimiter(',');
  sub->add_flag("--no-curve", f->no_curve, "skip the MAE-vs-N curve");
  sub->add_option("--combinations", f->combinations, "member subsets drawn per N")
      ->capture_default_str();
  sub->add_option("--gaussian-rows", f->gaussian_rows,
                  "synthetic rows per subject (default: members - 1)")
      ->capture_default_str();
  sub->add_option("--bootstrap", f->bootstrap, "bootstrap resamples (and sign flips)")
      ->capture_default_str();
  sub->add_option("--seed", f->seed, "seed of splits, subsets, Gaussian rows, bootstrap")
      ->capture_default_str();
  sub->add_option("--threads", f->threads, "OpenMP threads (0: OMP_NUM_THREADS or all cores)")
      ->capture_default_str();
  sub->add_option("--out", f->out, "results file (HDF5); CSVs <stem>_curve.csv, _schemes.csv")
      ->required();
  return [f] { return run(*f); };
}

}  // namespace numens::drivers
