// Random numbers of the synthesis, all drawn from the Philox stream of mca/stream.hpp: a value is
// a pure function of (seed, subject, site, element, draw), so a subject is the same whichever
// thread or run makes it, and subject i of a cohort does not depend on how many come before it.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <vector>

#include "mca/stream.hpp"

namespace numens::io::synth {

// What a draw is used for (the stream's op site): keeps the uses independent of each other.
enum class Site : std::uint32_t {
  params = 1,   // scalar subject parameters (age, sex, scales, rates)
  region = 2,   // per-region factors, element = region index
  warp = 3,     // displacement-field lattice
  bias = 4,     // bias-field coefficients
  noise = 5,    // image noise, element = voxel index
  texture = 6,  // template texture (phantom), key jitter (both templates)
};

class Rng {
 public:
  Rng(std::uint32_t seed, std::uint32_t subject, Site site)
      : s_(mca::Stream::make(seed, subject, std::uint32_t(site))) {}

  // Uniform in (0, 1): 53 random bits, offset by half a step so that neither end is reached.
  double uniform(std::uint64_t element, std::uint32_t draw = 0) const {
    return (double(s_.u64(element, draw) >> 11) + 0.5) * 0x1p-53;
  }
  // Standard normal by Box-Muller on two uniforms of the same element (draws 2d, 2d+1).
  double normal(std::uint64_t element, std::uint32_t draw = 0) const {
    const double u1 = uniform(element, 2 * draw), u2 = uniform(element, 2 * draw + 1);
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  }

 private:
  mca::Stream s_;
};

// Smooth random field: standard normal values on a lattice of `spacing` mm covering the box
// [lo, hi] (plus one node each side), trilinearly interpolated: C0, low-pass, correlation length
// about the spacing. The lattice is drawn once, so evaluating it costs no generator calls.
class LatticeNoise {
 public:
  LatticeNoise(const Rng& rng, std::array<double, 3> lo, std::array<double, 3> hi, double spacing,
               std::uint32_t draw = 0)
      : spacing_(spacing) {
    for (int a = 0; a < 3; ++a) {
      origin_[a] = lo[a] - spacing;
      n_[a] = std::int64_t(std::ceil((hi[a] - lo[a]) / spacing)) + 3;
    }
    values_.resize(std::size_t(n_[0] * n_[1] * n_[2]));
    for (std::size_t i = 0; i < values_.size(); ++i) values_[i] = rng.normal(i, draw);
  }
  double operator()(double x, double y, double z) const {
    const double p[3] = {x, y, z};
    std::int64_t i0[3];
    double w[3];
    for (int a = 0; a < 3; ++a) {
      double f = (p[a] - origin_[a]) / spacing_;
      f = std::clamp(f, 0.0, double(n_[a] - 1) - 1e-9);  // constant beyond the box
      i0[a] = std::int64_t(f);
      w[a] = f - double(i0[a]);
    }
    double sum = 0.0;
    for (int c = 0; c < 8; ++c) {
      const std::int64_t ix = i0[0] + (c & 1), iy = i0[1] + ((c >> 1) & 1),
                         iz = i0[2] + ((c >> 2) & 1);
      const double wt =
          ((c & 1) ? w[0] : 1 - w[0]) * ((c & 2) ? w[1] : 1 - w[1]) * ((c & 4) ? w[2] : 1 - w[2]);
      sum += wt * values_[std::size_t(ix + n_[0] * (iy + n_[1] * iz))];
    }
    return sum;
  }

 private:
  double spacing_;
  std::array<double, 3> origin_{};
  std::array<std::int64_t, 3> n_{};
  std::vector<double> values_;
};

}  // namespace numens::io::synth
