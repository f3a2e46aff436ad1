#include <string>

#include "kernels/batchnorm.hpp"
#include "mca/policy.hpp"

namespace numens::kernels {

namespace {

void check_bn(const char* op, const Shape& x, std::initializer_list<std::pair<const char*, Shape>> ch) {
  for (const auto& [what, s] : ch) expect_shape(op, what, s, Shape{1, x.c, 1, 1});
  if (x.n * x.h * x.w < 2)
    throw ShapeError(std::string(op) + ": input " + x.str() +
                     " has fewer than 2 values per channel; batch statistics are undefined");
}

// Draw elements for channel-level quantities: phase p of channel c. Phases are distinct so that
// the statistics of one channel never reuse a draw.
inline uint64_t channel_element(int64_t c, int phase) { return uint64_t(c) * 8 + uint64_t(phase); }

}  // namespace

template <class P, class T>
void batchnorm2d_forward_train(const P& pol, const Tensor<T>& x, const Tensor<T>& gamma,
                               const Tensor<T>& beta, Tensor<T>& running_mean,
                               Tensor<T>& running_var, Tensor<T>& saved_mean,
                               Tensor<T>& saved_invstd, Tensor<T>& y, BatchNormParams<T> prm) {
  const char* op = "batchnorm2d_forward_train";
  const Shape s = x.shape();
  check_bn(op, s,
           {{"gamma", gamma.shape()}, {"beta", beta.shape()}, {"running mean", running_mean.shape()},
            {"running var", running_var.shape()}, {"saved mean", saved_mean.shape()},
            {"saved invstd", saved_invstd.shape()}});
  expect_shape(op, "output", y.shape(), s);
  const int64_t m = s.n * s.h * s.w, plane = s.plane();
  // Per-element draws live above the channel-level ones.
  const uint64_t elem0 = uint64_t(s.c) * 8;
  const T* xp = x.data();
  T* yp = y.data();
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < s.c; ++c) {
    mca::Draws d = pol.draws(channel_element(c, 0));
    T sum = T(0);
    for (int64_t n = 0; n < s.n; ++n)
      for (int64_t q = 0; q < plane; ++q) sum = pol.add(sum, xp[(n * s.c + c) * plane + q], d);
    const T mean = pol.div(sum, T(m), d);
    mca::Draws dv = pol.draws(channel_element(c, 1));
    T sq = T(0);
    for (int64_t n = 0; n < s.n; ++n)
      for (int64_t q = 0; q < plane; ++q) {
        const T dev = pol.sub(xp[(n * s.c + c) * plane + q], mean, dv);
        sq = pol.fma(dev, dev, sq, dv);
      }
    mca::Draws ds = pol.draws(channel_element(c, 2));
    const T var = pol.div(sq, T(m), ds);
    const T invstd = pol.div(T(1), pol.sqrt(pol.add(var, T(prm.eps), ds), ds), ds);
    const T mom = T(prm.momentum), keep = T(1.0 - prm.momentum);
    const T unbiased = pol.div(pol.mul(var, T(m), ds), T(m - 1), ds);
    running_mean.data()[c] =
        pol.add(pol.mul(keep, running_mean.data()[c], ds), pol.mul(mom, mean, ds), ds);
    running_var.data()[c] =
        pol.add(pol.mul(keep, running_var.data()[c], ds), pol.mul(mom, unbiased, ds), ds);
    saved_mean.data()[c] = mean;
    saved_invstd.data()[c] = invstd;
    const T g = gamma.data()[c], b = beta.data()[c];
    for (int64_t n = 0; n < s.n; ++n)
      for (int64_t q = 0; q < plane; ++q) {
        const int64_t i = (n * s.c + c) * plane + q;
        mca::Draws de = pol.draws(elem0 + uint64_t(i));
        const T xhat = pol.mul(pol.sub(xp[i], mean, de), invstd, de);
        yp[i] = pol.fma(xhat, g, b, de);
      }
  }
}

template <class P, class T>
void batchnorm2d_forward_eval(const P& pol, const Tensor<T>& x, const Tensor<T>& gamma,
                              const Tensor<T>& beta, const Tensor<T>& running_mean,
                              const Tensor<T>& running_var, Tensor<T>& y,
                              BatchNormParams<T> prm) {
  const char* op = "batchnorm2d_forward_eval";
  const Shape s = x.shape();
  for (const auto& [what, t] : {std::pair<const char*, const Tensor<T>*>{"gamma", &gamma},
                                {"beta", &beta}, {"running mean", &running_mean},
                                {"running var", &running_var}})
    expect_shape(op, what, t->shape(), Shape{1, s.c, 1, 1});
  expect_shape(op, "output", y.shape(), s);
  const int64_t plane = s.plane();
  const uint64_t elem0 = uint64_t(s.c) * 8;
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < s.c; ++c) {
    mca::Draws ds = pol.draws(channel_element(c, 0));
    const T invstd =
        pol.div(T(1), pol.sqrt(pol.add(running_var.data()[c], T(prm.eps), ds), ds), ds);
    const T mean = running_mean.data()[c], g = gamma.data()[c], b = beta.data()[c];
    for (int64_t n = 0; n < s.n; ++n)
      for (int64_t q = 0; q < plane; ++q) {
        const int64_t i = (n * s.c + c) * plane + q;
        mca::Draws de = pol.draws(elem0 + uint64_t(i));
        const T xhat = pol.mul(pol.sub(x.data()[i], mean, de), invstd, de);
        y.data()[i] = pol.fma(xhat, g, b, de);
      }
  }
}

