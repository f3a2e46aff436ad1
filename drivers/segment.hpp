// Segmenting a cohort with trained view models, callable from any driver (`numens segment`,
// `numens ensemble`).
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

#include "drivers/cost_flags.hpp"

namespace numens::drivers {

struct SegmentFlags {
  std::string cohort, models, out;
  std::string ckpt[3];   // --axial, --coronal, --sagittal
  std::string subjects;  // comma-separated ids ("" : all)
  std::string mode = "ieee";
  int t32 = 24, t64 = 53;
  uint32_t seed = 0, member = 0;
  CostFlags cost;  // --fma, --sr-bits, --rounds, --granularity
  std::optional<int64_t> member_id;
  bool probs = false;
  int batch = 8;
  std::string accumulator = "float16";
  bool no_crop = false;
  int threads = 0;
  std::FILE* log = nullptr;  // progress lines (nullptr: stdout)
};

// Runs the view models over the subjects and writes the segmentation file atomically
// (docs/hdf5-schema.md). Everything checkable is checked before the first subject. Throws
// numens::Error.
void segment_cohort(const SegmentFlags& f);

}  // namespace numens::drivers
