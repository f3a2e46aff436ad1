// Paths recorded inside result files (a segmentation's or a summary's cohort) were relative to
// wherever the writing command ran. One rule for every reader: the path as it is (absolute, or
// relative to the current directory), then relative to the run directory the file came from.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace numens::drivers {

inline std::optional<std::filesystem::path> find_recorded_path(const std::string& recorded,
                                                               const std::filesystem::path& dir) {
  if (recorded.empty()) return std::nullopt;
  const std::filesystem::path p(recorded);
  if (std::filesystem::exists(p)) return p;
  if (p.is_relative() && std::filesystem::exists(dir / p)) return dir / p;
  return std::nullopt;
}

}  // namespace numens::drivers
