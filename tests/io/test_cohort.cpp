// io/cohort: write/read round trip, the all-or-nothing contract of the writer, one IoError per
// validation rule of add() and of the reader. Files with a broken layout are built by hand with
// the h5 wrappers (not by the writer), following docs/hdf5-schema.md, so the reader is checked
// against the documented layout rather than against the writer's own habits.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "io/cohort.hpp"
#include "io/h5.hpp"
#include "tests/io/expect_error.hpp"
#include "tests/io/tmpdir.hpp"

using namespace numens::io;
using numens::io::testing::check_error;
using numens::io::testing::TempDir;
namespace fs = std::filesystem;

namespace {

LabelTable small_lut() {
  return {{0, "Unknown", {0, 0, 0}}, {2, "WM", {245, 245, 245}}, {-3, "negative", {1, 2, 3}}};
}

Geometry grid(std::int64_t nx, std::int64_t ny, std::int64_t nz) {
  Geometry g;
  g.dims = {nx, ny, nz};
  g.voxel_size = {1, 1, 1};
  // LIA orientation (FastSurfer's conformed space): x -> left, y -> inferior, z -> anterior.
  g.affine = {{{-1, 0, 0, 2.5}, {0, 0, 1, -3}, {0, -1, 0, 4}, {0, 0, 0, 1}}};
  return g;
}

Subject make_subject(const std::string& id, double age, bool labels) {
  Subject s;
  s.info.id = id;
  s.info.age = age;
  s.info.sex = "F";
  s.info.geometry = grid(5, 4, 3);
  s.info.original = grid(7, 6, 2);
  s.info.original.voxel_size = {0.5, 0.75, 2};
  s.info.original.affine = {{{0.5, 0, 0, -1}, {0, 0.75, 0, 2}, {0, 0, 2, 3}, {0, 0, 0, 1}}};
  s.info.has_labels = labels;
  s.info.source = "test:" + id;
  const std::size_t n = s.info.geometry.voxel_count();
  s.t1.resize(n);
  for (std::size_t i = 0; i < n; ++i) s.t1[i] = std::uint8_t((i * 37 + id.size()) % 256);
  if (labels) {
    s.labels.resize(n);
    const std::int16_t vals[3] = {0, 2, -3};
    for (std::size_t i = 0; i < n; ++i) s.labels[i] = vals[(i * 7) % 3];
  }
  return s;
}

// `f` must throw IoError (or a subclass) whose message names `file` and contains `what`.
// Writes a valid one-subject cohort by hand (the schema, not the writer). `tweak` runs first and
// may put a damaged item in place of any of the standard ones, which are then not written.
void write_by_hand(const fs::path& p, const std::function<void(Group& root, Group& subj)>& tweak) {
  File f = File::create(p);
  Group root = f.root();
  write_provenance(root, "0.test", "abc", "");
  root.set_attr("format", "numens-cohort");
  root.set_attr("format_version", 1);
  Group subjects = root.create_group("subjects");
  Group s = subjects.create_group("s1");
  s.set_attr("age", 42.5);
  s.set_attr("sex", "M");
  s.set_attr("source", "hand");
  s.set_attr("has_labels", 1);
  tweak(root, s);
  if (!root.exists("lut")) {
    Group lut = root.create_group("lut");
    lut.write<std::int16_t>("values", std::vector<std::int16_t>{0, 5}, Shape{2});
    lut.write_strings("names", {"bg", "five"});
    lut.write<std::uint8_t>("rgb", std::vector<std::uint8_t>(6, 7), Shape{2, 3});
  }
  if (!root.exists("subject_ids")) root.write_strings("subject_ids", {"s1"});
  for (std::string prefix : {"", "original_"}) {
    if (!s.exists(prefix + "dims"))
      s.write<std::int32_t>(prefix + "dims", std::vector<std::int32_t>{3, 2, 1}, Shape{3});
    if (!s.exists(prefix + "voxel_size"))
      s.write<double>(prefix + "voxel_size", std::vector<double>{1, 1, 1}, Shape{3});
    if (!s.exists(prefix + "affine"))
      s.write<double>(prefix + "affine",
                      std::vector<double>{1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1},
                      Shape{4, 4});
  }
  f.close();
}

void add_volumes(Group& s) {
  s.write<std::uint8_t>("t1", std::vector<std::uint8_t>{1, 2, 3, 4, 5, 6}, Shape{1, 2, 3});
  s.write<std::int16_t>("labels", std::vector<std::int16_t>{0, 5, 5, 0, 0, 5}, Shape{1, 2, 3});
}

}  // namespace

