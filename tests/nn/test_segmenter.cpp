// The 3-view segmenter: binary16 conversions; view weights; a one-view run is the argmax of that
// view's logits; two views are the weighted sum in the documented order; three views that see the
// same logits give the labels of one; results independent of threads and batch size (ieee);
// sr reproducible per seed and different across seeds; the foreground box; refusals.
#include <doctest/doctest.h>
#include <omp.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "io/slices.hpp"
#include "mca/dispatch.hpp"
#include "nn/segmenter.hpp"
#include "nn/sites.hpp"

using namespace numens;
using namespace numens::nn;

namespace {

constexpr std::array<int64_t, 3> kDims{18, 22, 13};  // not multiples of 4: planes get padded

// A blob of varying intensity in a zero margin (the foreground box is [2,16) x [3,20) x [1,12)).
std::vector<uint8_t> phantom_volume() {
  std::vector<uint8_t> v(size_t(kDims[0] * kDims[1] * kDims[2]), 0);
  for (int64_t k = 1; k < 12; ++k)
    for (int64_t j = 3; j < 20; ++j)
      for (int64_t i = 2; i < 16; ++i)
        v[size_t(i + kDims[0] * (j + kDims[1] * k))] =
            uint8_t(1 + (i * 37 + j * 11 + k * 53 + i * j * 7) % 250);
  return v;
}

NetConfig net_config(int classes = 5) {
  return NetConfig{3, 4, 3, 3, 2, classes, 0};
}

std::unique_ptr<FastSurferNet<float>> make_net(uint32_t seed, int classes = 5) {
  auto n = std::make_unique<FastSurferNet<float>>(net_config(classes));
  n->init(seed);
  return n;
}

SegmenterView make_view(io::View v, FastSurferNet<float>* net, const std::vector<uint8_t>& vol,
                        io::View cut_as) {
  const io::PlaneLayout L = io::plane_layout(cut_as, kDims);
  SegmenterView s;
  s.code = int(v);
  s.net = net;
  s.planes = L.planes, s.rows = L.rows, s.cols = L.cols;
  s.plane_stride = L.plane_stride, s.row_stride = L.row_stride, s.col_stride = L.col_stride;
  const int T = net->config().in_channels;
  s.thick_slice = [&vol, cut_as, T](int64_t p, std::span<uint8_t> out, int64_t r, int64_t c) {
    io::thick_slice(vol, kDims, cut_as, p, T, out, r, c);
  };
  return s;
}
SegmenterView make_view(io::View v, FastSurferNet<float>* net, const std::vector<uint8_t>& vol) {
  return make_view(v, net, vol, v);
}

// Logits of every voxel (voxel-major, C per voxel) of one view, one plane per forward.
std::vector<float> view_logits(const SegmenterView& V, int C) {
  const int64_t H = (V.rows + 3) / 4 * 4, W = (V.cols + 3) / 4 * 4;
  const int T = V.net->config().in_channels;
  std::vector<float> out(size_t(V.planes * V.rows * V.cols * C));
  std::vector<uint8_t> slice(size_t(T * H * W));
  mca::ArithConfig ieee;
  mca::with_policy(ieee, [&](auto pol) {
    for (int64_t p = 0; p < V.planes; ++p) {
      V.thick_slice(p, slice, H, W);
      Tensor<float> x = Tensor<float>::empty({1, T, H, W});
      for (size_t e = 0; e < slice.size(); ++e) x.data()[e] = float(slice[e]) / 255.0f;
      const Tensor<float>& l = V.net->forward(pol, Pass{false, kInferenceMicro, 0, true}, x);
      for (int64_t r = 0; r < V.rows; ++r)
        for (int64_t c = 0; c < V.cols; ++c) {
          const int64_t vox = p * V.plane_stride + r * V.row_stride + c * V.col_stride;
          for (int k = 0; k < C; ++k) out[size_t(vox * C + k)] = l.at(0, k, r, c);
        }
    }
  });
  return out;
}

template <class F>
std::vector<int16_t> argmax_map(int64_t nvox, int C, F&& value) {
  std::vector<int16_t> m(static_cast<size_t>(nvox));
  for (int64_t v = 0; v < nvox; ++v) {
    int best = 0;
    for (int k = 1; k < C; ++k)
      if (value(v, k) > value(v, best)) best = k;
    m[size_t(v)] = int16_t(best);
  }
  return m;
}

double agreement(const std::vector<int16_t>& a, const std::vector<int16_t>& b) {
  size_t same = 0;
  for (size_t i = 0; i < a.size(); ++i) same += a[i] == b[i];
  return double(same) / double(a.size());
}

struct Run {
  std::vector<int16_t> classes;
  std::vector<uint8_t> probs;
};

Run run(std::span<const SegmenterView> views, const std::vector<uint8_t>& vol,
        const mca::ArithConfig& arith, SegmentOptions opt) {
  Run r;
  const int64_t nvox = int64_t(vol.size());
  const int C = views[0].net->config().classes;
  r.probs.assign(size_t(C * nvox), 0);
  opt.probs = [&](int64_t first, int64_t count, std::span<const uint8_t> p) {
    for (int k = 0; k < C; ++k)
      std::memcpy(r.probs.data() + k * nvox + first, p.data() + k * count, size_t(count));
  };
  opt.probs_block_voxels = kDims[0] * kDims[1] * 4;  // blocks of 4 z-planes, the last partial
  r.classes = segment(views, vol, kDims, arith, opt).classes;
  return r;
}

}  // namespace

