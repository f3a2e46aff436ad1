#include "io/nifti.hpp"

#include <nifti2_io.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>

#include "io/atomic_file.hpp"
#include "io/gz_write.hpp"

namespace numens::io {

namespace fs = std::filesystem;

namespace {

// The library's default debug level prints to stderr on every failure; numens reports through
// NiftiError instead. Once per process.
void quiet_nifti() {
  static std::once_flag flag;
  std::call_once(flag, [] { nifti_set_debug_level(0); });
}

[[noreturn]] void fail(const fs::path& path, const std::string& what) {
  throw NiftiError("nifti: " + path.string() + ": " + what);
}

bool supported_read_type(int dt) {
  switch (NiftiType(dt)) {
    case NiftiType::u8:
    case NiftiType::i16:
    case NiftiType::i32:
    case NiftiType::f32:
    case NiftiType::f64:
    case NiftiType::i8:
    case NiftiType::u16:
    case NiftiType::u32:
      return true;
  }
  return false;
}

// ---- header pre-check ---------------------------------------------------------------------------

// The fields the pre-check needs, from either header version, in host byte order.
struct HeaderFacts {
  int version = 0;  // 1 or 2
  int datatype = 0;
  std::int64_t dim[8] = {};
  double pixdim[8] = {};
  double vox_offset = 0;
};

template <class T>
T load(const unsigned char* p, bool swap) {
  unsigned char b[sizeof(T)];
  std::memcpy(b, p, sizeof(T));
  if (swap) {
    for (size_t i = 0; i < sizeof(T) / 2; ++i) std::swap(b[i], b[sizeof(T) - 1 - i]);
  }
  T v;
  std::memcpy(&v, b, sizeof(T));
  return v;
}

// Reads the first 540 bytes through zlib (gzread reads plain files unchanged) and checks what the
// library would otherwise report only as NULL, or not at all. Offsets are those of nifti1.h and
// nifti2.h; both versions start with the int32 sizeof_hdr, which also reveals the byte order.
HeaderFacts precheck_header(const fs::path& path) {
  std::error_code ec;
  if (const std::string why = file_problem(path); !why.empty()) fail(path, why);

  const std::string p = path.string();
  std::unique_ptr<gzFile_s, int (*)(gzFile)> gz(gzopen(p.c_str(), "rb"), gzclose);
  if (!gz) fail(path, "cannot open: " + std::string(std::strerror(errno)));
  unsigned char h[540] = {};
  const int got = gzread(gz.get(), h, sizeof h);
  int zerr = Z_OK;
  const char* zmsg = gzerror(gz.get(), &zerr);
  if (got < 0 || (zerr != Z_OK && zerr != Z_STREAM_END && zerr != Z_BUF_ERROR))
    fail(path, std::string("corrupt gzip stream in the header: ") + (zmsg ? zmsg : "?"));
  if (got < 348)
    fail(path,
         "not a NIfTI file: " + std::to_string(got) + " bytes, shorter than a NIfTI-1 header");

  const std::int32_t size_native = load<std::int32_t>(h, false);
  const std::int32_t size_swapped = load<std::int32_t>(h, true);
  HeaderFacts f;
  bool swap = false;
  if (size_native == 348 || size_swapped == 348) {
    swap = size_native != 348;
    f.version = 1;
  } else if (size_native == 540 || size_swapped == 540) {
    swap = size_native != 540;
    f.version = 2;
  } else {
    fail(path, "not a NIfTI file (bad magic: header size field is " + std::to_string(size_native) +
                   ", expected 348 or 540)");
  }

  if (f.version == 1) {
    const char* magic = reinterpret_cast<const char*>(h + 344);
    if (std::memcmp(magic, "ni1\0", 4) == 0)
      fail(path, "two-file NIfTI-1 (.hdr/.img) is not supported; convert to a single .nii");
    if (std::memcmp(magic, "n+1\0", 4) != 0)
      fail(path, "not a NIfTI file (bad magic at byte 344; ANALYZE 7.5 is not supported)");
    for (int i = 0; i < 8; ++i) f.dim[i] = load<std::int16_t>(h + 40 + 2 * i, swap);
    f.datatype = load<std::int16_t>(h + 70, swap);
    for (int i = 0; i < 8; ++i) f.pixdim[i] = load<float>(h + 76 + 4 * i, swap);
    f.vox_offset = load<float>(h + 108, swap);
  } else {
    if (got < 540)
      fail(path, "truncated NIfTI-2 header (" + std::to_string(got) + " of 540 bytes)");
    if (std::memcmp(h + 4, "n+2\0\r\n\032\n", 8) != 0)
      fail(path, "not a NIfTI file (bad NIfTI-2 magic at byte 4)");
    f.datatype = load<std::int16_t>(h + 12, swap);
    for (int i = 0; i < 8; ++i) f.dim[i] = load<std::int64_t>(h + 16 + 8 * i, swap);
    for (int i = 0; i < 8; ++i) f.pixdim[i] = load<double>(h + 104 + 8 * i, swap);
    f.vox_offset = double(load<std::int64_t>(h + 168, swap));
  }

  // Where the data start: a NaN, a negative or an absurd offset would be cast to a size below.
  const double min_offset = f.version == 1 ? 348.0 : 540.0;
  if (!(std::isfinite(f.vox_offset) && f.vox_offset >= min_offset && f.vox_offset < 1e12)) {
    std::ostringstream what;
    what << "vox_offset " << f.vox_offset << " is not a data offset (at least " << min_offset
         << " bytes, the header)";
    fail(path, what.str());
  }
  const std::int64_t ndim = f.dim[0];
  if (ndim < 1 || ndim > 7)
    fail(path, "dim[0] (number of dimensions) is " + std::to_string(ndim) + ", must be 1..7");
  for (int i = 1; i <= ndim; ++i) {
    if (f.dim[i] <= 0)
      fail(path,
           "dimension " + std::to_string(i) + " is " + std::to_string(f.dim[i]) + ", must be >= 1");
  }
  // The library reads a voxel size <= 0 as 1 (or its absolute value) without a word, which moves
  // anatomy by the wrong scale; a careful reader refuses it.
  static const char* const kAxis[3] = {"x", "y", "z"};
  for (int i = 1; i <= std::min<std::int64_t>(ndim, 3); ++i) {
    if (!(std::isfinite(f.pixdim[i]) && f.pixdim[i] > 0)) {
      std::ostringstream what;
      what << "pixdim[" << i << "] (voxel size along " << kAxis[i - 1] << ") is " << f.pixdim[i]
           << ": voxel sizes must be positive";
      fail(path, what.str());
    }
  }
  std::int64_t volumes = 1;
  for (int i = 4; i <= ndim; ++i) volumes *= f.dim[i];
  if (volumes > 1)
    fail(path, std::to_string(ndim) + "-D image with " + std::to_string(volumes) +
                   " volumes is not supported (numens reads single 3-D volumes)");
  if (!supported_read_type(f.datatype))
    fail(path, "unsupported datatype " + std::to_string(f.datatype) + " (" +
                   nifti_datatype_string(f.datatype) +
                   "); numens reads uint8, int8, int16, uint16, int32, uint32, float32, float64");

  // A header with absurd dimensions would make the library try a huge allocation; no brain
  // volume comes near 2^32 voxels.
  std::int64_t nvox = 1;
  for (int i = 1; i <= std::min<std::int64_t>(ndim, 3); ++i) nvox *= f.dim[i];
  if (nvox > (std::int64_t(1) << 32))
    fail(path, "implausible size: " + std::to_string(nvox) + " voxels");

  // Uncompressed files: a short file is known before reading. (For .gz the library's short read
  // is the signal; see read_nifti.)
  if (!nifti_is_gzfile(p.c_str())) {
    int nbyper = 0, swapsize = 0;
    nifti_datatype_sizes(f.datatype, &nbyper, &swapsize);
    const auto need = std::uintmax_t(f.vox_offset) + std::uintmax_t(nvox) * std::uintmax_t(nbyper);
    const std::uintmax_t have = fs::file_size(path, ec);
    if (!ec && have < need)
      fail(path,
           "truncated: " + std::to_string(have) + " bytes, header needs " + std::to_string(need));
  }
  return f;
}

struct NimFree {
  void operator()(nifti_image* n) const { nifti_image_free(n); }
};

// memcpy per element: the byte buffer carries no alignment guarantee for T (compilers turn this
// into plain loads).
template <class T>
void to_float(const void* src, std::size_t n, double slope, double inter, float* out) {
  const auto* s = static_cast<const unsigned char*>(src);
  const bool scale = slope != 0.0 && std::isfinite(slope);
  for (std::size_t i = 0; i < n; ++i) {
    T x;
    std::memcpy(&x, s + i * sizeof(T), sizeof(T));
    out[i] = scale ? float(slope * double(x) + inter) : float(x);
  }
}

Affine from_dmat(const nifti_dmat44& m) {
  Affine a{};
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c) a[r][c] = m.m[r][c];
  return a;
}

}  // namespace

