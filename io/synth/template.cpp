#include "io/synth/template.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "io/error.hpp"
#include "io/synth/edt.hpp"
#include "io/synth/labels.hpp"
#include "io/synth/random.hpp"

namespace numens::io::synth {

namespace fs = std::filesystem;

std::vector<double> kmeans_histogram(const std::vector<double>& h, int k) {
  double total = 0.0;
  for (double c : h) total += c;
  std::vector<double> means(std::size_t(k), 0.0);
  if (total <= 0.0) return means;
  // Start at the (j + 0.5) / k quantiles: deterministic and already near the answer for tissue.
  double acc = 0.0;
  int j = 0;
  for (std::size_t v = 0; v < h.size() && j < k; ++v) {
    acc += h[v];
    while (j < k && acc >= (j + 0.5) / k * total) means[std::size_t(j++)] = double(v);
  }
  for (int it = 0; it < 200; ++it) {
    std::vector<double> sum(std::size_t(k), 0.0), cnt(std::size_t(k), 0.0);
    for (std::size_t v = 0; v < h.size(); ++v) {
      if (h[v] == 0.0) continue;
      int best = 0;
      for (int c = 1; c < k; ++c)
        if (std::abs(double(v) - means[std::size_t(c)]) <
            std::abs(double(v) - means[std::size_t(best)]))
          best = c;
      sum[std::size_t(best)] += h[v] * double(v);
      cnt[std::size_t(best)] += h[v];
    }
    bool moved = false;
    for (int c = 0; c < k; ++c) {
      if (cnt[std::size_t(c)] == 0.0) continue;
      const double m = sum[std::size_t(c)] / cnt[std::size_t(c)];
      moved |= m != means[std::size_t(c)];
      means[std::size_t(c)] = m;
    }
    if (!moved) break;
  }
  std::sort(means.begin(), means.end());
  return means;
}

namespace {

enum Tissue : std::uint8_t { kCsfT = 0, kGmT = 1, kWmT = 2 };

fs::path need(const fs::path& dir, const char* name) {
  const fs::path p = dir / name;
  if (!fs::exists(p))
    throw IoError(p.string() +
                  ": template file not found; it comes with the Debian package mricron-data "
                  "(apt-get install mricron-data)");
  return p;
}

// aal.nii.txt: "<index> <name> <code>" per line; the image stores the index.
std::map<int, std::int16_t> read_aal_table(const fs::path& p) {
  std::ifstream in(p);
  if (!in) throw IoError(p.string() + ": cannot open");
  std::map<int, std::int16_t> out;
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::istringstream ls(line);
    int index = 0;
    std::string name;
    if (!(ls >> index >> name) || index <= 0 || index > 32767)
      throw IoError(p.string() + ": line " + std::to_string(lineno) + " is not '<index> <name>'");
    const auto merged = merge_aal(name);
    if (!merged)
      throw IoError(p.string() + ": line " + std::to_string(lineno) + ": unknown AAL region '" +
                    name + "'");
    out[index] = *merged;
  }
  if (out.size() != 116)
    throw IoError(p.string() + ": expected the 116 AAL regions, found " +
                  std::to_string(out.size()));
  return out;
}

// 6-connected components of `mask`; returns a component id per voxel (0 = not in mask) and sizes.
std::vector<std::int32_t> components(const std::vector<std::uint8_t>& mask,
                                     std::array<std::int64_t, 3> d,
                                     std::vector<std::size_t>& sizes) {
  std::vector<std::int32_t> id(mask.size(), 0);
  sizes.assign(1, 0);
  std::vector<std::int64_t> stack;
  const std::int64_t nx = d[0], ny = d[1], nz = d[2];
  for (std::size_t s = 0; s < mask.size(); ++s) {
    if (!mask[s] || id[s]) continue;
    const std::int32_t c = std::int32_t(sizes.size());
    sizes.push_back(0);
    stack.assign(1, std::int64_t(s));
    id[s] = c;
    while (!stack.empty()) {
      const std::int64_t v = stack.back();
      stack.pop_back();
      ++sizes[std::size_t(c)];
      const std::int64_t i = v % nx, j = (v / nx) % ny, k = v / (nx * ny);
      const std::int64_t nb[6][3] = {{i - 1, j, k}, {i + 1, j, k}, {i, j - 1, k},
                                     {i, j + 1, k}, {i, j, k - 1}, {i, j, k + 1}};
      for (const auto& n : nb) {
        if (n[0] < 0 || n[1] < 0 || n[2] < 0 || n[0] >= nx || n[1] >= ny || n[2] >= nz) continue;
        const std::size_t w = std::size_t(n[0] + nx * (n[1] + ny * n[2]));
        if (mask[w] && !id[w]) {
          id[w] = c;
          stack.push_back(std::int64_t(w));
        }
      }
    }
  }
  return id;
}

std::array<double, 3> world(const Affine& a, std::int64_t i, std::int64_t j, std::int64_t k) {
  std::array<double, 3> w{};
  for (int r = 0; r < 3; ++r)
    w[std::size_t(r)] = a[r][0] * double(i) + a[r][1] * double(j) + a[r][2] * double(k) + a[r][3];
  return w;
}

void fill_tissue_stats(Template& t, const std::vector<std::uint8_t>& tissue,
                       const std::vector<std::uint8_t>& inside) {
  std::array<double, 3> s1{}, s2{};
  std::array<std::size_t, 3> n{};
  for (std::size_t v = 0; v < t.voxel_count(); ++v) {
    if (!inside[v]) continue;
    const double x = t.t1[v];
    s1[tissue[v]] += x;
    s2[tissue[v]] += x * x;
    ++n[tissue[v]];
  }
  for (int c = 0; c < 3; ++c) {
    if (n[std::size_t(c)] == 0) continue;
    const double m = s1[std::size_t(c)] / double(n[std::size_t(c)]);
    t.tissue[std::size_t(c)] = {
        m, std::sqrt(std::max(0.0, s2[std::size_t(c)] / double(n[std::size_t(c)]) - m * m)),
        n[std::size_t(c)]};
  }
}

}  // namespace