TEST_CASE("nn segmenter: binary16 conversions round to nearest even") {
  CHECK(to_half(1.0f) == 0x3C00);
  CHECK(to_half(-2.0f) == 0xC000);
  CHECK(to_half(65504.0f) == 0x7BFF);
  CHECK(to_half(65519.0f) == 0x7BFF);
  CHECK(to_half(65520.0f) == 0x7C00);  // rounds up into infinity
  CHECK(to_half(0x1p-24f) == 0x0001);  // smallest subnormal
  CHECK(to_half(0x1p-25f) == 0x0000);  // half of it: tie to even (zero)
  CHECK(to_half(0x1.8p-25f) == 0x0001);
  CHECK(to_half(1.0f + 0x1p-11f) == 0x3C00);      // tie, even stays
  CHECK(to_half(1.0f + 3 * 0x1p-11f) == 0x3C02);  // tie, odd rounds up
  CHECK(to_half(1.0f + 0x1p-11f + 0x1p-20f) == 0x3C01);
  CHECK(std::isnan(from_half(to_half(std::nanf("")))));
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = from_half(uint16_t(h));
    REQUIRE(std::bit_cast<uint32_t>(f) ==
            std::bit_cast<uint32_t>(from_half_reference(uint16_t(h))));
    if (!std::isnan(f)) REQUIRE(to_half(f) == h);
  }
  // the hardware path (where built) and the reference agree on every float pattern tried
  uint32_t x = 12345;
  for (int n = 0; n < 1 << 20; ++n) {
    x = x * 1664525u + 1013904223u;  // all exponents and mantissas, both signs
    const float f = std::bit_cast<float>(x);
    REQUIRE(to_half(f) == to_half_reference(f));
  }
  for (float f : {0.0f, -0.0f, 65504.0f, 65520.0f, 0x1p-24f, 0x1p-25f, 0x1.8p-25f, 1e-30f,
                  std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                  std::numeric_limits<float>::denorm_min()})
    CHECK(to_half(f) == to_half_reference(f));
}

TEST_CASE("nn segmenter: view weights are MODEL.md's, renormalised over the views present") {
  const std::vector<uint8_t> vol = phantom_volume();
  auto net = make_net(1);
  std::vector<SegmenterView> v{make_view(io::View::sagittal, net.get(), vol)};
  CHECK(view_weights(v) == std::vector<double>{1.0});
  v.push_back(make_view(io::View::axial, net.get(), vol));
  CHECK(view_weights(v)[0] == doctest::Approx(1.0 / 3));
  CHECK(view_weights(v)[1] == doctest::Approx(2.0 / 3));
  v.push_back(make_view(io::View::coronal, net.get(), vol));
  CHECK(view_weights(v)[0] == doctest::Approx(0.2));
  CHECK(view_weights(v)[2] == doctest::Approx(0.4));
}

