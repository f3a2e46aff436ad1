// Segmenting a cohort with trained view models, callable from any driver (`numens segment`,
// `numens ensemble`).
#pragma once

#include <array>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "drivers/conform_flags.hpp"
#include "drivers/cost_flags.hpp"
#include "io/checkpoint.hpp"
#include "io/cohort.hpp"
#include "io/slices.hpp"
#include "mca/config.hpp"
#include "nn/fastsurfer.hpp"
#include "nn/segmenter.hpp"

namespace numens::drivers {

struct SegmentFlags {
  std::string cohort, models, out;
  std::string t1;        // --t1 SCAN: one scan to a subject directory (segment_scan)
  std::string csv;       // --csv FILE: many scans (columns id, image), one directory each
  ConformFlags conform;  // --voxel-size, --size (with --t1)
  std::string ckpt[3];   // --axial, --coronal, --sagittal
  std::string subjects;  // comma-separated ids ("" : all)
  std::string mode = "ieee";
  int t32 = 24, t64 = 53;
  uint32_t seed = 0, member = 0;
  CostFlags cost;  // --fma, --sr-bits, --rounds, --granularity
  // Set by a caller that already holds a typed arithmetic (numens ensemble: the member's own);
  // it then replaces --mode, --t32, --t64, --seed, --member and the cost flags.
  std::optional<mca::ArithConfig> typed_arith;
  std::optional<int64_t> member_id;
  bool probs = false;
  int batch = 8;
  std::string accumulator = "float16";
  bool no_crop = false;
  int threads = 0;
  std::FILE* log = nullptr;  // progress lines (nullptr: stdout)

  mca::ArithConfig arith() const;  // validated; throws ConfigError
  void check_run_options() const;  // --threads, --batch, --accumulator
  nn::SegmentOptions segment_options(std::uint32_t subject) const;
};

// Runs the view models over the subjects and writes the segmentation file atomically
// (docs/hdf5-schema.md). Everything checkable is checked before the first subject. Throws
// numens::Error.
void segment_cohort(const SegmentFlags& f);

// `numens segment --t1 SCAN`: conforms one scan (NIfTI or MGZ), segments it with one model set
// or every member of an ensemble run directory, and writes a FastSurfer-like subject directory
// at f.out (docs/real-data.md). Nothing is left at f.out on failure.
void segment_scan(const SegmentFlags& f);

// The pieces both share.
struct ViewModel {
  io::View view;
  std::filesystem::path path;
  io::Checkpoint ckpt;
  nn::NetConfig net;
};
// Which checkpoint serves which view: --models DIR/ckpt_<view>.h5 where present, or the files
// named one by one (--axial ...); never both.
std::vector<std::pair<io::View, std::filesystem::path>> checkpoint_paths(const SegmentFlags& f);
// Every model readable, of the view it serves, all on one class table and thickness; with a
// cohort, every class a label of its LUT.
std::vector<ViewModel> load_models(
    const std::vector<std::pair<io::View, std::filesystem::path>>& paths,
    const io::CohortReader* cohort);
// The networks of one model set, loaded once, run over any conformed volume.
struct ModelSet {
  explicit ModelSet(std::vector<ViewModel> m);
  std::vector<ViewModel> models;
  std::vector<std::unique_ptr<nn::FastSurferNet<float>>> nets;
  std::string views;  // "axial,coronal,sagittal" (those present, in order of aggregation)
  // t1: uint8 (nz, ny, nx) on `dims`, x fastest.
  nn::Segmentation segment(std::span<const std::uint8_t> t1,
                           const std::array<std::int64_t, 3>& dims, const mca::ArithConfig& arith,
                           const nn::SegmentOptions& opt) const;
};

}  // namespace numens::drivers
