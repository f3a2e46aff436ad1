// io/synth: the distance transform against brute force, the tissue k-means, the AAL merge, and
// properties of synthetic subjects on the phantom (fast, needs no package): determinism in seed
// and thread count, atrophy that only relabels inside the head, volumes that move with age the
// way the model says, and age effects strong enough to survive the individual variation.
#include <doctest/doctest.h>
#include <omp.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "io/png.hpp"
#include "io/preview.hpp"
#include "io/synth/edt.hpp"
#include "io/synth/labels.hpp"
#include "io/synth/random.hpp"
#include "io/synth/synth.hpp"
#include "tests/io/tmpdir.hpp"

using namespace numens::io;
using namespace numens::io::synth;
namespace fs = std::filesystem;

namespace {

SynthOptions phantom_options(std::uint32_t seed = 7, double variation = 1.0) {
  SynthOptions o;
  o.template_name = "phantom";
  o.phantom_voxel = 2.0;
  o.voxel_size = 3.0;
  o.seed = seed;
  o.variation = variation;
  o.subjects = 40;
  return o;
}

double sum_of(const std::vector<double>& v, const std::vector<std::int16_t>& labels) {
  double s = 0;
  for (auto l : labels) s += v[*label_index(l)];
  return s;
}
double tiv_of(const std::vector<double>& v) {
  double s = 0;
  for (std::size_t i = 1; i < v.size(); ++i) s += v[i];
  return s;
}
double pearson(const std::vector<double>& x, const std::vector<double>& y) {
  double mx = 0, my = 0;
  for (std::size_t i = 0; i < x.size(); ++i) mx += x[i], my += y[i];
  mx /= double(x.size());
  my /= double(y.size());
  double sxy = 0, sxx = 0, syy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  return sxy / std::sqrt(sxx * syy);
}

}  // namespace

TEST_CASE("distance transform equals brute force, with a nearest feature at that distance") {
  const std::array<std::int64_t, 3> d{13, 9, 7};
  const std::array<double, 3> sp{1.0, 1.5, 2.5};
  const std::size_t n = std::size_t(d[0] * d[1] * d[2]);
  const Rng rng(3, 0, Site::texture);
  std::vector<std::uint8_t> f(n);
  for (std::size_t v = 0; v < n; ++v) f[v] = rng.uniform(v) < 0.04;
  const DistanceMap m = distance_transform(f, d, sp);
  auto coord = [&](std::size_t v, int a) {
    const std::int64_t c[3] = {std::int64_t(v) % d[0], (std::int64_t(v) / d[0]) % d[1],
                               std::int64_t(v) / (d[0] * d[1])};
    return double(c[a]) * sp[std::size_t(a)];
  };
  auto dist = [&](std::size_t a, std::size_t b) {
    double s = 0;
    for (int k = 0; k < 3; ++k) s += (coord(a, k) - coord(b, k)) * (coord(a, k) - coord(b, k));
    return std::sqrt(s);
  };
  for (std::size_t v = 0; v < n; ++v) {
    double best = INFINITY;
    for (std::size_t w = 0; w < n; ++w)
      if (f[w]) best = std::min(best, dist(v, w));
    REQUIRE(m.near[v] >= 0);
    CHECK(m.dist[v] == doctest::Approx(best).epsilon(1e-6));
    CHECK(f[std::size_t(m.near[v])]);
    CHECK(dist(v, std::size_t(m.near[v])) == doctest::Approx(best).epsilon(1e-6));
  }
}

TEST_CASE("k-means on a three-mode histogram finds the modes") {
  std::vector<double> h(256, 0.0);
  const double modes[3] = {40, 90, 130};
  for (int v = 0; v < 256; ++v)
    for (double m : modes) h[std::size_t(v)] += 1000.0 * std::exp(-0.5 * (v - m) * (v - m) / 25.0);
  const auto means = kmeans_histogram(h, 3);
  REQUIRE(means.size() == 3);
  for (int c = 0; c < 3; ++c)
    CHECK(means[std::size_t(c)] == doctest::Approx(modes[c]).epsilon(0.01));
}

