// numens report: one self-contained HTML page of a run directory (docs/report.md). Reads the
// variability summary (required), brain-age results and stage timings (optional) and the cohort's
// T1 for the entropy maps; computes the page's aggregates, builds the figures with io/svg and
// io/png, and writes OUTDIR through a temporary sibling directory renamed into place, so a
// failure leaves either the previous report or none, never a partial one.
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "analysis/quantiles.hpp"
#include "analysis/variability.hpp"
#include "drivers/commands.hpp"
#include "drivers/recorded_path.hpp"
#include "io/atomic_file.hpp"
#include "io/brainage_results.hpp"
#include "io/cohort.hpp"
#include "io/error.hpp"
#include "io/html.hpp"
#include "io/png.hpp"
#include "io/preview.hpp"
#include "io/summary.hpp"
#include "io/svg.hpp"
#include "numens/version.hpp"

namespace numens::drivers {

namespace {

namespace fs = std::filesystem;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct Flags {
  std::string run, out, subject;
};

[[noreturn]] void fail(const fs::path& file, const std::string& what) {
  throw io::IoError("report: " + file.string() + ": " + what);
}

std::string esc(const std::string& s) {
  return io::xml_escape(s);
}

// A number for the page: fixed decimals, "n/a" for undefined values (one-member arms, no truth).
std::string num(double v, int decimals = 4) {
  if (!std::isfinite(v)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

double finite_mean(const std::vector<double>& v) {
  return analysis::finite_moments(v).mean;
}

// A file name from a user-given label (arm names, model names): safe characters only.
std::string file_token(const std::string& s) {
  std::string out;
  for (char c : s) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-') ? c : '_';
  return out.empty() ? std::string("x") : out;
}

// One stage of the run (DIR/timings.csv, written by `numens study`).
struct Timing {
  std::string stage, status;
  double seconds = kNaN;
};

std::vector<Timing> read_timings(const fs::path& path) {
  std::ifstream in(path);
  if (!in) fail(path, "cannot read");
  std::vector<Timing> out;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (n == 1) {
      if (line != "stage,status,seconds")
        fail(path.string() + ":1", "header must be 'stage,status,seconds'");
      continue;
    }
    if (line.empty()) continue;
    std::vector<std::string> f;
    // Split by hand: getline would drop an empty last field ("brainage,skipped,").
    for (std::size_t at = 0;;) {
      const std::size_t comma = line.find(',', at);
      f.push_back(line.substr(at, comma == std::string::npos ? std::string::npos : comma - at));
      if (comma == std::string::npos) break;
      at = comma + 1;
    }
    if (f.size() != 3)
      fail(path.string() + ":" + std::to_string(n),
           std::to_string(f.size()) + " fields, expected 3");
    Timing t{f[0], f[1], kNaN};
    if (t.status != "ran" && t.status != "skipped" && t.status != "failed")
      fail(path.string() + ":" + std::to_string(n),
           "status '" + t.status + "' is not ran, skipped or failed");
    if (!f[2].empty()) {
      char* end = nullptr;
      t.seconds = std::strtod(f[2].c_str(), &end);
      if (end == f[2].c_str() || *end != '\0')
        fail(path.string() + ":" + std::to_string(n), "seconds '" + f[2] + "' is not a number");
    }
    out.push_back(t);
  }
  return out;
}

// The page under construction and the figure files that go beside it.
struct Output {
  std::ostringstream html;
  std::vector<std::pair<std::string, std::string>> files;  // name, content
  void figure_svg(const std::string& name, const std::string& svg) {
    html << "<figure>" << svg << "<figcaption>" << esc(name) << "</figcaption></figure>\n";
    files.emplace_back(name, io::svg_document(svg));
  }
};

// Per-arm aggregates of the summary used by several sections.
struct ArmStats {
  std::size_t members = 0;
  std::string arith;                 // distinct /member_arith of its members
  std::vector<double> region_dmin;   // (R) mean over subjects of the minimum pairwise Dice
  std::vector<double> region_dmean;  // (R) same, mean pairwise Dice
  std::vector<double> region_cv;     // (R) volume CV
  analysis::Moments cortical, noncortical, all;     // over (subject, region) entries, finite only
  double member_dice = kNaN, majority_dice = kNaN;  // vs truth, pooled over finite entries
};

std::vector<ArmStats> arm_stats(const io::SummaryTables& t) {
  const std::size_t A = t.arms(), S = t.subjects(), R = t.regions(), M = t.members();
  std::vector<ArmStats> out(A);
  for (std::size_t a = 0; a < A; ++a) {
    ArmStats& st = out[a];
    std::set<std::string> arith;
    std::vector<double> md, mj, c, n, all;
    for (std::size_t m = 0; m < M; ++m)
      if (std::size_t(t.member_arms[m]) == a) ++st.members, arith.insert(t.member_arith[m]);
    for (const auto& x : arith) st.arith += (st.arith.empty() ? "" : "; ") + x;
    for (std::size_t r = 0; r < R; ++r) {
      std::vector<double> dmin, dmean, cv;
      for (std::size_t s = 0; s < S; ++s) {
        const std::size_t k = t.asr(a, s, r);
        dmin.push_back(t.dice_pairwise_min[k]);
        dmean.push_back(t.dice_pairwise_mean[k]);
        cv.push_back(t.volume_cv[k]);
        mj.push_back(t.majority_dice[k]);
        (t.region_cortical[r] ? c : n).push_back(t.dice_pairwise_min[k]);
        all.push_back(t.dice_pairwise_min[k]);
        for (std::size_t m = 0; m < M; ++m)
          if (std::size_t(t.member_arms[m]) == a) md.push_back(t.dice[t.smr(s, m, r)]);
      }
      st.region_dmin.push_back(finite_mean(dmin));
      st.region_dmean.push_back(finite_mean(dmean));
      st.region_cv.push_back(finite_mean(cv));
    }
    st.cortical = analysis::finite_moments(c);
    st.noncortical = analysis::finite_moments(n);
    st.all = analysis::finite_moments(all);
    st.member_dice = finite_mean(md);
    st.majority_dice = finite_mean(mj);
  }
  return out;
}

// Dice vs truth of the first ieee arm's members (the unperturbed baseline), pooled; NaN without.
double ieee_baseline(const io::SummaryTables& t, std::optional<std::size_t>& ieee_arm) {
  for (std::size_t a = 0; a < t.arms() && !ieee_arm; ++a)
    if (t.arm_kinds[a] == "ieee") ieee_arm = a;
  if (!ieee_arm) return kNaN;
  std::vector<double> d;
  for (std::size_t s = 0; s < t.subjects(); ++s)
    for (std::size_t m = 0; m < t.members(); ++m)
      if (std::size_t(t.member_arms[m]) == *ieee_arm)
        for (std::size_t r = 0; r < t.regions(); ++r) d.push_back(t.dice[t.smr(s, m, r)]);
  return finite_mean(d);
}

const char* verdict(bool holds) {
  return holds ? "holds on this run" : "does not hold on this run";
}

// What the findings are about: how accurate the members are. Variability of networks far from
// trained says little about trained ones, and a reader must see that before the verdicts.
void finding_accuracy(Output& o, const io::SummaryTables& t, const std::vector<ArmStats>& st) {
  auto& h = o.html;
  double best = kNaN;
  std::string per_arm;
  for (std::size_t a = 0; a < t.arms(); ++a) {
    per_arm += (a ? ", " : "") + t.arm_names[a] + " " + num(st[a].member_dice);
    if (std::isfinite(st[a].member_dice) && !(best >= st[a].member_dice)) best = st[a].member_dice;
  }
  h << "<li><b>Model accuracy.</b> Mean Dice of the members against the ground truth: "
    << esc(per_arm) << ".";
  if (std::isfinite(best) && best < 0.5)
    h << " <b>These members are far from trained</b> (below 0.5 in every arm; FastSurfer-class "
         "networks reach about 0.9): the findings below describe the disagreement of barely "
         "trained networks, not the paper's setting. Train longer (docs/train.md) before "
         "comparing with the paper.";
  h << "</li>\n";
}

// (a) seed vs MCA/SR variability: mean over arms of the arm's mean minimum pairwise Dice.
void finding_seed_vs_mca(Output& o, const io::SummaryTables& t, const std::vector<ArmStats>& st) {
  auto& h = o.html;
  std::vector<double> seed, mca;
  std::string seed_names, mca_names;
  for (std::size_t a = 0; a < t.arms(); ++a) {
    if (st[a].members < 2 || st[a].all.n == 0) continue;
    const std::string item = t.arm_names[a] + " " + num(st[a].all.mean);
    if (t.arm_kinds[a] == "seed") seed.push_back(st[a].all.mean), seed_names += " " + item;
    if (t.arm_kinds[a] == "mca") mca.push_back(st[a].all.mean), mca_names += " " + item;
  }
  h << "<li><b>Seed vs MCA/SR variability.</b> The paper found seed variability larger than "
       "MCA/SR variability (lower minimum pairwise Dice). ";
  if (seed.empty() || mca.empty()) {
    h << "Not evaluable on this run: " << (seed.empty() ? "no seed arm" : "no mca arm")
      << " with two members or more.";
  } else {
    const double ms = finite_mean(seed), mm = finite_mean(mca);
    h << "Mean minimum pairwise Dice over subjects and regions: seed " << num(ms) << " ("
      << esc(seed_names.substr(1)) << "), MCA/SR " << num(mm) << " (" << esc(mca_names.substr(1))
      << "); the finding " << verdict(ms < mm) << ".";
  }
  h << "</li>\n";
}

// (b) cortical less reproducible than non-cortical, per arm.
void finding_cortical(Output& o, const io::SummaryTables& t, const std::vector<ArmStats>& st) {
  auto& h = o.html;
  h << "<li><b>Cortical vs non-cortical.</b> The paper found cortical regions less reproducible "
       "(lower minimum pairwise Dice) than non-cortical ones.<ul>\n";
  for (std::size_t a = 0; a < t.arms(); ++a) {
    h << "<li>" << esc(t.arm_names[a]) << " (" << st[a].members << " members): ";
    if (st[a].members < 2)
      h << "undefined (one member: no pairs).";
    else if (st[a].cortical.n == 0 || st[a].noncortical.n == 0)
      h << "undefined (no " << (st[a].cortical.n == 0 ? "cortical" : "non-cortical")
        << " region with a finite value).";
    else
      h << "cortical " << num(st[a].cortical.mean) << ", non-cortical "
        << num(st[a].noncortical.mean) << "; "
        << verdict(st[a].cortical.mean < st[a].noncortical.mean) << ".";
    h << "</li>\n";
  }
  h << "</ul></li>\n";
}

// (c) majority vote vs the ieee baseline.
void finding_majority(Output& o, const io::SummaryTables& t, const std::vector<ArmStats>& st,
                      std::optional<std::size_t> ieee_arm, double ieee_dice) {
  auto& h = o.html;
  h << "<li><b>Ensemble vs baseline.</b> Majority-vote Dice of each arm against the Dice of the "
       "IEEE baseline member (is the ensemble at least as accurate?).";
  if (!ieee_arm || !std::isfinite(ieee_dice)) {
    h << " Not evaluable: "
      << (ieee_arm ? "the ieee arm has no finite Dice (no ground truth)" : "no ieee arm")
      << ".</li>\n";
  } else {
    h << "<ul>\n";
    for (std::size_t a = 0; a < t.arms(); ++a) {
      if (a == *ieee_arm) continue;
      h << "<li>" << esc(t.arm_names[a]) << ": ";
      if (!std::isfinite(st[a].majority_dice))
        h << "undefined (no finite majority-vote Dice).";
      else
        h << "majority vote " << num(st[a].majority_dice) << " vs baseline " << num(ieee_dice)
          << " (difference " << num(st[a].majority_dice - ieee_dice, 6) << "); "
          << verdict(st[a].majority_dice >= ieee_dice) << ".";
      h << "</li>\n";
    }
    h << "</ul></li>\n";
  }
}

// (d) brain age: ensemble augmentation vs none.
void finding_brainage(Output& o,
                      const std::vector<std::pair<fs::path, io::BrainageResults>>& brainage) {
  auto& h = o.html;
  h << "<li><b>Brain age.</b> The paper found ensemble augmentation lowers the brain-age MAE "
       "compared with no augmentation.";
  if (brainage.empty()) h << " Not evaluable: no brainage*.h5 in the run directory.";
  h << "<ul>\n";
  for (const auto& entry : brainage) {
    const fs::path& path = entry.first;
    const io::BrainageResults& b = entry.second;  // a plain reference: the lambdas capture it
    h << "<li>" << esc(b.model) << " (" << esc(path.filename().string()) << "): ";
    const auto at = [&](const std::string& n) -> std::optional<std::size_t> {
      for (std::size_t q = 0; q < b.scheme_names.size(); ++q)
        if (b.scheme_names[q] == n) return q;
      return std::nullopt;
    };
    const auto none = at("none"), ens = at("ensemble");
    if (!none || !ens) {
      h << "not evaluable (schemes 'none' and 'ensemble' are not both present).</li>\n";
      continue;
    }
    const int pct = int(std::lround(b.level * 100));
    auto mae = [&](std::size_t q) {
      return num(b.metric(q, 0, 0, 0), 3) + " [" + num(b.metric(q, 0, 1, 0), 3) + ", " +
             num(b.metric(q, 0, 2, 0), 3) + "]";
    };
    const double me = b.metric(*ens, 0, 0, 0), mn = b.metric(*none, 0, 0, 0);
    h << "MAE (years, " << pct << "% CI) ensemble " << mae(*ens) << " vs none " << mae(*none);
    // The stored paired test is against the first scheme: valid here only when that is none.
    if (*none == 0)
      h << ", paired p = " << num(b.paired_vs_first[*ens * 4 + 3], 4);
    else
      h << " (no paired test against none: the file's paired tests are against '"
        << esc(b.scheme_names[0]) << "')";
    if (std::isfinite(me) && std::isfinite(mn))
      h << "; " << verdict(me < mn) << ".";
    else
      h << "; undefined (NaN MAE).";
    h << "</li>\n";
  }
  h << "</ul></li>\n";
}

void findings(Output& o, const io::SummaryTables& t, const std::vector<ArmStats>& st,
              std::optional<std::size_t> ieee_arm, double ieee_dice,
              const std::vector<std::pair<fs::path, io::BrainageResults>>& brainage) {
  o.html << "<h2 id=\"findings\">2. Findings</h2>\n<ul>\n";
  finding_accuracy(o, t, st);
  finding_seed_vs_mca(o, t, st);
  finding_cortical(o, t, st);
  finding_majority(o, t, st, ieee_arm, ieee_dice);
  finding_brainage(o, brainage);
  o.html << "</ul>\n";
}

const std::vector<std::string> kColours = {"#1f77b4", "#ff7f0e", "#2ca02c",
                                           "#d62728", "#9467bd", "#8c564b"};

io::Box to_box(const analysis::BoxStats& b) {
  return {b.q1, b.median, b.q3, b.whisker_lo, b.whisker_hi, b.outliers};
}

void entropy_section(Output& o, const Flags& f, const io::SummaryReader& reader,
                     const fs::path& run_dir) {
  const io::SummaryTables& t = reader.tables();
  auto& h = o.html;
  h << "<h2 id=\"entropy\">5. Entropy maps</h2>\n";
  std::string subject = f.subject;
  if (subject.empty()) {
    for (const auto& id : t.subject_ids)
      for (const auto& arm : t.arm_names)
        if (subject.empty() && reader.has_maps(id, arm)) subject = id;
  }
  bool any = false;
  for (const auto& arm : t.arm_names)
    any = any || (!subject.empty() && reader.has_maps(subject, arm));
  if (!subject.empty() && !any) {
    h << "<p class=\"note\">No voxel maps of subject " << esc(subject) << " in the summary.</p>\n";
    return;
  }
  if (subject.empty()) {
    h << "<p class=\"note\">No voxel maps in the summary (numens variability ran with "
         "--no-maps).</p>\n";
    return;
  }
  const std::optional<fs::path> cohort_path = find_recorded_path(t.cohort, run_dir);
  std::optional<io::Subject> subj;
  std::string why;
  if (!cohort_path) {
    why = "the cohort '" + t.cohort + "' was found neither in the current directory nor in " +
          run_dir.string();
  } else {
    try {
      const io::CohortReader cohort(*cohort_path);
      subj = cohort.read(cohort.index_of(subject));
    } catch (const numens::Error& e) {
      why = e.what();
    }
  }
  if (subj) {
    const io::Geometry g = reader.map_geometry(subject);
    if (g.dims != subj->info.geometry.dims) {
      why = "subject '" + subject + "' of the cohort is on another grid than its maps";
      subj.reset();
    }
  }
  if (!subj) {
    h << "<p class=\"note\">Entropy maps not shown: " << esc(why) << ".</p>\n";
    return;
  }
  h << "<p>Subject " << esc(subject) << ": axial, coronal and sagittal mid slices of the T1 "
    << "(grey, window from its 1st to 99th percentile), the arm's voxel label entropy on top "
    << "(<span style=\"background:linear-gradient(90deg,#b30000,#ffff00,#ffffff);"
       "padding:0 2em\"></span> from the lowest non-zero entropy to ln M, every member "
       "disagreeing; no colour where all members agree). Orientation as numens preview: "
       "subject's left on the image's left, anterior on the left in the sagittal view.</p>\n";
  for (std::size_t a = 0; a < t.arms(); ++a) {
    const std::string& arm = t.arm_names[a];
    if (!reader.has_maps(subject, arm)) {
      h << "<p class=\"note\">" << esc(arm) << ": no maps for this subject.</p>\n";
      continue;
    }
    const io::ArmMaps maps = reader.maps(subject, arm);
    const io::Image img = io::entropy_panel(*subj, maps.entropy);
    const std::vector<std::uint8_t> png = io::encode_png_rgb(img.width, img.height, img.rgb);
    const std::string name = "entropy_" + std::to_string(a) + "_" + file_token(arm) + ".png";
    h << "<figure><img alt=\"entropy map of arm " << esc(arm) << "\" width=\"" << img.width
      << "\" height=\"" << img.height << "\" src=\"" << io::data_uri("image/png", png)
      << "\"><figcaption>" << esc(arm) << " (" << esc(t.arm_kinds[a]) << "): " << esc(name)
      << "</figcaption></figure>\n";
    o.files.emplace_back(name, std::string(png.begin(), png.end()));
  }
}

void brainage_section(Output& o, const std::vector<std::pair<fs::path, io::BrainageResults>>& bs) {
  auto& h = o.html;
  h << "<h2 id=\"brainage\">7. Brain age</h2>\n";
  if (bs.empty()) {
    h << "<p class=\"note\">No brainage*.h5 in the run directory.</p>\n";
    return;
  }
  for (const auto& [path, b] : bs) {
    const std::string stem = path.stem().string();
    h << "<h3>" << esc(b.model) << " (" << esc(path.filename().string()) << ", " << b.subjects
      << " subjects, " << b.members << " members, " << esc(b.cv) << ")</h3>\n";
    if (b.curve_n.empty()) {
      h << "<p class=\"note\">No MAE-vs-N curve in this file (--no-curve).</p>\n";
    } else {
      io::LineSeries s{"mean over subsets (min-max band)", kColours[0], {}, {}, {}, {}};
      const std::size_t C = b.curve_subsets;
      for (std::size_t p = 0; p < b.curve_n.size(); ++p) {
        std::vector<double> v;
        for (std::size_t c = 0; c < C; ++c) v.push_back(b.curve_mae_reference[p * C + c]);
        double lo = kNaN, hi = kNaN;
        for (double x : v)
          if (std::isfinite(x))
            lo = std::isfinite(lo) ? std::min(lo, x) : x,
            hi = std::isfinite(hi) ? std::max(hi, x) : x;
        s.x.push_back(double(b.curve_n[std::size_t(p)]));
        s.y.push_back(finite_mean(v));
        s.lo.push_back(lo);
        s.hi.push_back(hi);
      }
      o.figure_svg("fig_mae_curve_" + file_token(stem) + ".svg",
                   io::line_chart_svg({"MAE vs ensemble members added (" + b.model + ")",
                                       "members added to the reference (N)",
                                       "MAE (years), test on reference",
                                       {s}}));
    }
    const int pct = int(std::lround(b.level * 100));
    h << "<table><tr><th>scheme</th><th>MAE [" << pct << "% CI]</th><th>RMSE</th><th>R&#178;</th>"
      << "<th>r</th><th>paired p vs " << esc(b.scheme_names.empty() ? "" : b.scheme_names[0])
      << "</th></tr>\n";
    for (std::size_t q = 0; q < b.scheme_names.size(); ++q)
      h << "<tr><td>" << esc(b.scheme_names[q]) << "</td><td>" << num(b.metric(q, 0, 0, 0), 3)
        << " [" << num(b.metric(q, 0, 1, 0), 3) << ", " << num(b.metric(q, 0, 2, 0), 3)
        << "]</td><td>" << num(b.metric(q, 0, 0, 1), 3) << "</td><td>"
        << num(b.metric(q, 0, 0, 2), 3) << "</td><td>" << num(b.metric(q, 0, 0, 3), 3)
        << "</td><td>" << (q == 0 ? std::string("-") : num(b.paired_vs_first[q * 4 + 3], 4))
        << "</td></tr>\n";
    h << "</table>\n<p>Metrics of the test predictions from the reference member's volumes, "
         "pooled over splits (docs/brainage.md).</p>\n";
  }
}

void timings_section(Output& o, const fs::path& path) {
  auto& h = o.html;
  h << "<h2 id=\"timings\">8. Timings</h2>\n";
  if (!fs::exists(path)) {
    h << "<p class=\"note\">No timings.csv in the run directory.</p>\n";
    return;
  }
  const std::vector<Timing> rows = read_timings(path);
  double total = 0;
  h << "<table><tr><th>stage</th><th>status</th><th>seconds</th></tr>\n";
  for (const Timing& r : rows) {
    if (std::isfinite(r.seconds)) total += r.seconds;
    h << "<tr><td>" << esc(r.stage) << "</td><td>" << esc(r.status) << "</td><td>"
      << num(r.seconds, 1) << "</td></tr>\n";
  }
  h << "<tr><th>total</th><td></td><th>" << num(total, 1) << "</th></tr>\n</table>\n";
}

// The report directory replaces `out` as a whole, so `out` must be absent, an empty directory or a
// report numens wrote (its marker file, no subdirectories); never the run directory or a folder
// that holds it, never a user's own directory.
constexpr const char* kMarker = ".numens-report";

void check_replaceable(const fs::path& out, const fs::path& run_dir) {
  std::error_code ec;
  const fs::path run_abs = fs::weakly_canonical(run_dir, ec);
  const fs::path out_abs = fs::weakly_canonical(out, ec);
  // out == run, or out an ancestor of run: replacing it would delete the run
  for (fs::path p = run_abs; !p.empty(); p = p.parent_path()) {
    if (p == out_abs)
      fail(out, "is the run directory or holds it; --out takes a directory of its own");
    if (p == p.parent_path()) break;
  }
  if (!fs::exists(fs::symlink_status(out))) return;
  if (!fs::is_directory(out)) fail(out, "exists and is not a directory; choose another --out");
  if (fs::is_empty(out)) return;
  bool marker = false;
  for (const auto& e : fs::directory_iterator(out)) {
    if (e.is_directory(ec) && !e.is_symlink(ec))
      fail(out, "holds a subdirectory (" + e.path().filename().string() +
                    "): not a report numens wrote; remove it or choose another --out");
    if (e.path().filename() == kMarker) marker = true;
  }
  if (!marker)
    fail(out, std::string("exists and is not a report numens wrote (no ") + kMarker +
                  "); remove it or choose another --out");
}

// Writes the files into `tmp`, then swaps it in for `out`: the old report (if any) is moved aside
// first, since rename(2) cannot replace a non-empty directory, and removed once the new one is in.
std::vector<fs::path> write_dir(const fs::path& out, const Output& o) {
  const fs::path tmp =
      out.parent_path() / (out.filename().string() + ".tmp-" + std::to_string(::getpid()));
  const fs::path old =
      out.parent_path() / (out.filename().string() + ".old-" + std::to_string(::getpid()));
  struct Cleanup {
    fs::path p;
    ~Cleanup() {
      std::error_code ec;
      if (!p.empty()) fs::remove_all(p, ec);
    }
  } cleanup{tmp};
  std::error_code ec;
  fs::remove_all(tmp, ec);
  if (!fs::create_directory(tmp, ec)) fail(tmp, "cannot create: " + ec.message());
  // Removed by SIGINT/SIGTERM/SIGHUP too (io::TempPath): the directory and each file in it.
  std::vector<std::unique_ptr<io::TempPath>> guards;
  guards.push_back(std::make_unique<io::TempPath>(tmp, /*directory=*/true));
  std::vector<std::pair<std::string, const std::string*>> all;
  for (const auto& [name, content] : o.files) all.emplace_back(name, &content);
  const std::string page = o.html.str();
  all.emplace_back("index.html", &page);
  const std::string marker = "numens report\n";
  all.emplace_back(kMarker, &marker);
  std::vector<fs::path> written;
  for (const auto& [name, content] : all) {
    guards.push_back(std::make_unique<io::TempPath>(tmp / name));
    io::write_bytes(tmp / name, *content, out / name);
    if (name != kMarker) written.push_back(out / name);
  }
  io::pause_before_commit();
  if (fs::exists(out)) {
    fs::rename(out, old, ec);
    if (ec) fail(out, "cannot move the previous report aside: " + ec.message());
  }
  fs::rename(tmp, out, ec);
  if (ec) {
    std::error_code ec2;
    if (fs::exists(old)) fs::rename(old, out, ec2);
    fail(out, "cannot rename " + tmp.string() + " into place: " + ec.message());
  }
  cleanup.p.clear();
  guards.clear();
  fs::remove_all(old, ec);
  return written;
}

const char* kStyle =
    "body{font-family:sans-serif;max-width:1100px;margin:1em auto;padding:0 1em;color:#222}"
    "table{border-collapse:collapse;margin:0.5em 0}td,th{border:1px solid #ccc;padding:2px 8px;"
    "text-align:left}th{background:#f0f0f0}.note{color:#666;font-style:italic}"
    "figure{display:inline-block;margin:0.5em}figcaption{font-size:small;color:#666}"
    "code{background:#f4f4f4}";

// Every brainage*.h5 of the run directory, in name order.
std::vector<std::pair<fs::path, io::BrainageResults>> read_brainage(const fs::path& run_dir) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(run_dir)) {
    const std::string n = e.path().filename().string();
    if (e.is_regular_file() && n.rfind("brainage", 0) == 0 && e.path().extension() == ".h5")
      files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  std::vector<std::pair<fs::path, io::BrainageResults>> out;
  for (const auto& p : files) out.emplace_back(p, io::read_brainage_results(p));
  return out;
}

// 1. What ran: the run directory, the axes, each arm's arithmetic.
void run_section(Output& o, const fs::path& run_dir, const io::SummaryReader& reader,
                 const std::vector<ArmStats>& st) {
  const io::SummaryTables& t = reader.tables();
  auto& h = o.html;
  h << "<h1>numens report</h1>\n<h2 id=\"run\">1. Run</h2>\n<p>Run directory <code>"
    << esc(run_dir.string()) << "</code>; " << t.subjects() << " subjects, " << t.regions()
    << " regions, " << t.members() << " members in " << t.arms() << " arms; cohort <code>"
    << esc(t.cohort) << "</code>; summary written by numens "
    << esc(reader.provenance("numens_version")) << "; report by numens " << esc(kVersion)
    << " (commit " << esc(kGitCommit) << ").</p>\n";
  h << "<table><tr><th>arm</th><th>kind</th><th>members</th><th>arithmetic</th></tr>\n";
  for (std::size_t a = 0; a < t.arms(); ++a)
    h << "<tr><td>" << esc(t.arm_names[a]) << "</td><td>" << esc(t.arm_kinds[a]) << "</td><td>"
      << st[a].members << "</td><td>" << esc(st[a].arith) << "</td></tr>\n";
  h << "</table>\n";
}

// 3. Per arm, the regions' minimum pairwise Dice as box plots, cortical and non-cortical apart.
void boxplot_section(Output& o, const io::SummaryTables& t, const std::vector<ArmStats>& st) {
  o.html << "<h2 id=\"boxplots\">3. Variability by region</h2>\n<p>Per arm, the distribution over "
            "regions of the minimum pairwise Dice (mean over subjects per region), cortical and "
            "non-cortical regions apart. Boxes: quartiles (linear interpolation, numpy's "
            "default), median line, whiskers to the furthest region within 1.5 IQR, circles "
            "beyond. Lower means more variable; one-member arms have no pairs (n/a).</p>\n";
  io::BoxPlot bp{"Minimum pairwise Dice per region", "min pairwise Dice",        {},
                 {"cortical", "non-cortical"},       {kColours[3], kColours[0]}, {}};
  for (std::size_t a = 0; a < t.arms(); ++a) {
    std::vector<double> c, n;
    for (std::size_t r = 0; r < t.regions(); ++r)
      (t.region_cortical[r] ? c : n).push_back(st[a].region_dmin[r]);
    bp.groups.push_back(t.arm_names[a]);
    bp.boxes.push_back({to_box(analysis::box_stats(c)), to_box(analysis::box_stats(n))});
  }
  o.figure_svg("fig_region_boxplot.svg", io::box_plot_svg(bp));
}

// 4. The paper's table (cortical vs non-cortical) and each arm's most variable regions.
void cortical_section(Output& o, const io::SummaryTables& t, const std::vector<ArmStats>& st) {
  auto& h = o.html;
  h << "<h2 id=\"cortical\">4. Cortical vs non-cortical</h2>\n<p>Minimum pairwise Dice, mean "
       "&#177; std (ddof 0) over all (subject, region) entries with a finite value, as in the "
       "paper's table (n: entries).</p>\n";
  h << "<table id=\"cortical-table\"><tr><th>arm</th><th>kind</th><th>members</th>"
       "<th>cortical</th><th>non-cortical</th><th>all</th></tr>\n";
  auto cell = [](const analysis::Moments& m) {
    return m.n == 0 ? std::string("n/a")
                    : num(m.mean) + " &#177; " + num(m.std) + " (n=" + std::to_string(m.n) + ")";
  };
  for (std::size_t a = 0; a < t.arms(); ++a)
    h << "<tr><td>" << esc(t.arm_names[a]) << "</td><td>" << esc(t.arm_kinds[a]) << "</td><td>"
      << st[a].members << "</td><td>" << cell(st[a].cortical) << "</td><td>"
      << cell(st[a].noncortical) << "</td><td>" << cell(st[a].all) << "</td></tr>\n";
  h << "</table>\n<h3>Most variable regions</h3>\n<p>Per arm, the 10 regions with the lowest "
       "minimum pairwise Dice (means over subjects).</p>\n";
  for (std::size_t a = 0; a < t.arms(); ++a) {
    std::vector<std::size_t> order;
    for (std::size_t r = 0; r < t.regions(); ++r)
      if (std::isfinite(st[a].region_dmin[r])) order.push_back(r);
    std::stable_sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) {
      return st[a].region_dmin[x] < st[a].region_dmin[y];
    });
    if (order.size() > 10) order.resize(10);
    h << "<p><b>" << esc(t.arm_names[a]) << "</b>";
    if (order.empty()) {
      h << ": no finite minimum pairwise Dice (" << st[a].members << " member"
        << (st[a].members == 1 ? "" : "s") << ").</p>\n";
      continue;
    }
    h << "</p>\n<table><tr><th>region</th><th>name</th><th>cortical</th><th>min pairwise Dice</th>"
         "<th>mean pairwise Dice</th><th>volume CV</th></tr>\n";
    for (std::size_t r : order)
      h << "<tr><td>" << t.region_values[r] << "</td><td>" << esc(t.region_names[r]) << "</td><td>"
        << (t.region_cortical[r] ? "yes" : "no") << "</td><td>" << num(st[a].region_dmin[r])
        << "</td><td>" << num(st[a].region_dmean[r]) << "</td><td>" << num(st[a].region_cv[r])
        << "</td></tr>\n";
    h << "</table>\n";
  }
}