TEST_CASE("cohort: round trip of two subjects, file order, LUT, geometry, provenance") {
  TempDir dir;
  const fs::path p = dir / "c.h5";
  // Added in reverse alphabetical order: the file must keep this order.
  const Subject a = make_subject("sub-02", 71.25, true);
  Subject b = make_subject("sub-01", 23.0, false);
  b.info.sex = "";
  {
    CohortWriter w(p, small_lut(), "0.9.test", "deadbeef", "[study]\nname = 'x'\n");
    w.add(a);
    w.add(b);
    w.set_seeds("{synth = 42}");
    CHECK(!fs::exists(p));  // nothing at the target before commit
    w.commit();
  }
  CHECK(dir.entries() == 1);

  const CohortReader r(p);
  CHECK(r.path() == p);
  REQUIRE(r.subjects().size() == 2);
  CHECK(r.subjects()[0].id == "sub-02");
  CHECK(r.subjects()[1].id == "sub-01");
  CHECK(r.index_of("sub-01") == 1);
  CHECK(r.provenance("numens_version") == "0.9.test");
  CHECK(r.provenance("git_commit") == "deadbeef");
  CHECK(r.provenance("config") == "[study]\nname = 'x'\n");
  CHECK(r.provenance("creation_time").size() == 20);
  CHECK(r.provenance("seeds") == "{synth = 42}");
  REQUIRE(r.lut().size() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(r.lut()[i].value == small_lut()[i].value);
    CHECK(r.lut()[i].name == small_lut()[i].name);
    CHECK(r.lut()[i].rgb == small_lut()[i].rgb);
  }
  const Subject ra = r.read(0), rb = r.read(1);
  CHECK(ra.info.age == 71.25);
  CHECK(ra.info.sex == "F");
  CHECK(rb.info.sex == "");
  CHECK(ra.info.source == "test:sub-02");
  CHECK(ra.info.has_labels);
  CHECK(!rb.info.has_labels);
  CHECK(ra.t1 == a.t1);
  CHECK(ra.labels == a.labels);
  CHECK(rb.t1 == b.t1);
  CHECK(rb.labels.empty());
  CHECK(ra.info.geometry.dims == a.info.geometry.dims);
  CHECK(ra.info.geometry.affine == a.info.geometry.affine);
  CHECK(ra.info.original.dims == a.info.original.dims);
  CHECK(ra.info.original.voxel_size == a.info.original.voxel_size);
  CHECK(ra.info.original.affine == a.info.original.affine);

  // The documented layout, read with the plain h5 API.
  const Group root = File::open(p).root();
  CHECK(root.attr_string("format") == "numens-cohort");
  CHECK(root.attr_int("format_version") == 1);
  CHECK(root.attr_int("subject_count") == 2);
  const Dataset t1 = root.dataset("subjects/sub-02/t1");
  CHECK(t1.shape() == Shape{3, 4, 5});  // (nz, ny, nx)
  CHECK(t1.chunked());
  CHECK(root.dataset("lut/names").read_strings() ==
        std::vector<std::string>{"Unknown", "WM", "negative"});
  // Element (i, j, k) = (4, 1, 2) sits at [k][j][i] in the dataset.
  CHECK(t1.read<std::uint8_t>()[std::size_t((2 * 4 + 1) * 5 + 4)] ==
        a.t1[std::size_t(4 + 5 * (1 + 4 * 2))]);
}

