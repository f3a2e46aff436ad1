#include "io/label_palette.hpp"

#include <cmath>
#include <cstdio>

namespace numens::io {

namespace {

struct Entry {
  std::int16_t value;
  const char* name;
  std::uint8_t r, g, b;
};

// From FreeSurferColorLUT.txt (FreeSurfer 7): the subcortical (aseg) structures.
constexpr Entry kAseg[] = {
    {0, "Unknown", 0, 0, 0},
    {2, "Left-Cerebral-White-Matter", 245, 245, 245},
    {3, "Left-Cerebral-Cortex", 205, 62, 78},
    {4, "Left-Lateral-Ventricle", 120, 18, 134},
    {5, "Left-Inf-Lat-Vent", 196, 58, 250},
    {7, "Left-Cerebellum-White-Matter", 220, 248, 164},
    {8, "Left-Cerebellum-Cortex", 230, 148, 34},
    {10, "Left-Thalamus", 0, 118, 14},
    {11, "Left-Caudate", 122, 186, 220},
    {12, "Left-Putamen", 236, 13, 176},
    {13, "Left-Pallidum", 12, 48, 255},
    {14, "3rd-Ventricle", 204, 182, 142},
    {15, "4th-Ventricle", 42, 204, 164},
    {16, "Brain-Stem", 119, 159, 176},
    {17, "Left-Hippocampus", 220, 216, 20},
    {18, "Left-Amygdala", 103, 255, 255},
    {24, "CSF", 60, 60, 60},
    {26, "Left-Accumbens-area", 255, 165, 0},
    {28, "Left-VentralDC", 165, 42, 42},
    {30, "Left-vessel", 160, 32, 240},
    {31, "Left-choroid-plexus", 0, 200, 200},
    {41, "Right-Cerebral-White-Matter", 0, 225, 0},
    {42, "Right-Cerebral-Cortex", 205, 62, 78},
    {43, "Right-Lateral-Ventricle", 120, 18, 134},
    {44, "Right-Inf-Lat-Vent", 196, 58, 250},
    {46, "Right-Cerebellum-White-Matter", 220, 248, 164},
    {47, "Right-Cerebellum-Cortex", 230, 148, 34},
    {49, "Right-Thalamus", 0, 118, 14},
    {50, "Right-Caudate", 122, 186, 220},
    {51, "Right-Putamen", 236, 13, 176},
    {52, "Right-Pallidum", 13, 48, 255},
    {53, "Right-Hippocampus", 220, 216, 20},
    {54, "Right-Amygdala", 103, 255, 255},
    {58, "Right-Accumbens-area", 255, 165, 0},
    {60, "Right-VentralDC", 165, 42, 42},
    {62, "Right-vessel", 160, 32, 240},
    {63, "Right-choroid-plexus", 0, 200, 221},
    {72, "5th-Ventricle", 120, 190, 150},
    {77, "WM-hypointensities", 200, 70, 255},
    {85, "Optic-Chiasm", 234, 169, 30},
    {172, "Vermis", 119, 100, 176},
};

}  // namespace

std::optional<LabelInfo> freesurfer_label(std::int16_t value) {
  for (const Entry& e : kAseg)
    if (e.value == value) return LabelInfo{e.value, e.name, {e.r, e.g, e.b}};
  return std::nullopt;
}

std::array<std::uint8_t, 3> default_label_colour(std::int16_t value) {
  if (auto fs = freesurfer_label(value)) return fs->rgb;
  // Golden-angle hues: any two values a few apart land far apart on the colour wheel.
  const double hue = std::fmod(double(std::uint16_t(value)) * 137.50776405, 360.0) / 60.0;
  const double x = 1.0 - std::abs(std::fmod(hue, 2.0) - 1.0);
  double r = 0, g = 0, b = 0;
  switch (int(hue)) {
    case 0:
      r = 1, g = x;
      break;
    case 1:
      r = x, g = 1;
      break;
    case 2:
      g = 1, b = x;
      break;
    case 3:
      g = x, b = 1;
      break;
    case 4:
      r = x, b = 1;
      break;
    default:
      r = 1, b = x;
      break;
  }
  auto c = [](double v) { return std::uint8_t(std::lround(40 + 215 * v)); };
  return {c(r), c(g), c(b)};
}

std::string write_lut_text(const LabelTable& lut, const std::string& title) {
  std::string out = "# " + title + "\n# value  name  R G B A (FreeSurferColorLUT.txt format)\n";
  char line[512];
  for (const LabelInfo& l : lut) {
    std::snprintf(line, sizeof line, "%-5d %-40s %3d %3d %3d 0\n", int(l.value), l.name.c_str(),
                  int(l.rgb[0]), int(l.rgb[1]), int(l.rgb[2]));
    out += line;
  }
  return out;
}

}  // namespace numens::io
