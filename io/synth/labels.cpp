#include "io/synth/labels.hpp"

#include <string>
#include <utility>

namespace numens::io::synth {

const LabelTable& synth_label_table() {
  // Colours: FreeSurferColorLUT for the aseg structures; lobes in hues of their own.
  static const LabelTable table = [] {
    LabelTable t = {
        {lbl::kBackground, "Unknown", {0, 0, 0}},
        {lbl::kWmL, "Left-Cerebral-White-Matter", {245, 245, 245}},
        {lbl::kVentL, "Left-Lateral-Ventricle", {120, 18, 134}},
        {lbl::kCbWmL, "Left-Cerebellum-White-Matter", {220, 248, 164}},
        {lbl::kCbCtxL, "Left-Cerebellum-Cortex", {230, 148, 34}},
        {lbl::kThalL, "Left-Thalamus", {0, 118, 14}},
        {lbl::kCaudL, "Left-Caudate", {122, 186, 220}},
        {lbl::kPutL, "Left-Putamen", {236, 13, 176}},
        {lbl::kPallL, "Left-Pallidum", {12, 48, 255}},
        {lbl::kHippL, "Left-Hippocampus", {220, 216, 20}},
        {lbl::kAmygL, "Left-Amygdala", {103, 255, 255}},
        {lbl::kCsf, "CSF", {60, 60, 60}},
        {lbl::kWmR, "Right-Cerebral-White-Matter", {245, 245, 245}},
        {lbl::kVentR, "Right-Lateral-Ventricle", {120, 18, 134}},
        {lbl::kCbWmR, "Right-Cerebellum-White-Matter", {220, 248, 164}},
        {lbl::kCbCtxR, "Right-Cerebellum-Cortex", {230, 148, 34}},
        {lbl::kThalR, "Right-Thalamus", {0, 118, 14}},
        {lbl::kCaudR, "Right-Caudate", {122, 186, 220}},
        {lbl::kPutR, "Right-Putamen", {236, 13, 176}},
        {lbl::kPallR, "Right-Pallidum", {12, 48, 255}},
        {lbl::kHippR, "Right-Hippocampus", {220, 216, 20}},
        {lbl::kAmygR, "Right-Amygdala", {103, 255, 255}},
        {lbl::kVermis, "Cerebellar-Vermis", {119, 100, 176}},
    };
    const std::pair<const char*, std::array<std::uint8_t, 3>> lobes[6] = {
        {"frontal", {100, 150, 240}},  {"parietal", {220, 180, 140}}, {"temporal", {180, 40, 120}},
        {"occipital", {20, 180, 140}}, {"cingulate", {220, 20, 10}},  {"insula", {255, 192, 32}}};
    for (int hemi = 0; hemi < 2; ++hemi)
      for (int l = 0; l < 6; ++l)
        t.push_back({lbl::lobe(hemi == 0, lbl::Lobe(l + 1)),
                     std::string(hemi == 0 ? "ctx-lh-" : "ctx-rh-") + lobes[l].first,
                     lobes[l].second});
    return t;
  }();
  return table;
}

std::optional<std::size_t> label_index(std::int16_t value) {
  const LabelTable& t = synth_label_table();
  for (std::size_t i = 0; i < t.size(); ++i)
    if (t[i].value == value) return i;
  return std::nullopt;
}

std::optional<std::int16_t> merge_aal(std::string_view name) {
  if (name.size() < 3) return std::nullopt;
  const bool left = name.ends_with("_L");
  const bool right = name.ends_with("_R");
  if (name.starts_with("Vermis")) return lbl::kVermis;
  if (!left && !right) return std::nullopt;
  const std::string_view base = name.substr(0, name.size() - 2);
  auto side = [&](std::int16_t l, std::int16_t r) { return left ? l : r; };
  if (base == "Hippocampus") return side(lbl::kHippL, lbl::kHippR);
  if (base == "Amygdala") return side(lbl::kAmygL, lbl::kAmygR);
  if (base == "Caudate") return side(lbl::kCaudL, lbl::kCaudR);
  if (base == "Putamen") return side(lbl::kPutL, lbl::kPutR);
  if (base == "Pallidum") return side(lbl::kPallL, lbl::kPallR);
  if (base == "Thalamus") return side(lbl::kThalL, lbl::kThalR);
  if (base.starts_with("Cerebelum")) return side(lbl::kCbCtxL, lbl::kCbCtxR);  // AAL's spelling
  auto lobe = [&](lbl::Lobe l) { return lbl::lobe(left, l); };
  if (base == "Insula") return lobe(lbl::kInsula);
  if (base.starts_with("Cingulum")) return lobe(lbl::kCingulate);
  // Precentral, paracentral lobule, rolandic operculum and olfactory cortex go with the frontal
  // lobe; postcentral, supramarginal, angular and precuneus with the parietal (the usual lobar
  // grouping of AAL, e.g. in Tzourio-Mazoyer et al. 2002's anatomical descriptions).
  if (base.starts_with("Frontal") || base == "Precentral" || base == "Supp_Motor_Area" ||
      base == "Olfactory" || base == "Rectus" || base == "Rolandic_Oper" ||
      base == "Paracentral_Lobule")
    return lobe(lbl::kFrontal);
  if (base.starts_with("Parietal") || base == "Postcentral" || base == "SupraMarginal" ||
      base == "Angular" || base == "Precuneus")
    return lobe(lbl::kParietal);
  if (base.starts_with("Temporal") || base == "Heschl" || base == "Fusiform" ||
      base == "ParaHippocampal")
    return lobe(lbl::kTemporal);
  if (base.starts_with("Occipital") || base == "Calcarine" || base == "Cuneus" || base == "Lingual")
    return lobe(lbl::kOccipital);
  return std::nullopt;
}

}  // namespace numens::io::synth
