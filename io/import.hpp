// Building a cohort from the user's NIfTI or MGZ files (`numens import`); the way back is
// io/export.hpp. The drivers only parse flags and call these.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "io/cohort.hpp"
#include "io/conform.hpp"

namespace numens::io {

// One row of the subjects CSV. Paths are resolved against the CSV's directory when relative.
struct CsvRow {
  std::string id;
  double age = 0;
  std::string sex;  // "F", "M" or ""
  std::filesystem::path image;
  std::optional<std::filesystem::path> labels;
  int line = 0;  // 1-based line in the CSV, for messages
};

// Reads the subjects CSV: a header row naming the columns (any order) id, age, image and
// optionally labels and sex; then one row per subject. Fields are separated by commas,
// surrounding spaces and one pair of double quotes are stripped (no commas inside fields);
// blank lines and lines starting with '#' are skipped. Throws IoError naming the CSV, the line
// and the problem: missing/unknown/duplicate column, wrong field count, id not well-formed or
// duplicated, age missing, not a number or outside (0, 130), sex other than F/M/empty, empty
// image path, no subject rows.
// With age_required false (numens segment --csv) the age column may be absent or empty (age 0).
std::vector<CsvRow> read_subjects_csv(const std::filesystem::path& csv, bool age_required = true);

// Reads a FreeSurfer-style colour table: lines "value name r g b [a]", '#' comments and blank
// lines ignored; value in int16's range, r g b in 0..255. The table must list 0 (background).
LabelTable read_lut_file(const std::filesystem::path& path);

struct ImportOptions {
  ConformOptions conform;
  std::optional<std::filesystem::path> lut;  // default: the values present, named label_<v>
  // Receives each header or conform warning (one line naming the file); nullptr: dropped.
  std::function<void(const std::string&)> warn;
};

// Reads and validates the CSV, then every image (finite intensities) and label volume (integer
// values in the LUT, same grid as the image), conforms them and writes the cohort at `out`
// atomically: on any error nothing is left at `out`. Returns the number of subjects written.
std::size_t import_cohort(const std::filesystem::path& csv, const std::filesystem::path& out,
                          const ImportOptions& opt, std::string_view numens_version,
                          std::string_view git_commit);

}  // namespace numens::io
