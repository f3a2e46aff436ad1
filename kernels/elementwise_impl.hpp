// Output-element functors of the element-wise helpers (see elementwise.hpp), host and device.
#pragma once

#include <cstdint>

#include "mca/policy.hpp"

namespace numens::kernels::detail {

template <class P, class T>
struct ScaleElement {
  P pol;
  T* x;
  T alpha;
  NUMENS_HD void operator()(int64_t i) const {
    mca::Draws d = pol.draws(uint64_t(i));
    x[i] = pol.mul(alpha, x[i], d);
  }
};

template <class P, class T>
struct AddElement {
  P pol;
  T* y;
  const T* x;
  NUMENS_HD void operator()(int64_t i) const {
    mca::Draws d = pol.draws(uint64_t(i));
    y[i] = pol.add(y[i], x[i], d);
  }
};

}  // namespace numens::kernels::detail
