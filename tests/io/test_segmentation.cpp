// Segmentation files: round trip of labels, probabilities (written in z-plane blocks) and
// metadata; atomic writing; refusal of class tables and labels that break the schema. Also the
// shared thick-slice cut (io::thick_slice) with edge repetition and padding.
#include <doctest/doctest.h>

#include <cmath>
#include <numeric>
#include <vector>

#include "io/h5.hpp"
#include "io/segmentation.hpp"
#include "io/slices.hpp"
#include "tests/io/expect_error.hpp"
#include "tests/io/tmpdir.hpp"

using namespace numens;
using namespace numens::io;
using numens::io::testing::check_error;
using numens::io::testing::TempDir;

namespace {

SegmentationInfo small_info() {
  SegmentationInfo info;
  info.config = "[segment]\n";
  info.seeds = "{mca = 4}";
  info.member = 7;
  info.views = "axial,coronal";
  info.arith = "sr t32=24";
  info.accumulator = "float16";
  info.cohort = "cohort.h5";
  info.cohort_creation_time = "2026-01-01T00:00:00Z";
  info.lut = {{0, "Unknown", {0, 0, 0}}, {4, "Vent", {1, 2, 3}}, {17, "Hippo", {4, 5, 6}}};
  info.class_values = {0, 4, 17};
  info.class_names = {"Unknown", "Vent", "Hippo"};
  return info;
}

Geometry grid(int64_t nx, int64_t ny, int64_t nz) {
  Geometry g;
  g.dims = {nx, ny, nz};
  g.affine = {{{-1, 0, 0, 1}, {0, 0, 1, 2}, {0, -1, 0, 3}, {0, 0, 0, 1}}};
  return g;
}

}  // namespace

TEST_CASE("segmentation file: labels, probabilities in blocks and metadata round trip") {
  TempDir dir;
  const auto path = dir / "seg.h5";
  const Geometry g = grid(3, 2, 4);
  std::vector<int16_t> lab(24, 0);
  lab[5] = 4, lab[23] = 17;
  std::vector<uint8_t> probs(3 * 24);
  std::iota(probs.begin(), probs.end(), uint8_t(0));
  {
    SegmentationWriter w(path, small_info(), "0.test", "abc");
    w.begin_subject("s1", g, true);
    // z-planes [0, 2) then [2, 4): each block class-major over its own voxels
    for (int64_t k0 = 0; k0 < 4; k0 += 2) {
      std::vector<uint8_t> block;
      for (int c = 0; c < 3; ++c)
        for (int64_t v = k0 * 6; v < (k0 + 2) * 6; ++v) block.push_back(probs[size_t(c * 24 + v)]);
      w.write_probs(k0 * 6, 12, block);
    }
    w.end_subject(lab, 0.75);
    w.begin_subject("s2", g, false);
    w.end_subject(std::vector<int16_t>(24, 4));
    CHECK(!std::filesystem::exists(path));  // nothing visible before commit
    w.commit();
  }
  const SegmentationReader r(path);
  CHECK(r.subject_ids() == std::vector<std::string>{"s1", "s2"});
  CHECK(r.info().member == 7);
  CHECK(r.info().views == "axial,coronal");
  CHECK(r.info().seeds == "{mca = 4}");
  CHECK(r.info().class_values == std::vector<int16_t>{0, 4, 17});
  CHECK(r.info().lut.size() == 3);
  CHECK(r.geometry("s1").dims == g.dims);
  CHECK(r.labels("s1") == lab);
  CHECK(r.has_probs("s1"));
  CHECK(r.probs("s1") == probs);
  CHECK(r.mean_dice("s1") == 0.75);
  CHECK(!r.has_probs("s2"));
  CHECK(std::isnan(r.mean_dice("s2")));
  check_error<IoError>([&] { (void)r.labels("s3"); }, "seg.h5", "no subject 's3'");
  CHECK(dir.entries() == 1);
}

TEST_CASE("segmentation file: a label changed since writing to one the class table lacks") {
  TempDir dir;
  const auto path = dir / "seg.h5";
  const Geometry g = grid(3, 2, 4);
  {
    SegmentationWriter w(path, small_info(), "0.test", "abc");
    w.begin_subject("s1", g, false);
    w.end_subject(std::vector<int16_t>(24, 4));
    w.commit();
  }
  {
    // Another tool edits voxel (1, 1, 2) to 99, a value of no class.
    File f = File::open(path, File::Mode::read_write);
    f.root()
        .group("subjects/s1")
        .dataset("labels")
        .write_block<int16_t>(Shape{2, 1, 1}, Shape{1, 1, 1}, std::vector<int16_t>{99});
  }
  const SegmentationReader r(path);
  check_error<IoError>([&] { (void)r.labels("s1"); }, "seg.h5",
                       "subject 's1': label value 99 at voxel 16 is not a class value");
}

TEST_CASE("segmentation file: schema violations are refused and leave nothing") {
  TempDir dir;
  const auto path = dir / "bad.h5";
  auto info = small_info();
  info.class_values = {0, 4, 99};
  check_error<IoError>([&] { SegmentationWriter w(path, info, "v", "c"); }, "bad.h5",
                       "class value 99 is not in the label table");
  info = small_info();
  info.class_values = {4, 0, 17};
  check_error<IoError>([&] { SegmentationWriter w(path, info, "v", "c"); }, "bad.h5",
                       "must start with 0");
  {
    SegmentationWriter w(path, small_info(), "v", "c");
    w.begin_subject("s1", grid(2, 2, 2), true);
    check_error<IoError>([&] { w.write_probs(2, 4, std::vector<uint8_t>(12)); }, "bad.h5",
                         "not whole z-planes");
    check_error<IoError>([&] { w.end_subject(std::vector<int16_t>(8, 5)); }, "bad.h5",
                         "label value 5 is not a class value");
    // destroyed without commit
  }
  CHECK(dir.entries() == 0);
}

TEST_CASE("slices: thick_slice repeats border planes and pads with zeros") {
  // 2 x 3 x 2 volume, value = 10 * k + 3 * j + i (distinct per voxel)
  const std::array<int64_t, 3> d{2, 3, 2};
  std::vector<uint8_t> vol(12);
  for (int k = 0; k < 2; ++k)
    for (int j = 0; j < 3; ++j)
      for (int i = 0; i < 2; ++i) vol[size_t(i + 2 * (j + 3 * k))] = uint8_t(10 * k + 3 * j + i);
  // axial: plane j, rows k, columns i; thickness 3 at plane 0 -> planes 0, 0, 1; padded to 3 x 4
  std::vector<uint8_t> out(3 * 3 * 4, 77);
  thick_slice(vol, d, View::axial, 0, 3, out, 3, 4);
  const std::vector<uint8_t> want{0, 1, 0, 0, 10, 11, 0, 0, 0, 0, 0, 0,   // plane 0 (repeat)
                                  0, 1, 0, 0, 10, 11, 0, 0, 0, 0, 0, 0,   // plane 0
                                  3, 4, 0, 0, 13, 14, 0, 0, 0, 0, 0, 0};  // plane 1
  CHECK(out == want);
  const PlaneLayout L = plane_layout(View::sagittal, d);
  CHECK(L.planes == 2);
  CHECK(L.rows == 3);
  CHECK(L.cols == 2);
  CHECK(L.plane_stride == 1);
  CHECK(L.row_stride == 2);
  CHECK(L.col_stride == 6);
  std::vector<uint8_t> small(2);
  check_error<IoError>([&] { thick_slice(vol, d, View::axial, 3, 1, small); }, "axial",
                       "plane 3 outside 0..2");
}
