// io/mgh and io/volume_file: FreeSurfer MGH fixtures written by nibabel (numbers from nibabel via
// tests/fixtures/make_mgh_fixtures.py), nibabel's own test.mgz, byte-for-byte agreement of our
// writer with nibabel's, write/re-read round trips, one clean MghError per kind of bad input,
// and the by-name dispatch between NIfTI and MGH.
#include <doctest/doctest.h>
#include <zlib.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numbers>
#include <random>
#include <string>
#include <vector>

#include "io/mgh.hpp"
#include "io/nifti.hpp"
#include "io/volume_file.hpp"
#include "tests/fixtures/mgh_expected.hpp"
#include "tests/io/expect_error.hpp"
#include "tests/io/tmpdir.hpp"

using namespace numens::io;
using numens::io::testing::check_error;
using numens::io::testing::TempDir;
namespace fs = std::filesystem;

namespace {

const fs::path kFixtures = NUMENS_TEST_FIXTURES;
const fs::path kTestMgzPath = "/usr/lib/python3/dist-packages/nibabel/tests/data/test.mgz";

std::vector<unsigned char> slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::vector<unsigned char>(std::istreambuf_iterator<char>(in), {});
}
void spit(const fs::path& p, const std::vector<unsigned char>& bytes) {
  std::ofstream(p, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}
// The content of a file, gunzipped if it is gzip (zlib passes plain files through).
std::vector<unsigned char> gunzip(const fs::path& p) {
  gzFile gz = gzopen(p.string().c_str(), "rb");
  REQUIRE(gz != nullptr);
  std::vector<unsigned char> out;
  unsigned char buf[4096];
  int n;
  while ((n = gzread(gz, buf, sizeof buf)) > 0) out.insert(out.end(), buf, buf + n);
  REQUIRE(n == 0);
  gzclose(gz);
  return out;
}
// MGH headers are big-endian.
void put_be(std::vector<unsigned char>& b, std::size_t off, std::uint32_t x) {
  REQUIRE(b.size() >= off + 4);
  for (int i = 0; i < 4; ++i) b[off + std::size_t(i)] = std::uint8_t(x >> (24 - 8 * i));
}
void put_be_i16(std::vector<unsigned char>& b, std::size_t off, std::int16_t x) {
  b[off] = std::uint8_t(std::uint16_t(x) >> 8);
  b[off + 1] = std::uint8_t(x);
}
void put_be_f32(std::vector<unsigned char>& b, std::size_t off, float x) {
  put_be(b, off, std::bit_cast<std::uint32_t>(x));
}
// Patches a field of an uncompressed .mgh in place.
template <class F>
void patch(const fs::path& p, F&& edit) {
  auto b = slurp(p);
  edit(b);
  spit(p, b);
}

// Within 1e-6 relative (absolute below 1). MGH stores spacing, directions and centre as float32,
// so an affine read from MGH is exact only to float32 (about 6e-8 relative); the reader mirrors
// nibabel's arithmetic, but a different summation order in numpy's dot may move a float32
// rounding by one unit. 1e-6 leaves room for that and still catches any real mistake (integer
// dims/2 would move the translation by half a voxel).
void check_affine(const Affine& a, const std::array<double, 16>& b) {
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c) {
      const double want = b[std::size_t(4 * r + c)];
      INFO("affine[" << r << "][" << c << "] = " << a[r][c] << ", expected " << want);
      CHECK(std::abs(a[r][c] - want) <= 1e-6 * std::max(1.0, std::abs(want)));
    }
}
void check_affine(const Affine& a, const Affine& b) {
  std::array<double, 16> flat{};
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c) flat[std::size_t(4 * r + c)] = b[r][c];
  check_affine(a, flat);
}

Affine to_affine(const std::array<double, 16>& m) {
  Affine a{};
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c) a[r][c] = m[std::size_t(4 * r + c)];
  return a;
}

std::size_t index(const Volume& v, std::int64_t i, std::int64_t j, std::int64_t k) {
  return std::size_t(i + v.dims[0] * (j + v.dims[1] * k));
}

