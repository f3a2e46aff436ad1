// The grid a volume lives on, shared by every file kind and by conform/export: one home for Affine
// and Geometry, so that neither a NIfTI reader nor a cohort file has to be included for them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace numens::io {

using Affine = std::array<std::array<double, 4>, 4>;  // row-major: world = A * (i, j, k, 1)

// Grid of a volume: dims (nx, ny, nz), voxel size in mm, index -> world (RAS mm) affine.
struct Geometry {
  std::array<std::int64_t, 3> dims{0, 0, 0};
  std::array<double, 3> voxel_size{1.0, 1.0, 1.0};
  Affine affine{};
  std::size_t voxel_count() const { return std::size_t(dims[0] * dims[1] * dims[2]); }
};

}  // namespace numens::io
