// Random initialisation from a seed through the counter-based Philox generator: value i of a
// parameter is a pure function of (seed, the parameter's offset in the flat buffer + i), so
// initialisation does not depend on thread count, declaration batching or device.
//
// Draws: stream key (seed, kInitStream); element = flat offset; draw 0 and 1 are two 64-bit
// uniforms. u = (bits >> 11) * 2^-53 lies in [0, 1).
//   normal:  Box-Muller, cosine branch only (each element uses its own pair, nothing is carried
//            between elements): z = sqrt(-2 ln(1 - u0)) cos(2 pi u1), with 1 - u0 in (0, 1] so the
//            log is finite. Computed in binary64 with libm, rounded once to T.
//   uniform: a + (b - a) u0.
#pragma once

#include <cstdint>

#include "nn/params.hpp"

namespace numens::nn {

inline constexpr uint32_t kInitStream = 0x1417u;

double init_uniform01(uint32_t seed, int64_t element, uint32_t draw);
double init_normal(uint32_t seed, int64_t element);

// Fills parameter `id` of `ps` with N(0, std^2) or U(lo, hi) values, or a constant.
template <class T>
void fill_normal(ParamStore<T>& ps, int id, uint32_t seed, double std);
template <class T>
void fill_uniform(ParamStore<T>& ps, int id, uint32_t seed, double lo, double hi);
template <class T>
void fill_constant(ParamStore<T>& ps, int id, double value);

}  // namespace numens::nn