TEST_CASE("AAL names merge into the label set, every AAL region of mricron-data included") {
  CHECK(merge_aal("Hippocampus_L") == lbl::kHippL);
  CHECK(merge_aal("Precentral_R") == lbl::lobe(false, lbl::kFrontal));
  CHECK(merge_aal("Cerebelum_Crus1_L") == lbl::kCbCtxL);
  CHECK(merge_aal("Vermis_1_2") == lbl::kVermis);
  CHECK_FALSE(merge_aal("Nucleus_Accumbens_L").has_value());
  const fs::path txt = kMricronTemplates / "aal.nii.txt";
  if (!fs::exists(txt)) return;
  std::ifstream in(txt);
  int index, code, count = 0;
  std::string name;
  while (in >> index >> name >> code) {
    INFO(name);
    CHECK(merge_aal(name).has_value());
    ++count;
  }
  CHECK(count == 116);
}

TEST_CASE("options are validated with one clear error each") {
  SynthOptions o = phantom_options();
  o.subjects = 0;
  CHECK_THROWS_AS(o.validate(), numens::ConfigError);
  o = phantom_options();
  o.voxel_size = 0.1;
  CHECK_THROWS_AS(o.validate(), numens::ConfigError);
  o = phantom_options();
  o.template_name = "mni";
  CHECK_THROWS_AS(o.validate(), numens::ConfigError);
  o = phantom_options();
  o.template_name = "colin27";
  o.template_dir = "/nonexistent/numens/templates";
  try {
    (void)load_template(o);
    FAIL("no error for a missing template directory");
  } catch (const IoError& e) {
    CHECK(std::string(e.what()).find("mricron-data") != std::string::npos);
    CHECK(std::string(e.what()).find("ch2.nii.gz") != std::string::npos);
  }
}

TEST_CASE("phantom subjects: deterministic in seed, independent of thread count") {
  const SynthOptions opt = phantom_options();
  const Synthesizer a(make_phantom(2.0), opt);
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const Subject s1 = a.make(3);
  omp_set_num_threads(2);
  const Subject s2 = a.make(3);
  omp_set_num_threads(threads);
  CHECK(s1.t1 == s2.t1);
  CHECK(s1.labels == s2.labels);
  CHECK(s1.info.age == s2.info.age);
  // Subject 3 does not depend on the subjects before it, nor on the cohort size.
  SynthOptions more = opt;
  more.subjects = 400;
  const Synthesizer b(make_phantom(2.0), more);
  CHECK(b.make(3).t1 == s1.t1);
  // Another seed gives another subject.
  const Synthesizer c(make_phantom(2.0), phantom_options(8));
  const Subject s3 = c.make(3);
  CHECK(s3.t1 != s1.t1);
  CHECK(s3.info.age != s1.info.age);
  // Labels are all in the LUT, the T1 is not flat.
  for (auto l : s1.labels) REQUIRE(label_index(l).has_value());
  std::size_t bright = 0;
  for (auto x : s1.t1) bright += x > 60;
  CHECK(bright > s1.t1.size() / 10);
  CHECK(s1.info.geometry.voxel_size[0] == 3.0);
}

TEST_CASE("atrophy relabels inside the head only, and moves volumes the way the model says") {
  const Synthesizer syn(make_phantom(2.0), phantom_options(11, 0.0));
  SubjectParams young = syn.draw(0);
  young.age = 25;
  young.contrast_loss = 0;
  SubjectParams old = young;
  old.age = 85;
  const Subject y = syn.make(0, young), o = syn.make(0, old);
  std::size_t in_y = 0, in_o = 0;
  for (std::size_t v = 0; v < y.labels.size(); ++v) {
    in_y += y.labels[v] != 0;
    in_o += o.labels[v] != 0;
  }
  // Atrophy converts tissue to CSF inside the intracranial mask: the mask itself is unchanged.
  CHECK(in_y == in_o);
  const auto vy = label_volumes(y), vo = label_volumes(o);
  using namespace lbl;
  // Expected change from the model's own factors between 25 and 85; the realised one on a 3 mm
  // grid must have the same sign and at least half the size (voxels are coarse).
  const std::pair<std::vector<std::int16_t>, std::int16_t> regions[] = {
      {{kHippL, kHippR}, kHippL},
      {{kWmL, kWmR}, kWmL},
      {{kThalL, kThalR}, kThalL},
      {{kCbCtxL, kCbCtxR}, kCbCtxL},
      {{lobe(true, kFrontal), lobe(false, kFrontal)}, lobe(true, kFrontal)}};
  for (const auto& region : regions) {
    // plain variables: doctest's INFO captures in a lambda, which clang 14 refuses for bindings
    const std::vector<std::int16_t>& labels = region.first;
    const std::int16_t rep = region.second;
    const double expect = age_volume_factor(rep, 85) / age_volume_factor(rep, 25);
    const double got = sum_of(vo, labels) / sum_of(vy, labels);
    INFO("label " << rep << ": expected factor " << expect << ", got " << got);
    CHECK(got < 1.0);
    CHECK(1.0 - got > 0.5 * (1.0 - expect));
  }
  CHECK(sum_of(vo, {kVentL, kVentR}) > 1.5 * sum_of(vy, {kVentL, kVentR}));
  CHECK(sum_of(vo, {kCsf}) > sum_of(vy, {kCsf}));
}

