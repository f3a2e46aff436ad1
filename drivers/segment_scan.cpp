// numens segment --t1 SCAN: one user's scan in, a FastSurfer-like subject directory out
// (docs/real-data.md). The scan is conformed in memory (io/conform), segmented by one model set or
// by every member of an ensemble run directory (ModelSet, drivers/segment.cpp), and the directory
// is written through a temporary sibling renamed into place, so an interrupted or failed run leaves
// nothing at --out.
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "analysis/overlap.hpp"
#include "analysis/variability.hpp"
#include "drivers/segment.hpp"
#include "drivers/timing.hpp"
#include "io/atomic_file.hpp"
#include "io/conform.hpp"
#include "io/ensemble.hpp"
#include "io/error.hpp"
#include "io/html.hpp"
#include "io/import.hpp"
#include "io/label_palette.hpp"
#include "io/png.hpp"
#include "io/preview.hpp"
#include "io/volume_file.hpp"
#include "numens/version.hpp"

namespace numens::drivers {

namespace {

namespace fs = std::filesystem;

[[noreturn]] void fail(const fs::path& file, const std::string& what) {
  throw io::IoError("segment: " + file.string() + ": " + what);
}

// One model set: a member of an ensemble, or the only set of a plain models directory.
struct MemberModels {
  std::string name;  // "m0003 (mca #2)" or the directory
  std::int64_t id = 0;
  std::vector<ViewModel> views;
};

std::vector<std::pair<io::View, fs::path>> views_in(const fs::path& dir) {
  std::vector<std::pair<io::View, fs::path>> out;
  for (io::View v : {io::View::axial, io::View::coronal, io::View::sagittal}) {
    const fs::path p = dir / ("ckpt_" + std::string(io::view_name(v)) + ".h5");
    if (fs::exists(p)) out.emplace_back(v, p);
  }
  if (out.empty()) fail(dir, "holds none of ckpt_axial.h5, ckpt_coronal.h5, ckpt_sagittal.h5");
  return out;
}

// --models DIR is an ensemble run directory (members/ inside) or one model set; --axial etc. name
// one set's files. Every set must agree with the first on classes and thickness.
std::vector<MemberModels> model_sets(const SegmentFlags& f) {
  std::vector<MemberModels> sets;
  if (!f.models.empty() && fs::is_directory(fs::path(f.models) / "members")) {
    const bool named = !f.ckpt[0].empty() || !f.ckpt[1].empty() || !f.ckpt[2].empty();
    if (named)
      throw ConfigError("segment: give --models DIR or --axial/--coronal/--sagittal, not both");
    const io::EnsembleDir e = io::read_ensemble_dir(f.models);
    if (e.members.empty()) fail(f.models, "ensemble run directory without members");
    for (const io::MemberRecord& m : e.members)
      sets.push_back(
          {io::member_dir_name(m.id) + " (" + m.arm + " #" + std::to_string(m.index) + ")", m.id,
           load_models(views_in(m.dir), nullptr)});
  } else {
    sets.push_back(
        {f.models.empty() ? "models" : f.models, 0, load_models(checkpoint_paths(f), nullptr)});
  }
  const ViewModel& ref = sets.front().views.front();
  for (const MemberModels& s : sets)
    for (const ViewModel& v : s.views) {
      if (v.ckpt.class_values != ref.ckpt.class_values)
        fail(v.path, "class values differ from those of " + ref.path.string());
      if (v.net.in_channels != ref.net.in_channels)
        fail(v.path, "thick slices of " + std::to_string(v.net.in_channels) + " planes, " +
                         ref.path.string() + " takes " + std::to_string(ref.net.in_channels));
    }
  return sets;
}

std::string view_list(const std::vector<ViewModel>& views) {
  std::string s;
  for (const ViewModel& v : views) s += (s.empty() ? "" : ",") + std::string(io::view_name(v.view));
  return s;
}

// --out must be new (or an empty directory): a subject directory is never merged into.
void check_new_dir(const fs::path& out) {
  std::error_code ec;
  const fs::path parent = out.parent_path().empty() ? fs::path(".") : out.parent_path();
  if (!fs::is_directory(parent, ec))
    fail(out, "its directory " + parent.string() + " does not exist");
  if (!fs::exists(fs::symlink_status(out, ec))) return;
  if (!fs::is_directory(out, ec)) fail(out, "exists and is not a directory");
  if (!fs::is_empty(out, ec))
    fail(out,
         "exists and is not empty: numens writes a new subject directory and never into one "
         "that holds files; remove it or choose another --out");
}

// Files go into <out>.tmp-<pid>/ (one subject directory, or one per CSV row under it) and the
// directory is renamed into place at the end, when every subject is done. The
// temporary directory, its subdirectories and each file are registered with io::TempPath, so
// SIGINT/SIGTERM/SIGHUP remove them too.
class OutDir {
 public:
  explicit OutDir(fs::path out) : out_(std::move(out)) {
    tmp_ = (out_.parent_path().empty() ? fs::path(".") : out_.parent_path()) /
           (out_.filename().string() + ".tmp-" + std::to_string(::getpid()));
    std::error_code ec;
    fs::remove_all(tmp_, ec);
    if (!fs::create_directory(tmp_, ec)) fail(tmp_, "cannot create: " + ec.message());
    guards_.push_back(std::make_unique<io::TempPath>(tmp_, /*directory=*/true));
  }
  ~OutDir() {
    if (committed_) return;
    std::error_code ec;
    fs::remove_all(tmp_, ec);
  }
  OutDir(const OutDir&) = delete;
  OutDir& operator=(const OutDir&) = delete;

