// Any volume numens writes, out to NIfTI or MGZ (`numens export`): a cohort's T1, labels or other
// volumes, a segmentation file's labels or one class's probabilities, a variability summary's
// voxel maps (entropy, disagreement, majority). By default on the subject's own scan grid with
// its own affine (the cohort keeps it; segmentation and summary files name the cohort they were
// made from); or on the conformed grid.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace numens::io {

struct ExportRequest {
  std::filesystem::path in;  // a numens cohort, segmentation or summary file
  std::string subject;
  // cohort: "t1" | "labels" | a dataset path under the subject's group (uint8, int16, float32);
  // segmentation: "labels" | "probs"; summary: "entropy" | "disagreement" | "majority".
  // Empty: "t1" for a cohort, "labels" for a segmentation, "entropy" for a summary.
  std::string dataset;
  std::string label;   // probs: the class, by LUT value or name
  std::string arm;     // summary maps: the arm ("": the first arm with maps of the subject)
  bool native = true;  // false: the conformed grid, as stored
};

// Writes the volume at `out` (.nii, .nii.gz, .mgz, .mgh): int16 volumes (labels) resampled by
// nearest neighbour, the others trilinearly (uint8 rounded back), 0 outside the conformed cube.
// Throws IoError/H5Error/NiftiError/MghError naming the file and the problem (an unknown dataset,
// subject, class or arm; a native export whose cohort is gone or no longer matches); nothing is
// left at `out` on failure.
void export_volume(const ExportRequest& request, const std::filesystem::path& out);

// The cohort form kept for callers of the first version: export_volume({cohort, id, dataset}).
void export_volume(const std::filesystem::path& cohort, std::string_view id,
                   std::string_view dataset, const std::filesystem::path& out);

}  // namespace numens::io
