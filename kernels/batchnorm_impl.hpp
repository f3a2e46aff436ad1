// Channel and element functors of batchnorm2d (see batchnorm.hpp), host and device. The order of
// operations and the draw elements are those documented in batchnorm.hpp: channel-level
// quantities use elements 8c + phase, per-element results elem0 + i with elem0 = 8 C.
#pragma once

#include <cstdint>

#include "kernels/grad.hpp"
#include "mca/accumulate.hpp"
#include "mca/policy.hpp"

namespace numens::kernels::detail {

struct BnGeom {
  int64_t n, c, plane;  // x is [n, c, plane]
  NUMENS_HD int64_t m() const { return n * plane; }
  NUMENS_HD uint64_t elem0() const { return uint64_t(c) * 8; }
};

NUMENS_HD inline uint64_t bn_channel_element(int64_t c, int phase) {
  return uint64_t(c) * 8 + uint64_t(phase);
}

// Training statistics of channel c: mean, invstd and the running averages.
template <class P, class T>
struct BnTrainStats {
  P pol;
  BnGeom g;
  const T* x;
  T eps, momentum, keep;  // keep = 1 - momentum, configuration constants
  T* running_mean;
  T* running_var;
  T* mean_out;
  T* invstd_out;
  NUMENS_HD void operator()(int64_t c) const {
    const T mean = channel_mean(c);
    mca::Draws dv = pol.draws(bn_channel_element(c, 1));
    mca::Accumulator<P, T> sq(T(0));
    for (int64_t n = 0; n < g.n; ++n)
      for (int64_t q = 0; q < g.plane; ++q) {
        const T dev = deviation((n * g.c + c) * g.plane + q, mean, dv);
        sq.fma(pol, dev, dev, dv);
      }
    finish(c, mean, sq.result(pol, dv));
  }
  // Term i of the variance sum before squaring.
  NUMENS_HD T deviation(int64_t i, T mean, mca::Draws& d) const { return pol.sub(x[i], mean, d); }

