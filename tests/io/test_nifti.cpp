// io/nifti: real data (Colin27 ch2 from mricron-data, when installed), committed fixtures
// (big-endian oblique NIfTI-1, gzipped NIfTI-2; numbers from nibabel via
// tests/fixtures/make_nifti_expected.py), write/re-read round trips, and one clean NiftiError per
// kind of bad input, each naming the file.
#include <doctest/doctest.h>
#include <zlib.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "io/nifti.hpp"
#include "tests/io/tmpdir.hpp"

using namespace numens::io;
using numens::io::testing::TempDir;
namespace fs = std::filesystem;

namespace {

const fs::path kCh2 = "/usr/share/mricron/templates/ch2.nii.gz";
const fs::path kFixtures = NUMENS_TEST_FIXTURES;

std::vector<char> slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::vector<char>(std::istreambuf_iterator<char>(in), {});
}
void spit(const fs::path& p, const std::vector<char>& bytes) {
  std::ofstream(p, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
}
// Overwrites bytes of an uncompressed little-endian header (the files our writer makes).
template <class T>
void patch(const fs::path& p, std::size_t offset, T value) {
  auto bytes = slurp(p);
  REQUIRE(bytes.size() >= offset + sizeof(T));
  std::memcpy(bytes.data() + offset, &value, sizeof(T));
  spit(p, bytes);
}

void check_affine(const Affine& a, const Affine& b, double tol) {
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c) {
      INFO("affine[" << r << "][" << c << "]");
      CHECK(std::abs(a[r][c] - b[r][c]) <= tol);
    }
}

// Reading `p` must throw NiftiError whose message names the file and contains `what`.
void check_read_error(const fs::path& p, const std::string& what) {
  try {
    (void)read_nifti(p);
    FAIL("no NiftiError for " << p);
  } catch (const NiftiError& e) {
    const std::string msg = e.what();
    INFO(msg);
    CHECK(msg.find(p.string()) != std::string::npos);
    CHECK(msg.find(what) != std::string::npos);
  }
}

// A small little-endian volume written by our own writer, for the corruption tests.
Volume small_volume(std::int64_t nx, std::int64_t ny, std::int64_t nz, unsigned seed) {
  Volume v;
  v.dims = {nx, ny, nz};
  v.voxel_size = {1, 1, 1};
  v.affine = {{{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}}};
  v.data.resize(v.voxel_count());
  std::mt19937 rng(seed);
  for (auto& x : v.data) x = float(rng() % 256);
  return v;
}

std::size_t index(const Volume& v, std::int64_t i, std::int64_t j, std::int64_t k) {
  return std::size_t(i + v.dims[0] * (j + v.dims[1] * k));
}

}  // namespace

TEST_CASE("nifti: ch2 (Colin27) matches nibabel") {
  if (!fs::exists(kCh2)) {
    MESSAGE("skipped: " << kCh2 << " absent (install mricron-data)");
    return;
  }
  const Volume v = read_nifti(kCh2);
  CHECK(v.dims == std::array<std::int64_t, 3>{181, 217, 181});
  CHECK(v.datatype == int(NiftiType::u8));
  CHECK(v.voxel_size == std::array<double, 3>{1.0, 1.0, 1.0});
  CHECK(v.sform_code == 4);
  CHECK(v.qform_code == 0);
  // nibabel: get_sform() of ch2.nii.gz (make_nifti_expected.py).
  check_affine(v.affine, Affine{{{1, 0, 0, -90}, {0, 1, 0, -125}, {0, 0, 1, -71}, {0, 0, 0, 1}}},
               0);
  double sum = 0, mx = 0;
  for (float x : v.data) sum += x, mx = std::max<double>(mx, x);
  CHECK(sum == 317151210.0);
  CHECK(mx == 254.0);
  CHECK(v.data[index(v, 0, 0, 0)] == 0);
  CHECK(v.data[index(v, 90, 108, 90)] == 33);
  CHECK(v.data[index(v, 100, 120, 60)] == 100);
  CHECK(v.data[index(v, 180, 216, 180)] == 0);
  CHECK_NOTHROW(check_finite(v, kCh2));

  SUBCASE("written back by our writer (.nii.gz and .nii) and re-read: identical") {
    TempDir dir;
    for (const char* name : {"ch2_copy.nii.gz", "ch2_copy.nii"}) {
      const fs::path out = dir / name;
      write_nifti(out, v, NiftiType::u8);
      const auto head = slurp(out);
      const bool gz = out.extension() == ".gz";
      CHECK((std::uint8_t(head[0]) == 0x1f && std::uint8_t(head[1]) == 0x8b) == gz);
      const Volume w = read_nifti(out);
      CHECK(w.dims == v.dims);
      CHECK(w.datatype == v.datatype);
      CHECK(w.voxel_size == v.voxel_size);
      CHECK(w.sform_code == 4);
      CHECK(w.qform_code == 4);
      check_affine(w.affine, v.affine, 0);
      CHECK(w.data == v.data);
    }
    CHECK(dir.entries() == 2);  // no temp files left
  }
}

