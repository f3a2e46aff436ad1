#include "io/synth/synth.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <numbers>
#include <sstream>
#include <utility>
#include <vector>

#include "io/affine.hpp"
#include "io/atomic_file.hpp"
#include "io/error.hpp"
#include "io/synth/edt.hpp"
#include "io/synth/labels.hpp"
#include "io/synth/random.hpp"

namespace numens::io::synth {

// ---- options ------------------------------------------------------------------------------------

void SynthOptions::validate() const {
  if (template_name != "colin27" && template_name != "phantom")
    throw ConfigError("--template must be colin27 or phantom, got '" + template_name + "'");
  if (subjects < 1 || subjects > 100000)
    throw ConfigError("--subjects must be in 1..100000, got " + std::to_string(subjects));
  if (!std::isfinite(voxel_size) || voxel_size < 0.5 || voxel_size > 8.0)
    throw ConfigError("--voxel-size must be in [0.5, 8] mm, got " + std::to_string(voxel_size));
  if (!std::isfinite(phantom_voxel) || phantom_voxel < 0.5 || phantom_voxel > 8.0)
    throw ConfigError("phantom voxel size must be in [0.5, 8] mm, got " +
                      std::to_string(phantom_voxel));
  if (!std::isfinite(variation) || variation < 0.0 || variation > 10.0)
    throw ConfigError("--variation must be in [0, 10], got " + std::to_string(variation));
}

std::string SynthOptions::describe() const {
  std::ostringstream s;
  s << "synth template=" << template_name;
  if (template_name == "colin27")
    s << " template_dir=" << template_dir.string();
  else
    s << " phantom_voxel=" << phantom_voxel;
  s << " subjects=" << subjects << " seed=" << seed << " voxel_size=" << voxel_size
    << " variation=" << variation;
  return s.str();
}

Template load_template(const SynthOptions& opt) {
  opt.validate();
  return opt.template_name == "colin27" ? load_colin27(opt.template_dir)
                                        : make_phantom(opt.phantom_voxel);
}

// ---- the atrophy model's rates ------------------------------------------------------------------
// Annual volume change in % per year at ages 20, 40, 60, 75, 90, linear in between (loss for
// tissue, gain for ventricles). docs/synthetic-cohort.md gives the sources.

namespace {

constexpr double kKnots[5] = {20, 40, 60, 75, 90};
struct Rate {
  double pct[5];
  bool grows = false;
};

const Rate* rate_of(std::int16_t label) {
  using namespace lbl;
  static const Rate frontal{{0.30, 0.35, 0.45, 0.50, 0.55}},
      parietal{{0.25, 0.30, 0.40, 0.45, 0.50}}, temporal{{0.20, 0.25, 0.35, 0.50, 0.55}},
      occipital{{0.10, 0.12, 0.20, 0.25, 0.30}}, cingulate{{0.15, 0.20, 0.30, 0.35, 0.35}},
      insula{{0.20, 0.25, 0.35, 0.40, 0.45}}, hippocampus{{0.20, 0.30, 0.55, 1.10, 1.50}},
      amygdala{{0.15, 0.20, 0.40, 0.80, 1.00}}, thalamus{{0.30, 0.35, 0.50, 0.65, 0.75}},
      caudate{{0.25, 0.30, 0.40, 0.50, 0.55}}, putamen{{0.35, 0.40, 0.45, 0.50, 0.55}},
      pallidum{{0.15, 0.20, 0.25, 0.30, 0.35}}, cb_ctx{{0.10, 0.20, 0.40, 0.70, 0.80}},
      cb_wm{{0.00, 0.10, 0.30, 0.50, 0.60}}, wm{{0.00, 0.00, 0.25, 0.60, 0.90}},
      ventricles{{0.50, 1.00, 1.80, 2.60, 3.00}, true};
  if (is_cortex(label)) {
    switch (label % 1000) {
      case kFrontal:
        return &frontal;
      case kParietal:
        return &parietal;
      case kTemporal:
        return &temporal;
      case kOccipital:
        return &occipital;
      case kCingulate:
        return &cingulate;
      default:
        return &insula;
    }
  }
  switch (label) {
    case kHippL:
    case kHippR:
      return &hippocampus;
    case kAmygL:
    case kAmygR:
      return &amygdala;
    case kThalL:
    case kThalR:
      return &thalamus;
    case kCaudL:
    case kCaudR:
      return &caudate;
    case kPutL:
    case kPutR:
      return &putamen;
    case kPallL:
    case kPallR:
      return &pallidum;
    case kCbCtxL:
    case kCbCtxR:
    case kVermis:
      return &cb_ctx;
    case kCbWmL:
    case kCbWmR:
      return &cb_wm;
    case kWmL:
    case kWmR:
      return &wm;
    case kVentL:
    case kVentR:
      return &ventricles;
    default:
      return nullptr;
  }
}

}  // namespace

double age_volume_factor(std::int16_t label, double age) {
  const Rate* r = rate_of(label);
  if (!r || age <= kKnots[0]) return 1.0;
  // Integral of the piecewise-linear rate from 20 to age (trapezoids are exact for it).
  double integral = 0.0;
  for (int s = 0; s < 4 && age > kKnots[s]; ++s) {
    const double a0 = kKnots[s], a1 = std::min(age, kKnots[s + 1]);
    const double slope = (r->pct[s + 1] - r->pct[s]) / (kKnots[s + 1] - kKnots[s]);
    const double r0 = r->pct[s], r1 = r->pct[s] + slope * (a1 - a0);
    integral += 0.5 * (r0 + r1) * (a1 - a0);
  }
  if (age > kKnots[4]) integral += r->pct[4] * (age - kKnots[4]);
  return std::exp((r->grows ? 1.0 : -1.0) * integral / 100.0);
}

// ---- the prepared template ----------------------------------------------------------------------

namespace {

constexpr std::uint8_t kNone = 0xFF;
constexpr std::int16_t kMaxLabel = 2100;

enum class GroupKind : std::uint8_t { cortex_out, erode, wm_vent, wm_ctx, vent_wm };

// A set of template voxels that the model converts in order of a key, smallest first: a cortical
// label loses its voxels nearest the CSF, a structure its outermost voxels, white matter the
// voxels nearest a ventricle (ventricles enlarge) or nearest a lobe (the cortex moves inward), a
// ventricle smaller than the template's its voxels nearest the white matter (vent_wm).
struct Group {
  GroupKind kind;
  std::int16_t label;       // the label losing voxels (wm_vent: the WM label of the side)
  std::int16_t gains = 0;   // wm_ctx: the lobe gaining them
  std::vector<float> keys;  // sorted
};

// Standard deviations of the non-age individual variation at variation = 1 (tuned so that a ridge
// regression of age on TIV-normalised volumes has an MAE in the range real studies report; see
// docs/synthetic-cohort.md).
constexpr double kSpeedSd = 0.25;        // log ageing speed, whole brain
constexpr double kRegionSpeedSd = 0.20;  // log ageing speed, per region
constexpr double kRegionSizeSd = 0.07;   // log volume, per grey-matter region
constexpr double kVentSd = 0.25;         // log ventricle size, at any age
constexpr double kWarpMm = 2.0;          // displacement per component at the lattice nodes
constexpr double kWarpSpacing = 40.0;    // mm between displacement lattice nodes
constexpr double kHeadSd = 0.05;         // linear head size
constexpr double kAxisSd = 0.02;         // per-axis head shape
// Lateral ventricles of a young adult (age 20, median subject) as a fraction of the intracranial
// volume: about 1% (12-15 mL at 1.3-1.5 L; Walhovd et al. 2011, Potvin et al. 2016 norms). The
// template's own ventricles are scaled to it (Colin27's, as segmented, are about 3.1%).
constexpr double kYoungVentFraction = 0.010;
constexpr float kRimMm = 2.0f;  // partial-volume rim of the ventricles (key: distance + jitter)

bool is_grey(std::int16_t l) {
  return l != lbl::kBackground && !lbl::is_white(l) && !lbl::is_csf_like(l);
}
bool erodes(std::int16_t l) {
  using namespace lbl;
  return l == kHippL || l == kHippR || l == kAmygL || l == kAmygR || l == kThalL || l == kThalR ||
         l == kCaudL || l == kCaudR || l == kPutL || l == kPutR || l == kPallL || l == kPallR ||
         l == kCbWmL || l == kCbWmR;
}
bool left_side(std::int16_t l) {
  return l < 40;
}  // aseg codes: left 2..18, right 41..54
bool thins_from_csf(std::int16_t l) {
  return lbl::is_cortex(l) || l == lbl::kCbCtxL || l == lbl::kCbCtxR || l == lbl::kVermis;
}

}  // namespace

struct Synthesizer::Impl {
  Template t;
  SynthOptions opt;
  Geometry geom;
  Affine world_to_template{};
  std::array<double, 3> centre{};       // template world centre: head scaling is about this point
  std::vector<std::int16_t> lut_index;  // label value -> LUT index (-1 if absent)
  std::vector<std::size_t> count;       // template voxels per LUT index
  std::vector<float> mean;              // template mean intensity per label value
  float gm_mean = 0;
  // Young-adult ventricle volume / the template's (kYoungVentFraction x its intracranial volume).
  double vent_scale = 1;
  // Ventricle voxels (sorted by voxel index) and the nearest cerebral WM voxel of each: a voxel a
  // shrinking ventricle gives up takes that voxel's T1 (real WM texture, no ventricle outline).
  std::vector<std::pair<std::uint32_t, std::uint32_t>> vent_source;
  int wm_vent_group[2] = {-1, -1}, vent_wm_group[2] = {-1, -1};  // per side (left, right)
  // Per template voxel: primary and secondary conversion (group, key, new label).
  std::vector<std::uint8_t> g1, g2;
  std::vector<float> k1, k2;
  std::vector<std::int16_t> to1, to2;
  std::vector<Group> groups;
  struct Bump {
    std::array<double, 3> c;
    double radius;
    std::size_t lut;
  };
  std::vector<Bump> bumps;