  void mkdir(const std::string& rel) {
    std::error_code ec;
    if (!fs::create_directory(tmp_ / rel, ec)) fail(tmp_ / rel, "cannot create: " + ec.message());
    guards_.push_back(std::make_unique<io::TempPath>(tmp_ / rel, true));
  }
  // The temporary path of `rel`, guarded; `written` lists its final path.
  fs::path file(const std::string& rel) {
    guards_.push_back(std::make_unique<io::TempPath>(tmp_ / rel));
    written_.push_back(out_ / rel);
    return tmp_ / rel;
  }
  void text(const std::string& rel, const std::string& content) {
    io::write_bytes(file(rel), content, out_ / rel);
  }
  void commit() {
    io::pause_before_commit();
    std::error_code ec;
    if (fs::exists(out_, ec)) fs::remove(out_, ec);  // an empty directory (check_new_dir)
    fs::rename(tmp_, out_, ec);
    if (ec) fail(out_, "cannot rename " + tmp_.string() + " into place: " + ec.message());
    committed_ = true;
    guards_.clear();
  }
  const std::vector<fs::path>& written() const { return written_; }

 private:
  fs::path out_, tmp_;
  std::vector<std::unique_ptr<io::TempPath>> guards_;
  std::vector<fs::path> written_;
  bool committed_ = false;
};

io::Volume volume_on(const io::Geometry& g, const io::Volume& like) {
  io::Volume v;
  v.dims = g.dims;
  v.voxel_size = g.voxel_size;
  v.affine = g.affine;
  v.orientation_known = like.orientation_known;
  v.sform_code = like.sform_code > 0 ? like.sform_code : like.qform_code;
  v.qform_code = like.qform_code > 0 ? like.qform_code : like.sform_code;
  return v;
}

template <class T>
std::vector<float> as_float(const std::vector<T>& x) {
  return std::vector<float>(x.begin(), x.end());
}

std::string fmt(double x, int digits) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", digits, x);
  return b;
}

// Three orthogonal mid slices of the conformed T1 with the labels, side by side.
io::Image label_panel(const io::Subject& s, const io::LabelTable& lut) {
  std::vector<io::Image> tiles;
  for (io::View v : {io::View::axial, io::View::coronal, io::View::sagittal})
    tiles.push_back(io::render_slice(s, lut, v, -1, true));
  return io::side_by_side(tiles, 4);
}

}  // namespace

