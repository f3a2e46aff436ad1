#include "io/segmentation.hpp"

#include <algorithm>
#include <bitset>
#include <cmath>
#include <optional>

#include "io/atomic_file.hpp"
#include "io/h5.hpp"
#include "io/volume_layout.hpp"

namespace numens::io {

namespace fs = std::filesystem;

namespace {

// Layout names (docs/hdf5-schema.md is the contract; these are its only spelling in C++).
constexpr const char* kSubjects = "subjects";
constexpr const char* kSubjectIds = "subject_ids";
constexpr const char* kLabels = "labels";
constexpr const char* kProbs = "probs";
constexpr const char* kQuantisation = "uint8/255";

[[noreturn]] void fail(const fs::path& path, const std::string& what) {
  throw IoError("segmentation: " + path.string() + ": " + what);
}

// Class values: unique, 0 first, each in the LUT (the classes a model predicts must be labels the
// cohort knows, so label volumes stay valid cohort labels).
void validate_classes(const SegmentationInfo& info, const fs::path& path) {
  validate_lut(info.lut, path);
  if (info.class_values.empty() || info.class_values[0] != 0)
    fail(path, "class values must start with 0 (background)");
  if (info.class_names.size() != info.class_values.size())
    fail(path, "class values and names disagree in length");
  std::bitset<65536> lut, seen;
  for (const auto& l : info.lut) lut.set(std::uint16_t(l.value));
  for (auto v : info.class_values) {
    if (seen.test(std::uint16_t(v))) fail(path, "class value " + std::to_string(v) + " twice");
    seen.set(std::uint16_t(v));
    if (!lut.test(std::uint16_t(v)))
      fail(path, "class value " + std::to_string(v) + " is not in the label table");
  }
}

Shape probs_shape(const Geometry& g, std::size_t classes) {
  Shape s = volume_shape(g);
  s.insert(s.begin(), std::uint64_t(classes));
  return s;
}

}  // namespace

// ---- writer -------------------------------------------------------------------------------------

struct SegmentationWriter::Impl {
  fs::path path;
  SegmentationInfo info;
  std::bitset<65536> classes;
  // Declared before `file` so the file is closed before the temp name is removed on failure.
  AtomicFile atomic;
  std::optional<File> file;
  std::vector<std::string> ids;
  // the subject in progress
  std::optional<Group> subject;
  std::optional<Dataset> probs;
  Geometry grid;
  std::string current;
  bool committed = false;

