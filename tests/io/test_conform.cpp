// io/conform and io/import on real files: Colin27 (uint8, 1 mm RAS), the ITK KmeansTest T1 and
// its segmentation (int16/uint8, 2x2x3 mm, permuted axes) and nibabel's anatomical.nii
// (big-endian int16, negative values). Expected numbers come from nibabel + numpy + scipy
// (tests/fixtures/make_conform_expected.py -> conform_expected.hpp) or hold by construction
// (a linear function survives trilinear resampling; re-indexing is exact). The Debian data
// packages are installed by scripts/install-deps.sh; a missing file fails naming its package.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "io/cohort.hpp"
#include "io/conform.hpp"
#include "io/export.hpp"
#include "io/import.hpp"
#include "io/nifti.hpp"
#include "tests/fixtures/conform_expected.hpp"
#include "tests/io/tmpdir.hpp"

using namespace numens::io;
using numens::io::testing::TempDir;
namespace fs = std::filesystem;

namespace {

const fs::path kCh2 = "/usr/share/mricron/templates/ch2.nii.gz";
const fs::path kKmeansDir = "/usr/share/doc/insighttoolkit5-examples/examples/Data";
const fs::path kKmeans = kKmeansDir / "KmeansTest_T1UCharRaw.nii.gz";
const fs::path kKseg = kKmeansDir / "KmeansTest_T1KmeansPrelimSegmentation.nii.gz";
const fs::path kAnat = "/usr/lib/python3/dist-packages/nibabel/tests/data/anatomical.nii";

void require_file(const fs::path& p, const char* package) {
  INFO("missing " << p << ": install the Debian package " << package
                  << " (scripts/install-deps.sh)");
  REQUIRE(fs::exists(p));
}

void check_affine(const Affine& a, const std::array<double, 16>& e, double tol) {
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c) {
      INFO("affine[" << r << "][" << c << "] = " << a[r][c] << ", expected " << e[4 * r + c]);
      CHECK(std::abs(a[r][c] - e[std::size_t(4 * r + c)]) <= tol);
    }
}

// Conforming `path` must reproduce the scipy/numpy reference: geometry exactly (to rounding),
// the FastSurfer scale, and the volume's sum and samples (rounding ties may move a voxel by 1).
void check_conform(const fs::path& path, const ConformExpected& e) {
  const Volume v = read_nifti(path);
  const Geometry src = geometry_of(v);
  CHECK(src.dims == e.dims);
  check_affine(src.affine, e.source_affine, 1e-6);
  const Geometry g = conformed_geometry(src, {}, path);
  CHECK(g.dims == std::array<std::int64_t, 3>{256, 256, 256});
  check_affine(g.affine, e.conformed_affine, 1e-9);
  if (v.datatype != int(NiftiType::u8)) {
    const IntensityScale s = robust_scale(v.data);
    CHECK(s.src_min == doctest::Approx(e.src_min).epsilon(1e-12));
    CHECK(s.scale == doctest::Approx(e.scale).epsilon(1e-12));
  }
  const std::vector<std::uint8_t> t1 = conform_image(v, g);
  std::int64_t sum = 0, nonzero = 0;
  for (auto x : t1) sum += x, nonzero += x != 0;
  CHECK(double(std::abs(sum - e.sum)) <= 1e-5 * double(e.sum));
  CHECK(double(std::abs(nonzero - e.nonzero)) <= 1e-5 * double(e.nonzero));
  for (const auto& s : e.samples) {
    INFO("voxel (" << s.i << "," << s.j << "," << s.k << ")");
    const int got = t1[std::size_t(s.i + 256 * (s.j + 256 * s.k))];
    CHECK(std::abs(got - s.value) <= 1);
  }
}

std::vector<std::int64_t> label_counts(const std::vector<std::int16_t>& l, int n) {
  std::vector<std::int64_t> c(std::size_t(n), 0);
  for (auto x : l)
    if (x >= 0 && x < n) ++c[std::size_t(x)];
  return c;
}

}  // namespace

TEST_CASE("conform: matches the nibabel/scipy reference on three real images") {
  require_file(kCh2, "mricron-data");
  require_file(kKmeans, "insighttoolkit5-examples");
  require_file(kAnat, "python3-nibabel");
  SUBCASE("Colin27 ch2, uint8, 1 mm") {
    check_conform(kCh2, kCh2Expected);
  }
  SUBCASE("ITK KmeansTest T1, int16, 2x2x3 mm, permuted axes") {
    check_conform(kKmeans, kKmeansExpected);
  }
  SUBCASE("nibabel anatomical.nii, big-endian int16") {
    check_conform(kAnat, kAnatomicalExpected);
  }
}

