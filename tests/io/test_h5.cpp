// io/h5: round trips of every element type with shape and attributes, compression, strict reads,
// clean errors for missing objects and corrupt files, and AtomicFile's all-or-nothing contract.
#include <doctest/doctest.h>

#include <cstdint>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "io/atomic_file.hpp"
#include "io/h5.hpp"
#include "tests/io/expect_error.hpp"
#include "tests/io/tmpdir.hpp"

using namespace numens::io;
using numens::io::testing::check_error;
using numens::io::testing::TempDir;

namespace {

template <class T>
std::vector<T> ramp(std::size_t n) {
  std::vector<T> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = T(double(i % 251) * 0.5 - (sizeof(T) > 1 ? 60 : 0));
  return v;
}

// Message must name the file and contain `what`.
template <class T>
void round_trip(Group& g, const std::string& name, const Shape& shape, bool compress) {
  const auto data = ramp<T>(element_count(shape));
  WriteOptions opt;
  opt.compress = compress;
  Dataset d = g.write<T>(name, data, shape, opt);
  d.set_attr("units", "a.u.");
  d.set_attr("scale", 0.25);
  d.set_attr("index", std::int64_t(-7));
  // A compress request on an empty array falls back to contiguous storage.
  CHECK(d.chunked() == (compress && !data.empty()));
}

template <class T>
void check_back(const Group& g, const std::string& name, const Shape& shape, bool compress) {
  const Array<T> a = g.read<T>(name);
  CHECK(a.shape == shape);
  CHECK(a.data == ramp<T>(element_count(shape)));
  const Dataset d = g.dataset(name);
  CHECK(d.dtype() == dtype_of<T>());
  CHECK(d.chunked() == compress);
  CHECK(d.attr_string("units") == "a.u.");
  CHECK(d.attr_double("scale") == 0.25);
  CHECK(d.attr_int("index") == -7);
}

}  // namespace

TEST_CASE("h5: round trip of every dtype with shape and attributes") {
  TempDir dir;
  const auto path = dir / "rt.h5";
  const Shape s3{4, 5, 6}, s1{17}, s4{2, 3, 4, 5}, s0{};
  {
    File f = File::create(path);
    Group root = f.root();
    Group g = root.create_group("arrays");
    round_trip<std::uint8_t>(g, "u8", s3, false);
    round_trip<std::int16_t>(g, "i16", s4, true);
    round_trip<std::int32_t>(g, "i32", s1, false);
    round_trip<float>(g, "f32", s3, true);
    round_trip<double>(g, "f64", s0, false);  // scalar
    Group nested = g.create_group("deeper");
    round_trip<float>(nested, "empty", Shape{0, 3}, true);  // compress falls back: zero extent
    root.set_attr("note", "");
    root.set_attr("count", 3);
    root.set_attr("count", "replaced by a string");
    f.close();
  }
  File f = File::open(path);
  const Group g = f.root().group("arrays");
  check_back<std::uint8_t>(g, "u8", s3, false);
  check_back<std::int16_t>(g, "i16", s4, true);
  check_back<std::int32_t>(g, "i32", s1, false);
  check_back<float>(g, "f32", s3, true);
  check_back<double>(g, "f64", s0, false);
  CHECK(f.root().exists("arrays/deeper/empty"));
  CHECK_FALSE(f.root().exists("arrays/nope/empty"));
  CHECK(f.root().group("arrays/deeper").read<float>("empty").shape == Shape{0, 3});
  CHECK(f.root().attr_string("note").empty());
  CHECK(f.root().attr_string("count") == "replaced by a string");
}

TEST_CASE("h5: compression shrinks a smooth volume and reads back exactly") {
  TempDir dir;
  const Shape s{64, 64, 64};
  std::vector<float> vol(element_count(s));
  for (std::size_t i = 0; i < vol.size(); ++i) vol[i] = float((i / 64) % 64);
  {
    File f = File::create(dir / "c.h5");
    f.root().write<float>("vol", vol, s, WriteOptions{true, 4, {}});
    File p = File::create(dir / "p.h5");
    p.root().write<float>("vol", vol, s);
    f.close();
    p.close();
  }
  CHECK(std::filesystem::file_size(dir / "c.h5") * 10 < std::filesystem::file_size(dir / "p.h5"));
  CHECK(File::open(dir / "c.h5").root().read<float>("vol").data == vol);
}