TEST_CASE("nifti: big-endian oblique int16 fixture") {
  const fs::path p = kFixtures / "big_endian_oblique.nii";
  REQUIRE(fs::exists(p));
  const Volume v = read_nifti(p);
  CHECK(v.dims == std::array<std::int64_t, 3>{7, 5, 3});
  CHECK(v.datatype == int(NiftiType::i16));
  CHECK(v.voxel_size[0] == doctest::Approx(1.5));
  CHECK(v.voxel_size[1] == doctest::Approx(2.0));
  CHECK(v.voxel_size[2] == doctest::Approx(2.5));
  CHECK(v.sform_code == 2);
  CHECK(v.qform_code == 1);
  // nibabel's sform (float32 values of a 30-degree rotation about z times diag(1.5, 2, 2.5)).
  const Affine expected{{{1.2990380526, -1.0, 0, -10.0},
                         {0.75, 1.7320507765, 0, 20.5},
                         {0, 0, 2.5, 3.25},
                         {0, 0, 0, 1}}};
  check_affine(v.affine, expected, 1e-9);
  for (std::int64_t k = 0; k < 3; ++k)
    for (std::int64_t j = 0; j < 5; ++j)
      for (std::int64_t i = 0; i < 7; ++i)
        REQUIRE(v.data[index(v, i, j, k)] == float(i + 10 * j + 100 * k - 50));

  SUBCASE("written back: values, sform exact, qform equal to the affine") {
    TempDir dir;
    const fs::path out = dir / "copy.nii";
    write_nifti(out, v, NiftiType::i16);
    const Volume w = read_nifti(out);
    CHECK(w.data == v.data);
    CHECK(w.sform_code == 2);
    CHECK(w.qform_code == 1);
    check_affine(w.affine, v.affine, 0);
    // With the sform code patched to 0 the reader falls back to the qform: our quaternion.
    patch<std::int16_t>(out, 254, 0);
    const Volume q = read_nifti(out);
    CHECK(q.sform_code == 0);
    check_affine(q.affine, v.affine, 1e-6);
  }
}

TEST_CASE("nifti: NIfTI-2, gzipped, float32") {
  const fs::path p = kFixtures / "nifti2_small.nii.gz";
  REQUIRE(fs::exists(p));
  const Volume v = read_nifti(p);
  CHECK(v.dims == std::array<std::int64_t, 3>{4, 3, 2});
  CHECK(v.datatype == int(NiftiType::f32));
  check_affine(v.affine, Affine{{{-2, 0, 0, 30}, {0, 2, 0, -40}, {0, 0, 3, 5}, {0, 0, 0, 1}}}, 0);
  for (std::int64_t k = 0; k < 2; ++k)
    for (std::int64_t j = 0; j < 3; ++j)
      for (std::int64_t i = 0; i < 4; ++i)
        CHECK(v.data[index(v, i, j, k)] == float(0.5 * i - j + 10 * k));
}

TEST_CASE("nifti: scl_slope/scl_inter are applied when slope != 0") {
  TempDir dir;
  const fs::path p = dir / "scaled.nii";
  const Volume v = small_volume(5, 4, 3, 1);
  write_nifti(p, v, NiftiType::u8);
  CHECK(read_nifti(p).data == v.data);  // slope 0 as written: no scaling
  patch<float>(p, 112, 0.5f);           // scl_slope
  patch<float>(p, 116, 10.0f);          // scl_inter
  const Volume s = read_nifti(p);
  CHECK(s.datatype == int(NiftiType::u8));
  CHECK(s.scl_slope == 0.5);
  for (std::size_t i = 0; i < v.data.size(); ++i) REQUIRE(s.data[i] == 0.5f * v.data[i] + 10.0f);
}