TEST_CASE("ventricles: a young adult's are about 1% of the head, and grow 2-4x by 80") {
  // Without individual variation the ventricles follow the model alone: scaled from the
  // template's to kYoungVentFraction (1%) of the intracranial volume at 20 (the phantom's are
  // smaller than that, Colin27's larger), then enlarged by age_volume_factor (2.44x at 80).
  const Synthesizer syn(make_phantom(2.0), phantom_options(11, 0.0));
  SubjectParams p = syn.draw(0);
  using namespace lbl;
  auto fraction = [&](double age) {
    p.age = age;
    const auto v = label_volumes(syn.make(0, p));
    return sum_of(v, {kVentL, kVentR}) / tiv_of(v);
  };
  const double young = fraction(20), old = fraction(80);
  CHECK(young == doctest::Approx(0.010).epsilon(0.15));
  const double expect = age_volume_factor(kVentL, 80);
  CHECK(expect == doctest::Approx(2.44).epsilon(0.01));
  CHECK(old / young == doctest::Approx(expect).epsilon(0.15));
}

TEST_CASE("phantom cohort: age effects survive the individual variation") {
  const SynthOptions opt = phantom_options(5, 1.0);
  const Synthesizer syn(make_phantom(2.0), opt);
  std::vector<double> age, hip, vent, wm, ctx;
  using namespace lbl;
  for (std::size_t i = 0; i < opt.subjects; ++i) {
    const Subject s = syn.make(i);
    const auto v = label_volumes(s);
    const double tiv = tiv_of(v);
    age.push_back(s.info.age);
    hip.push_back(sum_of(v, {kHippL, kHippR}) / tiv);
    vent.push_back(sum_of(v, {kVentL, kVentR}) / tiv);
    wm.push_back(sum_of(v, {kWmL, kWmR}) / tiv);
    double c = 0;
    for (std::int16_t l = 1; l <= 6; ++l)
      c += sum_of(v, {lobe(true, Lobe(l)), lobe(false, Lobe(l))});
    ctx.push_back(c / tiv);
  }
  // The model's age signal (hippocampus -35% from 20 to 90, cortex -25%) against the variation
  // (sizes 7%, ageing speed 25% + 20%): r about -0.75 expected for hippocampus, stronger for the
  // cortex; with 40 subjects the standard error of r is about 0.1, hence -0.5 as the bound.
  CHECK(pearson(age, hip) < -0.5);
  CHECK(pearson(age, ctx) < -0.5);
  CHECK(pearson(age, wm) < -0.3);   // WM declines only after 40
  CHECK(pearson(age, vent) > 0.4);  // ventricles vary most between people
  // And the variation is real: not a deterministic function of age.
  CHECK(pearson(age, hip) > -0.99);
}

TEST_CASE("preview renders a slice with labels and writes a PNG") {
  const Synthesizer syn(make_phantom(2.0), phantom_options());
  const Subject s = syn.make(1);
  const Image plain = render_slice(s, synth_label_table(), View::coronal, -1, false);
  const Image lab = render_slice(s, synth_label_table(), View::coronal, -1, true);
  CHECK(plain.width >= 256);
  CHECK(plain.rgb.size() == std::size_t(plain.width * plain.height * 3));
  CHECK(plain.rgb != lab.rgb);
  CHECK_THROWS_AS(render_slice(s, synth_label_table(), View::axial, 100000, false),
                  numens::ConfigError);
  numens::io::testing::TempDir dir;
  write_png_rgb(dir / "x.png", lab.width, lab.height, lab.rgb);
  std::ifstream in(dir / "x.png", std::ios::binary);
  char magic[8] = {};
  in.read(magic, 8);
  CHECK(std::string(magic + 1, 3) == "PNG");
  CHECK(dir.entries() == 1);
}
