// numens ensemble: every member of an ensemble config (docs/ensemble.md) trained on its views and
// then segmenting the test subjects, members handed out to MPI ranks dynamically, resumable.
//
// Work distribution: a shared counter on rank 0 (an MPI window, incremented with
// MPI_Fetch_and_op under a passive-target lock), so a rank that finishes early takes the next
// member without rank 0 having to answer. A member's numbers depend only on its seeds and the
// configuration, never on which rank or how many threads ran it, so the outputs are the same for
// any number of ranks (layout independence, tests/cli/ensemble_checks.sh).
//
// Restart: checkpoints are written atomically at epoch ends and a member is complete when its DONE
// marker exists, so a rerun skips complete members and resumes the others from their last
// checkpoint, bit for bit (the resume contract of numens train). A member that throws is recorded
// in members/<m>/FAILED and the others go on; the command then exits non-zero.
#include <omp.h>
#include <unistd.h>
#include <array>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "drivers/commands.hpp"
#include "drivers/config_section.hpp"
#include "drivers/ensemble_config.hpp"
#include "drivers/mpi_session.hpp"
#include "drivers/segment.hpp"
#include "drivers/timing.hpp"
#include "drivers/train.hpp"
#include "io/atomic_file.hpp"
#include "io/checkpoint.hpp"
#include "io/cohort.hpp"
#include "io/error.hpp"