TEST_CASE("nifti: each bad input gives a NiftiError naming the file") {
  TempDir dir;
  const Volume v = small_volume(16, 16, 16, 2);

  SUBCASE("missing") {
    check_read_error(dir / "nope.nii.gz", "not found");
  }

  SUBCASE("wrong magic: 400 bytes of garbage") {
    const fs::path p = dir / "garbage.nii";
    std::vector<char> junk(400);
    std::mt19937 rng(7);
    for (auto& c : junk) c = char(rng() & 0xff);
    spit(p, junk);
    check_read_error(p, "not a NIfTI file");
  }

  SUBCASE("right header size, wrong magic string") {
    const fs::path p = dir / "magic.nii";
    write_nifti(p, v, NiftiType::u8);
    patch<char>(p, 345, 'x');
    check_read_error(p, "bad magic");
  }

  SUBCASE("truncated .nii.gz (first half of a real gzip)") {
    const fs::path full = dir / "full.nii.gz", half = dir / "half.nii.gz";
    write_nifti(full, v, NiftiType::u8);  // random values: the gzip is barely smaller than raw
    auto bytes = slurp(full);
    REQUIRE(bytes.size() > 2000);
    bytes.resize(bytes.size() / 2);
    spit(half, bytes);
    check_read_error(half, "truncated: ");
  }

  SUBCASE("truncated .nii") {
    const fs::path p = dir / "short.nii";
    write_nifti(p, v, NiftiType::u8);
    auto bytes = slurp(p);
    bytes.resize(bytes.size() - 100);
    spit(p, bytes);
    check_read_error(p, "truncated");
  }

  SUBCASE("corrupt gzip: a byte flipped in the deflate stream") {
    const fs::path p = dir / "flipped.nii.gz";
    write_nifti(p, v, NiftiType::u8);
    auto bytes = slurp(p);
    bytes[bytes.size() - 200] = char(bytes[bytes.size() - 200] ^ 0x55);
    spit(p, bytes);
    check_read_error(p, "corrupt");
  }

  SUBCASE("unknown datatype") {
    const fs::path p = dir / "dtype.nii";
    write_nifti(p, v, NiftiType::u8);
    patch<std::int16_t>(p, 70, 9999);
    check_read_error(p, "unsupported datatype 9999");
  }

  SUBCASE("known but unsupported datatype (complex64)") {
    const fs::path p = dir / "complex.nii";
    write_nifti(p, v, NiftiType::u8);
    patch<std::int16_t>(p, 70, 32);
    check_read_error(p, "unsupported datatype 32");
  }

  SUBCASE("a dimension of 0") {
    const fs::path p = dir / "dim0.nii";
    write_nifti(p, v, NiftiType::u8);
    patch<std::int16_t>(p, 44, 0);  // dim[2]
    check_read_error(p, "dimension 2 is 0");
  }

  SUBCASE("4-D with t > 1") {
    const fs::path p = dir / "fourd.nii";
    write_nifti(p, v, NiftiType::u8);
    patch<std::int16_t>(p, 40, 4);  // dim[0]
    patch<std::int16_t>(p, 48, 5);  // dim[4] = t
    check_read_error(p, "not supported");
  }

  SUBCASE("4-D with t = 1 is a 3-D volume") {
    const fs::path p = dir / "fourd1.nii";
    write_nifti(p, v, NiftiType::u8);
    patch<std::int16_t>(p, 40, 4);
    CHECK(read_nifti(p).data == v.data);
  }
}

TEST_CASE("nifti: NaN/inf check and write-side validation") {
  TempDir dir;
  Volume v = small_volume(4, 4, 4, 3);
  v.data[index(v, 1, 2, 3)] = std::numeric_limits<float>::quiet_NaN();
  const fs::path p = dir / "nan.nii";
  write_nifti(p, v, NiftiType::f32);
  const Volume r = read_nifti(p);
  CHECK(std::isnan(r.data[index(r, 1, 2, 3)]));
  try {
    check_finite(r, p);
    FAIL("NaN not reported");
  } catch (const NiftiError& e) {
    const std::string msg = e.what();
    CHECK(msg.find(p.string()) != std::string::npos);
    CHECK(msg.find("NaN at voxel (1,2,3)") != std::string::npos);
  }

  // Values that do not fit the requested type: error, and no output or temp file left.
  const fs::path bad = dir / "bad.nii.gz";
  Volume big = small_volume(4, 4, 4, 4);
  big.data[5] = 300;
  CHECK_THROWS_AS(write_nifti(bad, big, NiftiType::u8), NiftiError);
  CHECK_THROWS_AS(write_nifti(bad, v, NiftiType::i16), NiftiError);  // NaN
  CHECK_THROWS_AS(write_nifti(bad, big, NiftiType::f64), NiftiError);
  Volume wrong = big;
  wrong.data.pop_back();
  CHECK_THROWS_AS(write_nifti(bad, wrong, NiftiType::f32), NiftiError);
  CHECK_FALSE(fs::exists(bad));
  CHECK(dir.entries() == 1);  // nan.nii only
  CHECK_THROWS_AS(write_nifti(dir / "no/dir/x.nii", big, NiftiType::f32), numens::io::IoError);
}

