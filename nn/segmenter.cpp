#include "nn/segmenter.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#ifdef __F16C__
#include <immintrin.h>
#endif

#include "mca/dispatch.hpp"
#include "nn/sites.hpp"

namespace numens::nn {

uint16_t to_half_reference(float x) {
  const uint32_t f = std::bit_cast<uint32_t>(x);
  const uint32_t sign = (f >> 16) & 0x8000u;
  const uint32_t exp = (f >> 23) & 0xFFu;
  uint32_t man = f & 0x7FFFFFu;
  if (exp == 0xFF) return uint16_t(sign | 0x7C00u | (man ? 0x200u | (man >> 13) : 0u));
  // Unbiased exponent e; binary16 normals have e in -14..15.
  const int e = int(exp) - 127;
  if (e > 15) return uint16_t(sign | 0x7C00u);
  if (e >= -14) {
    // Normal: keep 10 mantissa bits, round to nearest even on the 13 dropped; a carry out of the
    // mantissa correctly bumps the exponent (and 65520 and above become infinity).
    uint32_t h = (uint32_t(e + 15) << 10) | (man >> 13);
    const uint32_t rest = man & 0x1FFFu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;
    return uint16_t(sign | h);
  }
  if (e < -25) return uint16_t(sign);  // below half the smallest subnormal: rounds to zero
  // Subnormal: value = m * 2^-24 with m = full significand (implicit 1) shifted right.
  man |= 0x800000u;
  const int shift = -e - 14 + 13;  // 14..24
  uint32_t h = man >> shift;
  const uint32_t rest = man & ((1u << shift) - 1u), halfway = 1u << (shift - 1);
  if (rest > halfway || (rest == halfway && (h & 1u))) ++h;
  return uint16_t(sign | h);
}

float from_half_reference(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1Fu;
  const uint32_t man = h & 0x3FFu;
  if (exp == 0x1F)  // infinity, or NaN made quiet (as IEEE conversions and F16C do)
    return std::bit_cast<float>(sign | 0x7F800000u | (man ? 0x400000u | (man << 13) : 0u));
  if (exp == 0) {
    // zero or subnormal: man * 2^-24, exact in binary32
    const float v = std::ldexp(float(man), -24);
    return sign ? -v : v;
  }
  return std::bit_cast<float>(sign | ((exp + 112u) << 23) | (man << 13));
}

// F16C's conversions round to nearest even like the reference and are exact the other way, so
// both give the same bits (NaN payloads aside); the accumulator converts three times per class and
// voxel and view, which the branchy reference made a third of a segmentation's time.
uint16_t to_half(float x) {
#ifdef __F16C__
  return uint16_t(_cvtss_sh(x, _MM_FROUND_TO_NEAREST_INT));
#else
  return to_half_reference(x);
#endif
}

float from_half(uint16_t h) {
#ifdef __F16C__
  return _cvtsh_ss(h);
#else
  return from_half_reference(h);
#endif
}

std::vector<double> view_weights(std::span<const SegmenterView> views) {
  double total = 0;
  for (const auto& v : views) {
    if (v.code < 0 || v.code > 2) throw ConfigError("segmenter: view code must be 0, 1 or 2");
    total += kViewWeights[v.code];
  }
  std::vector<double> w;
  for (const auto& v : views) w.push_back(kViewWeights[v.code] / total);
  return w;
}

namespace {

// The aggregation box: voxels [lo, hi) per axis.
struct Box {
  std::array<int64_t, 3> lo{0, 0, 0}, hi{0, 0, 0};
  int64_t extent(int a) const { return hi[size_t(a)] - lo[size_t(a)]; }
  int64_t voxels() const { return extent(0) * extent(1) * extent(2); }
};

Box foreground_box(std::span<const uint8_t> vol, const std::array<int64_t, 3>& d, bool crop) {
  Box b;
  if (!crop) {
    b.hi = d;
    return b;
  }
  b.lo = d;
  for (int64_t k = 0; k < d[2]; ++k)
    for (int64_t j = 0; j < d[1]; ++j) {
      const uint8_t* row = vol.data() + d[0] * (j + d[1] * k);
      for (int64_t i = 0; i < d[0]; ++i)
        if (row[i] != 0) {
          const int64_t c[3] = {i, j, k};
          for (size_t a = 0; a < 3; ++a) {
            b.lo[a] = std::min(b.lo[a], c[a]);
            b.hi[a] = std::max(b.hi[a], c[a] + 1);
          }
        }
    }
  if (b.hi[0] == 0) b.lo = {0, 0, 0};  // nothing non-zero: an empty box
  return b;
}

// Storage of one accumulated value.
template <class A>
float load(A a) {
  if constexpr (std::is_same_v<A, uint16_t>)
    return from_half(a);
  else
    return a;
}
template <class A>
A store(float x) {
  if constexpr (std::is_same_v<A, uint16_t>)
    return to_half(x);
  else
    return x;
}

// Index of the largest value, the lowest on ties; NaN is never chosen unless all are NaN.
template <class A>
int16_t argmax(const A* a, int64_t n) {
  int64_t best = 0;
  float bv = load(a[0]);
  for (int64_t c = 1; c < n; ++c) {
    const float v = load(a[c]);
    if (v > bv || (std::isnan(bv) && !std::isnan(v))) best = c, bv = v;
  }
  return int16_t(best);
}

template <class A>
void quantise_probs(const A* a, int64_t n, int16_t best, uint8_t* out, int64_t stride) {
  const double m = load(a[best]);
  if (!std::isfinite(m)) {  // infinite sums (binary16 overflow): all mass on the argmax
    for (int64_t c = 0; c < n; ++c) out[c * stride] = c == best ? 255 : 0;
    return;
  }
  double sum = 0;
  for (int64_t c = 0; c < n; ++c) {
    const double x = load(a[c]);
    if (!std::isnan(x)) sum += std::exp(x - m);
  }
  for (int64_t c = 0; c < n; ++c) {
    const double x = load(a[c]);
    const double p = std::isnan(x) ? 0.0 : std::exp(x - m) / sum;
    out[c * stride] = uint8_t(std::nearbyint(255.0 * p));
  }
}

template <class A>
Segmentation run(std::span<const SegmenterView> views, std::span<const uint8_t> volume,
                 const std::array<int64_t, 3>& d, const mca::ArithConfig& arith,
                 const SegmentOptions& opt) {
  const int64_t C = views[0].net->config().classes;
  const int T = views[0].net->config().in_channels;
  const int64_t nvox = d[0] * d[1] * d[2];
  const Box box = foreground_box(volume, d, opt.crop);
  const int64_t bx = box.extent(0), by = box.extent(1);

  Segmentation out;
  out.box_voxels = box.voxels();
  std::vector<A> acc(size_t(out.box_voxels * C), store<A>(0.0f));
  out.accumulator_bytes = int64_t(acc.size() * sizeof(A));

  // The views in the fixed order axial, coronal, sagittal.
  std::vector<size_t> order(views.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return views[a].code < views[b].code; });
  const std::vector<double> weights = view_weights(views);