namespace numens::drivers {

namespace {

namespace fs = std::filesystem;

struct Flags {
  std::string config, dir;
  std::vector<std::string> sets;
  int threads = 0;
  bool check = false;
};

std::string read_text(const fs::path& p) {
  std::ifstream f(p);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

// Everything checked before any member starts; identical on every rank.
void validate(const EnsembleSettings& e) {
  const std::vector<Member> members = e.members();
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> null(std::fopen("/dev/null", "w"), &std::fclose);
  for (io::View v : e.views) {
    TrainRun check;
    check.check = true;
    check.force = true;
    check.log = null.get();
    train_view(e.member_settings(members.front(), v), check);  // slices, model vs slices, split
  }
  if (const std::string why = io::file_problem(e.segment_cohort); !why.empty())
    throw ConfigError(e.config_file.string() +
                      ": [ensemble] segment_cohort: " + e.segment_cohort.string() + ": " + why);
  const io::CohortReader cohort(e.segment_cohort);
  for (const std::string& id : e.segment_subjects) (void)cohort.index_of(id);
}

// Rank 0: the run directory agrees with this config (or is new); ensemble.toml written.
void prepare_directory(const EnsembleSettings& e) {
  io::make_output_dir(e.dir / "members");
  const fs::path stored = e.dir / "ensemble.toml";
  if (fs::exists(stored)) {
    const EnsembleSettings old = load_ensemble_settings(stored, {});
    const std::string diff = first_difference(ensemble_key(old), ensemble_key(e));
    if (!diff.empty())
      throw ConfigError(stored.string() +
                        ": this directory holds an ensemble of another "
                        "configuration (" +
                        diff + "); use another [ensemble] dir");
  }
  for (const Member& m : e.members()) {
    const fs::path mt = e.member_dir(m) / "member.toml";
    if (fs::exists(mt) && read_text(mt) != member_toml(m))
      throw ConfigError(mt.string() + ": member " + m.dir_name() +
                        " was made by another arm definition (" +
                        first_difference(read_text(mt), member_toml(m)) +
                        "); keep arm names, kinds, modes and id_base, or use another dir");
  }
  io::write_text_atomic(stored, to_toml(e));
}

// Trains the member's views (resuming from their checkpoints), segments, marks it DONE.
void run_member(const EnsembleSettings& e, const Member& m, int rank) {
  const fs::path dir = e.member_dir(m);
  io::make_output_dir(dir);
  fs::remove(dir / "FAILED");
  const fs::path mt = dir / "member.toml";
  if (!fs::exists(mt)) io::write_text_atomic(mt, member_toml(m));
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> log(std::fopen((dir / "log.txt").c_str(), "a"),
                                                      &std::fclose);
  if (!log) throw io::IoError((dir / "log.txt").string() + ": cannot open for writing");
  const std::string who = m.dir_name() + " (" + m.arm->name + " #" + std::to_string(m.index) + ")";
  for (io::View v : e.views) {
    const auto t0 = std::chrono::steady_clock::now();
    TrainSettings s = e.member_settings(m, v);
    const fs::path ckpt = dir / ("ckpt_" + std::string(io::view_name(v)) + ".h5");
    TrainRun run;
    run.log = log.get();
    int64_t from = 0;
    if (fs::exists(ckpt)) {
      from = io::read_checkpoint_header(ckpt).epoch;
      if (from >= s.epochs) continue;
      run.resume = ckpt;
    } else {
      run.force = true;  // files of an epoch that never reached a checkpoint are redone
    }
    train_view(std::move(s), run);
    std::printf("[rank %d] %s: %s trained (epochs %lld..%lld) in %.1f s\n", rank, who.c_str(),
                io::view_name(v), (long long)from + 1, (long long)e.base.epochs, seconds_since(t0));
    std::fflush(stdout);
  }
  const auto t0 = std::chrono::steady_clock::now();
  SegmentFlags sf;
  sf.cohort = e.segment_cohort.string();
  sf.models = dir.string();
  sf.out = (dir / "seg.h5").string();
  for (std::size_t i = 0; i < e.segment_subjects.size(); ++i)
    sf.subjects += (i ? "," : "") + e.segment_subjects[i];
  if (e.segment_member_arith) sf.typed_arith = m.arith;
  sf.member_id = m.id;
  sf.batch = e.segment_batch;
  sf.log = log.get();
  segment_cohort(sf);
  io::write_text_atomic(dir / "DONE", member_toml(m));
  std::printf("[rank %d] %s: segmented in %.1f s, complete\n", rank, who.c_str(),
              seconds_since(t0));
  std::fflush(stdout);
}

// The configuration and inputs, read and checked; "" when fine, else the error (every rank
// reads: the same files give the same verdict).
std::string load_settings(const Flags& f, EnsembleSettings& e) {
  try {
    // --dir stands in for [ensemble] dir, which the file may then leave out.
    std::vector<std::string> sets = f.sets;
    if (!f.dir.empty()) sets.push_back("ensemble.dir=" + toml_quoted(fs::absolute(f.dir).string()));
    e = load_ensemble_settings(f.config, sets);
    if (!f.dir.empty()) e.dir = fs::absolute(f.dir);
    validate(e);
  } catch (const Error& err) {
    return err.what();
  }
  return "";
}

void print_plan(const EnsembleSettings& e, std::size_t members, int size) {
  std::printf("numens ensemble: %zu members (", members);
  for (std::size_t a = 0; a < e.arms.size(); ++a)
    std::printf("%s%s %s x%lld", a ? ", " : "", e.arms[a].name.c_str(),
                arm_kind_name(e.arms[a].kind), (long long)e.arms[a].members);
  std::printf("), %zu views, %d rank%s x %d threads -> %s\n", e.views.size(), size,
              size == 1 ? "" : "s", omp_get_max_threads(), e.dir.string().c_str());
  std::fflush(stdout);
}

// The members this rank takes from the shared counter: run, skipped (DONE) or failed (recorded
// in members/<m>/FAILED, the others go on). Counts {done, skipped, failed}.
std::array<int64_t, 3> run_members(MpiSession& mpi, const EnsembleSettings& e,
                                   const std::vector<Member>& members) {
  const int rank = mpi.rank();
  std::array<int64_t, 3> n{0, 0, 0};
  WorkCounter counter(mpi);
  for (int64_t i = counter.next(); i < int64_t(members.size()); i = counter.next()) {
    const Member& m = members[size_t(i)];
    const fs::path dir = e.member_dir(m);
    if (fs::exists(dir / "DONE")) {
      ++n[1];
      continue;
    }
    try {
      run_member(e, m, rank);
      ++n[0];
    } catch (const Error& err) {
      ++n[2];
      const std::string msg = std::string(err.what()) + "\n";
      try {
        io::write_text_atomic(dir / "FAILED", msg);
      } catch (const Error&) {
      }
      std::fprintf(stderr, "numens ensemble: [rank %d] member %s failed: %s", rank,
                   m.dir_name().c_str(), msg.c_str());
      std::fflush(stderr);
    }
  }
  return n;
}

int run(const Flags& f) {
  MpiSession mpi;
  const int rank = mpi.rank(), size = mpi.size();
  if (f.threads < 0) throw ConfigError("ensemble: --threads must be >= 0");
  if (f.threads > 0) omp_set_num_threads(f.threads);
  // The lowest failing rank reports, the others exit quietly.
  EnsembleSettings e;
  if (!mpi.agree(load_settings(f, e))) return 1;
  const std::vector<Member> members = e.members();
  if (f.check) {
    if (rank == 0) {
      std::printf("%s", to_toml(e).c_str());
      std::printf("# %zu members, %zu views each: ok\n", members.size(), e.views.size());
    }
    return 0;
  }
  std::string error;
  if (rank == 0) {
    try {
      prepare_directory(e);
    } catch (const Error& err) {
      error = err.what();
    }
  }
  if (!mpi.agree(error)) return 1;
  if (rank == 0) print_plan(e, members.size(), size);
  const auto t0 = std::chrono::steady_clock::now();
  std::array<int64_t, 3> local = run_members(mpi, e, members);
  int64_t total[3] = {0, 0, 0};
  // Every rank has written its FAILED markers before contributing, so rank 0 can list them.
  mpi.sum_to_root(local.data(), total, 3);
  if (rank != 0) return local[2] ? 1 : 0;
  std::printf(
      "numens ensemble: %lld members trained, %lld already complete, %lld failed; %.1f s on %d "
      "rank%s\n",
      (long long)total[0], (long long)total[1], (long long)total[2], seconds_since(t0), size,
      size == 1 ? "" : "s");
  if (total[2] > 0) {
    std::string names;
    for (const Member& m : members)
      if (fs::exists(e.member_dir(m) / "FAILED"))
        names += (names.empty() ? "" : ", ") + m.dir_name();
    throw Error("ensemble: " + std::to_string(total[2]) + " member(s) failed: " + names +
                " (reasons in members/<m>/FAILED); rerun to retry them");
  }
  return 0;
}

}  // namespace

Runner add_ensemble(CLI::App& app) {
  auto f = std::make_shared<Flags>();
  CLI::App* sub = app.add_subcommand(
      "ensemble", "Train and segment every member of an ensemble (MPI ranks share the members)");
  sub->add_option("--config", f->config, "ensemble configuration (TOML; docs/ensemble.md)")
      ->required();
  sub->add_option("--dir", f->dir, "run directory (overrides [ensemble] dir)");
  sub->add_option("--set", f->sets, "override a key: section.key=value (repeatable)");
  sub->add_option("--threads", f->threads, "OpenMP threads per rank (0: OMP_NUM_THREADS)")
      ->capture_default_str();
  sub->add_flag("--check", f->check, "validate the configuration and inputs, print it, exit");
  return [f] { return run(*f); };
}

}  // namespace numens::drivers
