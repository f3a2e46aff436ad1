// numens study: the whole study as one resumable command (docs/study.md): synth -> slices ->
// ensemble (train + segment) -> variability -> brainage -> report, in one run directory.
//
// Each stage is a list of steps, and each step is an ordinary numens command run in this process
// (drivers/registry.cpp), printed before it runs so that a user can rerun any stage alone. A step
// is up to date when its outputs exist and none is older than its inputs (as make decides); every
// output is written under a temporary name and renamed, so an interrupted step leaves nothing that
// looks complete, and the ensemble resumes its members from their checkpoints. Rerunning the
// command after Ctrl-C, kill or a failure therefore continues where it stopped.
//
// Under mpirun/srun every rank runs this command: the ensemble stage uses all ranks; the other
// stages run on rank 0 with all the node's cores while the others wait (asleep, not spinning).
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "drivers/commands.hpp"
#include "drivers/config_section.hpp"
#include "drivers/ensemble_config.hpp"
#include "drivers/mpi_session.hpp"
#include "drivers/timing.hpp"
#include "drivers/train_config.hpp"
#include "io/atomic_file.hpp"
#include "io/error.hpp"
#include "io/slices.hpp"
#include "mca/error.hpp"

namespace numens::drivers {

namespace {

namespace fs = std::filesystem;

struct Flags {
  std::string config, out;
  std::vector<std::string> sets;
  int threads = 0, stage_threads = 0;
  bool check = false;
};

// The [study] section (docs/study.md): the cohorts, the slices and the brain-age regressions.
struct StudySettings {
  std::string templ = "colin27";
  double voxel_size = 2.0;
  int64_t subjects = 40, seed = 0;
  int64_t test_subjects = 16, test_seed = 1;
  double class_weight_floor = 0.1;
  std::vector<std::string> brainage_models = {"ridge", "svr"};
  std::string brainage_cv = "kfold";
  int64_t brainage_folds = 5, brainage_repeats = 20, brainage_seed = 1, brainage_inner_folds = 3;
  bool report = true;
};

std::string join_strings(const std::vector<std::string>& v) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + toml_quoted(v[i]);
  return s + "]";
}

StudySettings load_study_settings(const fs::path& file, const std::vector<std::string>& overrides) {
  const std::string fname = file.string();
  toml::table root = load_toml(file, overrides);
  Section s(fname, "study", root["study"].as_table());
  StudySettings st;
  st.templ = s.string("template", st.templ);
  if (st.templ != "colin27" && st.templ != "phantom")
    throw s.bad("template", "must be \"colin27\" or \"phantom\", got \"" + st.templ + "\"");
  st.voxel_size = s.number("voxel_size", st.voxel_size, 0.5, 8.0);
  st.subjects = s.integer("subjects", st.subjects, 2, 100000);
  st.seed = s.integer("seed", st.seed, 0, 0xFFFFFFFFll);
  st.test_subjects = s.integer("test_subjects", st.test_subjects, 2, 100000);
  st.test_seed = s.integer("test_seed", st.test_seed, 0, 0xFFFFFFFFll);
  if (st.test_seed == st.seed)
    throw s.bad("test_seed",
                "must differ from seed (the test subjects would be training subjects)");
  st.class_weight_floor = s.number("class_weight_floor", st.class_weight_floor, 0.0, 1.0);
  if (s.raw("brainage_models")) st.brainage_models = s.strings("brainage_models");
  for (const std::string& m : st.brainage_models)
    if (m != "ridge" && m != "svr" && m != "svr-linear")
      throw s.bad("brainage_models", "lists \"" + m + "\"; known: ridge, svr, svr-linear");
  st.brainage_cv = s.string("brainage_cv", st.brainage_cv);
  if (st.brainage_cv != "kfold" && st.brainage_cv != "holdout")
    throw s.bad("brainage_cv", "must be \"kfold\" or \"holdout\", got \"" + st.brainage_cv + "\"");
  st.brainage_folds = s.integer("brainage_folds", st.brainage_folds, 2, 1000);
  st.brainage_repeats = s.integer("brainage_repeats", st.brainage_repeats, 1, 100000);
  st.brainage_seed = s.integer("brainage_seed", st.brainage_seed, 0, 0xFFFFFFFFll);
  st.brainage_inner_folds = s.integer("brainage_inner_folds", st.brainage_inner_folds, 2, 1000);
  if (!st.brainage_models.empty()) {
    // The smallest outer training set must still hold one subject per inner fold.
    const int64_t n = st.test_subjects;
    const int64_t train = st.brainage_cv == "kfold"
                              ? n - (n + st.brainage_folds - 1) / st.brainage_folds
                              : n - std::max<int64_t>(1, int64_t(std::ceil(0.1 * double(n))));
    if (st.brainage_cv == "kfold" && n < st.brainage_folds)
      throw s.bad("brainage_folds", "is " + std::to_string(st.brainage_folds) +
                                        " but the brain-age regression has only test_subjects = " +
                                        std::to_string(n) + " subjects");
    if (train < st.brainage_inner_folds)
      throw s.bad("brainage_inner_folds", "is " + std::to_string(st.brainage_inner_folds) +
                                              " but the smallest training "
                                              "set of the brain-age cross-validation has " +
                                              std::to_string(train) +
                                              " subjects (raise test_subjects)");
  }
  st.report = s.boolean("report", st.report);
  s.finish();
  return st;
}

// The resolved [study] section without `report`: what a rerun in the same directory must agree on
// (whether a report is written changes no result).
std::string study_toml(const StudySettings& st) {
  std::ostringstream t;
  t << "[study]\ntemplate = " << toml_quoted(st.templ) << "\nvoxel_size = " << st.voxel_size
    << "\nsubjects = " << st.subjects << "\nseed = " << st.seed
    << "\ntest_subjects = " << st.test_subjects << "\ntest_seed = " << st.test_seed
    << "\nclass_weight_floor = " << st.class_weight_floor
    << "\nbrainage_models = " << join_strings(st.brainage_models)
    << "\nbrainage_cv = " << toml_quoted(st.brainage_cv)
    << "\nbrainage_folds = " << st.brainage_folds << "\nbrainage_repeats = " << st.brainage_repeats
    << "\nbrainage_seed = " << st.brainage_seed
    << "\nbrainage_inner_folds = " << st.brainage_inner_folds << "\n";
  return t.str();
}

// One command of a stage, with what it reads and writes.
struct Step {
  std::vector<std::string> args;  // args[0] is the subcommand
  std::vector<fs::path> outputs, inputs;
};

struct Stage {
  std::string name;
  bool all_ranks = false;  // the ensemble: every rank takes part
  std::vector<Step> steps;
};

using Clock = fs::file_time_type::clock;

bool up_to_date(const Step& s) {
  Clock::time_point oldest_out = Clock::time_point::max();
  for (const fs::path& p : s.outputs) {
    std::error_code ec;
    const auto t = fs::last_write_time(p, ec);
    if (ec) return false;
    oldest_out = std::min(oldest_out, t);
  }
  for (const fs::path& p : s.inputs) {
    std::error_code ec;
    const auto t = fs::last_write_time(p, ec);
    if (!ec && t > oldest_out) return false;
  }
  return true;
}

std::string command_line(const std::vector<std::string>& args) {
  std::string s = "numens";
  for (const std::string& a : args) {
    const bool plain = !a.empty() && a.find_first_of(" \"'{}[]$*?\\") == std::string::npos;
    s += " " + (plain ? a : "'" + a + "'");
  }
  return s;
}

// timings.csv: stage,status,seconds. `seconds` is what the stage's outputs took to make; a stage
// skipped in this run keeps the seconds of the run that made them.
class Timings {
 public:
  explicit Timings(fs::path file) : file_(std::move(file)) {
    std::ifstream in(file_);
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line)) {
      const auto a = line.find(','), b = line.rfind(',');
      if (a == std::string::npos || b == a) continue;
      if (line.substr(a + 1, b - a - 1) == "failed") continue;
      try {
        before_[line.substr(0, a)] = std::stod(line.substr(b + 1));
      } catch (const std::exception&) {
      }
    }
  }
  void record(const std::string& stage, const std::string& status, double seconds) {
    if (status == "skipped" && before_.count(stage)) seconds = before_[stage];
    rows_.push_back({stage, status, seconds});
    std::ostringstream o;
    o << "stage,status,seconds\n";
    for (const Row& r : rows_) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.3f", r.seconds);
      o << r.stage << ',' << r.status << ',' << buf << '\n';
    }
    io::write_text_atomic(file_, o.str());
  }
  void print(const fs::path& out) const {
    std::printf("\nnumens study: %s\n%-22s %-8s %10s\n", out.string().c_str(), "stage", "status",
                "seconds");
    double total = 0;
    for (const Row& r : rows_) {
      std::printf("%-22s %-8s %10.1f\n", r.stage.c_str(), r.status.c_str(), r.seconds);
      total += r.seconds;
    }
    std::printf("%-22s %-8s %10.1f\n", "total", "", total);
    std::fflush(stdout);
  }

 private:
  struct Row {
    std::string stage, status;
    double seconds;
  };
  fs::path file_;
  std::map<std::string, double> before_;
  std::vector<Row> rows_;
};

