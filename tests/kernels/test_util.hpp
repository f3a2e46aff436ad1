// Helpers shared by the kernel tests: deterministic fills and a central finite difference.
#pragma once

#include <cmath>
#include <functional>

#include "kernels/tensor.hpp"
#include "mca/policy.hpp"

namespace numens::testing {

// Uniform values in [-scale, scale) from a Philox stream of the test's own (seed).
template <class T>
Tensor<T> filled(Shape s, uint32_t seed, double scale = 1.0) {
  Tensor<T> t = Tensor<T>::empty(s);
  const mca::Stream st = mca::Stream::make(seed, 0x7e57u);
  for (int64_t i = 0; i < t.numel(); ++i)
    t.data()[i] = T(scale * (double(st.u32(uint64_t(i), 0)) * 0x1p-32 * 2.0 - 1.0));
  return t;
}

// (f(v + eps) - f(v - eps)) / (2 eps) with v = *value restored afterwards.
inline double central_difference(double* value, double eps, const std::function<double()>& f) {
  const double keep = *value;
  *value = keep + eps;
  const double lp = f();
  *value = keep - eps;
  const double lm = f();
  *value = keep;
  return (lp - lm) / (2 * eps);
}

inline mca::Ieee ieee() { return {}; }

}  // namespace numens::testing