TEST_CASE("conform: labels by nearest neighbour match the reference counts") {
  require_file(kKseg, "insighttoolkit5-examples");
  const Volume seg = read_nifti(kKseg);
  const Geometry g = conformed_geometry(geometry_of(read_nifti(kKmeans)), {}, kKmeans);
  const auto labels = conform_labels(seg, g, kKseg);
  const auto counts = label_counts(labels, 7);
  for (int v = 0; v < 7; ++v) {
    INFO("label " << v);
    CHECK(counts[std::size_t(v)] == kKsegConformedCounts[std::size_t(v)]);
  }
}

TEST_CASE("conform: trilinear resampling reproduces a linear function on an oblique grid") {
  // By construction: f(world) = 2x - 3y + 0.5z + 7 sampled on an oblique source grid; trilinear
  // interpolation is exact for linear functions, so every target voxel inside the source must
  // read f at its own world position.
  Geometry src;
  src.dims = {20, 18, 16};
  const double c = std::cos(0.4), s = std::sin(0.4);
  src.affine = {
      {{1.5 * c, -1.2 * s, 0.1, -10}, {1.5 * s, 1.2 * c, 0, 4}, {0, 0.2, 2.0, -3}, {0, 0, 0, 1}}};
  auto f = [](double x, double y, double z) { return 2 * x - 3 * y + 0.5 * z + 7; };
  auto world = [](const Affine& a, double i, double j, double k, int r) {
    return a[r][0] * i + a[r][1] * j + a[r][2] * k + a[r][3];
  };
  std::vector<float> data(src.voxel_count());
  for (std::int64_t k = 0; k < 16; ++k)
    for (std::int64_t j = 0; j < 18; ++j)
      for (std::int64_t i = 0; i < 20; ++i) {
        const double x = world(src.affine, i, j, k, 0), y = world(src.affine, i, j, k, 1),
                     z = world(src.affine, i, j, k, 2);
        data[std::size_t(i + 20 * (j + 18 * k))] = float(f(x, y, z));  // |f| < 2^12: exact enough
      }
  const Geometry dst = conformed_geometry(src, {0.7, 32}, "synthetic");
  const auto out = resample_linear(data, src, dst);
  std::size_t inside = 0;
  for (std::int64_t k = 0; k < 32; ++k)
    for (std::int64_t j = 0; j < 32; ++j)
      for (std::int64_t i = 0; i < 32; ++i) {
        const double v = out[std::size_t(i + 32 * (j + 32 * k))];
        if (v == 0) continue;  // outside the source (f is never 0 on this grid's samples)
        ++inside;
        const double x = world(dst.affine, i, j, k, 0), y = world(dst.affine, i, j, k, 1),
                     z = world(dst.affine, i, j, k, 2);
        REQUIRE(v == doctest::Approx(f(x, y, z)).epsilon(1e-5));
      }
  CHECK(inside > 32 * 32 * 32 / 4);  // the test saw a real part of the cube
}

