// Segmentation files (docs/hdf5-schema.md, "Segmentation"): the label volumes of one model set
// (an ensemble member) over the subjects of a cohort, and optionally their quantised class
// probabilities. Written subject by subject (only the current subject's data passes through the
// writer, nothing is held for the whole cohort), atomically: `<path>.tmp.<pid>`, renamed on
// commit(); a writer destroyed before commit() leaves nothing behind.
#pragma once

#include <cstdint>
#include <filesystem>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "io/cohort.hpp"

namespace numens::io {

inline constexpr std::string_view kSegmentationFormat = "numens-segmentation";
inline constexpr std::int64_t kSegmentationFormatVersion = 1;

// Root attributes and tables: what was segmented, by what, how.
struct SegmentationInfo {
  std::string config;  // provenance `config`: TOML summary of the command's flags
  std::string seeds;   // provenance `seeds`: "{mca = 3}" or "{}"
  std::int64_t member = 0;
  std::string views;        // the views used, "axial,coronal,sagittal" (order of aggregation)
  std::string arith;        // mca::ArithConfig::describe() of the inference arithmetic
  std::string accumulator;  // "float16" | "float32": storage of the aggregated logits
  std::string cohort;       // path of the segmented cohort
  std::string cohort_creation_time;        // ties the file to that cohort
  LabelTable lut;                          // the cohort's
  std::vector<std::int16_t> class_values;  // class c of the probabilities is LUT value [c]
  std::vector<std::string> class_names;
};

class SegmentationWriter {
 public:
  // Validates the tables (LUT as a cohort's; class values unique, in the LUT, 0 first) and
  // creates the temp file. Throws IoError naming `path`.
  SegmentationWriter(const std::filesystem::path& path, SegmentationInfo info,
                     std::string_view numens_version, std::string_view git_commit);
  ~SegmentationWriter();
  SegmentationWriter(const SegmentationWriter&) = delete;
  SegmentationWriter& operator=(const SegmentationWriter&) = delete;

  // Starts a subject on its conformed grid; with_probs creates its probs dataset
  // (C, nz, ny, nx) uint8 to be filled by write_probs. One subject at a time.
  void begin_subject(std::string_view id, const Geometry& grid, bool with_probs);
  // Probabilities of voxels [first, first + count) of the x-fastest volume, class-major
  // (probs[c * count + v]); first and count must be whole z-planes (multiples of nx * ny).
  void write_probs(std::int64_t first, std::int64_t count, std::span<const std::uint8_t> probs);
  // Voxels per write_probs call that fill whole storage chunks of the current subject (whole
  // z-planes, about 64 Ki voxels): writing in these blocks compresses each chunk once.
  std::int64_t probs_block_voxels() const;
  // The label volume (LUT values, every one a class value) ends the subject. mean_dice: the mean
  // Dice against the cohort's labels (NaN when it has none), stored as attribute `mean_dice`.
  void end_subject(std::span<const std::int16_t> labels,
                   double mean_dice = std::numeric_limits<double>::quiet_NaN());
  void commit();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class SegmentationReader {
 public:
  explicit SegmentationReader(const std::filesystem::path& path);
  ~SegmentationReader();
  SegmentationReader(const SegmentationReader&) = delete;
  SegmentationReader& operator=(const SegmentationReader&) = delete;

  const SegmentationInfo& info() const;
  const std::vector<std::string>& subject_ids() const;  // in file order
  Geometry geometry(std::string_view id) const;
  std::vector<std::int16_t> labels(std::string_view id) const;  // LUT values, x fastest
  bool has_probs(std::string_view id) const;
  std::vector<std::uint8_t> probs(std::string_view id) const;  // (C, nz, ny, nx)
  double mean_dice(std::string_view id) const;                 // NaN when not measured

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace numens::io
