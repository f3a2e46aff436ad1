// io/slices: the class map, FastSurfer's weight map on volumes small enough to work out by hand,
// and the slice file of a tiny cohort whose T1 encodes each voxel's position, so every channel of
// every thick slice can be checked against the voxel it must come from.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "io/cohort.hpp"
#include "io/h5.hpp"
#include "io/slice_file.hpp"
#include "io/slices.hpp"
#include "tests/io/expect_error.hpp"
#include "tests/io/tmpdir.hpp"

using namespace numens::io;
using numens::io::testing::check_error;
using numens::io::testing::TempDir;
namespace fs = std::filesystem;

namespace {

constexpr std::int64_t NX = 6, NY = 5, NZ = 4;

std::uint8_t code(std::int64_t i, std::int64_t j, std::int64_t k) {
  return std::uint8_t(i + 10 * j + 50 * k);  // <= 5 + 40 + 150
}

// Labels: value 20 in the block i >= 3, value 10 where j >= 2 otherwise, -5 at (0, 0, 0) of
// z-plane 3 only, background elsewhere.
std::int16_t label_at(std::int64_t i, std::int64_t j, std::int64_t k) {
  if (i >= 3) return 20;
  if (j >= 2) return 10;
  if (i == 0 && j == 0 && k == 3) return -5;
  return 0;
}

Subject tiny(const std::string& id, bool labels) {
  Subject s;
  s.info.id = id;
  s.info.age = 50;
  s.info.geometry.dims = {NX, NY, NZ};
  s.info.geometry.affine = {{{-1, 0, 0, 0}, {0, 0, 1, 0}, {0, -1, 0, 0}, {0, 0, 0, 1}}};
  s.info.original = s.info.geometry;
  s.info.has_labels = labels;
  for (std::int64_t k = 0; k < NZ; ++k)
    for (std::int64_t j = 0; j < NY; ++j)
      for (std::int64_t i = 0; i < NX; ++i) {
        s.t1.push_back(code(i, j, k));
        if (labels) s.labels.push_back(label_at(i, j, k));
      }
  return s;
}

fs::path tiny_cohort(const TempDir& dir) {
  const fs::path p = dir / "cohort.h5";
  CohortWriter w(p, {{0, "bg", {}}, {20, "twenty", {}}, {10, "ten", {}}, {-5, "minus", {}}}, "t",
                 "c", "");
  w.add(tiny("a", true));
  w.add(tiny("nolabels", false));
  w.add(tiny("b", true));
  w.commit();
  return p;
}

}  // namespace

TEST_CASE("slices: class map puts background first, then values ascending") {
  const ClassMap m = class_map({{20, "b", {}}, {0, "bg", {}}, {-5, "neg", {}}, {7, "a", {}}});
  CHECK(m.values == std::vector<std::int16_t>{0, -5, 7, 20});
  CHECK(m.names == std::vector<std::string>{"bg", "neg", "a", "b"});
  CHECK(m.class_of[std::uint16_t(std::int16_t(-5))] == 1);
  CHECK(m.class_of[20] == 3);
  CHECK(m.class_of[1] == -1);
}

TEST_CASE("slices: weight map = capped median frequency + edge weight (numpy.gradient rule)") {
  // Worked by hand. counts {2, 2}: median 2, class weights 1, 1. numpy.gradient of 0 0 1 1 is
  // 0 .5 .5 0: edges at the two middle voxels.
  CHECK(weight_map({0, 0, 1, 1}, {4, 1, 1}, 5, 5) == std::vector<float>{1, 6, 6, 1});
  // 1 2 1 has a zero central difference in the middle: no edge there, but at both borders.
  // counts {2 (class 1), 1 (class 2)}: median 1.5 -> 0.75 and 1.5.
  CHECK(weight_map({1, 2, 1}, {3, 1, 1}, 5, 5) == std::vector<float>{5.75f, 1.5f, 5.75f});
  // counts 3 and 1, median 2: weights 2/3 and 2; a floor of 1 lifts only the frequent class
  CHECK(weight_map({0, 0, 0, 1}, {4, 1, 1}, 5, 0) ==
        std::vector<float>{2.f / 3, 2.f / 3, 2.f / 3, 2});
  CHECK(weight_map({0, 0, 0, 1}, {4, 1, 1}, 5, 0, 1.0) == std::vector<float>{1, 1, 1, 2});
  // The cap: counts {1, 100}, median 50.5 -> class 0 weight min(50.5, 5) = 5, class 1 0.505.
  std::vector<std::int16_t> v(101, 1);
  v[0] = 0;
  const auto w = weight_map(v, {101, 1, 1}, 5, 0);
  CHECK(w[0] == 5.0f);
  CHECK(w[50] == float(50.5 / 100));
  // The gradient is 3-D: a change along z marks both planes' voxels as edges.
  CHECK(weight_map({0, 0, 0, 0, 3, 3, 3, 3}, {2, 2, 2}, 5, 2) ==
        std::vector<float>(8, 1.0f + 2.0f));
}