  Impl(const fs::path& p, SegmentationInfo i) : path(p), info(std::move(i)), atomic(p) {}
};

SegmentationWriter::SegmentationWriter(const fs::path& path, SegmentationInfo info,
                                       std::string_view numens_version,
                                       std::string_view git_commit) {
  validate_classes(info, path);
  impl_ = std::make_unique<Impl>(path, std::move(info));
  Impl& m = *impl_;
  for (auto v : m.info.class_values) m.classes.set(std::uint16_t(v));
  m.file.emplace(File::create(m.atomic.temp_path()));
  Group root = m.file->root();
  write_provenance(root, numens_version, git_commit, m.info.config);
  root.set_attr("format", kSegmentationFormat);
  root.set_attr("format_version", kSegmentationFormatVersion);
  root.set_attr("seeds", m.info.seeds.empty() ? std::string("{}") : m.info.seeds);
  root.set_attr("member", m.info.member);
  root.set_attr("views", m.info.views);
  root.set_attr("arith", m.info.arith);
  root.set_attr("accumulator", m.info.accumulator);
  root.set_attr("cohort", m.info.cohort);
  root.set_attr("cohort_creation_time", m.info.cohort_creation_time);

  Group lg = root.create_group("lut");
  std::vector<std::int16_t> values;
  std::vector<std::string> names;
  std::vector<std::uint8_t> rgb;
  for (const auto& l : m.info.lut) {
    values.push_back(l.value);
    names.push_back(l.name);
    rgb.insert(rgb.end(), l.rgb.begin(), l.rgb.end());
  }
  lg.write<std::int16_t>("values", values, Shape{values.size()});
  lg.write_strings("names", names);
  lg.write<std::uint8_t>("rgb", rgb, Shape{values.size(), 3});
  Group cg = root.create_group("classes");
  cg.write<std::int16_t>("values", m.info.class_values, Shape{m.info.class_values.size()});
  cg.write_strings("names", m.info.class_names);
  root.create_group(kSubjects);
}

SegmentationWriter::~SegmentationWriter() = default;

void SegmentationWriter::begin_subject(std::string_view id, const Geometry& grid, bool with_probs) {
  Impl& m = *impl_;
  if (m.committed) fail(m.path, "begin_subject() after commit()");
  if (m.subject) fail(m.path, "begin_subject() before the previous subject ended");
  validate_subject_id(id, m.path);
  const std::string sid(id);
  if (std::find(m.ids.begin(), m.ids.end(), sid) != m.ids.end())
    fail(m.path, "subject '" + sid + "' written twice");
  Group g = m.file->root().group(kSubjects).create_group(sid);
  write_geometry(g, grid, "");
  m.grid = grid;
  m.current = sid;
  if (with_probs) {
    WriteOptions opt = volume_options(grid);
    opt.chunk.insert(opt.chunk.begin(), 1);  // one class per chunk: a class map reads alone
    Dataset d = g.create<std::uint8_t>(kProbs, probs_shape(grid, m.info.class_values.size()), opt);
    d.set_attr("quantisation", kQuantisation);
    m.probs.emplace(std::move(d));
  }
  m.subject.emplace(std::move(g));
}

void SegmentationWriter::write_probs(std::int64_t first, std::int64_t count,
                                     std::span<const std::uint8_t> probs) {
  Impl& m = *impl_;
  if (!m.probs) fail(m.path, "write_probs() without a subject begun with probabilities");
  const std::int64_t plane = m.grid.dims[0] * m.grid.dims[1];
  if (first < 0 || count < 1 || first % plane != 0 || count % plane != 0 ||
      first + count > plane * m.grid.dims[2])
    fail(m.path, "probabilities of voxels [" + std::to_string(first) + ", " +
                     std::to_string(first + count) + ") are not whole z-planes of the volume");
  const auto C = std::uint64_t(m.info.class_values.size());
  m.probs->write_block<std::uint8_t>(
      Shape{0, std::uint64_t(first / plane), 0, 0},
      Shape{C, std::uint64_t(count / plane), std::uint64_t(m.grid.dims[1]),
            std::uint64_t(m.grid.dims[0])},
      probs);
}

std::int64_t SegmentationWriter::probs_block_voxels() const {
  const Impl& m = *impl_;
  if (!m.subject) fail(m.path, "probs_block_voxels() without a subject");
  const WriteOptions opt = volume_options(m.grid);
  return std::int64_t(opt.chunk[0]) * m.grid.dims[0] * m.grid.dims[1];
}

void SegmentationWriter::end_subject(std::span<const std::int16_t> labels, double mean_dice) {
  Impl& m = *impl_;
  if (!m.subject) fail(m.path, "end_subject() without begin_subject()");
  const std::string& id = m.current;
  if (labels.size() != m.grid.voxel_count())
    fail(m.path, "subject '" + id + "': " + std::to_string(labels.size()) +
                     " labels, the grid has " + std::to_string(m.grid.voxel_count()) + " voxels");
  for (std::size_t i = 0; i < labels.size(); ++i)
    if (!m.classes.test(std::uint16_t(labels[i])))
      fail(m.path, "subject '" + id + "': label value " + std::to_string(labels[i]) +
                       " is not a class value");
  m.subject->write<std::int16_t>(kLabels, labels, volume_shape(m.grid), volume_options(m.grid));
  m.subject->set_attr("mean_dice", mean_dice);
  m.ids.push_back(id);
  m.probs.reset();
  m.subject.reset();
}

void SegmentationWriter::commit() {
  Impl& m = *impl_;
  if (m.committed) return;
  if (m.subject) fail(m.path, "commit() while a subject is unfinished");
  if (m.ids.empty()) fail(m.path, "no subjects; an empty segmentation is not written");
  Group root = m.file->root();
  root.write_strings(kSubjectIds, m.ids);
  root.set_attr("subject_count", std::int64_t(m.ids.size()));
  m.file->close();
  m.file.reset();
  m.atomic.commit();
  m.committed = true;
}

// ---- reader -------------------------------------------------------------------------------------

struct SegmentationReader::Impl {
  fs::path path;
  File file;
  SegmentationInfo info;
  std::vector<std::string> ids;