  // The parts a SIMD path shares (kernels/elementwise_fast.cpp vectorises the variance pass).
  NUMENS_HD T channel_mean(int64_t c) const {
    mca::Draws d = pol.draws(bn_channel_element(c, 0));
    mca::Accumulator<P, T> sum(T(0));
    for (int64_t n = 0; n < g.n; ++n)
      for (int64_t q = 0; q < g.plane; ++q) sum.add(pol, x[(n * g.c + c) * g.plane + q], d);
    return pol.div(sum.result(pol, d), T(g.m()), d);
  }
  NUMENS_HD void finish(int64_t c, T mean, T sq_sum) const {
    const T m = T(g.m());
    mca::Draws ds = pol.draws(bn_channel_element(c, 2));
    const T var = pol.div(sq_sum, m, ds);
    const T invstd = pol.div(T(1), pol.sqrt(pol.add(var, eps, ds), ds), ds);
    const T unbiased = pol.div(pol.mul(var, m, ds), T(g.m() - 1), ds);
    // Operands that consume draws are named first: the order in which a compiler evaluates
    // two arguments is unspecified (and differs between g++ and nvcc).
    const T old_mean = pol.mul(keep, running_mean[c], ds);
    const T new_mean = pol.mul(momentum, mean, ds);
    running_mean[c] = pol.add(old_mean, new_mean, ds);
    const T old_var = pol.mul(keep, running_var[c], ds);
    const T new_var = pol.mul(momentum, unbiased, ds);
    running_var[c] = pol.add(old_var, new_var, ds);
    mean_out[c] = mean;
    invstd_out[c] = invstd;
  }
};

// Eval: invstd of channel c from the running variance.
template <class P, class T>
struct BnEvalStats {
  P pol;
  const T* running_var;
  T eps;
  T* invstd_out;
  NUMENS_HD void operator()(int64_t c) const {
    mca::Draws ds = pol.draws(bn_channel_element(c, 0));
    invstd_out[c] = pol.div(T(1), pol.sqrt(pol.add(running_var[c], eps, ds), ds), ds);
  }
};

// y[i] = (x[i] - mean) invstd gamma + beta
template <class P, class T>
struct BnNormalize {
  P pol;
  BnGeom g;
  const T* x;
  const T* mean;
  const T* invstd;
  const T* gamma;
  const T* beta;
  T* y;
  NUMENS_HD void operator()(int64_t i) const {
    const int64_t c = (i / g.plane) % g.c;
    mca::Draws de = pol.draws(g.elem0() + uint64_t(i));
    const T xhat = pol.mul(pol.sub(x[i], mean[c], de), invstd[c], de);
    y[i] = pol.fma(xhat, gamma[c], beta[c], de);
  }
};

// Backward sums of channel c: dbeta = sum dy, dgamma = sum dy xhat, and the scale
// gamma invstd / M of the input gradient.
template <class P, class T>
struct BnBwdStats {
  P pol;
  BnGeom g;
  const T* dy;
  const T* x;
  const T* gamma;
  const T* mean;
  const T* invstd;
  T* sum_dy;
  T* sum_dyx;
  T* scale;
  T* dgamma;
  T* dbeta;
  bool accumulate;
  NUMENS_HD void operator()(int64_t c) const {
    mca::Draws d = pol.draws(bn_channel_element(c, 3));
    mca::Accumulator<P, T> sum_dy_acc(T(0)), sum_dyx_acc(T(0));
    for (int64_t n = 0; n < g.n; ++n)
      for (int64_t q = 0; q < g.plane; ++q) {
        const int64_t i = (n * g.c + c) * g.plane + q;
        const T xh = xhat(c, i, d);
        sum_dy_acc.add(pol, dy[i], d);
        sum_dyx_acc.fma(pol, dy[i], xh, d);
      }
    const T sdy = sum_dy_acc.result(pol, d);
    const T sdyx = sum_dyx_acc.result(pol, d);
    finish(c, sdy, sdyx);
  }
  // Element i's normalised input (channel c), the term of the dgamma sum.
  NUMENS_HD T xhat(int64_t c, int64_t i, mca::Draws& d) const {
    return pol.mul(pol.sub(x[i], mean[c], d), invstd[c], d);
  }
  // The part a SIMD path shares (kernels/elementwise_fast.cpp vectorises the sums' terms).
  NUMENS_HD void finish(int64_t c, T sdy, T sdyx) const {
    mca::Draws dc = pol.draws(bn_channel_element(c, 4));
    scale[c] = pol.div(pol.mul(gamma[c], invstd[c], dc), T(g.m()), dc);
    sum_dy[c] = sdy;
    sum_dyx[c] = sdyx;
    store_grad(pol, dgamma[c], sdyx, accumulate, dc);
    store_grad(pol, dbeta[c], sdy, accumulate, dc);
  }
};

// dx[i] (+)= scale (M dy - dbeta - xhat dgamma)
template <class P, class T>
struct BnBwdInput {
  P pol;
  BnGeom g;
  const T* dy;
  const T* x;
  const T* mean;
  const T* invstd;
  const T* sum_dy;
  const T* sum_dyx;
  const T* scale;
  T* dx;
  bool accumulate;
  NUMENS_HD void operator()(int64_t i) const {
    const int64_t c = (i / g.plane) % g.c;
    mca::Draws de = pol.draws(g.elem0() + uint64_t(i));
    const T xhat = pol.mul(pol.sub(x[i], mean[c], de), invstd[c], de);
    const T m_dy = pol.sub(pol.mul(T(g.m()), dy[i], de), sum_dy[c], de);
    const T xhat_dg = pol.mul(xhat, sum_dyx[c], de);
    const T inner = pol.sub(m_dy, xhat_dg, de);
    const T gi = pol.mul(scale[c], inner, de);
    store_grad(pol, dx[i], gi, accumulate, de);
  }
};

}  // namespace numens::kernels::detail
