#include "analysis/overlap.hpp"

#include <limits>
#include <string>

#include "mca/error.hpp"

namespace numens::analysis {

std::vector<RegionDice> dice_per_region(std::span<const std::int16_t> a,
                                        std::span<const std::int16_t> b) {
  if (a.size() != b.size())
    throw ConfigError("dice: label volumes of " + std::to_string(a.size()) + " and " +
                      std::to_string(b.size()) + " voxels");
  // One counter slot per int16 value: a single pass, whatever the label table.
  std::vector<std::int64_t> na(65536, 0), nb(65536, 0), nab(65536, 0);
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto x = std::uint16_t(a[i]), y = std::uint16_t(b[i]);
    ++na[x];
    ++nb[y];
    if (x == y) ++nab[x];
  }
  std::vector<RegionDice> out;
  for (int v = -32768; v <= 32767; ++v) {
    const auto s = std::uint16_t(std::int16_t(v));
    if (v == 0 || (na[s] == 0 && nb[s] == 0)) continue;
    RegionDice r;
    r.value = std::int16_t(v);
    r.a = na[s];
    r.b = nb[s];
    r.both = nab[s];
    r.dice = 2.0 * double(r.both) / double(r.a + r.b);
    out.push_back(r);
  }
  return out;
}

double mean_dice(std::span<const RegionDice> regions) {
  if (regions.empty()) return std::numeric_limits<double>::quiet_NaN();
  double s = 0;
  for (const auto& r : regions) s += r.dice;
  return s / double(regions.size());
}

double mean_dice(std::span<const std::int16_t> a, std::span<const std::int16_t> b) {
  const auto r = dice_per_region(a, b);
  return mean_dice(r);
}

RegionIndex::RegionIndex(std::span<const std::int16_t> regions)
    : slot_(65536, -1), size_(regions.size()) {
  for (std::size_t r = 0; r < regions.size(); ++r) {
    auto& s = slot_[std::uint16_t(regions[r])];
    if (s >= 0) throw ConfigError("regions: value " + std::to_string(regions[r]) + " listed twice");
    s = std::int32_t(r);
  }
}

std::vector<std::int64_t> region_counts(std::span<const std::int16_t> labels,
                                        const RegionIndex& index) {
  std::vector<std::int64_t> n(index.size(), 0);
  for (auto v : labels) {
    const int r = index(v);
    if (r >= 0) ++n[std::size_t(r)];
  }
  return n;
}

std::vector<double> dice_for_regions(std::span<const std::int16_t> a,
                                     std::span<const std::int16_t> b, const RegionIndex& index) {
  if (a.size() != b.size())
    throw ConfigError("dice: label volumes of " + std::to_string(a.size()) + " and " +
                      std::to_string(b.size()) + " voxels");
  const std::size_t R = index.size();
  std::vector<std::int64_t> na(R, 0), nb(R, 0), nab(R, 0);
  for (std::size_t i = 0; i < a.size(); ++i) {
    const int ra = index(a[i]), rb = index(b[i]);
    if (ra >= 0) ++na[std::size_t(ra)];
    if (rb >= 0) ++nb[std::size_t(rb)];
    if (ra >= 0 && a[i] == b[i]) ++nab[std::size_t(ra)];
  }
  std::vector<double> d(R, kNoDice);
  for (std::size_t r = 0; r < R; ++r)
    if (na[r] + nb[r] > 0) d[r] = 2.0 * double(nab[r]) / double(na[r] + nb[r]);
  return d;
}

}  // namespace numens::analysis
