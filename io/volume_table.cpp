#include "io/volume_table.hpp"

#include <algorithm>
#include <string>
#include <unordered_map>

#include "io/cohort.hpp"
#include "io/error.hpp"
#include "io/h5.hpp"

namespace fs = std::filesystem;

namespace numens::io {

namespace {
[[noreturn]] void fail(const fs::path& p, const std::string& what) {
  throw IoError("summary: " + p.string() + ": " + what);
}
std::string shape_str(const Shape& s) {
  std::string o = "(";
  for (std::size_t i = 0; i < s.size(); ++i) o += (i ? ", " : "") + std::to_string(s[i]);
  return o + ")";
}
}  // namespace

RegionalVolumes read_summary_volumes(const fs::path& path) {
  if (!fs::exists(path)) fail(path, "file not found");
  const File f = File::open(path);
  const Group root = f.root();
  check_format(root, path, "summary", "numens-summary", 1);
  RegionalVolumes v;
  v.subject_ids = root.dataset("subject_ids").read_strings();
  v.region_names = root.group("regions").dataset("names").read_strings();
  v.region_values = root.group("regions").read<std::int16_t>("values").data;
  v.member_ids = root.read<std::int64_t>("member_ids").data;
  const auto arms = root.read<std::int64_t>("member_arms").data;
  const auto arm_names = root.group("arms").dataset("names").read_strings();
  const auto arm_kinds = root.group("arms").dataset("kinds").read_strings();
  const auto ages = root.read<double>("ages");
  const auto vol = root.read<double>("volume_mm3");
  v.subjects = v.subject_ids.size();
  v.members = v.member_ids.size();
  v.regions = v.region_names.size();
  if (v.region_values.size() != v.regions)
    fail(path, "/regions/values has " + std::to_string(v.region_values.size()) +
                   " entries, /regions/names " + std::to_string(v.regions));
  if (arms.size() != v.members)
    fail(path, "/member_arms has " + std::to_string(arms.size()) + " entries, /member_ids " +
                   std::to_string(v.members));
  if (arm_kinds.size() != arm_names.size())
    fail(path, "/arms/kinds and /arms/names differ in length");
  if (ages.data.size() != v.subjects)
    fail(path, "/ages has " + std::to_string(ages.data.size()) + " entries for " +
                   std::to_string(v.subjects) + " subjects");
  const Shape want{v.subjects, v.members, v.regions};
  if (vol.shape != want)
    fail(path, "/volume_mm3 has shape " + shape_str(vol.shape) + ", expected " + shape_str(want) +
                   " (subjects, members, regions)");
  bool found = false;
  for (std::size_t m = 0; m < v.members; ++m) {
    if (arms[m] < 0 || std::size_t(arms[m]) >= arm_names.size())
      fail(path, "member " + std::to_string(v.member_ids[m]) + " has arm index " +
                     std::to_string(arms[m]) + ", outside /arms");
    v.member_arms.push_back(arm_names[std::size_t(arms[m])]);
    if (!found && arm_kinds[std::size_t(arms[m])] == "ieee") v.reference = m, found = true;
  }
  if (!found)
    fail(path,
         "no member belongs to an arm of kind 'ieee' (the reference for brain-age "
         "regression)");
  v.ages = ages.data;
  v.volume_mm3 = vol.data;
  return v;
}

RegionalVolumes read_cohort_volumes(const fs::path& path) {
  const CohortReader c(path);
  RegionalVolumes v;
  std::unordered_map<std::int16_t, std::size_t> col;
  for (const auto& l : c.lut())
    if (l.value != 0) {
      col[l.value] = v.regions++;
      v.region_values.push_back(l.value);
      v.region_names.push_back(l.name);
    }
  v.members = 1;
  v.member_ids = {0};
  v.member_arms = {"truth"};
  for (std::size_t i = 0; i < c.subjects().size(); ++i) {
    const auto& info = c.subjects()[i];
    if (!info.has_labels) continue;
    const Subject s = c.read(i);
    const auto& g = info.geometry.voxel_size;
    const double voxel_mm3 = g[0] * g[1] * g[2];
    std::vector<std::int64_t> count(v.regions, 0);
    for (std::int16_t l : s.labels)
      if (l != 0) ++count[col.at(l)];  // the reader has checked every label is in the LUT
    for (auto n : count) v.volume_mm3.push_back(double(n) * voxel_mm3);
    v.subject_ids.push_back(info.id);
    v.ages.push_back(info.age);
    ++v.subjects;
  }
  if (v.subjects == 0)
    throw IoError("cohort: " + path.string() +
                  ": no subject has labels (ground-truth volumes "
                  "need labels)");
  return v;
}

}  // namespace numens::io