  auto coords = [&](int64_t v) {
    return std::array<int64_t, 3>{v % d[0], v / d[0] % d[1], v / (d[0] * d[1])};
  };
  auto in_box = [&](const std::array<int64_t, 3>& c) {
    return c[0] >= box.lo[0] && c[0] < box.hi[0] && c[1] >= box.lo[1] && c[1] < box.hi[1] &&
           c[2] >= box.lo[2] && c[2] < box.hi[2];
  };

  mca::with_policy(arith, [&](auto pol) {
    for (size_t oi : order) {
      const SegmenterView& V = views[oi];
      const float w = float(weights[oi]);
      FastSurferNet<float>& net = *V.net;
      const int64_t H = net.config().padded_extent(V.rows);
      const int64_t W = net.config().padded_extent(V.cols);
      // Planes meeting the box: a plane spans its two in-plane axes fully, so it meets the box
      // when its corner-to-corner range does on the third axis (and on all three).
      int64_t first = V.planes, last = -1;
      for (int64_t p = 0; p < V.planes && out.box_voxels > 0; ++p) {
        const auto c0 = coords(p * V.plane_stride);
        const auto c1 =
            coords(p * V.plane_stride + (V.rows - 1) * V.row_stride + (V.cols - 1) * V.col_stride);
        bool meets = true;
        for (size_t a = 0; a < 3; ++a) meets = meets && c0[a] < box.hi[a] && c1[a] >= box.lo[a];
        if (meets) first = std::min(first, p), last = p;
      }
      if (last < first) continue;
      const int64_t count = last - first + 1;
      const int64_t batches = (count + opt.batch - 1) / opt.batch;
      if (batches > int64_t(kMaxSegmentBatches))
        throw ConfigError("segmenter: " + std::to_string(batches) +
                          " batches in one view exceed the step counter's " +
                          std::to_string(kMaxSegmentBatches) + " (use a larger batch)");
      std::vector<uint8_t> slice(size_t(T * H * W));
      for (int64_t b = 0; b < batches; ++b) {
        const int64_t p0 = first + b * opt.batch;
        const int64_t n = std::min<int64_t>(opt.batch, last + 1 - p0);
        Tensor<float> x = Tensor<float>::empty({n, T, H, W});
        for (int64_t q = 0; q < n; ++q) {
          V.thick_slice(p0 + q, slice, H, W);
          float* dst = x.data() + q * T * H * W;
          for (size_t e = 0; e < slice.size(); ++e) dst[e] = input_intensity(slice[e]);
        }
        const uint32_t step = opt.subject << 17 | uint32_t(V.code) << 15 | uint32_t(b);
        const Pass pass{false, kInferenceMicro, step, true};
        const Tensor<float>& logits = net.forward(pol, pass, x);
        const float* lg = logits.data();
        // Each voxel is one pixel of one plane of this view: rows scatter without conflicts.
#pragma omp parallel for collapse(2) schedule(static)
        for (int64_t q = 0; q < n; ++q)
          for (int64_t r = 0; r < V.rows; ++r) {
            const int64_t p = p0 + q;
            for (int64_t c = 0; c < V.cols; ++c) {
              const auto ijk = coords(p * V.plane_stride + r * V.row_stride + c * V.col_stride);
              if (!in_box(ijk)) continue;
              const int64_t slot =
                  (ijk[0] - box.lo[0]) + bx * ((ijk[1] - box.lo[1]) + by * (ijk[2] - box.lo[2]));
              A* a = acc.data() + slot * C;
              const float* l = lg + q * C * H * W + r * W + c;
              for (int64_t k = 0; k < C; ++k) a[k] = store<A>(load(a[k]) + w * l[k * H * W]);
            }
          }
      }
    }
  });