TEST_CASE("h5: errors name the file and the object") {
  TempDir dir;
  const auto path = dir / "e.h5";
  {
    File f = File::create(path);
    Group root = f.root();
    root.create_group("g").write<std::int16_t>("labels", std::vector<std::int16_t>(6, 1),
                                               Shape{2, 3});
    f.close();
  }
  const std::string file = path.string();
  {
    // HDF5 refuses a second open of the same file with other access flags: scope this one.
    File f = File::open(path);
    const Group root = f.root();
    check_error<H5Error>([&] { root.dataset("g/missing"); }, file, "/g/missing");
    check_error<H5Error>([&] { root.dataset("g/missing"); }, file, "not found");
    check_error<H5Error>([&] { root.group("nogroup"); }, file, "/nogroup");
    check_error<H5Error>([&] { root.read<float>("g/labels"); }, file, "stored as int16");
    check_error<H5Error>([&] { root.attr_string("absent"); }, file, "'absent' not found");
    check_error<H5Error>([&] { root.group("g").dataset("labels").attr_int("x"); }, file,
                         "/g/labels");
    check_error<H5Error>([&] { File::open(dir / "nofile.h5"); }, (dir / "nofile.h5").string(),
                         "not found");
  }

  File w = File::open(path, File::Mode::read_write);
  Group g = w.root().group("g");
  check_error<H5Error>([&] { g.write<float>("labels", std::vector<float>(6), Shape{6}); }, file,
                       "already exists");
  check_error<H5Error>(
      [&] {
        g.write<float>("bad", std::vector<float>(5), Shape{2, 3});
      },
      file, "needs 6");
  g.set_attr("pi", 3.0);
  check_error<H5Error>([&] { g.attr_int("pi"); }, file, "not an integer");
  check_error<H5Error>([&] { g.attr_string("pi"); }, file, "not a string");
}

TEST_CASE("h5: a file of random bytes gives a clean H5Error") {
  TempDir dir;
  const auto path = dir / "junk.h5";
  {
    std::mt19937 rng(42);
    std::ofstream out(path, std::ios::binary);
    for (int i = 0; i < 4096; ++i) out.put(char(rng() & 0xff));
  }
  check_error<H5Error>([&] { File::open(path); }, path.string(), "not an HDF5 file");

  // A real HDF5 file cut short: the signature is there, the rest is missing.
  const auto cut = dir / "cut.h5";
  {
    File f = File::create(dir / "full.h5");
    f.root().write<double>("x", std::vector<double>(10000, 1.5), Shape{100, 100});
    f.close();
    std::ifstream in(dir / "full.h5", std::ios::binary);
    std::vector<char> head(1024);
    in.read(head.data(), std::streamsize(head.size()));
    std::ofstream(cut, std::ios::binary).write(head.data(), std::streamsize(head.size()));
  }
  try {
    File f = File::open(cut);
    (void)f.root().read<double>("x");
    FAIL("truncated file read without error");
  } catch (const H5Error& e) {
    CHECK(std::string(e.what()).find(cut.string()) != std::string::npos);
  }
}

TEST_CASE("AtomicFile: nothing behind without commit, the whole file with it") {
  TempDir dir;
  const auto target = dir / "out.h5";
  {
    AtomicFile a(target);
    CHECK(a.temp_path().string().rfind(target.string() + ".tmp.", 0) == 0);
    File f = File::create(a.temp_path());
    f.root().write<int>("x", std::vector<int>{1, 2, 3}, Shape{3});
    f.close();
    CHECK(std::filesystem::exists(a.temp_path()));
    // No commit: as if the writer had thrown here.
  }
  CHECK_FALSE(std::filesystem::exists(target));
  CHECK(dir.entries() == 0);

  // A writer that throws midway leaves nothing either.
  try {
    AtomicFile a(target);
    File f = File::create(a.temp_path());
    f.root().write<int>("x", std::vector<int>{1, 2, 3}, Shape{4});  // throws: size mismatch
    a.commit();
  } catch (const H5Error&) {
  }
  CHECK(dir.entries() == 0);

  {
    AtomicFile a(target);
    File f = File::create(a.temp_path());
    Group root = f.root();
    root.write<int>("x", std::vector<int>{1, 2, 3}, Shape{3});
    write_provenance(root, "0.1.0", "abc123def456", "[study]\nname = \"t\"\n");
    f.close();
    a.commit();
    CHECK(a.committed());
  }
  CHECK(dir.entries() == 1);
  const Group root = File::open(target).root();
  CHECK(root.read<int>("x").data == std::vector<int>{1, 2, 3});
  CHECK(root.attr_string("numens_version") == "0.1.0");
  CHECK(root.attr_string("git_commit") == "abc123def456");
  CHECK(root.attr_string("config") == "[study]\nname = \"t\"\n");
  const std::string t = root.attr_string("creation_time");
  REQUIRE(t.size() == 20);
  CHECK(t[4] == '-');
  CHECK(t[10] == 'T');
  CHECK(t[19] == 'Z');

  CHECK_THROWS_AS(AtomicFile(dir / "no/such/dir/x.h5"), IoError);
  AtomicFile never_written(dir / "y.h5");
  CHECK_THROWS_AS(never_written.commit(), IoError);
}

