// Pixel functors and reduction terms of softmax and the CE + Dice loss (see loss.hpp), host and
// device. Layout: [N, C, plane]; pixel px = n * plane + q; class c of pixel px sits at
// (px / plane) * C * plane + c * plane + px % plane.
#pragma once

#include <cstdint>

#include "mca/accumulate.hpp"
#include "mca/policy.hpp"

namespace numens::kernels::detail {

struct PixelGeom {
  int64_t c, plane;
  NUMENS_HD int64_t offset(int64_t px) const { return (px / plane) * c * plane + px % plane; }
};

// Softmax of one pixel; with `lse`, also its log-partition mx + log(sum_k exp(z_k - mx)) (the
// CE term's log-sum-exp form), two operations after the divisions.
template <class P, class T>
struct SoftmaxPixel {
  P pol;
  PixelGeom g;
  const T* logits;
  T* probs;
  T* lse = nullptr;  // [pixels] or none
  NUMENS_HD void operator()(int64_t px) const {
    const T* z = logits + g.offset(px);
    T* p = probs + g.offset(px);
    mca::Draws d = pol.draws(uint64_t(px));
    T mx = z[0];
    for (int64_t c = 1; c < g.c; ++c) mx = z[c * g.plane] > mx ? z[c * g.plane] : mx;
    mca::Accumulator<P, T> acc(T(0));
    for (int64_t c = 0; c < g.c; ++c) {
      p[c * g.plane] = pol.exp(pol.sub(z[c * g.plane], mx, d), d);
      acc.add(pol, p[c * g.plane], d);
    }
    const T sum = acc.result(pol, d);
    for (int64_t c = 0; c < g.c; ++c) p[c * g.plane] = pol.div(p[c * g.plane], sum, d);
    if (lse != nullptr) lse[px] = log_partition(mx, sum, d);
  }
  NUMENS_HD T log_partition(T mx, T sum, mca::Draws& d) const {
    return pol.add(mx, pol.log(sum, d), d);  // sum >= 1: finite for finite logits
  }
};

template <class P, class T>
struct SoftmaxBwdPixel {
  P pol;
  PixelGeom g;
  const T* probs;
  const T* dprobs;
  T* dlogits;
  NUMENS_HD void operator()(int64_t px) const {
    const T* p = probs + g.offset(px);
    const T* dp = dprobs + g.offset(px);
    T* dz = dlogits + g.offset(px);
    mca::Draws d = pol.draws(uint64_t(px));
    mca::Accumulator<P, T> acc(T(0));
    for (int64_t c = 0; c < g.c; ++c) acc.fma(pol, p[c * g.plane], dp[c * g.plane], d);
    const T dot = acc.result(pol, d);
    for (int64_t c = 0; c < g.c; ++c)
      dz[c * g.plane] = pol.mul(p[c * g.plane], pol.sub(dp[c * g.plane], dot, d), d);
  }
};

// w (-log p_label) in log-sum-exp form: w (lse - z_label), lse the pixel's log-partition
// (SoftmaxPixel). -log of the rounded probability would be inf where p_label underflows (a logit
// 104 below the maximum in binary32) although the loss and its gradient are finite.
template <class P, class T>
struct CeTerm {
  P pol;
  PixelGeom g;
  const T* logits;
  const T* lse;
  const int32_t* labels;
  const T* weights;
  NUMENS_HD T operator()(int64_t px, mca::Draws& d) const {
    const T z = logits[g.offset(px) + labels[px] * g.plane];
    return pol.mul(weights[px], pol.sub(lse[px], z, d), d);
  }
};

// p_c t_c (a selection: t is 0 or 1) or, with `all`, p_c.
template <class T>
struct ClassProbTerm {
  PixelGeom g;
  const T* probs;
  const int32_t* labels;
  int32_t cls;
  bool all;
  NUMENS_HD T operator()(int64_t px, mca::Draws&) const {
    return (all || labels[px] == cls) ? probs[g.offset(px) + cls * g.plane] : T(0);
  }
};

// dlogits of CE + Dice at one pixel, given I_c and U_c + smooth of every class.
template <class P, class T>
struct LossGradPixel {
  P pol;
  PixelGeom g;
  const T* probs;
  const int32_t* labels;
  const T* weights;
  const T* inter;
  const T* uni;
  int64_t pixels;
  uint64_t element0;
  T* dlogits;
  NUMENS_HD void operator()(int64_t px) const {
    const T* p = probs + g.offset(px);
    T* dz = dlogits + g.offset(px);
    mca::Draws d = pol.draws(element0 + uint64_t(px));
    const T inv_c = pol.div(T(-1), T(g.c), d);
    mca::Accumulator<P, T> acc(T(0));
    for (int64_t c = 0; c < g.c; ++c) {
      const T u = uni[c];
      const T two_i = pol.mul(T(2), inter[c], d);
      const T num =
          labels[px] == c ? pol.sub(pol.mul(T(2), u, d), two_i, d) : pol.sub(T(0), two_i, d);
      const T dp = pol.mul(inv_c, pol.div(num, pol.mul(u, u, d), d), d);
      dz[c * g.plane] = dp;  // kept in place until the dot product is known
      acc.fma(pol, p[c * g.plane], dp, d);
    }
    const T dot = acc.result(pol, d);
    const T wm = pol.div(weights[px], T(pixels), d);
    for (int64_t c = 0; c < g.c; ++c) {
      const T dice_g = pol.mul(p[c * g.plane], pol.sub(dz[c * g.plane], dot, d), d);
      const T ce_g =
          pol.mul(wm, labels[px] == c ? pol.sub(p[c * g.plane], T(1), d) : p[c * g.plane], d);
      dz[c * g.plane] = pol.add(dice_g, ce_g, d);
    }
  }
};

}  // namespace numens::kernels::detail
