// Variability of an ensemble's segmentations of one subject (label volumes of the members, same
// grid): pairwise Dice per region, voxel-wise majority vote, label entropy and disagreement, and
// the small statistics the summary needs (mean/std/CV, correlations across regions). Plain arrays
// in, numbers out. Voxel work is integer counting, split over threads by pair or by voxel, so every
// result is the same for any thread count.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "analysis/overlap.hpp"

namespace numens::analysis {

using LabelSpan = std::span<const std::int16_t>;

// Minimum and mean Dice over the member pairs (i < j), per region in the order of `index`. A pair
// where the region is in neither member does not count; NaN where no pair counts (fewer than two
// members, or the region absent from all). Throws ConfigError when volumes differ in size.
struct PairwiseDice {
  std::vector<double> min, mean;
};
PairwiseDice pairwise_dice(std::span<const LabelSpan> members, const RegionIndex& index);

// Per voxel over the M members (1 <= M <= 255):
//   majority      the most frequent label, the lowest value on ties;
//   disagreement  members whose label differs from the majority (0..M-1);
//   entropy       H = -sum_l f_l ln f_l of the label frequencies f_l, stored as
//                 round(255 H / ln M) (255 = every member different; 0 for M = 1).
struct VoxelMaps {
  std::vector<std::int16_t> majority;
  std::vector<std::uint8_t> entropy, disagreement;
};
VoxelMaps voxel_maps(std::span<const LabelSpan> members);

// Mean, population std (ddof 0) and coefficient of variation std / mean (NaN when the mean is 0)
// of the values; NaN everywhere for an empty list.
struct Spread {
  double mean = 0, std = 0, cv = 0;
};
Spread spread(std::span<const double> values);

// Mean and std (ddof 0) of the finite values only, and how many there were.
struct Moments {
  double mean = 0, std = 0;
  std::size_t n = 0;
};
Moments finite_moments(std::span<const double> values);

// Ranks 1..n, ties sharing their average rank (Spearman's convention).
std::vector<double> average_ranks(std::span<const double> values);

// Pearson and Spearman correlation of x and y over the positions where both are finite; NaN when
// fewer than 3 such positions or one side is constant. Throws ConfigError on different lengths.
struct Correlation {
  double pearson = 0, spearman = 0;
  std::size_t n = 0;
};
Correlation correlate(std::span<const double> x, std::span<const double> y);

// FreeSurfer's cortical labels: 3 and 42 (Left/Right-Cerebral-Cortex) and the cortical
// parcellations 1000-2999 (aparc, aparc.a2009s and DKT tables).
bool is_cortical(std::int16_t value);

}  // namespace numens::analysis