TEST_CASE("nn segmenter: one view is the argmax of its logits; two are their weighted sum") {
  const std::vector<uint8_t> vol = phantom_volume();
  const int64_t nvox = int64_t(vol.size());
  const int C = 5;
  auto net_a = make_net(11), net_s = make_net(12);
  const SegmenterView ax = make_view(io::View::axial, net_a.get(), vol);
  const SegmenterView sg = make_view(io::View::sagittal, net_s.get(), vol);
  const std::vector<float> la = view_logits(ax, C), ls = view_logits(sg, C);
  mca::ArithConfig ieee;
  SegmentOptions opt;
  opt.crop = false;

  opt.accumulator = Accumulator::float32;
  const SegmenterView one[] = {ax};
  CHECK(segment(one, vol, kDims, ieee, opt).classes ==
        argmax_map(nvox, C, [&](int64_t v, int k) { return la[size_t(v * C + k)]; }));
  // binary16: the argmax of the logits rounded to binary16 (ties to the lowest class)
  opt.accumulator = Accumulator::float16;
  const auto f16 = segment(one, vol, kDims, ieee, opt).classes;
  CHECK(f16 == argmax_map(nvox, C, [&](int64_t v, int k) {
          return from_half(to_half(la[size_t(v * C + k)]));
        }));

  // axial 0.4 and sagittal 0.2, renormalised to 2/3 and 1/3, added in that order
  const SegmenterView two[] = {sg, ax};  // given in any order
  const float wa = float(0.4 / (0.4 + 0.2)), ws = float(0.2 / (0.4 + 0.2));
  opt.accumulator = Accumulator::float32;
  CHECK(segment(two, vol, kDims, ieee, opt).classes == argmax_map(nvox, C, [&](int64_t v, int k) {
          const float a = 0.0f + wa * la[size_t(v * C + k)];
          return a + ws * ls[size_t(v * C + k)];
        }));
  opt.accumulator = Accumulator::float16;
  CHECK(segment(two, vol, kDims, ieee, opt).classes == argmax_map(nvox, C, [&](int64_t v, int k) {
          const float a = from_half(to_half(0.0f + wa * la[size_t(v * C + k)]));
          return from_half(to_half(a + ws * ls[size_t(v * C + k)]));
        }));
}

TEST_CASE("nn segmenter: three views seeing the same logits give the labels of one") {
  const std::vector<uint8_t> vol = phantom_volume();
  auto net = make_net(21);
  // All three cut the volume as axial planes, so every view adds the same logits.
  const SegmenterView three[] = {make_view(io::View::axial, net.get(), vol, io::View::axial),
                                 make_view(io::View::coronal, net.get(), vol, io::View::axial),
                                 make_view(io::View::sagittal, net.get(), vol, io::View::axial)};
  const SegmenterView one[] = {three[0]};
  mca::ArithConfig ieee;
  SegmentOptions opt;
  opt.accumulator = Accumulator::float32;
  // 0.4 l + 0.4 l + 0.2 l equals l up to a few float32 roundings: only exact ties could flip.
  CHECK(segment(three, vol, kDims, ieee, opt).classes ==
        segment(one, vol, kDims, ieee, opt).classes);
  opt.accumulator = Accumulator::float16;
  // binary16 rounding after each view may flip voxels whose top two logits are within ~1e-3
  CHECK(agreement(segment(three, vol, kDims, ieee, opt).classes,
                  segment(one, vol, kDims, ieee, opt).classes) > 0.99);
}

TEST_CASE("nn segmenter: ieee results do not depend on threads or batch size") {
  const std::vector<uint8_t> vol = phantom_volume();
  auto a = make_net(31), c = make_net(32), s = make_net(33);
  const SegmenterView views[] = {make_view(io::View::axial, a.get(), vol),
                                 make_view(io::View::coronal, c.get(), vol),
                                 make_view(io::View::sagittal, s.get(), vol)};
  mca::ArithConfig ieee;
  SegmentOptions opt;
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  opt.batch = 1;
  const Run r1 = run(views, vol, ieee, opt);
  omp_set_num_threads(2);
  opt.batch = 5;
  const Run r2 = run(views, vol, ieee, opt);
  opt.batch = 64;
  const Run r3 = run(views, vol, ieee, opt);
  omp_set_num_threads(threads);
  CHECK(r1.classes == r2.classes);
  CHECK(r1.probs == r2.probs);
  CHECK(r1.classes == r3.classes);
  CHECK(r1.probs == r3.probs);
  // probabilities of a voxel sum to about 255 (each class rounded separately)
  const int64_t nvox = int64_t(vol.size());
  for (int64_t v = 0; v < nvox; v += 97) {
    int sum = 0;
    for (int k = 0; k < 5; ++k) sum += r1.probs[size_t(k * nvox + v)];
    CHECK(std::abs(sum - 255) <= 3);
  }
}

