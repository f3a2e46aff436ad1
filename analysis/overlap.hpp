// Overlap of two label volumes (LUT values, same grid): Dice per region, the measure FastSurfer
// and the numens summary report. Integer counts only, so results do not depend on threads.
#pragma once

#include <cstdint>
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

}  // namespace numens::analysis