// What nibabel reports for the file (mgh_expected.hpp), voxels included.
void check_matches(const Volume& v, const MghExpected& e) {
  INFO(e.file);
  CHECK(v.dims == e.dims);
  CHECK(v.datatype == e.nifti_type);
  for (int a = 0; a < 3; ++a) CHECK(v.voxel_size[std::size_t(a)] == e.zooms[std::size_t(a)]);
  check_affine(v.affine, e.affine);
  CHECK(v.qform_code == 1);
  CHECK(v.sform_code == 1);
  REQUIRE(v.data.size() == v.voxel_count());
  double sum = 0;
  for (float x : v.data) sum += x;
  CHECK(sum == doctest::Approx(e.sum).epsilon(1e-12));
  for (const MghSample& s : e.samples) {
    INFO("voxel (" << s.i << "," << s.j << "," << s.k << ")");
    CHECK(double(v.data[index(v, s.i, s.j, s.k)]) == s.value);
  }
}

// An oblique volume with values from `values` (its size sets the voxel count).
Volume oblique_volume(std::vector<float> values) {
  Volume v;
  v.dims = {5, 4, 3};
  REQUIRE(values.size() == 60);
  v.data = std::move(values);
  // 25 degrees about z, then voxel sizes 0.8, 1.2, 2.0; a translation with no float32 form.
  const double c = std::cos(25 * std::numbers::pi / 180), s = std::sin(25 * std::numbers::pi / 180);
  v.affine = {
      {{0.8 * c, -1.2 * s, 0, -40.1}, {0.8 * s, 1.2 * c, 0, 12.3}, {0, 0, 2.0, 7.7}, {0, 0, 0, 1}}};
  v.voxel_size = {0.8, 1.2, 2.0};
  return v;
}

std::vector<float> random_values(float lo, float hi, unsigned seed, bool integral) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> out(60);
  for (auto& x : out) x = integral ? std::nearbyint(d(rng)) : d(rng);
  out[0] = lo;  // the extremes of the type are representable
  out[1] = hi;
  return out;
}

void check_read_error(const fs::path& p, const std::string& what) {
  check_error<MghError>([&] { (void)read_mgh(p); }, p.string(), what);
}

}  // namespace

TEST_CASE("mgh: nibabel-written fixtures read as nibabel reads them") {
  for (const MghExpected* e : {&kObliqueU8, &kNegI16, &kI32, &kFloat}) {
    const fs::path p = kFixtures / e->file;
    REQUIRE(fs::exists(p));
    check_matches(read_mgh(p), *e);
  }
}

TEST_CASE("mgh: goodRASflag 0 gives nibabel's default geometry") {
  // The file stores spacing 2, 2, 2 and an identity Mdc, which a flag of 0 says to ignore.
  const fs::path p = kFixtures / kNoRas.file;
  const Volume v = read_mgh(p);
  check_matches(v, kNoRas);
  // Said, as a NIfTI file without orientation codes is, and kept as unknown for writing back.
  CHECK_FALSE(v.orientation_known);
  REQUIRE(v.warnings.size() == 1);
  CHECK(v.warnings[0].find(p.string()) != std::string::npos);
  CHECK(v.warnings[0].find("no geometry (goodRASflag is 0)") != std::string::npos);
  CHECK(read_mgh(kFixtures / "mgh_oblique_u8.mgz").warnings.empty());
  SUBCASE("a negative flag is treated as 0 (FreeSurfer reads geometry only when > 0)") {
    TempDir dir;
    const fs::path q = dir / "neg_flag.mgh";
    fs::copy_file(p, q);
    patch(q, [](auto& b) { put_be_i16(b, 28, -1); });
    check_matches(read_mgh(q), kNoRas);
  }
}

TEST_CASE("mgh: nibabel's own test.mgz") {
  if (!fs::exists(kTestMgzPath)) {
    MESSAGE("skipped: " << kTestMgzPath << " absent (install python3-nibabel)");
    return;
  }
  // As shipped it has 2 frames, and direction columns of length sqrt(14) which nibabel accepts
  // but numens refuses (a damaged or non-FreeSurfer header: the spacing would count twice).
  check_read_error(kTestMgzPath, "4-D: 2 frames, numens reads single volumes");
  TempDir dir;
  auto raw = gunzip(kTestMgzPath);
  put_be(raw, 16, 1);  // nframes: frame 0 is the first block, frame 1 becomes ignored tail
  const fs::path one = dir / "test_one_frame.mgh";
  spit(one, raw);
  check_read_error(one, "direction cosines of the x axis (x_r, x_a, x_s) have length 3.7416");
  // With unit directions (what make_mgh_fixtures.py recorded from nibabel for the same patch).
  for (int i = 0; i < 9; ++i) put_be_f32(raw, 42 + 4 * std::size_t(i), i % 4 == 0 ? 1.0f : 0.0f);
  spit(one, raw);
  check_matches(read_mgh(one), kNibabelTestMgz);
}

