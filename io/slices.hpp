// The 2.5D training data of one view (MODEL.md, docs/hdf5-schema.md "slices"): for every plane of
// every labelled subject, the plane and its neighbours as channels ("thick slice"), its labels as
// contiguous class indices and a per-pixel loss weight. Data preparation only: plain arrays.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "io/cohort.hpp"

namespace numens::io {

// Planes of the LIA conformed grid (x -> left, y -> inferior, z -> anterior):
//   sagittal: fixed i (x); pixel rows = j, columns = k
//   axial:    fixed j (y); pixel rows = k, columns = i
//   coronal:  fixed k (z); pixel rows = j, columns = i
enum class View { axial, coronal, sagittal };
const char* view_name(View v);
// Throws IoError naming `context` (usually the output file) for anything but the three names.
View parse_view(std::string_view name, const std::filesystem::path& context);

// LUT value <-> class index: values sorted ascending with 0 first, so background is class 0.
struct ClassMap {
  std::vector<std::int16_t> values;  // class c has LUT value values[c]
  std::vector<std::string> names;
  std::vector<std::int16_t> class_of;  // indexed by uint16(value); -1 for values not in the LUT
};
ClassMap class_map(const LabelTable& lut);

// How a view cuts a (nx, ny, nz) x-fastest volume: `planes` planes of rows x cols pixels; pixel
// (r, c) of plane p is voxel p * plane_stride + r * row_stride + c * col_stride. Every view is a
// strided gather of the volume, so consumers that must scatter back (the segmenter) need only
// these six numbers, not the view's axis rules.
struct PlaneLayout {
  std::int64_t planes = 0, rows = 0, cols = 0;
  std::int64_t plane_stride = 0, row_stride = 0, col_stride = 0;
};
PlaneLayout plane_layout(View v, const std::array<std::int64_t, 3>& dims);

// The thick slice of plane `plane`: channel t (0..thickness-1) is plane plane + t - thickness/2,
// planes beyond the volume repeating the border plane (FastSurfer's edge padding); channel
// thickness/2 is the plane itself. Written into `out` as (thickness, out_rows, out_cols) uint8 with
// each plane at the top-left and zeros in the rest, so a network that needs H and W divisible by
// 2^levels gets its padding here, identically in training and inference (out_rows/out_cols 0:
// the plane's own rows/cols). Intensities stay uint8; networks see them as float(v) / 255.
// Throws IoError when the plane is out of range, thickness is not odd and >= 1, the output is
// smaller than the plane, or `out` / `volume` have the wrong size.
void thick_slice(std::span<const std::uint8_t> volume, const std::array<std::int64_t, 3>& dims,
                 View v, std::int64_t plane, int thickness, std::span<std::uint8_t> out,
                 std::int64_t out_rows = 0, std::int64_t out_cols = 0);

// FastSurfer's loss weights of one labelled volume (class indices, x fastest, dims nx, ny, nz):
// median-frequency class weight min(median(counts) / count[c], cap), with counts over the classes
// present in the volume, plus `edge_weight` where numpy.gradient of the class map is non-zero in
// any axis (central differences inside, one-sided at the borders). `floor` (0: FastSurfer) is the
// least class weight: background outweighs every region by orders of magnitude in voxel count, so
// its median-frequency weight is ~1e-3 and a network may label air as a dark region (ventricle)
// almost for free; a floor of 0.1 keeps air in the loss.
std::vector<float> weight_map(const std::vector<std::int16_t>& classes,
                              const std::array<std::int64_t, 3>& dims, double cap,
                              double edge_weight, double floor = 0.0);

struct SliceOptions {
  View view = View::axial;
  int thickness = 7;      // odd, 1..31
  int min_labelled = 50;  // planes with fewer non-background pixels are dropped
  double class_weight_cap = 5.0;
  double edge_weight = 5.0;
  double class_weight_floor = 0.0;  // FastSurfer: none
};

// Writes the slice file of one view for every subject of `cohort` that has labels (subjects
// without labels are skipped; none at all is an error), atomically. Returns the slice count.
std::size_t write_slices(const std::filesystem::path& cohort, const std::filesystem::path& out,
                         const SliceOptions& opt, std::string_view numens_version,
                         std::string_view git_commit);

}  // namespace numens::io
