// Variability summary files (docs/hdf5-schema.md, "Variability summary"): the per-subject,
// per-member and per-arm tables of `numens variability` and, optionally, voxel maps per subject
// and arm. Written atomically: maps go into `<path>.tmp.<pid>` subject by subject as they are
// computed (nothing is held for the whole ensemble), the tables at commit(), then the rename; a
// writer destroyed before commit() leaves nothing behind. Read back by `numens brainage` and
// `numens report`.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "io/cohort.hpp"

namespace numens::io {

inline constexpr std::string_view kSummaryFormat = "numens-summary";
inline constexpr std::int64_t kSummaryFormatVersion = 1;

// How /volume_sigdigits was computed (its attributes).
struct SigdigitsSettings {
  std::string method = "cnh";  // "cnh" | "general"
  std::int64_t base = 2;       // 2: bits, 10: decimal digits
  double probability = 0.95;
  double confidence = 0.95;
  std::string error = "relative";  // Z = X / mean - 1
  std::string reference = "mean";  // the arm's mean volume
};

// One row per correlation of per-region variability between two arms (docs/variability.md).
struct SummaryCorrelation {
  std::int64_t arm_a = 0, arm_b = 0;  // indices into the arms
  std::string measure;                // "1-min_pairwise_dice" | "volume_cv"
  std::int64_t regions = 0;           // regions with a finite value in both arms
  double pearson = 0, spearman = 0;
};

// Axes: A arms, M members, S subjects, R regions. Arrays are row-major over the shapes given.
struct SummaryTables {
  std::string config;        // provenance `config`: TOML summary of the command's flags
  std::string seeds = "{}";  // provenance `seeds`
  std::string cohort;        // path of the cohort read for ground truth and ages
  std::string cohort_creation_time;
  std::vector<std::string> arm_names, arm_kinds;             // (A)
  std::vector<std::int64_t> member_ids, member_arms;         // (M), ids ascending
  std::vector<std::string> member_seeds, member_arith;       // (M), from member.toml
  std::vector<std::string> subject_ids;                      // (S)
  std::vector<double> ages;                                  // (S)
  std::vector<std::int16_t> region_values;                   // (R), no 0
  std::vector<std::string> region_names;                     // (R)
  std::vector<std::uint8_t> region_cortical;                 // (R) 0 | 1
  std::vector<float> dice;                                   // (S, M, R)
  std::vector<double> volume_mm3;                            // (S, M, R)
  std::vector<float> dice_pairwise_min, dice_pairwise_mean;  // (A, S, R)
  std::vector<double> volume_mean, volume_std, volume_cv;    // (A, S, R)
  std::vector<double> volume_sigdigits;                      // (A, S, R)
  SigdigitsSettings sigdigits;
  std::vector<float> majority_dice;  // (A, S, R)
  std::vector<SummaryCorrelation> correlations;

  std::size_t arms() const { return arm_names.size(); }
  std::size_t members() const { return member_ids.size(); }
  std::size_t subjects() const { return subject_ids.size(); }
  std::size_t regions() const { return region_values.size(); }
  // Flat positions in the (S, M, R) and (A, S, R) arrays.
  std::size_t smr(std::size_t s, std::size_t m, std::size_t r) const {
    return (s * members() + m) * regions() + r;
  }
  std::size_t asr(std::size_t a, std::size_t s, std::size_t r) const {
    return (a * subjects() + s) * regions() + r;
  }
};

// Voxel maps of one subject and arm, on the subject's grid (x fastest).
struct ArmMaps {
  std::vector<std::uint8_t> entropy;       // round(255 H / ln M_arm)
  std::vector<std::uint8_t> disagreement;  // members differing from the majority
  std::vector<std::int16_t> majority;      // majority-vote labels, lowest value on ties
};

class SummaryWriter {
 public:
  // Creates the temp file next to `path`; throws IoError when its directory does not exist.
  SummaryWriter(const std::filesystem::path& path, std::string_view numens_version,
                std::string_view git_commit);
  ~SummaryWriter();
  SummaryWriter(const SummaryWriter&) = delete;
  SummaryWriter& operator=(const SummaryWriter&) = delete;

  // /subjects/<id>/<arm>/{entropy,disagreement,majority}; the subject group gets the grid
  // (dims, voxel_size, affine) with its first arm. Each (subject, arm) once.
  void write_maps(std::string_view subject, std::string_view arm, const Geometry& grid,
                  const ArmMaps& maps);
  // Validates every table against the axes (sizes, ids ascending and unique, arm indices,
  // maps only for listed subjects and arms), writes them, closes and renames into place.
  void commit(const SummaryTables& tables);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class SummaryReader {
 public:
  explicit SummaryReader(const std::filesystem::path& path);
  ~SummaryReader();
  SummaryReader(const SummaryReader&) = delete;
  SummaryReader& operator=(const SummaryReader&) = delete;

  const SummaryTables& tables() const;
  std::string provenance(std::string_view name) const;
  bool has_maps(std::string_view subject, std::string_view arm) const;
  Geometry map_geometry(std::string_view subject) const;
  ArmMaps maps(std::string_view subject, std::string_view arm) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace numens::io