TEST_CASE("slices: thick slices, labels, weights and indices of a tiny cohort") {
  TempDir dir;
  const fs::path cohort = tiny_cohort(dir);
  // Non-background pixels per plane (by construction from label_at):
  //   axial (fixed j): j = 0, 1: i >= 3 -> 3 x NZ = 12 (+1 at j = 0 for -5) ; j >= 2: 6 x 4 = 24
  //   min_labelled 13 keeps j = 2, 3, 4 only (j = 0 has 13: kept too; j = 1 has 12: dropped).
  SliceOptions opt;
  opt.view = View::axial;
  opt.thickness = 3;
  opt.min_labelled = 13;
  const fs::path out = dir / "axial.h5";
  const std::size_t n = write_slices(cohort, out, opt, "t", "c");
  CHECK(n == 2 * 4);  // planes j = 0, 2, 3, 4 of subjects a and b

  const Group root = File::open(out).root();
  CHECK(root.attr_string("format") == "numens-slices");
  CHECK(root.attr_string("view") == "axial");
  CHECK(root.attr_string("seeds") == "{}");
  CHECK(root.attr_string("git_commit") == "c");
  CHECK(root.attr_int("thickness") == 3);
  const auto images = root.read<std::uint8_t>("images");
  const auto labels = root.read<std::int16_t>("labels");
  const auto weights = root.read<float>("weights");
  const auto subj = root.read<std::int32_t>("subject_index");
  const auto plane = root.read<std::int32_t>("slice_index");
  // axial planes: rows = k (NZ), columns = i (NX)
  CHECK(images.shape == Shape{8, 3, NZ, NX});
  CHECK(labels.shape == Shape{8, NZ, NX});
  CHECK(weights.shape == Shape{8, NZ, NX});
  CHECK(subj.data == std::vector<std::int32_t>{0, 0, 0, 0, 2, 2, 2, 2});
  CHECK(plane.data == std::vector<std::int32_t>{0, 2, 3, 4, 0, 2, 3, 4});
  CHECK(root.dataset("subject_ids").read_strings() ==
        std::vector<std::string>{"a", "nolabels", "b"});
  CHECK(root.read<std::int16_t>("classes/values").data == std::vector<std::int16_t>{0, -5, 10, 20});

  for (std::size_t s = 0; s < 8; ++s) {
    const std::int64_t j = plane.data[s];
    for (std::int64_t r = 0; r < NZ; ++r)
      for (std::int64_t c = 0; c < NX; ++c) {
        const std::int64_t k = r, i = c;
        for (std::int64_t t = 0; t < 3; ++t) {
          const std::int64_t q = std::clamp<std::int64_t>(j + t - 1, 0, NY - 1);  // edge padded
          REQUIRE(images.data[std::size_t(((s * 3 + std::size_t(t)) * NZ + std::size_t(r)) * NX +
                                          std::size_t(c))] == code(i, q, k));
        }
        const std::int16_t v = label_at(i, j, k);
        const std::int16_t want = v == 0 ? 0 : v == -5 ? 1 : v == 10 ? 2 : 3;
        REQUIRE(labels.data[std::size_t((s * NZ + std::size_t(r)) * NX + std::size_t(c))] == want);
        REQUIRE(weights.data[std::size_t((s * NZ + std::size_t(r)) * NX + std::size_t(c))] > 0);
      }
  }
  // Weight of one voxel worked out by hand: per-subject counts over the 120 voxels: class 3
  // (20) 60, class 2 (10) 36, class 0 23, class 1 (-5) 1 -> median (23 + 36) / 2 = 29.5; voxel
  // (i, j, k) = (5, 4, 1) is class 3 with all neighbours 20 except none: no edge -> 29.5 / 60.
  // It is in plane j = 4 (slice 3), row k = 1, column i = 5.
  CHECK(weights.data[std::size_t((3 * NZ + 1) * NX + 5)] == float(29.5 / 60));
  // (2, 4, 1): class 2, neighbour i = 3 is class 3 -> edge: 29.5 / 36 + 5.
  CHECK(weights.data[std::size_t((3 * NZ + 1) * NX + 2)] == float(29.5 / 36 + 5));
  CHECK(dir.entries() == 2);  // cohort + slices, no temp file
}

TEST_CASE("slices: sagittal and coronal layouts") {
  TempDir dir;
  const fs::path cohort = tiny_cohort(dir);
  SliceOptions opt;
  opt.min_labelled = 0;
  opt.thickness = 1;
  opt.view = View::sagittal;  // fixed i; rows j, columns k
  REQUIRE(write_slices(cohort, dir / "s.h5", opt, "t", "c") == 2 * NX);
  const auto s = File::open(dir / "s.h5").root().read<std::uint8_t>("images");
  CHECK(s.shape == Shape{2 * NX, 1, NY, NZ});
  CHECK(s.data[std::size_t((4 * NY + 3) * NZ + 2)] == code(4, 3, 2));
  opt.view = View::coronal;  // fixed k; rows j, columns i
  REQUIRE(write_slices(cohort, dir / "c.h5", opt, "t", "c") == 2 * NZ);
  const auto c = File::open(dir / "c.h5").root().read<std::uint8_t>("images");
  CHECK(c.shape == Shape{2 * NZ, 1, NY, NX});
  CHECK(c.data[std::size_t((2 * NY + 3) * NX + 5)] == code(5, 3, 2));
}

