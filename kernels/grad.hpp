// Gradient write mode shared by every backward kernel: overwrite (=) or accumulate (+=, with the
// policy's add, so accumulating a gradient is a perturbed operation like any other).
#pragma once

#include "mca/policy.hpp"

namespace numens::kernels {

enum class GradMode { overwrite, accumulate };

namespace detail {
// dst = g, or dst = dst + g through the policy when accumulating.
template <class P, class T>
NUMENS_HD NUMENS_INLINE void store_grad(const P& pol, T& dst, T g, bool accumulate,
                                        mca::Draws& d) {
  dst = accumulate ? pol.add(dst, g, d) : g;
}
}  // namespace detail

}  // namespace numens::kernels
