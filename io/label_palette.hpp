// Default names and colours for label values: FreeSurfer's (FreeSurferColorLUT.txt) for the aseg
// structures numens and FastSurfer segment, and a generated colour for any other value, so that a
// label map without a colour table still previews in colour, and a segmentation written for
// FreeSurfer tools carries the names and colours that community expects. Colour tables are read
// by io::read_lut_file (io/import.hpp) and written by write_lut_text below, one format.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "io/cohort.hpp"  // LabelInfo, LabelTable

namespace numens::io {

// FreeSurfer's entry for `value` when it is one of the aseg structures (0..85, 172), else none.
std::optional<LabelInfo> freesurfer_label(std::int16_t value);

// FreeSurfer's colour when known, else a colour of its own: hues spread by the golden angle over
// the value, full saturation, so neighbouring values differ. Background (0) is black.
std::array<std::uint8_t, 3> default_label_colour(std::int16_t value);

// A colour table in FreeSurferColorLUT.txt's format ("value name r g b a" per line, a = 0), with
// a header comment naming `title`; what read_lut_file reads back.
std::string write_lut_text(const LabelTable& lut, const std::string& title);

}  // namespace numens::io
