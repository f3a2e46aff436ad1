#include "io/export.hpp"

#include <cmath>
#include <cstdint>
#include <vector>

#include "io/cohort.hpp"
#include "io/conform.hpp"
#include "io/error.hpp"
#include "io/h5.hpp"
#include "io/segmentation.hpp"
#include "io/summary.hpp"
#include "io/volume_file.hpp"

namespace numens::io {

namespace fs = std::filesystem;

namespace {

[[noreturn]] void fail(const fs::path& file, const std::string& what) {
  throw IoError("export: " + file.string() + ": " + what);
}

// What is written: values on the conformed grid, and whether they are labels (nearest
// neighbour, int16) or intensities (trilinear; uint8 rounded back, float32 as is).
struct Source {
  Geometry grid;
  std::vector<float> values;
  NiftiType type = NiftiType::f32;
};

template <class T>
std::vector<float> floats(const std::vector<T>& x) {
  return std::vector<float>(x.begin(), x.end());
}

Source from_cohort(const ExportRequest& q) {
  const CohortReader r(q.in);
  const SubjectInfo& info = r.subjects()[r.index_of(q.subject)];
  const std::string name = q.dataset.empty() ? "t1" : q.dataset;
  if (name == "labels" && !info.has_labels) fail(q.in, "subject '" + info.id + "' has no labels");
  if (name.empty() || name.front() == '/' || name.find("..") != std::string::npos)
    fail(q.in, "dataset '" + name + "' must be a path under the subject's group");
  const File f = File::open(q.in);
  const Group g = f.root().group("subjects/" + info.id);
  const Dataset d = g.dataset(name);
  const Shape want{std::uint64_t(info.geometry.dims[2]), std::uint64_t(info.geometry.dims[1]),
                   std::uint64_t(info.geometry.dims[0])};
  if (d.shape() != want) fail(q.in, d.path() + " is not a volume on the subject's conformed grid");
  Source s;
  s.grid = info.geometry;
  switch (d.dtype()) {
    case DType::i16:
      s.values = floats(d.read<std::int16_t>());
      s.type = NiftiType::i16;
      break;
    case DType::u8:
      s.values = floats(d.read<std::uint8_t>());
      s.type = NiftiType::u8;
      break;
    case DType::f32:
      s.values = d.read<float>();
      break;
    default:
      fail(q.in, d.path() + " is stored as " + dtype_name(d.dtype()) +
                     "; export reads uint8, int16 or float32");
  }
  return s;
}

Source from_segmentation(const ExportRequest& q, std::string& cohort) {
  const SegmentationReader r(q.in);
  const auto& ids = r.subject_ids();
  bool found = false;
  for (const auto& id : ids) found = found || id == q.subject;
  if (!found)
    fail(q.in, "no subject '" + q.subject + "' (" + std::to_string(ids.size()) + " segmented)");
  cohort = r.info().cohort;
  Source s;
  s.grid = r.geometry(q.subject);
  const std::string name = q.dataset.empty() ? "labels" : q.dataset;
  if (name == "labels") {
    s.values = floats(r.labels(q.subject));
    s.type = NiftiType::i16;
    return s;
  }
  if (name != "probs") fail(q.in, "dataset '" + name + "': a segmentation holds labels and probs");
  if (!r.has_probs(q.subject))
    fail(q.in, "subject '" + q.subject + "' has no probabilities (segment with --probs)");
  const auto& values = r.info().class_values;
  const auto& names = r.info().class_names;
  std::size_t c = values.size();
  for (std::size_t i = 0; i < values.size(); ++i)
    if (q.label == names[i] || q.label == std::to_string(values[i])) c = i;
  if (q.label.empty()) fail(q.in, "probs: name the class with --label (a value or a name)");
  if (c == values.size()) fail(q.in, "probs: no class '" + q.label + "'");
  const std::vector<std::uint8_t> p = r.probs(q.subject);  // (C, nz, ny, nx)
  const std::size_t n = s.grid.voxel_count();
  s.values.assign(p.begin() + std::ptrdiff_t(c * n), p.begin() + std::ptrdiff_t((c + 1) * n));
  s.type = NiftiType::u8;
  return s;
}

Source from_summary(const ExportRequest& q, std::string& cohort) {
  const SummaryReader r(q.in);
  cohort = r.tables().cohort;
  const auto& arms = r.tables().arm_names;
  std::string arm = q.arm;
  if (arm.empty()) {
    for (const auto& a : arms)
      if (arm.empty() && r.has_maps(q.subject, a)) arm = a;
    if (arm.empty()) fail(q.in, "no voxel maps of subject '" + q.subject + "'");
  } else if (!r.has_maps(q.subject, arm)) {
    fail(q.in, "no voxel maps of subject '" + q.subject + "' in arm '" + arm + "'");
  }
  const ArmMaps m = r.maps(q.subject, arm);
  Source s;
  s.grid = r.map_geometry(q.subject);
  const std::string name = q.dataset.empty() ? "entropy" : q.dataset;
  if (name == "entropy") {
    s.values = floats(m.entropy), s.type = NiftiType::u8;
  } else if (name == "disagreement") {
    s.values = floats(m.disagreement), s.type = NiftiType::u8;
  } else if (name == "majority") {
    s.values = floats(m.majority), s.type = NiftiType::i16;
  } else {
    fail(q.in, "dataset '" + name + "': a summary holds entropy, disagreement and majority maps");
  }
  return s;
}

bool same_grid(const Geometry& a, const Geometry& b) {
  if (a.dims != b.dims) return false;
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c)
      if (std::abs(a.affine[r][c] - b.affine[r][c]) > 1e-6) return false;
  return true;
}

}  // namespace