std::vector<Stage> plan(const StudySettings& st, const EnsembleSettings& e, const fs::path& out,
                        const std::string& config, const std::vector<std::string>& ens_sets,
                        int ens_threads, int threads) {
  const std::string th = std::to_string(threads);
  const fs::path cohort = out / "cohort.h5", test = out / "test-cohort.h5";
  std::vector<Stage> stages;
  char voxel[32];
  std::snprintf(voxel, sizeof voxel, "%g", st.voxel_size);
  auto synth = [&](const fs::path& file, int64_t n, int64_t seed) {
    return Step{
        {"synth", "--template", st.templ, "--subjects", std::to_string(n), "--seed",
         std::to_string(seed), "--voxel-size", voxel, "--threads", th, "--out", file.string()},
        {file},
        {}};
  };
  stages.push_back(
      {"synth",
       false,
       {synth(cohort, st.subjects, st.seed), synth(test, st.test_subjects, st.test_seed)}});
  Stage slices{"slices", false, {}};
  char floor[32];
  std::snprintf(floor, sizeof floor, "%g", st.class_weight_floor);
  for (io::View v : e.views) {
    const fs::path f = out / "slices" / (std::string(io::view_name(v)) + ".h5");
    slices.steps.push_back({{"slices", "--cohort", cohort.string(), "--view", io::view_name(v),
                             "--class-weight-floor", floor, "--out", f.string()},
                            {f},
                            {cohort}});
  }
  stages.push_back(slices);

  Step ens{{"ensemble", "--config", config, "--threads", std::to_string(ens_threads)}, {}, {}};
  for (const std::string& s : ens_sets) ens.args.insert(ens.args.end(), {"--set", s});
  std::vector<fs::path> done;
  for (const Member& m : e.members()) done.push_back(e.member_dir(m) / "DONE");
  ens.outputs = done;  // members resume themselves: complete when every DONE exists
  stages.push_back({"ensemble", true, {ens}});

  const fs::path summary = out / "summary.h5";
  std::vector<fs::path> var_in = done;
  var_in.push_back(test);
  stages.push_back({"variability",
                    false,
                    {{{"variability", "--ensemble", e.dir.string(), "--cohort", test.string(),
                       "--threads", th, "--out", summary.string()},
                      {summary},
                      var_in}}});
  std::vector<fs::path> reports_in = {summary};
  for (const std::string& m : st.brainage_models) {
    const fs::path f = out / ("brainage_" + m + ".h5");
    Step b{{"brainage", "--summary", summary.string(), "--model", m == "ridge" ? "ridge" : "svr"},
           {f},
           {summary}};
    if (m != "ridge") b.args.insert(b.args.end(), {"--kernel", m == "svr" ? "rbf" : "linear"});
    b.args.insert(
        b.args.end(),
        {"--cv", st.brainage_cv, "--inner-folds", std::to_string(st.brainage_inner_folds), "--seed",
         std::to_string(st.brainage_seed), "--threads", th, "--out", f.string()});
    if (st.brainage_cv == "kfold")
      b.args.insert(b.args.end(), {"--folds", std::to_string(st.brainage_folds)});
    else
      b.args.insert(b.args.end(), {"--repeats", std::to_string(st.brainage_repeats)});
    stages.push_back({"brainage-" + m, false, {b}});
    reports_in.push_back(f);
  }
  if (st.report)
    stages.push_back({"report",
                      false,
                      {{{"report", "--run", out.string(), "--out", (out / "report").string()},
                        {out / "report" / "index.html"},
                        reports_in}}});
  return stages;
}