  void prepare();
  std::vector<float> thresholds(const SubjectParams& p) const;
  std::int16_t atrophied(std::size_t q, const float* thr) const {
    std::uint8_t g = g1[q];
    if (g != kNone && k1[q] < thr[g]) return to1[q];
    g = g2[q];
    if (g != kNone && k2[q] < thr[g]) return to2[q];
    return t.labels[q];
  }
};

void Synthesizer::Impl::prepare() {
  const std::size_t n = t.voxel_count();
  if (n >= std::size_t(1) << 32)
    throw IoError("template " + t.name + ": too many voxels (" + std::to_string(n) + ")");
  const std::int64_t nx = t.dims[0], ny = t.dims[1], nz = t.dims[2];
  const LabelTable& lut = synth_label_table();
  lut_index.assign(kMaxLabel, -1);
  for (std::size_t i = 0; i < lut.size(); ++i)
    lut_index[std::size_t(lut[i].value)] = std::int16_t(i);
  count.assign(lut.size(), 0);
  std::vector<double> sum(lut.size(), 0.0);
  for (std::size_t v = 0; v < n; ++v) {
    const std::int16_t l = t.labels[v];
    if (l < 0 || l >= kMaxLabel || lut_index[std::size_t(l)] < 0)
      throw IoError("template " + t.name + ": label " + std::to_string(l) + " not in the LUT");
    const auto li = std::size_t(lut_index[std::size_t(l)]);
    ++count[li];
    sum[li] += t.t1[v];
  }
  {
    std::size_t icv = 0, vent = 0;
    for (std::size_t i = 1; i < lut.size(); ++i) {
      icv += count[i];
      if (lbl::is_ventricle(lut[i].value)) vent += count[i];
    }
    if (vent == 0) throw IoError("template " + t.name + ": no lateral ventricles");
    vent_scale = kYoungVentFraction * double(icv) / double(vent);
  }
  mean.assign(kMaxLabel, 0.0f);
  for (std::size_t i = 0; i < lut.size(); ++i)
    mean[std::size_t(lut[i].value)] = count[i] ? float(sum[i] / double(count[i])) : 0.0f;
  gm_mean = float(t.tissue[1].mean);

  // Distance maps: to CSF-like voxels (CSF, ventricles, outside the mask), to the ventricles,
  // to the cortex; each with the nearest such voxel, which says what a converted voxel becomes.
  std::vector<std::uint8_t> f(n);
  for (std::size_t v = 0; v < n; ++v)
    f[v] = t.labels[v] == lbl::kBackground || lbl::is_csf_like(t.labels[v]);
  const DistanceMap d_csf = distance_transform(f, t.dims, t.voxel_size);
  for (std::size_t v = 0; v < n; ++v) f[v] = lbl::is_ventricle(t.labels[v]);
  const DistanceMap d_vent = distance_transform(f, t.dims, t.voxel_size);
  for (std::size_t v = 0; v < n; ++v) f[v] = lbl::is_cortex(t.labels[v]);
  const DistanceMap d_ctx = distance_transform(f, t.dims, t.voxel_size);
  for (std::size_t v = 0; v < n; ++v) f[v] = lbl::is_cerebral_wm(t.labels[v]);
  const DistanceMap d_wm = distance_transform(f, t.dims, t.voxel_size);

  // Smooth jitter of the keys (about 0.7 mm, 8 mm lattice), so that thinning is uneven the way
  // real atrophy is, and so that voxels at equal distance are ordered.
  std::array<double, 3> lo = apply_affine(t.affine, 0, 0, 0),
                        hi = apply_affine(t.affine, double(nx - 1), double(ny - 1), double(nz - 1));
  for (int a = 0; a < 3; ++a)
    if (lo[std::size_t(a)] > hi[std::size_t(a)]) std::swap(lo[std::size_t(a)], hi[std::size_t(a)]);
  const LatticeNoise jitter(Rng(0x6a697474u, 0, Site::texture), lo, hi, 8.0);
  std::vector<float> jit(n);
#pragma omp parallel for schedule(static)
  for (std::int64_t k = 0; k < nz; ++k)
    for (std::int64_t j = 0; j < ny; ++j)
      for (std::int64_t i = 0; i < nx; ++i) {
        const auto w = apply_affine(t.affine, double(i), double(j), double(k));
        jit[std::size_t(i + nx * (j + ny * k))] = float(0.7 * jitter(w[0], w[1], w[2]));
      }

  g1.assign(n, kNone);
  g2.assign(n, kNone);
  k1.assign(n, 0.0f);
  k2.assign(n, 0.0f);
  to1.assign(n, 0);
  to2.assign(n, 0);
  std::vector<int> group_of(kMaxLabel, -1), ctx_group_of(kMaxLabel, -1);
  int* const vent_group = wm_vent_group;
  int* const shrink_group = vent_wm_group;
  auto add_group = [&](GroupKind kind, std::int16_t label, std::int16_t gains) {
    groups.push_back({kind, label, gains, {}});
    if (groups.size() >= kNone) throw IoError("template " + t.name + ": too many label groups");
    return int(groups.size() - 1);
  };
  for (const LabelInfo& li : lut) {
    if (count[std::size_t(lut_index[std::size_t(li.value)])] == 0) continue;
    if (thins_from_csf(li.value))
      group_of[std::size_t(li.value)] = add_group(GroupKind::cortex_out, li.value, 0);
    if (erodes(li.value))
      group_of[std::size_t(li.value)] = add_group(GroupKind::erode, li.value, 0);
    if (lbl::is_cortex(li.value))
      ctx_group_of[std::size_t(li.value)] = add_group(GroupKind::wm_ctx, lbl::kWmL, li.value);
  }
  for (int side = 0; side < 2; ++side) {
    vent_group[side] = add_group(GroupKind::wm_vent, side == 0 ? lbl::kWmL : lbl::kWmR, 0);
    shrink_group[side] = add_group(GroupKind::vent_wm, side == 0 ? lbl::kVentL : lbl::kVentR,
                                   side == 0 ? lbl::kWmL : lbl::kWmR);
  }
  for (Group& g : groups)
    if (g.kind == GroupKind::wm_ctx) g.label = g.gains / 1000 == 1 ? lbl::kWmL : lbl::kWmR;

  auto csf_target = [&](std::int64_t near) {
    const std::int16_t l = near < 0 ? lbl::kCsf : t.labels[std::size_t(near)];
    return l == lbl::kBackground ? lbl::kCsf : l;
  };
  for (std::size_t v = 0; v < n; ++v) {
    const std::int16_t l = t.labels[v];
    if (thins_from_csf(l) && d_csf.near[v] >= 0) {
      g1[v] = std::uint8_t(group_of[std::size_t(l)]);
      k1[v] = d_csf.dist[v] + jit[v];
      to1[v] = csf_target(d_csf.near[v]);
    } else if (lbl::is_cerebral_wm(l)) {
      if (d_vent.near[v] >= 0) {
        g1[v] = std::uint8_t(vent_group[l == lbl::kWmL ? 0 : 1]);
        k1[v] = d_vent.dist[v] + jit[v];
        to1[v] = t.labels[std::size_t(d_vent.near[v])];
      }
      if (d_ctx.near[v] >= 0) {
        const std::int16_t lobe = t.labels[std::size_t(d_ctx.near[v])];
        g2[v] = std::uint8_t(ctx_group_of[std::size_t(lobe)]);
        k2[v] = d_ctx.dist[v] + jit[v];
        to2[v] = lobe;
      }
    } else if (lbl::is_ventricle(l) && d_wm.near[v] >= 0) {
      // A ventricle smaller than the template's recedes from the white matter (corpus callosum
      // roof, periventricular WM, the horns first) and keeps its walls on the deep nuclei.
      const int side = l == lbl::kVentL ? 0 : 1;
      g1[v] = std::uint8_t(shrink_group[side]);
      k1[v] = d_wm.dist[v] + jit[v];
      to1[v] = groups[std::size_t(shrink_group[side])].gains;
      vent_source.emplace_back(std::uint32_t(v), std::uint32_t(d_wm.near[v]));
    }
  }
  // Structures that shrink from their whole surface: distance to the nearest voxel outside the
  // structure, inside its bounding box plus a margin (cheap, and exact within the margin).
  for (const LabelInfo& li : lut) {
    if (!erodes(li.value) || group_of[std::size_t(li.value)] < 0) continue;
    std::array<std::int64_t, 3> b0{nx, ny, nz}, b1{-1, -1, -1};
    for (std::int64_t k = 0; k < nz; ++k)
      for (std::int64_t j = 0; j < ny; ++j)
        for (std::int64_t i = 0; i < nx; ++i)
          if (t.labels[std::size_t(i + nx * (j + ny * k))] == li.value) {
            const std::int64_t c[3] = {i, j, k};
            for (int a = 0; a < 3; ++a) {
              b0[std::size_t(a)] = std::min(b0[std::size_t(a)], c[a]);
              b1[std::size_t(a)] = std::max(b1[std::size_t(a)], c[a]);
            }
          }
    for (int a = 0; a < 3; ++a) {
      b0[std::size_t(a)] = std::max<std::int64_t>(0, b0[std::size_t(a)] - 3);
      b1[std::size_t(a)] =
          std::min<std::int64_t>(t.dims[std::size_t(a)] - 1, b1[std::size_t(a)] + 3);
    }
    const std::array<std::int64_t, 3> bd{b1[0] - b0[0] + 1, b1[1] - b0[1] + 1, b1[2] - b0[2] + 1};
    std::vector<std::uint8_t> out(std::size_t(bd[0] * bd[1] * bd[2]));
    auto global = [&](std::int64_t local) {
      const std::int64_t i = local % bd[0], j = (local / bd[0]) % bd[1],
                         k = local / (bd[0] * bd[1]);
      return std::size_t((i + b0[0]) + nx * ((j + b0[1]) + ny * (k + b0[2])));
    };
    for (std::size_t s = 0; s < out.size(); ++s)
      out[s] = t.labels[global(std::int64_t(s))] != li.value;
    const DistanceMap d = distance_transform(out, bd, t.voxel_size);
    for (std::size_t s = 0; s < out.size(); ++s) {
      if (out[s] || d.near[s] < 0) continue;
      const std::size_t v = global(std::int64_t(s));
      std::int16_t to = t.labels[global(d.near[s])];
      // Background becomes CSF; medial temporal structures give way to CSF (the temporal horn
      // and the ambient cistern widen), never to a neighbouring grey structure.
      const bool mtl = li.value == lbl::kHippL || li.value == lbl::kHippR ||
                       li.value == lbl::kAmygL || li.value == lbl::kAmygR;
      // Deep nuclei give way to white matter (a shrinking putamen must not grow the pallidum).
      const bool cb = li.value == lbl::kCbWmL || li.value == lbl::kCbWmR;
      if (to == lbl::kBackground || (mtl && is_grey(to)))
        to = lbl::kCsf;
      else if (!cb && is_grey(to))
        to = left_side(li.value) ? lbl::kWmL : lbl::kWmR;
      g1[v] = std::uint8_t(group_of[std::size_t(li.value)]);
      k1[v] = d.dist[s] + jit[v];
      to1[v] = to;
    }
  }
  for (std::size_t v = 0; v < n; ++v) {
    if (g1[v] != kNone) groups[g1[v]].keys.push_back(k1[v]);
    if (g2[v] != kNone) groups[g2[v]].keys.push_back(k2[v]);
  }
  for (Group& g : groups) std::sort(g.keys.begin(), g.keys.end());

  // Local-scaling bumps: one per grey-matter label, centred on its centroid, radius that of the
  // ball with the same second moment.
  std::vector<std::array<double, 4>> acc(lut.size(), {0, 0, 0, 0});
  std::vector<double> acc2(lut.size(), 0.0);
  for (std::int64_t k = 0; k < nz; ++k)
    for (std::int64_t j = 0; j < ny; ++j)
      for (std::int64_t i = 0; i < nx; ++i) {
        const std::int16_t l = t.labels[std::size_t(i + nx * (j + ny * k))];
        if (!is_grey(l)) continue;
        const auto w = apply_affine(t.affine, double(i), double(j), double(k));
        auto& a = acc[std::size_t(lut_index[std::size_t(l)])];
        a[0] += w[0];
        a[1] += w[1];
        a[2] += w[2];
        a[3] += 1;
        acc2[std::size_t(lut_index[std::size_t(l)])] += w[0] * w[0] + w[1] * w[1] + w[2] * w[2];
      }
  for (std::size_t li = 0; li < lut.size(); ++li) {
    if (acc[li][3] < 1) continue;
    const double m = acc[li][3];
    const std::array<double, 3> c{acc[li][0] / m, acc[li][1] / m, acc[li][2] / m};
    const double var = acc2[li] / m - (c[0] * c[0] + c[1] * c[1] + c[2] * c[2]);
    bumps.push_back({c, std::sqrt(5.0 / 3.0 * std::max(var, 1.0)), li});
  }

  // Output grid: the template's field of view (5% larger, for big heads) at the requested voxel
  // size, centred on the template's centre, in the conformed orientation LIA (x -> left,
  // y -> inferior, z -> anterior): the grid FastSurfer's conform gives a real scan, and the one
  // io/slices' views assume, so that a network trained here sees real scans the way it saw these.
  centre = apply_affine(t.affine, 0.5 * double(nx - 1), 0.5 * double(ny - 1), 0.5 * double(nz - 1));
  world_to_template = invert_affine(t.affine, "template");
  const double vs = opt.voxel_size;
  geom.voxel_size = {vs, vs, vs};
  std::array<double, 3> extent{};  // mm along R, A, S of the template's box
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c)
      extent[std::size_t(r)] += std::abs(t.affine[r][c]) * double(t.dims[std::size_t(c)]);
  auto voxels = [&](double mm) {
    return std::max<std::int64_t>(8, std::int64_t(std::ceil(mm * 1.05 / vs)));
  };
  geom.dims = {voxels(extent[0]), voxels(extent[2]), voxels(extent[1])};  // L, I, A
  geom.affine = Affine{{{-vs, 0, 0, 0}, {0, 0, vs, 0}, {0, -vs, 0, 0}, {0, 0, 0, 1}}};
  for (int r = 0; r < 3; ++r) {
    double mid = 0;
    for (int c = 0; c < 3; ++c)
      mid += geom.affine[r][c] * 0.5 * double(geom.dims[std::size_t(c)] - 1);
    geom.affine[r][3] = centre[std::size_t(r)] - mid;
  }
}