Template load_colin27(const fs::path& dir) {
  const fs::path p_t1 = need(dir, "ch2.nii.gz"), p_bet = need(dir, "ch2bet.nii.gz"),
                 p_aal = need(dir, "aal.nii.gz"), p_txt = need(dir, "aal.nii.txt");
  const Volume t1 = read_nifti(p_t1), bet = read_nifti(p_bet), aal = read_nifti(p_aal);
  for (const auto* v : {&bet, &aal})
    if (v->dims != t1.dims)
      throw IoError((v == &bet ? p_bet : p_aal).string() + ": grid differs from " + p_t1.string());
  check_finite(t1, p_t1);
  const auto aal_map = read_aal_table(p_txt);

  Template t;
  t.name = "colin27";
  t.dims = t1.dims;
  t.voxel_size = t1.voxel_size;
  t.affine = t1.affine;
  t.t1 = t1.data;
  const std::size_t n = t.voxel_count();
  const std::int64_t nx = t.dims[0], ny = t.dims[1], nz = t.dims[2];

  // 1. Tissue classes inside the brain mask (ch2bet > 0): k-means with 3 classes on ch2's
  //    intensity histogram; each voxel goes to the nearest class mean.
  std::vector<std::uint8_t> inside(n, 0);
  std::vector<double> hist(256, 0.0);
  for (std::size_t v = 0; v < n; ++v) {
    if (bet.data[v] <= 0.0f) continue;
    inside[v] = 1;
    hist[std::size_t(std::clamp(std::lround(t.t1[v]), 0L, 255L))] += 1.0;
  }
  const std::vector<double> means = kmeans_histogram(hist, 3);
  std::vector<std::uint8_t> tissue(n, kCsfT);
  for (std::size_t v = 0; v < n; ++v) {
    const double x = t.t1[v];
    int best = 0;
    for (int c = 1; c < 3; ++c)
      if (std::abs(x - means[std::size_t(c)]) < std::abs(x - means[std::size_t(best)])) best = c;
    tissue[v] = std::uint8_t(best);
  }
  fill_tissue_stats(t, tissue, inside);

  // 2. Labels: AAL grey matter where the classification agrees; white matter and CSF from the
  //    classes elsewhere (AAL parcels are drawn generously and include some white matter and
  //    sulcal CSF). Unlabelled grey-class voxels (partial volume at the brain surface, brainstem
  //    nuclei AAL does not parcellate) go to CSF or WM by which mean is nearer.
  const double csf_wm_mid = 0.5 * (means[0] + means[2]);
  t.labels.assign(n, lbl::kBackground);
  for (std::int64_t k = 0; k < nz; ++k)
    for (std::int64_t j = 0; j < ny; ++j)
      for (std::int64_t i = 0; i < nx; ++i) {
        const std::size_t v = std::size_t(i + nx * (j + ny * k));
        if (!inside[v]) continue;
        const bool left = world(t.affine, i, j, k)[0] < 0.0;
        const std::int16_t wm = left ? lbl::kWmL : lbl::kWmR;
        const int a = int(std::lround(aal.data[v]));
        const auto it = a > 0 ? aal_map.find(a) : aal_map.end();
        const Tissue c = Tissue(tissue[v]);
        std::int16_t out;
        if (it == aal_map.end()) {
          out = c == kWmT ? wm : c == kCsfT ? lbl::kCsf : (t.t1[v] >= csf_wm_mid ? wm : lbl::kCsf);
        } else {
          const std::int16_t m = it->second;
          if (c == kCsfT)
            out = lbl::kCsf;
          else if (lbl::is_cortex(m) && c == kWmT)
            out = wm;
          else if ((m == lbl::kCbCtxL || m == lbl::kCbCtxR) && c == kWmT)
            out = m == lbl::kCbCtxL ? lbl::kCbWmL : lbl::kCbWmR;
          else
            out = m;
        }
        t.labels[v] = out;
      }

  // 3. Lateral ventricles: seeds are dark CSF (below the CSF class mean, so no partial volume) at
  //    least 15 mm deep inside the mask and near the midline (|x| < 30 mm), in connected pieces
  //    of at least 1 mL (the lateral ventricles, joined or not through the third); they are then
  //    grown by 3 voxels through CSF-class voxels at least 8 mm deep, to take in the ventricles'
  //    partial-volume rim. Deep sulcal CSF (Sylvian fissure, cisterns) is not dark and deep and
  //    central at once, or forms small pieces, and stays CSF.
  std::vector<std::uint8_t> outside(n);
  for (std::size_t v = 0; v < n; ++v) outside[v] = !inside[v];
  const DistanceMap depth = distance_transform(outside, t.dims, t.voxel_size);
  std::vector<std::uint8_t> cand(n, 0);
  for (std::int64_t k = 0; k < nz; ++k)
    for (std::int64_t j = 0; j < ny; ++j)
      for (std::int64_t i = 0; i < nx; ++i) {
        const std::size_t v = std::size_t(i + nx * (j + ny * k));
        cand[v] = t.labels[v] == lbl::kCsf && t.t1[v] < means[0] && depth.dist[v] >= 15.0f &&
                  std::abs(world(t.affine, i, j, k)[0]) < 30.0;
      }
  std::vector<std::size_t> sizes;
  const auto comp = components(cand, t.dims, sizes);
  std::vector<std::uint8_t> vent(n, 0);
  for (std::size_t v = 0; v < n; ++v) vent[v] = comp[v] > 0 && sizes[std::size_t(comp[v])] >= 1000;
  for (int grow = 0; grow < 3; ++grow) {
    std::vector<std::uint8_t> next = vent;
    for (std::int64_t k = 1; k + 1 < nz; ++k)
      for (std::int64_t j = 1; j + 1 < ny; ++j)
        for (std::int64_t i = 1; i + 1 < nx; ++i) {
          const std::size_t v = std::size_t(i + nx * (j + ny * k));
          if (vent[v] || t.labels[v] != lbl::kCsf || depth.dist[v] < 8.0f) continue;
          const std::int64_t sx = 1, sy = nx, sz = nx * ny;
          next[v] = vent[v - sx] | vent[v + sx] | vent[v - sy] | vent[v + sy] | vent[v - sz] |
                    vent[v + sz];
        }
    vent.swap(next);
  }
  std::size_t nvent = 0;
  for (std::int64_t k = 0; k < nz; ++k)
    for (std::int64_t j = 0; j < ny; ++j)
      for (std::int64_t i = 0; i < nx; ++i) {
        const std::size_t v = std::size_t(i + nx * (j + ny * k));
        if (!vent[v]) continue;
        t.labels[v] = world(t.affine, i, j, k)[0] < 0.0 ? lbl::kVentL : lbl::kVentR;
        ++nvent;
      }
  if (nvent < 1000)
    throw IoError(p_t1.string() + ": found no lateral ventricles in the tissue classification");

  std::ostringstream d;
  d.precision(4);
  d << "colin27: " << p_t1.string() << " (T1), " << p_bet.string() << " (mask > 0), "
    << p_aal.string() << " + aal.nii.txt (116 AAL regions merged to lobes); 3-class k-means on "
    << "the masked T1 histogram: CSF " << means[0] << ", GM " << means[1] << ", WM " << means[2];
  t.description = d.str();
  return t;
}