const char* nifti_type_name(int code) {
  return nifti_datatype_string(code);
}

// ---- read ---------------------------------------------------------------------------------------

namespace {

// Reads the image data itself rather than through nifti_image_load: the library silently replaces
// every NaN and infinity of float data by 0 (nifti_read_buffer), which would hide exactly what
// check_finite is for, and it reports short reads and gzip errors only as NULL. gzread reads plain
// files unchanged, so one path serves .nii and .nii.gz.
std::vector<unsigned char> read_image_bytes(const fs::path& path, const nifti_image& nim) {
  const std::string p = path.string();
  const std::size_t total = std::size_t(nim.nvox) * std::size_t(nim.nbyper);
  std::unique_ptr<gzFile_s, int (*)(gzFile)> gz(gzopen(p.c_str(), "rb"), gzclose);
  if (!gz) fail(path, "cannot open: " + std::string(std::strerror(errno)));
  auto zfail = [&](const std::string& what) {
    int zerr = Z_OK;
    const char* msg = gzerror(gz.get(), &zerr);
    if (zerr != Z_OK && zerr != Z_BUF_ERROR)  // Z_BUF_ERROR: input ended early (truncation)
      fail(path, "corrupt gzip stream " + what + ": " + (msg ? msg : "?"));
  };
  if (gzseek(gz.get(), z_off_t(nim.iname_offset), SEEK_SET) != z_off_t(nim.iname_offset)) {
    zfail("before the image data");
    fail(path,
         "truncated: file ends before the image data at byte " + std::to_string(nim.iname_offset));
  }
  // Grown as the data arrive (1 MiB, then doubling): a damaged gzipped header that promises
  // gigabytes then costs about what the file holds, not an allocation of what it promised.
  std::vector<unsigned char> bytes;
  std::size_t got = 0;
  while (got < total) {
    if (got == bytes.size())
      bytes.resize(std::min(total, std::max(2 * bytes.size(), std::size_t(1) << 20)));
    const unsigned len = unsigned(std::min<std::size_t>(bytes.size() - got, std::size_t(1) << 30));
    const int n = gzread(gz.get(), bytes.data() + got, len);
    if (n < 0) zfail("in the image data");
    if (n <= 0) break;
    got += std::size_t(n);
  }
  zfail("in the image data");
  if (got < total)
    fail(path, "truncated: " + std::to_string(got) + " of " + std::to_string(total) +
                   " bytes of image data");
  // One more read reaches the gzip trailer, where zlib checks the CRC and length of the stream.
  unsigned char extra;
  if (gzread(gz.get(), &extra, 1) < 0) zfail("at its end (CRC check)");
  if (nim.byteorder != nifti_short_order() && nim.swapsize > 1)
    nifti_swap_Nbytes(nim.nvox, nim.swapsize, bytes.data());
  return bytes;
}

}  // namespace