std::vector<float> Synthesizer::Impl::thresholds(const SubjectParams& p) const {
  std::vector<double> convert(groups.size(), 0.0);
  auto factor = [&](std::int16_t label) {
    const double speed =
        p.ageing_speed * p.region_speed[std::size_t(lut_index[std::size_t(label)])];
    return std::pow(age_volume_factor(label, p.age), speed);
  };
  auto v0 = [&](std::int16_t label) {
    return double(count[std::size_t(lut_index[std::size_t(label)])]);
  };
  std::vector<double> gained(kMaxLabel, 0.0);
  // White matter first: its losses feed the ventricles and, through the inward move of the
  // cortex, the lobes.
  for (int side = 0; side < 2; ++side) {
    const std::int16_t wm = side == 0 ? lbl::kWmL : lbl::kWmR;
    const std::int16_t vent = side == 0 ? lbl::kVentL : lbl::kVentR;
    const double loss = v0(wm) * (1.0 - factor(wm));
    // Ventricle volume: young-adult size x age factor x individual factor. Above the template's
    // volume WM voxels become ventricle; below it ventricle voxels become WM.
    const double target = v0(vent) * vent_scale * factor(vent) * p.ventricle_factor;
    const double to_vent = std::max(0.0, target - v0(vent));
    const double from_vent = std::max(0.0, v0(vent) - target);
    const double to_ctx = std::max(0.0, loss - to_vent);
    double ctx_members = 0;
    for (const Group& g : groups)
      if (g.kind == GroupKind::wm_ctx && g.label == wm) ctx_members += double(g.keys.size());
    for (std::size_t gi = 0; gi < groups.size(); ++gi) {
      const Group& g = groups[gi];
      if (g.label != wm && g.label != vent) continue;
      if (g.kind == GroupKind::wm_vent) convert[gi] = to_vent;
      if (g.kind == GroupKind::vent_wm) convert[gi] = from_vent;
      if (g.kind == GroupKind::wm_ctx && ctx_members > 0) {
        convert[gi] = to_ctx * double(g.keys.size()) / ctx_members;
        gained[std::size_t(g.gains)] += convert[gi];
      }
    }
  }
  for (std::size_t gi = 0; gi < groups.size(); ++gi) {
    const Group& g = groups[gi];
    if (g.kind == GroupKind::cortex_out || g.kind == GroupKind::erode)
      convert[gi] = v0(g.label) * (1.0 - factor(g.label)) + gained[std::size_t(g.label)];
  }
  std::vector<float> thr(groups.size());
  for (std::size_t gi = 0; gi < groups.size(); ++gi) {
    const auto& keys = groups[gi].keys;
    const double c = std::clamp(std::round(convert[gi]), 0.0, double(keys.size()));
    thr[gi] = std::size_t(c) >= keys.size() ? std::numeric_limits<float>::infinity()
                                            : keys[std::size_t(c)];
  }
  return thr;
}