TEST_CASE("slices: bad requests fail cleanly and leave nothing") {
  TempDir dir;
  const fs::path cohort = tiny_cohort(dir);
  const fs::path out = dir / "x.h5";
  SliceOptions opt;
  opt.thickness = 4;
  check_error<IoError>([&] { write_slices(cohort, out, opt, "t", "c"); }, out.string(),
                       "thickness 4 must be odd");
  opt.thickness = 7;
  opt.min_labelled = 1000;
  check_error<IoError>([&] { write_slices(cohort, out, opt, "t", "c"); }, cohort.string(),
                       "no plane has 1000");
  check_error<IoError>([&] { (void)parse_view("oblique", out); }, out.string(), "view 'oblique'");
  opt.min_labelled = 50;
  check_error<IoError>([&] { write_slices(cohort, dir / "nodir" / "x.h5", opt, "t", "c"); },
                       "nodir", "does not exist");
  {
    CohortWriter w(dir / "nolab.h5", {{0, "bg", {}}}, "t", "c", "");
    w.add(tiny("x", false));
    w.commit();
  }
  check_error<IoError>([&] { write_slices(dir / "nolab.h5", out, opt, "t", "c"); }, "nolab.h5",
                       "no subject has labels");
  CHECK(!fs::exists(out));
  CHECK(dir.entries() == 2);  // the two cohorts
}

TEST_CASE(
    "slices: a slice file with other dataset types is refused when opened (what train --check "
    "sees)") {
  TempDir dir;
  const fs::path cohort = tiny_cohort(dir);
  SliceOptions opt;
  opt.view = View::axial;
  opt.min_labelled = 1;  // the tiny cohort's planes are small
  const fs::path good = dir / "good.h5";
  REQUIRE(write_slices(cohort, good, opt, "t", "c") > 0);
  CHECK_NOTHROW(SliceFile{good});
  // The same content with one dataset stored in another type, field by field.
  auto copy_with = [&](const fs::path& out, const std::string& retyped) {
    const File in = File::open(good);
    const Group src = in.root();
    File f = File::create(out);
    Group r = f.root();
    for (const char* a : {"format", "view", "cohort_creation_time", "seeds"})
      r.set_attr(a, src.attr_string(a));
    for (const char* a : {"format_version", "thickness"}) r.set_attr(a, src.attr_int(a));
    const auto images = src.read<std::uint8_t>("images");
    const auto labels = src.read<std::int16_t>("labels");
    const auto weights = src.read<float>("weights");
    if (retyped == "images") {
      r.write<float>("images", std::vector<float>(images.data.begin(), images.data.end()),
                     images.shape);
    } else {
      r.write<std::uint8_t>("images", images.data, images.shape);
    }
    if (retyped == "labels") {
      r.write<std::int32_t>("labels",
                            std::vector<std::int32_t>(labels.data.begin(), labels.data.end()),
                            labels.shape);
    } else {
      r.write<std::int16_t>("labels", labels.data, labels.shape);
    }
    if (retyped == "weights") {
      r.write<double>("weights", std::vector<double>(weights.data.begin(), weights.data.end()),
                      weights.shape);
    } else {
      r.write<float>("weights", weights.data, weights.shape);
    }
    for (const char* d : {"subject_index", "slice_index"}) {
      const auto v = src.read<std::int32_t>(d);
      r.write<std::int32_t>(d, v.data, v.shape);
    }
    r.write_strings("subject_ids", src.dataset("subject_ids").read_strings());
    const auto ages = src.read<double>("ages");
    r.write<double>("ages", ages.data, ages.shape);
    Group cg = r.create_group("classes");
    const auto values = src.read<std::int16_t>("classes/values");
    cg.write<std::int16_t>("values", values.data, values.shape);
    cg.write_strings("names", src.dataset("classes/names").read_strings());
    f.close();
  };
  copy_with(dir / "same.h5", "");
  CHECK_NOTHROW(SliceFile{dir / "same.h5"});  // the copy itself is valid
  copy_with(dir / "w64.h5", "weights");
  check_error<IoError>([&] { SliceFile{dir / "w64.h5"}; }, "w64.h5",
                       "weights are stored as float64, expected float32");
  copy_with(dir / "img32.h5", "images");
  check_error<IoError>([&] { SliceFile{dir / "img32.h5"}; }, "img32.h5",
                       "images are stored as float32, expected uint8");
  copy_with(dir / "lab32.h5", "labels");
  check_error<IoError>([&] { SliceFile{dir / "lab32.h5"}; }, "lab32.h5",
                       "labels are stored as int32, expected int16");
}