// The run directory's paths, which the study owns: the ensemble stage is told them as overrides.
std::vector<std::string> ensemble_overrides(const Flags& f, const fs::path& out) {
  std::vector<std::string> ens_sets = f.sets;
  ens_sets.push_back("data.slices=" + toml_quoted((out / "slices" / "{view}.h5").string()));
  ens_sets.push_back("ensemble.dir=" + toml_quoted((out / "ensemble").string()));
  ens_sets.push_back("ensemble.segment_cohort=" + toml_quoted((out / "test-cohort.h5").string()));
  ens_sets.push_back("ensemble.segment_subjects=[]");
  return ens_sets;
}

// Both configurations read and cross-checked; "" when fine, else the error (every rank reads,
// the ranks agree on the outcome).
std::string load_settings(const Flags& f, const std::vector<std::string>& ens_sets,
                          StudySettings& st, EnsembleSettings& e) {
  try {
    if (f.config.empty()) throw ConfigError("study: --config is required");
    if (const std::string why = io::file_problem(f.config); !why.empty())
      throw ConfigError(f.config + ": " + why);
    e = load_ensemble_settings(f.config, ens_sets);
    st = load_study_settings(f.config, f.sets);
    if (!st.brainage_models.empty()) {
      bool ieee = false;
      for (const Arm& a : e.arms) ieee |= a.kind == ArmKind::ieee;
      if (!ieee || e.members().size() < 2)
        throw ConfigError(f.config +
                          ": [study] brainage_models needs an \"ieee\" arm (the reference member) "
                          "and at least 2 members; set brainage_models = [] to skip brain age");
    }
  } catch (const Error& err) {
    return err.what();
  }
  return "";
}

