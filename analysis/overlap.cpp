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

}  // namespace numens::analysis
