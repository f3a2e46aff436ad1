// Conforming, as FastSurfer (and FreeSurfer's mri_convert -c) does it: every image is resampled
// onto a cube of `size`^3 isotropic voxels in LIA orientation (x -> left, y -> inferior,
// z -> anterior) centred on the source image, and its intensities are robustly rescaled to
// uint8. Labels are resampled with nearest neighbour onto the same grid. The inverse mapping
// (conformed grid -> the source's own grid) serves `numens export`. docs/conform.md gives the
// rules and where they differ from FastSurfer.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "io/cohort.hpp"  // Geometry
#include "io/nifti.hpp"   // Volume, Affine

namespace numens::io {

// 0 means "choose from the source", as FastSurfer does (docs/conform.md, "Grid size"):
// voxel_size 0 is FastSurfer's "min" (the smallest source voxel size, rounded to 1e-4 mm, at most
// 1 mm); size 0 is a cube that covers the source's field of view (256 at 1 mm, FreeSurfer's
// standard; FastSurfer's rule below 1 mm; at least 256 mm of extent above 1 mm).
struct ConformOptions {
  double voxel_size = 1.0;  // mm, isotropic; 0: "min"
  std::int64_t size = 0;    // voxels per axis; 0: from the field of view
};

// The geometry a NIfTI volume's data live on (dims, voxel sizes, the sform/qform affine).
Geometry geometry_of(const Volume& v);

// The conformed grid for a source grid: LIA axes scaled by voxel_size, the cube's centre voxel
// (size/2, size/2, size/2) at the world position of the source's voxel (dims/2), as FastSurfer.
// When the source is already a signed permutation of the target axes at the same voxel size
// (no resampling needed), the grid is moved by less than one voxel so that conformed voxels fall
// exactly on source voxels: conforming is then a pure re-indexing, without interpolation blur.
// Options of 0 are resolved from the source (ConformOptions). A cube given explicitly that is
// smaller than the source's field of view cuts anatomy: one line in `warnings` (when not null)
// says by how much. Throws IoError naming `file` for a bad option.
Geometry conformed_geometry(const Geometry& source, const ConformOptions& opt,
                            const std::filesystem::path& file,
                            std::vector<std::string>* warnings = nullptr);
// The options conformed_geometry uses for `source`, 0s resolved.
ConformOptions resolve_conform(const Geometry& source, const ConformOptions& opt);

// FastSurfer's robust intensity window (its getscale with f_low = 0, f_high = 0.999): a
// 1000-bin histogram over [min, max] of all voxels; the window starts at the minimum and ends
// at a bin edge chosen so that about 0.1 % of the non-zero voxels lie above it.
struct IntensityScale {
  double src_min = 0.0;
  double scale = 1.0;  // output = clip((x - src_min) * scale, 0, 255)
};
IntensityScale robust_scale(const std::vector<float>& data);

// Trilinear resampling of `src` (on grid `from`) at the voxel centres of grid `to`; points that
// fall outside the source's voxel centres get 0 (FastSurfer: scipy's affine_transform, order 1,
// mode 'constant').
std::vector<double> resample_linear(const std::vector<float>& src, const Geometry& from,
                                    const Geometry& to);
// Nearest-neighbour resampling (labels): rounds half up; outside the source grid -> 0.
template <class T>
std::vector<T> resample_nearest(const std::vector<T>& src, const Geometry& from,
                                const Geometry& to);

// Throws IoError naming `file` when every voxel has the same value: a constant image holds no
// anatomy, and the robust window would divide by zero (FastSurfer turns it into a block of 255).
void check_not_constant(const Volume& v, const std::filesystem::path& file);

// The conformed T1: resampled trilinearly, then (unless the source is stored as uint8, which
// FastSurfer leaves unscaled) rescaled with robust_scale computed on the source voxels, voxels
// that resample to exactly 0 kept at 0, rounded half to even and clipped to 0..255.
std::vector<std::uint8_t> conform_image(const Volume& v, const Geometry& target);

// Labels from a NIfTI volume onto `target` by nearest neighbour. Throws IoError naming `file`
// if a value is not an integer in int16's range.
std::vector<std::int16_t> conform_labels(const Volume& v, const Geometry& target,
                                         const std::filesystem::path& file);

}  // namespace numens::io