TEST_CASE("nifti: header cases a careful user is told about") {
  TempDir dir;
  Volume v = small_volume(5, 4, 3, 7);
  v.voxel_size = {1.5, 2.0, 2.5};
  v.affine = {{{1.5, 0, 0, -10}, {0, 2, 0, 20}, {0, 0, 2.5, 5}, {0, 0, 0, 1}}};
  v.qform_code = v.sform_code = 1;
  const fs::path p = dir / "h.nii";
  write_nifti(p, v, NiftiType::u8);
  CHECK(read_nifti(p).warnings.empty());  // codes present, qform == sform

  SUBCASE("voxel size zero, negative or NaN: refused, not reinterpreted") {
    // pixdim[i] is the float at byte 76 + 4 i.
    patch<float>(p, 84, 0.0f);
    check_read_error(p, "pixdim[2] (voxel size along y) is 0");
    patch<float>(p, 84, -2.0f);
    check_read_error(p, "pixdim[2] (voxel size along y) is -2");
    patch<float>(p, 84, 2.0f);
    patch<float>(p, 88, std::numeric_limits<float>::quiet_NaN());
    check_read_error(p, "pixdim[3] (voxel size along z) is nan");
  }

  SUBCASE("vox_offset NaN, below the header or absurd: refused (fuzz finding: cast of 2.6e22)") {
    patch<float>(p, 108, 2.5973e22f);
    check_read_error(p, "vox_offset 2.5973e+22 is not a data offset");
    patch<float>(p, 108, std::numeric_limits<float>::quiet_NaN());
    check_read_error(p, "is not a data offset");
    patch<float>(p, 108, 100.0f);
    check_read_error(p, "vox_offset 100 is not a data offset (at least 348 bytes");
  }

  SUBCASE("a gzipped header promising gigabytes: truncated, without allocating them") {
    patch<std::int16_t>(p, 42, 2000);  // dim[1..3] = 2000 x 2000 x 250 uint8: 1 GB promised
    patch<std::int16_t>(p, 44, 2000);
    patch<std::int16_t>(p, 46, 250);
    const auto raw = slurp(p);
    const fs::path gzp = dir / "promises.nii.gz";
    gzFile gz = gzopen(gzp.string().c_str(), "wb");
    REQUIRE(gz != nullptr);
    REQUIRE(gzwrite(gz, raw.data(), unsigned(raw.size())) == int(raw.size()));
    gzclose(gz);
    check_read_error(gzp, "truncated: 60 of 1000000000 bytes of image data");
  }

  SUBCASE("a singular or non-finite sform: refused when read, naming the file") {
    for (int c = 0; c < 3; ++c) patch<float>(p, std::size_t(280 + 4 * c), 0.0f);  // srow_x = 0
    check_read_error(p, "the sform affine is singular");
    patch<float>(p, 280, std::numeric_limits<float>::infinity());
    check_read_error(p, "the sform affine has a non-finite entry");
  }

  SUBCASE("no orientation codes: nibabel's affine, one warning, codes 0 written back") {
    patch<std::int16_t>(p, 252, 0);  // qform_code
    patch<std::int16_t>(p, 254, 0);  // sform_code
    const Volume r = read_nifti(p);
    CHECK_FALSE(r.orientation_known);
    // nibabel 5.0's get_best_affine() of this header (printed once with nibabel).
    check_affine(r.affine,
                 Affine{{{-1.5, 0, 0, 3}, {0, 2, 0, -3}, {0, 0, 2.5, -2.5}, {0, 0, 0, 1}}}, 1e-12);
    REQUIRE(r.warnings.size() == 1);
    CHECK(r.warnings[0].find(p.string()) != std::string::npos);
    CHECK(r.warnings[0].find("no orientation") != std::string::npos);
    const fs::path back = dir / "back.nii";
    write_nifti(back, r, NiftiType::u8);
    const Volume b = read_nifti(back);
    CHECK(b.qform_code == 0);
    CHECK(b.sform_code == 0);
    CHECK_FALSE(b.orientation_known);
    check_affine(b.affine, r.affine, 1e-6);
  }

  SUBCASE("qform and sform that disagree: the sform, and one warning saying so") {
    patch<float>(p, 268, -10.0f + 4.0f);  // qoffset_x: the qform moved 4 mm along x
    const Volume r = read_nifti(p);
    check_affine(r.affine, v.affine, 1e-6);
    REQUIRE(r.warnings.size() == 1);
    CHECK(r.warnings[0].find(p.string()) != std::string::npos);
    CHECK(r.warnings[0].find("disagree by up to 4 mm") != std::string::npos);
    CHECK(r.warnings[0].find("using the sform") != std::string::npos);
  }
}