TEST_CASE("cohort: reads a file written by hand to the documented schema") {
  TempDir dir;
  const fs::path p = dir / "hand.h5";
  write_by_hand(p, [](Group&, Group& s) { add_volumes(s); });
  const CohortReader r(p);
  REQUIRE(r.subjects().size() == 1);
  CHECK(r.subjects()[0].age == 42.5);
  CHECK(r.subjects()[0].sex == "M");
  CHECK(r.subjects()[0].geometry.dims == std::array<std::int64_t, 3>{3, 2, 1});
  const Subject s = r.read(0);
  CHECK(s.t1 == std::vector<std::uint8_t>{1, 2, 3, 4, 5, 6});
  CHECK(s.labels == std::vector<std::int16_t>{0, 5, 5, 0, 0, 5});
  check_error<IoError>([&] { (void)r.index_of("s2"); }, p, "no subject 's2'");
  check_error<IoError>([&] { (void)r.read(1); }, p, "out of range");
}

TEST_CASE("cohort: a writer that is not committed leaves nothing behind") {
  TempDir dir;
  const fs::path p = dir / "c.h5";
  SUBCASE("destroyed without commit") {
    CohortWriter w(p, small_lut(), "v", "c", "");
    w.add(make_subject("a", 30, true));
  }
  SUBCASE("an exception in add() unwinds the writer") {
    try {
      CohortWriter w(p, small_lut(), "v", "c", "");
      w.add(make_subject("a", 30, true));
      w.add(make_subject("a", 31, true));  // duplicate
      w.commit();
      FAIL("duplicate accepted");
    } catch (const IoError&) {
    }
  }
  SUBCASE("commit of an empty cohort") {
    CohortWriter w(p, small_lut(), "v", "c", "");
    check_error<IoError>([&] { w.commit(); }, p, "no subjects");
  }
  CHECK(!fs::exists(p));
  CHECK(dir.entries() == 0);
}

TEST_CASE("cohort: a failed rewrite keeps the previous file") {
  TempDir dir;
  const fs::path p = dir / "c.h5";
  {
    CohortWriter w(p, small_lut(), "v", "c", "");
    w.add(make_subject("old", 30, true));
    w.commit();
  }
  {
    CohortWriter w(p, small_lut(), "v", "c", "");
    w.add(make_subject("new", 30, true));
  }
  CHECK(CohortReader(p).subjects()[0].id == "old");
  CHECK(dir.entries() == 1);
}