TEST_CASE("mgh: numens writes nibabel's bytes (header, data and tail)") {
  // Given the same voxels and the float64 affine nibabel was given, our file must be nibabel's
  // byte for byte once gunzipped (the gzip wrappers differ: level, header fields). That is the
  // strongest check that nibabel and FreeSurfer read ours the same way.
  TempDir dir;
  for (const MghExpected* e : {&kObliqueU8, &kNegI16, &kI32, &kFloat}) {
    INFO(e->file);
    REQUIRE(e->written_fresh);
    const fs::path theirs = kFixtures / e->file;
    Volume v = read_mgh(theirs);
    v.affine = to_affine(e->input_affine);
    for (const char* ext : {".mgz", ".mgh"}) {
      const fs::path ours = dir / (std::string("ours_") + std::to_string(e->mgh_type) + ext);
      write_mgh(ours, v, NiftiType(e->nifti_type));
      const auto head = slurp(ours);
      REQUIRE(head.size() > 2);
      CHECK((head[0] == 0x1f && head[1] == 0x8b) == (std::string(ext) == ".mgz"));
      const auto a = gunzip(ours), b = gunzip(theirs);
      CHECK(a.size() == b.size());
      CHECK(a == b);
    }
  }
  CHECK(dir.entries() == 8);  // no temp files left
}

TEST_CASE("mgh: write then read, each type, .mgz and .mgh") {
  TempDir dir;
  struct Case {
    NiftiType type;
    float lo, hi;
    bool integral;
  };
  for (const Case& c :
       {Case{NiftiType::u8, 0, 255, true}, Case{NiftiType::i16, -32768, 32767, true},
        Case{NiftiType::i32, -16777216, 16777216, true},
        Case{NiftiType::f32, -1e30f, 1e30f, false}}) {
    for (const char* ext : {".mgz", ".mgh"}) {
      const fs::path p = dir / ("rt_" + std::to_string(int(c.type)) + ext);
      INFO(p);
      const Volume v = oblique_volume(random_values(c.lo, c.hi, unsigned(c.type), c.integral));
      write_mgh(p, v, c.type);
      const Volume w = read_mgh(p);
      CHECK(w.dims == v.dims);
      CHECK(w.datatype == int(c.type));
      CHECK(w.data == v.data);
      check_affine(w.affine, v.affine);  // float32 storage: see check_affine
      for (int a = 0; a < 3; ++a)
        CHECK(w.voxel_size[std::size_t(a)] ==
              doctest::Approx(v.voxel_size[std::size_t(a)]).epsilon(1e-7));
      // (Writing `w` again would not give the same bytes: its affine holds the float32 products
      // spacing * direction, whose column norms can differ from the stored spacing in the last
      // bit. nibabel's arithmetic, which the writer follows, does the same.)
    }
  }
  CHECK(dir.entries() == 8);

  SUBCASE("rounding to nearest, ties to even (as write_nifti); NaN kept by float32") {
    std::vector<float> vals(60, 0.0f);
    vals[0] = 2.5f, vals[1] = 3.5f, vals[2] = -2.5f, vals[3] = 0.49f, vals[4] = -0.51f;
    vals[5] = std::numeric_limits<float>::quiet_NaN();
    Volume v = oblique_volume(vals);
    v.data[5] = 7.0f;
    write_mgh(dir / "round.mgh", v, NiftiType::i16);
    const Volume r = read_mgh(dir / "round.mgh");
    CHECK(r.data[0] == 2.0f);
    CHECK(r.data[1] == 4.0f);
    CHECK(r.data[2] == -2.0f);
    CHECK(r.data[3] == 0.0f);
    CHECK(r.data[4] == -1.0f);
    write_mgh(dir / "nan.mgz", oblique_volume(vals), NiftiType::f32);
    CHECK(std::isnan(read_mgh(dir / "nan.mgz").data[5]));
  }
}