namespace {

// What every output of one scan is made from.
struct ScanJob {
  const SegmentFlags& f;
  const std::vector<MemberModels>& sets;
  const mca::ArithConfig& arith;
  fs::path scan;
  std::string prefix;  // "" for --t1, "<id>/" for --csv
  const io::Checkpoint& ck() const { return sets.front().views.front().ckpt; }
};

struct Conformed {
  io::Volume img;  // as read (header facts for the outputs' codes)
  io::Geometry original, grid;
  io::Subject subj;  // the conformed T1 (and, once segmented, the labels)
};

// The scan read (NIfTI or MGZ), checked and conformed in memory; its warnings printed.
Conformed read_and_conform(const fs::path& scan, const io::ConformOptions& conform) {
  Conformed c;
  c.img = io::read_volume(scan);
  io::check_finite(c.img, scan);
  io::check_not_constant(c.img, scan);
  std::vector<std::string> warnings = c.img.warnings;
  c.original = io::geometry_of(c.img);
  c.grid = io::conformed_geometry(c.original, conform, scan, &warnings);
  for (const auto& w : warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
  c.subj.info.id = "scan";
  c.subj.info.geometry = c.grid;
  c.subj.t1 = io::conform_image(c.img, c.grid);
  return c;
}

// Each member's labels (LUT values on the conformed grid). Perturbed inference gives each member
// its own random stream (MCA member key = its position), so members differ by design.
std::vector<std::vector<std::int16_t>> segment_members(
    const ScanJob& job, const std::vector<std::unique_ptr<ModelSet>>& nets, const Conformed& c,
    std::FILE* log) {
  std::vector<std::vector<std::int16_t>> members;
  for (std::size_t m = 0; m < job.sets.size(); ++m) {
    const auto t0 = Clock::now();
    mca::ArithConfig arith = job.arith;
    arith.member = job.f.member + std::uint32_t(m);
    const nn::Segmentation seg =
        nets[m]->segment(c.subj.t1, c.grid.dims, arith, job.f.segment_options(0));
    std::vector<std::int16_t> labels(seg.classes.size());
    for (std::size_t n = 0; n < labels.size(); ++n)
      labels[n] = job.ck().class_values[std::size_t(seg.classes[n])];
    members.push_back(std::move(labels));
    std::fprintf(log, "  %s  %.1f s\n", job.sets[m].name.c_str(), seconds_since(t0));
    std::fflush(log);
  }
  return members;
}

// The regions of the table (every class but background) and what a voxel holds.
struct Regions {
  std::vector<std::int16_t> values;
  std::vector<std::string> names;
  double voxel_mm3 = 0;
};
Regions regions_of(const ScanJob& job, const io::Geometry& grid) {
  Regions r;
  for (std::size_t c = 1; c < job.ck().class_values.size(); ++c) {
    r.values.push_back(job.ck().class_values[c]);
    r.names.push_back(job.ck().class_names[c]);
  }
  r.voxel_mm3 = grid.voxel_size[0] * grid.voxel_size[1] * grid.voxel_size[2];
  return r;
}

// The command that reproduces this scan's directory, for the stats header and the summary.
std::string command_line(const ScanJob& job) {
  const SegmentFlags& f = job.f;
  std::ostringstream cmd;
  cmd << "numens segment --t1 " << job.scan.string();
  if (!f.models.empty()) {
    cmd << " --models " << f.models;
  } else {
    for (const ViewModel& vm : job.sets.front().views)
      cmd << " --" << io::view_name(vm.view) << ' ' << vm.path.string();
  }
  cmd << " --voxel-size " << f.conform.voxel_size << " --size " << f.conform.size << " --mode "
      << f.mode;
  if (job.arith.mode != mca::Mode::ieee)
    cmd << " --t32 " << f.t32 << " --seed " << f.seed << " --member " << f.member;
  return cmd.str();
}

// stats/seg.stats: FreeSurfer's aseg.stats header conventions, then one tab-separated row per
// region; the rows add up to the LabelledVol measure.
std::string stats_text(const ScanJob& job, const io::Geometry& grid, const Regions& reg,
                       const std::vector<std::int64_t>& counts) {
  std::int64_t labelled = 0;
  for (auto n : counts) labelled += n;
  const std::size_t M = job.sets.size();
  std::ostringstream st;
  st << "# Title Segmentation Statistics\n"
     << "# generating_program numens " << kVersion << " (" << kGitCommit << ")\n"
     << "# cmdline " << command_line(job) << "\n"
     << "# InputFile " << job.scan.string() << "\n"
     << "# SegVolFile mri/seg.mgz\n"
     << "# ColorTable seg-lut.txt\n"
     << "# ModelSets " << M << (M > 1 ? " (ensemble; seg.mgz is their voxel-wise majority)" : "")
     << "\n"
     << "# Arithmetic " << job.arith.describe() << "\n"
     << "# ConformedGrid " << grid.dims[0] << "^3 voxels of " << grid.voxel_size[0] << " mm\n"
     << "# VoxelVolume_mm3 " << reg.voxel_mm3 << "\n"
     << "# Measure Labelled, LabelledVoxels, Voxels of every label but Unknown, " << labelled
     << ", voxels\n"
     << "# Measure Labelled, LabelledVol, Volume of every label but Unknown, "
     << fmt(double(labelled) * reg.voxel_mm3, 3) << ", mm^3\n"
     << "# NTableCols 5\n"
     << "# ColHeaders\tIndex\tSegId\tNVoxels\tVolume_mm3\tStructName\n";
  for (std::size_t r = 0; r < reg.values.size(); ++r)
    st << r + 1 << '\t' << reg.values[r] << '\t' << counts[r] << '\t'
       << fmt(double(counts[r]) * reg.voxel_mm3, 3) << '\t' << reg.names[r] << '\n';
  return st.str();
}

// Conformed T1 and segmentation in both formats, the segmentation on the scan's own grid, and
// the colour table.
void write_volumes(const ScanJob& job, OutDir& dir, const Conformed& c,
                   const std::vector<std::int16_t>& labels, const io::LabelTable& lut) {
  const std::string& p = job.prefix;
  io::Volume v = volume_on(c.grid, c.img);
  v.data = as_float(c.subj.t1);
  io::write_volume(dir.file(p + "mri/orig.mgz"), v, io::NiftiType::u8);
  io::write_volume(dir.file(p + "mri/orig.nii.gz"), v, io::NiftiType::u8);
  v.data = as_float(labels);
  io::write_volume(dir.file(p + "mri/seg.mgz"), v, io::NiftiType::i16);
  io::write_volume(dir.file(p + "mri/seg.nii.gz"), v, io::NiftiType::i16);
  io::Volume native = volume_on(c.original, c.img);
  native.data = as_float(io::resample_nearest(labels, c.grid, c.original));
  io::write_volume(dir.file(p + "mri/seg.native.nii.gz"), native, io::NiftiType::i16);
  io::write_volume(dir.file(p + "mri/seg.native.mgz"), native, io::NiftiType::i16);
  dir.text(p + "seg-lut.txt",
           io::write_lut_text(lut, "numens segment: labels of " + job.scan.string()));
}

// One row of the ensemble's per-region volume spread.
struct SpreadRow {
  std::size_t r;  // region position
  analysis::Spread s;
  double lo, hi, min_dice, mean_dice;
};

std::vector<SpreadRow> spread_rows(std::span<const analysis::LabelSpan> members,
                                   const Regions& reg) {
  const analysis::RegionIndex index(reg.values);
  const analysis::PairwiseDice pd = analysis::pairwise_dice(members, index);
  std::vector<std::vector<std::int64_t>> mc;
  for (const auto& m : members) mc.push_back(analysis::region_counts(m, index));
  std::vector<SpreadRow> rows;
  for (std::size_t r = 0; r < reg.values.size(); ++r) {
    std::vector<double> vol;
    for (const auto& c : mc) vol.push_back(double(c[r]) * reg.voxel_mm3);
    const auto [lo, hi] = std::minmax_element(vol.begin(), vol.end());
    rows.push_back({r, analysis::spread(vol), *lo, *hi, pd.min[r], pd.mean[r]});
  }
  return rows;
}

std::string spread_tsv(const std::vector<SpreadRow>& rows, const Regions& reg, std::size_t M) {
  std::ostringstream sp;
  sp << "SegId\tStructName\tmembers\tmean_mm3\tsd_mm3\tmin_mm3\tmax_mm3\tcv_percent\t"
        "min_pairwise_dice\tmean_pairwise_dice\n";
  for (const SpreadRow& row : rows)
    sp << reg.values[row.r] << '\t' << reg.names[row.r] << '\t' << M << '\t' << fmt(row.s.mean, 3)
       << '\t' << fmt(row.s.std, 3) << '\t' << fmt(row.lo, 3) << '\t' << fmt(row.hi, 3) << '\t'
       << (std::isnan(row.s.cv) ? std::string("nan") : fmt(100 * row.s.cv, 3)) << '\t'
       << fmt(row.min_dice, 4) << '\t' << fmt(row.mean_dice, 4) << '\n';
  return sp.str();
}

// summary.html: how much of the brain the members disagree on, the entropy over the T1, the
// regions by volume CV.
std::string summary_html(const ScanJob& job, const Conformed& c,
                         const std::vector<std::int16_t>& labels, const analysis::VoxelMaps& maps,
                         std::vector<SpreadRow> rows, const Regions& reg) {
  std::size_t uncertain = 0, brain = 0;
  double ent_sum = 0;
  for (std::size_t n = 0; n < labels.size(); ++n) {
    if (labels[n] == 0 && maps.entropy[n] == 0) continue;
    ++brain;
    uncertain += maps.entropy[n] > 0;
    ent_sum += maps.entropy[n] / 255.0;
  }
  std::stable_sort(rows.begin(), rows.end(), [](const SpreadRow& a, const SpreadRow& b) {
    return (std::isnan(a.s.cv) ? -1 : a.s.cv) > (std::isnan(b.s.cv) ? -1 : b.s.cv);
  });
  const io::Image ep = io::entropy_panel(c.subj, maps.entropy);
  const std::vector<std::uint8_t> png = io::encode_png_rgb(ep.width, ep.height, ep.rgb);
  std::ostringstream h;
  h << "<!doctype html><html><head><meta charset=\"utf-8\"><title>numens: numerical "
       "uncertainty of "
    << io::xml_escape(job.scan.filename().string())
    << "</title><style>body{font-family:sans-serif;max-width:1100px;margin:1em auto;padding:0 "
       "1em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px "
       "8px}th{background:#f0f0f0}.note{color:#666}</style></head><body>\n"
    << "<h1>Numerical uncertainty of " << io::xml_escape(job.scan.string()) << "</h1>\n"
    << "<p>" << job.sets.size() << " members of <code>" << io::xml_escape(job.f.models)
    << "</code>, inference " << io::xml_escape(job.arith.describe()) << ", conformed to "
    << c.grid.dims[0] << "^3 voxels of " << c.grid.voxel_size[0]
    << " mm. <code>mri/seg.mgz</code> is the members' voxel-wise majority; "
       "<code>mri/entropy.mgz</code> the label entropy, 255 when every member differs.</p>\n"
    << "<p>" << uncertain << " of " << brain << " labelled voxels ("
    << fmt(brain ? 100.0 * double(uncertain) / double(brain) : 0, 2)
    << " %) get different labels from different members; mean normalised entropy over them "
    << fmt(brain ? ent_sum / double(brain) : 0, 4) << ".</p>\n"
    << "<figure><img src=\"" << io::data_uri("image/png", png)
    << "\" alt=\"entropy\"><figcaption>Label entropy over the T1 (axial, coronal, sagittal "
       "mid slices; dark red: low, white: every member differs)</figcaption></figure>\n"
    << "<h2>Regional volumes across members (largest coefficient of variation first)</h2>\n"
    << "<table><tr><th>region</th><th>id</th><th>mean mm&sup3;</th><th>sd</th><th>min</th>"
       "<th>max</th><th>CV %</th><th>min pairwise Dice</th></tr>\n";
  for (const SpreadRow& row : rows)
    h << "<tr><td>" << io::xml_escape(reg.names[row.r]) << "</td><td>" << reg.values[row.r]
      << "</td><td>" << fmt(row.s.mean, 1) << "</td><td>" << fmt(row.s.std, 1) << "</td><td>"
      << fmt(row.lo, 1) << "</td><td>" << fmt(row.hi, 1) << "</td><td>"
      << (std::isnan(row.s.cv) ? std::string("-") : fmt(100 * row.s.cv, 2)) << "</td><td>"
      << fmt(row.min_dice, 4) << "</td></tr>\n";
  h << "</table>\n<p class=\"note\">" << io::xml_escape(command_line(job))
    << "</p></body></html>\n";
  return h.str();
}

// An ensemble's numerical uncertainty of the scan: each member's labels, the entropy map, the
// per-region spread table and the summary page.
void write_uncertainty(const ScanJob& job, OutDir& dir, const Conformed& c,
                       const std::vector<std::vector<std::int16_t>>& members,
                       const analysis::VoxelMaps& maps, const Regions& reg) {
  const std::string& p = job.prefix;
  dir.mkdir(p + "mri/members");
  io::Volume v = volume_on(c.grid, c.img);
  for (std::size_t m = 0; m < members.size(); ++m) {
    v.data = as_float(members[m]);
    io::write_volume(
        dir.file(p + "mri/members/" + io::member_dir_name(job.sets[m].id) + ".seg.mgz"), v,
        io::NiftiType::i16);
  }
  v.data = as_float(maps.entropy);
  io::write_volume(dir.file(p + "mri/entropy.mgz"), v, io::NiftiType::u8);
  io::write_volume(dir.file(p + "mri/entropy.nii.gz"), v, io::NiftiType::u8);
  const std::vector<analysis::LabelSpan> spans(members.begin(), members.end());
  const std::vector<SpreadRow> rows = spread_rows(spans, reg);
  dir.text(p + "stats/seg-spread.tsv", spread_tsv(rows, reg, members.size()));
  dir.text(p + "summary.html", summary_html(job, c, maps.majority, maps, rows, reg));
}

// One scan into job.prefix of the output directory.
void segment_one(const ScanJob& job, OutDir& dir,
                 const std::vector<std::unique_ptr<ModelSet>>& nets,
                 const io::ConformOptions& conform, std::FILE* log) {
  const auto t_start = Clock::now();
  Conformed c = read_and_conform(job.scan, conform);
  std::fprintf(log, "numens segment: %s -> %lld^3 voxels of %g mm; %zu model set%s, views %s, %s\n",
               job.scan.c_str(), static_cast<long long>(c.grid.dims[0]), c.grid.voxel_size[0],
               job.sets.size(), job.sets.size() == 1 ? "" : "s",
               view_list(job.sets.front().views).c_str(), job.arith.describe().c_str());
  std::fflush(log);
  const std::vector<std::vector<std::int16_t>> members = segment_members(job, nets, c, log);
  analysis::VoxelMaps maps;
  if (members.size() > 1)
    maps = analysis::voxel_maps(std::vector<analysis::LabelSpan>(members.begin(), members.end()));
  const std::vector<std::int16_t>& labels = members.size() > 1 ? maps.majority : members.front();

  // The label table: the models' classes, FreeSurfer's colours where it has the value.
  io::LabelTable lut;
  for (std::size_t k = 0; k < job.ck().class_values.size(); ++k)
    lut.push_back({job.ck().class_values[k], job.ck().class_names[k],
                   io::default_label_colour(job.ck().class_values[k])});
  c.subj.info.has_labels = true;
  c.subj.labels = labels;
  // Volumes per region on the conformed grid (FreeSurfer's aseg.stats counts there too).
  const Regions reg = regions_of(job, c.grid);
  const std::vector<std::int64_t> counts =
      analysis::region_counts(labels, analysis::RegionIndex(reg.values));

  if (!job.prefix.empty()) dir.mkdir(job.prefix);
  dir.mkdir(job.prefix + "mri");
  dir.mkdir(job.prefix + "stats");
  write_volumes(job, dir, c, labels, lut);
  dir.text(job.prefix + "stats/seg.stats", stats_text(job, c.grid, reg, counts));
  const io::Image panel = label_panel(c.subj, lut);
  io::write_png_rgb(dir.file(job.prefix + "seg-preview.png"), panel.width, panel.height, panel.rgb);
  if (members.size() > 1) write_uncertainty(job, dir, c, members, maps, reg);
  dir.text(job.prefix + "segment.toml",
           "[segment]\nt1 = \"" + job.scan.string() + "\"\nmodels = \"" + job.f.models +
               "\"\nmembers = " + std::to_string(members.size()) + "\narith = \"" +
               job.arith.describe() + "\"\nvoxel_size = " + std::to_string(c.grid.voxel_size[0]) +
               "\nsize = " + std::to_string(c.grid.dims[0]) + "\n");
  std::int64_t labelled = 0;
  for (auto n : counts) labelled += n;
  std::fprintf(log, "numens segment: %lld labelled voxels (%.1f cm^3) in %.1f s -> %s\n",
               static_cast<long long>(labelled), double(labelled) * reg.voxel_mm3 / 1000.0,
               seconds_since(t_start), job.prefix.empty() ? "." : job.prefix.c_str());
  std::fflush(log);
}

}  // namespace

void segment_scan(const SegmentFlags& f) {
  std::FILE* log = f.log ? f.log : stdout;
  if (!f.cohort.empty()) throw ConfigError("segment: give --cohort or --t1/--csv, not both");
  if (!f.t1.empty() && !f.csv.empty())
    throw ConfigError("segment: give --t1 SCAN or --csv FILE, not both");
  if (f.probs)
    throw ConfigError(
        "segment: --probs writes a cohort's segmentation file; with --t1 the "
        "subject directory holds labels (and, for an ensemble, the entropy map)");
  if (!f.subjects.empty())
    throw ConfigError("segment: --subjects selects cohort subjects, not scans");
  f.check_run_options();
  if (f.threads > 0) omp_set_num_threads(f.threads);
  const mca::ArithConfig base_arith = f.arith();
  const io::ConformOptions conform = f.conform.parse();
  const fs::path out(f.out);
  check_new_dir(out);
  // Every scan named is there before any work (the CSV reader checks its rows' files).
  std::vector<std::pair<std::string, fs::path>> scans;
  if (!f.csv.empty()) {
    for (const io::CsvRow& r : io::read_subjects_csv(f.csv, /*age_required=*/false)) {
      if (const std::string why = io::file_problem(r.image); !why.empty())
        fail(f.csv, "line " + std::to_string(r.line) + ": subject '" + r.id + "': image " +
                        r.image.string() + ": " + why);
      scans.emplace_back(r.id + "/", r.image);
    }
  } else {
    if (const std::string why = io::file_problem(f.t1); !why.empty()) fail(f.t1, why);
    scans.emplace_back("", f.t1);
  }
  const std::vector<MemberModels> sets = model_sets(f);
  std::vector<std::unique_ptr<ModelSet>> nets;
  for (const MemberModels& m : sets) nets.push_back(std::make_unique<ModelSet>(m.views));
  OutDir dir(out);
  for (const auto& [prefix, scan] : scans)
    segment_one(ScanJob{f, sets, base_arith, scan, prefix}, dir, nets, conform, log);
  dir.commit();
  std::fprintf(log, "wrote %s\n", out.c_str());
  std::fflush(log);
}

}  // namespace numens::drivers