TEST_CASE("cohort: add() rejects each invalid subject with a clear error") {
  TempDir dir;
  const fs::path p = dir / "c.h5";
  CohortWriter w(p, small_lut(), "v", "c", "");
  w.add(make_subject("first", 50, true));
  auto bad = [&](const std::string& what, const std::function<void(Subject&)>& edit) {
    Subject s = make_subject("s", 40, true);
    edit(s);
    INFO(what);
    check_error<IoError>([&] { w.add(s); }, p, what);
  };
  bad("outside [A-Za-z0-9._-]", [](Subject& s) { s.info.id = "sub/01"; });
  bad("outside [A-Za-z0-9._-]", [](Subject& s) { s.info.id = "sub 01"; });
  bad("only dots", [](Subject& s) { s.info.id = ".."; });
  bad("empty subject id", [](Subject& s) { s.info.id = ""; });
  bad("longer than 128", [](Subject& s) { s.info.id = std::string(129, 'a'); });
  bad("duplicate subject id", [](Subject& s) { s.info.id = "first"; });
  bad("age -1 is outside", [](Subject& s) { s.info.age = -1; });
  bad("age 0 is outside", [](Subject& s) { s.info.age = 0; });
  bad("age 130 is outside", [](Subject& s) { s.info.age = 130; });
  bad("age nan is outside", [](Subject& s) { s.info.age = std::nan(""); });
  bad("age inf is outside", [](Subject& s) { s.info.age = INFINITY; });
  bad("sex 'X'", [](Subject& s) { s.info.sex = "X"; });
  bad("t1 has 59 voxels", [](Subject& s) { s.t1.pop_back(); });
  bad("labels have 61 voxels", [](Subject& s) { s.labels.push_back(0); });
  bad("labels given but has_labels is false", [](Subject& s) { s.info.has_labels = false; });
  bad("label value 7 at voxel (3,1,2)", [](Subject& s) { s.labels[3 + 5 * (1 + 4 * 2)] = 7; });
  bad("conformed geometry: dimension 1 is 0", [](Subject& s) { s.info.geometry.dims[1] = 0; });
  bad("original geometry: voxel size 2 is -1",
      [](Subject& s) { s.info.original.voxel_size[2] = -1; });
  bad("affine is singular", [](Subject& s) { s.info.geometry.affine[2] = {0, 0, 0, 1}; });
  bad("non-finite", [](Subject& s) { s.info.original.affine[0][3] = std::nan(""); });
  bad("last row", [](Subject& s) { s.info.geometry.affine[3][0] = 1; });
  // The rejected subjects left nothing in the file: it still commits with the first one only.
  w.commit();
  const CohortReader r(p);
  CHECK(r.subjects().size() == 1);
}

TEST_CASE("cohort: the writer rejects a bad label table and a missing directory") {
  TempDir dir;
  const fs::path p = dir / "c.h5";
  check_error<IoError>([&] { CohortWriter(p, {{2, "a", {}}}, "v", "c", ""); }, p, "no value 0");
  check_error<IoError>(
      [&] {
        CohortWriter(p, {{0, "a", {}}, {0, "b", {}}}, "v", "c", "");
      },
      p, "value 0 twice");
  check_error<IoError>([&] { CohortWriter(p, {{0, "", {}}}, "v", "c", ""); }, p, "empty name");
  check_error<IoError>([&] { CohortWriter(p, {}, "v", "c", ""); }, p, "label table is empty");
  const fs::path nodir = dir / "missing" / "c.h5";
  check_error<IoError>([&] { CohortWriter(nodir, small_lut(), "v", "c", ""); }, nodir,
                       "does not exist");
  CHECK(dir.entries() == 0);
}