TEST_CASE("mgh: write refuses what it cannot store, and leaves no file") {
  TempDir dir;
  const Volume v = oblique_volume(random_values(0, 255, 1, true));
  for (const char* name : {"x.nii", "x.mgz.tmp", "x", "x.MGZ"}) {
    const fs::path p = dir / name;
    check_error<MghError>([&] { write_mgh(p, v, NiftiType::u8); }, p.string(),
                          "the name must end in .mgz (compressed) or .mgh");
  }
  const fs::path p = dir / "bad.mgz";
  check_error<MghError>([&] { write_mgh(p, v, NiftiType::f64); }, p.string(),
                        "cannot write datatype FLOAT64");
  check_error<MghError>([&] { write_mgh(p, v, NiftiType::u16); }, p.string(),
                        "cannot write datatype");
  Volume big = v;
  big.data[index(big, 2, 1, 2)] = 300;
  big.data[index(big, 3, 1, 2)] = 400;
  check_error<MghError>([&] { write_mgh(p, big, NiftiType::u8); }, p.string(),
                        "cannot write as uint8: voxel (2,1,2) has value 300, outside");
  Volume neg = v;
  neg.data[index(neg, 0, 3, 0)] = -40000;
  check_error<MghError>([&] { write_mgh(p, neg, NiftiType::i16); }, p.string(),
                        "cannot write as int16: voxel (0,3,0) has value -40000");
  Volume huge = v;
  huge.data[index(huge, 4, 0, 1)] = 3e9f;
  check_error<MghError>([&] { write_mgh(p, huge, NiftiType::i32); }, p.string(),
                        "cannot write as int32: voxel (4,0,1)");
  Volume nan = v;
  nan.data[index(nan, 1, 1, 1)] = std::numeric_limits<float>::quiet_NaN();
  for (NiftiType t : {NiftiType::u8, NiftiType::i16, NiftiType::i32})
    check_error<MghError>([&] { write_mgh(p, nan, t); }, p.string(), "voxel (1,1,1) is NaN");
  Volume short_data = v;
  short_data.data.pop_back();
  check_error<MghError>([&] { write_mgh(p, short_data, NiftiType::f32); }, p.string(),
                        "59 values for 60 voxels");
  Volume flat = v;
  for (int r = 0; r < 3; ++r) flat.affine[r][1] = 0;
  check_error<MghError>([&] { write_mgh(p, flat, NiftiType::f32); }, p.string(),
                        "affine column 2 is zero");
  Volume inf = v;
  inf.affine[0][3] = std::numeric_limits<double>::infinity();
  check_error<MghError>([&] { write_mgh(p, inf, NiftiType::f32); }, p.string(), "non-finite");
  Volume zero_dim = v;
  zero_dim.dims[2] = 0;
  check_error<MghError>([&] { write_mgh(p, zero_dim, NiftiType::f32); }, p.string(),
                        "dimension 3 is 0");
  CHECK(dir.entries() == 0);
  CHECK_THROWS_AS(write_mgh(dir / "no/dir/x.mgz", v, NiftiType::u8), IoError);
}