// ---- subjects -----------------------------------------------------------------------------------

Synthesizer::Synthesizer(Template t, const SynthOptions& opt) : impl_(std::make_unique<Impl>()) {
  opt.validate();
  impl_->t = std::move(t);
  impl_->opt = opt;
  impl_->prepare();
}
Synthesizer::~Synthesizer() = default;
const Geometry& Synthesizer::geometry() const {
  return impl_->geom;
}
const Template& Synthesizer::templ() const {
  return impl_->t;
}

SubjectParams Synthesizer::draw(std::size_t index) const {
  const double var = impl_->opt.variation;
  const auto subject = std::uint32_t(index);
  const Rng r(impl_->opt.seed, subject, Site::params), reg(impl_->opt.seed, subject, Site::region),
      bias(impl_->opt.seed, subject, Site::bias);
  SubjectParams p;
  p.age = 20.0 + 70.0 * r.uniform(0);
  p.male = r.uniform(1) < 0.5;
  // Men's heads are about 4% larger linearly (intracranial volume ~12% larger).
  // Colin27 lives in MNI space, which is larger than the average adult head (intracranial volume
  // about 1.7 L); 0.92 brings the mean to about 1.35 L.
  const double head = 0.92 * (p.male ? 1.02 : 0.98) * std::exp(kHeadSd * r.normal(2));
  for (int a = 0; a < 3; ++a)
    p.head_scale[std::size_t(a)] = head * std::exp(kAxisSd * r.normal(3 + std::uint64_t(a)));
  p.ageing_speed = std::exp(var * kSpeedSd * r.normal(6));
  // Ventricle size varies more between people than any tissue, at every age.
  p.ventricle_factor = std::exp(var * kVentSd * r.normal(7));
  p.contrast_loss = std::clamp(0.20 * (p.age - 20.0) / 70.0 + 0.03 * r.normal(8), 0.0, 0.5);
  p.noise_sd = (0.015 + 0.025 * r.uniform(9)) * impl_->t.tissue[2].mean;
  const std::size_t nl = synth_label_table().size();
  p.region_speed.resize(nl);
  p.region_size.resize(nl);
  for (std::size_t i = 0; i < nl; ++i) {
    p.region_speed[i] = std::exp(var * kRegionSpeedSd * reg.normal(i, 0));
    p.region_size[i] = std::exp(var * kRegionSizeSd * reg.normal(i, 1));
  }
  for (std::size_t i = 0; i < p.bias.size(); ++i) p.bias[i] = 0.04 * bias.normal(i);
  return p;
}

