#include "io/mgh.hpp"

#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "io/atomic_file.hpp"
#include "io/gz_write.hpp"

namespace numens::io {

namespace fs = std::filesystem;

namespace {

// FreeSurfer's MRI_* type codes, those numens reads and writes.
enum class MghType : std::int32_t { uchar = 0, int32 = 1, float32 = 3, int16 = 4 };

constexpr std::size_t kHeaderBytes = 284;  // FreeSurfer's fixed header; the data start here
constexpr std::size_t kTailBytes = 20;     // TR, flip angle, TE, TI, FoV: five float32
constexpr double kUnitTolerance = 1e-3;    // on the length of each direction column

[[noreturn]] void fail(const fs::path& path, const std::string& what) {
  throw MghError("mgh: " + path.string() + ": " + what);
}

std::string num(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", x);
  return buf;
}

// Big-endian fields, decoded byte by byte so the code does not depend on the host's order.
std::uint32_t get_u32(const unsigned char* p) {
  return std::uint32_t(p[0]) << 24 | std::uint32_t(p[1]) << 16 | std::uint32_t(p[2]) << 8 |
         std::uint32_t(p[3]);
}
std::int32_t get_i32(const unsigned char* p) {
  return std::int32_t(get_u32(p));
}
std::int16_t get_i16(const unsigned char* p) {
  return std::int16_t(std::uint16_t(p[0] << 8 | p[1]));
}
float get_f32(const unsigned char* p) {
  return std::bit_cast<float>(get_u32(p));
}

void put_u32(unsigned char* p, std::uint32_t x) {
  p[0] = std::uint8_t(x >> 24);
  p[1] = std::uint8_t(x >> 16);
  p[2] = std::uint8_t(x >> 8);
  p[3] = std::uint8_t(x);
}
void put_i32(unsigned char* p, std::int32_t x) {
  put_u32(p, std::uint32_t(x));
}
void put_f32(unsigned char* p, float x) {
  put_u32(p, std::bit_cast<std::uint32_t>(x));
}

std::size_t bytes_per_voxel(MghType t) {
  switch (t) {
    case MghType::uchar:
      return 1;
    case MghType::int16:
      return 2;
    case MghType::int32:
    case MghType::float32:
      return 4;
  }
  return 0;
}

NiftiType to_nifti(MghType t) {
  switch (t) {
    case MghType::uchar:
      return NiftiType::u8;
    case MghType::int16:
      return NiftiType::i16;
    case MghType::int32:
      return NiftiType::i32;
    case MghType::float32:
      break;
  }
  return NiftiType::f32;
}

using GzFile = std::unique_ptr<gzFile_s, int (*)(gzFile)>;

// Reads up to `n` bytes (in pieces: gzread takes an unsigned length). Returns how many were read;
// a corrupt stream throws. Z_BUF_ERROR is how zlib reports a stream that ends early, which the
// caller reports as truncation with the byte counts. The message does not say where in the file
// the damage is: zlib inflates ahead of the reads (a small file at once, CRC check included).
std::size_t read_some(gzFile gz, unsigned char* out, std::size_t n, const fs::path& path) {
  std::size_t got = 0;
  while (got < n) {
    const unsigned len = unsigned(std::min<std::size_t>(n - got, std::size_t(1) << 30));
    const int r = gzread(gz, out + got, len);
    if (r <= 0) break;
    got += std::size_t(r);
  }
  int zerr = Z_OK;
  const char* msg = gzerror(gz, &zerr);
  if (zerr != Z_OK && zerr != Z_BUF_ERROR) {
    std::string why = msg ? msg : "?";
    // zlib prefixes the file name, which the message already starts with.
    if (const std::string prefix = path.string() + ": "; why.starts_with(prefix))
      why.erase(0, prefix.size());
    fail(path, "corrupt gzip stream: " + why);
  }
  return got;
}

// The geometry fields of the header, validated. `good` is false when goodRASflag <= 0.
struct MghGeometry {
  bool good = false;
  float spacing[3] = {1, 1, 1};
  float mdc[3][3] = {};  // mdc[axis][r, a, s]
  float c_ras[3] = {0, 0, 0};
};

MghGeometry read_mgh_geometry(const unsigned char* h, const fs::path& path) {
  MghGeometry g;
  g.good = get_i16(h + 28) > 0;
  if (!g.good) {
    // nibabel's default (MGHHeader._set_affine_default); see mgh.hpp for how it differs from
    // FreeSurfer's.
    g.mdc[0][0] = -1;
    g.mdc[1][2] = 1;
    g.mdc[2][1] = -1;
    return g;
  }
  static const char* const kAxis[3] = {"x", "y", "z"};
  for (int a = 0; a < 3; ++a) {
    g.spacing[a] = get_f32(h + 30 + 4 * a);
    if (!(g.spacing[a] > 0) || !std::isfinite(g.spacing[a]))
      fail(path, std::string("voxel size along ") + kAxis[a] + " is " + num(g.spacing[a]) +
                     ", must be positive and finite");
  }
  for (int a = 0; a < 3; ++a) {
    double len2 = 0;
    for (int c = 0; c < 3; ++c) {
      g.mdc[a][c] = get_f32(h + 42 + 12 * a + 4 * c);
      len2 += double(g.mdc[a][c]) * double(g.mdc[a][c]);
    }
    // A direction column that is not a unit vector means the header is damaged, or written by a
    // tool that folded the spacing into it: either way the spacing would be counted twice.
    const double len = std::sqrt(len2);
    if (!(std::abs(len - 1.0) <= kUnitTolerance))
      fail(path, std::string("direction cosines of the ") + kAxis[a] + " axis (" + kAxis[a] +
                     "_r, " + kAxis[a] + "_a, " + kAxis[a] + "_s) have length " + num(len) +
                     ", must be 1 (within 1e-3)");
  }
  const auto& m = g.mdc;  // rows are axes; the determinant is the same either way
  const double det = double(m[0][0]) * (double(m[1][1]) * m[2][2] - double(m[1][2]) * m[2][1]) -
                     double(m[0][1]) * (double(m[1][0]) * m[2][2] - double(m[1][2]) * m[2][0]) +
                     double(m[0][2]) * (double(m[1][0]) * m[2][1] - double(m[1][1]) * m[2][0]);
  if (!(std::abs(det) >= kUnitTolerance))
    fail(path, "direction cosines are singular (determinant " + num(det) +
                   "): two voxel axes point the same way");
  for (int c = 0; c < 3; ++c) {
    g.c_ras[c] = get_f32(h + 78 + 4 * c);
    if (!std::isfinite(g.c_ras[c])) fail(path, "centre (c_ras) is not finite");
  }
  return g;
}

// vox2ras with nibabel's arithmetic (MGHHeader.get_affine): see mgh.hpp.
Affine vox2ras(const MghGeometry& g, const std::array<std::int64_t, 3>& dims) {
  Affine a{};
  for (int r = 0; r < 3; ++r) {
    double centre = 0;
    for (int j = 0; j < 3; ++j) {
      const float m = g.mdc[j][r] * g.spacing[j];  // float32 product, as numpy computes it
      a[r][j] = m;
      centre += double(m) * double(dims[j]);
    }
    a[r][3] = double(float(double(g.c_ras[r]) - centre / 2));
  }
  a[3][3] = 1;
  return a;
}

}  // namespace

// ---- read ---------------------------------------------------------------------------------------

Volume read_mgh(const fs::path& path) {
  if (const std::string why = file_problem(path); !why.empty()) fail(path, why);
  const std::string p = path.string();
  GzFile gz(gzopen(p.c_str(), "rb"), gzclose);
  if (!gz) fail(path, "cannot open: " + std::string(std::strerror(errno)));

  unsigned char h[kHeaderBytes] = {};
  const std::size_t got = read_some(gz.get(), h, sizeof h, path);
  const std::int32_t version = got >= 4 ? get_i32(h) : 0;
  if (got < 4 || (version != 1 && got < kHeaderBytes))
    fail(path, "not an MGH file: " + std::to_string(got) + " bytes, shorter than the " +
                   std::to_string(kHeaderBytes) + "-byte header");
  if (version != 1)
    fail(path, "not an MGH file (version field is " + std::to_string(version) + ", expected 1)");
  if (got < kHeaderBytes)
    fail(path, "truncated header: " + std::to_string(got) + " of " + std::to_string(kHeaderBytes) +
                   " bytes");

  static const char* const kDim[3] = {"width", "height", "depth"};
  Volume v;
  for (int a = 0; a < 3; ++a) {
    v.dims[a] = get_i32(h + 4 + 4 * a);
    if (v.dims[a] <= 0)
      fail(path, std::string(kDim[a]) + " is " + std::to_string(v.dims[a]) + ", must be >= 1");
  }
  const std::int32_t frames = get_i32(h + 16);
  if (frames <= 0) fail(path, "nframes is " + std::to_string(frames) + ", must be >= 1");
  if (frames > 1)
    fail(path, "4-D: " + std::to_string(frames) + " frames, numens reads single volumes");
  const std::int32_t code = get_i32(h + 20);
  const auto type = MghType(code);
  if (code != 0 && code != 1 && code != 3 && code != 4)
    fail(path, "unsupported data type " + std::to_string(code) +
                   "; numens reads MRI_UCHAR (0), MRI_INT (1), MRI_FLOAT (3), MRI_SHORT (4)");
  // No brain volume comes near 2^32 voxels; a damaged header must not cause a huge allocation.
  // (In double: three int32 sizes can overflow an int64 product.)
  const double nvox_real = double(v.dims[0]) * double(v.dims[1]) * double(v.dims[2]);
  if (nvox_real > double(std::int64_t(1) << 32))
    fail(path, "implausible size: " + std::to_string(v.dims[0]) + " x " +
                   std::to_string(v.dims[1]) + " x " + std::to_string(v.dims[2]) + " voxels");
  const std::int64_t nvox = v.dims[0] * v.dims[1] * v.dims[2];

  const MghGeometry g = read_mgh_geometry(h, path);
  v.voxel_size = {g.spacing[0], g.spacing[1], g.spacing[2]};
  v.affine = vox2ras(g, v.dims);
  v.datatype = int(to_nifti(type));
  v.qform_code = v.sform_code = 1;
  if (!g.good) {
    v.orientation_known = false;
    v.warnings.push_back("mgh: " + path.string() +
                         ": no geometry (goodRASflag is 0): read with nibabel's default "
                         "orientation and 1 mm voxels; left and right may be swapped");
  }

  const std::size_t n = std::size_t(nvox), bpv = bytes_per_voxel(type);
  // Grown as the data arrive (1 MiB, then doubling): a damaged header that promises gigabytes of
  // a few-kilobyte file then costs about a megabyte, not an allocation of what it promised.
  const std::size_t want = n * bpv;
  std::vector<unsigned char> raw;
  std::size_t have = 0;
  while (have < want) {
    const std::size_t len = std::min(want - have, std::max(have, std::size_t(1) << 20));
    raw.resize(have + len);
    const std::size_t r = read_some(gz.get(), raw.data() + have, len, path);
    have += r;
    if (r < len) break;
  }
  if (have < want)
    fail(path, "truncated image data: expected " + std::to_string(want) + " bytes, got " +
                   std::to_string(have));
  // Read through the tail of a gzip stream: zlib checks the stream's CRC and length only at its
  // end, and a damaged .mgz must not pass just because the damage sits after the voxels.
  if (!gzdirect(gz.get())) {
    std::vector<unsigned char> sink(1 << 16);
    while (read_some(gz.get(), sink.data(), sink.size(), path) == sink.size()) {
    }
  }

  v.data.resize(n);
  const unsigned char* d = raw.data();
  switch (type) {
    case MghType::uchar:
      for (std::size_t i = 0; i < n; ++i) v.data[i] = float(d[i]);
      break;
    case MghType::int16:
      for (std::size_t i = 0; i < n; ++i) v.data[i] = float(get_i16(d + 2 * i));
      break;
    case MghType::int32:
      for (std::size_t i = 0; i < n; ++i) v.data[i] = float(get_i32(d + 4 * i));
      break;
    case MghType::float32:
      for (std::size_t i = 0; i < n; ++i) v.data[i] = get_f32(d + 4 * i);
      break;
  }
  return v;
}

// ---- write --------------------------------------------------------------------------------------

namespace {

std::string voxel_name(const Volume& v, std::size_t i) {
  const auto nx = std::size_t(v.dims[0]), ny = std::size_t(v.dims[1]);
  return "(" + std::to_string(i % nx) + "," + std::to_string(i / nx % ny) + "," +
         std::to_string(i / (nx * ny)) + ")";
}

// Rounds to nearest (ties to even, as write_nifti) and stores big-endian.
template <class T>
void to_integer(const Volume& v, const fs::path& path, const char* name, unsigned char* out) {
  const double lo = double(std::numeric_limits<T>::min()),
               hi = double(std::numeric_limits<T>::max());
  for (std::size_t i = 0; i < v.data.size(); ++i) {
    if (std::isnan(v.data[i]))
      fail(path,
           std::string("cannot write as ") + name + ": voxel " + voxel_name(v, i) + " is NaN");
    const double x = std::nearbyint(double(v.data[i]));
    if (!(x >= lo && x <= hi))
      fail(path, std::string("cannot write as ") + name + ": voxel " + voxel_name(v, i) +
                     " has value " + num(v.data[i]) + ", outside the type's range");
    using U = std::make_unsigned_t<T>;
    const U u = U(T(x));
    for (std::size_t b = 0; b < sizeof(T); ++b)
      out[i * sizeof(T) + b] = std::uint8_t(u >> (8 * (sizeof(T) - 1 - b)));
  }
}

}  // namespace

void write_mgh(const fs::path& path, const Volume& v, NiftiType type) {
  bool gzip = false;
  if (path.extension() == ".mgz") {
    gzip = true;
  } else if (path.extension() != ".mgh") {
    fail(path, "cannot write: the name must end in .mgz (compressed) or .mgh");
  }
  MghType mtype = MghType::float32;
  switch (type) {
    case NiftiType::u8:
      mtype = MghType::uchar;
      break;
    case NiftiType::i16:
      mtype = MghType::int16;
      break;
    case NiftiType::i32:
      mtype = MghType::int32;
      break;
    case NiftiType::f32:
      mtype = MghType::float32;
      break;
    default:
      fail(path, std::string("cannot write datatype ") + nifti_type_name(int(type)) +
                     "; MGH holds uint8, int16, int32, float32");
  }
  for (int a = 0; a < 3; ++a) {
    if (v.dims[a] < 1 || v.dims[a] > std::numeric_limits<std::int32_t>::max())
      fail(path, "cannot write: dimension " + std::to_string(a + 1) + " is " +
                     std::to_string(v.dims[a]) + " (MGH needs 1..2147483647)");
  }
  // In double: three sizes near 2^31 overflow an int64 product (Volume::voxel_count).
  const double voxels = double(v.dims[0]) * double(v.dims[1]) * double(v.dims[2]);
  if (double(v.data.size()) != voxels)
    fail(path, "cannot write: " + std::to_string(v.data.size()) + " values for " + num(voxels) +
                   " voxels");
  for (const auto& row : v.affine)
    for (double x : row)
      if (!std::isfinite(x)) fail(path, "cannot write: affine has a non-finite entry");

  // Geometry with nibabel's arithmetic (MGHImage._affine2header): norms as sqrt of the sum of
  // squares added top to bottom, directions and centre in double, each rounded once to float32.
  unsigned char h[kHeaderBytes] = {};
  put_i32(h, 1);
  for (int a = 0; a < 3; ++a) put_i32(h + 4 + 4 * a, std::int32_t(v.dims[a]));
  put_i32(h + 16, 1);
  put_i32(h + 20, std::int32_t(mtype));
  put_i32(h + 24, 0);  // dof
  h[28] = 0;           // goodRASflag = 1 (int16, big-endian)
  h[29] = 1;
  const auto& A = v.affine;
  for (int j = 0; j < 3; ++j) {
    const double norm = std::sqrt(A[0][j] * A[0][j] + A[1][j] * A[1][j] + A[2][j] * A[2][j]);
    if (!(norm > 0))
      fail(path, "cannot write: affine column " + std::to_string(j + 1) + " is zero");
    put_f32(h + 30 + 4 * j, float(norm));
    for (int r = 0; r < 3; ++r) put_f32(h + 42 + 12 * j + 4 * r, float(A[r][j] / norm));
  }
  const double half[3] = {double(v.dims[0]) / 2, double(v.dims[1]) / 2, double(v.dims[2]) / 2};
  for (int r = 0; r < 3; ++r) {
    const double c = A[r][0] * half[0] + A[r][1] * half[1] + A[r][2] * half[2] + A[r][3];
    put_f32(h + 78 + 4 * r, float(c));
  }

  const std::size_t n = v.data.size(), bpv = bytes_per_voxel(mtype);
  std::vector<unsigned char> bytes(n * bpv + kTailBytes, 0);  // the tail: scan parameters 0
  switch (mtype) {
    case MghType::uchar:
      to_integer<std::uint8_t>(v, path, "uint8", bytes.data());
      break;
    case MghType::int16:
      to_integer<std::int16_t>(v, path, "int16", bytes.data());
      break;
    case MghType::int32:
      to_integer<std::int32_t>(v, path, "int32", bytes.data());
      break;
    case MghType::float32:
      for (std::size_t i = 0; i < n; ++i) put_f32(bytes.data() + 4 * i, v.data[i]);
      break;
  }

  write_parts(path, gzip, {{h, sizeof h}, bytes}, fail);
}

}  // namespace numens::io
