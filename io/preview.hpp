// Slice previews of cohort subjects: a T1 slice as a grey image, optionally with the label colours
// of the LUT blended on top. Pure pixel work; the driver reads the cohort and writes the PNG.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/cohort.hpp"
#include "io/slices.hpp"

namespace numens::io {

// View is io/slices.hpp's (one enum for the planes the networks and the previews cut).
View parse_view(const std::string& name);  // throws ConfigError (a command-line flag)

struct Image {
  int width = 0, height = 0;
  std::vector<std::uint8_t> rgb;  // top row first
};

// Which voxel each pixel of a slice shows, before upsampling: `voxel` holds height rows of width
// pixels (top row first) as flat indices into the subject's volume (x fastest). The one place
// that decides orientation (below), shared by render_slice and overlays such as the report's
// entropy maps, so they cannot disagree. Throws ConfigError for a slice out of range.
struct SliceGrid {
  int width = 0, height = 0;
  int zoom = 1;  // integer upsampling to at least 256 pixels across
  std::vector<std::size_t> voxel;
};
SliceGrid slice_grid(const Geometry& g, View view, int slice);

// Upsamples an RGB image of grid.width x grid.height pixels by grid.zoom (nearest neighbour).
Image zoom_image(const SliceGrid& grid, const std::vector<std::uint8_t>& rgb);

// Slice `slice` (-1: the middle) of the subject in `view`, in radiological-free display
// convention: the subject's left on the image's left for axial and coronal (as seen from above and
// from the front, "neurological"), anterior on the left for sagittal; superior / anterior up.
// The image is upsampled by an integer factor to at least 256 pixels across. Labels (when asked
// for and present) are blended at `alpha`; labels the LUT lacks get io::default_label_colour.
// `marks` letters the edges with the subject's directions (L/R, A/P, S/I). `slice` counts along
// the stored index axis that the view cuts (as a viewer's voxel coordinates do), whichever way
// that axis points. Throws ConfigError for a slice out of range.
Image render_slice(const Subject& s, const LabelTable& lut, View view, int slice, bool labels,
                   double alpha = 0.45, bool marks = true);

// Images next to each other, top-aligned, `gap` black pixels apart.
Image side_by_side(const std::vector<Image>& tiles, int gap);

// Three orthogonal mid slices side by side (axial, coronal, sagittal): the T1 in grey (windowed
// at its 1st and 99th percentiles), `entropy` (uint8 per voxel of the subject's grid, 255 = every
// member differs) blended on top where non-zero in a dark-red-to-white heat map.
Image entropy_panel(const Subject& subj, const std::vector<std::uint8_t>& entropy);

}  // namespace numens::io
