#include "io/synth/labels.hpp"

#include <string>
#include <utility>

#include "io/label_palette.hpp"

namespace numens::io::synth {

const LabelTable& synth_label_table() {
  // Colours: FreeSurfer's for the aseg structures (io/label_palette, one home); lobes in hues of
  // their own.
  static const LabelTable table = [] {
    LabelTable t = {
        {lbl::kBackground, "Unknown", default_label_colour(lbl::kBackground)},
        {lbl::kWmL, "Left-Cerebral-White-Matter", default_label_colour(lbl::kWmL)},
        {lbl::kVentL, "Left-Lateral-Ventricle", default_label_colour(lbl::kVentL)},
        {lbl::kCbWmL, "Left-Cerebellum-White-Matter", default_label_colour(lbl::kCbWmL)},
        {lbl::kCbCtxL, "Left-Cerebellum-Cortex", default_label_colour(lbl::kCbCtxL)},
        {lbl::kThalL, "Left-Thalamus", default_label_colour(lbl::kThalL)},
        {lbl::kCaudL, "Left-Caudate", default_label_colour(lbl::kCaudL)},
        {lbl::kPutL, "Left-Putamen", default_label_colour(lbl::kPutL)},
        {lbl::kPallL, "Left-Pallidum", default_label_colour(lbl::kPallL)},
        {lbl::kHippL, "Left-Hippocampus", default_label_colour(lbl::kHippL)},
        {lbl::kAmygL, "Left-Amygdala", default_label_colour(lbl::kAmygL)},
        {lbl::kCsf, "CSF", default_label_colour(lbl::kCsf)},
        {lbl::kWmR, "Right-Cerebral-White-Matter", default_label_colour(lbl::kWmR)},
        {lbl::kVentR, "Right-Lateral-Ventricle", default_label_colour(lbl::kVentR)},
        {lbl::kCbWmR, "Right-Cerebellum-White-Matter", default_label_colour(lbl::kCbWmR)},
        {lbl::kCbCtxR, "Right-Cerebellum-Cortex", default_label_colour(lbl::kCbCtxR)},
        {lbl::kThalR, "Right-Thalamus", default_label_colour(lbl::kThalR)},
        {lbl::kCaudR, "Right-Caudate", default_label_colour(lbl::kCaudR)},
        {lbl::kPutR, "Right-Putamen", default_label_colour(lbl::kPutR)},
        {lbl::kPallR, "Right-Pallidum", default_label_colour(lbl::kPallR)},
        {lbl::kHippR, "Right-Hippocampus", default_label_colour(lbl::kHippR)},
        {lbl::kAmygR, "Right-Amygdala", default_label_colour(lbl::kAmygR)},
        {lbl::kVermis, "Cerebellar-Vermis", default_label_colour(lbl::kVermis)},
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
