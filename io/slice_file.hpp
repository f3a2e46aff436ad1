// Reading the 2.5D slice file of one view (docs/hdf5-schema.md, "slices"), for training: the
// metadata at open, then any set of slices by index. Only the chunks of the requested slices are
// read (one slice per chunk), so a 1 mm cohort never has to fit in memory.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "io/slices.hpp"

namespace numens::io {

struct SliceFileInfo {
  View view = View::axial;
  std::int64_t thickness = 0;  // T, channels per slice
  std::int64_t count = 0;      // N slices
  std::int64_t height = 0, width = 0;
  std::vector<std::int16_t> class_values;  // class c is LUT value class_values[c]
  std::vector<std::string> class_names;
  std::vector<std::string> subject_ids;  // the cohort's, in cohort order
  std::vector<double> ages;
  std::vector<std::int32_t> subject_index;  // (N) index into subject_ids
  std::vector<std::int32_t> slice_index;    // (N) plane along the view's axis
  std::string cohort_creation_time;
};

// One batch as stored: images uint8 (n, T, H, W), labels class indices (n, H, W), weights (n, H,
// W).
struct SliceBatch {
  std::vector<std::uint8_t> images;
  std::vector<std::int16_t> labels;
  std::vector<float> weights;
};

class SliceFile {
 public:
  // Opens and validates the metadata (format, version, shapes, indices). Throws IoError/H5Error
  // naming the file and the problem.
  explicit SliceFile(const std::filesystem::path& path);
  ~SliceFile();
  SliceFile(const SliceFile&) = delete;
  SliceFile& operator=(const SliceFile&) = delete;

  const SliceFileInfo& info() const;
  const std::filesystem::path& path() const;

  // Slices `rows` (any order, repeats allowed) into `out`, resized. Throws IoError naming the
  // file and slice when a label is outside [0, classes) or a weight is negative or not finite.
  void read(std::span<const std::int64_t> rows, SliceBatch& out) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace numens::io
