// The per-parameter Adam/AdamW update (see optim.hpp), host and device.
#pragma once

#include <cstdint>

#include "mca/policy.hpp"

namespace numens::kernels::detail {

template <class P, class T>
struct AdamElement {
  P pol;
  T* param;
  const T* grad;
  T* m;
  T* v;
  T b1, b2, one_b1, one_b2, step_size, sqrt_bc2, decay, wd, eps;
  bool decoupled;
  NUMENS_HD void operator()(int64_t i) const {
    mca::Draws d = pol.draws(uint64_t(i));
    T p = param[i], g = grad[i];
    if (decoupled) {
      p = pol.mul(p, decay, d);
    } else if (wd != T(0)) {
      g = pol.fma(wd, p, g, d);
    }
    // One draw-consuming operand per call: argument evaluation order is unspecified.
    const T m_old = pol.mul(b1, m[i], d);
    const T m_new = pol.mul(one_b1, g, d);
    const T mi = pol.add(m_old, m_new, d);
    const T v_old = pol.mul(b2, v[i], d);
    const T v_new = pol.mul(one_b2, pol.mul(g, g, d), d);
    const T vi = pol.add(v_old, v_new, d);
    const T denom = pol.add(pol.div(pol.sqrt(vi, d), sqrt_bc2, d), eps, d);
    param[i] = pol.sub(p, pol.mul(step_size, pol.div(mi, denom, d), d), d);
    m[i] = mi;
    v[i] = vi;
  }
};

}  // namespace numens::kernels::detail
