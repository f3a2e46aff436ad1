// Templates a synthetic cohort is built from: a label map and a T1 on one grid. Two kinds:
// - colin27: the real Colin27 T1 (ch2) with the AAL atlas from Debian's mricron-data, merged to
//   the label set of labels.hpp, white matter and CSF from a tissue classification of ch2;
// - phantom: nested ellipsoids with the same label set, built in memory (unit tests, no package).
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "io/nifti.hpp"

namespace numens::io::synth {

// Mean and standard deviation of T1 intensity of one tissue class.
struct ClassStats {
  double mean = 0.0;
  double sd = 0.0;
  std::size_t count = 0;
};

struct Template {
  std::string name;  // "colin27" | "phantom"
  std::array<std::int64_t, 3> dims{0, 0, 0};
  std::array<double, 3> voxel_size{1.0, 1.0, 1.0};
  Affine affine{};                   // index -> world (RAS mm); axis-aligned (diagonal) for both
  std::vector<float> t1;             // reference intensities on the 0..255 scale
  std::vector<std::int16_t> labels;  // labels.hpp values; 0 outside the intracranial mask
  // Tissue classes of the intracranial mask from the intensity classification (CSF, GM, WM).
  std::array<ClassStats, 3> tissue{};
  std::string description;  // how it was made (files, classification), for provenance

  std::size_t voxel_count() const { return std::size_t(dims[0] * dims[1] * dims[2]); }
};

// Default location of the mricron-data templates on Debian.
inline const std::filesystem::path kMricronTemplates = "/usr/share/mricron/templates";

// Loads ch2.nii.gz, ch2bet.nii.gz, aal.nii.gz and aal.nii.txt from `dir`. Throws IoError naming
// the missing file and the Debian package (mricron-data) that provides it, or the malformed item.
Template load_colin27(const std::filesystem::path& dir = kMricronTemplates);

// Procedural head: skull, scalp, CSF, cortex in six lobes per hemisphere, white matter, lateral
// ventricles, deep nuclei, hippocampus, amygdala and cerebellum as ellipsoids on a grid of
// `voxel_mm` (FOV 192 x 228 x 192 mm). Intensities per tissue class with a smooth texture.
Template make_phantom(double voxel_mm = 2.0);

// 1-D k-means with `k` classes on a histogram of integer intensities (index = intensity):
// deterministic (initialised at quantiles), exact on uint8 data. Returns the sorted class means.
std::vector<double> kmeans_histogram(const std::vector<double>& histogram, int k);

}  // namespace numens::io::synth
