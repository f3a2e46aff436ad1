// Regional volumes per (subject, member, region) for brain-age regression, read from a variability
// summary (docs/hdf5-schema.md, "Variability summary": /volume_mm3, /ages, /member_ids,
// /member_arms, /arms/kinds, /regions) or computed from a cohort's ground-truth labels (one
// "member": the truth). Plain arrays, so io/ stays independent of analysis/.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace numens::io {

struct RegionalVolumes {
  std::size_t subjects = 0, members = 0, regions = 0;
  std::vector<double> volume_mm3;  // (S, M, R) row-major
  std::vector<double> ages;        // (S)
  std::size_t reference = 0;       // the member of the arm of kind "ieee"
  std::vector<std::string> subject_ids, region_names;
  std::vector<std::int16_t> region_values;
  std::vector<std::int64_t> member_ids;
  std::vector<std::string> member_arms;  // arm name of each member
};

// Reads and checks a numens-summary file: format and version, shapes consistent with the id
// lists, exactly one member whose arm is of kind "ieee" (the reference; the first if an ieee arm
// has several members). Throws IoError "summary: <path>: <problem>". Values are not judged here
// (NaN volumes are the regression's to report, naming subject, member and region).
RegionalVolumes read_summary_volumes(const std::filesystem::path& path);

// Ground-truth volumes (mm^3) of every label but background present in the cohort's LUT, for
// every labelled subject of a cohort (one member, the reference, id 0). Throws IoError naming the
// file when no subject has labels.
RegionalVolumes read_cohort_volumes(const std::filesystem::path& path);

}  // namespace numens::io
