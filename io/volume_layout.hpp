// How volumes and their grids are stored in numens HDF5 files (docs/hdf5-schema.md,
// "Conventions"), shared by the file kinds that hold volumes (cohort, segmentation) so that they
// lay out and chunk them one way. Internal to io/ (it exposes the HDF5 handles of io/h5.hpp).
#pragma once

#include <filesystem>
#include <string>

#include "io/geometry.hpp"
#include "io/h5.hpp"

namespace numens::io {

// Grids must be usable for resampling: positive dims and voxel sizes, a finite affine with the
// (0, 0, 0, 1) bottom row and an invertible 3x3 part. Throws IoError naming `file`, `who`
// ("subject 'x': ") and `which` ("conformed", "original").
void validate_geometry(const Geometry& g, const std::filesystem::path& file, const std::string& who,
                       const char* which);

// dims int32 (3) as (nx, ny, nz), voxel_size float64 (3), affine float64 (4, 4), each name with
// `prefix` ("" or "original_").
void write_geometry(Group& g, const Geometry& geo, const std::string& prefix);
// Reads and validates them; throws IoError naming `file` and `who` ("subject 'x': ").
Geometry read_geometry(const Group& g, const std::string& prefix, const std::filesystem::path& file,
                       const std::string& who);

// (nz, ny, nx): HDF5 is row-major and our volumes are x fastest, so bytes need no transpose.
Shape volume_shape(const Geometry& g);
// Compressed, chunks of whole z-planes capped at 64 Ki voxels (one plane tiled when larger).
WriteOptions volume_options(const Geometry& g);

}  // namespace numens::io
