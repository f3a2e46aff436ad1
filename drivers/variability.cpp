// numens variability: how much the members of an ensemble disagree, per subject, arm and region
// (docs/variability.md). Reads the run directory (io/ensemble.hpp), every member's segmentation
// (io/segmentation.hpp) and the cohort's ground truth; measures with analysis/ (pairwise Dice,
// volumes, significant digits, majority vote, entropy); writes summary.h5 (io/summary.hpp) and
// CSV tables next to it, and prints them. Everything that can be checked (members complete, one
// subject list, label table and grid, the cohort they segmented) is checked before any work, so a
// bad directory costs one error line and leaves no output.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "analysis/overlap.hpp"
#include "analysis/sigdigits.hpp"
#include "analysis/variability.hpp"
#include "drivers/commands.hpp"
#include "drivers/recorded_path.hpp"
#include "io/atomic_file.hpp"
#include "io/cohort.hpp"
#include "io/ensemble.hpp"
#include "io/error.hpp"
#include "io/segmentation.hpp"
#include "io/summary.hpp"
#include "numens/version.hpp"

namespace numens::drivers {

namespace {

namespace fs = std::filesystem;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct Flags {
  std::string ensemble, cohort, out;
  std::string sigdigits = "cnh";
  int base = 2;
  double probability = 0.95, confidence = 0.95;
  bool maps = true;
  int threads = 0;
};

[[noreturn]] void fail(const fs::path& file, const std::string& what) {
  throw io::IoError("variability: " + file.string() + ": " + what);
}

// <out> without its .h5 extension, plus `suffix`: summary.h5 -> summary_regions.csv.
fs::path sibling(const fs::path& out, const std::string& suffix) {
  fs::path p = out;
  if (p.extension() == ".h5") p.replace_extension();
  p += suffix;
  return p;
}

// The cohort the members segmented: --cohort, else the path recorded in their seg.h5. A recorded
// relative path was relative to wherever `numens segment` ran: the current directory is tried
// first, then the ensemble directory (where `numens ensemble` runs segment from).
fs::path resolve_cohort(const Flags& f, const std::string& recorded, const fs::path& dir,
                        const fs::path& seg) {
  if (!f.cohort.empty()) {
    if (!fs::exists(f.cohort)) fail(f.cohort, "cohort not found");
    return f.cohort;
  }
  if (recorded.empty()) fail(seg, "records no cohort path; give --cohort");
  if (const auto found = find_recorded_path(recorded, dir)) return *found;
  const fs::path p(recorded);
  if (p.is_absolute()) fail(p, "cohort recorded in " + seg.string() + " not found; give --cohort");
  fail(p, "cohort recorded in " + seg.string() +
              " not found (looked in the current directory and in " + dir.string() +
              "); give --cohort");
}

bool same_grid(const io::Geometry& a, const io::Geometry& b) {
  return a.dims == b.dims && a.voxel_size == b.voxel_size && a.affine == b.affine;
}

bool same_lut(const io::LabelTable& a, const io::LabelTable& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].value != b[i].value || a[i].name != b[i].name) return false;
  return true;
}

struct Member {
  const io::MemberRecord* record;
  std::unique_ptr<io::SegmentationReader> seg;
};

// Every member's seg.h5 open and consistent with the first's: same subjects in the same order,
// label table, classes and grids; each one's `member` attribute its own id.
std::vector<Member> open_members(const io::EnsembleDir& ens) {
  std::vector<Member> out;
  for (const io::MemberRecord& r : ens.members) {
    const fs::path p = r.seg();
    if (!fs::exists(p)) fail(p, "seg.h5 of member " + std::to_string(r.id) + " not found");
    Member m{&r, std::make_unique<io::SegmentationReader>(p)};
    const io::SegmentationInfo& info = m.seg->info();
    if (info.member != r.id)
      fail(p, "segmentation of member " + std::to_string(info.member) +
                  " in the directory of member " + std::to_string(r.id));
    if (!out.empty()) {
      const Member& ref = out.front();
      const fs::path rp = ref.record->seg();
      const io::SegmentationInfo& ri = ref.seg->info();
      if (m.seg->subject_ids() != ref.seg->subject_ids())
        fail(p, "segments " + std::to_string(m.seg->subject_ids().size()) +
                    " subjects that differ from the " +
                    std::to_string(ref.seg->subject_ids().size()) + " of " + rp.string());
      if (!same_lut(info.lut, ri.lut)) fail(p, "label table differs from that of " + rp.string());
      if (info.class_values != ri.class_values)
        fail(p, "class values differ from those of " + rp.string());
      if (info.cohort_creation_time != ri.cohort_creation_time)
        fail(p, "segments a cohort created " + info.cohort_creation_time + ", " + rp.string() +
                    " one created " + ri.cohort_creation_time);
      for (const auto& id : m.seg->subject_ids())
        if (!same_grid(m.seg->geometry(id), ref.seg->geometry(id)))
          fail(p, "subject '" + id + "': grid differs from that of " + rp.string());
    }
    out.push_back(std::move(m));
  }
  return out;
}