TEST_CASE("import/export: NIfTI -> cohort -> NIfTI keeps data and geometry") {
  require_file(kCh2, "mricron-data");
  require_file(kKmeans, "insighttoolkit5-examples");
  require_file(kKseg, "insighttoolkit5-examples");
  require_file(kAnat, "python3-nibabel");
  TempDir dir;
  {
    std::ofstream csv(dir / "subjects.csv");
    csv << "image,age,id,labels,sex\n"  // any column order
        << kCh2.string() << ",35.5,colin,,M\n"
        << kKmeans.string() << ",61,"
        << "kmeans," << kKseg.string() << ",\n"
        << kAnat.string() << ",22,anat,,F\n";
  }
  const fs::path cohort = dir / "cohort.h5";
  REQUIRE(import_cohort(dir / "subjects.csv", cohort, {}, "test", "abc") == 3);

  // One import serves the three checks below (plain blocks, not SUBCASEs: doctest would re-run
  // the import for each subcase).
  const CohortReader r(cohort);
  REQUIRE(r.subjects().size() == 3);
  CHECK(r.subjects()[0].id == "colin");
  CHECK(r.subjects()[0].age == 35.5);
  CHECK(r.subjects()[1].sex == "");
  CHECK(r.subjects()[2].sex == "F");
  CHECK(r.subjects()[1].has_labels);
  // Default table: the label values present in the segmentation, named label_<v>.
  REQUIRE(r.lut().size() == 7);
  CHECK(r.lut()[0].name == "Unknown");
  CHECK(r.lut()[3].name == "label_3");

  {
    INFO("Colin27: the conformed cohort T1 exports back bit-identical");
    check_affine(r.subjects()[0].original.affine, kCh2Expected.source_affine, 0);
    check_affine(r.subjects()[0].geometry.affine, kCh2Expected.conformed_affine, 1e-9);
    export_volume(cohort, "colin", "t1", dir / "colin.nii.gz");
    const Volume back = read_nifti(dir / "colin.nii.gz"), orig = read_nifti(kCh2);
    CHECK(back.dims == orig.dims);
    CHECK(back.datatype == int(NiftiType::u8));
    check_affine(back.affine, kCh2Expected.source_affine, 0);
    CHECK(back.data == orig.data);
  }
  {
    INFO("KmeansTest: exported T1 = FastSurfer-scaled source; labels exact");
    // The 2x2x3 mm centres lie on the 1 mm conformed grid, so trilinear export reads the
    // conformed voxel that was sampled at that very centre: expected value by construction,
    // with the scale from numpy. Source slice j = 0 (world z = 0) falls just outside the cube.
    export_volume(cohort, "kmeans", "t1", dir / "k.nii");
    export_volume(cohort, "kmeans", "labels", dir / "kl.nii.gz");
    const Volume back = read_nifti(dir / "k.nii"), orig = read_nifti(kKmeans);
    const Volume lback = read_nifti(dir / "kl.nii.gz"), lorig = read_nifti(kKseg);
    CHECK(lback.datatype == int(NiftiType::i16));
    check_affine(back.affine, kKmeansExpected.source_affine, 1e-12);
    check_affine(lback.affine, kKmeansExpected.source_affine, 1e-12);
    REQUIRE(back.data.size() == orig.data.size());
    std::size_t bad = 0, lbad = 0;
    for (std::size_t n = 0; n < orig.data.size(); ++n) {
      const bool outside = (n / 128) % 128 == 0;
      const double x = orig.data[n];
      const double want = outside
                              ? 0
                              : (x == 0 ? 0
                                        : std::clamp(std::nearbyint((x - kKmeansExpected.src_min) *
                                                                    kKmeansExpected.scale),
                                                     0.0, 255.0));
      bad += back.data[n] != float(want);
      lbad += lback.data[n] != (outside ? 0.f : lorig.data[n]);
    }
    CHECK(bad == 0);
    CHECK(lbad == 0);
  }
  {
    INFO("anatomical.nii: exported T1 = FastSurfer-scaled source, negatives clipped");
    export_volume(cohort, "anat", "t1", dir / "a.nii.gz");
    const Volume back = read_nifti(dir / "a.nii.gz"), orig = read_nifti(kAnat);
    check_affine(back.affine, kAnatomicalExpected.source_affine, 1e-12);
    std::size_t bad = 0;
    for (std::size_t n = 0; n < orig.data.size(); ++n) {
      const double x = orig.data[n];
      const double want = x == 0 ? 0
                                 : std::clamp(std::nearbyint((x - kAnatomicalExpected.src_min) *
                                                             kAnatomicalExpected.scale),
                                              0.0, 255.0);
      bad += back.data[n] != float(want);
    }
    CHECK(bad == 0);
  }
}

TEST_CASE("conform: grid size from the scan (FastSurfer's 'min' and field-of-view rules)") {
  const fs::path better = "/usr/share/mricron/templates/ch2better.nii.gz";  // 0.5 mm, 301x370x316
  require_file(better, "mricron-data");
  const Geometry src = geometry_of(read_nifti(better));
  std::vector<std::string> warnings;

  SUBCASE("'min' and 'auto': 0.5 mm, the 185 mm field of view covered (FastSurfer: 370)") {
    const Geometry g = conformed_geometry(src, {0, 0}, better, &warnings);
    CHECK(g.voxel_size == std::array<double, 3>{0.5, 0.5, 0.5});
    CHECK(g.dims == std::array<std::int64_t, 3>{370, 370, 370});
    CHECK(warnings.empty());
  }
  SUBCASE("1 mm: FreeSurfer's 256 cube whatever the field of view") {
    CHECK(conformed_geometry(src, {1, 0}, better, &warnings).dims[0] == 256);
    CHECK(warnings.empty());
  }
  SUBCASE("2 mm: at least 256 mm of extent, not 256 voxels") {
    CHECK(conformed_geometry(src, {2, 0}, better, &warnings).dims[0] == 128);
    CHECK(warnings.empty());
  }
  SUBCASE("an explicit cube too small for the scan: said, with the size that covers it") {
    const Geometry g = conformed_geometry(src, {0.5, 256}, better, &warnings);
    CHECK(g.dims[0] == 256);
    REQUIRE(warnings.size() == 1);
    CHECK(warnings[0].find(better.string()) != std::string::npos);
    CHECK(warnings[0].find("(128 mm) is smaller than the image's field of view (185 mm)") !=
          std::string::npos);
    CHECK(warnings[0].find("370 voxels would cover it") != std::string::npos);
  }
  SUBCASE("a 1 mm scan longer than 256 mm: the standard cube, and a warning") {
    Geometry tall = src;
    tall.dims = {181, 217, 300};
    tall.voxel_size = {1, 1, 1};
    tall.affine = {{{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}}};
    CHECK(conformed_geometry(tall, {1, 0}, better, &warnings).dims[0] == 256);
    REQUIRE(warnings.size() == 1);
    CHECK(warnings[0].find("300 voxels would cover it") != std::string::npos);
  }
}