Volume read_nifti(const fs::path& path) {
  quiet_nifti();
  const HeaderFacts facts = precheck_header(path);
  const std::string p = path.string();
  // Header only: the library parses NIfTI-1/-2 in either byte order and derives the qform and
  // sform matrices; the data are read by read_image_bytes.
  std::unique_ptr<nifti_image, NimFree> nim(nifti_image_read(p.c_str(), 0));
  if (!nim) fail(path, "the nifti library rejected the header");
  if (nim->datatype != facts.datatype || nim->nx != facts.dim[1])
    fail(path, "the nifti library's header disagrees with the file's");

  Volume v;
  v.dims = {nim->nx, nim->ny, nim->nz};
  v.voxel_size = {nim->dx, nim->dy, nim->dz};
  v.datatype = nim->datatype;
  v.qform_code = nim->qform_code;
  v.sform_code = nim->sform_code;
  v.scl_slope = nim->scl_slope;
  v.scl_inter = nim->scl_inter;
  if (nim->sform_code > 0) {
    v.affine = from_dmat(nim->sto_xyz);
    if (nim->qform_code > 0) {
      // Both present: nibabel and FastSurfer take the sform without a word; a scanner's qform
      // that points elsewhere is worth one line. The tolerance is float32 storage of a
      // quaternion and offsets (~1e-5 mm on a 256 mm field), far below any real disagreement.
      const Affine q = from_dmat(nim->qto_xyz);
      double worst = 0;
      for (int r = 0; r < 3; ++r)
        for (int c = 0; c < 4; ++c) {
          // Offsets in mm; 3x3 entries times half the field of view, the mm they move a corner.
          const std::int64_t n[3] = {nim->nx, nim->ny, nim->nz};
          const double scale = c == 3 ? 1.0 : 0.5 * double(n[c]);
          worst = std::max(worst, std::abs(q[r][c] - v.affine[r][c]) * scale);
        }
      if (worst > 1e-3) {
        std::ostringstream w;
        w << "nifti: " << path.string() << ": qform (code " << nim->qform_code
          << ") and sform (code " << nim->sform_code << ") disagree by up to " << worst
          << " mm in the field of view; using the sform, as nibabel and FastSurfer do";
        v.warnings.push_back(w.str());
      }
    }
  } else if (nim->qform_code > 0) {
    v.affine = from_dmat(nim->qto_xyz);
  } else {
    // nibabel's base affine (what FastSurfer conforms with): x mirrored, centre at the origin.
    const double d[3] = {-nim->dx, nim->dy, nim->dz};
    const std::int64_t n[3] = {nim->nx, nim->ny, nim->nz};
    v.affine = Affine{};
    for (int a = 0; a < 3; ++a) {
      v.affine[a][a] = d[a];
      v.affine[a][3] = -0.5 * double(n[a] - 1) * d[a];
    }
    v.affine[3][3] = 1;
    v.orientation_known = false;
    v.warnings.push_back("nifti: " + path.string() +
                         ": no orientation (qform_code and sform_code are 0): read as nibabel "
                         "and FastSurfer do (x mirrored, centred); left and right may be swapped");
  }

  // A singular or non-finite affine places no voxel anywhere; every later step (conform, export)
  // would fail on it far from the file that holds it.
  {
    const Affine& a = v.affine;
    bool finite = true;
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 4; ++c) finite = finite && std::isfinite(a[r][c]);
    const double det = a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) -
                       a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0]) +
                       a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0]);
    const char* which = nim->sform_code > 0 ? "sform" : nim->qform_code > 0 ? "qform" : "pixdim";
    if (!finite) fail(path, std::string("the ") + which + " affine has a non-finite entry");
    if (det == 0)
      fail(path, std::string("the ") + which + " affine is singular (a zero or repeated axis)");
  }
  const std::size_t n = v.voxel_count();
  if (std::int64_t(n) != nim->nvox) fail(path, "voxel count disagrees with the dimensions");
  const std::vector<unsigned char> raw = read_image_bytes(path, *nim);
  v.data.resize(n);
  const double s = nim->scl_slope, b = nim->scl_inter;
  const void* d = raw.data();
  switch (NiftiType(nim->datatype)) {
    case NiftiType::u8:
      to_float<std::uint8_t>(d, n, s, b, v.data.data());
      break;
    case NiftiType::i8:
      to_float<std::int8_t>(d, n, s, b, v.data.data());
      break;
    case NiftiType::i16:
      to_float<std::int16_t>(d, n, s, b, v.data.data());
      break;
    case NiftiType::u16:
      to_float<std::uint16_t>(d, n, s, b, v.data.data());
      break;
    case NiftiType::i32:
      to_float<std::int32_t>(d, n, s, b, v.data.data());
      break;
    case NiftiType::u32:
      to_float<std::uint32_t>(d, n, s, b, v.data.data());
      break;
    case NiftiType::f32:
      to_float<float>(d, n, s, b, v.data.data());
      break;
    case NiftiType::f64:
      to_float<double>(d, n, s, b, v.data.data());
      break;
  }
  return v;
}