std::string describe(const Flags& f, const fs::path& cohort) {
  std::ostringstream c;
  c << "[variability]\nensemble = \"" << f.ensemble << "\"\ncohort = \"" << cohort.string()
    << "\"\nsigdigits = \"" << f.sigdigits << "\"\nbase = " << f.base
    << "\nprobability = " << f.probability << "\nconfidence = " << f.confidence
    << "\nmaps = " << (f.maps ? "true" : "false") << "\n";
  return c.str();
}

// Mean of the finite values; NaN when there is none.
double finite_mean(const std::vector<double>& v) {
  return analysis::finite_moments(v).mean;
}

// Shortest-enough text of a value: 10 significant digits keep volumes in mm3 exact at any
// realistic size; "nan" for undefined entries (pandas and numpy read it back as NaN).
std::string num(double v, int precision = 10) {
  if (!std::isfinite(v)) return "nan";
  std::ostringstream o;
  o.precision(precision);
  o << v;
  return o.str();
}

// A CSV field: quoted (RFC 4180) when it holds a comma, quote or line break. LUT names come from
// user files, so one with a comma must not shift the columns.
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

// One CSV written to a temp name and renamed, like every numens output.
void write_csv(const fs::path& path, const std::string& text) {
  io::AtomicFile af(path);
  {
    std::ofstream o(af.temp_path());
    o << text;
    o.close();
    if (!o) fail(path, "cannot write");
  }
  af.commit();
}

// Per arm and region, means over subjects (and members) of the summary's measures.
struct RegionRow {
  std::size_t arm = 0, region = 0;
  double min_dice = kNaN, mean_dice = kNaN, volume = kNaN, cv = kNaN, sig = kNaN;
  double member_dice = kNaN, majority_dice = kNaN, ieee_dice = kNaN;
};

std::vector<RegionRow> region_rows(const io::SummaryTables& t) {
  const std::size_t A = t.arms(), S = t.subjects(), R = t.regions(), M = t.members();
  // The unperturbed baseline of the paper's accuracy claim: the first arm of kind ieee.
  std::optional<std::size_t> ieee;
  for (std::size_t a = 0; a < A && !ieee; ++a)
    if (t.arm_kinds[a] == "ieee") ieee = a;
  std::vector<RegionRow> rows;
  for (std::size_t a = 0; a < A; ++a) {
    std::vector<RegionRow> arm_rows;
    for (std::size_t r = 0; r < R; ++r) {
      std::vector<double> mn, me, vo, cv, sg, mj, md, id;
      for (std::size_t s = 0; s < S; ++s) {
        const std::size_t k = t.asr(a, s, r);
        mn.push_back(t.dice_pairwise_min[k]);
        me.push_back(t.dice_pairwise_mean[k]);
        vo.push_back(t.volume_mean[k]);
        cv.push_back(t.volume_cv[k]);
        sg.push_back(t.volume_sigdigits[k]);
        mj.push_back(t.majority_dice[k]);
        for (std::size_t m = 0; m < M; ++m) {
          if (std::size_t(t.member_arms[m]) == a) md.push_back(t.dice[t.smr(s, m, r)]);
          if (ieee && std::size_t(t.member_arms[m]) == *ieee) id.push_back(t.dice[t.smr(s, m, r)]);
        }
      }
      arm_rows.push_back({a, r, finite_mean(mn), finite_mean(me), finite_mean(vo), finite_mean(cv),
                          finite_mean(sg), finite_mean(md), finite_mean(mj), finite_mean(id)});
    }
    // Most variable first: lowest minimum pairwise Dice; undefined (one-member arms, absent
    // regions) last; region value breaks ties so the order is total.
    std::stable_sort(arm_rows.begin(), arm_rows.end(), [&](const RegionRow& x, const RegionRow& y) {
      const bool fx = std::isfinite(x.min_dice), fy = std::isfinite(y.min_dice);
      if (fx != fy) return fx;
      if (fx && x.min_dice != y.min_dice) return x.min_dice < y.min_dice;
      return t.region_values[x.region] < t.region_values[y.region];
    });
    rows.insert(rows.end(), arm_rows.begin(), arm_rows.end());
  }
  return rows;
}