// 6. Dice against the truth: members, majority vote, the ieee baseline.
void accuracy_section(Output& o, const io::SummaryTables& t, const std::vector<ArmStats>& st,
                      const std::optional<std::size_t>& ieee_arm, double ieee_dice) {
  auto& h = o.html;
  h << "<h2 id=\"accuracy\">6. Ensemble vs baseline accuracy</h2>\n<p>Dice against the ground "
       "truth, mean over all finite (subject, region) entries: the arm's members (also over "
       "members), the arm's majority vote, and the members of the first ieee arm (baseline"
    << (ieee_arm ? ": " + esc(t.arm_names[*ieee_arm]) : std::string(": none in this run"))
    << ").</p>\n<table><tr><th>arm</th><th>members</th><th>members' Dice</th>"
       "<th>majority-vote Dice</th><th>ieee baseline Dice</th></tr>\n";
  io::BarChart bc{"Dice vs ground truth",
                  "Dice",
                  {},
                  {"members (mean)", "majority vote", "ieee baseline"},
                  {kColours[0], kColours[1], kColours[2]},
                  {}};
  for (std::size_t a = 0; a < t.arms(); ++a) {
    h << "<tr><td>" << esc(t.arm_names[a]) << "</td><td>" << st[a].members << "</td><td>"
      << num(st[a].member_dice) << "</td><td>" << num(st[a].majority_dice) << "</td><td>"
      << num(ieee_dice) << "</td></tr>\n";
    bc.groups.push_back(t.arm_names[a]);
    bc.values.push_back({st[a].member_dice, st[a].majority_dice, ieee_dice});
  }
  h << "</table>\n";
  o.figure_svg("fig_ensemble_dice.svg", io::bar_chart_svg(bc));
}