template <class P, class T>
void batchnorm2d_backward(const P& pol, const Tensor<T>& dy, const Tensor<T>& x,
                          const Tensor<T>& gamma, const Tensor<T>& saved_mean,
                          const Tensor<T>& saved_invstd, Tensor<T>& dx, Tensor<T>& dgamma,
                          Tensor<T>& dbeta, GradMode mode) {
  const char* op = "batchnorm2d_backward";
  const Shape s = x.shape();
  check_bn(op, s,
           {{"gamma", gamma.shape()}, {"saved mean", saved_mean.shape()},
            {"saved invstd", saved_invstd.shape()}, {"gamma gradient", dgamma.shape()},
            {"beta gradient", dbeta.shape()}});
  expect_shape(op, "output gradient", dy.shape(), s);
  expect_shape(op, "input gradient", dx.shape(), s);
  const int64_t m = s.n * s.h * s.w, plane = s.plane();
  const uint64_t elem0 = uint64_t(s.c) * 8;
  const T* xp = x.data();
  const T* dyp = dy.data();
  T* dxp = dx.data();
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < s.c; ++c) {
    const T mean = saved_mean.data()[c], invstd = saved_invstd.data()[c], g = gamma.data()[c];
    mca::Draws d = pol.draws(channel_element(c, 3));
    T sdy = T(0), sdyx = T(0);
    for (int64_t n = 0; n < s.n; ++n)
      for (int64_t q = 0; q < plane; ++q) {
        const int64_t i = (n * s.c + c) * plane + q;
        const T xhat = pol.mul(pol.sub(xp[i], mean, d), invstd, d);
        sdy = pol.add(sdy, dyp[i], d);
        sdyx = pol.fma(dyp[i], xhat, sdyx, d);
      }
    mca::Draws dc = pol.draws(channel_element(c, 4));
    const T scale = pol.div(pol.mul(g, invstd, dc), T(m), dc);
    for (int64_t n = 0; n < s.n; ++n)
      for (int64_t q = 0; q < plane; ++q) {
        const int64_t i = (n * s.c + c) * plane + q;
        mca::Draws de = pol.draws(elem0 + uint64_t(i));
        const T xhat = pol.mul(pol.sub(xp[i], mean, de), invstd, de);
        // M dy - dbeta - xhat dgamma
        const T inner = pol.sub(pol.sub(pol.mul(T(m), dyp[i], de), sdy, de),
                                pol.mul(xhat, sdyx, de), de);
        const T gi = pol.mul(scale, inner, de);
        dxp[i] = mode == GradMode::accumulate ? pol.add(dxp[i], gi, de) : gi;
      }
    if (mode == GradMode::accumulate) {
      dgamma.data()[c] = pol.add(dgamma.data()[c], sdyx, dc);
      dbeta.data()[c] = pol.add(dbeta.data()[c], sdy, dc);
    } else {
      dgamma.data()[c] = sdyx;
      dbeta.data()[c] = sdy;
    }
  }
}

#define NUMENS_BN_INSTANTIATE(P, T)                                                              \
  template void batchnorm2d_forward_train<P, T>(const P&, const Tensor<T>&, const Tensor<T>&,    \
                                                const Tensor<T>&, Tensor<T>&, Tensor<T>&,        \
                                                Tensor<T>&, Tensor<T>&, Tensor<T>&,              \
                                                BatchNormParams<T>);                             \
  template void batchnorm2d_forward_eval<P, T>(const P&, const Tensor<T>&, const Tensor<T>&,     \
                                               const Tensor<T>&, const Tensor<T>&,               \
                                               const Tensor<T>&, Tensor<T>&, BatchNormParams<T>); \
  template void batchnorm2d_backward<P, T>(const P&, const Tensor<T>&, const Tensor<T>&,         \
                                           const Tensor<T>&, const Tensor<T>&, const Tensor<T>&, \
                                           Tensor<T>&, Tensor<T>&, Tensor<T>&, GradMode);
#define NUMENS_BN_INSTANTIATE_BOTH(P) \
  NUMENS_BN_INSTANTIATE(P, float)     \
  NUMENS_BN_INSTANTIATE(P, double)
NUMENS_BN_INSTANTIATE_BOTH(mca::Ieee)
NUMENS_BN_INSTANTIATE_BOTH(mca::Sr)
NUMENS_BN_INSTANTIATE_BOTH(mca::Rr)
NUMENS_BN_INSTANTIATE_BOTH(mca::Pb)
NUMENS_BN_INSTANTIATE_BOTH(mca::Mca)
NUMENS_BN_INSTANTIATE_BOTH(mca::SrEqual)

}  // namespace numens::kernels
