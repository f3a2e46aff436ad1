// numens segment: the three view models over each subject of a cohort, logits aggregated
// 0.4/0.4/0.2 (nn/segmenter.hpp), label volumes (and optionally probabilities) written to a
// segmentation file (io/segmentation.hpp), Dice against the cohort's labels where it has them
// (analysis/overlap.hpp). Everything that can be checked is checked before the first subject, so a
// bad input costs one error line and leaves no output.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "analysis/overlap.hpp"
#include "drivers/commands.hpp"
#include "drivers/model_io.hpp"
#include "drivers/segment.hpp"
#include "drivers/timing.hpp"
#include "io/checkpoint.hpp"
#include "io/cohort.hpp"
#include "io/error.hpp"
#include "io/segmentation.hpp"
#include "io/slices.hpp"
#include "mca/config.hpp"
#include "nn/segmenter.hpp"
#include "numens/version.hpp"

namespace numens::drivers {

namespace {

namespace fs = std::filesystem;

constexpr io::View kViews[3] = {io::View::axial, io::View::coronal, io::View::sagittal};

using Model = ViewModel;

[[noreturn]] void fail(const fs::path& file, const std::string& what) {
  throw io::IoError("segment: " + file.string() + ": " + what);
}

std::vector<std::string> split_ids(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  std::istringstream in(s);
  while (std::getline(in, cur, ','))
    if (!cur.empty()) out.push_back(cur);
  return out;
}

}  // namespace

std::vector<std::pair<io::View, fs::path>> checkpoint_paths(const SegmentFlags& f) {
  std::vector<std::pair<io::View, fs::path>> out;
  const bool named = !f.ckpt[0].empty() || !f.ckpt[1].empty() || !f.ckpt[2].empty();
  if (!f.models.empty() && named)
    throw ConfigError("segment: give --models DIR or --axial/--coronal/--sagittal, not both");
  if (f.models.empty()) {
    if (!named)
      throw ConfigError("segment: no models: give --models DIR or --axial/--coronal/--sagittal");
    for (int v = 0; v < 3; ++v)
      if (!f.ckpt[v].empty()) out.emplace_back(kViews[v], f.ckpt[v]);
    return out;
  }
  const fs::path dir(f.models);
  if (!fs::is_directory(dir)) fail(dir, "models directory not found");
  for (io::View v : kViews) {
    const fs::path p = dir / ("ckpt_" + std::string(io::view_name(v)) + ".h5");
    if (fs::exists(p)) out.emplace_back(v, p);
  }
  if (out.empty()) fail(dir, "holds none of ckpt_axial.h5, ckpt_coronal.h5, ckpt_sagittal.h5");
  return out;
}

std::vector<ViewModel> load_models(const std::vector<std::pair<io::View, fs::path>>& paths,
                                   const io::CohortReader* cohort) {
  std::vector<Model> models;
  for (const auto& [view, path] : paths) {
    if (!fs::exists(path)) fail(path, "checkpoint not found");
    Model m{view, path, io::read_checkpoint(path), {}};
    if (m.ckpt.view != io::view_name(view))
      fail(path, "checkpoint of the " + m.ckpt.view + " view given for the " + io::view_name(view) +
                     " view");
    m.net = parse_net(m.ckpt.net, path);
    if (std::size_t(m.net.classes) != m.ckpt.class_values.size())
      fail(path, "model has " + std::to_string(m.net.classes) + " classes, its class table " +
                     std::to_string(m.ckpt.class_values.size()));
    if (m.net.in_channels % 2 == 0)
      fail(path, "model takes " + std::to_string(m.net.in_channels) +
                     " input channels, not an odd thick-slice thickness");
    if (!models.empty()) {
      const Model& ref = models.front();
      if (m.ckpt.class_values != ref.ckpt.class_values)
        fail(path, "class values differ from those of " + ref.path.string());
      if (m.net.in_channels != ref.net.in_channels)
        fail(path, "thick slices of " + std::to_string(m.net.in_channels) + " planes, " +
                       ref.path.string() + " takes " + std::to_string(ref.net.in_channels));
    }
    if (cohort) {
      for (auto v : m.ckpt.class_values) {
        bool known = false;
        for (const auto& l : cohort->lut()) known = known || l.value == v;
        if (!known)
          fail(path, "class value " + std::to_string(v) + " is not in the label table of " +
                         cohort->path().string());
      }
    }
    models.push_back(std::move(m));
  }
  return models;
}

ModelSet::ModelSet(std::vector<ViewModel> m) : models(std::move(m)) {
  for (const ViewModel& vm : models) {
    nets.push_back(std::make_unique<nn::FastSurferNet<float>>(vm.net));
    load_weights(*nets.back(), vm.ckpt, vm.path);
    views += (views.empty() ? "" : ",") + std::string(io::view_name(vm.view));
  }
}

nn::Segmentation ModelSet::segment(std::span<const std::uint8_t> t1,
                                   const std::array<std::int64_t, 3>& dims,
                                   const mca::ArithConfig& arith,
                                   const nn::SegmentOptions& opt) const {
  std::vector<nn::SegmenterView> sv;
  for (std::size_t i = 0; i < models.size(); ++i) {
    const io::View v = models[i].view;
    const io::PlaneLayout L = io::plane_layout(v, dims);
    nn::SegmenterView x;
    x.code = int(v);
    x.net = nets[i].get();
    x.planes = L.planes, x.rows = L.rows, x.cols = L.cols;
    x.plane_stride = L.plane_stride, x.row_stride = L.row_stride;
    x.col_stride = L.col_stride;
    const int T = models[i].net.in_channels;
    x.thick_slice = [t1, dims, v, T](int64_t p, std::span<uint8_t> out, int64_t rows,
                                     int64_t cols) {
      io::thick_slice(t1, dims, v, p, T, out, rows, cols);
    };
    sv.push_back(std::move(x));
  }
  return nn::segment(sv, t1, dims, arith, opt);
}

void SegmentFlags::check_run_options() const {
  if (threads < 0) throw ConfigError("segment: --threads must be >= 0");
  if (batch < 1 || batch > 1024)
    throw ConfigError("segment: --batch " + std::to_string(batch) + " is not in 1..1024");
  if (accumulator != "float16" && accumulator != "float32")
    throw ConfigError("segment: --accumulator '" + accumulator + "' is not float16 or float32");
}

nn::SegmentOptions SegmentFlags::segment_options(std::uint32_t subject) const {
  nn::SegmentOptions opt;
  opt.batch = batch;
  opt.subject = subject;
  opt.crop = !no_crop;
  opt.accumulator = accumulator == "float32" ? nn::Accumulator::float32 : nn::Accumulator::float16;
  return opt;
}

mca::ArithConfig SegmentFlags::arith() const {
  if (typed_arith) {
    typed_arith->validate();
    return *typed_arith;
  }
  mca::ArithConfig a;
  a.mode = mca::parse_mode(mode);
  a.t32 = t32;
  a.t64 = t64;
  a.seed = seed;
  a.member = member;
  cost.apply(a);
  a.validate();
  return a;
}

namespace {

std::string describe(const SegmentFlags& f, const std::vector<Model>& models,
                     const mca::ArithConfig& arith, const std::vector<std::size_t>& subjects,
                     const io::CohortReader& cohort) {
  std::ostringstream c;
  c << "[segment]\ncohort = \"" << f.cohort << "\"\n";
  for (const Model& m : models) c << io::view_name(m.view) << " = \"" << m.path.string() << "\"\n";
  c << "subjects = [";
  for (std::size_t i = 0; i < subjects.size(); ++i)
    c << (i ? ", " : "") << '"' << cohort.subjects()[subjects[i]].id << '"';
  c << "]\narith = \"" << arith.describe() << "\"\nbatch = " << f.batch
    << "\nprobs = " << (f.probs ? "true" : "false") << "\naccumulator = \"" << f.accumulator
    << "\"\ncrop = " << (f.no_crop ? "false" : "true") << "\n";
  return c.str();
}

}  // namespace

namespace {

// The cohort positions --subjects names (every subject when empty), each once, each within the
// MCA step counter's range.
std::vector<std::size_t> select_subjects(const SegmentFlags& f, const io::CohortReader& cohort) {
  std::vector<std::size_t> subjects;
  if (f.subjects.empty()) {
    for (std::size_t s = 0; s < cohort.subjects().size(); ++s) subjects.push_back(s);
  } else {
    for (const auto& id : split_ids(f.subjects)) {
      const std::size_t s = cohort.index_of(id);
      if (std::find(subjects.begin(), subjects.end(), s) != subjects.end())
        throw ConfigError("segment: --subjects lists '" + id + "' twice");
      subjects.push_back(s);
    }
    if (subjects.empty()) throw ConfigError("segment: --subjects lists no subject id");
  }
  for (std::size_t s : subjects)
    if (s >= nn::kMaxSegmentSubjects)
      fail(cohort.path(), "subject '" + cohort.subjects()[s].id + "' is at index " +
                              std::to_string(s) + ", the MCA step counter holds " +
                              std::to_string(nn::kMaxSegmentSubjects) + " subjects");
  return subjects;
}

// The segmentation file's root attributes and tables: what was segmented, by what, how.
io::SegmentationInfo segmentation_info(const SegmentFlags& f, const std::vector<Model>& models,
                                       const mca::ArithConfig& arith,
                                       const std::vector<std::size_t>& subjects,
                                       const io::CohortReader& cohort, const ModelSet& set) {
  io::SegmentationInfo info;
  info.config = describe(f, models, arith, subjects, cohort);
  info.seeds = arith.mode == mca::Mode::ieee ? "{}" : "{mca = " + std::to_string(f.seed) + "}";
  info.member = f.member_id ? *f.member_id : int64_t(f.member);
  info.views = set.views;
  info.arith = arith.describe();
  info.accumulator = f.accumulator;
  info.cohort = f.cohort;
  info.cohort_creation_time = cohort.provenance("creation_time");
  info.lut = cohort.lut();
  info.class_values = models.front().ckpt.class_values;
  info.class_names = models.front().ckpt.class_names;
  return info;
}

}  // namespace

void segment_cohort(const SegmentFlags& f) {
  std::FILE* log = f.log ? f.log : stdout;
  if (f.threads < 0) throw ConfigError("segment: --threads must be >= 0");
  if (f.threads > 0) omp_set_num_threads(f.threads);
  const mca::ArithConfig arith = f.arith();
  f.check_run_options();

  const auto paths = checkpoint_paths(f);
  const io::CohortReader cohort(f.cohort);
  const std::vector<Model> models = load_models(paths, &cohort);
  const std::vector<std::size_t> subjects = select_subjects(f, cohort);
  // The networks, loaded once.
  const ModelSet set(models);
  const std::string& view_list = set.views;
  const io::SegmentationInfo info = segmentation_info(f, models, arith, subjects, cohort, set);
  io::SegmentationWriter writer(f.out, info, kVersion, kGitCommit);

  std::fprintf(log, "numens segment: %zu subjects, views %s, %s, %d classes\n", subjects.size(),
               view_list.c_str(), arith.describe().c_str(), models.front().net.classes);
  double dice_sum = 0;
  int dice_n = 0;
  for (std::size_t s : subjects) {
    const auto t0 = std::chrono::steady_clock::now();
    const io::Subject subj = cohort.read(s);
    const auto dims = subj.info.geometry.dims;
    nn::SegmentOptions opt = f.segment_options(uint32_t(s));
    writer.begin_subject(subj.info.id, subj.info.geometry, f.probs);
    if (f.probs) {
      opt.probs = [&writer](int64_t first, int64_t count, std::span<const uint8_t> p) {
        writer.write_probs(first, count, p);
      };
      opt.probs_block_voxels = writer.probs_block_voxels();
    }
    const nn::Segmentation seg = set.segment(subj.t1, dims, arith, opt);
    std::vector<int16_t> labels(seg.classes.size());
    for (std::size_t n = 0; n < labels.size(); ++n)
      labels[n] = info.class_values[std::size_t(seg.classes[n])];
    double dice = std::nan("");
    if (subj.info.has_labels) dice = analysis::mean_dice(labels, subj.labels);
    writer.end_subject(labels, dice);
    const double secs = seconds_since(t0);
    if (subj.info.has_labels) {
      std::fprintf(log, "  %s  %.2f s  mean Dice %.4f\n", subj.info.id.c_str(), secs, dice);
      if (!std::isnan(dice)) dice_sum += dice, ++dice_n;
    } else {
      std::fprintf(log, "  %s  %.2f s  (no labels)\n", subj.info.id.c_str(), secs);
    }
    std::fflush(log);
  }
  writer.commit();
  if (dice_n > 0)
    std::fprintf(log, "numens segment: mean Dice %.4f over %d labelled subjects\n",
                 dice_sum / dice_n, dice_n);
  std::fprintf(log, "wrote %s\n", f.out.c_str());
  std::fflush(log);
}

Runner add_segment(CLI::App& app) {
  auto f = std::make_shared<SegmentFlags>();
  CLI::App* sub = app.add_subcommand(
      "segment", "Segment a cohort with the view models (logits aggregated 0.4/0.4/0.2)");
  sub->add_option("--cohort", f->cohort, "cohort file (HDF5)");
  sub->add_option("--t1", f->t1,
                  "one scan (.nii, .nii.gz, .mgz, .mgh) instead of a cohort: --out is then a new "
                  "subject directory (docs/real-data.md)");
  sub->add_option("--csv", f->csv,
                  "many scans instead of a cohort: a CSV with columns id, image (import's CSV, age "
                  "optional); --out is then a new directory with one subject directory per id");
  f->conform.add_to(sub);
  sub->add_option("--models", f->models,
                  "directory with ckpt_axial.h5, ckpt_coronal.h5, ckpt_sagittal.h5 (any subset)");
  sub->add_option("--axial", f->ckpt[0], "axial checkpoint (instead of --models)");
  sub->add_option("--coronal", f->ckpt[1], "coronal checkpoint (instead of --models)");
  sub->add_option("--sagittal", f->ckpt[2], "sagittal checkpoint (instead of --models)");
  sub->add_option("--out", f->out,
                  "segmentation file to write (HDF5), or with --t1 the subject directory")
      ->required();
  sub->add_option("--subjects", f->subjects, "comma-separated subject ids (default: all)");
  sub->add_option("--mode", f->mode, "arithmetic: ieee | sr | rr | pb | mca | sr_equal")
      ->capture_default_str();
  sub->add_option("--t,--t32", f->t32, "virtual precision for binary32 (1..24)")
      ->capture_default_str();
  sub->add_option("--t64", f->t64, "virtual precision for binary64 (1..53)")->capture_default_str();
  sub->add_option("--seed", f->seed, "MCA seed")->capture_default_str();
  sub->add_option("--member", f->member, "MCA ensemble member (part of the random key)")
      ->capture_default_str();
  f->cost.add_to(sub);
  sub->add_option("--member-id", f->member_id, "member id recorded in the file (default --member)");
  sub->add_flag("--probs", f->probs, "also write probabilities, uint8 round(255 p)");
  sub->add_option("--batch", f->batch, "planes per forward pass")->capture_default_str();
  sub->add_option("--accumulator", f->accumulator,
                  "storage of the aggregated logits: float16 (2 B/class/voxel) | float32")
      ->capture_default_str();
  sub->add_flag("--no-crop", f->no_crop,
                "aggregate over the whole grid, not only the box of non-zero voxels");
  sub->add_option("--threads", f->threads, "OpenMP threads (0: OMP_NUM_THREADS or all cores)")
      ->capture_default_str();
  return [f] {
    if (!f->t1.empty() || !f->csv.empty()) {
      segment_scan(*f);
    } else {
      if (f->cohort.empty())
        throw ConfigError("segment: give --cohort FILE, --t1 SCAN or --csv FILE");
      segment_cohort(*f);
    }
    return 0;
  };
}

}  // namespace numens::drivers
