#include "io/slice_file.hpp"

#include <cmath>
#include <optional>
#include <string>
#include <tuple>

#include "io/error.hpp"
#include "io/h5.hpp"

namespace numens::io {

namespace fs = std::filesystem;

namespace {
[[noreturn]] void fail(const fs::path& path, const std::string& what) {
  throw IoError("slices: " + path.string() + ": " + what);
}
}  // namespace

struct SliceFile::Impl {
  fs::path path;
  std::optional<File> file;
  std::optional<Dataset> images, labels, weights;
  SliceFileInfo info;
};

SliceFile::SliceFile(const fs::path& path) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.path = path;
  if (const std::string why = file_problem(path); !why.empty()) fail(path, why);
  m.file.emplace(File::open(path));
  const Group root = m.file->root();
  check_format(root, path, "slice file", "numens-slices", 1);
  SliceFileInfo& I = m.info;
  I.view = parse_view(root.attr_string("view"), path);
  I.thickness = root.attr_int("thickness");
  I.cohort_creation_time = root.attr_string("cohort_creation_time");
  m.images.emplace(root.dataset("images"));
  m.labels.emplace(root.dataset("labels"));
  m.weights.emplace(root.dataset("weights"));
  // The types the reads below take, checked here so that `train --check` refuses what a run would.
  for (const auto& [name, ds, want] :
       {std::tuple<const char*, const Dataset*, DType>{"images", &*m.images, DType::u8},
        {"labels", &*m.labels, DType::i16},
        {"weights", &*m.weights, DType::f32}})
    if (ds->dtype() != want)
      fail(path, std::string(name) + " are stored as " + dtype_name(ds->dtype()) + ", expected " +
                     dtype_name(want));
  const Shape is = m.images->shape(), ls = m.labels->shape(), ws = m.weights->shape();
  if (is.size() != 4 || ls.size() != 3 || ws.size() != 3)
    fail(path, "images must be (N, T, H, W), labels and weights (N, H, W)");
  I.count = std::int64_t(is[0]);
  I.height = std::int64_t(is[2]);
  I.width = std::int64_t(is[3]);
  if (std::int64_t(is[1]) != I.thickness)
    fail(path, "images have " + std::to_string(is[1]) + " channels, thickness attribute says " +
                   std::to_string(I.thickness));
  if (ls != Shape{is[0], is[2], is[3]} || ws != ls)
    fail(path, "labels or weights do not have the images' (N, H, W)");
  if (I.count == 0) fail(path, "no slices");
  I.class_values = root.read<std::int16_t>("classes/values").data;
  I.class_names = root.dataset("classes/names").read_strings();
  if (I.class_values.empty() || I.class_names.size() != I.class_values.size())
    fail(path, "classes/values and classes/names are empty or differ in length");
  I.subject_ids = root.dataset("subject_ids").read_strings();
  I.ages = root.read<double>("ages").data;
  I.subject_index = root.read<std::int32_t>("subject_index").data;
  I.slice_index = root.read<std::int32_t>("slice_index").data;
  if (I.ages.size() != I.subject_ids.size()) fail(path, "ages and subject_ids differ in length");
  if (std::int64_t(I.subject_index.size()) != I.count ||
      std::int64_t(I.slice_index.size()) != I.count)
    fail(path, "subject_index or slice_index does not have one entry per slice");
  for (auto s : I.subject_index)
    if (s < 0 || std::size_t(s) >= I.subject_ids.size())
      fail(path, "subject_index " + std::to_string(s) + " is outside the " +
                     std::to_string(I.subject_ids.size()) + " subjects");
}

SliceFile::~SliceFile() = default;

const SliceFileInfo& SliceFile::info() const {
  return impl_->info;
}
const fs::path& SliceFile::path() const {
  return impl_->path;
}

void SliceFile::read(std::span<const std::int64_t> rows, SliceBatch& out) const {
  const Impl& m = *impl_;
  const SliceFileInfo& I = m.info;
  const auto plane = std::size_t(I.height * I.width);
  const auto thick = std::size_t(I.thickness) * plane;
  out.images.resize(rows.size() * thick);
  out.labels.resize(rows.size() * plane);
  out.weights.resize(rows.size() * plane);
  const auto classes = std::int16_t(I.class_values.size());
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const std::int64_t row = rows[r];
    if (row < 0 || row >= I.count)
      fail(m.path,
           "slice " + std::to_string(row) + " requested, the file has " + std::to_string(I.count));
    const auto img = m.images->read_rows<std::uint8_t>(std::uint64_t(row), 1);
    const auto lab = m.labels->read_rows<std::int16_t>(std::uint64_t(row), 1);
    const auto w = m.weights->read_rows<float>(std::uint64_t(row), 1);
    for (auto c : lab)
      if (c < 0 || c >= classes)
        fail(m.path, "slice " + std::to_string(row) + " has class index " + std::to_string(c) +
                         " outside [0, " + std::to_string(classes) + ")");
    for (float v : w)
      if (!(v >= 0) || !std::isfinite(v))
        fail(m.path, "slice " + std::to_string(row) + " has a negative or non-finite weight");
    std::copy(img.begin(), img.end(), out.images.begin() + std::ptrdiff_t(r * thick));
    std::copy(lab.begin(), lab.end(), out.labels.begin() + std::ptrdiff_t(r * plane));
    std::copy(w.begin(), w.end(), out.weights.begin() + std::ptrdiff_t(r * plane));
  }
}

}  // namespace numens::io
