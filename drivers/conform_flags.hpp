// The conform grid as command-line flags (--voxel-size, --size), shared by the subcommands that
// conform a user's scan (import, segment --t1). docs/conform.md gives the rules of "min" and
// "auto" (io::ConformOptions with 0s).
#pragma once

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdint>
#include <string>

#include "io/conform.hpp"
#include "mca/error.hpp"

namespace numens::drivers {

struct ConformFlags {
  std::string voxel_size = "1";
  std::string size = "auto";

  void add_to(CLI::App* sub) {
    sub->add_option("--voxel-size", voxel_size,
                    "conformed voxel size in mm, or 'min' (the scan's smallest, at most 1 mm)")
        ->capture_default_str();
    sub->add_option(
           "--size", size,
           "conformed cube size in voxels, or 'auto' (256 at 1 mm, else the field of view)")
        ->capture_default_str();
  }

  // Throws ConfigError naming the flag for anything but a number in range or the keyword.
  io::ConformOptions parse() const {
    io::ConformOptions o;
    if (voxel_size == "min") {
      o.voxel_size = 0;
    } else {
      std::size_t used = 0;
      double v = 0;
      try {
        v = std::stod(voxel_size, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != voxel_size.size() || !std::isfinite(v) || v <= 0 || v > 10)
        throw ConfigError("--voxel-size '" + voxel_size + "' is not 'min' or a size in (0, 10] mm");
      o.voxel_size = v;
    }
    if (size == "auto") {
      o.size = 0;
    } else {
      std::size_t used = 0;
      long long n = 0;
      try {
        n = std::stoll(size, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != size.size() || n < 8 || n > 1024)
        throw ConfigError("--size '" + size + "' is not 'auto' or a whole number in 8..1024");
      o.size = std::int64_t(n);
    }
    return o;
  }
};

}  // namespace numens::drivers