Subject Synthesizer::make(std::size_t index) const {
  return make(index, draw(index));
}

Subject Synthesizer::make(std::size_t index, const SubjectParams& p) const {
  const Impl& m = *impl_;
  const Template& t = m.t;
  const Geometry& g = m.geom;
  const auto subject = std::uint32_t(index);
  const std::vector<float> thr = m.thresholds(p);
  // The partial-volume rim of the template's ventricles (WM voxels within kRimMm of one) is darker
  // than WM; where the ventricle has receded from it (shrink threshold beyond the rim) it is
  // lifted to the WM mean, so no outline of the template's ventricles is left in the WM.
  float rim_lift[2] = {0.0f, 0.0f};
  for (int side = 0; side < 2; ++side)
    if (m.vent_wm_group[side] >= 0)
      rim_lift[side] =
          std::clamp((thr[std::size_t(m.vent_wm_group[side])] - 1.0f) / 1.5f, 0.0f, 1.0f);

  // Displacement field: three smooth fields on a coarse lattice over the output box.
  auto lo = apply_affine(g.affine, 0, 0, 0);
  auto hi =
      apply_affine(g.affine, double(g.dims[0] - 1), double(g.dims[1] - 1), double(g.dims[2] - 1));
  for (std::size_t a = 0; a < 3; ++a)
    if (lo[a] > hi[a]) std::swap(lo[a], hi[a]);  // the LIA grid runs against R and S
  const Rng wr(m.opt.seed, subject, Site::warp);
  const LatticeNoise ux(wr, lo, hi, kWarpSpacing, 0), uy(wr, lo, hi, kWarpSpacing, 1),
      uz(wr, lo, hi, kWarpSpacing, 2);
  const double amp = kWarpMm * m.opt.variation;
  struct ActiveBump {
    std::array<double, 3> c;
    double r, r2_outer, shrink;  // shrink = 1/s - 1 with s the linear scale
  };
  std::vector<ActiveBump> bumps;
  for (const auto& b : m.bumps) {
    const double s = std::cbrt(p.region_size[b.lut]);
    if (s != 1.0) bumps.push_back({b.c, b.radius, 2.25 * b.radius * b.radius, 1.0 / s - 1.0});
  }

  const std::int64_t nx = g.dims[0], ny = g.dims[1], nz = g.dims[2];
  const std::int64_t tx = t.dims[0], ty = t.dims[1], tz = t.dims[2];
  const std::size_t n = g.voxel_count();
  std::vector<float> img(n, 0.0f);
  Subject out;
  out.labels.assign(n, 0);
  const float contrast = float(1.0 - p.contrast_loss);
  auto intensity = [&](std::size_t q) {
    const std::int16_t l0 = t.labels[q], l = m.atrophied(q, thr.data());
    float x = t.t1[q];
    if (l != l0 && lbl::is_ventricle(l0)) {
      const auto it = std::lower_bound(m.vent_source.begin(), m.vent_source.end(),
                                       std::make_pair(std::uint32_t(q), std::uint32_t(0)));
      x = t.t1[it->second];  // the recorded nearest WM voxel (every converted voxel has one)
    } else if (l != l0) {
      x += m.mean[std::size_t(l)] - m.mean[std::size_t(l0)];
    }
    if (l == l0 && lbl::is_cerebral_wm(l) && m.g1[q] != kNone && m.k1[q] < kRimMm) {
      const int side = l == lbl::kWmL ? 0 : 1;
      if (m.g1[q] == m.wm_vent_group[side])
        x += rim_lift[side] * std::max(0.0f, m.mean[std::size_t(l)] - x);
    }
    // Grey/white contrast falls with age (WM T1 signal moves towards GM's).
    if (lbl::is_white(l)) x = m.gm_mean + (x - m.gm_mean) * contrast;
    return x;
  };

#pragma omp parallel for schedule(static)
  for (std::int64_t k = 0; k < nz; ++k)
    for (std::int64_t j = 0; j < ny; ++j)
      for (std::int64_t i = 0; i < nx; ++i) {
        const std::size_t v = std::size_t(i + nx * (j + ny * k));
        const auto y = apply_affine(g.affine, double(i), double(j), double(k));
        // Subject -> template: undo the head scale about the centre, add the deformation, then
        // the regional scalings (each maps its neighbourhood towards or away from its centre).
        std::array<double, 3> x;
        for (int a = 0; a < 3; ++a)
          x[std::size_t(a)] =
              m.centre[std::size_t(a)] +
              (y[std::size_t(a)] - m.centre[std::size_t(a)]) / p.head_scale[std::size_t(a)];
        x[0] += amp * ux(y[0], y[1], y[2]);
        x[1] += amp * uy(y[0], y[1], y[2]);
        x[2] += amp * uz(y[0], y[1], y[2]);
        for (const auto& b : bumps) {
          const double dx = x[0] - b.c[0], dy = x[1] - b.c[1], dz = x[2] - b.c[2];
          const double r2 = dx * dx + dy * dy + dz * dz;
          if (r2 >= b.r2_outer) continue;
          const double rho = std::sqrt(r2) / b.r;
          const double w =
              rho <= 1.0 ? 1.0 : 0.5 * (1.0 + std::cos(2.0 * std::numbers::pi * (rho - 1.0)));
          x[0] += b.shrink * w * dx;
          x[1] += b.shrink * w * dy;
          x[2] += b.shrink * w * dz;
        }
        const auto pt = apply_affine(m.world_to_template, x[0], x[1], x[2]);
        // Labels: nearest template voxel; intensities: trilinear over the 8 around.
        const std::int64_t qi = std::lround(pt[0]), qj = std::lround(pt[1]),
                           qk = std::lround(pt[2]);
        if (qi >= 0 && qj >= 0 && qk >= 0 && qi < tx && qj < ty && qk < tz)
          out.labels[v] = m.atrophied(std::size_t(qi + tx * (qj + ty * qk)), thr.data());
        const double fi = std::floor(pt[0]), fj = std::floor(pt[1]), fk = std::floor(pt[2]);
        const double ai = pt[0] - fi, aj = pt[1] - fj, ak = pt[2] - fk;
        double sum = 0.0;
        for (int c = 0; c < 8; ++c) {
          const std::int64_t ci = std::int64_t(fi) + (c & 1),
                             cj = std::int64_t(fj) + ((c >> 1) & 1),
                             ck = std::int64_t(fk) + ((c >> 2) & 1);
          if (ci < 0 || cj < 0 || ck < 0 || ci >= tx || cj >= ty || ck >= tz) continue;
          const double wgt =
              ((c & 1) ? ai : 1 - ai) * ((c & 2) ? aj : 1 - aj) * ((c & 4) ? ak : 1 - ak);
          sum += wgt * intensity(std::size_t(ci + tx * (cj + ty * ck)));
        }
        img[v] = float(sum);
      }

  // Point-spread blur: Gaussian with a FWHM of one output voxel (sigma 0.425 voxel), separable.
  {
    const double sigma = 0.4247;
    const double w1 = std::exp(-1.0 / (2 * sigma * sigma)),
                 w2 = std::exp(-4.0 / (2 * sigma * sigma));
    const double norm = 1.0 + 2.0 * (w1 + w2);
    const float kern[5] = {float(w2 / norm), float(w1 / norm), float(1.0 / norm), float(w1 / norm),
                           float(w2 / norm)};
    const std::int64_t strides[3] = {1, nx, nx * ny};
    std::vector<float> tmp(n);
    for (int a = 0; a < 3; ++a) {
      const std::int64_t len = g.dims[std::size_t(a)], st = strides[a];
#pragma omp parallel for schedule(static)
      for (std::int64_t v = 0; v < std::int64_t(n); ++v) {
        const std::int64_t pos = (v / st) % len;
        float s = 0.0f;
        for (int o = -2; o <= 2; ++o) {
          const std::int64_t q = std::clamp<std::int64_t>(pos + o, 0, len - 1);
          s += kern[o + 2] * img[std::size_t(v + (q - pos) * st)];
        }
        tmp[std::size_t(v)] = s;
      }
      img.swap(tmp);
    }
  }

  // Bias field (smooth, multiplicative, quadratic in normalised coordinates) and Rician noise:
  // the magnitude of a complex signal with Gaussian noise on both channels.
  const Rng noise(m.opt.seed, subject, Site::noise);
  out.t1.resize(n);
#pragma omp parallel for schedule(static)
  for (std::int64_t k = 0; k < nz; ++k)
    for (std::int64_t j = 0; j < ny; ++j)
      for (std::int64_t i = 0; i < nx; ++i) {
        const std::size_t v = std::size_t(i + nx * (j + ny * k));
        const double u = 2.0 * double(i) / double(nx - 1) - 1.0,
                     w = 2.0 * double(j) / double(ny - 1) - 1.0,
                     z = 2.0 * double(k) / double(nz - 1) - 1.0;
        const double b = std::exp(p.bias[0] * u + p.bias[1] * w + p.bias[2] * z +
                                  p.bias[3] * u * u + p.bias[4] * w * w + p.bias[5] * z * z +
                                  p.bias[6] * u * w + p.bias[7] * u * z + p.bias[8] * w * z);
        const double s = img[v] * b;
        const double re = s + p.noise_sd * noise.normal(v, 0), im = p.noise_sd * noise.normal(v, 1);
        out.t1[v] = std::uint8_t(std::clamp(std::round(std::sqrt(re * re + im * im)), 0.0, 255.0));
      }

  char id[32];
  std::snprintf(id, sizeof id, "sub-%04zu", index);
  out.info.id = id;
  out.info.age = p.age;
  out.info.sex = p.male ? "M" : "F";
  out.info.geometry = g;
  out.info.original = g;
  out.info.has_labels = true;
  out.info.source = "synth:" + t.name + " seed=" + std::to_string(m.opt.seed) +
                    " subject=" + std::to_string(index);
  return out;
}

