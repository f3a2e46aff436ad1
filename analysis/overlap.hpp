// Overlap of two label volumes (LUT values, same grid): Dice per region, the measure FastSurfer
// and the numens summary report. Integer counts only, so results do not depend on threads.
#pragma once

#include <cstdint>
#include <limits>
#include <span>
#include <vector>

namespace numens::analysis {

struct RegionDice {
  std::int16_t value = 0;               // LUT value of the region
  std::int64_t a = 0, b = 0, both = 0;  // voxels labelled `value` in a, in b, in both
  double dice = 0;                      // 2 both / (a + b); regions listed are present in a or b
};

// Dice of every non-background region (value != 0) present in `a` or `b`, ascending by value.
// Throws ConfigError when the volumes differ in size.
std::vector<RegionDice> dice_per_region(std::span<const std::int16_t> a,
                                        std::span<const std::int16_t> b);

// Mean Dice over those regions; NaN when neither volume has a non-background voxel.
double mean_dice(std::span<const RegionDice> regions);
double mean_dice(std::span<const std::int16_t> a, std::span<const std::int16_t> b);

// Position of each int16 label value in a list of regions, -1 for values not listed: one table
// lookup per voxel whatever the number of regions.
class RegionIndex {
 public:
  // Throws ConfigError when a value is listed twice.
  explicit RegionIndex(std::span<const std::int16_t> regions);
  int operator()(std::int16_t value) const { return slot_[std::uint16_t(value)]; }
  std::size_t size() const { return size_; }

 private:
  std::vector<std::int32_t> slot_;
  std::size_t size_ = 0;
};

// Voxel counts of each listed region in `labels`, in the order of `index`.
std::vector<std::int64_t> region_counts(std::span<const std::int16_t> labels,
                                        const RegionIndex& index);

// Dice of `a` and `b` for each listed region, in the order of `index`; NaN for a region present in
// neither (agreement on an absence says nothing, and a 1 would inflate means). Throws ConfigError
// when the volumes differ in size.
std::vector<double> dice_for_regions(std::span<const std::int16_t> a,
                                     std::span<const std::int16_t> b, const RegionIndex& index);

inline constexpr double kNoDice = std::numeric_limits<double>::quiet_NaN();

}  // namespace numens::analysis
