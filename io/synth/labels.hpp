// The label set of synthetic cohorts: FreeSurfer aseg codes for white matter, ventricles, CSF and
// the subcortical structures (so that FastSurfer users read them at a glance), and six cortical
// lobes per hemisphere (codes 1001-1006 left, 2001-2006 right) merged from the 116 AAL regions:
// 116 cortical parcels are more than a 2.5-D CNN on a 2 mm synthetic cohort can learn, lobes are
// what an ageing study reports.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "io/cohort.hpp"

namespace numens::io::synth {

namespace lbl {
inline constexpr std::int16_t kBackground = 0;
inline constexpr std::int16_t kWmL = 2, kWmR = 41;
inline constexpr std::int16_t kVentL = 4, kVentR = 43;
inline constexpr std::int16_t kCbWmL = 7, kCbWmR = 46;
inline constexpr std::int16_t kCbCtxL = 8, kCbCtxR = 47;
inline constexpr std::int16_t kThalL = 10, kThalR = 49;
inline constexpr std::int16_t kCaudL = 11, kCaudR = 50;
inline constexpr std::int16_t kPutL = 12, kPutR = 51;
inline constexpr std::int16_t kPallL = 13, kPallR = 52;
inline constexpr std::int16_t kHippL = 17, kHippR = 53;
inline constexpr std::int16_t kAmygL = 18, kAmygR = 54;
inline constexpr std::int16_t kCsf = 24;
inline constexpr std::int16_t kVermis = 172;
// Lobes: left = 1000 + lobe, right = 2000 + lobe.
enum Lobe : std::int16_t {
  kFrontal = 1,
  kParietal = 2,
  kTemporal = 3,
  kOccipital = 4,
  kCingulate = 5,
  kInsula = 6
};
inline constexpr std::int16_t lobe(bool left, Lobe l) {
  return std::int16_t((left ? 1000 : 2000) + l);
}
inline constexpr bool is_cortex(std::int16_t v) {
  return (v > 1000 && v <= 1006) || (v > 2000 && v <= 2006);
}
inline constexpr bool is_cerebral_wm(std::int16_t v) {
  return v == kWmL || v == kWmR;
}
inline constexpr bool is_ventricle(std::int16_t v) {
  return v == kVentL || v == kVentR;
}
inline constexpr bool is_csf_like(std::int16_t v) {
  return v == kCsf || is_ventricle(v);
}
inline constexpr bool is_white(std::int16_t v) {
  return is_cerebral_wm(v) || v == kCbWmL || v == kCbWmR;
}
}  // namespace lbl

// The lookup table written into synthetic cohorts (value, name, colour), background first.
const LabelTable& synth_label_table();

// Position of `value` in synth_label_table(), or nullopt.
std::optional<std::size_t> label_index(std::int16_t value);

// AAL region name (as in aal.nii.txt, e.g. "Hippocampus_L") to the synthetic label it merges
// into; nullopt for a name numens does not know (the caller reports it).
std::optional<std::int16_t> merge_aal(std::string_view aal_name);

}  // namespace numens::io::synth