int run(const Flags& f) {
  const fs::path run_dir(f.run);
  if (!fs::exists(run_dir)) fail(run_dir, "run directory not found");
  if (!fs::is_directory(run_dir)) fail(run_dir, "not a directory (--run takes a run directory)");
  const fs::path out = f.out.empty() ? run_dir / "report" : fs::path(f.out);
  const fs::path parent = out.parent_path().empty() ? fs::path(".") : out.parent_path();
  if (!fs::is_directory(parent)) fail(out, "its directory " + parent.string() + " does not exist");
  check_replaceable(out, run_dir);
  const fs::path summary_path = run_dir / "summary.h5";
  if (!fs::exists(summary_path))
    fail(summary_path, "summary not found (numens variability writes it)");
  const io::SummaryReader reader(summary_path);
  const io::SummaryTables& t = reader.tables();
  if (!f.subject.empty() &&
      std::find(t.subject_ids.begin(), t.subject_ids.end(), f.subject) == t.subject_ids.end())
    fail(summary_path, "no subject '" + f.subject + "' (--subject)");
  const auto brainage = read_brainage(run_dir);
  const std::vector<ArmStats> st = arm_stats(t);
  std::optional<std::size_t> ieee_arm;
  const double ieee_dice = ieee_baseline(t, ieee_arm);

  Output o;
  o.html << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>numens "
            "report: "
         << esc(run_dir.string()) << "</title><style>" << kStyle << "</style></head><body>\n";
  run_section(o, run_dir, reader, st);                // 1
  findings(o, t, st, ieee_arm, ieee_dice, brainage);  // 2
  boxplot_section(o, t, st);                          // 3
  cortical_section(o, t, st);                         // 4
  entropy_section(o, f, reader, run_dir);             // 5
  accuracy_section(o, t, st, ieee_arm, ieee_dice);    // 6
  brainage_section(o, brainage);                      // 7
  timings_section(o, run_dir / "timings.csv");        // 8
  o.html << "</body></html>\n";

  for (const fs::path& p : write_dir(out, o)) std::printf("%s\n", p.c_str());
  std::printf("wrote %s\n", (out / "index.html").c_str());
  return 0;
}

}  // namespace

Runner add_report(CLI::App& app) {
  auto f = std::make_shared<Flags>();
  CLI::App* sub = app.add_subcommand(
      "report",
      "Write a self-contained HTML report (figures, tables, findings) of a run directory");
  sub->add_option("--run", f->run, "run directory (holds summary.h5; brainage*.h5, timings.csv)")
      ->required();
  sub->add_option("--out", f->out, "report directory to write (default: <run>/report)");
  sub->add_option("--subject", f->subject,
                  "subject of the entropy maps (default: the first with maps in the summary)");
  return [f] { return run(*f); };
}

}  // namespace numens::drivers