void check_finite(const Volume& v, const fs::path& path) {
  for (std::size_t i = 0; i < v.data.size(); ++i) {
    if (!std::isfinite(v.data[i])) {
      const auto nx = std::size_t(v.dims[0]), ny = std::size_t(v.dims[1]);
      fail(path, "intensity " + std::string(std::isnan(v.data[i]) ? "NaN" : "infinite") +
                     " at voxel (" + std::to_string(i % nx) + "," + std::to_string(i / nx % ny) +
                     "," + std::to_string(i / (nx * ny)) + ")");
    }
  }
}

// ---- write --------------------------------------------------------------------------------------

namespace {

template <class T>
std::vector<unsigned char> to_integer(const Volume& v, const fs::path& path, const char* name) {
  std::vector<unsigned char> out(v.data.size() * sizeof(T));
  const double lo = double(std::numeric_limits<T>::min()),
               hi = double(std::numeric_limits<T>::max());
  for (std::size_t i = 0; i < v.data.size(); ++i) {
    const double x = std::nearbyint(double(v.data[i]));
    if (!(x >= lo && x <= hi))  // also rejects NaN
      fail(path, "cannot write as " + std::string(name) + ": voxel " + std::to_string(i) +
                     " has value " + std::to_string(v.data[i]) + ", outside the type's range");
    const T t = T(x);
    std::memcpy(out.data() + i * sizeof(T), &t, sizeof(T));
  }
  return out;
}

}  // namespace

