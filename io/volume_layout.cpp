#include "io/volume_layout.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "io/affine.hpp"
#include "io/error.hpp"

namespace numens::io {

namespace fs = std::filesystem;

namespace {

// The messages keep the wording they had when this lived in io/cohort.cpp.
[[noreturn]] void fail(const fs::path& file, const std::string& what) {
  throw IoError("cohort: " + file.string() + ": " + what);
}

std::string fmt(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", x);
  return buf;
}

}  // namespace

// Grids must be usable for resampling: positive dims and voxel sizes, a finite affine with the
// (0, 0, 0, 1) bottom row and an invertible 3x3 part.
void validate_geometry(const Geometry& g, const fs::path& file, const std::string& who,
                       const char* which) {
  const std::string at = who + which + " geometry: ";
  for (int a = 0; a < 3; ++a) {
    if (g.dims[a] < 1 || g.dims[a] > 32767)
      fail(file, at + "dimension " + std::to_string(a) + " is " + std::to_string(g.dims[a]) +
                     " (must be 1..32767)");
    if (!(std::isfinite(g.voxel_size[a]) && g.voxel_size[a] > 0))
      fail(file, at + "voxel size " + std::to_string(a) + " is " + fmt(g.voxel_size[a]) +
                     " (must be finite and > 0)");
  }
  for (const auto& row : g.affine)
    for (double x : row)
      if (!std::isfinite(x)) fail(file, at + "affine has a non-finite entry");
  const auto& m = g.affine;
  if (m[3][0] != 0 || m[3][1] != 0 || m[3][2] != 0 || m[3][3] != 1)
    fail(file, at + "affine's last row is not (0, 0, 0, 1)");
  if (!(std::abs(affine_determinant(m)) > 1e-12)) fail(file, at + "affine is singular");
}

namespace {

std::vector<double> flat_affine(const Affine& a) {
  std::vector<double> v;
  for (const auto& row : a) v.insert(v.end(), row.begin(), row.end());
  return v;
}

}  // namespace

// Geometry as three small datasets in `g` under `prefix` ("" or "original_"):
// <prefix>dims int32 [3] (x, y, z), <prefix>voxel_size float64 [3], <prefix>affine float64 [4,4].
void write_geometry(Group& g, const Geometry& geo, const std::string& prefix) {
  g.write<std::int32_t>(
      prefix + "dims",
      std::vector<std::int32_t>{std::int32_t(geo.dims[0]), std::int32_t(geo.dims[1]),
                                std::int32_t(geo.dims[2])},
      Shape{3});
  g.write<double>(prefix + "voxel_size",
                  std::vector<double>(geo.voxel_size.begin(), geo.voxel_size.end()), Shape{3});
  g.write<double>(prefix + "affine", flat_affine(geo.affine), Shape{4, 4});
}

Geometry read_geometry(const Group& g, const std::string& prefix, const fs::path& file,
                       const std::string& who) {
  const auto dims = g.read<std::int32_t>(prefix + "dims");
  const auto vox = g.read<double>(prefix + "voxel_size");
  const auto aff = g.read<double>(prefix + "affine");
  if (dims.shape != Shape{3} || vox.shape != Shape{3} || aff.shape != Shape{4, 4})
    fail(file, who + prefix + "dims/voxel_size/affine must have shapes (3), (3), (4,4)");
  Geometry geo;
  for (int a = 0; a < 3; ++a) {
    geo.dims[a] = dims.data[a];
    geo.voxel_size[a] = vox.data[a];
  }
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c) geo.affine[r][c] = aff.data[std::size_t(4 * r + c)];
  validate_geometry(geo, file, who, prefix.empty() ? "conformed" : "original");
  return geo;
}

// HDF5 stores row-major with the last index fastest; our volumes have x fastest, so the dataset
// shape is (nz, ny, nx) and the bytes are the same as in memory (h5py users transpose for nibabel).
Shape volume_shape(const Geometry& g) {
  return Shape{std::uint64_t(g.dims[2]), std::uint64_t(g.dims[1]), std::uint64_t(g.dims[0])};
}

WriteOptions volume_options(const Geometry& g) {
  WriteOptions o;
  o.compress = true;
  // One chunk = a few whole axial (z) planes capped at 64 Ki voxels, so reading any slice
  // direction touches a bounded amount of data and deflate sees long runs of background.
  const std::uint64_t plane = std::uint64_t(g.dims[0] * g.dims[1]);
  const std::uint64_t planes = std::clamp<std::uint64_t>(65536 / std::max<std::uint64_t>(plane, 1),
                                                         1, std::uint64_t(g.dims[2]));
  if (plane <= 65536) {
    o.chunk = {planes, std::uint64_t(g.dims[1]), std::uint64_t(g.dims[0])};
  } else {
    o.chunk = {1, std::min<std::uint64_t>(std::uint64_t(g.dims[1]), 256),
               std::min<std::uint64_t>(std::uint64_t(g.dims[0]), 256)};
  }
  return o;
}

}  // namespace numens::io