TEST_CASE("nn segmenter: sr is reproducible for a seed and differs across seeds") {
  const std::vector<uint8_t> vol = phantom_volume();
  auto a = make_net(41), s = make_net(42);
  const SegmenterView views[] = {make_view(io::View::axial, a.get(), vol),
                                 make_view(io::View::sagittal, s.get(), vol)};
  mca::ArithConfig sr;
  sr.mode = mca::Mode::sr;
  sr.t32 = 8;
  sr.seed = 1;
  SegmentOptions opt;
  opt.subject = 3;
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const Run r1 = run(views, vol, sr, opt);
  omp_set_num_threads(2);
  const Run r1b = run(views, vol, sr, opt);
  omp_set_num_threads(threads);
  CHECK(r1.classes == r1b.classes);
  CHECK(r1.probs == r1b.probs);
  sr.seed = 2;
  const Run r2 = run(views, vol, sr, opt);
  CHECK(r1.probs != r2.probs);
  // another subject index draws other numbers too
  sr.seed = 1;
  opt.subject = 4;
  CHECK(run(views, vol, sr, opt).probs != r1.probs);
}

TEST_CASE("nn segmenter: outside the box of non-zero voxels is background with certainty") {
  const std::vector<uint8_t> vol = phantom_volume();
  auto a = make_net(51), c = make_net(52);
  const SegmenterView views[] = {make_view(io::View::axial, a.get(), vol),
                                 make_view(io::View::coronal, c.get(), vol)};
  mca::ArithConfig ieee;
  SegmentOptions opt;
  const Run crop = run(views, vol, ieee, opt);
  opt.crop = false;
  const Run full = run(views, vol, ieee, opt);
  const int64_t nvox = int64_t(vol.size());
  int64_t outside = 0;
  for (int64_t k = 0; k < kDims[2]; ++k)
    for (int64_t j = 0; j < kDims[1]; ++j)
      for (int64_t i = 0; i < kDims[0]; ++i) {
        const int64_t v = i + kDims[0] * (j + kDims[1] * k);
        const bool in = i >= 2 && i < 16 && j >= 3 && j < 20 && k >= 1 && k < 12;
        if (in) {
          REQUIRE(crop.classes[size_t(v)] == full.classes[size_t(v)]);
        } else {
          ++outside;
          REQUIRE(crop.classes[size_t(v)] == 0);
          REQUIRE(crop.probs[size_t(v)] == 255);
          REQUIRE(crop.probs[size_t(nvox + v)] == 0);
        }
      }
  CHECK(outside == nvox - 14 * 17 * 11);
  SegmentOptions o2;
  CHECK(segment(views, vol, kDims, ieee, o2).box_voxels == 14 * 17 * 11);
  CHECK(segment(views, vol, kDims, ieee, o2).accumulator_bytes == 14 * 17 * 11 * 5 * 2);
}

TEST_CASE("nn segmenter: refuses mismatched models and counter overflow") {
  const std::vector<uint8_t> vol = phantom_volume();
  auto a = make_net(61), other = make_net(62, 6);
  const SegmenterView mixed[] = {make_view(io::View::axial, a.get(), vol),
                                 make_view(io::View::coronal, other.get(), vol)};
  mca::ArithConfig ieee;
  SegmentOptions opt;
  CHECK_THROWS_AS(segment(mixed, vol, kDims, ieee, opt), ConfigError);
  const SegmenterView one[] = {mixed[0]};
  opt.subject = kMaxSegmentSubjects;
  CHECK_THROWS_AS(segment(one, vol, kDims, ieee, opt), ConfigError);
  opt.subject = 0;
  opt.batch = 0;
  CHECK_THROWS_AS(segment(one, vol, kDims, ieee, opt), ConfigError);
  opt.batch = 8;
  const SegmenterView twice[] = {mixed[0], mixed[0]};
  CHECK_THROWS_AS(segment(twice, vol, kDims, ieee, opt), ConfigError);
  const std::array<int64_t, 3> wrong{18, 22, 12};
  CHECK_THROWS_AS(segment(one, std::span<const uint8_t>(vol).first(18 * 22 * 12), wrong, ieee, opt),
                  ShapeError);
}