TEST_CASE("cohort: the reader rejects each malformed file with a clear error") {
  TempDir dir;
  const fs::path p = dir / "bad.h5";
  auto open_err = [&](const std::string& what, const std::function<void(Group&, Group&)>& tweak) {
    INFO(what);
    fs::remove(p);
    write_by_hand(p, tweak);
    check_error<IoError>([&] { CohortReader r(p); }, p, what);
  };
  auto read_err = [&](const std::string& what, const std::function<void(Group&, Group&)>& tweak) {
    INFO(what);
    fs::remove(p);
    write_by_hand(p, tweak);
    const CohortReader r(p);
    check_error<IoError>([&] { (void)r.read(0); }, p, what);
  };
  open_err("format is 'other'", [](Group& root, Group&) { root.set_attr("format", "other"); });
  open_err("format_version 2 is not supported",
           [](Group& root, Group&) { root.set_attr("format_version", 2); });
  open_err("/subjects/s1: attribute 'age' is a string",
           [](Group&, Group& s) { s.set_attr("age", "old"); });
  open_err("age 150 is outside", [](Group&, Group& s) { s.set_attr("age", 150.0); });
  open_err("sex 'female'", [](Group&, Group& s) { s.set_attr("sex", "female"); });
  open_err("listed twice", [](Group& root, Group&) {
    root.write_strings("subject_ids", {"s1", "s1"});
  });
  open_err("subject 's2': listed in subject_ids but /subjects/s2 is missing",
           [](Group& root, Group&) {
             root.write_strings("subject_ids", {"s1", "s2"});
           });
  open_err("subject id 'a b'",
           [](Group& root, Group&) { root.write_strings("subject_ids", {"a b"}); });
  open_err(":/subject_ids: cannot open as a dataset",
           [](Group& root, Group&) { root.create_group("subject_ids"); });
  open_err("/lut/names: dataset not found", [](Group& root, Group&) {
    Group lut = root.create_group("lut");
    lut.write<std::int16_t>("values", std::vector<std::int16_t>{0, 5}, Shape{2});
  });
  open_err("disagree in length", [](Group& root, Group&) {
    Group lut = root.create_group("lut");
    lut.write<std::int16_t>("values", std::vector<std::int16_t>{0, 5}, Shape{2});
    lut.write_strings("names", {"bg"});
    lut.write<std::uint8_t>("rgb", std::vector<std::uint8_t>(6, 7), Shape{2, 3});
  });
  open_err("no value 0", [](Group& root, Group&) {
    Group lut = root.create_group("lut");
    lut.write<std::int16_t>("values", std::vector<std::int16_t>{1, 5}, Shape{2});
    lut.write_strings("names", {"one", "five"});
    lut.write<std::uint8_t>("rgb", std::vector<std::uint8_t>(6, 7), Shape{2, 3});
  });
  open_err("/lut/values: stored as int32, read as int16", [](Group& root, Group&) {
    Group lut = root.create_group("lut");
    lut.write<std::int32_t>("values", std::vector<std::int32_t>{0, 5}, Shape{2});
  });
  open_err("original_dims/voxel_size/affine must have shapes", [](Group&, Group& s) {
    s.write<double>("original_affine", std::vector<double>(12, 1.0), Shape{3, 4});
  });
  open_err("original geometry: dimension 0 is -3", [](Group&, Group& s) {
    s.write<std::int32_t>("original_dims", std::vector<std::int32_t>{-3, 2, 1}, Shape{3});
  });
  open_err("/subjects/s1/dims: stored as float64, read as int32", [](Group&, Group& s) {
    s.write<double>("dims", std::vector<double>{3, 2, 1}, Shape{3});
  });
  read_err("/subjects/s1/t1: dataset not found", [](Group&, Group&) {});
  read_err("/subjects/s1/t1: stored as float32, read as uint8", [](Group&, Group& s) {
    s.write<float>("t1", std::vector<float>(6, 1.f), Shape{1, 2, 3});
  });
  read_err("t1 shape does not match dims", [](Group&, Group& s) {
    s.write<std::uint8_t>("t1", std::vector<std::uint8_t>(6, 1), Shape{2, 3, 1});
  });
  read_err("label value 9 at voxel (2,1,0)", [](Group&, Group& s) {
    s.write<std::uint8_t>("t1", std::vector<std::uint8_t>(6, 1), Shape{1, 2, 3});
    s.write<std::int16_t>("labels", std::vector<std::int16_t>{0, 0, 0, 0, 0, 9}, Shape{1, 2, 3});
  });
  read_err("/subjects/s1/labels: stored as int32", [](Group&, Group& s) {
    s.write<std::uint8_t>("t1", std::vector<std::uint8_t>(6, 1), Shape{1, 2, 3});
    s.write<std::int32_t>("labels", std::vector<std::int32_t>(6, 0), Shape{1, 2, 3});
  });
}

TEST_CASE("cohort: files that are not cohorts") {
  TempDir dir;
  const fs::path plain = dir / "plain.h5";
  {
    File f = File::create(plain);
    f.root().set_attr("title", "something else");
    f.close();
  }
  check_error<IoError>([&] { CohortReader r(plain); }, plain, "not a numens cohort");
  const fs::path missing = dir / "missing.h5";
  check_error<IoError>([&] { CohortReader r(missing); }, missing, "file not found");
}
