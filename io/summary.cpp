#include "io/summary.hpp"

#include <algorithm>
#include <optional>
#include <set>
#include <utility>

#include "io/atomic_file.hpp"
#include "io/h5.hpp"
#include "io/volume_layout.hpp"

namespace numens::io {

namespace fs = std::filesystem;

namespace {

// Layout names (docs/hdf5-schema.md is the contract; these are its only spelling in C++).
constexpr const char* kSubjects = "subjects";
constexpr const char* kEntropy = "entropy";
constexpr const char* kDisagreement = "disagreement";
constexpr const char* kMajority = "majority";

[[noreturn]] void fail(const fs::path& path, const std::string& what) {
  throw IoError("summary: " + path.string() + ": " + what);
}

void check_size(const fs::path& path, const char* name, std::size_t have, std::size_t want) {
  if (have != want)
    fail(path, std::string(name) + " has " + std::to_string(have) + " values, the axes need " +
                   std::to_string(want));
}

// Every table's length against the axes; ids ascending; arm indices in range. The same checks on
// write (a driver bug must not produce a file) and on read (a foreign or damaged file).
void validate(const SummaryTables& t, const fs::path& path) {
  const std::size_t A = t.arms(), M = t.members(), S = t.subjects(), R = t.regions();
  if (A == 0 || M == 0 || S == 0 || R == 0)
    fail(path, "empty summary (" + std::to_string(A) + " arms, " + std::to_string(M) +
                   " members, " + std::to_string(S) + " subjects, " + std::to_string(R) +
                   " regions)");
  check_size(path, "arms/kinds", t.arm_kinds.size(), A);
  check_size(path, "member_arms", t.member_arms.size(), M);
  check_size(path, "member_seeds", t.member_seeds.size(), M);
  check_size(path, "member_arith", t.member_arith.size(), M);
  check_size(path, "ages", t.ages.size(), S);
  check_size(path, "regions/names", t.region_names.size(), R);
  check_size(path, "regions/cortical", t.region_cortical.size(), R);
  check_size(path, "dice", t.dice.size(), S * M * R);
  check_size(path, "volume_mm3", t.volume_mm3.size(), S * M * R);
  const std::pair<const char*, std::size_t> asr[] = {
      {"dice_pairwise_min", t.dice_pairwise_min.size()},
      {"dice_pairwise_mean", t.dice_pairwise_mean.size()},
      {"volume_mean", t.volume_mean.size()},
      {"volume_std", t.volume_std.size()},
      {"volume_cv", t.volume_cv.size()},
      {"volume_sigdigits", t.volume_sigdigits.size()},
      {"majority_dice", t.majority_dice.size()}};
  for (const auto& [name, n] : asr) check_size(path, name, n, A * S * R);
  for (std::size_t m = 0; m < M; ++m) {
    if (m > 0 && t.member_ids[m] <= t.member_ids[m - 1])
      fail(path, "member_ids are not ascending and unique at position " + std::to_string(m));
    if (t.member_arms[m] < 0 || std::size_t(t.member_arms[m]) >= A)
      fail(path, "member " + std::to_string(t.member_ids[m]) + " has arm index " +
                     std::to_string(t.member_arms[m]) + " of " + std::to_string(A) + " arms");
  }
  std::set<std::string> names;
  for (const auto& n : t.arm_names)
    if (!names.insert(n).second) fail(path, "arm '" + n + "' twice");
  std::set<std::int16_t> values;
  for (auto v : t.region_values)
    if (v == 0 || !values.insert(v).second)
      fail(path, "region value " + std::to_string(v) + " is background or listed twice");
  for (const auto& c : t.correlations)
    if (c.arm_a < 0 || c.arm_b < 0 || std::size_t(c.arm_a) >= A || std::size_t(c.arm_b) >= A)
      fail(path, "correlation between arms " + std::to_string(c.arm_a) + " and " +
                     std::to_string(c.arm_b) + " of " + std::to_string(A));
}

Shape asr_shape(const SummaryTables& t) {
  return {t.arms(), t.subjects(), t.regions()};
}
Shape smr_shape(const SummaryTables& t) {
  return {t.subjects(), t.members(), t.regions()};
}

}  // namespace

// ---- writer -------------------------------------------------------------------------------------

struct SummaryWriter::Impl {
  fs::path path;
  // Declared before `file` so the file is closed before the temp name is removed on failure.
  AtomicFile atomic;
  std::optional<File> file;
  std::set<std::pair<std::string, std::string>> maps;  // (subject, arm) written
  std::string version, commit;
  bool committed = false;

