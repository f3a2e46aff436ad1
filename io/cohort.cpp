#include "io/cohort.hpp"

#include <algorithm>
#include <bitset>
#include <cmath>
#include <map>
#include <optional>
#include <utility>

#include "io/affine.hpp"
#include "io/atomic_file.hpp"
#include "io/h5.hpp"
#include "io/volume_layout.hpp"

namespace numens::io {

namespace fs = std::filesystem;

namespace {

// Layout (docs/hdf5-schema.md is the contract; these names are its only spelling in C++).
constexpr const char* kLutGroup = "lut";
constexpr const char* kSubjectsGroup = "subjects";
constexpr const char* kSubjectIds = "subject_ids";  // file order: HDF5 lists groups by name

[[noreturn]] void fail(const fs::path& file, const std::string& what) {
  throw IoError("cohort: " + file.string() + ": " + what);
}

std::string subject_where(const std::string& id) {
  return "subject '" + id + "': ";
}

std::string fmt(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", x);
  return buf;
}

// All 65536 int16 values as a bitset: one lookup per voxel, whatever the LUT's size.
using LabelSet = std::bitset<65536>;
std::size_t label_slot(std::int16_t v) {
  return std::size_t(std::uint16_t(v));
}
LabelSet label_set(const LabelTable& lut) {
  LabelSet s;
  for (const auto& l : lut) s.set(label_slot(l.value));
  return s;
}

// The first voxel whose label is not in the LUT, if any.
std::optional<std::size_t> first_unknown_label(const std::vector<std::int16_t>& labels,
                                               const LabelSet& known) {
  for (std::size_t i = 0; i < labels.size(); ++i)
    if (!known.test(label_slot(labels[i]))) return i;
  return std::nullopt;
}

std::string voxel_string(std::size_t i, const std::array<std::int64_t, 3>& dims) {
  const auto nx = std::size_t(dims[0]), ny = std::size_t(dims[1]);
  return "(" + std::to_string(i % nx) + "," + std::to_string(i / nx % ny) + "," +
         std::to_string(i / (nx * ny)) + ")";
}

}  // namespace

void validate_subject_id(std::string_view id, const fs::path& file) {
  if (id.empty()) fail(file, "empty subject id");
  if (id.size() > 128)
    fail(file,
         "subject id '" + std::string(id.substr(0, 32)) + "...' is longer than 128 characters");
  for (char c : id) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok)
      fail(file, "subject id '" + std::string(id) + "' has a character outside [A-Za-z0-9._-]");
  }
  if (id.find_first_not_of('.') == std::string_view::npos)
    fail(file, "subject id '" + std::string(id) + "' is only dots");
}

void validate_lut(const LabelTable& lut, const fs::path& file) {
  if (lut.empty()) fail(file, "label table is empty (value 0, background, is required)");
  LabelSet seen;
  bool has_zero = false;
  for (const auto& l : lut) {
    if (seen.test(label_slot(l.value)))
      fail(file, "label table lists value " + std::to_string(l.value) + " twice");
    seen.set(label_slot(l.value));
    has_zero |= l.value == 0;
    if (l.name.empty()) fail(file, "label " + std::to_string(l.value) + " has an empty name");
    if (l.name.find_first_of("\r\n") != std::string::npos)
      fail(file, "label " + std::to_string(l.value) + "'s name has a line break");
  }
  if (!has_zero) fail(file, "label table has no value 0 (background)");
}

// ---- writer -------------------------------------------------------------------------------------

struct CohortWriter::Impl {
  fs::path path;
  LabelTable lut;
  LabelSet known;
  // Declared before `file` so the file is closed before the temp name is removed on failure.
  AtomicFile atomic;
  std::optional<File> file;
  std::vector<std::string> ids;
  bool committed = false;

  Impl(const fs::path& p, LabelTable l) : path(p), lut(std::move(l)), atomic(p) {}
};

