// Output-element functors of max-pool / max-unpool (see pool.hpp), host and device.
#pragma once

#include <cstdint>

#include "kernels/tensor.hpp"
#include "kernels/grad.hpp"
#include "mca/policy.hpp"

namespace numens::kernels::detail {

// big: the [N, C, H, W] side; small: the [N, C, H/2, W/2] side. Element e runs over small.
struct PoolGeom {
  int64_t big_w, big_plane, small_w, small_plane;
};

template <class T>
NUMENS_HD inline bool is_nan(T v) {
  return v != v;
}

template <class T>
struct PoolFwd {
  PoolGeom g;
  const T* x;
  T* y;
  int32_t* index;
  NUMENS_HD void operator()(int64_t e) const {
    const int64_t pl = e / g.small_plane, q = e % g.small_plane;
    const int64_t i = q / g.small_w, j = q % g.small_w;
    const T* xp = x + pl * g.big_plane;
    int64_t best = (2 * i) * g.big_w + 2 * j;
    for (int64_t u = 0; u < 2; ++u)
      for (int64_t v = 0; v < 2; ++v) {
        const int64_t at = (2 * i + u) * g.big_w + 2 * j + v;
        if (xp[at] > xp[best] || (is_nan(xp[at]) && !is_nan(xp[best]))) best = at;
      }
    y[e] = xp[best];
    index[e] = int32_t(best);
  }
};

// dx[index] = dy (or += with the policy). Each input position receives at most one output
// (indices from maxpool2x2_forward), so elements never write the same place.
template <class P, class T>
struct PoolBwd {
  P pol;
  PoolGeom g;
  const T* dy;
  const int32_t* index;
  T* dx;
  bool accumulate;
  NUMENS_HD void operator()(int64_t e) const {
    const int64_t target = (e / g.small_plane) * g.big_plane + index[e];
    mca::Draws d = pol.draws(uint64_t(target));
    store_grad(pol, dx[target], dy[e], accumulate, d);
  }
};

template <class T>
struct UnpoolFwd {
  PoolGeom g;
  const T* x;
  const int32_t* index;
  T* y;
  NUMENS_HD void operator()(int64_t e) const {
    y[(e / g.small_plane) * g.big_plane + index[e]] = x[e];
  }
};

template <class P, class T>
struct UnpoolBwd {
  P pol;
  PoolGeom g;
  const T* dy;
  const int32_t* index;
  T* dx;
  bool accumulate;
  NUMENS_HD void operator()(int64_t e) const {
    mca::Draws d = pol.draws(uint64_t(e));
    store_grad(pol, dx[e], dy[(e / g.small_plane) * g.big_plane + index[e]], accumulate, d);
  }
};

}  // namespace numens::kernels::detail