std::size_t arm_size(const io::SummaryTables& t, std::size_t a) {
  return std::size_t(std::count(t.member_arms.begin(), t.member_arms.end(), std::int64_t(a)));
}

// --sigdigits, --base, --probability, --confidence, checked.
analysis::SigOptions sig_options(const Flags& f) {
  analysis::SigOptions sig;
  sig.method = analysis::parse_sig_method(f.sigdigits);
  if (f.base != 2 && f.base != 10)
    throw ConfigError("variability: --base " + std::to_string(f.base) + " is not 2 or 10");
  sig.base = f.base;
  if (!(f.probability > 0 && f.probability < 1) || !(f.confidence > 0 && f.confidence < 1))
    throw ConfigError("variability: --probability and --confidence must be in (0, 1)");
  sig.probability = f.probability;
  sig.confidence = f.confidence;
  sig.error = analysis::SigError::relative;  // reference: the arm's mean volume
  return sig;
}

// The ensemble, its members' segmentation files and the cohort they segmented, checked to belong
// together (creation time, subjects, grids) before any work.
struct Inputs {
  io::EnsembleDir ens;
  std::vector<Member> members;
  fs::path cohort_path;
  std::unique_ptr<io::CohortReader> cohort;
  std::vector<std::string> ids;           // the subjects, in the members' order
  std::vector<std::size_t> cohort_index;  // their positions in the cohort
};

Inputs open_inputs(const Flags& f) {
  Inputs in;
  in.ens = io::read_ensemble_dir(f.ensemble);
  in.members = open_members(in.ens);
  const io::SegmentationReader& ref = *in.members.front().seg;
  in.cohort_path =
      resolve_cohort(f, ref.info().cohort, in.ens.dir, in.members.front().record->seg());
  in.cohort = std::make_unique<io::CohortReader>(in.cohort_path);
  const io::CohortReader& cohort = *in.cohort;
  if (cohort.provenance("creation_time") != ref.info().cohort_creation_time)
    fail(in.cohort_path, "created " + cohort.provenance("creation_time") +
                             ", but the members segmented the cohort created " +
                             ref.info().cohort_creation_time + " (" + ref.info().cohort + ")");
  in.ids = ref.subject_ids();
  for (const auto& id : in.ids) {
    const std::size_t ci = cohort.index_of(id);
    if (!same_grid(cohort.subjects()[ci].geometry, ref.geometry(id)))
      fail(in.cohort_path, "subject '" + id + "': grid differs from that of " +
                               in.members.front().record->seg().string());
    in.cohort_index.push_back(ci);
  }
  for (const auto& arm : in.ens.arms)
    if (arm.members.size() > 255)
      fail(in.ens.dir, "arm '" + arm.name + "' has " + std::to_string(arm.members.size()) +
                           " members; the voxel maps hold at most 255");
  return in;
}

