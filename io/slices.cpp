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
                              double edge_weight, double floor) {
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
    if (count[c] > 0) class_weight[c] = std::max(std::min(median / double(count[c]), cap), floor);

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

PlaneLayout plane_layout(View v, const std::array<std::int64_t, 3>& d) {
  const std::int64_t sx = 1, sy = d[0], sz = d[0] * d[1];
  switch (v) {
    case View::sagittal:  // fixed i; rows j, columns k
      return {d[0], d[1], d[2], sx, sy, sz};
    case View::axial:  // fixed j; rows k, columns i
      return {d[1], d[2], d[0], sy, sz, sx};
    case View::coronal:  // fixed k; rows j, columns i
      return {d[2], d[1], d[0], sz, sy, sx};
  }
  return {};
}

namespace {

template <class T>
void gather_plane(const T* vol, const PlaneLayout& L, std::int64_t p, T* out,
                  std::int64_t out_cols) {
  for (std::int64_t r = 0; r < L.rows; ++r) {
    const T* src = vol + p * L.plane_stride + r * L.row_stride;
    T* dst = out + r * out_cols;
    for (std::int64_t c = 0; c < L.cols; ++c) dst[c] = src[c * L.col_stride];
  }
}

template <class T>
std::vector<T> extract_plane(const std::vector<T>& vol, const PlaneLayout& L, std::int64_t p) {
  std::vector<T> out(std::size_t(L.rows * L.cols));
  gather_plane(vol.data(), L, p, out.data(), L.cols);
  return out;
}

}  // namespace

void thick_slice(std::span<const std::uint8_t> volume, const std::array<std::int64_t, 3>& dims,
                 View v, std::int64_t plane, int thickness, std::span<std::uint8_t> out,
                 std::int64_t out_rows, std::int64_t out_cols) {
  const PlaneLayout L = plane_layout(v, dims);
  if (out_rows == 0) out_rows = L.rows;
  if (out_cols == 0) out_cols = L.cols;
  auto fail = [&](const std::string& what) {
    throw IoError(std::string("slices: ") + view_name(v) + " thick slice: " + what);
  };
  if (volume.size() != std::size_t(dims[0] * dims[1] * dims[2]))
    fail("volume has " + std::to_string(volume.size()) + " voxels, dims need " +
         std::to_string(dims[0] * dims[1] * dims[2]));
  if (plane < 0 || plane >= L.planes)
    fail("plane " + std::to_string(plane) + " outside 0.." + std::to_string(L.planes - 1));
  if (thickness < 1 || thickness % 2 == 0)
    fail("thickness " + std::to_string(thickness) + " must be odd and >= 1");
  if (out_rows < L.rows || out_cols < L.cols)
    fail("output " + std::to_string(out_rows) + "x" + std::to_string(out_cols) +
         " smaller than the plane " + std::to_string(L.rows) + "x" + std::to_string(L.cols));
  const auto per = std::size_t(out_rows * out_cols);
  if (out.size() != std::size_t(thickness) * per)
    fail("output buffer has " + std::to_string(out.size()) + " bytes, needs " +
         std::to_string(std::size_t(thickness) * per));
  if (out_rows != L.rows || out_cols != L.cols) std::fill(out.begin(), out.end(), 0);
  for (int t = 0; t < thickness; ++t) {
    const std::int64_t q = std::clamp<std::int64_t>(plane + t - thickness / 2, 0, L.planes - 1);
    gather_plane(volume.data(), L, q, out.data() + std::size_t(t) * per, out_cols);
  }
}

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
  if (!(opt.class_weight_floor >= 0) || !(opt.class_weight_floor <= opt.class_weight_cap))
    fail("class weight floor must be in [0, class weight cap]");

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
  const PlaneLayout L = plane_layout(opt.view, dims);
  const auto T = std::int64_t(opt.thickness);
  const auto H = std::uint64_t(L.rows), W = std::uint64_t(L.cols);

  std::optional<File> file(File::create(atomic.temp_path()));
  Group root = file->root();
  std::ostringstream config;
  config << "[slices]\ncohort = \"" << cohort.string() << "\"\nview = \"" << view_name(opt.view)
         << "\"\nthickness = " << opt.thickness << "\nmin_labelled = " << opt.min_labelled
         << "\nclass_weight_cap = " << opt.class_weight_cap
         << "\nclass_weight_floor = " << opt.class_weight_floor << "\nedge_weight = " << opt.edge_weight
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
  root.set_attr("class_weight_floor", opt.class_weight_floor);
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
    const std::vector<float> w = weight_map(classes, dims, opt.class_weight_cap, opt.edge_weight, opt.class_weight_floor);
    for (std::int64_t p = 0; p < L.planes; ++p) {
      std::vector<std::int16_t> lab = extract_plane(classes, L, p);
      const auto labelled_pixels =
          std::count_if(lab.begin(), lab.end(), [](auto c) { return c != 0; });
      if (labelled_pixels < opt.min_labelled) continue;
      std::vector<std::uint8_t> thick(std::size_t(T) * H * W);
      thick_slice(subj.t1, dims, opt.view, p, opt.thickness, thick);
      images.append(thick);
      labels.append(lab);
      weights.append(extract_plane(w, L, p));
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