void write_nifti(const fs::path& path, const Volume& v, NiftiType type) {
  quiet_nifti();
  for (int a = 0; a < 3; ++a) {
    if (v.dims[a] < 1 || v.dims[a] > std::numeric_limits<std::int16_t>::max())
      fail(path, "cannot write: dimension " + std::to_string(a + 1) + " is " +
                     std::to_string(v.dims[a]) + " (NIfTI-1 needs 1..32767)");
  }
  if (v.data.size() != v.voxel_count())
    fail(path, "cannot write: " + std::to_string(v.data.size()) + " values for " +
                   std::to_string(v.voxel_count()) + " voxels");
  for (const auto& row : v.affine)
    for (double x : row)
      if (!std::isfinite(x)) fail(path, "cannot write: affine has a non-finite entry");

  std::vector<unsigned char> bytes;
  switch (type) {
    case NiftiType::u8:
      bytes = to_integer<std::uint8_t>(v, path, "uint8");
      break;
    case NiftiType::i16:
      bytes = to_integer<std::int16_t>(v, path, "int16");
      break;
    case NiftiType::f32:
      bytes.resize(v.data.size() * sizeof(float));
      std::memcpy(bytes.data(), v.data.data(), bytes.size());
      break;
    default:
      fail(path, std::string("cannot write datatype ") + nifti_datatype_string(int(type)) +
                     "; numens writes uint8, int16, float32");
  }

  // The header is filled field by field (host byte order, which readers detect from sizeof_hdr)
  // rather than through the library's writer: nifti_image_write returns no status, so a full disk
  // would pass unnoticed, and it picks compression from the name, which the temp name breaks.
  nifti_1_header h;
  std::memset(&h, 0, sizeof h);
  h.sizeof_hdr = 348;
  h.dim[0] = 3;
  for (int a = 0; a < 3; ++a) h.dim[a + 1] = std::int16_t(v.dims[a]);
  for (int a = 4; a < 8; ++a) h.dim[a] = 1;
  h.datatype = std::int16_t(type);
  int nbyper = 0, swapsize = 0;
  nifti_datatype_sizes(int(type), &nbyper, &swapsize);
  h.bitpix = std::int16_t(8 * nbyper);
  h.vox_offset = 352;  // 348 header bytes + 4 extension-flag bytes (all zero: no extensions)
  h.scl_slope = 0;     // 0: no scaling, the data are stored as they are
  h.xyzt_units = NIFTI_UNITS_MM;

  nifti_dmat44 m;
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c) m.m[r][c] = v.affine[r][c];
  // qform: the rigid part as a quaternion, the column norms as pixdim, qfac for a left-handed
  // frame; the library's conversion (polar decomposition) is the reference one.
  double qb, qc, qd, qx, qy, qz, dx, dy, dz, qfac;
  nifti_dmat44_to_quatern(m, &qb, &qc, &qd, &qx, &qy, &qz, &dx, &dy, &dz, &qfac);
  h.pixdim[0] = float(qfac);
  h.pixdim[1] = float(dx);
  h.pixdim[2] = float(dy);
  h.pixdim[3] = float(dz);
  h.quatern_b = float(qb);
  h.quatern_c = float(qc);
  h.quatern_d = float(qd);
  h.qoffset_x = float(qx);
  h.qoffset_y = float(qy);
  h.qoffset_z = float(qz);
  const int sform = !v.orientation_known
                        ? 0
                        : (v.sform_code > 0 ? v.sform_code : (v.qform_code > 0 ? v.qform_code : 1));
  const int qform = !v.orientation_known ? 0 : (v.qform_code > 0 ? v.qform_code : sform);
  h.sform_code = std::int16_t(sform);
  h.qform_code = std::int16_t(qform);
  for (int c = 0; c < 4; ++c) {
    h.srow_x[c] = float(v.affine[0][c]);
    h.srow_y[c] = float(v.affine[1][c]);
    h.srow_z[c] = float(v.affine[2][c]);
  }
  std::strncpy(h.descrip, "numens", sizeof h.descrip - 1);
  std::memcpy(h.magic, "n+1\0", 4);

  const unsigned char ext[4] = {0, 0, 0, 0};  // the extension flag: no extensions
  write_parts(path, path.extension() == ".gz",
              {{reinterpret_cast<const unsigned char*>(&h), sizeof h}, ext, bytes}, fail);
}

}  // namespace numens::io