CohortWriter::CohortWriter(const fs::path& path, LabelTable lut, std::string_view numens_version,
                           std::string_view git_commit, std::string_view config) {
  validate_lut(lut, path);
  impl_ = std::make_unique<Impl>(path, std::move(lut));
  impl_->known = label_set(impl_->lut);
  impl_->file.emplace(File::create(impl_->atomic.temp_path()));
  Group root = impl_->file->root();
  write_provenance(root, numens_version, git_commit, config);
  root.set_attr("format", kCohortFormat);
  root.set_attr("format_version", kCohortFormatVersion);
  root.set_attr("seeds", "{}");

  Group lg = root.create_group(kLutGroup);
  std::vector<std::int16_t> values;
  std::vector<std::string> names;
  std::vector<std::uint8_t> rgb;
  for (const auto& l : impl_->lut) {
    values.push_back(l.value);
    names.push_back(l.name);
    rgb.insert(rgb.end(), l.rgb.begin(), l.rgb.end());
  }
  lg.write<std::int16_t>("values", values, Shape{values.size()});
  lg.write_strings("names", names);
  lg.write<std::uint8_t>("rgb", rgb, Shape{values.size(), 3});
  root.create_group(kSubjectsGroup);
}

CohortWriter::~CohortWriter() = default;

void CohortWriter::add(const Subject& s) {
  Impl& m = *impl_;
  const fs::path& file = m.path;
  if (m.committed) fail(file, "add() after commit()");
  const SubjectInfo& info = s.info;
  validate_subject_id(info.id, file);
  const std::string who = subject_where(info.id);
  if (std::find(m.ids.begin(), m.ids.end(), info.id) != m.ids.end())
    fail(file, who + "duplicate subject id");
  if (!(std::isfinite(info.age) && info.age > 0 && info.age < 130))
    fail(file, who + "age " + fmt(info.age) + " is outside (0, 130) years");
  if (info.sex != "F" && info.sex != "M" && !info.sex.empty())
    fail(file, who + "sex '" + info.sex + "' is not F, M or empty");
  validate_geometry(info.geometry, file, who, "conformed");
  validate_geometry(info.original, file, who, "original");
  const std::size_t n = info.geometry.voxel_count();
  if (s.t1.size() != n)
    fail(file, who + "t1 has " + std::to_string(s.t1.size()) + " voxels, geometry needs " +
                   std::to_string(n));
  if (info.has_labels) {
    if (s.labels.size() != n)
      fail(file, who + "labels have " + std::to_string(s.labels.size()) +
                     " voxels, geometry needs " + std::to_string(n));
    if (auto bad = first_unknown_label(s.labels, m.known))
      fail(file, who + "label value " + std::to_string(s.labels[*bad]) + " at voxel " +
                     voxel_string(*bad, info.geometry.dims) + " is not in the label table");
  } else if (!s.labels.empty()) {
    fail(file, who + "labels given but has_labels is false");
  }

  Group g = m.file->root().group(kSubjectsGroup).create_group(info.id);
  g.set_attr("age", info.age);
  g.set_attr("sex", info.sex);
  g.set_attr("source", info.source);
  g.set_attr("has_labels", info.has_labels ? 1 : 0);
  write_geometry(g, info.geometry, "");
  write_geometry(g, info.original, "original_");
  g.set_attr("original_orientation_known", info.original_orientation_known ? 1 : 0);
  const Shape shape = volume_shape(info.geometry);
  const WriteOptions opt = volume_options(info.geometry);
  g.write<std::uint8_t>("t1", s.t1, shape, opt);
  if (info.has_labels) g.write<std::int16_t>("labels", s.labels, shape, opt);
  m.ids.push_back(info.id);
}

void CohortWriter::set_seeds(std::string_view seeds_toml) {
  if (impl_->committed) fail(impl_->path, "set_seeds() after commit()");
  impl_->file->root().set_attr("seeds", seeds_toml);
}

void CohortWriter::commit() {
  Impl& m = *impl_;
  if (m.committed) return;
  if (m.ids.empty()) fail(m.path, "no subjects added; an empty cohort is not written");
  Group root = m.file->root();
  root.write_strings(kSubjectIds, m.ids);
  root.set_attr("subject_count", std::int64_t(m.ids.size()));
  m.file->close();
  m.atomic.commit();
  m.committed = true;
}

// ---- reader -------------------------------------------------------------------------------------

struct CohortReader::Impl {
  fs::path path;
  File file;
  LabelTable lut;
  LabelSet known;
  std::vector<SubjectInfo> subjects;
  std::map<std::string, std::size_t, std::less<>> index;
};