Template make_phantom(double voxel_mm) {
  if (!(voxel_mm >= 0.5 && voxel_mm <= 8.0))
    throw ConfigError("phantom voxel size must be in [0.5, 8] mm, got " + std::to_string(voxel_mm));
  Template t;
  t.name = "phantom";
  const std::array<double, 3> fov{192.0, 228.0, 192.0};
  for (int a = 0; a < 3; ++a) {
    t.dims[std::size_t(a)] = std::int64_t(std::lround(fov[std::size_t(a)] / voxel_mm));
    t.voxel_size[std::size_t(a)] = voxel_mm;
  }
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c) t.affine[r][c] = r == c ? (r < 3 ? voxel_mm : 1.0) : 0.0;
  for (int a = 0; a < 3; ++a)
    t.affine[a][3] = -0.5 * voxel_mm * double(t.dims[std::size_t(a)] - 1);  // centred on 0
  const std::size_t n = t.voxel_count();
  t.labels.assign(n, lbl::kBackground);
  t.t1.assign(n, 0.0f);

  // Ellipsoid test: ((x - c) / r)^2 summed <= 1.
  struct E {
    double cx, cy, cz, rx, ry, rz;
    bool in(double x, double y, double z) const {
      const double a = (x - cx) / rx, b = (y - cy) / ry, c = (z - cz) / rz;
      return a * a + b * b + c * c <= 1.0;
    }
  };
  // Mirror a left-hemisphere ellipsoid (x < 0) to the right.
  auto mirror = [](E e) { return E{-e.cx, e.cy, e.cz, e.rx, e.ry, e.rz}; };
  const E scalp{0, -5, 0, 80, 100, 84}, skull{0, -5, 0, 75, 95, 79},
      intracranial{0, -5, 0, 70, 90, 74}, cerebrum{0, 0, 8, 66, 84, 62},
      cerebrum_wm{0, 0, 8, 58, 76, 54};
  struct Part {
    E e;
    std::int16_t left, right;
  };
  const Part parts[] = {
      {{-13, 5, 12, 6, 24, 9}, lbl::kVentL, lbl::kVentR},
      {{-21, 12, 12, 5, 11, 7}, lbl::kCaudL, lbl::kCaudR},
      {{-28, 2, 0, 5, 13, 9}, lbl::kPutL, lbl::kPutR},
      {{-20, 0, -2, 3.5, 7, 5}, lbl::kPallL, lbl::kPallR},
      {{-10, -14, 2, 8, 11, 8}, lbl::kThalL, lbl::kThalR},
      {{-30, -20, -20, 6, 15, 6}, lbl::kHippL, lbl::kHippR},
      {{-25, 0, -22, 6, 6, 6}, lbl::kAmygL, lbl::kAmygR},
  };
  const E cb_ctx{-24, -62, -42, 24, 22, 18}, cb_wm{-22, -60, -40, 11, 10, 8},
      vermis{0, -62, -40, 7, 20, 15};
  const Rng rng(0x70686e74u, 0, Site::texture);
  const LatticeNoise texture(rng, {-96, -114, -96}, {96, 114, 96}, 6.0);
  // Tissue intensities on the 0..255 scale, in the ratios of a conformed T1 (WM ~ 110).
  constexpr float kCsfI = 35, kGmI = 75, kWmI = 110, kSkullI = 20, kScalpI = 95, kDeepI = 85,
                  kPallI = 98;
  const std::int64_t nx = t.dims[0], ny = t.dims[1], nz = t.dims[2];
  for (std::int64_t k = 0; k < nz; ++k)
    for (std::int64_t j = 0; j < ny; ++j)
      for (std::int64_t i = 0; i < nx; ++i) {
        const std::size_t v = std::size_t(i + nx * (j + ny * k));
        const auto w = world(t.affine, i, j, k);
        const double x = w[0], y = w[1], z = w[2];
        std::int16_t l = lbl::kBackground;
        float base = 0;
        if (scalp.in(x, y, z)) base = kScalpI;
        if (skull.in(x, y, z)) base = kSkullI;
        if (intracranial.in(x, y, z)) {
          l = lbl::kCsf;
          const bool left = x < 0;
          // Interhemispheric fissure: 3 mm of CSF at the midline above the cerebellum.
          if (cerebrum.in(x, y, z) && std::abs(x) > 1.5) {
            lbl::Lobe lobe = lbl::kParietal;
            if (y > 15)
              lobe = lbl::kFrontal;
            else if (y < -45)
              lobe = lbl::kOccipital;
            else if (z < -5)
              lobe = lbl::kTemporal;
            if (std::abs(x) < 12 && z > 0 && z < 30 && y > -40 && y < 35) lobe = lbl::kCingulate;
            if (std::abs(x) > 34 && std::abs(x) < 46 && y > -15 && y < 20 && z > -8 && z < 15)
              lobe = lbl::kInsula;
            l = lbl::lobe(left, lobe);
            if (cerebrum_wm.in(x, y, z) && lobe != lbl::kCingulate && lobe != lbl::kInsula)
              l = left ? lbl::kWmL : lbl::kWmR;
            // Cingulate and insula are cortex buried in white matter: keep a rim of WM below them.
            if ((lobe == lbl::kCingulate && std::abs(x) > 8) ||
                (lobe == lbl::kInsula && std::abs(x) < 38))
              l = left ? lbl::kWmL : lbl::kWmR;
            for (const Part& p : parts)
              if ((left ? p.e : mirror(p.e)).in(x, y, z)) l = left ? p.left : p.right;
          }
          if ((left ? cb_ctx : mirror(cb_ctx)).in(x, y, z)) l = left ? lbl::kCbCtxL : lbl::kCbCtxR;
          if ((left ? cb_wm : mirror(cb_wm)).in(x, y, z)) l = left ? lbl::kCbWmL : lbl::kCbWmR;
          if (vermis.in(x, y, z)) l = lbl::kVermis;
          base = kCsfI;
          if (lbl::is_white(l))
            base = kWmI;
          else if (l == lbl::kPallL || l == lbl::kPallR)
            base = kPallI;
          else if (l == lbl::kThalL || l == lbl::kThalR || l == lbl::kPutL || l == lbl::kPutR)
            base = kDeepI;
          else if (!lbl::is_csf_like(l))
            base = kGmI;
        }
        t.labels[v] = l;
        // Smooth texture (about 4% of the tissue level) so that tissue is not flat.
        t.t1[v] = base == 0 ? 0.0f : float(base * (1.0 + 0.04 * texture(x, y, z)));
      }
  std::vector<std::uint8_t> inside(n), tissue(n);
  for (std::size_t v = 0; v < n; ++v) {
    const std::int16_t l = t.labels[v];
    inside[v] = l != lbl::kBackground;
    tissue[v] = lbl::is_csf_like(l) ? kCsfT : lbl::is_white(l) ? kWmT : kGmT;
  }
  fill_tissue_stats(t, tissue, inside);
  t.description = "phantom: nested ellipsoids at " + std::to_string(voxel_mm) + " mm";
  return t;
}

}  // namespace numens::io::synth