// The summary's axes and fixed parts, every measured table allocated and NaN.
io::SummaryTables table_axes(const Flags& f, const Inputs& in, const analysis::SigOptions& sig) {
  const io::EnsembleDir& ens = in.ens;
  io::SummaryTables t;
  t.config = describe(f, in.cohort_path);
  t.cohort = in.cohort_path.string();
  t.cohort_creation_time = in.cohort->provenance("creation_time");
  for (const auto& a : ens.arms) t.arm_names.push_back(a.name), t.arm_kinds.push_back(a.kind);
  std::vector<std::size_t> arm_of(ens.members.size());
  for (std::size_t a = 0; a < ens.arms.size(); ++a)
    for (std::size_t m : ens.arms[a].members) arm_of[m] = a;
  for (std::size_t m = 0; m < ens.members.size(); ++m) {
    t.member_ids.push_back(ens.members[m].id);
    t.member_arms.push_back(std::int64_t(arm_of[m]));
    t.member_seeds.push_back(ens.members[m].seeds);
    t.member_arith.push_back(ens.members[m].arith);
  }
  t.subject_ids = in.ids;
  for (std::size_t ci : in.cohort_index) t.ages.push_back(in.cohort->subjects()[ci].age);
  const io::SegmentationInfo& info = in.members.front().seg->info();
  for (std::size_t c = 0; c < info.class_values.size(); ++c) {
    if (info.class_values[c] == 0) continue;
    t.region_values.push_back(info.class_values[c]);
    t.region_names.push_back(info.class_names[c]);
    t.region_cortical.push_back(analysis::is_cortical(info.class_values[c]) ? 1 : 0);
  }
  if (t.region_values.empty())
    fail(in.members.front().record->seg(), "the models have no class but background");
  t.sigdigits.method = analysis::sig_method_name(sig.method);
  t.sigdigits.base = f.base;
  t.sigdigits.probability = f.probability;
  t.sigdigits.confidence = f.confidence;
  const std::size_t A = t.arms(), M = t.members(), S = t.subjects(), R = t.regions();
  t.dice.assign(S * M * R, float(kNaN));
  t.volume_mm3.assign(S * M * R, kNaN);
  for (auto* v : {&t.dice_pairwise_min, &t.dice_pairwise_mean, &t.majority_dice})
    v->assign(A * S * R, float(kNaN));
  for (auto* v : {&t.volume_mean, &t.volume_std, &t.volume_cv, &t.volume_sigdigits})
    v->assign(A * S * R, kNaN);
  return t;
}

void print_header(const Flags& f, const Inputs& in, const io::SummaryTables& t,
                  const analysis::SigOptions& sig) {
  std::printf("numens variability: %zu members in %zu arms, %zu subjects, %zu regions, cohort %s\n",
              t.members(), t.arms(), t.subjects(), t.regions(), in.cohort_path.c_str());
  if (sig.method == analysis::SigMethod::general) {
    // The General bound holds with probability p at confidence c only from n samples on; fewer
    // members still give a number, with a weaker guarantee, which the user should know.
    const std::int64_t need = analysis::general_min_samples(f.probability, f.confidence);
    for (const auto& arm : in.ens.arms)
      if (arm.members.size() >= 2 && std::int64_t(arm.members.size()) < need)
        std::printf(
            "note: arm '%s' has %zu members; the General estimator needs %lld for "
            "p = %g at confidence %g\n",
            arm.name.c_str(), arm.members.size(), static_cast<long long>(need), f.probability,
            f.confidence);
  }
  std::fflush(stdout);
}

