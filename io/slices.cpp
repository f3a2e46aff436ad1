#include "io/slices.hpp"

#include <algorithm>
#include <numeric>
#include <optional>
#include <sstream>

#include "io/atomic_file.hpp"
#include "io/h5.hpp"

namespace numens::io {

namespace fs = std::filesystem;

const char* view_name(View v) {
  switch (v) {
    case View::axial:
      return "axial";
    case View::coronal:
      return "coronal";
    case View::sagittal:
      return "sagittal";
  }
  return "?";
}

View parse_view(std::string_view name, const fs::path& context) {
  if (name == "axial") return View::axial;
  if (name == "coronal") return View::coronal;
  if (name == "sagittal") return View::sagittal;
  throw IoError("slices: " + context.string() + ": view '" + std::string(name) +
                "' is not axial, coronal or sagittal");
}

ClassMap class_map(const LabelTable& lut) {
  ClassMap m;
  if (lut.size() > 32767)
    throw IoError("slices: " + std::to_string(lut.size()) + " labels do not fit int16 classes");
  std::vector<LabelInfo> sorted(lut.begin(), lut.end());
  std::sort(sorted.begin(), sorted.end(), [](const LabelInfo& a, const LabelInfo& b) {
    if ((a.value == 0) != (b.value == 0)) return a.value == 0;
    return a.value < b.value;
  });
  m.class_of.assign(65536, -1);
  for (const auto& l : sorted) {
    m.class_of[std::uint16_t(l.value)] = std::int16_t(m.values.size());
    m.values.push_back(l.value);
    m.names.push_back(l.name);
  }
  return m;
}

std::vector<float> weight_map(const std::vector<std::int16_t>& classes,
                              const std::array<std::int64_t, 3>& dims, double cap,
                              double edge_weight) {
  const std::int64_t nx = dims[0], ny = dims[1], nz = dims[2];
  // Median frequency over the classes present (numpy.unique's counts), the median of an even
  // number of counts being the mean of the middle two, as numpy.median.
  std::vector<std::size_t> count(32768, 0);
  for (auto c : classes) ++count[std::size_t(c)];
  std::vector<double> present;
  for (auto c : count)
    if (c > 0) present.push_back(double(c));
  std::sort(present.begin(), present.end());
  const std::size_t p = present.size();
  const double median =
      p == 0 ? 0 : (p % 2 ? present[p / 2] : 0.5 * (present[p / 2 - 1] + present[p / 2]));
  std::vector<double> class_weight(count.size(), 0.0);
  for (std::size_t c = 0; c < count.size(); ++c)
    if (count[c] > 0) class_weight[c] = std::min(median / double(count[c]), cap);

  auto at = [&](std::int64_t i, std::int64_t j, std::int64_t k) {
    return classes[std::size_t(i + nx * (j + ny * k))];
  };
  // numpy.gradient along one axis is non-zero where the two neighbours differ (inside) or the
  // voxel differs from its one neighbour (at a border); a 1-voxel axis has no gradient.
  auto differs = [](std::int64_t q, std::int64_t n, auto&& get) {
    if (n < 2) return false;
    if (q == 0) return get(1) != get(0);
    if (q == n - 1) return get(n - 1) != get(n - 2);
    return get(q + 1) != get(q - 1);
  };
  std::vector<float> w(classes.size());
  for (std::int64_t k = 0; k < nz; ++k)
    for (std::int64_t j = 0; j < ny; ++j)
      for (std::int64_t i = 0; i < nx; ++i) {
        const bool edge = differs(i, nx, [&](std::int64_t q) { return at(q, j, k); }) ||
                          differs(j, ny, [&](std::int64_t q) { return at(i, q, k); }) ||
                          differs(k, nz, [&](std::int64_t q) { return at(i, j, q); });
        const std::size_t n = std::size_t(i + nx * (j + ny * k));
        w[n] = float(class_weight[std::size_t(classes[n])] + (edge ? edge_weight : 0.0));
      }
  return w;
}

namespace {

// Plane geometry of a view on a (nx, ny, nz) grid: plane count and the (rows, cols) layout.
struct PlaneLayout {
  std::int64_t planes, rows, cols;
};
PlaneLayout layout(View v, const std::array<std::int64_t, 3>& d) {
  switch (v) {
    case View::sagittal:
      return {d[0], d[1], d[2]};
    case View::axial:
      return {d[1], d[2], d[0]};
    case View::coronal:
      return {d[2], d[1], d[0]};
  }
  return {0, 0, 0};
}

// Volume index of pixel (r, c) of plane p.
std::size_t voxel(View v, const std::array<std::int64_t, 3>& d, std::int64_t p, std::int64_t r,
                  std::int64_t c) {
  std::int64_t i = 0, j = 0, k = 0;
  switch (v) {
    case View::sagittal:
      i = p, j = r, k = c;
      break;
    case View::axial:
      j = p, k = r, i = c;
      break;
    case View::coronal:
      k = p, j = r, i = c;
      break;
  }
  return std::size_t(i + d[0] * (j + d[1] * k));
}

template <class T>
std::vector<T> extract_plane(const std::vector<T>& vol, View v,
                             const std::array<std::int64_t, 3>& d, std::int64_t p) {
  const PlaneLayout L = layout(v, d);
  std::vector<T> out(std::size_t(L.rows * L.cols));
  for (std::int64_t r = 0; r < L.rows; ++r)
    for (std::int64_t c = 0; c < L.cols; ++c)
      out[std::size_t(r * L.cols + c)] = vol[voxel(v, d, p, r, c)];
  return out;
}

}  // namespace

std::size_t write_slices(const fs::path& cohort, const fs::path& out, const SliceOptions& opt,
                         std::string_view numens_version, std::string_view git_commit) {
  auto fail = [&](const std::string& what) -> void {
    throw IoError("slices: " + out.string() + ": " + what);
  };
  if (opt.thickness < 1 || opt.thickness > 31 || opt.thickness % 2 == 0)
    fail("thickness " + std::to_string(opt.thickness) + " must be odd and in 1..31");
  if (opt.min_labelled < 0) fail("min_labelled must be >= 0");
  if (!(opt.class_weight_cap > 0) || !(opt.edge_weight >= 0))
    fail("class weight cap must be > 0 and edge weight >= 0");

  AtomicFile atomic(out);  // fails now if the directory is missing
  const CohortReader reader(cohort);
  const ClassMap cm = class_map(reader.lut());
  std::vector<std::size_t> labelled;
  for (std::size_t s = 0; s < reader.subjects().size(); ++s)
    if (reader.subjects()[s].has_labels) labelled.push_back(s);
  if (labelled.empty())
    throw IoError("slices: " + cohort.string() + ": no subject has labels to train on");
  const auto dims = reader.subjects()[labelled[0]].geometry.dims;
  for (std::size_t s : labelled)
    if (reader.subjects()[s].geometry.dims != dims)
      throw IoError("slices: " + cohort.string() + ": subject '" + reader.subjects()[s].id +
                    "' has a conformed grid of another size than subject '" +
                    reader.subjects()[labelled[0]].id + "'");
  const PlaneLayout L = layout(opt.view, dims);
  const auto T = std::int64_t(opt.thickness);
  const auto H = std::uint64_t(L.rows), W = std::uint64_t(L.cols);

  std::optional<File> file(File::create(atomic.temp_path()));
  Group root = file->root();
  std::ostringstream config;
  config << "[slices]\ncohort = \"" << cohort.string() << "\"\nview = \"" << view_name(opt.view)
         << "\"\nthickness = " << opt.thickness << "\nmin_labelled = " << opt.min_labelled
         << "\nclass_weight_cap = " << opt.class_weight_cap << "\nedge_weight = " << opt.edge_weight
         << "\n";
  write_provenance(root, numens_version, git_commit, config.str());
  root.set_attr("seeds", "{}");  // slicing is deterministic
  root.set_attr("format", "numens-slices");
  root.set_attr("format_version", 1);
  root.set_attr("view", view_name(opt.view));
  root.set_attr("thickness", opt.thickness);
  root.set_attr("min_labelled", opt.min_labelled);
  root.set_attr("class_weight_cap", opt.class_weight_cap);
  root.set_attr("edge_weight", opt.edge_weight);
  root.set_attr("cohort_creation_time", reader.provenance("creation_time"));

  WriteOptions z;
  z.compress = true;
  Dataset images =
      root.create_appendable<std::uint8_t>("images", Shape{std::uint64_t(T), H, W}, 1, z);
  Dataset labels = root.create_appendable<std::int16_t>("labels", Shape{H, W}, 1, z);
  Dataset weights = root.create_appendable<float>("weights", Shape{H, W}, 1, z);
  Dataset subject_index = root.create_appendable<std::int32_t>("subject_index", Shape{}, 1024);
  Dataset slice_index = root.create_appendable<std::int32_t>("slice_index", Shape{}, 1024);

  std::size_t kept = 0;
  for (std::size_t s : labelled) {
    const Subject subj = reader.read(s);
    std::vector<std::int16_t> classes(subj.labels.size());
    for (std::size_t n = 0; n < classes.size(); ++n)
      classes[n] = cm.class_of[std::uint16_t(subj.labels[n])];  // the reader checked the LUT
    const std::vector<float> w = weight_map(classes, dims, opt.class_weight_cap, opt.edge_weight);
    for (std::int64_t p = 0; p < L.planes; ++p) {
      std::vector<std::int16_t> lab = extract_plane(classes, opt.view, dims, p);
      const auto labelled_pixels =
          std::count_if(lab.begin(), lab.end(), [](auto c) { return c != 0; });
      if (labelled_pixels < opt.min_labelled) continue;
      std::vector<std::uint8_t> thick;
      thick.reserve(std::size_t(T) * H * W);
      for (std::int64_t t = 0; t < T; ++t) {
        // Neighbours beyond the volume repeat the border plane (FastSurfer's edge padding).
        const std::int64_t q = std::clamp<std::int64_t>(p + t - T / 2, 0, L.planes - 1);
        const auto plane = extract_plane(subj.t1, opt.view, dims, q);
        thick.insert(thick.end(), plane.begin(), plane.end());
      }
      images.append(thick);
      labels.append(lab);
      weights.append(extract_plane(w, opt.view, dims, p));
      subject_index.append(std::vector<std::int32_t>{std::int32_t(s)});
      slice_index.append(std::vector<std::int32_t>{std::int32_t(p)});
      ++kept;
    }
  }
  if (kept == 0)
    throw IoError("slices: " + cohort.string() + ": no plane has " +
                  std::to_string(opt.min_labelled) + " or more labelled pixels");

  std::vector<std::string> ids;
  std::vector<double> ages;
  for (const auto& info : reader.subjects()) ids.push_back(info.id), ages.push_back(info.age);
  root.write_strings("subject_ids", ids);
  root.write<double>("ages", ages, Shape{ages.size()});
  Group cg = root.create_group("classes");
  cg.write<std::int16_t>("values", cm.values, Shape{cm.values.size()});
  cg.write_strings("names", cm.names);
  root.set_attr("slice_count", std::int64_t(kept));
  file->close();
  file.reset();
  atomic.commit();
  return kept;
}

}  // namespace numens::io