void print_check(const StudySettings& st, const EnsembleSettings& e,
                 const std::vector<Stage>& stages) {
  std::printf("%sreport = %s\n%s", study_toml(st).c_str(), st.report ? "true" : "false",
              to_toml(e).c_str());
  std::size_t n = 0;
  for (const Stage& s : stages) {
    for (const Step& step : s.steps) std::printf("# %s\n", command_line(step.args).c_str());
    n += s.steps.size();
  }
  std::printf("# %zu stages, %zu commands, %zu members: ok\n", stages.size(), n,
              e.members().size());
}

// The run directory: made by this configuration's [study] or refused (the ensemble stage checks
// the training part the same way). "" when fine, else the error. Rank 0 only.
std::string claim_run_dir(const fs::path& out, const StudySettings& st) {
  try {
    io::make_output_dir(out / "slices");
    const fs::path key = out / "study.toml";
    const std::string mine = study_toml(st);
    if (fs::exists(key)) {
      std::ifstream in(key);
      std::stringstream had;
      had << in.rdbuf();
      if (had.str() != mine)
        throw ConfigError(out.string() + " holds a study of another configuration (" +
                          key.string() + ": " + first_difference(had.str(), mine) +
                          "); use another --out");
    } else {
      io::write_text_atomic(key, mine);
    }
  } catch (const Error& err) {
    return err.what();
  } catch (const fs::filesystem_error& err) {
    return out.string() + ": " + err.what();
  }
  return "";
}