// One arm on one subject: the members' volumes and Dice against the truth, the arm's pairwise
// Dice, volume spread and significant digits, the voxel maps (written when asked for).
void measure_arm(const Flags& f, const Inputs& in, io::SummaryTables& t, io::SummaryWriter& writer,
                 const analysis::SigOptions& sig, const analysis::RegionIndex& regions,
                 std::size_t s, std::size_t a, const io::Subject& subj) {
  const std::size_t R = t.regions();
  const std::vector<std::string>& ids = in.ids;
  const io::Geometry& grid = subj.info.geometry;
  const double voxel_mm3 = grid.voxel_size[0] * grid.voxel_size[1] * grid.voxel_size[2];
  const bool truth = subj.info.has_labels;
  const auto& arm_members = in.ens.arms[a].members;
  std::vector<std::vector<std::int16_t>> vols;
  for (std::size_t m : arm_members) vols.push_back(in.members[m].seg->labels(ids[s]));
  const std::vector<analysis::LabelSpan> spans(vols.begin(), vols.end());
  std::vector<std::vector<double>> vol_r(R);  // region -> volume per member of the arm
  // Members' counts and Dice vs truth in parallel (HDF5 reads above stay serial: the library
  // is not thread-safe); each member's numbers are its own, so threads change nothing.
  const std::size_t n_arm = arm_members.size();
  std::vector<std::vector<std::int64_t>> counts_of(n_arm);
  std::vector<std::vector<double>> dice_of(n_arm);
#pragma omp parallel for schedule(dynamic, 1)
  for (std::int64_t i = 0; i < std::int64_t(n_arm); ++i) {
    counts_of[std::size_t(i)] = analysis::region_counts(vols[std::size_t(i)], regions);
    dice_of[std::size_t(i)] =
        truth ? analysis::dice_for_regions(vols[std::size_t(i)], subj.labels, regions)
              : std::vector<double>(R, kNaN);
  }
  for (std::size_t i = 0; i < n_arm; ++i) {
    const std::size_t m = arm_members[i];
    const auto& counts = counts_of[i];
    const auto& dice = dice_of[i];
    for (std::size_t r = 0; r < R; ++r) {
      const double v = double(counts[r]) * voxel_mm3;
      t.volume_mm3[t.smr(s, m, r)] = v;
      t.dice[t.smr(s, m, r)] = float(dice[r]);
      vol_r[r].push_back(v);
    }
  }
  const analysis::PairwiseDice pd = analysis::pairwise_dice(spans, regions);
  io::ArmMaps maps;
  {
    analysis::VoxelMaps vm = analysis::voxel_maps(spans);
    maps.entropy = std::move(vm.entropy);
    maps.disagreement = std::move(vm.disagreement);
    maps.majority = std::move(vm.majority);
  }
  const auto maj = truth ? analysis::dice_for_regions(maps.majority, subj.labels, regions)
                         : std::vector<double>(R, kNaN);
  for (std::size_t r = 0; r < R; ++r) {
    const std::size_t k = t.asr(a, s, r);
    t.dice_pairwise_min[k] = float(pd.min[r]);
    t.dice_pairwise_mean[k] = float(pd.mean[r]);
    const analysis::Spread sp = analysis::spread(vol_r[r]);
    t.volume_mean[k] = sp.mean;
    t.volume_std[k] = sp.std;
    t.volume_cv[k] = sp.cv;
    if (vol_r[r].size() >= 2) t.volume_sigdigits[k] = analysis::significant_digits(vol_r[r], sig);
    t.majority_dice[k] = float(maj[r]);
  }
  if (f.maps) writer.write_maps(ids[s], in.ens.arms[a].name, grid, maps);
}

// Is variability structurally the same across arms? Per-region means over subjects of
// 1 - min pairwise Dice and of volume CV, correlated across regions for every pair of arms
// with at least two members (seed vs mca is the paper's comparison).
void correlate_arms(io::SummaryTables& t) {
  const std::size_t A = t.arms(), S = t.subjects(), R = t.regions();
  for (std::size_t a = 0; a < A; ++a)
    for (std::size_t b = a + 1; b < A; ++b) {
      if (arm_size(t, a) < 2 || arm_size(t, b) < 2) continue;
      for (const char* measure : {"1-min_pairwise_dice", "volume_cv"}) {
        const bool dice = measure[0] == '1';
        std::vector<double> x(R), y(R);
        for (std::size_t r = 0; r < R; ++r) {
          std::vector<double> xs, ys;
          for (std::size_t s = 0; s < S; ++s) {
            xs.push_back(dice ? 1.0 - t.dice_pairwise_min[t.asr(a, s, r)]
                              : t.volume_cv[t.asr(a, s, r)]);
            ys.push_back(dice ? 1.0 - t.dice_pairwise_min[t.asr(b, s, r)]
                              : t.volume_cv[t.asr(b, s, r)]);
          }
          x[r] = finite_mean(xs), y[r] = finite_mean(ys);
        }
        const analysis::Correlation c = analysis::correlate(x, y);
        t.correlations.push_back(
            {std::int64_t(a), std::int64_t(b), measure, std::int64_t(c.n), c.pearson, c.spearman});
      }
    }
}

// Per arm, the minimum pairwise Dice of cortical and of non-cortical regions over subjects.
using CorticalSplit = std::pair<analysis::Moments, analysis::Moments>;
std::vector<CorticalSplit> cortical_split(const io::SummaryTables& t) {
  std::vector<CorticalSplit> cort(t.arms());
  for (std::size_t a = 0; a < t.arms(); ++a) {
    std::vector<double> c, n;
    for (std::size_t s = 0; s < t.subjects(); ++s)
      for (std::size_t r = 0; r < t.regions(); ++r)
        (t.region_cortical[r] ? c : n).push_back(t.dice_pairwise_min[t.asr(a, s, r)]);
    cort[a] = {analysis::finite_moments(c), analysis::finite_moments(n)};
  }
  return cort;
}