void export_volume(const ExportRequest& q, const fs::path& out) {
  const std::string fn = out.filename().string();
  auto ends = [&](std::string_view s) { return fn.size() > s.size() && fn.ends_with(s); };
  if (!(ends(".nii") || ends(".nii.gz") || ends(".mgz") || ends(".mgh")))
    fail(out, "output must end in .nii, .nii.gz, .mgz or .mgh");
  const fs::path dir = out.has_parent_path() ? out.parent_path() : fs::path(".");
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) fail(out, "directory " + dir.string() + " does not exist");
  if (const std::string why = file_problem(q.in); !why.empty()) fail(q.in, why);

  const std::string format = [&] {
    const File f = File::open(q.in);
    const Group root = f.root();
    return root.has_attr("format") ? root.attr_string("format") : std::string();
  }();
  Source s;
  std::string cohort_path;
  const bool is_cohort = format == kCohortFormat;
  if (is_cohort) {
    s = from_cohort(q);
    cohort_path = q.in.string();
  } else if (format == kSegmentationFormat) {
    s = from_segmentation(q, cohort_path);
  } else if (format == kSummaryFormat) {
    s = from_summary(q, cohort_path);
  } else {
    fail(q.in, "not a numens cohort, segmentation or summary file (format '" + format + "')");
  }

  Volume v;
  v.sform_code = v.qform_code = 2;
  if (!q.native) {
    v.dims = s.grid.dims;
    v.voxel_size = s.grid.voxel_size;
    v.affine = s.grid.affine;
    v.data = std::move(s.values);
  } else {
    // A relative cohort path was relative to where the file was made; try beside the file too.
    if (!is_cohort && !cohort_path.empty() && fs::path(cohort_path).is_relative() &&
        !fs::is_regular_file(cohort_path, ec) &&
        fs::is_regular_file(q.in.parent_path() / cohort_path, ec))
      cohort_path = (q.in.parent_path() / cohort_path).string();
    if (!is_cohort && (cohort_path.empty() || !fs::is_regular_file(cohort_path, ec)))
      fail(q.in, "the cohort it was made from (" + cohort_path +
                     ") is not there to give the scan's own grid; export with --space conformed");
    const CohortReader c(cohort_path);
    const SubjectInfo& info = c.subjects()[c.index_of(q.subject)];
    if (!same_grid(info.geometry, s.grid))
      fail(q.in, "subject '" + q.subject + "' is on another grid than in its cohort " +
                     cohort_path + "; export with --space conformed");
    v.dims = info.original.dims;
    v.voxel_size = info.original.voxel_size;
    v.affine = info.original.affine;
    v.orientation_known = info.original_orientation_known;
    if (s.type == NiftiType::i16) {
      std::vector<std::int16_t> l(s.values.begin(), s.values.end());
      v.data = floats(resample_nearest(l, info.geometry, info.original));
    } else {
      const std::vector<double> back = resample_linear(s.values, info.geometry, info.original);
      v.data.resize(back.size());
      for (std::size_t n = 0; n < back.size(); ++n)
        v.data[n] = s.type == NiftiType::u8 ? float(std::nearbyint(back[n])) : float(back[n]);
    }
  }
  write_volume(out, v, s.type);
}

void export_volume(const fs::path& cohort, std::string_view id, std::string_view dataset,
                   const fs::path& out) {
  ExportRequest q;
  q.in = cohort;
  q.subject = std::string(id);
  q.dataset = std::string(dataset);
  export_volume(q, out);
}

}  // namespace numens::io
