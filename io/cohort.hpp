// The cohort file: subjects (id, age, sex, conformed T1, optional ground-truth labels, geometry)
// plus the label lookup table, in one HDF5 file (layout in docs/hdf5-schema.md). Written by
// `numens import` and `numens synth`, read by slicing, training, segmentation and export.
//
// Volumes in memory are x fastest, then y, then z (the NIfTI order), so an index (i, j, k) maps
// to element i + nx * (j + ny * k) and to world millimetres through `affine` * (i, j, k, 1).
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "io/geometry.hpp"

namespace numens::io {

// One row of the label lookup table. Value 0 is background and is always present.
struct LabelInfo {
  std::int16_t value = 0;
  std::string name;
  std::array<std::uint8_t, 3> rgb{0, 0, 0};
};
using LabelTable = std::vector<LabelInfo>;

// The file format's name and version, root attributes `format` and `format_version`. A reader
// refuses other names and newer versions (docs/hdf5-schema.md says what each version holds).
inline constexpr std::string_view kCohortFormat = "numens-cohort";
inline constexpr int kCohortFormatVersion = 1;

// Throws IoError naming `file` unless the table has value 0, unique values and non-empty names
// without line breaks. Used by the writer, the reader and the importer (a LUT read from a text
// file).
void validate_lut(const LabelTable& lut, const std::filesystem::path& file);

// Throws IoError naming `file` unless the id is a well-formed cohort id ([A-Za-z0-9._-]+, at most
// 128 characters, not all dots: "." and ".." are path components in HDF5).
void validate_subject_id(std::string_view id, const std::filesystem::path& file);

// Per-subject metadata, readable without loading the volumes.
struct SubjectInfo {
  std::string id;     // unique in the cohort; [A-Za-z0-9._-]+
  double age = 0.0;   // years, finite, 0 < age < 130
  std::string sex;    // "F", "M" or "" when unknown
  Geometry geometry;  // the conformed grid the volumes below live on
  Geometry original;  // the grid of the source image (for export back to the user's space)
  // False when the source had no orientation codes (io/nifti.hpp): export writes codes 0 back.
  bool original_orientation_known = true;
  bool has_labels = false;
  std::string source;  // where the image came from (file path, or "synth:colin27 seed=..")
};

struct Subject {
  SubjectInfo info;
  std::vector<std::uint8_t> t1;      // conformed intensities 0..255 (FastSurfer's uint8 scaling)
  std::vector<std::int16_t> labels;  // empty when info.has_labels is false; values in the LUT
};

// Writes a cohort atomically: subjects go into `<path>.tmp.<pid>`, commit() renames it into place;
// a writer destroyed without commit() (an exception on the way) leaves nothing behind.
// add() validates each subject (id unique and well-formed, age range, sizes match geometry, labels
// in the LUT) and throws IoError naming the file and the subject before writing anything of it.
class CohortWriter {
 public:
  CohortWriter(const std::filesystem::path& path, LabelTable lut, std::string_view numens_version,
               std::string_view git_commit, std::string_view config);
  ~CohortWriter();
  CohortWriter(const CohortWriter&) = delete;
  CohortWriter& operator=(const CohortWriter&) = delete;

  void add(const Subject& subject);
  // Records the seeds the cohort depends on as the root attribute `seeds`, a TOML inline table
  // such as "{synth = 42}" (docs/hdf5-schema.md); "{}" (no seeds) unless set.
  void set_seeds(std::string_view seeds_toml);
  void commit();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Reads a cohort; throws IoError/H5Error naming the file and the missing or malformed item.
class CohortReader {
 public:
  explicit CohortReader(const std::filesystem::path& path);
  ~CohortReader();
  CohortReader(const CohortReader&) = delete;
  CohortReader& operator=(const CohortReader&) = delete;

  const LabelTable& lut() const;
  const std::vector<SubjectInfo>& subjects() const;  // in file order
  Subject read(std::size_t index) const;             // loads and validates the volumes
  // Position of subject `id` in subjects(); throws IoError naming the file and the id if absent.
  std::size_t index_of(std::string_view id) const;
  // Root provenance attributes (numens_version, git_commit, creation_time, config).
  std::string provenance(std::string_view name) const;
  const std::filesystem::path& path() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace numens::io
