// Output-element functors of prelu and maxout (see activation.hpp), host and device.
#pragma once

#include <cstdint>

#include "kernels/grad.hpp"
#include "mca/policy.hpp"

namespace numens::kernels::detail {

template <class P, class T>
struct PreluFwd {
  P pol;
  const T* x;
  T slope;
  T* y;
  NUMENS_HD void operator()(int64_t i) const {
    mca::Draws d = pol.draws(uint64_t(i));
    const T v = x[i];
    if constexpr (P::perturbed) {
      y[i] = v > T(0) ? v : pol.mul(slope, v, d);
    } else {  // both sides, then a select: no data-dependent branch, so the loop vectorises
      const T m = pol.mul(slope, v, d);
      y[i] = v > T(0) ? v : m;
    }
  }
};

template <class P, class T>
struct PreluBwdInput {
  P pol;
  const T* dy;
  const T* x;
  T slope;
  T* dx;
  bool accumulate;
  NUMENS_HD void operator()(int64_t i) const {
    mca::Draws d = pol.draws(uint64_t(i));
    T g;
    if constexpr (P::perturbed) {
      g = x[i] > T(0) ? dy[i] : pol.mul(slope, dy[i], d);
    } else {  // a select, as in PreluFwd
      const T m = pol.mul(slope, dy[i], d);
      g = x[i] > T(0) ? dy[i] : m;
    }
    store_grad(pol, dx[i], g, accumulate, d);
  }
};

// The summand of the slope gradient: dy x where x <= 0.
template <class P, class T>
struct PreluSlopeTerm {
  P pol;
  const T* dy;
  const T* x;
  NUMENS_HD T operator()(int64_t i, mca::Draws& d) const {
    return x[i] > T(0) ? T(0) : pol.mul(dy[i], x[i], d);
  }
};

template <class T>
struct MaxoutFwd {
  const T* a;
  const T* b;
  T* y;
  uint8_t* winner;
  NUMENS_HD void operator()(int64_t i) const {
    // NaN in a propagates. Bitwise | rather than ||: no branch on the data, the loop vectorises.
    const T va = a[i], vb = b[i];
    const bool take_a = (va >= vb) | (va != va);
    y[i] = take_a ? va : vb;
    winner[i] = uint8_t(!take_a);
  }
};

template <class P, class T>
struct MaxoutBwd {
  P pol;
  const T* dy;
  const uint8_t* winner;
  T* da;
  T* db;
  bool accumulate;
  NUMENS_HD void operator()(int64_t i) const {
    const T ga = winner[i] == 0 ? dy[i] : T(0), gb = winner[i] == 0 ? T(0) : dy[i];
    mca::Draws d = pol.draws(uint64_t(i));
    store_grad(pol, da[i], ga, accumulate, d);
    store_grad(pol, db[i], gb, accumulate, d);
  }
};

}  // namespace numens::kernels::detail