// The three CSV tables (regions, cortical split, correlations), as text.
struct CsvTables {
  std::string regions, cortical, correlations;
};
CsvTables csv_tables(const io::SummaryTables& t, const std::vector<RegionRow>& rows,
                     const std::vector<CorticalSplit>& cort) {
  std::ostringstream regions_csv, cortical_csv, corr_csv;
  regions_csv << "arm,kind,members,region,name,cortical,min_pairwise_dice,mean_pairwise_dice,"
                 "volume_mean_mm3,volume_cv,sigdigits,member_dice,majority_dice,ieee_dice\n";
  for (const RegionRow& r : rows)
    regions_csv << t.arm_names[r.arm] << ',' << t.arm_kinds[r.arm] << ',' << arm_size(t, r.arm)
                << ',' << t.region_values[r.region] << ',' << csv_field(t.region_names[r.region])
                << ',' << int(t.region_cortical[r.region]) << ',' << num(r.min_dice) << ','
                << num(r.mean_dice) << ',' << num(r.volume) << ',' << num(r.cv) << ',' << num(r.sig)
                << ',' << num(r.member_dice) << ',' << num(r.majority_dice) << ','
                << num(r.ieee_dice) << '\n';
  cortical_csv << "arm,kind,members,cortical_mean,cortical_std,cortical_n,noncortical_mean,"
                  "noncortical_std,noncortical_n\n";
  for (std::size_t a = 0; a < t.arms(); ++a)
    cortical_csv << t.arm_names[a] << ',' << t.arm_kinds[a] << ',' << arm_size(t, a) << ','
                 << num(cort[a].first.mean) << ',' << num(cort[a].first.std) << ','
                 << cort[a].first.n << ',' << num(cort[a].second.mean) << ','
                 << num(cort[a].second.std) << ',' << cort[a].second.n << '\n';
  corr_csv << "arm_a,arm_b,measure,regions,pearson,spearman\n";
  for (const auto& c : t.correlations)
    corr_csv << t.arm_names[std::size_t(c.arm_a)] << ',' << t.arm_names[std::size_t(c.arm_b)] << ','
             << c.measure << ',' << c.regions << ',' << num(c.pearson) << ',' << num(c.spearman)
             << '\n';
  return {regions_csv.str(), cortical_csv.str(), corr_csv.str()};
}

// The same tables on stdout: minimum pairwise Dice per arm (the paper's table), the most
// variable regions, the correlations.
void print_tables(const io::SummaryTables& t, const std::vector<RegionRow>& rows,
                  const std::vector<CorticalSplit>& cort, const fs::path& csv_regions) {
  std::printf("\nminimum pairwise Dice, mean +- std over subjects and regions:\n");
  std::printf("  %-16s %-9s %7s  %-22s %-22s\n", "arm", "kind", "members", "cortical",
              "non-cortical");
  for (std::size_t a = 0; a < t.arms(); ++a) {
    auto cell = [](const analysis::Moments& m) {
      return m.n == 0 ? std::string("-") : num(m.mean, 4) + " +- " + num(m.std, 3);
    };
    std::printf("  %-16s %-9s %7zu  %-22s %-22s\n", t.arm_names[a].c_str(), t.arm_kinds[a].c_str(),
                arm_size(t, a), cell(cort[a].first).c_str(), cell(cort[a].second).c_str());
  }
  const std::size_t kShow = 10;
  std::printf("\nmost variable regions per arm (means over subjects; all in %s):\n",
              csv_regions.c_str());
  std::printf("  %-12s %-28s %9s %9s %9s %9s %9s %9s\n", "arm", "region", "min_dice", "mean_dice",
              "vol_cv", "sigdig", "dice", "maj_dice");
  for (std::size_t a = 0; a < t.arms(); ++a) {
    std::size_t shown = 0;
    for (const RegionRow& r : rows) {
      if (r.arm != a || shown == kShow) continue;
      ++shown;
      const std::string region =
          std::to_string(t.region_values[r.region]) + " " + t.region_names[r.region];
      std::printf("  %-12s %-28.28s %9s %9s %9s %9s %9s %9s\n", t.arm_names[a].c_str(),
                  region.c_str(), num(r.min_dice, 4).c_str(), num(r.mean_dice, 4).c_str(),
                  num(r.cv, 3).c_str(), num(r.sig, 3).c_str(), num(r.member_dice, 4).c_str(),
                  num(r.majority_dice, 4).c_str());
    }
  }
  if (!t.correlations.empty()) {
    std::printf("\nper-region variability correlated across arms:\n");
    for (const auto& c : t.correlations)
      std::printf("  %s vs %s, %s over %lld regions: Pearson %s, Spearman %s\n",
                  t.arm_names[std::size_t(c.arm_a)].c_str(),
                  t.arm_names[std::size_t(c.arm_b)].c_str(), c.measure.c_str(),
                  static_cast<long long>(c.regions), num(c.pearson, 4).c_str(),
                  num(c.spearman, 4).c_str());
  }
}