// One stage: skipped when every step is up to date, else its commands on rank 0 (or on every
// rank for the ensemble). Returns false on a rank other than 0 when the stage failed (that rank
// then exits 1); rank 0 throws instead, naming the stage.
bool run_stage(MpiSession& mpi, const Stage& s, std::size_t i, std::size_t n_stages, int threads,
               Timings* timings, const fs::path& out) {
  const int rank = mpi.rank();
  int pending = 0;
  if (rank == 0)
    for (const Step& step : s.steps) pending += !up_to_date(step);
  pending = mpi.share_from_root(pending);
  if (rank == 0) {
    std::printf("\n[%zu/%zu] %s: %s\n", i + 1, n_stages, s.name.c_str(),
                pending ? "running" : "up to date, skipped");
    std::fflush(stdout);
  }
  if (!pending) {
    if (rank == 0) timings->record(s.name, "skipped", 0);
    return true;
  }
  const auto t0 = std::chrono::steady_clock::now();
  std::string failure;
  int rc = 0;
  if (s.all_ranks || rank == 0) {
    if (!s.all_ranks) omp_set_num_threads(threads);
    for (const Step& step : s.steps) {
      if (!s.all_ranks && up_to_date(step)) continue;
      if (rank == 0) {
        std::printf("$ %s\n", command_line(step.args).c_str());
        std::fflush(stdout);
      }
      try {
        rc = run_command(step.args);
      } catch (const Error& err) {
        failure = err.what();
        rc = 1;
      }
      if (rc != 0) break;
    }
  }
  const int failed = s.all_ranks ? mpi.max_over_ranks(rc) : mpi.share_from_root(rc);
  if (rank != 0) return !failed;
  timings->record(s.name, failed ? "failed" : "ran", seconds_since(t0));
  if (failed) {
    timings->print(out);
    throw Error("study: stage " + s.name + " failed" +
                (failure.empty() ? std::string(" (see above)") : ": " + failure) +
                "; fix it and rerun the same command to continue from this stage");
  }
  return true;
}

int run(const Flags& f) {
  MpiSession mpi;
  const int rank = mpi.rank(), size = mpi.size();
  if (f.threads < 0 || f.stage_threads < 0)
    throw ConfigError("study: --threads and --stage-threads must be >= 0");
  // Threads: the ensemble's per rank (default OMP_NUM_THREADS, as numens ensemble), the other
  // stages' on rank 0 alone (default every core this process may use).
  const int ens_threads = f.threads > 0 ? f.threads : omp_get_max_threads();
  const int threads = f.stage_threads > 0 ? f.stage_threads : omp_get_num_procs();
  if (f.out.empty()) throw ConfigError("study: --out DIR is required");
  const fs::path out = fs::absolute(f.out).lexically_normal();
  const std::vector<std::string> ens_sets = ensemble_overrides(f, out);
  StudySettings st;
  EnsembleSettings e;
  if (!mpi.agree(load_settings(f, ens_sets, st, e))) return 1;
  const std::vector<Stage> stages =
      plan(st, e, out, fs::absolute(f.config).string(), ens_sets, ens_threads, threads);
  if (f.check) {
    if (rank == 0) print_check(st, e, stages);
    return 0;
  }
  if (!mpi.agree(rank == 0 ? claim_run_dir(out, st) : std::string())) return 1;

  std::unique_ptr<Timings> timings;
  if (rank == 0) {
    timings = std::make_unique<Timings>(out / "timings.csv");
    std::printf(
        "numens study: %zu stages -> %s (%d rank%s; %d threads per rank in the ensemble, "
        "%d in the other stages)\n",
        stages.size(), out.string().c_str(), size, size == 1 ? "" : "s", ens_threads, threads);
    std::fflush(stdout);
  }
  for (std::size_t i = 0; i < stages.size(); ++i)
    if (!run_stage(mpi, stages[i], i, stages.size(), threads, timings.get(), out)) return 1;
  if (rank == 0) {
    timings->print(out);
    if (st.report) std::printf("report: %s\n", (out / "report" / "index.html").string().c_str());
  }
  return 0;
}

}  // namespace

Runner add_study(CLI::App& app) {
  auto f = std::make_shared<Flags>();
  CLI::App* sub = app.add_subcommand(
      "study",
      "The whole study, resumable: synth -> slices -> ensemble -> variability -> brainage -> "
      "report (docs/study.md); run it under mpirun/srun to spread the ensemble over ranks");
  sub->add_option("--config", f->config, "study configuration (TOML; docs/study.md)")->required();
  sub->add_option("--out", f->out, "run directory")->required();
  sub->add_option("--set", f->sets, "override a key: section.key=value (repeatable)");
  sub->add_option("--threads", f->threads,
                  "OpenMP threads per rank in the ensemble (0: OMP_NUM_THREADS)")
      ->capture_default_str();
  sub->add_option("--stage-threads", f->stage_threads,
                  "OpenMP threads of the one-rank stages (0: every core of the process)")
      ->capture_default_str();
  sub->add_flag("--check", f->check, "validate the configuration, print the plan, exit");
  return [f] { return run(*f); };
}

}  // namespace numens::drivers