CohortReader::CohortReader(const fs::path& path) {
  File f = File::open(path);
  const Group root = f.root();
  check_format(root, path, "cohort", kCohortFormat, kCohortFormatVersion);

  impl_ = std::make_unique<Impl>(Impl{path, std::move(f), {}, {}, {}, {}});
  Impl& m = *impl_;

  const Group lg = root.group(kLutGroup);
  const auto values = lg.read<std::int16_t>("values");
  const auto names = lg.dataset("names").read_strings();
  const auto rgb = lg.read<std::uint8_t>("rgb");
  const std::size_t nl = values.data.size();
  if (values.shape.size() != 1 || names.size() != nl || rgb.shape != Shape{nl, 3})
    fail(path, "lut/values, lut/names and lut/rgb disagree in length (" + std::to_string(nl) +
                   ", " + std::to_string(names.size()) + ", " +
                   std::to_string(rgb.data.size() / 3) + ")");
  for (std::size_t i = 0; i < nl; ++i)
    m.lut.push_back(
        {values.data[i], names[i], {rgb.data[3 * i], rgb.data[3 * i + 1], rgb.data[3 * i + 2]}});
  validate_lut(m.lut, path);
  m.known = label_set(m.lut);

  const auto ids = root.dataset(kSubjectIds).read_strings();
  if (ids.empty()) fail(path, "no subjects");
  const Group sg = root.group(kSubjectsGroup);
  for (const auto& id : ids) {
    validate_subject_id(id, path);
    const std::string who = subject_where(id);
    if (m.index.count(id)) fail(path, who + "listed twice in subject_ids");
    if (!sg.exists(id))
      fail(path, who + "listed in subject_ids but /subjects/" + id + " is missing");
    const Group g = sg.group(id);
    SubjectInfo info;
    info.id = id;
    info.age = g.attr_double("age");
    if (!(std::isfinite(info.age) && info.age > 0 && info.age < 130))
      fail(path, who + "age " + fmt(info.age) + " is outside (0, 130) years");
    info.sex = g.attr_string("sex");
    if (info.sex != "F" && info.sex != "M" && !info.sex.empty())
      fail(path, who + "sex '" + info.sex + "' is not F, M or empty");
    info.source = g.attr_string("source");
    info.has_labels = g.attr_int("has_labels") != 0;
    info.geometry = read_geometry(g, "", path, who);
    info.original = read_geometry(g, "original_", path, who);
    // Absent in cohorts written before numens recorded it: those were all written with codes.
    info.original_orientation_known =
        !g.has_attr("original_orientation_known") || g.attr_int("original_orientation_known") != 0;
    m.index.emplace(id, m.subjects.size());
    m.subjects.push_back(std::move(info));
  }
}

CohortReader::~CohortReader() = default;

const LabelTable& CohortReader::lut() const {
  return impl_->lut;
}
const std::vector<SubjectInfo>& CohortReader::subjects() const {
  return impl_->subjects;
}
const fs::path& CohortReader::path() const {
  return impl_->path;
}

std::size_t CohortReader::index_of(std::string_view id) const {
  const auto it = impl_->index.find(id);
  if (it == impl_->index.end())
    fail(impl_->path, "no subject '" + std::string(id) + "' (the cohort has " +
                          std::to_string(impl_->subjects.size()) + " subjects)");
  return it->second;
}

std::string CohortReader::provenance(std::string_view name) const {
  return impl_->file.root().attr_string(name);
}

Subject CohortReader::read(std::size_t index) const {
  const Impl& m = *impl_;
  if (index >= m.subjects.size())
    fail(m.path, "subject index " + std::to_string(index) + " out of range (" +
                     std::to_string(m.subjects.size()) + " subjects)");
  Subject s;
  s.info = m.subjects[index];
  const std::string who = subject_where(s.info.id);
  const Group g = m.file.root().group(kSubjectsGroup).group(s.info.id);
  const Shape want = volume_shape(s.info.geometry);
  auto t1 = g.read<std::uint8_t>("t1");
  if (t1.shape != want)
    fail(m.path, who + "t1 shape does not match dims (" + std::to_string(s.info.geometry.dims[0]) +
                     "," + std::to_string(s.info.geometry.dims[1]) + "," +
                     std::to_string(s.info.geometry.dims[2]) + ")");
  s.t1 = std::move(t1.data);
  if (s.info.has_labels) {
    auto labels = g.read<std::int16_t>("labels");
    if (labels.shape != want) fail(m.path, who + "labels shape does not match dims");
    if (auto bad = first_unknown_label(labels.data, m.known))
      fail(m.path, who + "label value " + std::to_string(labels.data[*bad]) + " at voxel " +
                       voxel_string(*bad, s.info.geometry.dims) + " is not in the label table");
    s.labels = std::move(labels.data);
  }
  return s;
}

}  // namespace numens::io