TEST_CASE("mgh: each bad input gives an MghError naming the file") {
  TempDir dir;
  // A good plain file to damage: 16^3 random bytes, so its gzip is barely smaller than raw.
  Volume v;
  v.dims = {16, 16, 16};
  v.affine = {{{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}}};
  v.data.resize(v.voxel_count());
  std::mt19937 rng(5);
  for (auto& x : v.data) x = float(rng() % 256);
  const fs::path good = dir / "good.mgh";
  write_mgh(good, v, NiftiType::u8);
  // A copy of good.mgh with `edit` applied, named `name`.
  auto damaged = [&](const std::string& name, auto&& edit) {
    const fs::path p = dir / name;
    auto b = slurp(good);
    edit(b);
    spit(p, b);
    return p;
  };

  SUBCASE("missing") {
    check_read_error(dir / "nope.mgz", "file not found");
  }
  SUBCASE("a directory") {
    fs::create_directory(dir / "d.mgz");
    check_read_error(dir / "d.mgz", "is a directory, a file was expected");
  }
  SUBCASE("shorter than the header, not MGH") {
    check_read_error(damaged("tiny.mgh", [](auto& b) { b.resize(3); }),
                     "not an MGH file: 3 bytes, shorter than the 284-byte header");
  }
  SUBCASE("truncated header") {
    check_read_error(damaged("head.mgh", [](auto& b) { b.resize(100); }),
                     "truncated header: 100 of 284 bytes");
  }
  SUBCASE("truncated data, plain") {
    check_read_error(damaged("short.mgh", [](auto& b) { b.resize(284 + 1000); }),
                     "truncated image data: expected 4096 bytes, got 1000");
  }
  SUBCASE("truncated .mgz (first half of a real gzip)") {
    const fs::path full = dir / "full.mgz", half = dir / "half.mgz";
    write_mgh(full, v, NiftiType::u8);
    auto b = slurp(full);
    REQUIRE(b.size() > 3000);
    b.resize(b.size() / 2);
    spit(half, b);
    check_read_error(half, "truncated image data: expected 4096 bytes, got ");
  }
  SUBCASE("corrupt gzip: a byte flipped in the deflate stream") {
    const fs::path p = dir / "flipped.mgz";
    write_mgh(p, v, NiftiType::u8);
    auto b = slurp(p);
    b[b.size() - 300] ^= 0x55;
    spit(p, b);
    check_read_error(p, "corrupt gzip stream");
  }
  SUBCASE("corrupt gzip: the CRC, after the voxels and the tail") {
    // 64^3 voxels: large enough that zlib has not reached the trailer when the voxels are in, so
    // only reading on through the tail finds the damage (a small file is inflated at once).
    Volume big = v;
    big.dims = {64, 64, 64};
    big.data.resize(big.voxel_count());
    for (auto& x : big.data) x = float(rng() % 256);
    const fs::path p = dir / "crc.mgz";
    write_mgh(p, big, NiftiType::u8);
    auto b = slurp(p);
    b[b.size() - 6] ^= 0x01;  // the trailer: CRC32 (4 bytes), then length (4 bytes)
    spit(p, b);
    check_read_error(p, "corrupt gzip stream: incorrect data check");
  }
  SUBCASE("not gzip and not MGH: a NIfTI file named .mgz") {
    const fs::path p = dir / "nifti.mgz";
    write_nifti(dir / "n.nii", v, NiftiType::u8);
    fs::rename(dir / "n.nii", p);
    check_read_error(p, "not an MGH file (version field is ");
  }
  SUBCASE("version 2") {
    check_read_error(damaged("v2.mgh", [](auto& b) { put_be(b, 0, 2); }),
                     "version field is 2, expected 1");
  }
  SUBCASE("unsupported types, named by code") {
    check_read_error(damaged("long.mgh", [](auto& b) { put_be(b, 20, 2); }),
                     "unsupported data type 2; numens reads MRI_UCHAR (0), MRI_INT (1)");
    check_read_error(damaged("neg.mgh", [](auto& b) { put_be(b, 20, std::uint32_t(-7)); }),
                     "unsupported data type -7");
  }
  SUBCASE("2 frames (nibabel-written fixture)") {
    check_read_error(kFixtures / "mgh_2frames.mgz", "4-D: 2 frames, numens reads single volumes");
  }
  SUBCASE("0 frames") {
    check_read_error(damaged("f0.mgh", [](auto& b) { put_be(b, 16, 0); }),
                     "nframes is 0, must be >= 1");
  }
  SUBCASE("dimensions <= 0") {
    check_read_error(damaged("w0.mgh", [](auto& b) { put_be(b, 4, 0); }), "width is 0");
    check_read_error(damaged("h0.mgh", [](auto& b) { put_be(b, 8, std::uint32_t(-3)); }),
                     "height is -3, must be >= 1");
    check_read_error(damaged("d0.mgh", [](auto& b) { put_be(b, 12, 0); }), "depth is 0");
  }
  SUBCASE("implausible size") {
    check_read_error(damaged("big.mgh",
                             [](auto& b) {
                               put_be(b, 4, 1u << 20);
                               put_be(b, 8, 1u << 20);
                             }),
                     "implausible size: 1048576 x 1048576 x 16 voxels");
    // The largest int32 sizes: their product overflows an int64, which must not go unnoticed.
    check_read_error(damaged("huge.mgh",
                             [](auto& b) {
                               for (std::size_t off : {4, 8, 12}) put_be(b, off, 0x7fffffff);
                             }),
                     "implausible size: 2147483647 x 2147483647 x 2147483647 voxels");
  }
  SUBCASE("spacing <= 0 or not finite") {
    check_read_error(damaged("s0.mgh", [](auto& b) { put_be_f32(b, 30, 0.0f); }),
                     "voxel size along x is 0, must be positive and finite");
    check_read_error(damaged("sn.mgh", [](auto& b) { put_be_f32(b, 34, -1.5f); }),
                     "voxel size along y is -1.5");
    check_read_error(
        damaged("snan.mgh",
                [](auto& b) { put_be_f32(b, 38, std::numeric_limits<float>::quiet_NaN()); }),
        "voxel size along z is nan");
    check_read_error(
        damaged("sinf.mgh",
                [](auto& b) { put_be_f32(b, 38, std::numeric_limits<float>::infinity()); }),
        "voxel size along z is inf");
  }
  SUBCASE("direction columns not of unit length, or singular") {
    check_read_error(damaged("mdc.mgh", [](auto& b) { put_be_f32(b, 54 + 4, 1.5f); }),
                     "direction cosines of the y axis (y_r, y_a, y_s) have length 1.5,");
    check_read_error(damaged("mdc0.mgh", [](auto& b) { put_be_f32(b, 66 + 8, 0.0f); }),
                     "direction cosines of the z axis");
    check_read_error(
        damaged("mdcnan.mgh",
                [](auto& b) { put_be_f32(b, 42, std::numeric_limits<float>::quiet_NaN()); }),
        "direction cosines of the x axis");
    // y = x: unit columns, but two axes along the same line.
    check_read_error(damaged("sing.mgh",
                             [](auto& b) {
                               put_be_f32(b, 54, 1.0f);
                               put_be_f32(b, 58, 0.0f);
                             }),
                     "direction cosines are singular (determinant 0)");
  }
  SUBCASE("c_ras not finite") {
    check_read_error(
        damaged("c.mgh",
                [](auto& b) { put_be_f32(b, 82, std::numeric_limits<float>::infinity()); }),
        "centre (c_ras) is not finite");
  }
  SUBCASE("the tail is optional, and extra tail is ignored") {
    const fs::path p = damaged("notail.mgh", [](auto& b) { b.resize(284 + 4096); });
    CHECK(read_mgh(p).data == v.data);
    const fs::path q = damaged("tags.mgh", [](auto& b) { b.insert(b.end(), 5000, 'x'); });
    CHECK(read_mgh(q).data == v.data);
  }
}