  Group subject(std::string_view id) const {
    if (std::find(ids.begin(), ids.end(), id) == ids.end())
      fail(path, "no subject '" + std::string(id) + "'");
    return file.root().group(kSubjects).group(id);
  }
};

SegmentationReader::SegmentationReader(const fs::path& path) {
  File f = File::open(path);
  const Group root = f.root();
  check_format(root, path, "segmentation", kSegmentationFormat, kSegmentationFormatVersion);
  SegmentationInfo info;
  info.config = root.attr_string("config");
  info.seeds = root.attr_string("seeds");
  info.member = root.attr_int("member");
  info.views = root.attr_string("views");
  info.arith = root.attr_string("arith");
  info.accumulator = root.attr_string("accumulator");
  info.cohort = root.attr_string("cohort");
  info.cohort_creation_time = root.attr_string("cohort_creation_time");
  const Group lg = root.group("lut");
  const auto values = lg.read<std::int16_t>("values");
  const auto names = lg.dataset("names").read_strings();
  const auto rgb = lg.read<std::uint8_t>("rgb");
  if (names.size() != values.data.size() || rgb.data.size() != 3 * values.data.size())
    fail(path, "lut/values, lut/names and lut/rgb disagree in length");
  for (std::size_t i = 0; i < names.size(); ++i)
    info.lut.push_back(
        {values.data[i], names[i], {rgb.data[3 * i], rgb.data[3 * i + 1], rgb.data[3 * i + 2]}});
  const Group cg = root.group("classes");
  info.class_values = cg.read<std::int16_t>("values").data;
  info.class_names = cg.dataset("names").read_strings();
  validate_classes(info, path);
  auto ids = root.dataset(kSubjectIds).read_strings();
  for (const auto& id : ids) validate_subject_id(id, path);
  impl_ = std::make_unique<Impl>(Impl{path, std::move(f), std::move(info), std::move(ids)});
}

SegmentationReader::~SegmentationReader() = default;

const SegmentationInfo& SegmentationReader::info() const {
  return impl_->info;
}
const std::vector<std::string>& SegmentationReader::subject_ids() const {
  return impl_->ids;
}

Geometry SegmentationReader::geometry(std::string_view id) const {
  return read_geometry(impl_->subject(id), "", impl_->path, "subject '" + std::string(id) + "': ");
}

std::vector<std::int16_t> SegmentationReader::labels(std::string_view id) const {
  const Group g = impl_->subject(id);
  const Geometry grid = geometry(id);
  auto a = g.read<std::int16_t>(kLabels);
  if (a.shape != volume_shape(grid))
    fail(impl_->path, "subject '" + std::string(id) + "': labels shape does not match dims");
  // The writer checks this too; a file changed since (by hand, by another tool) must not carry a
  // label the class table does not name into volumes and summaries.
  std::bitset<65536> classes;
  for (auto v : impl_->info.class_values) classes.set(std::uint16_t(v));
  for (std::size_t i = 0; i < a.data.size(); ++i)
    if (!classes.test(std::uint16_t(a.data[i])))
      fail(impl_->path, "subject '" + std::string(id) + "': label value " +
                            std::to_string(a.data[i]) + " at voxel " + std::to_string(i) +
                            " is not a class value");
  return std::move(a.data);
}

bool SegmentationReader::has_probs(std::string_view id) const {
  return impl_->subject(id).exists(kProbs);
}

std::vector<std::uint8_t> SegmentationReader::probs(std::string_view id) const {
  const Group g = impl_->subject(id);
  const Geometry grid = geometry(id);
  auto a = g.read<std::uint8_t>(kProbs);
  if (a.shape != probs_shape(grid, impl_->info.class_values.size()))
    fail(impl_->path, "subject '" + std::string(id) + "': probs shape is not (classes, dims)");
  return std::move(a.data);
}

double SegmentationReader::mean_dice(std::string_view id) const {
  return impl_->subject(id).attr_double("mean_dice");
}

}  // namespace numens::io