std::vector<double> label_volumes(const Subject& s) {
  const LabelTable& lut = synth_label_table();
  std::vector<std::size_t> idx(kMaxLabel, std::size_t(-1));
  for (std::size_t i = 0; i < lut.size(); ++i) idx[std::size_t(lut[i].value)] = i;
  std::vector<double> counts(lut.size(), 0.0);
  for (std::int16_t l : s.labels)
    if (l >= 0 && l < kMaxLabel && idx[std::size_t(l)] != std::size_t(-1))
      counts[idx[std::size_t(l)]] += 1;
  const auto& vs = s.info.geometry.voxel_size;
  const double ml = vs[0] * vs[1] * vs[2] / 1000.0;
  for (double& c : counts) c *= ml;
  return counts;
}

void write_volume_csv(const std::filesystem::path& path, const std::vector<VolumeRow>& rows) {
  const LabelTable& lut = synth_label_table();
  AtomicFile out(path);
  {
    std::FILE* f = std::fopen(out.temp_path().c_str(), "w");
    if (!f) throw IoError(out.temp_path().string() + ": cannot create");
    std::fprintf(f, "id,age,sex,tiv_ml");
    for (std::size_t i = 1; i < lut.size(); ++i) std::fprintf(f, ",%s", lut[i].name.c_str());
    std::fprintf(f, "\n");
    for (const VolumeRow& r : rows) {
      double tiv = 0.0;
      for (std::size_t i = 1; i < r.volumes.size(); ++i) tiv += r.volumes[i];
      std::fprintf(f, "%s,%.4f,%s,%.3f", r.info.id.c_str(), r.info.age, r.info.sex.c_str(), tiv);
      for (std::size_t i = 1; i < lut.size(); ++i)
        std::fprintf(f, ",%.3f", i < r.volumes.size() ? r.volumes[i] : 0.0);
      std::fprintf(f, "\n");
    }
    const bool bad = std::ferror(f) != 0;
    if (std::fclose(f) != 0 || bad) throw IoError(out.temp_path().string() + ": write failed");
  }
  out.commit();
}

}  // namespace numens::io::synth
