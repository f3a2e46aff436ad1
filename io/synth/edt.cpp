#include "io/synth/edt.hpp"

#include <cmath>
#include <limits>

namespace numens::io::synth {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// One line: f[q] squared distances so far (inf where unknown), idx[q] their feature indices.
// Writes the lower envelope of the parabolas (s*(p-q))^2 + f[q] back into f and idx.
// Scratch buffers are the caller's so that a thread reuses them across lines.
void envelope_1d(std::int64_t n, double s, double* f, std::int64_t* idx, std::vector<double>& fo,
                 std::vector<std::int64_t>& io, std::vector<std::int64_t>& v,
                 std::vector<double>& z) {
  fo.assign(f, f + n);
  io.assign(idx, idx + n);
  v.resize(std::size_t(n));
  z.resize(std::size_t(n) + 1);
  const double s2 = s * s;
  std::int64_t k = -1;
  for (std::int64_t q = 0; q < n; ++q) {
    if (fo[q] == kInf) continue;
    while (true) {
      if (k < 0) {
        v[0] = q;
        z[0] = -kInf;
        z[1] = kInf;
        k = 0;
        break;
      }
      const std::int64_t p = v[k];
      // Intersection of the parabolas rooted at p and q, in index units.
      const double x =
          ((fo[q] + s2 * double(q) * double(q)) - (fo[p] + s2 * double(p) * double(p))) /
          (2.0 * s2 * double(q - p));
      if (x <= z[k]) {
        --k;
        continue;
      }
      ++k;
      v[k] = q;
      z[k] = x;
      z[k + 1] = kInf;
      break;
    }
  }
  if (k < 0) return;  // no feature on this line yet: leave inf
  std::int64_t j = 0;
  for (std::int64_t q = 0; q < n; ++q) {
    while (z[j + 1] < double(q)) ++j;
    const double d = s * double(q - v[j]);
    f[q] = d * d + fo[v[j]];
    idx[q] = io[v[j]];
  }
}

}  // namespace

DistanceMap distance_transform(const std::vector<std::uint8_t>& feature,
                               std::array<std::int64_t, 3> dims, std::array<double, 3> spacing) {
  const std::int64_t nx = dims[0], ny = dims[1], nz = dims[2];
  const std::size_t n = std::size_t(nx * ny * nz);
  std::vector<double> f(n);
  DistanceMap out;
  out.near.assign(n, -1);
  for (std::size_t i = 0; i < n; ++i) {
    f[i] = feature[i] ? 0.0 : kInf;
    if (feature[i]) out.near[i] = std::int64_t(i);
  }
  const std::int64_t strides[3] = {1, nx, nx * ny};
  for (int axis = 0; axis < 3; ++axis) {
    const std::int64_t len = dims[axis], stride = strides[axis];
    const std::int64_t lines = std::int64_t(n) / len;
#pragma omp parallel
    {
      std::vector<double> line_f, fo, z;
      std::vector<std::int64_t> line_i, io, v;
#pragma omp for schedule(static)
      for (std::int64_t l = 0; l < lines; ++l) {
        // Start of line l: enumerate the other two axes in order.
        std::int64_t base;
        if (axis == 0)
          base = l * nx;
        else if (axis == 1)
          base = (l / nx) * nx * ny + (l % nx);
        else
          base = l;
        line_f.resize(std::size_t(len));
        line_i.resize(std::size_t(len));
        for (std::int64_t q = 0; q < len; ++q) {
          line_f[q] = f[std::size_t(base + q * stride)];
          line_i[q] = out.near[std::size_t(base + q * stride)];
        }
        envelope_1d(len, spacing[axis], line_f.data(), line_i.data(), fo, io, v, z);
        for (std::int64_t q = 0; q < len; ++q) {
          f[std::size_t(base + q * stride)] = line_f[q];
          out.near[std::size_t(base + q * stride)] = line_i[q];
        }
      }
    }
  }
  out.dist.resize(n);
  for (std::size_t i = 0; i < n; ++i) out.dist[i] = float(std::sqrt(f[i]));
  return out;
}

}  // namespace numens::io::synth