int run(const Flags& f) {
  if (f.threads < 0) throw ConfigError("variability: --threads must be >= 0");
  if (f.threads > 0) omp_set_num_threads(f.threads);
  const analysis::SigOptions sig = sig_options(f);
  const fs::path out(f.out);
  const fs::path csv_regions = sibling(out, "_regions.csv"),
                 csv_cortical = sibling(out, "_cortical.csv"),
                 csv_corr = sibling(out, "_correlation.csv");
  const Inputs in = open_inputs(f);
  io::SummaryTables t = table_axes(f, in, sig);
  const analysis::RegionIndex regions(t.region_values);
  print_header(f, in, t, sig);
  io::SummaryWriter writer(out, kVersion, kGitCommit);
  for (std::size_t s = 0; s < t.subjects(); ++s) {
    const io::Subject subj = in.cohort->read(in.cohort_index[s]);
    // One arm's volumes in memory at a time: the peak is the largest arm, not the ensemble.
    for (std::size_t a = 0; a < t.arms(); ++a)
      measure_arm(f, in, t, writer, sig, regions, s, a, subj);
    std::printf("  %s done (%zu/%zu)\n", in.ids[s].c_str(), s + 1, t.subjects());
    std::fflush(stdout);
  }
  correlate_arms(t);
  // Tables: built before the summary is committed, so a failure leaves no file at all.
  const std::vector<RegionRow> rows = region_rows(t);
  const std::vector<CorticalSplit> cort = cortical_split(t);
  const CsvTables csv = csv_tables(t, rows, cort);
  writer.commit(t);
  write_csv(csv_regions, csv.regions);
  write_csv(csv_cortical, csv.cortical);
  write_csv(csv_corr, csv.correlations);
  print_tables(t, rows, cort, csv_regions);
  std::printf("wrote %s, %s, %s, %s\n", out.c_str(), csv_regions.c_str(), csv_cortical.c_str(),
              csv_corr.c_str());
  return 0;
}

}  // namespace

Runner add_variability(CLI::App& app) {
  auto f = std::make_shared<Flags>();
  CLI::App* sub = app.add_subcommand(
      "variability",
      "Measure how the members of an ensemble disagree (Dice, volumes, significant digits, "
      "entropy) and write summary.h5 plus CSV tables");
  sub->add_option("--ensemble", f->ensemble, "ensemble run directory (holds members/)")->required();
  sub->add_option("--cohort", f->cohort,
                  "cohort with the ground truth and ages (default: the one recorded in the "
                  "members' seg.h5, relative to the current directory, then to --ensemble)");
  sub->add_option("--out", f->out,
                  "summary file to write (HDF5); the CSV tables go next to it "
                  "(<out>_regions.csv, <out>_cortical.csv, <out>_correlation.csv)")
      ->required();
  sub->add_option("--sigdigits", f->sigdigits, "significant-digit estimator: cnh | general")
      ->capture_default_str();
  sub->add_option("--base", f->base, "significant digits in base 2 (bits) or 10")
      ->capture_default_str();
  sub->add_option("--probability", f->probability, "significant digits: probability p")
      ->capture_default_str();
  sub->add_option("--confidence", f->confidence, "significant digits: confidence c")
      ->capture_default_str();
  sub->add_flag("--maps,!--no-maps", f->maps,
                "write voxel maps (entropy, disagreement, majority) per subject and arm")
      ->capture_default_str();
  sub->add_option("--threads", f->threads, "OpenMP threads (0: OMP_NUM_THREADS or all cores)")
      ->capture_default_str();
  return [f] { return run(*f); };
}

}  // namespace numens::drivers