  explicit Impl(const fs::path& p) : path(p), atomic(p) {}
};

SummaryWriter::SummaryWriter(const fs::path& path, std::string_view numens_version,
                             std::string_view git_commit)
    : impl_(std::make_unique<Impl>(path)) {
  impl_->version = numens_version;
  impl_->commit = git_commit;
  impl_->file.emplace(File::create(impl_->atomic.temp_path()));
  impl_->file->root().create_group(kSubjects);
}

SummaryWriter::~SummaryWriter() = default;

void SummaryWriter::write_maps(std::string_view subject, std::string_view arm, const Geometry& grid,
                               const ArmMaps& maps) {
  Impl& m = *impl_;
  if (m.committed) fail(m.path, "write_maps() after commit()");
  validate_subject_id(subject, m.path);
  const std::string sid(subject), aid(arm);
  if (!m.maps.insert({sid, aid}).second)
    fail(m.path, "maps of subject '" + sid + "', arm '" + aid + "' written twice");
  const std::size_t V = grid.voxel_count();
  if (maps.entropy.size() != V || maps.disagreement.size() != V || maps.majority.size() != V)
    fail(m.path, "maps of subject '" + sid + "', arm '" + aid + "' do not have the grid's " +
                     std::to_string(V) + " voxels");
  Group subjects = m.file->root().group(kSubjects);
  Group sg = subjects.exists(sid) ? subjects.group(sid) : subjects.create_group(sid);
  if (!sg.exists("dims")) write_geometry(sg, grid, "");
  Group ag = sg.create_group(aid);
  const Shape shape = volume_shape(grid);
  const WriteOptions opt = volume_options(grid);
  ag.write<std::uint8_t>(kEntropy, maps.entropy, shape, opt);
  ag.write<std::uint8_t>(kDisagreement, maps.disagreement, shape, opt);
  ag.write<std::int16_t>(kMajority, maps.majority, shape, opt);
}

void SummaryWriter::commit(const SummaryTables& t) {
  Impl& m = *impl_;
  if (m.committed) return;
  validate(t, m.path);
  for (const auto& [sid, aid] : m.maps) {
    if (std::find(t.subject_ids.begin(), t.subject_ids.end(), sid) == t.subject_ids.end())
      fail(m.path, "maps written for subject '" + sid + "', which the tables do not list");
    if (std::find(t.arm_names.begin(), t.arm_names.end(), aid) == t.arm_names.end())
      fail(m.path, "maps written for arm '" + aid + "', which the tables do not list");
  }
  Group root = m.file->root();
  write_provenance(root, m.version, m.commit, t.config);
  root.set_attr("format", kSummaryFormat);
  root.set_attr("format_version", kSummaryFormatVersion);
  root.set_attr("seeds", t.seeds.empty() ? std::string("{}") : t.seeds);
  root.set_attr("members", std::int64_t(t.members()));
  root.set_attr("cohort", t.cohort);
  root.set_attr("cohort_creation_time", t.cohort_creation_time);

  Group arms = root.create_group("arms");
  arms.write_strings("names", t.arm_names);
  arms.write_strings("kinds", t.arm_kinds);
  root.write<std::int64_t>("member_ids", t.member_ids, Shape{t.members()});
  root.write<std::int64_t>("member_arms", t.member_arms, Shape{t.members()});
  root.write_strings("member_seeds", t.member_seeds);
  root.write_strings("member_arith", t.member_arith);
  root.write_strings("subject_ids", t.subject_ids);
  root.write<double>("ages", t.ages, Shape{t.subjects()});
  Group regions = root.create_group("regions");
  regions.write<std::int16_t>("values", t.region_values, Shape{t.regions()});
  regions.write_strings("names", t.region_names);
  regions.write<std::uint8_t>("cortical", t.region_cortical, Shape{t.regions()});

  root.write<float>("dice", t.dice, smr_shape(t));
  root.write<double>("volume_mm3", t.volume_mm3, smr_shape(t));
  const Shape asr = asr_shape(t);
  root.write<float>("dice_pairwise_min", t.dice_pairwise_min, asr);
  root.write<float>("dice_pairwise_mean", t.dice_pairwise_mean, asr);
  root.write<double>("volume_mean", t.volume_mean, asr);
  root.write<double>("volume_std", t.volume_std, asr);
  root.write<double>("volume_cv", t.volume_cv, asr);
  Dataset sd = root.write<double>("volume_sigdigits", t.volume_sigdigits, asr);
  sd.set_attr("method", t.sigdigits.method);
  sd.set_attr("base", t.sigdigits.base);
  sd.set_attr("probability", t.sigdigits.probability);
  sd.set_attr("confidence", t.sigdigits.confidence);
  sd.set_attr("error", t.sigdigits.error);
  sd.set_attr("reference", t.sigdigits.reference);
  root.write<float>("majority_dice", t.majority_dice, asr);

  // Written only when there is a row: HDF5 datasets of extent 0 are legal but h5py users trip on
  // them, and "no group" says "no pair of arms to compare" as well.
  if (!t.correlations.empty()) {
    Group cg = root.create_group("correlations");
    std::vector<std::int64_t> a, b, n;
    std::vector<std::string> measure;
    std::vector<double> pe, sp;
    for (const auto& c : t.correlations) {
      a.push_back(c.arm_a), b.push_back(c.arm_b), n.push_back(c.regions);
      measure.push_back(c.measure), pe.push_back(c.pearson), sp.push_back(c.spearman);
    }
    const Shape k{t.correlations.size()};
    cg.write<std::int64_t>("arm_a", a, k);
    cg.write<std::int64_t>("arm_b", b, k);
    cg.write_strings("measure", measure);
    cg.write<std::int64_t>("regions", n, k);
    cg.write<double>("pearson", pe, k);
    cg.write<double>("spearman", sp, k);
  }
  m.file->close();
  m.file.reset();
  m.atomic.commit();
  m.committed = true;
}

// ---- reader -------------------------------------------------------------------------------------

struct SummaryReader::Impl {
  fs::path path;
  File file;
  SummaryTables tables;