  // Argmax (and probabilities) over the volume in blocks of voxels.
  out.classes.assign(size_t(nvox), 0);
  const bool probs = bool(opt.probs);
  const int64_t block = probs ? opt.probs_block_voxels : nvox;
  std::vector<uint8_t> pbuf;
  for (int64_t v0 = 0; v0 < nvox; v0 += block) {
    const int64_t nb = std::min(block, nvox - v0);
    if (probs) pbuf.assign(size_t(C * nb), 0);
#pragma omp parallel for schedule(static)
    for (int64_t u = 0; u < nb; ++u) {
      const auto ijk = coords(v0 + u);
      int16_t best = 0;
      if (in_box(ijk)) {
        const int64_t slot =
            (ijk[0] - box.lo[0]) + bx * ((ijk[1] - box.lo[1]) + by * (ijk[2] - box.lo[2]));
        const A* a = acc.data() + slot * C;
        best = argmax(a, C);
        if (probs) quantise_probs(a, C, best, pbuf.data() + u, nb);
      } else if (probs) {
        pbuf[size_t(u)] = 255;  // outside the box: background with certainty
      }
      out.classes[size_t(v0 + u)] = best;
    }
    if (probs) opt.probs(v0, nb, pbuf);
  }
  return out;
}

}  // namespace

Segmentation segment(std::span<const SegmenterView> views, std::span<const uint8_t> volume,
                     const std::array<int64_t, 3>& dims, const mca::ArithConfig& arith,
                     const SegmentOptions& opt) {
  arith.validate();
  if (views.empty() || views.size() > 3) throw ConfigError("segmenter: needs 1 to 3 views");
  if (opt.batch < 1 || opt.batch > 1024)
    throw ConfigError("segmenter: batch " + std::to_string(opt.batch) + " is not in 1..1024");
  if (opt.subject >= kMaxSegmentSubjects)
    throw ConfigError("segmenter: subject index " + std::to_string(opt.subject) +
                      " exceeds the step counter's " + std::to_string(kMaxSegmentSubjects) +
                      " subjects");
  if (opt.probs && opt.probs_block_voxels < 1)
    throw ConfigError("segmenter: probs_block_voxels must be >= 1 when probabilities are asked");
  for (int a = 0; a < 3; ++a)
    if (dims[size_t(a)] < 1) throw ShapeError("segmenter: volume dimensions must be >= 1");
  const int64_t nvox = dims[0] * dims[1] * dims[2];
  if (int64_t(volume.size()) != nvox)
    throw ShapeError("segmenter: volume has " + std::to_string(volume.size()) +
                     " voxels, dims need " + std::to_string(nvox));
  bool seen[3] = {false, false, false};
  for (const auto& v : views) {
    if (!v.net || !v.thick_slice) throw ConfigError("segmenter: a view has no network or slicer");
    if (v.code < 0 || v.code > 2 || seen[v.code])
      throw ConfigError("segmenter: view codes must be distinct and in 0..2");
    seen[v.code] = true;
    const NetConfig& c = v.net->config();
    const NetConfig& c0 = views[0].net->config();
    if (c.classes != c0.classes || c.in_channels != c0.in_channels)
      throw ConfigError("segmenter: the views' networks disagree on classes (" +
                        std::to_string(c.classes) + " vs " + std::to_string(c0.classes) +
                        ") or input channels (" + std::to_string(c.in_channels) + " vs " +
                        std::to_string(c0.in_channels) + ")");
    if (v.planes * v.rows * v.cols != nvox || v.planes < 1 || v.rows < 1 || v.cols < 1 ||
        (v.planes - 1) * v.plane_stride + (v.rows - 1) * v.row_stride +
                (v.cols - 1) * v.col_stride !=
            nvox - 1)
      throw ShapeError("segmenter: a view's plane layout does not cover the volume");
  }
  if (views[0].net->config().classes > 32767)
    throw ConfigError("segmenter: more classes than int16 class indices hold");
  return opt.accumulator == Accumulator::float16 ? run<uint16_t>(views, volume, dims, arith, opt)
                                                 : run<float>(views, volume, dims, arith, opt);
}

}  // namespace numens::nn