TEST_CASE("volume files: the name picks NIfTI or MGH") {
  TempDir dir;
  const Volume v = oblique_volume(random_values(0, 255, 9, true));
  for (const char* name : {"a.nii", "a.nii.gz", "a.mgz", "a.mgh"}) {
    const fs::path p = dir / name;
    INFO(p);
    write_volume(p, v, NiftiType::u8);
    const bool mgh = p.extension() == ".mgz" || p.extension() == ".mgh";
    const Volume w = mgh ? read_mgh(p) : read_nifti(p);  // written in the named format
    const Volume r = read_volume(p);
    CHECK(r.data == v.data);
    CHECK(r.data == w.data);
    CHECK(r.affine == w.affine);
    check_affine(r.affine, v.affine);
  }
  // The content does not decide: an MGH file named .nii is read, and refused, as NIfTI.
  fs::copy_file(dir / "a.mgh", dir / "mgh_inside.nii");
  CHECK_THROWS_AS((void)read_volume(dir / "mgh_inside.nii"), NiftiError);
  CHECK(dir.entries() == 5);
  for (const char* name : {"a.img", "a.nii.bz2", "a", "a.mgz.bak"}) {
    const fs::path p = dir / name;
    const std::string what = "unknown volume format (expected .nii, .nii.gz, .mgz or .mgh)";
    check_error<IoError>([&] { write_volume(p, v, NiftiType::u8); }, p.string(), what);
    check_error<IoError>([&] { (void)read_volume(p); }, p.string(), what);
  }
  CHECK(dir.entries() == 5);
}

TEST_CASE("mgh: a gzipped header promising gigabytes costs what the file holds (fuzz finding)") {
  // Found by fuzz/mgh.cpp: dims patched to 2000 x 2000 x 500 uint8 in a few-kilobyte .mgz made the
  // reader allocate 2 GB before finding the data missing. It now grows its buffer as data arrive.
  TempDir dir;
  Volume v = oblique_volume(std::vector<float>(60, 1.0f));
  const fs::path small = dir / "small.mgz";
  write_mgh(small, v, NiftiType::u8);
  auto raw = gunzip(small);
  put_be(raw, 4, 2000);
  put_be(raw, 8, 2000);
  put_be(raw, 12, 500);
  const fs::path big = dir / "promises.mgz";
  gzFile gz = gzopen(big.string().c_str(), "wb");
  REQUIRE(gz != nullptr);
  REQUIRE(gzwrite(gz, raw.data(), unsigned(raw.size())) == int(raw.size()));
  gzclose(gz);
  check_read_error(big, "truncated image data: expected 2000000000 bytes");
}