  std::optional<Group> arm_group(std::string_view subject, std::string_view arm) const {
    const Group s = file.root().group(kSubjects);
    if (!s.exists(subject)) return std::nullopt;
    const Group g = s.group(subject);
    if (!g.exists(arm)) return std::nullopt;
    return g.group(arm);
  }
};

SummaryReader::SummaryReader(const fs::path& path) {
  File f = File::open(path);
  const Group root = f.root();
  check_format(root, path, "summary", kSummaryFormat, kSummaryFormatVersion);
  SummaryTables t;
  t.config = root.attr_string("config");
  t.seeds = root.attr_string("seeds");
  t.cohort = root.attr_string("cohort");
  t.cohort_creation_time = root.attr_string("cohort_creation_time");
  const Group arms = root.group("arms");
  t.arm_names = arms.dataset("names").read_strings();
  t.arm_kinds = arms.dataset("kinds").read_strings();
  t.member_ids = root.dataset("member_ids").read<std::int64_t>();
  t.member_arms = root.dataset("member_arms").read<std::int64_t>();
  t.member_seeds = root.dataset("member_seeds").read_strings();
  t.member_arith = root.dataset("member_arith").read_strings();
  t.subject_ids = root.dataset("subject_ids").read_strings();
  t.ages = root.dataset("ages").read<double>();
  const Group regions = root.group("regions");
  t.region_values = regions.dataset("values").read<std::int16_t>();
  t.region_names = regions.dataset("names").read_strings();
  t.region_cortical = regions.dataset("cortical").read<std::uint8_t>();
  t.dice = root.dataset("dice").read<float>();
  t.volume_mm3 = root.dataset("volume_mm3").read<double>();
  t.dice_pairwise_min = root.dataset("dice_pairwise_min").read<float>();
  t.dice_pairwise_mean = root.dataset("dice_pairwise_mean").read<float>();
  t.volume_mean = root.dataset("volume_mean").read<double>();
  t.volume_std = root.dataset("volume_std").read<double>();
  t.volume_cv = root.dataset("volume_cv").read<double>();
  const Dataset sd = root.dataset("volume_sigdigits");
  t.volume_sigdigits = sd.read<double>();
  t.sigdigits.method = sd.attr_string("method");
  t.sigdigits.base = sd.attr_int("base");
  t.sigdigits.probability = sd.attr_double("probability");
  t.sigdigits.confidence = sd.attr_double("confidence");
  t.sigdigits.error = sd.attr_string("error");
  t.sigdigits.reference = sd.attr_string("reference");
  t.majority_dice = root.dataset("majority_dice").read<float>();
  if (root.exists("correlations")) {
    const Group cg = root.group("correlations");
    const auto a = cg.dataset("arm_a").read<std::int64_t>();
    const auto b = cg.dataset("arm_b").read<std::int64_t>();
    const auto measure = cg.dataset("measure").read_strings();
    const auto n = cg.dataset("regions").read<std::int64_t>();
    const auto pe = cg.dataset("pearson").read<double>();
    const auto sp = cg.dataset("spearman").read<double>();
    if (b.size() != a.size() || measure.size() != a.size() || n.size() != a.size() ||
        pe.size() != a.size() || sp.size() != a.size())
      fail(path, "correlations/* disagree in length");
    for (std::size_t k = 0; k < a.size(); ++k)
      t.correlations.push_back({a[k], b[k], measure[k], n[k], pe[k], sp[k]});
  }
  validate(t, path);
  if (root.attr_int("members") != std::int64_t(t.members()))
    fail(path, "attribute members disagrees with member_ids");
  impl_ = std::make_unique<Impl>(Impl{path, std::move(f), std::move(t)});
}

SummaryReader::~SummaryReader() = default;

const SummaryTables& SummaryReader::tables() const {
  return impl_->tables;
}

std::string SummaryReader::provenance(std::string_view name) const {
  return impl_->file.root().attr_string(name);
}

bool SummaryReader::has_maps(std::string_view subject, std::string_view arm) const {
  return impl_->arm_group(subject, arm).has_value();
}

Geometry SummaryReader::map_geometry(std::string_view subject) const {
  const Group s = impl_->file.root().group(kSubjects);
  if (!s.exists(subject)) fail(impl_->path, "no maps of subject '" + std::string(subject) + "'");
  return read_geometry(s.group(subject), "", impl_->path,
                       "subject '" + std::string(subject) + "': ");
}

ArmMaps SummaryReader::maps(std::string_view subject, std::string_view arm) const {
  const auto g = impl_->arm_group(subject, arm);
  if (!g)
    fail(impl_->path,
         "no maps of subject '" + std::string(subject) + "', arm '" + std::string(arm) + "'");
  const Shape want = volume_shape(map_geometry(subject));
  ArmMaps out;
  auto e = g->read<std::uint8_t>(kEntropy);
  auto d = g->read<std::uint8_t>(kDisagreement);
  auto m = g->read<std::int16_t>(kMajority);
  if (e.shape != want || d.shape != want || m.shape != want)
    fail(impl_->path, "maps of subject '" + std::string(subject) + "', arm '" + std::string(arm) +
                          "' do not match the subject's dims");
  out.entropy = std::move(e.data);
  out.disagreement = std::move(d.data);
  out.majority = std::move(m.data);
  return out;
}

}  // namespace numens::io
