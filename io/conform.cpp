#include "io/conform.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

#include "io/affine.hpp"
#include "io/error.hpp"

namespace numens::io {

namespace fs = std::filesystem;

namespace {

// True when every entry is within `eps` of an integer; rounds them in place then. A vox2vox map
// that is a signed permutation plus integer shift is computed with rounding noise (1e-13); making
// it exact keeps re-indexing exact (no 0.9999999 weights, no off-by-one nearest neighbours).
bool snap_integer(Affine& m, double eps) {
  for (const auto& row : m)
    for (double x : row)
      if (std::abs(x - std::nearbyint(x)) > eps) return false;
  for (auto& row : m)
    for (double& x : row) x = std::nearbyint(x);
  return true;
}

// vox2vox: destination voxel index -> source voxel coordinates.
Affine vox2vox(const Geometry& from, const Geometry& to) {
  Affine m = multiply_affine(invert_affine(from.affine, "conform source"), to.affine);
  snap_integer(m, 1e-6);
  return m;
}

bool is_signed_permutation(const Affine& m) {
  for (int r = 0; r < 3; ++r) {
    int ones = 0;
    for (int c = 0; c < 3; ++c) {
      const double x = std::abs(m[r][c]);
      if (x == 1) {
        ++ones;
      } else if (x != 0) {
        return false;
      }
    }
    if (ones != 1) return false;
  }
  return true;
}

// Visits every destination voxel with its source coordinates, stepping the affine incrementally
// along x (exact for the snapped integer maps, and rounding-level otherwise).
template <class F>
void for_each_voxel(const Geometry& from, const Geometry& to, F&& f) {
  const Affine m = vox2vox(from, to);
  std::size_t n = 0;
  for (std::int64_t k = 0; k < to.dims[2]; ++k)
    for (std::int64_t j = 0; j < to.dims[1]; ++j)
      for (std::int64_t i = 0; i < to.dims[0]; ++i, ++n) {
        const double x = m[0][0] * double(i) + m[0][1] * double(j) + m[0][2] * double(k) + m[0][3];
        const double y = m[1][0] * double(i) + m[1][1] * double(j) + m[1][2] * double(k) + m[1][3];
        const double z = m[2][0] * double(i) + m[2][1] * double(j) + m[2][2] * double(k) + m[2][3];
        f(n, x, y, z);
      }
}

}  // namespace

Geometry geometry_of(const Volume& v) {
  Geometry g;
  g.dims = v.dims;
  // Voxel sizes from the affine's column norms: pixdim can disagree with an sform, and the
  // affine is what places the data.
  for (int c = 0; c < 3; ++c)
    g.voxel_size[c] = std::sqrt(v.affine[0][c] * v.affine[0][c] + v.affine[1][c] * v.affine[1][c] +
                                v.affine[2][c] * v.affine[2][c]);
  g.affine = v.affine;
  return g;
}

namespace {

// The source's largest extent in mm (FastSurfer: max(zooms * shape)).
double field_of_view(const Geometry& source) {
  double fov = 0;
  for (int a = 0; a < 3; ++a) fov = std::max(fov, source.voxel_size[a] * double(source.dims[a]));
  return fov;
}

// Voxels of `v` mm that cover `mm`, FastSurfer's rounding: ceil after truncating to 1e-4, so that
// 256.00000001 voxels of float noise stay 256.
std::int64_t voxels_to_cover(double mm, double v) {
  return std::int64_t(std::ceil(std::trunc(mm / v * 1e4) / 1e4));
}

}  // namespace

ConformOptions resolve_conform(const Geometry& source, const ConformOptions& opt) {
  ConformOptions r = opt;
  if (r.voxel_size == 0) {
    const double vmin =
        std::min({source.voxel_size[0], source.voxel_size[1], source.voxel_size[2]});
    r.voxel_size = std::min(std::round(vmin * 1e4) / 1e4, 1.0);
  }
  if (r.size == 0) {
    const double v = r.voxel_size;
    const std::int64_t cover = voxels_to_cover(field_of_view(source), v);
    if (v == 1.0) {
      r.size = 256;  // FreeSurfer's standard cube, whatever the field of view (FastSurfer too)
    } else if (v < 1.0) {
      r.size = std::max<std::int64_t>(256, cover);
    } else {
      // Not a FastSurfer case (it never goes above 1 mm): 256 voxels of 2 mm would be a half-metre
      // cube, so the floor is 256 mm of extent instead of 256 voxels.
      r.size = std::max(voxels_to_cover(256.0, v), cover);
    }
  }
  return r;
}

Geometry conformed_geometry(const Geometry& source, const ConformOptions& options,
                            const fs::path& file, std::vector<std::string>* warnings) {
  if (!(std::isfinite(options.voxel_size) && options.voxel_size >= 0 && options.voxel_size <= 10))
    throw IoError("conform: " + file.string() + ": voxel size " +
                  std::to_string(options.voxel_size) + " mm is not in (0, 10]");
  const ConformOptions opt = resolve_conform(source, options);
  if (opt.voxel_size <= 0)
    throw IoError("conform: " + file.string() + ": voxel size 0 mm from the source's grid");
  if (opt.size < 8 || opt.size > 1024)
    throw IoError("conform: " + file.string() + ": size " + std::to_string(opt.size) +
                  (options.size == 0 ? " (to cover the field of view)" : "") +
                  " is not in 8..1024");
  if (warnings) {
    const double fov = field_of_view(source), cube = double(opt.size) * opt.voxel_size;
    if (cube + 1e-6 < fov) {
      char line[256];
      std::snprintf(line, sizeof line,
                    "a cube of %lld voxels of %g mm (%g mm) is smaller than the image's field of "
                    "view (%g mm): anatomy beyond the cube is cut (%lld voxels would cover it)",
                    static_cast<long long>(opt.size), opt.voxel_size, cube, fov,
                    static_cast<long long>(voxels_to_cover(fov, opt.voxel_size)));
      warnings->push_back("conform: " + file.string() + ": " + line);
    }
  }
  const double v = opt.voxel_size;
  Geometry g;
  g.dims = {opt.size, opt.size, opt.size};
  g.voxel_size = {v, v, v};
  // LIA: column 0 (x index) points to -R, column 1 (y) to -S, column 2 (z) to +A.
  g.affine = {{{-v, 0, 0, 0}, {0, 0, v, 0}, {0, -v, 0, 0}, {0, 0, 0, 1}}};
  double centre_src[3], centre_world[3];
  for (int a = 0; a < 3; ++a) centre_src[a] = double(source.dims[a]) / 2.0;
  for (int r = 0; r < 3; ++r)
    centre_world[r] = source.affine[r][0] * centre_src[0] + source.affine[r][1] * centre_src[1] +
                      source.affine[r][2] * centre_src[2] + source.affine[r][3];
  const double half = double(opt.size) / 2.0;
  for (int r = 0; r < 3; ++r)
    g.affine[r][3] = centre_world[r] - (g.affine[r][0] + g.affine[r][1] + g.affine[r][2]) * half;

  // Re-indexing case: make the vox2vox translation integral (moves the grid < 1 voxel).
  Affine m = multiply_affine(invert_affine(source.affine, "conform: " + file.string()), g.affine);
  Affine rot = m;
  for (int r = 0; r < 3; ++r) rot[r][3] = 0;
  if (snap_integer(rot, 1e-6) && is_signed_permutation(rot)) {
    for (int r = 0; r < 3; ++r) rot[r][3] = std::floor(m[r][3] + 0.5);
    g.affine = multiply_affine(source.affine, rot);
  }
  return g;
}

IntensityScale robust_scale(const std::vector<float>& data) {
  IntensityScale s;
  if (data.empty()) return s;
  double lo = data[0], hi = data[0];
  std::size_t nonzero = 0;
  for (float f : data) {
    const double x = f;
    lo = std::min(lo, x);
    hi = std::max(hi, x);
    nonzero += std::abs(x) >= 1e-15;
  }
  // numpy.histogram widens an empty range by 0.5 on both sides.
  if (lo == hi) lo -= 0.5, hi += 0.5;
  constexpr int kBins = 1000;
  // Bin edges as numpy.linspace makes them (start + i * step, the last one exactly `hi`), and
  // each value's bin found against those edges, so values on an edge land where numpy puts them.
  std::vector<double> edge(kBins + 1);
  const double step = (hi - lo) / kBins;
  for (int i = 0; i <= kBins; ++i) edge[std::size_t(i)] = double(i) * step + lo;
  edge[kBins] = hi;
  std::vector<std::size_t> hist(kBins, 0);
  for (float f : data) {
    const double x = f;
    auto b = std::int64_t((x - lo) / (hi - lo) * kBins);
    b = std::clamp<std::int64_t>(b, 0, kBins - 1);
    if (x < edge[std::size_t(b)] && b > 0) --b;
    if (b < kBins - 1 && x >= edge[std::size_t(b + 1)]) ++b;
    ++hist[std::size_t(b)];
  }
  // cum[i] = voxels below edge i. The window's top is two edges below the first edge that has
  // all but (1 - 0.999) of the non-zero voxels under it (FastSurfer's rule, negative indices
  // counting from the end as in numpy).
  const double n_total = double(data.size());
  const double cutoff = n_total - double(std::int64_t((1.0 - 0.999) * double(nonzero)));
  std::size_t cum = 0;
  std::int64_t first = kBins;  // cum[kBins] == n_total >= cutoff always holds
  for (int i = 0; i <= kBins; ++i) {
    if (double(cum) >= cutoff) {
      first = i;
      break;
    }
    if (i < kBins) cum += hist[std::size_t(i)];
  }
  std::int64_t top = first - 2;
  if (top < 0) top += kBins + 1;
  s.src_min = edge[0];
  const double src_max = edge[std::size_t(top)];
  s.scale = src_max == s.src_min ? 1.0 : 255.0 / (src_max - s.src_min);
  return s;
}

std::vector<double> resample_linear(const std::vector<float>& src, const Geometry& from,
                                    const Geometry& to) {
  std::vector<double> out(to.voxel_count(), 0.0);
  const std::int64_t nx = from.dims[0], ny = from.dims[1], nz = from.dims[2];
  constexpr double eps = 1e-6;  // a coordinate this close to the last centre is still inside
  auto at = [&](std::int64_t i, std::int64_t j, std::int64_t k) {
    return double(src[std::size_t(i + nx * (j + ny * k))]);
  };
  for_each_voxel(from, to, [&](std::size_t n, double x, double y, double z) {
    if (x < -eps || y < -eps || z < -eps || x > double(nx - 1) + eps || y > double(ny - 1) + eps ||
        z > double(nz - 1) + eps)
      return;
    // Coordinates within rounding noise of a voxel centre are that centre: a 1 mm target
    // point on a 2 mm source centre must read the voxel, not 0.9999999 of it plus a neighbour.
    auto snap = [](double c) {
      const double r = std::nearbyint(c);
      return std::abs(c - r) < 1e-9 ? r : c;
    };
    x = snap(x), y = snap(y), z = snap(z);
    x = std::clamp(x, 0.0, double(nx - 1));
    y = std::clamp(y, 0.0, double(ny - 1));
    z = std::clamp(z, 0.0, double(nz - 1));
    const auto i0 = std::int64_t(x), j0 = std::int64_t(y), k0 = std::int64_t(z);
    const std::int64_t i1 = std::min(i0 + 1, nx - 1), j1 = std::min(j0 + 1, ny - 1),
                       k1 = std::min(k0 + 1, nz - 1);
    const double fx = x - double(i0), fy = y - double(j0), fz = z - double(k0);
    // Zero weights skip their samples, so an integral coordinate reproduces the voxel exactly.
    auto lerp = [](double a, double b, double t) { return t == 0 ? a : a + (b - a) * t; };
    const double c00 = lerp(at(i0, j0, k0), at(i1, j0, k0), fx);
    const double c10 = lerp(at(i0, j1, k0), at(i1, j1, k0), fx);
    const double c01 = lerp(at(i0, j0, k1), at(i1, j0, k1), fx);
    const double c11 = lerp(at(i0, j1, k1), at(i1, j1, k1), fx);
    out[n] = lerp(lerp(c00, c10, fy), lerp(c01, c11, fy), fz);
  });
  return out;
}

template <class T>
std::vector<T> resample_nearest(const std::vector<T>& src, const Geometry& from,
                                const Geometry& to) {
  std::vector<T> out(to.voxel_count(), T(0));
  const std::int64_t nx = from.dims[0], ny = from.dims[1], nz = from.dims[2];
  for_each_voxel(from, to, [&](std::size_t n, double x, double y, double z) {
    const auto i = std::int64_t(std::floor(x + 0.5)), j = std::int64_t(std::floor(y + 0.5)),
               k = std::int64_t(std::floor(z + 0.5));
    if (i < 0 || j < 0 || k < 0 || i >= nx || j >= ny || k >= nz) return;
    out[n] = src[std::size_t(i + nx * (j + ny * k))];
  });
  return out;
}
template std::vector<std::uint8_t> resample_nearest(const std::vector<std::uint8_t>&,
                                                    const Geometry&, const Geometry&);
template std::vector<std::int16_t> resample_nearest(const std::vector<std::int16_t>&,
                                                    const Geometry&, const Geometry&);
template std::vector<float> resample_nearest(const std::vector<float>&, const Geometry&,
                                             const Geometry&);

void check_not_constant(const Volume& v, const fs::path& file) {
  if (v.data.empty()) return;
  const float first = v.data.front();
  for (float x : v.data)
    if (x != first) return;
  char what[128];
  std::snprintf(what, sizeof what, "every voxel is %g: a constant image has no anatomy to conform",
                double(first));
  throw IoError("conform: " + file.string() + ": " + what);
}

std::vector<std::uint8_t> conform_image(const Volume& v, const Geometry& target) {
  const Geometry from = geometry_of(v);
  const std::vector<double> mapped = resample_linear(v.data, from, target);
  // FastSurfer leaves uint8 sources unscaled (already in the conformed range).
  const bool unscaled = v.datatype == int(NiftiType::u8) &&
                        (v.scl_slope == 0 || (v.scl_slope == 1 && v.scl_inter == 0));
  IntensityScale s;
  if (!unscaled) s = robust_scale(v.data);
  std::vector<std::uint8_t> out(mapped.size());
  for (std::size_t n = 0; n < mapped.size(); ++n) {
    double x = mapped[n];
    if (!unscaled) x = x == 0 ? 0 : std::clamp((x - s.src_min) * s.scale, 0.0, 255.0);
    out[n] = std::uint8_t(std::clamp(std::nearbyint(x), 0.0, 255.0));
  }
  return out;
}

std::vector<std::int16_t> conform_labels(const Volume& v, const Geometry& target,
                                         const fs::path& file) {
  std::vector<std::int16_t> labels(v.data.size());
  for (std::size_t n = 0; n < v.data.size(); ++n) {
    const float x = v.data[n];
    if (!(x == std::floor(x) && x >= -32768.f && x <= 32767.f)) {
      const auto nx = std::size_t(v.dims[0]), ny = std::size_t(v.dims[1]);
      throw IoError("conform: " + file.string() + ": label value " + std::to_string(x) +
                    " at voxel (" + std::to_string(n % nx) + "," + std::to_string(n / nx % ny) +
                    "," + std::to_string(n / (nx * ny)) + ") is not an int16 integer");
    }
    labels[n] = std::int16_t(x);
  }
  return resample_nearest(labels, geometry_of(v), target);
}

}  // namespace numens::io