TEST_CASE("h5: reads what h5py writes (committed fixture)") {
  const std::filesystem::path p = std::filesystem::path(NUMENS_TEST_FIXTURES) / "h5py_written.h5";
  REQUIRE(std::filesystem::exists(p));
  const Group root = File::open(p).root();
  CHECK(root.attr_string("title") == "written by h5py");  // variable-length string
  CHECK(root.attr_string("fixed") == "fixed len");
  CHECK(root.attr_double("ratio") == 0.125);
  const Array<float> v = root.read<float>("grp/values");
  CHECK(v.shape == Shape{2, 3});
  CHECK(v.data == std::vector<float>{-2.5f, -1.5f, -0.5f, 0.5f, 1.5f, 2.5f});
  CHECK(root.dataset("grp/values").attr_int("count") == 6);
  const Array<std::int16_t> l = root.read<std::int16_t>("labels");
  CHECK(l.shape == Shape{4, 5});
  CHECK(l.data.front() == -10);
  CHECK(l.data.back() == 9);
  CHECK(root.dataset("labels").chunked());
  check_error<H5Error>([&] { (void)root.read<std::int32_t>("u64"); }, p.string(), "/u64");
}

TEST_CASE("h5: string datasets round trip; numeric data is not read as strings") {
  TempDir dir;
  const auto p = dir / "s.h5";
  const std::vector<std::string> names{"Unknown", "Left-Cerebral-White-Matter", "", "ü-utf8"};
  {
    File f = File::create(p);
    Group root = f.root();
    root.write_strings("names", names);
    root.write_strings("none", {});
    root.write<std::int16_t>("numbers", std::vector<std::int16_t>{1, 2}, Shape{2});
    f.close();
  }
  const Group root = File::open(p).root();
  CHECK(root.dataset("names").read_strings() == names);
  CHECK(root.dataset("none").read_strings().empty());
  check_error<H5Error>([&] { (void)root.dataset("numbers").read_strings(); }, p.string(),
                       "strings expected");
  // Strings are not numbers either: the strict numeric read refuses them.
  check_error<H5Error>([&] { (void)root.read<std::uint8_t>("names"); }, p.string(), "/names");
}

TEST_CASE("h5: appendable datasets grow by whole rows") {
  TempDir dir;
  const auto p = dir / "a.h5";
  {
    File f = File::create(p);
    Group root = f.root();
    WriteOptions opt;
    opt.compress = true;
    Dataset d = root.create_appendable<std::int16_t>("rows", Shape{2, 3}, 4, opt);
    CHECK(d.shape() == Shape{0, 2, 3});
    d.append(std::vector<std::int16_t>{1, 2, 3, 4, 5, 6});
    d.append(std::vector<std::int16_t>{});
    d.append(std::vector<std::int16_t>{7, 8, 9, 10, 11, 12, -1, -2, -3, -4, -5, -6});
    check_error<H5Error>(
        [&] {
          d.append(std::vector<std::int16_t>{1, 2});
        },
        p.string(), "not whole rows");
    check_error<H5Error>([&] { d.append(std::vector<float>(6, 1.f)); }, p.string(),
                         "append of float32");
    f.close();
  }
  const Array<std::int16_t> a = File::open(p).root().read<std::int16_t>("rows");
  CHECK(a.shape == Shape{3, 2, 3});
  CHECK(a.data ==
        std::vector<std::int16_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, -1, -2, -3, -4, -5, -6});
}
